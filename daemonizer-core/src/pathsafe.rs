//! Path safety: the checks every file a root daemon opens on behalf of its
//! configuration goes through (the pid file, the stdout and stderr files,
//! a [`LogFile`](crate::LogFile)'s file, whose checks trust root and the
//! caller's effective ids).
//!
//! A daemon started by root often writes into directories that other users
//! can reach. Each check below closes one way for such a user to make the
//! daemon write where they choose, or to make its pid file lie:
//!
//! | refused | why |
//! |---|---|
//! | a file with more than one hard link | another name of it may be a file the daemon must not write (`/etc/shadow` linked into a shared directory) |
//! | an existing file owned by another user than root or the daemon's user | its owner can rewrite it at any time (fake a PID, or truncate a log) |
//! | an existing file that another user can write (`o+w`, or `g+w` for another group than root's or the daemon's) | the same, through its mode |
//! | a directory, or any directory above it, that another user can write and that is not sticky | the file can be swapped between the checks and the use |
//! | a file on a pseudo filesystem (procfs, sysfs, cgroup, debugfs and the like) | writing there changes the kernel, not a file (`/proc/sys/kernel/domainname`) |
//! | an output file whose last component is a symbolic link, unless the link and its directory belong to root or the daemon's user and, when that user owns either, the file it leads to is theirs (checked in `stdio`; what it leads to then passes every rule here) | the daemon's user could plant `out.log -> /etc/shadow` in its own log directory and have root's launcher open it for the daemon: from that user to root |
//!
//! "Another user" means anyone but root and the user the daemon runs as
//! (after the privilege drop; the launching user when there is none). A
//! directory is writable by another user when:
//!
//! - it is owned by another user (its owner can change its mode at any
//!   time, sticky bit or not, and may remove anything in it);
//! - it is writable by everyone (`o+w`) and not sticky; a sticky directory
//!   such as `/tmp` only lets each user remove their own files;
//! - it is writable by its group (`g+w`), not sticky, and the group is
//!   neither root's (gid 0) nor the group the daemon runs as. Members of
//!   the daemon's own group were trusted with its files by whoever chose
//!   it; any other group's members cannot be known for sure (the group
//!   database lists some, primary groups others, and both change).
//!
//! Every directory a path names is checked as the path is written, one
//! component at a time ([`open_dir`]): each is opened with `O_NOFOLLOW`
//! from the one before it (an `openat` chain, so nothing is looked up by
//! name twice and nothing can be swapped between a check and its use), and
//! a symbolic link on the way is followed by the walk itself, never by the
//! kernel:
//!
//! - the link must belong to root or the daemon's user (it sits in a
//!   directory that passed the checks above, so nobody else can replace
//!   it);
//! - the walk never passes from something a user other than root owns to
//!   something another user (root included) owns: once a path enters a
//!   directory of the daemon's user, that user could replace everything
//!   below it with a link to any directory of root's (systemd's "unsafe
//!   transition" check);
//! - at most 40 links are followed (`ELOOP`), as by the kernel.
//!
//! A relative path starts from the directory it is relative to, which is
//! checked with every directory above it by walking `..` ([`check_dir`]).
//!
//! For comparison: systemd reads a service's `PIDFile=` refusing any step
//! of its path from a directory owned by an unprivileged user to one owned
//! by another (its "unsafe transition" check), and refuses a PID from a
//! file not owned by root that names a process outside the service.
//! `start-stop-daemon` (dpkg 1.19.3 and later) refuses a pid file that is
//! writable by everyone, and, when the pid file is its only way to find
//! the process, one owned by another user than the caller and root, or
//! writable by another group than the caller's and root's.
//! Neither checks hard links or pseudo filesystems, and both only read
//! the file: a daemon that *writes* it needs the stricter rules above.

use std::fmt::Write as _;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};

use crate::error::{Error, ErrorKind, Result, Step};

/// Who may own the files and directories a daemon opens: root, and the
/// user (and group) the daemon runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trust {
    uid: u32,
    gid: u32,
}

impl Trust {
    /// Root and `uid`/`gid`, the ids the daemon will run with.
    pub(crate) fn new(uid: u32, gid: u32) -> Trust {
        Trust { uid, gid }
    }

