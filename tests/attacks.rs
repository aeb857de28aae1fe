//! Attacks and accidents that the start already withstands, kept as
//! tests: a process limit that fails either fork, an open-file limit of
//! 4 to 16, SIGHUP to the launcher's whole process group, bind mounts
//! over the pid file's directory, and paths that are not UTF-8 or are
//! long. Each start either works completely or is refused with one line
//! and a non-zero status, leaving no process and no pid file.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

/// A refused start: one line on stderr naming `step` and each of
/// `mentions`, status `code`, no process of the sandbox left, no pid file.
fn refused_cleanly(sb: &Sandbox, outcome: &Outcome, code: i32, step: &str, mentions: &[&str]) {
    outcome.assert_refused(code, step, mentions);
    sb.wait_no_processes();
    assert!(!sb.path("pid").exists(), "no pid file left: {outcome:?}");
}

#[test]
fn a_process_limit_that_fails_either_fork_is_a_clean_refusal() {
    if !root_or_skip("a_process_limit_that_fails_either_fork_is_a_clean_refusal") {
        return;
    }
    // RLIMIT_NPROC counts every process of the user: a fresh user's
    // launcher is its first, so a limit of 1 fails the first fork and a
    // limit of 2 the second. Root is exempt: the launcher is the user's.
    for (limit, fork) in [(1, "detach: fork"), (2, "detach: second fork")] {
        let user = TempUser::new("nproc");
        let sb = Sandbox::new(&format!("nproc-{limit}"));
        std::os::unix::fs::chown(&sb.dir, Some(user.uid), Some(user.gid)).unwrap();
        let program = sb.reachable_scenario();
        let mut cmd = Command::new("prlimit");
        cmd.arg(format!("--nproc={limit}:{limit}"))
            .arg(&program)
            .arg("daemon")
            .arg("--sandbox")
            .arg(format!("{}/", sb.dir.display()))
            .arg("--pidfile")
            .arg(sb.path("pid"))
            .uid(user.uid)
            .gid(user.gid)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let outcome = run(&mut cmd);
        refused_cleanly(&sb, &outcome, 71, "detach", &[fork]);
    }
}

