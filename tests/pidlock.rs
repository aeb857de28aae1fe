//! The pid-file lock: a POSIX record lock held by the daemon process
//! itself on the lock file next to the pid file. What a reader of the
//! file, a child the body forks, a pid file removed by hand, the body
//! reading its own pid file and a stop signal at the worst moment can
//! (not) do to it.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::*;

/// Whether `/proc/locks` lists a lock of `kind` (`FLOCK` or `POSIX`) with
/// access `access` (`READ`, `WRITE`) by `pid` on the inode of `path`.
fn holds_lock(pid: i32, kind: &str, access: &str, path: &Path) -> bool {
    let Ok(meta) = fs::metadata(path) else {
        return false;
    };
    let inode = format!(":{}", meta.ino());
    fs::read_to_string("/proc/locks")
        .unwrap_or_default()
        .lines()
        .any(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // "1: POSIX  ADVISORY  WRITE 4242 00:2f:1234 0 EOF"
            f.len() >= 6
                && f[1] == kind
                && f[3] == access
                && f[4] == pid.to_string()
                && f[5].ends_with(&inode)
        })
}

/// Starts `nobody` holding `kind` (`flock` or `read`) on `path` through a
/// read-only descriptor, and waits until the kernel lists the lock.
fn reader_holding(sb: &Sandbox, kind: &str, path: &Path) -> Child {
    let child = sb
        .scenario("hold-lock")
        .arg("nobody")
        .arg(kind)
        .arg(path)
        .spawn();
    let pid = child.id() as i32;
    let (proc_kind, access) = match kind {
        "flock" => ("FLOCK", "READ"),
        _ => ("POSIX", "READ"),
    };
    wait_until(
        &format!("nobody's {kind} lock on {}", path.display()),
        || holds_lock(pid, proc_kind, access, path),
    );
    child
}

/// Spawns `daemon --sandbox <dir>/ <args> --pidfile <pidfile>` under the
/// tracer `pause` (`pause-at-open`, `pause-after-open`, `pause-at-unlink`),
/// which holds it when it reaches that call on a name containing `suffix`
/// (`=NAME`: that very name).
/// Returns once `what` is held, with the file whose creation lets it go on.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))] // only traced tests pause a start
fn paused_start(
    sb: &Sandbox,
    pause: &str,
    suffix: &str,
    args: &[&str],
    pidfile: &Path,
    what: &str,
) -> (Child, std::path::PathBuf) {
    let tag = format!("{}/", sb.dir.display());
    let (paused, go) = (sb.path("paused"), sb.path("go"));
    let child = sb
        .scenario(pause)
        .arg(suffix)
        .arg(&paused)
        .arg(&go)
        .arg("--")
        .args(["daemon", "--sandbox", &tag])
        .args(args)
        .pidfile(pidfile)
        .spawn();
    wait_until(&format!("{what} to pause"), || paused.exists());
    (child, go)
}

/// The lock file next to `pidfile`: `.<name>.lock`.
fn lock_file(pidfile: &Path) -> PathBuf {
    let name = pidfile.file_name().unwrap().to_string_lossy();
    pidfile.with_file_name(format!(".{name}.lock"))
}

/// `scenario <cmd> --commands --pidfile <pidfile>`, run to its end.
fn control(sb: &Sandbox, cmd: &str, pidfile: &Path) -> Outcome {
    run(sb
        .scenario(cmd)
        .commands()
        .stop_timeout_ms(2000)
        .pidfile(pidfile))
}

