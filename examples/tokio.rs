//! A daemon serving with tokio: a line echo server on 127.0.0.1.
//!
//! ```text
//! $ cargo run --example tokio                 # detaches, prints the PID
//! $ echo hello | nc -q1 127.0.0.1 7878        # answers "hello"
//! $ kill -TERM <pid>                          # stops accepting, then exits
//! ```
//!
//! `ECHO_PORT` changes the port, `ECHO_DIR` the directory of the pid file
//! and the log (by default `daemonizer-tokio` in the temporary directory);
//! `DEBUG=1` keeps it in the foreground.
//!
//! `#[daemonizer::daemon]` goes above `#[tokio::main]`: the process
//! daemonizes first, and the runtime and its threads are created in the
//! daemon. With `ready = "manual"` the launcher waits until the port is
//! bound, so a port in use is reported on the terminal with a non-zero exit
//! status instead of a daemon dying unseen.

use std::path::PathBuf;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

fn echo_dir() -> PathBuf {
    let dir = std::env::var_os("ECHO_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("daemonizer-tokio"));
    if let Err(err) = std::fs::create_dir_all(&dir) {
        eprintln!("tokio: cannot create {}: {err}", dir.display());
        std::process::exit(73);
    }
    dir
}

fn port() -> u16 {
    std::env::var("ECHO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(7878)
}

#[daemonizer::daemon(
    pidfile = echo_dir().join("echo.pid"),
    stderr = echo_dir().join("echo.log"),
    lite_if = "DEBUG",
    ready = "manual",
    on_launched = |daemon| {
        println!("echo daemon started as PID {} on 127.0.0.1:{}", daemon.pid(), port());
        println!("stop it with: kill -TERM {}", daemon.pid());
    },
)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    daemonizer::LogFile::stderr().install(log::LevelFilter::Info)?;
    let listener = TcpListener::bind(("127.0.0.1", port())).await?;
    log::info!("listening on {}", listener.local_addr()?);
    // Watch for stops before announcing readiness: from here on SIGTERM and
    // SIGINT ask the loop below to stop instead of ending the process.
    daemonizer::stop_requested();
    daemonizer::ready()?;

    // SIGTERM and SIGINT become a request to stop, awaited off the runtime.
    let mut stop = tokio::task::spawn_blocking(daemonizer::wait_for_stop);
    loop {
        tokio::select! {
            signal = &mut stop => {
                log::info!("received {}: stopping", signal?);
                break;
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(async move {
                        if let Err(err) = echo(stream).await {
                            log::warn!("{peer}: {err}");
                        }
                    });
                }
                Err(err) => log::warn!("accept: {err}"),
            },
        }
    }
    log::info!("stopped");
    Ok(())
}

/// Sends each line back.
async fn echo(stream: TcpStream) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await? {
        write.write_all(line.as_bytes()).await?;
        write.write_all(b"\n").await?;
    }
    Ok(())
}
