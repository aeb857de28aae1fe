//! The demo without the attribute: the same daemon, configured with
//! [`daemonizer::Daemon`] and started by hand.
//!
//! ```text
//! $ cargo run --example builder start    # or stop, status, restart, reload
//! $ DEBUG=1 cargo run --example builder start
//! ```
//!
//! `DEMO_DIR` and `DEMO_SECONDS` work as in the demo.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use daemonizer::{Daemon, Launched, LogFile, Output, Signal};

fn demo_dir() -> PathBuf {
    let dir = std::env::var_os("DEMO_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("daemonizer-demo"));
    if let Err(err) = std::fs::create_dir_all(&dir) {
        eprintln!("builder: cannot create {}: {err}", dir.display());
        std::process::exit(73);
    }
    dir
}

fn lifetime() -> Duration {
    let seconds = std::env::var("DEMO_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(seconds)
}

fn announce(daemon: &Launched) {
    println!("demo daemon started as PID {}", daemon.pid());
    if let Some(pidfile) = daemon.pidfile() {
        println!("pid file: {}", pidfile.display());
    }
    if let Output::File(log) = daemon.stderr() {
        println!("log file: {}", log.display());
    }
    println!(
        "stop it with: kill -TERM {}, or the command `stop`",
        daemon.pid()
    );
}

fn main() {
    let dir = demo_dir();
    let daemon = Daemon::new()
        .pidfile(dir.join("demo.pid"))
        .stderr(dir.join("demo.log"))
        .umask(0o022)
        .lite_if("DEBUG")
        .on_signal(Signal::SIGHUP, |signal| {
            log::info!("received {signal}: a real daemon would reload its configuration");
        })
        .on_signal(Signal::SIGUSR1, |signal| {
            log::info!("received {signal}: still running");
        })
        .on_launched(announce)
        // The first argument is start, stop, status, restart or reload.
        .commands(true);

    // In full mode this returns in the daemon only; the launching process
    // exits 0 once the daemon is ready. A failure is printed as
    // `builder: cannot start daemon: <step>: <detail>`, with a non-zero
    // exit status.
    let running = daemon.start().unwrap_or_else(|err| err.exit());

    LogFile::stderr()
        .install(log::LevelFilter::Info)
        .expect("no other logger is installed");
    // From here on SIGTERM and SIGINT ask the loop below to stop, so that
    // the last lines are written; watch before announcing the start.
    running.stop_requested();
    log::info!("started as PID {}", running.pid());

    let deadline = Instant::now() + lifetime();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            log::info!("ran for {} s: stopping", lifetime().as_secs());
            break;
        }
        if let Some(signal) = running.wait_for_stop_timeout(left) {
            log::info!("received {signal}: stopping");
            break;
        }
    }
    log::info!("stopped");
    // Dropping the handle removes the pid file.
    drop(running);
}
