//! The configuration: every setting of a daemon, built with [`Daemon`].

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::error::{escape_control, Error, ErrorKind, Result, Step};
use crate::names::{Resource, Signal};

/// Full or lite daemonization.
///
/// ```
/// use daemonizer::{Daemon, Mode};
///
/// let debugging = std::env::args().any(|a| a == "--foreground");
/// let daemon = Daemon::new().mode(if debugging { Mode::Lite } else { Mode::Full });
/// assert_eq!(daemon.current_mode(), if debugging { Mode::Lite } else { Mode::Full });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Every step: the process detaches (double fork, new session), closes
    /// inherited fds and sends stdio to `/dev/null` or files.
    #[default]
    Full,
    /// Every step but detaching, closing fds and redirecting stdio: the
    /// process stays in the foreground, for debugging and for supervisors.
    Lite,
}

impl Mode {
    /// [`Mode::Lite`] when the environment variable `var` is set to
    /// anything but `""`, `"0"`, `"false"`, `"no"` and `"off"` (ignoring
    /// case and surrounding white space), [`Mode::Full`] otherwise.
    ///
    /// ```
    /// use daemonizer::Mode;
    /// // With DEBUG unset, or set to "", "0", "false", "no" or "off":
    /// # std::env::remove_var("DAEMONIZER_DOC_DEBUG");
    /// assert_eq!(Mode::from_env("DAEMONIZER_DOC_DEBUG"), Mode::Full);
    /// ```
    pub fn from_env(var: &str) -> Mode {
        match std::env::var_os(var) {
            Some(value) if is_truthy(&value.to_string_lossy()) => Mode::Lite,
            _ => Mode::Full,
        }
    }
}

/// Whether an environment value switches a flag on: anything but `""`,
/// `"0"`, `"false"`, `"no"` and `"off"` (ignoring case and surrounding
/// white space).
pub(crate) fn is_truthy(value: &str) -> bool {
    let value = value.trim().to_ascii_lowercase();
    !matches!(value.as_str(), "" | "0" | "false" | "no" | "off")
}

/// A user or group, by name or by numeric id.
///
/// Built from a string (`"nobody"`) or an integer (`65534`); numeric ids are
/// checked for range when the daemon starts, so that `-1` is an error
/// rather than a wrapped-around id.
///
/// ```
/// use daemonizer::{Account, Daemon};
///
/// assert_eq!(Account::from("nobody"), Account::Name("nobody".into()));
/// assert_eq!(Account::from(65534u32), Account::Id(65534));
/// let daemon = Daemon::new().user("nobody").group(65534u32);
/// # drop(daemon);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Account {
    /// Looked up in the host's user or group database before any chroot.
    Name(String),
    /// Used as is (it must fit in `uid_t`/`gid_t` and not be `-1`).
    Id(i64),
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Name(name) => write!(f, "{name:?}"),
            Account::Id(id) => write!(f, "{id}"),
        }
    }
}

impl From<&str> for Account {
    fn from(name: &str) -> Account {
        Account::Name(name.to_owned())
    }
}
impl From<String> for Account {
    fn from(name: String) -> Account {
        Account::Name(name)
    }
}
impl From<&String> for Account {
    fn from(name: &String) -> Account {
        Account::Name(name.clone())
    }
}
macro_rules! account_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Account {
            fn from(id: $t) -> Account {
                Account::Id(i64::from(id))
            }
        }
    )*};
}
account_from_int!(i32, u32, i64, u16);
impl From<u64> for Account {
    fn from(id: u64) -> Account {
        Account::Id(i64::try_from(id).unwrap_or(i64::MAX))
    }
}

/// Where stdout or stderr of a full daemon goes.
///
/// ```
/// use daemonizer::Output;
///
/// let output = Output::File("/var/log/myd.err".into());
/// assert_ne!(output, Output::default()); // `/dev/null`
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Output {
    /// `/dev/null`, opened read-write.
    #[default]
    Null,
    /// A file opened for appending, created with mode 0640 when missing.
    /// It is opened before any chroot or privilege drop.
    File(PathBuf),
}

/// When start-up counts as complete.
///
/// ```
/// use daemonizer::{Daemon, Readiness};
///
/// let daemon = Daemon::new().readiness(Readiness::Manual);
/// # drop(daemon);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Readiness {
    /// As soon as every step is done, before the body runs.
    #[default]
    Auto,
    /// When the body calls [`ready`](crate::ready) (after binding its
    /// sockets, say). In full mode the launcher waits for that moment.
    Manual,
}

