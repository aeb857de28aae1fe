#[daemonizer::daemon(signals(SIGHUP = |_| {}, SIGHUP = |_| {}))]
fn main() {}
