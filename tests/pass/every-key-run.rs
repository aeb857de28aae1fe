// Every key that needs no privileges, run for real: the daemon starts,
// signals its readiness and removes everything it created.
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::OnceLock;

/// A path in the temporary directory, named after the launching process
/// (the daemon, a child of it, uses the same names).
fn scratch(what: &str) -> PathBuf {
    static LAUNCHER: OnceLock<u32> = OnceLock::new();
    let pid = LAUNCHER.get_or_init(std::process::id);
    std::env::temp_dir().join(format!("daemonizer-pass-every-key-run-{pid}.{what}"))
}

fn me() -> std::fs::Metadata {
    std::fs::metadata("/proc/self").unwrap()
}

fn on_usr1(_: daemonizer::Signal) {}

#[daemonizer::daemon(
    pidfile = scratch("pid"),
    umask = 0o022,
    lite_if = "DAEMONIZER_PASS_EVERY_KEY_RUN_LITE",
    work_dir = std::env::temp_dir(),
    user = me().uid(),
    group = me().gid(),
    stdout = scratch("out"),
    stderr = scratch("err"),
    preserve = [0, 1, 2],
    signals(SIGHUP = |_| {}, SIGUSR1 = on_usr1),
    limits(core = 0),
    ready = "manual",
    on_launched = |launched| assert!(launched.pid() > 0),
)]
fn main() {
    daemonizer::ready().unwrap();
    let _ = std::fs::remove_file(scratch("out"));
    let _ = std::fs::remove_file(scratch("err"));
}
