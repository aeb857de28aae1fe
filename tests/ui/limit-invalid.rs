#[daemonizer::daemon(limits(core = -1, nofile = (4096, 1024), stack = "8M"))]
fn main() {}
