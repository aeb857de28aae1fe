//! What every benchmarked daemon does once it runs, the same in all four
//! programs: tell the benchmark (one write of its PID into the FIFO named by
//! `STARTUP_FIFO`, which the benchmark keeps open for reading), then wait to
//! be stopped.

use std::io::Write;

/// The variable naming the FIFO the benchmark reads.
const FIFO: &str = "STARTUP_FIFO";

/// Reads a path the benchmark passes in the environment; a program started
/// without it exits with status 64 (`EX_USAGE`).
///
/// With `STARTUP_LOAD_ONLY` set, the program exits with status 0 here
/// instead, before any daemon step: every program reads its first path
/// first thing, so the benchmark times loading and leaving alone.
pub(crate) fn path_from_env(name: &str) -> std::path::PathBuf {
    if std::env::var_os("STARTUP_LOAD_ONLY").is_some() {
        std::process::exit(0);
    }
    match std::env::var_os(name) {
        Some(value) => value.into(),
        None => {
            eprintln!("{name} is not set: this program is run by `cargo bench --bench startup`");
            std::process::exit(64);
        }
    }
}

/// Tells the benchmark that the daemon body runs: one write of 4 bytes (the
/// PID), atomic on a FIFO.
pub(crate) fn signal_running() {
    let sent = std::fs::OpenOptions::new()
        .write(true)
        .open(path_from_env(FIFO))
        .and_then(|mut fifo| fifo.write_all(&std::process::id().to_ne_bytes()));
    if sent.is_err() {
        // Stdio is /dev/null by now: the benchmark sees the missing
        // message and reports it.
        std::process::exit(74);
    }
}

/// Waits for a signal that ends the process (the benchmark sends SIGTERM).
#[allow(dead_code)]
pub(crate) fn wait_until_stopped() -> ! {
    loop {
        // SAFETY: pause(2) takes no arguments and only waits for a signal.
        unsafe { libc::pause() };
    }
}
