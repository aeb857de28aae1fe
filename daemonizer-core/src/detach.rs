//! Step 3, detach: fork, `setsid`, fork. The daemon ends up in a session of
//! its own that it does not lead, so it can never acquire a controlling
//! terminal, and the launcher (the caller's process) waits for it.
//!
//! Two plain `fork(2)` calls, on every platform. The first child calls
//! `setsid`, forks the daemon, then watches it until it is ready (to
//! report a fatal signal, which only a parent sees, and to undo the start
//! when the launcher was killed) and leaves; it never runs code of the
//! caller's. POSIX leaves anything but `_exit` and `exec`
//! undefined in a `vfork` child: a plain fork keeps every step
//! documented.

use std::os::fd::OwnedFd;

use nix::unistd::{fork, setsid, ForkResult, Pid};

use crate::error::{Error, Result, Step};
use crate::readiness;

/// Where [`detach`] returns.
pub(crate) enum Hop {
    /// In the launcher: `child` is the first child (the daemon's parent),
    /// which watches the daemon until it is ready, then exits; not reaped
    /// yet. `channel` is the launcher's end of the readiness channel.
    Launcher { child: Pid, channel: OwnedFd },
    /// In the first child, the session leader: it watches `daemon` until
    /// it is ready (see [`watch`](crate::watch::watch)), then exits.
    Watcher { daemon: Pid },
    /// In the daemon.
    Daemon,
}

/// Creates the daemon. On failure nothing was created: the error is
/// returned in the launcher. A failure in the first child is reported
/// through `channel`, where the launcher reads it from `launcher_end`.
///
/// Only the launcher keeps `launcher_end`: the first child closes it at
/// once. The daemon learns that the launcher has read its report when the
/// last reader of the channel is gone (see
/// [`readiness::wait_for_launcher`]); a copy in the first child would
/// delay that until the first child's exit has torn down its memory.
///
/// # Safety
/// The process must have one thread and all signals blocked but SIGKILL
/// and SIGSTOP: the first child then runs no signal handler and takes no
/// lock that another thread could hold.
pub(crate) unsafe fn detach(channel: &OwnedFd, launcher_end: OwnedFd) -> Result<Hop> {
    // SAFETY: one thread, so the child may run any code: no lock can be
    // held by a thread that does not exist in it.
    match unsafe { fork() }.map_err(|e| Error::os(Step::Detach, "fork", e))? {
        ForkResult::Parent { child } => {
            return Ok(Hop::Launcher {
                child,
                channel: launcher_end,
            })
        }
        ForkResult::Child => drop(launcher_end),
    }
    let outcome = setsid()
        .map_err(|e| Error::os(Step::Detach, "setsid", e))
        .and_then(|_| {
            // SAFETY: still one thread, as above.
            unsafe { fork() }.map_err(|e| Error::os(Step::Detach, "second fork", e))
        });
    match outcome {
        Ok(ForkResult::Child) => Ok(Hop::Daemon),
        // The session leader watches the daemon until it is ready, then
        // leaves, running nothing of the caller's.
        Ok(ForkResult::Parent { child }) => Ok(Hop::Watcher { daemon: child }),
        Err(e) => {
            readiness::report_error(channel, &e);
            // SAFETY: as above.
            unsafe { libc::_exit(i32::from(e.exit_code())) }
        }
    }
}
