//! A full-mode daemon that ends before it is ready (manual readiness: the
//! body's own start-up is part of the start) fails the start on the
//! launcher's terminal, with the cause in the one-line format and a
//! documented exit status; after readiness a panic is logged.

mod common;

use std::fs;

use common::*;

/// Starts `scenario daemon --manual` with `extra` options, waits until the
/// body runs (facts written), fires `action` and returns what the launcher
/// said; checks that nothing is left behind.
fn end_before_ready(name: &str, action: &str, extra: &[&str]) -> Outcome {
    let sb = Sandbox::new(name);
    let launcher = sb.daemon().manual().args(extra).spawn();
    let pid: i32 = facts(&sb.path("facts"))["pid"].parse().expect("pid fact");
    assert!(alive(pid), "the daemon runs, not ready yet");
    sb.trigger(action);
    let outcome = finish(launcher);
    sb.wait_no_processes();
    assert!(!sb.path("pid").exists(), "the pid file is gone");
    outcome
}

#[test]
fn err_from_main_is_reported_with_its_display() {
    end_before_ready("err", "err", &[]).assert_refused(70, "main", &["the body failed on purpose"]);
}

#[test]
fn panic_is_reported_with_message_and_location() {
    end_before_ready("panic", "panic", &[]).assert_refused(
        70,
        "main",
        &[
            "panicked at tests/scenario/scenario.rs:",
            ": the body panicked on purpose",
        ],
    );
}

#[test]
fn error_exit_in_the_body_keeps_the_error_and_its_status() {
    end_before_ready("error-exit", "error-exit", &[]).assert_refused(
        77,
        "ready",
        &["the body gave up"],
    );
}

#[test]
fn panic_after_readiness_is_logged_with_its_location() {
    let sb = Sandbox::new("panic-after");
    let log = sb.path("log");
    start(sb.daemon().log(&log));
    let pid: i32 = facts(&sb.path("facts"))["pid"].parse().expect("pid fact");
    sb.trigger("panic");
    wait_dead(pid);
    let text = fs::read_to_string(&log).expect("log file");
    let line = text
        .lines()
        .find(|l| l.contains(" ERROR "))
        .unwrap_or_else(|| panic!("no error line in the log:\n{text}"));
    assert!(
        line.contains("panicked at tests/scenario/scenario.rs:")
            && line.ends_with(": the body panicked on purpose"),
        "{line}"
    );
}

#[test]
fn process_exit_is_reported_with_its_status() {
    end_before_ready("exit", "exit", &[]).assert_refused(
        70,
        "readiness",
        &["the daemon exited before it reported ready: exit status 3"],
    );
}

#[test]
fn fatal_signal_is_reported_with_its_name() {
    end_before_ready("xfsz", "xfsz", &[]).assert_refused(
        70,
        "readiness",
        &["the daemon exited before it reported ready: killed by SIGXFSZ"],
    );
}

