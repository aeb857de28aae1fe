//! Benchmarked program 4 of `cargo bench --bench startup`: the floor
//! (`floor.rs`) plus a readiness handshake and nothing else. The launcher
//! waits on a pipe until the daemon, its pid file written, sends one byte,
//! and only then exits (status 1 if the pipe closes first). It shows what
//! "the launcher exits once the daemon is ready" costs by itself.

#[cfg(target_os = "linux")]
mod body;
#[cfg(target_os = "linux")]
mod floor_steps;

#[cfg(target_os = "linux")]
use floor_steps::fail;

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the start-up benchmark's programs run on Linux only");
    std::process::exit(1);
}

#[cfg(target_os = "linux")]
fn main() {
    let pidfile = floor_steps::pidfile();
    // SAFETY: the process has one thread, so the child may run any code;
    // each call below is a plain system call on values owned here.
    unsafe {
        let mut pipe = [0i32; 2];
        if libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            fail("pipe");
        }
        match libc::fork() {
            -1 => fail("fork"),
            0 => {}
            _ => {
                libc::close(pipe[1]);
                let mut byte = 0u8;
                let n = libc::read(pipe[0], (&mut byte as *mut u8).cast(), 1);
                libc::_exit(if n == 1 { 0 } else { 1 });
            }
        }
        libc::close(pipe[0]);
        floor_steps::detach_and_write(&pidfile, Some(pipe[1]));
        let byte = 1u8;
        libc::write(pipe[1], (&byte as *const u8).cast(), 1);
        libc::close(pipe[1]);
    }
    body::signal_running();
    body::wait_until_stopped();
}
