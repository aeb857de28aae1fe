//! Socket activation: the file descriptors a supervisor such as systemd
//! passes to the service (`sd_listen_fds(3)`).
//!
//! The supervisor opens the sockets, starts the service with them as file
//! descriptors 3, 4, … (`SD_LISTEN_FDS_START`), and describes them in the
//! environment: `LISTEN_PID` is the PID of the process they are meant for,
//! `LISTEN_FDS` how many there are, and `LISTEN_FDNAMES` (optional) their
//! names, separated by colons. The runtime takes them at start-up, keeps
//! them open through the sweep of inherited descriptors, clears the
//! variables so that the daemon's children do not believe the sockets are
//! theirs, and hands them to the body through [`listen_fds`].

use std::fmt;
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::sync::{Mutex, PoisonError};

use nix::errno::Errno;

use crate::error::{Error, ErrorKind, Step};

/// The first passed descriptor (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;
/// The name of a descriptor when `LISTEN_FDNAMES` is absent.
const UNKNOWN_NAME: &str = "unknown";

const LISTEN_PID: &str = "LISTEN_PID";
const LISTEN_FDS: &str = "LISTEN_FDS";
const LISTEN_FDNAMES: &str = "LISTEN_FDNAMES";

/// A file descriptor passed by the supervisor (socket activation), with
/// the name that the supervisor gave it.
///
/// Obtained from [`listen_fds`]. It owns the descriptor: dropping it closes
/// the descriptor. The descriptor is close-on-exec, like every descriptor
/// `sd_listen_fds(3)` hands out.
///
/// ```no_run
/// // Serve every TCP socket systemd passed under the name "http".
/// for fd in daemonizer::listen_fds() {
///     if fd.name() == "http" {
///         let listener = fd.into_tcp_listener();
///         for stream in listener.incoming() {
///             drop(stream?);
///         }
///     }
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ListenFd {
    fd: OwnedFd,
    name: String,
}

impl ListenFd {
    /// The descriptor's name: the socket unit's `FileDescriptorName=` (by
    /// default the name of the socket unit) or `"unknown"` when the
    /// supervisor passed no names (`LISTEN_FDNAMES` unset).
    ///
    /// ```no_run
    /// for fd in daemonizer::listen_fds() {
    ///     println!("fd {} is {}", std::os::fd::AsRawFd::as_raw_fd(&fd), fd.name());
    /// }
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The descriptor itself, for any type that can be built from an
    /// [`OwnedFd`] (`UdpSocket`, `UnixDatagram`, `File`, a tokio or mio
    /// type through its std counterpart).
    ///
    /// ```no_run
    /// use std::net::UdpSocket;
    ///
    /// if let Some(fd) = daemonizer::listen_fds().into_iter().next() {
    ///     let socket = UdpSocket::from(fd.into_owned_fd());
    ///     let mut buf = [0u8; 1500];
    ///     let (n, peer) = socket.recv_from(&mut buf)?;
    ///     socket.send_to(&buf[..n], peer)?;
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_owned_fd(self) -> OwnedFd {
        self.fd
    }

    /// The descriptor as a [`TcpListener`] (a `ListenStream=` socket on an
    /// IP address or port).
    ///
    /// The socket's type is not checked: on a descriptor that is not a
    /// listening TCP socket, `accept` fails. Use
    /// [`local_addr`](TcpListener::local_addr) to verify it where it
    /// matters.
    ///
    /// ```no_run
    /// let fd = daemonizer::listen_fds()
    ///     .into_iter()
    ///     .next()
    ///     .expect("started by systemd with a socket unit");
    /// let listener = fd.into_tcp_listener();
    /// println!("listening on {}", listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_tcp_listener(self) -> TcpListener {
        TcpListener::from(self.fd)
    }

    /// The descriptor as a [`UnixListener`] (a `ListenStream=` socket on a
    /// path or an abstract name).
    ///
    /// The socket's type is not checked: on a descriptor that is not a
    /// listening `AF_UNIX` stream socket, `accept` fails.
    ///
    /// ```no_run
    /// let fd = daemonizer::listen_fds()
    ///     .into_iter()
    ///     .find(|fd| fd.name() == "control")
    ///     .expect("a socket named \"control\"");
    /// let listener = fd.into_unix_listener();
    /// let (stream, _peer) = listener.accept()?;
    /// # drop(stream);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_unix_listener(self) -> UnixListener {
        UnixListener::from(self.fd)
    }
}

