// A body that leaves through `std::process::exit` once it has reported
// ready; the launcher, in `on_launched`, waits for the daemon to end and
// checks that the pid file went with it.
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Named after the launching process (the daemon, a child of it, uses
/// the same name).
fn pidfile() -> std::path::PathBuf {
    static LAUNCHER: OnceLock<u32> = OnceLock::new();
    let pid = LAUNCHER.get_or_init(std::process::id);
    std::env::temp_dir().join(format!("daemonizer-pass-main-never-{pid}.pid"))
}

/// Gone, or a zombie where nothing reaps orphans.
fn ended(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_or(true, |s| s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
}

fn after_launch(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ended(pid) {
        assert!(Instant::now() < deadline, "the daemon {pid} did not end");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(!pidfile().exists(), "{} is left", pidfile().display());
}

#[daemonizer::daemon(
    pidfile = pidfile(),
    ready = "manual",
    on_launched = |launched| after_launch(launched.pid()),
)]
fn main() -> ! {
    let _ = daemonizer::ready();
    std::process::exit(0)
}