    /// The ids of the launching process (no privilege drop configured).
    pub(crate) fn current() -> Trust {
        Trust::new(
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    }

    /// The daemon's uid.
    pub(crate) fn uid(&self) -> u32 {
        self.uid
    }

    fn user(&self, uid: u32) -> bool {
        uid == 0 || uid == self.uid
    }

    fn group(&self, gid: u32) -> bool {
        gid == 0 || gid == self.gid
    }
}

/// `user 65534 (nobody)`: the uid, and its name when the user database has
/// one.
pub(crate) fn describe_user(uid: u32) -> String {
    let mut out = format!("user {uid}");
    if let Ok(Some(user)) = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        let _ = write!(out, " ({})", user.name);
    }
    out
}

fn describe_group(gid: u32) -> String {
    let mut out = format!("group {gid}");
    if let Ok(Some(group)) = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid)) {
        let _ = write!(out, " ({})", group.name);
    }
    out
}

/// The mode as a `u32` (`mode_t` is 16 bits on macOS).
#[allow(clippy::useless_conversion)]
fn mode_bits(st: &FileStat) -> u32 {
    u32::from(st.st_mode)
}

fn file_type(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
}

/// Why a directory is unsafe for `trust`, or `None`.
fn unsafe_dir(st: &FileStat, trust: Trust) -> Option<String> {
    let mode = mode_bits(st);
    let sticky = mode & 0o1000 != 0;
    if !trust.user(st.st_uid) {
        return Some(format!("belongs to {}", describe_user(st.st_uid)));
    }
    if mode & 0o002 != 0 && !sticky {
        return Some("is writable by every user and not sticky".to_owned());
    }
    if mode & 0o020 != 0 && !sticky && !trust.group(st.st_gid) {
        return Some(format!(
            "is writable by {} and not sticky",
            describe_group(st.st_gid)
        ));
    }
    None
}

