//! Controlling a daemon after its start, through its pid file: status,
//! signals, stop, reload and restart, all decided by the pid file's lock.
//!
//! A running daemon holds a record lock on its pid file for its whole
//! life (see [`Daemon::start`]). The kernel names the holder
//! (`fcntl(F_GETLK)`) and drops the lock the moment the holder dies, so:
//!
//! - **status** is the lock, never the PID alone: a PID in the file may
//!   have been reused by an unrelated process, and a zombie answers
//!   `kill(pid, 0)`; neither holds the lock;
//! - **signals** go only to the process that holds the lock, never to the
//!   PID the file names. On Linux through a pidfd, opened and then checked
//!   against the lock, which closes the window in which the PID could be
//!   reused between the check and the signal; a PID that has no process
//!   by the time its pidfd is asked for (`ESRCH`) is a daemon gone, never
//!   a reason to fall back to `kill(2)`. Where there are no pidfds
//!   (another system, an older kernel, a sandbox refusing the call), the
//!   lock is asked again right before each `kill(2)`: what remains is the
//!   moment between that answer and the signal, in which the daemon would
//!   have to die and its PID be handed to a new process, which takes the
//!   whole PID space to wrap around in those microseconds;
//! - **stop** waits until the lock is released, not until `/proc/<pid>`
//!   disappears: the lock goes when the daemon's files are closed, before
//!   it becomes a zombie (on Linux the wait sleeps on a pidfd and then
//!   confirms with `F_GETLK`; elsewhere it asks `F_GETLK` with a short
//!   backoff);
//! - a probe only ever asks (`F_GETLK`) and never takes the lock, so it
//!   can never make a concurrent start fail.
//!
//! The lock asked about is the lock file's (`.<name>.lock` next to the pid
//! file, `/run/.myd.pid.lock` for `/run/myd.pid`), which the daemon holds
//! and nobody else opens: a pid file removed or rewritten by hand, or read
//! by the daemon's own body, changes nothing.
//! A user who cannot open the lock file (only its owner can) is answered
//! by the pid file's lock, which the daemon holds as well.
//!
//! Both files get the start's checks before anything is believed or
//! signalled: a regular file with one link, owned by root, the caller or
//! the daemon's user and writable by nobody else, in directories no other
//! user can write (see the `pathsafe` rules). A file that fails them is
//! status 4 (unknown), with the reason, and nothing is signalled.
//!
//! ```no_run
//! use daemonizer::control::{Control, Status, Stopped};
//!
//! let myd = Control::new("/run/myd.pid");
//! match myd.status() {
//!     Status::Running { pid } => println!("running as PID {pid}"),
//!     Status::Stale { pid } => println!("dead; the pid file still names PID {pid}"),
//!     Status::NotRunning => println!("not running"),
//!     Status::Unknown(e) => println!("cannot tell: {e}"),
//!     _ => println!("cannot tell"),
//! }
//! match myd.stop().unwrap() {
//!     Stopped::Terminated { pid } | Stopped::Killed { pid } => println!("PID {pid} stopped"),
//!     Stopped::NotRunning => println!("was not running"),
//!     Stopped::StillRunning { pid } => println!("PID {pid} is still running"),
//!     other => println!("{other:?}"),
//! }
//! ```
//!
//! [`Daemon::start`]: crate::Daemon::start

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag, AT_FDCWD};
use nix::sys::stat::Mode;

pub use crate::config::Command;
use crate::config::Daemon;
use crate::deadline::Deadline;
use crate::error::{Error, ErrorKind, Result, Step};
use crate::names::Signal;
use crate::pathsafe::{self, Trust};
use crate::pidfile::{probe, Holder};
use crate::running::Daemonized;

pub use crate::config::{DEFAULT_KILL_TIMEOUT, DEFAULT_STOP_TIMEOUT};

/// What the pid file's lock says about the daemon.
///
/// ```no_run
/// use daemonizer::control::{Control, Status};
///
/// if let Status::Running { pid } = Control::new("/run/myd.pid").status() {
///     println!("myd is running as PID {pid}");
/// }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Status {
    /// A daemon holds the lock: it runs, as `pid`.
    Running {
        /// The PID of the process that holds the lock.
        pid: i32,
    },
    /// No daemon holds the lock, but the pid file still names `pid` (left
    /// by a daemon killed with SIGKILL, say). That PID may belong to an
    /// unrelated process by now; it is not the daemon.
    Stale {
        /// The PID the file names.
        pid: i32,
    },
    /// No daemon holds the lock, and the pid file names no PID (it is
    /// absent or empty).
    NotRunning,
    /// The lock could not be asked about: the file cannot be opened (no
    /// permission), is not a regular file, or the holder is not visible
    /// from here (another PID namespace).
    Unknown(Error),
}

