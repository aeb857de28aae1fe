//! The orchestration: the steps in order, in the launcher and in the
//! daemon. The state the running daemon keeps is in [`crate::running`].

use std::os::fd::{OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

use nix::unistd::{getpid, getppid};

use crate::config::{Daemon, Launched, Mode, Output, Readiness, Setup};
use crate::detach::{self, Hop};
use crate::dirs;
use crate::error::{Error, ErrorKind, Result, Step};
use crate::fds;
use crate::listen;
use crate::names::Signal;
use crate::notify::{self, Notifier};
use crate::pidfile::PidFile;
use crate::privileges;
use crate::readiness;
use crate::running::{
    put_channel, register_at_exit, reload_hook, stop_in_handler, take_channel, Daemonized, Shared,
    SHARED,
};
use crate::signals;
use crate::stdio::Stdio;
use crate::sys::{self, threads::Company};

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
    /// The system log's socket, for failures after readiness.
    syslog: Option<RawFd>,
    /// Full mode: the write end of the pipe that carries what the daemon
    /// writes to stderr until it is ready to the launcher's stderr.
    early: Option<OwnedFd>,
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
    ///    lock itself is taken by the daemon right after step 3 and its
    ///    sweep of inherited fds (lite mode: by the process, now);
    ///    then, with [`setup`](Daemon::setup), the caller's setup, as the
    ///    launching user (what it opens stays open in the daemon);
    /// 2. readiness channel: a pipe the launcher waits on;
    /// 3. detach: fork, `setsid`, fork, with signals blocked and SIGHUP
    ///    ignored; the daemon is not a session leader; then, first thing in
    ///    the daemon, step 7;
    /// 4. directories and limits: chroot, work dir (`/` in full mode when
    ///    none is given), umask, resource limits;
    /// 5. user and group: supplementary groups, gid, uid, then a check that
    ///    root cannot be regained;
    /// 6. signal handlers (a thread runs them in normal context);
    /// 7. close inherited fds, keeping the preserved ones and those the
    ///    runtime opened for the daemon: done right after step 3, before
    ///    the daemon takes the pid file's lock (closing an inherited
    ///    descriptor of the file later would drop it) and before the
    ///    chroot (which would hide the system's listing of open fds);
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
    let creds = privileges::resolve(daemon.user.as_ref(), daemon.group.as_ref())?;
    dirs::preflight(
        daemon.chroot.as_deref(),
        daemon.work_dir.as_deref(),
        daemon.umask,
        &daemon.limits,
        trust_for(creds.as_ref()),
    )?;
    let notifier = Notifier::from_env()?;
    // An empty NOTIFY_SOCKET names no supervisor: leaving it is harmless.
    let unset_notify = !daemon.keep_notify_socket && notifier.is_some();
    // The variables address the process the supervisor started: this one.
    let watchdog = notify::watchdog_from_env(getpid().as_raw());
    let listen = listen::take_from_env(getpid().as_raw())?;
    let listen_fds: Vec<RawFd> = listen.iter().map(|(fd, _)| *fd).collect();
    // Before any chroot and the sweep: a full daemon whose stderr goes
    // nowhere records a failure after readiness in the system log.
    let syslog = crate::lastwords::prepare(full && daemon.stderr == Output::Null);
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
        syslog,
        early: None,
    };
    match prepared.open_files().and_then(|()| prepared.run_setup()) {
        Ok(()) => Ok(prepared),
        Err(e) => {
            prepared.undo();
            Err(e)
        }
    }
}

/// Who may own the directories and files a daemon with `creds` uses: root
/// and the daemon's user (the launching user without a privilege drop).
fn trust_for(creds: Option<&privileges::Credentials>) -> crate::pathsafe::Trust {
    creds.map_or_else(
        crate::pathsafe::Trust::current,
        privileges::Credentials::trust,
    )
}