/// A file descriptor to keep open through the fd sweep of a full start.
///
/// Implemented for raw fds (`i32`), for [`BorrowedFd`] and for references
/// to anything that is [`AsFd`] (`&File`, `&TcpListener`, `&OwnedFd`, a
/// [`LogFile`](crate::LogFile), …).
///
/// ```
/// use daemonizer::{Daemon, PreserveFd};
///
/// let file = std::fs::File::open("/dev/null")?;
/// assert_eq!((&file).preserved_fd(), std::os::fd::AsRawFd::as_raw_fd(&file));
/// let daemon = Daemon::new().preserve(&file).preserve(2);
/// # drop(daemon);
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait PreserveFd {
    /// The descriptor's number.
    fn preserved_fd(&self) -> RawFd;
}

impl PreserveFd for RawFd {
    fn preserved_fd(&self) -> RawFd {
        *self
    }
}
impl PreserveFd for BorrowedFd<'_> {
    fn preserved_fd(&self) -> RawFd {
        self.as_raw_fd()
    }
}
impl<T: AsFd + ?Sized> PreserveFd for &T {
    fn preserved_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// A resource limit to set: `soft`, and `hard` when given (otherwise the
/// hard limit is raised only when `soft` exceeds it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit {
    pub(crate) resource: Resource,
    pub(crate) soft: u64,
    pub(crate) hard: Option<u64>,
}

/// A boxed signal handler, as [`Options::signals`](crate::Options) holds them.
///
/// ```
/// use daemonizer::{Signal, SignalHandler};
///
/// let handler: SignalHandler = Box::new(|signal: Signal| log::info!("{signal}"));
/// # drop(handler);
/// ```
pub type SignalHandler = Box<dyn FnMut(Signal) + Send + 'static>;
pub(crate) type Handler = SignalHandler;
pub(crate) type Announce = Box<dyn FnOnce(&Launched)>;

/// The configuration of a daemon, built step by step and consumed by
/// [`start`](Daemon::start).
///
/// Every setting is optional: `Daemon::new().start()` detaches, closes
/// inherited fds and redirects stdio, and does nothing else.
///
/// ```no_run
/// use daemonizer::{Daemon, Signal};
///
/// let daemon = Daemon::new()
///     .pidfile("/run/myd.pid")
///     .work_dir("/var/lib/myd")
///     .umask(0o027)
///     .user("myd")
///     .core_dumps(false)
///     .stderr("/var/log/myd.err")
///     .on_signal(Signal::SIGHUP, |_| log::info!("reloading"))
///     .lite_if("DEBUG")
///     .start()
///     .unwrap_or_else(|e| e.exit());
///
/// while !daemon.stop_requested() {
///     // serve
/// #   break;
/// }
/// ```
pub struct Daemon {
    pub(crate) mode: Mode,
    /// The variable of [`lite_if`](Daemon::lite_if), read when the daemon
    /// starts.
    pub(crate) lite_if: Option<String>,
    pub(crate) chroot: Option<PathBuf>,
    pub(crate) work_dir: Option<PathBuf>,
    pub(crate) umask: Option<u32>,
    pub(crate) limits: Vec<Limit>,
    pub(crate) user: Option<Account>,
    pub(crate) group: Option<Account>,
    pub(crate) pidfile: Option<PathBuf>,
    pub(crate) preserve: Vec<RawFd>,
    pub(crate) stdout: Output,
    pub(crate) stderr: Output,
    pub(crate) handlers: Vec<(Signal, Handler)>,
    pub(crate) readiness: Readiness,
    pub(crate) keep_notify_socket: bool,
    pub(crate) on_launched: Option<Announce>,
    /// The program's first argument is a command (see
    /// [`commands`](Daemon::commands)).
    pub(crate) commands: bool,
    /// The command run when the program is given no argument.
    pub(crate) default_command: Option<Command>,
    /// How long the `stop` and `restart` commands wait after SIGTERM.
    pub(crate) stop_timeout: std::time::Duration,
    pub(crate) setup: Option<SetupFn>,
}

impl Default for Daemon {
    fn default() -> Daemon {
        Daemon::new()
    }
}

impl fmt::Debug for Daemon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let signals: Vec<Signal> = self.handlers.iter().map(|(s, _)| *s).collect();
        f.debug_struct("Daemon")
            .field("mode", &self.mode)
            .field("lite_if", &self.lite_if)
            .field("chroot", &self.chroot)
            .field("work_dir", &self.work_dir)
            .field("umask", &self.umask.map(|m| format!("{m:#o}")))
            .field("limits", &self.limits)
            .field("user", &self.user)
            .field("group", &self.group)
            .field("pidfile", &self.pidfile)
            .field("preserve", &self.preserve)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .field("signals", &signals)
            .field("readiness", &self.readiness)
            .field("keep_notify_socket", &self.keep_notify_socket)
            .field("commands", &self.commands)
            .field("default_command", &self.default_command)
            .field("stop_timeout", &self.stop_timeout)
            .field("setup", &self.setup.is_some())
            .finish()
    }
}

