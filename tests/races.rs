//! Races and crashes: simultaneous starts on one pid file, kill -9 and
//! restart, signals while the launcher waits, daemons dying before they
//! are ready. Each test prints a summary line with its figures.

mod common;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

const LAUNCHERS: usize = 20;
const ROUNDS: usize = 5;

/// Spawns `n` launchers that each wait for `go`, waits until all of them
/// are waiting, then lets them go at once.
fn simultaneous(sb: &Sandbox, n: usize, go: &Path, cmd: impl Fn() -> Scenario) -> Vec<Child> {
    let children = waiting(sb, n, go, cmd);
    fs::write(go, "").unwrap();
    children
}

/// Reads the pid file in a loop until stopped; returns (reads, bad reads).
fn reader(path: PathBuf, expected: String, stop: Arc<AtomicBool>) -> (u64, Vec<String>) {
    let mut reads = 0u64;
    let mut bad = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        reads += 1;
        match fs::read_to_string(&path) {
            Ok(text) if text == expected => {}
            Ok(text) => bad.push(format!("{text:?}")),
            Err(e) => bad.push(format!("error {e}")),
        }
    }
    (reads, bad)
}

fn assert_refused_by(outcome: &Outcome, pidfile: &Path, winner: i32) {
    outcome.assert_refused(
        75,
        "pid file",
        &[
            &pidfile.display().to_string(),
            &format!("already running as PID {winner}"),
        ],
    );
}

#[test]
fn twenty_simultaneous_starts_make_exactly_one_daemon() {
    let sb = Sandbox::new("race");
    let pidfile = sb.path("pid");
    let launch = || sb.scenario("daemon").pidfile(&pidfile);
    let (mut launches, mut refusals, mut reads) = (0, 0, 0u64);
    for round in 0..ROUNDS {
        // All at once on a free pid file: exactly one wins.
        let go = sb.path(&format!("go-{round}"));
        let children = simultaneous(&sb, LAUNCHERS, &go, launch);
        // Outcomes as they come: the reader starts the moment the winner's
        // launcher has exited 0 (the daemon reported ready), while the
        // other launchers may still be at work.
        let (tx, rx) = std::sync::mpsc::channel();
        for child in children {
            let tx = tx.clone();
            std::thread::spawn(move || tx.send(finish(child)));
        }
        drop(tx);
        let stop = Arc::new(AtomicBool::new(false));
        let mut polling = None;
        let mut outcomes = Vec::new();
        let mut winner = None;
        for outcome in rx {
            if outcome.success() && polling.is_none() {
                let text = read_pidfile(&pidfile).expect("the winner's pid file");
                let pid: i32 = text.trim().parse().expect("a PID");
                assert_eq!(text, format!("{pid}\n"), "round {round}");
                winner = Some(pid);
                let (path, stop) = (pidfile.clone(), stop.clone());
                polling = Some(std::thread::spawn(move || reader(path, text, stop)));
            }
            outcomes.push(outcome);
        }
        launches += outcomes.len();
        let winners = outcomes.iter().filter(|o| o.success()).count();
        assert_eq!(
            winners, 1,
            "round {round}: exactly one launcher exits 0: {outcomes:#?}"
        );
        let winner = winner.expect("a winner");
        assert!(alive(winner), "round {round}: the winner {winner} runs");
        for o in outcomes.iter().filter(|o| !o.success()) {
            assert_refused_by(o, &pidfile, winner);
            refusals += 1;
        }

        // Another wave of starts against the running winner, the reader
        // still polling: it never sees the file empty or partial.
        let go = sb.path(&format!("go-{round}-b"));
        let outcomes = finish_all(simultaneous(&sb, LAUNCHERS, &go, launch));
        stop.store(true, Ordering::SeqCst);
        let (n, bad) = polling.expect("a reader").join().unwrap();
        assert!(n > 0, "round {round}: the reader read the pid file");
        reads += n;
        launches += outcomes.len();
        assert!(bad.is_empty(), "round {round}: the reader saw {bad:?}");
        for o in &outcomes {
            assert_refused_by(o, &pidfile, winner);
            refusals += 1;
        }
        assert_eq!(sb.processes(), vec![winner], "round {round}: one daemon");
        common::stop(winner, &pidfile);
    }
    assert_eq!(launches, ROUNDS * 2 * LAUNCHERS);
    assert_eq!(refusals, launches - ROUNDS, "all but one winner per round");
    summary(&format!(
        "simultaneous starts: {ROUNDS} rounds x {LAUNCHERS} launchers at once, \
         then {LAUNCHERS} more against the winner: {launches} launches, {ROUNDS} winners \
         (one per round), {refusals} refused with \"already running as PID <winner>\", \
         {reads} concurrent reads of the pid file, 0 empty or partial"
    ));
}

