//! The one error type of the crate: which step failed, on what, and why.

use std::fmt;
use std::io;
use std::sync::OnceLock;

use nix::errno::Errno;

/// The daemonization step an [`Error`] comes from.
///
/// The names are what a failed start prints after `cannot start daemon:`;
/// they are stable and meant to be read by people and matched by scripts.
///
/// ```
/// use daemonizer::{Daemon, Step};
///
/// let err = Daemon::new().umask(0o1000).start().unwrap_err();
/// assert_eq!(err.step(), Step::Umask);
/// assert_eq!(Step::Umask.to_string(), "umask");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Checking the configuration and the launching process.
    Preflight,
    /// Opening and locking the pid file.
    PidFile,
    /// The channel between the launcher and the daemon.
    Readiness,
    /// Fork, `setsid`, fork.
    Detach,
    /// `chroot(2)`.
    Chroot,
    /// Changing to the work directory.
    WorkDir,
    /// Setting the file mode creation mask.
    Umask,
    /// Setting resource limits.
    Limits,
    /// Switching user (uid and supplementary groups).
    User,
    /// Switching group.
    Group,
    /// Installing signal handlers.
    Signals,
    /// Closing inherited file descriptors.
    CloseFds,
    /// Redirecting stdin, stdout and stderr.
    Stdio,
    /// Writing the daemon's PID into the pid file.
    PidWrite,
    /// Reporting readiness (to the launcher and to a supervisor).
    Ready,
    /// The body (`main`), when it ends the daemon before it is ready.
    Main,
    /// The setup step: code run as the launching user before detaching.
    Setup,
    /// Controlling a running daemon through its pid file (status, signal,
    /// stop, reload; see [`control`](crate::control)).
    Control,
}

impl Step {
    /// The step's name as printed in messages, e.g. `"pid file"`.
    ///
    /// ```
    /// assert_eq!(daemonizer::Step::PidFile.name(), "pid file");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Step::Preflight => "preflight",
            Step::PidFile => "pid file",
            Step::Readiness => "readiness",
            Step::Detach => "detach",
            Step::Chroot => "chroot",
            Step::WorkDir => "work dir",
            Step::Umask => "umask",
            Step::Limits => "limits",
            Step::User => "user",
            Step::Group => "group",
            Step::Signals => "signals",
            Step::CloseFds => "close fds",
            Step::Stdio => "stdio",
            Step::PidWrite => "pid file write",
            Step::Ready => "ready",
            Step::Main => "main",
            Step::Setup => "setup",
            Step::Control => "control",
        }
    }

    /// The step's number on the readiness channel: stable within one
    /// build, which is all the channel needs (both ends are the same
    /// program).
    pub(crate) fn code(self) -> u8 {
        match self {
            Step::Preflight => 0,
            Step::PidFile => 1,
            Step::Readiness => 2,
            Step::Detach => 3,
            Step::Chroot => 4,
            Step::WorkDir => 5,
            Step::Umask => 6,
            Step::Limits => 7,
            Step::User => 8,
            Step::Group => 9,
            Step::Signals => 10,
            Step::CloseFds => 11,
            Step::Stdio => 12,
            Step::PidWrite => 13,
            Step::Ready => 14,
            Step::Main => 15,
            Step::Setup => 16,
            Step::Control => 17,
        }
    }

    /// The inverse of [`code`](Step::code).
    pub(crate) fn from_code(code: u8) -> Option<Step> {
        Some(match code {
            0 => Step::Preflight,
            1 => Step::PidFile,
            2 => Step::Readiness,
            3 => Step::Detach,
            4 => Step::Chroot,
            5 => Step::WorkDir,
            6 => Step::Umask,
            7 => Step::Limits,
            8 => Step::User,
            9 => Step::Group,
            10 => Step::Signals,
            11 => Step::CloseFds,
            12 => Step::Stdio,
            13 => Step::PidWrite,
            14 => Step::Ready,
            15 => Step::Main,
            16 => Step::Setup,
            17 => Step::Control,
            _ => return None,
        })
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What kind of failure an [`Error`] is; it decides the exit status.
///
/// The exit statuses follow `sysexits.h` and are part of the stable
/// interface:
///
/// | kind | status | meaning |
/// |---|---|---|
/// | [`Config`](ErrorKind::Config) | 64 (`EX_USAGE`) | an invalid setting (umask above 0o777, empty path, bad limit) |
/// | [`NotFound`](ErrorKind::NotFound) | 66 (`EX_NOINPUT`) | a file or directory that must exist does not |
/// | [`NoUser`](ErrorKind::NoUser) | 67 (`EX_NOUSER`) | unknown user or group, or an id out of range |
/// | [`Software`](ErrorKind::Software) | 70 (`EX_SOFTWARE`) | the process cannot be daemonized as it is (several threads, or memory shared with another process), or the daemon ended before it was ready: an `Err` from `main` (step `main`), a panic (step `main`, with its message and location), `std::process::exit` (with its status) or a fatal signal (with its name) |
/// | [`Os`](ErrorKind::Os) | 71 (`EX_OSERR`) | a system call failed |
/// | [`CantCreate`](ErrorKind::CantCreate) | 73 (`EX_CANTCREAT`) | a file could not be created or is of the wrong type |
/// | [`AlreadyRunning`](ErrorKind::AlreadyRunning) | 75 (`EX_TEMPFAIL`) | the pid file is locked by a running daemon |
/// | [`Permission`](ErrorKind::Permission) | 77 (`EX_NOPERM`) | not allowed (privileges, regaining root after a drop) |
/// | [`Interrupted`](ErrorKind::Interrupted) | 75 (`EX_TEMPFAIL`) | the launcher was told to stop before the daemon was ready |
/// | [`NotRunning`](ErrorKind::NotRunning) | 69 (`EX_UNAVAILABLE`) | a control request (reload, signal) found no daemon holding the pid file's lock |
///
/// An [`Error::exit`] called by the body of a full-mode daemon before it is
/// ready makes the launcher exit with that error's status.
///
/// ```
/// use daemonizer::{Daemon, ErrorKind};
///
/// let err = Daemon::new().umask(0o1000).start().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Config);
/// assert_eq!(err.exit_code(), 64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An invalid setting.
    Config,
    /// A path that must exist does not.
    NotFound,
    /// Unknown user or group.
    NoUser,
    /// The process cannot be daemonized as it is, or the daemon died early.
    Software,
    /// A system call failed.
    Os,
    /// A file could not be created or is not of the expected type.
    CantCreate,
    /// Another daemon holds the pid file lock.
    AlreadyRunning,
    /// Not permitted.
    Permission,
    /// The launcher received a stop signal while waiting for the daemon.
    Interrupted,
    /// No daemon holds the pid file's lock (a control request had nobody
    /// to address).
    NotRunning,
}

