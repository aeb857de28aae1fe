//! [`Scenario`]: the `scenario` program's command line, one method per
//! option (the table at the top of `tests/scenario/scenario.rs`), so that
//! a test reads as the start it makes.
//!
//! ```ignore
//! let outcome = start(
//!     sb.scenario("daemon")
//!         .pidfile(&pidfile)
//!         .stdout(&out)
//!         .manual()
//!         .user("nobody"),
//! );
//! let child = sb.daemon().lite().arg("--hide-proc").spawn();
//! let mut cmd = sb.daemon().command();
//! cmd.stdout(Stdio::null()); // the launcher's own stdout
//! ```
//!
//! [`run`](super::run) and [`start`](super::start) take a `Scenario` as
//! they take a `Command`; [`command`](Scenario::command) gives the
//! `Command` for anything else (`arg0`, `uid`, the launcher's stdio).
//! Beware that [`Scenario::stdout`] is the daemon's `--stdout` file, not
//! `Command::stdout`.

use std::ffi::OsStr;
use std::fmt::Display;
use std::process::{Child, Command, CommandArgs};

/// `scenario <mode> --sandbox <dir>/ <options>`, stdio piped, stdin null
/// (see [`Sandbox::scenario`](super::Sandbox::scenario)).
///
/// Each method appends one option as the program spells it; paths and
/// values are passed as given, so that a test may also pass what the
/// program refuses. [`arg`](Self::arg) appends anything else.
#[must_use = "a scenario does nothing until it is run, started or turned into a command"]
pub(crate) struct Scenario {
    cmd: Command,
}

impl Scenario {
    /// Wraps `cmd`, which already names the program, its mode and its
    /// sandbox.
    pub(crate) fn new(cmd: Command) -> Scenario {
        Scenario { cmd }
    }

    /// The command to spawn, with every option given so far.
    pub(crate) fn command(self) -> Command {
        self.cmd
    }

    /// Spawns the program; fails the test if it cannot be spawned.
    pub(crate) fn spawn(self) -> Child {
        self.launch()
    }

    /// Appends `arg` as it is: an option this type has no method for, or
    /// a malformed one.
    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> Scenario {
        self.cmd.arg(arg);
        self
    }

    /// Appends each of `args` as it is.
    pub(crate) fn args<I, S>(mut self, args: I) -> Scenario
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Sets the environment variable `key` for the program (as
    /// `Command::env`).
    pub(crate) fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Scenario {
        self.cmd.env(key, value);
        self
    }

    /// Runs the program in `dir` (as `Command::current_dir`).
    pub(crate) fn current_dir(mut self, dir: impl AsRef<std::path::Path>) -> Scenario {
        self.cmd.current_dir(dir);
        self
    }

    /// The arguments after the program's name, for a command that runs
    /// the program through another (`sh -c`, `unshare`, `prlimit`).
    pub(crate) fn get_args(&self) -> CommandArgs<'_> {
        self.cmd.get_args()
    }

    fn option(self, name: &str, value: impl AsRef<OsStr>) -> Scenario {
        self.arg(name).arg(value)
    }

    /// `--pidfile P`.
    pub(crate) fn pidfile(self, path: impl AsRef<OsStr>) -> Scenario {
        self.option("--pidfile", path)
    }

    /// `--stdout P`: the daemon's stdout file (not the launcher's stdout,
    /// which stays piped).
    pub(crate) fn stdout(self, path: impl AsRef<OsStr>) -> Scenario {
        self.option("--stdout", path)
    }

    /// `--stderr P`: the daemon's stderr file (not the launcher's stderr,
    /// which stays piped).
    pub(crate) fn stderr(self, path: impl AsRef<OsStr>) -> Scenario {
        self.option("--stderr", path)
    }

    /// `--facts F`: the facts file the body writes.
    pub(crate) fn facts(self, path: impl AsRef<OsStr>) -> Scenario {
        self.option("--facts", path)
    }

    /// `--trigger F`: the file whose content says what the body does next.
    pub(crate) fn trigger(self, path: impl AsRef<OsStr>) -> Scenario {
        self.option("--trigger", path)
    }

    /// `--log F`: a preserved log file opened before the start.
    pub(crate) fn log(self, path: impl AsRef<OsStr>) -> Scenario {
        self.option("--log", path)
    }

    /// `--workdir D`.
    pub(crate) fn workdir(self, dir: impl AsRef<OsStr>) -> Scenario {
        self.option("--workdir", dir)
    }

    /// `--chroot D`.
    pub(crate) fn chroot(self, dir: impl AsRef<OsStr>) -> Scenario {
        self.option("--chroot", dir)
    }

    /// `--record F`: the SIGHUP and SIGUSR1 handlers append a line to F.
    pub(crate) fn record(self, path: impl AsRef<OsStr>) -> Scenario {
        self.option("--record", path)
    }

    /// `--user U`: a number is an id, anything else a name.
    pub(crate) fn user(self, user: impl Display) -> Scenario {
        self.option("--user", user.to_string())
    }

