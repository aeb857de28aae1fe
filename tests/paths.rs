//! Every directory a path names is checked as the path is written, not
//! only where the kernel lands: a symbolic link that another user placed
//! anywhere on the way to the pid file, an output file or a `LogFile`
//! never takes a root daemon into a directory of root's.
//!
//! The attacker is `nobody`; the directory the links lead to is root's and
//! holds a file of root's whose content must survive.

mod common;

use std::fs;
use std::os::unix::fs::{lchown, symlink};
use std::path::{Path, PathBuf};

use common::*;

/// The uid and gid of `nobody`, the attacker of these tests.
fn nobody() -> (u32, u32) {
    let (uid, gid, _) = groups_of("nobody").expect("a user nobody");
    (uid, gid)
}

const PRECIOUS: &str = "root's lines\n";

/// A directory of root's, `root-dir`, holding `precious`, a file of root's
/// with one known line.
fn root_dir(sb: &Sandbox) -> PathBuf {
    let dir = sb.path("root-dir");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("precious"), PRECIOUS).unwrap();
    dir
}

/// The root directory still holds exactly `precious`, with its line.
fn assert_root_dir_untouched(dir: &Path) {
    let names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["precious"], "nothing created in {}", dir.display());
    assert_eq!(fs::read_to_string(dir.join("precious")).unwrap(), PRECIOUS);
}

/// `nobody`'s directory `name` in the sandbox, holding `logs`, a link of
/// `nobody`'s to `target`: what `nobody` makes of a directory of its own.
fn nobodys_link_in_nobodys_dir(sb: &Sandbox, name: &str, target: &Path) -> PathBuf {
    let (uid, gid) = nobody();
    let dir = sb.path(name);
    fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
    let link = dir.join("logs");
    symlink(target, &link).unwrap();
    lchown(&link, Some(uid), Some(gid)).unwrap();
    dir
}

/// Runs `cmd` (a start), which must be refused at `step` with status
/// `code`, naming each of `mentions`, leaving no process behind.
fn refused(sb: &Sandbox, cmd: impl Launch, code: i32, step: &str, mentions: &[&str]) {
    run(cmd).assert_refused(code, step, mentions);
    sb.wait_no_processes();
}

#[test]
fn a_pid_file_behind_a_link_in_another_users_directory_is_refused() {
    if !root_or_skip("a_pid_file_behind_a_link_in_another_users_directory_is_refused") {
        return;
    }
    let (uid, _) = nobody();
    let sb = Sandbox::new("path-pid-foreign-dir");
    let target = root_dir(&sb);
    let nob = nobodys_link_in_nobodys_dir(&sb, "nob", &target);
    // An existing file of root's (truncated and overwritten, then deleted
    // at stop, if followed) and a new name (created in root's directory).
    for name in ["precious", "new.pid"] {
        let path = nob.join("logs").join(name);
        let cmd = sb.scenario("daemon").pidfile(&path);
        refused(
            &sb,
            cmd,
            77,
            "pid file",
            &[
                &path.display().to_string(),
                &format!(
                    "the directory {} belongs to user {uid} (nobody)",
                    nob.display()
                ),
            ],
        );
        assert_root_dir_untouched(&target);
    }
}

#[test]
fn an_output_file_behind_a_link_in_another_users_directory_is_refused() {
    if !root_or_skip("an_output_file_behind_a_link_in_another_users_directory_is_refused") {
        return;
    }
    let (uid, _) = nobody();
    let sb = Sandbox::new("path-out-foreign-dir");
    let target = root_dir(&sb);
    let nob = nobodys_link_in_nobodys_dir(&sb, "nob", &target);
    for (flag, name) in [("--stdout", "precious"), ("--stderr", "new.log")] {
        let path = nob.join("logs").join(name);
        let cmd = sb.daemon().arg(flag).arg(&path);
        refused(
            &sb,
            cmd,
            77,
            "stdio",
            &[&format!(
                "the directory {} belongs to user {uid} (nobody)",
                nob.display()
            )],
        );
        assert_root_dir_untouched(&target);
        assert!(!sb.path("pid").exists(), "no pid file left behind");
    }
}

