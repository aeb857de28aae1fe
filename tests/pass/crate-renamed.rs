extern crate daemonizer as renamed;

#[renamed::daemon(crate = "::renamed")]
fn main() {}
