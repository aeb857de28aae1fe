//! The `sd_notify` protocol: status messages to a supervisor such as
//! systemd.
//!
//! A supervisor that wants to hear from the service sets `NOTIFY_SOCKET`
//! to the address of an `AF_UNIX` datagram socket: a file system path
//! (`/run/systemd/notify`) or, when the value starts with `@`, a name in the
//! abstract namespace (the `@` stands for the leading NUL byte). Each
//! message is one datagram of newline-separated `VARIABLE=value`
//! assignments, such as `READY=1` or `STATUS=Serving`.
//!
//! The socket is connected as soon as the variable is read: a path may no
//! longer be reachable after `chroot(2)` or a privilege drop, but a
//! connected datagram socket keeps its peer.
//!
//! `WATCHDOG_USEC` and `WATCHDOG_PID` tell a service that the supervisor
//! expects `WATCHDOG=1` keep-alive messages at least that often
//! ([`watchdog_interval`]).

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
#[cfg(target_os = "linux")]
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
#[cfg(target_os = "linux")]
use std::os::unix::net::SocketAddr;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;

use crate::deadline::Deadline;
use crate::error::{Error, ErrorKind, Step};

/// The variable naming the supervisor's socket.
const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";
/// The watchdog timeout in microseconds.
const WATCHDOG_USEC: &str = "WATCHDOG_USEC";
/// The PID expected to send the watchdog messages.
const WATCHDOG_PID: &str = "WATCHDOG_PID";

/// How long [`Notifier::send`] waits for room in a supervisor's full queue.
pub(crate) const SEND_LIMIT: Duration = Duration::from_secs(2);

/// Never wait in `send(2)`; and where the flag exists, a closed peer
/// gives `EPIPE` rather than `SIGPIPE`.
#[cfg(not(target_vendor = "apple"))]
const SEND_FLAGS: libc::c_int = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
#[cfg(target_vendor = "apple")]
const SEND_FLAGS: libc::c_int = libc::MSG_DONTWAIT;

/// A connected, close-on-exec `AF_UNIX` datagram socket to the supervisor
/// named by `NOTIFY_SOCKET`.
///
/// Built with [`Notifier::from_env`] before any `chroot(2)` or privilege
/// drop; messages are sent with [`Notifier::send`].
pub(crate) struct Notifier {
    socket: UnixDatagram,
    /// The `NOTIFY_SOCKET` value, for error messages.
    target: String,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("fd", &self.socket.as_raw_fd())
            .field("target", &self.target)
            .finish()
    }
}

impl Notifier {
    /// Connects to the socket named by `NOTIFY_SOCKET`.
    ///
    /// `Ok(None)` when the variable is unset or empty (no supervisor is
    /// listening); an error when its value is neither an absolute path nor
    /// an abstract name, or when the socket cannot be reached. The variable
    /// is left in the environment (see [`unset_env`]).
    pub(crate) fn from_env() -> Result<Option<Notifier>, Error> {
        match std::env::var_os(NOTIFY_SOCKET) {
            None => Ok(None),
            Some(value) if value.is_empty() => Ok(None),
            Some(value) if cfg!(target_os = "linux") => {
                Notifier::from_bytes(value.as_bytes()).map(Some)
            }
            // Elsewhere no supervisor speaks the protocol: a value here is
            // a mistake, and ignoring it would leave whoever set it waiting
            // for READY=1.
            Some(value) => Err(Error::new(
                Step::Preflight,
                ErrorKind::Config,
                format!(
                    "{NOTIFY_SOCKET}={:?}: the sd_notify protocol is supported on Linux only \
                     (unset the variable)",
                    value.to_string_lossy()
                ),
            )),
        }
    }

    /// Connects to the socket that a `NOTIFY_SOCKET` value of `value` names:
    /// `/path` or `@abstract-name`.
    ///
    /// An empty value, a relative path, a bare `@` or any other form is an
    /// error of kind [`ErrorKind::Config`] naming the value.
    #[cfg(test)]
    pub(crate) fn from_value(value: &str) -> Result<Notifier, Error> {
        Notifier::from_bytes(value.as_bytes())
    }

