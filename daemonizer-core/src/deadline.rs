//! Deadlines from timeouts that may come from outside: `Duration::MAX`
//! (or any span beyond what an `Instant` holds) means "no deadline", never
//! an overflow panic.

use std::time::{Duration, Instant};

/// The end of a wait of at most some timeout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    /// `limit` from now; no deadline at all when the sum does not fit in an
    /// `Instant` (a timeout of `Duration::MAX` waits without bound).
    pub(crate) fn after(limit: Duration) -> Deadline {
        Deadline(Instant::now().checked_add(limit))
    }

    /// The time left, zero once passed; `Duration::MAX` without a deadline.
    pub(crate) fn left(&self) -> Duration {
        self.0.map_or(Duration::MAX, |at| {
            at.saturating_duration_since(Instant::now())
        })
    }

    /// Whether the deadline has passed.
    pub(crate) fn passed(&self) -> bool {
        self.left().is_zero()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_timeout_gives_a_deadline_without_overflow() {
        for limit in [
            Duration::MAX,
            Duration::from_secs(u64::MAX),
            Duration::from_secs(u64::MAX / 2),
            Duration::new(u64::MAX, 999_999_999),
        ] {
            let deadline = Deadline::after(limit);
            assert!(!deadline.passed(), "{limit:?}");
            assert!(deadline.left() > Duration::from_secs(3600), "{limit:?}");
        }
        assert_eq!(Deadline::after(Duration::MAX).left(), Duration::MAX);
        assert!(Deadline::after(Duration::ZERO).passed());
    }
}
