#[daemonizer::daemon(ready = "later")]
fn main() {}
