//! Running under a supervisor that speaks systemd's protocols.
//!
//! A datagram socket bound by the test stands in for the supervisor: its
//! address goes to `tests/supervised/daemon.rs` (the `supervised` example)
//! through `NOTIFY_SOCKET`, and the test checks every message, in order.
//! Socket activation is done the way systemd does it: the program binds
//! the sockets itself, places them on descriptors 3 and 4, sets
//! `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES`, and executes itself.
//!
//! Every check polls with a generous deadline; nothing asserts how long
//! anything takes.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long any awaited event may take before the test gives up.
const DEADLINE: Duration = Duration::from_secs(60);

fn program() -> PathBuf {
    common::example_bin("supervised")
}

fn unique(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "daemonizer-supervisor-{}-{tag}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(unique(tag));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where the stand-in supervisor listens.
#[derive(Clone, Copy, Debug)]
enum Address {
    Path,
    Abstract,
}

/// The stand-in supervisor: a bound datagram socket.
struct Supervisor {
    socket: UnixDatagram,
    /// The `NOTIFY_SOCKET` value.
    value: String,
}

impl Supervisor {
    fn new(address: Address, dir: &TempDir) -> Supervisor {
        let (socket, value) = match address {
            Address::Path => {
                let path = dir.path("notify");
                let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
                (socket, path.to_str().expect("UTF-8 path").to_owned())
            }
            Address::Abstract => {
                let name = unique("notify");
                let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract name");
                let socket = UnixDatagram::bind_addr(&addr).expect("bind the notify socket");
                (socket, format!("@{name}"))
            }
        };
        let on: libc::c_int = 1;
        // SAFETY: sets an int option from a valid pointer and its size.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PASSCRED,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of_val(&on) as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "SO_PASSCRED");
        Supervisor { socket, value }
    }

    /// The next message and the PID of its sender, waiting for it. The
    /// PID comes from `SCM_CREDENTIALS`, as systemd's does when it checks
    /// `NotifyAccess=`.
    fn recv_from(&self) -> (String, i32) {
        self.socket.set_nonblocking(false).expect("blocking socket");
        self.socket
            .set_read_timeout(Some(DEADLINE))
            .expect("read timeout");
        let mut buf = [0u8; 4096];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // u64 elements: aligned for the control message headers.
        let mut control = [0u64; 16];
        // SAFETY: an all-zero msghdr is a valid, empty one.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        let n = loop {
            // SAFETY: `msg` points to `iov` (into `buf`) and to `control`,
            // all alive and writable for the whole call.
            let n = unsafe { libc::recvmsg(self.socket.as_raw_fd(), &mut msg, 0) };
            if let Ok(n) = usize::try_from(n) {
                break n;
            }
            let err = std::io::Error::last_os_error();
            assert_eq!(
                err.kind(),
                std::io::ErrorKind::Interrupted,
                "a message from the daemon in time: {err}"
            );
        };
        let mut sender = None;
        // SAFETY: walks the control messages the kernel wrote into
        // `control`, within the length it set in `msg`; the credentials are
        // read unaligned from inside the buffer.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET
                    && (*cmsg).cmsg_type == libc::SCM_CREDENTIALS
                {
                    let cred: libc::ucred = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    sender = Some(cred.pid);
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        let message = String::from_utf8(buf[..n].to_vec()).expect("a UTF-8 message");
        let sender = sender.unwrap_or_else(|| panic!("no sender credentials for {message:?}"));
        (message, sender)
    }

    /// Receives `message`, sent by `sender`.
    fn expect(&self, sender: i32, message: &str) {
        let (got, from) = self.recv_from();
        assert_eq!(got, message);
        assert_eq!(from, sender, "the sender of {got:?}");
    }

    /// Every message already queued, without waiting.
    fn queued(&self) -> Vec<String> {
        self.socket.set_nonblocking(true).expect("non-blocking");
        let mut buf = [0u8; 4096];
        let mut out = Vec::new();
        loop {
            match self.socket.recv(&mut buf) {
                Ok(n) => out.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return out,
                Err(e) => panic!("recv: {e}"),
            }
        }
    }
}

/// Kills what a test started if the test fails half-way: the child, and
/// the daemon it started, known by its PID or found through the pid file
/// and the facts file.
#[derive(Default)]
struct Guard {
    child: Option<Child>,
    daemon: Option<i32>,
    /// The run's pid file and facts file.
    files: Option<(PathBuf, PathBuf)>,
}

impl Guard {
    /// Kills `pid` if it is a process of this run: its environment names
    /// the run's facts file (a PID read from a file may have been reused).
    fn kill_if_ours(pid: i32, facts: &Path) {
        let marker = format!("SUP_FACTS={}", facts.display());
        let ours = std::fs::read(format!("/proc/{pid}/environ"))
            .map(|env| env.split(|b| *b == 0).any(|var| var == marker.as_bytes()))
            .unwrap_or(false);
        if ours {
            // SAFETY: kill(2) with a PID checked above; no memory involved.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some((pidfile, facts_file)) = &self.files {
            let mut pids: Vec<i32> = self.daemon.into_iter().collect();
            let from_files = [
                std::fs::read_to_string(pidfile).unwrap_or_default(),
                facts(facts_file).remove("pid").unwrap_or_default(),
            ];
            pids.extend(
                from_files
                    .iter()
                    .filter_map(|s| s.trim().parse::<i32>().ok()),
            );
            for pid in pids {
                Guard::kill_if_ours(pid, facts_file);
            }
        }
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_exit(child: &mut Child) -> ExitStatus {
    let mut status = None;
    wait_until("the process to exit", || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    status.expect("exited")
}

/// Whether `pid` is a live process (a zombie counts as gone).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next());
            state != Some("Z") && state != Some("X")
        }
        Err(_) => false,
    }
}

fn signal(pid: i32, signal: i32) {
    // SAFETY: kill(2) with a PID this test started; no memory involved.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal})");
}

fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    u64::try_from(ts.tv_sec).expect("secs") * 1_000_000
        + u64::try_from(ts.tv_nsec).expect("ns") / 1_000
}

