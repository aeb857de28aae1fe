const MASK: u32 = 0o022;

#[daemonizer::daemon(umask = MASK)]
fn main() {}
