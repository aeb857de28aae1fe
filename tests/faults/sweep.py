#!/usr/bin/env python3
"""Fault-injection sweep of the start and stop paths.

Every system call that the runtime makes while a daemon starts (and while
a running daemon stops on SIGTERM) is failed in turn, at each of its first
occurrences, with `strace -f -e inject=<call>:error=<errno>:when=<n>`. The
calls are not listed by hand: a traced run of each configuration finds
them, so the sweep follows the runtime as it changes.

Every start must end in exactly one of two ways:

- complete: the launcher exits 0, the body runs, the pid file names it
  (and a SIGTERM then stops it, leaving no pid file naming it);
- refused: one `cannot start daemon` line, a non-zero status, the body
  never ran, no pid file and no process left;

and never hang. Every stop must end the daemon and leave no pid file that
names it. The control commands run against a daemon started without
faults: `stop` exits 0 only once the daemon is gone and otherwise says why
in one line; `status` never calls a running daemon stopped; a failed
`restart` leaves no new daemon and no PID naming a dead process; `reload`
exits 0 only once SIGHUP reached the daemon's handler, and the daemon lives
on. Last, SIGTERM is sent to the launcher as it enters each of its calls:
it ends the launcher before anything exists, or the start is refused as
interrupted with its daemon killed, and no pid file names a dead process.

The daemon is `tests/faults/target.rs` (the `faults-target` example). It
stops itself (SIGSTOP) right before the start; strace attaches then, so its
per-process call counts begin with the runtime's first call; the body marks
the end of the start with a lookup of a path that never exists.

Usage (as root, for the privilege drop):

    cargo build --example faults-target
    python3 tests/faults/sweep.py [--occurrences N] [--jobs J] [--only TEXT] [--keep]

Prints one line per run that is neither outcome, then a `summary:` line;
exits 1 when any run was inconsistent (other than an expected failure
listed in EXPECTED, which is printed too) or when an expected failure no
longer happens (remove it from the list).
"""

import argparse
import collections
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BODY_MARK = "/nonexistent/daemonizer-faults-body-begins"

# How long any one run may take before it counts as a hang. Generous:
# strace slows every call, and two runs share two cores with whatever else
# runs; a correct run takes a fraction of a second.
RUN_LIMIT = 20.0

# The error each call fails with: one that a real system returns for it
# (see each call's manual page). Calls that are not listed get ENOMEM, which
# nearly every call that reaches the kernel can return.
ERRNO = {
    "read": "EIO",
    "pread64": "EIO",
    "write": "EIO",
    "pwrite64": "ENOSPC",
    "writev": "EIO",
    "ftruncate": "EIO",
    "fsync": "EIO",
    "close": "EIO",
    "poll": "EINTR",
    "ppoll": "EINTR",
    "wait4": "EINTR",
    "waitid": "EINTR",
    "clock_nanosleep": "EINTR",
    "nanosleep": "EINTR",
    "fork": "EAGAIN",
    "vfork": "EAGAIN",
    "clone": "EAGAIN",
    "clone3": "EAGAIN",
    "setsid": "EPERM",
    "setuid": "EAGAIN",
    "setgid": "EPERM",
    "setresuid": "EAGAIN",
    "setresgid": "EPERM",
    "setgroups": "EPERM",
    "unshare": "EPERM",
    "prctl": "EPERM",
    "capset": "EPERM",
    "capget": "EPERM",
    "kill": "EPERM",
    "flock": "ENOLCK",
    # ENOLCK, not EAGAIN: on F_SETLK, EAGAIN means "another process holds
    # the lock", a race the start reports as such, not a fault.
    "fcntl": "ENOLCK",
    "dup2": "EINTR",
    "dup3": "EINTR",
    "unlinkat": "EIO",
    "unlink": "EIO",
    "chdir": "EIO",
    "chroot": "EIO",
    "prlimit64": "EPERM",
    "setrlimit": "EPERM",
    "getdents64": "EIO",
    "sendto": "EAGAIN",
    "sendmsg": "EAGAIN",
    "connect": "EAGAIN",
    "getrandom": "EINTR",
    "sched_yield": None,
}