#[test]
fn ten_rounds_of_start_kill_9_start() {
    let sb = Sandbox::new("kill9");
    let pidfile = sb.path("pid");
    let mut previous = None;
    const ROUNDS: usize = 10;
    for round in 0..ROUNDS {
        let cmd = sb.scenario("daemon").pidfile(&pidfile);
        let outcome = run(cmd);
        assert!(
            outcome.success(),
            "round {round}: start after kill -9 of {previous:?}: {outcome:?}"
        );
        let text = read_pidfile(&pidfile).expect("pid file");
        let pid: i32 = text.trim().parse().unwrap();
        assert_eq!(text, format!("{pid}\n"), "round {round}");
        assert!(alive(pid));
        assert_eq!(sb.processes(), vec![pid], "round {round}: one daemon");
        kill(pid, libc::SIGKILL);
        wait_dead(pid);
        assert_eq!(
            read_pidfile(&pidfile),
            Some(text),
            "kill -9 leaves a stale file"
        );
        previous = Some(pid);
    }
    summary(&format!(
        "start / kill -9 / start: {ROUNDS} rounds, {ROUNDS} starts over a stale \
         pid file succeeded, pid file correct each time"
    ));
}

/// When the storm at a launcher begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Onset {
    /// Right after `spawn` returns: the launcher has just been exec'd,
    /// before its start blocked any signal.
    Spawn,
    /// Once the daemon's body runs (its facts file is complete) and has
    /// not reported ready: the launcher is waiting for it.
    Waiting,
    /// Once the body runs, a few milliseconds before or after the daemon
    /// reports ready (`--ready-delay-ms`): the storm races the report.
    Ready,
}

/// How the launchers under a signal storm ended, by signal.
#[derive(Debug, Default)]
struct Storm {
    launches: usize,
    /// Launches whose daemon reported ready before the first signal.
    unsignalled: usize,
    signals: usize,
    started: usize,
    /// Of those, launchers that got signals before they exited.
    started_signalled: usize,
    /// Exit 75 naming SIGHUP, SIGTERM: the signal landed while waiting.
    reported: [usize; 2],
    /// Ended by SIGHUP, SIGTERM.
    killed: [usize; 2],
}

const STORM_SIGNALS: [(i32, &str); 2] = [(libc::SIGHUP, "SIGHUP"), (libc::SIGTERM, "SIGTERM")];

