//! The pid file: opened and probed in the launcher, locked by the daemon
//! itself, written by it, removed (or emptied) by it alone at exit.
//!
//! Liveness is a POSIX record lock (`fcntl(F_SETLK)`, `F_WRLCK` over the
//! whole file) held by the daemon process, never the file's presence nor
//! the PID in it. The lock that decides is not on the pid file but on a
//! companion **lock file** next to it, `.<name>.lock` (`/run/.myd.pid.lock`
//! for `/run/myd.pid`):
//!
//! - nobody has a reason to open or remove it: the body, an admin's
//!   `cat`, an init script's `rm -f $PIDFILE` or a cleaner of stale pid
//!   files all handle the pid file. Closing *any* descriptor of a file
//!   drops the record lock of the process on it, so a body that reads its
//!   own pid file would lose a lock held there, and a removed pid file
//!   would take its lock out of sight of the next start;
//! - it is created once, mode 0600, with the pid file's checks (regular
//!   file, one link, owned by root or the daemon's user, not writable by
//!   others), and stays when the daemon ends: every start and every
//!   control request meets the same inode. Only a start that created it
//!   and failed removes it again, under a lock that no daemon can hold
//!   meanwhile (nothing is left behind);
//! - only its owner (root, as a rule) can open it, so no other user can
//!   hold even a read lock on it and keep a daemon from starting;
//! - a write lock needs a descriptor open for writing, it is not
//!   inherited by `fork` (children the body forks never hold it), `F_GETLK`
//!   names the holder's PID ("already running as PID N", status and
//!   signals name the process that holds it), and the kernel drops it when
//!   the process dies, however it dies (a stale file left by `kill -9` is
//!   no obstacle).
//!
//! The daemon takes the lock, then checks that the lock file's path still
//! names the inode it locked (else it opens the path again and starts
//! over): whatever was removed or created meanwhile (a failed start
//! removing the lock file it made, say), two daemons never hold the lock
//! on files that the same path named when they checked.
//!
//! The pid file stays the plain `<pid>\n` record that other tools read,
//! mode 0644. Only the holder of the lock file's lock creates, replaces,
//! writes or removes it, so it needs no lock of its own for that. The
//! daemon also holds a write lock on it, as a second witness: for users
//! who cannot open the lock file (their status request asks the pid
//! file's lock) and for a start that finds the lock file removed by hand
//! (a daemon holding the pid file is still "already running"). A reader's
//! lock on the pid file does not hold the daemon back: the holder of the
//! lock file replaces the file by a new one, made under an unpredictable
//! name (`O_EXCL`), locked, then renamed over it.
//!
//! What remains:
//!
//! - removing the lock file *and* the pid file while the daemon runs lets
//!   a second daemon start: the lock file is not to be removed (an
//!   `rm -f /run/myd.pid` never touches it);
//! - in a sticky directory that other users can write (`/tmp`), a user
//!   who creates the pid file's or the lock file's name first (her own
//!   file, which the checks refuse) keeps the daemon from starting until
//!   the file is gone. A directory only root or the daemon's user can
//!   write (`/run/myd/`) has no such limit;
//! - a body that opens and closes the lock file itself drops the lock.
//!
//! The runtime itself never opens either file again once it holds the
//! lock.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{openat, renameat, AtFlags, OFlag, AT_FDCWD};
use nix::sys::stat::{fchmod, fstat, fstatat, FileStat, Mode, SFlag};
use nix::unistd::ftruncate;

use crate::error::{Error, ErrorKind, Result, Step};
use crate::pathsafe::{self, Trust};

/// The pid file's mode: readable by everyone, writable by its owner.
const PID_FILE_MODE: libc::mode_t = 0o644;

/// The lock file's mode: its owner's alone, so that nobody else can hold
/// a lock on it.
const LOCK_FILE_MODE: libc::mode_t = 0o600;

/// The lock types as `c_int` (they are `c_short` on the BSDs).
const WRLCK: libc::c_int = libc::F_WRLCK as libc::c_int;
const UNLCK: libc::c_int = libc::F_UNLCK as libc::c_int;

/// How many times [`PidFile::lock`] looks again when a file changes
/// under it (the lock file removed by hand, a pid file replaced).
const LOCK_ROUNDS: usize = 200;

/// Who holds a lock that conflicts with a write lock on the whole file, as
/// `F_GETLK` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    /// Nobody: the file is free.
    Free,
    /// A write lock: a daemon runs. The PID is `None` when the holder is
    /// not visible from here (another PID namespace).
    Daemon(Option<i32>),
    /// Only read locks (or, where `flock` and record locks are one, a
    /// `flock`): whoever holds them opened the file, maybe read-only, and
    /// is no daemon.
    Reader,
    /// A write lock on [`UNDO_BYTE`] alone: a start that failed removes or
    /// empties the file it opened, for a moment. No daemon runs.
    Undoing,
}

/// How long [`PidFile::lock`] waits, at a time, for a failed start that
/// removes or empties the file ([`Holder::Undoing`]); it takes
/// microseconds when that process runs.
const UNDO_LIMIT: Duration = Duration::from_secs(5);

/// The byte that a start undoing itself locks (see [`set_undo_lock`]):
/// it conflicts with a daemon's lock on the whole file both ways, and
/// `F_GETLK` tells it from one by its range.
const UNDO_BYTE: libc::off_t = 1;

