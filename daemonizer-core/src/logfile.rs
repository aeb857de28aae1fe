//! [`LogFile`]: a small `log` backend writing one line per record to a
//! file (or stderr), whose fd is easy to keep through the fd sweep.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::pathsafe::Trust;

enum Sink {
    File(File),
    Stderr,
}

/// A `log` backend that appends `<UTC time> <program>[<pid>] <LEVEL>
/// <target>: <message>` lines to a file or to stderr.
///
/// It is the counterpart of pyzenkit's `get_logger_files`: a logger opened
/// before daemonizing keeps its file through the fd sweep by passing it to
/// [`Daemon::preserve`](crate::Daemon::preserve), with no raw fd numbers.
/// Each line goes out in one `write(2)` on an `O_APPEND` file, so lines from
/// several processes never interleave.
///
/// ```no_run
/// use daemonizer::{Daemon, LogFile};
///
/// let log = LogFile::open("/var/log/myd.log")?;
/// let daemon = Daemon::new()
///     .preserve(&log)
///     .start()
///     .unwrap_or_else(|e| e.exit());
/// log.install(log::LevelFilter::Info).expect("no other logger");
/// log::info!("started as PID {}", daemon.pid());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct LogFile {
    sink: Sink,
    /// The file's absolute path, for [`reopen`](LogFile::reopen).
    path: Option<PathBuf>,
}

impl std::fmt::Debug for LogFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.sink {
            Sink::File(file) => f.debug_tuple("LogFile").field(file).finish(),
            Sink::Stderr => f.write_str("LogFile(stderr)"),
        }
    }
}

