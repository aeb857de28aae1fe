//! User and group: names and supplementary groups resolved in the launcher
//! (before any chroot, from the host's databases), then supplementary
//! groups → gid → uid, then a check that neither root nor a capability can
//! be regained.
//!
//! The supplementary groups are a list of ids by the time the daemon
//! applies them: `initgroups` after a chroot would read the jail's
//! `/etc/group`, where whoever filled the jail could have listed the user
//! in group 0.
//!
//! On Linux a switch away from root also empties the capability sets: a
//! program that set `PR_SET_KEEPCAPS` (or the securebit behind it) before
//! starting would otherwise keep every permitted capability across
//! `setuid`, and could raise them again and become root. The ambient set is
//! cleared before the switch; afterwards the permitted, effective,
//! inheritable and ambient sets are cleared and then read back (`capget`,
//! `PR_CAP_AMBIENT_IS_SET`): a start that finds any capability left fails.
//! The bounding set is left as it is: it only limits what programs the
//! daemon executes may gain from file capabilities or set-user-ID bits,
//! which is the administrator's choice (systemd's
//! `CapabilityBoundingSet=`, `NoNewPrivileges=`). Elsewhere the check is
//! that neither `setuid(0)` nor `seteuid(0)` succeeds.

use std::ffi::{CStr, CString};

use nix::errno::Errno;
use nix::unistd::{getegid, geteuid, getgid, getuid, Gid, Group, Uid, User};

use ids::{getgroups, getresgid, getresuid, setresgid, setresuid};

use crate::config::Account;
use crate::error::{Error, ErrorKind, Result, Step};

/// Resolved credentials, ready to apply after the fork.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    uid: Option<Uid>,
    gid: Gid,
    /// The supplementary groups, from the host's group database: a named
    /// user's own groups (with `gid`), none for a numeric user or a group
    /// alone.
    groups: Vec<Gid>,
    shown: String,
}

/// A name-service lookup, again while a signal interrupts it: the
/// databases may sit behind a socket (LDAP, sssd), where EINTR is no
/// answer about the name.
fn again<T>(lookup: impl Fn() -> nix::Result<T>) -> nix::Result<T> {
    loop {
        match lookup() {
            Err(nix::errno::Errno::EINTR) => continue,
            other => return other,
        }
    }
}

/// A group id as `getgrouplist` takes it (an `int` on macOS).
#[cfg(target_vendor = "apple")]
type GroupId = libc::c_int;
#[cfg(not(target_vendor = "apple"))]
type GroupId = libc::gid_t;

/// The groups of `name` in the host's database, with `gid` among them
/// (`getgrouplist`, what `initgroups` reads).
#[allow(clippy::unnecessary_cast)] // `GroupId` is signed on macOS
fn group_list(name: &CStr, gid: Gid) -> std::result::Result<Vec<Gid>, Errno> {
    let mut room: libc::c_int = 64;
    loop {
        let mut buf: Vec<GroupId> = vec![0; room as usize];
        let mut count = room;
        // SAFETY: `buf` holds `count` ids; getgrouplist writes at most that
        // many and stores how many it found in `count`.
        let rc = unsafe {
            libc::getgrouplist(
                name.as_ptr(),
                gid.as_raw() as GroupId,
                buf.as_mut_ptr(),
                &mut count,
            )
        };
        if rc >= 0 {
            buf.truncate(usize::try_from(count).unwrap_or(0));
            let mut groups: Vec<Gid> = buf.into_iter().map(|g| Gid::from_raw(g as u32)).collect();
            groups.sort_unstable_by_key(|g| g.as_raw());
            groups.dedup();
            return Ok(groups);
        }
        // Too small: glibc says how many there are, other systems do not.
        room = if count > room { count } else { room * 2 };
        if room > 1 << 20 {
            return Err(Errno::E2BIG);
        }
    }
}

