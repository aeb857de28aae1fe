//! The orchestration: the steps in order, in the launcher and in the
//! daemon, and the state the running daemon keeps.

use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::getpid;

use crate::config::{Daemon, Mode, Output, Readiness};
use crate::detach::{self, Hop};
use crate::dirs;
use crate::error::{Error, ErrorKind, Result, Step};
use crate::fds;
use crate::listen;
use crate::notify::{self, Notifier};
use crate::pidfile::PidFile;
use crate::privileges;
use crate::readiness;
use crate::signals;
use crate::stdio::Stdio;
use crate::sys::{self, threads::Company};

/// What the launcher knows once the daemon is ready; handed to
/// [`Daemon::on_launched`] in full mode.
///
/// ```no_run
/// daemonizer::Daemon::new()
///     .pidfile("/run/myd.pid")
///     .on_launched(|launched| {
///         println!("started as PID {} ({:?})", launched.pid(), launched.pidfile());
///     })
///     .start()
///     .unwrap_or_else(|e| e.exit());
/// ```
#[derive(Debug, Clone)]
pub struct Launched {
    pid: i32,
    pidfile: Option<PathBuf>,
    stdout: Output,
    stderr: Output,
}

impl Launched {
    /// The daemon's PID.
    ///
    /// ```no_run
    /// daemonizer::Daemon::new()
    ///     .on_launched(|launched| println!("PID {}", launched.pid()))
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// ```
    pub fn pid(&self) -> i32 {
        self.pid
    }
    /// The pid file, when there is one.
    ///
    /// ```no_run
    /// daemonizer::Daemon::new()
    ///     .pidfile("/run/myd.pid")
    ///     .on_launched(|launched| println!("pid file: {:?}", launched.pidfile()))
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// ```
    pub fn pidfile(&self) -> Option<&Path> {
        self.pidfile.as_deref()
    }
    /// Where the daemon's stdout goes.
    ///
    /// ```no_run
    /// daemonizer::Daemon::new()
    ///     .stdout("/var/log/myd.out")
    ///     .on_launched(|launched| println!("stdout goes to {:?}", launched.stdout()))
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// ```
    pub fn stdout(&self) -> &Output {
        &self.stdout
    }
    /// Where the daemon's stderr goes.
    ///
    /// ```no_run
    /// daemonizer::Daemon::new()
    ///     .stderr("/var/log/myd.err")
    ///     .on_launched(|launched| println!("stderr goes to {:?}", launched.stderr()))
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// ```
    pub fn stderr(&self) -> &Output {
        &self.stderr
    }
}

/// How long a full-mode daemon waits, once ready, for the launcher to learn
/// the verdict (and, under a supervisor, to relay `READY=1` and exit; see
/// [`readiness::wait_for_launcher`]); it takes milliseconds.
const LAUNCHER_EXIT_LIMIT: Duration = Duration::from_secs(10);

/// State shared by the handle, the signal handlers and the exit hook.
///
/// The raw handler of a stop signal reads it (see [`stop_in_handler`]), so
/// what that path touches is fixed before the handlers are installed, or
/// atomic.
struct Shared {
    pid: i32,
    mode: Mode,
    /// A chroot is configured: the pid file is emptied at exit, not removed.
    chrooted: bool,
    pidfile: Option<PidFile>,
    notifier: Option<Notifier>,
    watchdog: Option<Duration>,
    /// Readiness is still to be reported.
    pending: AtomicBool,
    /// The first stop signal's number; 0 until a stop is requested.
    stop: AtomicI32,
    stop_logged: AtomicBool,
    /// Set once the body asks about stops: a stop request then no longer
    /// ends the process at once.
    watched: AtomicBool,
    stopping_sent: AtomicBool,
}

static SHARED: OnceLock<Shared> = OnceLock::new();
/// The daemon's end of the readiness channel (full mode), until it reports.
static CHANNEL: Mutex<Option<OwnedFd>> = Mutex::new(None);

/// The raw number of the fd in [`CHANNEL`] while the daemon holds it, -1
/// otherwise: what [`forget_channel_in_child`] reads, where no lock may be
/// taken.
static CHANNEL_FD: AtomicI32 = AtomicI32::new(-1);

fn take_channel() -> Option<OwnedFd> {
    CHANNEL_FD.store(-1, Ordering::SeqCst);
    CHANNEL.lock().unwrap_or_else(|p| p.into_inner()).take()
}

fn put_channel(fd: OwnedFd) {
    CHANNEL_FD.store(std::os::fd::AsRawFd::as_raw_fd(&fd), Ordering::SeqCst);
    *CHANNEL.lock().unwrap_or_else(|p| p.into_inner()) = Some(fd);
}

/// Runs in the child of every `fork` (a `pthread_atfork` handler): a child
/// the body forks before the daemon is ready does not keep the readiness
/// channel open. Nothing in the child takes the channel afterwards (only
/// the daemon process reports), so its copy of [`CHANNEL`] is never
/// dropped and the closed number is never closed twice. Async-signal-safe:
/// an atomic and `close(2)`.
extern "C" fn forget_channel_in_child() {
    let fd = CHANNEL_FD.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: closes the child's copy of the channel's write end; see
        // above for why nothing uses the number afterwards.
        unsafe { libc::close(fd) };
    }
    // Nor the pipe the daemon's parent watches it through.
    crate::report::forget_in_child();
}

