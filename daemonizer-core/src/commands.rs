//! The commands of [`Daemon::commands`]: the program's first argument read
//! as `start`, `stop`, `status`, `restart` or `reload`, each request made
//! through [`Control`], one line printed and the LSB exit status.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd};

use crate::config::Daemon;
use crate::control::{Control, Status, Stopped};
use crate::error::{escape_control, Error, ErrorKind, Result, Step};
use crate::running::Daemonized;

/// A line on stdout, written in one piece; a failed write is not a failed
/// request (`println!` would panic): the exit status still tells.
macro_rules! say {
    ($($arg:tt)*) => {
        say_to(std::io::stdout().as_fd(), format!($($arg)*))
    };
}

/// `say!` on stderr.
macro_rules! say_err {
    ($($arg:tt)*) => {
        say_to(std::io::stderr().as_fd(), format!($($arg)*))
    };
}

/// Writes `line` and a newline to `out` in one piece, past Rust's buffer
/// (flushed first, so that the order holds); a pipe without a reader or a
/// file at the file-size limit loses the line, never the exit status.
fn say_to(out: BorrowedFd<'_>, mut line: String) {
    use std::io::Write;
    line.push('\n');
    crate::sys::pipe::quietly(|| {
        let _ = std::io::stdout().flush();
    });
    let _ = crate::sys::pipe::write_all_quietly(out, line.as_bytes());
}

/// The commands a program started with [`Daemon::commands`] takes as its
/// first argument; [`Daemon::default_command`] names the one run when the
/// program is given no argument at all.
///
/// ```no_run
/// use daemonizer::control::Command;
///
/// // `myd` alone starts the daemon; `myd stop`, `myd status`... as usual.
/// let running = daemonizer::Daemon::new()
///     .pidfile("/run/myd.pid")
///     .default_command(Command::Start)
///     .start()
///     .unwrap_or_else(|e| e.exit());
/// # drop(running);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command {
    /// `start`: starts the daemon.
    Start,
    /// `stop`: SIGTERM, then SIGKILL after the stop timeout.
    Stop,
    /// `status`: whether the daemon runs, with LSB statuses.
    Status,
    /// `restart`: stop, then start.
    Restart,
    /// `reload`: SIGHUP to the running daemon.
    Reload,
}

/// The usage line printed for a missing or unknown command.
pub(crate) fn usage(program: &str) -> String {
    format!("usage: {program} {{start|stop|status|restart|reload}} [ARGS...]")
}

/// Reads the command from the program's first argument (`default` when
/// there is no argument at all); anything else prints the usage line on
/// stderr and exits 2.
pub(crate) fn command_from_args(default: Option<Command>) -> Command {
    let program = crate::error::program_name();
    let first: Option<OsString> = std::env::args_os().nth(1);
    match parse_command(first.as_deref(), default, &program) {
        Ok(command) => command,
        Err(line) => {
            say_err!("{line}");
            crate::sys::pipe::exit_quietly(2)
        }
    }
}

/// The command that `first`, the program's first argument, names
/// (`default` when there is no argument at all); otherwise the line to
/// print before the usage error, one line whatever `first` holds.
/// `program` is the name to show, already escaped.
pub(crate) fn parse_command(
    first: Option<&OsStr>,
    default: Option<Command>,
    program: &str,
) -> std::result::Result<Command, String> {
    if let (None, Some(command)) = (first, default) {
        return Ok(command);
    }
    match first.and_then(OsStr::to_str) {
        Some("start") => Ok(Command::Start),
        Some("stop") => Ok(Command::Stop),
        Some("status") => Ok(Command::Status),
        Some("restart") => Ok(Command::Restart),
        Some("reload") => Ok(Command::Reload),
        other => {
            let usage = usage(program);
            // Debug quotes and escapes the argument; what it leaves (a
            // line separator) is escaped as every shown value is.
            let shown = match (other, first) {
                (_, None) => return Err(format!("{program}: no command; {usage}")),
                (Some(cmd), _) => format!("{cmd:?}"),
                (None, Some(raw)) => format!("{raw:?}"),
            };
            Err(format!(
                "{program}: unknown command {}; {usage}",
                escape_control(&shown)
            ))
        }
    }
}

