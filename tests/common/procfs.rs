//! Processes seen from outside: their `/proc` entries (state, status
//! fields, open fds and pipes), the processes of a sandbox, and signals
//! sent to them.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::path::Path;

use super::wait_until;

/// Processes other than this one with `target` (such as `pipe:[123]`,
/// from `/proc/<pid>/fd/<n>`) open, each as `<pid> <command name>`.
pub(crate) fn holders(target: &Path) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        if fds
            .flatten()
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|t| t == target))
        {
            let comm = fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            out.push(format!("{pid} {}", comm.trim()));
        }
    }
    out
}

pub(crate) fn kill(pid: i32, signal: i32) -> bool {
    assert!(pid > 1, "refusing to signal PID {pid}");
    // SAFETY: kill takes no pointers.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// The fields of `/proc/<pid>/stat` the tests look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) state: char,
    pub(crate) ppid: i32,
    pub(crate) pgrp: i32,
    pub(crate) session: i32,
    pub(crate) tty_nr: i32,
}

pub(crate) fn stat(pid: i32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: split after the
    // last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        session: f.get(3)?.parse().ok()?,
        tty_nr: f.get(4)?.parse().ok()?,
    })
}

/// Alive: exists and is neither a zombie nor dead (PID 1 here may not
/// reap orphans, so a dead daemon can linger as a zombie).
pub(crate) fn alive(pid: i32) -> bool {
    matches!(stat(pid), Some(s) if s.state != 'Z' && s.state != 'X')
}

pub(crate) fn wait_dead(pid: i32) {
    wait_until(&format!("PID {pid} to end"), || !alive(pid));
}

/// The value of the line `<key>:` in a `/proc` file of `key: value` lines
/// (`status`, `fdinfo/<fd>`), trimmed.
pub(crate) fn proc_value(path: &str, key: &str) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {key}: in {path}"))
        .trim()
        .to_owned()
}

/// [`proc_value`] read as a number in `radix` (8 for modes and flags, 16
/// for signal and capability masks).
pub(crate) fn proc_number(path: &str, key: &str, radix: u32) -> u64 {
    let value = proc_value(path, key);
    u64::from_str_radix(&value, radix).unwrap_or_else(|e| panic!("{path}: {key}: {value:?}: {e}"))
}

/// The line `<key>:` of `/proc/<pid>/status`, split in fields.
pub(crate) fn status_field(pid: i32, key: &str) -> Vec<String> {
    proc_value(&format!("/proc/{pid}/status"), key)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// This process's umask, from `/proc/self/status`.
pub(crate) fn own_umask() -> u32 {
    proc_number("/proc/self/status", "Umask", 8) as u32
}

/// The pipes `pid` holds open, by inode (`pipe:[N]` in `/proc/<pid>/fd`).
pub(crate) fn pipes(pid: i32) -> BTreeSet<String> {
    fds(pid)
        .into_values()
        .filter(|target| target.starts_with("pipe:"))
        .collect()
}

/// `/proc/<pid>/fd`: fd number → link target.
pub(crate) fn fds(pid: i32) -> BTreeMap<i32, String> {
    let mut out = BTreeMap::new();
    if let Ok(entries) = fs::read_dir(format!("/proc/{pid}/fd")) {
        for entry in entries.flatten() {
            let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Ok(target) = fs::read_link(entry.path()) {
                out.insert(fd, target.display().to_string());
            }
        }
    }
    out
}

/// Live processes whose command line contains `tag`.
pub(crate) fn tagged_processes(tag: &str) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let found = cmdline
            .split(|b| *b == 0)
            .any(|arg| OsStr::new(std::str::from_utf8(arg).unwrap_or("")) == OsStr::new(tag));
        if found && alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// Stops a daemon with SIGTERM and waits until it and its pid file are gone.
pub(crate) fn stop(pid: i32, pidfile: &Path) {
    kill(pid, libc::SIGTERM);
    wait_dead(pid);
    wait_until("the pid file to be removed", || !pidfile.exists());
}