impl ErrorKind {
    /// The process exit status for this kind (see the table above).
    ///
    /// ```
    /// assert_eq!(daemonizer::ErrorKind::AlreadyRunning.exit_code(), 75);
    /// ```
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Config => 64,
            ErrorKind::NotFound => 66,
            ErrorKind::NoUser => 67,
            ErrorKind::Software => 70,
            ErrorKind::Os => 71,
            ErrorKind::CantCreate => 73,
            ErrorKind::AlreadyRunning | ErrorKind::Interrupted => 75,
            ErrorKind::Permission => 77,
            ErrorKind::NotRunning => 69,
        }
    }

    /// The kind's number on the readiness channel, as [`Step::code`].
    fn code(self) -> u8 {
        match self {
            ErrorKind::Config => 0,
            ErrorKind::NotFound => 1,
            ErrorKind::NoUser => 2,
            ErrorKind::Software => 3,
            ErrorKind::Os => 4,
            ErrorKind::CantCreate => 5,
            ErrorKind::AlreadyRunning => 6,
            ErrorKind::Permission => 7,
            ErrorKind::Interrupted => 8,
            ErrorKind::NotRunning => 9,
        }
    }

    /// The inverse of [`code`](ErrorKind::code).
    fn from_code(code: u8) -> Option<ErrorKind> {
        Some(match code {
            0 => ErrorKind::Config,
            1 => ErrorKind::NotFound,
            2 => ErrorKind::NoUser,
            3 => ErrorKind::Software,
            4 => ErrorKind::Os,
            5 => ErrorKind::CantCreate,
            6 => ErrorKind::AlreadyRunning,
            7 => ErrorKind::Permission,
            8 => ErrorKind::Interrupted,
            9 => ErrorKind::NotRunning,
            _ => return None,
        })
    }

    fn from_errno(errno: Errno) -> ErrorKind {
        match errno {
            Errno::ENOENT | Errno::ENOTDIR => ErrorKind::NotFound,
            Errno::EACCES | Errno::EPERM | Errno::EROFS => ErrorKind::Permission,
            Errno::EEXIST | Errno::EISDIR | Errno::ELOOP | Errno::ENAMETOOLONG => {
                ErrorKind::CantCreate
            }
            _ => ErrorKind::Os,
        }
    }
}