/// Runs `stop`, `status` or `reload` for the program: prints one line and
/// exits with the LSB status. `start` returns at once; `restart` returns
/// after the stop, for the start that follows.
pub(crate) fn run_command(command: Command, control: &Control) {
    let program = crate::error::program_name();
    let code = match command {
        Command::Start => return,
        Command::Status => {
            let status = control.status();
            match &status {
                Status::Running { pid } => say!("{program} is running as PID {pid}"),
                Status::Stale { pid } => say!(
                    "{program} is not running (the pid file {} still names PID {pid})",
                    escape_control(&control.pidfile().display().to_string())
                ),
                Status::NotRunning => say!("{program} is not running"),
                Status::Unknown(e) => say!("{program}: status unknown: {e}"),
            }
            status.lsb_code()
        }
        Command::Stop | Command::Restart => match control.stop() {
            Ok(stopped) => {
                let code = stopped.lsb_code();
                match stopped {
                    Stopped::Terminated { pid } => {
                        if command == Command::Stop {
                            say!("{program} stopped (PID {pid})");
                        }
                    }
                    Stopped::Killed { pid } => {
                        if command == Command::Stop {
                            say!(
                                "{program} killed with SIGKILL after {:?} (PID {pid})",
                                control.stop_timeout()
                            );
                        }
                    }
                    Stopped::NotRunning => {
                        if command == Command::Stop {
                            say!("{program} is not running");
                        }
                    }
                    Stopped::StillRunning { pid } => {
                        say!("{program} is still running as PID {pid}")
                    }
                }
                if command == Command::Restart && code == 0 {
                    return;
                }
                code
            }
            Err(e) => {
                say_err!("{program}: {}: {e}", command_name(command));
                lsb_error(&e)
            }
        },
        Command::Reload => match control.reload() {
            Ok(pid) => {
                say!("{program} reloading (SIGHUP sent to PID {pid})");
                0
            }
            Err(e) if e.kind() == ErrorKind::NotRunning => {
                say!("{program} is not running");
                7
            }
            Err(e) if e.kind() == ErrorKind::Software => {
                say_err!("{program}: reload: {e}");
                3
            }
            Err(e) => {
                say_err!("{program}: reload: {e}");
                lsb_error(&e)
            }
        },
    };
    crate::sys::pipe::exit_quietly(i32::from(code))
}

fn command_name(command: Command) -> &'static str {
    match command {
        Command::Start => "start",
        Command::Stop => "stop",
        Command::Status => "status",
        Command::Restart => "restart",
        Command::Reload => "reload",
    }
}

/// LSB action statuses for a failed request: 4 not permitted, 1 anything
/// else.
fn lsb_error(e: &Error) -> u8 {
    if e.kind() == ErrorKind::Permission {
        4
    } else {
        1
    }
}

/// [`Daemon::start`] with [`commands`](Daemon::commands) on.
pub(crate) fn start_with_command(mut daemon: Daemon) -> Result<Daemonized> {
    let Some(path) = daemon.pidfile.clone() else {
        return Err(Error::new(
            Step::Preflight,
            ErrorKind::Config,
            "commands: a pid file is needed to find the daemon",
        ));
    };
    let command = command_from_args(daemon.default_command);
    let mut control = Control::new(&path).timeout(daemon.stop_timeout);
    // The daemon's user may own its files, as the start allows.
    if let Ok(Some(creds)) = crate::privileges::resolve(daemon.user.as_ref(), daemon.group.as_ref())
    {
        control = control.trusting(creds.trust());
    }
    run_command(command, &control);
    if command != Command::Restart {
        return daemon.start_now();
    }
    let program = crate::error::program_name();
    let announce = daemon.on_launched.take();
    let shown = program.clone();
    daemon = daemon.on_launched(move |launched| {
        say!("{shown} restarted as PID {}", launched.pid());
        if let Some(announce) = announce {
            announce(launched);
        }
    });
    match daemon.start_now() {
        // Another start took the lock since the stop: one daemon runs, as
        // a restart asks.
        Err(e) if e.kind() == ErrorKind::AlreadyRunning => match control.status() {
            Status::Running { pid } => {
                say!("{program} is running as PID {pid} (started by another start)");
                crate::sys::pipe::exit_quietly(0)
            }
            _ => Err(e),
        },
        other => other,
    }
}
