fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-main-impl-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

#[daemonizer::daemon(pidfile = pidfile())]
fn main() -> impl std::process::Termination {
    std::process::ExitCode::SUCCESS
}
