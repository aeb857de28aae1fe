//! The examples, run as real processes and observed from outside: what the
//! README promises about the demo, the builder version and the tokio echo
//! server.
//!
//! Nothing here forks the test process: the examples are started with
//! `std::process::Command`. Waits poll with generous deadlines and fail only
//! when a deadline passes; every daemon is killed when its test ends, even
//! a failing one.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Lines, Outcome};

const DEADLINE: Duration = Duration::from_secs(10);

fn example(name: &str) -> PathBuf {
    common::example_bin(name)
}

/// A scratch directory for one test, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("daemonizer-test-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the scratch directory");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A daemon started by a test: killed (SIGKILL) if still alive when the
/// guard is dropped, so that no failing test leaves one behind.
struct Running(i32);

impl Drop for Running {
    fn drop(&mut self) {
        if is_alive(self.0) {
            signal(self.0, libc::SIGKILL);
        }
    }
}

/// A foreground process started by a test, killed if still running.
struct Foreground(Child);

impl Drop for Foreground {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn signal(pid: i32, signal: libc::c_int) {
    assert!(pid > 0, "refusing to signal PID {pid}");
    // SAFETY: kill(2) has no memory-safety preconditions; the PID is a
    // positive one this test started.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {signal}): {}",
        std::io::Error::last_os_error()
    );
}

/// The fields of `/proc/<pid>/stat` after the command name: state, ppid,
/// pgrp, session, ...
fn stat(pid: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Running, and not a zombie waiting for its parent.
fn is_alive(pid: i32) -> bool {
    stat(&pid.to_string()).is_some_and(|fields| fields[0] != "Z")
}

fn session_of(pid: &str) -> i32 {
    stat(pid).expect("a live process")[3]
        .parse()
        .expect("a session id")
}

/// Polls `check` until it returns `Some`, failing with `what` after
/// [`DEADLINE`].
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "gave up after {DEADLINE:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for_log(log: &Path, line: &str) {
    wait_for(&format!("{line:?} in {}", log.display()), || {
        std::fs::read_to_string(log)
            .ok()
            .filter(|text| text.contains(line))
    });
}

fn wait_for_end(pid: i32, pidfile: &Path) {
    wait_for(&format!("PID {pid} to end"), || {
        (!is_alive(pid)).then_some(())
    });
    wait_for(&format!("{} to be removed", pidfile.display()), || {
        (!pidfile.exists()).then_some(())
    });
}

/// Runs a launcher to its end: its status and output, once the launcher
/// has exited and its pipes are closed (by every process: a daemon that
/// kept one open fails the test after a deadline instead of hanging it).
fn run(cmd: &mut Command) -> Outcome {
    common::finish(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running the example"),
    )
}

/// The PID in the launcher's `... started as PID <pid> ...` line.
fn announced_pid(output: &Outcome) -> i32 {
    let stdout = &output.stdout;
    let line = stdout
        .lines()
        .find(|l| l.contains("started as PID "))
        .unwrap_or_else(|| panic!("no PID announced in {stdout:?}"));
    let pid = line.split("started as PID ").nth(1).unwrap_or_default();
    pid.split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no PID in {line:?}"))
}

fn read_pidfile(pidfile: &Path) -> i32 {
    let text = std::fs::read_to_string(pidfile).expect("reading the pid file");
    assert!(text.ends_with('\n'), "pid file holds {text:?}");
    text.trim().parse().expect("a PID in the pid file")
}

