//! Start-up failures: each is refused in the launcher's terminal with one
//! line naming the step and the value, a documented exit status, and
//! nothing left behind (no daemon, no pid file, no file created).
//!
//! Exit statuses (daemonizer-core's `ErrorKind`): 64 invalid setting,
//! 66 missing path, 67 unknown user or group, 70 cannot daemonize as is
//! (threads, daemon died early), 73 cannot create / wrong file type,
//! 75 already running, 77 not permitted.

mod common;

use std::fs;

use common::*;

/// Runs `cmd` in `sb`, expects the refusal, and checks that the sandbox
/// is exactly as before and that no process of it is left.
fn refused(sb: &Sandbox, cmd: impl Launch, code: i32, step: &str, mentions: &[&str]) {
    let before = sb.snapshot();
    let outcome = run(cmd);
    outcome.assert_refused(code, step, mentions);
    sb.wait_no_processes();
    assert_eq!(before, sb.snapshot(), "nothing created or changed");
}

/// `scenario daemon --pidfile <sandbox>/pid` without facts or trigger, so
/// that a refused start must leave the sandbox untouched.
fn bare(sb: &Sandbox) -> Scenario {
    sb.scenario("daemon").pidfile(sb.path("pid"))
}

fn shown(path: &std::path::Path) -> String {
    path.display().to_string()
}

#[test]
fn work_dir_missing_or_not_a_directory() {
    let sb = Sandbox::new("workdir");
    let missing = sb.path("missing");
    refused(
        &sb,
        bare(&sb).workdir(&missing),
        66,
        "work dir",
        &[&shown(&missing), "No such file or directory"],
    );
    let file = sb.path("a-file");
    fs::write(&file, "x").unwrap();
    refused(
        &sb,
        bare(&sb).workdir(&file),
        66,
        "work dir",
        &[&shown(&file), "not a directory"],
    );
    refused(&sb, bare(&sb).workdir(""), 64, "work dir", &["empty path"]);
}

#[test]
fn chroot_missing_or_not_a_directory() {
    let sb = Sandbox::new("chroot-bad");
    let missing = sb.path("missing-root");
    refused(
        &sb,
        bare(&sb).chroot(&missing),
        66,
        "chroot",
        &[&shown(&missing), "No such file or directory"],
    );
    let file = sb.path("a-file");
    fs::write(&file, "x").unwrap();
    refused(
        &sb,
        bare(&sb).chroot(&file),
        66,
        "chroot",
        &[&shown(&file), "not a directory"],
    );
    // A work dir that does not exist inside an existing chroot.
    let root = sb.path("root");
    fs::create_dir(&root).unwrap();
    refused(
        &sb,
        bare(&sb).chroot(&root).workdir("/srv"),
        66,
        "work dir",
        &[&shown(&root.join("srv"))],
    );
}

#[test]
fn unknown_user_and_group_names() {
    let sb = Sandbox::new("names");
    refused(
        &sb,
        bare(&sb).user("no-such-user-dz7"),
        67,
        "user",
        &["unknown user \"no-such-user-dz7\""],
    );
    refused(
        &sb,
        bare(&sb).group("no-such-group-dz7"),
        67,
        "group",
        &["unknown group \"no-such-group-dz7\""],
    );
    refused(
        &sb,
        bare(&sb).user("nobody").group("no-such-group-dz7"),
        67,
        "group",
        &["no-such-group-dz7"],
    );
}

#[test]
fn out_of_range_ids() {
    let sb = Sandbox::new("ids");
    for id in ["-1", "4294967295", "4294967296", "-65534"] {
        refused(
            &sb,
            bare(&sb).user(id),
            67,
            "user",
            &[&format!("user id {id} out of range")],
        );
        refused(
            &sb,
            bare(&sb).group(id),
            67,
            "group",
            &[&format!("group id {id} out of range")],
        );
    }
}

#[test]
fn umask_above_0o777() {
    let sb = Sandbox::new("umask");
    for mask in ["1000", "7777"] {
        refused(
            &sb,
            bare(&sb).umask(mask),
            64,
            "umask",
            &[&format!("0o{mask} is above 0o777")],
        );
    }
}

#[test]
fn soft_limit_above_hard_limit() {
    let sb = Sandbox::new("limits");
    refused(
        &sb,
        bare(&sb).limit("nofile:100:10"),
        64,
        "limits",
        &["RLIMIT_NOFILE", "soft limit 100 above hard limit 10"],
    );
    refused(
        &sb,
        bare(&sb).limit("core:inf:0"),
        64,
        "limits",
        &["RLIMIT_CORE", "soft limit unlimited above hard limit 0"],
    );
}

#[test]
fn a_full_start_from_a_process_with_a_second_thread() {
    let sb = Sandbox::new("thread");
    refused(
        &sb,
        bare(&sb).thread(),
        70,
        "preflight",
        &[
            "the process runs 2 threads",
            // A hint for builder and attribute users alike.
            "start the daemon before any thread or async runtime is created",
            "Daemon::start first thing in main",
            "#[daemonizer::daemon] above #[tokio::main]",
        ],
    );
    // Where unshare is refused, the threads are counted in /proc.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    refused(
        &sb,
        bare(&sb).thread().refuse("unshare"),
        70,
        "preflight",
        &["the process runs 2 threads"],
    );
}

#[test]
fn a_full_start_from_a_process_sharing_its_memory() {
    let sb = Sandbox::new("vm-child");
    refused(
        &sb,
        bare(&sb).arg("--vm-child"),
        70,
        "preflight",
        &["the process shares its memory with another process"],
    );
}

