//! Privilege drop and chroot, for real: these tests need root (CI runs as
//! root) and print why they are skipped otherwise.
//!
//! Uids and gids are read from outside in `/proc/<pid>/status` (real,
//! effective, saved and filesystem ids); the body reports what
//! `setuid(0)` did.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::*;

/// Groups that list `user` as a member in `/etc/group`.
fn member_groups(user: &str) -> BTreeSet<u32> {
    fs::read_to_string("/etc/group")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() == 4 && f[3].split(',').any(|m| m == user)).then(|| f[2].parse().ok())?
        })
        .collect()
}

fn primary(user: &str) -> (u32, u32) {
    let (uid, gid, _) = groups_of(user).unwrap_or_else(|| panic!("no user {user}"));
    (uid, gid)
}

/// What a started daemon runs as, read from outside.
struct Ids {
    uids: Vec<u32>,
    gids: Vec<u32>,
    groups: BTreeSet<u32>,
}

fn ids(pid: i32) -> Ids {
    let nums = |key| {
        status_field(pid, key)
            .iter()
            .map(|s| s.parse().unwrap())
            .collect::<Vec<u32>>()
    };
    Ids {
        uids: nums("Uid"),
        gids: nums("Gid"),
        groups: nums("Groups").into_iter().collect(),
    }
}

/// Starts a daemon with `options` (user and group) and checks the ids it
/// runs with, then that it cannot regain root. Returns the sandbox and the
/// daemon's PID.
fn started_as(
    name: &str,
    options: impl FnOnce(Scenario) -> Scenario,
    uid: u32,
    gid: u32,
    groups: &BTreeSet<u32>,
) -> (Sandbox, i32) {
    let sb = Sandbox::new(name);
    start(options(sb.daemon()));
    let pid = wait_pidfile(&sb.path("pid"));
    let f = facts(&sb.path("facts"));
    let got = ids(pid);
    assert_eq!(
        got.uids,
        vec![uid; 4],
        "{name}: real, effective, saved, fs uid"
    );
    assert_eq!(
        got.gids,
        vec![gid; 4],
        "{name}: real, effective, saved, fs gid"
    );
    assert_eq!(&got.groups, groups, "{name}: supplementary groups");
    if uid != 0 {
        assert!(!got.groups.contains(&0), "{name}: no group 0");
        // No capability survives the switch away from root.
        for caps in ["CapPrm", "CapEff", "CapInh", "CapAmb"] {
            let value = u64::from_str_radix(&status_field(pid, caps)[0], 16).unwrap();
            assert_eq!(value, 0, "{name}: {caps}");
        }
        assert!(
            f["setuid0"].starts_with("failed") && f["setuid0"].contains("not permitted"),
            "{name}: setuid(0) from the body: {}",
            f["setuid0"]
        );
    }
    assert_eq!(f["uids"], format!("{uid} {uid} {uid}"));
    assert_eq!(f["gids"], format!("{gid} {gid} {gid}"));
    (sb, pid)
}

/// Starts a daemon as `nobody` chrooted to `root`, with `options` besides,
/// and waits for its pid file and its facts. Returns its PID and facts.
fn started_in_chroot(
    sb: &Sandbox,
    root: &std::path::Path,
    options: impl FnOnce(Scenario) -> Scenario,
) -> (i32, std::collections::HashMap<String, String>) {
    start(options(sb.daemon().chroot(root).user("nobody")));
    let pid = wait_pidfile(&sb.path("pid"));
    (pid, facts(&sb.path("facts")))
}

/// Stops the daemon; its pid file, in the root-owned 0755 sandbox, is
/// removed or (when the dropped user may not remove it) emptied.
fn stop_dropped(sb: &Sandbox, pid: i32) {
    kill(pid, libc::SIGTERM);
    wait_dead(pid);
    let pidfile = sb.path("pid");
    wait_until("the pid file to be removed or emptied", || {
        fs::read(&pidfile).map_or(true, |c| c.is_empty())
    });
}

#[test]
fn user_by_name_gets_exactly_its_own_groups() {
    if !root_or_skip("user_by_name_gets_exactly_its_own_groups") {
        return;
    }
    let (uid, gid) = primary("nobody");
    let mut groups = member_groups("nobody");
    groups.insert(gid);
    let (sb, pid) = started_as("user-name", |s| s.user("nobody"), uid, gid, &groups);
    stop_dropped(&sb, pid);
}

