//! User signal handlers run in normal context on the daemon's signal
//! thread: once per delivery, and still after a burst of deliveries.

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// The handler lines of the record file for `signal`: `<signal> <count>
/// <thread> <n>` each.
fn lines_for(record: &Path, signal: &str) -> Vec<Vec<String>> {
    fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .filter(|f| f.first().map(String::as_str) == Some(signal))
        .collect()
}

fn count(record: &Path, signal: &str) -> usize {
    lines_for(record, signal).len()
}

fn start_with_handlers(sb: &Sandbox) -> i32 {
    start(
        sb.daemon()
            .record(sb.path("record"))
            .log(sb.path("daemon.log")),
    );
    let pid = wait_pidfile(&sb.path("pid"));
    facts(&sb.path("facts"));
    pid
}

#[test]
fn each_delivery_calls_the_handler_once_in_normal_context() {
    let sb = Sandbox::new("handlers");
    let pid = start_with_handlers(&sb);
    let record = sb.path("record");
    const DELIVERIES: usize = 10;
    for k in 1..=DELIVERIES {
        for (signal, name) in [(libc::SIGHUP, "SIGHUP"), (libc::SIGUSR1, "SIGUSR1")] {
            kill(pid, signal);
            wait_until(&format!("{name} handler call #{k}"), || {
                count(&record, name) >= k
            });
            // Exactly once per delivery: never a second call for one signal.
            assert_eq!(
                count(&record, name),
                k,
                "{name}: calls after {k} deliveries"
            );
        }
    }
    // The signal thread handles signals in the order they came: once the
    // handler has answered one more SIGUSR1, any extra SIGHUP call would
    // be there already, and the other way round.
    kill(pid, libc::SIGUSR1);
    wait_until("one more SIGUSR1", || {
        count(&record, "SIGUSR1") > DELIVERIES
    });
    assert_eq!(count(&record, "SIGHUP"), DELIVERIES, "SIGHUP calls in all");
    kill(pid, libc::SIGHUP);
    wait_until("one more SIGHUP", || count(&record, "SIGHUP") > DELIVERIES);
    assert_eq!(
        count(&record, "SIGUSR1"),
        DELIVERIES + 1,
        "SIGUSR1 calls in all"
    );
    assert_eq!(count(&record, "SIGHUP"), DELIVERIES + 1);
    for name in ["SIGHUP", "SIGUSR1"] {
        let lines = lines_for(&record, name);
        for (i, fields) in lines.iter().enumerate() {
            assert_eq!(
                fields[1],
                (i + 1).to_string(),
                "{name} call numbers: {lines:?}"
            );
            // The closure ran on the daemon's signal thread, not inside a
            // raw handler, and it could allocate (a vector of i+1 strings).
            assert_eq!(fields[2], "daemonizer-signals", "{name}: {fields:?}");
            assert_eq!(fields[3], (i + 1).to_string());
        }
    }
    // It logged through `log` too (a preserved LogFile).
    let log = fs::read_to_string(sb.path("daemon.log")).unwrap();
    for k in 1..=DELIVERIES {
        assert!(log.contains(&format!(
            "handler: SIGHUP #{k} on thread daemonizer-signals"
        )));
        assert!(log.contains(&format!(
            "handler: SIGUSR1 #{k} on thread daemonizer-signals"
        )));
    }
    assert!(alive(pid));
    stop(pid, &sb.path("pid"));
    summary(&format!(
        "signal handlers: {DELIVERIES} SIGHUP and {DELIVERIES} SIGUSR1 delivered one \
         at a time, each handled exactly once on the signal thread"
    ));
}

#[test]
fn handlers_keep_working_after_a_burst() {
    let sb = Sandbox::new("burst");
    let pid = start_with_handlers(&sb);
    let record = sb.path("record");
    const BURST: usize = 500;
    for i in 0..BURST {
        kill(
            pid,
            if i % 2 == 0 {
                libc::SIGHUP
            } else {
                libc::SIGUSR1
            },
        );
    }
    // Standard signals that arrive while one is pending merge, so a burst
    // gives at most one call per signal sent, and at least one.
    wait_until("the burst to be handled", || {
        count(&record, "SIGHUP") >= 1 && count(&record, "SIGUSR1") >= 1
    });
    // The handlers still answer, one signal at a time.
    for _ in 0..5 {
        for (signal, name) in [(libc::SIGHUP, "SIGHUP"), (libc::SIGUSR1, "SIGUSR1")] {
            let before = count(&record, name);
            kill(pid, signal);
            wait_until(&format!("{name} to be handled after the burst"), || {
                count(&record, name) > before
            });
        }
    }
    let (hup, usr1) = (count(&record, "SIGHUP"), count(&record, "SIGUSR1"));
    assert!(
        hup <= BURST / 2 + 5,
        "never more calls than deliveries: {hup}"
    );
    assert!(
        usr1 <= BURST / 2 + 5,
        "never more calls than deliveries: {usr1}"
    );
    for name in ["SIGHUP", "SIGUSR1"] {
        for (i, fields) in lines_for(&record, name).iter().enumerate() {
            assert_eq!(fields[1], (i + 1).to_string(), "{name}: numbered calls");
        }
    }
    assert!(alive(pid));
    assert_eq!(read_pidfile(&sb.path("pid")), Some(format!("{pid}\n")));
    // SIGTERM still ends the daemon cleanly.
    stop(pid, &sb.path("pid"));
    summary(&format!(
        "signal burst: {BURST} signals sent back to back, {hup} SIGHUP and {usr1} \
         SIGUSR1 handler calls in all (merged deliveries included), handlers answered \
         5 more of each afterwards, then SIGTERM stopped the daemon cleanly"
    ));
}
