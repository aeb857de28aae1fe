//! The pid file: opened and locked before the fork, written by the daemon,
//! removed (or emptied) by the daemon alone at exit.
//!
//! Liveness is decided by an exclusive `flock` on the file, never by its
//! presence: the lock belongs to the open file description, so it survives
//! the forks, and the kernel releases it when the daemon dies, however it
//! dies. A stale file left by `kill -9` is therefore no obstacle.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{open, openat, OFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, FileStat, Mode, SFlag};
use nix::unistd::ftruncate;

use crate::error::{Error, ErrorKind, Result, Step};

/// How long a second start waits for the running daemon to write its PID
/// into a file it has locked but not yet filled.
const PID_WAIT: Duration = Duration::from_secs(2);

/// The pid file's mode: readable by everyone, writable by its owner.
const PID_FILE_MODE: u32 = 0o644;

/// An open, locked pid file.
///
/// Removal at exit may run inside a signal handler (a stop signal the body
/// does not watch), so everything it reads is fixed at start or atomic:
/// the directory is a raw fd in an atomic, the name a C string.
#[derive(Debug)]
pub(crate) struct PidFile {
    path: PathBuf,
    /// The directory's fd, for removal at exit, or -1 once closed (a
    /// chrooted daemon closes it; see [`close_dir`](PidFile::close_dir)).
    dir: AtomicI32,
    name: CString,
    file: OwnedFd,
    created: bool,
    /// The PID written into the file; only that process removes it.
    owner: AtomicI32,
    removed: AtomicBool,
}

