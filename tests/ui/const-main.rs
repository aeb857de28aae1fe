#[daemonizer::daemon(pidfile = "/tmp/demo.pid")]
const fn main() {}
