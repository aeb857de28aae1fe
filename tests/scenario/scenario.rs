//! A configurable daemon that the integration tests launch and observe from
//! outside.
//!
//! ```text
//! scenario daemon [options]         start a daemon, write facts, hold
//! scenario hold-lock --sandbox DIR/ USER KIND FILE
//!                                   as USER (a name), open FILE read-only,
//!                                   lock it (KIND: `flock` for a shared
//!                                   flock, `read` for a POSIX read lock;
//!                                   `write` opens it read-write for a
//!                                   POSIX write lock) and wait until
//!                                   killed
//! scenario stop-in-write --sandbox DIR/ -- ARGS...
//!                                   run `scenario ARGS...` traced (Linux
//!                                   x86-64), send it SIGTERM the moment
//!                                   its first pwrite(2) returns, let it go
//!                                   on and print `pid=<pid> <how it ended>`
//! scenario pause-at-open --sandbox DIR/ PART READY GO -- ARGS...
//!                                   run `scenario ARGS...` traced (Linux
//!                                   x86-64); when it is about to open a
//!                                   name containing PART (`=NAME`: that
//!                                   very name), create READY,
//!                                   hold it there until GO exists, then
//!                                   let it go on and print as above
//! scenario pause-at-unlink --sandbox DIR/ PART READY GO -- ARGS...
//!                                   the same, when it is about to remove
//!                                   a name containing PART (`unlinkat`)
//! scenario pause-after-open --sandbox DIR/ PART READY GO -- ARGS...
//!                                   the same, once it has opened a name
//!                                   containing PART (`openat` returned)
//! scenario pause-daemon-at-chdir --sandbox DIR/ READY GO -- ARGS...
//!                                   run `scenario ARGS...` (a full start)
//!                                   traced with the processes it forks;
//!                                   when the daemon (the child of its
//!                                   child) is about to `chdir`, create
//!                                   READY, hold the daemon there until GO
//!                                   exists, then let it go on; print the
//!                                   launcher's end as above
//! scenario pause-after-getlk --sandbox DIR/ READY GO -- ARGS...
//!                                   the same, once its first
//!                                   `fcntl(F_GETLK)` (or `F_OFD_GETLK`)
//!                                   has returned; then it stays traced,
//!                                   and the line printed at its end adds
//!                                   ` signals=<calls>`: every `kill`,
//!                                   `tkill`, `tgkill`, `pidfd_send_signal`
//!                                   or `rt_sigqueueinfo` it made after the
//!                                   pause, as `name(first argument,
//!                                   signal)`, comma-separated, or `none`
//! scenario pause-after-stat --sandbox DIR/ PART READY GO -- ARGS...
//!                                   the same, once it has looked at a
//!                                   name containing PART (`newfstatat`
//!                                   returned)
//! scenario pause-after-probe --sandbox DIR/ READY GO -- ARGS...
//!                                   the same, once it has asked who holds
//!                                   a lock (the first `fcntl(F_GETLK)`
//!                                   returned)
//! ```
//!
//! Options of `daemon` (every path is used as given):
//!
//! | option | effect |
//! |---|---|
//! | `--sandbox DIR/` | ignored: marks the process as belonging to one test |
//! | `--pidfile P`, `--stdout P`, `--stderr P` | as in the builder |
//! | `--umask OCTAL`, `--workdir D`, `--chroot D` | as in the builder |
//! | `--user U`, `--group G` | a number is an id, anything else a name |
//! | `--limit RES:SOFT[:HARD]` | `RES` is `nofile`, `core` or `fsize`; `inf` is unlimited |
//! | `--lite` | lite mode |
//! | `--manual` | manual readiness: `ready()` only once the trigger says `ready` |
//! | `--facts F` | facts file, opened before the start and preserved |
//! | `--log F` | a [`LogFile`] opened before the start and preserved |
//! | `--debug-log` | install that logger before the start, at debug level |
//! | `--log-reopen` | with `--log`: install that logger before the start, at info level, and reopen it on SIGHUP (then log `reopened`) |
//! | `--extra N`, `--keep K` | open N extra fds on `DIR/extra-<i>` files; preserve the first K |
//! | `--high-fd N` | also duplicate an extra fd onto fd N (not preserved) |
//! | `--keep-high` | with `--high-fd N`: also onto fd N+1, preserved |
//! | `--nofile N` | raise `RLIMIT_NOFILE` to N before anything else |
//! | `--lower-nofile SOFT:HARD` | once the extra and high fds are open, lower `RLIMIT_NOFILE` to SOFT and HARD (as a caller may, so that their numbers lie above both limits) |
//! | `--hide-proc` | just before the start, in a mount namespace of its own, an empty tmpfs over `/proc`: no listing of open fds can be read (`/proc/self/fd`, nor `/dev/fd`, a link into it); Linux, as root |
//! | `--thread` | start a thread before the start |
//! | `--vm-child` | before the start, create a process sharing this one's memory (`clone(CLONE_VM)`), not a thread; it sleeps and dies with this process |
//! | `--go F` | create `F.<pid>`, then wait until F exists before starting (for races) |
//! | `--trigger F` | hold until F exists; its content names the action |
//! | `--graceful` | watch for stops before the facts are written, then hold with `wait_for_stop_timeout`: SIGTERM asks, the body leaves (fact `stopped`) |
//! | `--ignore-stop` | watch for stops (`stop_requested()`) before the facts are written; a stop only adds the fact `stop_seen=<signal>`, once, and the body holds on |
//! | `--wait-elsewhere` | once the facts are written: start a thread named `sleeper` that only sleeps, block SIGTERM and SIGINT in the main thread, add the fact `waiting=1`, then block in `wait_for_stop()` (no timeout) and, once woken, add `stopped=<signal>` and return `Ok` |
//! | `--ignore-block-hup` | once started, before the facts are written: ignore SIGHUP and block it in the main thread (as a body about to restore it might) |
//! | `--record F` | SIGHUP and SIGUSR1 handlers append a line to F per delivery |
//! | `--ready-delay-ms N` | with `--manual`: call `ready()` after N ms without a trigger |
//! | `--close-stdio` | close fds 0, 1 and 2 first thing (Rust's runtime reopens them on `/dev/null` before `main`; a program may still close them) |
//! | `--print-before TEXT` | `print!` and `eprint!` TEXT, without a newline, just before the start: left in Rust's buffers for the runtime to deal with |
//! | `--commands` | the builder's `commands(true)`: the mode (first argument) is the command (`start`, `stop`, `status`, `restart`, `reload`, or anything else for the usage error), left to the runtime to read |
//! | `--as-user NAME` | first thing, become that user (its uid and gid, no supplementary groups) |
//! | `--stop-timeout-ms N` | with `--commands`: how long `stop` and `restart` wait after SIGTERM (`max`: `Duration::MAX`) |
//! | `--hold-timeout-ms N` | with `--graceful`: the timeout of each `wait_for_stop_timeout` (20 ms unless given; `max`: `Duration::MAX`) |
//! | `--setup-bind ADDR` | a setup step binds a TCP listener on ADDR (not preserved by hand); facts `setup_fd`, `setup_addr` |
//! | `--setup-replace-pidfile` | with `--setup-bind`: the setup first puts `/dev/null` (`dup2`) on the fd the start opened its pid file on, found in `/proc/self/fd` |
//! | `--setup-reuse` | with `--setup-bind`: a `File` on `/dev/null` is opened before the start (not preserved) and given to the setup, which drops it before it binds, so that the listener gets its number; fact `setup_dropped_fd` |
//! | `--refuse CALLS` | just before the start, a seccomp filter makes the listed system calls fail (as a sandbox may): `fork` (`fork`, `clone`, `clone3`) with `EAGAIN`, `second-fork` the same but only from the first child of the start on, `unshare` with `EPERM`, `pidfd` (`pidfd_open`) with `ENOSYS`, as on a kernel without pidfds; comma-separated; x86-64 Linux only |
//! | `--lock-keepcaps` | just before the start, set and lock the securebit `SECBIT_KEEP_CAPS` (`PR_SET_SECUREBITS`, as root): `PR_SET_KEEPCAPS` can no longer clear it; Linux only |
//! | `--ambient` | just before the start, add `CAP_NET_BIND_SERVICE` to the inheritable set and raise it in the ambient set (it must be permitted: run as root); Linux only |
//!
//! Trigger actions: `ok` (return `Ok`), `err` (return `Err` through
//! `Daemonized::finish`), `panic`, `exit` (`std::process::exit(3)`),
//! `error-exit` (`Error::exit` of a `ready` step error of kind
//! `Permission`), `xfsz` (write past a one-byte `RLIMIT_FSIZE`: SIGXFSZ),
//! `fork` (fork two children that end,
//! one with `process::exit`, one by returning from `main`; the daemon
//! holds on), `fork-wait` (fork a child, without `exec`, that adds the fact
//! `fork_child=<pid>` and then waits in `pause()` forever; the daemon holds
//! on, reaps it with `waitpid(WNOHANG)` every round and adds
//! `fork_child_ended=<pid> signal <n>` or `<pid> exit <n>`; meant for a
//! daemon without handlers, which runs one thread, so the child may
//! allocate), `ready` (manual readiness), `read-pidfile` (read the pid
//! file with `std::fs::read_to_string` and add the fact
//! `pidfile_read=<its text>`; the daemon holds on).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use daemonizer::{Account, Daemon, ErrorKind, LogFile, Mode, Readiness, Resource, Signal, Step};

