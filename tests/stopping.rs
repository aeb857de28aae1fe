//! Stop signals handled without a thread: a daemon without handlers runs a
//! single thread; a stop delivered to any thread wakes `wait_for_stop`; a
//! second stop ends a graceful stop at once; a child the body forked gets
//! the default action of SIGTERM.
//!
//! That SIGTERM, not watched, ends a lite daemon with status 0 and removes
//! its pid file is shown in `lifecycle.rs`
//! (`lite_mode_stays_in_the_callers_session_with_stdio_untouched`).

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Stdio};

use common::*;

/// The name the signal thread shows in `/proc`: thread names are cut to 15
/// bytes there (`TASK_COMM_LEN` is 16 with the NUL).
const SIGNAL_THREAD_COMM: &str = "daemonizer-sign";

/// The thread ids of `pid`, from `/proc/<pid>/task`, sorted.
fn tasks(pid: i32) -> Vec<i32> {
    let mut tids: Vec<i32> = fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    tids.sort_unstable();
    tids
}

/// The name of thread `tid` of `pid`.
fn comm(pid: i32, tid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
        .map(|s| s.trim_end().to_owned())
        .unwrap_or_default()
}

/// The threads of `pid` with their names, for checks and messages.
fn threads(pid: i32) -> Vec<(i32, String)> {
    tasks(pid).into_iter().map(|t| (t, comm(pid, t))).collect()
}

/// The scheduler state of thread `tid` of `pid` (`R`, `S`, `D`, ...).
fn thread_state(pid: i32, tid: i32) -> Option<char> {
    let text = fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    text[text.rfind(')')? + 2..].chars().next()
}

/// Whether thread `tid` of `pid` blocks `signal` (`SigBlk:` of its status).
fn blocks(pid: i32, tid: i32, signal: i32) -> bool {
    let mask = proc_number(&format!("/proc/{pid}/task/{tid}/status"), "SigBlk", 16);
    mask & (1 << (signal - 1)) != 0
}

/// Waits until the facts file holds `key` with a value other than `not`
/// (later lines win) and returns it.
fn wait_fact_other_than(path: &Path, key: &str, not: &str) -> String {
    wait_for(&format!("a new {key} in {}", path.display()), || {
        let value = parse_facts(&fs::read_to_string(path).ok()?)?.remove(key)?;
        (value != not).then_some(value)
    })
}

/// Starts the scenario daemon (full, or lite as a child of this test) with
/// `extra` options, and returns its PID once its body runs, with the lite
/// process to wait for.
fn launch(sb: &Sandbox, lite: bool, extra: &[&str]) -> (i32, Option<Child>) {
    let cmd = sb.daemon().args(extra);
    let (pid, child) = if lite {
        // Lite: the body runs in this process's child, which keeps the
        // stdio it was given.
        let child = cmd
            .lite()
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        (child.id() as i32, Some(child))
    } else {
        // Full: the launcher exits 0 once the daemon is ready.
        start(cmd);
        (wait_pidfile(&sb.path("pid")), None)
    };
    let f = facts(&sb.path("facts"));
    assert_eq!(f["pid"], pid.to_string(), "the body runs as {pid}");
    assert_eq!(
        read_pidfile(&sb.path("pid")),
        Some(format!("{pid}\n")),
        "pid file"
    );
    (pid, child)
}

/// Ends the daemon with SIGTERM: its pid file goes, and a lite one (this
/// test's child) exits with status 0.
fn stop_daemon(sb: &Sandbox, pid: i32, child: Option<Child>) {
    match child {
        None => stop(pid, &sb.path("pid")),
        Some(mut child) => {
            kill(pid, libc::SIGTERM);
            let status = wait_for("the lite daemon to exit", || child.try_wait().unwrap());
            assert_eq!(status.code(), Some(0), "{}", describe(&status));
            assert!(!sb.path("pid").exists(), "pid file removed");
        }
    }
    sb.wait_no_processes();
}

/// The threads of a ready daemon: only the main one without handlers; the
/// main one and `daemonizer-signals` with handlers (`--record`).
fn check_threads(name: &str, lite: bool, handlers: bool) {
    let sb = Sandbox::new(name);
    let record = sb.path("record").display().to_string();
    let extra: &[&str] = if handlers {
        &["--record", &record]
    } else {
        &[]
    };
    let (pid, child) = launch(&sb, lite, extra);
    // The facts are written by the body, after start() returned: every
    // thread the runtime starts exists by now.
    let seen = threads(pid);
    let count = if handlers { 2 } else { 1 };
    assert_eq!(seen.len(), count, "threads of {pid}: {seen:?}");
    assert_eq!(
        status_field(pid, "Threads"),
        vec![count.to_string()],
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|(tid, _)| *tid == pid),
        "the main thread: {seen:?}"
    );
    if handlers {
        // A new thread names itself once it runs: wait for that.
        let other = seen.iter().find(|(tid, _)| *tid != pid).expect("two").0;
        wait_until(
            &format!("thread {other} to be {SIGNAL_THREAD_COMM}"),
            || comm(pid, other) == SIGNAL_THREAD_COMM,
        );
    } else {
        assert!(
            seen.iter().all(|(_, name)| name != SIGNAL_THREAD_COMM),
            "{seen:?}"
        );
    }
    // A single-threaded daemon still stops cleanly on SIGTERM.
    stop_daemon(&sb, pid, child);
}

