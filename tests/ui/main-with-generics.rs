#[daemonizer::daemon(pidfile = "/tmp/demo.pid")]
fn main<T>() {}
