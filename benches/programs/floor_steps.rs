//! The floor's steps, shared by `floor.rs` and `floor_ready.rs`: plain
//! system calls, no checks beyond their return values.

use std::ffi::CString;
use std::os::unix::ffi::OsStringExt;

/// Leaves with status 71 (`EX_OSERR`); after the first fork nobody sees it.
pub(crate) fn fail(what: &str) -> ! {
    eprintln!("floor: {what}: {}", std::io::Error::last_os_error());
    // SAFETY: _exit ends the process at once.
    unsafe { libc::_exit(71) }
}

/// The pid file's path, from `STARTUP_PIDFILE`.
pub(crate) fn pidfile() -> CString {
    CString::new(
        crate::body::path_from_env("STARTUP_PIDFILE")
            .into_os_string()
            .into_vec(),
    )
    .unwrap_or_else(|_| fail("the pid file path holds a NUL byte"))
}

/// In the first child: `setsid`, fork (the session leader leaves), then in
/// the daemon every fd above 2 closed but `keep`, `/dev/null` onto 0-2 and
/// the pid file written.
///
/// # Safety
/// The process must have one thread, as right after a fork.
pub(crate) unsafe fn detach_and_write(pidfile: &CString, keep: Option<i32>) {
    // SAFETY: one thread (the caller's promise); each call is a plain
    // system call on values owned here.
    unsafe {
        if libc::setsid() == -1 {
            fail("setsid");
        }
        match libc::fork() {
            -1 => fail("second fork"),
            0 => {}
            _ => libc::_exit(0),
        }
        let ranges = match keep {
            Some(fd) if fd > 3 => [(3, fd as u32 - 1), (fd as u32 + 1, u32::MAX)],
            Some(fd) => [(fd as u32 + 1, u32::MAX), (u32::MAX, u32::MAX)],
            None => [(3, u32::MAX), (u32::MAX, u32::MAX)],
        };
        for (from, to) in ranges {
            if libc::syscall(libc::SYS_close_range, from, to, 0u32) != 0 {
                fail("close_range");
            }
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
}
