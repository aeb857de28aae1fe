//! Code shared by the integration tests: a sandbox directory per test,
//! the `scenario` program, and observation of processes through `/proc`.
//!
//! - A test that cannot check its claim here calls [`skip`] (or
//!   [`root_or_skip`]): the skip shows in every log, and under `CI=true` it
//!   is a failure.
//! - [`TempUser`] and [`TempGroup`] create throw-away accounts (names with
//!   this process's PID) and remove them on drop, also when the test fails.
//! - Every wait has a deadline ([`DEADLINE`]): [`finish`] and [`Lines`]
//!   read a child's pipes in threads and fail, naming the processes that
//!   hold a pipe open, rather than hang.
//! - Stress tests print their figures with [`summary`].
//!
//! Nothing here forks the test process: programs are started with
//! `std::process::Command` and observed from outside.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long any wait may take before the test fails. Generous: tests run
/// in parallel on small machines; nothing asserts on durations.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// The example `name`, next to the test binaries in
/// `target/<profile>/examples/`. `cargo test` builds examples, but `cargo
/// test --test <name>` alone does not: run by cargo (`CARGO` is set), the
/// example is built first, once per test binary, so that no test runs a
/// stale program.
pub(crate) fn example_bin(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let exe = std::env::current_exe().expect("current_exe");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary in target/<profile>/deps");
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if !built.iter().any(|b| b == name) {
        if let Some(cargo) = std::env::var_os("CARGO") {
            let mut build = Command::new(cargo);
            build.args(["build", "--quiet", "--example", name]);
            if profile.file_name().is_some_and(|p| p == "release") {
                build.arg("--release");
            }
            // Under `cargo test --target <triple>` the profile directory
            // sits in `target/<triple>/`: build the example for it too.
            let triple = profile.parent().and_then(Path::file_name);
            if let Some(triple) = triple.and_then(|t| t.to_str()) {
                let (arch, os) = (std::env::consts::ARCH, std::env::consts::OS);
                if triple.starts_with(&format!("{arch}-")) && triple.contains(os) {
                    build.args(["--target", triple]);
                }
            }
            let status = build.status().expect("run cargo build");
            assert!(status.success(), "cargo build --example {name}: {status}");
        }
        built.push(name.to_owned());
    }
    let bin = profile.join("examples").join(name);
    assert!(bin.exists(), "{} is missing", bin.display());
    bin
}

