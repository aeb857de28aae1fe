//! The setup step: the caller's own code, run in the launching process as
//! the launching user, after the pid file is probed ("already running" is
//! said first) and before detaching, chroot and the privilege drop. It is
//! where a daemon that will run as `nobody` binds port 80, opens a device
//! or reads a root-only key. Every fd it opens stays open in the daemon,
//! without a preserve list, and its value is handed to the body.

use std::any::Any;
use std::os::fd::RawFd;

use crate::config::SetupFn;
use crate::error::{Error, ErrorKind, Result, Step};

/// Runs `setup`; returns its value and the fds it left open, which the fd
/// sweep keeps. `needed` are the fds the start opened before it and goes
/// on using (the pid file, `/dev/null`, the output files...).
///
/// Fds are told apart by what they name, not by their number: a setup
/// that closes an fd it was given (a `File` it drops) and then opens
/// another one gets the same number back, and that one is kept. An fd
/// that names the same open file as before (same device, inode and
/// status flags) is taken for the one that was there: a setup that
/// closes a file and opens it again, alike, on the same number leaves it
/// to the sweep.
///
/// # Errors
/// The setup's own, or one of `needed` closed or replaced by the setup
/// (another file on its number): the start would use whatever now has
/// its number.
pub(crate) fn run(setup: SetupFn, needed: &[RawFd]) -> Result<(Box<dyn Any>, Vec<RawFd>)> {
    let before = open_fds()?;
    let value = setup()?;
    let after = open_fds()?;
    let was = |fd: RawFd| {
        before
            .binary_search_by_key(&fd, |(n, _)| *n)
            .ok()
            .map(|at| before[at].1)
    };
    let file = |id: Option<Identity>| id.map(|id| (id.dev, id.ino));
    for &fd in needed {
        let (was, is) = (file(was(fd)), file(identity(fd)));
        if was.is_some() && was != is {
            return Err(Error::new(
                Step::Setup,
                ErrorKind::Software,
                format!(
                    "it {} fd {fd}, which the start opened before it (the pid file, \
                     /dev/null, an output file or the supervisor's socket); a setup \
                     closes only what it opened",
                    if is.is_some() { "replaced" } else { "closed" }
                ),
            ));
        }
    }
    let opened = after
        .into_iter()
        .filter(|(fd, id)| was(*fd) != Some(*id))
        .map(|(fd, _)| fd)
        .collect();
    Ok((value, opened))
}

/// What an fd names: the open file's device and inode, and the status
/// flags of its open file description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    flags: i32,
}

/// The open fds with what each names, sorted by number, as the daemon's
/// sweep finds them (see [`crate::fds::open_fds`]).
fn open_fds() -> Result<Vec<(RawFd, Identity)>> {
    let mut fds =
        crate::fds::open_fds().map_err(|e| Error::io(Step::Setup, "finding the open fds", &e))?;
    fds.sort_unstable();
    fds.dedup();
    // A listing's own fd is gone by now: fstat fails on it (EBADF), as on
    // any fd that is not open.
    Ok(fds
        .into_iter()
        .filter_map(|fd| identity(fd).map(|id| (fd, id)))
        .collect())
}

/// What `fd` names; `None` when it is not open.
fn identity(fd: RawFd) -> Option<Identity> {
    // SAFETY: fstat fills a plain C struct, all zeroes being a valid one;
    // F_GETFL takes no pointers and changes nothing.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 {
            return None;
        }
        let flags = libc::fcntl(fd, libc::F_GETFL);
        #[allow(clippy::unnecessary_cast)]
        Some(Identity {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            flags,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::failed;
    use std::io;

    #[test]
    fn what_the_setup_opens_is_listed() {
        let (value, opened) = run(
            Box::new(|| {
                let file = std::fs::File::open("/dev/null").map_err(|e| failed(&e))?;
                Ok(Box::new(file) as Box<dyn Any>)
            }),
            &[],
        )
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
