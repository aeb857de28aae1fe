//! The commands of [`Daemon::commands`]: the program's first argument read
//! as `start`, `stop`, `status`, `restart` or `reload`, each request made
//! through [`Control`], one line printed and the LSB exit status.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd};

use crate::config::{names, Command, Daemon};
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

/// The usage line printed for a missing or unknown command.
pub(crate) fn usage(program: &str) -> String {
    format!(
        "usage: {program} {{{}}} [ARGS...] | {program} unit {{{}}} [--user]",
        names(),
        crate::unit::Kind::NAMES.join("|")
    )
}

/// `unit KIND [--user]`: prints the service definition of `KIND` for this
/// program (see [`unit`](crate::unit)) and exits 0; a bad argument prints
/// the reason and the usage line on stderr and exits 2.
fn print_unit(daemon: &Daemon, pidfile: &std::path::Path) -> ! {
    let program = crate::error::program_name();
    let args: Vec<OsString> = std::env::args_os().skip(2).collect();
    let words: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    let user = words.contains(&"--user");
    let kinds: Vec<&str> = words.iter().copied().filter(|w| *w != "--user").collect();
    let parsed = match (kinds.as_slice(), words.len() == args.len()) {
        ([kind], true) => crate::unit::Kind::parse(kind, user),
        _ => Err("unit: name one service manager".to_owned()),
    };
    let exe = std::env::current_exe().and_then(std::fs::canonicalize);
    match (parsed, exe) {
        (Ok(kind), Ok(exe)) => {
            let name = exe
                .file_name()
                .map_or_else(|| program.clone(), |n| n.to_string_lossy().into_owned());
            let facts = crate::unit::Facts {
                name: &name,
                exe: &exe,
                pidfile,
                lite_if: daemon.lite_if.as_deref(),
            };
            let text = crate::unit::render(kind, &facts);
            let _ = crate::sys::pipe::write_all_quietly(std::io::stdout().as_fd(), text.as_bytes());
            crate::sys::pipe::exit_quietly(0)
        }
        (Err(why), _) => {
            say_err!("{program}: {}; {}", escape_control(&why), usage(&program));
            crate::sys::pipe::exit_quietly(2)
        }
        (_, Err(e)) => {
            say_err!("{program}: unit: the program's own path: {e}");
            crate::sys::pipe::exit_quietly(1)
        }
    }
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
    let text = first.and_then(OsStr::to_str);
    match text.map(str::parse::<Command>) {
        Some(Ok(command)) => Ok(command),
        _ => {
            let usage = usage(program);
            // Debug quotes and escapes the argument; what it leaves (a
            // line separator) is escaped as every shown value is.
            let shown = match (text, first) {
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
                say_err!("{program}: {command}: {e}");
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
    if std::env::args_os().nth(1).as_deref() == Some(OsStr::new("unit")) {
        print_unit(&daemon, &path)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usage_line_and_the_parser_read_the_one_list() {
        let mut seen = std::collections::HashSet::new();
        for command in Command::ALL {
            assert!(seen.insert(command.as_str()), "{command} twice");
            assert_eq!(command.as_str().parse::<Command>().unwrap(), *command);
            assert_eq!(command.to_string(), command.as_str());
            let arg = OsStr::new(command.as_str());
            assert_eq!(parse_command(Some(arg), None, "myd"), Ok(*command));
        }
        assert_eq!(
            usage("myd"),
            "usage: myd {start|stop|status|restart|reload} [ARGS...] | \
             myd unit {systemd|openrc|rcd|launchd} [--user]"
        );
        let err = "begin".parse::<Command>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "control: unknown command \"begin\"; the commands are start, stop, status, restart, reload"
        );
    }
}
