//! Compile-time behaviour of `#[daemonizer::daemon]`.
//!
//! `tests/ui/*.rs` must fail to compile with the error in the `.stderr`
//! beside them; `tests/pass/*.rs` must compile and run successfully. After
//! a deliberate change to a message, refresh the snapshots with
//! `TRYBUILD=overwrite cargo test --test compiletest` and review the diff.
//!
//! A pass program that runs shows its claim in its exit status: in full
//! mode it reports ready (manual readiness) only after checking what it
//! claims, so that a failure ends the daemon before ready and fails the
//! launcher; the programs that return a value from `main` run in lite mode
//! (`lite_if = "DAEMONIZER_PASS_LITE"`, set here), where that value is the
//! exit status.

#[test]
fn ui() {
    // The only test of this binary: no other thread reads the environment.
    std::env::set_var("DAEMONIZER_PASS_LITE", "1");
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