/// No hidden file but the lock file (a replacement's temporary file,
/// `.<name>.<random>.new`) is left in `sb`.
fn assert_no_temporary_file(sb: &Sandbox) {
    let leftovers: Vec<String> = fs::read_dir(&sb.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && !n.ends_with(".lock"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file is left: {leftovers:?}"
    );
}

/// Ends a reader started by [`reader_holding`], which must still run.
fn end_reader(mut reader: Child) {
    assert!(
        reader.try_wait().unwrap().is_none(),
        "the reader is left alone"
    );
    reader.kill().unwrap();
    reader.wait().unwrap();
}

#[test]
fn a_user_who_can_only_read_the_pid_file_cannot_block_a_start() {
    if !root_or_skip("a_user_who_can_only_read_the_pid_file_cannot_block_a_start") {
        return;
    }
    for kinds in [&["flock"][..], &["read"], &["flock", "read"]] {
        let sb = Sandbox::new("reader-lock");
        let pidfile = sb.path("pid");
        // A file left by an earlier daemon, root's, readable by all.
        fs::write(&pidfile, "4242\n").unwrap();
        let readers: Vec<Child> = kinds
            .iter()
            .map(|kind| reader_holding(&sb, kind, &pidfile))
            .collect();

        let outcome = run(sb.daemon());
        assert!(
            outcome.success(),
            "{kinds:?}: a reader's lock must not block the start: {outcome:?}"
        );
        let pid = wait_pidfile(&pidfile);
        assert_eq!(facts(&sb.path("facts"))["pid"], pid.to_string());
        assert!(
            holds_lock(pid, "POSIX", "WRITE", &pidfile),
            "{kinds:?}: the daemon holds a write lock on the file the path names"
        );
        assert!(holds_lock(pid, "POSIX", "WRITE", &lock_file(&pidfile)));
        // "Already running" names the daemon, not a reader.
        let second = run(sb.scenario("daemon").pidfile(&pidfile));
        second.assert_refused(75, "pid file", &[&format!("already running as PID {pid}")]);
        assert_eq!(
            fs::metadata(&pidfile).unwrap().mode() & 0o7777,
            0o644,
            "{kinds:?}: readable by all"
        );
        // Nothing else was left in the directory: only the files the test
        // and the daemon made.
        let mut names: Vec<String> = fs::read_dir(&sb.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".pid.lock", "facts", "pid"], "{kinds:?}");
        stop(pid, &pidfile);
        for reader in readers {
            end_reader(reader);
        }
    }
}

