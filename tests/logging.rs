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

#[test]
fn a_log_file_symlink_of_another_user_is_not_followed() {
    if !root_or_skip("a_log_file_symlink_of_another_user_is_not_followed") {
        return;
    }
    // The daemon runs as `nobody`, whose log directory it is; a daemon
    // taken over there points the log at a file of root's, which the next
    // start, made by root, opens.
    let (uid, gid, _) = groups_of("nobody").expect("a user nobody");
    let sb = Sandbox::new("log-foreign-link");
    let precious = sb.path("precious");
    fs::write(&precious, "root's lines\n").unwrap();
    let logs = sb.path("logs");
    fs::create_dir(&logs).unwrap();
    std::os::unix::fs::chown(&logs, Some(uid), Some(gid)).unwrap();
    let link = logs.join("myd.log");
    std::os::unix::fs::symlink(&precious, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(uid), Some(gid)).unwrap();
    let outcome = run(sb.daemon().args(["--user", "nobody", "--log"]).arg(&link));
    assert_eq!(
        outcome.code(),
        Some(2),
        "the log is not opened: {outcome:?}"
    );
    assert!(
        outcome.stderr.contains(&format!(
            "{}: is a symbolic link and the symbolic link belongs to user {uid}, refused",
            link.display()
        )),
        "{outcome:?}"
    );
    sb.wait_no_processes();
    assert_eq!(fs::read_to_string(&precious).unwrap(), "root's lines\n");
    // Root's own symlink in root's directory still leads to the log.
    let real = sb.path("real.log");
    let own = sb.path("own.log");
    std::os::unix::fs::symlink(&real, &own).unwrap();
    start(sb.daemon().arg("--log").arg(&own));
    let pid = wait_pidfile(&sb.path("pid"));
    wait_until("a line in the log", || {
        fs::read_to_string(&real).is_ok_and(|t| t.contains(&format!("[{pid}]")))
    });
    stop(pid, &sb.path("pid"));
}
