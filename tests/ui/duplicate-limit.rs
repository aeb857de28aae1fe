#[daemonizer::daemon(limits(nofile = 1024, nofile = 4096))]
fn main() {}
