//! Hostile pid file paths: each is refused with one line naming the step
//! and the path, a non-zero exit, and nothing created, followed or
//! overwritten.

mod common;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use common::*;

fn with_pidfile(sb: &Sandbox, path: &Path) -> Scenario {
    sb.scenario("daemon").pidfile(path)
}

fn refused(sb: &Sandbox, cmd: impl Launch, code: i32, mentions: &[&str]) {
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

/// [`refused`] for a start with `path` as its pid file and nothing else.
fn refused_pidfile(sb: &Sandbox, path: &Path, code: i32, mentions: &[&str]) {
    refused(sb, with_pidfile(sb, path), code, mentions);
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
    refused_pidfile(&sb, &link, 73, &[&shown(&link), "is a symbolic link"]);
    assert!(!target.exists(), "the symlink's target was not created");
}

#[test]
fn symlink_to_a_file_whose_content_must_survive() {
    let sb = Sandbox::new("symlink");
    let link = sb.path("pid");
    let target = sb.path("precious");
    fs::write(&target, "precious content\n").unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    refused_pidfile(&sb, &link, 73, &[&shown(&link), "is a symbolic link"]);
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious content\n");
}

#[test]
fn directory() {
    let sb = Sandbox::new("dir");
    let dir = sb.path("pid");
    fs::create_dir(&dir).unwrap();
    refused_pidfile(&sb, &dir, 73, &[&shown(&dir), "is a directory"]);
}

#[test]
fn fifo() {
    let sb = Sandbox::new("fifo");
    let fifo = sb.path("pid");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    // Opening a FIFO without a writer would block: the launcher must look
    // before it opens, and end (run() fails the test if it hangs).
    refused_pidfile(&sb, &fifo, 73, &[&shown(&fifo), "is a FIFO"]);
}

#[test]
fn missing_directory() {
    let sb = Sandbox::new("missing");
    let path = sb.path("no-such-dir").join("pid");
    refused_pidfile(
        &sb,
        &path,
        66,
        &[
            &shown(&path),
            &format!(
                "the directory {} does not exist (create it first: install -d {})",
                shown(&sb.path("no-such-dir")),
                shown(&sb.path("no-such-dir"))
            ),
            "No such file or directory",
        ],
    );
}

#[test]
fn unwritable_directory() {
    let sb = Sandbox::new("unwritable");
    let dir = sb.path("ro");
    fs::create_dir(&dir).unwrap();
    let path = dir.join("pid");
    let mut cmd = with_pidfile(&sb, &path).command();
    if is_root() {
        // Root writes anywhere: the launcher runs as `nobody` instead, and
        // the directory stays root's, 0755. A copy of the program in the
        // sandbox is sure to be reachable by `nobody`. `cp` makes it, not
        // this process: a program spawned by another test thread meanwhile
        // would inherit the copy's descriptor open for writing until its
        // exec, and executing the copy would then fail with ETXTBSY.
        let (uid, gid, _) = groups_of("nobody").expect("a user nobody");
        let copy = sb.reachable_scenario();
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
    refused(&sb, cmd, 77, &[&shown(&path), "Permission denied"]);
}

#[test]
fn path_longer_than_path_max() {
    let sb = Sandbox::new("long");
    let mut long = sb.dir.clone();
    while long.as_os_str().len() <= 4200 {
        long.push("component");
    }
    long.push("pid");
    refused_pidfile(&sb, &long, 73, &[&shown(&long), "File name too long"]);
}

#[test]
fn empty_path_and_directory_path() {
    let sb = Sandbox::new("empty");
    refused_pidfile(&sb, Path::new(""), 64, &["empty path"]);
    let slash = format!("{}/", sb.path("pid").display());
    refused_pidfile(&sb, Path::new(&slash), 64, &[&slash, "not a file name"]);
}

#[test]
fn a_symlinked_pid_file_of_a_running_daemon_is_not_followed_either() {
    // A symlink planted next to a running daemon's pid file changes
    // nothing for the daemon and is refused for a second start.
    let sb = Sandbox::new("planted");
    start(sb.daemon());
    let pid = wait_pidfile(&sb.path("pid"));
    // The body writes its facts after ready: wait for them, so that the
    // snapshots compare a directory nothing else changes.
    facts(&sb.path("facts"));
    let link = sb.path("pid-link");
    std::os::unix::fs::symlink(sb.path("pid"), &link).unwrap();
    let before = sb.snapshot();
    let outcome = run(with_pidfile(&sb, &link));
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
    let cmd = with_pidfile(&sb, &link)
        .stdout(sb.path("new.log"))
        .stderr(&old_log);
    refused(&sb, cmd, 73, &[&shown(&link), "is a symbolic link"]);
    assert!(!sb.path("new.log").exists());
    assert_eq!(fs::read_to_string(&old_log).unwrap(), "earlier lines\n");
}

#[test]
fn pid_file_that_is_also_the_stdout_file() {
    // A log that already holds lines must not be emptied by the lock.
    let sb = Sandbox::new("pid-is-log");
    let log = sb.path("daemon.log");
    fs::write(&log, "yesterday's lines\n").unwrap();
    let cmd = with_pidfile(&sb, &log).stdout(&log);
    refused(&sb, cmd, 64, &[&shown(&log), "is also the stdout file"]);
    assert_eq!(fs::read_to_string(&log).unwrap(), "yesterday's lines\n");
}

#[test]
fn pid_file_that_is_another_name_of_the_stderr_file() {
    // Two names of one file: the stderr file, opened first, is refused for
    // its second name before the pid file is looked at.
    let sb = Sandbox::new("pid-is-err");
    let err = sb.path("err.log");
    fs::write(&err, "kept\n").unwrap();
    let second_name = sb.path("pid");
    fs::hard_link(&err, &second_name).unwrap();
    let cmd = with_pidfile(&sb, &second_name).stderr(&err);
    let before = sb.snapshot();
    run(cmd).assert_refused(77, "stdio", &[&shown(&err), "has 2 hard links"]);
    assert_eq!(before, sb.snapshot(), "nothing created or changed");
}

#[test]
fn new_pid_file_that_is_also_the_stdout_file() {
    // Neither exists yet: the output file the start created goes again.
    let sb = Sandbox::new("pid-is-new-log");
    let path = sb.path("both");
    let cmd = with_pidfile(&sb, &path).stdout(&path);
    refused(&sb, cmd, 64, &[&shown(&path), "is also the stdout file"]);
}

/// Like [`refused`], for any step.
fn refused_at(sb: &Sandbox, cmd: impl Launch, code: i32, step: &str, mentions: &[&str]) {
    let before = sb.snapshot();
    run(cmd).assert_refused(code, step, mentions);
    sb.wait_no_processes();
    assert_eq!(
        before,
        sb.snapshot(),
        "nothing created, followed or changed"
    );
}

/// Like [`refused_at`], for the `stdio` step: a start with the sandbox's
/// pid file and `options` (an output file among them).
fn refused_output(
    sb: &Sandbox,
    options: impl FnOnce(Scenario) -> Scenario,
    code: i32,
    mentions: &[&str],
) {
    let cmd = options(with_pidfile(sb, &sb.path("pid")));
    refused_at(sb, cmd, code, "stdio", mentions);
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// The uid and gid of `nobody`, the second user of these tests.
fn nobody() -> (u32, u32) {
    let (uid, gid, _) = groups_of("nobody").expect("a user nobody");
    (uid, gid)
}

/// A file of root's that a followed symlink would damage: `precious` in
/// the sandbox, holding one known line (see [`assert_precious_untouched`]).
fn precious_of_root(sb: &Sandbox) -> std::path::PathBuf {
    let precious = sb.path("precious");
    fs::write(&precious, PRECIOUS).unwrap();
    precious
}

const PRECIOUS: &str = "root's lines\n";

/// The file made by [`precious_of_root`] still holds exactly its line.
fn assert_precious_untouched(precious: &Path) {
    assert_eq!(fs::read_to_string(precious).unwrap(), PRECIOUS);
}

/// A new directory at `dir` owned by `uid`:`gid`.
fn dir_owned_by(dir: &Path, uid: u32, gid: u32) {
    fs::create_dir(dir).unwrap();
    std::os::unix::fs::chown(dir, Some(uid), Some(gid)).unwrap();
}

/// A symlink at `link` to `target`, itself (not its target) owned by
/// `uid`:`gid`, as if that user had made it.
fn planted_symlink(target: &Path, link: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::symlink(target, link).unwrap();
    std::os::unix::fs::lchown(link, Some(uid), Some(gid)).unwrap();
}

#[test]
fn pid_file_with_a_second_hard_link_is_refused_untouched() {
    // A second name of a file only root may read: writing the PID through
    // the link would destroy it.
    let sb = Sandbox::new("pid-hardlink");
    let precious = sb.path("precious");
    fs::write(&precious, "secret\n").unwrap();
    chmod(&precious, 0o600);
    let pid = sb.path("pid");
    fs::hard_link(&precious, &pid).unwrap();
    refused_pidfile(&sb, &pid, 77, &[&shown(&pid), "has 2 hard links"]);
    assert_eq!(fs::read_to_string(&precious).unwrap(), "secret\n");
}

#[test]
fn pid_file_owned_by_another_user_is_refused_naming_the_owner() {
    if !root_or_skip("pid_file_owned_by_another_user_is_refused_naming_the_owner") {
        return;
    }
    // Its owner could rewrite it at any time: fake "already running as
    // PID 1", or point the stop command at any process.
    let sb = Sandbox::new("pid-foreign");
    let pid = sb.path("pid");
    fs::write(&pid, "1\n").unwrap();
    let (uid, gid) = nobody();
    std::os::unix::fs::chown(&pid, Some(uid), Some(gid)).unwrap();
    refused_pidfile(
        &sb,
        &pid,
        77,
        &[&shown(&pid), &format!("is owned by user {uid} (nobody)")],
    );
}

#[test]
fn pid_file_writable_by_every_user_is_refused() {
    let sb = Sandbox::new("pid-0666");
    let pid = sb.path("pid");
    fs::write(&pid, "").unwrap();
    chmod(&pid, 0o666);
    refused_pidfile(&sb, &pid, 77, &[&shown(&pid), "is writable by every user"]);
}

#[test]
fn pid_file_in_a_directory_every_user_can_write_is_refused() {
    // Not sticky: anyone may swap the file during the start. The check
    // covers every directory above the file, too.
    let sb = Sandbox::new("pid-dir-0777");
    let open = sb.path("open");
    fs::create_dir_all(open.join("sub")).unwrap();
    chmod(&open, 0o777);
    for path in [open.join("pid"), open.join("sub").join("pid")] {
        refused_pidfile(
            &sb,
            &path,
            77,
            &[
                &shown(&path),
                &format!("{} is writable by every user and not sticky", shown(&open)),
            ],
        );
    }
    // Sticky (as /tmp is), each user may only remove their own files.
    chmod(&open, 0o1777);
    let pidfile = open.join("pid");
    start(with_pidfile(&sb, &pidfile));
    let pid = wait_pidfile(&pidfile);
    stop(pid, &pidfile);
}

#[test]
fn pid_file_in_a_directory_of_another_user_or_group_is_refused() {
    if !root_or_skip("pid_file_in_a_directory_of_another_user_or_group_is_refused") {
        return;
    }
    let (uid, gid) = nobody();
    let sb = Sandbox::new("pid-dir-foreign");
    // Owned by nobody: its owner controls it, sticky or not.
    let theirs = sb.path("theirs");
    fs::create_dir(&theirs).unwrap();
    chmod(&theirs, 0o1755);
    std::os::unix::fs::chown(&theirs, Some(uid), Some(gid)).unwrap();
    let path = theirs.join("pid");
    refused_pidfile(
        &sb,
        &path,
        77,
        &[&shown(&path), &format!("belongs to user {uid} (nobody)")],
    );
    // Writable by nobody's group.
    let group = sb.path("group");
    fs::create_dir(&group).unwrap();
    chmod(&group, 0o775);
    std::os::unix::fs::chown(&group, Some(0), Some(gid)).unwrap();
    let path = group.join("pid");
    refused_pidfile(
        &sb,
        &path,
        77,
        &[
            &shown(&path),
            &format!("is writable by group {gid}"),
            "not sticky",
        ],
    );
    // The same directories are the daemon's own when it runs as nobody.
    for dir in [&theirs, &group] {
        let pidfile = dir.join("pid");
        start(
            with_pidfile(&sb, &pidfile)
                .facts(sb.path("facts"))
                .user("nobody"),
        );
        let pid = wait_pidfile(&pidfile);
        stop(pid, &pidfile);
        let _ = fs::remove_file(sb.path("facts"));
    }
}

#[test]
fn pid_file_on_a_pseudo_filesystem_is_refused() {
    if !root_or_skip("pid_file_on_a_pseudo_filesystem_is_refused") {
        return;
    }
    // Root may write /proc/sys/kernel/domainname; a daemon must not. The
    // launcher runs in a UTS namespace of its own, so that even a
    // regression could not rename this machine's domain.
    let sb = Sandbox::new("pid-procfs");
    let target = Path::new("/proc/sys/kernel/domainname");
    let mut cmd = Command::new("unshare");
    cmd.arg("--uts")
        .arg(scenario_bin())
        .args(with_pidfile(&sb, target).command().get_args())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let outcome = run(cmd);
    if outcome.stderr.starts_with("unshare:") {
        let why = format!("no UTS namespace here: {}", outcome.stderr.trim());
        return skip("pid_file_on_a_pseudo_filesystem_is_refused", &why);
    }
    outcome.assert_refused(
        73,
        "pid file",
        &[&shown(target), "is on procfs, a pseudo filesystem"],
    );
}

#[test]
fn stdout_fifo_without_a_reader_is_refused_at_once() {
    // Opening it for writing would wait for a reader, with every signal
    // blocked: the launcher could only be killed.
    let sb = Sandbox::new("out-fifo");
    let fifo = sb.path("out");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    refused_output(
        &sb,
        |s| s.stdout(&fifo),
        73,
        &[&shown(&fifo), "is a FIFO without a reader"],
    );
}

#[test]
fn stdout_fifo_with_a_reader_gets_the_output() {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let sb = Sandbox::new("out-fifo-read");
    let fifo = sb.path("out");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // The reader is this test, without blocking.
    let mut reader = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    start(sb.daemon().stdout(&fifo));
    let pid = wait_pidfile(&sb.path("pid"));
    let mut got = String::new();
    wait_until("the daemon's line in the FIFO", || {
        let mut buf = [0u8; 256];
        if let Ok(n) = reader.read(&mut buf) {
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        got.contains(&format!("hello stdout from {pid}"))
    });
    stop(pid, &sb.path("pid"));
}

#[test]
fn stdout_dangling_symlink_creates_no_file() {
    let sb = Sandbox::new("out-dangling");
    let link = sb.path("out.log");
    let target = sb.path("chosen-by-someone");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    refused_output(
        &sb,
        |s| s.stdout(&link),
        73,
        &[&shown(&link), "is a dangling symbolic link"],
    );
    assert!(!target.exists(), "the symlink's target was not created");
}

#[test]
fn stdout_symlink_of_another_user_is_not_followed() {
    if !root_or_skip("stdout_symlink_of_another_user_is_not_followed") {
        return;
    }
    let (uid, gid) = nobody();
    let sb = Sandbox::new("out-foreign-link");
    let precious = precious_of_root(&sb);
    let link = sb.path("out.log");
    planted_symlink(&precious, &link, uid, gid);
    refused_output(
        &sb,
        |s| s.stderr(&link),
        77,
        &[
            &shown(&link),
            &format!("the symbolic link belongs to user {uid} (nobody)"),
        ],
    );
    assert_precious_untouched(&precious);
}

#[test]
fn stdout_symlink_into_another_users_directory_is_not_followed() {
    if !root_or_skip("stdout_symlink_into_another_users_directory_is_not_followed") {
        return;
    }
    // Root's own symlink, in root's directory, leads into a directory
    // `nobody` owns; there `nobody` puts a symlink to a file of root's.
    let (uid, gid) = nobody();
    let sb = Sandbox::new("out-link-into-foreign-dir");
    let precious = precious_of_root(&sb);
    let theirs = sb.path("theirs");
    dir_owned_by(&theirs, uid, gid);
    let planted = theirs.join("out.log");
    planted_symlink(&precious, &planted, uid, gid);
    let link = sb.path("out.log");
    std::os::unix::fs::symlink(&planted, &link).unwrap();
    refused_output(
        &sb,
        |s| s.stdout(&link),
        77,
        &[&shown(&planted), &format!("belongs to user {uid} (nobody)")],
    );
    assert_precious_untouched(&precious);
}

#[test]
fn stdout_symlink_of_the_daemons_user_never_leads_to_a_file_of_roots() {
    if !root_or_skip("stdout_symlink_of_the_daemons_user_never_leads_to_a_file_of_roots") {
        return;
    }
    // The daemon runs as `nobody`, and its log directory is `nobody`'s:
    // a daemon taken over there points its log at a file of root's, for
    // the next start (made by root) to append to.
    let (uid, gid) = nobody();
    let sb = Sandbox::new("out-link-of-daemon-user");
    let precious = precious_of_root(&sb);
    let logs = sb.path("logs");
    dir_owned_by(&logs, uid, gid);
    let link = logs.join("out.log");
    planted_symlink(&precious, &link, uid, gid);
    refused_output(
        &sb,
        |s| s.user("nobody").stdout(&link),
        77,
        &[
            &format!(
                "{}: is a symbolic link of user {uid} (nobody)",
                shown(&link)
            ),
            &format!("{}, which belongs to user 0 (root)", shown(&precious)),
        ],
    );
    assert_precious_untouched(&precious);
}

#[test]
fn stdout_symlink_of_roots_in_a_directory_of_the_daemons_user_never_leads_to_a_file_of_roots() {
    if !root_or_skip(
        "stdout_symlink_of_roots_in_a_directory_of_the_daemons_user_never_leads_to_a_file_of_roots",
    ) {
        return;
    }
    // Root's own link, but in a directory the daemon's user owns: that
    // user may swap it for a link of theirs at any moment.
    let user = TempUser::new("rootlnk");
    let sb = Sandbox::new("out-root-link-in-user-dir");
    let precious = precious_of_root(&sb);
    let logs = sb.path("logs");
    dir_owned_by(&logs, user.uid, user.gid);
    let link = logs.join("out.log");
    std::os::unix::fs::symlink(&precious, &link).unwrap();
    refused_output(
        &sb,
        |s| s.user(&user.name).stdout(&link),
        77,
        &[
            &format!(
                "{}: is a symbolic link of user 0 (root), in a directory of user {} ({}),",
                shown(&link),
                user.uid,
                user.name
            ),
            &format!("{}, which belongs to user 0 (root)", shown(&precious)),
        ],
    );
    assert_precious_untouched(&precious);
}

#[test]
fn stdout_symlink_of_the_daemons_user_to_its_own_file_is_followed() {
    if !root_or_skip("stdout_symlink_of_the_daemons_user_to_its_own_file_is_followed") {
        return;
    }
    let user = TempUser::new("ownlnk");
    let sb = Sandbox::new("out-users-own-link");
    let logs = sb.path("logs");
    dir_owned_by(&logs, user.uid, user.gid);
    let real = logs.join("real.log");
    fs::write(&real, "").unwrap();
    std::os::unix::fs::chown(&real, Some(user.uid), Some(user.gid)).unwrap();
    let link = logs.join("out.log");
    planted_symlink(&real, &link, user.uid, user.gid);
    start(sb.daemon().user(&user.name).stdout(&link));
    let pid = wait_pidfile(&sb.path("pid"));
    wait_until("the daemon's line in the symlink's target", || {
        fs::read_to_string(&real).is_ok_and(|t| t.contains(&format!("hello stdout from {pid}")))
    });
    // The daemon's user may not remove root's pid file: it empties it.
    kill(pid, libc::SIGTERM);
    wait_dead(pid);
}

#[test]
fn stdout_symlink_of_the_daemons_user_is_followed() {
    // Root's (or this user's) own symlink in its own directory: the usual
    // way to point a log somewhere else.
    let sb = Sandbox::new("out-own-link");
    let real = sb.path("real.log");
    fs::write(&real, "").unwrap();
    let link = sb.path("out.log");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    start(sb.daemon().stdout(&link));
    let pid = wait_pidfile(&sb.path("pid"));
    wait_until("the daemon's line in the symlink's target", || {
        fs::read_to_string(&real).is_ok_and(|t| t.contains(&format!("hello stdout from {pid}")))
    });
    stop(pid, &sb.path("pid"));
}

#[test]
fn stdout_file_with_a_second_hard_link_is_refused() {
    let sb = Sandbox::new("out-hardlink");
    let precious = sb.path("precious");
    fs::write(&precious, "secret\n").unwrap();
    chmod(&precious, 0o600);
    let log = sb.path("out.log");
    fs::hard_link(&precious, &log).unwrap();
    refused_output(
        &sb,
        |s| s.stdout(&log),
        77,
        &[&shown(&log), "has 2 hard links"],
    );
}

#[test]
fn stdout_file_owned_by_another_user_is_refused() {
    if !root_or_skip("stdout_file_owned_by_another_user_is_refused") {
        return;
    }
    let (uid, gid) = nobody();
    let sb = Sandbox::new("out-foreign");
    let log = sb.path("out.log");
    fs::write(&log, "").unwrap();
    std::os::unix::fs::chown(&log, Some(uid), Some(gid)).unwrap();
    refused_output(
        &sb,
        |s| s.stdout(&log),
        77,
        &[&shown(&log), &format!("is owned by user {uid} (nobody)")],
    );
}

#[test]
fn a_failed_start_removes_the_output_files_it_created_whatever_the_path() {
    // The daemon writes into its new logs, then fails before it is ready:
    // the files this start created go, found through the directory they
    // were created in (here behind a symlinked directory), never by a
    // second lookup of the path. A log that existed before stays.
    let sb = Sandbox::new("outputs-removed");
    let real = sb.path("real");
    fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, sb.path("via")).unwrap();
    let old_log = sb.path("old.log");
    fs::write(&old_log, "earlier lines\n").unwrap();
    let launcher = sb
        .daemon()
        .manual()
        .stdout(sb.path("via").join("new.log"))
        .stderr(&old_log)
        .spawn();
    let pid: i32 = facts(&sb.path("facts"))["pid"].parse().unwrap();
    wait_until("the daemon's line in the new log", || {
        fs::read_to_string(real.join("new.log"))
            .is_ok_and(|t| t.contains(&format!("hello stdout from {pid}")))
    });
    sb.trigger("err");
    let outcome = finish(launcher);
    assert!(!outcome.success(), "{outcome:?}");
    sb.wait_no_processes();
    assert!(!real.join("new.log").exists(), "the created log is gone");
    assert!(fs::read_to_string(&old_log)
        .unwrap()
        .starts_with("earlier lines\n"));
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))] // the tracer's platform
#[test]
fn a_symlink_swapped_in_between_the_look_and_the_open_is_not_followed() {
    // The launcher looks at an existing pid file without following it,
    // then opens it: a symlink renamed over it in between must be refused
    // by the open itself. It leads to a running daemon's pid file, which a
    // start that followed it would hold open and report as running.
    let sb = Sandbox::new("swapped-link");
    start(sb.daemon());
    let running = wait_pidfile(&sb.path("pid"));
    facts(&sb.path("facts"));
    let pidfile = sb.path("swapped.pid");
    fs::write(&pidfile, "").unwrap();
    let tag = format!("{}/", sb.dir.display());
    let (paused, go) = (sb.path("paused"), sb.path("go"));
    let traced = sb
        .command("pause-after-stat")
        .arg("=swapped.pid")
        .arg(&paused)
        .arg(&go)
        .args(["--", "daemon", "--sandbox", &tag, "--pidfile"])
        .arg(&pidfile)
        .spawn()
        .unwrap();
    wait_until("the start to look at its pid file", || paused.exists());
    let planted = sb.path("planted");
    std::os::unix::fs::symlink(sb.path("pid"), &planted).unwrap();
    fs::rename(&planted, &pidfile).unwrap();
    // The start made its lock file before it looked at the pid file; a
    // refused start removes it again.
    let lock_file = sb.path(".swapped.pid.lock");
    let before = snapshot_without(&sb, &[&paused, &lock_file]);
    fs::write(&go, "").unwrap();
    let outcome = finish(traced);
    assert!(
        outcome.stdout.ends_with(" exit 73\n"),
        "the start was refused (exit 73): {outcome:?}"
    );
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(
        lines,
        [format!(
            "scenario: cannot start daemon: pid file: {}: is a symbolic link, \
             refused (a pid file must be a regular file)",
            shown(&pidfile)
        )],
        "{outcome:?}"
    );
    assert_eq!(before, snapshot_without(&sb, &[&paused, &go]));
    assert!(
        !lock_file.exists(),
        "the refused start removed its lock file"
    );
    assert!(alive(running));
    stop(running, &sb.path("pid"));
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))] // used by the tracer tests alone
/// The sandbox's snapshot without the entries `skip` (a tracer's files).
fn snapshot_without(
    sb: &Sandbox,
    skip: &[&Path],
) -> std::collections::BTreeMap<std::path::PathBuf, String> {
    let mut snap = sb.snapshot();
    snap.retain(|path, _| !skip.contains(&path.as_path()));
    snap
}