impl Prepared {
    /// The fds the daemon's sweep keeps: the preserved ones and everything
    /// the runtime opened for the daemon, `channel` (the readiness pipe's
    /// write end) among them. Room is left for the first child's watch
    /// pipe, which `launch` adds.
    fn keep_list(&self, channel: RawFd) -> Vec<RawFd> {
        let mut keep: Vec<RawFd> = Vec::with_capacity(self.daemon.preserve.len() + 16);
        keep.extend(&self.daemon.preserve);
        keep.extend(self.pidfile.iter().flat_map(PidFile::fds));
        keep.push(channel);
        keep.extend(self.stdio.iter().flat_map(Stdio::fds));
        keep.extend(self.notifier.iter().map(Notifier::raw_fd));
        keep.extend(&self.listen);
        keep.extend(self.syslog);
        keep
    }

    /// Who may own the files the daemon opens: root and the daemon's user.
    fn trust(&self) -> crate::pathsafe::Trust {
        trust_for(self.creds.as_ref())
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
            // a full start's daemon takes it right after detaching and
            // closing inherited fds.
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
        let mut needed: Vec<RawFd> = self.pidfile.iter().flat_map(PidFile::fds).collect();
        needed.extend(self.stdio.iter().flat_map(Stdio::fds));
        needed.extend(self.notifier.iter().map(Notifier::raw_fd));
        let (value, opened) = crate::setup::run(setup, &needed)?;
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

/// Flushes Rust's stdout and stderr buffers; a pipe without a reader or a
/// file at the file-size limit loses the output, never the launcher's
/// exit status (see [`quietly`](crate::sys::pipe::quietly)).
fn flush_stdio() {
    use std::io::Write;
    crate::sys::pipe::quietly(|| {
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
    });
}

/// Steps 2 and 3, then the launcher's wait; the daemon goes on with
/// [`run_steps`].
fn launch(mut prepared: Prepared) -> Result<Daemonized> {
    // Whatever the caller printed goes out now, once: not again from the
    // daemon's copy of the buffers (into its log file, say).
    flush_stdio();
    let (rx, tx) = readiness::channel().inspect_err(|_| prepared.undo())?;
    let mut keep = prepared.keep_list(std::os::fd::AsRawFd::as_raw_fd(&tx));
    keep.push(crate::watch::prepare_watch().inspect_err(|_| prepared.undo())?);
    // Early words: the daemon's stderr until it is ready.
    let (early_rx, early_tx) = readiness::channel().inspect_err(|_| prepared.undo())?;
    keep.push(std::os::fd::AsRawFd::as_raw_fd(&early_tx));
    prepared.early = Some(early_tx);
    log::debug!("detach: forking");
    let launcher = getpid();
    // SAFETY: the process has one thread (checked in preflight) and every
    // signal blocked since then.
    let hop = unsafe { detach::detach(&tx, rx) };
    if matches!(hop, Err(_) | Ok(Hop::Launcher { .. })) {
        crate::watch::launcher_done();
    }
    match hop {
        Err(e) => {
            prepared.undo();
            Err(e)
        }
        Ok(Hop::Launcher { child, channel: rx }) => {
            drop(tx);
            prepared.early = None;
            let caller_mask = *prepared
                .blocked
                .as_ref()
                .expect("a full start blocks signals in preflight")
                .mask();
            match readiness::wait(&rx, child, &caller_mask, &early_rx) {
                Ok(pid) => {
                    // Under a supervisor, READY=1 and MAINPID= go out
                    // before the body runs, so that whatever the daemon
                    // sends later arrives after them.
                    if let Some(notifier) = &prepared.notifier {
                        if let Err(e) = notifier.send(&notify::ready_message(Some(pid))) {
                            log::warn!("notify: {e}");
                        }
                    }
                    // The verdict is known (and relayed): closing the
                    // channel lets the body run (see `wait_for_launcher`).
                    // Before any more of the launcher's work: the daemon
                    // lets its parent go only then, and `reap` below waits
                    // for that parent.
                    drop(rx);
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
        Ok(Hop::Watcher { daemon }) => {
            prepared.early = None;
            let failed = crate::watch::watch(&tx, daemon, &early_rx, launcher);
            // A launcher that is gone (killed) cannot undo a failed start:
            // its copy here, still root and outside any chroot, does what
            // it would have done (a daemon killed by a signal could not
            // even remove its own pid file).
            if failed && getppid() != launcher {
                let sid = getpid().as_raw();
                if let Some(pidfile) = &prepared.pidfile {
                    pidfile.wait_released(sid, readiness::GONE_LIMIT);
                    pidfile.empty_if_left_by(sid);
                }
                prepared.undo();
            }
            // SAFETY: the watcher leaves without running the caller's
            // code or its exit hooks.
            unsafe { libc::_exit(0) }
        }
        Ok(Hop::Daemon) => {
            // Before the sweep, which would close its number under it.
            drop(early_rx);
            crate::watch::daemon_side();
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

/// The steps after the detach, 4 to 10 (and the lock of step 1): in the
/// daemon (full mode) or in the process itself (lite mode).
///
/// In full mode step 7, the sweep of inherited fds, comes first, right
/// after the detach. `keep` lists the fds it keeps, made in the launcher:
/// the daemon, fresh from the fork, copies a page of memory for each one
/// it writes first, so it builds as little as it can.
fn run_steps(prepared: Prepared, keep: Vec<RawFd>) -> Result<Daemonized> {
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
        syslog: _,
        early,
    } = prepared;
    let pid = getpid().as_raw();
    if daemon.mode == Mode::Full {
        // Step 7, first thing in the daemon: before the lock, because
        // closing any descriptor of the pid file drops the lock of the
        // process, and an inherited one closed later would; before the
        // chroot, while the system's listing of open fds is in reach. What
        // our own steps open from here on (a replaced pid file, the signal
        // machinery) is ours and never swept.
        let method = fds::close_inherited(&keep)?;
        log::debug!("close fds: done with {method:?}");
    }
    // Step 1 in the daemon, before any other step: the lock belongs to the
    // process that holds it and is not inherited, so the daemon takes it
    // itself. A start that loses the race reports "already running" to
    // its launcher and leaves the winner's file alone.
    if daemon.mode == Mode::Full {
        if let Some(pidfile) = &mut pidfile {
            if let Some(stdio) = &stdio {
                pidfile.retire_inherited(stdio.null_fd())?;
            }
            pidfile.lock()?;
        }
    }
    // From here on the pid file lives in the shared state, where every way
    // out (error, drop, exit, stop signal) finds it.
    let shared = Shared::new(
        pid,
        daemon.mode,
        daemon.chroot.is_some(),
        pidfile,
        notifier,
        watchdog,
    );
    if let Err(lost) = SHARED.set(shared) {
        // Another thread's lite start won the race.
        if let Some(pidfile) = &lost.pidfile {
            pidfile.discard();
        }
        return Err(already_daemonized());
    }
    let shared = SHARED.get().expect("just set");
    crate::error::set_exit_hook(crate::running::fail_before_ready);
    crate::running::install_panic_hook(shared.mode == Mode::Full);

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
    signals::install(daemon.handlers, stop_in_handler, reload_hook)?;
    match blocked {
        Some(blocked) => signals::unblock(blocked, user_handles_hup)?,
        // Lite mode blocked nothing, but the caller may have.
        None => signals::unblock_all()?,
    }

    if let Some(stdio) = stdio {
        stdio.redirect(early)?;
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
    Ok(Daemonized::new(pid, shared.mode, setup))
}

impl<T: 'static> Setup<T> {
    /// [`Daemon::start`] with the setup step; returns, in the daemon, the
    /// handle and the setup's value.
    ///
    /// # Errors
    /// As [`Daemon::start`], and the setup's own error (step `setup`).
    ///
    /// ```no_run
    /// let (running, listener) = daemonizer::Daemon::new()
    ///     .setup(|| std::net::TcpListener::bind("127.0.0.1:8080"))
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// # drop((running, listener));
    /// ```
    pub fn start(self) -> Result<(Daemonized, T)> {
        let mut running = self.daemon.start()?;
        let value = running
            .take_setup_value()
            .and_then(|value| value.downcast::<T>().ok())
            .expect("a setup's value has the setup's type");
        Ok((running, *value))
    }
}