/// Whether this is the daemon process (not the launcher, not a child the
/// body forked).
pub(crate) fn is_daemon_process() -> bool {
    SHARED
        .get()
        .is_some_and(|shared| getpid().as_raw() == shared.pid)
}

/// Whether readiness is still to be reported.
pub(crate) fn is_pending() -> bool {
    SHARED
        .get()
        .is_some_and(|shared| shared.pending.load(Ordering::SeqCst))
}

/// In a full-mode daemon that has not reported ready: tells the launcher
/// that the start failed with `err`, which it prints and exits with.
/// Anywhere else (lite mode, the launcher, after readiness, a child the
/// body forked) it does nothing.
pub(crate) fn fail_before_ready(err: &Error) {
    let Some(shared) = SHARED.get() else {
        return;
    };
    if shared.mode != Mode::Full || getpid().as_raw() != shared.pid {
        return;
    }
    if shared.pending.swap(false, Ordering::SeqCst) {
        if let Some(fd) = take_channel() {
            readiness::report_error(&fd, err);
        }
    }
}

impl Shared {
    fn notify(&self, state: &str) {
        if let Some(notifier) = &self.notifier {
            if let Err(e) = notifier.send(state) {
                log::warn!("notify: {e}");
            }
        }
    }

    /// Everything a way out must do: announce the stop, remove the pid
    /// file. Only the daemon process itself does it, and only once.
    fn leave(&self) {
        if getpid().as_raw() != self.pid {
            return;
        }
        self.announce_stopping();
        if let Some(pidfile) = &self.pidfile {
            pidfile.remove();
        }
    }

    /// Sends `STOPPING=1` to the supervisor, once.
    fn announce_stopping(&self) {
        if !self.stopping_sent.swap(true, Ordering::SeqCst) {
            self.notify(&notify::stopping_message());
        }
    }

    /// [`announce_stopping`](Shared::announce_stopping) inside a signal
    /// handler: one `send(2)` of a constant message, errors ignored.
    fn announce_stopping_in_handler(&self) {
        if let Some(notifier) = &self.notifier {
            if !self.stopping_sent.swap(true, Ordering::SeqCst) {
                notifier.send_in_handler(notify::STOPPING);
            }
        }
    }

    /// The stop request, seen from normal context (logged the first time).
    fn stop_signal(&self) -> Option<Signal> {
        let signal = match self.stop.load(Ordering::SeqCst) {
            0 => return None,
            n => Signal::try_from(n).ok()?,
        };
        if !self.stop_logged.swap(true, Ordering::SeqCst) {
            log::debug!("stop: {signal}; the body was asked to stop");
        }
        Some(signal)
    }

