//! Property tests of the attribute's argument parser and checks: whatever
//! the arguments, the expansion never panics, and every error it reports
//! is one line.
//!
//! One test runs them, a fixed number of cases each, and prints
//! `summary: property tests: N cases over M parsers, no panic` past
//! libtest's capture.

use std::cell::Cell;
use std::io::Write;
use std::str::FromStr;

use proc_macro2::{TokenStream, TokenTree};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseResult, TestRunner};
use quote::quote;

use crate::args::Key;

/// Cases per property: fixed, so that a run always does the same work.
const CASES: u32 = 256;

/// Whether `text` shows on one line.
fn one_line(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
}

/// Values as written after `key =`: literals of every kind (huge, negative,
/// with prefixes and suffixes, strings of any content), paths, tuples,
/// closures.
fn value() -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        any::<String>().prop_map(|s| format!("{s:?}")),
        "[\n\u{1b}\u{2028} a-zA-Z=/]{0,12}".prop_map(|s| format!("{s:?}")),
        "(0o|0x|0b|0)?[0-9]{1,25}(u8|u32|i64|u64)?",
        "-[0-9]{1,12}",
        "[0-9]{1,4}\\.[0-9]{1,3}",
        "(true|false|unlimited|manual|start|SIGHUP|SIGKILL|handler|a::b)",
    ];
    prop_oneof![
        3 => leaf.clone(),
        1 => (leaf.clone(), leaf.clone()).prop_map(|(a, b)| format!("({a}, {b})")),
        1 => Just("|_| {}".to_owned()),
        1 => Just("std::env::var(\"X\").unwrap()".to_owned()),
    ]
    .boxed()
}

/// One setting: `key = value`, or `key(NAME = value, ...)` for the lists.
fn setting() -> BoxedStrategy<String> {
    let keys: Vec<&'static str> = Key::ALL.iter().map(|key| key.name()).collect();
    let key = prop_oneof![
        4 => proptest::sample::select(keys),
        1 => Just("unknown_key"),
    ];
    let entry_name = prop_oneof![
        Just("nofile".to_owned()),
        Just("core".to_owned()),
        Just("SIGHUP".to_owned()),
        Just("SIGKILL".to_owned()),
        "[a-zA-Z_]{1,8}",
    ];
    let entries = proptest::collection::vec((entry_name, value()), 0..3).prop_map(|entries| {
        entries
            .into_iter()
            .map(|(name, value)| format!("{name} = {value}"))
            .collect::<Vec<_>>()
            .join(", ")
    });
    (key, value(), entries)
        .prop_map(|(key, value, entries)| match key {
            "limits" | "signals" => format!("{key}({entries})"),
            _ => format!("{key} = {value}"),
        })
        .boxed()
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

/// The messages of the `compile_error!`s in `tokens`.
fn errors(tokens: TokenStream, out: &mut Vec<String>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, tt) in tokens.iter().enumerate() {
        match tt {
            TokenTree::Ident(ident) if ident == "compile_error" => {
                if let Some(TokenTree::Group(group)) = tokens.get(i + 2) {
                    for inner in group.stream() {
                        if let TokenTree::Literal(lit) = inner {
                            let lit: syn::LitStr =
                                syn::parse_str(&lit.to_string()).expect("a string literal");
                            out.push(lit.value());
                        }
                    }
                }
            }
            TokenTree::Group(group) => errors(group.stream(), out),
            _ => {}
        }
    }
}

fn attribute_arguments() -> u32 {
    let strategy = proptest::collection::vec(setting(), 1..4).prop_map(|s| s.join(", "));
    // How many cases reached the checks and were refused, and how many
    // expanded: the strategy must reach both.
    let (refused, expanded) = (Cell::new(0u32), Cell::new(0u32));
    let ran = check("the attribute's arguments", strategy, |text| {
        // What the compiler would not tokenize never reaches the macro.
        let Ok(args) = TokenStream::from_str(&text) else {
            return Ok(());
        };
        let out = crate::attribute::expand(
            args,
            quote!(
                fn main() {}
            ),
        );
        let mut messages = Vec::new();
        errors(out, &mut messages);
        let counter = if messages.is_empty() {
            &expanded
        } else {
            &refused
        };
        counter.set(counter.get() + 1);
        for message in messages {
            prop_assert!(one_line(&message), "not one line: {:?}", message);
        }
        Ok(())
    });
    assert!(
        refused.get() > 0 && expanded.get() > 0,
        "{} refused, {} expanded",
        refused.get(),
        expanded.get()
    );
    ran
}

fn umask_values() -> u32 {
    let strategy = prop_oneof![
        "(0o|0x|0b|0)?[0-9a-f_]{1,30}(u8|u32|i64|u64)?",
        "-[0-9]{1,12}",
        any::<String>().prop_map(|s| format!("{s:?}")),
    ];
    check("umask values", strategy, |text| {
        let Ok(tokens) = TokenStream::from_str(&text) else {
            return Ok(());
        };
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let Some(expr) = crate::expr::take(&mut &tokens[..]) else {
            return Ok(());
        };
        if let Some(mask) = crate::validate::umask_value(&expr) {
            prop_assert!(mask <= 0o777);
        }
        Ok(())
    })
}

#[test]
fn the_attribute_parsers_never_panic() {
    let properties: [fn() -> u32; 2] = [attribute_arguments, umask_values];
    let cases: u32 = properties.iter().map(|property| property()).sum();
    assert_eq!(cases, CASES * properties.len() as u32, "every case ran");
    // Past libtest's capture, on a line of its own, for `.ci/run`.
    let line = format!(
        "\nsummary: property tests: {cases} cases over {} parsers, no panic\n",
        properties.len()
    );
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
