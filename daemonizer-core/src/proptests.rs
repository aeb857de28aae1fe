//! Property tests of every parser of outside input: the supervisor's
//! environment variables, the `lite_if` variable, the pid file as the
//! control side reads it, the readiness channel's messages and the
//! command argument. Whatever the input, none panics, and an error is one
//! line.
//!
//! One test runs them all, a fixed number of cases each (the run takes the
//! same time every time), and prints
//! `summary: property tests: N cases over M parsers, no panic` past
//! libtest's capture.

use std::cell::Cell;
use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseResult, TestRunner};

use crate::error::{Error, ErrorKind, Step};

/// Cases per property: fixed, so that a run always does the same work.
const CASES: u32 = 256;

/// Whether `text` shows on one line: no control character, no Unicode
/// line or paragraph separator.
fn one_line(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
}

/// Strings as hostile as an environment gets: anything, digits near the
/// integer limits, and the characters the parsers look at.
fn hostile() -> BoxedStrategy<String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{0,30}",
        "(214748364|429496729|922337203685477580|1844674407370955161)[0-9]{0,3}",
        "[-+ 0-9a-zA-Z:@/=\\\\\n\r\t\u{1b}\u{85}\u{2028}]{0,40}",
    ]
    .boxed()
}

/// An optional [`hostile`] value, as a variable that may be unset.
fn variable() -> BoxedStrategy<Option<String>> {
    proptest::option::of(hostile()).boxed()
}

