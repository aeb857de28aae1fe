//! Turn an ordinary `fn main` into a well-behaved Unix daemon with one
//! attribute.
//!
//! ```no_run
//! #[daemonizer::daemon(pidfile = "/run/myd.pid", umask = 0o022, lite_if = "DEBUG")]
//! fn main() {
//!     // runs in the daemon, once every start-up step has succeeded
//! }
//! ```
//!
//! In full mode the process detaches (fork, `setsid`, fork), confines itself
//! (chroot, work dir, umask, limits, user and group), installs its signal
//! handlers, closes the fds it inherited, sends stdio to `/dev/null` or to
//! log files and writes its pid file; then the body runs. The launching
//! process waits until the daemon is ready and exits 0, or prints
//! `<program>: cannot start daemon: <step>: <detail>` and exits non-zero:
//! a daemon that cannot start never looks as if it did. With `DEBUG=1` in
//! the environment (`lite_if = "DEBUG"`) the same program runs in the
//! foreground, as a supervisor or a debugging session wants it.
//!
//! This crate is the one to depend on: it re-exports the runtime
//! ([`Daemon`] and everything around it, usable without the attribute) and
//! the [`daemon`] attribute.
//!
//! ## Which entry point
//!
//! | use | when |
//! |---|---|
//! | `#[daemonizer::daemon(...)]` on `fn main` | the settings are known when you write `main` (values may still be expressions): the shortest form, checked at compile time, and composed with `#[tokio::main]` |
//! | [`Daemon::new()`](Daemon)`...start()` | the settings come from a configuration file or the command line, the start is one branch of the program (`myd --foreground`), or the daemon starts somewhere other than the top of `main`; the attribute expands to exactly this |
//! | [`daemonize(Options)`](daemonize), [`daemonize_lite(Options)`](daemonize_lite) | code ported from the Python `daemonize(...)`/`daemonize_lite(...)` keyword arguments: the same names in a struct, converted into a [`Daemon`] |
//!
//! All three run the same steps and report failures the same way.
//!
//! ## The attribute
//!
//! Every key is optional. Values other than literals are Rust expressions,
//! evaluated when `main` starts, in the launching process, in the order
//! written; literals are checked at compile time.
//!
//! | key | value | builder call |
//! |---|---|---|
//! | `pidfile` | a path (`impl AsRef<Path>`): `"/run/myd.pid"`, `dir.join("myd.pid")` | [`Daemon::pidfile`] |
//! | `umask` | an integer literal up to `0o777` | [`Daemon::umask`] |
//! | `lite_if` | a string literal naming an environment variable: lite mode when it is set and not `""`, `"0"`, `"false"`, `"no"` or `"off"` (any case) | [`Daemon::lite_if`] |
//! | `work_dir` | a path; without it a full daemon changes to `/` (lite mode stays in its directory) | [`Daemon::work_dir`] |
//! | `chroot` | a path | [`Daemon::chroot`] |
//! | `user` | a name (`"myd"`) or a uid (`1000`, `0..=4294967294`) | [`Daemon::user`] |
//! | `group` | a name or a gid | [`Daemon::group`] |
//! | `stdout` | a path, appended to (default `/dev/null`) | [`Daemon::stdout`] |
//! | `stderr` | a path, appended to (default `/dev/null`) | [`Daemon::stderr`] |
//! | `preserve` | an fd to keep open: `3`, `&file`, `&log`; or a list `[a, b]` | [`Daemon::preserve`], once per fd |
//! | `signals(SIGHUP = handler, ...)` | per signal, a function or closure taking a [`Signal`]; `SIGKILL` and `SIGSTOP` are refused | [`Daemon::on_signal`] |
//! | `limits(core = 0, nofile = 4096, ...)` | per limit (`as`, `core`, `cpu`, `data`, `fsize`, `locks`, `memlock`, `msgqueue`, `nice`, `nofile`, `nproc`, `rss`, `rtprio`, `rttime`, `sigpending`, `stack`): a `u64`, `unlimited`, or `(soft, hard)` | [`Daemon::limit`], [`Daemon::limits`] |
//! | `ready` | `"auto"` (default: ready once started) or `"manual"` (ready when the body calls [`ready()`]) | [`Daemon::readiness`] |
//! | `on_launched` | a function or closure taking a [`&Launched`](Launched), run by the launcher before it exits 0 (full mode) | [`Daemon::on_launched`] |
//! | `setup` | a function or closure returning `Result<T, E>` (`E: Display`), run as the launching user after the pid file is probed and before detaching, chroot and the privilege drop; every fd it opens stays open; `main` takes its value as its one parameter | [`Daemon::setup`] |
//! | `commands` | `true` or `false` (a literal; commands need `pidfile`): the program's first argument is a command, `start`, `stop`, `status`, `restart` or `reload`, with LSB exit statuses (see [`control`]); or the name of the command run when the program is given no argument, e.g. `commands = "start"` | [`Daemon::commands`], [`Daemon::default_command`] |
//! | `crate` | a string literal: the path of this crate when it is renamed, e.g. `crate = "::my_daemonizer"` | |
//!
//! Misuse is a compile error at the offending token, with the function kept
//! as written next to it: an unknown key (the message lists the valid
//! ones), a key given twice, a literal of the wrong type, an empty path,
//! an id out of range, `umask = 022` (decimal in Rust: write `0o022`), an
//! unknown signal or limit, `main` with generics, a parameter without
//! `setup`, `setup` without a parameter or with two, the
//! attribute on something that is not a function, `async fn main`
//! without a runtime attribute, an unknown command in `commands`, and
//! `commands` without a `pidfile`.
//!
//! The body keeps its signature: `fn main()`, `fn main() -> Result<(), E>`
//! (an `Err` is printed by the Rust runtime, the exit status is non-zero and
//! the pid file is removed; before readiness the launcher prints it:
//! `<program>: cannot start daemon: main: <error>`, with its `Display`, or
//! its `Debug` when it has no `Display`), `fn main() -> ExitCode` and
//! `fn main() -> impl Termination` all work.
//!
//! A complete program, with signal handlers that log and a clean stop:
//!
//! ```no_run
//! use daemonizer::{LogFile, Signal};
//!
//! fn reload(signal: Signal) {
//!     log::info!("{signal}: reloading");
//! }
//!
//! #[daemonizer::daemon(
//!     pidfile = "/run/myd.pid",
//!     stderr = "/var/log/myd.log",
//!     user = "myd",
//!     umask = 0o027,
//!     limits(core = 0, nofile = 4096),
//!     signals(SIGHUP = reload),
//!     lite_if = "DEBUG",
//! )]
//! fn main() -> Result<(), std::io::Error> {
//!     // stderr is the log file (the terminal in lite mode)
//!     LogFile::stderr().install(log::LevelFilter::Info).expect("one logger");
//!     while !daemonizer::stop_requested() {
//!         // one unit of work
//!         # break;
//!     }
//!     log::info!("stopping");
//!     Ok(())
//! }
//! ```
//!
//! ## Equivalent code without the attribute
//!
//! The attribute only writes a builder call into the runtime before the
//! body. This:
//!
//! ```no_run
//! # fn reload(_: daemonizer::Signal) {}
//! #[daemonizer::daemon(pidfile = "/run/myd.pid", umask = 0o022, signals(SIGHUP = reload))]
//! fn main() -> Result<(), std::io::Error> {
//!     std::fs::read_to_string("/etc/myd.conf")?;
//!     Ok(())
//! }
//! ```
//!
//! stands for this:
//!
//! ```no_run
//! use daemonizer::{Daemon, Signal};
//! # fn reload(_: Signal) {}
//!
//! fn main() -> Result<(), std::io::Error> {
//!     let running = Daemon::new()
//!         .pidfile("/run/myd.pid")
//!         .umask(0o022)
//!         .on_signal(Signal::SIGHUP, reload)
//!         .start()
//!         // prints `<program>: cannot start daemon: ...` and exits non-zero
//!         .unwrap_or_else(|err| err.exit());
//!     let result = (move || -> Result<(), std::io::Error> {
//!         std::fs::read_to_string("/etc/myd.conf")?;
//!         Ok(())
//!     })();
//!     // an `Err` before readiness fails the start on the launcher's
//!     // terminal (`main: <error>`); then the pid file is removed
//!     running.finish(result)
//! }
//! ```
//!
//! ## With tokio (or another async runtime)
//!
//! A process must not fork once a runtime's threads exist, so the daemon
//! has to start before the runtime does. Both orders of the attributes
//! ensure that:
//!
//! ```no_run
//! #[daemonizer::daemon(pidfile = "/run/myd.pid", ready = "manual")]
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     daemonizer::ready()?; // the launcher exits 0 now that the port is bound
//!     let stop = tokio::task::spawn_blocking(daemonizer::wait_for_stop);
//!     # drop(listener);
//!     // serve until `stop` completes
//!     stop.await?;
//!     Ok(())
//! }
//! ```
//!
//! - `#[daemonizer::daemon]` above `#[tokio::main]` (as above): the body
//!   becomes an inner `#[tokio::main] async fn`, called once the process is
//!   a daemon.
//! - `#[tokio::main]` above `#[daemonizer::daemon]`: tokio rewrites the
//!   function first into a plain `fn main` that builds its runtime, and the
//!   daemon starts before that.
//!
//! `async fn main` without a runtime attribute is a compile error that says
//! to add one. The runtime also refuses a full start in a process that
//! already has several threads.
//!
//! ## Controlling a daemon
//!
//! With `commands = true` the program is its own init script: `myd start`,
//! `myd stop`, `myd status`, `myd restart`, `myd reload`, with LSB exit
//! statuses and one line each (`myd is running as PID 4242`); the arguments
//! after the command are left for the body. The same requests are library
//! calls on [`control::Control`]. Everything is decided by the pid file's
//! lock, which only the running daemon holds: a stale file or a reused PID
//! is never taken for the daemon, a status probe never makes a start fail,
//! and signals go to the lock holder only.
//!
//! ```no_run
//! fn reload(_: daemonizer::Signal) {
//!     log::info!("reloading");
//! }
//!
//! #[daemonizer::daemon(pidfile = "/run/myd.pid", signals(SIGHUP = reload), commands = true)]
//! fn main() {
//!     let extra: Vec<String> = std::env::args().skip(2).collect();
//!     // ...
//! #   drop(extra);
//! }
//! ```
//!
//! ## The steps, in order
//!
//! [`Daemon::start`] (which the attribute calls) performs, in full mode:
//!
//! | # | step | where |
//! |---|---|---|
//! | 0 | preflight: one thread only, its memory shared with no other process, every path and value checked, user and group names resolved, `/dev/null`, output files and the supervisor's socket opened | launcher |
//! | 1 | pid file: opened with `O_NOFOLLOW` and its lock probed (`F_GETLK`): "already running as PID N" at once; the daemon takes the lock (`F_SETLK`, `F_WRLCK`) right after steps 3 and 7 | launcher, then daemon |
//! | 1b | setup, only with [`setup`](Daemon::setup): the caller's code as the launching user; what it opens stays open | launcher |
//! | 2 | readiness channel: a pipe the launcher waits on | launcher |
//! | 3 | detach: fork, `setsid`, fork, signals blocked and SIGHUP ignored meanwhile | both |
//! | 7 | close inherited fds, keeping preserved ones (`close_range`, else the system's list of open fds), first thing in the daemon | daemon |
//! | 4 | directories and limits: chroot, work dir (`/` in full mode unless given), umask, resource limits | daemon |
//! | 5 | user and group: supplementary groups, gid, uid; root must not be regainable | daemon |
//! | 6 | signal handlers: user handlers on a dedicated thread (only when there are some), SIGTERM and SIGINT without one stop the daemon from the raw handler | daemon |
//! | 8 | stdio to `/dev/null` or the configured files | daemon |
//! | 9 | pid file: the daemon's PID written | daemon |
//! | 10 | ready: the launcher exits 0; `READY=1` to a supervisor | both |
//! | 11 | exit: pid file removed on every way out | daemon |
//!
//! Lite mode does 0, 1, 4, 5, 6, 9, 10 and 11 in the process itself.
//!
//! The classic order (directories and limits, user and group, detach,
//! signals, fds, stdio, pid file, removal) is kept for everything the daemon
//! sees; four things move, each for a reason:
//!
//! - name lookups and opening files move to preflight: after a chroot the
//!   host's `/etc/passwd`, `/dev/null` and log directories are out of reach,
//!   and after a privilege drop a root-owned log directory is;
//! - opening the pid file and probing its lock move before the fork, so
//!   that "already running" reaches the terminal instead of dying unseen in
//!   the background (the lock itself is the daemon's: a record lock belongs
//!   to a process, and forked children never hold it);
//! - detaching moves before directories, limits, user and group, so that
//!   they apply to the daemon alone and the launcher keeps the root
//!   directory and credentials it needs to undo a failed start (remove the
//!   pid file it created); failures of those steps still reach the
//!   terminal through the readiness channel;
//! - closing inherited fds (step 7) moves to the daemon's first action,
//!   before it takes the pid file's lock, which closing any inherited
//!   descriptor of the file would drop, and before the chroot, which would
//!   hide the system's listing of open fds (`/proc/self/fd`, `/dev/fd`).
//!
//! ## Platforms
//!
//! Linux (glibc and musl) first; FreeBSD and macOS build and do every step
//! for real, with the portable equivalent where a call is missing: a
//! self-pipe where there is no `signalfd` or eventfd, `pipe` and
//! `FD_CLOEXEC` where there is no `pipe2`, a `/dev/fd` listing where there
//! is no `close_range` (FreeBSD has it), and where no listing can be read
//! the open fds found by `proc_pidinfo` (macOS) or `poll` (elsewhere, up to
//! the kernel's ceiling on fd numbers), the thread count from `sysctl`
//! (FreeBSD) or `proc_pidinfo` (macOS) where there is no `/proc`, and
//! `setgid`/`setuid` with the same checks where there is no `setresuid`
//! (macOS).
//!
//! Linux only: the `sd_notify` protocol ([`notify`], [`ready`] under a
//! supervisor) and socket activation ([`listen_fds`]). Elsewhere a start
//! whose environment sets `NOTIFY_SOCKET` or `LISTEN_FDS` fails in
//! preflight, naming the variable: nothing there speaks those protocols.
//!
//! Built with `RUSTFLAGS="--cfg daemonizer_portable"`, Linux takes the
//! paths of the other systems, so that they are tested where tests run.
#![cfg(unix)]

pub use daemonizer_core::*;
pub use daemonizer_macros::daemon;

#[doc(hidden)]
pub mod __private {
    pub use daemonizer_core::__private::*;
}
