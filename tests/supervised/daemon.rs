//! A daemon for `tests/supervisor.rs`: started under a stand-in supervisor
//! (a datagram socket in `NOTIFY_SOCKET`), it reports what it sees in a
//! facts file.
//!
//! Configured through the environment:
//!
//! | variable | meaning |
//! |---|---|
//! | `SUP_MODE` | `full` (default) or `lite` |
//! | `SUP_PIDFILE` | the pid file |
//! | `SUP_FACTS` | the facts file (`key=value` lines, written atomically) |
//! | `SUP_KEEP_NOTIFY` | `1`: keep `NOTIFY_SOCKET` for the body's children |
//! | `SUP_RELOAD` | `1`: handle SIGHUP (a reload); the handler sends a status |
//! | `SUP_MANUAL` | `1`: manual readiness; the body waits for `SUP_TRIGGER` first |
//! | `SUP_FAIL` | with `SUP_MANUAL`: `exit` or `panic` instead of calling `ready()` |
//! | `SUP_WATCHDOG` | `1`: report `watchdog()`, then send `WATCHDOG=1` once `SUP_TRIGGER` exists |
//! | `SUP_SPAWN` | `1`: act as the supervisor of socket activation (see [`spawn`]) |
//! | `SUP_LISTEN_PID` | with `SUP_SPAWN`: address the sockets to this PID instead |
//!
//! Once ready, the body sends `STATUS=serving`.
//!
//! With the argument `probe` it only prints the supervisor variables it
//! inherited: the body runs it as its child.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use daemonizer::{Daemon, Mode, Readiness, Signal};

/// The variables a supervisor sets for the service.
const SUPERVISOR_VARS: [&str; 4] = [
    "NOTIFY_SOCKET",
    "LISTEN_PID",
    "LISTEN_FDS",
    "LISTEN_FDNAMES",
];

static RELOADS: AtomicUsize = AtomicUsize::new(0);

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn flag(name: &str) -> bool {
    var(name).as_deref() == Some("1")
}

fn show(value: Option<String>) -> String {
    value.unwrap_or_else(|| "<unset>".to_owned())
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("probe") {
        for name in SUPERVISOR_VARS {
            println!("{name}={}", show(std::env::var(name).ok()));
        }
        return;
    }
    if flag("SUP_SPAWN") {
        spawn();
    }
    run();
}

/// Does what systemd does for a socket-activated service: binds the
/// sockets, places them on descriptors 3 and 4 (not close-on-exec), sets
/// `LISTEN_FDS`, `LISTEN_PID` (this process: the PID survives `exec`) and
/// `LISTEN_FDNAMES`, and executes the service, which is this program again
/// without `SUP_SPAWN`. Descriptor 5, an inherited file that nobody asked
/// to keep, must not survive a full start.
fn spawn() -> ! {
    let unix_path = PathBuf::from(var("SUP_UNIX_SOCKET").expect("SUP_UNIX_SOCKET"));
    let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a TCP socket");
    let unix = UnixListener::bind(&unix_path).expect("bind a Unix socket");
    let stray = std::fs::File::open("/dev/null").expect("open /dev/null");

    // Move everything out of the way first, then onto 3, 4 and 5.
    let high: Vec<RawFd> = [tcp.as_raw_fd(), unix.as_raw_fd(), stray.as_raw_fd()]
        .iter()
        .map(|fd| {
            // SAFETY: duplicates an open descriptor; touches no memory.
            let new = unsafe { libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 100) };
            assert!(new >= 100, "F_DUPFD_CLOEXEC");
            new
        })
        .collect();
    drop((tcp, unix, stray));
    for (target, fd) in (3..).zip(&high) {
        // SAFETY: dup2 onto a descriptor this process does not use (the
        // originals were closed); the copy is not close-on-exec.
        assert_eq!(unsafe { libc::dup2(*fd, target) }, target, "dup2");
        // SAFETY: closes the temporary copy, owned by nobody else.
        unsafe { libc::close(*fd) };
    }

    let err = Command::new(std::env::current_exe().expect("current_exe"))
        .env_remove("SUP_SPAWN")
        .env("LISTEN_FDS", "2")
        .env(
            "LISTEN_PID",
            var("SUP_LISTEN_PID").unwrap_or(std::process::id().to_string()),
        )
        .env("LISTEN_FDNAMES", "web:control")
        .exec();
    panic!("exec: {err}");
}