/// `setgroups(2)` through libc: its count is a `size_t` on Linux and an
/// `int` elsewhere.
fn set_groups(groups: &[Gid]) -> std::result::Result<(), Errno> {
    let raw: Vec<libc::gid_t> = groups.iter().map(|g| g.as_raw()).collect();
    // SAFETY: `raw` holds `raw.len()` gids for the whole call.
    Errno::result(unsafe { libc::setgroups(raw.len() as _, raw.as_ptr()) }).map(drop)
}

fn check_id(step: Step, what: &str, id: i64) -> Result<u32> {
    // (uid_t)-1 means "unchanged" to the set*id calls: never a real id.
    match u32::try_from(id) {
        Ok(raw) if raw != u32::MAX => Ok(raw),
        _ => Err(Error::new(
            step,
            ErrorKind::NoUser,
            format!("{what} id {id} out of range (0 to {})", u32::MAX - 1),
        )),
    }
}

/// Resolves `user` and `group` to ids, reading the host's user and group
/// databases. A user without a group takes the user's primary group.
pub(crate) fn resolve(
    user: Option<&Account>,
    group: Option<&Account>,
) -> Result<Option<Credentials>> {
    if user.is_none() && group.is_none() {
        return Ok(None);
    }
    let mut uid = None;
    let mut primary = None;
    let mut groups = Vec::new();
    let mut name_for_groups = None;
    let mut shown = Vec::new();
    match user {
        Some(Account::Name(name)) => {
            let entry = again(|| User::from_name(name))
                .map_err(|e| Error::os(Step::User, format!("looking up {name:?}"), e))?
                .ok_or_else(|| {
                    Error::new(
                        Step::User,
                        ErrorKind::NoUser,
                        format!("unknown user {name:?}"),
                    )
                })?;
            uid = Some(entry.uid);
            primary = Some(entry.gid);
            let cname = CString::new(name.as_bytes()).map_err(|_| {
                Error::new(
                    Step::User,
                    ErrorKind::NoUser,
                    format!("unknown user {name:?}"),
                )
            })?;
            name_for_groups = Some(cname);
            shown.push(format!("user {name:?} (uid {})", entry.uid));
        }
        Some(Account::Id(id)) => {
            let raw = Uid::from_raw(check_id(Step::User, "user", *id)?);
            uid = Some(raw);
            primary = again(|| User::from_uid(raw))
                .map_err(|e| Error::os(Step::User, format!("looking up uid {raw}"), e))?
                .map(|u| u.gid);
            shown.push(format!("uid {raw}"));
        }
        None => {}
    }
    let gid = match group {
        Some(Account::Name(name)) => {
            let entry = again(|| Group::from_name(name))
                .map_err(|e| Error::os(Step::Group, format!("looking up {name:?}"), e))?
                .ok_or_else(|| {
                    Error::new(
                        Step::Group,
                        ErrorKind::NoUser,
                        format!("unknown group {name:?}"),
                    )
                })?;
            shown.push(format!("group {name:?} (gid {})", entry.gid));
            entry.gid
        }
        Some(Account::Id(id)) => {
            let gid = Gid::from_raw(check_id(Step::Group, "group", *id)?);
            shown.push(format!("gid {gid}"));
            gid
        }
        None => match primary {
            Some(gid) => {
                shown.push(format!("primary gid {gid}"));
                gid
            }
            None => {
                let uid = uid.map_or(0, Uid::as_raw);
                return Err(Error::new(
                    Step::User,
                    ErrorKind::NoUser,
                    format!("uid {uid} has no entry in the user database, so it has no primary group: set a group"),
                ));
            }
        },
    };
    if let Some(name) = name_for_groups {
        groups = group_list(&name, gid).map_err(|e| {
            Error::os(
                Step::Group,
                format!("reading the groups of {name:?} from the group database"),
                e,
            )
        })?;
    }
    Ok(Some(Credentials {
        uid,
        gid,
        groups,
        shown: shown.join(", "),
    }))
}

