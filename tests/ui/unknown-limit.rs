#[daemonizer::daemon(limits(files = 1024))]
fn main() {}
