//! Hostile pid file paths: each is refused with one line naming the step
//! and the path, a non-zero exit, and nothing created, followed or
//! overwritten.

mod common;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use common::*;

fn with_pidfile(sb: &Sandbox, path: &Path) -> Command {
    let mut cmd = sb.command("daemon");
    cmd.arg("--pidfile").arg(path);
    cmd
}

fn refused(sb: &Sandbox, cmd: &mut Command, code: i32, mentions: &[&str]) {
    let before = sb.snapshot();
    let outcome = run(cmd);
    outcome.assert_refused(code, "pid file", mentions);
    sb.wait_no_processes();
    assert_eq!(
        before,
        sb.snapshot(),
        "nothing created, followed or changed"
    );
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn dangling_symlink() {
    let sb = Sandbox::new("dangling");
    let link = sb.path("pid");
    let target = sb.path("planted-target");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    refused(
        &sb,
        &mut with_pidfile(&sb, &link),
        73,
        &[&shown(&link), "is a symbolic link"],
    );
    assert!(!target.exists(), "the symlink's target was not created");
}

#[test]
fn symlink_to_a_file_whose_content_must_survive() {
    let sb = Sandbox::new("symlink");
    let link = sb.path("pid");
    let target = sb.path("precious");
    fs::write(&target, "precious content\n").unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    refused(
        &sb,
        &mut with_pidfile(&sb, &link),
        73,
        &[&shown(&link), "is a symbolic link"],
    );
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious content\n");
}

#[test]
fn directory() {
    let sb = Sandbox::new("dir");
    let dir = sb.path("pid");
    fs::create_dir(&dir).unwrap();
    refused(
        &sb,
        &mut with_pidfile(&sb, &dir),
        73,
        &[&shown(&dir), "is a directory"],
    );
}

#[test]
fn fifo() {
    let sb = Sandbox::new("fifo");
    let fifo = sb.path("pid");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    // Opening a FIFO without a writer would block: the launcher must look
    // before it opens, and end (run() fails the test if it hangs).
    refused(
        &sb,
        &mut with_pidfile(&sb, &fifo),
        73,
        &[&shown(&fifo), "is a FIFO"],
    );
}

#[test]
fn missing_directory() {
    let sb = Sandbox::new("missing");
    let path = sb.path("no-such-dir").join("pid");
    refused(
        &sb,
        &mut with_pidfile(&sb, &path),
        66,
        &[&shown(&path), "No such file or directory"],
    );
}

#[test]
fn unwritable_directory() {
    let sb = Sandbox::new("unwritable");
    let dir = sb.path("ro");
    fs::create_dir(&dir).unwrap();
    let path = dir.join("pid");
    let mut cmd = with_pidfile(&sb, &path);
    if is_root() {
        // Root writes anywhere: the launcher runs as `nobody` instead, and
        // the directory stays root's, 0755. A copy of the program in the
        // sandbox is sure to be reachable by `nobody`.
        let (uid, gid, _) = groups_of("nobody").expect("a user nobody");
        let copy = sb.path("scenario");
        fs::copy(scenario_bin(), &copy).unwrap();
        let mut as_nobody = Command::new(&copy);
        as_nobody
            .args(cmd.get_args())
            .uid(uid)
            .gid(gid)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd = as_nobody;
    } else {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
    }
    refused(&sb, &mut cmd, 77, &[&shown(&path), "Permission denied"]);
}

#[test]
fn path_longer_than_path_max() {
    let sb = Sandbox::new("long");
    let mut long = sb.dir.clone();
    while long.as_os_str().len() <= 4200 {
        long.push("component");
    }
    long.push("pid");
    refused(
        &sb,
        &mut with_pidfile(&sb, &long),
        73,
        &[&shown(&long), "File name too long"],
    );
}

#[test]
fn empty_path_and_directory_path() {
    let sb = Sandbox::new("empty");
    refused(
        &sb,
        &mut with_pidfile(&sb, Path::new("")),
        64,
        &["empty path"],
    );
    let slash = format!("{}/", sb.path("pid").display());
    refused(
        &sb,
        &mut with_pidfile(&sb, Path::new(&slash)),
        64,
        &[&slash, "not a file name"],
    );
}

#[test]
fn a_symlinked_pid_file_of_a_running_daemon_is_not_followed_either() {
    // A symlink planted next to a running daemon's pid file changes
    // nothing for the daemon and is refused for a second start.
    let sb = Sandbox::new("planted");
    start(&mut sb.daemon());
    let pid = wait_pidfile(&sb.path("pid"));
    let link = sb.path("pid-link");
    std::os::unix::fs::symlink(sb.path("pid"), &link).unwrap();
    let before = sb.snapshot();
    let outcome = run(&mut with_pidfile(&sb, &link));
    outcome.assert_refused(73, "pid file", &["is a symbolic link"]);
    assert_eq!(before, sb.snapshot());
    assert!(alive(pid));
    stop(pid, &sb.path("pid"));
}

#[test]
fn a_refused_pid_file_creates_no_output_file_and_keeps_existing_ones() {
    // Output files are opened before the pid file; when the pid file is
    // then refused, the start must not leave new (empty) log files behind,
    // and must not touch existing ones.
    let sb = Sandbox::new("outputs-kept");
    let link = sb.path("pid");
    std::os::unix::fs::symlink(sb.path("planted-target"), &link).unwrap();
    let old_log = sb.path("old.log");
    fs::write(&old_log, "earlier lines\n").unwrap();
    let mut cmd = with_pidfile(&sb, &link);
    cmd.arg("--stdout")
        .arg(sb.path("new.log"))
        .arg("--stderr")
        .arg(&old_log);
    refused(&sb, &mut cmd, 73, &[&shown(&link), "is a symbolic link"]);
    assert!(!sb.path("new.log").exists());
    assert_eq!(fs::read_to_string(&old_log).unwrap(), "earlier lines\n");
}

#[test]
fn pid_file_that_is_also_the_stdout_file() {
    // A log that already holds lines must not be emptied by the lock.
    let sb = Sandbox::new("pid-is-log");
    let log = sb.path("daemon.log");
    fs::write(&log, "yesterday's lines\n").unwrap();
    let mut cmd = with_pidfile(&sb, &log);
    cmd.arg("--stdout").arg(&log);
    refused(
        &sb,
        &mut cmd,
        64,
        &[&shown(&log), "is also the stdout file"],
    );
    assert_eq!(fs::read_to_string(&log).unwrap(), "yesterday's lines\n");
}

#[test]
fn pid_file_that_is_another_name_of_the_stderr_file() {
    let sb = Sandbox::new("pid-is-err");
    let err = sb.path("err.log");
    fs::write(&err, "kept\n").unwrap();
    let second_name = sb.path("pid");
    fs::hard_link(&err, &second_name).unwrap();
    let mut cmd = with_pidfile(&sb, &second_name);
    cmd.arg("--stderr").arg(&err);
    refused(
        &sb,
        &mut cmd,
        64,
        &[&shown(&second_name), "is also the stderr file"],
    );
}

#[test]
fn new_pid_file_that_is_also_the_stdout_file() {
    // Neither exists yet: the output file the start created goes again.
    let sb = Sandbox::new("pid-is-new-log");
    let path = sb.path("both");
    let mut cmd = with_pidfile(&sb, &path);
    cmd.arg("--stdout").arg(&path);
    refused(
        &sb,
        &mut cmd,
        64,
        &[&shown(&path), "is also the stdout file"],
    );
}