    /// Records a stop request; `true` for the first one.
    fn record_stop(&self, signal: Signal) -> bool {
        let first = self
            .stop
            .compare_exchange(0, signal as i32, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        wake_stop_waiters();
        first
    }

    fn report_ready(&self) -> Result<()> {
        if getpid().as_raw() != self.pid {
            // A child the body forked must not tell the launcher, or the
            // supervisor, that the daemon is ready.
            return Err(Error::new(
                Step::Ready,
                ErrorKind::Software,
                format!(
                    "ready() called in PID {}, a process the daemon (PID {}) forked; \
                     only the daemon reports readiness",
                    getpid(),
                    self.pid
                ),
            ));
        }
        if !self.pending.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        match self.mode {
            // Full mode: the launcher relays READY=1 with MAINPID, as the
            // process the supervisor started.
            Mode::Full => match take_channel() {
                Some(fd) => {
                    readiness::report_ready(&fd, self.pid)?;
                    crate::report::ready();
                    readiness::wait_for_launcher(&fd, LAUNCHER_EXIT_LIMIT);
                }
                None => {
                    return Err(Error::new(
                        Step::Ready,
                        ErrorKind::Software,
                        "the launcher's channel is gone",
                    ))
                }
            },
            Mode::Lite => {
                if let Some(notifier) = &self.notifier {
                    notifier.send(&notify::ready_message(None))?;
                }
            }
        }
        log::debug!("ready: PID {}", self.pid);
        Ok(())
    }

    /// A stop asked for in normal context ([`request_stop`]).
    fn request_stop(&self, signal: Signal) {
        let first = self.record_stop(signal);
        self.announce_stopping();
        if !first || !self.watched.load(Ordering::SeqCst) {
            log::debug!("stop: {signal}; exiting");
            self.leave();
            std::process::exit(0);
        }
    }
}

/// Wakes every thread blocked in [`wait_for_stop_timeout`] (see
/// [`sys::wake`]). Async-signal-safe.
fn wake_stop_waiters() {
    sys::wake::wake();
}

/// What SIGTERM and SIGINT without a user handler do, inside the raw signal
/// handler (so only async-signal-safe calls: atomics, `send`, `unlinkat`,
/// `ftruncate`, `_exit`).
///
/// Until the body watches for stops, and for a second stop signal, the
/// daemon ends here: `STOPPING=1`, the pid file removed, `_exit(0)`. No
/// thread is needed for that, so a daemon without user handlers stays
/// single-threaded. Otherwise the request is recorded and the waiters are
/// woken.
fn stop_in_handler(signal: Signal) {
    let Some(shared) = SHARED.get() else {
        return;
    };
    // SAFETY: getpid(2) is async-signal-safe and cannot fail.
    if unsafe { libc::getpid() } != shared.pid {
        // A child the body forked: the daemon's way out is not its own.
        signals::default_action_now(signal);
        return;
    }
    let first = shared.record_stop(signal);
    shared.announce_stopping_in_handler();
    if !first || !shared.watched.load(Ordering::SeqCst) {
        if let Some(pidfile) = &shared.pidfile {
            // Under chroot the directory fd is closed by the time the body
            // runs (maybe right now, on another thread): never use it here.
            pidfile.remove_in_handler(!shared.chrooted);
        }
        // SAFETY: _exit(2) is async-signal-safe and ends the process.
        unsafe { libc::_exit(0) }
    }
}

fn reload_hook(before: bool) {
    if let Some(shared) = SHARED.get() {
        // Before start-up is complete (manual readiness) there is nothing
        // to reload yet, and READY=1 afterwards would report it complete.
        if shared.pending.load(Ordering::SeqCst) {
            return;
        }
        if before {
            shared.notify(&notify::reloading_message());
        } else {
            shared.notify(&notify::ready_message(None));
        }
    }
}

/// Registers [`at_exit`] and the fork handler [`forget_channel_in_child`],
/// once per process. It is done in the launcher,
/// before any fork: the daemon inherits the registration and need not write
/// into the C library's memory; in a launcher whose start fails, the hook
/// finds no daemon state and does nothing.
fn register_at_exit() -> Result<()> {
    static REGISTERED: AtomicBool = AtomicBool::new(false);
    if REGISTERED.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    // SAFETY: registers a plain extern "C" function with no captured state.
    if unsafe { libc::atexit(at_exit) } != 0 {
        REGISTERED.store(false, Ordering::SeqCst);
        return Err(Error::new(
            Step::Preflight,
            ErrorKind::Os,
            "atexit registration failed",
        ));
    }
    // The fork handler, registered here for the same reason; it does
    // nothing until the daemon holds its channel.
    // SAFETY: registers a plain extern "C" function for the child side
    // only; it is async-signal-safe.
    let rc = unsafe { libc::pthread_atfork(None, None, Some(forget_channel_in_child)) };
    if rc != 0 {
        return Err(Error::os(
            Step::Preflight,
            "pthread_atfork",
            nix::errno::Errno::from_raw(rc),
        ));
    }
    Ok(())
}

extern "C" fn at_exit() {
    if let Some(shared) = SHARED.get() {
        shared.leave();
    }
}

/// The running daemon: owns the pid-file lock.
///
/// Dropping it (at the end of `main`, or while a panic unwinds) removes the
/// pid file; so does `std::process::exit` and a stop signal. Only the
/// daemon process does that, never a child it forked.
///
/// ```no_run
/// let running = daemonizer::Daemon::new()
///     .pidfile("/run/myd.pid")
///     .start()
///     .unwrap_or_else(|e| e.exit());
/// log::info!("running as PID {} in {:?} mode", running.pid(), running.mode());
/// // Dropped at the end of `main`: the pid file is removed.
/// ```
#[derive(Debug)]
pub struct Daemonized {
    pid: i32,
    mode: Mode,
    setup: crate::setup::SetupValue,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Daemonized {
    /// The daemon's PID.
    ///
    /// ```no_run
    /// let running = daemonizer::Daemon::new().start().unwrap_or_else(|e| e.exit());
    /// assert_eq!(running.pid(), std::process::id() as i32);
    /// ```
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The mode it was started in.
    ///
    /// ```no_run
    /// let running = daemonizer::Daemon::new()
    ///     .lite_if("DEBUG")
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// log::info!("started in {:?} mode", running.mode());
    /// ```
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The pid file, when there is one.
    ///
    /// ```no_run
    /// let running = daemonizer::Daemon::new()
    ///     .pidfile("/run/myd.pid")
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// assert_eq!(running.pidfile(), Some(std::path::Path::new("/run/myd.pid")));
    /// ```
    pub fn pidfile(&self) -> Option<&Path> {
        SHARED.get()?.pidfile.as_ref().map(PidFile::path)
    }

    /// See [`stop_requested`].
    ///
    /// ```no_run
    /// let running = daemonizer::Daemon::new().start().unwrap_or_else(|e| e.exit());
    /// while !running.stop_requested() {
    ///     // one unit of work
    /// }
    /// ```
    pub fn stop_requested(&self) -> bool {
        stop_requested()
    }

    /// See [`wait_for_stop`].
    ///
    /// ```no_run
    /// let running = daemonizer::Daemon::new().start().unwrap_or_else(|e| e.exit());
    /// let signal = running.wait_for_stop();
    /// log::info!("{signal}: stopping");
    /// ```
    pub fn wait_for_stop(&self) -> Signal {
        wait_for_stop()
    }

    /// See [`wait_for_stop_timeout`].
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// let running = daemonizer::Daemon::new().start().unwrap_or_else(|e| e.exit());
    /// while running.wait_for_stop_timeout(Duration::from_secs(60)).is_none() {
    ///     // once a minute
    /// }
    /// ```
    pub fn wait_for_stop_timeout(&self, timeout: Duration) -> Option<Signal> {
        wait_for_stop_timeout(timeout)
    }

    /// See [`ready`].
    ///
    /// ```no_run
    /// use daemonizer::{Daemon, Readiness};
    ///
    /// let running = Daemon::new()
    ///     .readiness(Readiness::Manual)
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// let listener = std::net::TcpListener::bind("127.0.0.1:8080");
    /// running.ready().unwrap_or_else(|e| e.exit());
    /// # drop(listener);
    /// ```
    pub fn ready(&self) -> Result<()> {
        ready()
    }

    /// The value of the setup step, once.
    pub(crate) fn take_setup_value(&mut self) -> Option<Box<dyn std::any::Any>> {
        self.setup.0.take()
    }

    /// Ends the daemon's life cycle with what `main` returns, as the
    /// attribute does: an `Err` before the daemon is ready (manual
    /// readiness) fails the start, and the launcher prints
    /// `<program>: cannot start daemon: main: <the error>` and exits 70.
    /// Then the handle is dropped (the pid file is removed).
    ///
    /// ```no_run
    /// use daemonizer::{Daemon, Readiness};
    ///
    /// fn main() -> std::io::Result<()> {
    ///     let running = Daemon::new()
    ///         .readiness(Readiness::Manual)
    ///         .start()
    ///         .unwrap_or_else(|e| e.exit());
    ///     let result = (|| {
    ///         let listener = std::net::TcpListener::bind("127.0.0.1:8080")?;
    ///         daemonizer::ready()?;
    ///         for stream in listener.incoming() {
    ///             drop(stream?);
    ///         }
    ///         Ok(())
    ///     })();
    ///     running.finish(result)
    /// }
    /// ```
    pub fn finish<T, E: std::fmt::Display>(
        self,
        result: std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        if let Err(e) = &result {
            crate::report::main_failed(e.to_string());
        }
        drop(self);
        result
    }
}

impl Drop for Daemonized {
    fn drop(&mut self) {
        if std::thread::panicking() {
            crate::report::panicked();
        }
        if let Some(shared) = SHARED.get() {
            shared.leave();
        }
    }
}

fn watched() -> Option<&'static Shared> {
    let shared = SHARED.get()?;
    shared.watched.store(true, Ordering::SeqCst);
    Some(shared)
}

/// Whether SIGTERM or SIGINT (without a user handler) asked the daemon to
/// stop.
///
/// The first call also changes what such a signal does: until then it ends
/// the daemon at once, from inside the signal handler (cleanly for the
/// outside world: `STOPPING=1` to a supervisor, pid file removed, exit
/// status 0; but as `_exit` does, without running destructors, `atexit`
/// hooks or flushing buffers); from then on it only sets this flag, so the
/// body can shut down gracefully. A second stop signal still ends the
/// daemon at once.
///
/// ```no_run
/// #[daemonizer::daemon(pidfile = "/run/myd.pid")]
/// fn main() {
///     while !daemonizer::stop_requested() {
///         // one unit of work
///     }
///     // flush, close, say goodbye
/// }
/// ```
pub fn stop_requested() -> bool {
    watched().is_some_and(|s| s.stop_signal().is_some())
}

/// Blocks until a stop is requested and returns the signal that asked for
/// it (see [`stop_requested`] for what changes with the first call). Outside
/// a started daemon it returns at once with `SIGTERM`.
///
/// ```no_run
/// #[daemonizer::daemon(pidfile = "/run/myd.pid")]
/// fn main() {
///     std::thread::spawn(|| loop {
///         // work
/// #       break;
///     });
///     let signal = daemonizer::wait_for_stop();
///     log::info!("{signal}: stopping");
/// }
/// ```
pub fn wait_for_stop() -> Signal {
    loop {
        if let Some(signal) = wait_for_stop_timeout(Duration::from_secs(3600)) {
            return signal;
        }
    }
}

/// Like [`wait_for_stop`], giving up after `timeout` (`None`).
///
/// ```no_run
/// use std::time::Duration;
///
/// #[daemonizer::daemon(pidfile = "/run/myd.pid")]
/// fn main() {
///     while daemonizer::wait_for_stop_timeout(Duration::from_secs(60)).is_none() {
///         // once a minute
///     }
/// }
/// ```
pub fn wait_for_stop_timeout(timeout: Duration) -> Option<Signal> {
    let Some(shared) = watched() else {
        return Some(Signal::SIGTERM);
    };
    // Created before the flag is read: a stop recorded after the read
    // finds the wake-up fd and wakes this thread.
    let wake = sys::wake::fd()
        .inspect_err(|e| log::warn!("stop: no wake-up fd ({e}); waiting by polling"))
        .ok();
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(signal) = shared.stop_signal() {
            return Some(signal);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        match wake {
            Some(fd) => {
                let mut pfd = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // Rounded up to a whole millisecond: never wakes early.
                let ms = left.as_nanos().div_ceil(1_000_000);
                let ms = libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX);
                // SAFETY: one valid pollfd, alive for the call. EINTR and a
                // timeout both lead back to the checks above.
                unsafe { libc::poll(&mut pfd, 1, ms) };
            }
            // Without a wake-up fd (no fd left): look again every 10 ms.
            None => std::thread::sleep(left.min(Duration::from_millis(10))),
        }
    }
}

