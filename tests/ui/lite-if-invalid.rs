#[daemonizer::daemon(lite_if = "DEBUG=1")]
fn main() {}
