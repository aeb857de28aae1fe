//! What a daemon inherits and cannot trust: the caller's signal mask, being
//! PID 1 of a namespace, children the body forks, a stderr nobody reads, a
//! supervisor that stopped reading, and paths that hold control
//! characters. Each is survived or refused, observed from outside.

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};

use common::*;

/// The `SigBlk` mask of a process, from `/proc/<pid>/status`.
fn blocked_signals(pid: i32) -> u64 {
    proc_number(&format!("/proc/{pid}/status"), "SigBlk", 16)
}

#[test]
fn a_full_daemon_starts_with_no_signal_blocked_whatever_the_caller_blocked() {
    // The caller blocked SIGTERM, SIGINT, SIGHUP and SIGUSR1 (as a careless
    // supervisor may leave the mask): restoring that mask into the daemon
    // would make it unstoppable.
    let sb = Sandbox::new("mask-full");
    start(sb.daemon().block_signals());
    let pid = wait_pidfile(&sb.path("pid"));
    facts(&sb.path("facts"));
    assert_eq!(blocked_signals(pid), 0, "SigBlk of the daemon");
    stop(pid, &sb.path("pid"));
}

#[test]
fn a_lite_daemon_starts_with_no_signal_blocked_whatever_the_caller_blocked() {
    let sb = Sandbox::new("mask-lite");
    let child = sb.daemon().lite().block_signals().spawn();
    let pid = facts(&sb.path("facts"))["pid"].parse().unwrap();
    assert_eq!(blocked_signals(pid), 0, "SigBlk of the lite daemon");
    kill(pid, libc::SIGTERM);
    let outcome = finish(child);
    assert!(outcome.success(), "SIGTERM ends it cleanly: {outcome:?}");
    assert!(!sb.path("pid").exists());
}