impl LogFile {
    /// Opens `path` for appending (created with mode 0640 when missing,
    /// close-on-exec), with the checks of a daemon's `stdout` and `stderr`
    /// files (see `docs/security.md`): "another user" there is anyone
    /// but root and this process's effective user (and group) at the time
    /// of the call. It refuses, with an error naming the path and the
    /// reason:
    ///
    /// - a directory of the path, up to `/`, that another user owns or may
    ///   write (not sticky);
    /// - a file that another user owns or may write, that has more than one
    ///   hard link, or that lies on a pseudo filesystem (`/proc`, `/sys`);
    /// - a FIFO without a reader (the open never blocks), a directory, a
    ///   block device;
    /// - a final symbolic link that another user owns or whose directory
    ///   another user owns, or, when this process's user (not root) owns
    ///   either, one that leads to a file not theirs; a dangling one.
    ///
    /// Called as root before a start whose daemon drops privileges, the
    /// daemon's user counts as "another user": open the log after the start
    /// instead (in the daemon, as its user), keep its directory and file
    /// root's, or use the `stderr` key with [`LogFile::stderr`] (whose
    /// checks trust the daemon's user).
    ///
    /// A relative path is made absolute now, so that
    /// [`reopen`](LogFile::reopen) finds the file after a full daemon has
    /// changed to `/`.
    ///
    /// ```no_run
    /// let log = daemonizer::LogFile::open("/var/log/myd.log")?;
    /// # drop(log);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> io::Result<LogFile> {
        let path = path.as_ref();
        let path = if path.is_absolute() {
            path.to_owned()
        } else {
            std::env::current_dir()?.join(path)
        };
        Ok(LogFile {
            sink: Sink::File(LogFile::open_file(&path)?),
            path: Some(path),
        })
    }

    /// Opens the file for appending with every check of a daemon's output
    /// file (see [`open`](LogFile::open)), trusting root and this
    /// process's effective user and group.
    fn open_file(path: &Path) -> io::Result<File> {
        crate::stdio::open_checked(path, Trust::current())
            .map(File::from)
            .map_err(io_error)
    }

    /// Writes to fd 2, whatever it is at the time of each record: the
    /// terminal in lite mode, the configured stderr file in full mode.
    ///
    /// ```no_run
    /// daemonizer::LogFile::stderr()
    ///     .install(log::LevelFilter::Info)
    ///     .expect("no other logger");
    /// ```
    pub fn stderr() -> LogFile {
        LogFile {
            sink: Sink::Stderr,
            path: None,
        }
    }

    /// Installs this as the global `log` logger, with `level` as the
    /// maximum level; returns it, for [`reopen`](LogFile::reopen) and
    /// [`Daemon::preserve`](crate::Daemon::preserve) (it may be installed
    /// before the start: its fd is what the sweep must keep).
    ///
    /// ```no_run
    /// let log = daemonizer::LogFile::open("/var/log/myd.log")?
    ///     .install(log::LevelFilter::Info)
    ///     .expect("no other logger");
    /// log::info!("logging to {:?}", log);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// When another logger is already installed.
    pub fn install(self, level: log::LevelFilter) -> Result<&'static LogFile, log::SetLoggerError> {
        let installed: &'static LogFile = Box::leak(Box::new(self));
        log::set_logger(installed)?;
        log::set_max_level(level);
        Ok(installed)
    }

    /// Opens the file's path again and puts the new file in place of the
    /// old one, on the same fd number (so a preserved fd stays preserved):
    /// after logrotate's default `create` mode has renamed the file and
    /// created an empty one, the next lines go to the new file. Lines
    /// written meanwhile go to one file or the other, whole. Nothing to do
    /// for [`stderr`](LogFile::stderr).
    ///
    /// Call it from a SIGHUP handler (and send SIGHUP from logrotate's
    /// `postrotate`):
    ///
    /// ```no_run
    /// use daemonizer::{Daemon, LogFile, Signal};
    ///
    /// let log = LogFile::open("/var/log/myd.log")?
    ///     .install(log::LevelFilter::Info)
    ///     .expect("no other logger");
    /// let running = Daemon::new()
    ///     .pidfile("/run/myd.pid")
    ///     .preserve(log)
    ///     .on_signal(Signal::SIGHUP, move |_| {
    ///         if let Err(err) = log.reopen() {
    ///             log::error!("cannot reopen the log: {err}");
    ///         }
    ///     })
    ///     .start()
    ///     .unwrap_or_else(|e| e.exit());
    /// # drop(running);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// ```text
    /// /var/log/myd.log {
    ///     weekly
    ///     rotate 4
    ///     create 0640 root root
    ///     postrotate
    ///         kill -HUP "$(cat /run/myd.pid)"
    ///     endscript
    /// }
    /// ```
    ///
    /// The daemon opens the path as the user it runs as and, under a
    /// chroot, inside it, with the checks of [`open`](LogFile::open) for
    /// that user: let logrotate create the file with that user as owner
    /// (`create 0640 root root` for a daemon that runs as root; `create
    /// 0640 myd myd` for one that runs as `myd` and opened its log after
    /// the start).
    ///
    /// # Errors
    /// When the path cannot be opened or is refused (a FIFO without a
    /// reader, a file of another user, a second hard link, ...), or the
    /// new fd cannot replace the old one; the old file is still used then.
    pub fn reopen(&self) -> io::Result<()> {
        let (Sink::File(file), Some(path)) = (&self.sink, &self.path) else {
            return Ok(());
        };
        let fresh = LogFile::open_file(path)?;
        replace_fd(&fresh, file)
    }

    fn line(record: &log::Record<'_>) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let program = crate::error::program_name();
        format!(
            "{} {program}[{}] {} {}: {}\n",
            utc(now.as_secs(), now.subsec_millis()),
            std::process::id(),
            record.level(),
            record.target(),
            record.args()
        )
    }
}

