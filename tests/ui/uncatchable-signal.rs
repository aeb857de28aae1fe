#[daemonizer::daemon(signals(SIGKILL = |_| {}))]
fn main() {}
