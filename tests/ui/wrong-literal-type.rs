#[daemonizer::daemon(pidfile = 42, user = 1.5, lite_if = 1, on_launched = "yes")]
fn main() {}
