//! User and group: names resolved in the launcher (before any chroot, from
//! the host's databases), then supplementary groups → gid → uid, then a
//! check that root cannot be regained.

use std::ffi::CString;

use nix::unistd::{
    getegid, geteuid, getgid, getgroups, getresgid, getresuid, getuid, initgroups, setgroups,
    setresgid, setresuid, Gid, Group, Uid, User,
};

use crate::config::Account;
use crate::error::{Error, ErrorKind, Result, Step};

/// How the supplementary groups are set.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Groups {
    /// `initgroups(name, gid)`: exactly the named user's groups.
    Of(CString),
    /// `setgroups([])`: none at all (numeric user, or group only).
    Empty,
}

/// Resolved credentials, ready to apply after the fork.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    uid: Option<Uid>,
    gid: Gid,
    groups: Groups,
    shown: String,
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
    let mut groups = Groups::Empty;
    let mut shown = Vec::new();
    match user {
        Some(Account::Name(name)) => {
            let entry = User::from_name(name)
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
            groups = Groups::Of(cname);
            shown.push(format!("user {name:?} (uid {})", entry.uid));
        }
        Some(Account::Id(id)) => {
            let raw = Uid::from_raw(check_id(Step::User, "user", *id)?);
            uid = Some(raw);
            primary = User::from_uid(raw)
                .map_err(|e| Error::os(Step::User, format!("looking up uid {raw}"), e))?
                .map(|u| u.gid);
            shown.push(format!("uid {raw}"));
        }
        None => {}
    }
    let gid = match group {
        Some(Account::Name(name)) => {
            let entry = Group::from_name(name)
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
    Ok(Some(Credentials {
        uid,
        gid,
        groups,
        shown: shown.join(", "),
    }))
}

impl Credentials {
    /// Root and the ids the daemon will run with: who may own its files.
    pub(crate) fn trust(&self) -> crate::pathsafe::Trust {
        let uid = self.uid.unwrap_or_else(geteuid);
        crate::pathsafe::Trust::new(uid.as_raw(), self.gid.as_raw())
    }

    /// Applies the credentials: supplementary groups, then gid, then uid,
    /// then checks that root cannot be regained.
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
            match &self.groups {
                Groups::Of(name) => initgroups(name, self.gid).map_err(|e| {
                    Error::os(
                        Step::Group,
                        format!("initgroups({name:?}, {})", self.gid),
                        e,
                    )
                })?,
                Groups::Empty => setgroups(&[])
                    .map_err(|e| Error::os(Step::Group, "clearing supplementary groups", e))?,
            }
        }
        setresgid(self.gid, self.gid, self.gid)
            .map_err(|e| Error::os(Step::Group, format!("setting gid {}", self.gid), e))?;
        if let Some(uid) = self.uid {
            setresuid(uid, uid, uid)
                .map_err(|e| Error::os(Step::User, format!("setting uid {uid}"), e))?;
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
            // SAFETY: setuid(0) takes no pointers; it must fail here.
            if unsafe { libc::setuid(0) } == 0 {
                return Err(Error::new(
                    Step::User,
                    ErrorKind::Permission,
                    format!("root could be regained after switching to uid {}", ids.real),
                ));
            }
            let groups = getgroups().map_err(|e| Error::os(Step::Group, "getgroups", e))?;
            if self.gid.as_raw() != 0
                && groups.contains(&Gid::from_raw(0))
                && self.groups == Groups::Empty
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
        assert_eq!(root.groups, Groups::Of(CString::new("root").unwrap()));
    }

    #[test]
    fn numeric_user_without_entry_needs_a_group() {
        let err = resolve(Some(&Account::Id(3_999_999_999)), None).unwrap_err();
        assert!(err.detail().contains("set a group"), "{err}");
        let creds = resolve(Some(&Account::Id(3_999_999_999)), Some(&Account::Id(7)))
            .unwrap()
            .unwrap();
        assert_eq!(creds.groups, Groups::Empty);
    }
}