#[derive(Default)]
struct Opts {
    mode: String,
    pidfile: Option<PathBuf>,
    stdout: Option<PathBuf>,
    stderr: Option<PathBuf>,
    umask: Option<u32>,
    workdir: Option<PathBuf>,
    chroot: Option<PathBuf>,
    user: Option<Account>,
    group: Option<Account>,
    limits: Vec<(Resource, u64, Option<u64>)>,
    lite: bool,
    manual: bool,
    facts: Option<PathBuf>,
    log: Option<PathBuf>,
    debug_log: bool,
    sandbox: Option<PathBuf>,
    extra: usize,
    keep: usize,
    high_fd: Option<RawFd>,
    keep_high: bool,
    nofile: Option<u64>,
    lower_nofile: Option<(u64, u64)>,
    hide_proc: bool,
    thread: bool,
    vm_child: bool,
    go: Option<PathBuf>,
    trigger: Option<PathBuf>,
    graceful: bool,
    ignore_stop: bool,
    wait_elsewhere: bool,
    record: Option<PathBuf>,
    ready_delay_ms: Option<u64>,
    close_stdio: bool,
    print_before: Option<String>,
    refuse: Option<String>,
    keepcaps: bool,
    lock_keepcaps: bool,
    ambient: bool,
    block_signals: bool,
    sigpipe_default: bool,
    commands: bool,
    stop_timeout: Option<Duration>,
    hold_timeout: Option<Duration>,
    as_user: Option<String>,
    setup_bind: Option<String>,
    log_reopen: bool,
    ignore_block_hup: bool,
    setup_reuse: bool,
    setup_replace_pidfile: bool,
}

fn fail(msg: &str) -> ! {
    eprintln!("scenario: {msg}");
    std::process::exit(2)
}

fn account(text: &str) -> Account {
    match text.parse::<i64>() {
        Ok(id) => Account::Id(id),
        Err(_) => Account::Name(text.to_owned()),
    }
}

/// A number of milliseconds, or `max` for `Duration::MAX`.
fn millis(text: &str) -> Duration {
    match text {
        "max" => Duration::MAX,
        _ => Duration::from_millis(text.parse().unwrap_or_else(|_| fail("bad timeout"))),
    }
}

fn limit_value(text: &str) -> u64 {
    if text == "inf" {
        u64::MAX
    } else {
        text.parse()
            .unwrap_or_else(|_| fail(&format!("bad limit {text}")))
    }
}

fn parse_limit(text: &str) -> (Resource, u64, Option<u64>) {
    let parts: Vec<&str> = text.split(':').collect();
    let resource = match parts.first().copied() {
        Some("nofile") => Resource::RLIMIT_NOFILE,
        Some("core") => Resource::RLIMIT_CORE,
        Some("fsize") => Resource::RLIMIT_FSIZE,
        _ => fail(&format!("bad limit {text}")),
    };
    match parts.len() {
        2 => (resource, limit_value(parts[1]), None),
        3 => (resource, limit_value(parts[1]), Some(limit_value(parts[2]))),
        _ => fail(&format!("bad limit {text}")),
    }
}

fn parse() -> Opts {
    let mut args = std::env::args().skip(1);
    let mut opts = Opts {
        mode: args.next().unwrap_or_else(|| fail("no mode")),
        ..Opts::default()
    };
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| fail(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--sandbox" => opts.sandbox = Some(value().into()),
            "--pidfile" => opts.pidfile = Some(value().into()),
            "--stdout" => opts.stdout = Some(value().into()),
            "--stderr" => opts.stderr = Some(value().into()),
            "--umask" => {
                opts.umask =
                    Some(u32::from_str_radix(&value(), 8).unwrap_or_else(|_| fail("bad umask")))
            }
            "--workdir" => opts.workdir = Some(value().into()),
            "--chroot" => opts.chroot = Some(value().into()),
            "--user" => opts.user = Some(account(&value())),
            "--group" => opts.group = Some(account(&value())),
            "--limit" => opts.limits.push(parse_limit(&value())),
            "--lite" => opts.lite = true,
            "--manual" => opts.manual = true,
            "--facts" => opts.facts = Some(value().into()),
            "--log" => opts.log = Some(value().into()),
            "--debug-log" => opts.debug_log = true,
            "--extra" => opts.extra = value().parse().unwrap_or_else(|_| fail("bad --extra")),
            "--keep" => opts.keep = value().parse().unwrap_or_else(|_| fail("bad --keep")),
            "--keep-high" => opts.keep_high = true,
            "--high-fd" => {
                opts.high_fd = Some(value().parse().unwrap_or_else(|_| fail("bad --high-fd")))
            }
            "--nofile" => {
                opts.nofile = Some(value().parse().unwrap_or_else(|_| fail("bad --nofile")))
            }
            "--lower-nofile" => {
                let text = value();
                let parsed = text
                    .split_once(':')
                    .and_then(|(soft, hard)| Some((soft.parse().ok()?, hard.parse().ok()?)));
                opts.lower_nofile =
                    Some(parsed.unwrap_or_else(|| fail(&format!("bad --lower-nofile {text}"))));
            }
            "--hide-proc" => opts.hide_proc = true,
            "--thread" => opts.thread = true,
            "--vm-child" => opts.vm_child = true,
            "--go" => opts.go = Some(value().into()),
            "--trigger" => opts.trigger = Some(value().into()),
            "--graceful" => opts.graceful = true,
            "--ignore-stop" => opts.ignore_stop = true,
            "--wait-elsewhere" => opts.wait_elsewhere = true,
            "--record" => opts.record = Some(value().into()),
            "--close-stdio" => opts.close_stdio = true,
            "--print-before" => opts.print_before = Some(value()),
            "--refuse" => opts.refuse = Some(value()),
            "--keepcaps" => opts.keepcaps = true,
            "--lock-keepcaps" => opts.lock_keepcaps = true,
            "--ambient" => opts.ambient = true,
            "--block-signals" => opts.block_signals = true,
            "--sigpipe-default" => opts.sigpipe_default = true,
            "--commands" => opts.commands = true,
            "--as-user" => opts.as_user = Some(value()),
            "--stop-timeout-ms" => opts.stop_timeout = Some(millis(&value())),
            "--hold-timeout-ms" => opts.hold_timeout = Some(millis(&value())),
            "--setup-bind" => opts.setup_bind = Some(value()),
            "--log-reopen" => opts.log_reopen = true,
            "--ignore-block-hup" => opts.ignore_block_hup = true,
            "--setup-reuse" => opts.setup_reuse = true,
            "--setup-replace-pidfile" => opts.setup_replace_pidfile = true,
            "--ready-delay-ms" => {
                opts.ready_delay_ms = Some(value().parse().unwrap_or_else(|_| fail("bad delay")))
            }
            other => fail(&format!("unknown option {other}")),
        }
    }
    opts
}

/// The facts file: `key=value` lines, written in one go and ended by
/// `done=1`, so that a reader never acts on half of it.
struct Facts {
    file: Option<File>,
    lines: Vec<String>,
}

impl Facts {
    fn add(&mut self, key: &str, value: impl std::fmt::Display) {
        self.lines.push(format!("{key}={value}"));
    }

    fn flush(&mut self) {
        if let Some(file) = &mut self.file {
            let mut text = self.lines.join("\n");
            text.push_str("\ndone=1\n");
            let _ = file.write_all(text.as_bytes());
        }
        self.lines.clear();
    }

    /// One line appended on its own (after the first flush).
    fn line(&mut self, key: &str, value: impl std::fmt::Display) {
        if let Some(file) = &mut self.file {
            let _ = file.write_all(format!("{key}={value}\n").as_bytes());
        }
    }
}

