#[daemonizer::daemon(pidfile = Some("/tmp/demo.pid"))]
fn main() {}
