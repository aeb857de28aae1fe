//! Closing inherited fds: each method keeps exactly the preserved fds, and
//! a full start works with a huge open-file limit.

mod common;

use std::collections::BTreeSet;
use std::fs;

use common::*;

fn set(list: &str) -> BTreeSet<i32> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

fn close_with(method: &str) -> (String, BTreeSet<i32>, BTreeSet<i32>, BTreeSet<i32>) {
    let sb = Sandbox::new(&format!("close-{method}"));
    let facts_path = sb.path("facts");
    // Six extra files (the first two kept), and fds 1000 (closed) and 1001
    // (kept) far above them.
    let outcome = run(sb
        .command("close-with")
        .arg("--method")
        .arg(method)
        .args(["--extra", "6", "--keep", "2", "--high-fd", "1000"])
        .arg("--facts")
        .arg(&facts_path));
    assert!(outcome.success(), "{outcome:?}");
    let f = facts(&facts_path);
    (
        f["method"].clone(),
        set(&f["keep"]),
        set(&f["before"]),
        set(&f["after"]),
    )
}

fn check_method(method: &str, expected: &str) {
    let (used, keep, before, after) = close_with(method);
    assert_eq!(used, expected, "{method}");
    assert_eq!(keep.len(), 3, "two extra files and fd 1001: {keep:?}");
    assert!(
        before.contains(&1000) && before.contains(&1001),
        "{before:?}"
    );
    assert!(before.len() >= 3 + 6 + 2, "{before:?}");
    let mut expected_after: BTreeSet<i32> = [0, 1, 2].into();
    expected_after.extend(&keep);
    assert_eq!(
        after, expected_after,
        "{method}: exactly stdio and the kept fds survive (before: {before:?})"
    );
}

#[test]
fn close_range_keeps_exactly_the_preserved_fds() {
    let expected = if kernel_has_close_range() {
        "CloseRange"
    } else {
        "ProcFd"
    };
    check_method("close-range", expected);
}

#[test]
fn proc_self_fd_keeps_exactly_the_preserved_fds() {
    check_method("proc-fd", "ProcFd");
}

#[test]
fn bounded_loop_keeps_exactly_the_preserved_fds() {
    check_method("loop", "Loop");
}

/// The hard `RLIMIT_NOFILE` this test may raise the soft one to.
fn highest_nofile() -> u64 {
    // CAP_SYS_RESOURCE (bit 24) allows raising the hard limit up to
    // nr_open; without it the current hard limit is the ceiling.
    let cap_eff = proc_number("/proc/self/status", "CapEff", 16);
    if cap_eff & (1 << 24) != 0 {
        fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1 << 20)
    } else {
        let limits = fs::read_to_string("/proc/self/limits").unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap();
        let hard = line.split_whitespace().nth(4).unwrap();
        hard.parse().unwrap_or(1 << 20)
    }
}

#[test]
fn a_full_start_with_a_huge_open_file_limit() {
    let sb = Sandbox::new("nofile");
    let limit = highest_nofile();
    let high = i32::try_from(limit - 1).unwrap();
    // The launcher runs with RLIMIT_NOFILE at its maximum and an inherited
    // fd at the very top of the range.
    start(
        sb.daemon()
            .arg("--nofile")
            .arg(limit.to_string())
            .args(["--extra", "2", "--keep", "1"])
            .arg("--high-fd")
            .arg(high.to_string()),
    );
    let pid = wait_pidfile(&sb.path("pid"));
    let f = facts(&sb.path("facts"));
    let open = fds(pid);
    assert!(
        !open.contains_key(&high),
        "fd {high} (limit {limit}) was closed: {open:?}"
    );
    let kept: i32 = f["keep_fds"].parse().unwrap();
    assert_eq!(open[&kept], sb.path("extra-0").display().to_string());
    assert!(
        !open
            .values()
            .any(|t| *t == sb.path("extra-1").display().to_string()),
        "{open:?}"
    );
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max open files") && l.contains(&limit.to_string())),
        "the daemon kept the raised limit: {limits}"
    );
    stop(pid, &sb.path("pid"));
    summary(&format!(
        "full start with RLIMIT_NOFILE = {limit} and an inherited fd {high}: started, fd closed"
    ));
}
