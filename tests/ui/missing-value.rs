#[daemonizer::daemon(pidfile, signals = 1)]
fn main() {}
