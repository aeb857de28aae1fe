//! Step 3, detach: fork, `setsid`, fork. The daemon ends up in a session of
//! its own that it does not lead, so it can never acquire a controlling
//! terminal, and the launcher (the caller's process) waits for it.
//!
//! The first child lives for two system calls: `setsid` and the fork of the
//! daemon. Where it can, it borrows the launcher's memory for them (a
//! `vfork`, the launcher held until the first child exits), so the
//! launcher's address space is copied once, for the daemon, instead of
//! twice; the copy is the dearest part of a start. That needs a few lines
//! of assembly and knowledge of glibc, so it is done on x86-64 Linux with
//! glibc only. Everywhere else, and wherever `vfork` is refused (a seccomp
//! filter), two plain forks do the same.

use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::unistd::{fork, setsid, ForkResult, Pid};

use crate::error::{Error, Result, Step};
use crate::readiness;

/// Where [`detach`] returns.
pub(crate) enum Hop {
    /// In the launcher: `child` is the first child (the daemon's parent),
    /// which has exited or is about to, and is not reaped yet.
    Launcher { child: Pid },
    /// In the daemon.
    Daemon,
}

/// Creates the daemon. On failure nothing was created: the error is
/// returned in the launcher. A failure in the first child of the plain
/// forks is reported through `channel`, where the launcher reads it.
///
/// # Safety
/// The process must have one thread and all signals blocked but SIGKILL
/// and SIGSTOP: the first child then runs no signal handler and takes no
/// lock that another thread could hold.
pub(crate) unsafe fn detach(channel: &OwnedFd) -> Result<Hop> {
    #[cfg(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu"))]
    // SAFETY: the caller's promise, passed on.
    if let Some(hop) = unsafe { shared::detach()? } {
        return Ok(hop);
    }
    // SAFETY: the caller's promise, passed on.
    unsafe { two_forks(channel) }
}

/// Two plain forks.
///
/// # Safety
/// As for [`detach`].
unsafe fn two_forks(channel: &OwnedFd) -> Result<Hop> {
    // SAFETY: one thread, so the child may run any code: no lock can be
    // held by a thread that does not exist in it.
    match unsafe { fork() }.map_err(|e| Error::os(Step::Detach, "fork", e))? {
        ForkResult::Parent { child } => return Ok(Hop::Launcher { child }),
        ForkResult::Child => {}
    }
    let outcome = setsid()
        .map_err(|e| Error::os(Step::Detach, "setsid", e))
        .and_then(|_| {
            // SAFETY: still one thread, as above.
            unsafe { fork() }.map_err(|e| Error::os(Step::Detach, "second fork", e))
        });
    match outcome {
        Ok(ForkResult::Child) => Ok(Hop::Daemon),
        Ok(ForkResult::Parent { .. }) => {
            // SAFETY: the session leader leaves at once, running nothing of
            // the parent's (no exit hooks, no flushes).
            unsafe { libc::_exit(0) }
        }
        Err(e) => {
            readiness::report_error(channel, &e);
            // SAFETY: as above.
            unsafe { libc::_exit(i32::from(e.exit_code())) }
        }
    }
}

/// The first hop in the launcher's memory.
#[cfg(all(target_os = "linux", target_arch = "x86_64", target_env = "gnu"))]
mod shared {
    use super::*;

    /// What the first child leaves in the launcher's memory when it fails.
    #[repr(C)]
    struct Outcome {
        /// 0: no failure; 1: `setsid`; 2: the fork of the daemon.
        failed: libc::c_int,
        errno: libc::c_int,
    }

    /// `vfork` returns here in the launcher with the first child's PID once
    /// that child has exited, in the first child with 0 (which then calls
    /// [`first_child`]), and in the daemon with 0 again, from
    /// `first_child`. `-errno` if `vfork` failed.
    ///
    /// # Safety
    /// One thread, signals blocked (see [`super::detach`]); `outcome` valid
    /// for writes.
    unsafe fn vfork_then_first_child(outcome: *mut Outcome) -> isize {
        let rc: isize;
        // SAFETY: `vfork` (syscall 58) suspends the launcher until the
        // child exits; the child runs on the launcher's stack, below its
        // stack pointer: the block is not `nostack`, so the compiler keeps
        // nothing there. The child only calls `first_child`, which never
        // returns in the first child (it exits) and returns 0 in the daemon,
        // a process of its own from the fork, whose registers the fork
        // preserved as `first_child`'s caller left them. The syscall
        // clobbers rcx and r11 and the call clobbers what the C ABI lets
        // it: `clobber_abi("C")` covers both. The launcher resumes with its
        // own registers; memory the child wrote is `*outcome` (declared:
        // asm may write what its pointer operands reach) and its stack
        // below the block's.
        unsafe {
            std::arch::asm!(
                "mov eax, 58",
                "syscall",
                "test rax, rax",
                "jnz 2f",
                "call rsi",
                "xor eax, eax",
                "2:",
                in("rdi") outcome,
                in("rsi") first_child as extern "C" fn(*mut Outcome) -> libc::c_int,
                lateout("rax") rc,
                clobber_abi("C"),
            );
        }
        rc
    }

