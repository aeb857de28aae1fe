//! Stdio: stdin from `/dev/null`, stdout and stderr to `/dev/null` or to
//! files opened for appending. Everything is opened in the launcher, before
//! any chroot or privilege drop, and put in place after the fd sweep.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::fcntl::{fcntl, open, openat, readlinkat, AtFlags, FcntlArg, OFlag, AT_FDCWD};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

use crate::config::Output;
use crate::error::{Error, ErrorKind, Result, Step};
use crate::pathsafe::{self, Trust};

/// The files that become fds 0, 1 and 2 of a full daemon.
#[derive(Debug)]
pub(crate) struct Stdio {
    null: OwnedFd,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    /// Output files this start created, removed again if it fails.
    created: Vec<Created>,
}

/// An output file created by this start: its directory, name and
/// identity. Removal goes through the directory opened at creation, so it
/// removes the file this start created whatever path led to it.
#[derive(Debug)]
struct Created {
    dir: OwnedFd,
    name: CString,
    dev: libc::dev_t,
    ino: libc::ino_t,
}

impl Created {
    /// Removes the file if its name still names the file created: a failed
    /// start leaves no file it created, even one its daemon wrote into
    /// before failing (the launcher reports why it failed), and never
    /// removes a file that replaced it.
    fn remove(&self) {
        let now = fstatat(
            &self.dir,
            self.name.as_c_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        );
        if let Ok(st) = now {
            if st.st_dev == self.dev && st.st_ino == self.ino {
                let _ = unlinkat(&self.dir, self.name.as_c_str(), UnlinkatFlags::NoRemoveDir);
            }
        }
    }
}

fn file_type(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
}

/// Opens an output file for appending; `Some` identity when this call
/// created it.
///
/// The file is opened relative to its directory, which must be safe (see
/// [`pathsafe`]). A missing file is created with `O_EXCL`, which never
/// follows a symlink: a dangling symlink never creates a file. An existing
/// final-component symlink is followed only when it and its directory
/// belong to root or the daemon's user and, when that user owns either,
/// the file it leads to is theirs (else the daemon's user could point
/// root's launcher at any file of root's with one link, `/etc/shadow`).
/// It is followed by reading it
/// and opening what it names as any other output path: the directories
/// that lead to the file it names are checked too, before anything there
/// is opened (the user who owns one of them could otherwise point the
/// daemon's output at any file root owns). Every open is non-blocking (`O_NONBLOCK`, cleared
/// afterwards), so that neither a FIFO without a reader nor a device
/// waiting for a carrier can stall the launcher, whose signals are
/// blocked: a FIFO without a reader is refused at once. What it may be:
/// a regular file, a character device (a terminal, `/dev/null`,
/// `/dev/console`) or a FIFO that has a reader (a logger reading a pipe).
fn open_output(path: &Path, trust: Trust) -> Result<(OwnedFd, Option<Created>)> {
    open_output_from(AT_FDCWD, path, path, trust, 0, None)
}

/// The first symbolic link on the way to an output file that the daemon's
/// user controls (it owns the link, or the directory the link is in, where
/// it may replace root's link at any moment): that user chose the file,
/// which must then be theirs.
#[derive(Debug, Clone)]
struct UserLink {
    /// The link, as it was named (the configured path or a link's text).
    link: String,
    /// The link's owner.
    owner: u32,
    /// The owner of the link's directory.
    dir_owner: u32,
}

impl UserLink {
    /// Refuses `target`, whose owner is `uid`, unless the user who
    /// controls the link owns it: otherwise a root daemon's user could
    /// have the next start, made by root, append to any file of root's
    /// (`/etc/shadow`).
    fn check(&self, target: &Path, uid: u32) -> Result<()> {
        let controller = if self.owner != 0 {
            self.owner
        } else {
            self.dir_owner
        };
        if uid == controller {
            return Ok(());
        }
        let dir = if self.dir_owner != 0 && self.owner != self.dir_owner {
            format!(
                ", in a directory of {},",
                pathsafe::describe_user(self.dir_owner)
            )
        } else {
            String::new()
        };
        Err(Error::new(
            Step::Stdio,
            ErrorKind::Permission,
            format!(
                "{}: is a symbolic link of {}{dir} leading to {}, which belongs to {}, refused \
                 (a link the daemon's user controls may only lead to that user's files)",
                self.link,
                pathsafe::describe_user(self.owner),
                target.display(),
                pathsafe::describe_user(uid)
            ),
        ))
    }
}

