//! The crate's own names for the system's numbers: [`Signal`] and
//! [`Resource`]. Each is one table, with a `cfg` per system where the
//! systems differ (the sets are nix's, so that every value converts to the
//! call nix makes); the constants, the names, the list of all of them and
//! the conversions are all generated from it. No type of nix or libc
//! appears in the public interface: a new nix is never the user's breaking
//! change.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Step};

/// One table of signals: for each, the `cfg` (as nix's) and the doc line.
/// Generates the private enum, the constants, the names, `ALL`, the raw
/// numbers and the conversion to nix, each an exhaustive `match`.
macro_rules! signal_table {
    ($( $(#[cfg($cfg:meta)])? $name:ident => $doc:literal, )*) => {
        /// The signals this system has, one variant each.
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        enum KnownSignal {
            $( $(#[cfg($cfg)])? $name, )*
        }

        impl Signal {
            $(
                $(#[cfg($cfg)])?
                #[doc = concat!($doc, " (`", stringify!($name), "`).")]
                pub const $name: Signal = Signal(KnownSignal::$name);
            )*

            /// Every signal of this system, in the table's order.
            const ALL: &'static [Signal] = &[ $( $(#[cfg($cfg)])? Signal::$name, )* ];

            /// The signal's name, as in C: `"SIGHUP"`.
            ///
            /// ```
            /// assert_eq!(daemonizer::Signal::SIGUSR1.as_str(), "SIGUSR1");
            /// ```
            pub fn as_str(self) -> &'static str {
                match self.0 {
                    $( $(#[cfg($cfg)])? KnownSignal::$name => stringify!($name), )*
                }
            }

            /// The signal's number on this system.
            ///
            /// ```
            /// assert_eq!(daemonizer::Signal::SIGKILL.as_raw(), 9);
            /// ```
            pub fn as_raw(self) -> i32 {
                match self.0 {
                    $( $(#[cfg($cfg)])? KnownSignal::$name => libc::$name, )*
                }
            }

            /// The same signal as nix names it, for the calls made through nix.
            pub(crate) fn to_nix(self) -> nix::sys::signal::Signal {
                match self.0 {
                    $( $(#[cfg($cfg)])? KnownSignal::$name => nix::sys::signal::Signal::$name, )*
                }
            }
        }
    };
}

/// A signal, by its name: `Signal::SIGHUP`, `Signal::SIGUSR1`...
///
/// The constants are the signals of the system the program is built for
/// (`SIGPWR` and `SIGSTKFLT` exist on Linux only, `SIGINFO` and `SIGEMT` on
/// the BSDs and macOS). `Display` and [`as_str`](Signal::as_str) give the
/// name, [`FromStr`] reads it back, [`as_raw`](Signal::as_raw) gives the
/// number.
///
/// ```
/// use daemonizer::Signal;
///
/// let hup: Signal = "SIGHUP".parse()?;
/// assert_eq!(hup, Signal::SIGHUP);
/// assert_eq!(hup.to_string(), "SIGHUP");
/// assert_eq!(Signal::from_raw(hup.as_raw()), Some(hup));
/// assert!(Signal::iterator().any(|s| s == Signal::SIGTERM));
/// # Ok::<(), daemonizer::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(KnownSignal);

signal_table! {
    SIGHUP => "Hangup: the terminal is gone; by convention, reload",
    SIGINT => "Interrupt from the keyboard",
    SIGQUIT => "Quit from the keyboard",
    SIGILL => "Illegal instruction",
    SIGTRAP => "Trace or breakpoint trap",
    SIGABRT => "Abort",
    SIGBUS => "Bus error",
    SIGFPE => "Arithmetic exception",
    SIGKILL => "Kill: cannot be caught",
    SIGUSR1 => "User-defined signal 1",
    SIGSEGV => "Invalid memory reference",
    SIGUSR2 => "User-defined signal 2",
    SIGPIPE => "Write to a pipe without a reader",
    SIGALRM => "Timer from `alarm`",
    SIGTERM => "Termination request",
    #[cfg(all(
        any(target_os = "linux", target_os = "android", target_os = "emscripten", target_os = "fuchsia"),
        not(any(
            target_arch = "mips",
            target_arch = "mips32r6",
            target_arch = "mips64",
            target_arch = "mips64r6",
            target_arch = "sparc",
            target_arch = "sparc64"
        ))
    ))]
    SIGSTKFLT => "Stack fault on a coprocessor (Linux)",
    SIGCHLD => "A child stopped or ended",
    SIGCONT => "Continue if stopped",
    SIGSTOP => "Stop: cannot be caught",
    SIGTSTP => "Stop from the terminal",
    SIGTTIN => "Terminal input for a background process",
    SIGTTOU => "Terminal output for a background process",
    SIGURG => "Urgent data on a socket",
    SIGXCPU => "CPU time limit exceeded",
    SIGXFSZ => "File size limit exceeded",
    SIGVTALRM => "Virtual timer",
    SIGPROF => "Profiling timer",
    SIGWINCH => "Window size changed",
    #[cfg(not(target_os = "haiku"))]
    SIGIO => "I/O possible",
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "emscripten",
        target_os = "fuchsia",
        target_os = "aix"
    ))]
    SIGPWR => "Power failure (Linux)",
    SIGSYS => "Bad system call",
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "emscripten",
        target_os = "fuchsia",
        target_os = "redox",
        target_os = "haiku"
    )))]
    SIGEMT => "Emulator trap (BSD, macOS)",
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "emscripten",
        target_os = "fuchsia",
        target_os = "redox",
        target_os = "haiku",
        target_os = "aix",
        target_os = "solaris",
        target_os = "cygwin"
    )))]
    SIGINFO => "Status request from the terminal (BSD, macOS)",
}