#[test]
fn without_handlers_a_full_daemon_runs_one_thread() {
    check_threads("one-thread-full", false, false);
}

#[test]
fn without_handlers_a_lite_daemon_runs_one_thread() {
    check_threads("one-thread-lite", true, false);
}

#[test]
fn with_handlers_a_full_daemon_runs_the_signal_thread_too() {
    check_threads("two-threads-full", false, true);
}

#[test]
fn with_handlers_a_lite_daemon_runs_the_signal_thread_too() {
    check_threads("two-threads-lite", true, true);
}

#[test]
fn wait_for_stop_is_woken_by_a_sigterm_another_thread_takes() {
    let sb = Sandbox::new("wait-elsewhere");
    let (pid, _) = launch(&sb, false, &["--wait-elsewhere"]);
    let f = sb.path("facts");
    wait_fact(&f, "waiting");
    let seen = threads(pid);
    assert_eq!(
        seen.len(),
        2,
        "the main thread and the sleeper, no signal thread: {seen:?}"
    );
    let sleeper = seen.iter().find(|(tid, _)| *tid != pid).expect("two").0;
    // A new thread names itself once it runs: wait for that.
    wait_until(&format!("thread {sleeper} to be the sleeper"), || {
        comm(pid, sleeper) == "sleeper"
    });
    // Only the sleeper can take SIGTERM: the kernel delivers it there.
    assert!(blocks(pid, pid, libc::SIGTERM) && blocks(pid, pid, libc::SIGINT));
    assert!(!blocks(pid, sleeper, libc::SIGTERM));
    // The main thread wrote `waiting` and then only calls wait_for_stop():
    // once it sleeps, it sleeps in there, past its last look at the flag.
    // A signal it blocks does not interrupt that sleep; only a wake-up from
    // the thread that took the signal ends it (the wait has no timeout).
    wait_until("the main thread to sleep in wait_for_stop", || {
        thread_state(pid, pid) == Some('S')
    });
    kill(pid, libc::SIGTERM);
    assert_eq!(wait_fact(&f, "stopped"), "SIGTERM");
    wait_dead(pid);
    assert!(
        !sb.path("pid").exists(),
        "the body returned: its pid file is removed"
    );
    sb.wait_no_processes();
}

/// A body that watches for stops but holds on after the first one: a
/// second stop signal ends it at once, pid file removed.
fn second_stop_ends_at_once(name: &str, lite: bool, second: i32) {
    let sb = Sandbox::new(name);
    let (pid, child) = launch(&sb, lite, &["--ignore-stop"]);
    let f = sb.path("facts");
    kill(pid, libc::SIGTERM);
    assert_eq!(wait_fact(&f, "stop_seen"), "SIGTERM");
    // The first stop only asked: the body still runs its loop (it answers
    // a trigger) and the pid file is untouched.
    sb.trigger("ready");
    wait_fact(&f, "ready");
    assert!(alive(pid));
    assert_eq!(read_pidfile(&sb.path("pid")), Some(format!("{pid}\n")));
    kill(pid, second);
    match child {
        Some(mut child) => {
            let status = wait_for("the lite daemon to exit", || child.try_wait().unwrap());
            assert_eq!(status.code(), Some(0), "{}", describe(&status));
        }
        None => wait_dead(pid),
    }
    // The pid file is removed before the process ends.
    assert!(!sb.path("pid").exists(), "pid file removed");
    sb.wait_no_processes();
}

#[test]
fn a_second_sigterm_ends_a_graceful_stop_at_once() {
    second_stop_ends_at_once("second-stop-full", false, libc::SIGTERM);
}

#[test]
fn a_sigint_after_a_sigterm_ends_a_lite_graceful_stop_with_status_0() {
    second_stop_ends_at_once("second-stop-lite", true, libc::SIGINT);
}

#[test]
fn stop_signals_to_a_child_the_body_forked_get_their_default_action() {
    let sb = Sandbox::new("forked-child");
    let (pid, _) = launch(&sb, false, &[]);
    let f = sb.path("facts");
    let pidfile = sb.path("pid");
    let inode = fs::metadata(&pidfile).unwrap().ino();
    let (mut last_child, mut last_end) = (String::new(), String::new());
    for (signal, number) in [(libc::SIGTERM, 15), (libc::SIGINT, 2)] {
        // The daemon removes the trigger once it has forked.
        wait_until("the previous trigger to be taken", || {
            !sb.path("trigger").exists()
        });
        sb.trigger("fork-wait");
        last_child = wait_fact_other_than(&f, "fork_child", &last_child);
        let child: i32 = last_child.parse().expect("child PID");
        assert_ne!(child, pid);
        assert!(alive(child), "the child waits");
        kill(child, signal);
        // Reaped by the daemon: killed by the signal, not exited.
        last_end = wait_fact_other_than(&f, "fork_child_ended", &last_end);
        assert_eq!(last_end, format!("{child} signal {number}"));
        assert!(alive(pid), "the daemon runs on");
        assert_eq!(read_pidfile(&pidfile), Some(format!("{pid}\n")));
        assert_eq!(fs::metadata(&pidfile).unwrap().ino(), inode, "same file");
    }
    stop(pid, &pidfile);
    sb.wait_no_processes();
}