/// The `scenario` helper program.
pub(crate) fn scenario_bin() -> PathBuf {
    example_bin("scenario")
}

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Whether this run is continuous integration (`CI=true`, as set by
/// `.ci/run` and by CI services), where no test may skip.
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Reports that `test` cannot check its claim because `why` (a missing
/// precondition). Under `CI=true` this fails the test; otherwise it prints
/// `<test>: SKIPPED: <why>` past libtest's capture (straight to the
/// process's stderr), so that the skip shows in every run's log, and the
/// caller returns.
///
/// ```ignore
/// if !is_root() {
///     return skip("chroot_works", "needs root");
/// }
/// ```
pub(crate) fn skip(test: &str, why: &str) {
    use std::io::Write;
    assert!(
        !in_ci(),
        "{test}: cannot run: {why} (CI=true: a missing precondition is a failure)"
    );
    // Not eprintln!: libtest captures that and shows it only on failure.
    let line = format!("\n{test}: SKIPPED: {why}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Prints a stress test's figures, `summary: <text>`, past libtest's
/// capture (straight to the process's stderr, on a line of its own), so
/// that every run shows them and `.ci/run` can collect them with `grep
/// '^summary:'`. Assert each figure's bound before printing it.
///
/// ```ignore
/// assert!(reads > 0, "the reader read");
/// summary(&format!("{reads} reads of the pid file, none partial"));
/// ```
pub(crate) fn summary(text: &str) {
    use std::io::Write;
    // One write of whole lines, with a newline first: libtest may have
    // left its own line unfinished.
    let line = format!("\nsummary: {text}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// True when running as root; otherwise [`skip`]s `test` (a failure under
/// `CI=true`).
pub(crate) fn root_or_skip(test: &str) -> bool {
    if is_root() {
        return true;
    }
    skip(test, "needs root (privilege drop, chroot)");
    false
}

/// Runs an account tool (`useradd`, `groupadd`, ...), retrying while the
/// account database is locked by a concurrent change; the tool's message
/// otherwise.
fn account_tool(tool: &str, args: &[&str]) -> Result<(), String> {
    // One change at a time from this process; other processes wait on the
    // database's own lock, which the tools report as a failure: retry.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut last = String::new();
    for _ in 0..50 {
        let out = Command::new(tool)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{tool}: {e} (the account tools come with `passwd`)"))?;
        if out.status.success() {
            return Ok(());
        }
        last = format!(
            "{}: {}",
            describe(&out.status),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        if !last.contains("lock") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{tool} {}: {last}", args.join(" ")))
}

/// Removes an account in a drop: never panics (a panic while a failing
/// test unwinds would abort every test of the binary); says what is left.
fn remove_account(tool: &str, db: &str, name: &str) {
    use std::io::Write;
    if account_id(db, name).is_some() {
        if let Err(e) = account_tool(tool, &[name]) {
            let _ = writeln!(std::io::stderr(), "left behind: {e}");
        }
    }
}

/// The name of a throw-away account: `dz<tag><pid>x<n>`, unique to this
/// process and call, at most 32 characters (the account tools' limit).
fn throw_away_name(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let name = format!("dz{tag}{}x{n}", std::process::id());
    assert!(
        name.len() <= 32 && tag.bytes().all(|b| b.is_ascii_lowercase()),
        "account tag {tag:?}: use a few lowercase letters"
    );
    name
}

/// The id in the third field of `name`'s line in `/etc/passwd` or
/// `/etc/group`.
fn account_id(db: &str, name: &str) -> Option<u32> {
    fs::read_to_string(db).ok()?.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name)).then(|| f.get(2)?.parse().ok())?
    })
}

/// A group that exists while this value lives (`groupadd`), removed on
/// drop (`groupdel`), also when the test fails. Needs root.
///
/// ```ignore
/// let group = TempGroup::new("web");
/// cmd.args(["--group", &group.name]); // or &group.gid.to_string()
/// ```
#[derive(Debug)]
pub(crate) struct TempGroup {
    pub(crate) name: String,
    pub(crate) gid: u32,
}

impl TempGroup {
    /// Creates the group `dz<tag><pid>x<n>`; `tag` is a few lowercase
    /// letters saying what it is for.
    pub(crate) fn new(tag: &str) -> TempGroup {
        let name = throw_away_name(tag);
        account_tool("groupadd", &[&name]).unwrap_or_else(|e| panic!("{e}"));
        let gid = account_id("/etc/group", &name)
            .unwrap_or_else(|| panic!("groupadd {name}: not in /etc/group"));
        TempGroup { name, gid }
    }
}

impl Drop for TempGroup {
    fn drop(&mut self) {
        remove_account("groupdel", "/etc/group", &self.name);
    }
}

/// A user that exists while this value lives, removed on drop, also when
/// the test fails: no home directory, no login shell, a primary group of
/// its own (same name, removed with it), and the supplementary groups it
/// was created with (removed after it). Needs root.
///
/// ```ignore
/// let user = TempUser::with_groups("drop", 2);
/// cmd.args(["--user", &user.name]);
/// // expect uid user.uid, gid user.gid, groups user.groups()
/// ```
#[derive(Debug)]
pub(crate) struct TempUser {
    pub(crate) name: String,
    pub(crate) uid: u32,
    /// The user's own primary group.
    pub(crate) gid: u32,
    /// Groups that list the user as a member, dropped after the user.
    pub(crate) supplementary: Vec<TempGroup>,
}

impl TempUser {
    /// A user with only its own primary group.
    pub(crate) fn new(tag: &str) -> TempUser {
        TempUser::with_groups(tag, 0)
    }

    /// A user that is also a member of `n` new groups besides its primary
    /// one.
    pub(crate) fn with_groups(tag: &str, n: usize) -> TempUser {
        let supplementary: Vec<TempGroup> = (0..n).map(|_| TempGroup::new(tag)).collect();
        let name = throw_away_name(tag);
        let members: Vec<&str> = supplementary.iter().map(|g| g.name.as_str()).collect();
        let members = members.join(",");
        let mut args = vec![
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
        ];
        if n > 0 {
            args.extend(["--groups", &members]);
        }
        args.push(&name);
        // A user whose creation fails midway is still removed: build the
        // value (whose drop cleans up) before asking for the ids.
        let mut user = TempUser {
            name: name.clone(),
            uid: 0,
            gid: 0,
            supplementary,
        };
        account_tool("useradd", &args).unwrap_or_else(|e| panic!("{e}"));
        let (uid, gid, groups) =
            groups_of(&name).unwrap_or_else(|| panic!("useradd {name}: not in /etc/passwd"));
        assert_ne!(uid, 0, "useradd {name}: uid 0");
        assert_ne!(gid, 0, "useradd {name}: gid 0");
        assert_eq!(groups.len(), n + 1, "useradd {name}: groups {groups:?}");
        (user.uid, user.gid) = (uid, gid);
        user
    }

    /// Every group of the user (primary and supplementary gids), as
    /// `initgroups` gives them: sorted, without duplicates.
    pub(crate) fn groups(&self) -> Vec<u32> {
        let mut all: Vec<u32> = self.supplementary.iter().map(|g| g.gid).collect();
        all.push(self.gid);
        all.sort_unstable();
        all.dedup();
        all
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        remove_account("userdel", "/etc/passwd", &self.name);
        // userdel removes the user's own group only where the system is
        // configured so (USERGROUPS_ENAB).
        remove_account("groupdel", "/etc/group", &self.name);
    }
}

/// A directory of its own for one test, and every process started with it
/// as tag. Dropping it kills what is still running and removes the
/// directory, also when the test fails.
pub(crate) struct Sandbox {
    pub(crate) dir: PathBuf,
    tag: String,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Sandbox {
    pub(crate) fn new(name: &str) -> Sandbox {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        // /tmp rather than $TMPDIR: daemons that dropped to `nobody` must
        // reach their sandbox, and a private $TMPDIR may be closed to them.
        let base = if Path::new("/tmp").is_dir() {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("daemonizer-it-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create sandbox");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod sandbox");
        let tag = format!("{}/", dir.display());
        Sandbox { dir, tag }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `scenario <mode> --sandbox <dir>/`, stdio piped, stdin null.
    pub(crate) fn command(&self, mode: &str) -> Command {
        let mut cmd = Command::new(scenario_bin());
        cmd.arg(mode)
            .arg("--sandbox")
            .arg(&self.tag)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// A full daemon with a pid file, a facts file and a trigger in the
    /// sandbox: `scenario daemon --pidfile P --facts F --trigger T`.
    pub(crate) fn daemon(&self) -> Command {
        let mut cmd = self.command("daemon");
        cmd.arg("--pidfile")
            .arg(self.path("pid"))
            .arg("--facts")
            .arg(self.path("facts"))
            .arg("--trigger")
            .arg(self.path("trigger"));
        cmd
    }

    /// Launches a full daemon with manual readiness, its pid file and facts
    /// file named after `tag`, and waits until its body runs: the launcher
    /// (still waiting for `ready()`), the daemon's PID and the pid file.
    pub(crate) fn launch_unready(&self, tag: &str) -> (Child, i32, PathBuf) {
        let pidfile = self.path(&format!("pid-{tag}"));
        let facts_path = self.path(&format!("facts-{tag}"));
        let launcher = self
            .command("daemon")
            .arg("--pidfile")
            .arg(&pidfile)
            .arg("--facts")
            .arg(&facts_path)
            .arg("--manual")
            .spawn()
            .expect("spawn scenario");
        let pid = facts(&facts_path)["pid"].parse().expect("pid fact");
        (launcher, pid, pidfile)
    }

    /// Kills a daemon launched with [`launch_unready`](Self::launch_unready)
    /// before it is ready, and checks that its launcher reports the failure
    /// (exit 70) and that nothing is left: no process, no pid file.
    pub(crate) fn kill_before_ready(&self, tag: &str) {
        let (launcher, pid, pidfile) = self.launch_unready(tag);
        kill(pid, libc::SIGKILL);
        finish(launcher).assert_refused(
            70,
            "readiness",
            &["the daemon exited before it reported ready"],
        );
        self.wait_no_processes();
        assert!(!pidfile.exists(), "{tag}: the pid file it created is gone");
    }

    /// Live processes (not zombies) started for this sandbox.
    pub(crate) fn processes(&self) -> Vec<i32> {
        tagged_processes(&self.tag)
    }

    /// Waits until no process of this sandbox is alive.
    pub(crate) fn wait_no_processes(&self) {
        wait_until("every process of the sandbox to end", || {
            self.processes().is_empty()
        });
    }

    /// Writes the trigger the daemon polls (`ok`, `err`, `panic`, ...).
    pub(crate) fn trigger(&self, action: &str) {
        let tmp = self.path("trigger.tmp");
        fs::write(&tmp, action).expect("write trigger");
        fs::rename(&tmp, self.path("trigger")).expect("rename trigger");
    }

    /// The directory's entries (recursively) with type, size, inode,
    /// mtime and content of small files: compare before/after to show that
    /// nothing was created or changed.
    pub(crate) fn snapshot(&self) -> BTreeMap<PathBuf, String> {
        snapshot(&self.dir)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for _ in 0..50 {
            let pids = self.processes();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                kill(pid, libc::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // A sandbox may hold a directory made unwritable on purpose.
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("u+rwx")
            .arg(&self.dir)
            .status();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let kind = meta.file_type();
            let mut desc = format!(
                "mode {:o} ino {} size {} mtime {}.{}",
                meta.mode(),
                meta.ino(),
                meta.len(),
                meta.mtime(),
                meta.mtime_nsec()
            );
            if kind.is_symlink() {
                desc.push_str(&format!(" -> {:?}", fs::read_link(&path).ok()));
            } else if kind.is_file() && meta.len() < 4096 {
                desc.push_str(&format!(" {:?}", fs::read(&path).unwrap_or_default()));
            } else if kind.is_dir() {
                stack.push(path.clone());
            }
            out.insert(path, desc);
        }
    }
    out
}

/// The outcome of a launcher that ran to its end.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Outcome {
    pub(crate) fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub(crate) fn success(&self) -> bool {
        self.status.success()
    }

    /// Asserts a failed start: status `code`, and exactly one line on
    /// stderr, `scenario: cannot start daemon: <step>: <detail>`, whose
    /// detail contains each of `mentions`.
    ///
    /// Lines the scenario daemon itself wrote to stderr before it failed
    /// (`hello stderr from <pid>`: its "early words", which the launcher
    /// relays before its verdict) come first and are left out.
    pub(crate) fn assert_refused(&self, code: i32, step: &str, mentions: &[&str]) {
        assert_eq!(
            self.code(),
            Some(code),
            "exit status (expected {code}): {self:?}"
        );
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.starts_with("hello stderr from "))
            .collect();
        assert_eq!(lines.len(), 1, "exactly one line on stderr: {self:?}");
        let prefix = format!("scenario: cannot start daemon: {step}: ");
        assert!(
            lines[0].starts_with(&prefix),
            "stderr should start with {prefix:?}: {:?}",
            lines[0]
        );
        for m in mentions {
            assert!(
                lines[0].contains(m),
                "stderr should mention {m:?}: {:?}",
                lines[0]
            );
        }
        assert!(self.stdout.is_empty(), "nothing on stdout: {self:?}");
    }
}

/// The lines of a child's pipe (stdout or stderr), read by a thread of
/// their own so that every wait has a deadline: a daemon that keeps its
/// launcher's pipe open makes the test fail with a message naming the
/// processes that hold it, instead of hanging.
///
/// ```ignore
/// let mut err = Lines::new("the demo's stderr", child.stderr.take().unwrap());
/// let first = err.next_line().expect("a first line");
/// let rest = err.rest(); // after the child has exited
/// ```
pub(crate) struct Lines {
    what: String,
    lines: std::sync::mpsc::Receiver<String>,
    /// `pipe:[<inode>]`, to find who holds the pipe when a wait fails.
    pipe: Option<PathBuf>,
    ended: bool,
}

impl Lines {
    /// Starts reading `pipe`; `what` names it in messages.
    pub(crate) fn new<P>(what: &str, pipe: P) -> Lines
    where
        P: std::io::Read + std::os::fd::AsRawFd + Send + 'static,
    {
        use std::io::BufRead;
        let link = fs::read_link(format!("/proc/self/fd/{}", pipe.as_raw_fd())).ok();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut pipe = std::io::BufReader::new(pipe);
            loop {
                let mut line = Vec::new();
                match pipe.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx
                            .send(String::from_utf8_lossy(&line).into_owned())
                            .is_err()
                        {
                            break;
                        }
                    }
                }
            }
        });
        Lines {
            what: what.to_owned(),
            lines: rx,
            pipe: link,
            ended: false,
        }
    }

    /// The next line (with its `\n`, if it had one), or `None` at the end
    /// of the pipe. Fails the test after [`DEADLINE`].
    pub(crate) fn next_line(&mut self) -> Option<String> {
        self.next_before(Instant::now() + DEADLINE)
    }

    /// Everything until the end of the pipe, which every process holding
    /// its writing end must have closed within [`DEADLINE`]; fails the test
    /// otherwise, naming those processes.
    pub(crate) fn rest(&mut self) -> String {
        let deadline = Instant::now() + DEADLINE;
        let mut text = String::new();
        while let Some(line) = self.next_before(deadline) {
            text.push_str(&line);
        }
        text
    }

    fn next_before(&mut self, deadline: Instant) -> Option<String> {
        use std::sync::mpsc::RecvTimeoutError;
        if self.ended {
            return None;
        }
        let timeout = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                None
            }
            Err(RecvTimeoutError::Timeout) => panic!(
                "gave up after {DEADLINE:?} waiting for {} to end or go on; \
                 processes holding it open: {:?}",
                self.what,
                self.pipe.as_deref().map(holders).unwrap_or_default()
            ),
        }
    }
}

/// Processes other than this one with `target` (such as `pipe:[123]`,
/// from `/proc/<pid>/fd/<n>`) open, each as `<pid> <command name>`.
pub(crate) fn holders(target: &Path) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        if fds
            .flatten()
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|t| t == target))
        {
            let comm = fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            out.push(format!("{pid} {}", comm.trim()));
        }
    }
    out
}

