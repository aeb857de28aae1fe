//! How a launcher ended ([`Outcome`]), read from its pipes with a deadline
//! ([`Lines`], [`finish`]), and the checks made on it.

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use super::{holders, wait_pidfile, Launch, DEADLINE};

/// The outcome of a launcher that ran to its end.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Outcome {
    pub(crate) fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub(crate) fn success(&self) -> bool {
        self.status.success()
    }

    /// Asserts a failed start: status `code`, and exactly one line on
    /// stderr, `scenario: cannot start daemon: <step>: <detail>`, whose
    /// detail contains each of `mentions`.
    ///
    /// Lines the scenario daemon itself wrote to stderr before it failed
    /// (`hello stderr from <pid>`: its "early words", which the launcher
    /// relays before its verdict) come first and are left out.
    pub(crate) fn assert_refused(&self, code: i32, step: &str, mentions: &[&str]) {
        assert_eq!(
            self.code(),
            Some(code),
            "exit status (expected {code}): {self:?}"
        );
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.starts_with("hello stderr from "))
            .collect();
        assert_eq!(lines.len(), 1, "exactly one line on stderr: {self:?}");
        let prefix = format!("scenario: cannot start daemon: {step}: ");
        assert!(
            lines[0].starts_with(&prefix),
            "stderr should start with {prefix:?}: {:?}",
            lines[0]
        );
        for m in mentions {
            assert!(
                lines[0].contains(m),
                "stderr should mention {m:?}: {:?}",
                lines[0]
            );
        }
        assert!(self.stdout.is_empty(), "nothing on stdout: {self:?}");
    }
}

/// The lines of a child's pipe (stdout or stderr), read by a thread of
/// their own so that every wait has a deadline: a daemon that keeps its
/// launcher's pipe open makes the test fail with a message naming the
/// processes that hold it, instead of hanging.
///
/// ```ignore
/// let mut err = Lines::new("the demo's stderr", child.stderr.take().unwrap());
/// let first = err.next_line().expect("a first line");
/// let rest = err.rest(); // after the child has exited
/// ```
pub(crate) struct Lines {
    what: String,
    lines: std::sync::mpsc::Receiver<String>,
    /// `pipe:[<inode>]`, to find who holds the pipe when a wait fails.
    pipe: Option<PathBuf>,
    ended: bool,
}

impl Lines {
    /// Starts reading `pipe`; `what` names it in messages.
    pub(crate) fn new<P>(what: &str, pipe: P) -> Lines
    where
        P: std::io::Read + std::os::fd::AsRawFd + Send + 'static,
    {
        use std::io::BufRead;
        let link = fs::read_link(format!("/proc/self/fd/{}", pipe.as_raw_fd())).ok();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut pipe = std::io::BufReader::new(pipe);
            loop {
                let mut line = Vec::new();
                match pipe.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx
                            .send(String::from_utf8_lossy(&line).into_owned())
                            .is_err()
                        {
                            break;
                        }
                    }
                }
            }
        });
        Lines {
            what: what.to_owned(),
            lines: rx,
            pipe: link,
            ended: false,
        }
    }

    /// The next line (with its `\n`, if it had one), or `None` at the end
    /// of the pipe. Fails the test after [`DEADLINE`].
    pub(crate) fn next_line(&mut self) -> Option<String> {
        self.next_before(Instant::now() + DEADLINE)
    }

    /// Everything until the end of the pipe, which every process holding
    /// its writing end must have closed within [`DEADLINE`]; fails the test
    /// otherwise, naming those processes.
    pub(crate) fn rest(&mut self) -> String {
        let deadline = Instant::now() + DEADLINE;
        let mut text = String::new();
        while let Some(line) = self.next_before(deadline) {
            text.push_str(&line);
        }
        text
    }

    fn next_before(&mut self, deadline: Instant) -> Option<String> {
        use std::sync::mpsc::RecvTimeoutError;
        if self.ended {
            return None;
        }
        let timeout = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                None
            }
            Err(RecvTimeoutError::Timeout) => panic!(
                "gave up after {DEADLINE:?} waiting for {} to end or go on; \
                 processes holding it open: {:?}",
                self.what,
                self.pipe.as_deref().map(holders).unwrap_or_default()
            ),
        }
    }
}

/// Waits for `child` (a launcher) to end and for the ends of its stdout
/// and stderr, killing it and failing the test if it has not ended by the
/// deadline, and failing the test if another process (a daemon) still
/// holds one of its pipes [`DEADLINE`] after it ended.
pub(crate) fn finish(mut child: Child) -> Outcome {
    let pid = child.id();
    // Read in threads so that a chatty child never blocks on a full pipe.
    let mut out = child
        .stdout
        .take()
        .map(|p| Lines::new(&format!("the stdout of the launcher (PID {pid})"), p));
    let mut err = child
        .stderr
        .take()
        .map(|p| Lines::new(&format!("the stderr of the launcher (PID {pid})"), p));
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the launcher (PID {pid}) did not end within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // The daemon must hold no end of these pipes (its stdio is /dev/null
    // or files), so they reach their end with the launcher.
    Outcome {
        status,
        stdout: out.as_mut().map(Lines::rest).unwrap_or_default(),
        stderr: err.as_mut().map(Lines::rest).unwrap_or_default(),
    }
}

/// Runs `cmd` (a `Command` or a [`Scenario`](super::Scenario)) to its end
/// (see [`finish`]).
pub(crate) fn run(cmd: impl Launch) -> Outcome {
    finish(cmd.launch())
}

/// Runs `cmd` and asserts that it started a daemon (exit 0, silent).
pub(crate) fn start(cmd: impl Launch) -> Outcome {
    let outcome = run(cmd);
    assert!(outcome.success(), "the start should succeed: {outcome:?}");
    assert!(outcome.stderr.is_empty(), "silent start: {outcome:?}");
    outcome
}

/// Waits for every launcher, in parallel (each keeps its own deadline).
pub(crate) fn finish_all(children: Vec<Child>) -> Vec<Outcome> {
    let handles: Vec<_> = children
        .into_iter()
        .map(|c| std::thread::spawn(move || finish(c)))
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("launcher thread"))
        .collect()
}

/// Of `outcomes`, starts made at once on `pidfile`: exactly one succeeded,
/// and each other was refused as "already running" naming the winner, the
/// PID its pid file holds. Returns that PID.
pub(crate) fn sole_winner(outcomes: &[Outcome], pidfile: &Path) -> i32 {
    assert_eq!(
        outcomes.iter().filter(|o| o.success()).count(),
        1,
        "exactly one start wins: {outcomes:#?}"
    );
    let winner = wait_pidfile(pidfile);
    for o in outcomes.iter().filter(|o| !o.success()) {
        o.assert_refused(
            75,
            "pid file",
            &[
                &pidfile.display().to_string(),
                &format!("already running as PID {winner}"),
            ],
        );
    }
    winner
}

/// The description of how a process ended, for messages.
pub(crate) fn describe(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => format!("{status:?}"),
    }
}
