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

/// The signals a write raises besides failing: `SIGPIPE` for a pipe
/// without a reader (`EPIPE`), `SIGXFSZ` for a regular file at the
/// process's file-size limit, `RLIMIT_FSIZE` (`EFBIG`).
const WRITE_SIGNALS: [libc::c_int; 2] = [libc::SIGPIPE, libc::SIGXFSZ];

/// The signals pending for this thread or the process.
fn pending() -> Option<libc::sigset_t> {
    // SAFETY: `set` is a plain sigset_t that sigemptyset and sigpending
    // fill in; both take a pointer valid for the calls.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        (libc::sigpending(&mut set) == 0).then_some(set)
    }
}

fn has(set: &libc::sigset_t, signal: libc::c_int) -> bool {
    // SAFETY: sigismember only reads the set.
    unsafe { libc::sigismember(set, signal) == 1 }
}

/// Runs `write` (writes to stdout, stderr or any descriptor) with `SIGPIPE`
/// and `SIGXFSZ` blocked, and discards those signals it raised: a pipe
/// without a reader or a file at the file-size limit is an error like any
/// other, whatever the signals' dispositions (`SIGXFSZ` ends a process by
/// default, and a program may have set `SIGPIPE` back to the default): the
/// process keeps its documented exit status. A signal pending before is
/// left as it was; one the writes raised is taken even where the signal
/// was blocked already (the launcher blocks every signal across the
/// forks), or restoring that mask later would deliver it.
pub(crate) fn quietly<T>(write: impl FnOnce() -> T) -> T {
    use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGPIPE);
    signals.add(Signal::SIGXFSZ);
    let mut old = SigSet::empty();
    let blocked = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&signals), Some(&mut old)).is_ok();
    let before = pending();
    let result = write();
    if blocked {
        if let (Some(before), Some(after)) = (before, pending()) {
            for (signal, raw) in [Signal::SIGPIPE, Signal::SIGXFSZ]
                .into_iter()
                .zip(WRITE_SIGNALS)
            {
                if has(&after, raw) && !has(&before, raw) {
                    // Raised by the writes: take it, so that restoring the
                    // mask does not deliver it.
                    let mut one = SigSet::empty();
                    one.add(signal);
                    let _ = one.wait();
                }
            }
        }
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    }
    result
}

/// `std::process::exit(code)` with `SIGPIPE` and `SIGXFSZ` blocked for
/// the calling thread: the exit flushes what Rust's stdout still holds,
/// and a write it cannot make (no reader, the file-size limit) must not
/// turn the documented status into a death by signal.
pub(crate) fn exit_quietly(code: i32) -> ! {
    use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGPIPE);
    signals.add(Signal::SIGXFSZ);
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&signals), None);
    std::process::exit(code)
}

/// Writes all of `bytes` to `fd` (retrying on `EINTR`) [`quietly`]: a pipe
/// without a reader (`EPIPE`) or a file at the file-size limit (`EFBIG`)
/// is an error like any other, never the end of the process.
pub(crate) fn write_all_quietly(fd: BorrowedFd<'_>, bytes: &[u8]) -> Result<(), Errno> {
    quietly(|| {
        let mut rest = bytes;
        while !rest.is_empty() {
            match nix::unistd::write(fd, rest) {
                Ok(0) => return Err(Errno::EIO),
                Ok(n) => rest = &rest[n..],
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    })
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
