//! Closing inherited file descriptors, keeping the preserved ones.
//!
//! The cost follows the number of open fds, never `RLIMIT_NOFILE`:
//! `close_range(2)` over the gaps between kept fds (one system call per
//! gap), else the list in `/proc/self/fd`, and only as a last resort a loop
//! bounded by [`LOOP_BOUND`].

use std::os::fd::RawFd;

use nix::errno::Errno;

use crate::error::{Error, ErrorKind, Result, Step};

/// The highest fd the last-resort loop tries (exclusive), whatever the
/// open-file limit says.
pub(crate) const LOOP_BOUND: RawFd = 65_536;

/// How inherited fds were (or are to be) closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseMethod {
    /// `close_range(2)` (Linux 5.9 and later).
    CloseRange,
    /// Each fd listed in `/proc/self/fd`.
    ProcFd,
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

fn close_range(from: u32, to: u32) -> std::result::Result<(), Errno> {
    // SAFETY: close_range takes no pointers; closing fds we do not keep is
    // the point of this step, and no Rust object in this single-threaded
    // (just forked) process relies on them.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, from, to, 0u32) };
    Errno::result(rc).map(drop)
}

fn close_one(fd: RawFd) {
    // SAFETY: as for close_range; EBADF for an fd that is not open is fine.
    unsafe { libc::close(fd) };
}

fn with_close_range(keep: &[RawFd]) -> std::result::Result<(), Errno> {
    for (from, to) in gaps(keep) {
        close_range(from, to)?;
    }
    Ok(())
}

fn with_proc(keep: &[RawFd]) -> std::io::Result<()> {
    // Collect first: closing the directory's own fd mid-listing would end it.
    let open: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in open {
        if fd > 2 && !keep.contains(&fd) {
            close_one(fd);
        }
    }
    Ok(())
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
    close_with(None, keep)
}

/// Closes inherited fds starting with `first` (or the best method when
/// `None`), falling back down the list when a method is not available.
pub(crate) fn close_with(first: Option<CloseMethod>, keep: &[RawFd]) -> Result<CloseMethod> {
    let first = first.unwrap_or(CloseMethod::CloseRange);
    if first == CloseMethod::CloseRange {
        match with_close_range(keep) {
            Ok(()) => return Ok(CloseMethod::CloseRange),
            Err(Errno::ENOSYS) | Err(Errno::EPERM) => {
                log::debug!("close fds: close_range unavailable, listing /proc/self/fd")
            }
            Err(e) => return Err(Error::os(Step::CloseFds, "close_range", e)),
        }
    }
    if first != CloseMethod::Loop {
        match with_proc(keep) {
            Ok(()) => return Ok(CloseMethod::ProcFd),
            Err(e) => log::debug!("close fds: /proc/self/fd unavailable ({e}), closing in a loop"),
        }
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
