// `setup` as a closure, a pattern parameter and `main` that never returns.
fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-setup-never-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

#[daemonizer::daemon(
    pidfile = pidfile(),
    setup = || std::fs::File::open("/dev/null").map(|file| (file, 7u8)),
)]
fn main((file, seven): (std::fs::File, u8)) -> ! {
    assert_eq!(seven, 7);
    drop(file);
    std::process::exit(0)
}
