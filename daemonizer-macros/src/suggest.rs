//! "Did you mean ...?": the valid name closest to a misspelled one.

/// The candidate `name` most likely meant, if one is close enough: the
/// same letters without case, `_` and `-` (`pid_file`, `workdir`), the
/// same word with or without a final `s` (`signal`), or at most two edits
/// away (`pidfle`), never more than a third of the name.
pub(crate) fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let bare = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = bare(name);
    if let Some(found) = candidates.iter().find(|c| bare(c) == wanted) {
        return Some(found);
    }
    let singular = |s: &str| s.strip_suffix('s').map(str::to_owned);
    if let Some(found) = candidates.iter().find(|c| {
        let c = bare(c);
        singular(&c).as_deref() == Some(&wanted) || singular(&wanted).as_deref() == Some(&c)
    }) {
        return Some(found);
    }
    let limit = (wanted.chars().count() / 3).clamp(1, 2);
    candidates
        .iter()
        .map(|c| (distance(&wanted, &bare(c)), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The Levenshtein distance between `a` and `b`, in characters. Names are
/// short; the quadratic cost is bounded by the attribute's own input.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    const KEYS: &[&str] = &[
        "pidfile", "umask", "lite_if", "work_dir", "signals", "limits",
    ];

    #[test]
    fn close_names_find_the_key_meant() {
        assert_eq!(super::closest("pid_file", KEYS), Some("pidfile"));
        assert_eq!(super::closest("PidFile", KEYS), Some("pidfile"));
        assert_eq!(super::closest("workdir", KEYS), Some("work_dir"));
        assert_eq!(super::closest("signal", KEYS), Some("signals"));
        assert_eq!(super::closest("limit", KEYS), Some("limits"));
        assert_eq!(super::closest("pidfle", KEYS), Some("pidfile"));
        assert_eq!(super::closest("umsk", KEYS), Some("umask"));
    }

    #[test]
    fn distant_names_find_nothing() {
        assert_eq!(super::closest("user", KEYS), None);
        assert_eq!(super::closest("x", KEYS), None);
        assert_eq!(super::closest("", KEYS), None);
        assert_eq!(super::closest("daemonize", KEYS), None);
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(super::distance("", ""), 0);
        assert_eq!(super::distance("abc", ""), 3);
        assert_eq!(super::distance("kitten", "sitting"), 3);
        assert_eq!(super::distance("pidfle", "pidfile"), 1);
    }
}