impl Status {
    /// The exit status an LSB init script's `status` action uses: 0
    /// running, 1 dead with a pid file left, 3 not running, 4 unknown.
    ///
    /// ```
    /// use daemonizer::control::Status;
    /// assert_eq!(Status::Running { pid: 42 }.lsb_code(), 0);
    /// assert_eq!(Status::NotRunning.lsb_code(), 3);
    /// ```
    pub fn lsb_code(&self) -> u8 {
        match self {
            Status::Running { .. } => 0,
            Status::Stale { .. } => 1,
            Status::NotRunning => 3,
            Status::Unknown(_) => 4,
        }
    }
}

/// What [`Control::stop`] did.
///
/// ```no_run
/// use daemonizer::control::{Control, Stopped};
///
/// match Control::new("/run/myd.pid").stop() {
///     Ok(Stopped::Terminated { pid }) => println!("myd (PID {pid}) stopped"),
///     Ok(Stopped::Killed { pid }) => println!("myd (PID {pid}) killed after the timeout"),
///     Ok(Stopped::NotRunning) => println!("myd was not running"),
///     Ok(Stopped::StillRunning { pid }) => eprintln!("myd (PID {pid}) will not die"),
///     Ok(other) => println!("myd: {other:?}"),
///     Err(err) => err.exit(),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stopped {
    /// The daemon ended after SIGTERM, within the timeout.
    Terminated {
        /// The PID of the daemon that ended.
        pid: i32,
    },
    /// The daemon ignored SIGTERM for the whole timeout and was killed
    /// with SIGKILL.
    Killed {
        /// The PID of the daemon that was killed.
        pid: i32,
    },
    /// No daemon held the lock: nothing to stop (a success).
    NotRunning,
    /// The daemon still holds the lock after SIGKILL and the second wait
    /// (stuck in the kernel, or in another PID namespace's reach only).
    StillRunning {
        /// The PID that still holds the lock.
        pid: i32,
    },
}

impl Stopped {
    /// Whether the daemon is gone: everything but
    /// [`StillRunning`](Stopped::StillRunning).
    ///
    /// ```
    /// use daemonizer::control::Stopped;
    /// assert!(Stopped::NotRunning.is_stopped());
    /// assert!(!Stopped::StillRunning { pid: 42 }.is_stopped());
    /// ```
    pub fn is_stopped(&self) -> bool {
        !matches!(self, Stopped::StillRunning { .. })
    }

    /// The exit status an LSB init script's `stop` action uses: 0 stopped
    /// (or not running), 1 still running.
    ///
    /// ```
    /// use daemonizer::control::Stopped;
    ///
    /// assert_eq!(Stopped::Terminated { pid: 42 }.lsb_code(), 0);
    /// assert_eq!(Stopped::StillRunning { pid: 42 }.lsb_code(), 1);
    /// ```
    pub fn lsb_code(&self) -> u8 {
        u8::from(!self.is_stopped())
    }
}

/// A handle on a daemon, built from its pid file's path. Nothing is opened
/// until a request is made.
///
/// ```no_run
/// use std::time::Duration;
/// use daemonizer::control::Control;
///
/// let myd = Control::new("/run/myd.pid").timeout(Duration::from_secs(30));
/// myd.reload().unwrap(); // SIGHUP
/// println!("{:?}", myd.stop().unwrap());
/// ```
#[derive(Debug, Clone)]
pub struct Control {
    path: PathBuf,
    timeout: Duration,
    kill_timeout: Duration,
    /// Who may own the files besides root and the caller: the daemon's
    /// user, when known.
    trust: Option<Trust>,
}

/// The daemon that holds the lock, found through an open descriptor of its
/// pid file (kept to ask the lock again) and, on Linux, a pidfd.
struct Target {
    pid: i32,
    file: File,
    pidfd: Option<OwnedFd>,
}

impl Control {
    /// A handle on the daemon whose pid file is `pidfile`.
    ///
    /// ```
    /// use daemonizer::control::Control;
    ///
    /// let myd = Control::new("/run/myd.pid"); // nothing is opened yet
    /// assert_eq!(myd.pidfile(), std::path::Path::new("/run/myd.pid"));
    /// ```
    pub fn new(pidfile: impl AsRef<Path>) -> Control {
        Control {
            path: pidfile.as_ref().to_owned(),
            timeout: DEFAULT_STOP_TIMEOUT,
            kill_timeout: DEFAULT_KILL_TIMEOUT,
            trust: None,
        }
    }

