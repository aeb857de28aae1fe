//! Closing inherited file descriptors, keeping the preserved ones.
//!
//! The cost follows the number of open fds, never `RLIMIT_NOFILE`, with
//! the first of these methods that works:
//!
//! 1. `close_range(2)` over the gaps between kept fds (one system call per
//!    gap; Linux 5.9 and later, FreeBSD 12.2 and later);
//! 2. each fd listed in the system's directory of open fds
//!    (`/proc/self/fd` on Linux, `/dev/fd` on macOS, and on FreeBSD where
//!    `fdescfs` is mounted there: without it `/dev/fd` lists 0 to 2 only);
//! 3. each fd found open without any filesystem: on macOS
//!    `proc_pidinfo(PROC_PIDLISTFDS)`, the kernel's own list; elsewhere
//!    `poll(2)` over every fd number the process can hold (see
//!    [`poll_bound`]), in batches: an fd that is not open comes back with
//!    `POLLNVAL`, and nothing blocks (no events asked, no timeout).
//!
//! The third is for a daemon without `close_range` whose launcher cannot
//! reach a listing (an old Linux kernel without `/proc`, a launcher that
//! is itself confined). The daemon sweeps before any chroot of its own,
//! so its chroot never hides the listing.

use std::os::fd::RawFd;

use nix::errno::Errno;

use crate::error::{Error, ErrorKind, Result, Step};

/// How inherited fds were closed (for the debug log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseMethod {
    /// `close_range(2)`.
    CloseRange,
    /// Each fd listed in the directory named.
    Listing(&'static str),
    /// Each open fd that `proc_pidinfo(PROC_PIDLISTFDS)` listed (macOS).
    #[cfg_attr(not(target_os = "macos"), allow(dead_code))]
    PidInfo,
    /// Each open fd that `poll(2)` found below [`poll_bound`].
    #[cfg_attr(target_os = "macos", allow(dead_code))]
    Poll,
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
    close_all_but(&open, keep);
    Ok(dir)
}

/// Closes each fd of `open` above 2 that is not in `keep`.
fn close_all_but(open: &[RawFd], keep: &[RawFd]) {
    for &fd in open {
        if fd > 2 && !keep.contains(&fd) {
            close_one(fd);
        }
    }
}

/// The fds the system's directory of open fds lists (its own fd among
/// them), where the system has one that lists them all.
fn listed() -> std::io::Result<Vec<RawFd>> {
    list(imp::listing()?)
}

/// The open fds (maybe with one more that was open for the moment: a
/// listing's own), found with the sweep's methods but `close_range`: the
/// listing where there is one, else without a filesystem.
pub(crate) fn open_fds() -> std::io::Result<Vec<RawFd>> {
    match listed() {
        Ok(fds) => Ok(fds),
        Err(_) => found().map(|(_, fds)| fds),
    }
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

/// macOS: the kernel lists the process's open fds, one `proc_fdinfo` each,
/// whatever the filesystem looks like.
#[cfg(target_os = "macos")]
fn found() -> std::io::Result<(CloseMethod, Vec<RawFd>)> {
    const ENTRY: usize = std::mem::size_of::<libc::proc_fdinfo>();
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() };
    // Without a buffer the call says how many bytes the list needs now,
    // with room to spare.
    // SAFETY: a null buffer of size 0 is how the size is asked for.
    let needed =
        unsafe { libc::proc_pidinfo(pid, libc::PROC_PIDLISTFDS, 0, std::ptr::null_mut(), 0) };
    if needed <= 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut room = needed as usize / ENTRY + 16;
    loop {
        let bytes = libc::c_int::try_from(room * ENTRY)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::OutOfMemory))?;
        let mut entries: Vec<libc::proc_fdinfo> = Vec::with_capacity(room);
        // SAFETY: the buffer has room for `bytes` bytes, and the kernel
        // writes at most that many.
        let got = unsafe {
            libc::proc_pidinfo(
                pid,
                libc::PROC_PIDLISTFDS,
                0,
                entries.as_mut_ptr().cast(),
                bytes,
            )
        };
        // 0 is the failure (fds 0 to 2 are always open here).
        if got <= 0 {
            return Err(std::io::Error::last_os_error());
        }
        let n = got as usize / ENTRY;
        // A full buffer may have cut the list short: look again, larger.
        if n < room {
            // SAFETY: the kernel initialised the first `n` entries.
            unsafe { entries.set_len(n) };
            return Ok((
                CloseMethod::PidInfo,
                entries.iter().map(|e| e.proc_fd).collect(),
            ));
        }
        room *= 2;
    }
}

