fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-tokio-daemon-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

// The runtime attribute below ours: the runtime is built inside the daemon.
#[daemonizer::daemon(pidfile = pidfile())]
#[tokio::main]
async fn main() {
    tokio::task::spawn(async {}).await.unwrap();
}
