#[daemonizer::daemon(pidfile = "/tmp/demo.pid", stderr = "/tmp/demo.pid")]
fn main() {}
