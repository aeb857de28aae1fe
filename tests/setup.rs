//! The setup step: run as the launching user after the pid file is probed
//! and before detaching; what it opens stays open in the daemon; its error
//! fails the start on the terminal.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::process::{Command, Stdio};

use common::*;

/// A port below 1024 for this test run: concurrent runs (different PIDs)
/// get different ones, and one taken by something else is skipped.
fn privileged_port() -> u16 {
    let start = 600 + (std::process::id() % 300) as u16;
    (start..1024)
        .chain(600..start)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port below 1024")
}

fn privileged(sb: &Sandbox, port: u16) -> Command {
    let mut cmd = Command::new(example_bin("privileged"));
    cmd.env("PRIVILEGED_PORT", port.to_string())
        .env("PRIVILEGED_DIR", &sb.dir)
        .env_remove("DEBUG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn nobody_uid() -> u32 {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    passwd
        .lines()
        .find_map(|l| l.strip_prefix("nobody:"))
        .and_then(|rest| rest.split(':').nth(1)?.parse().ok())
        .expect("a nobody user")
}

#[test]
fn privileged_example_serves_a_low_port_as_nobody() {
    if !root_or_skip("privileged_example_serves_a_low_port_as_nobody") {
        return;
    }
    let sb = Sandbox::new("privileged");
    let port = privileged_port();
    let outcome = run(privileged(&sb, port));
    assert!(outcome.success(), "{outcome:?}");
    let pid: i32 = wait_for("the pid file", || {
        std::fs::read_to_string(sb.path("privileged.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    assert!(
        outcome
            .stdout
            .contains(&format!("serving on 127.0.0.1:{port} as PID {pid}")),
        "{outcome:?}"
    );
    let nobody = nobody_uid();
    assert_eq!(
        status_field(pid, "Uid"),
        vec![nobody.to_string(); 4],
        "the daemon runs as nobody"
    );
    let mut answer = String::new();
    TcpStream::connect(("127.0.0.1", port))
        .expect("connect to the privileged port")
        .read_to_string(&mut answer)
        .expect("read");
    assert_eq!(answer, format!("served by uid {nobody}\n"));

    // A second start says "already running" before its setup could say
    // that the port is in use.
    let second = run(privileged(&sb, port));
    assert_eq!(second.code(), Some(75), "{second:?}");
    assert!(
        second
            .stderr
            .starts_with("privileged: cannot start daemon: pid file: ")
            && second
                .stderr
                .contains(&format!("already running as PID {pid}")),
        "{second:?}"
    );
    kill(pid, libc::SIGTERM);
    wait_dead(pid);
}

#[test]
fn what_the_setup_opens_stays_open_in_the_daemon() {
    for lite in [false, true] {
        let sb = Sandbox::new(if lite { "setup-lite" } else { "setup-full" });
        let mut cmd = sb.daemon().setup_bind("127.0.0.1:0");
        if lite {
            cmd = cmd.lite();
        }
        let launcher = cmd.spawn();
        let facts = facts(&sb.path("facts"));
        check_listener(&facts);
        sb.trigger("ok");
        let outcome = finish(launcher);
        assert!(outcome.success(), "{outcome:?}");
        sb.wait_no_processes();
    }
}

#[test]
fn what_the_setup_opens_on_the_number_of_a_file_it_dropped_stays_open() {
    // The setup drops a `File` it was given (open before it, not
    // preserved) and binds a listener, which gets that number back.
    let sb = Sandbox::new("setup-reuse");
    let launcher = sb
        .daemon()
        .setup_bind("127.0.0.1:0")
        .arg("--setup-reuse")
        .spawn();
    let facts = facts(&sb.path("facts"));
    assert_eq!(
        facts["setup_fd"], facts["setup_dropped_fd"],
        "the listener took the dropped file's number: {facts:?}"
    );
    assert!(
        facts["setup_addr"].starts_with("127.0.0.1:"),
        "the body's listener is open: {facts:?}"
    );
    check_listener(&facts);
    sb.trigger("ok");
    let outcome = finish(launcher);
    assert!(outcome.success(), "{outcome:?}");
    sb.wait_no_processes();
}

#[test]
fn a_setup_that_replaces_an_fd_of_the_start_is_refused() {
    // The pid file's fd now names /dev/null: the daemon would lock and
    // write that instead.
    for lite in [false, true] {
        let sb = Sandbox::new("setup-replace");
        let mut cmd = sb
            .daemon()
            .setup_bind("127.0.0.1:0")
            .arg("--setup-replace-pidfile");
        if lite {
            cmd = cmd.lite();
        }
        let outcome = run(cmd);
        outcome.assert_refused(
            70,
            "setup",
            &["it replaced fd ", ", which the start opened before it"],
        );
        sb.wait_no_processes();
        let facts = std::fs::read_to_string(sb.path("facts")).unwrap_or_default();
        assert!(facts.is_empty(), "the body never ran: {facts:?}");
    }
}

/// The daemon holds the listener (its fd is a socket) and it accepts.
fn check_listener(facts: &std::collections::HashMap<String, String>) {
    let pid: i32 = facts["pid"].parse().expect("pid");
    let fd: i32 = facts["setup_fd"].parse().expect("setup_fd");
    let target = fds(pid).remove(&fd).unwrap_or_default();
    assert!(target.starts_with("socket:"), "fd {fd}: {target:?}");
    TcpStream::connect(&facts["setup_addr"]).expect("the daemon's listener accepts");
}

#[test]
fn a_failed_setup_is_reported_and_leaves_nothing() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    for lite in [false, true] {
        let sb = Sandbox::new("setup-fails");
        let mut cmd = sb
            .scenario("daemon")
            .pidfile(sb.path("pid"))
            .setup_bind(&address);
        if lite {
            cmd = cmd.lite();
        }
        let before = sb.snapshot();
        // The C library's text for the error (glibc and musl word it apart).
        let in_use = std::io::Error::from_raw_os_error(libc::EADDRINUSE).to_string();
        run(cmd).assert_refused(71, "setup", &[&in_use]);
        sb.wait_no_processes();
        assert_eq!(before, sb.snapshot(), "nothing left behind");
    }
}