/// Runs `property` on `CASES` values of `strategy`; the number of cases
/// run.
fn check<S: Strategy>(
    name: &str,
    strategy: S,
    property: impl Fn(S::Value) -> TestCaseResult,
) -> u32 {
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let ran = Cell::new(0u32);
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |value| {
        ran.set(ran.get().saturating_add(1));
        property(value)
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    ran.get()
}

fn one_line_error(err: &Error) -> TestCaseResult {
    let shown = err.to_string();
    prop_assert!(one_line(&shown), "not one line: {:?}", shown);
    Ok(())
}

fn listen_variables() -> u32 {
    let strategy = (
        variable(),
        variable(),
        variable(),
        any::<i32>(),
        any::<bool>(),
    );
    check(
        "LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES",
        strategy,
        |(pid, count, names, expected, addressed)| {
            // Half the cases address the variables to this process.
            let expected = match (&pid, addressed) {
                (Some(pid), true) => pid.parse().unwrap_or(expected),
                _ => expected,
            };
            match crate::listen::parse(pid.as_deref(), count.as_deref(), names.as_deref(), expected)
            {
                Ok(passed) => {
                    let max = usize::try_from(RawFd::MAX - 3).unwrap_or(usize::MAX);
                    prop_assert!(passed.count() <= max);
                }
                Err(e) => {
                    prop_assert_eq!(e.step(), Step::Preflight);
                    prop_assert_eq!(e.kind(), ErrorKind::Config);
                    one_line_error(&e)?;
                }
            }
            Ok(())
        },
    )
}

fn notify_socket() -> u32 {
    let strategy = prop_oneof![
        vec(any::<u8>(), 0..300),
        "[/@][a-z/]{0,120}".prop_map(String::into_bytes),
    ];
    check("NOTIFY_SOCKET", strategy, |value| {
        if let Err(e) = crate::notify::check_value(&value) {
            prop_assert_eq!(e.kind(), ErrorKind::Config);
            one_line_error(&e)?;
        }
        Ok(())
    })
}

fn watchdog_variables() -> u32 {
    let strategy = (variable(), variable(), any::<i32>());
    check(
        "WATCHDOG_USEC, WATCHDOG_PID",
        strategy,
        |(usec, pid, my_pid)| {
            if let Some(interval) =
                crate::notify::watchdog_interval(usec.as_deref(), pid.as_deref(), my_pid)
            {
                prop_assert!(!interval.is_zero());
            }
            Ok(())
        },
    )
}

fn lite_if_value() -> u32 {
    check("the lite_if variable's value", hostile(), |value| {
        let lite = crate::config::is_truthy(&value);
        let off = ["", "0", "false", "no", "off"];
        prop_assert_eq!(
            lite,
            !off.contains(&value.trim().to_ascii_lowercase().as_str())
        );
        Ok(())
    })
}

fn lite_if_name() -> u32 {
    check("the lite_if variable's name", hostile(), |name| {
        // Reads the variable of that name, if it can be one.
        let mut daemon = crate::Daemon::new().lite_if(&name);
        if let Err(e) = daemon.resolve_mode() {
            prop_assert!(name.is_empty() || name.contains(['=', '\0']));
            one_line_error(&e)?;
        }
        Ok(())
    })
}

fn pid_file_contents() -> u32 {
    let path = std::env::temp_dir().join(format!(
        "daemonizer-proptest-pidfile-{}",
        std::process::id()
    ));
    let strategy = prop_oneof![
        vec(any::<u8>(), 0..64),
        "[-+ 0-9]{0,20}\n?".prop_map(String::into_bytes),
    ];
    let ran = check("the pid file's contents", strategy, |content| {
        std::fs::write(&path, &content).expect("write the test file");
        let file = std::fs::File::open(&path).expect("open the test file");
        if let Some(pid) = crate::control::written_pid(&file) {
            prop_assert!(pid > 0);
            let text = String::from_utf8_lossy(&content);
            prop_assert!(text.ends_with('\n'));
            prop_assert_eq!(text.trim_end_matches('\n').parse::<i32>().ok(), Some(pid));
        }
        Ok(())
    });
    let _ = std::fs::remove_file(&path);
    ran
}

fn readiness_messages() -> u32 {
    let strategy = prop_oneof![
        vec(any::<u8>(), 0..200),
        ("[RE]", hostile()).prop_map(|(tag, rest)| format!("{tag}{rest}\n").into_bytes()),
        ("[0-9]{1,3}", "[0-9]{1,3}", "-?[0-9]{1,11}", any::<String>()).prop_map(
            |(kind, step, errno, detail)| {
                format!("E{kind}\x1f{step}\x1f{errno}\x1f{detail}\n").into_bytes()
            }
        ),
    ];
    check("readiness messages", strategy, |message| {
        match crate::readiness::parse(&message) {
            None => prop_assert!(!message.contains(&b'\n')),
            Some(Ok(_)) => prop_assert_eq!(message.first(), Some(&b'R')),
            Some(Err(e)) => one_line_error(&e)?,
        }
        Ok(())
    })
}

fn error_details() -> u32 {
    check(
        "error details through the readiness channel",
        any::<String>(),
        |detail| {
            let sent = Error::new(Step::Stdio, ErrorKind::Os, detail.clone());
            let back = Error::decode(&sent.encode());
            prop_assert!(back.is_some());
            let back = back.unwrap();
            prop_assert_eq!(back.detail(), detail.as_str());
            one_line_error(&back)?;
            Ok(())
        },
    )
}

fn command_argument() -> u32 {
    let strategy = (
        proptest::option::of(prop_oneof![
            vec(any::<u8>(), 0..40),
            hostile().prop_map(String::into_bytes),
            "(start|stop|status|restart|reload)[\n ]?".prop_map(String::into_bytes),
        ]),
        any::<String>(),
    );
    check("the command argument", strategy, |(first, program)| {
        let program = crate::error::escape_control(&program);
        let first = first.as_deref().map(OsStr::from_bytes);
        match crate::commands::parse_command(first, None, &program) {
            Ok(_) => prop_assert!(first.is_some()),
            Err(line) => prop_assert!(one_line(&line), "not one line: {:?}", line),
        }
        Ok(())
    })
}

#[test]
fn parsers_of_outside_input_never_panic() {
    let properties: [fn() -> u32; 9] = [
        listen_variables,
        notify_socket,
        watchdog_variables,
        lite_if_value,
        lite_if_name,
        pid_file_contents,
        readiness_messages,
        error_details,
        command_argument,
    ];
    let cases: u32 = properties.iter().map(|property| property()).sum();
    assert_eq!(cases, CASES * properties.len() as u32, "every case ran");
    // Past libtest's capture, on a line of its own, for `.ci/run`.
    let line = format!(
        "\nsummary: property tests: {cases} cases over {} parsers, no panic\n",
        properties.len()
    );
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
