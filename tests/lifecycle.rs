//! A daemon's life on real processes: what a full start leaves in place,
//! lite mode, and the pid file on every way out.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Stdio;

use common::*;

/// The access mode of `fd` in `pid` (`O_RDONLY` 0, `O_WRONLY` 1, `O_RDWR` 2)
/// and whether `O_APPEND` is set, from `/proc/<pid>/fdinfo`.
fn fd_flags(pid: i32, fd: i32) -> (u32, bool) {
    let flags = proc_number(&format!("/proc/{pid}/fdinfo/{fd}"), "flags", 8) as u32;
    (flags & 3, flags & libc::O_APPEND as u32 != 0)
}

/// Checks what makes `pid` a detached daemon, seen from outside: a session
/// of its own that it does not lead, no controlling terminal, the session's
/// leader (the intermediate process) gone. Returns its `/proc` stat.
fn assert_detached(pid: i32) -> Stat {
    let st = stat(pid).unwrap();
    let me = stat(std::process::id() as i32).unwrap();
    assert_ne!(st.session, pid, "the daemon is not a session leader");
    assert_ne!(
        st.session, me.session,
        "the daemon has a session of its own"
    );
    assert_eq!(st.tty_nr, 0, "no controlling terminal");
    // The first child leaves once the launcher has its verdict, so that
    // its exit overlaps the body: gone soon after the launcher, not before.
    wait_until("the intermediate session leader to be gone", || {
        !alive(st.session)
    });
    st
}

#[test]
fn full_start_detaches_redirects_and_writes_the_pid_file() {
    let sb = Sandbox::new("full");
    let work = sb.path("work");
    fs::create_dir(&work).unwrap();
    let out = sb.path("out.log");
    let err = sb.path("err.log");
    fs::write(&out, "previous\n").unwrap();
    let launcher = sb
        .daemon()
        .umask("027")
        .extra(4)
        .keep(1)
        .workdir(&work)
        .stdout(&out)
        .stderr(&err)
        .log(sb.path("daemon.log"))
        .spawn();
    let launcher_pid = launcher.id() as i32;
    let outcome = finish(launcher);
    assert!(outcome.success(), "{outcome:?}");
    assert!(outcome.stdout.is_empty() && outcome.stderr.is_empty());

    // The launcher exits only once the pid file is written and the daemon
    // runs: both hold as soon as it is gone.
    let text = read_pidfile(&sb.path("pid")).expect("pid file written before the launcher exits");
    let pid: i32 = text
        .strip_suffix('\n')
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("pid file holds {text:?}, expected \"<pid>\\n\""));
    assert!(alive(pid), "the daemon {pid} runs");
    assert_ne!(pid, launcher_pid);

    let st = assert_detached(pid);
    assert_ne!(st.pgrp, pid, "nor a process group leader");
    assert_ne!(st.ppid, launcher_pid, "reparented away from the launcher");
    // Orphans go to PID 1 or to a subreaper; this test process is neither.
    assert_ne!(st.ppid, std::process::id() as i32);

    let f = facts(&sb.path("facts"));
    assert_eq!(f["pid"], pid.to_string());
    assert_eq!(f["handle_pid"], pid.to_string());
    assert_eq!(f["sid"], st.session.to_string());
    assert_ne!(f["sid"], f["pid"]);
    assert_eq!(f["umask"], "027");
    assert_eq!(status_field(pid, "Umask"), vec!["0027"]);
    assert_eq!(f["cwd"], work.display().to_string());
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        work,
        "cwd from outside"
    );

    // stdio: stdin /dev/null read-write, stdout and stderr the files,
    // appended to.
    let open = fds(pid);
    assert_eq!(open[&0], "/dev/null");
    assert_eq!(
        fd_flags(pid, 0).0,
        libc::O_RDWR as u32,
        "/dev/null read-write"
    );
    assert_eq!(open[&1], out.display().to_string());
    assert_eq!(open[&2], err.display().to_string());
    assert!(fd_flags(pid, 1).1 && fd_flags(pid, 2).1, "outputs appended");
    let expected_mode = 0o640 & !own_umask();
    assert_eq!(
        fs::metadata(&err).unwrap().mode() & 0o777,
        expected_mode,
        "a missing output file is created 0640 (less the launcher's umask)"
    );
    let written = fs::read_to_string(&out).unwrap();
    assert!(
        written.starts_with("previous\n") && written.contains(&format!("hello stdout from {pid}")),
        "stdout appended: {written:?}"
    );
    let written = fs::read_to_string(&err).unwrap();
    assert!(
        written.contains(&format!("hello stderr from {pid}")),
        "{written:?}"
    );
    let logged = fs::read_to_string(sb.path("daemon.log")).unwrap();
    assert!(
        logged.contains("daemon body running"),
        "preserved log: {logged:?}"
    );

    // Inherited fds: the preserved extra file stays, the other three are
    // closed, and every open fd is accounted for.
    let keep: i32 = f["keep_fds"].parse().unwrap();
    assert_eq!(open[&keep], sb.path("extra-0").display().to_string());
    let allowed = [
        "/dev/null".to_owned(),
        out.display().to_string(),
        err.display().to_string(),
        sb.path("extra-0").display().to_string(),
        sb.path("facts").display().to_string(),
        sb.path("daemon.log").display().to_string(),
        sb.path("pid").display().to_string(),
        sb.path(".pid.lock").display().to_string(),
        sb.dir.display().to_string(),
    ];
    for (fd, target) in &open {
        assert!(
            allowed.contains(target) || target.starts_with("pipe:"),
            "fd {fd} -> {target} should have been closed; open: {open:?}"
        );
    }
    for i in 1..4 {
        let name = sb.path(&format!("extra-{i}")).display().to_string();
        assert!(
            !open.values().any(|t| *t == name),
            "{name} still open: {open:?}"
        );
    }
    // The readiness pipe is closed once ready: only the signal pipe (one
    // pipe, two ends) remains.
    let pipes: Vec<&String> = open.values().filter(|t| t.starts_with("pipe:")).collect();
    assert!(pipes.len() <= 2, "pipes: {open:?}");

    stop(pid, &sb.path("pid"));
}

