//! Directories and limits: chroot, work dir, umask and resource limits.

use std::path::{Path, PathBuf};

use nix::sys::resource::{getrlimit, setrlimit};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, chroot};

use nix::fcntl::AT_FDCWD;

use crate::config::Limit;
use crate::error::{Error, ErrorKind, Result, Step};
use crate::pathsafe::{self, Trust};

/// Checks that `dir` is an existing directory that only root and the
/// daemon's user control, walking it as written (see
/// [`pathsafe`](crate::pathsafe)): a chroot or work dir that another user
/// could replace would give that user the daemon's view of its files.
fn check_dir(step: Step, dir: &Path, trust: Trust) -> Result<()> {
    if dir.as_os_str().is_empty() {
        return Err(Error::new(step, ErrorKind::Config, "empty path"));
    }
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(Error::new(
                step,
                ErrorKind::NotFound,
                format!("{}: not a directory", dir.display()),
            ))
        }
        Err(e) => return Err(Error::io(step, format!("{}", dir.display()), &e)),
    }
    pathsafe::open_dir(step, AT_FDCWD, dir, dir, trust, 0).map(drop)
}

/// The checks that can be made in the launcher, so that a missing
/// directory or a bad value reaches the terminal before any fork.
pub(crate) fn preflight(
    chroot_dir: Option<&Path>,
    work_dir: Option<&Path>,
    mask: Option<u32>,
    limits: &[Limit],
    trust: Trust,
) -> Result<()> {
    if let Some(dir) = chroot_dir {
        check_dir(Step::Chroot, dir, trust)?;
    }
    if let Some(dir) = work_dir {
        let on_host: PathBuf = match chroot_dir {
            Some(root) => root.join(dir.strip_prefix("/").unwrap_or(dir)),
            None => dir.to_owned(),
        };
        if dir.as_os_str().is_empty() {
            return Err(Error::new(Step::WorkDir, ErrorKind::Config, "empty path"));
        }
        check_dir(Step::WorkDir, &on_host, trust)?;
    }
    if let Some(mask) = mask {
        if mask > 0o777 {
            return Err(Error::new(
                Step::Umask,
                ErrorKind::Config,
                format!("{mask:#o} is above 0o777"),
            ));
        }
    }
    for limit in limits {
        if let Some(hard) = limit.hard {
            if limit.soft > hard {
                return Err(Error::new(
                    Step::Limits,
                    ErrorKind::Config,
                    format!(
                        "{:?}: soft limit {} above hard limit {}",
                        limit.resource,
                        show(limit.soft),
                        show(hard)
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn show(value: u64) -> String {
    if value == u64::MAX {
        "unlimited".to_owned()
    } else {
        value.to_string()
    }
}

/// Change root, then work dir, then umask.
pub(crate) fn apply_dirs(
    chroot_dir: Option<&Path>,
    work_dir: Option<&Path>,
    mask: Option<u32>,
) -> Result<()> {
    if let Some(dir) = chroot_dir {
        chroot(dir).map_err(|e| Error::os(Step::Chroot, format!("{}", dir.display()), e))?;
        chdir("/")
            .map_err(|e| Error::os(Step::Chroot, format!("{}: chdir(\"/\")", dir.display()), e))?;
        log::debug!("chroot: {}", dir.display());
    }
    if let Some(dir) = work_dir {
        chdir(dir).map_err(|e| Error::os(Step::WorkDir, format!("{}", dir.display()), e))?;
        log::debug!("work dir: {}", dir.display());
    }
    if let Some(mask) = mask {
        umask(Mode::from_bits_truncate(mask as libc::mode_t));
        log::debug!("umask: {mask:#o}");
    }
    Ok(())
}

/// A limit as the system's `rlim_t`: `u64::MAX` (unlimited) is
/// `RLIM_INFINITY` (which is not `u64::MAX` on macOS, and `rlim_t` is
/// signed on FreeBSD); `None` for a finite value that `rlim_t` cannot hold
/// apart from `RLIM_INFINITY`.
fn to_rlim(value: u64) -> Option<libc::rlim_t> {
    if value == u64::MAX {
        return Some(libc::RLIM_INFINITY);
    }
    // The same type on Linux and macOS, a signed one on FreeBSD.
    #[allow(clippy::useless_conversion, clippy::unnecessary_fallible_conversions)]
    libc::rlim_t::try_from(value)
        .ok()
        .filter(|v| *v != libc::RLIM_INFINITY)
}

/// The reverse of [`to_rlim`].
fn from_rlim(value: libc::rlim_t) -> u64 {
    if value == libc::RLIM_INFINITY {
        return u64::MAX;
    }
    #[allow(clippy::useless_conversion, clippy::unnecessary_fallible_conversions)]
    u64::try_from(value).unwrap_or(0)
}

/// Sets each limit: the soft one as asked, the hard one as asked or raised
/// to the soft one when lower.
pub(crate) fn apply_limits(limits: &[Limit]) -> Result<()> {
    for limit in limits {
        let name = limit.resource.as_str();
        let resource = limit.resource.to_nix();
        let (_, current_hard) =
            getrlimit(resource).map_err(|e| Error::os(Step::Limits, name, e))?;
        let hard = limit
            .hard
            .unwrap_or(from_rlim(current_hard).max(limit.soft));
        let too_large = |value: u64| {
            Error::new(
                Step::Limits,
                ErrorKind::Config,
                format!("{name}: {value} is above the largest limit this system takes"),
            )
        };
        let soft_rlim = to_rlim(limit.soft).ok_or_else(|| too_large(limit.soft))?;
        let hard_rlim = to_rlim(hard).ok_or_else(|| too_large(hard))?;
        setrlimit(resource, soft_rlim, hard_rlim).map_err(|e| {
            Error::os(
                Step::Limits,
                format!("{name} soft {} hard {}", show(limit.soft), show(hard)),
                e,
            )
        })?;
        log::debug!(
            "limits: {name} soft {} hard {}",
            show(limit.soft),
            show(hard)
        );
    }
    Ok(())
}