/// Asks the daemon to stop, as SIGTERM would (for a handler or another
/// thread of the body).
///
/// ```no_run
/// use daemonizer::{Daemon, Signal};
///
/// let running = Daemon::new()
///     .on_signal(Signal::SIGUSR2, |_| daemonizer::request_stop())
///     .start()
///     .unwrap_or_else(|e| e.exit());
/// running.wait_for_stop();
/// ```
pub fn request_stop() {
    if let Some(shared) = SHARED.get() {
        shared.request_stop(Signal::SIGTERM);
    }
}

/// Reports that start-up is complete, under [`Readiness::Manual`]: in full
/// mode the launcher exits 0 now; under a supervisor `READY=1` is sent.
/// Calling it again, or under [`Readiness::Auto`], does nothing. Only the
/// daemon process reports: in a child it forked this is an error (such a
/// child does not even hold the launcher's channel).
///
/// In full mode under a supervisor it returns once the launcher has sent
/// `READY=1` and `MAINPID=` and exited, so that whatever the body sends
/// next reaches the supervisor after them.
///
/// ```no_run
/// let daemon = daemonizer::Daemon::new()
///     .readiness(daemonizer::Readiness::Manual)
///     .start()
///     .unwrap_or_else(|e| e.exit());
/// let listener = std::net::TcpListener::bind("127.0.0.1:8080").unwrap();
/// daemonizer::ready().unwrap();
/// # drop((daemon, listener));
/// ```
pub fn ready() -> Result<()> {
    match SHARED.get() {
        Some(shared) => shared.report_ready(),
        None => Err(Error::new(
            Step::Ready,
            ErrorKind::Software,
            "ready() called before the daemon started",
        )),
    }
}