/// The error of a refused or failed open as an `io::Error` whose message
/// names the path and the reason (the step of a start does not apply).
fn io_error(err: crate::error::Error) -> io::Error {
    let kind = match (err.errno(), err.kind()) {
        (Some(errno), _) => io::Error::from(errno).kind(),
        (None, crate::error::ErrorKind::Permission) => io::ErrorKind::PermissionDenied,
        (None, crate::error::ErrorKind::Config) => io::ErrorKind::InvalidInput,
        (None, _) => io::ErrorKind::Other,
    };
    let mut text = crate::error::escape_control(err.detail());
    if let Some(errno) = err.errno() {
        text.push_str(": ");
        text.push_str(errno.desc());
    }
    io::Error::new(kind, text)
}

impl AsFd for LogFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.sink {
            Sink::File(file) => file.as_fd(),
            // SAFETY: fd 2 stays open for the life of the process (a full
            // start puts a file or /dev/null there, never closes it).
            Sink::Stderr => unsafe { BorrowedFd::borrow_raw(2) },
        }
    }
}

impl log::Log for LogFile {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        // The `log` macros have checked the level already.
        let line = LogFile::line(record);
        // A logger has nowhere to report its own failure.
        let _ = match &self.sink {
            Sink::File(file) => (&*file).write_all(line.as_bytes()),
            Sink::Stderr => io::stderr().lock().write_all(line.as_bytes()),
        };
    }

    fn flush(&self) {
        if let Sink::File(file) = &self.sink {
            let _ = (&*file).flush();
        }
    }
}

/// Makes `old`'s fd number refer to `fresh`'s file, close-on-exec, in
/// one step where the system has `dup3`.
fn replace_fd(fresh: &File, old: &File) -> io::Result<()> {
    let (from, to) = (fresh.as_raw_fd(), old.as_raw_fd());
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    {
        // SAFETY: both fds are open and owned by live `File`s; `to` keeps
        // its number and its owner, only the file behind it changes.
        if unsafe { libc::dup3(from, to, libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    {
        // SAFETY: as above. dup2 clears close-on-exec, set again at once.
        if unsafe { libc::dup2(from, to) } < 0
            || unsafe { libc::fcntl(to, libc::F_SETFD, libc::FD_CLOEXEC) } < 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a Unix time.
fn utc(secs: u64, millis: u32) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(utc(1_795_000_000, 999), "2026-11-18T11:06:40.999Z");
    }

    #[test]
    fn lines_are_appended_to_the_file() {
        let dir = std::env::temp_dir().join(format!("daemonizer-logfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.log");
        let _ = std::fs::remove_file(&path);
        let log = LogFile::open(&path).unwrap();
        log::Log::log(
            &log,
            &log::Record::builder()
                .level(log::Level::Error)
                .target("t")
                .args(format_args!("hello {}", 1))
                .build(),
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with(" ERROR t: hello 1\n"), "{text:?}");
        assert!(
            text.contains(&format!("[{}]", std::process::id())),
            "{text:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reopen_follows_the_path_on_the_same_fd() {
        let dir = std::env::temp_dir().join(format!("daemonizer-reopen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.log");
        let rotated = dir.join("t.log.1");
        let log = LogFile::open(&path).unwrap();
        let fd = log.as_fd().as_raw_fd();
        let record = |text: &str| {
            log::Log::log(
                &log,
                &log::Record::builder()
                    .level(log::Level::Info)
                    .target("t")
                    .args(format_args!("{text}"))
                    .build(),
            )
        };
        record("before");
        std::fs::rename(&path, &rotated).unwrap();
        record("renamed");
        log.reopen().unwrap();
        record("after");
        assert_eq!(log.as_fd().as_raw_fd(), fd, "the same fd number");
        // SAFETY: F_GETFD on an open fd.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        let old = std::fs::read_to_string(&rotated).unwrap();
        let new = std::fs::read_to_string(&path).unwrap();
        assert!(
            old.contains(": before\n") && old.contains(": renamed\n"),
            "{old}"
        );
        assert!(!old.contains("after"), "{old}");
        assert!(
            new.contains(": after\n") && !new.contains("before"),
            "{new}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
