//! Closing inherited file descriptors, keeping the preserved ones.
//!
//! The cost follows the number of open fds, never `RLIMIT_NOFILE`:
//! `close_range(2)` over the gaps between kept fds (one system call per
//! gap; Linux 5.9 and later, FreeBSD 12.2 and later), else each fd listed
//! in the system's directory of open fds (`/proc/self/fd` on Linux,
//! `/dev/fd` on macOS, and on FreeBSD where `fdescfs` is mounted there:
//! without it `/dev/fd` lists 0 to 2 only), and only as a last resort a
//! loop bounded by [`LOOP_BOUND`].

use std::os::fd::RawFd;

use nix::errno::Errno;

use crate::error::{Error, ErrorKind, Result, Step};

/// The highest fd the last-resort loop tries (exclusive), whatever the
/// open-file limit says.
pub(crate) const LOOP_BOUND: RawFd = 65_536;

/// How inherited fds were closed (for the debug log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseMethod {
    /// `close_range(2)`.
    CloseRange,
    /// Each fd listed in the directory named.
    Listing(&'static str),
    /// Every fd below `min(RLIMIT_NOFILE, LOOP_BOUND)`.
    Loop,
}

/// The ranges `[from, to]` of fds above 2 that are not in `keep`, the last
/// one open-ended (`to == u32::MAX`).
pub(crate) fn gaps(keep: &[RawFd]) -> Vec<(u32, u32)> {
    let mut kept: Vec<u32> = keep
        .iter()
        .filter(|fd| **fd > 2)
        .map(|fd| *fd as u32)
        .collect();
    kept.sort_unstable();
    kept.dedup();
    let mut out = Vec::with_capacity(kept.len() + 1);
    let mut from = 3u32;
    for fd in kept {
        if fd > from {
            out.push((from, fd - 1));
        }
        from = fd + 1;
    }
    out.push((from, u32::MAX));
    out
}

/// Linux: the `close_range` system call (no libc wrapper is needed, and
/// musl has none); the directory is procfs's.
#[cfg(all(target_os = "linux", not(daemonizer_portable)))]
mod imp {
    use super::*;

    pub(super) fn close_range(from: u32, to: u32) -> std::result::Result<(), Errno> {
        // SAFETY: close_range takes no pointers; closing fds we do not keep
        // is the point of this step, and no Rust object in this
        // single-threaded (just forked) process relies on them.
        let rc = unsafe { libc::syscall(libc::SYS_close_range, from, to, 0u32) };
        Errno::result(rc).map(drop)
    }

    pub(super) fn listing() -> std::io::Result<&'static str> {
        Ok("/proc/self/fd")
    }
}

/// FreeBSD: `close_range(2)`; `/dev/fd` lists every open fd only where
/// `fdescfs` is mounted on it.
#[cfg(target_os = "freebsd")]
mod imp {
    use super::*;

    pub(super) fn close_range(from: u32, to: u32) -> std::result::Result<(), Errno> {
        // SAFETY: as on Linux.
        let rc = unsafe { libc::close_range(from, to, 0) };
        Errno::result(rc).map(drop)
    }

    pub(super) fn listing() -> std::io::Result<&'static str> {
        // SAFETY: statfs is a plain C struct; all zeroes is valid, and the
        // path is a valid C string.
        let kind = unsafe {
            let mut fs: libc::statfs = std::mem::zeroed();
            if libc::statfs(c"/dev/fd".as_ptr(), &mut fs) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            std::ffi::CStr::from_ptr(fs.f_fstypename.as_ptr()).to_owned()
        };
        if kind.as_bytes() == b"fdescfs" {
            Ok("/dev/fd")
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "/dev/fd is not fdescfs",
            ))
        }
    }
}

/// macOS (and Linux with the portable path forced): no `close_range`;
/// `/dev/fd` lists every open fd.
#[cfg(not(any(
    all(target_os = "linux", not(daemonizer_portable)),
    target_os = "freebsd"
)))]
mod imp {
    use super::*;

    pub(super) fn close_range(_: u32, _: u32) -> std::result::Result<(), Errno> {
        Err(Errno::ENOSYS)
    }

    pub(super) fn listing() -> std::io::Result<&'static str> {
        Ok("/dev/fd")
    }
}

fn close_one(fd: RawFd) {
    // SAFETY: as for close_range; EBADF for an fd that is not open is fine.
    unsafe { libc::close(fd) };
}