/// What to add to a refused switch: who runs the start, since only root
/// may switch to another user or group (`user`, `group`).
fn needs_root(e: Errno) -> String {
    if e != Errno::EPERM || geteuid().is_root() {
        return String::new();
    }
    format!(
        " (a privilege drop needs root, and this start runs as {}: start it as root, \
         or leave out user and group)",
        crate::pathsafe::describe_user(geteuid().as_raw())
    )
}

impl Credentials {
    /// Root and the ids the daemon will run with: who may own its files.
    pub(crate) fn trust(&self) -> crate::pathsafe::Trust {
        let uid = self.uid.unwrap_or_else(geteuid);
        crate::pathsafe::Trust::new(uid.as_raw(), self.gid.as_raw())
    }

    /// Applies the credentials: supplementary groups, then gid, then uid,
    /// then checks that neither root nor a capability can be regained.
    pub(crate) fn apply(&self) -> Result<()> {
        log::debug!("user and group: switching to {}", self.shown);
        let target_uid = self.uid.unwrap_or_else(geteuid);
        let already = getuid() == target_uid
            && geteuid() == target_uid
            && getgid() == self.gid
            && getegid() == self.gid;
        // Without root, setgroups is refused even when nothing changes; a
        // process that already is the target keeps the groups it has.
        if !already || geteuid().is_root() {
            set_groups(&self.groups).map_err(|e| {
                Error::os(
                    Step::Group,
                    format!(
                        "setting the supplementary groups of {}{}",
                        self.shown,
                        needs_root(e)
                    ),
                    e,
                )
            })?;
        }
        setresgid(self.gid, self.gid, self.gid).map_err(|e| {
            Error::os(
                Step::Group,
                format!("setting gid {}{}", self.gid, needs_root(e)),
                e,
            )
        })?;
        let leaving_root = self.uid.is_some_and(|u| !u.is_root());
        if leaving_root {
            caps::before_switch()?;
        }
        if let Some(uid) = self.uid {
            setresuid(uid, uid, uid).map_err(|e| {
                Error::os(Step::User, format!("setting uid {uid}{}", needs_root(e)), e)
            })?;
        }
        if leaving_root {
            caps::clear()?;
        }
        self.verify()
    }

    fn verify(&self) -> Result<()> {
        let ids = getresuid().map_err(|e| Error::os(Step::User, "getresuid", e))?;
        let gids = getresgid().map_err(|e| Error::os(Step::Group, "getresgid", e))?;
        if let Some(uid) = self.uid {
            if ids.real != uid || ids.effective != uid || ids.saved != uid {
                return Err(Error::new(
                    Step::User,
                    ErrorKind::Permission,
                    format!(
                        "uid is {}/{}/{} after switching to {uid}",
                        ids.real, ids.effective, ids.saved
                    ),
                ));
            }
        }
        if gids.real != self.gid || gids.effective != self.gid || gids.saved != self.gid {
            return Err(Error::new(
                Step::Group,
                ErrorKind::Permission,
                format!(
                    "gid is {}/{}/{} after switching to {}",
                    gids.real, gids.effective, gids.saved, self.gid
                ),
            ));
        }
        if self.uid.is_some_and(|u| !u.is_root()) {
            // SAFETY: setuid(0) and seteuid(0) take no pointers; both must
            // fail here.
            if unsafe { libc::setuid(0) } == 0 || unsafe { libc::seteuid(0) } == 0 {
                return Err(Error::new(
                    Step::User,
                    ErrorKind::Permission,
                    format!("root could be regained after switching to uid {}", ids.real),
                ));
            }
            caps::verify_empty()?;
            let groups = getgroups().map_err(|e| Error::os(Step::Group, "getgroups", e))?;
            if self.gid.as_raw() != 0
                && groups.contains(&Gid::from_raw(0))
                && !self.groups.contains(&Gid::from_raw(0))
            {
                return Err(Error::new(
                    Step::Group,
                    ErrorKind::Permission,
                    "supplementary group 0 survived the switch",
                ));
            }
        }
        log::debug!("user and group: now {}", self.shown);
        Ok(())
    }
}