/// Where a sandbox refuses `unshare`, the start counts threads in `/proc`
/// instead, and the daemon is the same: detached, in a session of its own
/// that it does not lead, the intermediate process gone.
#[test]
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn a_start_where_unshare_is_refused_detaches() {
    let sb = Sandbox::new("nounshare");
    start(sb.daemon().refuse("unshare"));
    let pid = wait_pidfile(&sb.path("pid"));
    assert_detached(pid);
    let f = facts(&sb.path("facts"));
    assert_eq!(f["pid"], pid.to_string());
    stop(pid, &sb.path("pid"));
}

#[test]
fn default_stdio_is_dev_null_read_write() {
    let sb = Sandbox::new("devnull");
    start(sb.daemon());
    let pid = wait_pidfile(&sb.path("pid"));
    let open = fds(pid);
    for fd in 0..3 {
        assert_eq!(open[&fd], "/dev/null", "fd {fd}: {open:?}");
        assert_eq!(
            fd_flags(pid, fd).0,
            libc::O_RDWR as u32,
            "fd {fd} read-write"
        );
    }
    stop(pid, &sb.path("pid"));
}

#[test]
fn text_printed_before_the_start_comes_out_once_from_the_launcher() {
    // `print!` without a newline leaves the text in Rust's stdout buffer;
    // the start must let it out from the launcher, and the daemon, whose
    // stdout is a file, must not write it again from its copy of the
    // buffer when it prints its first line.
    let sb = Sandbox::new("print-before");
    let out = sb.path("out.log");
    let err = sb.path("err.log");
    let marker = "starting-the-daemon... ";
    let outcome = run(sb.daemon().print_before(marker).stdout(&out).stderr(&err));
    assert!(outcome.success(), "the start should succeed: {outcome:?}");
    assert_eq!(
        outcome.stdout, marker,
        "the launcher's stdout holds the text once, and nothing else"
    );
    assert_eq!(
        outcome.stderr, marker,
        "the launcher's stderr holds the text once, and nothing else"
    );

    // The daemon prints its lines, then ends cleanly (flushing whatever
    // its buffers still hold).
    let pid = wait_pidfile(&sb.path("pid"));
    facts(&sb.path("facts"));
    sb.trigger("ok");
    wait_dead(pid);
    wait_until("the pid file to be removed", || !sb.path("pid").exists());
    sb.wait_no_processes();

    for (stream, path) in [("stdout", &out), ("stderr", &err)] {
        let written = fs::read_to_string(path).unwrap();
        assert!(
            written.contains(&format!("hello {stream} from {pid}\n")),
            "the daemon's {stream} file holds its line: {written:?}"
        );
        assert!(
            !written.contains(marker),
            "the text printed before the start is not in the daemon's {stream} file: {written:?}"
        );
    }
}

