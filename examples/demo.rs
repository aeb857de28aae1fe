//! The demonstration of a daemon with `#[daemonizer::daemon]`: a pid file
//! and a log file in a directory any user can write to, handlers for SIGHUP
//! and SIGUSR1 that log, a clean stop on SIGTERM, an end after a minute,
//! and the commands of an init script (`commands = "start"`: with no
//! argument, `demo` starts the daemon).
//!
//! ```text
//! $ cargo run --example demo                # starts it (as `demo start`): detaches, prints the PID
//! $ cargo run --example demo status         # "demo is running as PID 4242" (exit 0)
//! $ cargo run --example demo reload         # SIGHUP: logs a line
//! $ kill -USR1 <pid>                        # logs a line
//! $ cargo run --example demo restart        # stop, then start: "demo restarted as PID 4243"
//! $ cargo run --example demo stop           # SIGTERM, waits until it is gone (SIGKILL after 10 s)
//! $ cargo run --example demo status         # "demo is not running" (exit 3)
//! $ DEBUG=1 cargo run --example demo start  # stays in the foreground, logs to the terminal; Ctrl-C stops it
//! ```
//!
//! `DEMO_DIR` changes the directory (by default `daemonizer-demo` in the
//! temporary directory) and `DEMO_SECONDS` how long the daemon runs.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use daemonizer::{Launched, LogFile, Output, Signal};

/// The directory of the pid file and the log file, created when missing.
/// Called when `main` starts, in the launching process, so a failure is
/// reported on the terminal.
fn demo_dir() -> PathBuf {
    let dir = std::env::var_os("DEMO_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("daemonizer-demo"));
    if let Err(err) = std::fs::create_dir_all(&dir) {
        eprintln!("demo: cannot create {}: {err}", dir.display());
        std::process::exit(73);
    }
    dir
}

/// How long the daemon runs unless stopped.
fn lifetime() -> Duration {
    let seconds = std::env::var("DEMO_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(seconds)
}

/// Runs in the launching process once the daemon is ready, just before it
/// exits.
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

fn on_hangup(signal: Signal) {
    log::info!("received {signal}: a real daemon would reload its configuration");
}

fn on_user1(signal: Signal) {
    log::info!("received {signal}: still running");
}

#[daemonizer::daemon(
    pidfile = demo_dir().join("demo.pid"),
    stderr = demo_dir().join("demo.log"),
    umask = 0o022,
    lite_if = "DEBUG",
    signals(SIGHUP = on_hangup, SIGUSR1 = on_user1),
    on_launched = announce,
    commands = "start",
)]
fn main() {
    // The daemon's stderr is the log file; in lite mode, the terminal.
    LogFile::stderr()
        .install(log::LevelFilter::Info)
        .expect("no other logger is installed");
    // From here on SIGTERM and SIGINT ask the loop below to stop, so that
    // the last lines are written; watch before announcing the start.
    daemonizer::stop_requested();
    log::info!("started as PID {}", std::process::id());

    let deadline = Instant::now() + lifetime();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            log::info!("ran for {} s: stopping", lifetime().as_secs());
            break;
        }
        // Waiting also turns SIGTERM and SIGINT into a request to stop,
        // so that the last line below is written.
        if let Some(signal) = daemonizer::wait_for_stop_timeout(left) {
            log::info!("received {signal}: stopping");
            break;
        }
    }
    log::info!("stopped");
}
