//! Benchmarked program 1 of `cargo bench --bench startup`: a daemon made by
//! `#[daemonizer::daemon]` with a pid file, a umask and a work dir, as a
//! user writes it.

mod body;

#[daemonizer::daemon(
    pidfile = body::path_from_env("STARTUP_PIDFILE"),
    umask = 0o022,
    work_dir = body::path_from_env("STARTUP_WORKDIR"),
)]
fn main() {
    body::signal_running();
    daemonizer::wait_for_stop();
}