#[test]
fn the_launcher_exits_only_when_the_daemon_reports_ready() {
    launcher_waits_for_ready(&Sandbox::new("manual"), &[]);
}

/// Starts a daemon with manual readiness and checks that its launcher waits
/// until the daemon reports ready, and only then exits, with 0.
fn launcher_waits_for_ready(sb: &Sandbox, args: &[&str]) {
    let mut launcher = sb.daemon().manual().args(args).spawn();
    // The body runs (and writes its facts) before it reports ready.
    let f = facts(&sb.path("facts"));
    let pid: i32 = f["pid"].parse().unwrap();
    assert!(
        launcher.try_wait().unwrap().is_none(),
        "the launcher must wait while the daemon is not ready"
    );
    assert_eq!(
        read_pidfile(&sb.path("pid")).as_deref(),
        Some(format!("{pid}\n").as_str()),
        "the pid file is written before readiness"
    );
    sb.trigger("ready");
    let outcome = finish(launcher);
    assert!(outcome.success(), "{outcome:?}");
    wait_fact(&sb.path("facts"), "ready");
    assert!(alive(pid));
    stop(pid, &sb.path("pid"));
}

#[test]
fn lite_mode_stays_in_the_callers_session_with_stdio_untouched() {
    let sb = Sandbox::new("lite");
    let out = sb.path("lite-stdout");
    let err = sb.path("lite-stderr");
    let mut child = sb
        .daemon()
        .lite()
        .umask("077")
        .extra(2)
        .command()
        .stdout(Stdio::from(fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(fs::File::create(&err).unwrap()))
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let f = facts(&sb.path("facts"));
    assert_eq!(
        f["pid"],
        pid.to_string(),
        "the body runs in the launched process"
    );
    assert_eq!(
        read_pidfile(&sb.path("pid")).as_deref(),
        Some(format!("{pid}\n").as_str())
    );
    let st = stat(pid).unwrap();
    let me = stat(std::process::id() as i32).unwrap();
    assert_eq!(st.session, me.session, "the caller's session");
    assert_eq!(st.ppid, std::process::id() as i32, "not detached");
    assert_eq!(f["umask"], "077", "umask applies in lite mode too");
    let open = fds(pid);
    assert_eq!(open[&1], out.display().to_string(), "stdout untouched");
    assert_eq!(open[&2], err.display().to_string(), "stderr untouched");
    // Fds are not swept in lite mode.
    for i in 0..2 {
        let name = sb.path(&format!("extra-{i}")).display().to_string();
        assert!(open.values().any(|t| *t == name), "{name}: {open:?}");
    }
    assert!(fs::read_to_string(&out)
        .unwrap()
        .contains(&format!("hello stdout from {pid}")));
    kill(pid, libc::SIGTERM);
    let status = wait_for("the lite daemon to exit", || child.try_wait().unwrap());
    assert!(
        status.success(),
        "SIGTERM ends the daemon cleanly: {status:?}"
    );
    assert!(!sb.path("pid").exists(), "pid file removed");
}

/// Starts a daemon, ends it with `end` and checks that the pid file goes
/// with it.
fn pidfile_removed_when(name: &str, extra: &[&str], end: impl FnOnce(&Sandbox, i32)) {
    let sb = Sandbox::new(name);
    start(sb.daemon().args(extra));
    let pid = wait_pidfile(&sb.path("pid"));
    facts(&sb.path("facts"));
    end(&sb, pid);
    wait_dead(pid);
    wait_until(&format!("the pid file to be removed ({name})"), || {
        !sb.path("pid").exists()
    });
    sb.wait_no_processes();
}

#[test]
fn pidfile_removed_on_return_ok() {
    pidfile_removed_when("ret-ok", &[], |sb, _| sb.trigger("ok"));
}

#[test]
fn pidfile_removed_on_return_err() {
    pidfile_removed_when("ret-err", &[], |sb, _| sb.trigger("err"));
}

#[test]
fn pidfile_removed_on_panic() {
    pidfile_removed_when("panic", &[], |sb, _| sb.trigger("panic"));
}

#[test]
fn pidfile_removed_on_process_exit() {
    pidfile_removed_when("exit", &[], |sb, _| sb.trigger("exit"));
}

#[test]
fn pidfile_removed_on_sigterm() {
    pidfile_removed_when("sigterm", &[], |_, pid| {
        kill(pid, libc::SIGTERM);
    });
}

#[test]
fn pidfile_removed_on_sigint() {
    pidfile_removed_when("sigint", &[], |_, pid| {
        kill(pid, libc::SIGINT);
    });
}

#[test]
fn graceful_stop_through_stop_requested() {
    let sb = Sandbox::new("graceful");
    start(sb.daemon().graceful());
    let pid = wait_pidfile(&sb.path("pid"));
    facts(&sb.path("facts"));
    kill(pid, libc::SIGTERM);
    // The body saw the request and left on its own.
    assert_eq!(wait_fact(&sb.path("facts"), "stopped"), "SIGTERM");
    wait_dead(pid);
    wait_until("the pid file to be removed", || !sb.path("pid").exists());
}

#[test]
fn exit_status_and_messages_of_the_ways_out() {
    // Err from main: the Rust runtime prints it and exits 1; the daemon's
    // stderr is the configured file.
    let sb = Sandbox::new("err-message");
    let err = sb.path("err.log");
    start(sb.daemon().stderr(&err));
    let pid = wait_pidfile(&sb.path("pid"));
    facts(&sb.path("facts"));
    sb.trigger("err");
    wait_dead(pid);
    wait_until("the pid file to be removed", || !sb.path("pid").exists());
    let text = fs::read_to_string(&err).unwrap();
    assert!(text.contains("the body failed on purpose"), "{text:?}");
}

#[test]
fn a_child_of_the_daemon_does_not_remove_the_pid_file() {
    let sb = Sandbox::new("child");
    start(sb.daemon());
    let pid = wait_pidfile(&sb.path("pid"));
    facts(&sb.path("facts"));
    let before = fs::metadata(sb.path("pid")).unwrap();
    sb.trigger("fork");
    let f = sb.path("facts");
    let exited = wait_fact(&f, "child_exit");
    let returned = wait_fact(&f, "child_return");
    wait_fact(&f, "forked");
    assert!(exited.ends_with("status 0"), "{exited}");
    assert!(returned.ends_with("status 0"), "{returned}");
    let after = fs::metadata(sb.path("pid")).expect("the pid file is still there");
    assert_eq!(before.ino(), after.ino());
    assert_eq!(
        read_pidfile(&sb.path("pid")).as_deref(),
        Some(format!("{pid}\n").as_str())
    );
    assert!(alive(pid));
    // And the daemon still removes it when it ends.
    stop(pid, &sb.path("pid"));
}

#[test]
fn a_stale_pid_file_does_not_block_the_next_start() {
    let sb = Sandbox::new("stale");
    start(sb.daemon());
    let first = wait_pidfile(&sb.path("pid"));
    kill(first, libc::SIGKILL);
    wait_dead(first);
    assert_eq!(
        read_pidfile(&sb.path("pid")).as_deref(),
        Some(format!("{first}\n").as_str()),
        "kill -9 leaves the pid file behind"
    );
    let _ = fs::remove_file(sb.path("facts"));
    start(sb.daemon());
    let second = wait_pidfile(&sb.path("pid"));
    assert_ne!(first, second);
    assert!(alive(second));
    stop(second, &sb.path("pid"));
}

#[test]
fn a_second_start_names_the_running_pid_and_touches_nothing() {
    let sb = Sandbox::new("second");
    start(sb.daemon());
    let pid = wait_pidfile(&sb.path("pid"));
    facts(&sb.path("facts"));
    let before = sb.snapshot();
    let meta = fs::metadata(sb.path("pid")).unwrap();
    let outcome = run(sb.scenario("daemon").pidfile(sb.path("pid")));
    outcome.assert_refused(
        75,
        "pid file",
        &[
            &sb.path("pid").display().to_string(),
            &format!("already running as PID {pid}"),
        ],
    );
    let after = fs::metadata(sb.path("pid")).unwrap();
    assert_eq!(
        (meta.ino(), meta.mtime_nsec()),
        (after.ino(), after.mtime_nsec())
    );
    assert_eq!(before, sb.snapshot(), "nothing changed in the directory");
    assert!(alive(pid));
    assert_eq!(sb.processes(), vec![pid], "only the first daemon runs");
    stop(pid, &sb.path("pid"));
}

#[test]
fn pid_file_is_created_0644_whatever_the_launchers_umask() {
    let sb = Sandbox::new("mode");
    // The launcher runs under umask 077 (set by a shell that then execs it).
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg("umask 077; exec \"$0\" \"$@\"")
        .arg(scenario_bin())
        .args(sb.daemon().command().get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    start(&mut sh);
    let pid = wait_pidfile(&sb.path("pid"));
    let mode = fs::metadata(sb.path("pid")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    stop(pid, &sb.path("pid"));
}

#[test]
fn each_step_is_logged_at_debug_level() {
    let sb = Sandbox::new("debug-log");
    let log = sb.path("debug.log");
    start(
        sb.daemon()
            .umask("022")
            .debug_log()
            .workdir(&sb.dir)
            .log(&log),
    );
    let pid = wait_pidfile(&sb.path("pid"));
    facts(&sb.path("facts"));
    stop(pid, &sb.path("pid"));
    let text = fs::read_to_string(&log).unwrap();
    // In order: the launcher's steps, then the daemon's.
    let steps = [
        "DEBUG daemonizer_core::start: preflight:",
        "pid file: ",
        "detach: forking",
        &format!("detach: daemon PID {pid}"),
        // First thing in the daemon: before the lock and the chroot.
        &format!("close fds: done with {}", expected_close_method(true)),
        "locked",
        "work dir: ",
        "umask: 0o22",
        "signals: handling",
        "stdio: redirected",
        &format!("wrote {pid}"),
        &format!("ready: PID {pid}"),
    ];
    let mut from = 0;
    for step in steps {
        let at = text[from..]
            .find(step)
            .unwrap_or_else(|| panic!("{step:?} missing (in order) from the log:\n{text}"));
        from += at + step.len();
    }
}

#[test]
fn a_pid_file_naming_a_live_process_without_the_lock_does_not_block() {
    // Liveness is the lock, never the PID in the file: a leftover file
    // naming a process that runs (this test) is stale all the same.
    let sb = Sandbox::new("live-stale");
    let me = std::process::id();
    fs::write(sb.path("pid"), format!("{me}\n")).unwrap();
    let inode = fs::metadata(sb.path("pid")).unwrap().ino();
    start(sb.daemon());
    let pid = wait_pidfile(&sb.path("pid"));
    assert_ne!(pid as u32, me);
    assert_eq!(
        fs::metadata(sb.path("pid")).unwrap().ino(),
        inode,
        "the existing file is reused"
    );
    stop(pid, &sb.path("pid"));
}

#[test]
fn resource_limits_are_set_in_the_daemon() {
    let sb = Sandbox::new("limits-set");
    // Core dumps off (both limits 0) and a lower open-file limit.
    start(sb.daemon().limit("core:0:0").limit("nofile:512"));
    let pid = wait_pidfile(&sb.path("pid"));
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = |name: &str| -> Vec<String> {
        let l = limits
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {limits}"));
        l[name.len()..]
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(line("Max core file size")[..2], ["0", "0"], "{limits}");
    assert_eq!(line("Max open files")[0], "512", "{limits}");
    stop(pid, &sb.path("pid"));
}

/// A daemon that closes fds 0 to 2 and opens nothing of its own before
/// the start, so that the runtime's first files would land on them.
fn closed_stdio_daemon(sb: &Sandbox) -> Scenario {
    sb.scenario("daemon")
        .arg("--close-stdio")
        .pidfile(sb.path("pid"))
        .trigger(sb.path("trigger"))
}

/// The fd on which `pid` holds its pid file.
fn pidfile_fd(sb: &Sandbox, pid: i32) -> Option<i32> {
    let pidfile = sb.path("pid").display().to_string();
    fds(pid)
        .into_iter()
        .find(|(_, target)| *target == pidfile)
        .map(|(fd, _)| fd)
}

#[test]
fn a_launcher_with_closed_stdio_keeps_its_pid_file_lock() {
    let sb = Sandbox::new("closed-stdio");
    let outcome = run(closed_stdio_daemon(&sb));
    assert!(outcome.success(), "{outcome:?}");
    let pid = wait_pidfile(&sb.path("pid"));
    let fd = pidfile_fd(&sb, pid);
    assert!(
        fd.is_some_and(|fd| fd > 2),
        "the pid file stays open above fd 2: {:?}",
        fds(pid)
    );
    for fd in 0..3 {
        assert_eq!(fds(pid)[&fd], "/dev/null", "fd {fd}");
    }
    // The lock survived the stdio redirection: a second start is refused.
    let second = run(sb.daemon());
    second.assert_refused(75, "pid file", &[&format!("already running as PID {pid}")]);
    stop(pid, &sb.path("pid"));
}

#[test]
fn lite_stdout_never_lands_on_the_pid_file_when_it_was_closed() {
    let sb = Sandbox::new("closed-stdio-lite");
    let mut child = closed_stdio_daemon(&sb).lite().spawn();
    let pid = child.id() as i32;
    assert_eq!(
        wait_pidfile(&sb.path("pid")),
        pid,
        "lite: the launched process"
    );
    let open = fds(pid);
    assert_eq!(
        open[&1], "/dev/null",
        "the closed stdout became /dev/null: {open:?}"
    );
    assert!(
        pidfile_fd(&sb, pid).is_some_and(|fd| fd > 2),
        "the pid file is above fd 2: {open:?}"
    );
    kill(pid, libc::SIGTERM);
    let status = wait_for("the lite daemon to exit", || child.try_wait().unwrap());
    assert!(status.success(), "{status:?}");
    assert!(!sb.path("pid").exists(), "pid file removed");
}