#[test]
fn a_child_the_body_forked_does_not_keep_the_daemon_running() {
    let sb = Sandbox::new("forked-holds");
    let pidfile = sb.path("pid");
    start(sb.daemon());
    let pid = wait_pidfile(&pidfile);
    facts(&sb.path("facts"));
    sb.trigger("fork-wait");
    let child: i32 = wait_fact(&sb.path("facts"), "fork_child").parse().unwrap();
    assert!(alive(child));
    // The child inherited the pid file's descriptor; the lock it did not.
    kill(pid, libc::SIGKILL);
    wait_dead(pid);
    assert!(alive(child), "the child outlives the daemon");
    assert_eq!(read_pidfile(&pidfile), Some(format!("{pid}\n")));

    let _ = fs::remove_file(sb.path("facts"));
    let _ = fs::remove_file(sb.path("trigger"));
    let outcome = run(sb.daemon());
    assert!(
        outcome.success(),
        "a child of the dead daemon must not make it look alive: {outcome:?}"
    );
    let second = wait_pidfile(&pidfile);
    assert_ne!(second, pid);
    assert_ne!(second, child);
    kill(child, libc::SIGKILL);
    stop(second, &pidfile);
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn a_stop_signal_during_the_pid_write_never_leaves_the_file_naming_a_dead_process() {
    let sb = Sandbox::new("stop-in-write");
    let pidfile = sb.path("pid");
    // A file from an earlier run: no launcher ever removes it for us.
    fs::write(&pidfile, "").unwrap();
    let tag = format!("{}/", sb.dir.display());
    let outcome = run(sb
        .scenario("stop-in-write")
        .arg("--")
        .args(["daemon", "--sandbox", &tag, "--lite", "--pidfile"])
        .arg(&pidfile));
    assert!(outcome.success(), "{outcome:?}");
    let line = outcome.stdout.trim();
    let (pid, how) = line
        .strip_prefix("pid=")
        .and_then(|l| l.split_once(' '))
        .unwrap_or_else(|| panic!("tracer output: {outcome:?}"));
    // The stop signal ended it cleanly, right after its PID reached the
    // file.
    assert_eq!(how, "exit 0", "{outcome:?}");
    let content = read_pidfile(&pidfile);
    assert!(
        content.is_none() || content.as_deref() == Some(""),
        "the file names the dead process {pid}: {content:?}"
    );
}

#[test]
fn twenty_starts_racing_over_a_file_only_a_reader_holds_make_one_daemon() {
    if !root_or_skip("twenty_starts_racing_over_a_file_only_a_reader_holds_make_one_daemon") {
        return;
    }
    const LAUNCHERS: usize = 20;
    let sb = Sandbox::new("reader-race");
    let pidfile = sb.path("pid");
    fs::write(&pidfile, "").unwrap();
    let reader = reader_holding(&sb, "read", &pidfile);
    let reader_pid = reader.id() as i32;
    let go = sb.path("go");
    let children = waiting(&sb, LAUNCHERS, &go, || {
        sb.scenario("daemon").pidfile(&pidfile)
    });
    fs::write(&go, "").unwrap();
    let winner = sole_winner(&finish_all(children), &pidfile);
    assert!(holds_lock(winner, "POSIX", "WRITE", &pidfile));
    let daemons: Vec<i32> = sb
        .processes()
        .into_iter()
        .filter(|&p| p != reader_pid)
        .collect();
    assert_eq!(daemons, vec![winner], "one daemon runs");
    assert_no_temporary_file(&sb);
    stop(winner, &pidfile);
    end_reader(reader);
}

#[test]
fn descriptors_of_the_pid_file_the_launcher_inherited_do_not_cost_the_daemon_its_lock() {
    let sb = Sandbox::new("inherited-pidfile-fd");
    let pidfile = sb.path("pid");
    // A wrapper that keeps the pid file open while it runs the program:
    // the shell's single-instance idiom (`exec 9>>FILE; flock -n 9`), and
    // the file on stdin too. The daemon closes fd 9 and replaces fd 0;
    // closing any descriptor of the file would drop its lock.
    let tag = format!("{}/", sb.dir.display());
    let outcome = run(Command::new("sh")
        .arg("-c")
        .arg(r#"exec 9>>"$0" 0<"$0"; exec "$@""#)
        .arg(&pidfile)
        .arg(scenario_bin())
        .args(["daemon", "--sandbox", &tag, "--pidfile"])
        .arg(&pidfile)
        .arg("--facts")
        .arg(sb.path("facts"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert!(outcome.success(), "{outcome:?}");
    let pid = wait_pidfile(&pidfile);
    assert_eq!(facts(&sb.path("facts"))["pid"], pid.to_string());
    assert!(
        holds_lock(pid, "POSIX", "WRITE", &pidfile),
        "the daemon still holds its lock once its body runs"
    );
    let second = run(sb.scenario("daemon").pidfile(&pidfile));
    second.assert_refused(75, "pid file", &[&format!("already running as PID {pid}")]);
    stop(pid, &pidfile);
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn a_failed_start_removing_its_file_is_no_daemon_to_status_stop_or_another_start() {
    let sb = Sandbox::new("undoing");
    let pidfile = sb.path("pid");
    // A start that creates the pid file and then fails (its setup step
    // cannot bind), held the moment it removes the file again, under the
    // lock it takes for that.
    let (failing, go) = paused_start(
        &sb,
        "pause-at-unlink",
        "pid",
        &["--setup-bind", "192.0.2.1:1"],
        &pidfile,
        "the failed start",
    );
    let control = |command: &str| {
        run(sb
            .scenario(command)
            .commands()
            .stop_timeout_ms(300)
            .pidfile(&pidfile))
    };
    let status = control("status");
    assert_eq!(status.code(), Some(3), "no daemon runs: {status:?}");
    let stopped = control("stop");
    assert_eq!(stopped.code(), Some(0), "{stopped:?}");
    assert_eq!(
        stopped.stdout, "scenario is not running\n",
        "nothing signalled"
    );
    // A start meanwhile waits for the failed one, and runs.
    let good = sb.scenario("daemon").pidfile(&pidfile).spawn();
    fs::write(&go, "").unwrap();
    let failed = finish(failing);
    assert!(
        failed.stdout.ends_with(" exit 71\n") && failed.stderr.contains("setup: "),
        "the failed start reports its own failure: {failed:?}"
    );
    let good = finish(good);
    assert!(good.success(), "{good:?}");
    let pid = wait_pidfile(&pidfile);
    assert!(holds_lock(pid, "POSIX", "WRITE", &pidfile));
    stop(pid, &pidfile);
}

#[test]
fn a_pid_file_removed_or_rewritten_by_hand_never_lets_a_second_daemon_start() {
    let sb = Sandbox::new("pidfile-removed");
    let pidfile = sb.path("pid");
    start(sb.scenario("daemon").pidfile(&pidfile));
    let pid = wait_pidfile(&pidfile);
    // An init script's `rm -f $PIDFILE`, then `start` and `status`.
    fs::remove_file(&pidfile).unwrap();
    let second = run(sb.scenario("daemon").pidfile(&pidfile));
    second.assert_refused(75, "pid file", &[&format!("already running as PID {pid}")]);
    let status = control(&sb, "status", &pidfile);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(status.stdout, format!("scenario is running as PID {pid}\n"));
    // A file rewritten by hand, naming another process: the lock decides.
    fs::write(&pidfile, "1\n").unwrap();
    let status = control(&sb, "status", &pidfile);
    assert_eq!(status.stdout, format!("scenario is running as PID {pid}\n"));
    let second = run(sb.scenario("daemon").pidfile(&pidfile));
    second.assert_refused(75, "pid file", &[&format!("already running as PID {pid}")]);
    assert_eq!(
        read_pidfile(&pidfile).as_deref(),
        Some("1\n"),
        "not touched"
    );
    fs::remove_file(&pidfile).unwrap();
    // `stop` still finds the daemon, and stops it.
    let stopped = control(&sb, "stop", &pidfile);
    assert_eq!(stopped.code(), Some(0), "{stopped:?}");
    assert_eq!(stopped.stdout, format!("scenario stopped (PID {pid})\n"));
    wait_dead(pid);
    assert_eq!(sb.processes(), Vec::<i32>::new(), "no daemon is left");
    // And the next start runs.
    start(sb.scenario("daemon").pidfile(&pidfile));
    let next = wait_pidfile(&pidfile);
    assert!(holds_lock(next, "POSIX", "WRITE", &lock_file(&pidfile)));
    stop(next, &pidfile);
}

#[test]
fn the_body_reading_its_own_pid_file_keeps_the_daemon_running() {
    let sb = Sandbox::new("body-reads-pidfile");
    let pidfile = sb.path("pid");
    start(sb.daemon());
    let pid = wait_pidfile(&pidfile);
    sb.trigger("read-pidfile");
    assert_eq!(
        wait_fact(&sb.path("facts"), "pidfile_read"),
        pid.to_string()
    );
    let status = control(&sb, "status", &pidfile);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(status.stdout, format!("scenario is running as PID {pid}\n"));
    let second = run(sb.scenario("daemon").pidfile(&pidfile));
    second.assert_refused(75, "pid file", &[&format!("already running as PID {pid}")]);
    assert!(holds_lock(pid, "POSIX", "WRITE", &lock_file(&pidfile)));
    assert_eq!(read_pidfile(&pidfile), Some(format!("{pid}\n")));
    let stopped = control(&sb, "stop", &pidfile);
    assert_eq!(stopped.stdout, format!("scenario stopped (PID {pid})\n"));
    wait_dead(pid);
    assert!(!pidfile.exists());
}

/// Whether `strace` runs here (it injects delays into system calls);
/// says why the test is skipped when it does not.
#[cfg(target_os = "linux")]
fn strace_or_skip(test: &str) -> bool {
    let there = Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !there {
        skip(test, "strace is not installed (apt-get install strace)");
    }
    there
}

/// `strace -f` running `scenario <args>` with every call of `calls` held
/// `delay_us` microseconds on its way in: a window for the test to act.
/// The calls of `trace` (and `calls`) are written to `<sandbox>/strace`,
/// each once it returns.
#[cfg(target_os = "linux")]
fn delayed(sb: &Sandbox, trace: &str, calls: &str, delay_us: u32, args: &[&str]) -> Child {
    let tag = format!("{}/", sb.dir.display());
    let (mode, rest) = args.split_first().expect("a mode");
    Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(sb.path("strace"))
        .arg("-e")
        .arg(format!("trace={trace},{calls}"))
        .arg("-e")
        .arg(format!("inject={calls}:delay_enter={delay_us}"))
        .arg(scenario_bin())
        .args([mode, "--sandbox", &tag])
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn strace")
}

#[cfg(target_os = "linux")]
#[test]
fn two_starts_while_a_reader_lets_go_of_the_pid_file_make_one_daemon() {
    let test = "two_starts_while_a_reader_lets_go_of_the_pid_file_make_one_daemon";
    if !root_or_skip(test) || !strace_or_skip(test) {
        return;
    }
    let sb = Sandbox::new("reader-lets-go");
    let pidfile = sb.path("pid");
    let shown = pidfile.display().to_string();
    fs::write(&pidfile, "").unwrap();
    let reader = reader_holding(&sb, "read", &pidfile);
    // The first start replaces the file the reader holds, held for two
    // seconds on its way into the rename that puts the replacement in
    // place.
    let first = delayed(
        &sb,
        "openat",
        "rename,renameat,renameat2",
        2_000_000,
        &["daemon", "--lite", "--pidfile", &shown],
    );
    wait_until("the first start's replacement file", || {
        fs::read_dir(&sb.dir)
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".new"))
    });
    // Meanwhile the reader lets go, and a second start comes.
    end_reader(reader);
    let second = run(sb.scenario("daemon").pidfile(&pidfile));
    let winner = wait_pidfile(&pidfile);
    second.assert_refused(
        75,
        "pid file",
        &[&format!("already running as PID {winner}")],
    );
    assert!(holds_lock(winner, "POSIX", "WRITE", &lock_file(&pidfile)));
    assert!(holds_lock(winner, "POSIX", "WRITE", &pidfile));
    let daemons: Vec<i32> = sb
        .processes()
        .into_iter()
        .filter(|&p| p != first.id() as i32)
        .collect();
    assert_eq!(daemons, vec![winner], "one daemon runs");
    assert_no_temporary_file(&sb);
    stop(winner, &pidfile);
    let first = finish(first);
    assert!(first.success(), "{first:?}");
}

#[test]
fn a_file_planted_at_a_replacement_name_in_a_shared_directory_does_not_block_a_start() {
    let test = "a_file_planted_at_a_replacement_name_in_a_shared_directory_does_not_block_a_start";
    if !root_or_skip(test) {
        return;
    }
    let sb = Sandbox::new("planted-temporary");
    // A sticky directory every user may write, as /tmp.
    fs::set_permissions(&sb.dir, fs::Permissions::from_mode(0o1777)).unwrap();
    let pidfile = sb.path("pid");
    fs::write(&pidfile, "4242\n").unwrap();
    let reader = reader_holding(&sb, "read", &pidfile);
    // `nobody`'s file at the name a replacement once had,
    // `.<name>.<inode>.new`: no start may depend on a name others can
    // guess.
    let planted = sb.path(&format!(
        ".pid.{}.new",
        fs::metadata(&pidfile).unwrap().ino()
    ));
    fs::write(&planted, "").unwrap();
    fs::set_permissions(&planted, fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&planted, Some(65534), Some(65534)).unwrap();
    let outcome = run(sb.scenario("daemon").pidfile(&pidfile));
    assert!(outcome.success(), "{outcome:?}");
    let pid = wait_pidfile(&pidfile);
    assert!(holds_lock(pid, "POSIX", "WRITE", &lock_file(&pidfile)));
    let meta = fs::metadata(&planted).unwrap();
    assert_eq!(
        (meta.uid(), meta.len()),
        (65534, 0),
        "nobody's file is left alone"
    );
    stop(pid, &pidfile);
    end_reader(reader);
}

#[test]
fn a_pid_file_another_user_made_and_locks_is_unknown_to_status_and_never_signalled() {
    let test = "a_pid_file_another_user_made_and_locks_is_unknown_to_status_and_never_signalled";
    if !root_or_skip(test) {
        return;
    }
    let sb = Sandbox::new("foreign-pidfile");
    fs::set_permissions(&sb.dir, fs::Permissions::from_mode(0o1777)).unwrap();
    let pidfile = sb.path("pid");
    // While the daemon is down, `nobody` makes the pid file and holds a
    // write lock on it, as a daemon would.
    fs::write(&pidfile, "").unwrap();
    std::os::unix::fs::chown(&pidfile, Some(65534), Some(65534)).unwrap();
    let mut holder = sb
        .scenario("hold-lock")
        .arg("nobody")
        .arg("write")
        .arg(&pidfile)
        .spawn();
    let holder_pid = holder.id() as i32;
    wait_until("nobody's write lock", || {
        holds_lock(holder_pid, "POSIX", "WRITE", &pidfile)
    });
    let status = control(&sb, "status", &pidfile);
    assert_eq!(status.code(), Some(4), "{status:?}");
    assert!(
        status
            .stdout
            .starts_with("scenario: status unknown: control: ")
            && status.stdout.contains("is owned by user 65534")
            && status.stdout.lines().count() == 1,
        "{status:?}"
    );
    for cmd in ["stop", "reload"] {
        let outcome = control(&sb, cmd, &pidfile);
        assert_eq!(outcome.code(), Some(4), "{cmd}: {outcome:?}");
        assert!(
            outcome.stderr.contains("is owned by user 65534"),
            "{cmd}: {outcome:?}"
        );
    }
    assert!(
        holder.try_wait().unwrap().is_none(),
        "nothing was signalled"
    );
    // The start refuses the same file.
    let start = run(sb.scenario("daemon").pidfile(&pidfile));
    assert_ne!(start.code(), Some(0), "{start:?}");
    assert!(start.stderr.contains("is owned by user 65534"), "{start:?}");
    holder.kill().unwrap();
    holder.wait().unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn status_during_a_clean_stop_never_says_the_pid_file_is_left() {
    let test = "status_during_a_clean_stop_never_says_the_pid_file_is_left";
    if !strace_or_skip(test) {
        return;
    }
    let sb = Sandbox::new("status-in-stop");
    let pidfile = sb.path("pid");
    let shown = pidfile.display().to_string();
    start(sb.scenario("daemon").pidfile(&pidfile));
    let pid = wait_pidfile(&pidfile);
    // A status request held two seconds on its way into each fcntl(2),
    // its lock probe among them, with the file it asks about open.
    let status = delayed(
        &sb,
        "openat",
        "fcntl",
        2_000_000,
        &["status", "--commands", "--pidfile", &shown],
    );
    wait_until("the status request to open the file it asks about", || {
        fs::read_to_string(sb.path("strace")).is_ok_and(|trace| {
            trace
                .lines()
                .filter(|l| l.contains("openat(") && !l.contains("= -1"))
                // By name in its directory, or by path.
                .any(|l| {
                    ["\"pid\"", "/pid\"", "\".pid.lock\"", "/.pid.lock\""]
                        .iter()
                        .any(|name| l.contains(name))
                })
        })
    });
    // Meanwhile the daemon stops cleanly: its pid file goes, then the
    // daemon.
    stop(pid, &pidfile);
    let status = finish(status);
    assert_eq!(status.code(), Some(3), "{status:?}");
    assert_eq!(status.stdout, "scenario is not running\n");
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn a_launcher_killed_once_it_made_the_pid_file_leaves_nothing_status_or_a_start_misreads() {
    let test =
        "a_launcher_killed_once_it_made_the_pid_file_leaves_nothing_status_or_a_start_misreads";
    let sb = Sandbox::new("killed-after-create");
    let pidfile = sb.path("pid");
    // Held right after it created the pid file, long before the fork.
    let (tracer, go) = paused_start(&sb, "pause-after-open", "=pid", &[], &pidfile, "the start");
    let launcher: i32 = wait_for("the traced launcher", || {
        let me = tracer.id();
        fs::read_to_string(format!("/proc/{me}/task/{me}/children"))
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    });
    assert!(pidfile.exists(), "the start made the pid file");
    kill(launcher, libc::SIGKILL);
    fs::write(&go, "").unwrap();
    let traced = finish(tracer);
    assert!(traced.stdout.ends_with(" signal 9\n"), "{traced:?}");
    assert_eq!(read_pidfile(&pidfile).as_deref(), Some(""), "left empty");
    let status = control(&sb, "status", &pidfile);
    assert_eq!(status.code(), Some(3), "{status:?}");
    assert_eq!(status.stdout, "scenario is not running\n");
    if is_root() {
        // A user who cannot open the lock file asks the pid file: the same.
        let status = run(sb
            .scenario("status")
            .commands()
            .by_user("nobody")
            .pidfile(&pidfile));
        assert_eq!(status.code(), Some(3), "{status:?}");
    } else {
        skip(test, "the status request as another user needs root");
    }
    start(sb.scenario("daemon").pidfile(&pidfile));
    let pid = wait_pidfile(&pidfile);
    assert!(holds_lock(pid, "POSIX", "WRITE", &lock_file(&pidfile)));
    stop(pid, &pidfile);
}

#[test]
fn a_lock_file_another_user_made_in_a_shared_directory_is_refused_with_where_to_go() {
    let test = "a_lock_file_another_user_made_in_a_shared_directory_is_refused_with_where_to_go";
    if !root_or_skip(test) {
        return;
    }
    let sb = Sandbox::new("foreign-lock-file");
    fs::set_permissions(&sb.dir, fs::Permissions::from_mode(0o1777)).unwrap();
    let pidfile = sb.path("myd.pid");
    let lock = lock_file(&pidfile);
    fs::write(&lock, "").unwrap();
    fs::set_permissions(&lock, fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&lock, Some(65534), Some(65534)).unwrap();
    let before = sb.snapshot();
    let outcome = run(sb.scenario("daemon").pidfile(&pidfile));
    outcome.assert_refused(
        77,
        "pid file",
        &[
            &format!("{}: lock file .myd.pid.lock: ", pidfile.display()),
            "is owned by user 65534",
            "such as /run/myd/",
        ],
    );
    assert_eq!(sb.snapshot(), before, "nothing was created or changed");
    let status = control(&sb, "status", &pidfile);
    assert_eq!(status.code(), Some(4), "{status:?}");
    assert!(
        status.stdout.contains("is owned by user 65534"),
        "{status:?}"
    );
}
