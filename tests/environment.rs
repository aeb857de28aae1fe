//! Hostile values in the variables the runtime reads from its environment
//! (`LISTEN_PID`, `LISTEN_FDS`, `LISTEN_FDNAMES`, `NOTIFY_SOCKET`,
//! `WATCHDOG_USEC`, `WATCHDOG_PID`, the `lite_if` variable): each is either
//! refused with one line naming the variable and its value, before anything
//! is created, or ignored as documented; never an abort or a panic.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

use common::*;

/// Every variable a supervisor sets, removed from what a test's program
/// inherits.
const SUPERVISOR_VARS: [&str; 6] = [
    "NOTIFY_SOCKET",
    "LISTEN_PID",
    "LISTEN_FDS",
    "LISTEN_FDNAMES",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
];

/// `scenario daemon --pidfile P` started through `sh`, which sets
/// `LISTEN_PID` to its own PID and then executes the program: the
/// variables are addressed to the launcher, as a supervisor does.
fn addressed_to_launcher(sb: &Sandbox, vars: &[(&str, &OsStr)]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("LISTEN_PID=$$ exec \"$@\"")
        .arg("sh")
        .arg(scenario_bin())
        .arg("daemon")
        .arg("--sandbox")
        .arg(sb.path(""))
        .arg("--pidfile")
        .arg(sb.path("pid"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in SUPERVISOR_VARS {
        cmd.env_remove(var);
    }
    for (var, value) in vars {
        cmd.env(var, value);
    }
    cmd
}

/// `scenario daemon --pidfile P` with `vars` set.
fn with_vars(sb: &Sandbox, vars: &[(&str, &OsStr)]) -> Command {
    let mut cmd = sb.scenario("daemon").pidfile(sb.path("pid")).command();
    for var in SUPERVISOR_VARS {
        cmd.env_remove(var);
    }
    for (var, value) in vars {
        cmd.env(var, value);
    }
    cmd
}

/// Runs `cmd` and checks a refused start: `code`, one line of step
/// `step` mentioning each of `mentions`, no process left and nothing
/// created in the sandbox.
fn refused(sb: &Sandbox, mut cmd: Command, code: i32, step: &str, mentions: &[&str]) {
    let before = sb.snapshot();
    let outcome = run(&mut cmd);
    outcome.assert_refused(code, step, mentions);
    sb.wait_no_processes();
    assert_eq!(before, sb.snapshot(), "nothing created: {outcome:?}");
}

fn os(text: &str) -> &OsStr {
    OsStr::new(text)
}

/// A `LISTEN_FDS` far beyond the descriptors the process holds costs no
/// more than those: one line naming the first missing descriptor, not an
/// allocation per announced descriptor (which aborted the launcher).
#[test]
fn a_huge_listen_fds_is_one_line() {
    let sb = Sandbox::new("env-listen-huge");
    for count in ["2147483644", "1048576", "5"] {
        let cmd = addressed_to_launcher(&sb, &[("LISTEN_FDS", os(count))]);
        refused(
            &sb,
            cmd,
            71,
            "preflight",
            // Descriptor 3 unless the test's runner passed more.
            &[
                &format!("LISTEN_FDS={count}: descriptor "),
                "(\"unknown\") is not one this process holds",
            ],
        );
    }
}

/// Malformed socket-activation variables are configuration errors (64)
/// naming the variable and its value.
#[test]
fn malformed_listen_variables_are_configuration_errors() {
    let sb = Sandbox::new("env-listen-malformed");
    let cases: [(&str, &str, &str); 5] = [
        ("LISTEN_FDS", "2147483645", "too many descriptors"),
        (
            "LISTEN_FDS",
            "99999999999999999999999",
            "too many descriptors",
        ),
        ("LISTEN_FDS", "-1", "not a number of descriptors"),
        ("LISTEN_FDS", "1\n2", "not a number of descriptors"),
        ("LISTEN_FDS", "", "not a number of descriptors"),
    ];
    for (var, value, why) in cases {
        let cmd = addressed_to_launcher(&sb, &[(var, os(value))]);
        refused(
            &sb,
            cmd,
            64,
            "preflight",
            &[&format!("{var}={value:?}: {why}")],
        );
    }
    // Names that do not match the count.
    let cmd = addressed_to_launcher(
        &sb,
        &[("LISTEN_FDS", os("2")), ("LISTEN_FDNAMES", os("a:b:c"))],
    );
    refused(
        &sb,
        cmd,
        64,
        "preflight",
        &["LISTEN_FDNAMES=\"a:b:c\": 3 names for 2 descriptors"],
    );
    // A PID that is no PID.
    let cmd = with_vars(
        &sb,
        &[
            ("LISTEN_PID", os("99999999999999999999")),
            ("LISTEN_FDS", os("1")),
        ],
    );
    refused(
        &sb,
        cmd,
        64,
        "preflight",
        &["LISTEN_PID=\"99999999999999999999\": not a process ID"],
    );
    // Bytes that are not UTF-8.
    let cmd = addressed_to_launcher(
        &sb,
        &[
            ("LISTEN_FDS", os("1")),
            ("LISTEN_FDNAMES", OsStr::from_bytes(b"web\xff")),
        ],
    );
    refused(&sb, cmd, 64, "preflight", &["LISTEN_FDNAMES=", "not UTF-8"]);
}

/// Sockets addressed to another process are none of ours, however
/// malformed the rest: the start goes on.
#[test]
fn listen_variables_for_another_process_are_ignored() {
    let sb = Sandbox::new("env-listen-other");
    let mut cmd = with_vars(
        &sb,
        &[
            ("LISTEN_PID", os("1")),
            ("LISTEN_FDS", os("2147483644")),
            ("LISTEN_FDNAMES", os("x")),
        ],
    );
    start(&mut cmd);
    let pid = wait_pidfile(&sb.path("pid"));
    stop(pid, &sb.path("pid"));
}

/// A `NOTIFY_SOCKET` that cannot name a socket (too long for a socket
/// address, relative, an empty abstract name) is a configuration error in
/// preflight, before anything is created.
#[test]
fn a_notify_socket_that_cannot_work_is_a_configuration_error() {
    let sb = Sandbox::new("env-notify");
    let long_path = format!("/{}", "x".repeat(200));
    let longest_plus_one = format!("/run/{}", "y".repeat(103));
    let long_name = format!("@{}", "z".repeat(108));
    let cases: [(&str, &str); 5] = [
        (
            &long_path,
            "a path of 201 bytes, longer than a socket address holds (107 at most)",
        ),
        (&longest_plus_one, "a path of 108 bytes"),
        (&long_name, "an abstract socket name of 108 bytes"),
        ("@", "an empty abstract socket name"),
        ("run/notify", "not an absolute path"),
    ];
    for (value, why) in cases {
        let cmd = with_vars(&sb, &[("NOTIFY_SOCKET", os(value))]);
        refused(
            &sb,
            cmd,
            64,
            "preflight",
            &[&format!("NOTIFY_SOCKET={value:?}: "), why],
        );
    }
}

/// The supervised test program in lite mode without a supervisor, with
/// `vars` set; its facts, once ready, then stopped.
fn supervised_facts(sb: &Sandbox, vars: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(example_bin("supervised"));
    for var in SUPERVISOR_VARS {
        cmd.env_remove(var);
    }
    cmd.env("SUP_MODE", "lite")
        .env("SUP_PIDFILE", sb.path("pid"))
        .env("SUP_FACTS", sb.path("facts"))
        .env("SUP_TRIGGER", sb.path("trigger"))
        .env("SUP_WATCHDOG", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (var, value) in vars {
        cmd.env(var, value);
    }
    let _ = std::fs::remove_file(sb.path("facts"));
    let child = cmd.spawn().expect("start the supervised program");
    let pid = i32::try_from(child.id()).expect("pid");
    let facts = wait_for("the facts of the supervised program", || {
        let text = std::fs::read_to_string(sb.path("facts")).ok()?;
        text.lines()
            .any(|l| l == "state=ready")
            .then(|| text.clone())
    });
    kill(pid, libc::SIGTERM);
    let outcome = finish(child);
    assert!(outcome.success(), "stopped cleanly: {outcome:?}");
    assert!(outcome.stderr.is_empty(), "nothing on stderr: {outcome:?}");
    facts
}

/// The watchdog value the supervised program reported.
fn reported_watchdog(facts: &str) -> &str {
    facts
        .lines()
        .find_map(|l| l.strip_prefix("watchdog="))
        .expect("a watchdog fact")
}

/// Malformed, zero or infinite `WATCHDOG_USEC`, or a malformed
/// `WATCHDOG_PID`, are ignored: no watchdog, and the daemon runs.
#[test]
fn malformed_watchdog_variables_are_ignored() {
    let sb = Sandbox::new("env-watchdog");
    for usec in [
        "99999999999999999999999",
        "18446744073709551615",
        "0",
        "-1",
        "1e9",
        "0x10",
        " 5",
        "",
    ] {
        let facts = supervised_facts(&sb, &[("WATCHDOG_USEC", usec)]);
        assert_eq!(reported_watchdog(&facts), "<unset>", "{usec:?}: {facts}");
    }
    for pid in ["99999999999999999999", "-1", "0", "x"] {
        let facts = supervised_facts(&sb, &[("WATCHDOG_USEC", "1000000"), ("WATCHDOG_PID", pid)]);
        assert_eq!(reported_watchdog(&facts), "<unset>", "{pid:?}: {facts}");
    }
    // The largest finite interval is taken as it is.
    let facts = supervised_facts(&sb, &[("WATCHDOG_USEC", "18446744073709551614")]);
    assert_eq!(reported_watchdog(&facts), "18446744073709551614", "{facts}");
}

/// The `lite_if` variable may hold any bytes: anything but the documented
/// "off" values, bytes that are not UTF-8 included, means lite mode (the
/// process itself becomes the daemon); it is never an error.
#[test]
fn any_bytes_in_the_lite_if_variable() {
    let sb = Sandbox::new("env-lite-if");
    for (value, lite) in [
        (&b"\xff\xfe"[..], true),
        (b"yes\n\x1b[2J", true),
        (b" OFF ", false),
    ] {
        let mut cmd = Command::new(example_bin("builder"));
        cmd.arg("start")
            .env("DEBUG", OsStr::from_bytes(value))
            .env("DEMO_DIR", &sb.dir)
            .env("DEMO_SECONDS", "60")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for var in SUPERVISOR_VARS {
            cmd.env_remove(var);
        }
        let mut child = cmd.spawn().expect("start the builder example");
        let pidfile = sb.path("demo.pid");
        let pid = wait_pidfile(&pidfile);
        let own = i32::try_from(child.id()).expect("pid");
        assert_eq!(
            pid == own,
            lite,
            "{value:?}: the daemon is PID {pid}, launched {own}"
        );
        stop(pid, &pidfile);
        let status = child.wait().expect("wait for the launched process");
        assert!(status.success(), "{value:?}: {status:?}");
    }
}
