//! Last words: a failure once the launcher has returned (an `Err` from
//! `main`, a panic, a fatal failure of the runtime) must land where an
//! operator looks, never nowhere.
//!
//! | the daemon's stderr | where a failure after readiness goes |
//! |---|---|
//! | a file (`stderr = "..."`) | that file (Rust's own report of an `Err` from `main` and the panic message go there), and any `log` logger |
//! | the terminal or a supervisor's pipe (lite mode) | there, as for any program, and any `log` logger |
//! | `/dev/null` or closed (a full-mode default) | the system log as well: one datagram to `/dev/log` (`/var/run/log` on FreeBSD, `/var/run/syslog` on macOS), facility daemon, level err, identified as `<program>[<pid>]`; under systemd the journal reads that socket |
//!
//! The socket is connected during the start, before any chroot and before
//! the fd sweep (which keeps it), so that a chrooted daemon still reaches
//! the host's log; it is reconnected by name if the log daemon was
//! restarted. Sending never blocks and never fails the caller: a missing
//! or full log costs one system call.

use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;

/// Where the system log listens.
#[cfg(target_os = "macos")]
const LOG_SOCKET: &str = "/var/run/syslog";
#[cfg(target_os = "freebsd")]
const LOG_SOCKET: &str = "/var/run/log";
#[cfg(not(any(target_os = "macos", target_os = "freebsd")))]
const LOG_SOCKET: &str = "/dev/log";

/// `<PRI>` of facility daemon (3) at level err (3).
const PRIORITY: u32 = 3 * 8 + 3;

/// The longest message sent: log daemons truncate or drop larger ones.
const MAX_MESSAGE: usize = 2048;

struct State {
    /// The connected socket, once connected.
    socket: Option<UnixDatagram>,
    /// The device number of `/dev/null`, read before any chroot.
    null_rdev: Option<u64>,
}

static STATE: Mutex<State> = Mutex::new(State {
    socket: None,
    null_rdev: None,
});

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Called during a start, before any chroot and fd sweep: remembers what
/// `/dev/null` is and, when `connect` (a full start whose stderr goes
/// nowhere), connects to the system log. Returns the socket's fd, for the
/// sweep to keep. Nothing here fails a start: without a system log, last
/// words go to stderr and to `log` only.
pub(crate) fn prepare(connect: bool) -> Option<RawFd> {
    let mut st = state();
    st.null_rdev = std::fs::metadata("/dev/null").ok().map(|m| m.rdev());
    if connect && st.socket.is_none() {
        st.socket = open();
    }
    st.socket.as_ref().map(AsRawFd::as_raw_fd)
}

fn open() -> Option<UnixDatagram> {
    // `unbound` creates the socket close-on-exec.
    let socket = UnixDatagram::unbound().ok()?;
    socket.connect(LOG_SOCKET).ok()?;
    socket.set_nonblocking(true).ok()?;
    Some(socket)
}

/// Whether fd 2 reaches no one: closed, or `/dev/null`.
fn stderr_is_nowhere(null_rdev: Option<u64>) -> bool {
    use std::os::fd::AsFd;
    match nix::sys::stat::fstat(std::io::stderr().as_fd()) {
        Ok(st) => {
            let kind = nix::sys::stat::SFlag::from_bits_truncate(st.st_mode)
                & nix::sys::stat::SFlag::S_IFMT;
            // `dev_t` is signed or 32 bits on some systems: cast as std's
            // `MetadataExt::rdev` does, for the comparison.
            #[allow(clippy::unnecessary_cast)]
            let rdev = st.st_rdev as u64;
            kind == nix::sys::stat::SFlag::S_IFCHR && Some(rdev) == null_rdev
        }
        Err(_) => true,
    }
}

/// Records `text`, a failure after readiness, in the system log when the
/// daemon's stderr reaches no one (see the module docs). Never blocks,
/// never panics.
pub(crate) fn record(text: &str) {
    let mut st = state();
    if !stderr_is_nowhere(st.null_rdev) {
        return;
    }
    let message = format(text);
    let sent = st
        .socket
        .as_ref()
        .is_some_and(|s| s.send(message.as_bytes()).is_ok());
    if !sent {
        // Never connected, or the log daemon was restarted.
        st.socket = open();
        if let Some(socket) = &st.socket {
            let _ = socket.send(message.as_bytes());
        }
    }
}

/// `<27>program[pid]: text`, on one line, at most [`MAX_MESSAGE`] bytes.
fn format(text: &str) -> String {
    let program = crate::error::program_name();
    let mut message = format!(
        "<{PRIORITY}>{}[{}]: {}",
        crate::error::escape_control(&program),
        std::process::id(),
        crate::error::escape_control(text)
    );
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_one_bounded_line_with_priority_and_name() {
        let m = format("line one\nline two");
        assert!(m.starts_with("<27>"), "{m}");
        assert!(m.contains(&format!("[{}]: line one\\x0aline two", std::process::id())));
        assert!(!m.contains('\n'));
        let long = format(&"é".repeat(5000));
        assert!(long.len() <= MAX_MESSAGE && long.ends_with('é'));
    }
}
