//! Output to a regular file at the process's file-size limit
//! (`RLIMIT_FSIZE`): a write there raises `SIGXFSZ`, which ends a process
//! by default. The launcher's one-line report, its flush of the caller's
//! output and every command's line lose their text, never the documented
//! exit status.

mod common;

use std::fs::{self, File};
use std::process::{Command, Stdio};

use common::*;

/// `scenario <args>` started through `sh` with a file-size limit of 0
/// (every write to a regular file fails with `EFBIG` and `SIGXFSZ`), and
/// stdout and stderr appended to the regular files `out` and `err`
/// (stderr on `/dev/null` without `err`).
fn limited(sb: &Sandbox, args: &[&str], out: &str, err: Option<&str>) -> Command {
    let append = |name: &str| {
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(sb.path(name))
            .expect("open an output file")
    };
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -f 0 && exec \"$@\"")
        .arg("sh")
        .arg(scenario_bin())
        .args(args)
        .arg("--sandbox")
        .arg(sb.path(""))
        .stdin(Stdio::null())
        .stdout(append(out))
        .stderr(err.map_or_else(Stdio::null, |err| append(err).into()));
    cmd
}

/// Runs `cmd` to its end and returns its exit code (`None`: a signal).
fn status_of(mut cmd: Command) -> Option<i32> {
    let child = cmd.spawn().expect("spawn sh");
    let outcome = finish(child);
    assert!(
        outcome.status.code().is_some(),
        "ended by a signal: {}",
        describe(&outcome.status)
    );
    outcome.code()
}

/// A refused start keeps its status (64) when its one line cannot be
/// written, on an empty file and on one already holding text.
#[test]
fn a_refused_start_keeps_its_status_at_the_file_size_limit() {
    let sb = Sandbox::new("fsize-refused");
    fs::write(sb.path("full"), "earlier text\n").expect("write a file");
    for err in ["empty", "full"] {
        let before = fs::read(sb.path(err)).unwrap_or_default();
        let cmd = limited(&sb, &["daemon", "--umask", "1000"], "out", Some(err));
        assert_eq!(status_of(cmd), Some(64), "stderr on {err}");
        assert_eq!(
            fs::read(sb.path(err)).expect("the stderr file"),
            before,
            "nothing written past the limit"
        );
    }
    sb.wait_no_processes();
}

/// The launcher flushes what the caller left in Rust's buffers before it
/// forks; at the limit that output is lost, and the start still succeeds.
/// (Its stderr is not a regular file: the program's own `eprint!` of the
/// text would die of `SIGXFSZ` first.)
#[test]
fn a_start_with_buffered_output_succeeds_at_the_file_size_limit() {
    let sb = Sandbox::new("fsize-flush");
    let cmd = limited(
        &sb,
        &["daemon", "--print-before", "left in the buffers"],
        "out",
        None,
    );
    assert_eq!(status_of(cmd), Some(0));
    // The first child leaves once the daemon runs: then the daemon alone.
    let daemon = wait_for("the daemon alone", || match sb.processes()[..] {
        [pid] => Some(pid),
        _ => None,
    });
    kill(daemon, libc::SIGTERM);
    sb.wait_no_processes();
}

/// The same output, lost at the limit while every signal is blocked for
/// the forks, is not delivered later: a start that then fails (the body
/// exits before it is ready) reports its status (70), not `SIGXFSZ`.
#[test]
fn a_failed_start_after_buffered_output_keeps_its_status_at_the_file_size_limit() {
    let sb = Sandbox::new("fsize-flush-failed");
    let trigger = sb.path("trigger");
    let trigger = trigger.to_str().expect("UTF-8 sandbox");
    let args = [
        "daemon",
        "--manual",
        "--trigger",
        trigger,
        "--print-before",
        "left in the buffers",
    ];
    // The body exits as soon as it runs, long after the launcher's flush.
    sb.trigger("exit");
    let outcome = finish(limited(&sb, &args, "out", None).spawn().expect("spawn sh"));
    assert_eq!(outcome.code(), Some(70), "{}", describe(&outcome.status));
    sb.wait_no_processes();
}

/// `status`, `stop` and an unknown command keep their LSB statuses when
/// their line cannot be written, with a daemon running and without.
#[test]
fn commands_keep_their_status_at_the_file_size_limit() {
    let sb = Sandbox::new("fsize-commands");
    let pidfile = sb.path("pid");
    let pidfile = pidfile.to_str().expect("UTF-8 sandbox");
    let command = |cmd: &str| {
        limited(
            &sb,
            &[cmd, "--commands", "--pidfile", pidfile],
            "out",
            Some("err"),
        )
    };

    assert_eq!(status_of(command("status")), Some(3), "status, not running");
    assert_eq!(status_of(command("stop")), Some(0), "stop, not running");
    assert_eq!(status_of(command("frobnicate")), Some(2), "the usage error");

    start(sb.scenario("start").commands().pidfile(pidfile));
    let pid = wait_pidfile(&sb.path("pid"));
    assert_eq!(status_of(command("status")), Some(0), "status, running");
    assert_eq!(status_of(command("stop")), Some(0), "stop, running");
    assert!(!alive(pid), "stopped");
    assert_eq!(fs::metadata(sb.path("out")).expect("out").len(), 0);
    assert_eq!(fs::metadata(sb.path("err")).expect("err").len(), 0);
    sb.wait_no_processes();
}

/// The files the tests append to exist before the limit applies.
#[test]
fn the_limit_applies_to_the_files_of_the_test() {
    let sb = Sandbox::new("fsize-check");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -f 0 && exec printf x")
        .stdin(Stdio::null())
        .stdout(File::create(sb.path("out")).expect("create"))
        .stderr(Stdio::null());
    let status = cmd.status().expect("run sh");
    assert_eq!(
        status.code(),
        None,
        "printf at the limit dies of SIGXFSZ: {}",
        describe(&status)
    );
}
