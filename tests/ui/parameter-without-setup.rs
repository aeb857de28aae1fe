#[daemonizer::daemon(pidfile = "/run/x.pid")]
fn main(listener: std::net::TcpListener) {
    drop(listener);
}