    /// Trusts the daemon's user (and group) with its files, besides root
    /// and the caller, as the start does.
    pub(crate) fn trusting(mut self, trust: Trust) -> Control {
        self.trust = Some(trust);
        self
    }

    /// How long [`stop`](Control::stop) waits after SIGTERM before SIGKILL
    /// (default [`DEFAULT_STOP_TIMEOUT`], 10 s). A timeout beyond what the
    /// clock can count (`Duration::MAX`) waits without bound.
    ///
    /// ```
    /// use std::time::Duration;
    /// use daemonizer::control::Control;
    ///
    /// let myd = Control::new("/run/myd.pid").timeout(Duration::from_secs(30));
    /// # drop(myd);
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Control {
        self.timeout = timeout;
        self
    }

    /// How long [`stop`](Control::stop) waits after SIGKILL (default
    /// [`DEFAULT_KILL_TIMEOUT`], 5 s). A timeout beyond what the clock can
    /// count (`Duration::MAX`) waits without bound.
    ///
    /// ```
    /// use std::time::Duration;
    /// use daemonizer::control::Control;
    ///
    /// let myd = Control::new("/run/myd.pid").kill_timeout(Duration::from_secs(1));
    /// # drop(myd);
    /// ```
    pub fn kill_timeout(mut self, timeout: Duration) -> Control {
        self.kill_timeout = timeout;
        self
    }

    /// The pid file's path.
    ///
    /// ```
    /// let myd = daemonizer::control::Control::new("/run/myd.pid");
    /// assert_eq!(myd.pidfile(), std::path::Path::new("/run/myd.pid"));
    /// ```
    pub fn pidfile(&self) -> &Path {
        &self.path
    }

    /// How long [`stop`](Control::stop) waits after SIGTERM.
    pub(crate) fn stop_timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether the daemon runs, as the lock says (see [`Status`]). Never
    /// takes the lock: it cannot make a concurrent start fail.
    ///
    /// ```no_run
    /// use daemonizer::control::{Control, Status};
    ///
    /// let status = Control::new("/run/myd.pid").status();
    /// if let Status::Running { pid } = status {
    ///     println!("myd is running as PID {pid}");
    /// }
    /// std::process::exit(i32::from(status.lsb_code()));
    /// ```
    pub fn status(&self) -> Status {
        if let Some(pid) = self.held_by_this_process() {
            return Status::Running { pid };
        }
        let file = match self.open() {
            Ok(Some(file)) => file,
            Ok(None) => return Status::NotRunning,
            Err(e) => return Status::Unknown(e),
        };
        match self.probe(&file) {
            Ok(Holder::Daemon(Some(pid))) => Status::Running { pid },
            Ok(Holder::Daemon(None)) => Status::Unknown(Error::new(
                Step::Control,
                ErrorKind::Permission,
                format!(
                    "{}: the daemon holding the lock is in another PID namespace",
                    self.path.display()
                ),
            )),
            Ok(Holder::Free | Holder::Reader | Holder::Undoing) => self.stale(),
            Err(e) => Status::Unknown(e),
        }
    }

    /// No daemon holds the lock: what the pid file, opened now, says.
    fn stale(&self) -> Status {
        let file = match self.open_checked(&self.path) {
            Ok(Some(file)) => file,
            Ok(None) => return Status::NotRunning,
            Err(e) => return Status::Unknown(e),
        };
        let pid = written_pid(&file);
        // A file with no name left was removed by a daemon that ended
        // since it was opened: a clean stop.
        match file.metadata() {
            Ok(meta) if meta.nlink() == 0 => Status::NotRunning,
            Ok(_) => pid.map_or(Status::NotRunning, |pid| Status::Stale { pid }),
            Err(e) => Status::Unknown(Error::io(
                Step::Control,
                format!("{}", self.path.display()),
                &e,
            )),
        }
    }

    /// Sends `signal` to the process that holds the lock, and only to it:
    /// `Ok(Some(pid))` once sent, `Ok(None)` when no daemon holds the lock
    /// (a stale file's PID, maybe an unrelated process, is never signalled).
    ///
    /// ```no_run
    /// use daemonizer::{control::Control, Signal};
    /// Control::new("/run/myd.pid").signal(Signal::SIGUSR1).unwrap();
    /// ```
    ///
    /// # Errors
    /// The file cannot be opened or asked about, or the signal is not
    /// permitted (`Permission`).
    pub fn signal(&self, signal: Signal) -> Result<Option<i32>> {
        if let Some(pid) = self.held_by_this_process() {
            nix::sys::signal::raise(signal.to_nix())
                .map_err(|e| Error::os(Step::Control, format!("{signal} to PID {pid}"), e))?;
            return Ok(Some(pid));
        }
        match self.target()? {
            Some(target) if self.send(&target, signal)? => Ok(Some(target.pid)),
            _ => Ok(None),
        }
    }

