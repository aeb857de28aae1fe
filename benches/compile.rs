//! Compile-time benchmark: what a clean debug build costs a user, for four
//! one-file programs built side by side in one run:
//!
//! 1. `daemonizer`: `#[daemonizer::daemon(pidfile = ...)] fn main() {}` on
//!    this workspace's `daemonizer`;
//! 2. `daemonize`: the same daemon with the `daemonize` 0.5 crate;
//! 3. `tokio`: `#[tokio::main] async fn main() {}` (tokio with `macros` and
//!    `rt-multi-thread`);
//! 4. `tokio + daemonizer`: program 3 with `#[daemonizer::daemon]` on top.
//!
//! ```text
//! cargo bench --bench compile                         # one round
//! COMPILE_BENCH_ROUNDS=2 cargo bench --bench compile  # best of two
//! ```
//!
//! Each program gets its own project and `CARGO_TARGET_DIR` under
//! `target/tmp/compile-bench/`, with the workspace's `Cargo.lock` (same
//! versions as the tests use). Crates come from crates.io: `cargo fetch`
//! runs first, then every build is `cargo build --offline` from an empty
//! target directory, one at a time, the programs interleaved in each round,
//! with `CARGO_INCREMENTAL=0` (as for a dependency from crates.io).
//! For each build the benchmark reports the wall time and the CPU time
//! (user + system) of cargo and every compiler it ran: on a shared machine
//! the wall time moves with the load of others, the CPU time much less.
//!
//! It then prints the ratios against their targets (daemonizer alone at
//! most 3× the `daemonize` crate; the attribute adds at most 15% to a
//! tokio program; one `syn` in the tokio program's dependency tree), the
//! crates a user of daemonizer builds, and the time of one expansion of the
//! attribute with every key (`daemonizer-macros/benches/expand.rs`, run
//! unoptimized as the compiler loads it).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Program {
    /// Directory name under the benchmark's work directory.
    dir: &'static str,
    label: &'static str,
    dependencies: &'static str,
    main: &'static str,
}

const DAEMONIZER: &str = r#"daemonizer = { package = "daemonizer-rs", path = "@ROOT@" }"#;
const DAEMONIZE: &str = r#"daemonize = "0.5""#;
const TOKIO: &str = r#"tokio = { version = "1", features = ["macros", "rt-multi-thread"] }"#;

fn programs() -> [Program; 4] {
    [
        Program {
            dir: "daemonizer",
            label: "daemonizer `#[daemon]`",
            dependencies: DAEMONIZER,
            main: "#[daemonizer::daemon(pidfile = \"/tmp/compile-bench.pid\")]\nfn main() {}\n",
        },
        Program {
            dir: "daemonize",
            label: "`daemonize` 0.5 crate",
            dependencies: DAEMONIZE,
            main: "fn main() {\n    daemonize::Daemonize::new()\n        .pid_file(\"/tmp/compile-bench.pid\")\n        .start()\n        .unwrap();\n}\n",
        },
        Program {
            dir: "tokio",
            label: "tokio `#[tokio::main]`",
            dependencies: TOKIO,
            main: "#[tokio::main]\nasync fn main() {}\n",
        },
        Program {
            dir: "tokio-daemonizer",
            label: "tokio + daemonizer",
            dependencies: "@TOKIO@\n@DAEMONIZER@",
            main: "#[daemonizer::daemon(pidfile = \"/tmp/compile-bench.pid\")]\n#[tokio::main]\nasync fn main() {}\n",
        },
    ]
}

#[derive(Clone)]
struct Build {
    wall: Duration,
    cpu: Duration,
    /// Seconds per package from cargo's `--timings` report (library and
    /// build script together), largest first.
    units: Vec<(String, f64)>,
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compile-bench");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let rounds: usize = std::env::var("COMPILE_BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let programs = programs();

    for program in &programs {
        let dir = work.join(program.dir);
        write_project(&root, &dir, program);
        run(
            Command::new(&cargo)
                .args(["fetch", "--quiet"])
                .current_dir(&dir),
            "cargo fetch",
        );
    }

