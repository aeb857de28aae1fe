#[daemonizer::daemon(signals(HUP = |_| {}, SIGFOO = |_| {}))]
fn main() {}