    /// SIGHUP to the running daemon (what a daemon does with it is its own
    /// business: reload its configuration, reopen its logs).
    ///
    /// A daemon still starting (its pid file does not name it yet) is not
    /// sent SIGHUP: it may not have its handlers yet. On Linux a daemon
    /// that does not handle SIGHUP and either blocks it or does not ignore
    /// it is not sent it either: its default action would end the daemon,
    /// now or once unblocked, without removing its pid file, which is no
    /// reload (`/proc/<pid>/status` tells).
    ///
    /// # Errors
    /// [`ErrorKind::NotRunning`] when no daemon holds the lock;
    /// [`ErrorKind::Software`] when the daemon is still starting or SIGHUP
    /// would end it; otherwise as [`signal`](Control::signal).
    ///
    /// ```no_run
    /// let pid = daemonizer::control::Control::new("/run/myd.pid")
    ///     .reload()
    ///     .unwrap_or_else(|e| e.exit());
    /// println!("SIGHUP sent to PID {pid}");
    /// ```
    pub fn reload(&self) -> Result<i32> {
        let not_running = || {
            Error::new(
                Step::Control,
                ErrorKind::NotRunning,
                format!("{}: no daemon holds the lock", self.path.display()),
            )
        };
        if self.held_by_this_process().is_some() {
            return self.signal(Signal::SIGHUP)?.ok_or_else(not_running);
        }
        let target = self.target()?.ok_or_else(not_running)?;
        // The daemon writes its PID into the pid file (emptied when it
        // took the lock) once its signal handlers are in place: until then
        // its SIGHUP is blocked and, with no handler of its own, would end
        // it once the start restores the default action. (`target.file`
        // is the lock file, which holds no PID.)
        let named = self.open_checked(&self.path)?.and_then(|f| written_pid(&f));
        if named != Some(target.pid) {
            return Err(Error::new(
                Step::Control,
                ErrorKind::Software,
                format!(
                    "{}: PID {} has not reported ready yet (its pid file does not name it); \
                     SIGHUP not sent: try again once the start is over",
                    self.path.display(),
                    target.pid
                ),
            ));
        }
        if let Some(why) = ends_on(target.pid, Signal::SIGHUP) {
            return Err(Error::new(
                Step::Control,
                ErrorKind::Software,
                format!("{}: PID {} {why}", self.path.display(), target.pid),
            ));
        }
        if !self.send(&target, Signal::SIGHUP)? {
            return Err(not_running());
        }
        Ok(target.pid)
    }

    /// Stops the daemon, as `start-stop-daemon --retry TERM/10/KILL/5`
    /// does, but decided by the lock: SIGTERM, then a wait until the lock
    /// is released; after [`timeout`](Control::timeout), SIGKILL and a
    /// second wait of [`kill_timeout`](Control::kill_timeout). Stopping a
    /// daemon that is not running is a success
    /// ([`Stopped::NotRunning`]).
    ///
    /// # Errors
    /// The file cannot be opened or asked about, the signal is not
    /// permitted, or this process is the daemon itself (use
    /// [`request_stop`](crate::request_stop)).
    ///
    /// ```no_run
    /// let stopped = daemonizer::control::Control::new("/run/myd.pid")
    ///     .stop()
    ///     .unwrap_or_else(|e| e.exit());
    /// std::process::exit(i32::from(stopped.lsb_code()));
    /// ```
    pub fn stop(&self) -> Result<Stopped> {
        if self.held_by_this_process().is_some() {
            return Err(Error::new(
                Step::Control,
                ErrorKind::Software,
                format!(
                    "{}: this process is the daemon; it stops with request_stop()",
                    self.path.display()
                ),
            ));
        }
        let Some(target) = self.target()? else {
            return Ok(Stopped::NotRunning);
        };
        let pid = target.pid;
        if !self.send(&target, Signal::SIGTERM)? {
            return Ok(Stopped::NotRunning);
        }
        if self.wait_released(&target, self.timeout)? {
            log::debug!("control: PID {pid} ended after SIGTERM");
            return Ok(Stopped::Terminated { pid });
        }
        log::debug!(
            "control: PID {pid} still holds the lock after {:?}; SIGKILL",
            self.timeout
        );
        if !self.send(&target, Signal::SIGKILL)? {
            // It ended after SIGTERM after all, just past the timeout.
            return Ok(Stopped::Terminated { pid });
        }
        if self.wait_released(&target, self.kill_timeout)? {
            return Ok(Stopped::Killed { pid });
        }
        Ok(Stopped::StillRunning { pid })
    }

