//! A process-wide wake-up: threads poll an fd that becomes readable, for
//! good, once [`wake`] is called (from a signal handler too).
//!
//! Linux: an eventfd (one fd; never read, so it stays readable). Elsewhere
//! (and on Linux with the portable path forced): a pipe, whose read end is
//! polled and never read, and whose non-blocking write end [`wake`] writes
//! a byte into (once the pipe is full, a write fails with `EAGAIN` and the
//! pipe stays readable).

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;

/// The fds, packed: the one to poll in the high half, the one to write in
/// the low half; `NONE` until [`fd`] creates them. Never closed once set.
static FDS: AtomicU64 = AtomicU64::new(NONE);
const NONE: u64 = u64::MAX;

fn pack(poll: RawFd, write: RawFd) -> u64 {
    (u64::from(poll as u32) << 32) | u64::from(write as u32)
}

/// The fd to poll, created on first use; `Err` when it cannot be created.
pub(crate) fn fd() -> Result<RawFd, Errno> {
    let current = FDS.load(Ordering::SeqCst);
    if current != NONE {
        return Ok((current >> 32) as RawFd);
    }
    let (poll, write) = imp::create()?;
    match FDS.compare_exchange(NONE, pack(poll, write), Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => Ok(poll),
        Err(existing) => {
            // Another thread created them first.
            imp::discard(poll, write);
            Ok((existing >> 32) as RawFd)
        }
    }
}

/// Makes the fd readable, for every thread polling it now or later.
/// Async-signal-safe: an atomic load and one `write(2)`.
pub(crate) fn wake() {
    let current = FDS.load(Ordering::SeqCst);
    if current != NONE {
        let errno = Errno::last_raw();
        imp::write((current & u64::from(u32::MAX)) as RawFd);
        Errno::set_raw(errno);
    }
}

#[cfg(all(target_os = "linux", not(daemonizer_portable)))]
mod imp {
    use super::*;

    pub(super) fn create() -> Result<(RawFd, RawFd), Errno> {
        // SAFETY: eventfd(2) takes no pointers.
        let fd =
            Errno::result(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        Ok((fd, fd))
    }

    pub(super) fn discard(fd: RawFd, _: RawFd) {
        // SAFETY: our own fd, used by nothing else.
        unsafe { libc::close(fd) };
    }

    pub(super) fn write(fd: RawFd) {
        let one: u64 = 1;
        // SAFETY: 8 bytes from a live u64 into an eventfd that is never
        // closed.
        unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }
}

#[cfg(not(all(target_os = "linux", not(daemonizer_portable))))]
mod imp {
    use std::os::fd::IntoRawFd;

    use super::*;

    pub(super) fn create() -> Result<(RawFd, RawFd), Errno> {
        let (read, write) = super::super::pipe::pipe(true)?;
        Ok((read.into_raw_fd(), write.into_raw_fd()))
    }

    pub(super) fn discard(read: RawFd, write: RawFd) {
        // SAFETY: our own fds, used by nothing else.
        unsafe {
            libc::close(read);
            libc::close(write);
        }
    }

    pub(super) fn write(fd: RawFd) {
        let byte = 1u8;
        // SAFETY: one byte from this frame into a non-blocking pipe that
        // is never closed.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
}