impl fmt::Debug for ListenFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenFd")
            .field("fd", &self.fd.as_raw_fd())
            .field("name", &self.name)
            .finish()
    }
}

impl AsFd for ListenFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for ListenFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<ListenFd> for OwnedFd {
    fn from(fd: ListenFd) -> OwnedFd {
        fd.fd
    }
}

/// The descriptors the variables describe: `count` of them from 3, named
/// by `names` (`"unknown"` each when `LISTEN_FDNAMES` is unset).
///
/// Nothing is allocated per descriptor until each one is found open (see
/// [`claim`]): the count comes from the environment, and a hostile one
/// must cost no more than the descriptors that are really there.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Passed {
    count: usize,
    names: Option<Vec<String>>,
}

impl Passed {
    /// How many descriptors the variables announce.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// The `index`th descriptor (from 0) and its name.
    fn get(&self, index: usize) -> Option<(RawFd, &str)> {
        if index >= self.count {
            return None;
        }
        // `count` is at most `RawFd::MAX - 3`, so the number cannot
        // overflow; saturating all the same.
        let fd = RawFd::try_from(index).map_or(RawFd::MAX, |i| LISTEN_FDS_START.saturating_add(i));
        let name = match &self.names {
            Some(names) => names.get(index).map_or(UNKNOWN_NAME, String::as_str),
            None => UNKNOWN_NAME,
        };
        Some((fd, name))
    }
}

/// The passed descriptors as the variables describe them: `count`
/// descriptors numbered from 3, with the semantics of `sd_listen_fds(3)`
/// and `sd_listen_fds_with_names(3)`.
///
/// - Nothing when `LISTEN_PID` is unset or empty, or is not
///   `expected_pid`: the descriptors belong to another process. The caller
///   passes the PID the supervisor started: in full mode the daemon is the
///   launcher's grandchild and the variables were addressed to the
///   launcher.
/// - Nothing when `LISTEN_FDS` is unset or `0`.
/// - A `LISTEN_PID` or `LISTEN_FDS` that is not a decimal number (or a
///   PID of 0, or more descriptors than fit after 3) is an error naming the
///   variable and its value.
/// - `LISTEN_FDNAMES`, when set, must hold exactly `LISTEN_FDS`
///   colon-separated names, or it is an error naming it; when unset every
///   name is `"unknown"`.
///
/// Errors are of step [`Step::Preflight`] and kind [`ErrorKind::Config`].
/// The work and memory are bounded by the length of the values, never by
/// the count they announce.
pub(crate) fn parse(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    names: Option<&str>,
    expected_pid: i32,
) -> Result<Passed, Error> {
    let invalid = |var: &str, value: &str, why: &str| {
        Error::new(
            Step::Preflight,
            ErrorKind::Config,
            format!("{var}={value:?}: {why}"),
        )
    };

    let pid = match listen_pid {
        None | Some("") => return Ok(Passed::default()),
        Some(value) => match parse_decimal(value) {
            Some(pid) if pid > 0 => pid,
            _ => return Err(invalid(LISTEN_PID, value, "not a process ID")),
        },
    };
    if i64::from(expected_pid) != pid {
        return Ok(Passed::default());
    }

    let max = usize::try_from(RawFd::MAX - LISTEN_FDS_START).unwrap_or(usize::MAX);
    let count = match listen_fds {
        None => return Ok(Passed::default()),
        Some(value) if !is_decimal(value) => {
            return Err(invalid(LISTEN_FDS, value, "not a number of descriptors"))
        }
        // Digits only: a value that does not fit is a count too large.
        Some(value) => match value.parse::<usize>() {
            Ok(n) if n <= max => n,
            _ => return Err(invalid(LISTEN_FDS, value, "too many descriptors")),
        },
    };
    if count == 0 {
        return Ok(Passed::default());
    }

    let names = match names {
        None => None,
        Some(value) => {
            // Counted before anything is collected: at most one name per
            // byte of the value.
            let found = value.split(':').count();
            if found != count {
                return Err(invalid(
                    LISTEN_FDNAMES,
                    value,
                    &format!("{found} names for {count} descriptors ({LISTEN_FDS}={count})"),
                ));
            }
            Some(value.split(':').map(str::to_owned).collect())
        }
    };
    Ok(Passed { count, names })
}

