#[daemonizer::daemon(pid_file = "/tmp/demo.pid", signal(SIGHUP = |_| {}), limits(NOFILE = 64), signals(SIGTREM = |_| {}))]
fn main() {}
