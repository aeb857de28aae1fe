// `setup` with `#[tokio::main]` below the attribute: the std listener
// bound before detaching becomes a tokio listener inside the runtime.
fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-setup-tokio-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

fn bind() -> std::io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

#[daemonizer::daemon(pidfile = pidfile(), setup = bind, ready = "manual")]
#[tokio::main(flavor = "current_thread")]
async fn main(listener: std::net::TcpListener) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let address = listener.local_addr()?;
    let connect = tokio::net::TcpStream::connect(address);
    let (accepted, connected) = tokio::join!(listener.accept(), connect);
    drop((accepted?, connected?));
    daemonizer::ready()?;
    Ok(())
}
