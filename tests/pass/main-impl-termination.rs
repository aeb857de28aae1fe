// In lite mode (tests/compiletest.rs sets DAEMONIZER_PASS_LITE) the body
// runs in the process itself and what main returns is its exit status:
// this program exits 0 only if the pid file names this very process.
use std::process::ExitCode;

fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-main-impl-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

#[daemonizer::daemon(
    pidfile = pidfile(),
    lite_if = "DAEMONIZER_PASS_LITE",
    on_launched = |_| panic!("a full start: run with DAEMONIZER_PASS_LITE=1"),
)]
fn main() -> impl std::process::Termination {
    match std::fs::read_to_string(pidfile()) {
        Ok(text) if text == format!("{}\n", std::process::id()) => ExitCode::SUCCESS,
        _ => ExitCode::from(3),
    }
}