/// Sends a raw state string (e.g. `"STATUS=warming up"`) to the
/// supervisor; `false` when no supervisor listens (`NOTIFY_SOCKET` was not
/// set at start).
///
/// ```no_run
/// if daemonizer::notify("STATUS=warming up").unwrap_or(false) {
///     // a supervisor listens
/// }
/// ```
pub fn notify(state: &str) -> Result<bool> {
    match SHARED.get().and_then(|s| s.notifier.as_ref()) {
        Some(notifier) => notifier.send(state).map(|()| true),
        None => Ok(false),
    }
}

/// The interval within which the supervisor expects [`notify_watchdog`]
/// (from `WATCHDOG_USEC`, when `WATCHDOG_PID` is unset or names the process
/// the supervisor started); `None` when no watchdog is set.
///
/// Ping at half the interval:
///
/// ```no_run
/// if let Some(interval) = daemonizer::watchdog() {
///     std::thread::spawn(move || loop {
///         let _ = daemonizer::notify_watchdog();
///         std::thread::sleep(interval / 2);
///     });
/// }
/// ```
pub fn watchdog() -> Option<Duration> {
    SHARED.get()?.watchdog
}

/// Sends `STATUS=<text>` (a line shown by `systemctl status`); `false`
/// when no supervisor listens.
///
/// ```no_run
/// let _ = daemonizer::notify_status("serving 3 clients");
/// ```
pub fn notify_status(text: &str) -> Result<bool> {
    notify(&notify::status_message(text))
}

/// Sends `WATCHDOG=1` to the supervisor; `false` when there is none.
///
/// ```no_run
/// let _ = daemonizer::notify_watchdog();
/// ```
pub fn notify_watchdog() -> Result<bool> {
    notify(&notify::watchdog_message())
}

/// Refuses a full start while another thread, or another process, shares
/// this process's memory: a fork copies the calling thread alone, and a
/// lock another one holds at that moment stays locked forever in the copy.
/// How each system answers is in [`sys::threads`].
fn check_alone() -> Result<()> {
    let what = match sys::threads::alone() {
        Ok(Company::Alone) => return Ok(()),
        Ok(Company::Threads(n)) => format!("the process runs {n} threads"),
        Ok(Company::SharedMemory) => {
            "the process shares its memory with another process".to_owned()
        }
        Err((what, e)) => return Err(Error::io(Step::Preflight, what, &e)),
    };
    Err(Error::new(
        Step::Preflight,
        ErrorKind::Software,
        format!(
            "{what}; start the daemon before any thread or async runtime is created \
             (call Daemon::start first thing in main, or put #[daemonizer::daemon] above \
             #[tokio::main] and any other attribute), or use lite mode"
        ),
    ))
}

/// Everything prepared in the launcher.
struct Prepared {
    daemon: Daemon,
    creds: Option<privileges::Credentials>,
    stdio: Option<Stdio>,
    notifier: Option<Notifier>,
    watchdog: Option<Duration>,
    listen: Vec<RawFd>,
    pidfile: Option<PidFile>,
    /// Full mode: signals blocked since before the pid file was opened.
    blocked: Option<signals::Blocked>,
    /// `NOTIFY_SOCKET` names a supervisor and must be removed from the
    /// environment.
    unset_notify: bool,
    /// The setup step's value, for the body.
    setup: Option<Box<dyn std::any::Any>>,
}

