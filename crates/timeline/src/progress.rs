//! Progress reporting and cancellation for a build running on other threads.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Instant;

/// What the build is doing.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Reading batch headers.
    Scanning = 0,
    /// Decoding generations and collecting spans.
    Decoding,
    /// Putting the tracks together.
    Finishing,
    /// Done.
    Done,
}

impl Phase {
    /// What to show.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Scanning => "scanning",
            Phase::Decoding => "decoding",
            Phase::Finishing => "building tracks",
            Phase::Done => "done",
        }
    }
}

/// Shared between the build and whoever watches it.
#[derive(Debug, Default)]
pub struct Progress {
    bytes_done: AtomicU64,
    bytes_total: AtomicU64,
    phase: AtomicU8,
    cancel: AtomicBool,
    /// When each phase began, in order (a handful of entries per build).
    started: Mutex<Vec<(Phase, Instant)>>,
}

impl Progress {
    /// Asks the build to stop at its next check.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Whether [`Progress::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Scanning,
            1 => Phase::Decoding,
            2 => Phase::Finishing,
            _ => Phase::Done,
        }
    }

    /// Bytes processed and total.
    pub fn bytes(&self) -> (u64, u64) {
        (self.bytes_done.load(Ordering::Relaxed), self.bytes_total.load(Ordering::Relaxed))
    }

    /// Fraction done, 0 to 1.
    pub fn fraction(&self) -> f32 {
        let (done, total) = self.bytes();
        if total == 0 { 0.0 } else { (done as f64 / total as f64).min(1.0) as f32 }
    }

    /// When each phase began, in order, as the build entered it.
    pub fn phase_starts(&self) -> Vec<(Phase, Instant)> {
        self.started.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub(crate) fn set_phase(&self, p: Phase) {
        self.phase.store(p as u8, Ordering::Relaxed);
        if let Ok(mut v) = self.started.lock()
            && v.last().is_none_or(|(last, _)| *last != p)
        {
            v.push((p, Instant::now()));
        }
    }

    pub(crate) fn set_total(&self, total: u64) {
        self.bytes_total.store(total, Ordering::Relaxed);
    }

    pub(crate) fn set_done(&self, done: u64) {
        self.bytes_done.fetch_max(done, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_starts_are_kept_in_order_once_each() {
        let p = Progress::default();
        for phase in [Phase::Scanning, Phase::Decoding, Phase::Decoding, Phase::Finishing, Phase::Done] {
            p.set_phase(phase);
        }
        let seen: Vec<Phase> = p.phase_starts().iter().map(|s| s.0).collect();
        assert_eq!(seen, [Phase::Scanning, Phase::Decoding, Phase::Finishing, Phase::Done]);
        let times: Vec<Instant> = p.phase_starts().iter().map(|s| s.1).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }
}
