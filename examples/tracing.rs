//! Logging with `tracing` into a file that survives the fd sweep, in both
//! modes.
//!
//! ```text
//! $ cargo run --example tracing            # detaches; logs to the file
//! $ DEBUG=1 cargo run --example tracing    # foreground; logs to the file too
//! $ kill -TERM "$(cat /tmp/daemonizer-tracing/tracing.pid)"
//! ```
//!
//! `TRACING_DIR` changes the directory of the pid file and the log (by
//! default `daemonizer-tracing` in the temporary directory).
//!
//! The file is opened before the start and preserved: a full start closes
//! every other inherited fd. The subscriber is installed once the process
//! is the daemon, and writes through the same file.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::sync::Mutex;

use daemonizer::Daemon;

fn dir() -> PathBuf {
    let dir = std::env::var_os("TRACING_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("daemonizer-tracing"));
    if let Err(err) = std::fs::create_dir_all(&dir) {
        eprintln!("tracing: cannot create {}: {err}", dir.display());
        std::process::exit(73);
    }
    dir
}

fn main() {
    let dir = dir();
    let log = OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join("tracing.log"))
        .unwrap_or_else(|err| {
            eprintln!("tracing: cannot open the log: {err}");
            std::process::exit(73);
        });
    let running = Daemon::new()
        .pidfile(dir.join("tracing.pid"))
        .preserve(&log)
        .lite_if("DEBUG")
        .start()
        .unwrap_or_else(|err| err.exit());

    tracing_subscriber::fmt()
        .with_writer(Mutex::new(log))
        .with_ansi(false)
        .init();
    // From here on SIGTERM asks the wait below to return instead of ending
    // the process at once: watch before saying "serving".
    running.stop_requested();
    tracing::info!(pid = running.pid(), mode = ?running.mode(), "serving");
    let signal = running.wait_for_stop();
    tracing::info!(%signal, "stopping");
}
