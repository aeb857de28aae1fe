//! Logging into files that survive the fd sweep: with `tracing` (the
//! example the README recipe follows), in both modes; and `LogFile` reopened
//! after logrotate's `create` mode renamed its file.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
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
    start(tracing_example(&sb));
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
    start(sb.daemon().log(&log).log_reopen());
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

/// Runs the scenario with `--log` (a `LogFile` opened as root before the
/// start) and checks that the open is refused with `mentions`, before
/// anything starts.
fn log_refused(sb: &Sandbox, cmd: impl Launch, mentions: &[&str]) {
    let outcome = run(cmd);
    assert_eq!(
        outcome.code(),
        Some(2),
        "the log is not opened: {outcome:?}"
    );
    for m in mentions {
        assert!(outcome.stderr.contains(m), "{m:?} in {outcome:?}");
    }
    sb.wait_no_processes();
}

#[test]
fn a_log_file_symlink_of_another_user_is_not_followed() {
    if !root_or_skip("a_log_file_symlink_of_another_user_is_not_followed") {
        return;
    }
    // The daemon runs as `nobody`, whose log directory it is; a daemon
    // taken over there points the log at a file of root's, which the next
    // start, made by root, opens: the directory is refused first.
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
    log_refused(
        &sb,
        sb.daemon().user("nobody").log(&link),
        &[&format!(
            "log: {}: its directory {} belongs to user {uid} (nobody), refused",
            link.display(),
            logs.display()
        )],
    );
    // In a sticky directory anyone may write, the link's owner is what
    // decides.
    fs::set_permissions(&logs, fs::Permissions::from_mode(0o1777)).unwrap();
    std::os::unix::fs::chown(&logs, Some(0), Some(0)).unwrap();
    log_refused(
        &sb,
        sb.daemon().user("nobody").log(&link),
        &[&format!(
            "log: {}: is a symbolic link and the symbolic link belongs to user {uid} (nobody), \
             refused",
            link.display()
        )],
    );
    assert_eq!(fs::read_to_string(&precious).unwrap(), "root's lines\n");
    // Root's own symlink in root's directory still leads to the log.
    let real = sb.path("real.log");
    fs::write(&real, "").unwrap();
    let own = sb.path("own.log");
    std::os::unix::fs::symlink(&real, &own).unwrap();
    start(sb.daemon().log(&own));
    let pid = wait_pidfile(&sb.path("pid"));
    wait_until("a line in the log", || {
        fs::read_to_string(&real).is_ok_and(|t| t.contains(&format!("[{pid}]")))
    });
    stop(pid, &sb.path("pid"));
}

#[test]
fn a_log_file_that_is_a_fifo_without_a_reader_is_refused_at_once() {
    // Opening it for writing would wait for a reader, for ever.
    let sb = Sandbox::new("log-fifo");
    let fifo = sb.path("daemon.log");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    log_refused(
        &sb,
        sb.daemon().log(&fifo),
        &[&format!(
            "log: {}: is a FIFO without a reader, refused",
            fifo.display()
        )],
    );
}

#[test]
fn a_log_file_on_a_pseudo_filesystem_is_refused() {
    // A write there goes to the kernel (this one only renames the
    // launcher's thread).
    let sb = Sandbox::new("log-proc");
    log_refused(
        &sb,
        sb.daemon().log("/proc/self/comm"),
        &["log: /proc/self/comm: is on procfs, a pseudo filesystem, refused"],
    );
}

#[test]
fn a_log_file_owned_by_another_user_or_with_a_second_link_is_refused() {
    if !root_or_skip("a_log_file_owned_by_another_user_or_with_a_second_link_is_refused") {
        return;
    }
    let (uid, gid, _) = groups_of("nobody").expect("a user nobody");
    let sb = Sandbox::new("log-foreign-file");
    let log = sb.path("daemon.log");
    fs::write(&log, "").unwrap();
    std::os::unix::fs::chown(&log, Some(uid), Some(gid)).unwrap();
    log_refused(
        &sb,
        sb.daemon().log(&log),
        &[&format!(
            "log: {}: is owned by user {uid} (nobody), refused",
            log.display()
        )],
    );
    let precious = sb.path("precious");
    fs::write(&precious, "secret\n").unwrap();
    let second = sb.path("second.log");
    fs::hard_link(&precious, &second).unwrap();
    log_refused(
        &sb,
        sb.daemon().log(&second),
        &[&format!(
            "log: {}: has 2 hard links, refused",
            second.display()
        )],
    );
    assert_eq!(fs::read_to_string(&precious).unwrap(), "secret\n");
}

#[test]
fn a_log_reopened_after_the_privilege_drop_is_checked_for_the_daemons_user() {
    if !root_or_skip("a_log_reopened_after_the_privilege_drop_is_checked_for_the_daemons_user") {
        return;
    }
    let user = TempUser::new("reopen");
    let sb = Sandbox::new("reopen-dropped");
    let log = sb.path("daemon.log");
    let rotated = sb.path("daemon.log.1");
    start(sb.daemon().user(&user.name).log_reopen().log(&log));
    let pid = wait_pidfile(&sb.path("pid"));
    wait_until("the body's first line", || {
        fs::read_to_string(&log).is_ok_and(|t| t.contains("daemon body running"))
    });
    fs::rename(&log, &rotated).expect("rename");
    // A FIFO nobody reads, in place of the new file: the reopen, in the
    // daemon's signal thread, is refused at once rather than wait.
    assert!(Command::new("mkfifo")
        .args(["-m", "666"])
        .arg(&log)
        .status()
        .unwrap()
        .success());
    kill(pid, libc::SIGHUP);
    wait_until("the refusal in the old file", || {
        fs::read_to_string(&rotated).is_ok_and(|t| {
            t.contains(&format!(
                " ERROR scenario: reopen: {}: is a FIFO without a reader, refused",
                log.display()
            ))
        })
    });
    // logrotate's `create 0640 <user> <user>`: the daemon's user owns the
    // new file, which the daemon, running as that user, accepts.
    fs::remove_file(&log).unwrap();
    fs::write(&log, "").unwrap();
    std::os::unix::fs::chown(&log, Some(user.uid), Some(user.gid)).unwrap();
    fs::set_permissions(&log, fs::Permissions::from_mode(0o640)).unwrap();
    kill(pid, libc::SIGHUP);
    wait_until("the next line in the new file", || {
        fs::read_to_string(&log).is_ok_and(|t| t.contains(": reopened"))
    });
    // The daemon's user may not remove root's pid file: it empties it.
    kill(pid, libc::SIGTERM);
    wait_dead(pid);
}