#[test]
fn user_with_supplementary_groups_gets_them_all_and_no_more() {
    if !root_or_skip("user_with_supplementary_groups_gets_them_all_and_no_more") {
        return;
    }
    let user = TempUser::with_groups("supp", 2);
    let groups: BTreeSet<u32> = user.groups().into_iter().collect();
    assert_eq!(groups.len(), 3, "a primary and two supplementary groups");
    let (sb, pid) = started_as(
        "user-groups",
        |s| s.user(&user.name),
        user.uid,
        user.gid,
        &groups,
    );
    stop_dropped(&sb, pid);
}

#[test]
fn user_by_uid_gets_no_supplementary_groups() {
    if !root_or_skip("user_by_uid_gets_no_supplementary_groups") {
        return;
    }
    let (uid, gid) = primary("nobody");
    let (sb, pid) = started_as("user-uid", |s| s.user(uid), uid, gid, &BTreeSet::new());
    stop_dropped(&sb, pid);
}

#[test]
fn group_by_name_and_by_gid() {
    if !root_or_skip("group_by_name_and_by_gid") {
        return;
    }
    let user = TempUser::with_groups("byname", 1);
    let group = TempGroup::new("byname");
    // By name: the group replaces the user's primary group, and the user's
    // own supplementary groups come with it.
    let groups: BTreeSet<u32> = [user.supplementary[0].gid, group.gid].into();
    let (sb, pid) = started_as(
        "group-name",
        |s| s.user(&user.name).group(&group.name),
        user.uid,
        group.gid,
        &groups,
    );
    stop_dropped(&sb, pid);
    // By gid, with a numeric user: no supplementary group at all.
    let (sb, pid) = started_as(
        "group-gid",
        |s| s.user(user.uid).group(group.gid),
        user.uid,
        group.gid,
        &BTreeSet::new(),
    );
    stop_dropped(&sb, pid);
}

#[test]
fn user_without_group_takes_its_primary_group() {
    if !root_or_skip("user_without_group_takes_its_primary_group") {
        return;
    }
    let user = TempUser::with_groups("primary", 1);
    let groups: BTreeSet<u32> = user.groups().into_iter().collect();
    let (sb, pid) = started_as(
        "user-primary",
        |s| s.user(&user.name),
        user.uid,
        user.gid,
        &groups,
    );
    stop_dropped(&sb, pid);
}

#[test]
fn group_alone_drops_every_group_of_root() {
    if !root_or_skip("group_alone_drops_every_group_of_root") {
        return;
    }
    let (_, gid) = primary("nobody");
    let (sb, pid) = started_as("group-only", |s| s.group(gid), 0, gid, &BTreeSet::new());
    stop(pid, &sb.path("pid"));
}

#[test]
fn pid_file_is_emptied_when_the_dropped_user_may_not_remove_it() {
    if !root_or_skip("pid_file_is_emptied_when_the_dropped_user_may_not_remove_it") {
        return;
    }
    // The sandbox is root's, 0755: nobody may not unlink in it.
    for (how, end) in [
        ("sigterm", None),
        ("return", Some("ok")),
        ("exit", Some("exit")),
    ] {
        let sb = Sandbox::new(&format!("emptied-{how}"));
        assert_eq!(
            fs::metadata(&sb.dir).unwrap().permissions().mode() & 0o777,
            0o755
        );
        start(sb.daemon().user("nobody"));
        let pid = wait_pidfile(&sb.path("pid"));
        facts(&sb.path("facts"));
        match end {
            None => {
                kill(pid, libc::SIGTERM);
            }
            Some(action) => sb.trigger(action),
        }
        wait_dead(pid);
        wait_until(&format!("the pid file to be emptied ({how})"), || {
            fs::read(sb.path("pid")).is_ok_and(|c| c.is_empty())
        });
    }
}

#[test]
fn pid_file_is_removed_when_the_dropped_user_may_remove_it() {
    if !root_or_skip("pid_file_is_removed_when_the_dropped_user_may_remove_it") {
        return;
    }
    let sb = Sandbox::new("removed-dropped");
    let run_dir = sb.path("run");
    fs::create_dir(&run_dir).unwrap();
    let (uid, gid) = primary("nobody");
    std::os::unix::fs::chown(&run_dir, Some(uid), Some(gid)).unwrap();
    let pidfile = run_dir.join("pid");
    start(sb.daemon().pidfile(&pidfile).user("nobody"));
    let pid = wait_pidfile(&pidfile);
    assert_eq!(ids(pid).uids, vec![uid; 4]);
    stop(pid, &pidfile);
}