/// A failed daemonization step: the step, the path or value involved, and
/// the OS error where there is one.
///
/// Its `Display` is `<step>: <detail>[: <os error>]`, e.g.
/// `pid file: /run/myd.pid: already running as PID 4242`. A launcher
/// prints it as `<program>: cannot start daemon: <that>` with
/// [`Error::exit`].
///
/// ```
/// let err = daemonizer::Daemon::new().work_dir("").start().unwrap_err();
/// assert_eq!(err.to_string(), "work dir: empty path");
/// ```
#[derive(Debug, Clone)]
pub struct Error {
    step: Step,
    kind: ErrorKind,
    detail: String,
    errno: Option<Errno>,
}

/// What [`Error::exit`] does first in a daemon: set by the running
/// daemon's state once there is one (it tells a waiting launcher, or keeps
/// the error as the daemon's last words). A function pointer, so that the
/// error type, below everything, imports nothing above it.
static EXIT_HOOK: OnceLock<fn(&Error)> = OnceLock::new();

/// Sets the hook of [`Error::exit`]; the first call wins.
pub(crate) fn set_exit_hook(hook: fn(&Error)) {
    let _ = EXIT_HOOK.set(hook);
}

impl Error {
    /// An error of `kind` in `step`, described by `detail` (which names the
    /// path or value involved).
    ///
    /// ```
    /// use daemonizer::{Error, ErrorKind, Step};
    ///
    /// let err = Error::new(Step::Main, ErrorKind::Software, "no configuration");
    /// assert_eq!(err.to_string(), "main: no configuration");
    /// ```
    #[cold]
    pub fn new(step: Step, kind: ErrorKind, detail: impl Into<String>) -> Error {
        Error {
            step,
            kind,
            detail: detail.into(),
            errno: None,
        }
    }

    /// An error from a failed system call; the kind follows from the errno.
    /// (A caller outside the crate builds one with [`Error::io`], from
    /// `io::Error::from_raw_os_error`.)
    #[cold]
    pub(crate) fn os(step: Step, detail: impl Into<String>, errno: Errno) -> Error {
        Error {
            step,
            kind: ErrorKind::from_errno(errno),
            detail: detail.into(),
            errno: Some(errno),
        }
    }

    /// An error from an `io::Error`, keeping its OS error code.
    ///
    /// ```
    /// use daemonizer::{Error, ErrorKind, Step};
    ///
    /// let io = std::io::Error::from_raw_os_error(13); // EACCES
    /// let err = Error::io(Step::Setup, "/etc/myd/key", &io);
    /// assert_eq!(err.kind(), ErrorKind::Permission);
    /// ```
    #[cold]
    pub fn io(step: Step, detail: impl Into<String>, err: &io::Error) -> Error {
        match err.raw_os_error() {
            Some(code) => Error::os(step, detail, Errno::from_raw(code)),
            None => Error::new(step, ErrorKind::Os, format!("{}: {err}", detail.into())),
        }
    }

    /// The step that failed.
    ///
    /// ```
    /// let err = daemonizer::Daemon::new().work_dir("").start().unwrap_err();
    /// assert_eq!(err.step(), daemonizer::Step::WorkDir);
    /// ```
    pub fn step(&self) -> Step {
        self.step
    }

    /// The kind of failure.
    ///
    /// ```
    /// let err = daemonizer::Daemon::new().work_dir("").start().unwrap_err();
    /// assert_eq!(err.kind(), daemonizer::ErrorKind::Config);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The path or value involved, and what was wrong with it.
    ///
    /// ```
    /// let err = daemonizer::Daemon::new().work_dir("").start().unwrap_err();
    /// assert_eq!(err.detail(), "empty path");
    /// ```
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The OS error's number (`errno`), when a system call failed.
    ///
    /// ```
    /// let err = daemonizer::Daemon::new()
    ///     .work_dir("/nonexistent/daemonizer-doc")
    ///     .start()
    ///     .unwrap_err();
    /// assert_eq!(err.raw_os_error(), Some(2)); // ENOENT
    /// ```
    pub fn raw_os_error(&self) -> Option<i32> {
        self.errno.map(|e| e as i32)
    }

    /// The OS error, when a system call failed, as std shows it.
    ///
    /// ```
    /// let err = daemonizer::Daemon::new()
    ///     .work_dir("/nonexistent/daemonizer-doc")
    ///     .start()
    ///     .unwrap_err();
    /// let os = err.os_error().expect("a failed chdir");
    /// assert_eq!(os.kind(), std::io::ErrorKind::NotFound);
    /// ```
    pub fn os_error(&self) -> Option<io::Error> {
        self.raw_os_error().map(io::Error::from_raw_os_error)
    }

