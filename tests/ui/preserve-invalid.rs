#[daemonizer::daemon(preserve = [3, -1, "log"])]
fn main() {}
