//! Code shared by the integration tests: a sandbox directory per test,
//! the `scenario` program, and observation of processes through `/proc`.
//!
//! - A test that cannot check its claim here calls [`skip`] (or
//!   [`root_or_skip`]): the skip shows in every log, and under `CI=true` it
//!   is a failure.
//! - [`TempUser`] and [`TempGroup`] create throw-away accounts (names with
//!   this process's PID) and remove them on drop, also when the test fails.
//! - Every wait has a deadline ([`DEADLINE`]): [`finish`] and [`Lines`]
//!   read a child's pipes in threads and fail, naming the processes that
//!   hold a pipe open, rather than hang.
//! - Stress tests print their figures with [`summary`].
//!
//! Nothing here forks the test process: programs are started with
//! `std::process::Command` and observed from outside.
//!
//! One module per concern, all re-exported here so that a test file reads
//! `use common::*;`:
//!
//! | module | what |
//! |---|---|
//! | [`programs`] | the example programs, `scenario` among them |
//! | [`scenario`] | [`Scenario`]: the `scenario` program's options as methods |
//! | [`sandbox`] | [`Sandbox`]: a directory per test, its processes, triggers, snapshots |
//! | [`outcomes`] | [`Outcome`], [`run`], [`start`], [`finish`], [`Lines`] |
//! | [`procfs`] | `/proc/<pid>`: state, status fields, fds, pipes; signals |
//! | [`files`] | the pid file and the facts file |
//! | [`accounts`] | [`TempUser`], [`TempGroup`], [`groups_of`] |
//! | [`waits`] | [`DEADLINE`], [`wait_until`], [`wait_for`] |
//! | [`preconditions`] | root, CI, kernel features; [`skip`] and [`summary`] |

// Each test binary compiles these modules on its own and uses only some of
// their helpers, so what one binary leaves unused is not dead: hence the
// `allow(dead_code)` per module (and `unused_imports` per re-export).
#[allow(dead_code)]
mod accounts;
#[allow(dead_code)]
mod files;
#[allow(dead_code)]
mod outcomes;
#[allow(dead_code)]
mod preconditions;
#[allow(dead_code)]
mod procfs;
#[allow(dead_code)]
mod programs;
#[allow(dead_code)]
mod sandbox;
#[allow(dead_code)]
mod scenario;
#[allow(dead_code)]
mod waits;

#[allow(unused_imports)]
pub(crate) use accounts::*;
#[allow(unused_imports)]
pub(crate) use files::*;
#[allow(unused_imports)]
pub(crate) use outcomes::*;
#[allow(unused_imports)]
pub(crate) use preconditions::*;
#[allow(unused_imports)]
pub(crate) use procfs::*;
#[allow(unused_imports)]
pub(crate) use programs::*;
#[allow(unused_imports)]
pub(crate) use sandbox::*;
#[allow(unused_imports)]
pub(crate) use scenario::*;
#[allow(unused_imports)]
pub(crate) use waits::*;
