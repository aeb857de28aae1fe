#[daemonizer::daemon(setup = "bind")]
fn main(listener: std::net::TcpListener) {
    drop(listener);
}