    /// `--group G`: a number is an id, anything else a name.
    pub(crate) fn group(self, group: impl Display) -> Scenario {
        self.option("--group", group.to_string())
    }

    /// `--umask OCTAL`, the octal digits as the program reads them
    /// (`"027"`).
    pub(crate) fn umask(self, octal: &str) -> Scenario {
        self.option("--umask", octal)
    }

    /// `--limit RES:SOFT[:HARD]` (`"nofile:512"`, `"core:0:0"`; `inf` is
    /// unlimited).
    pub(crate) fn limit(self, limit: impl Display) -> Scenario {
        self.option("--limit", limit.to_string())
    }

    /// `--stop-timeout-ms N` (`"max"`: `Duration::MAX`), with
    /// [`commands`](Self::commands).
    pub(crate) fn stop_timeout_ms(self, ms: impl Display) -> Scenario {
        self.option("--stop-timeout-ms", ms.to_string())
    }

    /// `--extra N`: N extra fds open at the start.
    pub(crate) fn extra(self, n: usize) -> Scenario {
        self.option("--extra", n.to_string())
    }

    /// `--keep K`: preserve the first K of the extra fds.
    pub(crate) fn keep(self, k: usize) -> Scenario {
        self.option("--keep", k.to_string())
    }

    /// `--setup-bind ADDR`: a setup step binds a TCP listener on ADDR.
    pub(crate) fn setup_bind(self, addr: &str) -> Scenario {
        self.option("--setup-bind", addr)
    }

    /// `--refuse CALLS`: a seccomp filter makes these calls fail.
    pub(crate) fn refuse(self, calls: &str) -> Scenario {
        self.option("--refuse", calls)
    }

    /// `--high-fd N`: an extra fd duplicated onto fd N (not preserved).
    pub(crate) fn high_fd(self, fd: impl Display) -> Scenario {
        self.option("--high-fd", fd.to_string())
    }

    /// `--nofile N`: `RLIMIT_NOFILE` raised to N before anything else.
    pub(crate) fn nofile(self, n: impl Display) -> Scenario {
        self.option("--nofile", n.to_string())
    }

    /// `--as-user NAME`: the program is run by that user (it becomes the
    /// user first thing).
    pub(crate) fn by_user(self, name: &str) -> Scenario {
        self.option("--as-user", name)
    }

    /// `--print-before TEXT`: left in Rust's buffers just before the start.
    pub(crate) fn print_before(self, text: &str) -> Scenario {
        self.option("--print-before", text)
    }

    /// `--keep-high`: with [`high_fd`](Self::high_fd), also onto fd N+1,
    /// preserved.
    pub(crate) fn keep_high(self) -> Scenario {
        self.arg("--keep-high")
    }

    /// `--log-reopen`: with [`log`](Self::log), reopened on SIGHUP.
    pub(crate) fn log_reopen(self) -> Scenario {
        self.arg("--log-reopen")
    }

    /// `--ignore-stop`: a stop only adds the fact `stop_seen`.
    pub(crate) fn ignore_stop(self) -> Scenario {
        self.arg("--ignore-stop")
    }

    /// `--block-signals`: the stop signals, SIGHUP and SIGUSR1 blocked
    /// before the start, as a careless caller may leave them.
    pub(crate) fn block_signals(self) -> Scenario {
        self.arg("--block-signals")
    }

    /// `--lite`: lite mode.
    pub(crate) fn lite(self) -> Scenario {
        self.arg("--lite")
    }

    /// `--manual`: manual readiness, once the trigger says `ready`.
    pub(crate) fn manual(self) -> Scenario {
        self.arg("--manual")
    }

    /// `--commands`: the mode is the command (`start`, `stop`, ...).
    pub(crate) fn commands(self) -> Scenario {
        self.arg("--commands")
    }

    /// `--debug-log`: a logger at debug level before the start.
    pub(crate) fn debug_log(self) -> Scenario {
        self.arg("--debug-log")
    }

    /// `--graceful`: SIGTERM asks, the body leaves.
    pub(crate) fn graceful(self) -> Scenario {
        self.arg("--graceful")
    }

    /// `--thread`: a thread runs before the start.
    pub(crate) fn thread(self) -> Scenario {
        self.arg("--thread")
    }
}

impl From<Scenario> for Command {
    fn from(scenario: Scenario) -> Command {
        scenario.command()
    }
}

/// What [`run`](super::run) and [`start`](super::start) launch: a
/// `Command` (owned, or borrowed as `Command`'s own methods return it) or
/// a [`Scenario`].
pub(crate) trait Launch {
    /// Spawns the program; fails the test if it cannot be spawned.
    fn launch(self) -> Child;
}

impl Launch for &mut Command {
    fn launch(self) -> Child {
        let program = self.get_program().to_string_lossy().into_owned();
        self.spawn()
            .unwrap_or_else(|e| panic!("spawn {program}: {e}"))
    }
}

impl Launch for Command {
    fn launch(mut self) -> Child {
        (&mut self).launch()
    }
}

impl Launch for Scenario {
    fn launch(mut self) -> Child {
        (&mut self.cmd).launch()
    }
}
