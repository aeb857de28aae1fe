//! Benchmarked program 2 of `cargo bench --bench startup`: the floor, a
//! daemon written directly against libc that does the least a daemon must
//! do and nothing else: fork, `setsid`, fork, `close_range` above 2,
//! `/dev/null` onto 0-2, pid file written. No lock, no readiness report,
//! no error reporting to the launcher, no signal handling.

use std::ffi::CString;
use std::os::unix::ffi::OsStringExt;

mod body;

/// Leaves with status 71 (`EX_OSERR`); after the first fork nobody sees it.
fn fail(what: &str) -> ! {
    eprintln!("bench-floor: {what}: {}", std::io::Error::last_os_error());
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
        match libc::fork() {
            -1 => fail("fork"),
            0 => {}
            _ => libc::_exit(0),
        }
        if libc::setsid() == -1 {
            fail("setsid");
        }
        match libc::fork() {
            -1 => fail("second fork"),
            0 => {}
            _ => libc::_exit(0),
        }
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
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
    }

    body::signal_running();
    body::wait_until_stopped();
}