#[test]
fn chroot_with_a_work_dir_inside_and_no_dev() {
    if !root_or_skip("chroot_with_a_work_dir_inside_and_no_dev") {
        return;
    }
    let sb = Sandbox::new("chroot");
    let root = sb.path("root");
    fs::create_dir_all(root.join("srv/work")).unwrap();
    let out = sb.path("out.log");
    // No /dev, /etc or /proc in the chroot: /dev/null, the output file and
    // the user name are all resolved before it.
    let (pid, f) = started_in_chroot(&sb, &root, |s| s.workdir("/srv/work").stdout(&out));
    let (uid, gid) = primary("nobody");
    assert_eq!(ids(pid).uids, vec![uid; 4]);
    assert_eq!(ids(pid).gids, vec![gid; 4]);
    assert_eq!(f["cwd"], "/srv/work", "cwd seen from inside");
    assert_eq!(fs::read_link(format!("/proc/{pid}/root")).unwrap(), root);
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        root.join("srv/work")
    );
    let open = fds(pid);
    assert_eq!(open[&0], "/dev/null");
    assert_eq!(open[&1], out.display().to_string());
    assert!(fs::read_to_string(&out)
        .unwrap()
        .contains(&format!("hello stdout from {pid}")));
    assert!(f["setuid0"].starts_with("failed"), "{}", f["setuid0"]);
    for absent in ["dev", "etc", "proc"] {
        assert!(!root.join(absent).exists(), "nothing created in the chroot");
    }
    // The pid file lives outside the chroot, opened before it: removed or
    // emptied at exit.
    stop_dropped(&sb, pid);
}

#[test]
fn a_chrooted_daemon_holds_no_directory_outside_its_root() {
    if !root_or_skip("a_chrooted_daemon_holds_no_directory_outside_its_root") {
        return;
    }
    // An open directory outside the chroot is a way out of it (fchdir, or
    // openat with "../.."): the pid file's directory must not stay open.
    let sb = Sandbox::new("chroot-fds");
    let root = sb.path("root");
    fs::create_dir(&root).unwrap();
    let (pid, _) = started_in_chroot(&sb, &root, |s| s);
    for (fd, target) in fds(pid) {
        let path = std::path::Path::new(&target);
        if path.is_absolute() && fs::metadata(path).is_ok_and(|m| m.is_dir()) {
            assert!(
                path.starts_with(&root),
                "fd {fd} is the directory {target}, outside the chroot {}",
                root.display()
            );
        }
    }
    stop_dropped(&sb, pid);
}

#[test]
fn keepcaps_leaves_no_capability_after_the_switch() {
    if !root_or_skip("keepcaps_leaves_no_capability_after_the_switch") {
        return;
    }
    // PR_SET_KEEPCAPS keeps every permitted capability across setuid; a
    // body could raise them again and become root.
    let (uid, gid) = primary("nobody");
    let mut groups = member_groups("nobody");
    groups.insert(gid);
    let (sb, pid) = started_as(
        "keepcaps",
        |s| s.user("nobody").arg("--keepcaps"),
        uid,
        gid,
        &groups,
    );
    let f = facts(&sb.path("facts"));
    assert!(
        f["regain"].starts_with("failed"),
        "capset then setuid(0) from the body: {}",
        f["regain"]
    );
    stop_dropped(&sb, pid);
}

#[test]
fn chroot_groups_come_from_the_host_not_the_jail() {
    if !root_or_skip("chroot_groups_come_from_the_host_not_the_jail") {
        return;
    }
    // Whoever filled the jail listed nobody in group 0 there; the daemon
    // must get nobody's groups from the host's database.
    let sb = Sandbox::new("chroot-groups");
    let root = sb.path("root");
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(
        root.join("etc/group"),
        "root:x:0:nobody\nwheel:x:10:nobody\n",
    )
    .unwrap();
    fs::write(
        root.join("etc/passwd"),
        "nobody:x:65534:0:planted:/:/bin/false\n",
    )
    .unwrap();
    let (uid, gid) = primary("nobody");
    let mut groups = member_groups("nobody");
    groups.insert(gid);
    let (pid, _) = started_in_chroot(&sb, &root, |s| s);
    let got = ids(pid);
    assert_eq!(got.uids, vec![uid; 4]);
    assert_eq!(got.gids, vec![gid; 4]);
    assert_eq!(got.groups, groups, "the host's groups of nobody");
    assert!(!got.groups.contains(&0), "no group 0 from the jail");
    stop_dropped(&sb, pid);
}

/// A daemon started as `nobody` with `extra` options, checked as in
/// [`started_as`] (every capability set empty among the rest).
fn started_as_nobody(name: &str, extra: &[&str]) -> (Sandbox, i32) {
    let (uid, gid) = primary("nobody");
    let mut groups = member_groups("nobody");
    groups.insert(gid);
    started_as(name, |s| s.user("nobody").args(extra), uid, gid, &groups)
}

