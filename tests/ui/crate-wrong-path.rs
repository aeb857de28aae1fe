#[daemonizer::daemon(crate = "::daemonizer_renamed")]
fn main() {}
