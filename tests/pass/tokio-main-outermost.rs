fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-tokio-main-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

// `#[tokio::main]` expands first; the daemon still starts before its runtime.
#[tokio::main]
#[daemonizer::daemon(pidfile = pidfile())]
async fn main() {
    tokio::task::spawn(async {}).await.unwrap();
}
