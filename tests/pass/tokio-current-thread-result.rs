// A current-thread runtime built inside the daemon does I/O (a connection
// to itself) before the daemon reports ready; an error or a hang ends the
// daemon before ready, which fails its launcher and so this test.
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-tokio-result-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

#[daemonizer::daemon(pidfile = pidfile(), ready = "manual")]
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(20));
        std::process::exit(1);
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let (mut peer, _) = listener.accept().await?;
        peer.write_all(b"ok").await
    });
    let mut reply = [0u8; 2];
    tokio::net::TcpStream::connect(address)
        .await?
        .read_exact(&mut reply)
        .await?;
    server.await??;
    if &reply != b"ok" {
        return Err(format!("read {reply:?}").into());
    }
    daemonizer::ready()?;
    Ok(())
}
