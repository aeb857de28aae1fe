//! Timeouts that reach past what the clock can count (`Duration::MAX`):
//! they wait without bound instead of panicking on an `Instant` overflow.

mod common;

use common::*;

/// Runs a command and checks its exit status and its one line on stdout
/// (nothing on stderr).
fn expect(cmd: impl Launch, code: i32, line: &str) {
    let outcome = run(cmd);
    assert_eq!(outcome.code(), Some(code), "{outcome:?}");
    assert_eq!(outcome.stdout, format!("{line}\n"), "{outcome:?}");
    assert!(outcome.stderr.is_empty(), "{outcome:?}");
}

/// `stop` and `restart` with a stop timeout of `Duration::MAX` wait for
/// the daemon to end, as with any other timeout.
#[test]
fn stop_and_restart_with_the_longest_stop_timeout() {
    let sb = Sandbox::new("duration-stop");
    let first = sb.start_daemon(|s| s);
    let outcome = run(sb.control("restart").stop_timeout_ms("max"));
    assert_eq!(outcome.code(), Some(0), "{outcome:?}");
    assert!(outcome.stderr.is_empty(), "{outcome:?}");
    let second = wait_pidfile(&sb.path("pid"));
    assert_ne!(first, second, "a new daemon");
    assert!(!alive(first), "the first daemon is gone");
    assert_eq!(
        outcome.stdout,
        format!("scenario restarted as PID {second}\n"),
        "{outcome:?}"
    );
    expect(
        sb.control("stop").stop_timeout_ms("max"),
        0,
        &format!("scenario stopped (PID {second})"),
    );
    assert!(!alive(second), "stopped");
    assert!(!sb.path("pid").exists(), "the pid file is removed");
    sb.wait_no_processes();
}

/// A body holding in `wait_for_stop_timeout(Duration::MAX)` is woken by
/// SIGTERM and leaves cleanly.
#[test]
fn wait_for_stop_with_the_longest_timeout() {
    let sb = Sandbox::new("duration-wait");
    let cmd = sb.daemon().graceful().args(["--hold-timeout-ms", "max"]);
    start(cmd);
    let pid = wait_pidfile(&sb.path("pid"));
    assert_eq!(facts(&sb.path("facts"))["pid"], pid.to_string());
    kill(pid, libc::SIGTERM);
    assert_eq!(wait_fact(&sb.path("facts"), "stopped"), "SIGTERM");
    wait_dead(pid);
    wait_until("the pid file to be removed", || !sb.path("pid").exists());
    sb.wait_no_processes();
}
