//! How a full-mode daemon that ends before it is ready tells the launcher
//! why, and the panic hook of a running daemon.
//!
//! The daemon itself reports what only it knows: an `Err` returned from
//! `main` ([`Daemonized::finish`](crate::Daemonized::finish)), an
//! [`Error::exit`](crate::Error::exit), a panic (message and location,
//! recorded by the hook and sent while `main` unwinds). Its parent, which
//! outlives it until it is ready, reports what only a parent can see: the
//! exit status of `std::process::exit` and the name of a fatal signal.

use std::sync::Mutex;

use crate::error::{Error, ErrorKind, Step};

/// The last panic of the daemon process while it was not ready yet.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Installs the panic hook, keeping the one installed before (the
/// standard one prints to stderr: a file or `/dev/null` in a full daemon).
///
/// In the daemon process it records the message and location until the
/// daemon is ready, and in full mode logs them at error level through
/// `log`, so that a daemon logging to a file keeps them.
pub(crate) fn install_panic_hook(full: bool) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if crate::start::is_daemon_process() {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("Box<dyn Any>");
            let text = match info.location() {
                Some(at) => format!("panicked at {at}: {message}"),
                None => format!("panicked: {message}"),
            };
            if full {
                log::error!("{text}");
            }
            if crate::start::is_pending() {
                *PANIC.lock().unwrap_or_else(|p| p.into_inner()) = Some(text);
            }
        }
        previous(info);
    }));
}

/// While `main` unwinds from a panic: tells the launcher about it, if the
/// daemon was not ready yet.
pub(crate) fn panicked() {
    let text = PANIC.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(text) = text {
        crate::start::fail_before_ready(&Error::new(Step::Main, ErrorKind::Software, text));
    }
}

/// `main` ended with `failure` (an `Err`, described): tells the launcher,
/// if the daemon was not ready yet.
pub(crate) fn main_failed(failure: String) {
    crate::start::fail_before_ready(&Error::new(Step::Main, ErrorKind::Software, failure));
}
