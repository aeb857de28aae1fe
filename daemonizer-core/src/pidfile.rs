//! The pid file: opened and locked before the fork, written by the daemon,
//! removed (or emptied) by the daemon alone at exit.
//!
//! Liveness is decided by an exclusive `flock` on the file, never by its
//! presence: the lock belongs to the open file description, so it survives
//! the forks, and the kernel releases it when the daemon dies, however it
//! dies. A stale file left by `kill -9` is therefore no obstacle.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{open, openat, OFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, FileStat, Mode, SFlag};
use nix::unistd::{ftruncate, getpid, unlinkat, UnlinkatFlags};

use crate::error::{Error, ErrorKind, Result, Step};

/// How long a second start waits for the running daemon to write its PID
/// into a file it has locked but not yet filled.
const PID_WAIT: Duration = Duration::from_secs(2);

/// An open, locked pid file.
#[derive(Debug)]
pub(crate) struct PidFile {
    path: PathBuf,
    /// The directory, for removal at exit; closed once a chrooted daemon
    /// is running (see [`close_dir`](PidFile::close_dir)).
    dir: Mutex<Option<OwnedFd>>,
    name: OsString,
    file: OwnedFd,
    created: bool,
    /// The PID written into the file; only that process removes it.
    owner: AtomicI32,
    removed: AtomicBool,
}

fn same_file(a: &FileStat, b: &FileStat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

fn is_regular(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG
}

fn file_type_name(st: &FileStat) -> &'static str {
    match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        SFlag::S_IFLNK => "a symbolic link",
        _ => "not a regular file",
    }
}

impl PidFile {
    /// Opens and locks `path`: `O_CREAT | O_NOFOLLOW | O_CLOEXEC`, mode 0644,
    /// never truncated before the lock is ours; anything but a regular file
    /// is refused without being touched.
    pub(crate) fn acquire(path: &Path) -> Result<PidFile> {
        let shown = path.display();
        if path.as_os_str().is_empty() {
            return Err(Error::new(Step::PidFile, ErrorKind::Config, "empty path"));
        }
        let name = match path.file_name() {
            Some(name) if !path.as_os_str().as_bytes().ends_with(b"/") => name.to_owned(),
            _ => {
                return Err(Error::new(
                    Step::PidFile,
                    ErrorKind::Config,
                    format!("{shown}: not a file name"),
                ))
            }
        };
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let dir = open(
            parent,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::os(Step::PidFile, format!("{shown}"), e))?;

        // A few rounds, for the races: the file vanishing between our
        // attempts, or a departing daemon unlinking the inode we locked.
        for _ in 0..16 {
            let (file, created) = match Self::open_in(&dir, &name, path)? {
                Some(opened) => opened,
                None => continue,
            };
            match try_lock(file.as_raw_fd()) {
                Ok(()) => {}
                Err(Errno::EWOULDBLOCK) => return Err(already_running(path, &file)),
                Err(e) => return Err(Error::os(Step::PidFile, format!("{shown}: flock"), e)),
            }
            // The lock is ours; make sure it is on the file the path names.
            let ours = fstat(&file).map_err(|e| Error::os(Step::PidFile, format!("{shown}"), e))?;
            match fstatat(
                &dir,
                name.as_os_str(),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            ) {
                Ok(now) if same_file(&ours, &now) => {}
                Ok(_) | Err(Errno::ENOENT) => continue,
                Err(e) => return Err(Error::os(Step::PidFile, format!("{shown}"), e)),
            }
            // Whatever the file holds is stale: its owner is gone.
            ftruncate(&file, 0)
                .map_err(|e| Error::os(Step::PidFile, format!("{shown}: truncate"), e))?;
            log::debug!(
                "pid file: {shown}: locked{}",
                if created { " (created)" } else { "" }
            );
            return Ok(PidFile {
                path: path.to_owned(),
                dir: Mutex::new(Some(dir)),
                name,
                file,
                created,
                owner: AtomicI32::new(0),
                removed: AtomicBool::new(false),
            });
        }
        Err(Error::new(
            Step::PidFile,
            ErrorKind::Os,
            format!("{shown}: the file kept changing while it was being locked"),
        ))
    }

