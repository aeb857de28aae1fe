//! The program name (`argv[0]`, chosen by whoever starts the program) is
//! shown escaped in every line the runtime prints: a newline in it never
//! splits a line or forges another.

mod common;

use std::fs;
use std::os::unix::process::CommandExt;
use std::process::Command;

use common::*;

/// An `argv[0]` that would print a second, forged line.
const EVIL: &str = "evil\nscenario: forged\u{1b}[2J";
/// How every line shows it.
const SHOWN: &str = "evil\\x0ascenario: forged\\x1b[2J";

/// `scenario <cmd> --commands --pidfile <pidfile>` run as [`EVIL`].
fn evil(sb: &Sandbox, cmd: &str, pidfile: &std::path::Path) -> Command {
    let mut c = sb.scenario(cmd).commands().pidfile(pidfile).command();
    c.arg0(EVIL);
    c
}

/// Runs `cmd`, expects `code` and exactly `line` (one line) on stdout or,
/// with `on_stderr`, on stderr, the other one empty.
fn one_line(mut cmd: Command, code: i32, line: &str, on_stderr: bool) {
    let outcome = run(&mut cmd);
    assert_eq!(outcome.code(), Some(code), "{outcome:?}");
    let (shown, other) = if on_stderr {
        (&outcome.stderr, &outcome.stdout)
    } else {
        (&outcome.stdout, &outcome.stderr)
    };
    assert_eq!(*shown, format!("{line}\n"), "{outcome:?}");
    assert!(other.is_empty(), "{outcome:?}");
}

#[test]
fn the_commands_escape_the_program_name() {
    let sb = Sandbox::new("argv0-commands");
    let pidfile = sb.path("pid");

    one_line(
        evil(&sb, "status", &pidfile),
        3,
        &format!("{SHOWN} is not running"),
        false,
    );
    one_line(
        evil(&sb, "frobnicate", &pidfile),
        2,
        &format!(
            "{SHOWN}: unknown command \"frobnicate\"; \
             usage: {SHOWN} {{start|stop|status|restart|reload}} [ARGS...] | \
             {SHOWN} unit {{systemd|openrc|rcd|launchd}} [--user]"
        ),
        true,
    );

    start(evil(&sb, "start", &pidfile).arg0("scenario"));
    let pid = wait_pidfile(&pidfile);
    one_line(
        evil(&sb, "status", &pidfile),
        0,
        &format!("{SHOWN} is running as PID {pid}"),
        false,
    );
    one_line(
        evil(&sb, "stop", &pidfile),
        0,
        &format!("{SHOWN} stopped (PID {pid})"),
        false,
    );
    sb.wait_no_processes();
}

/// A pid file whose path holds a newline, left by a daemon that is gone:
/// `status` names it escaped.
#[test]
fn a_stale_status_escapes_the_pid_file_path() {
    let sb = Sandbox::new("argv0-stale");
    let pidfile = sb.path("pid\nfile");
    // No process holds its lock: the PID in it is stale.
    fs::write(&pidfile, "2147483646\n").expect("write the pid file");
    let shown = pidfile.display().to_string().replace('\n', "\\x0a");
    one_line(
        evil(&sb, "status", &pidfile),
        1,
        &format!("{SHOWN} is not running (the pid file {shown} still names PID 2147483646)"),
        false,
    );
}

/// The refused start's line, and every line of a `LogFile`, escape it too.
#[test]
fn the_start_and_the_log_file_escape_the_program_name() {
    let sb = Sandbox::new("argv0-start");
    let mut cmd = sb.scenario("daemon").umask("1000").command();
    cmd.arg0(EVIL);
    one_line(
        cmd,
        64,
        &format!("{SHOWN}: cannot start daemon: umask: 0o1000 is above 0o777"),
        true,
    );

    let log = sb.path("log");
    let mut cmd = sb.daemon().log(&log).debug_log().command();
    cmd.arg0(EVIL);
    start(cmd);
    let pid = wait_pidfile(&sb.path("pid"));
    stop(pid, &sb.path("pid"));
    let text = fs::read_to_string(&log).expect("the log file");
    assert!(text.lines().count() > 1, "{text}");
    for line in text.lines() {
        assert!(
            line.contains(&format!(" {SHOWN}[")),
            "every line names the program, escaped: {line:?} in {text}"
        );
    }
}
