#[daemonizer::daemon(umask = 022)]
fn main() {}