fn errno_name() -> String {
    std::io::Error::last_os_error().to_string()
}

/// Creates a process that shares this one's memory (not a thread: a
/// process of its own, in no thread group but its own) and sleeps until
/// this process ends. Linux only.
#[cfg(not(target_os = "linux"))]
fn spawn_vm_child() {
    fail("--vm-child: Linux only");
}

/// See above.
#[cfg(target_os = "linux")]
fn spawn_vm_child() {
    use std::sync::atomic::{AtomicBool, Ordering};
    /// Set by the child, in the shared memory, once it will die with us.
    static SET: AtomicBool = AtomicBool::new(false);
    extern "C" fn sleeper(_: *mut libc::c_void) -> libc::c_int {
        // SAFETY: plain system calls; no memory is written but `SET` and
        // the stack this process gave the child.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            SET.store(true, Ordering::SeqCst);
            loop {
                libc::pause();
            }
        }
    }
    let stack: &'static mut [u8] = Vec::leak(vec![0u8; 64 * 1024]);
    // SAFETY: the child runs `sleeper` on its own stack, leaked so that it
    // lives as long as the process.
    let child = unsafe {
        libc::clone(
            sleeper,
            stack.as_mut_ptr().add(stack.len()).cast(),
            libc::CLONE_VM | libc::SIGCHLD,
            std::ptr::null_mut(),
        )
    };
    if child < 0 {
        fail(&format!("--vm-child: {}", errno_name()));
    }
    // Until then, this process ending would leave the child behind.
    while !SET.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Makes the system calls `calls` names (see `--refuse`) fail, as a
/// sandbox may: a seccomp filter (after `PR_SET_NO_NEW_PRIVS`, which the
/// filter needs without `CAP_SYS_ADMIN`) under which they fail and every
/// other call is allowed. `second-fork` installs the filter for `fork` in
/// the first child of the start, from a `pthread_atfork` child handler, so
/// that only the fork of the daemon is refused.
fn refuse(calls: &str) {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        let mut refused: Vec<(libc::c_long, i32)> = Vec::new();
        let mut in_child = false;
        let fork = [
            (libc::SYS_fork, libc::EAGAIN),
            (libc::SYS_clone, libc::EAGAIN),
            (libc::SYS_clone3, libc::EAGAIN),
        ];
        for call in calls.split(',') {
            match call {
                "unshare" => refused.push((libc::SYS_unshare, libc::EPERM)),
                "pidfd" => refused.push((libc::SYS_pidfd_open, libc::ENOSYS)),
                "fork" => refused.extend(fork),
                "second-fork" => {
                    refused.extend(fork);
                    in_child = true;
                }
                other => fail(&format!("--refuse: unknown call {other:?}")),
            }
        }
        let program = seccomp::program(&refused);
        if in_child {
            seccomp::install_in_next_child(program);
        } else {
            seccomp::install(&program);
        }
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    fail(&format!("--refuse {calls}: x86-64 Linux only"));
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod seccomp {
    use std::sync::OnceLock;

    /// A filter under which each `(system call, errno)` fails with that
    /// errno.
    pub(super) fn program(refused: &[(libc::c_long, i32)]) -> Vec<libc::sock_filter> {
        const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
        let stmt = |code: u32, k: u32| libc::sock_filter {
            code: code as u16,
            jt: 0,
            jf: 0,
            k,
        };
        let load = |offset: u32| stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset);
        // Jumps past the next instruction unless the value loaded is `k`.
        let unless_eq = |k: u32| libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k,
        };
        let ret = |k: u32| stmt(libc::BPF_RET | libc::BPF_K, k);
        let allow = ret(libc::SECCOMP_RET_ALLOW);
        // seccomp_data: nr at offset 0, arch at 4.
        let mut filter: Vec<libc::sock_filter> = vec![
            load(4),
            libc::sock_filter {
                code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
                jt: 1,
                jf: 0,
                k: AUDIT_ARCH_X86_64,
            },
            allow,
            load(0),
        ];
        for &(nr, errno) in refused {
            filter.push(unless_eq(nr as u32));
            filter.push(ret(libc::SECCOMP_RET_ERRNO | errno as u32));
        }
        filter.push(allow);
        filter
    }

    /// Installs `filter` in this process; only system calls, so that it
    /// may run in a child right after a fork.
    pub(super) fn install(filter: &[libc::sock_filter]) {
        let program = libc::sock_fprog {
            len: filter.len() as u16,
            filter: filter.as_ptr().cast_mut(),
        };
        // SAFETY: prctl with a valid filter program, alive for the call.
        let rc = unsafe {
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &program as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            // SAFETY: _exit ends the process at once, whichever it is.
            unsafe { libc::_exit(2) };
        }
    }

    static IN_CHILD: OnceLock<Vec<libc::sock_filter>> = OnceLock::new();

    extern "C" fn child_handler() {
        if let Some(filter) = IN_CHILD.get() {
            install(filter);
        }
    }

    /// Installs `filter` in every child this process forks from now on.
    pub(super) fn install_in_next_child(filter: Vec<libc::sock_filter>) {
        let _ = IN_CHILD.set(filter);
        // SAFETY: registers a plain extern "C" function that only reads a
        // static set above and makes system calls.
        if unsafe { libc::pthread_atfork(None, None, Some(child_handler)) } != 0 {
            super::fail("--refuse: pthread_atfork failed");
        }
    }
}

/// Puts `/dev/null` on the fd that names `path` (`--setup-replace-pidfile`).
fn replace_fd_of(path: &Path) {
    let fd = open_fds()
        .into_iter()
        .find(|fd| std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok_and(|t| t == path))
        .unwrap_or_else(|| fail(&format!("no fd names {}", path.display())));
    let null = File::open("/dev/null").unwrap_or_else(|e| fail(&format!("/dev/null: {e}")));
    // SAFETY: dup2 takes no pointers; replacing that fd is the point.
    if unsafe { libc::dup2(null.as_raw_fd(), fd) } != fd {
        fail(&format!("dup2: {}", errno_name()));
    }
}

/// The fds open in this process, listed from `/proc/self/fd` (without the
/// listing's own fd), or from `fcntl` probing below 4096 when `/proc` is
/// not there (in a chroot).
fn open_fds() -> Vec<RawFd> {
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let mut fds: Vec<RawFd> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        fds.retain(|fd| {
            // The listing's own fd no longer exists once the iterator is
            // done.
            // SAFETY: F_GETFD takes no pointers.
            unsafe { libc::fcntl(*fd, libc::F_GETFD) >= 0 }
        });
        fds.sort_unstable();
        return fds;
    }
    (0..4096)
        // SAFETY: F_GETFD takes no pointers.
        .filter(|fd| unsafe { libc::fcntl(*fd, libc::F_GETFD) } >= 0)
        .collect()
}

fn join(fds: &[RawFd]) -> String {
    fds.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The real, effective and saved uids and gids, each as `"r e s"` (the
/// saved ones `?` where the system cannot tell them: macOS).
fn res_ids() -> (String, String) {
    #[cfg(not(target_vendor = "apple"))]
    {
        let mut ids: [libc::uid_t; 3] = [0; 3];
        let mut gids: [libc::gid_t; 3] = [0; 3];
        // SAFETY: the pointers are to valid, distinct locals.
        unsafe {
            libc::getresuid(&mut ids[0], &mut ids[1], &mut ids[2]);
            libc::getresgid(&mut gids[0], &mut gids[1], &mut gids[2]);
        }
        (
            format!("{} {} {}", ids[0], ids[1], ids[2]),
            format!("{} {} {}", gids[0], gids[1], gids[2]),
        )
    }
    #[cfg(target_vendor = "apple")]
    // SAFETY: plain queries without pointers.
    unsafe {
        (
            format!("{} {} ?", libc::getuid(), libc::geteuid()),
            format!("{} {} ?", libc::getgid(), libc::getegid()),
        )
    }
}

/// The supplementary groups.
fn supplementary_groups() -> Vec<u32> {
    // SAFETY: a null list with size 0 asks for the count; then `groups`
    // has room for that many.
    unsafe {
        let n = libc::getgroups(0, std::ptr::null_mut());
        let mut groups: Vec<libc::gid_t> = vec![0; n.max(0) as usize];
        let got = libc::getgroups(n.max(0), groups.as_mut_ptr());
        groups.truncate(got.max(0) as usize);
        groups
    }
}

/// `--lower-nofile`: sets `RLIMIT_NOFILE` to `soft` and `hard`.
fn lower_nofile(soft: u64, hard: u64) {
    let lim = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: `lim` is a valid rlimit struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        fail(&format!(
            "setrlimit(NOFILE, {soft}:{hard}): {}",
            errno_name()
        ));
    }
}

/// `--hide-proc`: an empty tmpfs over `/proc`, in a mount namespace of
/// this process's own (made private first, so the host never sees it).
#[cfg(target_os = "linux")]
fn hide_proc() {
    // SAFETY: no pointers but NUL-terminated strings and nulls where the
    // calls accept them; the process has one thread.
    let failed = unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            Some("unshare(CLONE_NEWNS)")
        } else if libc::mount(
            c"none".as_ptr(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            Some("making / private")
        } else if libc::mount(
            c"none".as_ptr(),
            c"/proc".as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            std::ptr::null(),
        ) != 0
        {
            Some("mounting a tmpfs on /proc")
        } else {
            None
        }
    };
    if let Some(what) = failed {
        fail(&format!("--hide-proc: {what}: {}", errno_name()));
    }
}

