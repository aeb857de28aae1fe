//! The two entry points of the Python original, `daemonize(...)` and
//! `daemonize_lite(...)`, in Rust form: keyword arguments become the fields
//! of [`Options`], and both are thin wrappers over [`Daemon`].

use std::fmt;
use std::os::fd::RawFd;
use std::path::PathBuf;

use crate::config::{Account, Daemon, Mode, SignalHandler};
use crate::error::Result;
use crate::names::Signal;
use crate::running::Daemonized;

/// The arguments of [`daemonize`] and [`daemonize_lite`], named as in the
/// original; every field is optional: start from `Options::default()` and
/// set the fields wanted (more may come, so the struct cannot be written
/// as a literal outside the crate).
///
/// ```no_run
/// use daemonizer::{daemonize, Options, Signal};
///
/// let mut options = Options::default();
/// options.work_dir = Some("/var/lib/myd".into());
/// options.umask = Some(0o022);
/// options.pid_file = Some("/run/myd.pid".into());
/// options.signals = vec![(Signal::SIGHUP, Box::new(|_| log::info!("reload")))];
/// let running = daemonize(options).unwrap_or_else(|e| e.exit());
/// # drop(running);
/// ```
#[derive(Default)]
#[non_exhaustive]
pub struct Options {
    /// Directory to chroot into.
    pub chroot_dir: Option<PathBuf>,
    /// Directory to change to (inside the chroot, if any).
    pub work_dir: Option<PathBuf>,
    /// File mode creation mask (at most `0o777`).
    pub umask: Option<u32>,
    /// User to switch to, by name or id.
    pub uid: Option<Account>,
    /// Group to switch to, by name or id.
    pub gid: Option<Account>,
    /// Path of the pid file.
    pub pid_file: Option<PathBuf>,
    /// Fds to keep open through the fd sweep (full mode only, as in the
    /// original).
    pub files_preserve: Vec<RawFd>,
    /// Signal handlers, run in normal context on the runtime's thread.
    pub signals: Vec<(Signal, SignalHandler)>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let signals: Vec<Signal> = self.signals.iter().map(|(s, _)| *s).collect();
        f.debug_struct("Options")
            .field("chroot_dir", &self.chroot_dir)
            .field("work_dir", &self.work_dir)
            .field("umask", &self.umask)
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("pid_file", &self.pid_file)
            .field("files_preserve", &self.files_preserve)
            .field("signals", &signals)
            .finish()
    }
}

impl From<Options> for Daemon {
    fn from(options: Options) -> Daemon {
        let mut daemon = Daemon::new().preserve_all(options.files_preserve);
        daemon.chroot = options.chroot_dir;
        daemon.work_dir = options.work_dir;
        daemon.umask = options.umask;
        daemon.user = options.uid;
        daemon.group = options.gid;
        daemon.pidfile = options.pid_file;
        daemon.handlers = options.signals;
        daemon
    }
}

/// Full daemonization with `options`: `Daemon::from(options)` in
/// [`Mode::Full`], started. See [`Daemon::start`] for the steps.
///
/// # Errors
/// As [`Daemon::start`]: returned in the launching process.
///
/// ```no_run
/// use daemonizer::{daemonize, Options};
///
/// let mut options = Options::default();
/// options.pid_file = Some("/run/myd.pid".into());
/// let running = daemonize(options).unwrap_or_else(|e| e.exit());
/// # drop(running);
/// ```
pub fn daemonize(options: Options) -> Result<Daemonized> {
    Daemon::from(options).mode(Mode::Full).start()
}

/// Lite daemonization with `options`: every step but detaching, closing
/// fds and redirecting stdio (so `files_preserve` has nothing to do).
///
/// # Errors
/// As [`Daemon::start`].
///
/// ```no_run
/// use daemonizer::{daemonize_lite, Options};
///
/// // In the foreground, under a supervisor or a debugger.
/// let mut options = Options::default();
/// options.pid_file = Some("/run/myd.pid".into());
/// let running = daemonize_lite(options).unwrap_or_else(|e| e.exit());
/// # drop(running);
/// ```
pub fn daemonize_lite(options: Options) -> Result<Daemonized> {
    Daemon::from(options).mode(Mode::Lite).start()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_map_onto_the_builder() {
        let daemon = Daemon::from(Options {
            chroot_dir: Some("/srv/jail".into()),
            work_dir: Some("/w".into()),
            umask: Some(0o027),
            uid: Some("nobody".into()),
            gid: Some(65534.into()),
            pid_file: Some("/run/x.pid".into()),
            files_preserve: vec![7, 9],
            signals: vec![(Signal::SIGHUP, Box::new(|_| {}))],
        });
        assert_eq!(daemon.chroot, Some("/srv/jail".into()));
        assert_eq!(daemon.work_dir, Some("/w".into()));
        assert_eq!(daemon.umask, Some(0o027));
        assert_eq!(daemon.user, Some(Account::Name("nobody".into())));
        assert_eq!(daemon.group, Some(Account::Id(65534)));
        assert_eq!(daemon.pidfile, Some("/run/x.pid".into()));
        assert_eq!(daemon.preserve, vec![7, 9]);
        assert_eq!(daemon.handlers.len(), 1);
        assert_eq!(daemon.mode, Mode::Full);
    }
}