#[test]
fn a_stop_signals_the_lock_holder_not_the_process_its_pid_file_names() {
    // The running daemon's pid file rewritten to name another live
    // process (as its owner may): the stop ends the daemon that holds the
    // lock, and the other process gets no signal.
    let sb = Sandbox::new("rewritten-pid");
    let pidfile = sb.path("pid");
    start(with_pidfile(&sb, &pidfile));
    let daemon = wait_pidfile(&pidfile);
    // Records SIGHUP and SIGUSR1; SIGTERM would end it.
    let record = sb.path("record");
    let mut decoy = sb
        .command("daemon")
        .arg("--lite")
        .arg("--facts")
        .arg(sb.path("decoy-facts"))
        .arg("--record")
        .arg(&record)
        .spawn()
        .unwrap();
    let decoy_pid = decoy.id() as i32;
    facts(&sb.path("decoy-facts"));
    fs::write(&pidfile, format!("{decoy_pid}\n")).unwrap();
    let outcome = run(sb
        .command("stop")
        .arg("--commands")
        .arg("--pidfile")
        .arg(&pidfile));
    assert_eq!(
        (
            outcome.code(),
            outcome.stdout.as_str(),
            outcome.stderr.as_str()
        ),
        (
            Some(0),
            format!("scenario stopped (PID {daemon})\n").as_str(),
            ""
        ),
        "{outcome:?}"
    );
    wait_dead(daemon);
    assert!(
        decoy.try_wait().unwrap().is_none() && alive(decoy_pid),
        "the process the file named runs on"
    );
    assert!(!record.exists(), "and got no signal it records");
    decoy.kill().unwrap();
    decoy.wait().unwrap();
}