/// The facts file as a map.
fn facts(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Waits until the facts file says `key=value`, and returns it all.
fn facts_when(path: &Path, key: &str, value: &str) -> BTreeMap<String, String> {
    let mut seen = BTreeMap::new();
    wait_until(&format!("{key}={value} in {}", path.display()), || {
        seen = facts(path);
        seen.get(key).map(String::as_str) == Some(value)
    });
    seen
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Full,
    Lite,
}

/// One run of the program: its files and settings.
struct Run {
    dir: TempDir,
    mode: Mode,
    command: Command,
}

impl Run {
    fn new(mode: Mode, supervisor: Option<&Supervisor>, dir: TempDir) -> Run {
        let mut command = Command::new(program());
        for var in [
            "NOTIFY_SOCKET",
            "LISTEN_PID",
            "LISTEN_FDS",
            "LISTEN_FDNAMES",
            "WATCHDOG_USEC",
            "WATCHDOG_PID",
        ] {
            command.env_remove(var);
        }
        command
            .env(
                "SUP_MODE",
                match mode {
                    Mode::Full => "full",
                    Mode::Lite => "lite",
                },
            )
            .env("SUP_PIDFILE", dir.path("pid"))
            .env("SUP_FACTS", dir.path("facts"))
            .env("SUP_TRIGGER", dir.path("trigger"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(supervisor) = supervisor {
            command.env("NOTIFY_SOCKET", &supervisor.value);
        }
        Run { dir, mode, command }
    }

    fn env(mut self, key: &str, value: &str) -> Run {
        self.command.env(key, value);
        self
    }

    fn spawn(&mut self, guard: &mut Guard) -> i32 {
        guard.files = Some((self.pidfile(), self.dir.path("facts")));
        let child = self.command.spawn().expect("start the program");
        let pid = i32::try_from(child.id()).expect("pid");
        guard.child = Some(child);
        pid
    }

    fn pidfile(&self) -> PathBuf {
        self.dir.path("pid")
    }

    fn pidfile_content(&self) -> String {
        std::fs::read_to_string(self.pidfile()).unwrap_or_else(|e| format!("<{e}>"))
    }

    fn facts_when(&self, key: &str, value: &str) -> BTreeMap<String, String> {
        facts_when(&self.dir.path("facts"), key, value)
    }

    fn trigger(&self) {
        std::fs::write(self.dir.path("trigger"), b"go").expect("create the trigger");
    }
}

/// The launcher's stderr, once it has exited (a daemon that kept the pipe
/// open fails the test after a deadline).
fn stderr_of(child: &mut Child) -> String {
    let pid = child.id();
    child.stderr.take().map_or_else(String::new, |err| {
        common::Lines::new(&format!("the stderr of the launcher (PID {pid})"), err).rest()
    })
}

/// Receives the start-up message and returns the daemon's PID: in full
/// mode `READY=1` and `MAINPID=` come from the launcher, which then exits
/// 0; in lite mode `READY=1` comes from the process itself. Either way the
/// pid file holds the daemon's PID when the message arrives.
fn expect_ready(run: &Run, supervisor: &Supervisor, guard: &mut Guard, launcher: i32) -> i32 {
    let (message, sender) = supervisor.recv_from();
    // Read at once: the pid file must already be complete.
    let pidfile = run.pidfile_content();
    let pid = match run.mode {
        Mode::Full => {
            let mainpid = message
                .strip_prefix("READY=1\nMAINPID=")
                .unwrap_or_else(|| panic!("expected READY=1 and MAINPID, got {message:?}"));
            let pid: i32 = mainpid.parse().expect("MAINPID is a number");
            guard.daemon = Some(pid);
            assert_ne!(pid, launcher, "MAINPID names the daemon, not the launcher");
            let child = guard.child.as_mut().expect("launcher");
            let status = wait_exit(child);
            assert!(
                status.success(),
                "launcher: {status:?}: {}",
                stderr_of(child)
            );
            pid
        }
        Mode::Lite => {
            assert_eq!(message, "READY=1");
            launcher
        }
    };
    assert_eq!(pidfile, format!("{pid}\n"), "pid file when READY=1 arrived");
    // The process the supervisor started says it, as NotifyAccess=main
    // requires.
    assert_eq!(sender, launcher, "the sender of {message:?}");
    pid
}

/// Sends SIGTERM, expects `STOPPING=1`, and waits for a clean end.
fn expect_stop(run: &Run, supervisor: &Supervisor, guard: &mut Guard, pid: i32) {
    signal(pid, libc::SIGTERM);
    supervisor.expect(pid, "STOPPING=1");
    match run.mode {
        Mode::Full => wait_until("the daemon to exit", || !alive(pid)),
        Mode::Lite => {
            let status = wait_exit(guard.child.as_mut().expect("child"));
            assert!(status.success(), "{status:?}");
        }
    }
    guard.daemon = None;
    wait_until("the pid file to be removed", || !run.pidfile().exists());
    assert_eq!(
        supervisor.queued(),
        Vec::<String>::new(),
        "nothing after STOPPING=1"
    );
}

/// Start, readiness, a reload and a stop: every message, in order.
fn life_cycle(mode: Mode, address: Address) {
    let dir = TempDir::new("cycle");
    let supervisor = Supervisor::new(address, &dir);
    let mut run = Run::new(mode, Some(&supervisor), dir).env("SUP_RELOAD", "1");
    let mut guard = Guard::default();
    let launcher = run.spawn(&mut guard);

    let pid = expect_ready(&run, &supervisor, &mut guard, launcher);
    supervisor.expect(pid, "STATUS=serving");
    let facts = run.facts_when("state", "ready");
    assert_eq!(facts["pid"], pid.to_string());
    // Neither the daemon nor its children can reach the supervisor.
    assert_eq!(facts["NOTIFY_SOCKET"], "<unset>");
    assert!(
        facts["child"].contains("NOTIFY_SOCKET=<unset>"),
        "{}",
        facts["child"]
    );

    let before = monotonic_usec();
    signal(pid, libc::SIGHUP);
    let (reloading, sender) = supervisor.recv_from();
    assert_eq!(sender, pid, "the sender of {reloading:?}");
    let after = monotonic_usec();
    let usec: u64 = reloading
        .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
        .unwrap_or_else(|| panic!("expected RELOADING=1, got {reloading:?}"))
        .parse()
        .expect("MONOTONIC_USEC is a number");
    assert!(
        (before..=after).contains(&usec),
        "MONOTONIC_USEC={usec} not within {before}..={after}"
    );
    supervisor.expect(pid, "STATUS=reload handler ran");
    supervisor.expect(pid, "READY=1");
    run.facts_when("reloads", "1");

    expect_stop(&run, &supervisor, &mut guard, pid);
    assert_eq!(
        run.facts_when("stopped_by", "SIGTERM")["pid"],
        pid.to_string()
    );
}

#[test]
fn full_mode_with_a_path_socket() {
    life_cycle(Mode::Full, Address::Path);
}

#[test]
fn full_mode_with_an_abstract_socket() {
    life_cycle(Mode::Full, Address::Abstract);
}

#[test]
fn lite_mode_with_a_path_socket() {
    life_cycle(Mode::Lite, Address::Path);
}

#[test]
fn lite_mode_with_an_abstract_socket() {
    life_cycle(Mode::Lite, Address::Abstract);
}

/// With `keep_notify_socket(true)`, the body's children inherit the
/// variable.
fn keeps_notify_socket(mode: Mode, address: Address) {
    let dir = TempDir::new("keep");
    let supervisor = Supervisor::new(address, &dir);
    let mut run = Run::new(mode, Some(&supervisor), dir).env("SUP_KEEP_NOTIFY", "1");
    let mut guard = Guard::default();
    let launcher = run.spawn(&mut guard);
    let pid = expect_ready(&run, &supervisor, &mut guard, launcher);
    let facts = run.facts_when("state", "ready");
    assert_eq!(facts["NOTIFY_SOCKET"], supervisor.value);
    let expected = format!("NOTIFY_SOCKET={}", supervisor.value);
    assert!(facts["child"].contains(&expected), "{}", facts["child"]);
    supervisor.expect(pid, "STATUS=serving");
    expect_stop(&run, &supervisor, &mut guard, pid);
}

#[test]
fn full_mode_keeps_notify_socket_when_asked() {
    keeps_notify_socket(Mode::Full, Address::Path);
}

#[test]
fn lite_mode_keeps_notify_socket_when_asked() {
    keeps_notify_socket(Mode::Lite, Address::Abstract);
}

/// Manual readiness: nothing is reported until the body calls `ready()`,
/// which it does once the test creates the trigger file.
fn manual_readiness(mode: Mode) {
    let dir = TempDir::new("manual");
    let supervisor = Supervisor::new(Address::Path, &dir);
    let mut run = Run::new(mode, Some(&supervisor), dir)
        .env("SUP_MANUAL", "1")
        .env("SUP_RELOAD", "1");
    let mut guard = Guard::default();
    let launcher = run.spawn(&mut guard);

    let waiting = run.facts_when("state", "waiting");
    let pid: i32 = waiting["pid"].parse().expect("pid");
    if mode == Mode::Full {
        guard.daemon = Some(pid);
    }
    // The body is running and has not called ready(): no READY=1, and in
    // full mode the launcher is still waiting.
    assert_eq!(supervisor.queued(), Vec::<String>::new());
    let child = guard.child.as_mut().expect("child");
    assert_eq!(
        child.try_wait().expect("try_wait"),
        None,
        "exited before ready()"
    );
    // Not even a child started before readiness reaches the supervisor.
    assert!(
        waiting["child_before_ready"].contains("NOTIFY_SOCKET=<unset>"),
        "{}",
        waiting["child_before_ready"]
    );

    // A reload before readiness runs the handler, but must neither
    // announce a reload nor report the service ready.
    signal(pid, libc::SIGHUP);
    supervisor.expect(pid, "STATUS=reload handler ran");

    run.trigger();
    assert_eq!(expect_ready(&run, &supervisor, &mut guard, launcher), pid);
    supervisor.expect(pid, "STATUS=serving");
    run.facts_when("state", "ready");
    expect_stop(&run, &supervisor, &mut guard, pid);
}

#[test]
fn full_mode_manual_readiness() {
    manual_readiness(Mode::Full);
}

#[test]
fn lite_mode_manual_readiness() {
    manual_readiness(Mode::Lite);
}

/// A body that fails before `ready()`: the full-mode launcher exits
/// non-zero, and `READY=1` is never sent.
fn fails_before_ready(how: &str) {
    let dir = TempDir::new("fail");
    let supervisor = Supervisor::new(Address::Path, &dir);
    let mut run = Run::new(Mode::Full, Some(&supervisor), dir)
        .env("SUP_MANUAL", "1")
        .env("SUP_FAIL", how);
    let mut guard = Guard::default();
    run.spawn(&mut guard);

    let pid: i32 = run.facts_when("state", "waiting")["pid"]
        .parse()
        .expect("pid");
    guard.daemon = Some(pid);
    let child = guard.child.as_mut().expect("launcher");
    assert_eq!(
        child.try_wait().expect("try_wait"),
        None,
        "exited before ready()"
    );
    run.trigger();
    let status = wait_exit(child);
    let stderr = stderr_of(child);
    assert!(!status.success(), "launcher: {status:?}");
    assert_eq!(status.signal(), None, "launcher: {status:?}");
    assert!(
        stderr.contains("cannot start daemon"),
        "launcher's stderr: {stderr:?}"
    );
    wait_until("the daemon to exit", || !alive(pid));
    guard.daemon = None;
    wait_until("the pid file to be removed", || !run.pidfile().exists());
    let messages = supervisor.queued();
    assert!(
        !messages.iter().any(|m| m.contains("READY=1")),
        "{messages:?}"
    );
}

#[test]
fn full_mode_launcher_fails_when_the_body_exits_before_ready() {
    fails_before_ready("exit");
}

#[test]
fn full_mode_launcher_fails_when_the_body_panics_before_ready() {
    fails_before_ready("panic");
}

/// Socket activation as systemd does it; the sockets work after the start
/// and the variables are gone.
fn socket_activation(mode: Mode) {
    let dir = TempDir::new("listen");
    let supervisor = Supervisor::new(Address::Path, &dir);
    let unix_path = dir.path("control.sock");
    let mut run = Run::new(mode, Some(&supervisor), dir)
        .env("SUP_SPAWN", "1")
        .env("SUP_UNIX_SOCKET", unix_path.to_str().expect("UTF-8"));
    let mut guard = Guard::default();
    let launcher = run.spawn(&mut guard);
    let pid = expect_ready(&run, &supervisor, &mut guard, launcher);
    supervisor.expect(pid, "STATUS=serving");

    let facts = run.facts_when("state", "ready");
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        assert_eq!(facts[var], "<unset>", "{var} in the daemon");
        assert!(
            facts["child"].contains(&format!("{var}=<unset>")),
            "{var} in the child: {}",
            facts["child"]
        );
    }
    let web = facts["listen0"]
        .strip_prefix("3 web ")
        .unwrap_or_else(|| panic!("listen0={}", facts["listen0"]));
    assert_eq!(
        facts["listen1"],
        format!("4 control {}", unix_path.display())
    );
    assert!(!facts.contains_key("listen2"), "{facts:?}");

    let mut line = String::new();
    BufReader::new(TcpStream::connect(web).expect("connect to the web socket"))
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line, "web\n");
    line.clear();
    BufReader::new(UnixStream::connect(&unix_path).expect("connect to the control socket"))
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line, "control\n");

    if mode == Mode::Full {
        // The passed sockets survived the sweep; the stray /dev/null on
        // descriptor 5 did not.
        for fd in [3, 4] {
            let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).expect("fd open");
            assert!(
                target.to_string_lossy().starts_with("socket:"),
                "fd {fd}: {}",
                target.display()
            );
        }
        for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).expect("fd dir") {
            let entry = entry.expect("entry");
            let fd: i32 = entry.file_name().to_string_lossy().parse().expect("fd");
            let target = std::fs::read_link(entry.path()).unwrap_or_default();
            assert!(
                fd <= 2 || target != Path::new("/dev/null"),
                "fd {fd} is an inherited /dev/null"
            );
        }
    }
    expect_stop(&run, &supervisor, &mut guard, pid);
}

