//! The platform layer: one place per facility that differs between
//! systems, with each system's implementation beside the others, so that
//! the steps never see a `cfg`.
//!
//! | facility | Linux | FreeBSD | macOS |
//! |---|---|---|---|
//! | [`threads`]: is the process alone? | `unshare(CLONE_VM)`, else `/proc/self/task` | `sysctl` `kern.proc.pid` | `proc_pidinfo` |
//! | [`pipe`]: close-on-exec pipes | `pipe2` | `pipe2` | `pipe` + `FD_CLOEXEC` |
//! | [`signal_fd`]: blocked signals as an fd | `signalfd` | self-pipe | self-pipe |
//! | [`wake`]: a wake-up for waiting threads | eventfd | pipe | pipe |
//!
//! Closing inherited fds (`close_range`, a listing of the open fds, a
//! bounded loop) is in `fds`, the systemd protocols (Linux only) in
//! `notify` and `listen`.
//!
//! Built with `--cfg daemonizer_portable`, Linux takes the POSIX path
//! wherever there is one (a pipe for `pipe2`, a self-pipe for `signalfd`
//! and eventfd, a `/dev/fd` listing for `close_range`), so that the paths
//! the other systems take are tested on Linux too.

pub(crate) mod pipe;
pub(crate) mod signal_fd;
pub(crate) mod threads;
pub(crate) mod wake;
