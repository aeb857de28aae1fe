//! Stdio: stdin from `/dev/null`, stdout and stderr to `/dev/null` or to
//! files opened for appending. Everything is opened in the launcher, before
//! any chroot or privilege drop, and put in place after the fd sweep.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::{fstat, lstat, Mode, SFlag};

use crate::config::Output;
use crate::error::{Error, ErrorKind, Result, Step};

/// The files that become fds 0, 1 and 2 of a full daemon.
#[derive(Debug)]
pub(crate) struct Stdio {
    null: OwnedFd,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    /// Output files this start created, removed again if it fails.
    created: Vec<Created>,
}

/// An output file created by this start: its path and identity.
#[derive(Debug)]
struct Created {
    path: PathBuf,
    dev: libc::dev_t,
    ino: libc::ino_t,
}

impl Created {
    /// Removes the file if it is still the one created, and still empty:
    /// a failed start leaves no new file, and never deletes a line.
    fn remove(&self) {
        if let Ok(st) = lstat(&self.path) {
            if st.st_dev == self.dev && st.st_ino == self.ino && st.st_size == 0 {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// Opens an output file for appending; `Some` identity when this call
/// created it.
fn open_output(path: &Path) -> Result<(OwnedFd, Option<Created>)> {
    let shown = path.display();
    if path.as_os_str().is_empty() {
        return Err(Error::new(
            Step::Stdio,
            ErrorKind::Config,
            "empty output path",
        ));
    }
    let flags =
        OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    let mode = Mode::from_bits_truncate(0o640);
    let failed = |e| Error::os(Step::Stdio, format!("{shown}"), e);
    let (fd, created) = match open(path, flags | OFlag::O_EXCL, mode) {
        Ok(fd) => (fd, true),
        Err(Errno::EEXIST) => (open(path, flags, mode).map_err(failed)?, false),
        Err(e) => return Err(failed(e)),
    };
    let created = if created {
        let st = fstat(&fd).map_err(failed)?;
        Some(Created {
            path: path.to_owned(),
            dev: st.st_dev,
            ino: st.st_ino,
        })
    } else {
        None
    };
    Ok((fd, created))
}

impl Stdio {
    /// Opens `/dev/null` read-write and the output files.
    pub(crate) fn open(stdout: &Output, stderr: &Output) -> Result<Stdio> {
        let null = open(
            "/dev/null",
            OFlag::O_RDWR | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
            Mode::empty(),
        )
        .map_err(|e| Error::os(Step::Stdio, "/dev/null", e))?;
        let st = fstat(&null).map_err(|e| Error::os(Step::Stdio, "/dev/null", e))?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFCHR {
            return Err(Error::new(
                Step::Stdio,
                ErrorKind::Os,
                "/dev/null is not a character device",
            ));
        }
        let mut created = Vec::new();
        let mut file = |out: &Output| match out {
            Output::Null => Ok(None),
            Output::File(path) => open_output(path).map(|(fd, new)| {
                created.extend(new);
                Some(fd)
            }),
        };
        let outputs = file(stdout).and_then(|stdout| Ok((stdout, file(stderr)?)));
        match outputs {
            Ok((stdout, stderr)) => Ok(Stdio {
                null,
                stdout,
                stderr,
                created,
            }),
            Err(e) => {
                created.iter().for_each(Created::remove);
                Err(e)
            }
        }
    }

    /// Undoes a failed start: removes the output files it created, if they
    /// are still empty.
    pub(crate) fn discard(&self) {
        self.created.iter().for_each(Created::remove);
    }

    /// `"stdout"` or `"stderr"` when `path` names that output file (by
    /// identity, however it is spelled: a second name, a symlink).
    pub(crate) fn output_at(&self, path: &Path) -> Option<&'static str> {
        if self.stdout.is_none() && self.stderr.is_none() {
            return None;
        }
        let named = nix::sys::stat::stat(path).ok()?;
        [("stdout", &self.stdout), ("stderr", &self.stderr)]
            .into_iter()
            .find_map(|(stream, fd)| {
                let st = fstat(fd.as_ref()?).ok()?;
                (st.st_dev == named.st_dev && st.st_ino == named.st_ino).then_some(stream)
            })
    }

    /// The fds the fd sweep must keep until [`redirect`](Stdio::redirect).
    pub(crate) fn fds(&self) -> Vec<RawFd> {
        let mut fds = vec![self.null.as_raw_fd()];
        fds.extend(self.stdout.iter().map(AsRawFd::as_raw_fd));
        fds.extend(self.stderr.iter().map(AsRawFd::as_raw_fd));
        fds
    }

    /// Puts the files on fds 0, 1 and 2 and closes the originals.
    pub(crate) fn redirect(self) -> Result<()> {
        let null = self.null.as_raw_fd();
        let targets = [
            (0, null, "stdin"),
            (
                1,
                self.stdout.as_ref().map_or(null, AsRawFd::as_raw_fd),
                "stdout",
            ),
            (
                2,
                self.stderr.as_ref().map_or(null, AsRawFd::as_raw_fd),
                "stderr",
            ),
        ];
        for (to, from, name) in targets {
            dup2(from, to).map_err(|e| Error::os(Step::Stdio, name, e))?;
        }
        log::debug!("stdio: redirected");
        // Dropping `self` closes the temporaries; 0, 1 and 2 stay.
        Ok(())
    }
}

/// Opens `/dev/null` on any of fds 0, 1 and 2 that is closed, before
/// anything else is opened: otherwise the pid file or `/dev/null` itself
/// could land on a standard fd number, and redirecting stdio (or a
/// `println!`) would close or write into it.
pub(crate) fn fill_standard_fds() -> Result<()> {
    for fd in 0..=2 {
        // SAFETY: F_GETFD takes no pointers.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
            continue;
        }
        let null = open("/dev/null", OFlag::O_RDWR | OFlag::O_NOCTTY, Mode::empty())
            .map_err(|e| Error::os(Step::Preflight, "/dev/null", e))?;
        // open(2) returns the lowest free number, which is `fd` or lower;
        // a lower one was open, so it is `fd`.
        if null.as_raw_fd() != fd {
            return Err(Error::new(
                Step::Preflight,
                ErrorKind::Os,
                format!("fd {fd} is closed and could not be reopened on /dev/null"),
            ));
        }
        std::mem::forget(null);
        log::debug!("preflight: fd {fd} was closed; now /dev/null");
    }
    Ok(())
}

fn dup2(from: RawFd, to: RawFd) -> std::result::Result<(), Errno> {
    loop {
        // SAFETY: dup2 takes no pointers. It replaces fd `to`, which the
        // standard streams refer to by number only.
        let rc = unsafe { libc::dup2(from, to) };
        match Errno::result(rc) {
            Err(Errno::EINTR) | Err(Errno::EBUSY) => continue,
            other => return other.map(drop),
        }
    }
}