    fn from_bytes(value: &[u8]) -> Result<Notifier, Error> {
        check_value(value)?;
        let target = format!(
            "{NOTIFY_SOCKET}={:?}",
            String::from_utf8_lossy(value).as_ref()
        );
        let fail = |e: &io::Error| Error::io(Step::Ready, format!("{target}: connect"), e);
        // `UnixDatagram::unbound` creates the socket with SOCK_CLOEXEC.
        let socket = match value.split_first() {
            #[cfg(target_os = "linux")]
            Some((b'@', name)) => {
                let addr = SocketAddr::from_abstract_name(name).map_err(|e| fail(&e))?;
                let socket = UnixDatagram::unbound().map_err(|e| fail(&e))?;
                socket.connect_addr(&addr).map_err(|e| fail(&e))?;
                socket
            }
            _ => {
                let socket = UnixDatagram::unbound().map_err(|e| fail(&e))?;
                let path = Path::new(OsStr::from_bytes(value));
                socket.connect(path).map_err(|e| fail(&e))?;
                socket
            }
        };
        Ok(Notifier { socket, target })
    }

    /// Sends `state` (one or more newline-separated assignments, e.g. from
    /// [`ready_message`]) as one datagram, retrying when interrupted by a
    /// signal.
    ///
    /// Never blocks without bound: the send does not wait (`MSG_DONTWAIT`),
    /// and while the supervisor's queue is full it waits for room at most
    /// [`SEND_LIMIT`], then gives up with an error. A supervisor that stopped
    /// reading must not hold the launcher (or the daemon) forever.
    pub(crate) fn send(&self, state: &str) -> Result<(), Error> {
        let detail = || format!("{}: sending {state:?}", self.target);
        let deadline = Deadline::after(SEND_LIMIT);
        loop {
            // SAFETY: the socket is open for the call; the bytes are
            // borrowed for it.
            let rc = unsafe {
                libc::send(
                    self.socket.as_raw_fd(),
                    state.as_ptr().cast(),
                    state.len(),
                    SEND_FLAGS,
                )
            };
            let errno = match usize::try_from(rc) {
                Ok(n) if n == state.len() => return Ok(()),
                Ok(n) => {
                    return Err(Error::new(
                        Step::Ready,
                        ErrorKind::Os,
                        format!("{}: {n} of {} bytes sent", detail(), state.len()),
                    ))
                }
                Err(_) => Errno::last(),
            };
            match errno {
                Errno::EINTR => {}
                Errno::EAGAIN => {
                    let left = deadline.left();
                    if left.is_zero() {
                        return Err(Error::new(
                            Step::Ready,
                            ErrorKind::Os,
                            format!(
                                "{}: the supervisor's queue stayed full for {SEND_LIMIT:?}; \
                                 not sent",
                                detail()
                            ),
                        ));
                    }
                    // A connected datagram socket polls writable once the
                    // peer's queue has room.
                    let mut pfd = libc::pollfd {
                        fd: self.socket.as_raw_fd(),
                        events: libc::POLLOUT,
                        revents: 0,
                    };
                    let ms = libc::c_int::try_from(left.as_millis().max(1)).unwrap_or(1000);
                    // SAFETY: one valid pollfd, alive for the call.
                    unsafe { libc::poll(&mut pfd, 1, ms) };
                }
                e => return Err(Error::os(Step::Ready, detail(), e)),
            }
        }
    }

