//! Errors that say what to do next, where there is an obvious next step.

mod common;

use std::process::{Command, Stdio};

use common::*;

#[test]
fn a_privilege_drop_without_root_says_that_it_needs_root_and_who_runs_it() {
    if !root_or_skip("a_privilege_drop_without_root_says_that_it_needs_root_and_who_runs_it") {
        return;
    }
    let launcher = TempUser::new("hintlaunch");
    let target = TempUser::new("hinttarget");
    let sb = Sandbox::new("hint-needs-root");
    let program = sb.reachable_scenario();
    for lite in [false, true] {
        let mut cmd = Command::new(&program);
        cmd.arg("daemon")
            .arg("--sandbox")
            .arg(format!("{}/", sb.dir.display()))
            .args(["--user", &target.name])
            .uid(launcher.uid)
            .gid(launcher.gid)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if lite {
            cmd.arg("--lite");
        }
        use std::os::unix::process::CommandExt;
        let outcome = run(&mut cmd);
        outcome.assert_refused(
            77,
            "group",
            &[&format!(
                "(a privilege drop needs root, and this start runs as user {} ({}): start it \
                 as root, or leave out user and group)",
                launcher.uid, launcher.name
            )],
        );
        sb.wait_no_processes();
    }
}

#[test]
fn a_setup_that_finds_its_port_taken_exits_71_as_the_table_says() {
    // The exit statuses table: an OS error from the setup keeps its kind;
    // "address already in use" is a system failure (71), not 70.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().unwrap().to_string();
    let sb = Sandbox::new("hint-port-taken");
    let outcome = run(sb.daemon().setup_bind(&addr));
    // glibc says "Address already in use", musl "Address in use".
    outcome.assert_refused(71, "setup", &[" in use (os error "]);
    sb.wait_no_processes();
    assert!(!sb.path("pid").exists(), "no pid file left");
}