/// Opens the parent of `dir` (`..`) without needing read permission where
/// the system allows it.
fn open_parent(dir: BorrowedFd<'_>) -> std::result::Result<OwnedFd, Errno> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
    loop {
        // SAFETY: a valid dirfd and a NUL-terminated literal name.
        let fd = unsafe { libc::openat(dir.as_raw_fd(), c"..".as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: openat returned a new fd that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        match Errno::last() {
            Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// Checks the directory `dir` (the one `path` names a file in) and every
/// directory above it: none may be writable by another user than root or
/// the daemon's (see the module docs).
pub(crate) fn check_dir(step: Step, dir: BorrowedFd<'_>, path: &Path, trust: Trust) -> Result<()> {
    let shown = path.display();
    let failed = |e| Error::os(step, format!("{shown}: checking its directories"), e);
    let mut current: Option<OwnedFd> = None;
    for level in 0.. {
        let fd = current.as_ref().map_or(dir, AsFd::as_fd);
        let st = fstat(fd).map_err(failed)?;
        if let Some(why) = unsafe_dir(&st, trust) {
            // Names for the message only (the walk itself follows `..`),
            // looked up once there is something to say.
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let name = std::fs::canonicalize(parent)
                .ok()
                .as_deref()
                .and_then(|n| n.ancestors().nth(level))
                .map_or_else(
                    || format!("a directory {level} levels above it"),
                    |n| n.display().to_string(),
                );
            let whose = if level == 0 {
                "its directory"
            } else {
                "the directory"
            };
            return Err(Error::new(
                step,
                ErrorKind::Permission,
                format!(
                    "{shown}: {whose} {name} {why}, refused (another user could replace \
                     the file while the daemon uses it)"
                ),
            ));
        }
        let up = match open_parent(fd) {
            Ok(up) => up,
            // Without root, a directory above may be closed to us; what
            // lies there cannot be reached by the daemon either.
            Err(Errno::EACCES) if !nix::unistd::geteuid().is_root() => return Ok(()),
            Err(e) => return Err(failed(e)),
        };
        let up_st = fstat(&up).map_err(failed)?;
        if (up_st.st_dev, up_st.st_ino) == (st.st_dev, st.st_ino) {
            // `/` (or the process's root) is its own parent.
            return Ok(());
        }
        current = Some(up);
    }
    unreachable!("the loop returns")
}

/// How many symbolic links a path may lead through, as on Linux.
const MAX_LINKS: u32 = 40;

/// The longest path the kernel takes, with its NUL.
#[allow(clippy::unnecessary_cast)]
const PATH_MAX: usize = libc::PATH_MAX as usize;

/// Opens the directory `dir` (relative to `base` when relative) in which
/// `path` names a file, checking every directory and symbolic link on the
/// way as the path is written (see the module docs). `after`: the owner of
/// what led to `dir` (a symbolic link the caller followed, or root: 0),
/// for the transition check.
///
/// On Linux the directories are opened with `O_PATH`: only search
/// permission is needed, as for the kernel's own walk.
pub(crate) fn open_dir(
    step: Step,
    base: BorrowedFd<'_>,
    dir: &Path,
    path: &Path,
    trust: Trust,
    after: u32,
) -> Result<OwnedFd> {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    use std::path::Component;

    let shown = path.display();
    let failed = |e| Error::os(step, format!("{shown}"), e);
    // The kernel refuses such a path (and so would every tool that reads
    // the file by name), walked in one call or not.
    if path.as_os_str().len() >= PATH_MAX {
        return Err(failed(Errno::ENAMETOOLONG));
    }
    // The components still to walk, front first: a link's text is put in
    // front of what followed the link.
    let mut todo: VecDeque<OsString> = VecDeque::new();
    let mut walked = PathBuf::new();
    let mut links = 0;
    let mut owner = Owner {
        uid: after,
        name: PathBuf::new(),
    };
    let push_front = |todo: &mut VecDeque<OsString>, p: &Path| -> bool {
        let mut rooted = false;
        for c in p.components().rev() {
            match c {
                Component::RootDir => rooted = true,
                Component::CurDir | Component::Prefix(_) => {}
                Component::ParentDir => todo.push_front("..".into()),
                Component::Normal(n) => todo.push_front(n.to_owned()),
            }
        }
        rooted
    };
    let mut current = if push_front(&mut todo, dir) {
        walked.push("/");
        open_root(step, path, trust, &mut owner)?
    } else {
        let here = openat(base, ".", dir_flags(), Mode::empty()).map_err(failed)?;
        check_dir(step, here.as_fd(), path, trust)?;
        owner = transition(step, path, &walked, &owner, &fstat(&here).map_err(failed)?)?;
        walked.push(".");
        here
    };
    while let Some(name) = todo.pop_front() {
        let next = match openat(&current, name.as_os_str(), dir_flags(), Mode::empty()) {
            Ok(fd) => fd,
            // A symbolic link (ENOTDIR on Linux, ELOOP or EMLINK
            // elsewhere with O_NOFOLLOW), or not a directory at all.
            Err(Errno::ENOTDIR | Errno::ELOOP | Errno::EMLINK) => {
                let st = fstatat(&current, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_err(failed)?;
                if file_type(&st) != SFlag::S_IFLNK {
                    return Err(failed(Errno::ENOTDIR));
                }
                walked.push(&name);
                if !trust.user(st.st_uid) {
                    return Err(Error::new(
                        step,
                        ErrorKind::Permission,
                        format!(
                            "{shown}: {} is a symbolic link of {}, refused (its owner \
                             chooses the directory it leads to)",
                            walked.display(),
                            describe_user(st.st_uid)
                        ),
                    ));
                }
                owner = transition(step, path, &walked, &owner, &st)?;
                links += 1;
                if links > MAX_LINKS {
                    return Err(failed(Errno::ELOOP));
                }
                let target = readlinkat(&current, name.as_os_str()).map_err(failed)?;
                if push_front(&mut todo, Path::new(&target)) {
                    walked = PathBuf::from("/");
                    current = open_root(step, path, trust, &mut owner)?;
                } else {
                    walked.pop();
                }
                continue;
            }
            // The usual first-start mistake: say what to do.
            Err(Errno::ENOENT) => {
                let missing = walked.join(&name);
                return Err(Error::os(
                    step,
                    format!(
                        "{shown}: the directory {} does not exist (create it first: \
                         install -d {})",
                        missing.display(),
                        dir.display()
                    ),
                    Errno::ENOENT,
                ));
            }
            Err(e) => return Err(failed(e)),
        };
        if name == ".." {
            walked.pop();
        } else {
            walked.push(&name);
        }
        let st = fstat(&next).map_err(failed)?;
        if let Some(why) = unsafe_dir(&st, trust) {
            let last = todo.is_empty() && dir != path;
            return Err(unsafe_dir_error(step, path, &walked, &why, last));
        }
        owner = transition(step, path, &walked, &owner, &st)?;
        current = next;
    }
    Ok(current)
}

/// The flags that open one directory of a walk: never through a link.
fn dir_flags() -> OFlag {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let access = OFlag::O_PATH;
    // O_NONBLOCK: where O_DIRECTORY is checked only after the open, a FIFO
    // planted as a directory must not wait for a writer.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let access = OFlag::O_RDONLY | OFlag::O_NONBLOCK;
    access | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// Opens `/` and checks it, and the transition from `owner` to it.
fn open_root(step: Step, path: &Path, trust: Trust, owner: &mut Owner) -> Result<OwnedFd> {
    let failed = |e| Error::os(step, format!("{}", path.display()), e);
    let root = open("/", dir_flags(), Mode::empty()).map_err(failed)?;
    let st = fstat(&root).map_err(failed)?;
    if let Some(why) = unsafe_dir(&st, trust) {
        return Err(unsafe_dir_error(step, path, Path::new("/"), &why, false));
    }
    *owner = transition(step, path, Path::new("/"), owner, &st)?;
    Ok(root)
}

/// The owner after a step of a walk from something `owner` owns to
/// `next`, named `walked`: refused when `owner` is not root and `next`
/// belongs to someone else (`owner` could replace `next` at will).
fn transition(
    step: Step,
    path: &Path,
    walked: &Path,
    from: &Owner,
    next: &FileStat,
) -> Result<Owner> {
    if from.uid != 0 && next.st_uid != from.uid {
        return Err(Error::new(
            step,
            ErrorKind::Permission,
            format!(
                "{}: {} belongs to {} but is reached through {}, which belongs to {}, \
                 refused (that user could make it lead to any directory)",
                path.display(),
                walked.display(),
                describe_user(next.st_uid),
                from.name.display(),
                describe_user(from.uid)
            ),
        ));
    }
    Ok(Owner {
        uid: next.st_uid,
        name: walked.to_owned(),
    })
}

/// The owner of the last directory or link of a walk, and its name.
struct Owner {
    uid: u32,
    name: PathBuf,
}

/// `last`: `dir` is the directory of the file `path` names.
fn unsafe_dir_error(step: Step, path: &Path, dir: &Path, why: &str, last: bool) -> Error {
    Error::new(
        step,
        ErrorKind::Permission,
        format!(
            "{}: {} {} {why}, refused (another user could replace the file while the \
             daemon uses it)",
            path.display(),
            if last {
                "its directory"
            } else {
                "the directory"
            },
            dir.display()
        ),
    )
}

/// Checks a file opened for the daemon: at most one hard link, owned and
/// writable only by root or the daemon's user, not on a pseudo filesystem.
/// Returns its status.
pub(crate) fn check_file(
    step: Step,
    file: BorrowedFd<'_>,
    path: &Path,
    trust: Trust,
) -> Result<FileStat> {
    let shown = path.display();
    let st = fstat(file).map_err(|e| Error::os(step, format!("{shown}"), e))?;
    if file_type(&st) != SFlag::S_IFDIR && st.st_nlink > 1 {
        return Err(Error::new(
            step,
            ErrorKind::Permission,
            format!(
                "{shown}: has {} hard links, refused (another name of the file may be one \
                 the daemon must not write)",
                st.st_nlink
            ),
        ));
    }
    if !trust.user(st.st_uid) {
        return Err(Error::new(
            step,
            ErrorKind::Permission,
            format!(
                "{shown}: is owned by {}, refused (only root or the daemon's user may own it)",
                describe_user(st.st_uid)
            ),
        ));
    }
    let mode = mode_bits(&st);
    let writers = if mode & 0o002 != 0 {
        Some("every user".to_owned())
    } else if mode & 0o020 != 0 && !trust.group(st.st_gid) {
        Some(describe_group(st.st_gid))
    } else {
        None
    };
    if let (Some(writers), SFlag::S_IFREG) = (writers, file_type(&st)) {
        return Err(Error::new(
            step,
            ErrorKind::Permission,
            format!("{shown}: is writable by {writers}, refused (only root or the daemon's user may write it)"),
        ));
    }
    if let Some(fs) = pseudo_filesystem(file).map_err(|e| Error::os(step, format!("{shown}"), e))? {
        return Err(Error::new(
            step,
            ErrorKind::CantCreate,
            format!("{shown}: is on {fs}, a pseudo filesystem, refused (it is not a file)"),
        ));
    }
    Ok(st)
}

/// The name of the pseudo filesystem `file` lives on, or `None` for a
/// filesystem that holds files.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn pseudo_filesystem(file: BorrowedFd<'_>) -> std::result::Result<Option<&'static str>, Errno> {
    // From <linux/magic.h>: filesystems whose files are kernel interfaces.
    const PSEUDO: [(u64, &str); 18] = [
        (0x9fa0, "procfs"),
        (0x6265_6572, "sysfs"),
        (0x0027_e0eb, "cgroup"),
        (0x6367_7270, "cgroup2"),
        (0x6462_6720, "debugfs"),
        (0x7472_6163, "tracefs"),
        (0x7363_6673, "securityfs"),
        (0xcafe_4a11, "bpffs"),
        (0x6265_6570, "configfs"),
        (0x6165_676c, "pstorefs"),
        (0xde5e_81e4, "efivarfs"),
        (0xf97c_ff8c, "selinuxfs"),
        (0x4341_5d53, "smackfs"),
        (0x6573_5543, "fusectl"),
        (0x4249_4e4d, "binfmt_misc"),
        (0x6e73_6673, "nsfs"),
        (0x1980_0202, "mqueue"),
        (0x5346_414f, "openpromfs"),
    ];
    // SAFETY: `st` is a plain C struct that fstatfs fills in; the fd is
    // open for the whole call.
    let st = unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        Errno::result(libc::fstatfs(file.as_raw_fd(), &mut st))?;
        st
    };
    // f_type is signed on some targets: compare the low 32 bits.
    #[allow(clippy::unnecessary_cast)]
    let magic = (st.f_type as u64) & 0xffff_ffff;
    Ok(PSEUDO.iter().find(|(m, _)| *m == magic).map(|(_, n)| *n))
}

/// The name of the pseudo filesystem `file` lives on, or `None` for a
/// filesystem that holds files.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn pseudo_filesystem(file: BorrowedFd<'_>) -> std::result::Result<Option<&'static str>, Errno> {
    const PSEUDO: [&str; 6] = [
        "procfs",
        "linprocfs",
        "linsysfs",
        "fdescfs",
        "mqueuefs",
        "kernfs",
    ];
    // SAFETY: `st` is a plain C struct that fstatfs fills in; the fd is
    // open for the whole call.
    let st = unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        Errno::result(libc::fstatfs(file.as_raw_fd(), &mut st))?;
        st
    };
    let name: Vec<u8> = st
        .f_fstypename
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    Ok(PSEUDO.iter().find(|n| n.as_bytes() == name).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_on_a_pseudo_filesystem_and_tmp_files_are_not() {
        let proc = std::fs::File::open("/proc/self/status").unwrap();
        assert!(pseudo_filesystem(proc.as_fd()).unwrap().is_some());
        let here = std::fs::File::open(env!("CARGO_MANIFEST_DIR")).unwrap();
        assert_eq!(pseudo_filesystem(here.as_fd()).unwrap(), None);
    }

    #[test]
    fn what_makes_a_directory_unsafe() {
        let dir = |uid, gid, mode: libc::mode_t| {
            // SAFETY: a zeroed stat is a valid value of a plain C struct.
            let mut st: FileStat = unsafe { std::mem::zeroed() };
            st.st_uid = uid;
            st.st_gid = gid;
            st.st_mode = libc::S_IFDIR | mode;
            st
        };
        let trust = Trust::new(1000, 1000);
        assert_eq!(unsafe_dir(&dir(0, 0, 0o755), trust), None);
        assert_eq!(unsafe_dir(&dir(1000, 1000, 0o775), trust), None);
        assert_eq!(unsafe_dir(&dir(0, 0, 0o1777), trust), None);
        assert_eq!(unsafe_dir(&dir(0, 0, 0o775), trust), None);
        assert!(unsafe_dir(&dir(0, 0, 0o777), trust).is_some());
        assert!(unsafe_dir(&dir(0, 50, 0o775), trust).is_some());
        assert_eq!(unsafe_dir(&dir(0, 50, 0o1775), trust), None);
        // Sticky or not, the owner of a directory controls it.
        assert!(unsafe_dir(&dir(2000, 0, 0o1755), trust).is_some());
    }
}