# Calls that a signal may interrupt on the files the start uses (pipes,
# sockets, waits; not regular files, where EINTR does not happen), failed
# with EINTR too. A start that gives up on EINTR where a retry would do is
# consistent but needless: the sweep lists each one it meets.
EINTR_TOO = {
    "read", "write", "readv", "writev", "close", "wait4", "waitid", "connect",
    "sendto", "sendmsg", "recvmsg", "dup2", "dup3", "getrandom", "epoll_wait",
}

# Calls that cannot fail (their manual pages list no error, or only
# EFAULT for a bad pointer): an injected error would be a value no kernel
# returns. The lookup that marks the body is not the runtime's.
NEVER_FAIL = {
    "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid",
    "getresuid", "getresgid", "getpgid", "getsid", "umask", "exit", "exit_group",
    "rt_sigreturn", "restart_syscall", "set_tid_address", "sched_yield",
    "access",
}

# Calls the sweep does not fail, and why: the C library and the modules it
# loads treat their failure as impossible, and abort.
NOT_INJECTED = {
    "futex": "the C library's locks: a wake cannot fail, and glibc aborts when it does",
    "rseq": "registered by glibc for each new thread; glibc aborts when that fails",
    "rt_sigprocmask": "fails only for invalid arguments; name-service modules assert that it succeeds",
}

# Runs known to end in neither outcome: (configuration prefix, call, errno)
# and the reason. Each is printed on every sweep; an entry that no longer
# matches any inconsistent run fails the sweep until it is removed, so the
# list cannot go stale.
EXPECTED = {
}

# The configurations of a start: mode, privilege drop, signal handlers.
START_CONFIGS = [
    (name, args)
    for mode, mode_args in (("full", []), ("lite", ["--lite"]))
    for drop, drop_args in (("root", []), ("nobody", ["--user", "nobody"]))
    for hand, hand_args in (("", []), ("+handlers", ["--handlers"]))
    for name, args in [(f"start/{mode}/{drop}{hand}", mode_args + drop_args + hand_args)]
] + [
    # Output files: created in the launcher, removed by a failed start.
    (f"start/full/{drop}+output", drop_args + ["--output", "OUTPUT"])
    for drop, drop_args in (("root", []), ("nobody", ["--user", "nobody"]))
] + [
    # A chroot: the pid file's directory is given up before the body runs.
    ("start/full/nobody+chroot", ["--user", "nobody", "--chroot", "CHROOT"]),
]

# The configurations of a stop: SIGTERM ends the daemon from the signal
# handler, or the body watches for it and returns from main.
STOP_CONFIGS = [
    (name, args)
    for mode, mode_args in (("full", []), ("lite", ["--lite"]))
    for drop, drop_args in (("root", []), ("nobody", ["--user", "nobody"]))
    for how, how_args in (("", []), ("+handlers", ["--handlers"]), ("+graceful", ["--graceful"]))
    for name, args in [(f"stop/{mode}/{drop}{how}", mode_args + drop_args + how_args)]
] + [
    ("stop/full/root+chroot", ["--chroot", "CHROOT"]),
]

# The control commands (`Daemon::commands`), each run against a daemon
# started without faults: `stop` must end it or say that it could not, and
# never report success while it runs; `status` must never call a running
# daemon stopped.
CONTROL_CONFIGS = [
    (f"control/{command}/{drop}", drop_args)
    for command in ("stop", "status", "restart")
    for drop, drop_args in (("root", []), ("nobody", ["--user", "nobody"]))
] + [
    # SIGHUP only to a daemon that handles it.
    ("control/reload/root+handlers", ["--handlers"]),
]

# SIGTERM delivered to the launcher as it enters each of its calls in turn
# (`inject=<call>:signal=SIGTERM:when=<n>`, the launcher alone traced): it
# ends the launcher before anything is created, or stops the start and
# kills its daemon (one "interrupted" line), or comes too late to matter.
INTERRUPT_CONFIGS = [
    ("interrupt/full/root", []),
    ("interrupt/full/nobody", ["--user", "nobody"]),
    # Over a stale pid file (a dead PID in it, as `kill -9` leaves): the
    # daemon the launcher kills may have written its PID there, and the
    # file is not this start's to remove.
    ("interrupt/full/nobody+stale", ["--user", "nobody", "STALE"]),
]