#[test]
fn a_locked_keep_caps_securebit_leaves_no_capability_after_the_switch() {
    if !root_or_skip("a_locked_keep_caps_securebit_leaves_no_capability_after_the_switch") {
        return;
    }
    // Locked, the securebit cannot be cleared before setuid: every
    // permitted capability survives it, to be emptied afterwards.
    let (sb, pid) = started_as_nobody("lock-keepcaps", &["--lock-keepcaps"]);
    let f = facts(&sb.path("facts"));
    assert!(
        f["regain"].starts_with("failed"),
        "capset then setuid(0) from the body: {}",
        f["regain"]
    );
    stop_dropped(&sb, pid);
}

#[test]
fn an_ambient_capability_raised_before_the_start_is_gone_in_the_daemon() {
    if !root_or_skip("an_ambient_capability_raised_before_the_start_is_gone_in_the_daemon") {
        return;
    }
    // As a supervisor's AmbientCapabilities= leaves it: inheritable and
    // ambient; a program the daemon executes would get it.
    let (sb, pid) = started_as_nobody("ambient", &["--ambient"]);
    stop_dropped(&sb, pid);
}

/// `scenario daemon` with the sandbox's pid file, facts and trigger and
/// `args`, run by `strace -f` so that every `capset(2)`, in every process
/// of the start, returns success and does nothing (as a sandbox that
/// ignores it would); `None` (after a [`skip`]) without `strace`.
fn with_capset_ignored(test: &str, sb: &Sandbox, args: &[&str]) -> Option<Command> {
    let found = Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        skip(test, "needs strace (apt-get install strace)");
        return None;
    }
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qqq", "-o", "/dev/null"])
        .args(["-e", "trace=capset", "-e", "inject=capset:retval=0"])
        .arg(scenario_bin())
        .args(sb.daemon().get_args())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Some(cmd)
}

#[test]
fn a_capset_that_does_nothing_is_caught_by_reading_the_sets_back() {
    let test = "a_capset_that_does_nothing_is_caught_by_reading_the_sets_back";
    if !root_or_skip(test) {
        return;
    }
    // With the securebit locked, the sets keep every permitted capability
    // across setuid; emptying them "succeeds" without effect: only reading
    // them back finds the daemon could become root again.
    let sb = Sandbox::new("capset-ignored");
    let Some(mut cmd) = with_capset_ignored(test, &sb, &["--user", "nobody", "--lock-keepcaps"])
    else {
        return;
    };
    // The permitted set is root's, this process's.
    let permitted = proc_number("/proc/self/status", "CapPrm", 16);
    assert_ne!(permitted, 0, "root has capabilities");
    let outcome = run(&mut cmd);
    outcome.assert_refused(
        77,
        "user",
        &[&format!(
            "the permitted capability set is {permitted:#x} after the switch, not empty"
        )],
    );
    sb.wait_no_processes();
    assert!(!sb.path("pid").exists(), "the pid file it created is gone");
}

#[test]
fn keepcaps_is_cleared_before_the_switch_even_where_capset_does_nothing() {
    let test = "keepcaps_is_cleared_before_the_switch_even_where_capset_does_nothing";
    if !root_or_skip(test) {
        return;
    }
    // PR_SET_KEEPCAPS, unlocked, is cleared before setuid: the switch
    // itself empties the permitted set, with no capset needed afterwards.
    let sb = Sandbox::new("keepcaps-capset-ignored");
    let Some(mut cmd) = with_capset_ignored(test, &sb, &["--user", "nobody", "--keepcaps"]) else {
        return;
    };
    // strace ends once every process it traces has: read the daemon from
    // outside, stop it, then the outcome.
    let tracer = cmd.spawn().expect("spawn strace");
    let pid = wait_pidfile(&sb.path("pid"));
    let f = facts(&sb.path("facts"));
    for caps in ["CapPrm", "CapEff", "CapInh", "CapAmb"] {
        let value = proc_number(&format!("/proc/{pid}/status"), caps, 16);
        assert_eq!(value, 0, "{caps}");
    }
    assert!(
        f["setuid0"].starts_with("failed"),
        "setuid(0) from the body: {}",
        f["setuid0"]
    );
    stop_dropped(&sb, pid);
    let outcome = finish(tracer);
    assert!(
        outcome.success() && outcome.stderr.is_empty(),
        "{outcome:?}"
    );
}
