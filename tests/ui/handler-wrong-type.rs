fn reload() {}

#[daemonizer::daemon(signals(SIGHUP = reload))]
fn main() {}