    /// Stops the running daemon (see [`stop`](Control::stop)), then starts
    /// `daemon`, which must use the same pid file.
    ///
    /// With several restarts (or starts) racing, exactly one daemon runs
    /// at the end: every start takes the lock, and all but one report
    /// "already running as PID N" ([`ErrorKind::AlreadyRunning`]).
    ///
    /// # Errors
    /// As [`stop`](Control::stop); the daemon still running after it
    /// ([`ErrorKind::AlreadyRunning`]); or whatever the start reports.
    ///
    /// ```no_run
    /// use daemonizer::{control::Control, Daemon};
    ///
    /// let running = Control::new("/run/myd.pid")
    ///     .restart(Daemon::new().pidfile("/run/myd.pid"))
    ///     .unwrap_or_else(|e| e.exit());
    /// // in the new daemon
    /// # drop(running);
    /// ```
    pub fn restart(&self, daemon: Daemon) -> Result<Daemonized> {
        match self.stop()? {
            Stopped::StillRunning { pid } => Err(Error::new(
                Step::Control,
                ErrorKind::AlreadyRunning,
                format!(
                    "{}: PID {pid} still holds the lock after SIGKILL",
                    self.path.display()
                ),
            )),
            _ => daemon.start(),
        }
    }

    /// The PID of this very process when it is the daemon holding the
    /// lock on the lock file of the path: it must not open its own lock
    /// file, since closing any descriptor of it would drop its lock.
    fn held_by_this_process(&self) -> Option<i32> {
        let (dev, ino) = crate::running::own_pidfile()?;
        let lock = crate::pidfile::lock_path(&self.path).ok()?;
        let meta = std::fs::symlink_metadata(lock).ok()?;
        (meta.dev() == dev && meta.ino() == ino).then(|| std::process::id() as i32)
    }

    /// Opens the file whose lock tells whether the daemon runs: the lock
    /// file, or the pid file when the lock file does not exist or this
    /// user cannot open it; `None` when neither exists. Both get the
    /// start's checks ([`open_checked`](Control::open_checked)).
    fn open(&self) -> Result<Option<File>> {
        let lock = crate::pidfile::lock_path(&self.path)
            .map_err(|e| Error::new(Step::Control, e.kind(), e.detail()))?;
        match self.open_checked(&lock) {
            Ok(Some(file)) => return Ok(Some(file)),
            Ok(None) => {}
            Err(e) if e.errno() == Some(Errno::EACCES) => {}
            Err(e) => return Err(e),
        }
        self.open_checked(&self.path)
    }

