//! Exact percentiles for the goroutine table's start-function rows.
//!
//! The rows show percentiles from the table's histograms at once (within
//! about 6%); these exact ones replace them when computed, on a thread of
//! their own on a big trace (a few seconds on a 1 GB one).

use std::collections::BTreeMap;

use timeline::analysis::{DurationStats, Stop, TimeRange, start_fn_stats_stoppable};
use timeline::{Category, StrId, Timeline};

use super::goroutines::HistOf;

/// Per start function, the p50, p95 and p99 of its goroutines' runnable
/// waits and blocked spans.
#[derive(Debug, Default)]
pub struct ExactPercentiles {
    by_fn: BTreeMap<StrId, [Option<[i64; 3]>; 2]>,
}

impl ExactPercentiles {
    /// Computes them for the whole trace (`None` if stopped).
    pub fn compute(tl: &Timeline, stop: Stop<'_>) -> Option<ExactPercentiles> {
        let stats = start_fn_stats_stoppable(tl, TimeRange::ALL, stop)?;
        let pcts = |d: &DurationStats| [d.p50_ns, d.p95_ns, d.p99_ns];
        let by_fn = stats
            .iter()
            .map(|f| {
                let of = |c| f.stats.category(c).map(pcts);
                (f.start_fn, [of(Category::Runnable), of(Category::Blocked)])
            })
            .collect();
        Some(ExactPercentiles { by_fn })
    }

    /// The p50, p95 and p99 of `which` spans of `start_fn`'s goroutines, if
    /// it has any.
    pub fn get(&self, start_fn: StrId, which: HistOf) -> Option<[i64; 3]> {
        let [runnable, blocked] = self.by_fn.get(&start_fn)?;
        match which {
            HistOf::Runnable => *runnable,
            HistOf::Blocked => *blocked,
        }
    }
}
