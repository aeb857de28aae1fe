#[daemonizer::daemon(pidfile = , "umask" = 0o022, limits(a::b = 1, core) work_dir = "/")]
fn main() {}