/// Waits for `child` (a launcher) to end and for the ends of its stdout
/// and stderr, killing it and failing the test if it has not ended by the
/// deadline, and failing the test if another process (a daemon) still
/// holds one of its pipes [`DEADLINE`] after it ended.
pub(crate) fn finish(mut child: Child) -> Outcome {
    let pid = child.id();
    // Read in threads so that a chatty child never blocks on a full pipe.
    let mut out = child
        .stdout
        .take()
        .map(|p| Lines::new(&format!("the stdout of the launcher (PID {pid})"), p));
    let mut err = child
        .stderr
        .take()
        .map(|p| Lines::new(&format!("the stderr of the launcher (PID {pid})"), p));
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the launcher (PID {pid}) did not end within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // The daemon must hold no end of these pipes (its stdio is /dev/null
    // or files), so they reach their end with the launcher.
    Outcome {
        status,
        stdout: out.as_mut().map(Lines::rest).unwrap_or_default(),
        stderr: err.as_mut().map(Lines::rest).unwrap_or_default(),
    }
}

/// Runs `cmd` to its end (see [`finish`]).
pub(crate) fn run(cmd: &mut Command) -> Outcome {
    finish(cmd.spawn().expect("spawn scenario"))
}

/// Runs `cmd` and asserts that it started a daemon (exit 0, silent).
pub(crate) fn start(cmd: &mut Command) -> Outcome {
    let outcome = run(cmd);
    assert!(outcome.success(), "the start should succeed: {outcome:?}");
    assert!(outcome.stderr.is_empty(), "silent start: {outcome:?}");
    outcome
}

