//! Benchmarked program 4 of `cargo bench --bench startup`: the floor
//! (`floor.rs`) plus a readiness handshake and nothing else. The launcher
//! waits on a pipe until the daemon, its pid file written, sends one byte,
//! and only then exits (status 1 if the pipe closes first). It shows what
//! "the launcher exits once the daemon is ready" costs by itself.

use std::ffi::CString;
use std::os::unix::ffi::OsStringExt;

mod body;

fn fail(what: &str) -> ! {
    eprintln!(
        "bench-floor-ready: {what}: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: _exit ends the process at once.
    unsafe { libc::_exit(71) }
}

fn main() {
    let pidfile = CString::new(
        body::path_from_env("STARTUP_PIDFILE")
            .into_os_string()
            .into_vec(),
    )
    .unwrap_or_else(|_| fail("the pid file path holds a NUL byte"));

    // SAFETY: the process has one thread, so the children may run any code;
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
        if libc::setsid() == -1 {
            fail("setsid");
        }
        match libc::fork() {
            -1 => fail("second fork"),
            0 => {}
            _ => libc::_exit(0),
        }
        let keep = pipe[1] as u32;
        if keep > 3 && libc::syscall(libc::SYS_close_range, 3u32, keep - 1, 0u32) != 0 {
            fail("close_range");
        }
        if libc::syscall(libc::SYS_close_range, keep + 1, u32::MAX, 0u32) != 0 {
            fail("close_range");
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null == -1 {
            fail("/dev/null");
        }
        for fd in 0..3 {
            if libc::dup2(null, fd) == -1 {
                fail("dup2");
            }
        }
        if null > 2 {
            libc::close(null);
        }
        let fd = libc::open(
            pidfile.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o644,
        );
        if fd == -1 {
            fail("pid file");
        }
        let text = format!("{}\n", libc::getpid());
        if libc::write(fd, text.as_ptr().cast(), text.len()) != text.len() as isize {
            fail("pid file write");
        }
        libc::close(fd);
        let byte = 1u8;
        libc::write(pipe[1], (&byte as *const u8).cast(), 1);
        libc::close(pipe[1]);
    }

    body::signal_running();
    body::wait_until_stopped();
}
