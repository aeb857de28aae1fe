//! Closing inherited fds, observed from outside: exactly the preserved fds
//! survive, whichever way the daemon closes the others (its debug log says
//! which), and a full start works with a huge open-file limit.

mod common;

use std::fs;

use common::*;

/// Starts a daemon with six extra files open (the first two preserved)
/// and copies of the first on fds 1000 and 1001 (only 1001 preserved), its
/// runtime's debug log in the sandbox; checks from outside that exactly
/// stdio, the runtime's own fds and the preserved ones are left open, and
/// returns what the log says about the closing. Without `options` naming
/// one, the daemon has no pid file.
fn inherited_fds_closed(sb: &Sandbox, options: impl FnOnce(Scenario) -> Scenario) -> String {
    let log = sb.path("debug.log");
    start(options(
        sb.scenario("daemon")
            .facts(sb.path("facts"))
            .extra(6)
            .keep(2)
            .high_fd(1000)
            .keep_high()
            .debug_log()
            .log(&log),
    ));
    let f = facts(&sb.path("facts"));
    let pid: i32 = f["pid"].parse().unwrap();
    let open = fds(pid);
    // Under chroot the pid file is emptied at exit, not removed.
    kill(pid, libc::SIGTERM);
    wait_dead(pid);
    let name = |i: usize| sb.path(&format!("extra-{i}")).display().to_string();
    let kept: Vec<i32> = f["keep_fds"]
        .split(',')
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(kept.len(), 2, "{f:?}");
    for (i, fd) in kept.iter().enumerate() {
        assert_eq!(open.get(fd), Some(&name(i)), "preserved fd {fd}: {open:?}");
    }
    assert_eq!(
        open.get(&1001),
        Some(&name(0)),
        "preserved fd 1001: {open:?}"
    );
    assert!(!open.contains_key(&1000), "fd 1000 closed: {open:?}");
    for i in 2..6 {
        assert!(
            !open.values().any(|t| *t == name(i)),
            "{} still open: {open:?}",
            name(i)
        );
    }
    // Apart from stdio and the preserved fds: the facts file, the log, the
    // pid file, its lock file and their directory, pipes.
    let allowed = [
        "/dev/null".to_owned(),
        name(0),
        name(1),
        sb.path("facts").display().to_string(),
        log.display().to_string(),
        sb.path("pid").display().to_string(),
        sb.path(".pid.lock").display().to_string(),
        sb.dir.display().to_string(),
    ];
    for (fd, target) in &open {
        assert!(
            allowed.contains(target) || target.starts_with("pipe:"),
            "fd {fd} -> {target} should have been closed; open: {open:?}"
        );
    }
    let text = fs::read_to_string(&log).unwrap();
    text.lines()
        .find_map(|l| Some(l.split_once("close fds: done with ")?.1.to_owned()))
        .unwrap_or_else(|| panic!("no close fds line in the log:\n{text}"))
}

#[test]
fn inherited_fds_are_closed_but_the_preserved_ones() {
    let sb = Sandbox::new("close-fds");
    let method = inherited_fds_closed(&sb, |s| s.pidfile(sb.path("pid")));
    assert_eq!(method, expected_close_method(true));
}

/// The sweep does not depend on the pid file that the daemon locks after it.
#[test]
fn inherited_fds_are_closed_without_a_pid_file() {
    let sb = Sandbox::new("close-fds-no-pidfile");
    let method = inherited_fds_closed(&sb, |s| s);
    assert_eq!(method, expected_close_method(true));
}

/// A chroot without `/proc` and `/dev` changes nothing: the daemon closes
/// its inherited fds first thing, before the chroot, where `close_range`
/// does the work or else the listing of the host's `/proc` or `/dev` is in
/// reach.
#[test]
fn inherited_fds_are_closed_in_an_empty_chroot() {
    if !root_or_skip("inherited_fds_are_closed_in_an_empty_chroot") {
        return;
    }
    let sb = Sandbox::new("close-fds-chroot");
    let root = sb.path("root");
    fs::create_dir(&root).unwrap();
    let method = inherited_fds_closed(&sb, |s| s.pidfile(sb.path("pid")).chroot(&root));
    assert_eq!(method, expected_close_method(true));
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
    start(sb.daemon().nofile(limit).extra(2).keep(1).high_fd(high));
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

/// A caller who opens a high fd and then lowers both open-file limits
/// below its number, and a launcher that cannot list its fds (`/proc`
/// hidden in its mount namespace): the daemon still closes that fd, and
/// keeps the preserved one beside it. With `close_range` the kernel finds
/// it; with the portable paths (no `close_range`) `poll` does, up to the
/// kernel's ceiling on fd numbers, not the limits. Where root may raise the
/// hard limit (`CAP_SYS_RESOURCE`) the fd lies near 1048576, far above the
/// 65536 that bounded closing in a loop.
#[test]
fn a_high_fd_above_lowered_limits_is_closed_without_a_listing() {
    if !root_or_skip("a_high_fd_above_lowered_limits_is_closed_without_a_listing") {
        return;
    }
    let sb = Sandbox::new("close-fds-hidden");
    let log = sb.path("debug.log");
    // fs.nr_open's default: the ceiling when /proc cannot be read.
    let limit = highest_nofile().min(1 << 20);
    let high = i32::try_from(limit - 2).unwrap();
    start(
        sb.daemon()
            .nofile(limit)
            .extra(2)
            .keep(1)
            .keep_high()
            .high_fd(high)
            .args(["--lower-nofile", "1024:1024"])
            .arg("--hide-proc")
            .debug_log()
            .log(&log),
    );
    let pid = wait_pidfile(&sb.path("pid"));
    let f = facts(&sb.path("facts"));
    let open = fds(pid);
    stop(pid, &sb.path("pid"));
    let name = |i: usize| sb.path(&format!("extra-{i}")).display().to_string();
    assert!(
        !open.contains_key(&high),
        "fd {high} (limits lowered to 1024 after it was opened) was closed: {open:?}"
    );
    assert_eq!(open.get(&(high + 1)), Some(&name(0)), "preserved: {open:?}");
    let kept: i32 = f["keep_fds"].parse().unwrap();
    assert_eq!(open.get(&kept), Some(&name(0)), "preserved: {open:?}");
    assert!(!open.values().any(|t| *t == name(1)), "{open:?}");
    let text = fs::read_to_string(&log).unwrap();
    let method = text
        .lines()
        .find_map(|l| Some(l.split_once("close fds: done with ")?.1.to_owned()))
        .unwrap_or_else(|| panic!("no close fds line in the log:\n{text}"));
    assert_eq!(method, expected_close_method(false));
    summary(&format!(
        "inherited fd {high} above RLIMIT_NOFILE lowered to 1024, no listing of open fds: \
         closed with {method}"
    ));
}
