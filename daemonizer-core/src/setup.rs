//! The setup step: the caller's own code, run in the launching process as
//! the launching user, after the pid file is probed ("already running" is
//! said first) and before detaching, chroot and the privilege drop. It is
//! where a daemon that will run as `nobody` binds port 80, opens a device
//! or reads a root-only key. Every fd it opens stays open in the daemon,
//! without a preserve list, and its value is handed to the body.

use std::any::Any;
use std::fmt;
use std::io;
use std::os::fd::RawFd;

use nix::errno::Errno;

use crate::error::{Error, ErrorKind, Result, Step};

/// The setup, with its value's type erased (see
/// [`Daemon::setup`](crate::Daemon::setup)).
pub(crate) type SetupFn = Box<dyn FnOnce() -> Result<Box<dyn Any>>>;

/// The value a setup returned, on its way from the launcher to the body.
pub(crate) struct SetupValue(pub(crate) Option<Box<dyn Any>>);

impl fmt::Debug for SetupValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

/// The error of a setup as a start-up failure: its `Display`, with the
/// exit status of its OS error when it is an `io::Error` that has one
/// (`EACCES` binding port 80 is 77, as any other permission failure).
pub(crate) fn failed<E: fmt::Display + 'static>(err: &E) -> Error {
    let kind = (err as &dyn Any)
        .downcast_ref::<io::Error>()
        .and_then(io::Error::raw_os_error)
        .map_or(ErrorKind::Software, |code| {
            Error::os(Step::Setup, "", Errno::from_raw(code)).kind()
        });
    Error::new(Step::Setup, kind, err.to_string())
}

/// Runs `setup`; returns its value and the fds it left open that were not
/// open before, which the fd sweep keeps.
pub(crate) fn run(setup: SetupFn) -> Result<(Box<dyn Any>, Vec<RawFd>)> {
    let before = open_fds()?;
    let value = setup()?;
    let opened = open_fds()?
        .into_iter()
        .filter(|fd| before.binary_search(fd).is_err())
        .collect();
    Ok((value, opened))
}

/// The open fds, sorted, as the daemon's sweep finds them (see
/// [`crate::fds::open_fds`]).
fn open_fds() -> Result<Vec<RawFd>> {
    let mut fds =
        crate::fds::open_fds().map_err(|e| Error::io(Step::Setup, "finding the open fds", &e))?;
    // A listing's own fd is gone by now; a probe keeps only open fds.
    fds.retain(|fd| {
        // SAFETY: F_GETFD takes no pointers and changes nothing.
        unsafe { libc::fcntl(*fd, libc::F_GETFD) >= 0 }
    });
    fds.sort_unstable();
    Ok(fds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_setup_opens_is_listed() {
        let (value, opened) = run(Box::new(|| {
            let file = std::fs::File::open("/dev/null").map_err(|e| failed(&e))?;
            Ok(Box::new(file) as Box<dyn Any>)
        }))
        .unwrap();
        let file = value.downcast::<std::fs::File>().unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&*file);
        assert!(opened.contains(&fd), "{fd} in {opened:?}");
    }

    #[test]
    fn errors_keep_their_message_and_os_status() {
        let denied = io::Error::from_raw_os_error(libc::EACCES);
        let err = failed(&denied);
        assert_eq!(err.step(), Step::Setup);
        assert_eq!(err.exit_code(), 77);
        assert_eq!(err.to_string(), format!("setup: {denied}"));
        let other = failed(&"no key in /etc/myd/key");
        assert_eq!(err.kind(), ErrorKind::Permission);
        assert_eq!(other.exit_code(), 70);
        assert_eq!(other.to_string(), "setup: no key in /etc/myd/key");
    }
}