#[test]
fn full_mode_socket_activation() {
    socket_activation(Mode::Full);
}

#[test]
fn lite_mode_socket_activation() {
    socket_activation(Mode::Lite);
}

/// Sockets addressed to another process (`LISTEN_PID`) are not the
/// daemon's: it gets none, the sweep closes them, and the variables are
/// cleared all the same.
#[test]
fn sockets_for_another_process_are_left_alone() {
    let dir = TempDir::new("notmine");
    let supervisor = Supervisor::new(Address::Path, &dir);
    let unix_path = dir.path("control.sock");
    let mut run = Run::new(Mode::Full, Some(&supervisor), dir)
        .env("SUP_SPAWN", "1")
        .env("SUP_LISTEN_PID", "1")
        .env("SUP_UNIX_SOCKET", unix_path.to_str().expect("UTF-8"));
    let mut guard = Guard::default();
    let launcher = run.spawn(&mut guard);
    let pid = expect_ready(&run, &supervisor, &mut guard, launcher);
    supervisor.expect(pid, "STATUS=serving");

    let facts = run.facts_when("state", "ready");
    assert!(!facts.contains_key("listen0"), "{facts:?}");
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        assert_eq!(facts[var], "<unset>", "{var} in the daemon");
    }
    // The launcher is gone and the daemon closed its copy: nobody listens.
    let err = UnixStream::connect(&unix_path).expect_err("nobody listens any more");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    expect_stop(&run, &supervisor, &mut guard, pid);
}