fn run() {
    let facts = PathBuf::from(var("SUP_FACTS").expect("SUP_FACTS"));
    let mode = match var("SUP_MODE").as_deref() {
        Some("lite") => Mode::Lite,
        _ => Mode::Full,
    };
    let manual = flag("SUP_MANUAL");
    let mut daemon = Daemon::new()
        .mode(mode)
        .keep_notify_socket(flag("SUP_KEEP_NOTIFY"))
        .readiness(if manual {
            Readiness::Manual
        } else {
            Readiness::Auto
        });
    if let Some(pidfile) = var("SUP_PIDFILE") {
        daemon = daemon.pidfile(pidfile);
    }
    if flag("SUP_RELOAD") {
        daemon = daemon.on_signal(Signal::SIGHUP, |_| {
            RELOADS.fetch_add(1, Ordering::SeqCst);
            let _ = daemonizer::notify_status("reload handler ran");
        });
    }
    let running = daemon.start().unwrap_or_else(|e| e.exit());

    let mut out = BTreeMap::new();
    out.insert("pid", std::process::id().to_string());
    for name in SUPERVISOR_VARS {
        out.insert(name, show(std::env::var(name).ok()));
    }
    for (i, fd) in daemonizer::listen_fds().into_iter().enumerate() {
        let name = fd.name().to_owned();
        let raw = fd.as_raw_fd();
        let addr = match name.as_str() {
            "web" => {
                let listener = fd.into_tcp_listener();
                let addr = listener.local_addr().expect("TCP address").to_string();
                let greeting = format!("{name}\n");
                std::thread::spawn(move || {
                    for mut stream in listener.incoming().flatten() {
                        let _ = stream.write_all(greeting.as_bytes());
                    }
                });
                addr
            }
            _ => {
                let listener = fd.into_unix_listener();
                let addr = listener.local_addr().expect("Unix address");
                let addr = addr.as_pathname().map(|p| p.display().to_string());
                let greeting = format!("{name}\n");
                std::thread::spawn(move || {
                    for mut stream in listener.incoming().flatten() {
                        let _ = stream.write_all(greeting.as_bytes());
                    }
                });
                show(addr)
            }
        };
        out.insert(
            ["listen0", "listen1", "listen2"][i.min(2)],
            format!("{raw} {name} {addr}"),
        );
    }
    if flag("SUP_WATCHDOG") {
        let interval = daemonizer::watchdog().map(|d| d.as_micros().to_string());
        out.insert("watchdog", show(interval));
    }
    if manual {
        // What a child started before readiness inherits.
        out.insert("child_before_ready", probe());
        out.insert("state", "waiting".to_owned());
        write_facts(&facts, &out);
        wait_for_trigger();
        match var("SUP_FAIL").as_deref() {
            Some("exit") => std::process::exit(7),
            Some("panic") => panic!("failing before ready, as asked"),
            _ => daemonizer::ready().unwrap_or_else(|e| e.exit()),
        }
    }
    // The first message of the daemon itself, right after readiness.
    daemonizer::notify_status("serving").expect("notify_status");
    out.insert("child", probe());
    out.insert("state", "ready".to_owned());
    write_facts(&facts, &out);

    if flag("SUP_WATCHDOG") {
        wait_for_trigger();
        let sent = daemonizer::notify_watchdog().expect("notify_watchdog");
        out.insert("watchdog_sent", sent.to_string());
        write_facts(&facts, &out);
    }
    loop {
        if let Some(signal) = running.wait_for_stop_timeout(Duration::from_millis(50)) {
            out.insert("stopped_by", signal.to_string());
            write_facts(&facts, &out);
            break;
        }
        let reloads = RELOADS.load(Ordering::SeqCst).to_string();
        if out.get("reloads") != Some(&reloads) {
            out.insert("reloads", reloads);
            write_facts(&facts, &out);
        }
    }
}

/// The supervisor variables a child of the body inherits, `;`-separated.
fn probe() -> String {
    let output = Command::new(std::env::current_exe().expect("current_exe"))
        .arg("probe")
        .output()
        .expect("run the probe");
    assert!(output.status.success(), "probe: {:?}", output.status);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .collect::<Vec<_>>()
        .join(";")
}

fn wait_for_trigger() {
    let trigger = PathBuf::from(var("SUP_TRIGGER").expect("SUP_TRIGGER"));
    while !trigger.exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Replaces the facts file in one step, so a reader never sees half of it.
fn write_facts(path: &Path, facts: &BTreeMap<&str, String>) {
    let text: String = facts.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write the facts");
    std::fs::rename(&tmp, path).expect("rename the facts");
}
