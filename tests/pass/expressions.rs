// Values are expressions evaluated when `main` starts.
#[daemonizer::daemon(
    pidfile = std::env::var("DAEMONIZER_PASS_NO_SUCH_VAR").unwrap_or_else(|_| {
        let name = format!("daemonizer-pass-expressions-{}.pid", std::process::id());
        std::env::temp_dir().join(name).display().to_string()
    }),
    work_dir = std::env::temp_dir(),
    preserve = &std::io::stderr(),
)]
fn main() {}
