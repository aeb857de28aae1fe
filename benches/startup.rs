//! Start-up benchmark: how long a daemon takes from `spawn` until it runs,
//! for four programs measured side by side in one run:
//!
//! 1. `bench-daemonizer` (`benches/programs/daemonizer.rs`):
//!    `#[daemonizer::daemon]` with a pid file, a umask and a work dir;
//! 2. `bench-floor` (`benches/programs/floor.rs`): the least a daemon does,
//!    written directly against libc (fork, `setsid`, fork, `close_range`,
//!    `/dev/null` onto 0-2, pid file written; nothing else);
//! 3. `bench-daemonize` (`benches/programs/daemonize.rs`): the same daemon
//!    with the `daemonize` crate;
//! 4. `bench-floor-ready` (`benches/programs/floor_ready.rs`): the floor
//!    plus a readiness handshake and nothing else (the launcher exits only
//!    once the daemon has written its pid file and said so through a pipe),
//!    to show what that guarantee costs by itself.
//!
//! ```text
//! cargo bench --bench startup                  # 500 launches per program and scenario
//! STARTUP_N=50 cargo bench --bench startup     # fewer
//! ```
//!
//! The benchmark builds the four programs itself (`cargo build --release
//! --example ...`, with the cargo that runs it), so the command above is all
//! a fresh clone needs.
//!
//! What one launch measures: the clock starts just before the launcher is
//! spawned and stops once both (a) the launcher has exited and (b) the
//! daemon body has written its PID into a FIFO the benchmark holds open
//! (the cheapest reliable signal: one `open` and one `write` in the daemon,
//! the same code in all four programs). Then, untimed: the daemon's
//! resident memory is read from `/proc/<pid>/status`, the PID in the pid
//! file is checked against the one in the FIFO, the daemon is sent SIGTERM
//! and awaited (a pidfd) before the next launch. The benchmark is a child
//! subreaper, so the daemons are reaped here rather than left as zombies.
//!
//! Three scenarios: the default `RLIMIT_NOFILE` (the kernel's 1024 for a new
//! process, or lower if this process has less); 200 fds inherited from the
//! launcher (opened here without `O_CLOEXEC`); the limit raised to the
//! highest the machine allows (as root the hard limit too, up to
//! `/proc/sys/fs/nr_open`, when the kernel lets this process raise it). Any
//! other fd the benchmark itself inherited (from cargo, a shell) is made
//! close-on-exec first, so the default scenario hands down nothing.
//!
//! Each round also loads each program alone, in the default scenario: with
//! `STARTUP_LOAD_ONLY` set, every program exits at the first line of its
//! `main` (where it reads its first path), before any daemon step; timed
//! from spawn until it has exited. Set beside the whole start-up, this
//! separates what the binary costs by being loaded (its size, its
//! relocations, the C library's and Rust's start-up) from what the
//! daemon's steps cost.
//!
//! Everything is interleaved, so that a change in the machine's load during
//! the run weighs on every column alike: each round visits the three
//! scenarios (their order rotating from round to round) and, within each,
//! launches the four programs in one of their 24 orders, in turn, so that
//! each program follows each other one equally often; the first rounds are
//! warm-up and not counted.
//!
//! The targets (daemonizer within 1.15× of the floor; start-up flat across
//! open-file limits) are printed with PASS or MISS, never asserted: timing
//! is reported, not tested. The `daemonize` crate and the floor with a
//! handshake are printed as figures beside them, not as targets.
//!
//! Linux only: it reads `/proc`, waits on pidfds and makes itself a child
//! subreaper.

#[cfg(target_os = "linux")]
mod linux {

    use std::ffi::CString;
    use std::fmt::Write as _;
    use std::fs;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    /// The programs, in table order: (example name, label).
    const PROGRAMS: [(&str, &str); 4] = [
        ("bench-daemonizer", "daemonizer `#[daemon]`"),
        ("bench-floor", "floor (raw libc)"),
        ("bench-daemonize", "`daemonize` 0.5 crate"),
        ("bench-floor-ready", "floor + readiness handshake"),
    ];
    const OURS: usize = 0;
    const FLOOR: usize = 1;
    const PEER: usize = 2;
    const FLOOR_READY: usize = 3;