#[test]
fn open_file_limits_of_4_to_16_start_completely_or_not_at_all() {
    let mut started = 0;
    for limit in 4..=16 {
        let sb = Sandbox::new(&format!("nofile-{limit}"));
        let mut cmd = Command::new("prlimit");
        let inner = sb.daemon().command();
        cmd.arg(format!("--nofile={limit}:{limit}"))
            .arg(inner.get_program())
            .args(inner.get_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let outcome = run(cmd);
        if outcome.success() {
            started += 1;
            let pid = wait_pidfile(&sb.path("pid"));
            assert!(alive(pid), "limit {limit}: the daemon runs");
            sb.trigger("ok");
            wait_dead(pid);
            sb.wait_no_processes();
            assert!(!sb.path("pid").exists(), "limit {limit}: pid file removed");
        } else {
            // Whichever step ran out of descriptors first.
            assert_eq!(outcome.code(), Some(71), "limit {limit}: {outcome:?}");
            let lines: Vec<&str> = outcome.stderr.lines().collect();
            assert!(
                lines.len() == 1
                    && lines[0].starts_with("scenario: cannot start daemon: ")
                    && lines[0].ends_with(": Too many open files"),
                "limit {limit}: {outcome:?}"
            );
            sb.wait_no_processes();
            assert!(!sb.path("pid").exists(), "limit {limit}: no pid file left");
        }
    }
    // The limit is not so tight that nothing ever starts.
    assert!(started > 0, "no start worked with up to 16 open files");
}

#[test]
fn sighup_to_the_launchers_process_group_stops_the_start_cleanly() {
    // A terminal hangup while the launcher waits for a slow start: the
    // whole foreground group gets SIGHUP. The daemon, in a session of its
    // own, is stopped by the launcher, which says why.
    let sb = Sandbox::new("hup-group");
    let facts = sb.path("facts");
    let launcher = sb
        .scenario("daemon")
        .pidfile(sb.path("pid"))
        .facts(&facts)
        .manual()
        .command()
        .process_group(0)
        .spawn()
        .expect("spawn scenario");
    let pid: i32 = wait_fact(&facts, "pid").parse().expect("pid fact");
    assert!(alive(pid));
    // SAFETY: killpg takes no pointers; the group is the launcher's own.
    let sent = unsafe { libc::killpg(launcher.id() as i32, libc::SIGHUP) };
    assert_eq!(sent, 0, "killpg");
    let outcome = finish(launcher);
    refused_cleanly(
        &sb,
        &outcome,
        75,
        "readiness",
        &["SIGHUP received while waiting for the daemon; the daemon was stopped"],
    );
    assert!(!alive(pid), "the daemon was stopped");
}

/// A bind mount of `from` on `on`, removed on drop.
struct Bind(PathBuf);

impl Bind {
    fn new(from: &Path, on: &Path) -> Bind {
        let status = Command::new("mount")
            .arg("--bind")
            .arg(from)
            .arg(on)
            .status()
            .expect("mount");
        assert!(status.success(), "mount --bind {from:?} {on:?}");
        Bind(on.to_owned())
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn bind_mounts_cannot_disguise_another_users_directory() {
    if !root_or_skip("bind_mounts_cannot_disguise_another_users_directory") {
        return;
    }
    let (uid, gid, _) = groups_of("nobody").expect("a user nobody");
    let sb = Sandbox::new("bind");
    let nob = sb.path("nob");
    fs::create_dir(&nob).unwrap();
    std::os::unix::fs::chown(&nob, Some(uid), Some(gid)).unwrap();
    // nobody's directory mounted where root's would be expected.
    let bound = sb.path("bound");
    fs::create_dir(&bound).unwrap();
    let _bind = Bind::new(&nob, &bound);
    // A start with its pid file in `dir`, refused for the directory
    // `refused` of nobody's.
    let refused_in = |dir: &Path, refused: &str| {
        let outcome = run(sb.scenario("daemon").pidfile(dir.join("pid")));
        refused_cleanly(
            &sb,
            &outcome,
            77,
            "pid file",
            &[&format!("{refused} belongs to user {uid} (nobody)")],
        );
    };
    refused_in(&bound, &format!("its directory {}", bound.display()));
    // Root's directory mounted inside nobody's: reached through nobody's.
    let root_dir = sb.path("root-dir");
    fs::create_dir(&root_dir).unwrap();
    let inner = nob.join("in");
    fs::create_dir(&inner).unwrap();
    let _bind_in = Bind::new(&root_dir, &inner);
    refused_in(&inner, &format!("the directory {}", nob.display()));
    assert_eq!(fs::read_dir(&root_dir).unwrap().count(), 0);
}

#[test]
fn a_pid_file_path_that_is_not_utf8_works_and_is_shown_in_one_line() {
    // The builder example keeps its files in `DEMO_DIR`, taken as bytes.
    let sb = Sandbox::new("non-utf8");
    let dir = sb.dir.join(OsStr::from_bytes(b"d-\xff\xfe\nsecond line"));
    let builder = |command: &str| {
        let mut cmd = Command::new(example_bin("builder"));
        cmd.arg(command)
            .env("DEMO_DIR", &dir)
            .env_remove("DEBUG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    let outcome = start(builder("start"));
    assert!(outcome.success(), "{outcome:?}");
    let pidfile = dir.join("demo.pid");
    let pid = wait_pidfile(&pidfile);
    let status = run(builder("status"));
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(status.stdout.lines().count(), 1, "{status:?}");
    assert!(status.stdout.contains(&format!("PID {pid}")), "{status:?}");
    let stop = run(builder("stop"));
    assert!(stop.success(), "{stop:?}");
    wait_dead(pid);
    assert!(!pidfile.exists(), "the pid file is removed at exit");
    if !root_or_skip("a_pid_file_path_that_is_not_utf8_works_and_is_shown_in_one_line") {
        return;
    }
    // Refused: the directory is nobody's. The line is still one line.
    let (uid, gid, _) = groups_of("nobody").expect("a user nobody");
    std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
    let outcome = run(builder("start"));
    assert_eq!(outcome.code(), Some(77), "{outcome:?}");
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{outcome:?}");
    assert!(
        lines[0].starts_with("builder: cannot start daemon: ")
            && lines[0].contains("\\x0asecond line")
            && lines[0].contains("belongs to user 65534 (nobody)"),
        "{outcome:?}"
    );
    assert!(!pidfile.exists(), "no pid file created");
}

#[test]
fn a_long_path_below_the_kernels_limit_works() {
    // About 3,500 bytes in 17 levels: walked one component at a time, as
    // deep as the kernel would go in one call.
    let sb = Sandbox::new("long-ok");
    let mut dir = sb.dir.clone();
    while dir.as_os_str().len() < 3300 {
        dir.push("d".repeat(200));
    }
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pid");
    let cmd = sb
        .scenario("daemon")
        .pidfile(&path)
        .trigger(sb.path("trigger"));
    let outcome = start(cmd);
    assert!(outcome.success(), "{outcome:?}");
    let pid = wait_pidfile(&path);
    sb.trigger("ok");
    wait_dead(pid);
    assert!(!path.exists(), "the pid file is removed at exit");
}
