//! The daemon that the fault-injection sweep (`tests/faults/sweep.py`)
//! starts and stops under `strace`, failing one system call at a time.
//!
//! ```text
//! faults-target [COMMAND] --sandbox DIR --pidfile P --facts F [options]
//! ```
//!
//! With a first argument `start`, `stop`, `status`, `restart` or `reload`,
//! the program takes commands ([`Daemon::commands`]), with a stop timeout
//! of 2 s.
//!
//! | option | effect |
//! |---|---|
//! | `--sandbox DIR` | ignored: tags the process as belonging to one run |
//! | `--pidfile P` | the pid file |
//! | `--facts F` | opened (append) before the start and preserved; the body writes `pid=<pid>` into it once it runs, and `stopped=<signal>` with `--graceful` |
//! | `--lite` | lite mode |
//! | `--user U` | drop privileges to the user `U` (a name) |
//! | `--handlers` | handle SIGHUP (adds `hup=1` to the facts) and SIGUSR1 (a thread runs the handlers) |
//! | `--graceful` | the body waits with `wait_for_stop()` and returns from `main`; otherwise it sleeps and a stop signal ends it from the signal handler |
//! | `--chroot DIR` | the daemon runs inside `DIR` |
//! | `--output F` | the daemon's stdout and stderr go to `F` (appended) |
//! | `--pause` | stop this process (SIGSTOP) right before the start, so that a tracer attached meanwhile counts system calls from the start on |
//!
//! The body first calls `access` on [`BODY_MARK`]: the sweep cuts traces
//! there, to count only what the runtime does. Its own writes are retried,
//! since a fault meant for the runtime may land on them too (strace counts
//! calls per process).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::Duration;

use daemonizer::{Account, Daemon, Mode, Signal};

/// A path that never exists, looked up once by the body before anything
/// else: the end of the start in a trace.
const BODY_MARK: &str = "/nonexistent/daemonizer-faults-body-begins";

struct Opts {
    pidfile: PathBuf,
    facts: PathBuf,
    lite: bool,
    user: Option<String>,
    output: Option<PathBuf>,
    chroot: Option<PathBuf>,
    handlers: bool,
    graceful: bool,
    pause: bool,
    commands: bool,
}

fn fail(msg: &str) -> ! {
    eprintln!("faults-target: {msg}");
    std::process::exit(2)
}

fn parse() -> Opts {
    let mut args = std::env::args().skip(1).peekable();
    let commands = args.peek().is_some_and(|first| {
        ["start", "stop", "status", "restart", "reload"].contains(&first.as_str())
    });
    if commands {
        // The runtime reads the command itself.
        args.next();
    }
    let (mut pidfile, mut facts) = (None, None);
    let mut opts = Opts {
        pidfile: PathBuf::new(),
        facts: PathBuf::new(),
        lite: false,
        user: None,
        output: None,
        chroot: None,
        handlers: false,
        graceful: false,
        pause: false,
        commands,
    };
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| fail(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--sandbox" => drop(value()),
            "--pidfile" => pidfile = Some(PathBuf::from(value())),
            "--facts" => facts = Some(PathBuf::from(value())),
            "--lite" => opts.lite = true,
            "--user" => opts.user = Some(value()),
            "--output" => opts.output = Some(PathBuf::from(value())),
            "--chroot" => opts.chroot = Some(PathBuf::from(value())),
            "--handlers" => opts.handlers = true,
            "--graceful" => opts.graceful = true,
            "--pause" => opts.pause = true,
            other => fail(&format!("unknown option {other}")),
        }
    }
    opts.pidfile = pidfile.unwrap_or_else(|| fail("--pidfile needed"));
    opts.facts = facts.unwrap_or_else(|| fail("--facts needed"));
    opts
}

/// Appends `line` to the facts, retrying: one injected fault must not make
/// a running body look like one that never ran.
fn record(facts: &File, line: &str) {
    for _ in 0..50 {
        let offset = facts.metadata().map(|m| m.len()).unwrap_or(0);
        if facts.write_all_at(line.as_bytes(), offset).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn main() {
    let opts = parse();
    let facts = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(&opts.facts)
        .unwrap_or_else(|e| fail(&format!("facts: {e}")));
    let mut daemon = Daemon::new()
        .mode(if opts.lite { Mode::Lite } else { Mode::Full })
        .pidfile(&opts.pidfile)
        .preserve(&facts);
    if let Some(user) = &opts.user {
        daemon = daemon.user(Account::Name(user.clone()));
    }
    if let Some(dir) = &opts.chroot {
        daemon = daemon.chroot(dir);
    }
    if let Some(output) = &opts.output {
        daemon = daemon.stdout(output).stderr(output);
    }
    if opts.commands {
        daemon = daemon.commands(true).stop_timeout(Duration::from_secs(2));
    }
    if opts.handlers {
        let facts = facts
            .try_clone()
            .unwrap_or_else(|e| fail(&format!("facts: {e}")));
        daemon = daemon
            .preserve(&facts)
            .on_signal(Signal::SIGHUP, move |_| record(&facts, "hup=1\n"))
            .on_signal(Signal::SIGUSR1, |_| {});
    }
    if opts.pause {
        // SAFETY: raise(3) takes no pointers.
        unsafe { libc::raise(libc::SIGSTOP) };
    }
    let running = daemon.start().unwrap_or_else(|e| e.exit());

    let mark = std::ffi::CString::new(BODY_MARK).expect("no NUL");
    // SAFETY: a valid NUL-terminated path; the result only marks the trace.
    unsafe { libc::access(mark.as_ptr(), libc::F_OK) };
    if opts.graceful {
        // Watched before the facts say the body runs: a stop sent once they
        // are read is a request, not the end of the process.
        running.stop_requested();
    }
    record(&facts, &format!("pid={}\n", std::process::id()));
    if opts.graceful {
        let signal = running.wait_for_stop();
        record(&facts, &format!("stopped={signal}\n"));
        return;
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
