// `#[tokio::main]` expands first; the daemon still starts before its
// runtime, which does I/O (a connection to itself, on its worker threads)
// before the daemon reports ready; a failure or a hang ends the daemon
// before ready, which fails its launcher and so this test.
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-tokio-main-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

#[tokio::main]
#[daemonizer::daemon(pidfile = pidfile(), ready = "manual")]
async fn main() {
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(20));
        std::process::exit(1);
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::task::spawn(async move {
        let (mut peer, _) = listener.accept().await.unwrap();
        peer.write_all(b"ok").await.unwrap();
    });
    let mut reply = [0u8; 2];
    let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
    client.read_exact(&mut reply).await.unwrap();
    server.await.unwrap();
    assert_eq!(&reply, b"ok");
    daemonizer::ready().unwrap();
}