/// How many fds one `poll` call looks at. Linux refuses more than the soft
/// `RLIMIT_NOFILE` in one call (`EINVAL`), the BSDs more than the larger
/// of their limit and `FD_SETSIZE` (1024).
#[cfg(not(target_os = "macos"))]
const POLL_BATCH: usize = 1024;

/// The highest fd number the process can hold, plus one: the largest of
/// the soft and hard `RLIMIT_NOFILE` and the kernel's own ceiling on fd
/// numbers ([`fd_ceiling`]).
///
/// The limits alone are not enough: an fd stays open when the limit that
/// allowed its number is lowered, and whoever started the process may
/// lower both limits after opening a high fd (the hard one can never be
/// raised again without privilege, but it can always be lowered). The
/// kernel's ceiling bounds every limit the process has ever had: on Linux
/// `fs.nr_open`, which only root changes; on FreeBSD
/// `kern.maxfilesperproc`.
///
/// What remains out of reach: on Linux without `/proc` (where `fs.nr_open`
/// cannot be read, and its default of 1048576 stands in for it), an fd
/// above 1048576 that was opened under a larger `fs.nr_open` and limits
/// that have since been lowered below it; on FreeBSD, an fd above a
/// `kern.maxfilesperproc` lowered since it was opened, with the limits
/// lowered too.
///
/// With no bound known at all (both limits unlimited and no ceiling the
/// system tells), the search cannot be bounded: an error, never a sweep
/// that silently looks at nothing.
#[cfg(not(target_os = "macos"))]
fn poll_bound() -> std::io::Result<RawFd> {
    use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let bound = [soft, hard, fd_ceiling()]
        .into_iter()
        // An unlimited limit is bounded by the kernel's ceiling.
        .filter(|l| *l != RLIM_INFINITY)
        .max()
        .unwrap_or(0);
    if bound == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "no bound on fd numbers is known (RLIMIT_NOFILE unlimited, no system ceiling)",
        ));
    }
    Ok(RawFd::try_from(bound).unwrap_or(RawFd::MAX))
}

/// Linux: `fs.nr_open`, the ceiling of `RLIMIT_NOFILE` (proc(5)), never
/// less than its default of 1048576: unreadable without `/proc`, and a
/// value lowered since an fd was opened must not shrink the search.
#[cfg(target_os = "linux")]
fn fd_ceiling() -> libc::rlim_t {
    const NR_OPEN_DEFAULT: libc::rlim_t = 1 << 20;
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .map_or(NR_OPEN_DEFAULT, |n: libc::rlim_t| n.max(NR_OPEN_DEFAULT))
}

/// FreeBSD: `kern.maxfilesperproc`, which caps every fd number whatever
/// `RLIMIT_NOFILE` says; 0 (the limits alone) when it cannot be read.
#[cfg(target_os = "freebsd")]
fn fd_ceiling() -> libc::rlim_t {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>();
    // SAFETY: a NUL-terminated name; `value` is writable for `len` bytes,
    // and nothing is written to the system.
    let rc = unsafe {
        libc::sysctlbyname(
            c"kern.maxfilesperproc".as_ptr(),
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
            std::ptr::null(),
            0,
        )
    };
    if rc == 0 {
        libc::rlim_t::try_from(value).unwrap_or(0)
    } else {
        0
    }
}

/// Other systems: no known ceiling; the limits alone bound the search.
#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "macos")))]
fn fd_ceiling() -> libc::rlim_t {
    0
}