/// The capability sets around a switch away from root.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod caps {
    use nix::errno::Errno;

    use crate::error::{Error, ErrorKind, Result, Step};

    /// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
    const VERSION_3: u32 = 0x2008_0522;

    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }

    #[repr(C)]
    #[derive(Clone, Copy, Default, Debug)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }

    fn failed(what: &str, e: Errno) -> Error {
        Error::os(Step::User, format!("capabilities: {what}"), e)
    }

    /// Before `setuid`: no capability may be kept across it, whatever the
    /// program asked for, and the ambient set goes now (raising it again
    /// needs capabilities the process will not have).
    pub(super) fn before_switch() -> Result<()> {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
        // Refused when the securebit is locked: `clear` empties the sets
        // after the switch anyway.
        if rc < 0 && Errno::last() != Errno::EPERM {
            return Err(failed("PR_SET_KEEPCAPS", Errno::last()));
        }
        // SAFETY: as above.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            )
        };
        // EINVAL: a kernel before 4.3, without an ambient set.
        if rc < 0 && Errno::last() != Errno::EINVAL {
            return Err(failed("clearing the ambient set", Errno::last()));
        }
        Ok(())
    }

    /// After `setuid`: empties the permitted, effective and inheritable
    /// sets (lowering them is always allowed).
    pub(super) fn clear() -> Result<()> {
        let header = Header {
            version: VERSION_3,
            pid: 0,
        };
        let none = [Data::default(); 2];
        // SAFETY: capset reads one header and two data structs, all alive
        // for the call.
        let rc = unsafe { libc::syscall(libc::SYS_capset, &header, none.as_ptr()) };
        Errno::result(rc).map(drop).map_err(|e| failed("capset", e))
    }

    /// Reads the sets back: every one must be empty.
    pub(super) fn verify_empty() -> Result<()> {
        let mut header = Header {
            version: VERSION_3,
            pid: 0,
        };
        let mut sets = [Data::default(); 2];
        // SAFETY: capget writes one header and two data structs, all alive
        // for the call.
        let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, sets.as_mut_ptr()) };
        Errno::result(rc).map_err(|e| failed("capget", e))?;
        // The first word holds capabilities 0 to 31: the low half.
        let left = |f: fn(&Data) -> u32| {
            sets.iter()
                .rev()
                .map(f)
                .fold(0u64, |a, w| a << 32 | u64::from(w))
        };
        for (name, value) in [
            ("permitted", left(|d| d.permitted)),
            ("effective", left(|d| d.effective)),
            ("inheritable", left(|d| d.inheritable)),
        ] {
            if value != 0 {
                return Err(left_over(name, value));
            }
        }
        for cap in 0..64 {
            // SAFETY: prctl with integer arguments only.
            let rc = unsafe {
                libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_IS_SET, cap, 0, 0)
            };
            match rc {
                0 => {}
                1 => return Err(left_over("ambient", 1 << cap)),
                // EINVAL past the last capability (or without ambient set).
                _ => break,
            }
        }
        Ok(())
    }

    fn left_over(set: &str, value: u64) -> Error {
        Error::new(
            Step::User,
            ErrorKind::Permission,
            format!("the {set} capability set is {value:#x} after the switch, not empty"),
        )
    }
}

/// Without Linux capabilities, `verify` checks `setuid(0)` and
/// `seteuid(0)` alone.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod caps {
    use crate::error::Result;

    pub(super) fn before_switch() -> Result<()> {
        Ok(())
    }

    pub(super) fn clear() -> Result<()> {
        Ok(())
    }

    pub(super) fn verify_empty() -> Result<()> {
        Ok(())
    }
}

/// The id calls. Linux and FreeBSD have `setres*id` and `getres*id`.
#[cfg(not(target_vendor = "apple"))]
mod ids {
    pub(super) use nix::unistd::{getgroups, getresgid, getresuid, setresgid, setresuid};
}

