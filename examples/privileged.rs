//! Serving on a privileged port as `nobody`: the port is bound by the
//! `setup` step, as root, before the privilege drop; the body receives the
//! listener and serves as `nobody`.
//!
//! ```text
//! # cargo run --example privileged           # as root: binds port 80
//! # curl -s 127.0.0.1:80                      # "served by uid 65534"
//! # kill -TERM "$(cat /tmp/daemonizer-privileged/privileged.pid)"
//! ```
//!
//! `PRIVILEGED_PORT` changes the port, `PRIVILEGED_DIR` the directory of the
//! pid file (by default `daemonizer-privileged` in the temporary
//! directory); `DEBUG=1` keeps it in the foreground. A port that cannot be
//! bound (in use, or not root) is reported on the terminal:
//! `privileged: cannot start daemon: setup: Permission denied (os error 13)`.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;

fn port() -> u16 {
    std::env::var("PRIVILEGED_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(80)
}

fn dir() -> PathBuf {
    let dir = std::env::var_os("PRIVILEGED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("daemonizer-privileged"));
    if let Err(err) = std::fs::create_dir_all(&dir) {
        eprintln!("privileged: cannot create {}: {err}", dir.display());
        std::process::exit(73);
    }
    dir
}

/// Runs as the launching user, before the drop.
fn bind() -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port()))
}

#[daemonizer::daemon(
    pidfile = dir().join("privileged.pid"),
    user = "nobody",
    setup = bind,
    lite_if = "DEBUG",
    on_launched = |daemon| println!("serving on 127.0.0.1:{} as PID {}", port(), daemon.pid()),
)]
fn main(listener: TcpListener) -> std::io::Result<()> {
    // SAFETY: getuid takes no arguments and cannot fail.
    let uid = unsafe { libc::getuid() };
    for stream in listener.incoming() {
        writeln!(stream?, "served by uid {uid}")?;
    }
    Ok(())
}