/// Polls `cond` until it holds; fails the test after [`DEADLINE`].
pub(crate) fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "gave up waiting for {what} after {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Polls `f` until it returns `Some`; fails the test after [`DEADLINE`].
pub(crate) fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "gave up waiting for {what} after {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub(crate) fn kill(pid: i32, signal: i32) -> bool {
    assert!(pid > 1, "refusing to signal PID {pid}");
    // SAFETY: kill takes no pointers.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// The fields of `/proc/<pid>/stat` the tests look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) state: char,
    pub(crate) ppid: i32,
    pub(crate) pgrp: i32,
    pub(crate) session: i32,
    pub(crate) tty_nr: i32,
}

pub(crate) fn stat(pid: i32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: split after the
    // last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        session: f.get(3)?.parse().ok()?,
        tty_nr: f.get(4)?.parse().ok()?,
    })
}

/// Alive: exists and is neither a zombie nor dead (PID 1 here may not
/// reap orphans, so a dead daemon can linger as a zombie).
pub(crate) fn alive(pid: i32) -> bool {
    matches!(stat(pid), Some(s) if s.state != 'Z' && s.state != 'X')
}

pub(crate) fn wait_dead(pid: i32) {
    wait_until(&format!("PID {pid} to end"), || !alive(pid));
}

