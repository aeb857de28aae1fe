//! The runtime's modules import one way: each only from modules on its
//! floor or below, with no circle anywhere, and by module path
//! (`crate::module::Item`, never a root re-export such as `crate::Daemon`)
//! so that every arrow shows. A module that needs a higher one's behaviour
//! takes a function pointer instead (as `Error::exit` takes its hook).
//!
//! The floors, from the ground up (a new module must be given one here):

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const FLOORS: &[(u8, &[&str])] = &[
    (1, &["sys", "deadline"]),
    (2, &["error"]),
    // Configuration and the leaf facilities.
    (
        3,
        &[
            "names",
            "config",
            "pathsafe",
            "fds",
            "notify",
            "listen",
            "readiness",
            "lastwords",
            "unit",
        ],
    ),
    // The steps, and the first child's watch.
    (
        4,
        &[
            "pidfile",
            "privileges",
            "dirs",
            "stdio",
            "signals",
            "setup",
            "detach",
            "watch",
        ],
    ),
    // The running daemon, and the log file its body uses.
    (5, &["running", "logfile"]),
    (6, &["control", "classic"]),
    (7, &["commands"]),
    (8, &["start"]),
    // The crate's face and its property tests.
    (9, &["lib", "__private", "proptests"]),
];

/// `crate::<module>` and `crate::<Item>` names in the code of `text`
/// (comments and doc comments left out), with their line numbers.
fn references(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push((n + 1, name));
            }
        }
    }
    out
}

#[test]
fn lower_modules_never_import_higher_ones_and_nothing_goes_round() {
    let floor: BTreeMap<&str, u8> = FLOORS
        .iter()
        .flat_map(|(f, names)| names.iter().map(move |n| (*n, *f)))
        .collect();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("daemonizer-core/src");
    let mut problems = Vec::new();
    let mut arrows: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut modules = 0;
    for entry in std::fs::read_dir(&src).expect("daemonizer-core/src") {
        let path = entry.unwrap().path();
        let module = if path.is_dir() {
            path.file_name().unwrap().to_string_lossy().into_owned()
        } else if path.extension().is_some_and(|e| e == "rs") {
            path.file_stem().unwrap().to_string_lossy().into_owned()
        } else {
            continue;
        };
        let Some(&own) = floor.get(module.as_str()) else {
            problems.push(format!(
                "{module}: no floor; give it one in tests/layers.rs"
            ));
            continue;
        };
        modules += 1;
        let files: Vec<_> = if path.is_dir() {
            std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect()
        } else {
            vec![path.clone()]
        };
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let shown = file.strip_prefix(&src).unwrap().display().to_string();
            for (line, name) in references(&text) {
                if name == module || name.starts_with("__daemonizer") {
                    continue;
                }
                match floor.get(name.as_str()) {
                    Some(&theirs) if theirs > own => problems.push(format!(
                        "{shown}:{line}: {module} (floor {own}) imports {name} (floor {theirs})"
                    )),
                    Some(_) => {
                        arrows.entry(module.clone()).or_default().insert(name);
                    }
                    None if own < 9 => problems.push(format!(
                        "{shown}:{line}: crate::{name}: name the module it comes from"
                    )),
                    None => {}
                }
            }
        }
    }
    assert!(
        modules > 20,
        "read {modules} modules from {}",
        src.display()
    );
    // No circle among same-floor imports either.
    fn visit(
        m: &str,
        arrows: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        problems: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == m) {
            problems.push(format!("a circle: {} -> {m}", path[at..].join(" -> ")));
            return;
        }
        if !done.insert(m.to_owned()) {
            return;
        }
        path.push(m.to_owned());
        for next in arrows.get(m).into_iter().flatten() {
            visit(next, arrows, path, done, problems);
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for m in arrows.keys() {
        visit(m, &arrows, &mut Vec::new(), &mut done, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