/// Opens `path` for appending with every check of an output file (see
/// [`open_output`]), for a [`LogFile`](crate::LogFile); a file this call
/// creates stays.
pub(crate) fn open_checked(path: &Path, trust: Trust) -> Result<OwnedFd> {
    open_output(path, trust).map(|(fd, _)| fd)
}

/// How many symbolic links an output path may lead through.
const MAX_LINKS: u32 = 8;

/// [`open_output`] of `path`, relative to `base` when relative, reached
/// from the configured `origin` through `links` symbolic links (then never
/// created). `by_user`: the first of those links that the daemon's user
/// controls, if any (see [`UserLink`]).
fn open_output_from(
    base: BorrowedFd<'_>,
    path: &Path,
    origin: &Path,
    trust: Trust,
    links: u32,
    by_user: Option<UserLink>,
) -> Result<(OwnedFd, Option<Created>)> {
    let shown = path.display();
    if path.as_os_str().is_empty() {
        return Err(Error::new(
            Step::Stdio,
            ErrorKind::Config,
            "empty output path",
        ));
    }
    let failed = |e| Error::os(Step::Stdio, format!("{shown}"), e);
    let name = match path.file_name() {
        Some(name) if !path.as_os_str().as_bytes().ends_with(b"/") => name,
        _ => {
            return Err(Error::new(
                Step::Stdio,
                ErrorKind::Config,
                format!("{shown}: not a file name"),
            ))
        }
    };
    let name = CString::new(name.as_bytes()).map_err(|_| {
        Error::new(
            Step::Stdio,
            ErrorKind::Config,
            format!("{shown}: holds a NUL byte"),
        )
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // A link the daemon's user controls is judged by what it leads to
    // (`UserLink`), not by the transition check, which would refuse that
    // user's own file in a directory of root's.
    let dir = pathsafe::open_dir(Step::Stdio, base, parent, path, trust, 0)?;
    let flags =
        OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK;
    let mode = Mode::from_bits_truncate(0o640);
    // A few rounds, for files that appear or vanish between the calls.
    for _ in 0..16 {
        let made = if links == 0 {
            openat(
                &dir,
                name.as_c_str(),
                flags | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW,
                mode,
            )
        } else {
            // Reached through a symbolic link: never created.
            Err(Errno::EEXIST)
        };
        match made {
            Ok(fd) => {
                let st = match fstat(&fd) {
                    Ok(st) => st,
                    Err(e) => {
                        // Created a moment ago, in a directory only root
                        // or the daemon's user may write (checked above):
                        // the name is still this file.
                        let _ = unlinkat(&dir, name.as_c_str(), UnlinkatFlags::NoRemoveDir);
                        return Err(failed(e));
                    }
                };
                let created = Created {
                    dir,
                    name,
                    dev: st.st_dev,
                    ino: st.st_ino,
                };
                if let Err(e) = blocking(&fd).map_err(failed) {
                    created.remove();
                    return Err(e);
                }
                return Ok((fd, Some(created)));
            }
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(failed(e)),
        }
        let link = match fstatat(&dir, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) if links > 0 => return Err(dangling(origin)),
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(failed(e)),
        };
        let follow = file_type(&link) == SFlag::S_IFLNK;
        if follow {
            let dir_st = fstat(&dir).map_err(failed)?;
            for (what, uid) in [
                ("the symbolic link", link.st_uid),
                ("its directory", dir_st.st_uid),
            ] {
                if uid != 0 && uid != trust.uid() {
                    return Err(Error::new(
                        Step::Stdio,
                        ErrorKind::Permission,
                        format!(
                            "{shown}: is a symbolic link and {what} belongs to {}, refused \
                             (another user could choose the file it leads to)",
                            pathsafe::describe_user(uid)
                        ),
                    ));
                }
            }
            if links >= MAX_LINKS {
                return Err(Error::os(
                    Step::Stdio,
                    format!("{}", origin.display()),
                    Errno::ELOOP,
                ));
            }
            let target = readlinkat(&dir, name.as_c_str()).map_err(failed)?;
            let by_user = match by_user {
                None if link.st_uid != 0 || dir_st.st_uid != 0 => Some(UserLink {
                    link: shown.to_string(),
                    owner: link.st_uid,
                    dir_owner: dir_st.st_uid,
                }),
                by_user => by_user,
            };
            return open_output_from(
                dir.as_fd(),
                Path::new(&target),
                origin,
                trust,
                links + 1,
                by_user,
            );
        }
        // Checked before the open too, so that a device is not even opened.
        if let Some(by_user) = &by_user {
            by_user.check(path, link.st_uid)?;
        }
        let fd = match openat(
            &dir,
            name.as_c_str(),
            flags | OFlag::O_NOFOLLOW,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) if links > 0 => return Err(dangling(origin)),
            // Replaced by a symlink, or removed, since we looked: again.
            Err(Errno::ENOENT) | Err(Errno::ELOOP) => continue,
            Err(Errno::ENXIO) => {
                return Err(Error::new(
                    Step::Stdio,
                    ErrorKind::CantCreate,
                    format!(
                        "{shown}: is a FIFO without a reader, refused (writing to it would block)"
                    ),
                ))
            }
            Err(e) => return Err(failed(e)),
        };
        let st = pathsafe::check_file(Step::Stdio, fd.as_fd(), path, trust)?;
        if let Some(by_user) = &by_user {
            by_user.check(path, st.st_uid)?;
        }
        let kind = file_type(&st);
        if ![SFlag::S_IFREG, SFlag::S_IFCHR, SFlag::S_IFIFO].contains(&kind) {
            return Err(Error::new(
                Step::Stdio,
                ErrorKind::CantCreate,
                format!("{shown}: is not a regular file, a character device or a FIFO, refused"),
            ));
        }
        blocking(&fd).map_err(failed)?;
        return Ok((fd, None));
    }
    Err(Error::new(
        Step::Stdio,
        ErrorKind::Os,
        format!("{shown}: the file kept changing while it was being opened"),
    ))
}