#[cfg(not(target_os = "linux"))]
fn hide_proc() {
    fail("--hide-proc: Linux only");
}

fn raise_nofile(n: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit struct for both calls.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        let n = n as libc::rlim_t;
        lim.rlim_cur = n;
        if lim.rlim_max < n {
            lim.rlim_max = n;
        }
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
            fail(&format!("setrlimit(NOFILE, {n}): {}", errno_name()));
        }
    }
}

/// Opens `n` extra files `<sandbox>/extra-<i>` and returns them.
fn open_extra(sandbox: &Path, n: usize) -> Vec<File> {
    (0..n)
        .map(|i| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(sandbox.join(format!("extra-{i}")))
                .unwrap_or_else(|e| fail(&format!("extra-{i}: {e}")))
        })
        .collect()
}

fn dup_to(fd: RawFd, to: RawFd) {
    // SAFETY: dup2 takes no pointers; `to` is a number this program owns.
    if unsafe { libc::dup2(fd, to) } < 0 {
        fail(&format!("dup2 to {to}: {}", errno_name()));
    }
}

fn wait_for_file(path: &Path) {
    while !path.exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Reads the trigger, once it exists and says something.
fn poll_trigger(path: Option<&Path>) -> Option<String> {
    let text = std::fs::read_to_string(path?).ok()?;
    let text = text.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn signal_handler(record: PathBuf) -> impl FnMut(Signal) + Send + 'static {
    let mut count = 0u32;
    move |signal| {
        count += 1;
        // Allocate, lock, log and write a file: things no raw signal
        // handler may do.
        let thread = std::thread::current().name().unwrap_or("?").to_owned();
        let history: Vec<String> = (0..count).map(|i| i.to_string()).collect();
        log::info!("handler: {signal} #{count} on thread {thread}");
        static LOCK: Mutex<()> = Mutex::new(());
        let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&record)
            .expect("record file");
        let _ = writeln!(file, "{signal} {count} {thread} {}", history.len());
    }
}

fn fork_children(facts: &mut Facts) -> bool {
    for how in ["exit", "return"] {
        // SAFETY: the children only write a line and end; the signal thread
        // of the parent does not exist in them and holds no lock they use.
        match unsafe { libc::fork() } {
            -1 => fail(&format!("fork: {}", errno_name())),
            0 => {
                if how == "exit" {
                    std::process::exit(0);
                }
                // Returns from main: the handle is dropped in the child.
                return true;
            }
            child => {
                let mut status = 0;
                // SAFETY: `status` is a valid out pointer.
                unsafe { libc::waitpid(child, &mut status, 0) };
                facts.line(&format!("child_{how}"), format!("{child} status {status}"));
            }
        }
    }
    false
}

/// Forks a child that adds `fork_child=<pid>` to the facts and then waits
/// for signals forever, without `exec`: whatever ends it comes from
/// outside. Returns its PID, in the daemon.
fn fork_waiting_child(facts: &mut Facts) -> libc::pid_t {
    // SAFETY: meant for a daemon without handlers, which runs one thread:
    // no lock can be held in the child by a thread that does not exist.
    match unsafe { libc::fork() } {
        -1 => fail(&format!("fork: {}", errno_name())),
        0 => {
            facts.line("fork_child", std::process::id());
            loop {
                // SAFETY: pause takes no arguments.
                unsafe { libc::pause() };
            }
        }
        child => child,
    }
}

/// Forks a child that calls `ready()` (as a worker of a pre-fork server
/// might), adds `fork_child=<pid>` and `child_ready=<outcome>` to the
/// facts, then waits for signals forever. Returns its PID, in the daemon.
fn fork_ready_child(running: &daemonizer::Daemonized, facts: &mut Facts) -> libc::pid_t {
    // SAFETY: as for `fork_waiting_child`: a daemon without handlers runs
    // one thread.
    match unsafe { libc::fork() } {
        -1 => fail(&format!("fork: {}", errno_name())),
        0 => {
            let outcome = match running.ready() {
                Ok(()) => "ok".to_owned(),
                Err(e) => format!("error {e}"),
            };
            facts.line("fork_child", std::process::id());
            facts.line("child_ready", outcome);
            loop {
                // SAFETY: pause takes no arguments.
                unsafe { libc::pause() };
            }
        }
        child => child,
    }
}

/// Reaps the children of `fork-wait` that ended, with a fact for each.
fn reap(children: &mut Vec<libc::pid_t>, facts: &mut Facts) {
    children.retain(|&child| {
        let mut status = 0;
        // SAFETY: `status` is a valid out pointer.
        if unsafe { libc::waitpid(child, &mut status, libc::WNOHANG) } != child {
            return true;
        }
        let how = if libc::WIFSIGNALED(status) {
            format!("signal {}", libc::WTERMSIG(status))
        } else if libc::WIFEXITED(status) {
            format!("exit {}", libc::WEXITSTATUS(status))
        } else {
            format!("status {status}")
        };
        facts.line("fork_child_ended", format!("{child} {how}"));
        false
    });
}

/// `--wait-elsewhere`: the main thread waits for a stop with SIGTERM and
/// SIGINT blocked, so that the kernel can only deliver them to the
/// `sleeper` thread; the wait must be woken from there.
fn wait_elsewhere(facts: &mut Facts) -> Result<(), String> {
    // Started before the mask changes: the sleeper keeps SIGTERM and
    // SIGINT unblocked.
    std::thread::Builder::new()
        .name("sleeper".into())
        .spawn(|| loop {
            std::thread::sleep(Duration::from_secs(3600));
        })
        .map_err(|e| format!("sleeper thread: {e}"))?;
    // SAFETY: `set` is a valid sigset_t, initialised by sigemptyset before
    // use; the old mask is not asked for.
    let rc = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(format!("pthread_sigmask: error {rc}"));
    }
    facts.line("waiting", 1);
    let signal = daemonizer::wait_for_stop();
    facts.line("stopped", signal);
    Ok(())
}

/// Lowers the file-size limit to one byte and writes two: the kernel
/// sends SIGXFSZ, whose default action ends the process.
fn exceed_file_size(next_to: &Path) -> ! {
    let limit = libc::rlimit {
        rlim_cur: 1,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: `limit` is a valid rlimit struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &limit) } != 0 {
        fail(&format!("setrlimit(FSIZE): {}", errno_name()));
    }
    let _ = std::fs::write(next_to.with_extension("big"), "xx");
    fail("writing past RLIMIT_FSIZE did not end the process")
}

/// Becomes the user `name`: no supplementary groups, its gid, its uid.
fn become_user(name: &str) {
    let user = nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .unwrap_or_else(|| fail(&format!("no user {name}")));
    // SAFETY: plain system calls on ids; checked at once.
    let dropped = unsafe {
        libc::setgroups(0, std::ptr::null()) == 0
            && libc::setgid(user.gid.as_raw()) == 0
            && libc::setuid(user.uid.as_raw()) == 0
    };
    if !dropped {
        fail(&format!("becoming {name}: {}", errno_name()));
    }
}

