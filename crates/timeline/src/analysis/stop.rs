//! Stopping a long query from another thread: a viewer that no longer
//! wants a result (another trace opened, the selection moved) raises a
//! flag, and the query gives up at its next check instead of running on
//! for seconds over a big trace.

use std::sync::atomic::{AtomicBool, Ordering};

/// A flag a query checks now and then (per goroutine, per few thousand
/// steps of a sweep); a query stopped by it returns `None`.
///
/// ```
/// use std::sync::atomic::AtomicBool;
/// use timeline::analysis::{self, Filter, Stop};
///
/// let tl = timeline::Timeline::default();
/// let flag = AtomicBool::new(true);
/// assert!(analysis::longest_runnable_waits_stoppable(&tl, &Filter::all(), 10, Stop::when(&flag)).is_none());
/// assert!(analysis::longest_runnable_waits_stoppable(&tl, &Filter::all(), 10, Stop::NEVER).is_some());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Stop<'a>(Option<&'a AtomicBool>);

impl<'a> Stop<'a> {
    /// Never raised.
    pub const NEVER: Stop<'static> = Stop(None);

    /// Raised once `flag` is true.
    pub fn when(flag: &'a AtomicBool) -> Stop<'a> {
        Stop(Some(flag))
    }

    /// Whether the query should give up.
    pub fn is_raised(&self) -> bool {
        self.0.is_some_and(|f| f.load(Ordering::Relaxed))
    }

    /// `value`, unless the flag was raised (then it may be partial).
    pub fn unless_raised<T>(&self, value: T) -> Option<T> {
        (!self.is_raised()).then_some(value)
    }
}