    let load_before = load_average();
    let mut builds: Vec<Vec<Build>> = vec![Vec::new(); programs.len()];
    for round in 1..=rounds {
        for (program, results) in programs.iter().zip(&mut builds) {
            let build = clean_build(&cargo, &work.join(program.dir));
            eprintln!(
                "round {round}/{rounds}: {:<24} wall {:>6.2} s  cpu {:>6.2} s",
                program.label,
                build.wall.as_secs_f64(),
                build.cpu.as_secs_f64()
            );
            results.push(build);
        }
    }
    let load_after = load_average();
    // The least of the rounds: the closest to the build's own cost.
    let best: Vec<Build> = builds
        .iter()
        .map(|b| Build {
            wall: b.iter().map(|b| b.wall).min().expect("one round"),
            cpu: b.iter().map(|b| b.cpu).min().expect("one round"),
            units: b.last().expect("one round").units.clone(),
        })
        .collect();

    let trees: Vec<Vec<String>> = programs
        .iter()
        .map(|p| packages(&cargo, &work.join(p.dir)))
        .collect();
    let syns: Vec<&String> = trees[3].iter().filter(|p| p.starts_with("syn v")).collect();

    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}; clean `cargo build` (debug) of each program, one at a time, {} round{} (best of each); load average {} before, {} after.\n",
        machine(),
        rounds,
        if rounds == 1 { "" } else { "s" },
        load_before,
        load_after,
    );
    let _ = writeln!(out, "| program | wall | CPU (user + sys) | packages |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for ((program, build), tree) in programs.iter().zip(&best).zip(&trees) {
        let _ = writeln!(
            out,
            "| {} | {:.2} s | {:.2} s | {} |",
            program.label,
            build.wall.as_secs_f64(),
            build.cpu.as_secs_f64(),
            tree.len()
        );
    }
    let _ = writeln!(out);
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let alone_wall = ratio(best[0].wall, best[1].wall);
    let alone_cpu = ratio(best[0].cpu, best[1].cpu);
    let _ = writeln!(
        out,
        "- daemonizer alone vs `daemonize` (target <= 3.0x): wall {alone_wall:.2}x {}, CPU {alone_cpu:.2}x {}",
        verdict(alone_wall <= 3.0),
        verdict(alone_cpu <= 3.0),
    );
    let added_wall = (ratio(best[3].wall, best[2].wall) - 1.0) * 100.0;
    let added_cpu = (ratio(best[3].cpu, best[2].cpu) - 1.0) * 100.0;
    let _ = writeln!(
        out,
        "- the attribute added to a tokio program (target <= 15%): wall {added_wall:+.0}% {}, CPU {added_cpu:+.0}% {}",
        verdict(added_wall <= 15.0),
        verdict(added_cpu <= 15.0),
    );
    let _ = writeln!(
        out,
        "- `syn` in the tokio + daemonizer tree (target: exactly one): {} ({}) {}",
        syns.len(),
        syns.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        verdict(syns.len() == 1),
    );
    let _ = writeln!(
        out,
        "- what a user of daemonizer builds (`cargo tree -e normal,build`): {}",
        trees[0]
            .iter()
            .filter(|p| !p.starts_with("m-"))
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let total: f64 = best[0].units.iter().map(|(_, secs)| secs).sum();
    if total > 0.0 {
        let shares: Vec<String> = best[0]
            .units
            .iter()
            .take(8)
            .map(|(name, secs)| format!("{name} {:.0}%", secs / total * 100.0))
            .collect();
        let _ = writeln!(
            out,
            "- where daemonizer's build goes (share of the time of all units, `cargo build --timings`): {}",
            shares.join(", ")
        );
    }
    print!("{out}");

    let expand = Command::new(&cargo)
        .args([
            "bench",
            "--quiet",
            "--profile",
            "dev",
            "-p",
            "daemonizer-macros",
            "--bench",
            "expand",
        ])
        .current_dir(&root)
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo bench --bench expand");
    assert!(expand.status.success(), "the expansion benchmark failed");
    for line in String::from_utf8_lossy(&expand.stdout).lines() {
        println!("- {}", line.trim());
    }
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

/// Writes the program's project: manifest, `src/main.rs`, and the
/// workspace's lock file so that every program gets the tested versions.
fn write_project(root: &Path, dir: &Path, program: &Program) {
    std::fs::create_dir_all(dir.join("src")).expect("create the project");
    let dependencies = program
        .dependencies
        .replace("@TOKIO@", TOKIO)
        .replace("@DAEMONIZER@", DAEMONIZER)
        .replace("@ROOT@", &root.display().to_string());
    let manifest = format!(
        "[package]\nname = \"m-{}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\n{dependencies}\n\n# Its own workspace, whatever directory it is in.\n[workspace]\n",
        program.dir
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("write Cargo.toml");
    std::fs::write(dir.join("src/main.rs"), program.main).expect("write main.rs");
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy Cargo.lock");
}

/// A `cargo build` of the project in `dir` from an empty target directory.
fn clean_build(cargo: &std::ffi::OsStr, dir: &Path) -> Build {
    let target = dir.join("target");
    match std::fs::remove_dir_all(&target) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("{}: {e}", target.display()),
    }
    let cpu_before = children_cpu();
    let started = Instant::now();
    run(
        Command::new(cargo)
            .args(["build", "--offline", "--quiet", "--timings"])
            .env("CARGO_TARGET_DIR", &target)
            // A user gets daemonizer from crates.io, built without
            // incremental state; as a path dependency here it would get it.
            .env("CARGO_INCREMENTAL", "0")
            .current_dir(dir),
        "cargo build",
    );
    let wall = started.elapsed();
    Build {
        wall,
        cpu: children_cpu() - cpu_before,
        units: units(&target.join("cargo-timings/cargo-timing.html")),
    }
}

/// The time of each package's units in a `--timings` report, largest
/// first; empty if the report cannot be read (its format is not stable).
fn units(report: &Path) -> Vec<(String, f64)> {
    let Ok(html) = std::fs::read_to_string(report) else {
        return Vec::new();
    };
    let Some(start) = html.find("const UNIT_DATA = [") else {
        return Vec::new();
    };
    let data = &html[start..];
    let data = &data[..data.find("\n];").unwrap_or(data.len())];
    let mut units: Vec<(String, f64)> = Vec::new();
    let mut name = String::new();
    for line in data.lines() {
        let line = line.trim().trim_end_matches(',');
        if let Some(value) = line.strip_prefix("\"name\": ") {
            name = value.trim_matches('"').to_owned();
        } else if let Some(value) = line.strip_prefix("\"duration\": ") {
            let secs: f64 = value.parse().unwrap_or(0.0);
            match units.iter_mut().find(|(n, _)| *n == name) {
                Some((_, total)) => *total += secs,
                None => units.push((name.clone(), secs)),
            }
        }
    }
    units.sort_by(|a, b| b.1.total_cmp(&a.1));
    units
}

fn run(command: &mut Command, what: &str) {
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(status.success(), "{what} failed: {status}");
}

/// The distinct packages (`name vX.Y.Z`) in the project's normal and build
/// dependency tree, itself included.
fn packages(cargo: &std::ffi::OsStr, dir: &Path) -> Vec<String> {
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--quiet",
            "-e",
            "normal,build",
            "--prefix",
            "none",
        ])
        .current_dir(dir)
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree failed");
    let mut packages: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some(format!("{} {}", words.next()?, words.next()?))
        })
        .collect();
    packages.sort();
    packages.dedup();
    packages
}

/// CPU time (user + system) of every child and descendant waited for.
fn children_cpu() -> Duration {
    // SAFETY: `getrusage` only writes the struct it is given, which is
    // plain data and valid when zeroed.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{} CPUs, {rustc}", cpus)
}
