// `setup = bind`: the listener bound before detaching is `main`'s one
// parameter; the body checks it still listens in the daemon.
use std::net::TcpListener;

fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-setup-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

fn bind() -> std::io::Result<TcpListener> {
    TcpListener::bind("127.0.0.1:0")
}

#[daemonizer::daemon(pidfile = pidfile(), setup = bind, ready = "manual")]
fn main(listener: TcpListener) -> std::io::Result<()> {
    let address = listener.local_addr()?;
    std::net::TcpStream::connect(address)?;
    daemonizer::ready()?;
    Ok(())
}