/// Sends SIGHUP and SIGTERM in turn, `first` first, every 100 µs, to the
/// launcher until it exits; returns how many were sent. With `alone`, the
/// second waits until the launcher has taken the first (no longer pending
/// in `/proc/<pid>/status`): a launcher that waits then sees the first
/// signal by itself, whatever the machine's load. Signals go out from this
/// thread only while the launcher is not reaped, so that its PID cannot be
/// reused meanwhile.
fn storm(child: &mut Child, first: usize, alone: bool, what: &str) -> usize {
    let pid = child.id() as i32;
    let deadline = Instant::now() + DEADLINE;
    let mut sent = 0;
    while child.try_wait().expect("try_wait").is_none() {
        assert!(Instant::now() < deadline, "{what}: the launcher hangs");
        if sent == 1 && alone && pending(pid, STORM_SIGNALS[first].0) {
            std::thread::sleep(Duration::from_micros(20));
            continue;
        }
        if kill(pid, STORM_SIGNALS[(first + sent) % 2].0) {
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    sent
}

/// Whether `signal` is pending for the process `pid` (sent, not yet taken).
fn pending(pid: i32, signal: i32) -> bool {
    let Ok(text) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let bit = 1u64 << (signal - 1);
    text.lines()
        .filter_map(|l| {
            l.strip_prefix("ShdPnd:")
                .or_else(|| l.strip_prefix("SigPnd:"))
        })
        .any(|mask| u64::from_str_radix(mask.trim(), 16).is_ok_and(|m| m & bit != 0))
}

/// Waits until the daemon's facts file is complete, or the launcher has
/// ended (a failed start); polls often, so that a storm that follows
/// begins close to that moment.
fn body_runs(child: &mut Child, facts: &Path, what: &str) {
    let deadline = Instant::now() + DEADLINE;
    while child.try_wait().expect("try_wait").is_none() {
        if fs::read_to_string(facts).is_ok_and(|t| parse_facts(&t).is_some()) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: the body never ran");
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn signals_during_start_up_never_leave_a_half_started_daemon() {
    let sb = Sandbox::new("storm");
    // Each onset, with each signal first, 8 times.
    const ITERATIONS: usize = 48;
    let onsets = [Onset::Spawn, Onset::Waiting, Onset::Ready];
    let mut storm_ = Storm::default();
    for i in 0..ITERATIONS {
        let onset = onsets[i % 3];
        let first = (i / 3) % 2;
        let what = format!(
            "iteration {i} (storm from {onset:?}, {} first)",
            STORM_SIGNALS[first].1
        );
        let pidfile = sb.path(&format!("pid-{i}"));
        let facts_path = sb.path(&format!("facts-{i}"));
        let mut cmd = sb
            .scenario("daemon")
            .pidfile(&pidfile)
            .facts(&facts_path)
            .manual();
        // The report races the storm: it is due 0 to 3 ms after the body
        // wrote its facts, when the storm begins.
        let delay = (i / 6) % 4;
        if onset == Onset::Ready {
            cmd = cmd.args(["--ready-delay-ms", &delay.to_string()]);
        }
        let mut child = cmd.spawn();
        if onset != Onset::Spawn {
            body_runs(&mut child, &facts_path, &what);
        }
        let sent = storm(&mut child, first, onset == Onset::Waiting, &what);
        storm_.launches += 1;
        storm_.signals += sent;
        let outcome = finish(child);
        if sent > 0 && outcome.success() {
            storm_.started_signalled += 1;
        }
        if sent == 0 {
            // Only a report that won the race may end a launcher before
            // the storm begins.
            assert!(
                onset == Onset::Ready && outcome.success(),
                "{what}: the launcher ended before any signal: {outcome:?}"
            );
            storm_.unsignalled += 1;
        }
        if outcome.success() {
            // Only a daemon that reported ready may be started: a storm
            // that began earlier must have stopped the start.
            assert_eq!(onset, Onset::Ready, "{what}: started anyway: {outcome:?}");
            storm_.started += 1;
            // Nothing but what the daemon said before ready (early words).
            assert!(
                outcome
                    .stderr
                    .lines()
                    .all(|l| l.starts_with("hello stderr from ")),
                "{what}: {outcome:?}"
            );
            let daemon = wait_pidfile(&pidfile);
            assert!(alive(daemon), "{what}: exit 0 but no daemon");
            assert_eq!(sb.processes(), vec![daemon], "{what}");
            stop(daemon, &pidfile);
            continue;
        }
        match (outcome.code(), outcome.status.signal()) {
            (Some(code), _) => {
                assert_eq!(code, 75, "{what}: {outcome:?}");
                // What the daemon said first (its early words) aside.
                let lines: Vec<&str> = outcome
                    .stderr
                    .lines()
                    .filter(|l| !l.starts_with("hello stderr from "))
                    .collect();
                assert_eq!(lines.len(), 1, "{what}: {outcome:?}");
                let by = STORM_SIGNALS
                    .iter()
                    .position(|(_, name)| {
                        lines[0]
                            == format!(
                                "scenario: cannot start daemon: readiness: {name} received \
                                 while waiting for the daemon; the daemon was stopped"
                            )
                    })
                    .unwrap_or_else(|| panic!("{what}: {outcome:?}"));
                // From the wait, the first signal came alone: it is the one
                // reported.
                assert!(
                    onset != Onset::Waiting || by == first,
                    "{what}: reported {}: {outcome:?}",
                    STORM_SIGNALS[by].1
                );
                storm_.reported[by] += 1;
            }
            // Ended by a signal: before the start blocked signals, or by
            // a later one once an interrupted start was undone and the
            // signal mask restored. Only by one of those sent.
            (None, Some(signal)) => {
                let by = STORM_SIGNALS
                    .iter()
                    .position(|(s, _)| *s == signal)
                    .unwrap_or_else(|| {
                        panic!("{what}: ended by signal {signal}, not by the storm: {outcome:?}")
                    });
                storm_.killed[by] += 1;
            }
            _ => panic!("{what}: {outcome:?}"),
        }
        // Either way nothing may be left behind.
        sb.wait_no_processes();
        assert!(
            !pidfile.exists(),
            "{what}: a failed start ({}) left its pid file: {:?}",
            describe(&outcome.status),
            read_pidfile(&pidfile)
        );
    }
    let Storm {
        launches,
        unsignalled,
        signals,
        started,
        started_signalled,
        reported,
        killed,
    } = storm_;
    summary(&format!(
        "signal storm during start-up: {launches} launches, signalled from spawn, \
         from the wait or around the ready report until they exited ({signals} \
         SIGHUP/SIGTERM in all; {unsignalled} reported ready before the first signal); \
         {started} completed with a live daemon ({started_signalled} of them signalled); \
         {} reported the \
         interruption (exit 75: {} SIGHUP, {} SIGTERM) with nothing left; {} ended by the \
         signal ({} SIGHUP, {} SIGTERM) with nothing left; 0 inconsistent",
        reported[0] + reported[1],
        reported[0],
        reported[1],
        killed[0] + killed[1],
        killed[0],
        killed[1],
    ));
    assert_eq!(launches, ITERATIONS);
    // Every launch from spawn or from the wait, at least.
    assert!(
        signals >= launches - unsignalled && unsignalled <= ITERATIONS / 3,
        "at least one signal per launch"
    );
    assert_eq!(
        started + reported[0] + reported[1] + killed[0] + killed[1],
        ITERATIONS
    );
    for (n, (_, name)) in STORM_SIGNALS.iter().enumerate() {
        assert!(
            reported[n] > 0,
            "{name} never landed while a launcher waited: {reported:?}"
        );
    }
}

#[test]
fn daemons_dying_before_ready_always_fail_the_start() {
    let sb = Sandbox::new("early-death");
    const ROUNDS: usize = 10;
    let too_many = fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(1 << 20)
        + 1;
    for round in 0..ROUNDS {
        // Killed while the body runs, before it calls ready().
        sb.kill_before_ready(&format!("k{round}"));

        // A step that fails in the daemon, after the fork.
        let pidfile = sb.path(&format!("pid-l{round}"));
        let outcome = run(sb
            .scenario("daemon")
            .pidfile(&pidfile)
            .limit(format!("nofile:{too_many}")));
        outcome.assert_refused(77, "limits", &["RLIMIT_NOFILE"]);
        sb.wait_no_processes();
        assert!(!pidfile.exists(), "round {round}");
    }
    summary(&format!(
        "daemons dying before ready: {ROUNDS} killed with SIGKILL before ready() \
         (all exit 70), {ROUNDS} failing a step after the fork (all exit 77); \
         never exit 0, never a hang, nothing left"
    ));
}

#[test]
fn several_stop_signals_while_waiting_end_in_one_report() {
    // The launcher is stopped while it waits for a daemon that never gets
    // ready; SIGHUP, SIGINT and SIGTERM are then all pending when it
    // resumes. It must stop the daemon, undo the start and report the
    // interruption, rather than die of the second signal.
    let sb = Sandbox::new("three-signals");
    const ROUNDS: usize = 5;
    for round in 0..ROUNDS {
        let (launcher, daemon, pidfile) = sb.launch_unready(&round.to_string());
        let pid = launcher.id() as i32;
        kill(pid, libc::SIGSTOP);
        wait_until("the launcher to be stopped", || {
            stat(pid).is_some_and(|s| s.state == 'T')
        });
        for signal in [libc::SIGHUP, libc::SIGINT, libc::SIGTERM] {
            kill(pid, signal);
        }
        kill(pid, libc::SIGCONT);
        let outcome = finish(launcher);
        outcome.assert_refused(
            75,
            "readiness",
            &["received while waiting for the daemon; the daemon was stopped"],
        );
        wait_dead(daemon);
        sb.wait_no_processes();
        assert!(!pidfile.exists(), "round {round}: the pid file is gone");
    }
}

#[test]
fn starts_racing_a_stopping_daemon_make_at_most_one_daemon() {
    // Twenty launchers go while the running daemon is told to stop: it
    // unlinks its pid file on the way out while they open and lock it.
    // Whatever the interleaving, at most one of them wins, its daemon is
    // the one in the pid file, and every loser names a real daemon.
    let sb = Sandbox::new("handover");
    let pidfile = sb.path("pid");
    let launch = || sb.scenario("daemon").pidfile(&pidfile);
    let (mut launches, mut handovers, mut refusals) = (0, 0, 0);
    for round in 0..ROUNDS {
        let first = run(launch());
        assert!(first.success(), "round {round}: first start: {first:?}");
        let old = wait_pidfile(&pidfile);
        // The stop signal goes out just before (even rounds) or just
        // after (odd rounds) the launchers are released.
        let go = sb.path(&format!("go-{round}"));
        let children = waiting(&sb, LAUNCHERS, &go, launch);
        if round % 2 == 0 {
            kill(old, libc::SIGTERM);
            fs::write(&go, "").unwrap();
        } else {
            fs::write(&go, "").unwrap();
            kill(old, libc::SIGTERM);
        }
        let outcomes = finish_all(children);
        launches += outcomes.len() + 1;
        wait_dead(old);
        let winners = outcomes.iter().filter(|o| o.success()).count();
        assert!(
            winners <= 1,
            "round {round}: {winners} winners: {outcomes:#?}"
        );
        let new = if winners == 1 {
            handovers += 1;
            let new = wait_pidfile(&pidfile);
            assert!(alive(new), "round {round}: the new daemon runs");
            assert_eq!(sb.processes(), vec![new], "round {round}: one daemon");
            Some(new)
        } else {
            sb.wait_no_processes();
            None
        };
        for o in outcomes.iter().filter(|o| !o.success()) {
            refusals += 1;
            let named = [Some(old), new].iter().flatten().any(|pid| {
                o.stderr
                    .contains(&format!("already running as PID {pid}\n"))
            });
            assert!(
                o.code() == Some(75) && o.stderr.lines().count() == 1 && named,
                "round {round}: a loser must name the old ({old}) or new ({new:?}) daemon: {o:?}"
            );
        }
        if let Some(new) = new {
            common::stop(new, &pidfile);
        } else {
            wait_until("the old pid file to go", || !pidfile.exists());
        }
    }
    assert_eq!(launches, ROUNDS * (LAUNCHERS + 1));
    assert_eq!(refusals, ROUNDS * LAUNCHERS - handovers);
    summary(&format!(
        "starts racing a stopping daemon: {ROUNDS} rounds x {LAUNCHERS} launchers \
         released as the running daemon got SIGTERM ({launches} launches in all): \
         {handovers} rounds handed over to exactly one new daemon, the others to none; \
         {refusals} refused, each naming the old or the new daemon; never two daemons"
    ));
}