fn with_close_range(keep: &[RawFd]) -> std::result::Result<(), Errno> {
    for (from, to) in gaps(keep) {
        imp::close_range(from, to)?;
    }
    Ok(())
}

fn with_listing(keep: &[RawFd]) -> std::io::Result<&'static str> {
    let dir = imp::listing()?;
    // Collect first: closing the directory's own fd mid-listing would end it.
    let open = list(dir)?;
    for fd in open {
        if fd > 2 && !keep.contains(&fd) {
            close_one(fd);
        }
    }
    Ok(dir)
}

/// The fds the system's directory of open fds lists (its own fd among
/// them), where the system has one that lists them all: the listing the
/// sweep of inherited fds uses.
pub(crate) fn listed() -> std::io::Result<Vec<RawFd>> {
    list(imp::listing()?)
}

/// The fd numbers that the directory `dir` (the system's directory of open
/// fds) lists, its own among them. Not `std::fs::read_dir`, whose drop
/// panics in debug builds when `closedir` fails, which `close` may (EIO):
/// a daemon must not die of a close it cannot act on.
fn list(dir: &str) -> std::io::Result<Vec<RawFd>> {
    let path = std::ffi::CString::new(dir)?;
    // SAFETY: a valid NUL-terminated path; the stream is closed below.
    let stream = unsafe { libc::opendir(path.as_ptr()) };
    if stream.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    loop {
        // SAFETY: `stream` is open; the entry stays valid until the next
        // readdir or closedir on it, and is read before either.
        let entry = unsafe { libc::readdir(stream) };
        if entry.is_null() {
            break;
        }
        // SAFETY: d_name is NUL-terminated within the entry.
        let name = unsafe { std::ffi::CStr::from_ptr((*entry).d_name.as_ptr()) };
        if let Some(fd) = name.to_str().ok().and_then(|n| n.parse().ok()) {
            fds.push(fd);
        }
    }
    // SAFETY: closes the stream opened above, once; its error is of no use.
    unsafe { libc::closedir(stream) };
    Ok(fds)
}

fn with_loop(keep: &[RawFd]) {
    let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    let bound = RawFd::try_from(limit).unwrap_or(LOOP_BOUND).min(LOOP_BOUND);
    for fd in 3..bound {
        if !keep.contains(&fd) {
            close_one(fd);
        }
    }
}

/// Closes every fd above 2 that is not in `keep`, with the first method
/// that works, and says which one it used.
pub(crate) fn close_inherited(keep: &[RawFd]) -> Result<CloseMethod> {
    match with_close_range(keep) {
        Ok(()) => return Ok(CloseMethod::CloseRange),
        Err(Errno::ENOSYS) | Err(Errno::EPERM) => {
            log::debug!("close fds: no close_range, listing the open fds")
        }
        Err(e) => return Err(Error::os(Step::CloseFds, "close_range", e)),
    }
    match with_listing(keep) {
        Ok(dir) => return Ok(CloseMethod::Listing(dir)),
        Err(e) => log::debug!("close fds: no listing of the open fds ({e}), closing in a loop"),
    }
    with_loop(keep);
    Ok(CloseMethod::Loop)
}

/// Checks that each preserved fd is open, so that a typo in a preserve
/// list is an error rather than a silently missing log file.
pub(crate) fn check_open(fds: &[RawFd]) -> Result<()> {
    for &fd in fds {
        // SAFETY: F_GETFD takes no pointers.
        if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(Error::new(
                Step::Preflight,
                ErrorKind::Config,
                format!("fd {fd} is to be preserved but is not open"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_skip_kept_fds_and_stdio() {
        assert_eq!(gaps(&[]), vec![(3, u32::MAX)]);
        assert_eq!(gaps(&[0, 1, 2]), vec![(3, u32::MAX)]);
        assert_eq!(gaps(&[3]), vec![(4, u32::MAX)]);
        assert_eq!(gaps(&[9, 5, 5, 6]), vec![(3, 4), (7, 8), (10, u32::MAX)]);
    }

    #[test]
    fn preserved_fds_must_be_open() {
        assert!(check_open(&[0]).is_ok());
        let err = check_open(&[-1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "preflight: fd -1 is to be preserved but is not open"
        );
        assert!(check_open(&[1_000_000]).is_err());
    }
}
