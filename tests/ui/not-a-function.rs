#[daemonizer::daemon(pidfile = "/tmp/demo.pid")]
struct Config;

fn main() {}