fn dangling(origin: &Path) -> Error {
    Error::new(
        Step::Stdio,
        ErrorKind::CantCreate,
        format!(
            "{}: is a dangling symbolic link, refused (a symbolic link never creates a file)",
            origin.display()
        ),
    )
}

/// Clears `O_NONBLOCK`, which only guarded the open: the daemon's writes
/// wait as ordinary writes do.
fn blocking(fd: &OwnedFd) -> std::result::Result<(), Errno> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK)).map(drop)
}

impl Stdio {
    /// Opens `/dev/null` read-write and the output files.
    pub(crate) fn open(stdout: &Output, stderr: &Output, trust: Trust) -> Result<Stdio> {
        // Non-blocking, like every open here: a FIFO planted as /dev/null
        // (a container's /dev is not always devtmpfs) must not hang the
        // launcher; it is refused below.
        let null = open(
            "/dev/null",
            OFlag::O_RDWR | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK,
            Mode::empty(),
        )
        .map_err(|e| Error::os(Step::Stdio, "/dev/null", e))?;
        let st = fstat(&null).map_err(|e| Error::os(Step::Stdio, "/dev/null", e))?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFCHR {
            return Err(Error::new(
                Step::Stdio,
                ErrorKind::Os,
                "/dev/null is not a character device",
            ));
        }
        blocking(&null).map_err(|e| Error::os(Step::Stdio, "/dev/null", e))?;
        let mut created = Vec::new();
        let mut file = |out: &Output| match out {
            Output::Null => Ok(None),
            Output::File(path) => open_output(path, trust).map(|(fd, new)| {
                created.extend(new);
                Some(fd)
            }),
        };
        let outputs = file(stdout).and_then(|stdout| Ok((stdout, file(stderr)?)));
        match outputs {
            Ok((stdout, stderr)) => Ok(Stdio {
                null,
                stdout,
                stderr,
                created,
            }),
            Err(e) => {
                created.iter().for_each(Created::remove);
                Err(e)
            }
        }
    }

    /// Undoes a failed start: removes the output files it created.
    pub(crate) fn discard(&self) {
        self.created.iter().for_each(Created::remove);
    }

