//! Throw-away accounts ([`TempUser`], [`TempGroup`]) and the group
//! database as `initgroups` reads it ([`groups_of`]).

use std::fs;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::describe;

/// Runs an account tool (`useradd`, `groupadd`, ...), retrying while the
/// account database is locked by a concurrent change; the tool's message
/// otherwise.
fn account_tool(tool: &str, args: &[&str]) -> Result<(), String> {
    // One change at a time from this process; other processes wait on the
    // database's own lock, which the tools report as a failure: retry.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut last = String::new();
    for _ in 0..50 {
        let out = Command::new(tool)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{tool}: {e} (the account tools come with `passwd`)"))?;
        if out.status.success() {
            return Ok(());
        }
        last = format!(
            "{}: {}",
            describe(&out.status),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        if !last.contains("lock") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{tool} {}: {last}", args.join(" ")))
}

/// Removes an account in a drop: never panics (a panic while a failing
/// test unwinds would abort every test of the binary); says what is left.
fn remove_account(tool: &str, db: &str, name: &str) {
    use std::io::Write;
    if account_id(db, name).is_some() {
        if let Err(e) = account_tool(tool, &[name]) {
            let _ = writeln!(std::io::stderr(), "left behind: {e}");
        }
    }
}

/// The name of a throw-away account: `dz<tag><pid>x<n>`, unique to this
/// process and call, at most 32 characters (the account tools' limit).
fn throw_away_name(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let name = format!("dz{tag}{}x{n}", std::process::id());
    assert!(
        name.len() <= 32 && tag.bytes().all(|b| b.is_ascii_lowercase()),
        "account tag {tag:?}: use a few lowercase letters"
    );
    name
}

/// The id in the third field of `name`'s line in `/etc/passwd` or
/// `/etc/group`.
fn account_id(db: &str, name: &str) -> Option<u32> {
    fs::read_to_string(db).ok()?.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name)).then(|| f.get(2)?.parse().ok())?
    })
}

/// A group that exists while this value lives (`groupadd`), removed on
/// drop (`groupdel`), also when the test fails. Needs root.
///
/// ```ignore
/// let group = TempGroup::new("web");
/// cmd.args(["--group", &group.name]); // or &group.gid.to_string()
/// ```
#[derive(Debug)]
pub(crate) struct TempGroup {
    pub(crate) name: String,
    pub(crate) gid: u32,
}

impl TempGroup {
    /// Creates the group `dz<tag><pid>x<n>`; `tag` is a few lowercase
    /// letters saying what it is for.
    pub(crate) fn new(tag: &str) -> TempGroup {
        let name = throw_away_name(tag);
        account_tool("groupadd", &[&name]).unwrap_or_else(|e| panic!("{e}"));
        let gid = account_id("/etc/group", &name)
            .unwrap_or_else(|| panic!("groupadd {name}: not in /etc/group"));
        TempGroup { name, gid }
    }
}

impl Drop for TempGroup {
    fn drop(&mut self) {
        remove_account("groupdel", "/etc/group", &self.name);
    }
}

/// A user that exists while this value lives, removed on drop, also when
/// the test fails: no home directory, no login shell, a primary group of
/// its own (same name, removed with it), and the supplementary groups it
/// was created with (removed after it). Needs root.
///
/// ```ignore
/// let user = TempUser::with_groups("drop", 2);
/// cmd.args(["--user", &user.name]);
/// // expect uid user.uid, gid user.gid, groups user.groups()
/// ```
#[derive(Debug)]
pub(crate) struct TempUser {
    pub(crate) name: String,
    pub(crate) uid: u32,
    /// The user's own primary group.
    pub(crate) gid: u32,
    /// Groups that list the user as a member, dropped after the user.
    pub(crate) supplementary: Vec<TempGroup>,
}

impl TempUser {
    /// A user with only its own primary group.
    pub(crate) fn new(tag: &str) -> TempUser {
        TempUser::with_groups(tag, 0)
    }

    /// A user that is also a member of `n` new groups besides its primary
    /// one.
    pub(crate) fn with_groups(tag: &str, n: usize) -> TempUser {
        let supplementary: Vec<TempGroup> = (0..n).map(|_| TempGroup::new(tag)).collect();
        let name = throw_away_name(tag);
        let members: Vec<&str> = supplementary.iter().map(|g| g.name.as_str()).collect();
        let members = members.join(",");
        let mut args = vec![
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
        ];
        if n > 0 {
            args.extend(["--groups", &members]);
        }
        args.push(&name);
        // A user whose creation fails midway is still removed: build the
        // value (whose drop cleans up) before asking for the ids.
        let mut user = TempUser {
            name: name.clone(),
            uid: 0,
            gid: 0,
            supplementary,
        };
        account_tool("useradd", &args).unwrap_or_else(|e| panic!("{e}"));
        let (uid, gid, groups) =
            groups_of(&name).unwrap_or_else(|| panic!("useradd {name}: not in /etc/passwd"));
        assert_ne!(uid, 0, "useradd {name}: uid 0");
        assert_ne!(gid, 0, "useradd {name}: gid 0");
        assert_eq!(groups.len(), n + 1, "useradd {name}: groups {groups:?}");
        (user.uid, user.gid) = (uid, gid);
        user
    }

    /// Every group of the user (primary and supplementary gids), as
    /// `initgroups` gives them: sorted, without duplicates.
    pub(crate) fn groups(&self) -> Vec<u32> {
        let mut all: Vec<u32> = self.supplementary.iter().map(|g| g.gid).collect();
        all.push(self.gid);
        all.sort_unstable();
        all.dedup();
        all
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        remove_account("userdel", "/etc/passwd", &self.name);
        // userdel removes the user's own group only where the system is
        // configured so (USERGROUPS_ENAB).
        remove_account("groupdel", "/etc/group", &self.name);
    }
}

/// Supplementary groups of `user` per the group database: its primary
/// group and every group that lists it as a member.
pub(crate) fn groups_of(user: &str) -> Option<(u32, u32, Vec<u32>)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    let (uid, gid) = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&user)).then(|| (f[2].parse().ok(), f[3].parse().ok()))
    })?;
    let (uid, gid): (u32, u32) = (uid?, gid?);
    let mut groups = vec![gid];
    let group = fs::read_to_string("/etc/group").ok()?;
    for l in group.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() == 4 && f[3].split(',').any(|m| m == user) {
            if let Ok(g) = f[2].parse() {
                groups.push(g);
            }
        }
    }
    groups.sort_unstable();
    groups.dedup();
    Some((uid, gid, groups))
}
