// In lite mode (tests/compiletest.rs sets DAEMONIZER_PASS_LITE) the body
// runs in the process itself and main's `Result` becomes its exit status:
// this program exits 0 only if the body got to its `Ok`, after `?` and a
// look at the pid file, which must name this very process.
fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-main-result-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

#[daemonizer::daemon(
    pidfile = pidfile(),
    lite_if = "DAEMONIZER_PASS_LITE",
    on_launched = |_| panic!("a full start: run with DAEMONIZER_PASS_LITE=1"),
)]
fn main() -> Result<(), std::io::Error> {
    let text = std::fs::read_to_string(pidfile())?;
    if text != format!("{}\n", std::process::id()) {
        return Err(std::io::Error::other(format!("the pid file holds {text:?}")));
    }
    Ok(())
}