/// The value of the line `<key>:` in a `/proc` file of `key: value` lines
/// (`status`, `fdinfo/<fd>`), trimmed.
pub(crate) fn proc_value(path: &str, key: &str) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {key}: in {path}"))
        .trim()
        .to_owned()
}

/// [`proc_value`] read as a number in `radix` (8 for modes and flags, 16
/// for signal and capability masks).
pub(crate) fn proc_number(path: &str, key: &str, radix: u32) -> u64 {
    let value = proc_value(path, key);
    u64::from_str_radix(&value, radix).unwrap_or_else(|e| panic!("{path}: {key}: {value:?}: {e}"))
}

/// The line `<key>:` of `/proc/<pid>/status`, split in fields.
pub(crate) fn status_field(pid: i32, key: &str) -> Vec<String> {
    proc_value(&format!("/proc/{pid}/status"), key)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// This process's umask, from `/proc/self/status`.
pub(crate) fn own_umask() -> u32 {
    proc_number("/proc/self/status", "Umask", 8) as u32
}

/// The pipes `pid` holds open, by inode (`pipe:[N]` in `/proc/<pid>/fd`).
pub(crate) fn pipes(pid: i32) -> std::collections::BTreeSet<String> {
    fds(pid)
        .into_values()
        .filter(|target| target.starts_with("pipe:"))
        .collect()
}

/// Spawns `n` programs (launchers or commands of the scenario program,
/// which take `--go`) that each wait for the file `go` to exist, and waits
/// until all of them are waiting (each says so with a file `<go>.<pid>` in
/// the sandbox).
pub(crate) fn waiting(sb: &Sandbox, n: usize, go: &Path, cmd: impl Fn() -> Command) -> Vec<Child> {
    let children: Vec<Child> = (0..n)
        .map(|_| cmd().arg("--go").arg(go).spawn().expect("spawn launcher"))
        .collect();
    let prefix = format!("{}.", go.file_name().unwrap().to_str().unwrap());
    wait_until("every launcher to be ready to go", || {
        fs::read_dir(&sb.dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                    .count()
            })
            .unwrap_or(0)
            >= n
    });
    children
}

