#[daemonizer::daemon]
fn main() {}