    /// The OS error as nix names it, for the crate's own decisions.
    pub(crate) fn errno(&self) -> Option<Errno> {
        self.errno
    }

    /// The exit status a launcher uses for this error (see [`ErrorKind`]).
    ///
    /// ```
    /// let err = daemonizer::Daemon::new().work_dir("").start().unwrap_err();
    /// assert_eq!(err.exit_code(), 64);
    /// ```
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }

    /// Prints `<program>: cannot start daemon: <self>` to stderr and exits
    /// the process with [`exit_code`](Error::exit_code).
    ///
    /// The message is always one line: control characters in the program
    /// name, paths and names are escaped (see [`Display`](#impl-Display-for-Error)).
    /// The exit status is always the documented one: a stderr that is
    /// closed, full of errors, a pipe without a reader or a regular file at
    /// the file-size limit (`RLIMIT_FSIZE`) loses the message, never the
    /// status (no panic, no death by `SIGPIPE` or `SIGXFSZ`).
    ///
    /// ```no_run
    /// let running = daemonizer::Daemon::new()
    ///     .pidfile("/run/myd.pid")
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// # drop(running);
    /// ```
    ///
    /// In a full-mode daemon that is not ready yet (manual readiness), the
    /// launcher prints that line and exits with that status.
    pub fn exit(&self) -> ! {
        if let Some(hook) = EXIT_HOOK.get() {
            hook(self);
        }
        // One write of the whole line (stderr is unbuffered: formatting
        // into it writes piece by piece), and not `eprintln!`, which panics
        // when stderr fails (a terminal gone, a full disk): the exit status
        // must still tell the failure.
        let line = format!("{}: cannot start daemon: {self}\n", program_name());
        write_stderr_quietly(line.as_bytes());
        crate::sys::pipe::exit_quietly(i32::from(self.exit_code()))
    }

    /// Serialises the error for the readiness channel: kind, step, errno,
    /// detail, separated by unit separators. The detail travels escaped
    /// (no newline or separator can end the message early) and
    /// [`decode`](Error::decode) restores it exactly.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let kind = self.kind.code();
        let errno = self.errno.map_or(0, |e| e as i32);
        let detail = escape(&self.detail, true);
        format!("{kind}\x1f{}\x1f{errno}\x1f{detail}", self.step.code()).into_bytes()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Error> {
        let text = String::from_utf8_lossy(bytes);
        let mut parts = text.splitn(4, '\x1f');
        let kind = ErrorKind::from_code(parts.next()?.parse().ok()?)?;
        let step = Step::from_code(parts.next()?.parse().ok()?)?;
        let errno = match parts.next()?.parse::<i32>().ok()? {
            0 => None,
            code => Some(Errno::from_raw(code)),
        };
        let detail = unescape(parts.next()?);
        Some(Error {
            step,
            kind,
            detail,
            errno,
        })
    }
}

/// Whether `c` could break a one-line message or fool a terminal: C0 and
/// C1 controls, DEL, and the Unicode line and paragraph separators.
fn is_breaking(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// `text` with every control character written as `\xNN` or `\u{NNNN}`
/// (and, when `backslashes`, every `\` doubled, so that [`unescape`] can
/// restore the original).
fn escape(text: &str, backslashes: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' if backslashes => out.push_str("\\\\"),
            c if is_breaking(c) && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_breaking(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `text` with its control characters escaped: what a message shows of a
/// path or a name, which may hold anything (a newline would let whoever
/// chose the path print a second, fake line).
pub(crate) fn escape_control(text: &str) -> String {
    escape(text, false)
}

/// The inverse of [`escape`] with `backslashes`.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let rest = chars.as_str();
        let (code, used) = match chars.clone().next() {
            Some('\\') => (Some('\\' as u32), 1),
            Some('x') => (
                rest.get(1..3).and_then(|h| u32::from_str_radix(h, 16).ok()),
                3,
            ),
            Some('u') => rest
                .get(1..)
                .and_then(|r| r.strip_prefix('{'))
                .and_then(|r| r.split_once('}'))
                .map(|(h, _)| (u32::from_str_radix(h, 16).ok(), h.len() + 3))
                .unwrap_or((None, 0)),
            _ => (None, 0),
        };
        match code.and_then(char::from_u32) {
            Some(decoded) => {
                out.push(decoded);
                chars = rest[used..].chars();
            }
            None => out.push(c),
        }
    }
    out
}

/// Writes `bytes` to fd 2, ignoring every failure; a pipe without a
/// reader is no more than an error (see [`write_all_quietly`]).
///
/// [`write_all_quietly`]: crate::sys::pipe::write_all_quietly
fn write_stderr_quietly(bytes: &[u8]) {
    use std::os::fd::AsFd;
    let _ = crate::sys::pipe::write_all_quietly(std::io::stderr().as_fd(), bytes);
}

impl fmt::Display for Error {
    /// `<step>: <detail>[: <os error>]`, one line: control characters in
    /// the detail (from paths, names, values) are shown escaped, as `\xNN`
    /// (`\x0a` for a newline) or `\u{NNNN}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, escape_control(&self.detail))?;
        if let Some(errno) = self.errno {
            write!(f, ": {}", errno.desc())?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        match err.errno {
            Some(errno) => io::Error::new(io::Error::from(errno).kind(), err),
            None => io::Error::other(err),
        }
    }
}

/// The base name of `argv[0]`, as printed before `: cannot start daemon:`
/// and in every other line the runtime prints, its control characters
/// escaped as in [`Error`]'s `Display`: whoever starts the program chooses
/// `argv[0]`, and a newline there must not split a line or forge another.
pub(crate) fn program_name() -> String {
    let name = std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "daemon".to_owned());
    escape_control(&name)
}