/// `hold-lock USER KIND FILE`: see the module docs.
fn hold_lock(args: &[String]) -> ! {
    let [user, kind, file] = args else {
        fail("hold-lock USER KIND FILE")
    };
    become_user(user);
    let fd = if kind == "write" {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(file)
    } else {
        File::open(file)
    };
    let fd = fd.unwrap_or_else(|e| fail(&format!("hold-lock: {file}: {e}")));
    let locked = match kind.as_str() {
        // SAFETY: flock takes no pointers; the fd is open.
        "flock" => unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) == 0 },
        "read" | "write" => {
            let kind = if kind == "read" {
                libc::F_RDLCK
            } else {
                libc::F_WRLCK
            };
            // SAFETY: a zeroed flock is valid; F_SETLK reads it.
            unsafe {
                let mut lock: libc::flock = std::mem::zeroed();
                lock.l_type = kind as _;
                lock.l_whence = libc::SEEK_SET as _;
                libc::fcntl(fd.as_raw_fd(), libc::F_SETLK, &lock) == 0
            }
        }
        other => fail(&format!("hold-lock: unknown kind {other}")),
    };
    if !locked {
        fail(&format!("hold-lock: {kind} on {file}: {}", errno_name()));
    }
    loop {
        // SAFETY: pause takes no arguments.
        unsafe { libc::pause() };
    }
}

/// `stop-in-write -- ARGS...`: see the module docs.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn stop_in_write(args: &[String]) -> ! {
    traced("stop-in-write", args, |child, regs| {
        if !leaving(regs) || regs.orig_rax as i64 != libc::SYS_pwrite64 {
            return false;
        }
        // Pending until the child returns to user space, which it does at
        // once, no longer traced: before its next instruction.
        // SAFETY: kill takes no pointers.
        unsafe { libc::kill(child, libc::SIGTERM) };
        true
    })
}

/// `pause-at-open PART READY GO -- ARGS...`: see the module docs.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn pause_at_open(args: &[String]) -> ! {
    pause_at("pause-at-open", libc::SYS_openat, false, args)
}

/// `pause-after-open PART READY GO -- ARGS...`: see the module docs.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn pause_after_open(args: &[String]) -> ! {
    pause_at("pause-after-open", libc::SYS_openat, true, args)
}

/// `pause-after-stat PART READY GO -- ARGS...`: see the module docs.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn pause_after_stat(args: &[String]) -> ! {
    pause_at("pause-after-stat", libc::SYS_newfstatat, true, args)
}

/// `pause-after-probe READY GO -- ARGS...`: see the module docs.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn pause_after_probe(args: &[String]) -> ! {
    let [ready, go, rest @ ..] = args else {
        fail("pause-after-probe READY GO -- ARGS...")
    };
    let rest = rest.strip_prefix(&["--".to_owned()]).unwrap_or(rest);
    traced("pause-after-probe", rest, |_, regs| {
        // fcntl(fd, cmd, ...): the command is the second argument.
        if !leaving(regs)
            || regs.orig_rax as i64 != libc::SYS_fcntl
            || regs.rsi != libc::F_GETLK as u64
        {
            return false;
        }
        File::create(ready).unwrap_or_else(|e| fail(&format!("pause-after-probe: {ready}: {e}")));
        wait_for_file(Path::new(go));
        true
    })
}

/// `pause-at-unlink PART READY GO -- ARGS...`: see the module docs.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn pause_at_unlink(args: &[String]) -> ! {
    pause_at("pause-at-unlink", libc::SYS_unlinkat, false, args)
}

/// `pause-after-getlk READY GO -- ARGS...`: see the module docs.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn pause_after_getlk(args: &[String]) -> ! {
    let [ready, go, rest @ ..] = args else {
        fail("pause-after-getlk READY GO -- ARGS...")
    };
    let rest = rest.strip_prefix(&["--".to_owned()]).unwrap_or(rest);
    let mode = "pause-after-getlk";
    let signals: std::cell::RefCell<Option<Vec<String>>> = Default::default();
    traced_then(
        mode,
        rest,
        |_, regs| {
            let call = regs.orig_rax as libc::c_long;
            if let Some(seen) = &mut *signals.borrow_mut() {
                // The signal is the second argument, but the third of tgkill
                // and rt_tgsigqueueinfo (tgid, tid, signal).
                let signal = match call {
                    libc::SYS_tgkill | libc::SYS_rt_tgsigqueueinfo => regs.rdx,
                    _ => regs.rsi,
                };
                let name = match call {
                    libc::SYS_kill => "kill",
                    libc::SYS_tkill => "tkill",
                    libc::SYS_tgkill => "tgkill",
                    libc::SYS_pidfd_send_signal => "pidfd_send_signal",
                    libc::SYS_rt_sigqueueinfo | libc::SYS_rt_tgsigqueueinfo => "rt_sigqueueinfo",
                    _ => return Traced::Go,
                };
                if !leaving(regs) {
                    seen.push(format!("{name}({}, {signal})", regs.rdi as i64));
                }
                return Traced::Go;
            }
            let getlk = regs.rsi as i32 == libc::F_GETLK || regs.rsi as i32 == libc::F_OFD_GETLK;
            if !leaving(regs) || call != libc::SYS_fcntl || !getlk {
                return Traced::Go;
            }
            File::create(ready).unwrap_or_else(|e| fail(&format!("{mode}: {ready}: {e}")));
            wait_for_file(Path::new(go));
            *signals.borrow_mut() = Some(Vec::new());
            Traced::Go
        },
        |_| match &*signals.borrow() {
            None => " signals=not paused".to_owned(),
            Some(seen) if seen.is_empty() => " signals=none".to_owned(),
            Some(seen) => format!(" signals={}", seen.join(",")),
        },
    )
}

/// `pause-daemon-at-chdir READY GO -- ARGS...`: see the module docs. The
/// launcher and the first child are followed only to their forks
/// (`PTRACE_O_TRACEFORK`) and run untraced otherwise; the daemon is
/// stopped at each system call until its first `chdir`.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn pause_daemon_at_chdir(args: &[String]) -> ! {
    use std::collections::HashMap;
    let mode = "pause-daemon-at-chdir";
    let [ready, go, rest @ ..] = args else {
        fail(&format!("{mode} READY GO -- ARGS..."))
    };
    let rest = rest.strip_prefix(&["--".to_owned()]).unwrap_or(rest);
    let launcher = spawn_traced(mode, rest);
    // SAFETY: a ptrace request on our stopped tracee.
    unsafe {
        libc::ptrace(
            libc::PTRACE_SETOPTIONS,
            launcher,
            0,
            libc::PTRACE_O_TRACESYSGOOD | libc::PTRACE_O_EXITKILL | libc::PTRACE_O_TRACEFORK,
        );
    }
    // Generation of each tracee: 0 the launcher, 1 the first child, 2 the
    // daemon; a PID not in it yet is a new child in its first stop.
    let mut generation: HashMap<libc::pid_t, u32> = HashMap::from([(launcher, 0)]);
    let mut paused = false;
    let resume = |pid: libc::pid_t, generation: u32, signal: i32| {
        let request = if generation == 2 {
            libc::PTRACE_SYSCALL
        } else {
            libc::PTRACE_CONT
        };
        // SAFETY: a ptrace request on our stopped tracee.
        unsafe { libc::ptrace(request, pid, 0, signal) };
    };
    resume(launcher, 0, 0);
    let mut launcher_end = None;
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
        if pid < 0 {
            // No tracee and no child left.
            break;
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            if pid == launcher {
                launcher_end = Some(status);
            }
            generation.remove(&pid);
            continue;
        }
        let Some(&gen) = generation.get(&pid) else {
            // A new child's first stop (SIGSTOP): its parent says which.
            let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|t| {
                    let rest = &t[t.rfind(')')? + 2..];
                    rest.split_whitespace().nth(1)?.parse::<libc::pid_t>().ok()
                })
                .unwrap_or(0);
            let gen = generation.get(&parent).map_or(3, |g| g + 1);
            generation.insert(pid, gen);
            resume(pid, gen, 0);
            continue;
        };
        let signal = libc::WSTOPSIG(status);
        let event = status >> 16;
        if event != 0 || signal == libc::SIGTRAP {
            // A fork event: the child is reported on its own.
            resume(pid, gen, 0);
        } else if signal == libc::SIGTRAP | 0x80 {
            // SAFETY: a zeroed user_regs_struct is valid; GETREGS fills it.
            let regs = unsafe {
                let mut regs: libc::user_regs_struct = std::mem::zeroed();
                libc::ptrace(libc::PTRACE_GETREGS, pid, 0, &mut regs);
                regs
            };
            if !paused && !leaving(&regs) && regs.orig_rax as libc::c_long == libc::SYS_chdir {
                paused = true;
                File::create(ready).unwrap_or_else(|e| fail(&format!("{mode}: {ready}: {e}")));
                wait_for_file(Path::new(go));
                // SAFETY: a plain request on our stopped tracee.
                unsafe { libc::ptrace(libc::PTRACE_DETACH, pid, 0, 0) };
                generation.remove(&pid);
            } else {
                resume(pid, gen, 0);
            }
        } else {
            resume(pid, gen, signal);
        }
    }
    let Some(status) = launcher_end else {
        fail(&format!("{mode}: the launcher's end was not seen"))
    };
    if !paused {
        fail(&format!("{mode}: the daemon never called chdir"));
    }
    let how = if libc::WIFEXITED(status) {
        format!("exit {}", libc::WEXITSTATUS(status))
    } else {
        format!("signal {}", libc::WTERMSIG(status))
    };
    println!("pid={launcher} {how}");
    std::process::exit(0)
}

