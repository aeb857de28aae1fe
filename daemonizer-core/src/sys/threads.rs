//! Is this process alone in its memory? A fork copies the calling thread
//! only: a lock another thread (or another process sharing the memory)
//! holds at that moment stays locked forever in the copy.
//!
//! Per system: Linux asks `unshare(CLONE_VM)` (one system call, no `/proc`)
//! and counts threads in `/proc/self/task` only where a sandbox refuses
//! `unshare`; FreeBSD reads `ki_numthreads` of its own `kinfo_proc`
//! (`sysctl` `kern.proc.pid`); macOS reads `pti_threadnum` from
//! `proc_pidinfo(PROC_PIDTASKINFO)`.

use std::io;

/// What [`alone`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Company {
    /// One thread, no memory shared with another process.
    Alone,
    /// This many threads.
    Threads(usize),
    /// One thread, but another process shares this one's memory (Linux
    /// `clone(CLONE_VM)` without a thread; only Linux tells).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    SharedMemory,
}

/// What shares this process's memory. The error names where the answer was
/// looked for.
pub(crate) fn alone() -> Result<Company, (String, io::Error)> {
    imp::alone()
}

/// `n` threads as a [`Company`].
fn threads(n: usize) -> Company {
    if n > 1 {
        Company::Threads(n)
    } else {
        Company::Alone
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    pub(super) fn alone() -> Result<Company, (String, io::Error)> {
        // SAFETY: no pointers; with nothing shared there is nothing to
        // unshare, and the call changes nothing. It fails with EINVAL
        // exactly when a thread or a process shares the memory.
        let shared = match unsafe { libc::unshare(libc::CLONE_VM) } {
            0 => return Ok(Company::Alone),
            _ => io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL),
        };
        let counted = thread_count()?;
        Ok(match counted {
            1 if shared => Company::SharedMemory,
            n => threads(n),
        })
    }

    /// The number of threads: `/proc/self/task` holds one entry per thread,
    /// and procfs reports it in the directory's link count (two plus the
    /// threads), one `stat` instead of a listing. A link count that does
    /// not fit that rule (an unusual procfs) falls back to the listing.
    fn thread_count() -> Result<usize, (String, io::Error)> {
        const TASKS: &str = "/proc/self/task";
        let failed = |e| (format!("counting threads in {TASKS}"), e);
        let links = std::fs::metadata(TASKS).map_err(failed)?.nlink();
        match usize::try_from(links) {
            Ok(links) if links >= 3 => Ok(links - 2),
            _ => std::fs::read_dir(TASKS)
                .map(Iterator::count)
                .map_err(failed),
        }
    }
}

#[cfg(target_os = "freebsd")]
mod imp {
    use super::*;

    pub(super) fn alone() -> Result<Company, (String, io::Error)> {
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() };
        let mib = [libc::CTL_KERN, libc::KERN_PROC, libc::KERN_PROC_PID, pid];
        // SAFETY: kinfo_proc is a plain C struct; all zeroes is valid.
        let mut info: libc::kinfo_proc = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::kinfo_proc>();
        // SAFETY: `mib` has 4 valid entries; `info` is writable for `len`
        // bytes, and the kernel writes at most `len`.
        let rc = unsafe {
            libc::sysctl(
                mib.as_ptr(),
                mib.len() as libc::c_uint,
                (&mut info as *mut libc::kinfo_proc).cast(),
                &mut len,
                std::ptr::null(),
                0,
            )
        };
        if rc != 0 || len < std::mem::size_of::<libc::kinfo_proc>() {
            let err = if rc != 0 {
                io::Error::last_os_error()
            } else {
                io::Error::from(io::ErrorKind::UnexpectedEof)
            };
            return Err(("counting threads (sysctl kern.proc.pid)".to_owned(), err));
        }
        Ok(threads(usize::try_from(info.ki_numthreads).unwrap_or(0)))
    }
}

#[cfg(any(target_os = "macos", target_os = "ios"))]
mod imp {
    use super::*;

    pub(super) fn alone() -> Result<Company, (String, io::Error)> {
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() };
        // SAFETY: proc_taskinfo is a plain C struct; all zeroes is valid.
        let mut info: libc::proc_taskinfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::proc_taskinfo>() as libc::c_int;
        // SAFETY: `info` is writable for `size` bytes.
        let got = unsafe {
            libc::proc_pidinfo(
                pid,
                libc::PROC_PIDTASKINFO,
                0,
                (&mut info as *mut libc::proc_taskinfo).cast(),
                size,
            )
        };
        if got != size {
            let err = if got <= 0 {
                io::Error::last_os_error()
            } else {
                io::Error::from(io::ErrorKind::UnexpectedEof)
            };
            return Err((
                "counting threads (proc_pidinfo PROC_PIDTASKINFO)".to_owned(),
                err,
            ));
        }
        Ok(threads(usize::try_from(info.pti_threadnum).unwrap_or(0)))
    }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "macos",
    target_os = "ios"
)))]
mod imp {
    use super::*;

    pub(super) fn alone() -> Result<Company, (String, io::Error)> {
        Err((
            "counting threads".to_owned(),
            io::Error::new(
                io::ErrorKind::Unsupported,
                "no way to count threads is known on this system",
            ),
        ))
    }
}
