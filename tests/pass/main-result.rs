fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-main-result-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

#[daemonizer::daemon(pidfile = pidfile())]
fn main() -> Result<(), std::io::Error> {
    let _ = std::env::current_dir()?;
    if std::env::args().count() > 1 {
        return Err(std::io::Error::other("no arguments expected"));
    }
    Ok(())
}