/// Pauses the traced program at the entry of `call` (at its return with
/// `after`), a system call whose second argument is a name (`openat`,
/// `unlinkat`, `newfstatat`; the kernel keeps that register across the
/// call).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn pause_at(mode: &str, call: libc::c_long, after: bool, args: &[String]) -> ! {
    let [part, ready, go, rest @ ..] = args else {
        fail(&format!("{mode} PART READY GO -- ARGS..."))
    };
    let rest = rest.strip_prefix(&["--".to_owned()]).unwrap_or(rest);
    traced(mode, rest, |child, regs| {
        if leaving(regs) != after || regs.orig_rax as i64 != call {
            return false;
        }
        // call(dirfd, pathname, ...): the name is in the child's memory.
        let mut name = [0u8; 256];
        let read = std::fs::File::open(format!("/proc/{child}/mem"))
            .and_then(|mem| std::os::unix::fs::FileExt::read_at(&mem, &mut name, regs.rsi));
        let Ok(n) = read else { return false };
        let name = &name[..n];
        let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(n)];
        let name = String::from_utf8_lossy(name);
        let hit = match part.strip_prefix('=') {
            Some(exact) => name == exact,
            None => name.contains(part.as_str()),
        };
        if !hit {
            return false;
        }
        File::create(ready).unwrap_or_else(|e| fail(&format!("{mode}: {ready}: {e}")));
        wait_for_file(Path::new(go));
        true
    })
}

/// At a system call's entry the kernel sets rax to -ENOSYS.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn leaving(regs: &libc::user_regs_struct) -> bool {
    regs.rax as i64 != -(libc::ENOSYS as i64)
}

/// Starts `scenario ARGS...` as a tracee (`PTRACE_TRACEME`), stopped
/// before its `exec`; its PID.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn spawn_traced(mode: &str, args: &[String]) -> libc::pid_t {
    use std::ffi::CString;
    let exe = std::env::current_exe().unwrap_or_else(|e| fail(&format!("current_exe: {e}")));
    let exe = CString::new(exe.into_os_string().into_encoded_bytes()).expect("no NUL");
    let mut argv: Vec<CString> = vec![exe.clone()];
    argv.extend(
        args.iter()
            .map(|a| CString::new(a.as_str()).expect("no NUL")),
    );
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let wait = |pid: libc::pid_t| -> i32 {
        let mut status = 0;
        // SAFETY: `status` is a valid out pointer.
        if unsafe { libc::waitpid(pid, &mut status, libc::__WALL) } != pid {
            fail(&format!("{mode}: waitpid: {}", errno_name()));
        }
        status
    };
    // SAFETY: this program runs one thread here; the child only calls
    // async-signal-safe functions before exec.
    let child = unsafe { libc::fork() };
    if child == 0 {
        // SAFETY: as above; the argv pointers stay valid until exec.
        unsafe {
            libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
            libc::raise(libc::SIGSTOP);
            libc::execv(exe.as_ptr(), ptrs.as_ptr());
            libc::_exit(127);
        }
    }
    if child < 0 {
        fail(&format!("{mode}: fork: {}", errno_name()));
    }
    let status = wait(child);
    if !libc::WIFSTOPPED(status) {
        fail(&format!("{mode}: the child did not stop"));
    }
    child
}

/// What a tracer does after a system call's entry or exit.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
enum Traced {
    /// Go on tracing.
    Go,
    /// Let the program go, untraced.
    Detach,
}

/// Runs `scenario ARGS...` traced, stopping at each system call's entry
/// and exit, until `at` (given the registers) says to let it go; then
/// waits for its end and prints `pid=<pid> <how it ended>`.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn traced(
    mode: &str,
    args: &[String],
    mut at: impl FnMut(libc::pid_t, &libc::user_regs_struct) -> bool,
) -> ! {
    traced_then(
        mode,
        args,
        |child, regs| {
            if at(child, regs) {
                Traced::Detach
            } else {
                Traced::Go
            }
        },
        |to_the_end| {
            if to_the_end {
                fail(&format!(
                    "{mode}: the program ended before the awaited call"
                ));
            }
            String::new()
        },
    )
}

