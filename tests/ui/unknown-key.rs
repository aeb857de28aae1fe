#[daemonizer::daemon(pidfle = "/tmp/demo.pid")]
fn main() {}