/// What an attempt to remove the pid file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Removal {
    /// Unlinked (or found gone, or replaced by another file, which stays).
    Removed,
    /// Unlinking failed with this error; the file was emptied instead.
    Emptied(Errno),
    /// Neither unlinking nor emptying worked.
    Failed(Errno, Errno),
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let dir = self.dir.swap(-1, Ordering::SeqCst);
        if dir >= 0 {
            // SAFETY: the fd came from `into_raw_fd` and is closed once.
            unsafe { libc::close(dir) };
        }
    }
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
            Some(name) if !path.as_os_str().as_bytes().ends_with(b"/") => name,
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
            let (file, created) = match Self::open_in(&dir, name, path)? {
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
            match fstatat(&dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(now) if same_file(&ours, &now) => {}
                Ok(_) | Err(Errno::ENOENT) => continue,
                Err(e) => return Err(Error::os(Step::PidFile, format!("{shown}"), e)),
            }
            // The umask may have narrowed a new file's mode; readers need
            // 0644.
            if created && ours.st_mode & 0o7777 != PID_FILE_MODE {
                fchmod(&file, Mode::from_bits_truncate(PID_FILE_MODE))
                    .map_err(|e| Error::os(Step::PidFile, format!("{shown}"), e))?;
            }
            // Whatever the file holds is stale: its owner is gone.
            if ours.st_size != 0 {
                ftruncate(&file, 0)
                    .map_err(|e| Error::os(Step::PidFile, format!("{shown}: truncate"), e))?;
            }
            log::debug!(
                "pid file: {shown}: locked{}",
                if created { " (created)" } else { "" }
            );
            let name = CString::new(name.as_bytes()).map_err(|_| {
                Error::new(
                    Step::PidFile,
                    ErrorKind::Config,
                    format!("{shown}: holds a NUL byte"),
                )
            })?;
            return Ok(PidFile {
                path: path.to_owned(),
                dir: AtomicI32::new(dir.into_raw_fd()),
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
        let mode = Mode::from_bits_truncate(PID_FILE_MODE);
        match openat(dir, name, base | OFlag::O_CREAT | OFlag::O_EXCL, mode) {
            Ok(fd) => return Ok(Some((fd, true))),
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

    /// Writes `"<pid>\n"` into the file, which [`acquire`](PidFile::acquire)
    /// left empty and which nobody else writes while we hold the lock; from
    /// now on only `pid` removes the file.
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
        let line = crate::readiness::PidLine::new(b"", pid);
        let text = line.as_bytes();
        let written = nix::sys::uio::pwrite(&self.file, text, 0)
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
        let mut fds = vec![self.file.as_raw_fd()];
        let dir = self.dir.load(Ordering::SeqCst);
        if dir >= 0 {
            fds.push(dir);
        }
        fds
    }

    /// Closes the directory: an open directory outside a chroot is a way
    /// out of it. The file is then emptied at exit instead of removed.
    pub(crate) fn close_dir(&self) {
        let dir = self.dir.swap(-1, Ordering::SeqCst);
        if dir >= 0 {
            // SAFETY: the fd came from `into_raw_fd`; the swap hands it to
            // this call alone.
            unsafe { libc::close(dir) };
        }
    }

    /// Removes the file at exit, only in the process whose PID it holds and
    /// only once; where unlinking is not allowed (privileges dropped), the
    /// file is emptied instead. Never unlocks: the lock goes with the last
    /// fd, so a forked child can never release it by accident.
    pub(crate) fn remove(&self) {
        if !self.is_ours() || self.removed.swap(true, Ordering::SeqCst) {
            return;
        }
        let shown = self.path.display();
        match self.unlink_or_empty(true) {
            Removal::Removed => log::debug!("pid file: {shown}: removed"),
            Removal::Emptied(e) => {
                log::debug!("pid file: {shown}: cannot remove ({e}); emptied it");
            }
            Removal::Failed(e, empty) => {
                log::warn!("pid file: {shown}: cannot remove ({e}) nor empty ({empty})");
            }
        }
    }

    /// [`remove`](PidFile::remove) inside a signal handler that ends the
    /// process: async-signal-safe (atomics and plain system calls on fds and
    /// a name fixed at start; no allocation, lock or logging).
    ///
    /// It does not skip a removal that normal context has begun: the
    /// handler may have interrupted it half-way, and the process ends with
    /// the handler. Removing twice is harmless: the second finds the name
    /// gone, or naming another file, and leaves it. With `unlink` false
    /// (a chrooted daemon, whose directory fd is closed once it runs) the
    /// file is only emptied, and the directory fd is never used.
    pub(crate) fn remove_in_handler(&self, unlink: bool) {
        if self.is_ours() {
            self.removed.store(true, Ordering::SeqCst);
            self.unlink_or_empty(unlink);
        }
    }

    /// Whether this process is the one whose PID the file holds.
    fn is_ours(&self) -> bool {
        let owner = self.owner.load(Ordering::SeqCst);
        // SAFETY: getpid(2) takes no arguments and cannot fail.
        owner != 0 && owner == unsafe { libc::getpid() }
    }

    /// Unlinks the file (when `unlink`) or else empties it.
    /// Async-signal-safe.
    fn unlink_or_empty(&self, unlink: bool) -> Removal {
        let unlinked = if unlink {
            self.unlink_if_ours()
        } else {
            Err(Errno::EBADF)
        };
        match unlinked {
            // Gone already: removed by an interrupted removal, or by hand.
            Ok(()) | Err(Errno::ENOENT) => Removal::Removed,
            // SAFETY: ftruncate takes no pointers; the file stays open.
            Err(e) => match Errno::result(unsafe { libc::ftruncate(self.file.as_raw_fd(), 0) }) {
                Ok(_) => Removal::Emptied(e),
                Err(empty) => Removal::Failed(e, empty),
            },
        }
    }

    /// Undoes a failed start in the launcher: removes the file if this start
    /// created it.
    pub(crate) fn discard(&self) {
        if self.created && !self.removed.swap(true, Ordering::SeqCst) {
            let _ = self.unlink_if_ours();
        }
    }

    /// Unlinks the name if it still names our file. Async-signal-safe, as
    /// [`remove_in_handler`](PidFile::remove_in_handler) needs.
    fn unlink_if_ours(&self) -> std::result::Result<(), Errno> {
        let dir = self.dir.load(Ordering::SeqCst);
        if dir < 0 {
            return Err(Errno::EBADF);
        }
        // SAFETY: both buffers are plain C structs that fstat/fstatat fill
        // in; the fds and the NUL-terminated name stay valid for the calls.
        let (ours, now) = unsafe {
            let mut ours: libc::stat = std::mem::zeroed();
            Errno::result(libc::fstat(self.file.as_raw_fd(), &mut ours))?;
            let mut now: libc::stat = std::mem::zeroed();
            Errno::result(libc::fstatat(
                dir,
                self.name.as_ptr(),
                &mut now,
                libc::AT_SYMLINK_NOFOLLOW,
            ))?;
            (ours, now)
        };
        if (ours.st_dev, ours.st_ino) != (now.st_dev, now.st_ino) {
            // Someone replaced the file; it is not ours to remove.
            return Ok(());
        }
        // SAFETY: as above.
        Errno::result(unsafe { libc::unlinkat(dir, self.name.as_ptr(), 0) }).map(drop)
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