#[test]
fn stdout_file_in_a_directory_every_user_can_write_is_refused_and_not_created() {
    // Not sticky: anyone may swap the log for a symlink to a file of
    // root's between the checks and the open.
    let sb = Sandbox::new("out-dir-0777");
    let open = sb.path("open");
    fs::create_dir(&open).unwrap();
    chmod(&open, 0o777);
    let log = open.join("out.log");
    refused_output(
        &sb,
        |s| s.stdout(&log),
        77,
        &[
            &shown(&log),
            &format!(
                "its directory {} is writable by every user and not sticky",
                shown(&open)
            ),
        ],
    );
    assert!(!log.exists(), "no log was created");
}

#[test]
fn stdout_file_in_a_directory_of_another_user_is_refused_and_not_created() {
    if !root_or_skip("stdout_file_in_a_directory_of_another_user_is_refused_and_not_created") {
        return;
    }
    // Its owner controls it, 0755 as it is: the file could be swapped at
    // any moment.
    let (uid, gid) = nobody();
    let sb = Sandbox::new("out-dir-foreign");
    let theirs = sb.path("theirs");
    dir_owned_by(&theirs, uid, gid);
    let log = theirs.join("out.log");
    refused_output(
        &sb,
        |s| s.stdout(&log),
        77,
        &[
            &shown(&log),
            &format!(
                "its directory {} belongs to user {uid} (nobody)",
                shown(&theirs)
            ),
        ],
    );
    assert!(!log.exists(), "no log was created");
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))] // used by the tracer tests alone
/// A process whose parent is `parent`, from `/proc`.
fn child_of(parent: i32) -> Option<i32> {
    fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|&pid| stat(pid).is_some_and(|s| s.ppid == parent))
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))] // used by the tracer tests alone
/// The PID that `host_pid` has in its own PID namespace (the last field
/// of `NSpid:` in `/proc/<pid>/status`).
fn pid_in_namespace(host_pid: i32) -> Option<i32> {
    let text = fs::read_to_string(format!("/proc/{host_pid}/status")).ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    line.split_whitespace().last()?.parse().ok()
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))] // the tracer's platform
#[test]
fn a_stop_whose_daemon_is_replaced_by_a_decoy_after_its_probe_leaves_the_decoy_alone() {
    let test = "a_stop_whose_daemon_is_replaced_by_a_decoy_after_its_probe_leaves_the_decoy_alone";
    if !root_or_skip(test) {
        return;
    }
    // The stop has asked who holds the lock (the daemon, PID P) and is
    // held there; the daemon dies and an unrelated process gets PID P.
    // The stop must find the lock free, not signal P. The PID is reused
    // on purpose, in a PID namespace of this test's own, where
    // /proc/sys/kernel/ns_last_pid chooses the next one.
    use std::process::Stdio;
    let sb = Sandbox::new("decoy");
    let tag = format!("{}/", sb.dir.display());
    // The namespace's first process ignores SIGCHLD, so whatever ends in
    // the namespace is reaped at once and its PID is free again.
    let mut ns = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "perl", "-e"])
        .arg("$SIG{CHLD} = 'IGNORE'; sleep 600")
        .arg(&tag)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn unshare");
    let unshare = ns.id() as i32;
    let init = wait_for("the namespace's first process", || {
        let init = child_of(unshare)?;
        let ignored = fs::read_to_string(format!("/proc/{init}/status")).ok()?;
        let ignored = ignored.lines().find_map(|l| l.strip_prefix("SigIgn:"))?;
        let ignored = u64::from_str_radix(ignored.trim(), 16).ok()?;
        (ignored & 1 << (libc::SIGCHLD - 1) != 0).then_some(init)
    });
    let in_ns = |program: &Path| {
        let mut cmd = Command::new("nsenter");
        cmd.arg("--target")
            .arg(init.to_string())
            .args(["--pid", "--"])
            .arg(program)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    let scenario = scenario_bin();
    let pidfile = sb.path("pid");
    start(
        in_ns(&scenario)
            .args(["daemon", "--sandbox", &tag, "--pidfile"])
            .arg(&pidfile)
            .arg("--facts")
            .arg(sb.path("facts")),
    );
    let pid = wait_pidfile(&pidfile);
    facts(&sb.path("facts"));
    let daemon = sb
        .processes()
        .into_iter()
        .find(|&p| pid_in_namespace(p) == Some(pid))
        .expect("the daemon, seen from here");

    let (paused, go) = (sb.path("paused"), sb.path("go"));
    let stopper = in_ns(&scenario)
        .args(["pause-after-probe", "--sandbox", &tag])
        .arg(&paused)
        .arg(&go)
        .args(["--", "stop", "--sandbox", &tag, "--commands", "--pidfile"])
        .arg(&pidfile)
        .spawn()
        .expect("spawn the stop");
    wait_until("the stop to ask who holds the lock", || paused.exists());

    kill(daemon, libc::SIGKILL);
    wait_until("the daemon to be gone, reaped", || stat(daemon).is_none());
    let next = run(in_ns(Path::new("sh")).args([
        "-c",
        &format!("echo {} > /proc/sys/kernel/ns_last_pid", pid - 1),
    ]));
    assert!(next.success(), "{next:?}");
    let record = sb.path("record");
    let mut decoy = in_ns(&scenario)
        .args(["daemon", "--sandbox", &tag, "--lite", "--facts"])
        .arg(sb.path("decoy-facts"))
        .arg("--record")
        .arg(&record)
        .spawn()
        .expect("spawn the decoy");
    let decoy_pid: i32 = facts(&sb.path("decoy-facts"))["pid"].parse().unwrap();
    assert_eq!(decoy_pid, pid, "the decoy has the daemon's PID");

    fs::write(&go, "").unwrap();
    let outcome = finish(stopper);
    assert!(
        outcome.stdout.starts_with("scenario is not running\n")
            && outcome.stdout.ends_with(" exit 0\n")
            && outcome.stderr.is_empty(),
        "the stop found no daemon: {outcome:?}"
    );
    assert!(
        decoy.try_wait().unwrap().is_none(),
        "the decoy was not stopped"
    );
    assert!(!record.exists(), "and got no signal it records");
    let _ = decoy.kill();
    let _ = ns.kill();
    let _ = ns.wait();
    let _ = decoy.wait();
}
