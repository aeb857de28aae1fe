//! An error type with `Debug` only: a failure before readiness is
//! described with it.

#[derive(Debug)]
struct Refused;

fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-debug-only-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

#[daemonizer::daemon(pidfile = pidfile(), lite_if = "DAEMONIZER_PASS_NEVER_SET")]
fn main() -> Result<(), Refused> {
    if std::env::args().count() > 1 {
        return Err(Refused);
    }
    Ok(())
}
