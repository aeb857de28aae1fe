#[daemonizer::daemon(pidfile = "/run/myd.pid", commands = "yes")]
fn main() {}
