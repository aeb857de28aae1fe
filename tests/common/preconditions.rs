//! What this machine lets a test check, and how a test says it could not:
//! [`skip`] and [`summary`] print past libtest's capture.

use std::fs;

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Whether this run is continuous integration (`CI=true`, as set by
/// `.ci/run` and by CI services), where no test may skip.
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Reports that `test` cannot check its claim because `why` (a missing
/// precondition). Under `CI=true` this fails the test; otherwise it prints
/// `<test>: SKIPPED: <why>` past libtest's capture (straight to the
/// process's stderr), so that the skip shows in every run's log, and the
/// caller returns.
///
/// ```ignore
/// if !is_root() {
///     return skip("chroot_works", "needs root");
/// }
/// ```
pub(crate) fn skip(test: &str, why: &str) {
    use std::io::Write;
    assert!(
        !in_ci(),
        "{test}: cannot run: {why} (CI=true: a missing precondition is a failure)"
    );
    // Not eprintln!: libtest captures that and shows it only on failure.
    let line = format!("\n{test}: SKIPPED: {why}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Prints a stress test's figures, `summary: <text>`, past libtest's
/// capture (straight to the process's stderr, on a line of its own), so
/// that every run shows them and `.ci/run` can collect them with `grep
/// '^summary:'`. Assert each figure's bound before printing it.
///
/// ```ignore
/// assert!(reads > 0, "the reader read");
/// summary(&format!("{reads} reads of the pid file, none partial"));
/// ```
pub(crate) fn summary(text: &str) {
    use std::io::Write;
    // One write of whole lines, with a newline first: libtest may have
    // left its own line unfinished.
    let line = format!("\nsummary: {text}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// True when running as root; otherwise [`skip`]s `test` (a failure under
/// `CI=true`).
pub(crate) fn root_or_skip(test: &str) -> bool {
    if is_root() {
        return true;
    }
    skip(test, "needs root (privilege drop, chroot)");
    false
}

/// `close_range(2)` exists from Linux 5.9 on.
pub(crate) fn kernel_has_close_range() -> bool {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(['.', '-']);
    let major: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (major, minor) >= (5, 9)
}

/// How the daemon's debug log names the way it closed inherited fds
/// (`close fds: done with ...`). Built with `--cfg daemonizer_portable`,
/// the runtime has no `close_range` path and lists `/dev/fd`; where no
/// listing can be read (`/proc` hidden from the launcher) it finds the
/// open fds with `poll`.
pub(crate) fn expected_close_method(listing_readable: bool) -> &'static str {
    if !cfg!(daemonizer_portable) && kernel_has_close_range() {
        "CloseRange"
    } else if !listing_readable {
        "Poll"
    } else if cfg!(daemonizer_portable) {
        "Listing(\"/dev/fd\")"
    } else {
        "Listing(\"/proc/self/fd\")"
    }
}
