#[daemonizer::daemon(crate = "not a path")]
fn main() {}