    /// Opens `path` for asking about its lock or reading it: read-only,
    /// without following a symbolic link or blocking on a FIFO; `None`
    /// when it does not exist. Refuses what the start would refuse: a
    /// directory another user can write, anything but a regular file, a
    /// file with more than one link, owned by another user than root, the
    /// caller or the daemon's, or writable by others.
    fn open_checked(&self, path: &Path) -> Result<Option<File>> {
        let shown = path.display();
        let (parent, name) = crate::pidfile::split(path)
            .map_err(|e| Error::new(Step::Control, e.kind(), e.detail()))?;
        let [daemon, caller] = self.trusted();
        // Every directory the path names is walked and checked as the
        // start walks it, once for each user the files may belong to.
        let walk = |trust| pathsafe::open_dir(Step::Control, AT_FDCWD, parent, path, trust, 0);
        let dir = match walk(daemon).or_else(|first| walk(caller).map_err(|_| first)) {
            Ok(dir) => dir,
            Err(e) if e.errno() == Some(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(e),
        };
        let flags = OFlag::O_RDONLY
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_NOCTTY
            | OFlag::O_CLOEXEC;
        let file = match openat(&dir, name, flags, Mode::empty()) {
            Ok(fd) => File::from(fd),
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(Error::os(Step::Control, format!("{shown}"), e)),
        };
        let meta = file
            .metadata()
            .map_err(|e| Error::io(Step::Control, format!("{shown}"), &e))?;
        if !meta.file_type().is_file() {
            return Err(Error::new(
                Step::Control,
                ErrorKind::CantCreate,
                format!("{shown}: is not a regular file"),
            ));
        }
        let check = |trust| pathsafe::check_file(Step::Control, file.as_fd(), path, trust);
        check(daemon).or_else(|first| check(caller).map_err(|_| first))?;
        Ok(Some(file))
    }

    /// Whom the files may belong to: root and the caller, or root and the
    /// daemon's user (either passes).
    fn trusted(&self) -> [Trust; 2] {
        let caller = Trust::current();
        [self.trust.unwrap_or(caller), caller]
    }

    fn probe(&self, file: &File) -> Result<Holder> {
        probe(file.as_fd()).map_err(|e| {
            Error::os(
                Step::Control,
                format!("{}: fcntl(F_GETLK)", self.path.display()),
                e,
            )
        })
    }

    /// The process that holds the lock, if any, with a pidfd checked
    /// against the lock where the system has them.
    fn target(&self) -> Result<Option<Target>> {
        let Some(file) = self.open()? else {
            return Ok(None);
        };
        let pid = match self.probe(&file)? {
            Holder::Daemon(Some(pid)) => pid,
            Holder::Daemon(None) => {
                return Err(Error::new(
                    Step::Control,
                    ErrorKind::Permission,
                    format!(
                        "{}: the daemon holding the lock is in another PID namespace",
                        self.path.display()
                    ),
                ))
            }
            Holder::Free | Holder::Reader | Holder::Undoing => return Ok(None),
        };
        let pidfd = match pidfd_open(pid) {
            Pidfd::Open(pidfd) => {
                // The pidfd names whatever process had that PID a moment
                // ago; if the lock still names the PID now, that process
                // holds it (a PID is reused only after its process is
                // gone, and a new process would have to take the lock in
                // between).
                if !self.still_held_by(&file, pid)? {
                    return Ok(None);
                }
                Some(pidfd)
            }
            // No process has that PID: the daemon ended since the lock
            // was asked. Whatever gets the PID next is not it.
            Pidfd::Gone => {
                log::debug!("control: PID {pid} ended before it could be signalled");
                return Ok(None);
            }
            Pidfd::Unsupported => None,
        };
        Ok(Some(Target { pid, file, pidfd }))
    }

    /// Whether the lock on `file` still names `pid`.
    fn still_held_by(&self, file: &File, pid: i32) -> Result<bool> {
        Ok(matches!(self.probe(file)?, Holder::Daemon(Some(now)) if now == pid))
    }

    /// Sends `signal` to `target`: `Ok(true)` once sent, `Ok(false)` when
    /// the daemon is gone (its lock with it) and nothing was sent. Without
    /// a pidfd the lock is asked again first (see the module docs).
    fn send(&self, target: &Target, signal: Signal) -> Result<bool> {
        let sent = match &target.pidfd {
            Some(pidfd) => pidfd_send_signal(pidfd, signal),
            None => {
                if !self.still_held_by(&target.file, target.pid)? {
                    log::debug!(
                        "control: PID {} no longer holds the lock; no {signal}",
                        target.pid
                    );
                    return Ok(false);
                }
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(target.pid), signal.to_nix())
            }
        };
        match sent {
            Ok(()) => {
                log::debug!("control: {signal} to PID {}", target.pid);
                Ok(true)
            }
            // Gone already: the lock went with it.
            Err(Errno::ESRCH) => Ok(false),
            Err(e) => Err(Error::os(
                Step::Control,
                format!("{}: {signal} to PID {}", self.path.display(), target.pid),
                e,
            )),
        }
    }

    /// Waits until `target` no longer holds the lock, at most `limit`:
    /// `true` once released.
    fn wait_released(&self, target: &Target, limit: Duration) -> Result<bool> {
        let deadline = Deadline::after(limit);
        let released = || -> Result<bool> {
            Ok(!matches!(self.probe(&target.file)?, Holder::Daemon(Some(p)) if p == target.pid))
        };
        if let Some(pidfd) = &target.pidfd {
            // A pidfd is readable once the process has ended; its files,
            // and the lock, are released before that.
            if wait_readable(pidfd, deadline) && released()? {
                return Ok(true);
            }
        }
        let mut pause = Duration::from_millis(1);
        loop {
            if released()? {
                return Ok(true);
            }
            let left = deadline.left();
            if left.is_zero() {
                return Ok(false);
            }
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

/// Why `signal` may end `pid` by its default action (see
/// [`ends_by_masks`]), as the masks of `/proc/<pid>/status` say; `None`
/// when it would not, or where that cannot be told.
#[cfg(target_os = "linux")]
fn ends_on(pid: i32, signal: Signal) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    ends_by_masks(&text, signal)?.map(|why| why.replace("{}", signal.as_str()))
}

#[cfg(not(target_os = "linux"))]
fn ends_on(_: i32, _: Signal) -> Option<String> {
    None
}

/// Whether a process with the `/proc/<pid>/status` text `status` may be
/// ended by `signal`'s default action, and why (`{}` stands for the
/// signal's name): it does not catch it, and either does not ignore it or
/// blocks it (a blocked signal stays pending, even ignored, and meets
/// whatever disposition is in place once unblocked: a start ignores
/// SIGHUP only until it restores the default). `None` when a mask is
/// missing or garbled.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn ends_by_masks(status: &str, signal: Signal) -> Option<Option<&'static str>> {
    let mask = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|value| u64::from_str_radix(value.trim(), 16).ok())
    };
    let bit = 1u64.checked_shl((signal.as_raw() - 1).try_into().ok()?)?;
    let (caught, ignored, blocked) = (mask("SigCgt:")?, mask("SigIgn:")?, mask("SigBlk:")?);
    Some(if caught & bit != 0 {
        None
    } else if blocked & bit != 0 {
        Some("blocks {} without a handler: a reload would end it once unblocked")
    } else if ignored & bit == 0 {
        Some("neither handles nor ignores {}: a reload would end it")
    } else {
        None
    })
}

