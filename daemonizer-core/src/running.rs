//! The running daemon: the state it keeps, its way out (stop signals,
//! exit, drop), and the stop and readiness functions the body calls.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use nix::unistd::getpid;

use crate::config::Mode;
#[cfg(doc)]
use crate::config::Readiness;
use crate::deadline::Deadline;
use crate::error::{Error, ErrorKind, Result, Step};
use crate::names::Signal;
use crate::notify::{self, Notifier};
use crate::pidfile::PidFile;
use crate::readiness;
use crate::signals;
use crate::sys;

/// How long a full-mode daemon waits, once ready, for the launcher to learn
/// the verdict (and, under a supervisor, to relay `READY=1` and exit; see
/// [`readiness::wait_for_launcher`]); it takes milliseconds.
const LAUNCHER_EXIT_LIMIT: Duration = Duration::from_secs(10);

/// State shared by the handle, the signal handlers and the exit hook.
///
/// The raw handler of a stop signal reads it (see [`stop_in_handler`]), so
/// what that path touches is fixed before the handlers are installed, or
/// atomic.
pub(crate) struct Shared {
    pid: i32,
    pub(crate) mode: Mode,
    /// A chroot is configured: the pid file is emptied at exit, not removed.
    chrooted: bool,
    pub(crate) pidfile: Option<PidFile>,
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

pub(crate) static SHARED: OnceLock<Shared> = OnceLock::new();
/// The daemon's end of the readiness channel (full mode), until it reports.
static CHANNEL: Mutex<Option<OwnedFd>> = Mutex::new(None);

/// The raw number of the fd in [`CHANNEL`] while the daemon holds it, -1
/// otherwise: what [`forget_channel_in_child`] reads, where no lock may be
/// taken.
static CHANNEL_FD: AtomicI32 = AtomicI32::new(-1);

pub(crate) fn take_channel() -> Option<OwnedFd> {
    CHANNEL_FD.store(-1, Ordering::SeqCst);
    CHANNEL.lock().unwrap_or_else(|p| p.into_inner()).take()
}

pub(crate) fn put_channel(fd: OwnedFd) {
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
    // Looked at before it is written: in a child with nothing to forget
    // (the daemon and its parent, right after their forks) a write would
    // cost a copy of the page.
    let fd = match CHANNEL_FD.load(Ordering::SeqCst) {
        -1 => -1,
        _ => CHANNEL_FD.swap(-1, Ordering::SeqCst),
    };
    if fd >= 0 {
        // SAFETY: closes the child's copy of the channel's write end; see
        // above for why nothing uses the number afterwards.
        unsafe { libc::close(fd) };
    }
    // Nor the pipe the daemon's parent watches it through.
    crate::watch::forget_in_child();
    // A child the body forks before the daemon is ready writes its stderr
    // where the daemon's goes once ready, not to a launcher about to go.
    crate::stdio::end_early_words();
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
/// In the daemon after readiness, or in lite mode: records `err` as the
/// daemon's last words (see [`lastwords`](crate::lastwords)). Anywhere
/// else (the launcher, a child the body forked) it does nothing.
pub(crate) fn fail_before_ready(err: &Error) {
    let Some(shared) = SHARED.get() else {
        return;
    };
    if getpid().as_raw() != shared.pid {
        return;
    }
    if shared.mode == Mode::Full && shared.pending.swap(false, Ordering::SeqCst) {
        // The failure itself reaches the launcher through the channel; a
        // line the caller prints about it (`Error::exit`) goes where the
        // daemon's stderr goes, as after readiness.
        crate::stdio::end_early_words();
        if let Some(fd) = take_channel() {
            readiness::report_error(&fd, err);
        }
        return;
    }
    if shared.mode == Mode::Full {
        log::error!("{err}");
    }
    crate::lastwords::record(&err.to_string());
}

impl Shared {
    /// The state of the daemon `pid`, readiness still to be reported and
    /// no stop requested.
    pub(crate) fn new(
        pid: i32,
        mode: Mode,
        chrooted: bool,
        pidfile: Option<PidFile>,
        notifier: Option<Notifier>,
        watchdog: Option<Duration>,
    ) -> Shared {
        Shared {
            pid,
            mode,
            chrooted,
            pidfile,
            notifier,
            watchdog,
            pending: AtomicBool::new(true),
            stop: AtomicI32::new(0),
            stop_logged: AtomicBool::new(false),
            watched: AtomicBool::new(false),
            stopping_sent: AtomicBool::new(false),
        }
    }

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
            n => Signal::from_raw(n)?,
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
            .compare_exchange(0, signal.as_raw(), Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        wake_stop_waiters();
        first
    }

    pub(crate) fn report_ready(&self) -> Result<()> {
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
                    // Everything said until now went to the launcher,
                    // which relays it before it exits.
                    crate::stdio::end_early_words();
                    readiness::report_ready(&fd, self.pid)?;
                    readiness::wait_for_launcher(&fd, LAUNCHER_EXIT_LIMIT);
                    // The first child is released last: its exit then
                    // overlaps the body rather than the launcher's read
                    // and exit, on which the body waits.
                    crate::watch::ready();
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
/// daemon ends here: `STOPPING=1`, the pid file removed, `_exit(0)`; a
/// full-mode daemon not ready yet dies of the signal instead, which its
/// parent reports to the launcher by name. No
/// thread is needed for that, so a daemon without user handlers stays
/// single-threaded. Otherwise the request is recorded and the waiters are
/// woken.
pub(crate) fn stop_in_handler(signal: Signal) {
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
        if shared.mode == Mode::Full && shared.pending.load(Ordering::SeqCst) {
            // Stopped before it is ready: the start failed, and the
            // launcher says why through the daemon's parent, which sees
            // the signal only if the daemon dies of it (an exit status 0
            // would say nothing).
            signals::default_action_now(signal);
            return;
        }
        // SAFETY: _exit(2) is async-signal-safe and ends the process.
        unsafe { libc::_exit(0) }
    }
}

pub(crate) fn reload_hook(before: bool) {
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
pub(crate) fn register_at_exit() -> Result<()> {
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
    setup: crate::config::SetupValue,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Daemonized {
    /// The handle of the daemon `pid`, once its start is complete.
    pub(crate) fn new(pid: i32, mode: Mode, setup: Option<Box<dyn std::any::Any>>) -> Daemonized {
        Daemonized {
            pid,
            mode,
            setup: crate::config::SetupValue(setup),
            _not_send: std::marker::PhantomData,
        }
    }

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
            main_failed(e.to_string());
        }
        drop(self);
        result
    }
}

impl Drop for Daemonized {
    fn drop(&mut self) {
        if std::thread::panicking() {
            panicked();
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

/// Like [`wait_for_stop`], giving up after `timeout` (`None`). A timeout
/// beyond what the clock can count (`Duration::MAX`) never gives up.
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
    let deadline = Deadline::after(timeout);
    loop {
        if let Some(signal) = shared.stop_signal() {
            return Some(signal);
        }
        let left = deadline.left();
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
/// the supervisor started); `None` when no watchdog is set. A value that is
/// not a decimal number, `0`, the "infinity" value `18446744073709551615`,
/// or a `WATCHDOG_PID` that is not a decimal PID, is ignored: `None`.
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
/// The device and inode of the pid file's lock file when this process is
/// the daemon holding its lock: control requests must not open it (closing
/// any descriptor of it would drop the lock).
pub(crate) fn own_pidfile() -> Option<(u64, u64)> {
    SHARED.get()?.pidfile.as_ref()?.held_identity()
}

/// The last panic of the daemon process while it was not ready yet.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Installs the panic hook, keeping the one installed before (the
/// standard one prints to stderr: a file or `/dev/null` in a full daemon).
///
/// In the daemon process it records the message and location until the
/// daemon is ready, and in full mode logs them at error level through
/// `log`, so that a daemon logging to a file keeps them.
pub(crate) fn install_panic_hook(full: bool) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_daemon_process() && is_pending() {
            // The launcher reports the panic itself, on one line.
            crate::stdio::end_early_words();
        }
        if is_daemon_process() {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("Box<dyn Any>");
            let text = match info.location() {
                Some(at) => format!("panicked at {at}: {message}"),
                None => format!("panicked: {message}"),
            };
            if full {
                log::error!("{text}");
            }
            if is_pending() {
                *PANIC.lock().unwrap_or_else(|p| p.into_inner()) = Some(text);
            } else {
                crate::lastwords::record(&text);
            }
        }
        previous(info);
    }));
}

/// While `main` unwinds from a panic: tells the launcher about it, if the
/// daemon was not ready yet.
pub(crate) fn panicked() {
    let text = PANIC.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(text) = text {
        fail_before_ready(&Error::new(Step::Main, ErrorKind::Software, text));
    }
}

/// `main` ended with `failure` (an `Err`, described): tells the launcher,
/// if the daemon was not ready yet.
pub(crate) fn main_failed(failure: String) {
    fail_before_ready(&Error::new(Step::Main, ErrorKind::Software, failure));
}

#[cfg(test)]
mod tests {
    //! The unit tests run in a process where no daemon was started (none
    //! of them starts one): [`SHARED`] stays unset, and each test of the
    //! shared state builds a [`Shared`] of its own.

    use super::*;

    fn own_pid() -> i32 {
        getpid().as_raw()
    }

    fn state(pid: i32, mode: Mode) -> Shared {
        Shared::new(pid, mode, false, None, None, None)
    }

    #[test]
    fn outside_a_started_daemon_nothing_waits_and_nothing_is_sent() {
        assert!(SHARED.get().is_none(), "no unit test starts a daemon");
        assert!(!is_daemon_process());
        assert!(!is_pending());
        assert!(!stop_requested());
        assert_eq!(wait_for_stop_timeout(Duration::MAX), Some(Signal::SIGTERM));
        assert_eq!(wait_for_stop(), Signal::SIGTERM);
        assert_eq!(notify("STATUS=x").ok(), Some(false));
        assert_eq!(notify_status("x").ok(), Some(false));
        assert_eq!(notify_watchdog().ok(), Some(false));
        assert_eq!(watchdog(), None);
        assert_eq!(own_pidfile(), None);
        let err = ready().expect_err("no daemon to be ready");
        assert_eq!((err.step(), err.kind()), (Step::Ready, ErrorKind::Software));
        assert_eq!(err.detail(), "ready() called before the daemon started");
        // Neither ends this process nor tells anyone.
        request_stop();
        fail_before_ready(&err);
    }

    #[test]
    fn the_first_stop_signal_is_the_one_reported() {
        let shared = state(own_pid(), Mode::Full);
        assert_eq!(shared.stop_signal(), None);
        assert!(shared.record_stop(Signal::SIGINT), "the first request");
        assert!(!shared.record_stop(Signal::SIGTERM), "a second one");
        assert_eq!(shared.stop_signal(), Some(Signal::SIGINT));
        assert_eq!(shared.stop_signal(), Some(Signal::SIGINT), "and stays");
    }

    #[test]
    fn a_forked_child_cannot_report_ready_and_is_told_why() {
        let daemon = own_pid().saturating_add(1);
        let shared = state(daemon, Mode::Full);
        let err = shared.report_ready().expect_err("not the daemon");
        assert_eq!((err.step(), err.kind()), (Step::Ready, ErrorKind::Software));
        assert_eq!(
            err.detail(),
            format!(
                "ready() called in PID {}, a process the daemon (PID {daemon}) forked; \
                 only the daemon reports readiness",
                own_pid()
            )
        );
        assert!(
            shared.pending.load(Ordering::SeqCst),
            "still to be reported"
        );
    }

    #[test]
    fn lite_readiness_without_a_supervisor_is_reported_once() {
        let shared = state(own_pid(), Mode::Lite);
        assert!(shared.pending.load(Ordering::SeqCst));
        shared.report_ready().expect("ready");
        assert!(!shared.pending.load(Ordering::SeqCst));
        shared.report_ready().expect("ready again: nothing to do");
    }

    #[test]
    fn full_readiness_without_the_launchers_channel_is_an_error() {
        // No start put a channel in this process.
        let shared = state(own_pid(), Mode::Full);
        let err = shared.report_ready().expect_err("no channel");
        assert_eq!((err.step(), err.kind()), (Step::Ready, ErrorKind::Software));
        assert_eq!(err.detail(), "the launcher's channel is gone");
    }

    #[test]
    fn the_handle_gives_its_pid_mode_and_setup_value_once() {
        let mut handle = Daemonized::new(4242, Mode::Lite, Some(Box::new(7u8)));
        assert_eq!(handle.pid(), 4242);
        assert_eq!(handle.mode(), Mode::Lite);
        assert_eq!(handle.pidfile(), None, "no daemon state here");
        let value = handle.take_setup_value().expect("the setup value");
        assert_eq!(value.downcast_ref::<u8>(), Some(&7));
        assert!(handle.take_setup_value().is_none(), "only once");
        let empty = Daemonized::new(1, Mode::Full, None);
        assert_eq!(empty.finish(Ok::<u8, String>(5)), Ok(5));
        let failed = Daemonized::new(1, Mode::Full, None);
        assert_eq!(failed.finish(Err::<u8, _>("boom")), Err("boom"));
    }
}
