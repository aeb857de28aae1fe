//! Benchmarked program 3 of `cargo bench --bench startup`: the same daemon
//! with the `daemonize` crate (pid file, umask, work dir).

mod body;

fn main() {
    let started = daemonize::Daemonize::new()
        .pid_file(body::path_from_env("STARTUP_PIDFILE"))
        .umask(0o022)
        .working_directory(body::path_from_env("STARTUP_WORKDIR"))
        .start();
    if let Err(err) = started {
        eprintln!("bench-daemonize: {err}");
        std::process::exit(71);
    }
    body::signal_running();
    body::wait_until_stopped();
}
