//! The runtime of [`daemonizer-rs`](https://docs.rs/daemonizer-rs) (library
//! `daemonizer`): the ordered,
//! checked steps that turn a process into a well-behaved Unix daemon.
//!
//! Most programs use it through the `daemonizer` crate and its
//! `#[daemonizer::daemon]` attribute; everything here can be used without
//! the attribute through [`Daemon`]. The steps and their order are listed
//! on [`Daemon::start`].
//!
//! # Anatomy of the crate
//!
//! | module | concern |
//! |---|---|
//! | `config` | [`Daemon`], the builder holding every setting |
//! | `classic` | [`daemonize`] and [`daemonize_lite`], the original's entry points |
//! | `error` | [`Error`]: the failing [`Step`], the value, the OS error; exit statuses |
//! | `names` | [`Signal`] and [`Resource`]: the crate's own names for the system's numbers, one table each with a `cfg` per system |
//! | `start` | the orchestration of the steps: preflight in the launcher, the detach, the steps in the daemon |
//! | `running` | the running daemon: its state, [`Daemonized`], its way out on a stop signal or exit, the stop and readiness functions |
//! | `pidfile` | open, lock, write and remove the pid file |
//! | `pathsafe` | what is refused in the files a root daemon opens: hard links, foreign owners, directories others can write, pseudo filesystems |
//! | [`control`] | status, signal, stop, reload, restart of a running daemon, decided by the pid file's lock |
//! | `commands` | the program's first argument as a command ([`Daemon::commands`]): one line and an LSB exit status each |
//! | `privileges` | user and group resolution and the privilege drop |
//! | `detach` | fork, `setsid`, fork: two plain forks |
//! | `dirs` | chroot, work dir, umask, resource limits |
//! | `signals` | signal blocking across forks; stop signals; user handlers on a thread |
//! | `fds` | closing inherited fds (`close_range`, else a listing of the open fds, else the open fds found without a filesystem: `proc_pidinfo` on macOS, `poll` elsewhere) |
//! | `stdio` | stdin, stdout, stderr to `/dev/null` or files |
//! | `readiness` | the pipe through which the launcher learns the outcome |
//! | `report` | why a daemon that ends before it is ready ended; the panic hook |
//! | `setup` | the caller's setup step, run before detaching; the fds it opens |
//! | `notify`, `listen` | systemd's readiness protocol and socket activation |
//! | `sys` | the platform layer: each facility that differs between systems, per system |
//! | `logfile` | [`LogFile`], a `log` backend whose fd is easy to preserve |
//!
//! # Security
//!
//! Every file opened for the daemon's configuration (the pid file, the
//! stdout and stderr files) is refused, before anything is written to it,
//! when another user than root and the daemon's own could change what it
//! is: a file with a second hard link, owned by another user or writable by
//! them, in a directory (or below one) that they can write and that is not
//! sticky, or on a pseudo filesystem such as procfs. An output file's last
//! component may be a symlink only when the link and its directory belong
//! to root or the daemon's user, and a dangling one never creates a file;
//! every open is non-blocking, so a FIFO without a reader is an error, not
//! a hang. `docs/security.md` in the repository compares these rules with
//! what systemd and `start-stop-daemon` refuse.
//!
//! A user given by name gets the host's supplementary groups, resolved
//! before any chroot; a switch away from root leaves no capability (on
//! Linux the sets are emptied and read back, whatever `PR_SET_KEEPCAPS`
//! said). What the daemon inherits is not trusted either: it starts with
//! no signal blocked whatever its caller blocked; a full start in PID 1 (a
//! container's init, whose exit kills the daemon) is refused; a failed
//! start's message is one line, control characters escaped, and its exit
//! status survives a stderr nobody reads; a supervisor whose queue is full
//! delays a notification by at most two seconds.
#![cfg(unix)]

mod classic;
mod commands;
mod config;
pub mod control;
mod deadline;
mod detach;
mod dirs;
mod error;
mod fds;
mod lastwords;
mod listen;
mod logfile;
mod names;
mod notify;
mod pathsafe;
mod pidfile;
mod privileges;
#[cfg(test)]
mod proptests;
mod readiness;
mod running;
mod setup;
mod signals;
mod start;
mod stdio;
mod sys;
mod unit;
mod watch;

pub use classic::{daemonize, daemonize_lite, Options};
pub use config::{
    Account, Daemon, Launched, Mode, Output, PreserveFd, Readiness, Setup, SignalHandler,
};
pub use error::{Error, ErrorKind, Result, Step};
pub use listen::{listen_fds, ListenFd};
pub use logfile::LogFile;
pub use names::{Resource, Signal};
pub use running::{
    notify, notify_status, notify_watchdog, ready, request_stop, stop_requested, wait_for_stop,
    wait_for_stop_timeout, watchdog, Daemonized,
};

/// The `log` crate, which the runtime logs its steps through and
/// [`LogFile`] serves: `daemonizer::log::info!(...)` works without a
/// dependency of one's own.
///
/// ```
/// daemonizer::log::info!("listening on {}", 8080);
/// ```
pub use log;

#[doc(hidden)]
pub mod __private;
