//! Last words: a full-mode daemon whose stderr goes to `/dev/null` and
//! that fails after its launcher has returned (an `Err` from `main`, a
//! panic) leaves its reason in the system log: a datagram to `/dev/log`,
//! here a socket the test binds. With a stderr file, the reason is in the
//! file.

mod common;

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

use common::*;

/// `/dev/log`, bound by this test for as long as it lives; the system has
/// none here (a test machine without a log daemon). Tests that bind it
/// take turns through a lock file.
struct DevLog {
    socket: UnixDatagram,
    _turn: File,
}

const DEV_LOG: &str = "/dev/log";

impl DevLog {
    fn bind(test: &str) -> Option<DevLog> {
        if !root_or_skip(test) {
            return None;
        }
        let turn = File::create("/tmp/daemonizer-it-dev-log.lock").expect("lock file");
        // SAFETY: flock takes no pointers; the fd is open.
        let locked = unsafe { libc::flock(turn.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(locked, 0, "flock");
        if Path::new(DEV_LOG).exists() {
            // Left by a test that was killed, or a real log daemon's.
            if UnixDatagram::unbound()
                .and_then(|s| s.connect(DEV_LOG))
                .is_ok()
            {
                skip(test, "a system log listens on /dev/log here");
                return None;
            }
            fs::remove_file(DEV_LOG).expect("remove a dead /dev/log");
        }
        let socket = UnixDatagram::bind(DEV_LOG).expect("bind /dev/log");
        socket.set_read_timeout(Some(DEADLINE)).unwrap();
        Some(DevLog {
            socket,
            _turn: turn,
        })
    }

    /// The next datagram from `pid`, within the deadline (other programs,
    /// such as the account tools, log there too).
    fn next_from(&self, pid: i32) -> String {
        let mut buf = vec![0u8; 65536];
        loop {
            let n = self
                .socket
                .recv(&mut buf)
                .expect("a message on /dev/log before the deadline");
            let line = String::from_utf8_lossy(&buf[..n]).into_owned();
            if line.contains(&format!("[{pid}]: ")) {
                return line;
            }
        }
    }
}

impl Drop for DevLog {
    fn drop(&mut self) {
        let _ = fs::remove_file(DEV_LOG);
    }
}

#[test]
fn a_failure_after_ready_with_stderr_to_dev_null_reaches_the_system_log() {
    let Some(log) =
        DevLog::bind("a_failure_after_ready_with_stderr_to_dev_null_reaches_the_system_log")
    else {
        return;
    };
    for (trigger, says) in [
        ("err", "the body failed on purpose"),
        ("panic", "panicked at"),
    ] {
        let sb = Sandbox::new(&format!("last-{trigger}"));
        let outcome = start(sb.daemon());
        assert!(outcome.success(), "{outcome:?}");
        let pid = wait_pidfile(&sb.path("pid"));
        sb.trigger(trigger);
        let line = log.next_from(pid);
        assert!(
            line.starts_with(&format!("<27>scenario[{pid}]: ")),
            "{trigger}: facility daemon, level err, program and PID: {line:?}"
        );
        assert!(line.contains(says), "{trigger}: {line:?}");
        assert!(!line.contains('\n'), "{trigger}: one line: {line:?}");
        wait_dead(pid);
        sb.wait_no_processes();
    }
}

#[test]
fn a_failure_after_ready_with_a_stderr_file_is_in_the_file() {
    // No system log needed: the file is where an operator looks.
    let sb = Sandbox::new("last-file");
    let err = sb.path("err.log");
    let outcome = start(sb.daemon().stderr(&err));
    assert!(outcome.success(), "{outcome:?}");
    let pid = wait_pidfile(&sb.path("pid"));
    sb.trigger("err");
    wait_dead(pid);
    let text = fs::read_to_string(&err).unwrap();
    assert!(text.contains("the body failed on purpose"), "{text:?}");
}