    /// [`send`](Notifier::send) inside a signal handler: one `send(2)`,
    /// which is async-signal-safe, and no error report (there is no safe
    /// way to make one there).
    pub(crate) fn send_in_handler(&self, state: &str) {
        // SAFETY: the socket stays open for the process's life; the bytes
        // are borrowed for the call. MSG_NOSIGNAL keeps a closed peer from
        // raising SIGPIPE, MSG_DONTWAIT a full queue from blocking the
        // handler.
        unsafe {
            libc::send(
                self.socket.as_raw_fd(),
                state.as_ptr().cast(),
                state.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
    }

    /// The socket's file descriptor, to keep it open across the sweep of
    /// inherited descriptors. It stays owned by the `Notifier`.
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

/// The room for a name in a socket address (`sun_path`).
const SUN_PATH_LEN: usize = {
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
    let addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_path.len()
};

/// Checks that a `NOTIFY_SOCKET` value can name a socket: an absolute path
/// shorter than a socket address holds (it ends with a NUL), or `@` and an
/// abstract name of at most as many bytes (the `@` stands for the leading
/// NUL). Anything else cannot work whatever the supervisor does: an error
/// of step [`Step::Preflight`] and kind [`ErrorKind::Config`] naming the
/// value, before anything is created.
pub(crate) fn check_value(value: &[u8]) -> Result<(), Error> {
    let invalid = |why: String| {
        Error::new(
            Step::Preflight,
            ErrorKind::Config,
            format!(
                "{NOTIFY_SOCKET}={:?}: {why}",
                String::from_utf8_lossy(value).as_ref()
            ),
        )
    };
    let abstract_names = cfg!(target_os = "linux");
    match value.first() {
        Some(b'/') if value.len() >= SUN_PATH_LEN => Err(invalid(format!(
            "a path of {} bytes, longer than a socket address holds ({} at most)",
            value.len(),
            SUN_PATH_LEN - 1
        ))),
        Some(b'/') => Ok(()),
        Some(b'@') if abstract_names && value.len() == 1 => {
            Err(invalid("an empty abstract socket name".to_owned()))
        }
        Some(b'@') if abstract_names && value.len() > SUN_PATH_LEN => Err(invalid(format!(
            "an abstract socket name of {} bytes, longer than a socket address holds \
             ({} at most)",
            value.len() - 1,
            SUN_PATH_LEN - 1
        ))),
        Some(b'@') if abstract_names => Ok(()),
        _ => Err(invalid(
            "not an absolute path (/...) or an abstract socket name (@...)".to_owned(),
        )),
    }
}

/// Removes `NOTIFY_SOCKET` from the environment, so that the children of the
/// daemon do not talk to its supervisor. An existing [`Notifier`] stays
/// connected.
///
/// Changing the environment is only safe while no other thread reads or
/// writes it: call it while the process is single-threaded.
pub(crate) fn unset_env() {
    std::env::remove_var(NOTIFY_SOCKET);
}

/// `READY=1`, followed by `MAINPID=<pid>` when `mainpid` is given (in full
/// mode the daemon is not the process that the supervisor started):
///
/// ```text
/// READY=1
/// MAINPID=4242
/// ```
pub(crate) fn ready_message(mainpid: Option<i32>) -> String {
    match mainpid {
        Some(pid) => format!("READY=1\nMAINPID={pid}"),
        None => "READY=1".to_owned(),
    }
}

/// `STOPPING=1`: the service has begun to shut down.
pub(crate) const STOPPING: &str = "STOPPING=1";

/// [`STOPPING`], owned.
pub(crate) fn stopping_message() -> String {
    STOPPING.to_owned()
}

/// `RELOADING=1` with `MONOTONIC_USEC=` set to the current
/// `CLOCK_MONOTONIC` time in microseconds, as `Type=notify-reload` expects.
/// Send [`ready_message`] once the reload is complete.
pub(crate) fn reloading_message() -> String {
    reloading_message_at(monotonic_usec())
}

/// [`reloading_message`] for a given `CLOCK_MONOTONIC` time.
fn reloading_message_at(monotonic_usec: u64) -> String {
    format!("RELOADING=1\nMONOTONIC_USEC={monotonic_usec}")
}

/// `WATCHDOG=1`: the keep-alive message.
pub(crate) fn watchdog_message() -> String {
    "WATCHDOG=1".to_owned()
}

/// `STATUS=<text>`, a free-form status line that `systemctl status` shows.
///
/// Newlines in `text` would start new assignments, so each becomes a space.
pub(crate) fn status_message(text: &str) -> String {
    format!("STATUS={}", text.replace(['\n', '\r'], " "))
}

/// The current `CLOCK_MONOTONIC` time in microseconds.
fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the
    // call; CLOCK_MONOTONIC is always supported on Linux, and the result is
    // checked anyway.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000).saturating_add(nanos / 1_000)
}

/// The watchdog timeout that the supervisor expects keep-alive messages
/// within, following `sd_watchdog_enabled(3)`: `usec` is the value of
/// `WATCHDOG_USEC`, `pid` that of `WATCHDOG_PID`.
///
/// `Some` only when `usec` is a positive decimal number of microseconds
/// (not the "infinity" value `u64::MAX`) and `pid` is unset or equal to
/// `my_pid`; every other case, malformed values included, is `None`. The
/// service should send [`watchdog_message`] about every half of the
/// interval.
///
/// The variables are addressed to the process that the supervisor
/// started: in full mode that is the launcher, so pass the launcher's PID.
pub(crate) fn watchdog_interval(
    usec: Option<&str>,
    pid: Option<&str>,
    my_pid: i32,
) -> Option<Duration> {
    let usec = parse_decimal(usec?)?;
    if usec == 0 || usec == u64::MAX {
        return None;
    }
    if let Some(pid) = pid {
        let pid = parse_decimal(pid)?;
        if pid == 0 || pid != u64::try_from(my_pid).ok()? {
            return None;
        }
    }
    Some(Duration::from_micros(usec))
}

/// [`watchdog_interval`] with the values of `WATCHDOG_USEC` and
/// `WATCHDOG_PID` from the environment; `expected_pid` is the PID the
/// supervisor started (the launcher's in full mode).
pub(crate) fn watchdog_from_env(expected_pid: i32) -> Option<Duration> {
    let usec = std::env::var(WATCHDOG_USEC).ok();
    let pid = std::env::var(WATCHDOG_PID).ok();
    watchdog_interval(usec.as_deref(), pid.as_deref(), expected_pid)
}

/// A non-empty string of ASCII digits as a `u64`; no sign, no spaces.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A name unique to this test process and call.
    fn unique(tag: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        format!(
            "daemonizer-notify-test-{}-{tag}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A datagram socket bound at a fresh path in the temporary directory,
    /// removed on drop.
    struct PathListener {
        path: PathBuf,
        socket: UnixDatagram,
    }

    impl PathListener {
        fn new(tag: &str) -> PathListener {
            let path = std::env::temp_dir().join(unique(tag));
            let socket = UnixDatagram::bind(&path).expect("bind a path socket");
            PathListener { path, socket }
        }
    }

    impl Drop for PathListener {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    fn recv(socket: &UnixDatagram) -> Vec<u8> {
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set a read timeout");
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).expect("receive a datagram");
        buf[..n].to_vec()
    }

    fn is_cloexec(fd: RawFd) -> bool {
        // SAFETY: F_GETFD reads the descriptor flags and touches no memory.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        flags >= 0 && flags & libc::FD_CLOEXEC != 0
    }

    #[test]
    fn sends_exact_bytes_to_a_path_socket() {
        let listener = PathListener::new("path");
        let value = listener.path.to_str().expect("utf-8 temp dir");
        let notifier = Notifier::from_value(value).expect("connects");
        assert!(is_cloexec(notifier.raw_fd()));

        notifier.send(&ready_message(Some(4242))).expect("sends");
        assert_eq!(recv(&listener.socket), b"READY=1\nMAINPID=4242");
        notifier.send(&stopping_message()).expect("sends");
        assert_eq!(recv(&listener.socket), b"STOPPING=1");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sends_exact_bytes_to_an_abstract_socket() {
        let name = unique("abstract");
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract address");
        let listener = UnixDatagram::bind_addr(&addr).expect("bind an abstract socket");
        let notifier = Notifier::from_value(&format!("@{name}")).expect("connects");
        assert!(is_cloexec(notifier.raw_fd()));

        notifier.send(&ready_message(None)).expect("sends");
        assert_eq!(recv(&listener), b"READY=1");
        notifier.send(&status_message("serving")).expect("sends");
        assert_eq!(recv(&listener), b"STATUS=serving");
    }

    #[test]
    fn stays_connected_when_the_path_disappears() {
        // What a chroot does to a path socket: the name is gone, the
        // connected socket still reaches its peer.
        let listener = PathListener::new("unlinked");
        let notifier =
            Notifier::from_value(listener.path.to_str().expect("utf-8")).expect("connects");
        std::fs::remove_file(&listener.path).expect("unlink the socket path");
        notifier.send(&watchdog_message()).expect("sends");
        assert_eq!(recv(&listener.socket), b"WATCHDOG=1");
    }

    #[test]
    fn rejects_values_that_name_no_socket() {
        for value in [
            "",
            "@",
            "relative/notify",
            "notify",
            " /run/notify",
            "vsock:2:1",
            &format!("/{}", "x".repeat(107)),
            &format!("/{}", "x".repeat(200)),
            &format!("@{}", "x".repeat(108)),
        ] {
            let err = Notifier::from_value(value).expect_err(value);
            assert_eq!(err.step(), Step::Preflight, "{value}");
            assert_eq!(err.kind(), ErrorKind::Config, "{value}");
            assert!(
                err.detail()
                    .starts_with(&format!("NOTIFY_SOCKET={value:?}:")),
                "{value}: {}",
                err.detail()
            );
        }
    }

    #[test]
    fn reports_an_unreachable_socket() {
        let path = std::env::temp_dir().join(unique("missing"));
        let value = path.to_str().expect("utf-8");
        let err = Notifier::from_value(value).expect_err("no socket there");
        assert_eq!(err.step(), Step::Ready);
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.detail().contains(value), "{}", err.detail());

        // The longest path a socket address holds is tried for real.
        let longest = format!("/{}", "x".repeat(106));
        let err = Notifier::from_value(&longest).expect_err("no socket there");
        assert_eq!(err.step(), Step::Ready);
        assert_eq!(err.kind(), ErrorKind::NotFound);

        let err = Notifier::from_value(&format!("@{}", unique("nobody"))).expect_err("no peer");
        assert_eq!(err.step(), Step::Ready);
        assert!(err.errno().is_some());
    }

    #[test]
    fn send_failure_names_the_socket_and_message() {
        let listener = PathListener::new("gone");
        let value = listener.path.to_str().expect("utf-8").to_owned();
        let notifier = Notifier::from_value(&value).expect("connects");
        drop(listener);
        let err = notifier.send("READY=1").expect_err("peer is gone");
        assert_eq!(err.step(), Step::Ready);
        assert!(err.detail().contains(&value), "{}", err.detail());
        assert!(err.detail().contains("READY=1"), "{}", err.detail());
    }

    #[test]
    fn message_formats() {
        assert_eq!(ready_message(None), "READY=1");
        assert_eq!(ready_message(Some(17)), "READY=1\nMAINPID=17");
        assert_eq!(stopping_message(), "STOPPING=1");
        assert_eq!(watchdog_message(), "WATCHDOG=1");
        assert_eq!(status_message("up"), "STATUS=up");
        assert_eq!(
            status_message("a\nREADY=1\r"),
            "STATUS=a READY=1 ",
            "a status cannot inject assignments"
        );
        assert_eq!(
            reloading_message_at(1_234_567),
            "RELOADING=1\nMONOTONIC_USEC=1234567"
        );
    }

    #[test]
    fn reloading_carries_the_monotonic_clock() {
        let before = monotonic_usec();
        let message = reloading_message();
        let after = monotonic_usec();
        let usec: u64 = message
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .expect("prefix")
            .parse()
            .expect("a number");
        assert!(before > 0);
        assert!(before <= usec && usec <= after, "{before} {usec} {after}");
    }

    #[test]
    fn watchdog_rules() {
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(watchdog_interval(None, None, 10), None);
        assert_eq!(watchdog_interval(None, Some("10"), 10), None);
        assert_eq!(watchdog_interval(Some("30000000"), None, 10), secs(30));
        assert_eq!(
            watchdog_interval(Some("30000000"), Some("10"), 10),
            secs(30)
        );
        assert_eq!(watchdog_interval(Some("30000000"), Some("11"), 10), None);
        assert_eq!(
            watchdog_interval(Some("1500"), None, 1),
            Some(Duration::from_micros(1500))
        );
        // Zero, "infinity" and malformed timeouts disable the watchdog.
        for usec in [
            "0",
            "18446744073709551615",
            "",
            "abc",
            "-5",
            "+5",
            " 5",
            "5s",
            "1e6",
        ] {
            assert_eq!(watchdog_interval(Some(usec), None, 10), None, "{usec:?}");
        }
        // So does a malformed or impossible PID.
        for pid in ["", "abc", "-10", "+10", "0", " 10", "10 "] {
            assert_eq!(
                watchdog_interval(Some("1000"), Some(pid), 10),
                None,
                "{pid:?}"
            );
        }
        assert_eq!(watchdog_interval(Some("1000"), Some("0"), 0), None);
    }
}