    /// Opens the file, creating it when missing. `None` means "raced, try
    /// again".
    fn open_in(dir: &OwnedFd, name: &OsStr, path: &Path) -> Result<Option<(OwnedFd, bool)>> {
        let shown = path.display();
        let base = OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
        let mode = Mode::from_bits_truncate(0o644);
        match openat(dir, name, base | OFlag::O_CREAT | OFlag::O_EXCL, mode) {
            Ok(fd) => {
                // The umask may have narrowed the mode; readers need 0644.
                fchmod(&fd, mode).map_err(|e| Error::os(Step::PidFile, format!("{shown}"), e))?;
                return Ok(Some((fd, true)));
            }
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(Error::os(Step::PidFile, format!("{shown}"), e)),
        }
        // It exists. Look before opening, so that a FIFO or a device is
        // never opened (opening either can block or have side effects).
        let st = match fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(Error::os(Step::PidFile, format!("{shown}"), e)),
        };
        if !is_regular(&st) {
            return Err(refused(path, file_type_name(&st)));
        }
        let fd = match openat(dir, name, base | OFlag::O_NONBLOCK, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(Errno::ELOOP) => return Err(refused(path, "a symbolic link")),
            Err(e) => return Err(Error::os(Step::PidFile, format!("{shown}"), e)),
        };
        let st = fstat(&fd).map_err(|e| Error::os(Step::PidFile, format!("{shown}"), e))?;
        if !is_regular(&st) {
            return Err(refused(path, file_type_name(&st)));
        }
        Ok(Some((fd, false)))
    }

    /// Writes `"<pid>\n"` (after emptying the file); from now on only `pid`
    /// removes the file.
    ///
    /// No `fsync`: every reader goes through the page cache, which has the
    /// PID as soon as `pwrite` returns, and the contents only matter while
    /// this process lives. After a crash of the machine they are stale
    /// whether they reached the disk or not, and the lock (never the
    /// contents) decides liveness. On ext4 the sync forced a journal commit
    /// on the way to readiness: about 0.4 ms, a third of the start-up
    /// measured by `cargo bench --bench startup`.
    pub(crate) fn write_pid(&self, pid: i32) -> Result<()> {
        let shown = self.path.display();
        let text = format!("{pid}\n");
        ftruncate(&self.file, 0).map_err(|e| Error::os(Step::PidWrite, format!("{shown}"), e))?;
        let written = nix::sys::uio::pwrite(&self.file, text.as_bytes(), 0)
            .map_err(|e| Error::os(Step::PidWrite, format!("{shown}"), e))?;
        if written != text.len() {
            return Err(Error::new(
                Step::PidWrite,
                ErrorKind::Os,
                format!("{shown}: short write ({written} of {} bytes)", text.len()),
            ));
        }
        self.owner.store(pid, Ordering::SeqCst);
        log::debug!("pid file: {shown}: wrote {pid}");
        Ok(())
    }

    /// The path as configured.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The fds the fd sweep must keep: the locked file and its directory.
    pub(crate) fn fds(&self) -> Vec<RawFd> {
        let dir = self.dir.lock().unwrap_or_else(|p| p.into_inner());
        let mut fds = vec![self.file.as_raw_fd()];
        fds.extend(dir.as_ref().map(AsRawFd::as_raw_fd));
        fds
    }

    /// Closes the directory: an open directory outside a chroot is a way
    /// out of it. The file is then emptied at exit instead of removed.
    pub(crate) fn close_dir(&self) {
        self.dir.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Removes the file at exit, only in the process whose PID it holds and
    /// only once; where unlinking is not allowed (privileges dropped), the
    /// file is emptied instead. Never unlocks: the lock goes with the last
    /// fd, so a forked child can never release it by accident.
    pub(crate) fn remove(&self) {
        let owner = self.owner.load(Ordering::SeqCst);
        if owner == 0 || owner != getpid().as_raw() || self.removed.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Err(e) = self.unlink_if_ours() {
            log::debug!(
                "pid file: {}: cannot remove ({e}); emptying it",
                self.path.display()
            );
            if let Err(e) = ftruncate(&self.file, 0) {
                log::warn!("pid file: {}: cannot empty: {e}", self.path.display());
            }
        } else {
            log::debug!("pid file: {}: removed", self.path.display());
        }
    }

    /// Undoes a failed start in the launcher: removes the file if this start
    /// created it.
    pub(crate) fn discard(&self) {
        if self.created && !self.removed.swap(true, Ordering::SeqCst) {
            let _ = self.unlink_if_ours();
        }
    }

    fn unlink_if_ours(&self) -> std::result::Result<(), Errno> {
        let dir = self.dir.lock().unwrap_or_else(|p| p.into_inner());
        let Some(dir) = dir.as_ref() else {
            return Err(Errno::EBADF);
        };
        let ours = fstat(&self.file)?;
        let now = fstatat(
            dir,
            self.name.as_os_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
        if !same_file(&ours, &now) {
            // Someone replaced the file; it is not ours to remove.
            return Ok(());
        }
        unlinkat(dir, self.name.as_os_str(), UnlinkatFlags::NoRemoveDir)
    }
}

/// `flock(LOCK_EX | LOCK_NB)`, the lock that belongs to the open file
/// description (nix's `Flock` unlocks on drop, which a forked child could
/// do by accident; this lock is only ever released by closing).
fn try_lock(fd: RawFd) -> std::result::Result<(), Errno> {
    loop {
        // SAFETY: flock takes no pointers; `fd` is open for the whole call.
        let rc = unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) };
        match Errno::result(rc) {
            Err(Errno::EINTR) => continue,
            other => return other.map(drop),
        }
    }
}

fn refused(path: &Path, what: &str) -> Error {
    Error::new(
        Step::PidFile,
        ErrorKind::CantCreate,
        format!(
            "{}: is {what}, refused (a pid file must be a regular file)",
            path.display()
        ),
    )
}

/// The "already running" error, with the PID the running daemon wrote
/// (waiting briefly when it has locked the file but not written it yet).
fn already_running(path: &Path, file: &OwnedFd) -> Error {
    let deadline = Instant::now() + PID_WAIT;
    loop {
        let mut buf = [0u8; 32];
        let pid = nix::sys::uio::pread(file, &mut buf, 0)
            .ok()
            .and_then(|n| std::str::from_utf8(&buf[..n]).ok().map(str::to_owned))
            .filter(|s| s.ends_with('\n'))
            .and_then(|s| s.trim().parse::<i32>().ok());
        if let Some(pid) = pid {
            return Error::new(
                Step::PidFile,
                ErrorKind::AlreadyRunning,
                format!("{}: already running as PID {pid}", path.display()),
            );
        }
        if Instant::now() >= deadline {
            return Error::new(
                Step::PidFile,
                ErrorKind::AlreadyRunning,
                format!(
                    "{}: already running (the file is locked, but no PID was written yet)",
                    path.display()
                ),
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