/// Waits for every launcher, in parallel (each keeps its own deadline).
pub(crate) fn finish_all(children: Vec<Child>) -> Vec<Outcome> {
    let handles: Vec<_> = children
        .into_iter()
        .map(|c| std::thread::spawn(move || finish(c)))
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("launcher thread"))
        .collect()
}

/// Of `outcomes`, starts made at once on `pidfile`: exactly one succeeded,
/// and each other was refused as "already running" naming the winner, the
/// PID its pid file holds. Returns that PID.
pub(crate) fn sole_winner(outcomes: &[Outcome], pidfile: &Path) -> i32 {
    assert_eq!(
        outcomes.iter().filter(|o| o.success()).count(),
        1,
        "exactly one start wins: {outcomes:#?}"
    );
    let winner = wait_pidfile(pidfile);
    for o in outcomes.iter().filter(|o| !o.success()) {
        o.assert_refused(
            75,
            "pid file",
            &[
                &pidfile.display().to_string(),
                &format!("already running as PID {winner}"),
            ],
        );
    }
    winner
}

/// `/proc/<pid>/fd`: fd number → link target.
pub(crate) fn fds(pid: i32) -> BTreeMap<i32, String> {
    let mut out = BTreeMap::new();
    if let Ok(entries) = fs::read_dir(format!("/proc/{pid}/fd")) {
        for entry in entries.flatten() {
            let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Ok(target) = fs::read_link(entry.path()) {
                out.insert(fd, target.display().to_string());
            }
        }
    }
    out
}