impl Daemon {
    /// Runs the daemonization steps, in this order (full mode; lite mode
    /// skips 2, 3, 7 and 8):
    ///
    /// 0. preflight, in the launcher: refuse a process with several threads
    ///    (or sharing its memory with another process), and PID 1 (the init
    ///    of a container, whose exit would kill the daemon: use lite mode);
    ///    check every path and value; resolve user and group names (from
    ///    the host's databases, before any chroot); open `/dev/null`, the
    ///    output files and the supervisor's socket;
    /// 1. pid file: open and probe the lock (a running daemon means
    ///    "already running as PID N", and the file is not touched); the
    ///    lock itself is taken by the daemon, first thing after step 3
    ///    (lite mode: by the process, now);
    ///    then, with [`setup`](Daemon::setup), the caller's setup, as the
    ///    launching user (what it opens stays open in the daemon);
    /// 2. readiness channel: a pipe the launcher waits on;
    /// 3. detach: fork, `setsid`, fork, with signals blocked and SIGHUP
    ///    ignored; the daemon is not a session leader;
    /// 4. directories and limits: chroot, work dir (`/` in full mode when
    ///    none is given), umask, resource limits;
    /// 5. user and group: supplementary groups, gid, uid, then a check that
    ///    root cannot be regained;
    /// 6. signal handlers (a thread runs them in normal context);
    /// 7. close inherited fds, keeping the preserved ones;
    /// 8. stdio to `/dev/null` or the configured files;
    /// 9. pid file: write the daemon's PID;
    /// 10. ready: tell the launcher (which exits 0) and the supervisor.
    ///
    /// In full mode, on success, this returns in the daemon only: the
    /// launching process exits with status 0 once the daemon is ready (after
    /// running [`on_launched`](Daemon::on_launched)). Any failure, before or
    /// after the fork, is returned in the launching process, with nothing
    /// left behind: no daemon, no pid file created by this start, no output
    /// file it created (found through the directory it was created in,
    /// whatever path led there).
    ///
    /// # Errors
    /// The failing step, the value involved and the OS error; see
    /// [`ErrorKind`] for the exit statuses [`Error::exit`] uses.
    ///
    /// ```no_run
    /// let running = daemonizer::Daemon::new()
    ///     .pidfile("/run/myd.pid")
    ///     .start()
    ///     // `<program>: cannot start daemon: <step>: <detail>`, exit status
    ///     .unwrap_or_else(|e| e.exit());
    /// // in the daemon
    /// # drop(running);
    /// ```
    pub fn start(self) -> Result<Daemonized> {
        if SHARED.get().is_some() {
            return Err(already_daemonized());
        }
        if self.commands {
            return crate::commands::start_with_command(self);
        }
        self.start_now()
    }

    /// [`start`](Daemon::start), the command (if any) being dealt with.
    pub(crate) fn start_now(self) -> Result<Daemonized> {
        let prepared = preflight(self)?;
        match prepared.daemon.mode {
            Mode::Full => launch(prepared),
            Mode::Lite => run_steps(prepared, Vec::new()).inspect_err(|_| {
                if let Some(pidfile) = SHARED.get().and_then(|s| s.pidfile.as_ref()) {
                    pidfile.discard();
                }
            }),
        }
    }
}

/// The device and inode of the pid file when this process is the daemon
/// holding its lock: control requests must not open it (closing any
/// descriptor of it would drop the lock).
pub(crate) fn own_pidfile() -> Option<(u64, u64)> {
    SHARED.get()?.pidfile.as_ref()?.held_identity()
}

fn already_daemonized() -> Error {
    Error::new(
        Step::Preflight,
        ErrorKind::Software,
        "this process has already been daemonized",
    )
}

/// Refuses a full start in PID 1: the first process of a PID namespace (a
/// container's init). When it exits the kernel kills every process of the
/// namespace, so a daemon it detached would die with the launcher's exit
/// status 0, leaving its pid file behind.
fn check_not_init() -> Result<()> {
    if getpid().as_raw() != 1 {
        return Ok(());
    }
    Err(Error::new(
        Step::Preflight,
        ErrorKind::Software,
        "the process is PID 1 (the init of a container or PID namespace): a detached \
         daemon would be killed as soon as the launcher exits; use lite mode",
    ))
}

/// Step 0 and step 1, in the launcher.
fn preflight(mut daemon: Daemon) -> Result<Prepared> {
    log::debug!("preflight: {:?}", daemon);
    crate::stdio::fill_standard_fds()?;
    daemon.resolve_mode()?;
    daemon.resolve_paths()?;
    let full = daemon.mode == Mode::Full;
    if full {
        check_not_init()?;
        check_alone()?;
        fds::check_open(&daemon.preserve)?;
    }
    signals::check(&daemon.handlers)?;
    dirs::preflight(
        daemon.chroot.as_deref(),
        daemon.work_dir.as_deref(),
        daemon.umask,
        &daemon.limits,
    )?;
    let creds = privileges::resolve(daemon.user.as_ref(), daemon.group.as_ref())?;
    let notifier = Notifier::from_env()?;
    // An empty NOTIFY_SOCKET names no supervisor: leaving it is harmless.
    let unset_notify = !daemon.keep_notify_socket && notifier.is_some();
    // The variables address the process the supervisor started: this one.
    let watchdog = notify::watchdog_from_env(getpid().as_raw());
    let listen = listen::take_from_env(getpid().as_raw())?;
    let listen_fds: Vec<RawFd> = listen.iter().map(|(fd, _)| *fd).collect();
    listen::store(listen);
    register_at_exit()?;
    // From here on files may be created (output files, the pid file): a
    // stop signal must not end the launcher before it can undo the start,
    // so signals are blocked first, and a failure removes what was created.
    let blocked = if full {
        Some(signals::block_for_fork()?)
    } else {
        None
    };
    let mut prepared = Prepared {
        daemon,
        creds,
        stdio: None,
        notifier,
        watchdog,
        listen: listen_fds,
        pidfile: None,
        blocked,
        unset_notify,
        setup: None,
    };
    match prepared.open_files().and_then(|()| prepared.run_setup()) {
        Ok(()) => Ok(prepared),
        Err(e) => {
            prepared.undo();
            Err(e)
        }
    }
}