    /// The first child, in the launcher's memory: `setsid`, then glibc's
    /// `fork` (which sets up the daemon's thread data as any fork does).
    /// Exits, but in the daemon, where it returns 0. It writes nothing of
    /// the launcher's but `*outcome` and, through `fork`, glibc's fork
    /// bookkeeping, which `fork` restores before it returns: its prepare
    /// and parent `pthread_atfork` handlers run here, once.
    extern "C" fn first_child(outcome: *mut Outcome) -> libc::c_int {
        let failed = |step: libc::c_int| -> ! {
            // SAFETY: `outcome` is the launcher's, valid and not read before
            // this process exits; `_exit` runs nothing of the launcher's.
            unsafe {
                (*outcome).errno = Errno::last_raw();
                (*outcome).failed = step;
                libc::_exit(1)
            }
        };
        // SAFETY: plain system calls; see above for fork.
        unsafe {
            if libc::setsid() < 0 {
                failed(1);
            }
            match libc::fork() {
                0 => 0,
                -1 => failed(2),
                _ => libc::_exit(0),
            }
        }
    }

    /// The first hop by `vfork`; `None` if `vfork` was refused.
    ///
    /// # Safety
    /// As for [`super::detach`].
    pub(super) unsafe fn detach() -> Result<Option<Hop>> {
        let rseq = Rseq::of_this_thread();
        let mut outcome = Outcome {
            failed: 0,
            errno: 0,
        };
        // SAFETY: the caller's promise; `outcome` is a live local.
        let rc = unsafe { vfork_then_first_child(&mut outcome) };
        if rc == 0 {
            if let Some(rseq) = rseq {
                rseq.register();
            }
            return Ok(Some(Hop::Daemon));
        }
        if rc < 0 {
            log::debug!(
                "detach: vfork refused ({}); forking",
                Errno::from_raw(-rc as i32)
            );
            return Ok(None);
        }
        let child = Pid::from_raw(rc as i32);
        if outcome.failed != 0 {
            readiness::reap(child);
            let what = if outcome.failed == 1 {
                "setsid"
            } else {
                "second fork"
            };
            return Err(Error::os(
                Step::Detach,
                what,
                Errno::from_raw(outcome.errno),
            ));
        }
        Ok(Some(Hop::Launcher { child }))
    }

    /// glibc (2.35 and later) registers a restartable-sequences area for
    /// each thread. The kernel forgets the registration in a child that
    /// shares its parent's memory, as the first child does, and so in that
    /// child's fork too: the daemon registers glibc's area again, or code
    /// relying on it (`sched_getcpu`, per-CPU caches of some allocators)
    /// would read stale data.
    struct Rseq {
        area: usize,
        len: u32,
    }

    /// The signature glibc registers on x86-64 (`RSEQ_SIG`).
    const RSEQ_SIG: u32 = 0x5305_3053;
    /// The smallest length the kernel accepts.
    const RSEQ_MIN_LEN: u32 = 32;

    impl Rseq {
        /// The area glibc registered for this thread, if any.
        fn of_this_thread() -> Option<Rseq> {
            // SAFETY: dlsym with valid C strings; the symbols, where they
            // exist, are glibc's exported `unsigned int __rseq_size` (0 if
            // nothing is registered) and `ptrdiff_t __rseq_offset`.
            let (size, offset) = unsafe {
                let size = libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_size".as_ptr());
                let offset = libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_offset".as_ptr());
                if size.is_null() || offset.is_null() {
                    return None;
                }
                (*size.cast::<libc::c_uint>(), *offset.cast::<isize>())
            };
            if size == 0 {
                return None;
            }
            let thread_pointer: usize;
            // SAFETY: on x86-64 glibc the thread control block starts with
            // a pointer to itself, at %fs:0; the area is `offset` from it.
            unsafe {
                std::arch::asm!(
                    "mov {}, qword ptr fs:0",
                    out(reg) thread_pointer,
                    options(nostack, readonly, preserves_flags),
                );
            }
            Some(Rseq {
                area: thread_pointer.wrapping_add_signed(offset),
                len: size.max(RSEQ_MIN_LEN),
            })
        }

        /// Registers the area for the calling thread.
        fn register(&self) {
            let mut len = self.len;
            loop {
                // SAFETY: the area is glibc's, in this thread's control
                // block, alive as long as the thread.
                let rc = unsafe { libc::syscall(libc::SYS_rseq, self.area, len, 0, RSEQ_SIG) };
                let err = Errno::last();
                if rc == 0 || err == Errno::EBUSY {
                    return;
                }
                if err == Errno::EINVAL && len != RSEQ_MIN_LEN {
                    // glibc may register less than it exports as size.
                    len = RSEQ_MIN_LEN;
                    continue;
                }
                log::warn!("detach: cannot register glibc's rseq area again: {err}");
                return;
            }
        }
    }
}