#[test]
fn a_link_of_another_user_in_a_sticky_shared_directory_is_not_followed() {
    if !root_or_skip("a_link_of_another_user_in_a_sticky_shared_directory_is_not_followed") {
        return;
    }
    let (uid, gid) = nobody();
    let sb = Sandbox::new("path-sticky-link");
    let target = root_dir(&sb);
    // Like /tmp: root's, everyone may create, nobody may replace another's.
    let shared = sb.path("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(
        &shared,
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
    let link = shared.join("logs");
    symlink(&target, &link).unwrap();
    lchown(&link, Some(uid), Some(gid)).unwrap();
    let mention = format!(
        "{} is a symbolic link of user {uid} (nobody), refused",
        link.display()
    );
    let cmd = sb.scenario("daemon").pidfile(link.join("new.pid"));
    refused(&sb, cmd, 77, "pid file", &[&mention]);
    let cmd = sb.daemon().stdout(link.join("precious"));
    refused(&sb, cmd, 77, "stdio", &[&mention]);
    assert_root_dir_untouched(&target);
}

#[test]
fn the_daemons_user_cannot_lead_roots_launcher_into_roots_directories() {
    if !root_or_skip("the_daemons_user_cannot_lead_roots_launcher_into_roots_directories") {
        return;
    }
    // The daemon's user owns its directory, which the checks accept; a
    // link it makes there must still not lead root's launcher (which opens
    // the files before the privilege drop) into a directory of root's.
    let user = TempUser::new("pathtrans");
    let sb = Sandbox::new("path-transition");
    let target = root_dir(&sb);
    let own = sb.path("own");
    fs::create_dir(&own).unwrap();
    std::os::unix::fs::chown(&own, Some(user.uid), Some(user.gid)).unwrap();
    // Led to `/` by an absolute link, to the sandbox by a relative one.
    for (name, text, landing) in [
        ("logs", target.clone(), PathBuf::from("/")),
        ("up", PathBuf::from("../root-dir"), sb.dir.clone()),
    ] {
        let link = own.join(name);
        symlink(&text, &link).unwrap();
        lchown(&link, Some(user.uid), Some(user.gid)).unwrap();
        let mention = format!(
            "{} belongs to user 0 (root) but is reached through {}, which belongs to user {}",
            landing.display(),
            link.display(),
            user.uid
        );
        let cmd = sb.daemon().user(&user.name).stdout(link.join("new.log"));
        refused(&sb, cmd, 77, "stdio", &[&mention]);
        let cmd = sb
            .scenario("daemon")
            .user(&user.name)
            .pidfile(link.join("precious"));
        refused(&sb, cmd, 77, "pid file", &[&mention]);
        assert_root_dir_untouched(&target);
    }
}

#[test]
fn roots_own_links_along_the_path_are_followed() {
    // Links that only root could have placed (root's, in root's
    // directories) are the usual `/var/run -> /run`: followed, and every
    // directory they lead through is checked in turn.
    let sb = Sandbox::new("path-root-links");
    let real = sb.path("real");
    fs::create_dir(&real).unwrap();
    symlink(&real, sb.path("absolute")).unwrap();
    symlink("real/../real", sb.path("relative")).unwrap();
    for via in ["absolute", "relative"] {
        let pidfile = sb.path(via).join(format!("{via}.pid"));
        let log = sb.path(via).join(format!("{via}.log"));
        let cmd = sb.scenario("daemon").pidfile(&pidfile).stdout(&log);
        let outcome = start(cmd);
        assert!(outcome.success(), "{outcome:?}");
        let pid = wait_pidfile(&real.join(format!("{via}.pid")));
        assert!(alive(pid));
        kill(pid, libc::SIGTERM);
        wait_dead(pid);
        assert!(
            real.join(format!("{via}.log")).exists(),
            "the output file is in the directory the link leads to"
        );
    }
}

#[test]
fn a_log_file_reopened_after_its_path_was_redirected_is_refused() {
    if !root_or_skip("a_log_file_reopened_after_its_path_was_redirected_is_refused") {
        return;
    }
    // A root daemon's log in a directory that passes the checks at the
    // start; before a reopen (a logrotate run), the directory above the
    // log is handed to `nobody`, who replaces the log's directory with a
    // link into a directory of root's.
    let (uid, gid) = nobody();
    let sb = Sandbox::new("path-reopen");
    let target = root_dir(&sb);
    let above = sb.path("above");
    fs::create_dir_all(above.join("logs")).unwrap();
    let log = above.join("logs").join("precious");
    start(sb.daemon().log(&log).log_reopen());
    let pid = wait_pidfile(&sb.path("pid"));
    wait_until("the body's first line", || {
        fs::read_to_string(&log).is_ok_and(|t| t.contains("daemon body running"))
    });
    let moved = sb.path("moved-logs");
    fs::rename(above.join("logs"), &moved).unwrap();
    std::os::unix::fs::chown(&above, Some(uid), Some(gid)).unwrap();
    symlink(&target, above.join("logs")).unwrap();
    lchown(above.join("logs"), Some(uid), Some(gid)).unwrap();
    kill(pid, libc::SIGHUP);
    wait_until("the refusal in the log the daemon still holds", || {
        fs::read_to_string(moved.join("precious")).is_ok_and(|t| {
            t.contains(&format!(
                " ERROR scenario: reopen: {}: the directory {} belongs to user {uid} (nobody)",
                log.display(),
                above.display()
            ))
        })
    });
    assert_root_dir_untouched(&target);
    sb.trigger("ok");
    wait_dead(pid);
}

#[test]
fn a_chroot_or_work_dir_another_user_controls_is_refused() {
    if !root_or_skip("a_chroot_or_work_dir_another_user_controls_is_refused") {
        return;
    }
    // Whoever controls the daemon's root or work dir controls every file
    // the daemon opens there by a relative or (chrooted) absolute name.
    let (uid, gid) = nobody();
    let sb = Sandbox::new("path-jail");
    let target = root_dir(&sb);
    let nob = nobodys_link_in_nobodys_dir(&sb, "nob", &target);
    let foreign = format!(
        "the directory {} belongs to user {uid} (nobody), refused",
        nob.display()
    );
    for (flag, step) in [("--chroot", "chroot"), ("--workdir", "work dir")] {
        for dir in [nob.clone(), nob.join("logs")] {
            let cmd = sb.daemon().arg(flag).arg(&dir);
            refused(&sb, cmd, 77, step, &[&foreign]);
        }
    }
    let shared = sb.path("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(
        &shared,
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
    let link = shared.join("jail");
    symlink(&target, &link).unwrap();
    lchown(&link, Some(uid), Some(gid)).unwrap();
    let cmd = sb.daemon().chroot(&link);
    refused(
        &sb,
        cmd,
        77,
        "chroot",
        &[&format!(
            "{} is a symbolic link of user {uid} (nobody), refused",
            link.display()
        )],
    );
    assert!(!sb.path("pid").exists(), "no pid file left behind");
}

#[test]
fn control_requests_walk_the_path_as_the_start_does() {
    if !root_or_skip("control_requests_walk_the_path_as_the_start_does") {
        return;
    }
    // A running daemon of root's; `nobody` offers a second way to its pid
    // file, through a directory of its own. Through that way, nothing is
    // believed and nothing is signalled.
    let (uid, _) = nobody();
    let sb = Sandbox::new("path-control");
    let real = sb.path("real");
    fs::create_dir(&real).unwrap();
    let pidfile = real.join("pid");
    let cmd = sb.scenario("daemon").pidfile(&pidfile);
    assert!(start(cmd).success());
    let pid = wait_pidfile(&pidfile);
    let nob = nobodys_link_in_nobodys_dir(&sb, "nob", &real);
    let other_way = nob.join("logs").join("pid");
    for request in ["status", "stop", "reload"] {
        let outcome = run(sb.scenario(request).commands().pidfile(&other_way));
        assert_eq!(outcome.code(), Some(4), "{request}: {outcome:?}");
        // `status` says it on stdout, the others on stderr.
        let said = format!("{}{}", outcome.stdout, outcome.stderr);
        assert!(
            said.contains(&format!(
                "the directory {} belongs to user {uid} (nobody)",
                nob.display()
            )),
            "{request}: {outcome:?}"
        );
        assert!(alive(pid), "{request}: the daemon was not signalled");
    }
    kill(pid, libc::SIGTERM);
    wait_dead(pid);
}
