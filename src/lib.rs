//! Turn any `fn main` into a well-behaved Unix daemon with one attribute.
#![cfg(unix)]

pub use daemonizer_core::*;
pub use daemonizer_macros::daemon;

#[doc(hidden)]
pub mod __private {
    pub use daemonizer_core::__private::*;
}
