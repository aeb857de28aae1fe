//! The first child's watch: the daemon's parent (the session leader of
//! the double fork) stays until the daemon is ready, to report what only
//! a parent can see (the exit status of `std::process::exit`, the name of
//! a fatal signal), and to undo the start when the launcher is gone. The
//! daemon reports what only it knows itself (see
//! [`running`](crate::running)).

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{Error, ErrorKind, Result, Step};
use crate::readiness;

/// The pipe between the daemon (write end) and its parent (read end),
/// created by the launcher before the first fork; each process takes the
/// end it needs.
static WATCH: Mutex<Option<(OwnedFd, OwnedFd)>> = Mutex::new(None);
/// The daemon's end, until it is ready.
static WATCHED: Mutex<Option<OwnedFd>> = Mutex::new(None);
/// The number of the fd in [`WATCHED`] while the daemon holds it, -1
/// otherwise: what [`forget_in_child`] reads, where no lock may be taken.
static WATCHED_FD: AtomicI32 = AtomicI32::new(-1);

/// How often the parent looks at the daemon when nothing wakes it (a
/// child the daemon forked holds the pipe, so its end does not report
/// the daemon's death).
const WATCH_PERIOD_MS: libc::c_int = 100;
/// How long the parent waits for a daemon that closed its end without
/// saying it is ready to end, before it stops watching.
const CLOSED_LIMIT: Duration = Duration::from_secs(1);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// In the launcher, before the first fork: creates the pipe; returns the
/// daemon's end, for the fd sweep to keep.
pub(crate) fn prepare_watch() -> Result<RawFd> {
    let (rx, tx) = readiness::channel()?;
    let fd = tx.as_raw_fd();
    *lock(&WATCH) = Some((rx, tx));
    Ok(fd)
}

/// In the launcher, after the forks: closes both ends.
pub(crate) fn launcher_done() {
    lock(&WATCH).take();
}

/// In the daemon, right after the forks: keeps its end only.
pub(crate) fn daemon_side() {
    if let Some((_, tx)) = lock(&WATCH).take() {
        WATCHED_FD.store(tx.as_raw_fd(), Ordering::SeqCst);
        *lock(&WATCHED) = Some(tx);
    }
}

/// In the child of a fork the body makes before the daemon is ready (a
/// `pthread_atfork` handler): the child does not keep the daemon's end,
/// so the parent sees the daemon's death at once. The child never uses its
/// copy of [`WATCHED`] (only the daemon process reports), so the number is
/// never closed twice. Async-signal-safe: an atomic and `close(2)`.
pub(crate) fn forget_in_child() {
    // Looked at before it is written: in a child with nothing to forget
    // (the daemon and its parent, right after their forks) a write would
    // cost a copy of the page.
    if WATCHED_FD.load(Ordering::SeqCst) < 0 {
        return;
    }
    let fd = WATCHED_FD.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: closes the child's copy of the daemon's end; see above.
        unsafe { libc::close(fd) };
    }
}

/// In the daemon, once the launcher has read its report (and closed the
/// channel): tells its parent, which then exits.
pub(crate) fn ready() {
    WATCHED_FD.store(-1, Ordering::SeqCst);
    let Some(tx) = lock(&WATCHED).take() else {
        return;
    };
    // Nothing more to do if it fails (a parent killed from outside): the
    // parent ends anyway once the end is closed and it finds the daemon
    // alive.
    let _ = crate::sys::pipe::write_all_quietly(tx.as_fd(), b"R");
}

/// In the daemon's parent (the first child, the session leader), right
/// after it forked `daemon`: waits until the daemon is ready, and returns
/// `false`; if the daemon ends first, writes on `channel` how it ended
/// and returns `true`. The caller then leaves with `_exit`. (How it ended: its exit
/// status, or the signal that killed it), which the launcher prints.
///
/// It also holds the read end of the early words (the daemon's stderr
/// until it is ready, `early`): when the `launcher`, who reads them, is
/// gone, it reads them itself and drops them, so that the daemon's writes
/// neither fail nor fill the pipe.
pub(crate) fn watch(channel: &OwnedFd, daemon: Pid, early: &OwnedFd, launcher: Pid) -> bool {
    let _ = nix::fcntl::fcntl(
        early.as_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    let rx = match lock(&WATCH).take() {
        Some((rx, _tx)) => rx,
        None => return false,
    };
    // A caller that ignores SIGCHLD would have the daemon reaped unseen;
    // the daemon was forked with the caller's disposition already.
    // SAFETY: the default action, no handler; this process runs no other
    // code that depends on SIGCHLD.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
    let mut closed_at: Option<Instant> = None;
    let mut chunk = [0u8; 4096];
    loop {
        if nix::unistd::getppid() != launcher {
            while matches!(
                nix::unistd::read(early, &mut chunk),
                Ok(1..) | Err(Errno::EINTR)
            ) {}
        }
        if closed_at.is_none() {
            let mut pfd = libc::pollfd {
                fd: rx.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, alive for the call.
            let rc = unsafe { libc::poll(&mut pfd, 1, WATCH_PERIOD_MS) };
            if rc > 0 {
                let mut byte = [0u8; 1];
                match nix::unistd::read(&rx, &mut byte) {
                    Ok(1..) => return false,
                    Ok(0) => closed_at = Some(Instant::now()),
                    _ => {}
                }
            }
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
        let how = match waitpid(daemon, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => format!("exit status {code}"),
            Ok(WaitStatus::Signaled(_, signal, core)) => {
                format!(
                    "killed by {signal}{}",
                    if core { " (core dumped)" } else { "" }
                )
            }
            Ok(_) | Err(Errno::EINTR) => {
                // Alive: with its end closed it can no longer say it is
                // ready; give it a moment to end, then stop watching.
                if closed_at.is_some_and(|at| at.elapsed() > CLOSED_LIMIT) {
                    return false;
                }
                continue;
            }
            Err(_) => return false,
        };
        let err = Error::new(
            Step::Readiness,
            ErrorKind::Software,
            format!("the daemon exited before it reported ready: {how}"),
        );
        readiness::report_error(channel, &err);
        return true;
    }
}
