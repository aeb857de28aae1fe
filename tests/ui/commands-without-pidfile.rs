#[daemonizer::daemon(commands = true)]
fn main() {}