impl Daemon {
    /// A configuration with every setting off, in [`Mode::Full`].
    ///
    /// ```no_run
    /// // Detach, close inherited fds, stdio to /dev/null; nothing else.
    /// let running = daemonizer::Daemon::new().start().unwrap_or_else(|e| e.exit());
    /// # drop(running);
    /// ```
    pub fn new() -> Daemon {
        Daemon {
            mode: Mode::Full,
            lite_if: None,
            chroot: None,
            work_dir: None,
            umask: None,
            limits: Vec::new(),
            user: None,
            group: None,
            pidfile: None,
            preserve: Vec::new(),
            stdout: Output::Null,
            stderr: Output::Null,
            handlers: Vec::new(),
            readiness: Readiness::Auto,
            keep_notify_socket: false,
            on_launched: None,
            commands: false,
            default_command: None,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            setup: None,
        }
    }

    /// Full or lite daemonization.
    ///
    /// ```
    /// use daemonizer::{Daemon, Mode};
    ///
    /// let daemon = Daemon::new().mode(Mode::Lite);
    /// assert_eq!(daemon.current_mode(), Mode::Lite);
    /// ```
    pub fn mode(mut self, mode: Mode) -> Daemon {
        self.mode = mode;
        self.lite_if = None;
        self
    }

    /// Lite mode when the environment variable `var` is set and is not one
    /// of `""`, `"0"`, `"false"`, `"no"`, `"off"` (see [`Mode::from_env`]).
    ///
    /// The variable is read when the daemon starts; a name that cannot be
    /// an environment variable (empty, or with `=` or NUL in it) is refused
    /// then, rather than silently never switching to lite mode.
    ///
    /// ```
    /// use daemonizer::{Daemon, Mode};
    ///
    /// // `MYD_FOREGROUND=1 myd` stays in the foreground.
    /// let daemon = Daemon::new().lite_if("MYD_FOREGROUND");
    /// # drop(daemon);
    /// ```
    pub fn lite_if(mut self, var: &str) -> Daemon {
        self.lite_if = Some(var.to_owned());
        self
    }

    /// Change root to `dir` (then `chdir("/")` inside it). Names, `/dev/null`,
    /// the pid file and output files are all resolved before, on the host.
    ///
    /// ```
    /// let daemon = daemonizer::Daemon::new()
    ///     .chroot("/var/empty")
    ///     .user("nobody");
    /// # drop(daemon);
    /// ```
    pub fn chroot(mut self, dir: impl AsRef<Path>) -> Daemon {
        self.chroot = Some(dir.as_ref().to_owned());
        self
    }

    /// Change to `dir` (inside the chroot, when there is one). Without it
    /// a full daemon changes to `/`, as `daemon(3)` and systemd do, so that
    /// it keeps no directory (and no mount) of the launcher's busy; lite
    /// mode stays where it was started. Relative paths in the configuration
    /// are resolved from the launcher's directory first.
    ///
    /// ```no_run
    /// let running = daemonizer::Daemon::new()
    ///     .work_dir("/var/lib/myd")
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// # drop(running);
    /// ```
    pub fn work_dir(mut self, dir: impl AsRef<Path>) -> Daemon {
        self.work_dir = Some(dir.as_ref().to_owned());
        self
    }

    /// Set the file mode creation mask; values above `0o777` are refused
    /// when the daemon starts.
    ///
    /// ```
    /// let daemon = daemonizer::Daemon::new().umask(0o027);
    /// # drop(daemon);
    /// ```
    pub fn umask(mut self, mask: u32) -> Daemon {
        self.umask = Some(mask);
        self
    }

    /// Set the soft limit of `resource` to `value` (`u64::MAX` is
    /// unlimited), raising the hard limit only when it is lower.
    ///
    /// ```
    /// use daemonizer::{Daemon, Resource};
    ///
    /// let daemon = Daemon::new().limit(Resource::RLIMIT_NOFILE, 4096);
    /// # drop(daemon);
    /// ```
    pub fn limit(mut self, resource: Resource, value: u64) -> Daemon {
        self.limits.push(Limit {
            resource,
            soft: value,
            hard: None,
        });
        self
    }

    /// Set both limits of `resource`; `soft` above `hard` is refused when
    /// the daemon starts.
    ///
    /// ```
    /// use daemonizer::{Daemon, Resource};
    ///
    /// let daemon = Daemon::new().limits(Resource::RLIMIT_CORE, 0, 0);
    /// # drop(daemon);
    /// ```
    pub fn limits(mut self, resource: Resource, soft: u64, hard: u64) -> Daemon {
        self.limits.push(Limit {
            resource,
            soft,
            hard: Some(hard),
        });
        self
    }

