//! The readiness channel: a pipe created before the first fork. The daemon
//! writes one message, `R<pid>\n` once ready or `E<error>\n` on failure;
//! the launcher exits only after reading it. EOF without a message means
//! the daemon died before it was ready.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, SigSet, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::deadline::Deadline;
use crate::error::{Error, ErrorKind, Result, Step};
use crate::sys::{self, signal_fd::Receiver};

/// Signals that abort a launcher waiting for its daemon.
const ABORT_SIGNALS: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// Creates the channel: `(read end, write end)`, both close-on-exec.
pub(crate) fn channel() -> Result<(OwnedFd, OwnedFd)> {
    sys::pipe::pipe(false).map_err(|e| Error::os(Step::Readiness, "pipe", e))
}

/// The daemon's (and its parent's) writes on the channel: a launcher that
/// is gone is an `EPIPE`, never a `SIGPIPE` that would end the daemon
/// before it can remove its pid file.
fn write_all(fd: &OwnedFd, bytes: &[u8]) -> std::result::Result<(), Errno> {
    sys::pipe::write_all_quietly(fd.as_fd(), bytes)
}

/// `<prefix><pid>\n` in a buffer on the stack: the daemon, fresh from the
/// fork, writes its PID without touching the allocator (each page it
/// writes first is a page copied).
pub(crate) struct PidLine {
    buf: [u8; 16],
    len: usize,
}

