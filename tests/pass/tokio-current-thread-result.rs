fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-tokio-result-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

#[daemonizer::daemon(pidfile = pidfile(), ready = "manual")]
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    daemonizer::ready()?;
    drop(listener);
    Ok(())
}