/// Starts `example` in full mode; checks what the launcher promises and
/// returns the daemon's PID with its guard.
fn launch(example_name: &str, envs: &[(&str, &Path)], pidfile: &Path) -> (i32, Running, Outcome) {
    let mut cmd = Command::new(example(example_name));
    // The demo starts without an argument (`commands = "start"`), as the
    // README's first command runs it; its builder twin takes `.commands(true)`
    // and needs the command.
    if example_name == "builder" {
        cmd.arg("start");
    }
    let output = run(cmd
        .envs(envs.iter().map(|(k, v)| (k, v.as_os_str())))
        .env_remove("DEBUG"));
    let (stdout, stderr) = (&output.stdout, &output.stderr);
    assert!(
        output.status.success(),
        "launcher failed: {:?}\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    let pid = announced_pid(&output);
    let guard = Running(pid);
    assert!(stdout.contains(&format!("kill -TERM {pid}")), "{stdout}");
    assert_eq!(
        read_pidfile(pidfile),
        pid,
        "the pid file holds the daemon's PID"
    );
    assert!(
        is_alive(pid),
        "the daemon runs once its launcher has exited"
    );
    let session = session_of(&pid.to_string());
    assert_ne!(session, pid, "the daemon is not a session leader");
    assert_ne!(
        session,
        session_of("self"),
        "the daemon is in a new session"
    );
    (pid, guard, output)
}

/// The demo's scenario in full mode, for the demo and its builder twin.
fn full_mode(example_name: &str) {
    let scratch = Scratch::new(&format!("{example_name}-full"));
    let pidfile = scratch.path("demo.pid");
    let log = scratch.path("demo.log");
    let (pid, _guard, output) = launch(example_name, &[("DEMO_DIR", &scratch.0)], &pidfile);
    let stdout = &output.stdout;
    assert!(stdout.contains(&pidfile.display().to_string()), "{stdout}");
    assert!(stdout.contains(&log.display().to_string()), "{stdout}");

    wait_for_log(&log, &format!("started as PID {pid}"));
    signal(pid, libc::SIGHUP);
    wait_for_log(&log, "received SIGHUP");
    signal(pid, libc::SIGUSR1);
    wait_for_log(&log, "received SIGUSR1");
    assert!(is_alive(pid), "SIGHUP and SIGUSR1 do not stop the daemon");

    signal(pid, libc::SIGTERM);
    wait_for_end(pid, &pidfile);
    wait_for_log(&log, "received SIGTERM: stopping");
    wait_for_log(&log, "stopped");
}

#[test]
fn demo_detaches_logs_signals_and_stops_on_sigterm() {
    full_mode("demo");
}

#[test]
fn builder_detaches_logs_signals_and_stops_on_sigterm() {
    full_mode("builder");
}

#[test]
fn demo_ends_by_itself() {
    let scratch = Scratch::new("demo-ends");
    let pidfile = scratch.path("demo.pid");
    let seconds = Path::new("1");
    let (pid, _guard, _) = launch(
        "demo",
        &[("DEMO_DIR", &scratch.0), ("DEMO_SECONDS", seconds)],
        &pidfile,
    );
    wait_for_end(pid, &pidfile);
    wait_for_log(&scratch.path("demo.log"), "ran for 1 s: stopping");
}

#[test]
fn demo_refuses_a_second_start() {
    let scratch = Scratch::new("demo-twice");
    let pidfile = scratch.path("demo.pid");
    let (pid, _guard, _) = launch("demo", &[("DEMO_DIR", &scratch.0)], &pidfile);

    let second = run(Command::new(example("demo"))
        .arg("start")
        .env("DEMO_DIR", &scratch.0)
        .env_remove("DEBUG"));
    let stderr = &second.stderr;
    assert!(!second.status.success(), "a second start fails");
    assert!(
        stderr.contains("cannot start daemon")
            && stderr.contains(&format!("already running as PID {pid}")),
        "{stderr}"
    );
    assert_eq!(
        read_pidfile(&pidfile),
        pid,
        "the running daemon's pid file is untouched"
    );

    signal(pid, libc::SIGTERM);
    wait_for_end(pid, &pidfile);
}

#[test]
fn demo_in_lite_mode_stays_in_the_foreground_until_sigint() {
    let scratch = Scratch::new("demo-lite");
    let pidfile = scratch.path("demo.pid");
    let child = Command::new(example("demo"))
        .arg("start")
        .env("DEMO_DIR", &scratch.0)
        .env("DEBUG", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the example");
    let mut child = Foreground(child);
    let pid = i32::try_from(child.0.id()).expect("a PID");
    wait_for("the pid file", || {
        std::fs::read_to_string(&pidfile)
            .ok()
            .filter(|text| text.ends_with('\n'))
    });
    assert_eq!(
        read_pidfile(&pidfile),
        pid,
        "the process itself is the daemon"
    );

    // The log goes to the terminal (here a pipe): wait for the first line
    // so that SIGINT arrives once the demo waits for it.
    let mut stderr = Lines::new(
        "the lite demo's stderr",
        child.0.stderr.take().expect("piped stderr"),
    );
    let first = stderr.next_line().expect("a first line on stderr");
    assert!(
        first.contains(&format!("started as PID {pid}")),
        "{first:?}"
    );

    signal(pid, libc::SIGINT);
    let status = wait_for("the demo to exit", || child.0.try_wait().expect("waiting"));
    assert!(status.success(), "{status:?}");
    let rest = stderr.rest();
    assert!(rest.contains("received SIGINT: stopping"), "{rest}");
    assert!(rest.contains("stopped"), "{rest}");
    assert!(!pidfile.exists(), "the pid file is removed");
    assert!(
        !scratch.path("demo.log").exists(),
        "in lite mode the log goes to the terminal"
    );
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a port");
    listener.local_addr().expect("its address").port()
}

#[test]
fn tokio_example_answers_then_stops_on_sigterm() {
    let scratch = Scratch::new("tokio");
    let pidfile = scratch.path("echo.pid");
    let log = scratch.path("echo.log");
    let port = free_port().to_string();
    let (pid, _guard, _) = launch(
        "tokio",
        &[("ECHO_DIR", &scratch.0), ("ECHO_PORT", Path::new(&port))],
        &pidfile,
    );

    // Ready means bound: the first connection succeeds.
    let mut stream = TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap()))
        .expect("connecting to the echo daemon");
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("setting a read timeout");
    stream.write_all(b"ping\n").expect("writing");
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .expect("reading the echo");
    assert_eq!(line, "ping\n");
    drop(stream);

    signal(pid, libc::SIGTERM);
    wait_for_end(pid, &pidfile);
    wait_for_log(&log, "received SIGTERM: stopping");
    wait_for_log(&log, "stopped");
}