/// A non-empty string of ASCII digits; no sign, no spaces.
fn parse_decimal(s: &str) -> Option<i64> {
    if !is_decimal(s) {
        return None;
    }
    s.parse().ok()
}

/// Whether `s` is a non-empty string of ASCII digits.
fn is_decimal(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Takes the descriptors passed by the supervisor: reads `LISTEN_PID`,
/// `LISTEN_FDS` and `LISTEN_FDNAMES`, [`parse`]s them, verifies that each
/// descriptor is open and sets `FD_CLOEXEC` on it (as `sd_listen_fds(3)`
/// does, so that the daemon's children do not inherit them), then removes
/// the three variables from the environment, whatever the outcome.
///
/// From then on the caller owns the descriptors: keep them through the
/// descriptor sweep, then [`store`] them for [`listen_fds`].
///
/// Changing the environment is only safe while no other thread reads or
/// writes it: call it while the process is single-threaded.
pub(crate) fn take_from_env(expected_pid: i32) -> Result<Vec<(RawFd, String)>, Error> {
    let result = read_and_claim(expected_pid);
    for var in [LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES] {
        std::env::remove_var(var);
    }
    result
}

fn read_and_claim(expected_pid: i32) -> Result<Vec<(RawFd, String)>, Error> {
    let pid = env_value(LISTEN_PID)?;
    let count = env_value(LISTEN_FDS)?;
    let names = env_value(LISTEN_FDNAMES)?;
    if !cfg!(target_os = "linux") {
        // Elsewhere no supervisor passes sockets this way: a value here is
        // a mistake, and ignoring it would leave the program without the
        // sockets it was meant to serve.
        if let Some(count) = &count {
            return Err(Error::new(
                Step::Preflight,
                ErrorKind::Config,
                format!(
                    "{LISTEN_FDS}={count:?}: socket activation is supported on Linux only \
                     (unset the variable)"
                ),
            ));
        }
    }
    let passed = parse(
        pid.as_deref(),
        count.as_deref(),
        names.as_deref(),
        expected_pid,
    )?;
    claim(&passed)
}

/// The value of `var`; an error naming it when it is not UTF-8.
fn env_value(var: &str) -> Result<Option<String>, Error> {
    match std::env::var_os(var) {
        None => Ok(None),
        Some(value) => value.into_string().map(Some).map_err(|value| {
            Error::new(
                Step::Preflight,
                ErrorKind::Config,
                format!("{var}={:?}: not UTF-8", value.to_string_lossy()),
            )
        }),
    }
}

/// Verifies that every descriptor is open, in order, and marks it
/// close-on-exec; the list of them, named.
///
/// The first one that is not open ends the search with an error naming it
/// and the announced count: the work and the list grow with the
/// descriptors really passed, whatever `LISTEN_FDS` claims.
fn claim(passed: &Passed) -> Result<Vec<(RawFd, String)>, Error> {
    claim_each(
        (0..passed.count()).map_while(|i| passed.get(i)),
        passed.count(),
    )
}

/// [`claim`] for `fds`, of which `LISTEN_FDS` announced `announced`.
fn claim_each<'a>(
    fds: impl Iterator<Item = (RawFd, &'a str)>,
    announced: usize,
) -> Result<Vec<(RawFd, String)>, Error> {
    let mut claimed = Vec::new();
    for (fd, name) in fds {
        let fail = |errno: Errno| {
            Error::os(
                Step::Preflight,
                format!(
                    "{LISTEN_FDS}={announced}: descriptor {fd} (\"{name}\") \
                     is not one this process holds"
                ),
                errno,
            )
        };
        // SAFETY: F_GETFD only reads the flags of descriptor `fd` (failing
        // with EBADF if it is not open) and touches no memory of ours.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags < 0 {
            return Err(fail(Errno::last()));
        }
        if flags & libc::FD_CLOEXEC == 0 {
            // SAFETY: F_SETFD only changes the flags of the open descriptor
            // `fd`, which the supervisor passed to this process.
            let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
            if rc < 0 {
                return Err(fail(Errno::last()));
            }
        }
        claimed.push((fd, name.to_owned()));
    }
    Ok(claimed)
}

