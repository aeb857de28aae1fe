fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-main-never-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

#[daemonizer::daemon(pidfile = pidfile())]
fn main() -> ! {
    std::process::exit(0)
}
