//! Waits with a deadline: every wait in the tests ends, by success or by a
//! failure that says what was awaited.

use std::time::{Duration, Instant};

/// How long any wait may take before the test fails. Generous: tests run
/// in parallel on small machines; nothing asserts on durations.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `cond` until it holds; fails the test after [`DEADLINE`].
pub(crate) fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "gave up waiting for {what} after {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Polls `f` until it returns `Some`; fails the test after [`DEADLINE`].
pub(crate) fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "gave up waiting for {what} after {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
