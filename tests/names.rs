//! One source for every table: the signal names the attribute accepts are
//! exactly those the runtime accepts a handler for, so that a name the
//! attribute lets through is never refused at start (exit 64), and a
//! signal the runtime handles is never refused at compile time.
//!
//! The attribute cannot depend on the runtime, so its lists are read from
//! its source here.

use std::str::FromStr;

use daemonizer::{Resource, Signal};

/// The string literals of the `const NAME: &[&str] = &[...];` in the
/// attribute's checks.
fn macro_list(name: &str) -> Vec<String> {
    let source = include_str!("../daemonizer-macros/src/validate.rs");
    let start = source
        .find(&format!("const {name}: &[&str] = &["))
        .unwrap_or_else(|| panic!("no list {name} in validate.rs"));
    let body = &source[start..];
    let body = &body[body.find("= &[").expect("list") + 4..body.find("];").expect("list end")];
    body.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Linux-only names in the attribute's list, absent from other systems.
const LINUX_ONLY: &[&str] = &["SIGSTKFLT", "SIGPWR"];

#[test]
fn the_attribute_accepts_exactly_the_signals_the_runtime_handles() {
    let accepted = macro_list("SIGNALS");
    let faults = macro_list("FAULT_SIGNALS");
    assert!(
        accepted.len() > 10 && faults.len() > 3,
        "{accepted:?} {faults:?}"
    );
    for name in &accepted {
        let Ok(signal) = Signal::from_str(name) else {
            assert!(
                !cfg!(target_os = "linux") && LINUX_ONLY.contains(&name.as_str()),
                "the attribute accepts {name}, which the runtime does not know"
            );
            continue;
        };
        assert_eq!(
            daemonizer::__private::signal_refusal(signal),
            None,
            "the attribute accepts {name}, which the runtime refuses at start"
        );
    }
    for name in faults
        .iter()
        .map(String::as_str)
        .chain(["SIGKILL", "SIGSTOP"])
    {
        let signal = Signal::from_str(name).expect(name);
        assert!(
            daemonizer::__private::signal_refusal(signal).is_some(),
            "the attribute refuses {name}, which the runtime would handle"
        );
    }
    for signal in Signal::iterator() {
        let name = signal.as_str();
        let refused = daemonizer::__private::signal_refusal(signal).is_some();
        assert_eq!(
            accepted.iter().any(|a| a == name),
            !refused,
            "{name}: the attribute and the runtime disagree"
        );
    }
}

/// Limit names in the attribute's list that only Linux has.
const LINUX_ONLY_LIMITS: &[&str] = &[
    "locks",
    "msgqueue",
    "nice",
    "rtprio",
    "rttime",
    "sigpending",
    "memlock",
    "nproc",
    "rss",
];

#[test]
fn the_attribute_accepts_exactly_the_limits_the_runtime_has() {
    let accepted = macro_list("LIMITS");
    assert!(accepted.len() > 5, "{accepted:?}");
    // The attribute writes `nofile` for `Resource::RLIMIT_NOFILE`.
    let runtime: Vec<String> = Resource::iterator()
        .map(|r| {
            r.as_str()
                .trim_start_matches("RLIMIT_")
                .to_ascii_lowercase()
        })
        .collect();
    for name in &accepted {
        let resource = format!("RLIMIT_{}", name.to_ascii_uppercase());
        let known = Resource::from_str(&resource).is_ok();
        assert!(
            known || (!cfg!(target_os = "linux") && LINUX_ONLY_LIMITS.contains(&name.as_str())),
            "the attribute accepts the limit {name}, which the runtime does not know"
        );
    }
    if cfg!(target_os = "linux") {
        for name in &runtime {
            assert!(
                accepted.contains(name),
                "the runtime has RLIMIT_{}, which the attribute refuses",
                name.to_ascii_uppercase()
            );
        }
    }
}
