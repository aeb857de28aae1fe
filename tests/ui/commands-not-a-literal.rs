fn wanted() -> bool {
    true
}

#[daemonizer::daemon(pidfile = "/run/myd.pid", commands = wanted())]
fn main() {}