/// Elsewhere: `poll(2)` over every fd number below [`poll_bound`], in
/// batches of [`POLL_BATCH`] (or the soft limit, when it is lower), with
/// no events asked and no timeout: an fd that is not open comes back with
/// `POLLNVAL`. About 8 ms for a million fd numbers on a current x86-64
/// Linux machine, against 10 ms for `close` on each of 65536.
#[cfg(not(target_os = "macos"))]
fn found() -> std::io::Result<(CloseMethod, Vec<RawFd>)> {
    found_below(poll_bound()?)
}

/// The open fds below `bound`, found with `poll(2)` as [`found`] does.
#[cfg(not(target_os = "macos"))]
fn found_below(bound: RawFd) -> std::io::Result<(CloseMethod, Vec<RawFd>)> {
    use nix::sys::resource::{getrlimit, Resource};
    let soft = getrlimit(Resource::RLIMIT_NOFILE).map_or(0, |(soft, _)| soft);
    let batch = usize::try_from(soft)
        .unwrap_or(POLL_BATCH)
        .clamp(1, POLL_BATCH);
    log::debug!(
        "close fds: polling fds 0 to {} in batches of {batch}",
        bound - 1
    );
    let mut set: Vec<libc::pollfd> = Vec::with_capacity(batch);
    let mut open = Vec::new();
    let mut from: RawFd = 0;
    while from < bound {
        let n = (bound - from).min(batch as RawFd);
        set.clear();
        set.extend((from..from + n).map(|fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        }));
        loop {
            // SAFETY: `set` holds `n` initialised pollfd structs that the
            // call may write into; the timeout of 0 never blocks.
            let rc = unsafe { libc::poll(set.as_mut_ptr(), n as libc::nfds_t, 0) };
            if rc >= 0 {
                break;
            }
            match Errno::last() {
                Errno::EINTR | Errno::EAGAIN => continue,
                e => return Err(e.into()),
            }
        }
        open.extend(
            set.iter()
                .filter(|p| p.revents & libc::POLLNVAL == 0)
                .map(|p| p.fd),
        );
        from += n;
    }
    Ok((CloseMethod::Poll, open))
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
        Err(e) => log::debug!("close fds: no listing of the open fds ({e})"),
    }
    let (method, open) = found()
        .map_err(|e| Error::io(Step::CloseFds, "finding the open fds without a listing", &e))?;
    close_all_but(&open, keep);
    Ok(method)
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

    /// What the sweep's last method finds, the search bounded by the soft
    /// limit here: the kernel's ceiling may be a billion fd numbers.
    fn found_here() -> Vec<RawFd> {
        #[cfg(target_os = "macos")]
        let found = found();
        #[cfg(not(target_os = "macos"))]
        let found = found_below(soft_limit());
        found.unwrap().1
    }

    fn soft_limit() -> RawFd {
        use nix::sys::resource::{getrlimit, Resource};
        let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        RawFd::try_from(soft).unwrap_or(RawFd::MAX)
    }

    #[test]
    fn the_open_fds_are_found_without_a_listing() {
        let file = std::fs::File::open("/dev/null").unwrap();
        // High, within the soft limit (256 by default on macOS).
        let high = (soft_limit() - 1).min(900);
        // SAFETY: F_DUPFD takes no pointers; the copy is closed below.
        let fd =
            unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&file), libc::F_DUPFD, high) };
        assert!(fd >= high, "{}", std::io::Error::last_os_error());
        let open = found_here();
        assert!(open.contains(&fd) && open.contains(&0), "{fd} in {open:?}");
        // SAFETY: closes the copy made above, once.
        unsafe { libc::close(fd) };
        let open = found_here();
        assert!(!open.contains(&fd), "{fd} closed: {open:?}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn poll_reaches_the_kernel_ceiling_whatever_the_limits() {
        use nix::sys::resource::{getrlimit, Resource};
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let bound = poll_bound().unwrap() as u64;
        assert!(
            bound >= soft && bound >= hard && bound >= 1 << 20,
            "{bound}"
        );
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
