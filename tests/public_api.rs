//! No type of nix or libc in the public interface: not in a signature, a
//! trait implementation, a public field or a re-export. The runtime calls
//! the system through nix, and its own small types (`Signal`, `Resource`,
//! the OS error as a number or an `io::Error`) stand in front of it, so a
//! new nix is never the user's breaking change.
//!
//! Rustdoc is what sees the interface as a user does: every public item,
//! through every re-export, with each type in a signature linked to its
//! crate's page, and a re-exported foreign item linked to its source. The
//! runtime's documentation (dependencies included, so that their pages can
//! be linked) is built into a directory of its own, and no page of the
//! runtime may link into nix's or libc's pages or sources. Names are not
//! grepped for: a page that mentions `Errno` in prose is fine, and a type
//! that appears under another name through a re-export is still found.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The crates whose types must not appear in the public interface.
const HIDDEN: &[&str] = &["nix", "libc"];

/// Every `.html` file under `dir`.
fn pages(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            pages(&path, out);
        } else if path.extension().is_some_and(|e| e == "html") {
            out.push(path);
        }
    }
}

/// The targets of the `href="..."` links of `html` that lead into the
/// pages or the sources of one of [`HIDDEN`]'s crates: `../nix/...`,
/// `../../src/libc/...`, or the same on an absolute URL.
fn hidden_links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|target| {
            let segments: Vec<&str> = target
                .split('#')
                .next()
                .unwrap_or("")
                .split('/')
                .filter(|s| !s.is_empty() && *s != ".." && *s != "." && *s != "src")
                .collect();
            segments
                .iter()
                .position(|s| !s.contains(':') && !s.contains('.'))
                .and_then(|first| segments.get(first))
                .is_some_and(|krate| HIDDEN.contains(krate))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_runtime_shows_no_nix_or_libc_type() {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("public-api");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "doc",
            "--offline",
            "--quiet",
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
            "-p",
            "daemonizer-core",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTDOCFLAGS")
        .output()
        .expect("running cargo doc");
    assert!(
        out.status.success(),
        "cargo doc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = target.join("doc").join("daemonizer_core");
    let mut files = Vec::new();
    pages(&root, &mut files);
    assert!(
        files.len() > 20 && files.iter().any(|f| f.ends_with("struct.Error.html")),
        "the runtime's pages were not generated under {}",
        root.display()
    );
    let mut leaks = Vec::new();
    for file in &files {
        let html = std::fs::read_to_string(file).expect("a page");
        for link in hidden_links(&html) {
            leaks.push(format!(
                "{} links to {link}",
                file.strip_prefix(&root).unwrap_or(file).display()
            ));
        }
    }
    leaks.sort();
    leaks.dedup();
    assert!(
        leaks.is_empty(),
        "the public interface shows a type of {HIDDEN:?}; give it a type of \
         the crate's own and convert at the boundary:\n{}",
        leaks.join("\n")
    );
}

#[test]
fn links_into_hidden_crates_are_recognised() {
    let html = concat!(
        r#"<a href="../nix/errno/consts/enum.Errno.html" title="enum nix::errno::consts::Errno">"#,
        r#"<a href="../../src/nix/sys/signal.rs.html#1">"#,
        r#"<a href="https://docs.rs/libc/0.2/libc/type.c_int.html">"#,
        r#"<a href="../daemonizer_core/struct.Error.html">"#,
        r#"<a href="https://doc.rust-lang.org/1.95.0/std/os/unix/net/struct.UnixListener.html">"#,
        r#"<a href="../src/daemonizer_core/names.rs.html#10">"#,
        r##"<a href="#method.nix">"##,
    );
    assert_eq!(
        hidden_links(html),
        [
            "../nix/errno/consts/enum.Errno.html",
            "../../src/nix/sys/signal.rs.html#1",
            "https://docs.rs/libc/0.2/libc/type.c_int.html",
        ]
    );
}