impl Prepared {
    /// The fds the daemon's sweep keeps: the preserved ones and everything
    /// the runtime opened for the daemon, `channel` (the readiness pipe's
    /// write end) among them. Room is left for the signal thread's pipe.
    fn keep_list(&self, channel: RawFd) -> Vec<RawFd> {
        let mut keep: Vec<RawFd> = Vec::with_capacity(self.daemon.preserve.len() + 16);
        keep.extend(&self.daemon.preserve);
        keep.extend(self.pidfile.iter().flat_map(PidFile::fds));
        keep.push(channel);
        keep.extend(self.stdio.iter().flat_map(Stdio::fds));
        keep.extend(self.notifier.iter().map(Notifier::raw_fd));
        keep.extend(&self.listen);
        keep
    }

    /// Who may own the files the daemon opens: root and the daemon's user.
    fn trust(&self) -> crate::pathsafe::Trust {
        self.creds.as_ref().map_or_else(
            crate::pathsafe::Trust::current,
            privileges::Credentials::trust,
        )
    }

    /// Opens `/dev/null` and the output files (full mode), then the pid
    /// file.
    fn open_files(&mut self) -> Result<()> {
        if self.daemon.mode == Mode::Full {
            let trust = self.trust();
            self.stdio = Some(Stdio::open(
                &self.daemon.stdout,
                &self.daemon.stderr,
                trust,
            )?);
        }
        if let Some(path) = self.daemon.pidfile.take() {
            // Checked before the lock: locking empties the file, and the
            // daemon would then log into its own pid file.
            if let Some(stream) = self.stdio.as_ref().and_then(|s| s.output_at(&path)) {
                return Err(Error::new(
                    Step::PidFile,
                    ErrorKind::Config,
                    format!("{}: is also the {stream} file, refused", path.display()),
                ));
            }
            let pidfile = self.pidfile.insert(PidFile::open(&path, self.trust())?);
            // Lite mode: this process is the daemon and takes the lock now;
            // a full start's daemon takes it right after detaching.
            if self.daemon.mode == Mode::Lite {
                pidfile.lock()?;
            }
        }
        Ok(())
    }

    /// Runs the setup step, once the pid file is probed: what it opens is
    /// kept through the fd sweep. A thread it left running would make the
    /// forks unsafe: refused as at the start of preflight.
    fn run_setup(&mut self) -> Result<()> {
        let Some(setup) = self.daemon.setup.take() else {
            return Ok(());
        };
        let (value, opened) = crate::setup::run(setup)?;
        log::debug!("setup: done; keeping fds {opened:?}");
        self.daemon.preserve.extend(opened);
        self.setup = Some(value);
        if self.daemon.mode == Mode::Full {
            check_alone().map_err(|e| {
                Error::new(Step::Setup, e.kind(), format!("after it: {}", e.detail()))
            })?;
        }
        Ok(())
    }

    /// Undoes a failed start in the launcher: removes the files it created
    /// and restores the signal mask. The mask comes last: a stop signal
    /// still pending is delivered then and may end the launcher.
    fn undo(&mut self) {
        if let Some(pidfile) = &self.pidfile {
            pidfile.discard();
        }
        if let Some(stdio) = &self.stdio {
            stdio.discard();
        }
        if let Some(blocked) = self.blocked.take() {
            blocked.restore();
        }
    }
}

/// Flushes Rust's stdout and stderr buffers.
fn flush_stdio() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

/// Steps 2 and 3, then the launcher's wait; the daemon goes on with
/// [`run_steps`].
fn launch(mut prepared: Prepared) -> Result<Daemonized> {
    // Whatever the caller printed goes out now, once: not again from the
    // daemon's copy of the buffers (into its log file, say).
    flush_stdio();
    let (rx, tx) = readiness::channel().inspect_err(|_| prepared.undo())?;
    let mut keep = prepared.keep_list(std::os::fd::AsRawFd::as_raw_fd(&tx));
    keep.push(crate::report::prepare_watch().inspect_err(|_| prepared.undo())?);
    log::debug!("detach: forking");
    // SAFETY: the process has one thread (checked in preflight) and every
    // signal blocked since then.
    let hop = unsafe { detach::detach(&tx) };
    if !matches!(hop, Ok(Hop::Daemon)) {
        crate::report::launcher_done();
    }
    match hop {
        Err(e) => {
            prepared.undo();
            Err(e)
        }
        Ok(Hop::Launcher { child }) => {
            drop(tx);
            let caller_mask = *prepared
                .blocked
                .as_ref()
                .expect("a full start blocks signals in preflight")
                .mask();
            match readiness::wait(&rx, child, &caller_mask) {
                Ok(pid) => {
                    // The verdict is known: let the body run. Under a
                    // supervisor the channel stays open until the launcher
                    // exits, after READY=1 (see `wait_for_launcher`).
                    if prepared.notifier.is_none() {
                        drop(rx);
                    }
                    if let Some(notifier) = &prepared.notifier {
                        if let Err(e) = notifier.send(&notify::ready_message(Some(pid))) {
                            log::warn!("notify: {e}");
                        }
                    }
                    if let Some(announce) = prepared.daemon.on_launched.take() {
                        // The caller's code may wait for children of its
                        // own: it must not meet ours.
                        readiness::reap(child);
                        announce(&Launched {
                            pid,
                            pidfile: prepared.pidfile.as_ref().map(|p| p.path().to_owned()),
                            stdout: prepared.daemon.stdout.clone(),
                            stderr: prepared.daemon.stderr.clone(),
                        });
                        flush_stdio();
                    }
                    // The launcher's work is done; `_exit` skips exit hooks
                    // that belong to the daemon's life, not the launcher's.
                    // SAFETY: _exit ends the process at once.
                    unsafe { libc::_exit(0) }
                }
                Err(e) => {
                    if let Some(pidfile) = &prepared.pidfile {
                        pidfile.wait_released(child.as_raw(), readiness::GONE_LIMIT);
                        pidfile.empty_if_left_by(child.as_raw());
                    }
                    prepared.undo();
                    Err(e)
                }
            }
        }
        Ok(Hop::Daemon) => {
            drop(rx);
            crate::report::daemon_side();
            log::debug!("detach: daemon PID {}", getpid());
            put_channel(tx);
            match run_steps(prepared, keep) {
                Ok(running) => Ok(running),
                Err(e) => {
                    if let Some(tx) = take_channel() {
                        readiness::report_error(&tx, &e);
                    }
                    // A launcher that is gone (killed) cannot undo the
                    // start: a pid file this daemon wrote goes with it.
                    if let Some(pidfile) = SHARED.get().and_then(|s| s.pidfile.as_ref()) {
                        pidfile.remove();
                    }
                    // SAFETY: the failed daemon leaves without running the
                    // caller's code; the launcher reports the error.
                    unsafe { libc::_exit(i32::from(e.exit_code())) }
                }
            }
        }
    }
}