/// `watchdog()` reports `WATCHDOG_USEC`; `notify_watchdog()` sends
/// `WATCHDOG=1`.
fn watchdog(mode: Mode) {
    let dir = TempDir::new("watchdog");
    let supervisor = Supervisor::new(Address::Abstract, &dir);
    let mut run = Run::new(mode, Some(&supervisor), dir)
        .env("SUP_WATCHDOG", "1")
        .env("WATCHDOG_USEC", "2500000");
    let mut guard = Guard::default();
    let launcher = run.spawn(&mut guard);
    let pid = expect_ready(&run, &supervisor, &mut guard, launcher);
    supervisor.expect(pid, "STATUS=serving");
    assert_eq!(run.facts_when("state", "ready")["watchdog"], "2500000");
    run.trigger();
    supervisor.expect(pid, "WATCHDOG=1");
    run.facts_when("watchdog_sent", "true");
    expect_stop(&run, &supervisor, &mut guard, pid);
}

#[test]
fn full_mode_watchdog() {
    watchdog(Mode::Full);
}

#[test]
fn lite_mode_watchdog() {
    watchdog(Mode::Lite);
}

/// A watchdog addressed to another process is not ours, and without a
/// supervisor `notify_watchdog()` reports that nobody listens.
#[test]
fn watchdog_for_another_process_and_no_supervisor() {
    let dir = TempDir::new("nowatchdog");
    let mut run = Run::new(Mode::Lite, None, dir)
        .env("SUP_WATCHDOG", "1")
        .env("WATCHDOG_USEC", "2500000")
        .env("WATCHDOG_PID", "1");
    let mut guard = Guard::default();
    let pid = run.spawn(&mut guard);
    assert_eq!(run.facts_when("state", "ready")["watchdog"], "<unset>");
    run.trigger();
    run.facts_when("watchdog_sent", "false");
    signal(pid, libc::SIGTERM);
    let status = wait_exit(guard.child.as_mut().expect("child"));
    assert!(status.success(), "{status:?}");
}