/// Asks the kernel who holds a lock that would conflict with a write lock
/// on the whole file. Never takes a lock, so it can never make a start
/// fail; works on a descriptor open for reading only.
pub(crate) fn probe(fd: BorrowedFd<'_>) -> std::result::Result<Holder, Errno> {
    let mut lock = whole_file(libc::F_WRLCK);
    // SAFETY: `lock` is a valid flock struct that F_GETLK fills in.
    Errno::result(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETLK, &mut lock) })?;
    Ok(match i32::from(lock.l_type) {
        UNLCK => Holder::Free,
        // A negative PID is how BSD kernels report a `flock` lock, which
        // anybody who can read the file may take: not a daemon.
        WRLCK if lock.l_pid >= 0 && (lock.l_start, lock.l_len) == (0, 0) => {
            Holder::Daemon((lock.l_pid > 0).then_some(lock.l_pid))
        }
        WRLCK if lock.l_pid >= 0 => Holder::Undoing,
        _ => Holder::Reader,
    })
}

/// `kind` is `F_WRLCK`, `F_UNLCK` or `F_RDLCK`: a `c_int` on Linux, a
/// `c_short` on the BSDs.
fn whole_file(kind: impl Into<libc::c_int>) -> libc::flock {
    // SAFETY: flock is a plain C struct; all-zero is a valid value.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind.into() as _;
    lock.l_whence = libc::SEEK_SET as _;
    lock.l_start = 0;
    lock.l_len = 0;
    lock
}

/// `fcntl(F_SETLK)` of `kind` over the whole file: `Ok(false)` when another
/// process holds a conflicting lock.
fn set_lock(fd: RawFd, kind: impl Into<libc::c_int>) -> std::result::Result<bool, Errno> {
    set(fd, whole_file(kind))
}

/// The write lock of a launcher (or lite process) that removes or empties
/// the file after a failed start: on [`UNDO_BYTE`] only, so that status
/// requests, stops and other starts that meet it meanwhile do not take
/// it for a daemon's ([`Holder::Undoing`]). Released with
/// `set_lock(fd, UNLCK)`.
fn set_undo_lock(fd: RawFd) -> std::result::Result<bool, Errno> {
    let mut lock = whole_file(WRLCK);
    lock.l_start = UNDO_BYTE;
    lock.l_len = 1;
    set(fd, lock)
}

