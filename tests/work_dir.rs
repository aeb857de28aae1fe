//! The working directory: a full daemon changes to `/` unless `work_dir`
//! says otherwise, after relative paths were resolved from the launcher's
//! directory; lite mode stays where it was started.

mod common;

use std::fs;

use common::*;

/// `scenario daemon` started from the sandbox with a relative pid file and
/// stdout file.
fn relative(sb: &Sandbox) -> Scenario {
    sb.scenario("daemon")
        .current_dir(&sb.dir)
        .pidfile("pid")
        .stdout("out.log")
        .facts(sb.path("facts"))
        .trigger(sb.path("trigger"))
}

#[test]
fn a_full_daemon_changes_to_the_root_directory() {
    let sb = Sandbox::new("cwd-full");
    start(relative(&sb));
    let facts = facts(&sb.path("facts"));
    let pid: i32 = facts["pid"].parse().expect("pid");
    assert_eq!(facts["cwd"], "/");
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/cwd")).expect("cwd link"),
        std::path::Path::new("/")
    );
    // The relative paths named files in the launcher's directory, and the
    // daemon knows its pid file by a name that still holds in `/`.
    assert_eq!(facts["pidfile"], sb.path("pid").display().to_string());
    assert_eq!(
        fs::read_to_string(sb.path("pid")).expect("pid file"),
        format!("{pid}\n")
    );
    wait_until("the stdout line in out.log", || {
        fs::read_to_string(sb.path("out.log"))
            .is_ok_and(|t| t.contains(&format!("hello stdout from {pid}")))
    });
    sb.trigger("ok");
    wait_dead(pid);
    assert!(!sb.path("pid").exists(), "the pid file is removed by name");
}

#[test]
fn a_work_dir_wins_over_the_default() {
    let sb = Sandbox::new("cwd-given");
    let work = sb.path("work");
    fs::create_dir(&work).expect("mkdir");
    start(relative(&sb).workdir("work"));
    let facts = facts(&sb.path("facts"));
    assert_eq!(facts["cwd"], work.display().to_string());
    sb.trigger("ok");
    wait_dead(facts["pid"].parse().expect("pid"));
}

#[test]
fn lite_mode_stays_in_the_launchers_directory() {
    let sb = Sandbox::new("cwd-lite");
    let launcher = relative(&sb).lite().spawn();
    let facts = facts(&sb.path("facts"));
    assert_eq!(facts["cwd"], sb.dir.display().to_string());
    sb.trigger("ok");
    let outcome = finish(launcher);
    assert!(outcome.success(), "{outcome:?}");
    assert!(!sb.path("pid").exists(), "the pid file is removed");
}