    /// Allow (`true`: soft up to the hard limit) or forbid (`false`: both
    /// limits 0) core dumps.
    ///
    /// ```
    /// let daemon = daemonizer::Daemon::new().core_dumps(false);
    /// # drop(daemon);
    /// ```
    pub fn core_dumps(self, enabled: bool) -> Daemon {
        if enabled {
            self.limit(Resource::RLIMIT_CORE, u64::MAX)
        } else {
            self.limits(Resource::RLIMIT_CORE, 0, 0)
        }
    }

    /// Set the soft limit on open files (`RLIMIT_NOFILE`).
    ///
    /// ```
    /// let daemon = daemonizer::Daemon::new().max_open_files(65536);
    /// # drop(daemon);
    /// ```
    pub fn max_open_files(self, n: u64) -> Daemon {
        self.limit(Resource::RLIMIT_NOFILE, n)
    }

    /// Run as `user`, a name or a numeric uid. A named user gets exactly its
    /// own supplementary groups, read from the host's group database before
    /// any [`chroot`](Daemon::chroot); a numeric one gets none. Without
    /// [`group`](Daemon::group), the user's primary group is used. A switch
    /// away from root leaves no capability, whatever `PR_SET_KEEPCAPS` said
    /// (see the crate's "Security" section).
    ///
    /// ```
    /// let daemon = daemonizer::Daemon::new().user("myd");
    /// # drop(daemon);
    /// ```
    pub fn user(mut self, user: impl Into<Account>) -> Daemon {
        self.user = Some(user.into());
        self
    }

    /// Run with `group`, a name or a numeric gid.
    ///
    /// ```
    /// let daemon = daemonizer::Daemon::new().user("myd").group("adm");
    /// # drop(daemon);
    /// ```
    pub fn group(mut self, group: impl Into<Account>) -> Daemon {
        self.group = Some(group.into());
        self
    }

    /// Keep a locked pid file at `path`: "already running" is decided by its
    /// lock, it holds `<pid>\n` of the daemon, and it is removed at exit
    /// (emptied instead where it cannot be removed: after a privilege drop
    /// that forbids it, or under [`chroot`](Daemon::chroot), where the
    /// daemon keeps no handle on a directory outside its root).
    ///
    /// A file that another user than root and the daemon's could change is
    /// refused before anything is written: a second hard link, another
    /// owner, a mode that lets others write, a directory on the way that
    /// others can write and that is not sticky, a pseudo filesystem.
    ///
    /// ```
    /// let daemon = daemonizer::Daemon::new().pidfile("/run/myd.pid");
    /// # drop(daemon);
    /// ```
    pub fn pidfile(mut self, path: impl AsRef<Path>) -> Daemon {
        self.pidfile = Some(path.as_ref().to_owned());
        self
    }