/// macOS has no `setres*id` and `getres*id`: `setgid` then `setuid`, which
/// in a process with root's privileges set the real, effective and saved
/// ids alike (POSIX). The saved ids cannot be read back: `getres*id` report
/// the effective id as saved, and `verify` proves that neither the real
/// nor the saved uid is root by `setuid(0)` and `seteuid(0)` failing.
#[cfg(target_vendor = "apple")]
mod ids {
    use nix::errno::Errno;
    use nix::unistd::{getegid, geteuid, getgid, getuid, Gid, Uid};

    /// Real, effective and (see above) saved ids.
    pub(super) struct Res<T> {
        pub(super) real: T,
        pub(super) effective: T,
        pub(super) saved: T,
    }

    pub(super) fn getgroups() -> nix::Result<Vec<Gid>> {
        // SAFETY: a null list with size 0 asks for the count.
        let n = Errno::result(unsafe { libc::getgroups(0, std::ptr::null_mut()) })?;
        let mut raw: Vec<libc::gid_t> = vec![0; n as usize];
        // SAFETY: `raw` has room for `n` gids.
        let got = Errno::result(unsafe { libc::getgroups(n, raw.as_mut_ptr()) })?;
        raw.truncate(got as usize);
        Ok(raw.into_iter().map(Gid::from_raw).collect())
    }

    pub(super) fn setresgid(real: Gid, effective: Gid, saved: Gid) -> nix::Result<()> {
        if real != effective || real != saved {
            return Err(Errno::ENOTSUP);
        }
        // SAFETY: setgid takes no pointers.
        Errno::result(unsafe { libc::setgid(real.as_raw()) }).map(drop)
    }

    pub(super) fn setresuid(real: Uid, effective: Uid, saved: Uid) -> nix::Result<()> {
        if real != effective || real != saved {
            return Err(Errno::ENOTSUP);
        }
        // SAFETY: setuid takes no pointers.
        Errno::result(unsafe { libc::setuid(real.as_raw()) }).map(drop)
    }

    pub(super) fn getresuid() -> nix::Result<Res<Uid>> {
        Ok(Res {
            real: getuid(),
            effective: geteuid(),
            saved: geteuid(),
        })
    }

    pub(super) fn getresgid() -> nix::Result<Res<Gid>> {
        Ok(Res {
            real: getgid(),
            effective: getegid(),
            saved: getegid(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_out_of_range_are_refused() {
        for bad in [-1, -65534, i64::from(u32::MAX), i64::from(u32::MAX) + 1] {
            let err = resolve(Some(&Account::Id(bad)), Some(&Account::Id(0))).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NoUser, "{bad}");
            assert!(err.to_string().contains(&bad.to_string()), "{err}");
        }
        let err = resolve(None, Some(&Account::Id(-5))).unwrap_err();
        assert_eq!(err.step(), Step::Group);
    }

    #[test]
    fn unknown_names_are_refused() {
        let err = resolve(Some(&"no-such-user-xq7".into()), None).unwrap_err();
        assert_eq!(err.to_string(), "user: unknown user \"no-such-user-xq7\"");
        let err = resolve(None, Some(&"no-such-group-xq7".into())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "group: unknown group \"no-such-group-xq7\""
        );
    }

    #[test]
    fn user_without_group_takes_its_primary_group() {
        let root = resolve(Some(&"root".into()), None).unwrap().unwrap();
        assert_eq!(root.gid, Gid::from_raw(0));
        assert!(root.groups.contains(&Gid::from_raw(0)), "{root:?}");
    }

    #[test]
    fn numeric_user_without_entry_needs_a_group() {
        let err = resolve(Some(&Account::Id(3_999_999_999)), None).unwrap_err();
        assert!(err.detail().contains("set a group"), "{err}");
        let creds = resolve(Some(&Account::Id(3_999_999_999)), Some(&Account::Id(7)))
            .unwrap()
            .unwrap();
        assert!(creds.groups.is_empty());
    }
}
