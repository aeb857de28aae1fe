fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-fn-main-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

#[daemonizer::daemon(pidfile = pidfile())]
fn main() {}
