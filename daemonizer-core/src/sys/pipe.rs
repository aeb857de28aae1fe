//! Pipes whose ends are close-on-exec from the start.
//!
//! Linux and FreeBSD have `pipe2(O_CLOEXEC)`: atomic. macOS has no
//! `pipe2`: `pipe` then `FD_CLOEXEC` on each end. Between the two calls an
//! `exec` by another thread would inherit the ends; the runtime creates its
//! pipes where no other thread of its own runs (the launcher is checked to
//! be alone; the daemon's signal thread is started after its pipe exists),
//! so that window holds nothing.

use std::os::fd::{BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};

/// A pipe `(read end, write end)`, both close-on-exec; with `nonblocking`,
/// the write end never blocks (a full pipe fails with `EAGAIN`).
pub(crate) fn pipe(nonblocking_write: bool) -> Result<(OwnedFd, OwnedFd), Errno> {
    let (read, write) = imp::pipe_cloexec()?;
    if nonblocking_write {
        let flags = fcntl(&write, FcntlArg::F_GETFL)?;
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        fcntl(&write, FcntlArg::F_SETFL(flags))?;
    }
    Ok((read, write))
}

/// Writes all of `bytes` to `fd` (retrying on `EINTR`) with `SIGPIPE`
/// blocked for the call, and a `SIGPIPE` the call raised discarded: a pipe
/// without a reader is an `EPIPE` like any other error, whatever the
/// signal's disposition (a program may have set it back to the default,
/// which would end the process on the spot).
pub(crate) fn write_all_quietly(fd: BorrowedFd<'_>, bytes: &[u8]) -> Result<(), Errno> {
    use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
    let mut pipe = SigSet::empty();
    pipe.add(Signal::SIGPIPE);
    let mut old = SigSet::empty();
    let blocked = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&pipe), Some(&mut old)).is_ok();
    // SAFETY: `set` is a plain sigset_t that sigpending fills in.
    let already_pending = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut set) != 0 || libc::sigismember(&set, libc::SIGPIPE) == 1
    };
    let mut rest = bytes;
    let mut outcome = Ok(());
    while !rest.is_empty() {
        match nix::unistd::write(fd, rest) {
            Ok(0) => {
                outcome = Err(Errno::EIO);
                break;
            }
            Ok(n) => rest = &rest[n..],
            Err(Errno::EINTR) => {}
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    if blocked {
        if outcome == Err(Errno::EPIPE) && !already_pending && !old.contains(Signal::SIGPIPE) {
            // The SIGPIPE this write raised is pending: take it, so that
            // restoring the mask does not deliver it.
            let _ = pipe.wait();
        }
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    }
    outcome
}

#[cfg(all(
    any(target_os = "linux", target_os = "freebsd"),
    not(daemonizer_portable)
))]
mod imp {
    use super::*;

    pub(super) fn pipe_cloexec() -> Result<(OwnedFd, OwnedFd), Errno> {
        nix::unistd::pipe2(OFlag::O_CLOEXEC)
    }
}

/// `pipe`, then `FD_CLOEXEC` (macOS; on Linux with the portable path
/// forced, see the crate's platform notes).
#[cfg(not(all(
    any(target_os = "linux", target_os = "freebsd"),
    not(daemonizer_portable)
)))]
mod imp {
    use super::*;

    use nix::fcntl::FdFlag;

    pub(super) fn pipe_cloexec() -> Result<(OwnedFd, OwnedFd), Errno> {
        let (read, write) = nix::unistd::pipe()?;
        for end in [&read, &write] {
            fcntl(end, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        }
        Ok((read, write))
    }
}

/// Whether `fd` is close-on-exec.
#[cfg(test)]
fn cloexec(fd: &impl std::os::fd::AsRawFd) -> bool {
    // SAFETY: F_GETFD takes no pointers.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    flags >= 0 && flags & libc::FD_CLOEXEC != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ends_are_close_on_exec() {
        let (read, write) = pipe(true).unwrap();
        assert!(cloexec(&read) && cloexec(&write));
        let write_flags = fcntl(&write, FcntlArg::F_GETFL).unwrap();
        assert_ne!(write_flags & libc::O_NONBLOCK, 0);
        let read_flags = fcntl(&read, FcntlArg::F_GETFL).unwrap();
        assert_eq!(read_flags & libc::O_NONBLOCK, 0);
    }
}