    /// Keep `fd` open through the fd sweep of a full start.
    ///
    /// ```
    /// let state = std::fs::File::open("/dev/null")?;
    /// let daemon = daemonizer::Daemon::new().preserve(&state);
    /// # drop(daemon);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn preserve(mut self, fd: impl PreserveFd) -> Daemon {
        self.preserve.push(fd.preserved_fd());
        self
    }

    /// Keep every fd of `fds` open: raw fds, or references to anything
    /// [`AsFd`] (files, sockets, a [`LogFile`](crate::LogFile)).
    ///
    /// ```
    /// let files = [std::fs::File::open("/dev/null")?, std::fs::File::open("/dev/zero")?];
    /// let daemon = daemonizer::Daemon::new().preserve_all(&files);
    /// # drop(daemon);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn preserve_all<F: PreserveFd>(mut self, fds: impl IntoIterator<Item = F>) -> Daemon {
        self.preserve
            .extend(fds.into_iter().map(|fd| fd.preserved_fd()));
        self
    }

    /// Append the daemon's stdout to `path` instead of `/dev/null`.
    ///
    /// Opened in the launcher with the pid file's checks (see
    /// [`pidfile`](Daemon::pidfile)); a final symlink is followed only when
    /// it and its directory belong to root or the daemon's user, and a
    /// dangling one is refused. It may be a regular file, a character
    /// device (a terminal) or a FIFO with a reader; a FIFO without one is
    /// refused at once.
    ///
    /// ```
    /// let daemon = daemonizer::Daemon::new().stdout("/var/log/myd.out");
    /// # drop(daemon);
    /// ```
    pub fn stdout(mut self, path: impl AsRef<Path>) -> Daemon {
        self.stdout = Output::File(path.as_ref().to_owned());
        self
    }

    /// Append the daemon's stderr to `path` instead of `/dev/null`, opened
    /// as [`stdout`](Daemon::stdout) is.
    ///
    /// ```
    /// let daemon = daemonizer::Daemon::new().stderr("/var/log/myd.err");
    /// # drop(daemon);
    /// ```
    pub fn stderr(mut self, path: impl AsRef<Path>) -> Daemon {
        self.stderr = Output::File(path.as_ref().to_owned());
        self
    }

    /// Call `handler` each time `signal` arrives. It runs on the daemon's
    /// signal thread, in normal context: it may allocate, lock and log.
    ///
    /// A handler for `SIGTERM` or `SIGINT` replaces the default of ending
    /// the daemon cleanly. `SIGKILL` and `SIGSTOP` cannot be handled and are
    /// refused when the daemon starts.
    ///
    /// ```
    /// use daemonizer::{Daemon, Signal};
    ///
    /// let daemon = Daemon::new().on_signal(Signal::SIGHUP, |signal| log::info!("{signal}: reloading"));
    /// # drop(daemon);
    /// ```
    pub fn on_signal(
        mut self,
        signal: Signal,
        handler: impl FnMut(Signal) + Send + 'static,
    ) -> Daemon {
        self.handlers.push((signal, Box::new(handler)));
        self
    }

    /// When start-up counts as complete (see [`Readiness`]).
    ///
    /// ```
    /// use daemonizer::{Daemon, Readiness};
    ///
    /// let daemon = Daemon::new().readiness(Readiness::Manual);
    /// # drop(daemon);
    /// ```
    pub fn readiness(mut self, readiness: Readiness) -> Daemon {
        self.readiness = readiness;
        self
    }

    /// Leave `NOTIFY_SOCKET` in the environment for the body's children
    /// (by default it is removed during start-up, before the body runs;
    /// the daemon itself stays connected to the supervisor).
    ///
    /// ```
    /// // The body starts helpers that report to systemd themselves.
    /// let daemon = daemonizer::Daemon::new().keep_notify_socket(true);
    /// # drop(daemon);
    /// ```
    pub fn keep_notify_socket(mut self, keep: bool) -> Daemon {
        self.keep_notify_socket = keep;
        self
    }

    /// Runs `announce` in the launching process of a full start, once the
    /// daemon is ready and just before the launcher exits 0: the place to
    /// print the daemon's PID and how to stop it. Not called in lite mode.
    ///
    /// ```no_run
    /// daemonizer::Daemon::new()
    ///     .pidfile("/tmp/myd.pid")
    ///     .on_launched(|d| println!("started as PID {}; stop with kill {}", d.pid(), d.pid()))
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// ```
    pub fn on_launched(mut self, announce: impl FnOnce(&Launched) + 'static) -> Daemon {
        self.on_launched = Some(Box::new(announce));
        self
    }

    /// Makes the program's first argument a command, as an init script's
    /// (needs a [`pidfile`](Daemon::pidfile)): [`start`](Daemon::start)
    /// then reads it and
    ///
    /// | command | does | prints | exit status (LSB) |
    /// |---|---|---|---|
    /// | `start` | starts the daemon, as without commands | nothing (errors as usual) | 0, or the start's [`ErrorKind`](crate::ErrorKind) status |
    /// | `stop` | [`Control::stop`](crate::control::Control::stop): SIGTERM, wait for the lock, SIGKILL after [`stop_timeout`](Daemon::stop_timeout) | `myd stopped (PID 4242)` | 0 stopped or not running, 1 still running, 4 not permitted |
    /// | `status` | [`Control::status`](crate::control::Control::status) | `myd is running as PID 4242` | 0 running, 1 dead but the pid file names a PID, 3 not running, 4 unknown |
    /// | `restart` | stop, then start | `myd restarted as PID 4243` | 0, 1 if the old daemon cannot be stopped, or the start's status |
    /// | `reload` | SIGHUP to the daemon holding the lock | `myd reloading (SIGHUP sent to PID 4242)` | 0, 7 not running, 3 the daemon does not handle SIGHUP (Linux: its default action would end it) |
    ///
    /// `stop`, `status` and `reload` exit the process (`start` never
    /// returns in their case); `start` and `restart` go on with the start.
    /// The arguments after the command are left alone for the body:
    /// `std::env::args().skip(2)`. No command, or an unknown one, prints
    /// `usage: myd {start|stop|status|restart|reload} [ARGS...] | ...` on stderr
    /// and exits 2.
    ///
    /// ```no_run
    /// // myd start | stop | status | restart | reload
    /// let daemon = daemonizer::Daemon::new()
    ///     .pidfile("/run/myd.pid")
    ///     .commands(true)
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// let args: Vec<String> = std::env::args().skip(2).collect();
    /// # drop((daemon, args));
    /// ```
    pub fn commands(mut self, enabled: bool) -> Daemon {
        self.commands = enabled;
        self
    }

    /// Turns [`commands`](Daemon::commands) on, with `command` run when the
    /// program is given no argument at all (instead of the usage line and
    /// exit status 2); an unknown first argument is still refused.
    ///
    /// ```no_run
    /// use daemonizer::control::Command;
    ///
    /// // `myd` starts the daemon, `myd stop` stops it.
    /// let daemon = daemonizer::Daemon::new()
    ///     .pidfile("/run/myd.pid")
    ///     .default_command(Command::Start)
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// # drop(daemon);
    /// ```
    pub fn default_command(mut self, command: Command) -> Daemon {
        self.commands = true;
        self.default_command = Some(command);
        self
    }

    /// How long the `stop` and `restart` [`commands`](Daemon::commands)
    /// wait for the daemon to end after SIGTERM before they send SIGKILL
    /// (default 10 s).
    ///
    /// ```
    /// let daemon = daemonizer::Daemon::new()
    ///     .pidfile("/run/myd.pid")
    ///     .commands(true)
    ///     .stop_timeout(std::time::Duration::from_secs(30));
    /// # drop(daemon);
    /// ```
    pub fn stop_timeout(mut self, timeout: std::time::Duration) -> Daemon {
        self.stop_timeout = timeout;
        self
    }

    /// Runs `setup` during the start, in the launching process and as the
    /// launching user (root, say): after the pid file is opened and found
    /// unlocked (a second start still says "already running" and runs no
    /// setup), before detaching, chroot and the privilege drop. It is the
    /// place to bind a port below 1024, open a device or read a root-only
    /// key for a daemon that then runs as [`user`](Daemon::user).
    ///
    /// Every fd it leaves open stays open in the daemon, without
    /// [`preserve`](Daemon::preserve); its value is handed to the body by
    /// [`Setup::start`] (so `setup` comes last in the chain: it returns a
    /// [`Setup`], whose `start` returns the handle and the value). Its error fails the start: the launcher prints
    /// `<program>: cannot start daemon: setup: <error>` and exits 70 (77,
    /// 66, ... for an `io::Error` with an OS error, as for the other steps).
    /// It runs with signals blocked (a full start blocks them from the
    /// pid file on); it must not leave a thread running, which a full
    /// start refuses.
    ///
    /// ```no_run
    /// use std::net::TcpListener;
    ///
    /// let (running, listener) = daemonizer::Daemon::new()
    ///     .pidfile("/run/web.pid")
    ///     .user("nobody")
    ///     .setup(|| TcpListener::bind("0.0.0.0:80"))
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// for stream in listener.incoming() {
    ///     // serve, as nobody
    /// #   drop(stream);
    /// }
    /// # drop(running);
    /// ```
    pub fn setup<T, E, F>(mut self, setup: F) -> Setup<T>
    where
        T: 'static,
        E: fmt::Display + 'static,
        F: FnOnce() -> Result<T, E> + 'static,
    {
        self.setup = Some(Box::new(move || match setup() {
            Ok(value) => Ok(Box::new(value) as Box<dyn std::any::Any>),
            Err(err) => Err(failed(&err)),
        }));
        Setup {
            daemon: self,
            value: std::marker::PhantomData,
        }
    }

    /// The mode this configuration starts in.
    ///
    /// ```
    /// use daemonizer::{Daemon, Mode};
    ///
    /// assert_eq!(Daemon::new().current_mode(), Mode::Full);
    /// ```
    pub fn current_mode(&self) -> Mode {
        match &self.lite_if {
            Some(var) => Mode::from_env(var),
            None => self.mode,
        }
    }

    /// Makes relative paths absolute, from the launcher's working
    /// directory: a full daemon changes to `/` (or the work dir) before it
    /// uses them, and removes its pid file by name at exit. A relative work
    /// dir under a chroot stays relative to the chroot's root.
    pub(crate) fn resolve_paths(&mut self) -> Result<()> {
        let relative = |path: &Option<PathBuf>| path.as_ref().is_some_and(|p| p.is_relative());
        let outputs = [&self.stdout, &self.stderr]
            .iter()
            .any(|o| matches!(o, Output::File(p) if p.is_relative()));
        let work_dir = relative(&self.work_dir) && self.chroot.is_none();
        if !(relative(&self.pidfile) || relative(&self.chroot) || work_dir || outputs) {
            return Ok(());
        }
        let cwd = std::env::current_dir()
            .map_err(|e| Error::io(Step::Preflight, "the working directory", &e))?;
        // An empty path stays empty: each step refuses it by name.
        let absolute = |path: &mut PathBuf| {
            if path.is_relative() && !path.as_os_str().is_empty() {
                *path = cwd.join(&*path);
            }
        };
        self.pidfile.iter_mut().for_each(absolute);
        self.chroot.iter_mut().for_each(absolute);
        if work_dir {
            self.work_dir.iter_mut().for_each(absolute);
        }
        for output in [&mut self.stdout, &mut self.stderr] {
            if let Output::File(path) = output {
                absolute(path);
            }
        }
        Ok(())
    }

    /// Settles the mode, reading the variable of `lite_if`.
    pub(crate) fn resolve_mode(&mut self) -> Result<()> {
        if let Some(var) = self.lite_if.take() {
            if var.is_empty() || var.contains(['=', '\0']) {
                return Err(Error::new(
                    Step::Preflight,
                    ErrorKind::Config,
                    format!("lite_if: {var:?} is not an environment variable name"),
                ));
            }
            self.mode = Mode::from_env(&var);
        }
        Ok(())
    }
}