/// The PID the file holds, when it holds `<pid>\n` and nothing else.
pub(crate) fn written_pid(mut file: &File) -> Option<i32> {
    let mut text = String::new();
    file.by_ref().take(32).read_to_string(&mut text).ok()?;
    text.strip_suffix('\n')?.parse().ok().filter(|p| *p > 0)
}

/// What asking for a pidfd gave.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
enum Pidfd {
    Open(OwnedFd),
    /// No process has the PID (`ESRCH`).
    Gone,
    /// No pidfd to be had here: another system, an older kernel (before
    /// Linux 5.3), a sandbox refusing the call, no fd left.
    Unsupported,
}

/// A pidfd for `pid`.
#[cfg(target_os = "linux")]
fn pidfd_open(pid: i32) -> Pidfd {
    // SAFETY: pidfd_open takes a PID and flags, no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return match Errno::last() {
            Errno::ESRCH => Pidfd::Gone,
            _ => Pidfd::Unsupported,
        };
    }
    // SAFETY: on success the result is a new fd that nothing else owns.
    Pidfd::Open(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd as i32) })
}

#[cfg(not(target_os = "linux"))]
fn pidfd_open(_: i32) -> Pidfd {
    Pidfd::Unsupported
}

#[cfg(target_os = "linux")]
fn pidfd_send_signal(pidfd: &OwnedFd, signal: Signal) -> std::result::Result<(), Errno> {
    // SAFETY: a valid pidfd, a signal number, no siginfo (null), no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal.as_raw(),
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}

#[cfg(not(target_os = "linux"))]
fn pidfd_send_signal(_: &OwnedFd, _: Signal) -> std::result::Result<(), Errno> {
    Err(Errno::ENOSYS)
}

