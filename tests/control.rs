//! Controlling a daemon through its pid file's lock: the `commands` of the
//! builder (`start`, `stop`, `status`, `restart`, `reload`) run by the
//! scenario program, their LSB exit statuses and lines, and what they do
//! (or leave alone) in races and around stale files.

mod common;

use std::fs;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;

/// Runs a command and checks its exit status and its one line on stdout
/// (nothing on stderr).
fn expect(sb: &Sandbox, cmd: impl Launch, code: i32, line: &str) -> Outcome {
    let outcome = run(cmd);
    assert_eq!(outcome.code(), Some(code), "{outcome:?}");
    assert_eq!(outcome.stdout, format!("{line}\n"), "{outcome:?}");
    assert!(outcome.stderr.is_empty(), "{outcome:?}");
    let _ = sb;
    outcome
}

/// `status` exits 0 and says the daemon runs as `pid`.
fn expect_running(sb: &Sandbox, pid: i32) {
    expect(
        sb,
        sb.control("status"),
        0,
        &format!("scenario is running as PID {pid}"),
    );
}

/// `stop` exits 0 and says it stopped `pid`.
fn expect_stopped(sb: &Sandbox, pid: i32) {
    expect(
        sb,
        sb.control("stop"),
        0,
        &format!("scenario stopped (PID {pid})"),
    );
}