#[test]
fn output_files_in_a_missing_directory_or_that_are_directories() {
    let sb = Sandbox::new("outputs");
    let missing = sb.path("no-dir").join("out.log");
    let dir = sb.path("a-dir");
    fs::create_dir(&dir).unwrap();
    for which in ["--stdout", "--stderr"] {
        refused(
            &sb,
            bare(&sb).arg(which).arg(&missing),
            66,
            "stdio",
            &[&shown(&missing), "No such file or directory"],
        );
        refused(
            &sb,
            bare(&sb).arg(which).arg(&dir),
            73,
            "stdio",
            &[&shown(&dir), "Is a directory"],
        );
    }
}

/// `/proc/sys/fs/nr_open`: no process may raise `RLIMIT_NOFILE` above it.
fn nr_open() -> u64 {
    fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 20)
}

#[test]
fn a_step_failing_after_the_fork_is_reported_by_the_launcher() {
    // A limit the kernel refuses can only be found out by setting it, in
    // the daemon, after the fork.
    let sb = Sandbox::new("late-limit");
    let too_many = nr_open() + 1;
    let outcome = run(bare(&sb)
        .limit(format!("nofile:{too_many}"))
        .facts(sb.path("facts")));
    outcome.assert_refused(
        77,
        "limits",
        &[
            &format!("RLIMIT_NOFILE soft {too_many}"),
            "Operation not permitted",
        ],
    );
    sb.wait_no_processes();
    assert!(!sb.path("pid").exists(), "the pid file it created is gone");
    let facts = fs::read_to_string(sb.path("facts")).unwrap();
    assert!(facts.is_empty(), "the body never ran: {facts:?}");
}

/// A fork the system refuses (a process limit, a sandbox) fails the start
/// in the launcher, whichever fork it is, and leaves nothing behind.
#[test]
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn a_refused_fork_fails_the_start_and_leaves_nothing() {
    let sb = Sandbox::new("nofork");
    // The first fork, in the launcher.
    refused(
        &sb,
        bare(&sb).refuse("fork"),
        71,
        "detach",
        &["detach: fork: Try again"],
    );
    // The daemon's fork, made by the first child.
    refused(
        &sb,
        bare(&sb).refuse("second-fork"),
        71,
        "detach",
        &["detach: second fork: Try again"],
    );
}

#[test]
fn a_daemon_killed_before_it_is_ready_fails_the_start() {
    Sandbox::new("killed-early").kill_before_ready("once");
}

#[test]
fn a_work_dir_that_escapes_the_chroot_fails_after_the_fork() {
    if !root_or_skip("a_work_dir_that_escapes_the_chroot_fails_after_the_fork") {
        return;
    }
    // <root>/w is a symlink to an absolute host path: it is a directory on
    // the host (so the launcher's checks pass) but not inside the chroot.
    let sb = Sandbox::new("escape");
    let root = sb.path("root");
    let outside = sb.path("outside");
    fs::create_dir(&root).unwrap();
    fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("w")).unwrap();
    let outcome = run(bare(&sb).chroot(&root).workdir("/w"));
    outcome.assert_refused(66, "work dir", &["/w", "No such file or directory"]);
    sb.wait_no_processes();
    assert!(!sb.path("pid").exists(), "the pid file it created is gone");
}

#[test]
fn a_failing_step_in_lite_mode_is_reported_and_undone() {
    // Lite mode runs the steps in the launched process itself: a limit the
    // kernel refuses fails the start there, and the pid file it created
    // is removed.
    let sb = Sandbox::new("lite-limit");
    let too_many = nr_open() + 1;
    let outcome = run(bare(&sb).lite().limit(format!("nofile:{too_many}")));
    outcome.assert_refused(77, "limits", &[&format!("RLIMIT_NOFILE soft {too_many}")]);
    sb.wait_no_processes();
    assert!(!sb.path("pid").exists(), "the pid file it created is gone");
}

#[test]
fn a_lite_start_refuses_a_running_daemon() {
    let sb = Sandbox::new("lite-second");
    start(sb.daemon());
    let pid = wait_pidfile(&sb.path("pid"));
    // The body writes its facts after ready: wait for them, so that the
    // snapshots compare a directory nothing else changes.
    facts(&sb.path("facts"));
    let before = sb.snapshot();
    let outcome = run(bare(&sb).lite());
    outcome.assert_refused(75, "pid file", &[&format!("already running as PID {pid}")]);
    assert_eq!(before, sb.snapshot());
    assert!(alive(pid));
    stop(pid, &sb.path("pid"));
}

#[test]
fn a_refused_output_file_leaves_no_other_output_file() {
    // stdout can be created, stderr cannot: the start is refused and the
    // stdout file it created is gone again.
    let sb = Sandbox::new("outputs-pair");
    let dir = sb.path("a-dir");
    fs::create_dir(&dir).unwrap();
    refused(
        &sb,
        bare(&sb).stdout(sb.path("out.log")).stderr(&dir),
        73,
        "stdio",
        &[&shown(&dir), "Is a directory"],
    );
}

#[test]
fn a_start_failing_after_the_fork_leaves_no_new_output_file() {
    let sb = Sandbox::new("late-outputs");
    let too_many = nr_open() + 1;
    let before = sb.snapshot();
    let outcome = run(bare(&sb)
        .stdout(sb.path("out.log"))
        .stderr(sb.path("err.log"))
        .limit(format!("nofile:{too_many}")));
    outcome.assert_refused(77, "limits", &["RLIMIT_NOFILE"]);
    sb.wait_no_processes();
    assert_eq!(before, sb.snapshot(), "no pid file, no output file");
}
