//! A bound on the refusal log lines: the allowlist runs before the rate limit (a foreign address
//! must not cost a limiter entry), so without a bound anyone could turn each forged request into
//! a WARN line and flood the logs. Every refusal is still counted in the metrics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Refusal lines logged per second at most, over all guards sharing the budget.
pub const REFUSAL_LINES_PER_SECOND: u64 = 20;

/// A one-second window of log lines; lock-free, shared by every guard layer.
#[derive(Debug)]
pub(crate) struct LogBudget {
    start: Instant,
    /// The current window (whole seconds since `start`) in the high 32 bits, lines logged in it
    /// in the low 32 bits: one atomic word, so a window change and its count cannot tear.
    window: AtomicU64,
    /// Lines not logged since the last one that was.
    suppressed: AtomicU64,
}

impl Default for LogBudget {
    fn default() -> Self {
        LogBudget {
            start: Instant::now(),
            window: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }
}

impl LogBudget {
    /// Whether this refusal may be logged; `Some(n)` with the number of refusals left unlogged
    /// since the last logged one (to report on this line), `None` when the budget is spent.
    pub(crate) fn admit(&self) -> Option<u64> {
        self.admit_at(self.start.elapsed().as_secs())
    }

    fn admit_at(&self, second: u64) -> Option<u64> {
        let second = second & 0xFFFF_FFFF;
        let mut current = self.window.load(Ordering::Relaxed);
        loop {
            let (window, count) = (current >> 32, current & 0xFFFF_FFFF);
            let next = if window == second {
                if count >= REFUSAL_LINES_PER_SECOND {
                    self.suppressed.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                current + 1
            } else {
                (second << 32) | 1
            };
            match self
                .window
                .compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(self.suppressed.swap(0, Ordering::Relaxed)),
                Err(seen) => current = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_logs_a_bounded_number_of_lines_and_reports_the_rest() {
        let budget = LogBudget::default();
        let logged = (0..1_000).filter(|_| budget.admit_at(5).is_some()).count();
        assert_eq!(logged as u64, REFUSAL_LINES_PER_SECOND);
        // The next second's first line says how many were left out.
        assert_eq!(budget.admit_at(6), Some(1_000 - REFUSAL_LINES_PER_SECOND));
        assert_eq!(budget.admit_at(6), Some(0));
    }

    #[test]
    fn the_bound_holds_past_two_to_the_32_seconds() {
        // The window keeps the low 32 bits of the second; a process up that long still logs a
        // bounded number of lines.
        let budget = LogBudget::default();
        let second = u64::from(u32::MAX) + 9;
        let logged = (0..100).filter(|_| budget.admit_at(second).is_some()).count();
        assert_eq!(logged as u64, REFUSAL_LINES_PER_SECOND);
    }

    #[test]
    fn threads_share_one_budget() {
        let budget = LogBudget::default();
        let logged: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..500).filter(|_| budget.admit_at(9).is_some()).count()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(logged as u64, REFUSAL_LINES_PER_SECOND);
    }
}