/// Steps 4 to 10: in the daemon (full mode) or in the process itself (lite
/// mode).
///
/// `keep` lists the fds the sweep of step 7 keeps (full mode), made in the
/// launcher: the daemon, fresh from the fork, copies a page of memory for
/// each one it writes first, so it builds as little as it can.
fn run_steps(prepared: Prepared, mut keep: Vec<RawFd>) -> Result<Daemonized> {
    let Prepared {
        daemon,
        creds,
        stdio,
        notifier,
        watchdog,
        listen: _,
        mut pidfile,
        blocked,
        unset_notify,
        setup,
    } = prepared;
    let pid = getpid().as_raw();
    // Step 1 in the daemon, before any other: the lock belongs to the
    // process that holds it and is not inherited, so the daemon takes it
    // itself. A start that loses the race reports "already running" to
    // its launcher and leaves the winner's file alone.
    if daemon.mode == Mode::Full {
        if let Some(pidfile) = &mut pidfile {
            if let Some(stdio) = &stdio {
                pidfile.retire_inherited(&keep, stdio.null_fd())?;
            }
            pidfile.lock()?;
            // A replaced file has a new fd: the sweep keeps it too.
            keep.push(pidfile.file_fd());
        }
    }
    // From here on the pid file lives in the shared state, where every way
    // out (error, drop, exit, stop signal) finds it.
    let shared = Shared {
        pid,
        mode: daemon.mode,
        chrooted: daemon.chroot.is_some(),
        pidfile,
        notifier,
        watchdog,
        pending: AtomicBool::new(true),
        stop: AtomicI32::new(0),
        stop_logged: AtomicBool::new(false),
        watched: AtomicBool::new(false),
        stopping_sent: AtomicBool::new(false),
    };
    if let Err(lost) = SHARED.set(shared) {
        // Another thread's lite start won the race.
        if let Some(pidfile) = &lost.pidfile {
            pidfile.discard();
        }
        return Err(already_daemonized());
    }
    let shared = SHARED.get().expect("just set");
    crate::report::install_panic_hook(shared.mode == Mode::Full);

    // A full daemon leaves the launcher's directory (and its mount) alone
    // unless told where to go; lite mode stays where it was started.
    let work_dir = match (&daemon.work_dir, daemon.mode) {
        (None, Mode::Full) => Some(Path::new("/")),
        (dir, _) => dir.as_deref(),
    };
    dirs::apply_dirs(daemon.chroot.as_deref(), work_dir, daemon.umask)?;
    dirs::apply_limits(&daemon.limits)?;
    if let Some(creds) = &creds {
        creds.apply()?;
    }

    // The notifier is connected already; the body's children, started
    // before or after a manual `ready()`, must not reach the supervisor.
    // Done before a signal thread can start, while no other thread of ours
    // can read the environment.
    if unset_notify {
        notify::unset_env();
    }

    let user_handles_hup = daemon.handlers.iter().any(|(s, _)| *s == Signal::SIGHUP);
    let installed = signals::install(daemon.handlers, stop_in_handler, reload_hook)?;
    keep.extend(installed.fds());
    match blocked {
        Some(blocked) => signals::unblock(blocked, user_handles_hup)?,
        // Lite mode blocked nothing, but the caller may have.
        None => signals::unblock_all()?,
    }

    if let Some(stdio) = stdio {
        let method = fds::close_inherited(&keep)?;
        log::debug!("close fds: done with {method:?}");
        stdio.redirect()?;
    }

    if let Some(pidfile) = &shared.pidfile {
        pidfile.write_pid(pid)?;
    }
    if daemon.readiness == Readiness::Auto {
        shared.report_ready()?;
    }
    if daemon.chroot.is_some() {
        // The start can no longer fail: give up the pid file's directory,
        // which lies outside the chroot, before the body runs.
        if let Some(pidfile) = &shared.pidfile {
            pidfile.close_dir();
        }
    }
    Ok(Daemonized {
        pid,
        mode: shared.mode,
        setup: crate::setup::SetupValue(setup),
        _not_send: std::marker::PhantomData,
    })
}