    /// `"stdout"` or `"stderr"` when `path` names that output file (by
    /// identity, however it is spelled: a second name, a symlink).
    pub(crate) fn output_at(&self, path: &Path) -> Option<&'static str> {
        if self.stdout.is_none() && self.stderr.is_none() {
            return None;
        }
        let named = nix::sys::stat::stat(path).ok()?;
        [("stdout", &self.stdout), ("stderr", &self.stderr)]
            .into_iter()
            .find_map(|(stream, fd)| {
                let st = fstat(fd.as_ref()?).ok()?;
                (st.st_dev == named.st_dev && st.st_ino == named.st_ino).then_some(stream)
            })
    }

    /// The `/dev/null` descriptor.
    pub(crate) fn null_fd(&self) -> RawFd {
        self.null.as_raw_fd()
    }

    /// The fds the fd sweep must keep until [`redirect`](Stdio::redirect),
    /// which closes all but 0, 1 and 2 (the directories of created files
    /// among them: nothing outside a chroot stays open for the body).
    pub(crate) fn fds(&self) -> Vec<RawFd> {
        let mut fds = vec![self.null.as_raw_fd()];
        fds.extend(self.stdout.iter().map(AsRawFd::as_raw_fd));
        fds.extend(self.stderr.iter().map(AsRawFd::as_raw_fd));
        fds.extend(self.created.iter().map(|c| c.dir.as_raw_fd()));
        fds
    }

    /// Puts the files on fds 0, 1 and 2 and closes the originals. With
    /// `early` (a full start), fd 2 is that pipe to the launcher until the
    /// daemon is ready or fails ([`end_early_words`]): what the daemon
    /// says meanwhile reaches the launcher's stderr.
    pub(crate) fn redirect(self, early: Option<OwnedFd>) -> Result<()> {
        if let Some(early) = early {
            let configured = self.stderr.as_ref().map_or(self.null.as_fd(), AsFd::as_fd);
            let kept = fcntl(configured, FcntlArg::F_DUPFD_CLOEXEC(3))
                .map_err(|e| Error::os(Step::Stdio, "stderr", e))?;
            FINAL_STDERR.store(kept, Ordering::SeqCst);
            let result = self.redirect_to(early.as_raw_fd());
            if result.is_err() {
                end_early_words();
            }
            return result;
        }
        let stderr = self
            .stderr
            .as_ref()
            .map_or(self.null.as_raw_fd(), AsRawFd::as_raw_fd);
        self.redirect_to(stderr)
    }

    fn redirect_to(self, stderr: RawFd) -> Result<()> {
        let null = self.null.as_raw_fd();
        let targets = [
            (0, null, "stdin"),
            (
                1,
                self.stdout.as_ref().map_or(null, AsRawFd::as_raw_fd),
                "stdout",
            ),
            (2, stderr, "stderr"),
        ];
        for (to, from, name) in targets {
            dup2(from, to).map_err(|e| Error::os(Step::Stdio, name, e))?;
        }
        log::debug!("stdio: redirected");
        // Dropping `self` closes the temporaries; 0, 1 and 2 stay.
        Ok(())
    }
}

/// Opens `/dev/null` on any of fds 0, 1 and 2 that is closed, before
/// anything else is opened: otherwise the pid file or `/dev/null` itself
/// could land on a standard fd number, and redirecting stdio (or a
/// `println!`) would close or write into it.
pub(crate) fn fill_standard_fds() -> Result<()> {
    for fd in 0..=2 {
        // SAFETY: F_GETFD takes no pointers.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
            continue;
        }
        let null = open(
            "/dev/null",
            OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_NONBLOCK,
            Mode::empty(),
        )
        .map_err(|e| Error::os(Step::Preflight, "/dev/null", e))?;
        // open(2) returns the lowest free number, which is `fd` or lower;
        // a lower one was open, so it is `fd`.
        if null.as_raw_fd() != fd {
            return Err(Error::new(
                Step::Preflight,
                ErrorKind::Os,
                format!("fd {fd} is closed and could not be reopened on /dev/null"),
            ));
        }
        let is_device = fstat(&null).is_ok_and(|st| {
            SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR
        });
        if !is_device {
            return Err(Error::new(
                Step::Preflight,
                ErrorKind::Os,
                "/dev/null is not a character device",
            ));
        }
        blocking(&null).map_err(|e| Error::os(Step::Preflight, "/dev/null", e))?;
        std::mem::forget(null);
        log::debug!("preflight: fd {fd} was closed; now /dev/null");
    }
    Ok(())
}

/// The configured stderr while fd 2 is the pipe of early words, -1
/// otherwise.
static FINAL_STDERR: AtomicI32 = AtomicI32::new(-1);

/// Puts the configured stderr back on fd 2, once the daemon is ready or
/// failing: from then on what it says goes where configured (a failure's
/// own report reaches the launcher through the readiness channel).
/// Async-signal-safe: an atomic, `dup2(2)` and `close(2)`.
pub(crate) fn end_early_words() {
    if FINAL_STDERR.load(Ordering::SeqCst) < 0 {
        return;
    }
    let fd = FINAL_STDERR.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        let _ = dup2(fd, 2);
        // SAFETY: the fd was kept for this switch alone; nothing else
        // holds its number.
        unsafe { libc::close(fd) };
    }
}

fn dup2(from: RawFd, to: RawFd) -> std::result::Result<(), Errno> {
    loop {
        // SAFETY: dup2 takes no pointers. It replaces fd `to`, which the
        // standard streams refer to by number only.
        let rc = unsafe { libc::dup2(from, to) };
        match Errno::result(rc) {
            Err(Errno::EINTR) | Err(Errno::EBUSY) => continue,
            other => return other.map(drop),
        }
    }
}
