#[daemonizer::daemon(pidfile = "/tmp/a.pid", pidfile = "/tmp/b.pid")]
fn main() {}
