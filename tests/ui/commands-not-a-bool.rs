#[daemonizer::daemon(pidfile = "/run/myd.pid", commands = 1)]
fn main() {}