/// A [`Daemon`] with a [`setup`](Daemon::setup) step whose value, of type
/// `T`, [`start`](Setup::start) hands to the body.
///
/// ```no_run
/// let (running, key) = daemonizer::Daemon::new()
///     .user("nobody")
///     .setup(|| std::fs::read("/etc/myd/secret.key"))
///     .start()
///     .unwrap_or_else(|e| e.exit());
/// # drop((running, key));
/// ```
#[must_use = "a setup does nothing until the daemon is started"]
pub struct Setup<T> {
    pub(crate) daemon: Daemon,
    value: std::marker::PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Setup<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Setup").field(&self.daemon).finish()
    }
}

/// The commands a program started with [`Daemon::commands`] takes as its
/// first argument; [`Daemon::default_command`] names the one run when the
/// program is given no argument at all.
///
/// ```no_run
/// use daemonizer::control::Command;
///
/// // `myd` alone starts the daemon; `myd stop`, `myd status`... as usual.
/// let running = daemonizer::Daemon::new()
///     .pidfile("/run/myd.pid")
///     .default_command(Command::Start)
///     .start()
///     .unwrap_or_else(|e| e.exit());
/// # drop(running);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command {
    /// `start`: starts the daemon.
    Start,
    /// `stop`: SIGTERM, then SIGKILL after the stop timeout.
    Stop,
    /// `status`: whether the daemon runs, with LSB statuses.
    Status,
    /// `restart`: stop, then start.
    Restart,
    /// `reload`: SIGHUP to the running daemon.
    Reload,
}