/// Live processes whose command line contains `tag`.
pub(crate) fn tagged_processes(tag: &str) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let found = cmdline
            .split(|b| *b == 0)
            .any(|arg| OsStr::new(std::str::from_utf8(arg).unwrap_or("")) == OsStr::new(tag));
        if found && alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// The pid file's content, when it exists.
pub(crate) fn read_pidfile(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

/// Waits until the pid file holds `<pid>\n` and returns the PID.
pub(crate) fn wait_pidfile(path: &Path) -> i32 {
    wait_for(&format!("a PID in {}", path.display()), || {
        let text = read_pidfile(path)?;
        let pid = text.strip_suffix('\n')?.parse().ok()?;
        Some(pid)
    })
}

/// Parses a complete facts file (ended by `done=1`); later keys win.
pub(crate) fn parse_facts(text: &str) -> Option<HashMap<String, String>> {
    if !text.lines().any(|l| l == "done=1") {
        return None;
    }
    Some(
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
}

/// Waits for the daemon's facts file to be complete.
pub(crate) fn facts(path: &Path) -> HashMap<String, String> {
    wait_for(&format!("facts in {}", path.display()), || {
        parse_facts(&fs::read_to_string(path).ok()?)
    })
}

/// Waits for the facts file to hold `key` (appended after the first facts).
pub(crate) fn wait_fact(path: &Path, key: &str) -> String {
    wait_for(&format!("{key} in {}", path.display()), || {
        parse_facts(&fs::read_to_string(path).ok()?)?.remove(key)
    })
}

/// Stops a daemon with SIGTERM and waits until it and its pid file are gone.
pub(crate) fn stop(pid: i32, pidfile: &Path) {
    kill(pid, libc::SIGTERM);
    wait_dead(pid);
    wait_until("the pid file to be removed", || !pidfile.exists());
}

/// The description of how a process ended, for messages.
pub(crate) fn describe(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => format!("{status:?}"),
    }
}

/// Supplementary groups of `user` per the group database: its primary
/// group and every group that lists it as a member.
pub(crate) fn groups_of(user: &str) -> Option<(u32, u32, Vec<u32>)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    let (uid, gid) = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&user)).then(|| (f[2].parse().ok(), f[3].parse().ok()))
    })?;
    let (uid, gid): (u32, u32) = (uid?, gid?);
    let mut groups = vec![gid];
    let group = fs::read_to_string("/etc/group").ok()?;
    for l in group.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() == 4 && f[3].split(',').any(|m| m == user) {
            if let Ok(g) = f[2].parse() {
                groups.push(g);
            }
        }
    }
    groups.sort_unstable();
    groups.dedup();
    Some((uid, gid, groups))
}

/// `close_range(2)` exists from Linux 5.9 on.
pub(crate) fn kernel_has_close_range() -> bool {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(['.', '-']);
    let major: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (major, minor) >= (5, 9)
}

/// How the daemon's debug log names the way it closed inherited fds
/// (`close fds: done with ...`). Built with `--cfg daemonizer_portable`,
/// the runtime has no `close_range` path and lists `/dev/fd`; where no
/// listing can be read (`/proc` hidden from the launcher) it finds the
/// open fds with `poll`.
pub(crate) fn expected_close_method(listing_readable: bool) -> &'static str {
    if !cfg!(daemonizer_portable) && kernel_has_close_range() {
        "CloseRange"
    } else if !listing_readable {
        "Poll"
    } else if cfg!(daemonizer_portable) {
        "Listing(\"/dev/fd\")"
    } else {
        "Listing(\"/proc/self/fd\")"
    }
}