impl Signal {
    /// The signal numbered `raw` on this system, or `None` for a number
    /// that names none of the constants.
    ///
    /// ```
    /// use daemonizer::Signal;
    ///
    /// assert_eq!(Signal::from_raw(15), Some(Signal::SIGTERM));
    /// assert_eq!(Signal::from_raw(0), None);
    /// ```
    pub fn from_raw(raw: i32) -> Option<Signal> {
        // A search of a short constant table: no allocation, so it may run
        // inside a signal handler.
        Signal::ALL.iter().copied().find(|s| s.as_raw() == raw)
    }

    /// Every signal of this system, in a fixed order.
    ///
    /// ```
    /// use daemonizer::Signal;
    ///
    /// let names: Vec<&str> = Signal::iterator().map(Signal::as_str).collect();
    /// assert!(names.contains(&"SIGHUP") && names.contains(&"SIGKILL"));
    /// ```
    pub fn iterator() -> impl Iterator<Item = Signal> + Clone {
        Signal::ALL.iter().copied()
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Signal {
    type Err = Error;

    /// The signal named `name`, spelled as in C (`"SIGHUP"`).
    fn from_str(name: &str) -> Result<Signal, Error> {
        Signal::iterator()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                let hint = spelled_as_in_c(name, "SIG", |n| {
                    Signal::iterator().find(|s| s.as_str() == n)
                });
                unknown(Step::Signals, "signal", name, hint.map(Signal::as_str))
            })
    }
}