impl Command {
    /// Every command, in the order the usage line lists them.
    ///
    /// ```
    /// use daemonizer::control::Command;
    ///
    /// let names: Vec<&str> = Command::ALL.iter().map(|c| c.as_str()).collect();
    /// assert_eq!(names, ["start", "stop", "status", "restart", "reload"]);
    /// ```
    pub const ALL: &'static [Command] = &[
        Command::Start,
        Command::Stop,
        Command::Status,
        Command::Restart,
        Command::Reload,
    ];

    /// The command's name, as given on the command line: `"start"`...
    ///
    /// ```
    /// assert_eq!(daemonizer::control::Command::Reload.as_str(), "reload");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Start => "start",
            Command::Stop => "stop",
            Command::Status => "status",
            Command::Restart => "restart",
            Command::Reload => "reload",
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Command {
    type Err = Error;

    /// The command named `name`, exactly as [`as_str`](Command::as_str)
    /// spells it.
    ///
    /// ```
    /// use daemonizer::control::Command;
    ///
    /// assert_eq!("stop".parse::<Command>()?, Command::Stop);
    /// assert!("STOP".parse::<Command>().is_err());
    /// # Ok::<(), daemonizer::Error>(())
    /// ```
    fn from_str(name: &str) -> Result<Command> {
        Command::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| {
                let shown: String = name.chars().take(64).collect();
                Error::new(
                    Step::Control,
                    ErrorKind::Config,
                    format!(
                        "unknown command {}; the commands are {}",
                        escape_control(&format!("{shown:?}")),
                        names().replace('|', ", ")
                    ),
                )
            })
    }
}

/// `start|stop|status|restart|reload`, from [`Command::ALL`].
pub(crate) fn names() -> String {
    let names: Vec<&str> = Command::ALL.iter().map(|c| c.as_str()).collect();
    names.join("|")
}