#[test]
fn err_from_an_attribute_main_is_reported_on_the_terminal() {
    // The tokio example binds its port before it says it is ready: a port
    // in use is an `Err` from `main` that the launcher prints.
    let sb = Sandbox::new("port-in-use");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port();
    let outcome = run(std::process::Command::new(example_bin("tokio"))
        .env("ECHO_PORT", port.to_string())
        .env("ECHO_DIR", &sb.dir)
        .env_remove("DEBUG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped()));
    assert_eq!(outcome.code(), Some(70), "{outcome:?}");
    // The C library's text for the error (glibc and musl word it apart).
    let in_use = std::io::Error::from_raw_os_error(libc::EADDRINUSE);
    let expected = format!("tokio: cannot start daemon: main: {in_use}");
    assert!(
        outcome.stderr.lines().count() == 1 && outcome.stderr.starts_with(&expected),
        "{outcome:?}"
    );
    assert!(outcome.stdout.is_empty(), "{outcome:?}");
    wait_until("the pid file to be removed", || {
        !sb.path("echo.pid").exists()
    });
}

#[test]
fn a_signal_during_the_steps_is_reported_with_its_name() {
    // Automatic readiness: a file-size limit set by the limits step makes
    // the runtime's next log line (debug level, into a file already past
    // the limit) raise SIGXFSZ before the daemon is ready.
    let sb = Sandbox::new("xfsz-steps");
    let outcome = run(sb
        .scenario("daemon")
        .pidfile(sb.path("pid"))
        .log(sb.path("log"))
        .debug_log()
        .limit("fsize:1")
        .limit("core:0:0"));
    outcome.assert_refused(
        70,
        "readiness",
        &["the daemon exited before it reported ready: killed by SIGXFSZ"],
    );
    sb.wait_no_processes();
    assert!(!sb.path("pid").exists(), "the pid file is gone");
}

#[test]
fn a_child_forked_before_ready_does_not_hold_the_watch_pipe() {
    let sb = Sandbox::new("fork-watch");
    let facts_path = sb.path("facts");
    let launcher = sb.daemon().manual().spawn();
    let pid: i32 = facts(&facts_path)["pid"].parse().expect("pid");
    // Until the daemon is ready its parent, the session leader, watches it
    // through a pipe.
    let watcher = stat(pid).expect("the daemon's stat").ppid;
    let watched = pipes(watcher);
    assert!(
        !pipes(pid).is_disjoint(&watched),
        "the daemon holds the watch pipe: {:?} {watched:?}",
        pipes(pid)
    );
    sb.trigger("fork-wait");
    let child: i32 = wait_fact(&facts_path, "fork_child").parse().expect("child");
    let shared: Vec<String> = pipes(child).intersection(&watched).cloned().collect();
    assert!(shared.is_empty(), "the child holds {shared:?}");
    wait_until("the trigger to be consumed", || {
        !sb.path("trigger").exists()
    });
    sb.trigger("ready");
    assert!(finish(launcher).success());
    wait_dead(watcher);
    kill(child, libc::SIGKILL);
    kill(pid, libc::SIGTERM);
    wait_dead(pid);
}

#[test]
fn a_daemon_whose_launcher_was_killed_goes_on_once_ready() {
    // SIGKILL leaves the launcher no chance to stop the daemon, as it does
    // for any other stop signal. The daemon, reporting ready to nobody,
    // goes on, as it does when the launcher dies just after reading the
    // report: it is not killed by SIGPIPE (its default action here) nor
    // stopped by the report it cannot deliver, and its pid file names it.
    let sb = Sandbox::new("orphan");
    let mut launcher = sb.daemon().manual().arg("--sigpipe-default").spawn();
    let pid: i32 = facts(&sb.path("facts"))["pid"].parse().expect("pid fact");
    kill(launcher.id() as i32, libc::SIGKILL);
    launcher.wait().expect("reap the launcher");
    sb.trigger("ready");
    assert_eq!(wait_fact(&sb.path("facts"), "ready"), "1");
    assert!(alive(pid), "the daemon goes on");
    assert_eq!(
        read_pidfile(&sb.path("pid")).as_deref(),
        Some(format!("{pid}\n").as_str())
    );
    stop(pid, &sb.path("pid"));
}

#[test]
fn a_start_that_fails_after_its_launcher_was_killed_leaves_nothing() {
    // The launcher, killed with SIGKILL, cannot undo the start. The
    // daemon then fails before it is ready: by returning an error, or
    // killed in turn (when it cannot even remove its own pid file). What
    // the start created, the pid file and a new output file, is gone all
    // the same, and `status` says not running.
    for (how, trigger) in [("err", Some("err")), ("kill", None)] {
        let sb = Sandbox::new(&format!("orphan-fails-{how}"));
        let out = sb.path("out.log");
        let mut launcher = sb.daemon().manual().stdout(&out).spawn();
        let pid: i32 = facts(&sb.path("facts"))["pid"].parse().expect("pid fact");
        assert!(out.exists(), "{how}: the start created the output file");
        kill(launcher.id() as i32, libc::SIGKILL);
        launcher.wait().expect("reap the launcher");
        match trigger {
            Some(action) => sb.trigger(action),
            None => {
                kill(pid, libc::SIGKILL);
            }
        }
        wait_dead(pid);
        sb.wait_no_processes();
        assert!(
            !out.exists(),
            "{how}: the output file the start created is gone"
        );
        assert!(!sb.path("pid").exists(), "{how}: the pid file is gone");
        let status = run(sb.scenario("status").commands().pidfile(sb.path("pid")));
        assert_eq!(status.code(), Some(3), "{how}: {status:?}");
    }
}

#[test]
fn what_the_daemon_says_before_ready_reaches_the_launchers_stderr_first() {
    // Early words: the body prints a line, then exits with status 3
    // before it is ready. The terminal shows both, the body's line first;
    // and once a daemon is ready, its stderr goes where configured.
    let sb = Sandbox::new("early-words");
    let launcher = sb.daemon().arg("--manual").spawn();
    let pid: i32 = facts(&sb.path("facts"))["pid"].parse().expect("pid fact");
    sb.trigger("exit");
    let outcome = finish(launcher);
    assert_eq!(outcome.code(), Some(70), "{outcome:?}");
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            format!("hello stderr from {pid}").as_str(),
            "scenario: cannot start daemon: readiness: the daemon exited before it reported \
             ready: exit status 3",
        ],
        "{outcome:?}"
    );
    sb.wait_no_processes();

    let sb = Sandbox::new("early-words-ready");
    let err = sb.path("err.log");
    let launcher = sb
        .daemon()
        .arg("--manual")
        .arg("--stderr")
        .arg(&err)
        .spawn();
    let pid: i32 = facts(&sb.path("facts"))["pid"].parse().expect("pid fact");
    sb.trigger("ready");
    let outcome = finish(launcher);
    assert!(outcome.success(), "{outcome:?}");
    assert_eq!(outcome.stderr, format!("hello stderr from {pid}\n"));
    assert_eq!(
        fds(pid).get(&2).map(String::as_str),
        Some(err.to_str().unwrap()),
        "after ready, stderr is the configured file"
    );
    sb.trigger("ok");
    wait_dead(pid);
}
