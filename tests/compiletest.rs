//! Compile-time behaviour of `#[daemonizer::daemon]`.
//!
//! `tests/ui/*.rs` must fail to compile with the error in the `.stderr`
//! beside them; `tests/pass/*.rs` must compile and run successfully. After
//! a deliberate change to a message, refresh the snapshots with
//! `TRYBUILD=overwrite cargo test --test compiletest` and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