#[test]
fn every_lsb_status_of_status_stop_and_reload_in_its_situation() {
    let sb = Sandbox::new("lsb");
    let pidfile = sb.path("pid");
    // status 3: no pid file, nothing runs.
    expect(&sb, sb.control("status"), 3, "scenario is not running");
    // stop 0: stopping what is not running is a success.
    expect(&sb, sb.control("stop"), 0, "scenario is not running");
    // reload 7: nothing to reload.
    expect(&sb, sb.control("reload"), 7, "scenario is not running");

    let pid = sb.start_daemon(|s| s.record(sb.path("record")));
    // status 0: running, as the lock says.
    expect_running(&sb, pid);
    // reload 0: SIGHUP reached the daemon's handler.
    expect(
        &sb,
        sb.control("reload"),
        0,
        &format!("scenario reloading (SIGHUP sent to PID {pid})"),
    );
    wait_until("the SIGHUP handler to run", || {
        fs::read_to_string(sb.path("record")).is_ok_and(|r| r.starts_with("SIGHUP 1 "))
    });
    // stop 0: SIGTERM, and the lock released; the file is gone.
    expect_stopped(&sb, pid);
    assert!(!alive(pid), "stopped means gone");
    assert!(!pidfile.exists(), "the daemon removed its pid file");
    // And again: already stopped is a success.
    expect(&sb, sb.control("stop"), 0, "scenario is not running");

    // status 1: killed with SIGKILL, the file still names it.
    let pid = sb.start_daemon(|s| s);
    kill(pid, libc::SIGKILL);
    wait_dead(pid);
    expect(
        &sb,
        sb.control("status"),
        1,
        &format!(
            "scenario is not running (the pid file {} still names PID {pid})",
            pidfile.display()
        ),
    );
    expect(&sb, sb.control("reload"), 7, "scenario is not running");

    // status 4: what is at the path is no pid file to ask, nor is what is
    // at the lock file's (`.<name>.lock`).
    fs::remove_file(&pidfile).unwrap();
    fs::create_dir(&pidfile).unwrap();
    let lock = sb.path(".pid.lock");
    fs::remove_file(&lock).unwrap();
    fs::create_dir(&lock).unwrap();
    let outcome = run(sb.control("status"));
    assert_eq!(outcome.code(), Some(4), "{outcome:?}");
    assert!(
        outcome
            .stdout
            .starts_with("scenario: status unknown: control: ")
            && outcome.stdout.contains("is not a regular file")
            && outcome.stdout.lines().count() == 1,
        "{outcome:?}"
    );
    // stop 1: the request failed (a generic error).
    let outcome = run(sb.control("stop"));
    assert_eq!(outcome.code(), Some(1), "{outcome:?}");
    assert_eq!(outcome.stderr.lines().count(), 1, "{outcome:?}");
    assert!(
        outcome.stderr.starts_with("scenario: stop: control: "),
        "{outcome:?}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn reload_refuses_a_daemon_that_sighup_would_end() {
    let sb = Sandbox::new("reload-unhandled");
    // No SIGHUP handler: its default action ends the process.
    let pid = sb.start_daemon(|s| s);
    let outcome = run(sb.control("reload"));
    assert_eq!(outcome.code(), Some(3), "{outcome:?}");
    assert!(outcome.stdout.is_empty(), "{outcome:?}");
    assert_eq!(
        outcome.stderr,
        format!(
            "scenario: reload: control: {}: PID {pid} neither handles nor ignores SIGHUP: \
             a reload would end it\n",
            sb.path("pid").display()
        )
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(alive(pid), "the daemon was not sent SIGHUP");
    expect_stopped(&sb, pid);
}

#[cfg(target_os = "linux")]
#[test]
fn reload_refuses_a_daemon_that_blocks_sighup_without_a_handler() {
    let sb = Sandbox::new("reload-blocked");
    // Ignored, but blocked: a SIGHUP would wait for whatever disposition
    // is in place once unblocked.
    let pid = sb.start_daemon(|s| s.arg("--ignore-block-hup"));
    let outcome = run(sb.control("reload"));
    assert_eq!(outcome.code(), Some(3), "{outcome:?}");
    assert_eq!(
        outcome.stderr,
        format!(
            "scenario: reload: control: {}: PID {pid} blocks SIGHUP without a handler: \
             a reload would end it once unblocked\n",
            sb.path("pid").display()
        )
    );
    let pending = proc_number(&format!("/proc/{pid}/status"), "ShdPnd", 16);
    assert_eq!(pending & (1 << (libc::SIGHUP - 1)), 0, "no SIGHUP waits");
    expect_stopped(&sb, pid);
}

#[test]
fn another_user_gets_the_status_but_cannot_stop_or_reload() {
    if !root_or_skip("another_user_gets_the_status_but_cannot_stop_or_reload") {
        return;
    }
    let sb = Sandbox::new("other-user");
    let pid = sb.start_daemon(|s| s.record(sb.path("record")));
    let as_nobody = |cmd: &str| sb.control(cmd).by_user("nobody");
    // The file is readable by all: the lock answers anybody.
    expect(
        &sb,
        as_nobody("status"),
        0,
        &format!("scenario is running as PID {pid}"),
    );
    // Signals are not: 4, not permitted.
    for cmd in ["stop", "reload"] {
        let outcome = run(as_nobody(cmd));
        assert_eq!(outcome.code(), Some(4), "{cmd}: {outcome:?}");
        assert!(outcome.stdout.is_empty(), "{outcome:?}");
        assert_eq!(outcome.stderr.lines().count(), 1, "{outcome:?}");
        assert!(
            outcome
                .stderr
                .starts_with(&format!("scenario: {cmd}: control: "))
                && outcome.stderr.contains(&format!("to PID {pid}")),
            "{outcome:?}"
        );
    }
    assert!(alive(pid));
    assert!(!sb.path("record").exists(), "no SIGHUP reached the daemon");
    // A file it cannot read: status unknown, 4.
    fs::set_permissions(
        sb.path("pid"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let outcome = run(as_nobody("status"));
    assert_eq!(outcome.code(), Some(4), "{outcome:?}");
    assert!(
        outcome
            .stdout
            .starts_with("scenario: status unknown: control: ")
            && outcome.stdout.contains("Permission denied"),
        "{outcome:?}"
    );
    stop(pid, &sb.path("pid"));
}

#[test]
fn a_lite_daemon_is_controlled_the_same_way() {
    let sb = Sandbox::new("lite-commands");
    let mut child = sb.control("start").lite().facts(sb.path("facts")).spawn();
    let pid = child.id() as i32;
    facts(&sb.path("facts"));
    assert_eq!(
        wait_pidfile(&sb.path("pid")),
        pid,
        "lite: the process itself"
    );
    expect_running(&sb, pid);
    expect_stopped(&sb, pid);
    let status = wait_for("the lite daemon to exit", || child.try_wait().unwrap());
    assert!(status.success(), "{}", describe(&status));
    assert!(!sb.path("pid").exists());
}

#[test]
fn an_unknown_command_prints_the_usage_and_exits_2() {
    let sb = Sandbox::new("usage");
    let outcome = run(sb.control("frobnicate"));
    assert_eq!(outcome.code(), Some(2), "{outcome:?}");
    assert!(outcome.stdout.is_empty(), "{outcome:?}");
    assert_eq!(
        outcome.stderr,
        "scenario: unknown command \"frobnicate\"; \
         usage: scenario {start|stop|status|restart|reload} [ARGS...] | \
         scenario unit {systemd|openrc|rcd|launchd} [--user]\n",
        "{outcome:?}"
    );
    assert!(!sb.path("pid").exists(), "nothing started");
}

#[test]
fn the_arguments_after_the_command_are_left_for_the_body() {
    let sb = Sandbox::new("args");
    let pid = sb.start_daemon(|s| s.umask("022"));
    let args = &facts(&sb.path("facts"))["args"];
    assert!(
        args.starts_with("start --sandbox ") && args.ends_with(" --umask 022"),
        "{args}"
    );
    stop(pid, &sb.path("pid"));
}

#[test]
fn stop_escalates_to_sigkill_when_the_daemon_ignores_sigterm() {
    let sb = Sandbox::new("escalate");
    let pid = sb.start_daemon(|s| s.ignore_stop());
    let outcome = expect(
        &sb,
        sb.control("stop").stop_timeout_ms("300"),
        0,
        &format!("scenario killed with SIGKILL after 300ms (PID {pid})"),
    );
    drop(outcome);
    // SIGTERM came first, and the daemon saw it (and held on).
    assert_eq!(wait_fact(&sb.path("facts"), "stop_seen"), "SIGTERM");
    assert!(!alive(pid), "killed");
    // SIGKILL leaves the file behind: status says so.
    let outcome = run(sb.control("status"));
    assert_eq!(outcome.code(), Some(1), "{outcome:?}");
    sb.wait_no_processes();
}

#[test]
fn a_stale_file_naming_an_unrelated_live_process_leaves_it_untouched() {
    let sb = Sandbox::new("unrelated");
    // An unrelated process (a lite scenario without a pid file) that
    // records SIGHUP and SIGUSR1 and would end on SIGTERM.
    let record = sb.path("record");
    let mut other = sb
        .scenario("daemon")
        .lite()
        .facts(sb.path("other-facts"))
        .record(&record)
        .spawn();
    let other_pid = other.id() as i32;
    facts(&sb.path("other-facts"));
    let pidfile = sb.path("pid");
    fs::write(&pidfile, format!("{other_pid}\n")).unwrap();
    let before = fs::metadata(&pidfile).unwrap();

    expect(
        &sb,
        sb.control("status"),
        1,
        &format!(
            "scenario is not running (the pid file {} still names PID {other_pid})",
            pidfile.display()
        ),
    );
    expect(&sb, sb.control("stop"), 0, "scenario is not running");
    expect(&sb, sb.control("reload"), 7, "scenario is not running");

    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(alive(other_pid), "the unrelated process runs on");
    assert!(
        other.try_wait().unwrap().is_none(),
        "the unrelated process was not stopped"
    );
    assert!(!record.exists(), "and got no SIGHUP");
    let after = fs::metadata(&pidfile).unwrap();
    assert_eq!(read_pidfile(&pidfile), Some(format!("{other_pid}\n")));
    assert_eq!(
        (before.len(), before.modified().unwrap()),
        (after.len(), after.modified().unwrap()),
        "the file is untouched"
    );
    other.kill().unwrap();
    other.wait().unwrap();
}

/// Runs `scenario status` in a loop until `stop` is set; the number of runs.
fn status_loop(sb: &Sandbox, stop: Arc<AtomicBool>, runs: Arc<AtomicUsize>) {
    while !stop.load(Ordering::SeqCst) {
        let outcome = run(sb.control("status"));
        assert!(
            matches!(outcome.code(), Some(0 | 1 | 3)),
            "a status during starts: {outcome:?}"
        );
        runs.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn status_racing_twenty_starts_never_makes_a_start_fail() {
    const ROUNDS: usize = 5;
    const LAUNCHERS: usize = 20;
    let sb = Arc::new(Sandbox::new("status-race"));
    let pidfile = sb.path("pid");
    let runs = Arc::new(AtomicUsize::new(0));
    for round in 0..ROUNDS {
        let stop_probes = Arc::new(AtomicBool::new(false));
        let probes: Vec<_> = (0..2)
            .map(|_| {
                let (sb, stop, runs) = (sb.clone(), stop_probes.clone(), runs.clone());
                std::thread::spawn(move || status_loop(&sb, stop, runs))
            })
            .collect();
        let go = sb.path(&format!("go-{round}"));
        let children = waiting(&sb, LAUNCHERS, &go, || sb.control("start"));
        fs::write(&go, "").unwrap();
        let outcomes = finish_all(children);
        stop_probes.store(true, Ordering::SeqCst);
        for probe in probes {
            probe.join().expect("status loop");
        }
        let winner = sole_winner(&outcomes, &pidfile);
        // A lone start among the probes succeeds, every time.
        expect_stopped(&sb, winner);
        let stop_probes = Arc::new(AtomicBool::new(false));
        let probes: Vec<_> = (0..2)
            .map(|_| {
                let (sb, stop, runs) = (sb.clone(), stop_probes.clone(), runs.clone());
                std::thread::spawn(move || status_loop(&sb, stop, runs))
            })
            .collect();
        for _ in 0..5 {
            start(sb.control("start"));
            let pid = wait_pidfile(&pidfile);
            let outcome = run(sb.control("stop"));
            assert_eq!(outcome.code(), Some(0), "{outcome:?}");
            assert!(!alive(pid));
        }
        stop_probes.store(true, Ordering::SeqCst);
        for probe in probes {
            probe.join().expect("status loop");
        }
    }
    sb.wait_no_processes();
    println!(
        "summary: status racing starts: {ROUNDS} rounds, each of {LAUNCHERS} simultaneous starts and \
         5 lone starts, {} status runs meanwhile, no start failed because of them",
        runs.load(Ordering::SeqCst)
    );
}

#[test]
fn concurrent_restarts_and_starts_leave_exactly_one_daemon() {
    const RESTARTS: usize = 8;
    const STARTS: usize = 4;
    let sb = Sandbox::new("restarts");
    let pidfile = sb.path("pid");
    let first = sb.start_daemon(|s| s);
    for round in 0..3 {
        let go = sb.path(&format!("go-{round}"));
        // Restarts, and plain starts among them.
        let made = std::cell::Cell::new(0);
        let children = waiting(&sb, RESTARTS + STARTS, &go, || {
            made.set(made.get() + 1);
            sb.control(if made.get() % 3 == 0 {
                "start"
            } else {
                "restart"
            })
        });
        fs::write(&go, "").unwrap();
        let outcomes = finish_all(children);
        // The daemons the restarts left: exactly one, holding the lock.
        wait_until("the launchers and stopped daemons to be gone", || {
            sb.processes().len() <= 1
        });
        let running = sb.processes();
        assert_eq!(running.len(), 1, "round {round}: {outcomes:#?}");
        let pid = running[0];
        assert_ne!(pid, first);
        assert_eq!(wait_pidfile(&pidfile), pid);
        expect_running(&sb, pid);
        assert!(
            outcomes.iter().any(Outcome::success),
            "round {round}: {outcomes:#?}"
        );
        for o in outcomes
            .iter()
            .filter(|o| o.success() && !o.stdout.is_empty())
        {
            assert_eq!(o.stdout.lines().count(), 1, "one line: {o:?}");
            assert!(
                o.stdout.contains(" restarted as PID ")
                    || o.stdout.contains(" (started by another start)"),
                "{o:?}"
            );
        }
    }
    let pid = wait_pidfile(&pidfile);
    expect_stopped(&sb, pid);
    sb.wait_no_processes();
}

/// `demo <args>` with its files in the sandbox; it ends by itself after
/// 60 s at worst.
fn demo(sb: &Sandbox, args: &[&str]) -> Command {
    let mut c = Command::new(example_bin("demo"));
    c.args(args)
        .env("DEMO_DIR", &sb.dir)
        .env("DEMO_SECONDS", "60")
        .env_remove("DEBUG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c
}

#[test]
fn without_a_command_the_builder_example_prints_the_usage_and_exits_2() {
    // `.commands(true)`: a command is required. The demo names a default
    // (`commands = "start"`) and starts instead; tests/examples.rs runs it so.
    let sb = Sandbox::new("builder-usage");
    let outcome = run(Command::new(example_bin("builder"))
        .env("DEMO_DIR", &sb.dir)
        .env_remove("DEBUG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped()));
    refused_with_usage(
        &sb,
        &outcome,
        "builder: no command; usage: builder {start|stop|status|restart|reload} [ARGS...] | \
         builder unit {systemd|openrc|rcd|launchd} [--user]\n",
    );
}

/// The usage error: exit status 2, `stderr` alone said, nothing started.
fn refused_with_usage(sb: &Sandbox, outcome: &Outcome, stderr: &str) {
    assert_eq!(outcome.code(), Some(2), "{outcome:?}");
    assert_eq!(outcome.stderr, stderr);
    assert!(outcome.stdout.is_empty(), "{outcome:?}");
    assert!(!sb.path("demo.pid").exists(), "nothing started");
}

#[test]
fn the_demo_with_an_unknown_command_prints_the_usage_and_exits_2() {
    let sb = Sandbox::new("demo-usage");
    let outcome = run(demo(&sb, &["begin"]));
    refused_with_usage(
        &sb,
        &outcome,
        "demo: unknown command \"begin\"; usage: demo {start|stop|status|restart|reload} [ARGS...] | \
         demo unit {systemd|openrc|rcd|launchd} [--user]\n",
    );
}

#[test]
fn the_demo_is_controlled_by_its_commands() {
    let sb = Sandbox::new("demo-commands");
    let pidfile = sb.path("demo.pid");
    let log = sb.path("demo.log");
    expect(&sb, demo(&sb, &["status"]), 3, "demo is not running");

    let started = run(demo(&sb, &["start"]));
    assert!(started.success(), "{started:?}");
    let pid = wait_pidfile(&pidfile);
    assert!(started.stdout.contains(&format!("started as PID {pid}")));
    expect(
        &sb,
        demo(&sb, &["status"]),
        0,
        &format!("demo is running as PID {pid}"),
    );
    // The body installs its logger once it runs, which readiness does not
    // wait for: a SIGHUP before that would be handled but not logged.
    wait_until("the demo's first line in its log", || {
        fs::read_to_string(&log).is_ok_and(|l| l.contains(&format!("started as PID {pid}")))
    });
    expect(
        &sb,
        demo(&sb, &["reload"]),
        0,
        &format!("demo reloading (SIGHUP sent to PID {pid})"),
    );
    wait_until("the reload in the log", || {
        fs::read_to_string(&log).is_ok_and(|l| l.contains("received SIGHUP"))
    });

    let restarted = run(demo(&sb, &["restart"]));
    assert!(restarted.success(), "{restarted:?}");
    let second = wait_pidfile(&pidfile);
    assert_ne!(second, pid);
    assert!(!alive(pid), "the first daemon is gone");
    assert!(
        restarted
            .stdout
            .starts_with(&format!("demo restarted as PID {second}\n")),
        "{restarted:?}"
    );

    expect(
        &sb,
        demo(&sb, &["stop"]),
        0,
        &format!("demo stopped (PID {second})"),
    );
    assert!(!alive(second));
    assert!(!pidfile.exists());
    // The demo watches for stops: it left through its own loop.
    assert!(fs::read_to_string(&log)
        .unwrap()
        .contains("received SIGTERM: stopping"));
    expect(&sb, demo(&sb, &["status"]), 3, "demo is not running");
}

#[test]
fn a_restart_under_a_supervisor_lets_the_new_daemon_run_at_once() {
    // `restart` announces the new daemon from its launcher, after READY=1
    // went to the supervisor (`NOTIFY_SOCKET`, a socket nobody reads
    // here). The daemon's body waits until the launcher lets it go; a
    // launcher that first waited for the daemon's parent would hold it
    // until the daemon gave up on its launcher (and logged so).
    let sb = Sandbox::new("restart-notify");
    let _supervisor =
        std::os::unix::net::UnixDatagram::bind(sb.path("notify")).expect("bind the socket");
    let log = sb.path("log");
    let supervised = |cmd: &str| {
        let _ = fs::remove_file(sb.path("facts"));
        let mut c = sb
            .control(cmd)
            .facts(sb.path("facts"))
            .log(&log)
            .debug_log()
            .command();
        c.env("NOTIFY_SOCKET", sb.path("notify"));
        c
    };
    start(supervised("start"));
    let old = wait_pidfile(&sb.path("pid"));
    let outcome = run(supervised("restart"));
    assert!(outcome.success(), "{outcome:?}");
    let new: i32 = facts(&sb.path("facts"))["pid"].parse().expect("pid fact");
    assert_ne!(new, old);
    assert!(
        outcome.stdout.contains(&format!("restarted as PID {new}")),
        "{outcome:?}"
    );
    let logged = fs::read_to_string(&log).expect("read the log");
    assert!(
        !logged.contains("the launcher has not exited"),
        "the body waited for its launcher until the limit:\n{logged}"
    );
    expect_stopped(&sb, new);
}

/// A process of the test's own on `pid`, once it is free: the kernel's
/// next PID is set just below it (Linux, as root) and a `sleep` started,
/// a few times over, since other processes may take the PID first. `None`
/// when it did not land there.
fn decoy_on(pid: i32) -> Option<std::process::Child> {
    for _ in 0..50 {
        fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).ok()?;
        let mut decoy = Command::new("sleep").arg("600").spawn().ok()?;
        if decoy.id() as i32 == pid {
            return Some(decoy);
        }
        let _ = decoy.kill();
        let _ = decoy.wait();
    }
    None
}

#[test]
fn stop_never_signals_a_daemon_gone_after_the_lock_named_it() {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        skip(
            "stop_never_signals_a_daemon_gone_after_the_lock_named_it",
            "the tracer runs on x86-64 Linux only",
        );
        return;
    }
    // With a pidfd (its `pidfd_open` meets no process: `ESRCH`), and
    // without (refused as on a kernel that has none: the lock is asked
    // again before `kill`, and a process now on the PID is left alone).
    for pidfds in [true, false] {
        let sb = Sandbox::new(if pidfds { "gone-pidfd" } else { "gone-kill" });
        // A lite daemon, a child of this test: reaped here, its PID is
        // free at once (a zombie would still answer to a pidfd).
        let mut daemon = sb
            .scenario("daemon")
            .lite()
            .pidfile(sb.path("pid"))
            .facts(sb.path("facts"))
            .spawn();
        let pid = daemon.id() as i32;
        assert_eq!(facts(&sb.path("facts"))["pid"], pid.to_string());
        let (ready, go) = (sb.path("ready"), sb.path("go"));
        // `stop`, held once its first F_GETLK has named the daemon.
        let stop = sb
            .scenario("pause-after-getlk")
            .arg(&ready)
            .arg(&go)
            .args(["--", "stop", "--sandbox"])
            .arg(format!("{}/", sb.dir.display()))
            .commands()
            .pidfile(sb.path("pid"));
        let stop = if pidfds { stop } else { stop.refuse("pidfd") };
        let stop = stop.spawn();
        wait_until("stop to have asked the lock", || ready.exists());
        // The daemon dies right there, and is reaped.
        kill(pid, libc::SIGKILL);
        daemon.wait().expect("reap the daemon");
        let mut decoy = if pidfds { None } else { decoy_on(pid) };
        fs::write(&go, "").expect("go");
        let outcome = finish(stop);
        assert_eq!(outcome.code(), Some(0), "{outcome:?}");
        let lines: Vec<&str> = outcome.stdout.lines().collect();
        assert_eq!(
            lines.first(),
            Some(&"scenario is not running"),
            "{outcome:?}"
        );
        assert!(
            lines
                .get(1)
                .is_some_and(|l| l.ends_with(" exit 0 signals=none")),
            "nothing was signalled: {outcome:?}"
        );
        if let Some(decoy) = &mut decoy {
            assert!(
                decoy.try_wait().expect("try_wait").is_none(),
                "the process now on PID {pid} was left alone"
            );
            let _ = decoy.kill();
            let _ = decoy.wait();
        } else if !pidfds {
            summary(&format!(
                "stop without pidfds: no process could be put on PID {pid}; \
                 the trace alone shows that nothing was signalled"
            ));
        }
        sb.wait_no_processes();
    }
}

/// A full start whose daemon is held by a tracer at its `chdir`: it holds
/// the lock, its pid file is still empty, every signal is blocked and
/// SIGHUP ignored, its handlers not in place yet. The tracer (which
/// prints the launcher's end) and the daemon's PID.
fn start_held(sb: &Sandbox) -> (std::process::Child, i32) {
    let (held, go) = (sb.path("held"), sb.path("go"));
    let tracer = sb
        .scenario("pause-daemon-at-chdir")
        .arg(&held)
        .arg(&go)
        .args(["--", "daemon", "--sandbox"])
        .arg(format!("{}/", sb.dir.display()))
        .pidfile(sb.path("pid"))
        .facts(sb.path("facts"))
        .spawn();
    wait_until("the daemon to be held at its chdir", || held.exists());
    let outcome = run(sb.control("status"));
    let pid = outcome
        .stdout
        .strip_prefix("scenario is running as PID ")
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("the held daemon holds the lock: {outcome:?}"));
    assert_eq!(read_pidfile(&sb.path("pid")).as_deref(), Some(""));
    (tracer, pid)
}

/// Lets a daemon held by [`start_held`] go on, and checks that its start
/// completes: the launcher exits 0, the daemon runs and its pid file names
/// it. Then stops it.
fn release_and_expect_started(sb: &Sandbox, tracer: std::process::Child, pid: i32) {
    fs::write(sb.path("go"), "").expect("go");
    let outcome = finish(tracer);
    assert!(
        outcome.stdout.ends_with(" exit 0\n"),
        "the start completed: {outcome:?}"
    );
    assert_eq!(wait_pidfile(&sb.path("pid")), pid);
    assert_eq!(facts(&sb.path("facts"))["pid"], pid.to_string());
    assert!(alive(pid));
    expect_stopped(sb, pid);
    sb.wait_no_processes();
}

#[test]
fn reload_says_so_and_sends_nothing_while_the_daemon_starts() {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        skip(
            "reload_says_so_and_sends_nothing_while_the_daemon_starts",
            "the tracer runs on x86-64 Linux only",
        );
        return;
    }
    let sb = Sandbox::new("reload-starting");
    let (tracer, pid) = start_held(&sb);
    let outcome = run(sb.control("reload"));
    assert_eq!(outcome.code(), Some(3), "{outcome:?}");
    assert!(outcome.stdout.is_empty(), "{outcome:?}");
    assert_eq!(
        outcome.stderr,
        format!(
            "scenario: reload: control: {}: PID {pid} has not reported ready yet (its pid \
             file does not name it); SIGHUP not sent: try again once the start is over\n",
            sb.path("pid").display()
        )
    );
    release_and_expect_started(&sb, tracer, pid);
}

#[test]
fn a_sighup_sent_while_the_daemon_starts_does_not_end_it() {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        skip(
            "a_sighup_sent_while_the_daemon_starts_does_not_end_it",
            "the tracer runs on x86-64 Linux only",
        );
        return;
    }
    let sb = Sandbox::new("hup-starting");
    let (tracer, pid) = start_held(&sb);
    // Sent past the control commands: blocked, it stays pending.
    assert!(kill(pid, libc::SIGHUP));
    let pending = proc_number(&format!("/proc/{pid}/status"), "ShdPnd", 16);
    assert_ne!(pending & (1 << (libc::SIGHUP - 1)), 0, "SIGHUP is pending");
    release_and_expect_started(&sb, tracer, pid);
}

#[test]
fn a_stop_while_the_body_starts_is_reported_by_name() {
    let sb = Sandbox::new("stop-unready");
    let (launcher, pid, pidfile) = sb.launch_unready("body");
    let outcome = run(sb.scenario("stop").commands().pidfile(&pidfile));
    assert_eq!(outcome.code(), Some(0), "{outcome:?}");
    assert_eq!(outcome.stdout, format!("scenario stopped (PID {pid})\n"));
    finish(launcher).assert_refused(
        70,
        "readiness",
        &["the daemon exited before it reported ready: killed by SIGTERM"],
    );
    sb.wait_no_processes();
    assert!(!pidfile.exists(), "the pid file is gone");
}

#[test]
fn a_stop_during_the_steps_is_reported_by_name() {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        skip(
            "a_stop_during_the_steps_is_reported_by_name",
            "the tracer runs on x86-64 Linux only",
        );
        return;
    }
    let sb = Sandbox::new("stop-steps");
    let (tracer, pid) = start_held(&sb);
    // Blocked until the handlers are in place, then taken by the stop
    // handler.
    assert!(kill(pid, libc::SIGTERM));
    fs::write(sb.path("go"), "").expect("go");
    let outcome = finish(tracer);
    assert!(outcome.stdout.ends_with(" exit 70\n"), "{outcome:?}");
    assert_eq!(
        outcome.stderr,
        "scenario: cannot start daemon: readiness: the daemon exited before it reported \
         ready: killed by SIGTERM\n"
    );
    sb.wait_no_processes();
    assert!(!sb.path("pid").exists(), "the pid file is gone");
}
