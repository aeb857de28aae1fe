//! What a user of `daemonizer` compiles, as `cargo tree` shows it: only the
//! crates the runtime calls at run time and those the attribute needs to
//! expand, never a development dependency; and the same single `syn` that
//! tokio's macros use, so that a tokio program builds it once.
//!
//! A new dependency is a cost in every user's clean build (see
//! `cargo bench --bench compile`): adding one means adding it here, on
//! purpose.

use std::collections::BTreeSet;
use std::process::Command;

/// Every package a user of the facade builds (normal and build
/// dependencies, this workspace's own packages included).
const USER_BUILDS: &[&str] = &[
    // The attribute.
    "daemonizer-macros",
    "proc-macro2",
    "quote",
    "syn",
    "unicode-ident",
    // The runtime (and the facade, package daemonizer-rs).
    "daemonizer-rs",
    "daemonizer-core",
    "libc",
    "log",
    "nix",
    "bitflags",
    "cfg-if",
    "cfg_aliases",
    "signal-hook-registry",
    "errno",
];

/// `cargo tree` lines (`name vX.Y.Z ...`) for the facade package.
fn tree(edges: &str, extra: &[&str]) -> Vec<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--quiet",
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
            "-p",
            "daemonizer-rs",
            "--prefix",
            "none",
            "-e",
            edges,
        ])
        .args(extra)
        .output()
        .expect("running cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `name vX.Y.Z` of each line, once.
fn packages(lines: &[String]) -> BTreeSet<String> {
    lines
        .iter()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some(format!("{} {}", words.next()?, words.next()?))
        })
        .collect()
}

#[test]
fn a_user_builds_only_what_the_runtime_and_the_attribute_need() {
    let built = packages(&tree("normal,build", &[]));
    let names: BTreeSet<&str> = built
        .iter()
        .filter_map(|p| p.split_whitespace().next())
        .collect();
    let expected: BTreeSet<&str> = USER_BUILDS.iter().copied().collect();
    let unexpected: Vec<&&str> = names.difference(&expected).collect();
    assert!(
        unexpected.is_empty(),
        "a user of daemonizer now also builds {unexpected:?}; all: {built:?}"
    );
    let dev_only = ["trybuild", "tokio", "daemonize", "serde"];
    assert!(
        dev_only.iter().all(|dev| !names.contains(dev)),
        "a development dependency reached users: {built:?}"
    );
}

#[test]
fn syn_is_built_once_beside_tokio() {
    // tokio (with its macros) is a development dependency of this package:
    // its tree is the tree of a tokio program that uses the attribute.
    let with_dev = packages(&tree("normal,build,dev", &[]));
    assert!(
        with_dev.iter().any(|p| p.starts_with("tokio-macros ")),
        "tokio's macros are not in the tree: {with_dev:?}"
    );
    let syns: Vec<&String> = with_dev.iter().filter(|p| p.starts_with("syn ")).collect();
    assert_eq!(
        syns.len(),
        1,
        "one syn for the attribute and tokio's macros, found {syns:?}"
    );
}
