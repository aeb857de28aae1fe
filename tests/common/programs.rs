//! The programs the tests launch: the examples, and among them the
//! `scenario` program.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

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
