// Every key at once, on a function that is compiled but never called: some
// keys (chroot, another user) need privileges this test cannot assume.
use daemonizer::Signal;

fn reload(_: Signal) {}

#[allow(dead_code)]
#[daemonizer::daemon(
    pidfile = "/run/every-key.pid",
    umask = 0o027,
    lite_if = "DEBUG",
    work_dir = "/",
    chroot = "/srv/empty",
    user = "nobody",
    group = 65534,
    stdout = "/var/log/every-key.out",
    stderr = std::path::Path::new("/var/log/every-key.err"),
    preserve = [3, &std::io::stdout()],
    signals(SIGHUP = reload, SIGUSR1 = |signal| log::info!("{signal}"), SIGTERM = |_| daemonizer::request_stop()),
    limits(core = 0, nofile = (1024, 4096), stack = unlimited, nproc = 64 * 1024),
    ready = "auto",
    on_launched = |launched| println!("PID {}", launched.pid()),
    crate = "::daemonizer",
)]
fn daemon_main() -> Result<(), String> {
    Ok(())
}

fn main() {}