#[test]
fn a_full_start_as_pid_1_is_refused_and_points_at_lite_mode() {
    if !root_or_skip("a_full_start_as_pid_1_is_refused_and_points_at_lite_mode") {
        return;
    }
    // The first process of a PID namespace (a container's init): when it
    // exits the kernel kills the whole namespace, the detached daemon
    // with it.
    let sb = Sandbox::new("pid1");
    let mut cmd = Command::new("unshare");
    let refused = sb.scenario("daemon").pidfile(sb.path("pid"));
    cmd.args(["--pid", "--fork"])
        .arg(scenario_bin())
        .args(refused.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let before = sb.snapshot();
    let outcome = run(&mut cmd);
    if outcome.stderr.starts_with("unshare:") {
        let why = format!("no PID namespace here: {}", outcome.stderr.trim());
        return skip(
            "a_full_start_as_pid_1_is_refused_and_points_at_lite_mode",
            &why,
        );
    }
    outcome.assert_refused(70, "preflight", &["PID 1", "lite mode"]);
    sb.wait_no_processes();
    assert_eq!(before, sb.snapshot(), "nothing created");
    // Lite mode is what such a process runs.
    let mut lite = Command::new("unshare");
    lite.args(["--pid", "--fork"])
        .arg(scenario_bin())
        .args(sb.daemon().lite().get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = lite.spawn().expect("spawn unshare");
    let facts = facts(&sb.path("facts"));
    assert_eq!(facts["handle_pid"], "1", "the lite daemon is PID 1 inside");
    sb.trigger("ok");
    let outcome = finish(child);
    assert!(outcome.success(), "{outcome:?}");
}

#[test]
fn a_child_forked_before_ready_does_not_hold_the_launcher() {
    // A pre-fork server forks before it reports ready, then its start
    // fails: the launcher must report that at once, not wait for the end
    // of a child that inherited the readiness channel.
    let sb = Sandbox::new("fork-before-ready");
    let facts_path = sb.path("facts");
    let launcher = sb.daemon().manual().spawn();
    facts(&facts_path);
    sb.trigger("fork-wait");
    let child: i32 = wait_fact(&facts_path, "fork_child").parse().unwrap();
    wait_until("the trigger to be consumed", || {
        !sb.path("trigger").exists()
    });
    sb.trigger("exit");
    let outcome = finish(launcher);
    assert!(!outcome.success(), "the start failed: {outcome:?}");
    // The daemon's own line first (its early words), then the verdict.
    let own = outcome
        .stderr
        .lines()
        .filter(|l| l.starts_with("hello stderr from "))
        .count();
    assert_eq!(outcome.stderr.lines().count() - own, 1, "{outcome:?}");
    assert!(
        outcome.stderr.contains("cannot start daemon: "),
        "{outcome:?}"
    );
    assert!(
        alive(child),
        "the child lives on; the launcher did not wait"
    );
    kill(child, libc::SIGKILL);
    wait_dead(child);
}

#[test]
fn a_path_with_a_newline_gives_one_escaped_line() {
    // Whoever chose the path must not be able to print a second, fake line
    // under the program's name.
    let sb = Sandbox::new("newline");
    let path = sb
        .path("no-such-dir")
        .join("pid\nscenario: daemon started as PID 1\u{1b}[2K");
    let before = sb.snapshot();
    let outcome = run(sb.scenario("daemon").pidfile(&path));
    outcome.assert_refused(
        66,
        "pid file",
        &["pid\\x0ascenario: daemon started", "\\x1b[2K"],
    );
    assert_eq!(before, sb.snapshot());
}

#[test]
fn a_program_name_with_a_newline_gives_one_escaped_line() {
    // argv[0] is the caller's choice (exec lets it be anything): it must
    // not print a second, fake line, nor reach the terminal as a control
    // sequence.
    use std::os::unix::process::CommandExt;
    let sb = Sandbox::new("argv0");
    let path = sb.path("no-such-dir").join("pid");
    let before = sb.snapshot();
    let outcome = run(sb
        .command("daemon")
        .arg0("evil\nscenario: daemon started as PID 1\u{1b}[2K\u{9b}x")
        .arg("--pidfile")
        .arg(&path));
    assert_eq!(outcome.code(), Some(66), "{outcome:?}");
    assert_eq!(
        outcome.stderr,
        format!(
            "evil\\x0ascenario: daemon started as PID 1\\x1b[2K\\u{{009b}}x: \
             cannot start daemon: pid file: {}: the directory {dir} does not exist (create \
             it first: install -d {dir}): No such file or directory\n",
            path.display(),
            dir = sb.path("no-such-dir").display()
        ),
        "{outcome:?}"
    );
    assert_eq!(before, sb.snapshot());
}

#[test]
fn a_path_with_unicode_line_separators_gives_one_escaped_line() {
    // U+2028 and U+2029 end a line for many terminals, log viewers and
    // JSON-reading tools.
    let sb = Sandbox::new("u2028");
    let dir = sb.path("no-such-dir");
    let path = dir.join("pid\u{2028}scenario: daemon started\u{2029}as PID 1");
    let before = sb.snapshot();
    let outcome = run(sb.command("daemon").arg("--pidfile").arg(&path));
    assert_eq!(outcome.code(), Some(66), "{outcome:?}");
    assert_eq!(
        outcome.stderr,
        format!(
            "scenario: cannot start daemon: pid file: {}/pid\\u{{2028}}scenario: daemon \
             started\\u{{2029}}as PID 1: the directory {0} does not exist (create it first: \
             install -d {0}): No such file or directory\n",
            dir.display()
        ),
        "{outcome:?}"
    );
    assert_eq!(before, sb.snapshot());
}

/// A pipe whose read end is closed: every write to the other end fails
/// with EPIPE.
fn broken_pipe() -> OwnedFd {
    // `pipe` and then close-on-exec: macOS has no `pipe2`.
    let (read, write) = nix::unistd::pipe().expect("pipe");
    drop(read);
    nix::fcntl::fcntl(
        &write,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .expect("FD_CLOEXEC");
    write
}

#[test]
fn a_broken_stderr_keeps_the_documented_exit_status() {
    // Nobody reads the launcher's stderr any more: the message is lost,
    // the exit status is still the one documented (66, not a panic's 101).
    let sb = Sandbox::new("broken-stderr");
    // A start refused for its missing pid-file directory, `extra` options
    // first, with stderr a pipe nobody reads.
    let refused_with_broken_stderr = |extra: &[&str]| {
        let status = sb
            .scenario("daemon")
            .args(extra)
            .pidfile(sb.path("missing").join("pid"))
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::from(broken_pipe()))
            .status()
            .expect("run scenario");
        assert_eq!(status.code(), Some(66), "{}", describe(&status));
    };
    refused_with_broken_stderr(&[]);
    // The same in a program that gave SIGPIPE its default action (which
    // kills): the message's write must not kill the launcher.
    refused_with_broken_stderr(&["--sigpipe-default"]);
}

#[test]
fn a_supervisor_with_a_full_queue_does_not_hold_the_launcher() {
    // The supervisor stopped reading its notification socket and its
    // queue is full: READY=1 cannot be sent, and the launcher must not
    // wait for it forever.
    let sb = Sandbox::new("notify-full");
    let socket_path = sb.path("notify");
    let supervisor = UnixDatagram::bind(&socket_path).expect("bind");
    let filler = UnixDatagram::unbound().unwrap();
    filler.connect(&socket_path).unwrap();
    filler.set_nonblocking(true).unwrap();
    let mut queued = 0;
    while filler.send(b"WATCHDOG=1").is_ok() {
        queued += 1;
    }
    assert!(queued > 0, "the queue took some messages");
    let launcher = sb.daemon().env("NOTIFY_SOCKET", &socket_path).spawn();
    let outcome = finish(launcher);
    assert!(outcome.success(), "the daemon started: {outcome:?}");
    let pid = wait_pidfile(&sb.path("pid"));
    assert!(alive(pid));
    stop(pid, &sb.path("pid"));
    drop(supervisor);
}

#[test]
fn a_child_forked_before_ready_does_not_hold_the_readiness_channel() {
    let sb = Sandbox::new("fork-channel");
    let facts_path = sb.path("facts");
    let launcher = sb.daemon().manual().spawn();
    let launcher_pid = i32::try_from(launcher.id()).unwrap();
    let pid: i32 = facts(&facts_path)["pid"].parse().unwrap();
    sb.trigger("fork-wait");
    let child: i32 = wait_fact(&facts_path, "fork_child").parse().unwrap();
    wait_until("the trigger to be consumed", || {
        !sb.path("trigger").exists()
    });
    // The launcher's end of the channel is one of its pipes; the daemon
    // holds the other end until it is ready, its child none.
    let launcher_pipes = pipes(launcher_pid);
    assert!(
        !pipes(pid).is_disjoint(&launcher_pipes),
        "the daemon holds the channel: {:?} {launcher_pipes:?}",
        pipes(pid)
    );
    let shared: Vec<String> = pipes(child)
        .intersection(&launcher_pipes)
        .cloned()
        .collect();
    assert!(shared.is_empty(), "the child holds {shared:?}");
    sb.trigger("ready");
    assert!(finish(launcher).success());
    kill(child, libc::SIGKILL);
    stop(pid, &sb.path("pid"));
}

#[test]
fn a_child_forked_before_ready_cannot_report_the_daemon_ready() {
    // A worker calling ready() must not make the launcher exit 0 for a
    // daemon that then fails its start.
    let sb = Sandbox::new("fork-ready");
    let facts_path = sb.path("facts");
    let launcher = sb.daemon().manual().spawn();
    let pid: i32 = facts(&facts_path)["pid"].parse().unwrap();
    sb.trigger("fork-ready");
    let outcome = wait_fact(&facts_path, "child_ready");
    assert!(
        outcome.starts_with("error ") && outcome.contains(&format!("the daemon (PID {pid})")),
        "ready() in the child: {outcome}"
    );
    wait_until("the trigger to be consumed", || {
        !sb.path("trigger").exists()
    });
    sb.trigger("exit");
    let outcome = finish(launcher);
    assert!(!outcome.success(), "the start failed: {outcome:?}");
    let child: i32 = wait_fact(&facts_path, "fork_child").parse().unwrap();
    kill(child, libc::SIGKILL);
    sb.wait_no_processes();
}
