//! Blocked signals as a readable fd, for a thread that waits in `poll` on
//! other fds too (the launcher waiting for its daemon).
//!
//! Linux: a `signalfd` over the blocked signals. Elsewhere (and on Linux
//! with the portable path forced): a self-pipe. For as long as the receiver
//! lives, each signal gets a handler that writes its number into a pipe
//! (`write(2)` being async-signal-safe) and is unblocked in this thread;
//! dropping the receiver blocks the signals again, then puts the previous
//! handlers back. Either way, a signal that was pending before the receiver
//! existed is received, and no signal is lost between two polls.

use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};

pub(crate) use imp::Receiver;

#[cfg(all(target_os = "linux", not(daemonizer_portable)))]
mod imp {
    use std::os::fd::{AsFd, AsRawFd};

    use nix::sys::signalfd::{SfdFlags, SignalFd};

    use super::*;

    /// Receives the signals of a set, which the caller keeps blocked.
    pub(crate) struct Receiver(SignalFd);

    impl Receiver {
        /// What the receiver is, for error messages.
        pub(crate) const NAME: &'static str = "signalfd";

        /// Starts receiving `signals` (blocked in this thread).
        pub(crate) fn new(signals: &SigSet) -> Result<Receiver, Errno> {
            SignalFd::with_flags(signals, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
                .map(Receiver)
        }

        /// The fd to poll for reading.
        pub(crate) fn fd(&self) -> RawFd {
            self.0.as_fd().as_raw_fd()
        }

        /// The next signal received, without blocking.
        pub(crate) fn next(&self) -> Option<Signal> {
            match self.0.read_signal() {
                Ok(Some(info)) => Signal::try_from(info.ssi_signo as i32).ok(),
                _ => None,
            }
        }
    }
}

#[cfg(not(all(target_os = "linux", not(daemonizer_portable))))]
mod imp {
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::sync::atomic::{AtomicI32, Ordering};

    use nix::sys::signal::{
        pthread_sigmask, sigaction, SaFlags, SigAction, SigHandler, SigmaskHow,
    };

    use super::*;

    /// The write end of the live receiver's pipe; -1 when there is none.
    static PIPE: AtomicI32 = AtomicI32::new(-1);

    /// Writes the signal's number into the pipe. Async-signal-safe: an
    /// atomic load and one `write(2)`, with errno saved and restored.
    extern "C" fn on_signal(signal: libc::c_int) {
        let errno = Errno::last_raw();
        let fd = PIPE.load(Ordering::SeqCst);
        if fd >= 0 {
            let byte = signal as u8;
            // SAFETY: one byte from this frame into a non-blocking pipe
            // that stays open as long as this handler is installed.
            unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
        }
        Errno::set_raw(errno);
    }

    /// Receives the signals of a set, which the caller keeps blocked.
    pub(crate) struct Receiver {
        read: OwnedFd,
        _write: OwnedFd,
        signals: SigSet,
        previous: Vec<(Signal, SigAction)>,
    }

    impl Receiver {
        /// What the receiver is, for error messages.
        pub(crate) const NAME: &'static str = "signal pipe";

        /// Starts receiving `signals` (blocked in this thread): installs
        /// the handlers, then unblocks the signals here. One receiver at a
        /// time per process.
        pub(crate) fn new(signals: &SigSet) -> Result<Receiver, Errno> {
            let (read, write) = super::super::pipe::pipe(true)?;
            let flags = nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_GETFL)?;
            let flags =
                nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
            nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_SETFL(flags))?;
            if PIPE
                .compare_exchange(-1, write.as_raw_fd(), Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                return Err(Errno::EBUSY);
            }
            let mut receiver = Receiver {
                read,
                _write: write,
                signals: SigSet::empty(),
                previous: Vec::new(),
            };
            // The handler runs with every signal of the set blocked, so
            // that it is never nested.
            let action = SigAction::new(
                SigHandler::Handler(on_signal),
                SaFlags::SA_RESTART,
                *signals,
            );
            for signal in signals.iter() {
                // SAFETY: `on_signal` is async-signal-safe (see there).
                let previous = unsafe { sigaction(signal, &action) }?;
                receiver.previous.push((signal, previous));
            }
            receiver.signals = *signals;
            pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(signals), None)?;
            Ok(receiver)
        }

        /// The fd to poll for reading.
        pub(crate) fn fd(&self) -> RawFd {
            self.read.as_raw_fd()
        }

        /// The next signal received, without blocking.
        pub(crate) fn next(&self) -> Option<Signal> {
            let mut byte = [0u8; 1];
            match nix::unistd::read(&self.read, &mut byte) {
                Ok(1) => Signal::try_from(i32::from(byte[0])).ok(),
                _ => None,
            }
        }
    }

    impl Drop for Receiver {
        fn drop(&mut self) {
            // Blocked first: a signal arriving from now on stays pending
            // rather than meeting the previous handler.
            let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&self.signals), None);
            for (signal, previous) in self.previous.drain(..) {
                // SAFETY: puts back the handler that was installed before.
                let _ = unsafe { sigaction(signal, &previous) };
            }
            PIPE.store(-1, Ordering::SeqCst);
        }
    }
}