fn set(fd: RawFd, lock: libc::flock) -> std::result::Result<bool, Errno> {
    loop {
        // SAFETY: `lock` is a valid flock struct; `fd` is open.
        match Errno::result(unsafe { libc::fcntl(fd, libc::F_SETLK, &lock) }) {
            Ok(_) => return Ok(true),
            Err(Errno::EAGAIN | Errno::EACCES) => return Ok(false),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// An open pid file.
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
    /// The lock file, whose lock decides liveness (see the module docs).
    lock_file: OwnedFd,
    lock_name: CString,
    /// This start created the lock file (in the launcher): a failed start
    /// removes it again.
    lock_created: bool,
    /// This start created the file (in the launcher).
    created: bool,
    /// The PID of the process that holds the lock: from the moment it
    /// holds it, every way out of that process removes the file, and no
    /// other process ever does.
    owner: AtomicI32,
    removed: AtomicBool,
    /// Who may own the file and its directories (see [`pathsafe`]).
    trust: Trust,
}

/// What an attempt to remove the pid file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Removal {
    /// Unlinked (or found gone, or replaced by another file, which stays).
    Removed,
    /// Unlinking failed with this error; the file was emptied instead.
    Emptied(Errno),
    /// Neither unlinking nor emptying worked (these errors); the PID was
    /// overwritten with blanks instead.
    Blanked(Errno, Errno),
    /// Unlinking, emptying and overwriting all failed.
    Failed(Errno, Errno, Errno),
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

/// Splits `path` into its directory and its last component, refusing what
/// cannot name a file.
pub(crate) fn split(path: &Path) -> Result<(&Path, &OsStr)> {
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
    Ok((parent, name))
}

/// The lock file's name for the pid file named `name`: `.<name>.lock`.
fn lock_name(name: &OsStr) -> Vec<u8> {
    let mut lock = Vec::with_capacity(name.len() + 6);
    lock.push(b'.');
    lock.extend_from_slice(name.as_bytes());
    lock.extend_from_slice(b".lock");
    lock
}

/// The lock file's path for the pid file `path` (see the module docs).
pub(crate) fn lock_path(path: &Path) -> Result<PathBuf> {
    let (parent, name) = split(path)?;
    Ok(parent.join(OsStr::from_bytes(&lock_name(name))))
}

impl PidFile {
    /// Opens `path` in the launcher (step 1): `O_RDWR | O_CREAT |
    /// O_NOFOLLOW | O_CLOEXEC`, mode 0644, never truncated; anything but a
    /// regular file is refused without being touched. Then probes the lock:
    /// a daemon holding it means "already running as PID N" at once.
    ///
    /// The lock itself is taken by the daemon ([`lock`](PidFile::lock)),
    /// which a lock held by the launcher could not be: record locks belong
    /// to a process and do not survive `fork`.
    pub(crate) fn open(path: &Path, trust: Trust) -> Result<PidFile> {
        let shown = path.display();
        let (parent, name) = split(path)?;
        let dir = pathsafe::open_dir(Step::PidFile, AT_FDCWD, parent, path, trust, 0)?;
        let nul = |_| {
            Error::new(
                Step::PidFile,
                ErrorKind::Config,
                format!("{shown}: holds a NUL byte"),
            )
        };
        let c_name = CString::new(name.as_bytes()).map_err(nul)?;
        let lock_name = CString::new(lock_name(name)).map_err(nul)?;
        let (lock_file, lock_created) = open_lock(&dir, &lock_name, path, trust)?;
        // A failed start leaves no lock file it made (see `discard`).
        let undo = |dir: &OwnedFd, lock_file: &OwnedFd| {
            if lock_created {
                remove_new(
                    dir,
                    OsStr::from_bytes(lock_name.as_bytes()),
                    lock_file,
                    lock_file,
                );
            }
        };
        // Nothing is created past this point while a daemon runs.
        match probe(lock_file.as_fd()) {
            Ok(Holder::Daemon(pid)) => return Err(already_running(path, pid)),
            Ok(_) => {}
            Err(e) => {
                undo(&dir, &lock_file);
                let shown = shown_lock(path, &lock_name);
                return Err(Error::os(
                    Step::PidFile,
                    format!("{}: fcntl(F_GETLK)", shown.display()),
                    e,
                ));
            }
        }
        // A few rounds, for the race of the file vanishing between our
        // attempts (a departing daemon removes it).
        for _ in 0..16 {
            let opened = open_in(&dir, name, path, trust, &lock_file);
            let Some((file, created)) = opened.inspect_err(|_| undo(&dir, &lock_file))? else {
                continue;
            };
            let pidfile = PidFile {
                path: path.to_owned(),
                dir: AtomicI32::new(dir.into_raw_fd()),
                name: c_name,
                file,
                lock_file,
                lock_name,
                lock_created,
                created,
                owner: AtomicI32::new(0),
                removed: AtomicBool::new(false),
                trust,
            };
            // A daemon whose lock file was removed by hand still holds
            // its pid file: it runs all the same.
            match probe(pidfile.file.as_fd()) {
                Ok(Holder::Daemon(pid)) if !created => {
                    pidfile.discard();
                    return Err(already_running(path, pid));
                }
                Ok(_) => {}
                Err(e) => {
                    pidfile.discard();
                    return Err(Error::os(
                        Step::PidFile,
                        format!("{shown}: fcntl(F_GETLK)"),
                        e,
                    ));
                }
            }
            log::debug!(
                "pid file: {shown}: opened{}",
                if created { " (created)" } else { "" }
            );
            return Ok(pidfile);
        }
        undo(&dir, &lock_file);
        Err(Error::new(
            Step::PidFile,
            ErrorKind::Os,
            format!("{shown}: the file kept changing while it was being opened"),
        ))
    }

    /// Who holds the lock file.
    fn holder(&self) -> Result<Holder> {
        probe(self.lock_file.as_fd()).map_err(|e| self.lock_error("fcntl(F_GETLK)", e))
    }

    /// An error about the lock file.
    fn lock_error(&self, what: &str, e: Errno) -> Error {
        let shown = shown_lock(&self.path, &self.lock_name);
        let shown = shown.display();
        if what.is_empty() {
            Error::os(Step::PidFile, format!("{shown}"), e)
        } else {
            Error::os(Step::PidFile, format!("{shown}: {what}"), e)
        }
    }

    /// Whether the lock file's path still names the open lock file.
    fn path_names_lock_file(&self) -> Result<bool> {
        let ours = fstat(&self.lock_file).map_err(|e| self.lock_error("", e))?;
        match fstatat(
            self.dir_fd(),
            self.lock_name.as_c_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(now) => Ok(same_file(&ours, &now)),
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => Err(self.lock_error("", e)),
        }
    }

    /// Opens the lock file's path again (creating it when it is gone).
    fn reopen_lock_file(&mut self) -> Result<()> {
        let dir = self
            .dir_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io(Step::PidFile, format!("{}", self.path.display()), &e))?;
        // A lock file made now is this process's as much as the first was.
        let (lock_file, created) = open_lock(&dir, &self.lock_name, &self.path, self.trust)?;
        self.lock_file = lock_file;
        self.lock_created |= created;
        Ok(())
    }

    fn dir_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the directory stays open until `close_dir`, which only
        // runs once the lock is taken and this is no longer called.
        unsafe { BorrowedFd::borrow_raw(self.dir.load(Ordering::SeqCst)) }
    }

    /// Whether the path still names the open file.
    fn path_names_file(&self) -> Result<bool> {
        let shown = self.path.display();
        let ours =
            fstat(&self.file).map_err(|e| Error::os(Step::PidFile, format!("{shown}"), e))?;
        match fstatat(
            self.dir_fd(),
            self.name.as_c_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(now) => Ok(same_file(&ours, &now)),
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => Err(Error::os(Step::PidFile, format!("{shown}"), e)),
        }
    }

    /// Opens the path again, when it no longer names the open file.
    fn reopen(&mut self) -> Result<()> {
        let name = OsStr::from_bytes(self.name.as_bytes()).to_owned();
        let dir = self
            .dir_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io(Step::PidFile, format!("{}", self.path.display()), &e))?;
        if let Some((file, _)) = open_in(&dir, &name, &self.path, self.trust, &self.lock_file)? {
            // The created flag stays the launcher's: it is about the file
            // that start made, which `discard` checks by identity anyway.
            self.file = file;
        }
        Ok(())
    }

    /// Takes the lock, in the process that will hold it for its whole life:
    /// the daemon right after detaching, or the process itself in lite
    /// mode. From here on the pid file is this process's: its PID is
    /// recorded as the owner before anything else, so every way out
    /// removes it.
    ///
    /// The lock is the lock file's (see the module docs). Taking it and
    /// finding that the path still names the locked inode is one decision:
    /// a lock on a file the path no longer names is dropped (by opening
    /// the path again) and the round starts over. A write lock held by
    /// another process means "already running as PID N", and no file is
    /// touched.
    pub(crate) fn lock(&mut self) -> Result<()> {
        let pid = std::process::id() as i32;
        for _ in 0..LOCK_ROUNDS {
            let got = set_lock(self.lock_file.as_raw_fd(), libc::F_WRLCK)
                .map_err(|e| self.lock_error("fcntl(F_SETLK)", e))?;
            if got {
                if !self.path_names_lock_file()? {
                    // Removed (or replaced) since it was opened: the lock
                    // is on a file nobody looks at. Closing it drops it.
                    self.reopen_lock_file()?;
                    continue;
                }
                let replaced = self.claim_pid_file()?;
                self.owner.store(pid, Ordering::SeqCst);
                return self.took_lock(replaced).inspect_err(|_| self.remove());
            }
            match self.holder()? {
                Holder::Daemon(holder) if self.path_names_lock_file()? => {
                    return Err(already_running(&self.path, holder));
                }
                // A failed start removes or empties the pid file: a
                // moment, unless that process is kept from running.
                Holder::Undoing => {
                    let deadline = crate::deadline::Deadline::after(UNDO_LIMIT);
                    while !deadline.passed() && self.holder()? == Holder::Undoing {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    continue;
                }
                // A read lock of the lock file's owner (nobody else can
                // open it): wait for it to go.
                Holder::Reader => std::thread::sleep(Duration::from_millis(5)),
                // Released since (try again), or on a file the path no
                // longer names (open it again).
                _ => {}
            }
            if !self.path_names_lock_file()? {
                self.reopen_lock_file()?;
            }
        }
        Err(self.lock_error(
            "the lock file kept changing, or stayed locked by a reader, while it was being locked",
            Errno::EAGAIN,
        ))
    }

    /// Under the lock file's lock: makes the open pid file the one the
    /// path names, and this process the holder of its lock too. Returns
    /// whether the file was replaced (a reader held it).
    ///
    /// A write lock on the pid file held by another process is a daemon
    /// whose lock file was removed by hand: "already running".
    fn claim_pid_file(&mut self) -> Result<bool> {
        for _ in 0..LOCK_ROUNDS {
            if !self.path_names_file()? {
                self.reopen()?;
                continue;
            }
            let got = set_lock(self.file.as_raw_fd(), libc::F_WRLCK).map_err(|e| {
                let shown = self.path.display();
                Error::os(Step::PidFile, format!("{shown}: fcntl(F_SETLK)"), e)
            })?;
            if got {
                return Ok(false);
            }
            let holder = probe(self.file.as_fd()).map_err(|e| {
                let shown = self.path.display();
                Error::os(Step::PidFile, format!("{shown}: fcntl(F_GETLK)"), e)
            })?;
            match holder {
                Holder::Daemon(holder) => return Err(already_running(&self.path, holder)),
                Holder::Free => continue,
                Holder::Reader | Holder::Undoing => {
                    self.file = self.replace()?;
                    return Ok(true);
                }
            }
        }
        Err(Error::new(
            Step::PidFile,
            ErrorKind::Os,
            format!(
                "{}: the file kept changing while it was being locked",
                self.path.display()
            ),
        ))
    }

    /// In a full-mode daemon, right before [`lock`](PidFile::lock): points
    /// every inherited descriptor 0 to 2 that is the pid file or the lock
    /// file (a wrapper's `myd </run/myd.pid`) at `null`. The stdio step replaces 0 to 2
    /// later, and closing any descriptor of the file drops the lock of the
    /// process: done now, before the lock exists, it drops nothing. The
    /// daemon's sweep of inherited fds (step 7), which runs before this,
    /// has closed those above 2 (a wrapper's `exec 9>>/run/myd.pid`,
    /// `flock(1)`) for the same reason.
    pub(crate) fn retire_inherited(&self, null: RawFd) -> Result<()> {
        let shown = self.path.display();
        let ours =
            fstat(&self.file).map_err(|e| Error::os(Step::PidFile, format!("{shown}"), e))?;
        let lock = fstat(&self.lock_file).map_err(|e| self.lock_error("", e))?;
        let own = [self.file.as_raw_fd(), self.lock_file.as_raw_fd(), null];
        for fd in 0..=2 {
            if own.contains(&fd) {
                continue;
            }
            // SAFETY: `st` is a plain C struct that fstat fills in; an fd
            // that is not open only fails.
            let same = unsafe {
                let mut st: libc::stat = std::mem::zeroed();
                libc::fstat(fd, &mut st) == 0
                    && [(ours.st_dev, ours.st_ino), (lock.st_dev, lock.st_ino)]
                        .contains(&(st.st_dev, st.st_ino))
            };
            if !same {
                continue;
            }
            // SAFETY: dup2 takes no pointers; it replaces an inherited
            // descriptor that nothing in this process uses.
            while unsafe { libc::dup2(null, fd) } < 0 {
                match Errno::last() {
                    Errno::EINTR | Errno::EBUSY => continue,
                    e => {
                        return Err(Error::os(
                            Step::PidFile,
                            format!("{shown}: replacing inherited fd {fd}"),
                            e,
                        ))
                    }
                }
            }
            log::debug!("pid file: {shown}: inherited fd {fd} of it now on /dev/null");
        }
        Ok(())
    }

    /// What the new holder does at once: empty the file (whatever it holds
    /// is stale: its writer is gone) and give a file this start made the
    /// mode readers need.
    fn took_lock(&self, replaced: bool) -> Result<()> {
        let shown = self.path.display();
        let st = fstat(&self.file).map_err(|e| Error::os(Step::PidFile, format!("{shown}"), e))?;
        if st.st_size != 0 {
            ftruncate(&self.file, 0)
                .map_err(|e| Error::os(Step::PidFile, format!("{shown}: truncate"), e))?;
        }
        if replaced && st.st_mode & 0o7777 != PID_FILE_MODE {
            fchmod(&self.file, Mode::from_bits_truncate(PID_FILE_MODE))
                .map_err(|e| Error::os(Step::PidFile, format!("{shown}"), e))?;
        }
        log::debug!(
            "pid file: {shown}: locked{}",
            if replaced {
                " (replaced a file only readers held)"
            } else {
                ""
            }
        );
        Ok(())
    }

    /// Replaces a pid file that readers hold, under the lock file's lock
    /// (no other start replaces, writes or removes the pid file meanwhile).
    /// Returns the new file, locked by this process and named by the path.
    ///
    /// The new file is made under an unpredictable name
    /// (`.<name>.<random>.new`) with `O_EXCL`, mode 0600 so that nobody else
    /// can open it, locked, then renamed over the old one: nobody can
    /// create that name first, or hold the file before it is ours.
    fn replace(&self) -> Result<OwnedFd> {
        let shown = self.path.display();
        let flags = OFlag::O_RDWR
            | OFlag::O_CREAT
            | OFlag::O_EXCL
            | OFlag::O_NOFOLLOW
            | OFlag::O_CLOEXEC
            | OFlag::O_NOCTTY;
        for _ in 0..16 {
            let mut temp = vec![b'.'];
            temp.extend_from_slice(self.name.as_bytes());
            temp.extend_from_slice(format!(".{:016x}.new", unpredictable()).as_bytes());
            let temp = OsStr::from_bytes(&temp);
            let shown_temp = self.path.with_file_name(temp);
            let shown_temp = shown_temp.display();
            let file = match openat(self.dir_fd(), temp, flags, Mode::from_bits_truncate(0o600)) {
                Ok(file) => file,
                Err(Errno::EEXIST) => continue,
                Err(e) => return Err(Error::os(Step::PidFile, format!("{shown_temp}"), e)),
            };
            let placed = set_lock(file.as_raw_fd(), libc::F_WRLCK)
                .and_then(|got| if got { Ok(()) } else { Err(Errno::EAGAIN) })
                .and_then(|()| renameat(self.dir_fd(), temp, self.dir_fd(), self.name.as_c_str()));
            if let Err(e) = placed {
                let _ = nix::unistd::unlinkat(
                    self.dir_fd(),
                    temp,
                    nix::unistd::UnlinkatFlags::NoRemoveDir,
                );
                return Err(Error::os(Step::PidFile, format!("{shown_temp}: rename"), e));
            }
            log::debug!("pid file: {shown}: held by readers only; replaced");
            return Ok(file);
        }
        Err(Error::new(
            Step::PidFile,
            ErrorKind::CantCreate,
            format!("{shown}: no free temporary name for its replacement next to it"),
        ))
    }

    /// Writes `"<pid>\n"` into the file, which [`lock`](PidFile::lock) left
    /// empty and which nobody else writes while we hold the lock. The owner
    /// was recorded when the lock was taken, long before this write: a stop
    /// signal landing in the middle of it removes the file.
    ///
    /// No `fsync`: every reader goes through the page cache, which has the
    /// PID as soon as `pwrite` returns, and the contents only matter while
    /// this process lives. After a crash of the machine they are stale
    /// whether they reached the disk or not, and the lock (never the
    /// contents) decides liveness. A sync would also put a journal commit
    /// (on ext4, say) on the way to readiness.
    pub(crate) fn write_pid(&self, pid: i32) -> Result<()> {
        let shown = self.path.display();
        if self.owner.load(Ordering::SeqCst) != pid {
            return Err(Error::new(
                Step::PidWrite,
                ErrorKind::Software,
                format!("{shown}: PID {pid} does not hold the lock"),
            ));
        }
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
        log::debug!("pid file: {shown}: wrote {pid}");
        Ok(())
    }

    /// The path as configured.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file's device and inode, when this process holds the lock.
    pub(crate) fn held_identity(&self) -> Option<(u64, u64)> {
        if !self.is_ours() {
            return None;
        }
        let st = fstat(&self.lock_file).ok()?;
        #[allow(clippy::unnecessary_cast)] // the types differ per platform
        Some((st.st_dev as u64, st.st_ino as u64))
    }

    /// The fds the fd sweep must keep: the file, the lock file and their
    /// directory.
    pub(crate) fn fds(&self) -> Vec<RawFd> {
        let mut fds = vec![self.file.as_raw_fd(), self.lock_file.as_raw_fd()];
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

    /// Removes the file at exit, only in the process that holds the lock
    /// and only once; where unlinking is not allowed (privileges dropped),
    /// the file is emptied instead. Never unlocks: the lock goes with the
    /// process, so a forked child can never release it by accident.
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
            Removal::Blanked(e, empty) => {
                log::warn!(
                    "pid file: {shown}: cannot remove ({e}) nor empty ({empty}); blanked the PID"
                );
            }
            Removal::Failed(e, empty, blank) => {
                log::warn!(
                    "pid file: {shown}: cannot remove ({e}), empty ({empty}) nor blank ({blank})"
                );
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

    /// Whether this process is the one that holds the lock.
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
                Err(empty) => match self.blank() {
                    Ok(()) => Removal::Blanked(e, empty),
                    Err(blank) => Removal::Failed(e, empty, blank),
                },
            },
        }
    }

    /// The last way not to leave a PID naming a dead process, when the file
    /// can be neither removed nor emptied: overwrite the PID that
    /// [`write_pid`](PidFile::write_pid) wrote with spaces, keeping the
    /// newline (a reader finds no number). Async-signal-safe: a buffer on
    /// the stack and one `pwrite`.
    fn blank(&self) -> std::result::Result<(), Errno> {
        let len = crate::readiness::PidLine::new(b"", self.owner.load(Ordering::SeqCst))
            .as_bytes()
            .len();
        self.blank_bytes(len)
    }

    /// Overwrites the first `len` bytes (at most 16, a PID line) with
    /// spaces ending in a newline. Async-signal-safe.
    fn blank_bytes(&self, len: usize) -> std::result::Result<(), Errno> {
        if len == 0 || len > 16 {
            return Err(Errno::EINVAL);
        }
        let mut blanks = [b' '; 16];
        blanks[len - 1] = b'\n';
        // SAFETY: the buffer holds `len` (at most 16) initialised bytes and
        // lives for the call; the file stays open.
        let written =
            unsafe { libc::pwrite(self.file.as_raw_fd(), blanks.as_ptr().cast(), len, 0) };
        match Errno::result(written) {
            Ok(n) if n as usize == len => Ok(()),
            Ok(_) => Err(Errno::EIO),
            Err(e) => Err(e),
        }
    }

    /// In a launcher whose start failed: waits, at most `limit`, until no
    /// process of the session `sid` (the one this start created) holds the
    /// lock. The daemon may still be on its way out, the lock in hand, when
    /// the launcher learns of the failure (the channel closes before the
    /// process is gone), and [`discard`](PidFile::discard) leaves alone a
    /// file whose lock it cannot take.
    pub(crate) fn wait_released(&self, sid: i32, limit: Duration) {
        let deadline = crate::deadline::Deadline::after(limit);
        while !deadline.passed() {
            match probe(self.lock_file.as_fd()) {
                // SAFETY: getsid(2) takes no pointers.
                Ok(Holder::Daemon(Some(pid))) if unsafe { libc::getsid(pid) } == sid => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                _ => return,
            }
        }
        log::warn!(
            "pid file: {}: the failed daemon still holds it after {limit:?}",
            self.path.display()
        );
    }

    /// Undoes a failed start in the process that made it (the launcher,
    /// or a lite process). A holder of the lock removes the pid file as at
    /// exit and lets the lock go. Otherwise a pid file this start created
    /// is removed only under a lock of this process on the lock file,
    /// taken for the moment of the removal: a file another start's daemon
    /// holds is never touched. A lock file this start created goes too,
    /// under the same lock: whoever opened it meanwhile finds, once it
    /// holds its lock, that the path no longer names it, and starts over.
    pub(crate) fn discard(&self) {
        let fd = self.lock_file.as_raw_fd();
        if self.is_ours() {
            self.remove();
            let _ = set_lock(self.file.as_raw_fd(), libc::F_UNLCK);
        } else if !matches!(set_undo_lock(fd), Ok(true)) {
            // A daemon holds it: nothing here is this start's to remove.
            return;
        } else if self.created && !self.removed.swap(true, Ordering::SeqCst) {
            let _ = self.unlink_if_ours();
        }
        if self.lock_created {
            self.unlink_lock_file();
        }
        let _ = set_lock(fd, libc::F_UNLCK);
    }

    /// Unlinks the lock file's name if it still names the open lock file;
    /// only under a lock of this process on it.
    fn unlink_lock_file(&self) {
        let dir = self.dir.load(Ordering::SeqCst);
        if dir < 0 {
            return;
        }
        // SAFETY: the fd stays open for the call.
        let dir = unsafe { BorrowedFd::borrow_raw(dir) };
        let named = match (
            fstat(&self.lock_file),
            fstatat(dir, self.lock_name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW),
        ) {
            (Ok(ours), Ok(now)) => same_file(&ours, &now),
            _ => false,
        };
        if named {
            let _ = nix::unistd::unlinkat(
                dir,
                self.lock_name.as_c_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
    }

    /// In a launcher whose start failed, after
    /// [`wait_released`](PidFile::wait_released): empties the file when it names a process
    /// of the session `sid` (this start's daemon, which the launcher may
    /// have had to kill: interrupted, or its report unreadable) or a
    /// process that no longer exists, under a lock taken for the moment,
    /// so never while a daemon holds the file. [`discard`](PidFile::discard)
    /// then removes it if this start created it.
    pub(crate) fn empty_if_left_by(&self, sid: i32) {
        let fd = self.lock_file.as_raw_fd();
        if self.is_ours() || !matches!(set_undo_lock(fd), Ok(true)) {
            return;
        }
        let mut buf = [0u8; 32];
        let named = nix::sys::uio::pread(&self.file, &mut buf, 0)
            .ok()
            .and_then(|n| std::str::from_utf8(&buf[..n]).ok())
            .and_then(|text| text.trim().parse::<i32>().ok())
            .filter(|pid| *pid > 0);
        if let Some(pid) = named {
            // SAFETY: getsid(2) takes no pointers; a zombie still answers.
            let ours = unsafe { libc::getsid(pid) } == sid;
            let gone =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) == Err(Errno::ESRCH);
            if (ours || gone) && ftruncate(&self.file, 0).is_err() {
                let len = buf.iter().position(|b| *b == b'\n').map_or(0, |i| i + 1);
                let _ = self.blank_bytes(len);
            }
        }
        let _ = set_lock(fd, UNLCK);
    }

    /// Unlinks the name if it still names our file. Async-signal-safe, as
    /// [`remove_in_handler`](PidFile::remove_in_handler) needs. A look
    /// that fails for a passing reason (no memory for the moment, a
    /// signal) is made again, a few times: a file this start made is not
    /// left behind for that.
    fn unlink_if_ours(&self) -> std::result::Result<(), Errno> {
        let mut result = self.unlink_if_ours_once();
        for _ in 0..3 {
            match result {
                Err(Errno::ENOMEM | Errno::EINTR | Errno::EAGAIN) => {
                    result = self.unlink_if_ours_once();
                }
                _ => break,
            }
        }
        result
    }

    fn unlink_if_ours_once(&self) -> std::result::Result<(), Errno> {
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

/// Opens the file, creating it when missing (mode 0644 whatever the
/// umask). `None` means "raced, try again".
fn open_in(
    dir: &OwnedFd,
    name: &OsStr,
    path: &Path,
    trust: Trust,
    lock_file: &OwnedFd,
) -> Result<Option<(OwnedFd, bool)>> {
    let shown = path.display();
    let base = OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    let mode = Mode::from_bits_truncate(PID_FILE_MODE);
    match openat(dir, name, base | OFlag::O_CREAT | OFlag::O_EXCL, mode) {
        Ok(fd) => {
            // The umask may have narrowed the mode; readers need 0644.
            // The file is new and ours: no lock is needed to set it.
            let fixed = fstat(&fd).and_then(|st| {
                if st.st_mode & 0o7777 != PID_FILE_MODE {
                    fchmod(&fd, mode)
                } else {
                    Ok(())
                }
            });
            if let Err(e) = fixed {
                remove_new(dir, name, &fd, lock_file);
                return Err(Error::os(Step::PidFile, format!("{shown}"), e));
            }
            return Ok(Some((fd, true)));
        }
        Err(Errno::EEXIST) => {}
        Err(e) => return Err(Error::os(Step::PidFile, format!("{shown}"), e)),
    }
    // It exists. Look before opening, so that a FIFO or a device is
    // never opened (opening either can block or have side effects).
    let st = match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
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
    pathsafe::check_file(Step::PidFile, fd.as_fd(), path, trust)
        .map_err(|e| in_shared_dir(e, dir, path))?;
    Ok(Some((fd, false)))
}

/// Removes a file that [`open_in`] has just created, when the start fails
/// before it is handed on: only under a lock on the lock file (no daemon
/// holds it) and only if the name still names it.
fn remove_new(dir: &OwnedFd, name: &OsStr, fd: &OwnedFd, lock_file: &OwnedFd) {
    if let Ok(true) = set_undo_lock(lock_file.as_raw_fd()) {
        let same = match (fstat(fd), fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)) {
            (Ok(ours), Ok(now)) => same_file(&ours, &now),
            _ => false,
        };
        if same {
            let _ = nix::unistd::unlinkat(dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
        }
        let _ = set_lock(lock_file.as_raw_fd(), libc::F_UNLCK);
    }
}

/// How messages name the lock file of the pid file `path`: through the
/// pid file, the path the user configured (`/run/myd.pid: lock file
/// .myd.pid.lock`).
fn shown_lock(path: &Path, name: &CString) -> PathBuf {
    let mut shown = path.as_os_str().to_owned();
    shown.push(": lock file ");
    shown.push(OsStr::from_bytes(name.as_bytes()));
    PathBuf::from(shown)
}

/// Opens the lock file, creating it when missing (mode 0600 whatever the
/// umask), with the pid file's checks: a regular file, one link, owned by
/// root or the daemon's user, writable by nobody else, not on a pseudo
/// filesystem (its directory is checked before anything is created).
fn open_lock(dir: &OwnedFd, name: &CString, path: &Path, trust: Trust) -> Result<(OwnedFd, bool)> {
    let shown = shown_lock(path, name);
    let err = |e| Error::os(Step::PidFile, format!("{}", shown.display()), e);
    // Nothing is created on procfs and the like: the directory is checked
    // as the files are (a directory's mode and links are not at issue).
    pathsafe::check_file(Step::PidFile, dir.as_fd(), path, trust)?;
    let base = OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    let mode = Mode::from_bits_truncate(LOCK_FILE_MODE);
    for _ in 0..16 {
        match openat(
            dir,
            name.as_c_str(),
            base | OFlag::O_CREAT | OFlag::O_EXCL,
            mode,
        ) {
            Ok(fd) => {
                let fixed = fstat(&fd).and_then(|st| {
                    if st.st_mode & 0o7777 != LOCK_FILE_MODE {
                        fchmod(&fd, mode)
                    } else {
                        Ok(())
                    }
                });
                if let Err(e) = fixed {
                    remove_new(dir, OsStr::from_bytes(name.as_bytes()), &fd, &fd);
                    return Err(err(e));
                }
                return Ok((fd, true));
            }
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(err(e)),
        }
        // As for the pid file: look before opening, never open a FIFO.
        let st = match fstatat(dir, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(err(e)),
        };
        if !is_regular(&st) {
            return Err(refused(&shown, file_type_name(&st)));
        }
        let fd = match openat(
            dir,
            name.as_c_str(),
            base | OFlag::O_NONBLOCK,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(Errno::ELOOP) => return Err(refused(&shown, "a symbolic link")),
            Err(e) => return Err(err(e)),
        };
        let st = pathsafe::check_file(Step::PidFile, fd.as_fd(), &shown, trust)
            .map_err(|e| in_shared_dir(e, dir, path))?;
        if !is_regular(&st) {
            return Err(refused(&shown, file_type_name(&st)));
        }
        return Ok((fd, false));
    }
    Err(Error::new(
        Step::PidFile,
        ErrorKind::Os,
        format!(
            "{}: the file kept changing while it was being opened",
            shown.display()
        ),
    ))
}

/// A file refused in a sticky directory that every user may write (`/tmp`):
/// another user made it there first, and can again. The error then says
/// where a pid file is safe.
fn in_shared_dir(err: Error, dir: &OwnedFd, path: &Path) -> Error {
    let shared = fstat(dir).is_ok_and(|st| st.st_mode & 0o1002 == 0o1002);
    if !shared || err.kind() != ErrorKind::Permission {
        return err;
    }
    let name = path
        .file_stem()
        .map_or_else(|| "myd".into(), |n| n.to_string_lossy());
    Error::new(
        Step::PidFile,
        ErrorKind::Permission,
        format!(
            "{} (in a directory every user may write; put the pid file where only root or \
             the daemon's user can write, such as /run/{name}/)",
            err.detail()
        ),
    )
}

/// 64 bits nobody else can guess: the standard library's per-process
/// random hash keys (from the system's random source), mixed with the PID
/// and the time.
fn unpredictable() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    hasher.finish()
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

/// The "already running" error, naming the PID that holds the lock.
fn already_running(path: &Path, pid: Option<i32>) -> Error {
    let detail = match pid {
        Some(pid) => format!("{}: already running as PID {pid}", path.display()),
        None => format!(
            "{}: already running (the lock holder is in another PID namespace)",
            path.display()
        ),
    };
    Error::new(Step::PidFile, ErrorKind::AlreadyRunning, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(err: Error) -> String {
        assert_eq!(err.step(), Step::PidFile, "{err}");
        err.detail().to_owned()
    }

    #[test]
    fn split_gives_the_directory_and_the_name() {
        let parts = |p: &str| split(Path::new(p)).map(|(d, n)| (d.to_owned(), n.to_owned()));
        assert_eq!(
            parts("/run/myd.pid").unwrap(),
            (PathBuf::from("/run"), "myd.pid".into())
        );
        assert_eq!(
            parts("/myd.pid").unwrap(),
            (PathBuf::from("/"), "myd.pid".into())
        );
        // A bare name lives in the current directory.
        assert_eq!(
            parts("myd.pid").unwrap(),
            (PathBuf::from("."), "myd.pid".into())
        );
        assert_eq!(
            parts("run/myd.pid").unwrap(),
            (PathBuf::from("run"), "myd.pid".into())
        );
    }

    #[test]
    fn split_refuses_what_names_no_file() {
        let refused = |p: &str| {
            let err = split(Path::new(p)).expect_err(p);
            assert_eq!(err.kind(), ErrorKind::Config, "{p}: {err}");
            detail(err)
        };
        assert_eq!(refused(""), "empty path");
        // A trailing slash names a directory, whatever comes before it.
        assert_eq!(refused("/run/myd.pid/"), "/run/myd.pid/: not a file name");
        assert_eq!(refused("/"), "/: not a file name");
        assert_eq!(refused("/run/.."), "/run/..: not a file name");
        assert_eq!(refused(".."), "..: not a file name");
    }

    #[test]
    fn the_lock_file_is_a_hidden_name_next_to_the_pid_file() {
        let lock = |p: &str| lock_path(Path::new(p)).unwrap();
        assert_eq!(lock("/run/myd.pid"), Path::new("/run/.myd.pid.lock"));
        assert_eq!(lock("myd.pid"), Path::new("./.myd.pid.lock"));
        assert_eq!(lock("/var/run/a b/x"), Path::new("/var/run/a b/.x.lock"));
        // Already hidden: one more dot, never the pid file's own name.
        assert_eq!(lock("/run/.myd"), Path::new("/run/..myd.lock"));
        assert_ne!(lock("/run/.myd.lock"), Path::new("/run/.myd.lock"));
    }

    #[test]
    fn the_lock_files_name_keeps_every_byte_of_the_pid_files() {
        let name = OsStr::from_bytes(b"my\xffd\n.pid");
        let path = Path::new("/run").join(name);
        let lock = lock_path(&path).unwrap();
        assert_eq!(lock.parent(), Some(Path::new("/run")));
        assert_eq!(
            lock.file_name().unwrap().as_bytes(),
            b".my\xffd\n.pid.lock".as_slice()
        );
    }

    #[test]
    fn a_path_refused_by_split_has_no_lock_file() {
        assert_eq!(detail(lock_path(Path::new("")).unwrap_err()), "empty path");
        assert_eq!(
            detail(lock_path(Path::new("/run/")).unwrap_err()),
            "/run/: not a file name"
        );
    }

    #[test]
    fn the_lock_file_is_shown_through_the_pid_files_path() {
        let name = CString::new(".myd.pid.lock").unwrap();
        assert_eq!(
            shown_lock(Path::new("/run/myd.pid"), &name),
            Path::new("/run/myd.pid: lock file .myd.pid.lock")
        );
    }

    #[test]
    fn file_types_are_named_in_refusals() {
        let (read, _write) = nix::unistd::pipe().unwrap();
        let fifo = fstat(read.as_fd()).unwrap();
        let dir = nix::sys::stat::stat("/").unwrap();
        let null = nix::sys::stat::stat("/dev/null").unwrap();
        assert_eq!(file_type_name(&fifo), "a FIFO");
        assert_eq!(file_type_name(&dir), "a directory");
        assert_eq!(file_type_name(&null), "a character device");
        assert!(!is_regular(&fifo) && !is_regular(&dir) && !is_regular(&null));
        let exe = nix::sys::stat::stat(&std::env::current_exe().unwrap()).unwrap();
        assert!(is_regular(&exe), "this test's own program");
        assert!(same_file(&dir, &nix::sys::stat::stat("/").unwrap()));
        assert!(!same_file(&dir, &null));
    }

    #[test]
    fn a_refused_file_says_what_it_is_and_what_a_pid_file_must_be() {
        let err = refused(Path::new("/run/myd.pid"), "a directory");
        assert_eq!(err.kind(), ErrorKind::CantCreate);
        assert_eq!(
            detail(err),
            "/run/myd.pid: is a directory, refused (a pid file must be a regular file)"
        );
    }

    #[test]
    fn already_running_names_the_holder_or_says_why_not() {
        let err = already_running(Path::new("/run/myd.pid"), Some(4242));
        assert_eq!(err.kind(), ErrorKind::AlreadyRunning);
        assert_eq!(detail(err), "/run/myd.pid: already running as PID 4242");
        let err = already_running(Path::new("/run/myd.pid"), None);
        assert_eq!(err.kind(), ErrorKind::AlreadyRunning);
        assert_eq!(
            detail(err),
            "/run/myd.pid: already running (the lock holder is in another PID namespace)"
        );
    }

    #[test]
    fn a_whole_file_lock_covers_every_byte() {
        let lock = whole_file(WRLCK);
        assert_eq!(lock.l_type as libc::c_int, WRLCK);
        assert_eq!(lock.l_whence as libc::c_int, libc::SEEK_SET);
        assert_eq!((lock.l_start, lock.l_len), (0, 0), "0 to the end");
    }
}
