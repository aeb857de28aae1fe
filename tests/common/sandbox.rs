//! A directory of its own per test ([`Sandbox`]), the processes started
//! for it, the trigger its daemons poll, and snapshots of its content.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{facts, finish, kill, scenario_bin, tagged_processes, wait_until, Launch, Scenario};

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

    /// `scenario <mode> --sandbox <dir>/`, stdio piped, stdin null, as a
    /// plain `Command`; [`scenario`](Self::scenario) names the options.
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

    /// `scenario <mode> --sandbox <dir>/`, stdio piped, stdin null, as a
    /// [`Scenario`] to add options to.
    pub(crate) fn scenario(&self, mode: &str) -> Scenario {
        Scenario::new(self.command(mode))
    }

    /// A full daemon with a pid file, a facts file and a trigger in the
    /// sandbox: `scenario daemon --pidfile P --facts F --trigger T`.
    /// `scenario <cmd> --commands --pidfile <sandbox>/pid`: a control
    /// command (`start`, `stop`, `status`, ...) of the program.
    pub(crate) fn control(&self, cmd: &str) -> Scenario {
        self.scenario(cmd).commands().pidfile(self.path("pid"))
    }

    /// Starts a daemon with `scenario start` ([`control`](Self::control)),
    /// facts in the sandbox and `options` besides; its PID.
    pub(crate) fn start_daemon(&self, options: impl FnOnce(Scenario) -> Scenario) -> i32 {
        let _ = fs::remove_file(self.path("facts"));
        super::start(options(self.control("start").facts(self.path("facts"))));
        let pid = super::wait_pidfile(&self.path("pid"));
        assert_eq!(facts(&self.path("facts"))["pid"], pid.to_string());
        pid
    }

    /// The scenario program copied into the sandbox, where every user can
    /// run it. `cp` makes the copy, not this process: a program another
    /// test thread spawns meanwhile would inherit the copy's descriptor,
    /// open for writing until its exec, and running the copy would then
    /// fail with ETXTBSY.
    pub(crate) fn reachable_scenario(&self) -> PathBuf {
        let copy = self.path("scenario");
        let copied = Command::new("cp")
            .arg(scenario_bin())
            .arg(&copy)
            .status()
            .expect("cp");
        assert!(copied.success(), "cp: {copied:?}");
        copy
    }

    pub(crate) fn daemon(&self) -> Scenario {
        self.scenario("daemon")
            .pidfile(self.path("pid"))
            .facts(self.path("facts"))
            .trigger(self.path("trigger"))
    }

    /// Launches a full daemon with manual readiness, its pid file and facts
    /// file named after `tag`, and waits until its body runs: the launcher
    /// (still waiting for `ready()`), the daemon's PID and the pid file.
    pub(crate) fn launch_unready(&self, tag: &str) -> (Child, i32, PathBuf) {
        let pidfile = self.path(&format!("pid-{tag}"));
        let facts_path = self.path(&format!("facts-{tag}"));
        let launcher = self
            .scenario("daemon")
            .pidfile(&pidfile)
            .facts(&facts_path)
            .manual()
            .launch();
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

/// Spawns `n` programs (launchers or commands of the scenario program,
/// which take `--go`) that each wait for the file `go` to exist, and waits
/// until all of them are waiting (each says so with a file `<go>.<pid>` in
/// the sandbox).
pub(crate) fn waiting<C: Into<Command>>(
    sb: &Sandbox,
    n: usize,
    go: &Path,
    cmd: impl Fn() -> C,
) -> Vec<Child> {
    let children: Vec<Child> = (0..n)
        .map(|_| cmd().into().arg("--go").arg(go).launch())
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
