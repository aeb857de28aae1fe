//! `myd unit KIND`: the service definitions a program prints for itself
//! are valid for the tool that reads them, checked with that tool or its
//! documented syntax: `systemd-analyze verify` for systemd (system and
//! user units), `sh -n` for the OpenRC and rc.d scripts, Python's
//! `plistlib` for launchd.

mod common;

use std::fs;
use std::process::{Command, Stdio};

use common::*;

/// The demo (lite mode under `DEBUG`, commands) printing `unit ARGS`.
fn unit(sb: &Sandbox, args: &[&str]) -> Outcome {
    run(Command::new(example_bin("demo"))
        .arg("unit")
        .args(args)
        .env("DEMO_DIR", &sb.dir)
        .env_remove("DEBUG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()))
}

/// Runs `program args` with `input` on stdin: its outcome.
fn checked_by(program: &str, args: &[&str], input: &str) -> Outcome {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    finish(child)
}

#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        skip(
            "the_systemd_units_pass_systemd_analyze_verify",
            "no systemd-analyze (Debian's systemd package)",
        );
        return;
    }
    let sb = Sandbox::new("unit-systemd");
    for (args, wanted_by) in [
        (&["systemd"][..], "WantedBy=multi-user.target"),
        (&["systemd", "--user"][..], "WantedBy=default.target"),
    ] {
        let out = unit(&sb, args);
        assert!(out.success(), "{args:?}: {out:?}");
        let exe = fs::canonicalize(example_bin("demo")).unwrap();
        for line in [
            "Type=notify",
            "Environment=\"DEBUG=1\"",
            &format!("ExecStart=\"{}\" start", exe.display()),
            &format!("ExecReload=\"{}\" reload", exe.display()),
            wanted_by,
        ] {
            assert!(out.stdout.lines().any(|l| l == line), "{line:?} in {out:?}");
        }
        let file = sb.path("demo.service");
        fs::write(&file, &out.stdout).unwrap();
        let verify = run(Command::new("systemd-analyze")
            .arg("verify")
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()));
        // verify exits 0 on settings it ignores, with a warning: none.
        assert!(
            verify.success() && verify.stderr.is_empty(),
            "{args:?}: {verify:?}\n{}",
            out.stdout
        );
    }
}

#[test]
fn the_rc_scripts_are_shell_and_the_launchd_list_is_a_property_list() {
    let sb = Sandbox::new("unit-others");
    for kind in ["openrc", "rcd"] {
        let out = unit(&sb, &[kind]);
        assert!(out.success(), "{kind}: {out:?}");
        let syntax = checked_by("sh", &["-n"], &out.stdout);
        assert!(syntax.success(), "{kind}: {syntax:?}\n{}", out.stdout);
        assert!(out.stdout.contains("command_args=start"), "{}", out.stdout);
        assert!(
            out.stdout
                .contains(&format!("pidfile='{}'", sb.path("demo.pid").display())),
            "{}",
            out.stdout
        );
    }
    let out = unit(&sb, &["launchd"]);
    assert!(out.success(), "{out:?}");
    let parsed = checked_by(
        "python3",
        &[
            "-c",
            "import plistlib, sys; p = plistlib.loads(sys.stdin.buffer.read()); \
             print(p['Label'], p['ProgramArguments'][-1], p['EnvironmentVariables']['DEBUG'], \
             p['KeepAlive'])",
        ],
        &out.stdout,
    );
    assert!(parsed.success(), "{parsed:?}\n{}", out.stdout);
    assert_eq!(parsed.stdout, "local.demo start 1 True\n");
}

#[test]
fn an_unknown_service_manager_is_a_usage_error() {
    let sb = Sandbox::new("unit-unknown");
    for args in [&["upstart"][..], &[][..], &["openrc", "--user"][..]] {
        let out = unit(&sb, args);
        assert_eq!(out.code(), Some(2), "{args:?}: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
        assert!(
            out.stderr
                .contains("demo unit {systemd|openrc|rcd|launchd}"),
            "{out:?}"
        );
        assert!(out.stdout.is_empty());
    }
}