/// The descriptors taken by [`take_from_env`], until [`listen_fds`] hands
/// them out.
static STORE: Mutex<Option<Vec<(RawFd, String)>>> = Mutex::new(None);

/// Keeps the descriptors from [`take_from_env`] for [`listen_fds`],
/// replacing anything stored before. Ownership of the descriptors passes
/// to the store: nothing else may close them afterwards.
pub(crate) fn store(fds: Vec<(RawFd, String)>) {
    let mut slot = STORE.lock().unwrap_or_else(PoisonError::into_inner);
    *slot = Some(fds);
}

/// The sockets (or other descriptors) passed by the supervisor for socket
/// activation, in the order of the socket unit, each with its name.
///
/// They are handed out once: the first call takes them, later calls return
/// an empty `Vec`. Empty too when the daemon was not socket-activated
/// (`LISTEN_FDS` unset, or addressed to another process). The runtime has
/// already cleared `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES`, so the
/// daemon's children will not mistake the sockets for theirs.
///
/// ```no_run
/// use std::net::TcpListener;
///
/// let mut fds = daemonizer::listen_fds();
/// let listener = match fds.pop() {
///     // Socket-activated: use the socket systemd bound for us.
///     Some(fd) => fd.into_tcp_listener(),
///     // Started by hand: bind our own.
///     None => TcpListener::bind("127.0.0.1:8080")?,
/// };
/// # drop(listener);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn listen_fds() -> Vec<ListenFd> {
    let taken = STORE.lock().unwrap_or_else(PoisonError::into_inner).take();
    taken
        .unwrap_or_default()
        .into_iter()
        .map(|(fd, name)| ListenFd {
            // SAFETY: `take_from_env` verified that each descriptor is open,
            // and from `store` on the store is its only owner: the runtime
            // keeps it through the descriptor sweep and closes it nowhere.
            // The `take` above removes it from the store under the lock, so
            // exactly one `OwnedFd` is ever made for it.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            name,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fds(list: &[(RawFd, &str)]) -> Vec<(RawFd, String)> {
        list.iter().map(|(fd, n)| (*fd, (*n).to_owned())).collect()
    }

    /// The descriptors `parse` describes, for a test's small counts.
    fn listed(result: Result<Passed, Error>) -> Vec<(RawFd, String)> {
        let passed = result.expect("parses");
        (0..passed.count())
            .map_while(|i| passed.get(i))
            .map(|(fd, name)| (fd, name.to_owned()))
            .collect()
    }

    fn config_error(result: Result<Passed, Error>, prefix: &str) {
        let err = result.expect_err(prefix);
        assert_eq!(err.step(), Step::Preflight, "{err}");
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        assert!(err.detail().starts_with(prefix), "{prefix}: {err}");
    }

    #[test]
    fn nothing_without_a_matching_pid() {
        assert_eq!(listed(parse(None, Some("2"), None, 100)), vec![]);
        assert_eq!(listed(parse(Some(""), Some("2"), None, 100)), vec![]);
        assert_eq!(listed(parse(Some("101"), Some("2"), None, 100)), vec![]);
        // Even malformed counts and names are none of our business then.
        assert_eq!(
            listed(parse(Some("101"), Some("x"), Some("a"), 100)),
            vec![]
        );
    }

    #[test]
    fn nothing_without_descriptors() {
        assert_eq!(listed(parse(Some("100"), None, None, 100)), vec![]);
        assert_eq!(listed(parse(Some("100"), Some("0"), None, 100)), vec![]);
        assert_eq!(
            listed(parse(Some("100"), Some("0"), Some("a"), 100)),
            vec![]
        );
    }

    #[test]
    fn descriptors_start_at_three_named_unknown() {
        assert_eq!(
            listed(parse(Some("100"), Some("1"), None, 100)),
            fds(&[(3, "unknown")])
        );
        assert_eq!(
            listed(parse(Some("100"), Some("3"), None, 100)),
            fds(&[(3, "unknown"), (4, "unknown"), (5, "unknown")])
        );
    }

    #[test]
    fn names_follow_listen_fdnames() {
        assert_eq!(
            listed(parse(Some("100"), Some("2"), Some("http:control"), 100)),
            fds(&[(3, "http"), (4, "control")])
        );
        assert_eq!(
            listed(parse(Some("100"), Some("1"), Some("web"), 100)),
            fds(&[(3, "web")])
        );
        // Empty entries are names too (and count).
        assert_eq!(
            listed(parse(Some("100"), Some("3"), Some("a::c"), 100)),
            fds(&[(3, "a"), (4, ""), (5, "c")])
        );
    }

    #[test]
    fn names_must_match_the_count() {
        config_error(
            parse(Some("100"), Some("2"), Some("http"), 100),
            "LISTEN_FDNAMES=\"http\": 1 names for 2 descriptors",
        );
        config_error(
            parse(Some("100"), Some("1"), Some("a:b"), 100),
            "LISTEN_FDNAMES=\"a:b\": 2 names for 1 descriptors",
        );
        config_error(
            parse(Some("100"), Some("2"), Some(""), 100),
            "LISTEN_FDNAMES=\"\":",
        );
    }

    #[test]
    fn malformed_pid_is_an_error() {
        for value in [
            "abc",
            "-100",
            "+100",
            " 100",
            "100 ",
            "0",
            "1.0",
            "99999999999999999999",
        ] {
            config_error(
                parse(Some(value), Some("1"), None, 100),
                &format!("LISTEN_PID={value:?}: not a process ID"),
            );
        }
    }

    #[test]
    fn malformed_count_is_an_error() {
        for value in ["", "abc", "-1", "+1", " 1", "1 ", "0x1"] {
            config_error(
                parse(Some("100"), Some(value), None, 100),
                &format!("LISTEN_FDS={value:?}: not a number of descriptors"),
            );
        }
        for too_many in [
            (i64::from(RawFd::MAX) - 2).to_string(),
            "99999999999999999999".to_owned(),
        ] {
            config_error(
                parse(Some("100"), Some(&too_many), None, 100),
                &format!("LISTEN_FDS={too_many:?}: too many descriptors"),
            );
        }
    }

    #[test]
    fn a_huge_count_allocates_nothing_per_descriptor() {
        let huge = (RawFd::MAX - 3).to_string();
        let passed = parse(Some("100"), Some(&huge), None, 100).expect("in range");
        assert_eq!(passed.count(), usize::try_from(RawFd::MAX - 3).unwrap());
        assert_eq!(passed.get(0), Some((3, "unknown")));
        assert_eq!(
            passed.get(passed.count() - 1),
            Some((RawFd::MAX - 1, "unknown"))
        );
        assert_eq!(passed.get(passed.count()), None);
    }

    #[test]
    fn claim_sets_cloexec_and_rejects_closed_descriptors() {
        // A pipe created without O_CLOEXEC stands in for a passed socket.
        let (read, write) = nix::unistd::pipe().expect("pipe");
        let flags = |fd: RawFd| {
            // SAFETY: F_GETFD reads descriptor flags and touches no memory.
            unsafe { libc::fcntl(fd, libc::F_GETFD) }
        };
        assert_eq!(flags(read.as_raw_fd()) & libc::FD_CLOEXEC, 0);
        claim_each(
            [(read.as_raw_fd(), "r"), (write.as_raw_fd(), "w")].into_iter(),
            2,
        )
        .expect("open fds");
        assert_ne!(flags(read.as_raw_fd()) & libc::FD_CLOEXEC, 0);
        assert_ne!(flags(write.as_raw_fd()) & libc::FD_CLOEXEC, 0);

        // No process has this many descriptors open.
        let closed = RawFd::MAX - 1;
        let err = claim_each([(read.as_raw_fd(), "r"), (closed, "gone")].into_iter(), 2)
            .expect_err("closed");
        assert_eq!(err.step(), Step::Preflight);
        assert_eq!(err.errno(), Some(Errno::EBADF));
        assert!(err.detail().contains(&closed.to_string()), "{err}");
        assert!(err.detail().contains("gone"), "{err}");
    }

    #[test]
    fn listen_fds_hands_out_stored_descriptors_once() {
        use std::io::{Read, Write};
        use std::os::fd::IntoRawFd;

        // The only test that touches the store.
        let (read, write) = crate::sys::pipe::pipe(false).expect("pipe");
        let (read, write) = (read.into_raw_fd(), write.into_raw_fd());
        store(vec![(read, "in".to_owned()), (write, "out".to_owned())]);

        let mut taken = listen_fds();
        assert_eq!(taken.len(), 2);
        assert_eq!(taken[0].name(), "in");
        assert_eq!(taken[1].name(), "out");
        assert_eq!(taken[0].as_raw_fd(), read);
        assert_eq!(taken[1].as_fd().as_raw_fd(), write);
        assert!(listen_fds().is_empty(), "handed out once");

        // They are the real, owned descriptors.
        let mut writer = std::fs::File::from(taken.pop().unwrap().into_owned_fd());
        let mut reader = std::fs::File::from(OwnedFd::from(taken.pop().unwrap()));
        writer.write_all(b"ping").expect("write");
        drop(writer);
        let mut got = String::new();
        reader.read_to_string(&mut got).expect("read");
        assert_eq!(got, "ping");
    }

    #[test]
    fn converts_to_std_listeners() {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
        let addr = tcp.local_addr().expect("addr");
        let fd = ListenFd {
            fd: OwnedFd::from(tcp),
            name: "http".to_owned(),
        };
        assert_eq!(
            format!("{fd:?}"),
            format!("ListenFd {{ fd: {}, name: \"http\" }}", fd.as_raw_fd())
        );
        assert_eq!(fd.into_tcp_listener().local_addr().expect("addr"), addr);

        let path = std::env::temp_dir().join(format!(
            "daemonizer-listen-test-{}-unix",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let unix = UnixListener::bind(&path).expect("bind unix");
        let fd = ListenFd {
            fd: OwnedFd::from(unix),
            name: "control".to_owned(),
        };
        let unix = fd.into_unix_listener();
        assert_eq!(
            unix.local_addr().expect("addr").as_pathname(),
            Some(path.as_path())
        );
        let _ = std::fs::remove_file(&path);
    }
}
