//! The files a daemon writes for the tests to read: its pid file and its
//! facts file.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use super::wait_for;

/// The pid file's content, when it exists.
pub(crate) fn read_pidfile(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

/// Waits until the pid file holds `<pid>\n` and returns the PID.
pub(crate) fn wait_pidfile(path: &Path) -> i32 {
    wait_for(&format!("a PID in {}", path.display()), || {
        let text = read_pidfile(path)?;
        let pid = text.strip_suffix('\n')?.parse().ok()?;
        Some(pid)
    })
}

/// Parses a complete facts file (ended by `done=1`); later keys win.
pub(crate) fn parse_facts(text: &str) -> Option<HashMap<String, String>> {
    if !text.lines().any(|l| l == "done=1") {
        return None;
    }
    Some(
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
}

/// Waits for the daemon's facts file to be complete.
pub(crate) fn facts(path: &Path) -> HashMap<String, String> {
    wait_for(&format!("facts in {}", path.display()), || {
        parse_facts(&fs::read_to_string(path).ok()?)
    })
}

/// Waits for the facts file to hold `key` (appended after the first facts).
pub(crate) fn wait_fact(path: &Path, key: &str) -> String {
    wait_for(&format!("{key} in {}", path.display()), || {
        parse_facts(&fs::read_to_string(path).ok()?)?.remove(key)
    })
}