SYSCALL_LINE = re.compile(r"^(\d+) +([a-z_0-9]+)\(")
MARK_LINE = re.compile(r"^(\d+) .*" + re.escape(BODY_MARK))


class Sandbox:
    """A directory of one run; every process of the run carries its path in
    its command line, which is how leftovers are found."""

    counter = 0
    lock = threading.Lock()

    def __init__(self, base, label):
        with Sandbox.lock:
            Sandbox.counter += 1
            n = Sandbox.counter
        safe = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")
        self.dir = os.path.join(base, f"{n:05d}-{safe}")
        os.mkdir(self.dir, 0o755)
        self.pidfile = os.path.join(self.dir, "pid")
        self.facts = os.path.join(self.dir, "facts")
        self.stderr = os.path.join(self.dir, "stderr")
        # Beside the directory, not in it: the tracer's command line names
        # this file, and the tracer is no leftover of the run.
        self.trace = self.dir + ".trace"

    def args(self, extra):
        if "STALE" in extra:
            extra = [a for a in extra if a != "STALE"]
            if not os.path.exists(self.pidfile):
                dead = subprocess.Popen(["true"])
                dead.wait()
                with open(self.pidfile, "w") as f:
                    f.write(f"{dead.pid}\n")
        if "CHROOT" in extra:
            os.makedirs(os.path.join(self.dir, "root"), mode=0o755, exist_ok=True)
        places = {"OUTPUT": os.path.join(self.dir, "output"), "CHROOT": os.path.join(self.dir, "root")}
        extra = [places.get(a, a) for a in extra]
        return ["--sandbox", self.dir + "/", "--pidfile", self.pidfile, "--facts", self.facts] + extra

    def processes(self):
        """PIDs of live processes whose command line names this sandbox."""
        tag = (self.dir + "/").encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if tag in f.read():
                        found.append(int(entry))
            except OSError:
                pass
        return found

    def kill_all(self):
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def read(self, path):
        try:
            with open(path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return None

    def body_pid(self):
        pids = self.body_pids()
        return pids[0] if pids else None

    def body_pids(self):
        """Every body that ran, in order."""
        return [int(p) for p in re.findall(r"^pid=(\d+)$", self.read(self.facts) or "", re.M)]

    def remove(self):
        self.kill_all()
        shutil.rmtree(self.dir, ignore_errors=True)
        try:
            os.unlink(self.trace)
        except FileNotFoundError:
            pass


def alive(pid):
    """Whether `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def describe(pids):
    """PIDs with their state and parent, for a report."""
    shown = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            shown.append(f"{pid} (state {fields[0]}, parent {fields[1]}, group {fields[2]})")
        except (OSError, IndexError):
            shown.append(f"{pid} (gone)")
    return ", ".join(shown)


def wait_until(predicate, limit, step=0.005):
    deadline = time.monotonic() + limit
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


def traced(pid):
    """Whether every thread of `pid` has a tracer."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        for task in tasks:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                if not re.search(r"^TracerPid:\s*[1-9]", f.read(), re.M):
                    return False
        return True
    except OSError:
        return False


def stopped(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
    except OSError:
        return False


def strace_attach(pid, trace, inject, follow=True):
    """Starts strace on every thread of `pid` and (with `follow`) its future
    children and waits until it is attached."""
    cmd = ["strace"] + (["-f"] if follow else []) + ["-qq", "-s", "256", "-o", trace, "-p", str(pid)]
    if inject:
        # Injection needs the call traced (trace=none disables it); only
        # that call is printed.
        cmd += ["-e", "trace=" + inject.split(":")[0], "-e", f"inject={inject}"]
    tracer = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    if not wait_until(lambda: traced(pid) or tracer.poll() is not None, RUN_LIMIT):
        tracer.kill()
        raise RuntimeError("strace did not attach")
    if tracer.poll() is not None:
        raise RuntimeError(f"strace ended at once: {tracer.returncode}")
    return tracer


def end_tracer(tracer):
    try:
        tracer.wait(timeout=RUN_LIMIT)
    except subprocess.TimeoutExpired:
        tracer.kill()
        tracer.wait()


class Run:
    """One start (or stop) with at most one injected fault, and what came of
    it."""

    def __init__(self, target, base, config, args, inject=None):
        self.target = target
        self.config = config
        self.inject = inject
        label = config + ("-" + inject.replace(":", "-") if inject else "")
        self.box = Sandbox(base, label)
        self.args = args
        self.problems = []
        self.outcome = None

    def problem(self, text):
        self.problems.append(text)

    def launch(self, pause, command=None, stdout=None, stderr=None):
        err = open(stderr or self.box.stderr, "wb")
        out = open(stdout, "wb") if stdout else subprocess.DEVNULL
        cmd = [self.target] + ([command] if command else [])
        cmd += self.box.args(self.args + (["--pause"] if pause else []))
        try:
            return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=err, start_new_session=True)
        finally:
            err.close()
            if stdout:
                out.close()

    # --- start ---------------------------------------------------------

    def start(self, trace_only=False):
        """A start traced (and faulted) from the runtime's first call on."""
        lite = "--lite" in self.args
        launcher = self.launch(pause=True)
        tracer = None
        try:
            if not wait_until(lambda: stopped(launcher.pid) or launcher.poll() is not None, RUN_LIMIT):
                self.problem("the program never reached the start")
                return
            # A signal goes to the launcher alone: its children are not
            # traced, so their calls are not counted.
            follow = trace_only or not self.config.startswith("interrupt/")
            tracer = strace_attach(launcher.pid, self.box.trace,
                                   None if trace_only else self.inject, follow)
            os.kill(launcher.pid, signal.SIGCONT)
            if lite:
                self.check_lite_start(launcher)
            else:
                self.check_full_start(launcher)
        finally:
            self.clean_up((launcher,), tracer)

    def clean_up(self, procs, tracer):
        """Ends what a run left: its processes (those started), everything
        in its sandbox, and its tracer."""
        for proc in procs:
            if proc is None:
                continue
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.box.kill_all()
        if tracer:
            end_tracer(tracer)

    def refused(self, status):
        lines = (self.box.read(self.box.stderr) or "").splitlines()
        if status == 0:
            self.problem("exit status 0 without a running body")
        if not lines and self.message_write_failed():
            pass  # the fault hit the message itself: there is nothing to see
        elif sum("cannot start daemon" in line for line in lines) != 1 or len(lines) != 1:
            self.problem(f"stderr is not one 'cannot start daemon' line: {lines!r}")
        if self.box.body_pid() is not None:
            self.problem("the body ran")
        left = self.box.read(self.box.pidfile)
        if left == "" and "--lite" in self.args and "--user" in self.args:
            # The process gave up the privileges that unlinking needs, and
            # no other process is left to do it: an empty file is the most
            # it can leave.
            pass
        elif left is not None and "STALE" in self.args:
            if left.strip():
                self.problem(f"the pid file still names a process: {left!r}")
        elif left is not None:
            self.problem(f"pid file left: {left!r}")
        others = set(os.listdir(self.box.dir)) - {"facts", "stderr", "pid", "root"}
        if "--lite" in self.args and "--user" in self.args and ".pid.lock" in others:
            # The lock file stays when a daemon ends (nobody may remove it
            # while a daemon could hold it); a failed start removes one it
            # made, unless, as above, it gave up the privileges for that.
            if self.box.read(os.path.join(self.box.dir, ".pid.lock")) == "":
                others.discard(".pid.lock")
        if others:
            self.problem(f"files left: {sorted(others)}")
        # Checked at once: the launcher returns only once its daemon is
        # gone (a zombie waiting for its reaper has no command line).
        left = self.box.processes()
        if left:
            self.problem(f"processes left when the launcher exited: {describe(left)}")
        self.outcome = "refused"

    def message_write_failed(self, text="cannot start daemon"):
        """Whether the injected fault was the write of the message holding
        `text` (strace marks injected calls)."""
        trace = self.box.read(self.box.trace) or ""
        return any(text in line and "(INJECTED)" in line and re.match(r"^\d+ +write\(", line)
                   for line in trace.splitlines())

    def ended_by_signal(self):
        """The launcher ended by the signal, before it blocked signals: it
        had created nothing yet."""
        if self.box.body_pid() is not None:
            self.problem("the launcher was ended by SIGTERM, yet the body ran")
        if os.path.exists(self.box.pidfile) and "STALE" not in self.args:
            self.problem(f"the launcher was ended by SIGTERM; pid file left: "
                         f"{self.box.read(self.box.pidfile)!r}")
        left = self.box.processes()
        if left:
            self.problem(f"the launcher was ended by SIGTERM; processes left: {describe(left)}")
        self.outcome = "ended by the signal"

    def completed(self, pid):
        text = self.box.read(self.box.pidfile)
        if text != f"{pid}\n":
            self.problem(f"pid file holds {text!r}, not the body's PID {pid}")
        lines = (self.box.read(self.box.stderr) or "").splitlines()
        if any("cannot start daemon" in line for line in lines):
            self.problem(f"a running daemon, yet: {lines!r}")
        self.outcome = "complete"

    def stop_and_check(self, pid):
        """SIGTERM, then the daemon must be gone and the file must not name it."""
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            self.problem(f"the daemon {pid} died on its own")
            return
        if not wait_until(lambda: not alive(pid), RUN_LIMIT):
            self.problem(f"SIGTERM did not stop the daemon {pid}")
            return
        text = self.box.read(self.box.pidfile)
        if text is not None and text.strip():
            self.problem(f"after the stop the pid file still holds {text!r}")

    def check_full_start(self, launcher):
        try:
            status = launcher.wait(timeout=RUN_LIMIT)
        except subprocess.TimeoutExpired:
            self.problem("hang: the launcher did not exit")
            self.outcome = "hang"
            return
        if status == -signal.SIGTERM and self.config.startswith("interrupt/"):
            self.ended_by_signal()
            return
        if status != 0:
            self.refused(status)
            return
        if not wait_until(lambda: self.box.body_pid() is not None, RUN_LIMIT):
            self.problem("exit status 0, but the body never ran")
            self.outcome = "lie"
            return
        pid = self.box.body_pid()
        if not alive(pid):
            self.problem(f"exit status 0, but the daemon {pid} is gone")
        self.completed(pid)
        self.stop_and_check(pid)

    def check_lite_start(self, proc):
        def settled():
            return proc.poll() is not None or self.box.body_pid() is not None

        if not wait_until(settled, RUN_LIMIT):
            self.problem("hang: neither a running body nor an exit")
            self.outcome = "hang"
            return
        if self.box.body_pid() is None:
            self.refused(proc.wait())
            return
        pid = self.box.body_pid()
        if pid != proc.pid:
            self.problem(f"the body runs as {pid}, not as the started process {proc.pid}")
        if proc.poll() is not None:
            self.problem(f"the body ran, then the process exited with {proc.returncode}")
        self.completed(pid)
        self.stop_and_check(pid)

    # --- stop ----------------------------------------------------------

    def stop(self, trace_only=False):
        """A daemon started without faults, then traced (and faulted) from
        just before SIGTERM on."""
        lite = "--lite" in self.args
        launcher = self.launch(pause=False)
        tracer = None
        try:
            pid = self.started_cleanly(launcher, lite)
            tracer = strace_attach(pid, self.box.trace, None if trace_only else self.inject)
            os.kill(pid, signal.SIGTERM)
            if not wait_until(lambda: not alive(pid), RUN_LIMIT):
                self.problem(f"hang: SIGTERM did not end the daemon {pid}")
                self.outcome = "hang"
                return
            text = self.box.read(self.box.pidfile)
            if text is not None and text.strip():
                self.problem(f"the daemon is gone, the pid file still holds {text!r}")
            if lite and launcher.wait(timeout=RUN_LIMIT) < 0:
                self.problem(f"the process ended by signal {-launcher.returncode}")
            self.outcome = "stopped"
        finally:
            self.clean_up((launcher,), tracer)

    def started_cleanly(self, launcher, lite):
        """The body's PID of a daemon started without faults (lite: the
        launcher is the daemon; full: the launcher exits 0 first); a start
        that fails here is the sweep's own error, not a finding."""
        if lite:
            ok = wait_until(lambda: self.box.body_pid() is not None or launcher.poll() is not None,
                            RUN_LIMIT)
        else:
            try:
                ok = launcher.wait(timeout=RUN_LIMIT) == 0
            except subprocess.TimeoutExpired:
                ok = False
            ok = ok and wait_until(lambda: self.box.body_pid() is not None, RUN_LIMIT)
        pid = self.box.body_pid()
        if not ok or pid is None or not alive(pid):
            raise RuntimeError(f"{self.config}: the daemon did not start without faults")
        return pid

    # --- control commands ------------------------------------------------

    def control(self, trace_only=False):
        """A daemon started without faults (`start` command), then a
        control command traced (and faulted) from its first call on."""
        command = self.config.split("/")[1]
        launcher = self.launch(pause=False, command="start")
        ctl = tracer = None
        try:
            pid = self.started_cleanly(launcher, lite=False)
            out_path = os.path.join(self.box.dir, "ctl-stdout")
            err_path = os.path.join(self.box.dir, "ctl-stderr")
            ctl = self.launch(pause=True, command=command, stdout=out_path, stderr=err_path)
            if not wait_until(lambda: stopped(ctl.pid) or ctl.poll() is not None, RUN_LIMIT):
                self.problem("the command never reached the start")
                return
            tracer = strace_attach(ctl.pid, self.box.trace, None if trace_only else self.inject)
            os.kill(ctl.pid, signal.SIGCONT)
            try:
                code = ctl.wait(timeout=RUN_LIMIT)
            except subprocess.TimeoutExpired:
                self.problem(f"hang: {command} did not return")
                self.outcome = "hang"
                return
            out = (self.box.read(out_path) or "").splitlines()
            err = (self.box.read(err_path) or "").splitlines()
            said = out + err
            if any("panicked" in line for line in err):
                self.problem(f"{command} panicked: {err!r}")
            if command == "stop":
                self.check_stop_command(pid, code, said)
            elif command == "restart":
                self.check_restart_command(pid, code, said)
            elif command == "reload":
                self.check_reload_command(pid, code, said)
            else:
                self.check_status_command(pid, code, said)
        finally:
            self.clean_up((launcher, ctl), tracer)

    def check_stop_command(self, pid, code, said):
        if code == 0:
            # The lock goes with the daemon's files, a moment before the
            # process is gone.
            if not wait_until(lambda: not alive(pid), 1.0):
                self.problem(f"stop reported success ({said!r}) while the daemon {pid} runs")
            elif not any("stopped" in line or "killed" in line for line in said) \
                    and not self.message_write_failed("stopped"):
                self.problem(f"stop succeeded without saying so: {said!r}")
            text = self.box.read(self.box.pidfile)
            if text is not None and text.strip() == str(pid):
                self.problem(f"after the stop the pid file still names {pid}")
            self.outcome = "stopped"
        else:
            if len(said) != 1 and not (not said and self.message_write_failed("stop")):
                self.problem(f"a failed stop (status {code}) does not say why in one line: {said!r}")
            self.outcome = "stop refused" if alive(pid) else "stop failed, daemon gone"

    def check_restart_command(self, old, code, said):
        if code == 0:
            if not wait_until(lambda: len(self.box.body_pids()) > 1, RUN_LIMIT):
                self.problem(f"restart exited 0, but no new body ran: {said!r}")
                return
            new = self.box.body_pids()[-1]
            if alive(old):
                self.problem(f"restart exited 0 while the old daemon {old} runs")
            if not alive(new):
                self.problem(f"restart exited 0, but the new daemon {new} is gone")
            if not any(f"restarted as PID {new}" in line for line in said) \
                    and not self.message_write_failed("restarted"):
                self.problem(f"restart succeeded without naming PID {new}: {said!r}")
            text = self.box.read(self.box.pidfile)
            if text != f"{new}\n":
                self.problem(f"after the restart the pid file holds {text!r}, not {new}")
            self.outcome = "restarted"
            return
        if not said and not self.message_write_failed(""):
            self.problem(f"restart failed (status {code}) without saying why")
        if len(self.box.body_pids()) > 1:
            self.problem(f"restart failed (status {code}), yet a new body ran: {said!r}")
        left = [p for p in self.box.processes() if p != old]
        if left:
            self.problem(f"restart failed, processes left: {describe(left)}")
        text = self.box.read(self.box.pidfile)
        if text and text.strip() and not alive(int(text.strip())):
            self.problem(f"restart failed, the pid file names the dead PID {text.strip()}")
        self.outcome = "restart refused" if alive(old) else "restart failed after the stop"

    def check_reload_command(self, pid, code, said):
        hup = lambda: "hup=1" in (self.box.read(self.box.facts) or "")
        if code == 0:
            if not wait_until(hup, RUN_LIMIT):
                self.problem(f"reload exited 0, but the handler never ran: {said!r}")
            if not any("reloading" in line for line in said) \
                    and not self.message_write_failed("reloading"):
                self.problem(f"reload succeeded without saying so: {said!r}")
        elif code == 7:
            self.problem(f"reload says not running ({said!r}) while the daemon {pid} runs")
        elif len(said) != 1 and not (not said and self.message_write_failed("reload")):
            self.problem(f"a failed reload (status {code}) does not say why in one line: {said!r}")
        if not alive(pid):
            self.problem(f"the daemon {pid} did not survive the reload")
        self.outcome = f"reload {code}"

    def check_status_command(self, pid, code, said):
        running = alive(pid)
        if code == 0:
            if not any(f"running as PID {pid}" in line for line in said) \
                    and not self.message_write_failed(f"running as PID {pid}"):
                self.problem(f"status 0 without naming PID {pid}: {said!r}")
        elif code in (1, 3):
            if running:
                self.problem(f"status {code} ({said!r}) while the daemon {pid} runs")
        elif code == 4:
            if len(said) != 1 and not (not said and self.message_write_failed("status unknown")):
                self.problem(f"status unknown without one line saying why: {said!r}")
        else:
            self.problem(f"status exited {code}: {said!r}")
        self.outcome = f"status {code}"

    def execute(self, trace_only=False):
        if self.config.startswith(("start/", "interrupt/")):
            self.start(trace_only)
        elif self.config.startswith("control/"):
            self.control(trace_only)
        else:
            self.stop(trace_only)
        return self


def count_calls(trace, cut_at_mark, first_only=False):
    """Calls per name: the largest count in any one process (strace counts
    per process), up to the body's mark when `cut_at_mark`; of the first
    process alone (the launcher) when `first_only`."""
    per_pid = collections.defaultdict(collections.Counter)
    done = set()
    first = None
    with open(trace) as f:
        for line in f:
            pid = line.split(" ", 1)[0]
            first = first or pid
            if first_only and pid != first:
                continue
            m = MARK_LINE.match(line)
            if m and cut_at_mark:
                done.add(m.group(1))
                continue
            m = SYSCALL_LINE.match(line)
            if m and m.group(1) not in done:
                per_pid[m.group(1)][m.group(2)] += 1
    most = collections.Counter()
    for counts in per_pid.values():
        for call, n in counts.items():
            most[call] = max(most[call], n)
    return most


def discover(target, base, config, args):
    """The calls a configuration makes, from a traced run without faults
    (the largest count of three runs: timing varies the count of a few)."""
    most = collections.Counter()
    for _ in range(3):
        run = Run(target, base, config, args).execute(trace_only=True)
        if run.problems:
            raise RuntimeError(f"{config}: a run without faults failed: {run.problems}")
        counts = count_calls(run.box.trace, cut_at_mark=config.startswith("start/"),
                             first_only=config.startswith("interrupt/"))
        for call, n in counts.items():
            most[call] = max(most[call], n)
        run.box.remove()
    return most


def expected(config, call, errno):
    for key, reason in EXPECTED.items():
        if config.startswith(key[0]) and (call, errno) == key[1:]:
            return key, reason
    return None, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default=os.path.join(ROOT, "target/debug/examples/faults-target"))
    parser.add_argument("--occurrences", type=int, default=0,
                        help="fail each call at each of its first N occurrences only "
                             "(default: at every occurrence)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", default="", help="only configurations whose name contains this")
    parser.add_argument("--keep", action="store_true", help="keep the sandboxes of inconsistent runs")
    opts = parser.parse_args()

    if shutil.which("strace") is None:
        sys.exit("sweep: strace is not installed (apt-get install strace)")
    if not os.path.exists(opts.target):
        sys.exit(f"sweep: {opts.target} is missing (cargo build --example faults-target)")
    configs = START_CONFIGS + STOP_CONFIGS + CONTROL_CONFIGS + INTERRUPT_CONFIGS
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            sys.exit("sweep: needs root (privilege drop) under CI=true")
        print("sweep: not root: skipping the configurations with a privilege drop or a chroot")
        configs = [c for c in configs if "/nobody" not in c[0] and "chroot" not in c[0]]
    configs = [c for c in configs if opts.only in c[0]]

    began = time.monotonic()
    base = tempfile.mkdtemp(prefix=f"daemonizer-faults-{os.getpid()}-")
    os.chmod(base, 0o755)
    try:
        plan = []
        covered = set()
        for config, args in configs:
            calls = discover(opts.target, base, config, args)
            for call, count in sorted(calls.items()):
                if call in NEVER_FAIL or call in NOT_INJECTED:
                    continue
                errnos = [ERRNO.get(call) or "ENOMEM"]
                if call in EINTR_TOO and "EINTR" not in errnos:
                    errnos.append("EINTR")
                if config.startswith("interrupt/"):
                    errnos = ["SIGTERM"]
                covered.add(call)
                last = min(count, opts.occurrences) if opts.occurrences else count
                for errno in errnos:
                    for n in range(1, last + 1):
                        plan.append((config, args, call, errno, n))
        for call, why in sorted(NOT_INJECTED.items()):
            print(f"sweep: not injected: {call}: {why}")
        print(f"sweep: {len(plan)} runs over {len(configs)} configurations, "
              f"{len(covered)} calls: {' '.join(sorted(covered))}", flush=True)

        results = []

        def one(item):
            config, args, call, errno, n = item
            how = "signal" if errno.startswith("SIG") else "error"
            run = Run(opts.target, base, config, args, f"{call}:{how}={errno}:when={n}")
            try:
                run.execute()
            except Exception as e:  # a broken harness is a failed run too
                run.problem(f"harness: {e}")
            if not (run.problems and opts.keep):
                run.box.remove()
            return item, run

        with concurrent.futures.ThreadPoolExecutor(max_workers=opts.jobs) as pool:
            for item, run in pool.map(one, plan):
                results.append((item, run))

        given_up = collections.Counter()
        for (config, _, call, errno, n), run in results:
            if errno == "EINTR" and run.outcome == "refused" and not run.problems:
                given_up[call] += 1
        if given_up:
            print("sweep: refused on one EINTR, where a retry would have done: "
                  + ", ".join(f"{call} ({n} runs)" for call, n in sorted(given_up.items())))
        consistent = 0
        failures = 0
        expected_seen = collections.Counter()
        outcomes = collections.Counter()
        for (config, _, call, errno, n), run in results:
            outcomes[run.outcome or "broken"] += 1
            what = f"{config} {call}:{errno}:when={n}"
            if not run.problems:
                consistent += 1
                continue
            key, reason = expected(config, call, errno)
            if key:
                expected_seen[key] += 1
                print(f"expected failure {what}: {reason}: {'; '.join(run.problems)}")
            else:
                failures += 1
                print(f"INCONSISTENT {what}: {'; '.join(run.problems)}"
                      + (f" (kept in {run.box.dir})" if opts.keep else ""))
        for key, reason in EXPECTED.items():
            swept = any(config.startswith(key[0]) and (call, errno) == key[1:]
                        for (config, _, call, errno, _), _ in results)
            if swept and not expected_seen[key]:
                failures += 1
                print(f"FIXED {key}: listed as an expected failure ({reason}), "
                      "yet every run was consistent: remove it from EXPECTED")
        elapsed = time.monotonic() - began
        shown = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        print(f"summary: fault sweep: {len(results)} runs, {consistent} consistent, "
              f"{sum(expected_seen.values())} expected failures, {failures} failures; "
              f"{len(covered)} calls covered in {len(configs)} configurations "
              f"({shown}); {elapsed:.0f} s")
        return 1 if failures else 0
    finally:
        if not opts.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