/// [`traced`], with `at` deciding at each stop whether to go on tracing
/// to the end, and `tail` adding to the line printed at the end (told
/// whether the program was traced to its end).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn traced_then(
    mode: &str,
    args: &[String],
    mut at: impl FnMut(libc::pid_t, &libc::user_regs_struct) -> Traced,
    tail: impl FnOnce(bool) -> String,
) -> ! {
    let child = spawn_traced(mode, args);
    let wait = |pid: libc::pid_t| -> i32 {
        let mut status = 0;
        // SAFETY: `status` is a valid out pointer.
        if unsafe { libc::waitpid(pid, &mut status, libc::__WALL) } != pid {
            fail(&format!("{mode}: waitpid: {}", errno_name()));
        }
        status
    };
    // SAFETY: ptrace requests on our stopped tracee, with valid pointers.
    unsafe {
        libc::ptrace(
            libc::PTRACE_SETOPTIONS,
            child,
            0,
            libc::PTRACE_O_TRACESYSGOOD | libc::PTRACE_O_EXITKILL,
        );
    }
    let mut deliver = 0;
    let mut to_the_end = true;
    let status = loop {
        // SAFETY: as above.
        unsafe { libc::ptrace(libc::PTRACE_SYSCALL, child, 0, deliver) };
        deliver = 0;
        let status = wait(child);
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            // Traced to the end on purpose, or ended too soon.
            break status;
        }
        let signal = libc::WSTOPSIG(status);
        if signal == libc::SIGTRAP | 0x80 {
            // SAFETY: a zeroed user_regs_struct is valid; GETREGS fills it.
            let regs = unsafe {
                let mut regs: libc::user_regs_struct = std::mem::zeroed();
                libc::ptrace(libc::PTRACE_GETREGS, child, 0, &mut regs);
                regs
            };
            if let Traced::Detach = at(child, &regs) {
                // SAFETY: a plain request on our stopped tracee.
                unsafe { libc::ptrace(libc::PTRACE_DETACH, child, 0, 0) };
                to_the_end = false;
                break wait(child);
            }
        } else if signal != libc::SIGTRAP {
            deliver = signal;
        }
    };
    let how = if libc::WIFEXITED(status) {
        format!("exit {}", libc::WEXITSTATUS(status))
    } else {
        format!("signal {}", libc::WTERMSIG(status))
    };
    println!("pid={child} {how}{}", tail(to_the_end));
    std::process::exit(0)
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn stop_in_write(_: &[String]) -> ! {
    fail("stop-in-write: Linux x86-64 only")
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn pause_daemon_at_chdir(_: &[String]) -> ! {
    fail("pause-daemon-at-chdir: Linux x86-64 only")
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn pause_after_getlk(_: &[String]) -> ! {
    fail("pause-after-getlk: Linux x86-64 only")
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn pause_at_open(_: &[String]) -> ! {
    fail("pause-at-open: Linux x86-64 only")
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn pause_after_open(_: &[String]) -> ! {
    fail("pause-after-open: Linux x86-64 only")
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn pause_at_unlink(_: &[String]) -> ! {
    fail("pause-at-unlink: Linux x86-64 only")
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn pause_after_stat(_: &[String]) -> ! {
    fail("pause-after-stat: Linux x86-64 only")
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn pause_after_probe(_: &[String]) -> ! {
    fail("pause-after-probe: Linux x86-64 only")
}

/// `--block-signals`: the caller's mask blocks the stop signals, SIGHUP
/// and SIGUSR1, as a careless supervisor or shell may leave it.
fn block_stop_signals() {
    // SAFETY: `set` is a valid sigset_t, initialised before use.
    let rc = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1] {
            libc::sigaddset(&mut set, signal);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut())
    };
    if rc != 0 {
        fail(&format!("--block-signals: error {rc}"));
    }
}

/// `--keepcaps`: asks to keep the permitted capabilities across setuid, as
/// a program may do before it starts the daemon.
#[cfg(target_os = "linux")]
fn keep_caps() {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } != 0 {
        fail(&format!("--keepcaps: {}", errno_name()));
    }
}

#[cfg(not(target_os = "linux"))]
fn keep_caps() {
    fail("--keepcaps: Linux only");
}

/// `--lock-keepcaps`: keeps the permitted capabilities across setuid with
/// the securebit, locked, so that `PR_SET_KEEPCAPS` cannot undo it.
#[cfg(target_os = "linux")]
fn lock_keep_caps() {
    const SECBIT_KEEP_CAPS: libc::c_ulong = 1 << 4;
    const SECBIT_KEEP_CAPS_LOCKED: libc::c_ulong = 1 << 5;
    let bits = SECBIT_KEEP_CAPS | SECBIT_KEEP_CAPS_LOCKED;
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_SECUREBITS, bits, 0, 0, 0) } != 0 {
        fail(&format!("--lock-keepcaps: {}", errno_name()));
    }
}

#[cfg(not(target_os = "linux"))]
fn lock_keep_caps() {
    fail("--lock-keepcaps: Linux only");
}

/// `--ambient`: `CAP_NET_BIND_SERVICE` in the inheritable and the ambient
/// sets, as a supervisor's `AmbientCapabilities=` leaves it.
#[cfg(target_os = "linux")]
fn raise_ambient() {
    const CAP_NET_BIND_SERVICE: u32 = 10;
    let (header, mut data) = (cap_header(), [[0u32; 3]; 2]);
    // SAFETY: capget/capset take one header and two data structs (three
    // u32 each: effective, permitted, inheritable), alive for the calls;
    // prctl takes integers only.
    let failed = unsafe {
        if libc::syscall(libc::SYS_capget, &header, data.as_mut_ptr()) != 0 {
            Some("capget")
        } else {
            data[0][2] |= 1 << CAP_NET_BIND_SERVICE;
            if libc::syscall(libc::SYS_capset, &header, data.as_ptr()) != 0 {
                Some("capset")
            } else if libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE,
                CAP_NET_BIND_SERVICE as libc::c_ulong,
                0,
                0,
            ) != 0
            {
                Some("PR_CAP_AMBIENT_RAISE")
            } else {
                None
            }
        }
    };
    if let Some(what) = failed {
        fail(&format!("--ambient: {what}: {}", errno_name()));
    }
}

#[cfg(not(target_os = "linux"))]
fn raise_ambient() {
    fail("--ambient: Linux only");
}

/// The header of `capget`/`capset`, version 3 (two 32-bit words per set),
/// for this process.
#[cfg(target_os = "linux")]
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[cfg(target_os = "linux")]
fn cap_header() -> CapHeader {
    CapHeader {
        version: 0x2008_0522,
        pid: 0,
    }
}

/// Without capabilities, regaining root is `setuid(0)` alone.
#[cfg(not(target_os = "linux"))]
fn regain_root() -> String {
    // SAFETY: setuid takes no pointers.
    if unsafe { libc::setuid(0) } == 0 {
        return "succeeded".to_owned();
    }
    format!("failed setuid {}", errno_name())
}

/// Tries to become root again the way a process that kept capabilities
/// can: raise the effective set to the permitted one, then `setuid(0)`.
#[cfg(target_os = "linux")]
fn regain_root() -> String {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    let mut header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut data = [[0u32; 3]; 2];
    // SAFETY: capget/capset take one header and two data structs (three
    // u32 each: effective, permitted, inheritable), alive for the calls.
    unsafe {
        if libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) != 0 {
            return format!("failed capget {}", errno_name());
        }
        for word in &mut data {
            word[0] = word[1];
        }
        if libc::syscall(libc::SYS_capset, &header, data.as_ptr()) != 0 {
            return format!("failed capset {}", errno_name());
        }
        if libc::setuid(0) == 0 {
            return "succeeded".to_owned();
        }
    }
    format!("failed setuid {}", errno_name())
}