impl PidLine {
    pub(crate) fn new(prefix: &[u8], pid: i32) -> PidLine {
        let mut digits = [0u8; 10];
        let mut at = digits.len();
        let mut n = pid.unsigned_abs();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let mut line = PidLine {
            buf: [0; 16],
            len: 0,
        };
        let sign: &[u8] = if pid < 0 { b"-" } else { b"" };
        for part in [prefix, sign, &digits[at..], b"\n"] {
            line.buf[line.len..line.len + part.len()].copy_from_slice(part);
            line.len += part.len();
        }
        line
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Tells the launcher that the daemon `pid` is ready.
///
/// A launcher that is gone (killed with SIGKILL: any other stop signal
/// makes it stop the daemon first) is no reason to stop: the daemon goes
/// on, as it does when the launcher dies right after reading the report.
/// Nobody is left to tell either way, and a daemon that ran until then
/// stays whole, its pid file naming it.
pub(crate) fn report_ready(fd: &OwnedFd, pid: i32) -> Result<()> {
    match write_all(fd, PidLine::new(b"R", pid).as_bytes()) {
        Ok(()) => Ok(()),
        Err(Errno::EPIPE) => {
            log::warn!("ready: the launcher is gone; going on");
            Ok(())
        }
        Err(e) => Err(Error::os(Step::Ready, "telling the launcher", e)),
    }
}

/// In the daemon, after [`report_ready`]: waits until the launcher has
/// closed its end of the channel, at most `limit`. The launcher closes it
/// once it has read the report and, under a supervisor, relayed `READY=1`
/// and `MAINPID=`; it is the only reader (the first child closes its copy
/// right after the first fork).
///
/// The body runs only once the launcher knows the verdict: a launcher that
/// cannot read the report stops the daemon before closing the channel (see
/// `lost`), and a body that never runs is the only honest companion of the
/// failure it then reports. Under a supervisor, whatever the daemon sends
/// afterwards (a status, a watchdog ping, `STOPPING=1`) arrives after the
/// launcher's message, when the supervisor knows the daemon as the main
/// process; systemd drops messages from other processes under
/// `NotifyAccess=main`.
pub(crate) fn wait_for_launcher(fd: &OwnedFd, limit: Duration) {
    let deadline = Deadline::after(limit);
    loop {
        let left = deadline.left();
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
        if ms == 0 {
            log::warn!("ready: the launcher has not exited after {limit:?}; going on");
            return;
        }
        // A pipe's write end reports POLLERR once no reader is left.
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd, alive for the whole call.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc > 0 || (rc < 0 && Errno::last() != Errno::EINTR) {
            return;
        }
    }
}

/// Tells the launcher why the start failed.
pub(crate) fn report_error(fd: &OwnedFd, err: &Error) {
    let mut msg = b"E".to_vec();
    msg.extend(err.encode());
    msg.push(b'\n');
    // Nothing more can be done if the launcher is gone.
    let _ = write_all(fd, &msg);
}

pub(crate) fn parse(buf: &[u8]) -> Option<std::result::Result<i32, Error>> {
    let end = buf.iter().position(|b| *b == b'\n')?;
    let line = &buf[..end];
    Some(match line.first() {
        Some(b'R') => std::str::from_utf8(&line[1..])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| garbled(line)),
        Some(b'E') => Err(Error::decode(&line[1..]).unwrap_or_else(|| garbled(line))),
        _ => Err(garbled(line)),
    })
}

fn garbled(line: &[u8]) -> Error {
    Error::new(
        Step::Readiness,
        ErrorKind::Software,
        format!(
            "unexpected message from the daemon: {:?}",
            String::from_utf8_lossy(line)
        ),
    )
}

/// In the launcher: waits for the daemon's message. A stop signal (SIGINT,
/// SIGTERM, SIGHUP, SIGQUIT; all blocked since before the fork) aborts the
/// start: the daemon is killed, so nothing half-started is left behind.
///
/// On failure the first child is reaped here, since the launcher lives on.
/// On success it is left to the caller: a launcher that exits at once
/// leaves it to whoever adopts it, which keeps the reaping (a few
/// microseconds) off the way to the launcher's exit; one that runs more
/// code first calls [`reap`], after it has closed the channel: the first
/// child leaves only once the daemon has seen it closed (see
/// [`wait_for_launcher`]).
///
/// The channel stays open: the caller closes it once it has told the
/// supervisor.
pub(crate) fn wait(read: &OwnedFd, child: Pid, mask: &SigSet, early: &OwnedFd) -> Result<i32> {
    // Never blocks the wait: a daemon's child may hold the write end.
    let _ = nix::fcntl::fcntl(
        early.as_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    let result = wait_inner(read, child, mask, early);
    // What the daemon said before its report, in order, before the
    // launcher's own verdict.
    relay_early_words(early);
    if result.is_err() {
        // The daemon reported a failure, died or was stopped: in each case
        // it is on its way out. The launcher returns once it is gone, so
        // that nothing of the start outlives the error, and the pid file
        // the daemon removes is gone before the launcher looks at it.
        wait_for_eof(read, GONE_LIMIT);
        reap(child);
        relay_early_words(early);
    }
    close_early_line();
    result
}

/// Whether the last early words relayed ended in the middle of a line (a
/// daemon stopped while it wrote one): the launcher's own line then
/// starts on a line of its own.
static LINE_OPEN: AtomicBool = AtomicBool::new(false);

/// Ends a line of early words that the daemon left unfinished.
fn close_early_line() {
    if LINE_OPEN.swap(false, Ordering::SeqCst) {
        let _ = sys::pipe::write_all_quietly(std::io::stderr().as_fd(), b"\n");
    }
}

/// Copies what is waiting in `early` (the daemon's stderr until it is
/// ready) to this process's stderr, without waiting for more. A stderr
/// nobody reads loses it, never the launcher's status.
pub(crate) fn relay_early_words(early: &OwnedFd) {
    let mut chunk = [0u8; 4096];
    loop {
        match nix::unistd::read(early, &mut chunk) {
            Ok(0) => return,
            Ok(n) => {
                let _ = sys::pipe::write_all_quietly(std::io::stderr().as_fd(), &chunk[..n]);
                LINE_OPEN.store(chunk[n - 1] != b'\n', Ordering::SeqCst);
            }
            Err(Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

/// How long a launcher that reports a failed start waits for the daemon to
/// be gone. Dying takes milliseconds; the limit only guards against a
/// channel that cannot be read.
pub(crate) const GONE_LIMIT: Duration = Duration::from_secs(5);

/// The launcher cannot learn the daemon's verdict: a system call on its
/// side of the channel failed. It is about to report a failure, so no
/// daemon may go on running behind that message, even one that reported
/// ready meanwhile (it waits for the launcher before its body runs; see
/// [`wait_for_launcher`]). The first child led the session it created, and
/// that session's process group holds the daemon and anything it forked:
/// the group is killed.
fn lost(child: Pid, what: &str, errno: Errno) -> Error {
    log::debug!("readiness: {what}: {errno}; stopping the daemon");
    kill_daemon(child);
    Error::os(
        Step::Readiness,
        format!("{what} (the daemon was stopped)"),
        errno,
    )
}

/// Kills the first child and the process group of the session it created.
fn kill_daemon(child: Pid) {
    // Before setsid the child leads no group: kill it alone (a child killed
    // before its fork forks no daemon); after it, the group holds the
    // daemon too.
    let _ = kill(child, Signal::SIGKILL);
    let _ = killpg(child, Signal::SIGKILL);
}

/// Reads and drops whatever the daemon still sends until the channel's
/// write end is closed everywhere (the daemon and the first child are
/// gone), or `limit` has passed.
fn wait_for_eof(read: &OwnedFd, limit: Duration) {
    let deadline = Deadline::after(limit);
    let mut chunk = [0u8; 512];
    loop {
        let left = deadline.left();
        if left.is_zero() {
            log::warn!("readiness: the daemon is still not gone after {limit:?}");
            return;
        }
        let mut pfd = libc::pollfd {
            fd: read.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
        // SAFETY: `pfd` is one valid pollfd, alive for the whole call.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        let ready = rc > 0
            && match nix::unistd::read(read, &mut chunk) {
                Ok(0) => return,
                Ok(_) | Err(Errno::EINTR) => true,
                Err(_) => false,
            };
        if !ready && rc != 0 && Errno::last() != Errno::EINTR {
            // Cannot watch or read the channel right now: look again soon
            // rather than spin.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Reaps the first child, which exits right after the second fork.
pub(crate) fn reap(child: Pid) {
    let _ = waitpid(child, None);
}

fn wait_inner(read: &OwnedFd, child: Pid, caller_mask: &SigSet, early: &OwnedFd) -> Result<i32> {
    let mut abort = SigSet::empty();
    for signal in ABORT_SIGNALS {
        // A signal the caller itself blocked stays the caller's business.
        if !caller_mask.contains(signal) {
            abort.add(signal);
        }
    }
    let signals = Receiver::new(&abort).map_err(|e| lost(child, Receiver::NAME, e))?;
    let mut buf = Vec::new();
    let mut aborted: Option<Signal> = None;
    let mut early_open = true;
    loop {
        let pollfd = |fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // The channel; the stop signals until one came; the early words
        // while someone may still write them (-1: ignored by poll).
        let mut fds = [
            pollfd(read.as_raw_fd()),
            pollfd(if aborted.is_some() { -1 } else { signals.fd() }),
            pollfd(if early_open { early.as_raw_fd() } else { -1 }),
        ];
        let watched = fds.len() as libc::nfds_t;
        // SAFETY: `fds` is a valid array of `watched` pollfd structs.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), watched, -1) };
        if rc < 0 {
            match Errno::last() {
                Errno::EINTR => continue,
                e => return Err(lost(child, "poll", e)),
            }
        }
        if fds[0].revents != 0 {
            let mut chunk = [0u8; 512];
            match nix::unistd::read(read, &mut chunk) {
                Ok(0) => {
                    if aborted.is_some() {
                        // More stop signals that came while the daemon was
                        // being stopped belong to the same request: consume
                        // them, or restoring the mask would end the launcher
                        // before it reports the interruption.
                        while signals.next().is_some() {}
                    }
                    return Err(match (parse(&buf), aborted) {
                        (_, Some(signal)) => interrupted(signal),
                        (Some(Err(e)), None) => e,
                        _ => Error::new(
                            Step::Readiness,
                            ErrorKind::Software,
                            "the daemon exited before it reported ready",
                        ),
                    });
                }
                // The usual case, a whole `R<pid>` line in one read, is
                // parsed where it landed: after the fork every page the
                // launcher writes is a page copied, the heap's included.
                Ok(n) if buf.is_empty() && aborted.is_none() => match parse(&chunk[..n]) {
                    Some(Ok(pid)) => return Ok(pid),
                    Some(Err(e)) => return Err(e),
                    None => buf.extend_from_slice(&chunk[..n]),
                },
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(lost(child, "read", e)),
            }
            if aborted.is_none() {
                match parse(&buf) {
                    Some(Ok(pid)) => return Ok(pid),
                    // An error message is followed by the daemon's exit;
                    // stop at the message, the daemon is on its way out.
                    Some(Err(e)) => return Err(e),
                    None => {}
                }
            }
        }
        if fds[2].revents & libc::POLLIN != 0 {
            relay_early_words(early);
        } else if fds[2].revents != 0 {
            // Every writer is gone (the daemon is ready or failing).
            early_open = false;
        }
        if aborted.is_none() && fds[1].revents != 0 {
            if let Some(signal) = signals.next() {
                log::debug!("readiness: {signal} while waiting; stopping the daemon");
                aborted = Some(signal);
                kill_daemon(child);
            }
        }
    }
}

fn interrupted(signal: Signal) -> Error {
    Error::new(
        Step::Readiness,
        ErrorKind::Interrupted,
        format!("{signal} received while waiting for the daemon; the daemon was stopped"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_lines_match_what_format_writes() {
        for pid in [0, 1, 9, 10, 42, 4_194_304, i32::MAX, -1, i32::MIN] {
            assert_eq!(
                PidLine::new(b"", pid).as_bytes(),
                format!("{pid}\n").as_bytes()
            );
            assert_eq!(
                PidLine::new(b"R", pid).as_bytes(),
                format!("R{pid}\n").as_bytes()
            );
        }
        assert_eq!(
            parse(PidLine::new(b"R", 31337).as_bytes())
                .unwrap()
                .unwrap(),
            31337
        );
    }

    #[test]
    fn messages_parse() {
        assert_eq!(parse(b"R42\n").unwrap().unwrap(), 42);
        assert!(parse(b"R42").is_none());
        let err = Error::os(Step::WorkDir, "/x", Errno::ENOENT);
        let mut line = b"E".to_vec();
        line.extend(err.encode());
        line.push(b'\n');
        let back = parse(&line).unwrap().unwrap_err();
        assert_eq!(back.to_string(), err.to_string());
        assert_eq!(
            parse(b"Zzz\n").unwrap().unwrap_err().kind(),
            ErrorKind::Software
        );
    }
}