/// How long [`Control::stop`](crate::control::Control::stop) waits after SIGTERM before it sends SIGKILL,
/// unless [`Control::timeout`](crate::control::Control::timeout) says otherwise.
///
/// ```
/// use daemonizer::control::{Control, DEFAULT_STOP_TIMEOUT};
///
/// // A daemon that needs longer to flush its state.
/// let myd = Control::new("/run/myd.pid").timeout(DEFAULT_STOP_TIMEOUT * 3);
/// # drop(myd);
/// ```
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`Control::stop`](crate::control::Control::stop) waits after SIGKILL, unless
/// [`Control::kill_timeout`](crate::control::Control::kill_timeout) says otherwise.
///
/// ```
/// use daemonizer::control::{Control, DEFAULT_KILL_TIMEOUT};
///
/// let myd = Control::new("/run/myd.pid").kill_timeout(DEFAULT_KILL_TIMEOUT / 5);
/// # drop(myd);
/// ```
pub const DEFAULT_KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// The setup, with its value's type erased (see
/// [`Daemon::setup`](crate::Daemon::setup)).
pub(crate) type SetupFn = Box<dyn FnOnce() -> Result<Box<dyn std::any::Any>>>;

/// The value a setup returned, on its way from the launcher to the body.
pub(crate) struct SetupValue(pub(crate) Option<Box<dyn std::any::Any>>);

impl fmt::Debug for SetupValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

/// The error of a setup as a start-up failure: its `Display`, with the
/// exit status of its OS error when it is an `io::Error` that has one
/// (`EACCES` binding port 80 is 77, as any other permission failure).
pub(crate) fn failed<E: fmt::Display + 'static>(err: &E) -> Error {
    let kind = (err as &dyn std::any::Any)
        .downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::raw_os_error)
        .map_or(ErrorKind::Software, |code| {
            Error::os(Step::Setup, "", nix::errno::Errno::from_raw(code)).kind()
        });
    Error::new(Step::Setup, kind, err.to_string())
}

/// What the launcher knows once the daemon is ready; handed to
/// [`Daemon::on_launched`] in full mode.
///
/// ```no_run
/// daemonizer::Daemon::new()
///     .pidfile("/run/myd.pid")
///     .on_launched(|launched| {
///         println!("started as PID {} ({:?})", launched.pid(), launched.pidfile());
///     })
///     .start()
///     .unwrap_or_else(|e| e.exit());
/// ```
#[derive(Debug, Clone)]
pub struct Launched {
    pub(crate) pid: i32,
    pub(crate) pidfile: Option<PathBuf>,
    pub(crate) stdout: Output,
    pub(crate) stderr: Output,
}

impl Launched {
    /// The daemon's PID.
    ///
    /// ```no_run
    /// daemonizer::Daemon::new()
    ///     .on_launched(|launched| println!("PID {}", launched.pid()))
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// ```
    pub fn pid(&self) -> i32 {
        self.pid
    }
    /// The pid file, when there is one.
    ///
    /// ```no_run
    /// daemonizer::Daemon::new()
    ///     .pidfile("/run/myd.pid")
    ///     .on_launched(|launched| println!("pid file: {:?}", launched.pidfile()))
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// ```
    pub fn pidfile(&self) -> Option<&Path> {
        self.pidfile.as_deref()
    }
    /// Where the daemon's stdout goes.
    ///
    /// ```no_run
    /// daemonizer::Daemon::new()
    ///     .stdout("/var/log/myd.out")
    ///     .on_launched(|launched| println!("stdout goes to {:?}", launched.stdout()))
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// ```
    pub fn stdout(&self) -> &Output {
        &self.stdout
    }
    /// Where the daemon's stderr goes.
    ///
    /// ```no_run
    /// daemonizer::Daemon::new()
    ///     .stderr("/var/log/myd.err")
    ///     .on_launched(|launched| println!("stderr goes to {:?}", launched.stderr()))
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// ```
    pub fn stderr(&self) -> &Output {
        &self.stderr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lite_if_is_read_at_start_and_checked() {
        for bad in ["", "A=B", "NUL\0"] {
            let err = Daemon::new().lite_if(bad).resolve_mode().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{bad:?}");
            assert!(err.to_string().starts_with("preflight: lite_if: "), "{err}");
        }
        let mut unset = Daemon::new()
            .mode(Mode::Lite)
            .lite_if("DAEMONIZER_TEST_SURELY_UNSET_7Q");
        unset.resolve_mode().unwrap();
        assert_eq!(unset.mode, Mode::Full, "the last setting wins");
        let mut fixed = Daemon::new()
            .lite_if("DAEMONIZER_TEST_SURELY_UNSET_7Q")
            .mode(Mode::Lite);
        fixed.resolve_mode().unwrap();
        assert_eq!(fixed.mode, Mode::Lite, "the last setting wins");
    }

    #[test]
    fn truthy_values() {
        assert!(is_truthy("1") && is_truthy("yes") && is_truthy("TRUE"));
        assert!(!is_truthy("") && !is_truthy("0") && !is_truthy("Off") && !is_truthy(" no "));
    }
}