fn main() -> Result<(), String> {
    let raw: Vec<String> = std::env::args().collect();
    // Modes with their own arguments, after `--sandbox DIR/`.
    match raw.get(1).map(String::as_str) {
        Some("hold-lock") => hold_lock(raw.get(4..).unwrap_or_default()),
        Some("stop-in-write") => stop_in_write(raw.get(5..).unwrap_or_default()),
        Some("pause-at-open") => pause_at_open(raw.get(4..).unwrap_or_default()),
        Some("pause-at-unlink") => pause_at_unlink(raw.get(4..).unwrap_or_default()),
        Some("pause-after-open") => pause_after_open(raw.get(4..).unwrap_or_default()),
        Some("pause-after-getlk") => pause_after_getlk(raw.get(4..).unwrap_or_default()),
        Some("pause-daemon-at-chdir") => pause_daemon_at_chdir(raw.get(4..).unwrap_or_default()),
        Some("pause-after-stat") => pause_after_stat(raw.get(4..).unwrap_or_default()),
        Some("pause-after-probe") => pause_after_probe(raw.get(4..).unwrap_or_default()),
        _ => {}
    }
    let opts = parse();
    if opts.mode != "daemon" && !opts.commands {
        fail(&format!("unknown mode {}", opts.mode));
    }
    if let Some(name) = &opts.as_user {
        become_user(name);
    }
    if opts.close_stdio {
        for fd in 0..3 {
            // SAFETY: nothing in this program refers to fds 0-2 any more.
            unsafe { libc::close(fd) };
        }
    }
    if let Some(n) = opts.nofile {
        raise_nofile(n);
    }
    let facts_file = opts.facts.as_ref().map(|path| {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|e| fail(&format!("facts: {e}")))
    });
    let mut log = opts
        .log
        .as_ref()
        .map(|path| LogFile::open(path).unwrap_or_else(|e| fail(&format!("log: {e}"))));
    // With --debug-log the runtime's own step messages go to the file too;
    // the fd stays known for the preserve list.
    let mut log_fd = log.as_ref().map(|l| l.as_fd().as_raw_fd());
    if opts.debug_log {
        if let Some(l) = log.take() {
            l.install(log::LevelFilter::Debug)
                .unwrap_or_else(|_| fail("logger"));
        }
    }
    let reopen = opts.log_reopen.then(|| log.take()).flatten().map(|l| {
        l.install(log::LevelFilter::Info)
            .unwrap_or_else(|_| fail("logger"))
    });
    let extra = match &opts.sandbox {
        Some(dir) if opts.extra > 0 => open_extra(dir, opts.extra),
        _ => Vec::new(),
    };
    let mut keep_high = None;
    if let (Some(high), Some(first)) = (opts.high_fd, extra.first()) {
        dup_to(first.as_raw_fd(), high);
        if opts.keep_high {
            dup_to(first.as_raw_fd(), high + 1);
            keep_high = Some(high + 1);
        }
    }
    if let Some((soft, hard)) = opts.lower_nofile {
        lower_nofile(soft, hard);
    }
    if opts.hide_proc {
        hide_proc();
    }

    let mut daemon = Daemon::new().mode(if opts.lite { Mode::Lite } else { Mode::Full });
    if let Some(p) = &opts.pidfile {
        daemon = daemon.pidfile(p);
    }
    if let Some(p) = &opts.stdout {
        daemon = daemon.stdout(p);
    }
    if let Some(p) = &opts.stderr {
        daemon = daemon.stderr(p);
    }
    if let Some(m) = opts.umask {
        daemon = daemon.umask(m);
    }
    if let Some(d) = &opts.workdir {
        daemon = daemon.work_dir(d);
    }
    if let Some(d) = &opts.chroot {
        daemon = daemon.chroot(d);
    }
    if let Some(u) = &opts.user {
        daemon = daemon.user(u.clone());
    }
    if let Some(g) = &opts.group {
        daemon = daemon.group(g.clone());
    }
    for (resource, soft, hard) in &opts.limits {
        daemon = match hard {
            Some(hard) => daemon.limits(*resource, *soft, *hard),
            None => daemon.limit(*resource, *soft),
        };
    }
    if opts.manual {
        daemon = daemon.readiness(Readiness::Manual);
    }
    if opts.commands {
        daemon = daemon.commands(true);
    }
    if let Some(timeout) = opts.stop_timeout {
        daemon = daemon.stop_timeout(timeout);
    }
    if let Some(f) = &facts_file {
        daemon = daemon.preserve(f);
    }
    if let Some(fd) = log_fd.take() {
        daemon = daemon.preserve(fd);
    }
    daemon = daemon.preserve_all(extra.iter().take(opts.keep));
    if let Some(fd) = keep_high {
        daemon = daemon.preserve(fd);
    }
    if let Some(log) = reopen {
        daemon = daemon.on_signal(Signal::SIGHUP, move |_| match log.reopen() {
            Ok(()) => log::info!("reopened"),
            Err(e) => log::error!("reopen: {e}"),
        });
    }
    if let Some(record) = &opts.record {
        daemon = daemon
            .on_signal(Signal::SIGHUP, signal_handler(record.clone()))
            .on_signal(Signal::SIGUSR1, signal_handler(record.clone()));
    }
    let _thread = opts.thread.then(|| {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let handle = std::thread::spawn(move || {
            let _ = rx.recv();
        });
        (tx, handle)
    });
    if opts.vm_child {
        spawn_vm_child();
    }
    if let Some(go) = &opts.go {
        // Say "waiting" (so that the test can start every launcher first),
        // then wait for the start signal.
        let mut waiting = go.clone().into_os_string();
        waiting.push(format!(".{}", std::process::id()));
        File::create(waiting).unwrap_or_else(|e| fail(&format!("--go: {e}")));
        wait_for_file(go);
    }

    if let Some(text) = &opts.print_before {
        // No newline and no flush: stdout keeps the text in its buffer.
        print!("{text}");
        eprint!("{text}");
    }
    if let Some(calls) = &opts.refuse {
        refuse(calls);
    }
    if opts.keepcaps {
        keep_caps();
    }
    if opts.lock_keepcaps {
        lock_keep_caps();
    }
    if opts.ambient {
        raise_ambient();
    }
    if opts.block_signals {
        block_stop_signals();
    }
    if opts.sigpipe_default {
        // As command-line programs often do, so that `| head` ends them
        // quietly: a write to a pipe without a reader now kills.
        // SAFETY: installs the default disposition; no handler runs.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let given = opts
        .setup_reuse
        .then(|| File::open("/dev/null").unwrap_or_else(|e| fail(&format!("--setup-reuse: {e}"))));
    let dropped_fd = given.as_ref().map(AsRawFd::as_raw_fd);
    let (running, setup) = match opts.setup_bind.clone() {
        Some(address) => {
            let replace = opts
                .setup_replace_pidfile
                .then(|| opts.pidfile.clone())
                .flatten();
            let (running, listener) = daemon
                .setup(move || {
                    drop(given);
                    if let Some(pidfile) = replace {
                        replace_fd_of(&pidfile);
                    }
                    std::net::TcpListener::bind(address)
                })
                .start()
                .unwrap_or_else(|e| e.exit());
            (running, Some(listener))
        }
        None => (daemon.start().unwrap_or_else(|e| e.exit()), None),
    };

    if let Some(log) = log {
        log.install(log::LevelFilter::Info)
            .unwrap_or_else(|_| fail("logger"));
    }
    if opts.ignore_block_hup {
        // SAFETY: SIG_IGN runs no code; the mask is a valid sigset_t.
        unsafe {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGHUP);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        }
    }
    let mut facts = Facts {
        file: facts_file,
        lines: Vec::new(),
    };
    let pid = std::process::id();
    facts.add("pid", pid);
    if let Some(fd) = dropped_fd {
        facts.add("setup_dropped_fd", fd);
    }
    if let Some(listener) = &setup {
        facts.add("setup_fd", listener.as_raw_fd());
        facts.add(
            "setup_addr",
            listener
                .local_addr()
                .map_or_else(|e| format!("error {e}"), |a| a.to_string()),
        );
    }
    facts.add("handle_pid", running.pid());
    if let Some(path) = running.pidfile() {
        facts.add("pidfile", path.display());
    }
    facts.add(
        "args",
        std::env::args().skip(1).collect::<Vec<_>>().join(" "),
    );
    // SAFETY: plain queries without pointers.
    let (ppid, sid, pgid) = unsafe { (libc::getppid(), libc::getsid(0), libc::getpgid(0)) };
    facts.add("ppid", ppid);
    facts.add("sid", sid);
    facts.add("pgid", pgid);
    // SAFETY: umask is always successful; it is put back at once.
    let mask = unsafe {
        let old = libc::umask(0o077);
        libc::umask(old);
        old
    };
    facts.add("umask", format!("{mask:03o}"));
    facts.add(
        "cwd",
        std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|e| format!("error {e}")),
    );
    let (uids, gids) = res_ids();
    facts.add("uids", uids);
    facts.add("gids", gids);
    let groups: HashSet<u32> = supplementary_groups().into_iter().collect();
    let mut groups: Vec<u32> = groups.into_iter().collect();
    groups.sort_unstable();
    facts.add(
        "groups",
        groups
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
    );
    if opts.user.is_some() {
        // SAFETY: setuid takes no pointers; it must fail after a drop.
        let rc = unsafe { libc::setuid(0) };
        let outcome = if rc == 0 {
            "succeeded".to_owned()
        } else {
            format!("failed {}", errno_name())
        };
        facts.add("setuid0", outcome);
        facts.add("regain", regain_root());
    }
    facts.add("fds", join(&open_fds()));
    facts.add(
        "keep_fds",
        join(
            &extra
                .iter()
                .take(opts.keep)
                .map(AsRawFd::as_raw_fd)
                .collect::<Vec<_>>(),
        ),
    );
    facts.add(
        "extra_fds",
        join(&extra.iter().map(AsRawFd::as_raw_fd).collect::<Vec<_>>()),
    );
    println!("hello stdout from {pid}");
    eprintln!("hello stderr from {pid}");
    log::info!("daemon body running as PID {pid}");
    if opts.graceful || opts.ignore_stop {
        // Watch before the facts say the body runs: a test that sends a
        // stop signal once it reads them must find it watched, not be
        // ended at once.
        running.stop_requested();
    }
    facts.flush();

    if let Some(ms) = opts.ready_delay_ms {
        std::thread::sleep(Duration::from_millis(ms));
        running.ready().map_err(|e| e.to_string())?;
        facts.line("ready", 1);
    }
    if opts.wait_elsewhere {
        return wait_elsewhere(&mut facts);
    }
    let trigger = opts.trigger.as_deref();
    let mut stop_seen = false;
    let mut children: Vec<libc::pid_t> = Vec::new();
    loop {
        reap(&mut children, &mut facts);
        if opts.ignore_stop && !stop_seen && running.stop_requested() {
            stop_seen = true;
            let signal = running.wait_for_stop_timeout(Duration::ZERO);
            facts.line(
                "stop_seen",
                signal.map_or_else(|| "none".to_owned(), |s| s.to_string()),
            );
        }
        if opts.graceful {
            let hold = opts.hold_timeout.unwrap_or(Duration::from_millis(20));
            if let Some(signal) = running.wait_for_stop_timeout(hold) {
                facts.line("stopped", signal);
                return Ok(());
            }
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
        match poll_trigger(trigger).as_deref() {
            None => {}
            Some("ok") => return Ok(()),
            Some("err") => return running.finish(Err("the body failed on purpose".to_owned())),
            Some("error-exit") => {
                daemonizer::Error::new(Step::Ready, ErrorKind::Permission, "the body gave up")
                    .exit()
            }
            Some("xfsz") => exceed_file_size(trigger.expect("trigger")),
            Some("panic") => panic!("the body panicked on purpose"),
            Some("exit") => std::process::exit(3),
            Some("fork") => {
                if fork_children(&mut facts) {
                    return Ok(());
                }
                facts.line("forked", 1);
                let _ = std::fs::remove_file(trigger.expect("trigger"));
            }
            Some("fork-wait") => {
                children.push(fork_waiting_child(&mut facts));
                let _ = std::fs::remove_file(trigger.expect("trigger"));
            }
            Some("fork-ready") => {
                children.push(fork_ready_child(&running, &mut facts));
                let _ = std::fs::remove_file(trigger.expect("trigger"));
            }
            Some("read-pidfile") => {
                let path = running.pidfile().expect("a pid file");
                let text = std::fs::read_to_string(path).unwrap_or_default();
                facts.line("pidfile_read", text.trim());
                let _ = std::fs::remove_file(trigger.expect("trigger"));
            }
            Some("ready") => {
                running.ready().map_err(|e| e.to_string())?;
                facts.line("ready", 1);
                let _ = std::fs::remove_file(trigger.expect("trigger"));
            }
            Some(other) => fail(&format!("unknown trigger {other}")),
        }
    }
}
