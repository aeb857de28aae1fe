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
//! glibc only. Everywhere else, wherever `vfork` is refused or faked (a
//! seccomp filter), and where a restartable-sequences area that glibc does
//! not own is registered (the daemon could not register it again), two
//! plain forks do the same.

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
        // The session leader watches the daemon until it is ready, then
        // leaves, running nothing of the parent's.
        Ok(ForkResult::Parent { child }) => crate::report::watch(channel, child),
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

    /// Shared by the launcher and the first child, in the launcher's memory.
    #[repr(C)]
    struct Outcome {
        /// The launcher's PID, for the first child to make sure it is not
        /// the launcher (a sandbox may fake a successful `vfork`).
        launcher: libc::pid_t,
        /// Set by the first child: 0, no failure; 1, `setsid`; 2, the fork
        /// of the daemon.
        failed: libc::c_int,
        errno: libc::c_int,
    }

    /// Returned by [`first_child`] in a process that turns out to be the
    /// launcher itself.
    const NOT_A_CHILD: libc::c_int = -libc::ENOSYS;

    /// `vfork` returns here in the launcher with the first child's PID once
    /// that child has exited, and in the first child with 0, which then
    /// calls [`first_child`]. That call returns in the daemon only, with 0.
    /// `-errno` if `vfork` failed, or [`NOT_A_CHILD`].
    ///
    /// # Safety
    /// One thread, signals blocked (see [`super::detach`]); `outcome` valid
    /// for reads and writes.
    unsafe fn vfork_then_first_child(outcome: *mut Outcome) -> isize {
        let rc: isize;
        // SAFETY: `vfork` (syscall 58) suspends the launcher until the
        // child exits; the child runs on the launcher's stack, below its
        // stack pointer: the block is not `nostack`, so the compiler keeps
        // nothing there (no red zone) and the stack is aligned for a call.
        // The child only calls `first_child`, which never returns in the
        // first child (it exits) and returns 0 in the daemon, a process of
        // its own from the fork, whose registers the fork preserved as
        // `first_child`'s caller left them. The syscall clobbers rcx and r11
        // and the call clobbers what the C ABI lets it: `clobber_abi("C")`
        // covers both. The launcher resumes with its own registers; memory
        // the child wrote is `*outcome` (declared: asm may write what its
        // pointer operands reach) and its stack below the block's.
        unsafe {
            std::arch::asm!(
                "mov eax, 58",
                "syscall",
                "test rax, rax",
                "jnz 2f",
                "call rsi",
                "movsxd rax, eax",
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
    /// bookkeeping, which `fork` restores before it returns. The prepare
    /// and parent `pthread_atfork` handlers run here, once: what they do
    /// to memory the launcher sees, what they do in the kernel (an fd
    /// opened) ends with this process.
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
        // SAFETY: plain system calls; see above for fork. `outcome` is
        // valid for reads.
        unsafe {
            if libc::syscall(libc::SYS_getpid) == libc::c_long::from((*outcome).launcher) {
                return NOT_A_CHILD;
            }
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

    /// The first hop by `vfork`; `None` where it cannot be used: `vfork`
    /// refused, or a restartable-sequences area registered that the daemon
    /// could not register again.
    ///
    /// # Safety
    /// As for [`super::detach`].
    pub(super) unsafe fn detach() -> Result<Option<Hop>> {
        let Some(rseq) = Rseq::plan() else {
            log::debug!("detach: an rseq area of unknown owner is registered; forking");
            return Ok(None);
        };
        let mut outcome = Outcome {
            launcher: nix::unistd::getpid().as_raw(),
            failed: 0,
            errno: 0,
        };
        // SAFETY: the caller's promise; `outcome` is a live local.
        let rc = unsafe { vfork_then_first_child(&mut outcome) };
        if rc == 0 {
            if let Some(area) = rseq {
                area.register();
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
    /// The smallest length the kernel accepts, and the alignment it wants.
    const RSEQ_MIN_LEN: u32 = 32;
    /// `rseq` flag: unregister.
    const RSEQ_FLAG_UNREGISTER: libc::c_int = 1;
    /// `cpu_id` values glibc uses: before registration, after a failed one.
    const RSEQ_CPU_ID_UNINITIALIZED: i32 = -1;
    const RSEQ_CPU_ID_REGISTRATION_FAILED: i32 = -2;

    /// The start of the kernel's `struct rseq`, as laid out in the area.
    #[repr(C, align(32))]
    struct Area {
        cpu_id_start: u32,
        cpu_id: i32,
        rseq_cs: u64,
        flags: u32,
        rest: [u32; 3],
    }

    /// The `rseq` system call.
    ///
    /// # Safety
    /// Once registered, the kernel writes into `area` until it is
    /// unregistered or the thread ends: it must stay alive and writable
    /// that long.
    unsafe fn rseq_syscall(
        area: *mut Area,
        len: u32,
        flags: libc::c_int,
        sig: u32,
    ) -> std::result::Result<(), Errno> {
        // SAFETY: the caller's promise.
        let rc = unsafe { libc::syscall(libc::SYS_rseq, area, len, flags, sig) };
        if rc == 0 {
            Ok(())
        } else {
            Err(Errno::last())
        }
    }

    impl Rseq {
        /// What the daemon must register again: `Some(Some(area))`, glibc's
        /// area; `Some(None)`, nothing (none is registered, or the kernel
        /// has no rseq); `None`, an area glibc does not own is registered
        /// (a library's), which the daemon could not restore.
        fn plan() -> Option<Option<Rseq>> {
            if let Some(glibc) = Rseq::of_glibc() {
                return Some(Some(glibc));
            }
            // Is anything registered? Registering a probe area succeeds
            // only if nothing is; it is unregistered at once.
            let mut probe = Area {
                cpu_id_start: 0,
                cpu_id: RSEQ_CPU_ID_UNINITIALIZED,
                rseq_cs: 0,
                flags: 0,
                rest: [0; 3],
            };
            // SAFETY: `probe` is aligned, writable and alive until it is
            // unregistered, below.
            match unsafe { rseq_syscall(&mut probe, RSEQ_MIN_LEN, 0, RSEQ_SIG) } {
                Ok(()) => {
                    // SAFETY: the same area, length and signature.
                    let gone = unsafe {
                        rseq_syscall(&mut probe, RSEQ_MIN_LEN, RSEQ_FLAG_UNREGISTER, RSEQ_SIG)
                    };
                    // Still registered, the probe would outlive this frame.
                    gone.is_ok().then_some(None)
                }
                Err(Errno::ENOSYS) => Some(None),
                Err(_) => None,
            }
        }

        /// The area glibc registered for this thread, if any.
        fn of_glibc() -> Option<Rseq> {
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

        /// Registers the area for the calling thread, reset first as glibc
        /// does; on failure its `cpu_id` says so, as glibc's does.
        fn register(&self) {
            let area = self.area as *mut Area;
            // SAFETY: the area is glibc's, in this thread's control block,
            // aligned and alive as long as the thread; no critical section
            // runs now, so nothing reads it meanwhile.
            unsafe {
                std::ptr::addr_of_mut!((*area).cpu_id).write_volatile(RSEQ_CPU_ID_UNINITIALIZED);
                std::ptr::addr_of_mut!((*area).rseq_cs).write_volatile(0);
                std::ptr::addr_of_mut!((*area).flags).write_volatile(0);
            }
            // SAFETY: glibc's area, as above, for this thread's life.
            let mut result = unsafe { rseq_syscall(area, self.len, 0, RSEQ_SIG) };
            if result == Err(Errno::EINVAL) && self.len != RSEQ_MIN_LEN {
                // glibc may register less than it exports as size.
                // SAFETY: as above.
                result = unsafe { rseq_syscall(area, RSEQ_MIN_LEN, 0, RSEQ_SIG) };
            }
            // EBUSY: registered already, with these very values.
            if let Err(err) = result.or_else(|e| if e == Errno::EBUSY { Ok(()) } else { Err(e) }) {
                // SAFETY: as above.
                unsafe {
                    std::ptr::addr_of_mut!((*area).cpu_id)
                        .write_volatile(RSEQ_CPU_ID_REGISTRATION_FAILED);
                }
                log::warn!("detach: cannot register glibc's rseq area again: {err}");
            }
        }
    }
}