/// The crate's result type.
///
/// ```
/// fn start() -> daemonizer::Result<daemonizer::Daemonized> {
///     daemonizer::Daemon::new().pidfile("/run/myd.pid").start()
/// }
/// # drop(start);
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_step_detail_and_os_error() {
        let e = Error::os(Step::WorkDir, "/nonexistent", Errno::ENOENT);
        assert_eq!(
            e.to_string(),
            "work dir: /nonexistent: No such file or directory"
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.exit_code(), 66);
    }

    #[test]
    fn encode_decode_round_trip() {
        let e = Error::os(Step::User, "name \"x\"\nnext", Errno::EPERM);
        let back = Error::decode(&e.encode()).expect("decodes");
        assert_eq!(back.step(), Step::User);
        assert_eq!(back.kind(), ErrorKind::Permission);
        assert_eq!(back.errno(), Some(Errno::EPERM));
        assert_eq!(back.detail(), "name \"x\"\nnext");
        assert_eq!(
            back.to_string(),
            "user: name \"x\"\\x0anext: Operation not permitted"
        );
        let plain = Error::new(Step::PidFile, ErrorKind::AlreadyRunning, "p: already");
        let back = Error::decode(&plain.encode()).expect("decodes");
        assert_eq!(back.errno(), None);
        assert_eq!(back.exit_code(), 75);
        assert!(Error::decode(b"garbage").is_none());
    }

    #[test]
    fn details_travel_exactly_and_show_on_one_line() {
        for detail in [
            "plain",
            "a\\x0ab",
            "new\nline\x1fsep\u{7f}\u{85}\u{2028}",
            "back\\slash\\",
            "\\u{41}",
            "trailing\\",
        ] {
            let e = Error::new(Step::Stdio, ErrorKind::Os, detail);
            assert_eq!(Error::decode(&e.encode()).unwrap().detail(), detail);
            let shown = e.to_string();
            assert!(!shown.chars().any(is_breaking), "{shown:?}");
        }
    }

    #[test]
    fn line_breaking_characters_show_in_their_escaped_form() {
        for (detail, shown) in [
            ("a\u{2028}b", "stdio: a\\u{2028}b"),
            ("a\u{2029}b", "stdio: a\\u{2029}b"),
            ("\u{85}\u{9b}", "stdio: \\u{0085}\\u{009b}"),
            ("a\nb\rc\x1b[2K\x7f", "stdio: a\\x0ab\\x0dc\\x1b[2K\\x7f"),
            // Neighbours of the separators are printable and stay as they are.
            ("\u{2027}\u{2030}", "stdio: \u{2027}\u{2030}"),
        ] {
            let e = Error::new(Step::Stdio, ErrorKind::Os, detail);
            assert_eq!(e.to_string(), shown, "{detail:?}");
        }
    }

    #[test]
    fn every_step_and_kind_has_its_own_code() {
        let steps: Vec<Step> = (0..=u8::MAX).filter_map(Step::from_code).collect();
        // Every variant: a new one must be given a code both ways.
        assert_eq!(steps.len(), 18);
        for (code, step) in steps.iter().enumerate() {
            assert_eq!(usize::from(step.code()), code, "{step}");
        }
        let kinds: Vec<ErrorKind> = (0..=u8::MAX).filter_map(ErrorKind::from_code).collect();
        assert_eq!(kinds.len(), 10);
        for (code, kind) in kinds.iter().enumerate() {
            assert_eq!(usize::from(kind.code()), code, "{kind:?}");
        }
    }
}
