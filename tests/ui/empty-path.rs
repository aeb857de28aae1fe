#[daemonizer::daemon(pidfile = "", user = "")]
fn main() {}