/// One table of resource limits, as [`signal_table`] is for signals.
macro_rules! resource_table {
    ($( $(#[cfg($cfg:meta)])? $name:ident => $doc:literal, )*) => {
        /// The resource limits this system has, one variant each.
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        enum KnownResource {
            $( $(#[cfg($cfg)])? $name, )*
        }

        impl Resource {
            $(
                $(#[cfg($cfg)])?
                #[doc = concat!($doc, " (`", stringify!($name), "`).")]
                pub const $name: Resource = Resource(KnownResource::$name);
            )*

            /// Every resource of this system, in the table's order.
            const ALL: &'static [Resource] = &[ $( $(#[cfg($cfg)])? Resource::$name, )* ];

            /// The limit's name, as in C: `"RLIMIT_NOFILE"`.
            ///
            /// ```
            /// assert_eq!(daemonizer::Resource::RLIMIT_CORE.as_str(), "RLIMIT_CORE");
            /// ```
            pub fn as_str(self) -> &'static str {
                match self.0 {
                    $( $(#[cfg($cfg)])? KnownResource::$name => stringify!($name), )*
                }
            }

            /// The same resource as nix names it, for `getrlimit`/`setrlimit`.
            pub(crate) fn to_nix(self) -> nix::sys::resource::Resource {
                match self.0 {
                    $( $(#[cfg($cfg)])? KnownResource::$name => nix::sys::resource::Resource::$name, )*
                }
            }
        }
    };
}

/// A resource limit, by its name: `Resource::RLIMIT_NOFILE`,
/// `Resource::RLIMIT_CORE`...
///
/// The constants are the limits of the system the program is built for
/// (`RLIMIT_RTTIME` exists on Linux only, `RLIMIT_SWAP` on FreeBSD only).
/// `Display` and [`as_str`](Resource::as_str) give the name, [`FromStr`]
/// reads it back.
///
/// ```
/// use daemonizer::{Daemon, Resource};
///
/// let nofile: Resource = "RLIMIT_NOFILE".parse()?;
/// assert_eq!(nofile, Resource::RLIMIT_NOFILE);
/// let daemon = Daemon::new().limit(nofile, 4096);
/// # drop(daemon);
/// # Ok::<(), daemonizer::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Resource(KnownResource);

resource_table! {
    #[cfg(not(any(target_os = "freebsd", target_os = "netbsd", target_os = "openbsd")))]
    RLIMIT_AS => "The largest address space, in bytes",
    RLIMIT_CORE => "The largest core file, in bytes (0: no core dumps)",
    RLIMIT_CPU => "CPU time, in seconds",
    RLIMIT_DATA => "The largest data segment, in bytes",
    RLIMIT_FSIZE => "The largest file the process may write, in bytes",
    RLIMIT_NOFILE => "One more than the largest file descriptor number",
    RLIMIT_STACK => "The largest stack, in bytes",
    #[cfg(target_os = "freebsd")]
    RLIMIT_KQUEUES => "The kqueues of the user (FreeBSD)",
    #[cfg(any(target_os = "linux", target_os = "android"))]
    RLIMIT_LOCKS => "The file locks and leases of the process (Linux)",
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    RLIMIT_MEMLOCK => "The memory locked in RAM, in bytes",
    #[cfg(any(target_os = "linux", target_os = "android"))]
    RLIMIT_MSGQUEUE => "The bytes of POSIX message queues of the user (Linux)",
    #[cfg(any(target_os = "linux", target_os = "android"))]
    RLIMIT_NICE => "The ceiling of the nice value (Linux)",
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "aix"
    ))]
    RLIMIT_NPROC => "The processes of the user",
    #[cfg(target_os = "freebsd")]
    RLIMIT_NPTS => "The pseudo-terminals of the user (FreeBSD)",
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "aix"
    ))]
    RLIMIT_RSS => "The resident set, in bytes",
    #[cfg(any(target_os = "linux", target_os = "android"))]
    RLIMIT_RTPRIO => "The ceiling of the real-time priority (Linux)",
    #[cfg(target_os = "linux")]
    RLIMIT_RTTIME => "Real-time CPU time without a blocking call, in microseconds (Linux)",
    #[cfg(any(target_os = "linux", target_os = "android"))]
    RLIMIT_SIGPENDING => "The queued signals of the user (Linux)",
    #[cfg(any(target_os = "freebsd", target_os = "dragonfly"))]
    RLIMIT_SBSIZE => "The socket buffers of the user, in bytes (FreeBSD)",
    #[cfg(target_os = "freebsd")]
    RLIMIT_SWAP => "The swap space of the user, in bytes (FreeBSD)",
    #[cfg(target_os = "freebsd")]
    RLIMIT_VMEM => "The largest address space, in bytes (FreeBSD)",
}

impl Resource {
    /// Every resource limit of this system, in a fixed order.
    ///
    /// ```
    /// use daemonizer::Resource;
    ///
    /// assert!(Resource::iterator().any(|r| r == Resource::RLIMIT_NOFILE));
    /// ```
    pub fn iterator() -> impl Iterator<Item = Resource> + Clone {
        Resource::ALL.iter().copied()
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Resource {
    type Err = Error;

    /// The limit named `name`, spelled as in C (`"RLIMIT_NOFILE"`).
    fn from_str(name: &str) -> Result<Resource, Error> {
        Resource::iterator()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| {
                let hint = spelled_as_in_c(name, "RLIMIT_", |n| {
                    Resource::iterator().find(|r| r.as_str() == n)
                });
                unknown(
                    Step::Limits,
                    "resource limit",
                    name,
                    hint.map(Resource::as_str),
                )
            })
    }
}

/// The error of a name that is none of the table's.
/// The error of a name that is none of the table's, with the name it may
/// have meant (`hint`).
fn unknown(step: Step, what: &str, name: &str, hint: Option<&str>) -> Error {
    // Debug quotes the name and escapes what it holds; bounded, since the
    // name may come from anywhere.
    let shown: String = name.chars().take(64).collect();
    let more = if shown.len() < name.len() { "..." } else { "" };
    let hint = hint.map_or_else(String::new, |h| format!("; did you mean {h}?"));
    Error::new(
        step,
        ErrorKind::Config,
        format!("unknown {what} {shown:?}{more}{hint}"),
    )
}

/// What `name` finds once written as C writes it: upper case, with
/// `prefix` (`"hup"` is `SIGHUP`, `"nofile"` is `RLIMIT_NOFILE`).
fn spelled_as_in_c<T>(name: &str, prefix: &str, find: impl Fn(&str) -> Option<T>) -> Option<T> {
    if name.len() > 32 {
        return None;
    }
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with(prefix) {
        upper
    } else {
        format!("{prefix}{upper}")
    };
    find(&full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signal_round_trips_through_its_name_its_number_and_nix() {
        assert!(Signal::iterator().count() >= 30);
        for signal in Signal::iterator() {
            assert_eq!(signal.as_str().parse::<Signal>().unwrap(), signal);
            assert_eq!(Signal::from_raw(signal.as_raw()), Some(signal));
            assert_eq!(signal.to_nix() as i32, signal.as_raw());
            assert_eq!(signal.to_nix().as_str(), signal.as_str());
        }
        let numbers: std::collections::HashSet<i32> =
            Signal::iterator().map(Signal::as_raw).collect();
        assert_eq!(
            numbers.len(),
            Signal::iterator().count(),
            "one name a number"
        );
        assert_eq!(
            Signal::iterator().count(),
            nix::sys::signal::Signal::iterator().count(),
            "the table has every signal nix knows"
        );
    }

    #[test]
    fn every_resource_round_trips_through_its_name_and_nix() {
        for resource in Resource::iterator() {
            assert_eq!(resource.as_str().parse::<Resource>().unwrap(), resource);
            assert_eq!(format!("{:?}", resource.to_nix()), resource.as_str());
        }
    }

    #[test]
    fn unknown_names_are_config_errors_naming_the_value() {
        let err = "SIGNOPE".parse::<Signal>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert_eq!(err.to_string(), "signals: unknown signal \"SIGNOPE\"");
        let err = "hup".parse::<Signal>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "signals: unknown signal \"hup\"; did you mean SIGHUP?"
        );
        let err = "nofile".parse::<Resource>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "limits: unknown resource limit \"nofile\"; did you mean RLIMIT_NOFILE?"
        );
        let err = "RLIMIT_NOPE\n".parse::<Resource>().unwrap_err();
        assert_eq!(err.step(), Step::Limits);
        assert_eq!(
            err.to_string(),
            "limits: unknown resource limit \"RLIMIT_NOPE\\n\""
        );
        let long = "X".repeat(100_000);
        assert!(long.parse::<Signal>().unwrap_err().to_string().len() < 200);
    }
}