/// Polls `fd` for reading until `deadline`; `true` once readable.
fn wait_readable(fd: &OwnedFd, deadline: Deadline) -> bool {
    loop {
        let left = deadline.left();
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, alive for the call.
        match unsafe { libc::poll(&mut pfd, 1, ms) } {
            n if n > 0 => return true,
            0 => return false,
            _ if Errno::last() == Errno::EINTR => continue,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(caught: u64, ignored: u64, blocked: u64) -> String {
        format!(
            "Name:\tmyd\nSigQ:\t0/63448\nSigPnd:\t0000000000000000\nSigBlk:\t{blocked:016x}\n\
             SigIgn:\t{ignored:016x}\nSigCgt:\t{caught:016x}\n"
        )
    }

    #[test]
    fn a_blocked_signal_is_no_safer_for_being_ignored() {
        let hup = 1u64 << (Signal::SIGHUP.as_raw() - 1);
        let ends = |c, i, b| ends_by_masks(&status(c, i, b), Signal::SIGHUP).map(|w| w.is_some());
        assert_eq!(ends(0, 0, 0), Some(true), "default action");
        assert_eq!(ends(hup, 0, 0), Some(false), "caught");
        assert_eq!(ends(0, hup, 0), Some(false), "ignored");
        assert_eq!(ends(hup, 0, hup), Some(false), "caught, blocked for now");
        // A start ignores and blocks it until it restores the default.
        assert_eq!(ends(0, hup, hup), Some(true), "ignored and blocked");
        assert_eq!(ends(0, 0, hup), Some(true), "blocked");
        assert_eq!(ends(!hup, !hup, !hup), Some(true), "other signals' bits");
        assert_eq!(
            ends_by_masks("SigCgt:\t0\nSigIgn:\tzz\n", Signal::SIGHUP),
            None
        );
        assert_eq!(ends_by_masks("", Signal::SIGHUP), None);
    }

    #[test]
    fn each_reason_a_reload_would_end_the_daemon_is_named() {
        let term = 1u64 << (Signal::SIGTERM.as_raw() - 1);
        let why = |c, i, b| ends_by_masks(&status(c, i, b), Signal::SIGTERM).flatten();
        assert_eq!(
            why(0, 0, 0),
            Some("neither handles nor ignores {}: a reload would end it")
        );
        assert_eq!(
            why(0, term, term),
            Some("blocks {} without a handler: a reload would end it once unblocked")
        );
        assert_eq!(why(term, term, term), None, "caught wins");
        // A mask that is missing, or not hexadecimal, answers nothing.
        let without = |key: &str| {
            let text: String = status(0, 0, 0)
                .lines()
                .filter(|l| !l.starts_with(key))
                .map(|l| format!("{l}\n"))
                .collect();
            ends_by_masks(&text, Signal::SIGTERM)
        };
        assert_eq!(without("SigCgt:"), None);
        assert_eq!(without("SigIgn:"), None);
        assert_eq!(without("SigBlk:"), None);
        let huge = "SigCgt:\t1ffffffffffffffff\nSigIgn:\t0\nSigBlk:\t0\n";
        assert_eq!(ends_by_masks(huge, Signal::SIGTERM), None, "over 64 bits");
    }

    /// `written_pid` of a file holding `content` (the read end of a pipe:
    /// read as the pid file is, without a name in the file system).
    fn written(content: &[u8]) -> Option<i32> {
        let (read, write) = nix::unistd::pipe().expect("pipe");
        let mut write = File::from(write);
        std::io::Write::write_all(&mut write, content).expect("write the pipe");
        drop(write);
        written_pid(&File::from(read))
    }

    #[test]
    fn the_written_pid_is_a_positive_number_and_a_newline() {
        assert_eq!(written(b"4242\n"), Some(4242));
        assert_eq!(written(b"1\n"), Some(1));
        assert_eq!(
            written(format!("{}\n", i32::MAX).as_bytes()),
            Some(i32::MAX)
        );
    }

    #[test]
    fn anything_else_in_the_pid_file_names_no_pid() {
        for content in [
            &b""[..],
            b"\n",
            b"4242",
            b"4242\n\n",
            b"4242\nmore",
            b" 4242\n",
            b"4242 \n",
            b"0\n",
            b"-1\n",
            b"-4242\n",
            b"2147483648\n",
            b"99999999999999999999\n",
            b"0x10\n",
            b"42\r\n",
            b"4\xff2\n",
        ] {
            assert_eq!(
                written(content),
                None,
                "{:?}",
                String::from_utf8_lossy(content)
            );
        }
        // Only the first 32 bytes are read: a long file is no pid file.
        let long = format!("{}1\n", "0".repeat(40));
        assert_eq!(written(long.as_bytes()), None);
    }

    #[test]
    fn lsb_codes_of_status_and_stop() {
        let unknown = Error::new(Step::PidFile, ErrorKind::Config, "/run/myd.pid: refused");
        assert_eq!(Status::Running { pid: 42 }.lsb_code(), 0);
        assert_eq!(Status::Stale { pid: 42 }.lsb_code(), 1);
        assert_eq!(Status::NotRunning.lsb_code(), 3);
        assert_eq!(Status::Unknown(unknown).lsb_code(), 4);
        for (stopped, code) in [
            (Stopped::Terminated { pid: 42 }, 0),
            (Stopped::Killed { pid: 42 }, 0),
            (Stopped::NotRunning, 0),
            (Stopped::StillRunning { pid: 42 }, 1),
        ] {
            assert_eq!(stopped.lsb_code(), code, "{stopped:?}");
            assert_eq!(stopped.is_stopped(), code == 0, "{stopped:?}");
        }
    }

    #[test]
    fn a_control_keeps_its_path_and_timeouts() {
        let myd = Control::new("/run/myd.pid");
        assert_eq!(myd.pidfile(), Path::new("/run/myd.pid"));
        assert_eq!(myd.stop_timeout(), DEFAULT_STOP_TIMEOUT);
        assert_eq!(myd.kill_timeout, DEFAULT_KILL_TIMEOUT);
        assert!(myd.trust.is_none(), "root and the caller only");
        let myd = myd
            .timeout(Duration::MAX)
            .kill_timeout(Duration::ZERO)
            .trusting(Trust::new(65534, 65534));
        assert_eq!(myd.stop_timeout(), Duration::MAX);
        assert_eq!(myd.kill_timeout, Duration::ZERO);
        assert_eq!(myd.trust.map(|t| t.uid()), Some(65534));
        // Only the two trusted owners change: the path is the same.
        assert_eq!(myd.pidfile(), Path::new("/run/myd.pid"));
    }
}