    /// Launches per program and scenario when `STARTUP_N` is not set.
    const DEFAULT_N: usize = 500;
    /// Unmeasured launches per program at the start of each scenario.
    const WARMUP: usize = 5;
    /// Fds the second scenario hands down to the launcher.
    const INHERITED_FDS: usize = 200;
    /// How long one launch, or one stop, may take before the run is abandoned.
    const TIMEOUT: Duration = Duration::from_secs(10);

    /// The targets of the benchmark (printed, not asserted).
    const TARGET_VS_FLOOR: f64 = 1.15;
    const TARGET_LIMIT_RATIO: f64 = 1.05;

    type Result<T> = std::result::Result<T, String>;

    struct Program {
        name: &'static str,
        label: &'static str,
        exe: PathBuf,
    }

    /// One measured launch.
    struct Sample {
        elapsed: Duration,
        rss_kib: u64,
        anon_kib: u64,
        fds: usize,
    }

    /// The working directory of a run: the FIFO, the pid files, the daemons'
    /// work dir. Removed at the end.
    struct Scratch {
        dir: PathBuf,
        fifo_path: PathBuf,
        fifo: OwnedFd,
    }

    impl Scratch {
        fn new() -> Result<Scratch> {
            let dir =
                std::env::temp_dir().join(format!("daemonizer-startup-{}", std::process::id()));
            fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let fifo_path = dir.join("running.fifo");
            let c_path = c_path(&fifo_path)?;
            // SAFETY: `c_path` is a valid NUL-terminated string.
            if unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) } != 0 {
                return Err(os_error(&format!("mkfifo {}", fifo_path.display())));
            }
            // Read-write: opening does not wait for a writer, and the FIFO never
            // reports EOF between two daemons.
            // SAFETY: as above; the returned fd is owned below.
            let fd = unsafe {
                libc::open(
                    c_path.as_ptr(),
                    libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(os_error(&format!("open {}", fifo_path.display())));
            }
            // SAFETY: `fd` was just opened and is owned by nothing else.
            let fifo = unsafe { OwnedFd::from_raw_fd(fd) };
            Ok(Scratch {
                dir,
                fifo_path,
                fifo,
            })
        }

        fn pidfile(&self, program: &Program) -> PathBuf {
            self.dir.join(format!("{}.pid", program.name))
        }

