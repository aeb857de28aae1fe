//! Logging into files that survive the fd sweep: with `tracing` (the
//! example the README recipe follows), in both modes; and `LogFile` reopened
//! after logrotate's `create` mode renamed its file.

mod common;

use std::fs;
use std::process::{Command, Stdio};

use common::*;

fn tracing_example(sb: &Sandbox) -> Command {
    let mut cmd = Command::new(example_bin("tracing"));
    cmd.env("TRACING_DIR", &sb.dir)
        .env_remove("DEBUG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits for a line of the log that contains every one of `parts`.
fn logged(sb: &Sandbox, parts: &[&str]) -> String {
    wait_for(&format!("{parts:?} in the log"), || {
        fs::read_to_string(sb.path("tracing.log"))
            .ok()?
            .lines()
            .find(|line| parts.iter().all(|p| line.contains(p)))
            .map(str::to_owned)
    })
}

#[test]
fn tracing_logs_into_a_preserved_file_in_full_mode() {
    let sb = Sandbox::new("tracing-full");
    start(&mut tracing_example(&sb));
    let pid: i32 = wait_for("the pid file", || {
        fs::read_to_string(sb.path("tracing.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    logged(
        &sb,
        &[" INFO ", "serving", &format!("pid={pid}"), "mode=Full"],
    );
    kill(pid, libc::SIGTERM);
    logged(&sb, &[" INFO ", "stopping", "signal=SIGTERM"]);
    wait_dead(pid);
    assert!(!sb.path("tracing.pid").exists(), "the pid file is removed");
}

#[test]
fn tracing_logs_into_the_same_file_in_lite_mode() {
    let sb = Sandbox::new("tracing-lite");
    let child = tracing_example(&sb)
        .env("DEBUG", "1")
        .spawn()
        .expect("spawn");
    let pid = child.id() as i32;
    logged(&sb, &["serving", &format!("pid={pid}"), "mode=Lite"]);
    kill(pid, libc::SIGTERM);
    let outcome = finish(child);
    assert!(outcome.success(), "{outcome:?}");
    logged(&sb, &["stopping", "signal=SIGTERM"]);
}

#[test]
fn a_log_file_is_reopened_after_logrotate_renamed_it() {
    let sb = Sandbox::new("reopen");
    let log = sb.path("daemon.log");
    let rotated = sb.path("daemon.log.1");
    start(sb.daemon().arg("--log").arg(&log).arg("--log-reopen"));
    let pid: i32 = facts(&sb.path("facts"))["pid"].parse().expect("pid");
    wait_until("the body's first line", || {
        fs::read_to_string(&log).is_ok_and(|t| t.contains("daemon body running"))
    });
    // logrotate's `create` mode: rename, create an empty file, SIGHUP.
    fs::rename(&log, &rotated).expect("rename");
    fs::write(&log, "").expect("create");
    kill(pid, libc::SIGHUP);
    wait_until("the next line in the new file", || {
        fs::read_to_string(&log).is_ok_and(|t| t.contains(" INFO ") && t.contains(": reopened"))
    });
    let old = fs::read_to_string(&rotated).expect("rotated log");
    assert!(old.contains("daemon body running"), "{old}");
    assert!(!old.contains("reopened"), "{old}");
    sb.trigger("ok");
    wait_dead(pid);
}
