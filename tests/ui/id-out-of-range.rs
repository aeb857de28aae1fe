#[daemonizer::daemon(user = 4294967295, group = -1)]
fn main() {}
