// Every key that needs no privileges, run for real. The body checks what
// the keys promise before it reports ready (a failed check ends it before
// ready, which fails the launcher and so this test); the launcher, in
// `on_launched`, then waits for the daemon to end and checks that its pid
// file went with it.
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A path in the temporary directory, named after the launching process
/// (the daemon, a child of it, uses the same names).
fn scratch(what: &str) -> PathBuf {
    static LAUNCHER: OnceLock<u32> = OnceLock::new();
    let pid = LAUNCHER.get_or_init(std::process::id);
    std::env::temp_dir().join(format!("daemonizer-pass-every-key-run-{pid}.{what}"))
}

fn me() -> std::fs::Metadata {
    std::fs::metadata("/proc/self").unwrap()
}

static USR1: AtomicBool = AtomicBool::new(false);

fn on_usr1(_: daemonizer::Signal) {
    USR1.store(true, Ordering::SeqCst);
}

/// The value of `key:` in `/proc/self/status`.
fn status(key: &str) -> String {
    let text = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':'));
    line.unwrap_or_default().trim().to_owned()
}

/// Fields of `/proc/<pid>/stat` after the command name: state, ppid, pgrp,
/// session, ...
fn stat(pid: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn link(fd: i32) -> PathBuf {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap_or_default()
}

/// Everything the keys promise that the daemon can see from inside.
fn check() -> Result<(), String> {
    let pid = std::process::id();
    let expect = |what: &str, ok: bool, got: String| {
        if ok {
            Ok(())
        } else {
            Err(format!("{what}: {got}"))
        }
    };
    let session = stat("self").ok_or("no /proc/self/stat")?[3].clone();
    expect("detached: a new session, not led by the daemon", session != pid.to_string(), session)?;
    expect("umask", status("Umask") == "0022", status("Umask"))?;
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    expect("work_dir", cwd == std::env::temp_dir(), cwd.display().to_string())?;
    expect("stdin", link(0) == PathBuf::from("/dev/null"), format!("{:?}", link(0)))?;
    expect("stdout", link(1) == scratch("out"), format!("{:?}", link(1)))?;
    // Until ready, what the daemon says goes to the launcher ("early
    // words"); the configured file is there for what follows.
    let early = link(2).to_string_lossy().starts_with("pipe:");
    expect("stderr: the launcher's pipe until ready", early, format!("{:?}", link(2)))?;
    expect("stderr: the file is there", scratch("err").exists(), String::new())?;
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let core = limits.lines().find(|l| l.starts_with("Max core file size"));
    let core_off = core.is_some_and(|l| l.split_whitespace().nth(4) == Some("0"));
    expect("limits(core = 0)", core_off, format!("{core:?}"))?;
    let pidfile = std::fs::read_to_string(scratch("pid")).unwrap_or_default();
    expect("pidfile", pidfile == format!("{pid}\n"), pidfile)?;
    // The handler runs on the runtime's signal thread, not in this one.
    // SAFETY: kill takes no pointers.
    unsafe { libc::kill(pid as i32, libc::SIGUSR1) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !USR1.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    expect("signals(SIGUSR1): the handler ran", USR1.load(Ordering::SeqCst), String::new())
}

/// In the launcher, once the daemon is ready: wait until it ends (it
/// leaves right after ready), then check what it left.
fn after_launch(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    // Gone, or a zombie where nothing reaps orphans.
    while stat(&pid.to_string()).is_some_and(|f| f[0] != "Z") {
        assert!(Instant::now() < deadline, "the daemon {pid} did not end");
        std::thread::sleep(Duration::from_millis(1));
    }
    for what in ["pid", "out", "err"] {
        assert!(!scratch(what).exists(), "{} is left", scratch(what).display());
    }
}

#[daemonizer::daemon(
    pidfile = scratch("pid"),
    umask = 0o022,
    lite_if = "DAEMONIZER_PASS_EVERY_KEY_RUN_LITE",
    work_dir = std::env::temp_dir(),
    user = me().uid(),
    group = me().gid(),
    stdout = scratch("out"),
    stderr = scratch("err"),
    preserve = [0, 1, 2],
    signals(SIGHUP = |_| {}, SIGUSR1 = on_usr1),
    limits(core = 0),
    ready = "manual",
    on_launched = |launched| after_launch(launched.pid()),
)]
fn main() -> Result<(), String> {
    let checked = check();
    // The output files are this body's to remove; the pid file is the
    // runtime's.
    let _ = std::fs::remove_file(scratch("out"));
    let _ = std::fs::remove_file(scratch("err"));
    checked?;
    daemonizer::ready().map_err(|e| e.to_string())
}