        /// Empties the FIFO (nothing should be left in it).
        fn drain(&self) {
            let mut buf = [0u8; 64];
            // SAFETY: reads into a local buffer of the given size.
            while unsafe { libc::read(self.fifo.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) }
                > 0
            {}
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    fn c_path(path: &Path) -> Result<CString> {
        CString::new(path.as_os_str().as_bytes())
            .map_err(|_| format!("{}: NUL byte", path.display()))
    }

    fn os_error(what: &str) -> String {
        format!("{what}: {}", std::io::Error::last_os_error())
    }

    fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
        // SAFETY: pidfd_open takes two integers and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the fd was just created and is owned by nothing else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }

    /// Polls `fds` (negative entries are ignored) until one is readable or
    /// `deadline` passes; false on timeout.
    fn poll_until(fds: &mut [libc::pollfd], deadline: Instant) -> Result<bool> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            match rc {
                0 => continue,
                n if n > 0 => return Ok(true),
                _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {
                    continue
                }
                _ => return Err(os_error("poll")),
            }
        }
    }

    fn pollfd(fd: RawFd) -> libc::pollfd {
        libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        }
    }

    /// Reaps every child that has ended (the daemons come back to this
    /// subreaper once their parents are gone).
    fn reap() {
        loop {
            // SAFETY: waitpid with a null status pointer.
            let rc = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
            if rc <= 0 {
                return;
            }
        }
    }

    /// Sends SIGTERM to `pid` and waits until it is gone (SIGKILL after the
    /// timeout).
    fn stop(pid: i32) -> Result<()> {
        let pidfd = match pidfd_open(pid) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                reap();
                return Ok(());
            }
            Err(e) => return Err(format!("pidfd_open {pid}: {e}")),
        };
        for signal in [libc::SIGTERM, libc::SIGKILL] {
            // SAFETY: kill takes two integers.
            unsafe { libc::kill(pid, signal) };
            if poll_until(&mut [pollfd(pidfd.as_raw_fd())], Instant::now() + TIMEOUT)? {
                reap();
                return Ok(());
            }
        }
        Err(format!("daemon {pid} survived SIGKILL"))
    }

    /// `VmRSS` and `RssAnon` (KiB) from `/proc/<pid>/status`: all resident
    /// pages, and the private ones (the rest is mapped files: the binary and
    /// the C library, shared with every process that maps them).
    fn read_rss_kib(pid: i32) -> (u64, u64) {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("RssAnon:"))
    }

    /// The daemon's open fds, leaving out the FIFO (the body may not have
    /// closed it yet).
    fn count_fds(pid: i32, fifo: &Path) -> usize {
        fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|dir| {
                dir.filter_map(|entry| fs::read_link(entry.ok()?.path()).ok())
                    .filter(|target| target != fifo)
                    .count()
            })
            .unwrap_or(0)
    }

    /// One launch: spawn, wait for the launcher's exit and the body's message,
    /// then (untimed) look at the daemon and stop it.
    fn launch(program: &Program, scratch: &Scratch, look: bool) -> Result<Sample> {
        let pidfile = scratch.pidfile(program);
        let _ = fs::remove_file(&pidfile);
        scratch.drain();
        let mut command = Command::new(&program.exe);
        command
            .env("STARTUP_FIFO", &scratch.fifo_path)
            .env("STARTUP_PIDFILE", &pidfile)
            .env("STARTUP_WORKDIR", &scratch.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());

        let start = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| format!("{}: spawn: {e}", program.name))?;
        let launcher = pidfd_open(child.id() as i32)
            .map_err(|e| format!("{}: pidfd_open: {e}", program.name))?;
        let deadline = start + TIMEOUT;
        let mut status = None;
        let mut daemon: Option<i32> = None;
        while status.is_none() || daemon.is_none() {
            let mut fds = [
                pollfd(if status.is_none() {
                    launcher.as_raw_fd()
                } else {
                    -1
                }),
                pollfd(if daemon.is_none() {
                    scratch.fifo.as_raw_fd()
                } else {
                    -1
                }),
            ];
            if !poll_until(&mut fds, deadline)? {
                let _ = child.kill();
                let _ = child.wait();
                if let Some(pid) = daemon {
                    let _ = stop(pid);
                }
                return Err(format!(
                    "{}: no {} within {TIMEOUT:?}",
                    program.name,
                    if status.is_none() {
                        "launcher exit"
                    } else {
                        "message from the daemon"
                    }
                ));
            }
            if fds[0].revents != 0 {
                status = Some(
                    child
                        .wait()
                        .map_err(|e| format!("{}: wait: {e}", program.name))?,
                );
            }
            if fds[1].revents != 0 {
                let mut buf = [0u8; 4];
                // SAFETY: reads into a local buffer of the given size.
                let n = unsafe { libc::read(scratch.fifo.as_raw_fd(), buf.as_mut_ptr().cast(), 4) };
                if n == 4 {
                    daemon = Some(u32::from_ne_bytes(buf) as i32);
                }
            }
        }
        let elapsed = start.elapsed();

        let pid = daemon.expect("the loop ends with a PID");
        let (rss_kib, anon_kib) = read_rss_kib(pid);
        let fds = if look {
            count_fds(pid, &scratch.fifo_path)
        } else {
            0
        };
        let in_file = fs::read_to_string(&pidfile).unwrap_or_default();
        stop(pid)?;
        let status = status.expect("the loop ends with a status");
        if !status.success() {
            return Err(format!(
                "{}: the launcher ended with {status}",
                program.name
            ));
        }
        if in_file.trim().parse::<i32>().ok() != Some(pid) {
            return Err(format!(
                "{}: pid file {} holds {in_file:?}, the daemon is {pid}",
                program.name,
                pidfile.display()
            ));
        }
        Ok(Sample {
            elapsed,
            rss_kib,
            anon_kib,
            fds,
        })
    }

    /// One launch with `STARTUP_LOAD_ONLY` set: the program exits before
    /// any daemon step (see `body::path_from_env`); timed from spawn until
    /// it has exited.
    fn load_only(program: &Program, scratch: &Scratch) -> Result<Duration> {
        let mut command = Command::new(&program.exe);
        command
            .env("STARTUP_LOAD_ONLY", "1")
            .env("STARTUP_FIFO", &scratch.fifo_path)
            .env("STARTUP_PIDFILE", scratch.pidfile(program))
            .env("STARTUP_WORKDIR", &scratch.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let start = Instant::now();
        let status = command
            .status()
            .map_err(|e| format!("{}: spawn: {e}", program.name))?;
        let elapsed = start.elapsed();
        if !status.success() {
            return Err(format!(
                "{}: loading alone ended with {status}",
                program.name
            ));
        }
        Ok(elapsed)
    }

    /// The three scenarios, in table order.
    #[derive(Clone, Copy)]
    enum Kind {
        Default,
        Inherited,
        Highest,
    }
    const KINDS: [Kind; 3] = [Kind::Default, Kind::Inherited, Kind::Highest];

    /// What the scenarios change in this process (and so in the launchers).
    struct Limits {
        default: (u64, u64),
        highest: u64,
    }

    impl Limits {
        /// Puts the process in `kind`'s state; what is returned must live
        /// while the programs are launched.
        fn enter(&self, kind: Kind) -> Result<Vec<OwnedFd>> {
            match kind {
                Kind::Default => Ok(Vec::new()),
                Kind::Inherited => (0..INHERITED_FDS)
                    .map(|_| {
                        // SAFETY: a constant path; no O_CLOEXEC, on purpose:
                        // the launcher inherits these.
                        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
                        if fd < 0 {
                            return Err(os_error("/dev/null"));
                        }
                        // SAFETY: just opened, owned by nothing else.
                        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
                    })
                    .collect(),
                Kind::Highest => {
                    if set_nofile(self.highest, self.highest.max(self.default.1)) {
                        Ok(Vec::new())
                    } else {
                        Err(os_error("raising RLIMIT_NOFILE"))
                    }
                }
            }
        }

        fn leave(&self, kind: Kind) {
            if let Kind::Highest = kind {
                set_nofile(self.default.0, self.default.1);
            }
        }
    }

    /// What [`run_all`] measured: `launches[scenario][program]`, and
    /// `loads[program]`, the same program loaded alone (in the default
    /// scenario).
    struct Measured {
        launches: Vec<Vec<Vec<Sample>>>,
        loads: Vec<Vec<Duration>>,
    }

    /// Runs `n` measured launches of each program in each scenario, and `n`
    /// loads alone of each, all interleaved, after the warm-up rounds.
    fn run_all(
        programs: &[Program],
        scratch: &Scratch,
        limits: &Limits,
        n: usize,
    ) -> Result<Measured> {
        let mut samples: Vec<Vec<Vec<Sample>>> = KINDS
            .iter()
            .map(|_| programs.iter().map(|_| Vec::with_capacity(n)).collect())
            .collect();
        let mut loads: Vec<Vec<Duration>> =
            programs.iter().map(|_| Vec::with_capacity(n)).collect();
        let rounds = WARMUP + n;
        for round in 0..rounds {
            if round > 0 && round % (rounds / 10).max(1) == 0 {
                eprintln!("  round {round} of {rounds}");
            }
            for s_k in 0..KINDS.len() {
                let s = (round + s_k) % KINDS.len();
                let held = limits.enter(KINDS[s])?;
                let mut outcome = Ok(());
                for &i in order(round, programs.len()).iter() {
                    let look = round == WARMUP;
                    match launch(&programs[i], scratch, look) {
                        Ok(sample) if round >= WARMUP => samples[s][i].push(sample),
                        Ok(_) => {}
                        Err(e) => {
                            outcome = Err(e);
                            break;
                        }
                    }
                }
                if let (Kind::Default, Ok(())) = (KINDS[s], &outcome) {
                    for &i in order(round + 1, programs.len()).iter() {
                        match load_only(&programs[i], scratch) {
                            Ok(took) if round >= WARMUP => loads[i].push(took),
                            Ok(_) => {}
                            Err(e) => {
                                outcome = Err(e);
                                break;
                            }
                        }
                    }
                }
                drop(held);
                limits.leave(KINDS[s]);
                outcome?;
            }
        }
        Ok(Measured {
            launches: samples,
            loads,
        })
    }

    /// The order of the programs in `round`: every permutation in turn, so that
    /// each program follows each other one equally often (a launch is slowed a
    /// little by what the one before it left behind: a daemon just stopped, its
    /// pages being freed).
    fn order(round: usize, programs: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..programs).collect();
        // The permutation with index `round mod programs!` in the factorial
        // number system.
        let mut rest = round % (1..=programs).product::<usize>();
        for k in 0..programs {
            let left = programs - k;
            let step: usize = (1..left).product();
            let pick = rest / step;
            rest %= step;
            let chosen = order.remove(k + pick);
            order.insert(k, chosen);
        }
        order
    }

    /// Marks every fd above 2 that this process inherited close-on-exec, so
    /// that the launchers inherit only what a scenario opens on purpose.
    fn cloexec_inherited() -> Result<()> {
        let fds: Vec<RawFd> = fs::read_dir("/proc/self/fd")
            .map_err(|e| format!("/proc/self/fd: {e}"))?
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .filter(|fd| *fd > 2)
            .collect();
        for fd in fds {
            // SAFETY: fcntl on an fd number; a closed one (the directory's
            // own) fails harmlessly with EBADF.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        Ok(())
    }

    /// The value at quantile `q` (nearest rank) of sorted `values`.
    fn quantile<T: Copy>(sorted: &[T], q: f64) -> T {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    struct Stats {
        median: Duration,
        p90: Duration,
        rss_kib: u64,
        anon_kib: u64,
        fds: usize,
    }

    fn stats(samples: &[Sample]) -> Stats {
        let mut times: Vec<Duration> = samples.iter().map(|s| s.elapsed).collect();
        times.sort_unstable();
        let mut rss: Vec<u64> = samples.iter().map(|s| s.rss_kib).collect();
        rss.sort_unstable();
        let mut anon: Vec<u64> = samples.iter().map(|s| s.anon_kib).collect();
        anon.sort_unstable();
        Stats {
            median: quantile(&times, 0.5),
            p90: quantile(&times, 0.9),
            rss_kib: quantile(&rss, 0.5),
            anon_kib: quantile(&anon, 0.5),
            fds: samples.first().map_or(0, |s| s.fds),
        }
    }

    fn us(d: Duration) -> String {
        format!("{:.0} µs", d.as_secs_f64() * 1e6)
    }

    fn ratio(a: Duration, b: Duration) -> f64 {
        a.as_secs_f64() / b.as_secs_f64()
    }

    fn verdict(ok: bool) -> &'static str {
        if ok {
            "PASS"
        } else {
            "MISS"
        }
    }

    /// The soft `RLIMIT_NOFILE` the kernel gives a new process.
    const DEFAULT_SOFT: u64 = 1024;

    fn get_nofile() -> (u64, u64) {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
        (lim.rlim_cur, lim.rlim_max)
    }

    fn set_nofile(soft: u64, hard: u64) -> bool {
        let lim = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: setrlimit reads the struct we own.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 }
    }

    fn show_limit(limit: u64) -> String {
        if limit == libc::RLIM_INFINITY {
            "unlimited".into()
        } else {
            limit.to_string()
        }
    }

    /// Builds the programs in release mode and returns their paths.
    fn build() -> Result<Vec<Program>> {
        let cargo = std::env::var_os("CARGO")
            .or_else(|| option_env!("CARGO").map(Into::into))
            .unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(&cargo);
        command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "--release",
                "--message-format=json-render-diagnostics",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::inherit());
        for (name, _) in PROGRAMS {
            command.args(["--example", name]);
        }
        eprintln!("building the benchmarked programs (release): {command:?}");
        let output = command
            .output()
            .map_err(|e| format!("running {}: {e}", cargo.to_string_lossy()))?;
        if !output.status.success() {
            return Err(format!("building the programs failed: {}", output.status));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let executables: Vec<PathBuf> = stdout
            .lines()
            .filter(|line| line.contains(r#""reason":"compiler-artifact""#))
            .filter_map(|line| {
                let rest = &line[line.find(r#""executable":""#)? + r#""executable":""#.len()..];
                Some(PathBuf::from(&rest[..rest.find('"')?]))
            })
            .collect();
        PROGRAMS
            .iter()
            .map(|&(name, label)| {
                let exe = executables
                    .iter()
                    .find(|path| path.file_name().is_some_and(|f| f == name))
                    .ok_or_else(|| format!("cargo reported no executable for {name}"))?;
                Ok(Program {
                    name,
                    label,
                    exe: exe.clone(),
                })
            })
            .collect()
    }

    struct Scenario {
        title: String,
        short: &'static str,
        stats: Vec<Stats>,
    }

    fn scenario_table(out: &mut String, scenario: &Scenario, n: usize, targets: &mut Vec<String>) {
        let s = &scenario.stats;
        let floor = s[FLOOR].median;
        let _ = writeln!(out, "\n### {} ({n} launches each)\n", scenario.title);
        let _ = writeln!(
            out,
            "| program | median | p90 | median / floor | fds open in the daemon |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|");
        for (i, (_, label)) in PROGRAMS.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {label} | {} | {} | {:.2}× | {} |",
                us(s[i].median),
                us(s[i].p90),
                ratio(s[i].median, floor),
                s[i].fds
            );
        }
        let vs_floor = ratio(s[OURS].median, floor);
        let line = format!(
            "{}: daemonizer within {TARGET_VS_FLOOR:.2}× of the floor: {vs_floor:.2}× {}",
            scenario.short,
            verdict(vs_floor <= TARGET_VS_FLOOR)
        );
        let _ = writeln!(out, "\n- {line}");
        targets.push(line);
        // Figures, not targets: the `daemonize` crate's launcher exits before
        // its daemon is ready, and the handshake floor shows what waiting for
        // readiness costs by itself.
        let _ = writeln!(
            out,
            "- figure: daemonizer / `daemonize` crate: {:.2}× ({} vs {})",
            ratio(s[OURS].median, s[PEER].median),
            us(s[OURS].median),
            us(s[PEER].median)
        );
        let _ = writeln!(
        out,
        "- figure: the floor + readiness handshake is {:.2}× the floor; daemonizer is {:.2}× it",
        ratio(s[FLOOR_READY].median, floor),
        ratio(s[OURS].median, s[FLOOR_READY].median)
    );
    }

    /// Each program loaded alone (`STARTUP_LOAD_ONLY`: exec, the C library's
    /// and Rust's start-up, `main` up to its first line, exit), beside the
    /// default scenario's whole start-up: how much of the difference to the
    /// floor is the binary itself rather than the daemon's steps.
    fn loading_table(out: &mut String, loads: &[Vec<Duration>], whole: &[Stats], n: usize) {
        let medians: Vec<Duration> = loads
            .iter()
            .map(|l| {
                let mut sorted = l.clone();
                sorted.sort_unstable();
                quantile(&sorted, 0.5)
            })
            .collect();
        let _ = writeln!(
            out,
            "\n### Loading alone: spawn until exit, before any daemon step ({n} runs each, default limit)\n"
        );
        let _ = writeln!(
            out,
            "| program | loading alone (median) | vs floor | whole start-up (median) | start-up minus loading |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|");
        for (i, (_, label)) in PROGRAMS.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {label} | {} | {:.2}× | {} | {} |",
                us(medians[i]),
                ratio(medians[i], medians[FLOOR]),
                us(whole[i].median),
                us(whole[i].median.saturating_sub(medians[i]))
            );
        }
        let over = whole[OURS].median.saturating_sub(whole[FLOOR].median);
        let loading = medians[OURS].saturating_sub(medians[FLOOR]);
        let _ = writeln!(
            out,
            "\n- figure: of daemonizer's {} over the floor, {} is loading its binary alone",
            us(over),
            us(loading)
        );
    }

    fn kib(n: u64) -> String {
        format!("{n} KiB")
    }

    fn run() -> Result<()> {
        let n = match std::env::var("STARTUP_N") {
            Ok(value) => value
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("STARTUP_N={value:?}: expected a positive number"))?,
            Err(_) => DEFAULT_N,
        };
        let programs = build()?;
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            return Err(os_error("PR_SET_CHILD_SUBREAPER"));
        }
        cloexec_inherited()?;
        let scratch = Scratch::new()?;

        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        // SAFETY: geteuid takes no arguments.
        let euid = unsafe { libc::geteuid() };
        let mut out = String::new();
        let _ = writeln!(out, "## Start-up: `cargo bench --bench startup`\n");
        let _ = writeln!(
            out,
            "Linux {}, {cpus} CPUs, euid {euid}; time from spawn until the launcher has exited \
         and the daemon body runs; scenarios and programs interleaved, {WARMUP} warm-up rounds.",
            kernel.trim()
        );

        let (inherited_soft, hard) = get_nofile();
        // The kernel gives a new process a soft limit of 1024; a shell or a
        // container may have raised it already (to the hard limit, even), which
        // would leave nothing to compare: the default scenarios run at 1024.
        let soft = inherited_soft.min(DEFAULT_SOFT);
        if !set_nofile(soft, hard) {
            return Err(os_error("setting RLIMIT_NOFILE to the default"));
        }
        let nr_open: u64 = fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(hard);
        // As root, try the hard limit too; the kernel refuses without
        // CAP_SYS_RESOURCE (a container may drop it).
        let (highest, how) = if nr_open > hard && set_nofile(nr_open, nr_open) {
            set_nofile(soft, hard);
            (
                nr_open,
                format!("hard limit raised from {} to fs.nr_open", show_limit(hard)),
            )
        } else if nr_open > hard {
            let why = std::io::Error::last_os_error();
            (
                hard,
                format!("the hard limit; raising it to fs.nr_open {nr_open} was refused: {why}"),
            )
        } else {
            (hard, "the hard limit".to_string())
        };
        let limits = Limits {
            default: (soft, hard),
            highest,
        };
        eprintln!(
        "{n} launches per program and scenario; RLIMIT_NOFILE {} by default, {} at the highest ({how})",
        show_limit(soft),
        show_limit(highest)
    );
        let measured = run_all(&programs, &scratch, &limits, n)?;
        let samples = &measured.launches;
        let titles = [
            format!("Default limit (RLIMIT_NOFILE {})", show_limit(soft)),
            format!("{INHERITED_FDS} fds inherited from the launcher"),
            format!(
                "Highest limit (RLIMIT_NOFILE {}: {how})",
                show_limit(highest)
            ),
        ];
        let shorts = ["default limit", "200 inherited fds", "highest limit"];
        let scenarios: Vec<Scenario> = titles
            .into_iter()
            .zip(shorts)
            .zip(samples)
            .map(|((title, short), per_program)| Scenario {
                title,
                short,
                stats: per_program.iter().map(|s| stats(s)).collect(),
            })
            .collect();

        let mut targets = Vec::new();
        for scenario in &scenarios {
            scenario_table(&mut out, scenario, n, &mut targets);
        }

        let _ = writeln!(out, "\n### Highest limit / default limit (median)\n");
        let _ = writeln!(out, "| program | default | highest | ratio |");
        let _ = writeln!(out, "|---|---:|---:|---:|");
        let (first, last) = (&scenarios[0].stats, &scenarios[2].stats);
        for (i, (_, label)) in PROGRAMS.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {label} | {} | {} | {:.2}× |",
                us(first[i].median),
                us(last[i].median),
                ratio(last[i].median, first[i].median)
            );
        }
        let limit_ratio = ratio(last[OURS].median, first[OURS].median);
        let line = format!(
            "daemonizer highest/default limit ≤ {TARGET_LIMIT_RATIO:.2}: {limit_ratio:.2}× {}",
            verdict(limit_ratio <= TARGET_LIMIT_RATIO)
        );
        let _ = writeln!(out, "\n- {line}");
        targets.push(line);

        loading_table(&mut out, &measured.loads, &scenarios[0].stats, n);

        let _ = writeln!(out, "\n### Memory and size\n");
        let _ = writeln!(
        out,
        "| program | VmRSS once ready (median) | vs floor | of which RssAnon | vs floor | release binary | vs floor |"
    );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
        let sizes: Vec<u64> = programs
            .iter()
            .map(|p| fs::metadata(&p.exe).map_or(0, |m| m.len()))
            .collect();
        let rss = &scenarios[0].stats;
        for (i, program) in programs.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {} | {} | {:.2}× | {} | {:.2}× | {} | {:.2}× |",
                program.label,
                kib(rss[i].rss_kib),
                rss[i].rss_kib as f64 / rss[FLOOR].rss_kib.max(1) as f64,
                kib(rss[i].anon_kib),
                rss[i].anon_kib as f64 / rss[FLOOR].anon_kib.max(1) as f64,
                kib(sizes[i].div_ceil(1024)),
                sizes[i] as f64 / sizes[FLOOR].max(1) as f64
            );
        }

        let _ = writeln!(out, "\n### Targets\n");
        for line in &targets {
            let _ = writeln!(out, "- {line}");
        }
        print!("{out}");
        Ok(())
    }

    pub(crate) fn main() {
        if let Err(e) = run() {
            eprintln!("startup benchmark: {e}");
            std::process::exit(1);
        }
    }
}

fn main() {
    #[cfg(target_os = "linux")]
    linux::main();
    #[cfg(not(target_os = "linux"))]
    {
        eprintln!("startup benchmark: Linux only (it reads /proc and waits on pidfds)");
        std::process::exit(1);
    }
}
