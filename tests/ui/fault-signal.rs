#[daemonizer::daemon(signals(SIGHUP = |_| {}, SIGSEGV = |_| {}))]
fn main() {}
