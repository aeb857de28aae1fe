//! Benchmarked program 2 of `cargo bench --bench startup`: the floor, a
//! daemon written directly against libc that does the least a daemon must
//! do and nothing else: fork, `setsid`, fork, `close_range` above 2,
//! `/dev/null` onto 0-2, pid file written. No lock, no readiness report,
//! no error reporting to the launcher, no signal handling.

#[cfg(target_os = "linux")]
mod body;
#[cfg(target_os = "linux")]
mod floor_steps;

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the start-up benchmark's programs run on Linux only");
    std::process::exit(1);
}

#[cfg(target_os = "linux")]
fn main() {
    let pidfile = floor_steps::pidfile();
    // SAFETY: the process has one thread, so the child may run any code.
    unsafe {
        match libc::fork() {
            -1 => floor_steps::fail("fork"),
            0 => floor_steps::detach_and_write(&pidfile, None),
            _ => libc::_exit(0),
        }
    }
    body::signal_running();
    body::wait_until_stopped();
}
