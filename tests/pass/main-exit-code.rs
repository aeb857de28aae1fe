use std::process::ExitCode;

fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-main-exit-code-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

#[daemonizer::daemon(pidfile = pidfile())]
fn main() -> ExitCode {
    ExitCode::SUCCESS
}
