//! Questions asked of a built [`Timeline`](crate::Timeline): per-state
//! statistics, scheduling latency, flame graphs, minimum mutator
//! utilisation and blocking profiles.
//!
//! Every query is a pure function of `&Timeline` and its arguments, and every
//! list it returns is in a documented, deterministic order. The queries that
//! read every goroutine (statistics, idle-P gaps, profiles, flame trees, the
//! MMU's GC work) run on rayon's threads (the caller's pool, if inside one)
//! and return the same result whatever the number of threads. The long
//! ones have a `_stoppable` form that another thread can stop ([`Stop`]).
//!
//! | module | what |
//! | --- | --- |
//! | [`stats`] | count, total, min, max, mean and percentiles of span durations per state, per goroutine |
//! | [`fnstats`] | the same per start function, with exact percentiles found in passes in bounded memory |
//! | [`table`] | the goroutine table: per goroutine time per kind of state, per start function totals and [`loghist`] histograms, built in steps |
//! | [`sched`] | longest runnable waits, times a goroutine waited while a P sat idle, longest stop-the-world pauses |
//! | [`flame`] | flame-graph trees from CPU samples or from off-CPU (blocked) time, and their layout |
//! | [`mmu`] | mutator utilisation and its minimum over windows, as `go tool trace` computes it |
//! | [`profile`] | blocking profiles by stack, like `go tool trace -pprof=net\|sync\|syscall\|sched` |
//! | [`tasks`] | user tasks and regions by type (count, duration percentiles), longest first, a task's events |
//!
//! ```no_run
//! use timeline::analysis::{self, Filter, MmuCurve, ProfileKind, TimeRange, UtilFlags};
//! use timeline::{Progress, build};
//!
//! let tl = build(&std::fs::read("trace.out").unwrap(), &Progress::default()).unwrap();
//! for w in analysis::longest_runnable_waits(&tl, &Filter::all(), 10) {
//!     println!("{} waited {} ns", tl.goroutine_label(tl.goroutine(w.g).unwrap()), w.duration_ns());
//! }
//! let mmu = MmuCurve::new(analysis::mutator_utilization(&tl, UtilFlags::ALL_GC));
//! println!("MMU at 1 ms: {:.3}", mmu.mmu(1_000_000));
//! let sync = analysis::blocking_profile(&tl, ProfileKind::Sync, &Filter::range(TimeRange::ALL));
//! println!("{} stacks blocked on sync", sync.len());
//! ```

pub mod flame;
pub mod fnstats;
pub mod loghist;
pub mod mmu;
pub mod profile;
pub mod sched;
pub mod stats;
pub mod stop;
pub mod table;
pub mod tasks;

use trace_core::GoroutineId;

pub use flame::{
    FlameKey, FlameNode, FlameRect, FlameTree, cpu_flame, flame_layout, is_off_cpu, offcpu_flame,
    offcpu_flame_stoppable,
};
pub use fnstats::{FunctionStats, start_fn_stats, start_fn_stats_stoppable};
pub use loghist::{DECADE_EDGES, LogHist};
pub use mmu::{
    MarkWorker, MmuCurve, UtilFlags, UtilPoint, UtilWindow, default_windows, mmu_curve, mutator_utilization,
    mutator_utilization_stoppable,
};
pub use profile::{ProfileEntry, ProfileKind, blocking_profile, go_tool_blocking_profile};
pub use sched::{
    GapOrder, IdleGap, RunnableWait, idle_proc_gaps, idle_proc_gaps_stoppable, longest_runnable_waits,
    longest_runnable_waits_stoppable, longest_stw,
};
pub use stats::{DurationStats, GoroutineStats, StateStats, all_goroutine_stats, goroutine_stats};
pub use stop::Stop;
pub use table::{FunctionGroup, GoroutineRow, GoroutineTable, RowTime};
pub use tasks::{
    TaskEvent, TaskEventKind, TaskSpan, TypeSummary, region_site, region_state_totals, region_types, regions_of_type,
    task_events, task_span, task_types, tasks_of_type,
};

use crate::model::Goroutine;
use crate::track::Span;

/// A half-open time interval `[start_ns, end_ns)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeRange {
    /// First instant inside.
    pub start_ns: i64,
    /// First instant after.
    pub end_ns: i64,
}

impl Default for TimeRange {
    fn default() -> Self {
        TimeRange::ALL
    }
}

impl TimeRange {
    /// All of time.
    pub const ALL: TimeRange = TimeRange { start_ns: i64::MIN, end_ns: i64::MAX };

    /// `[start_ns, end_ns)`.
    pub fn new(start_ns: i64, end_ns: i64) -> TimeRange {
        TimeRange { start_ns, end_ns }
    }

    /// Whether `t_ns` is inside.
    pub fn contains(&self, t_ns: i64) -> bool {
        self.start_ns <= t_ns && t_ns < self.end_ns
    }

    /// `[start_ns, end_ns)` cut to this range, if they overlap (a span of
    /// length zero overlaps if its instant is inside).
    pub fn clip(&self, start_ns: i64, end_ns: i64) -> Option<(i64, i64)> {
        let (s, e) = (start_ns.max(self.start_ns), end_ns.min(self.end_ns));
        if s < e || (start_ns == end_ns && self.contains(start_ns)) { Some((s, e)) } else { None }
    }

    /// Length of the overlap with `[start_ns, end_ns)` (0 if none).
    pub fn overlap_ns(&self, start_ns: i64, end_ns: i64) -> i64 {
        self.clip(start_ns, end_ns).map_or(0, |(s, e)| e - s)
    }
}

/// Which goroutines, and when: the selection most queries take.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only time inside this range counts (spans are clipped to it).
    pub range: TimeRange,
    /// Only these goroutines (sorted, no duplicates); `None` = all.
    goroutines: Option<Vec<GoroutineId>>,
}

impl Filter {
    /// Everything.
    pub fn all() -> Filter {
        Filter::default()
    }

    /// Every goroutine, within `range`.
    pub fn range(range: TimeRange) -> Filter {
        Filter { range, goroutines: None }
    }

    /// Only the goroutines `ids` (in any order).
    pub fn with_goroutines(mut self, ids: impl IntoIterator<Item = GoroutineId>) -> Filter {
        let mut ids: Vec<GoroutineId> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        self.goroutines = Some(ids);
        self
    }

    /// The goroutines selected (`None` = all).
    pub fn goroutines(&self) -> Option<&[GoroutineId]> {
        self.goroutines.as_deref()
    }

    /// Whether goroutine `g` is selected.
    pub fn includes(&self, g: GoroutineId) -> bool {
        self.goroutines.as_ref().is_none_or(|ids| ids.binary_search(&g).is_ok())
    }
}

/// Calls `f` with every span of `g` overlapping `range`, its index, and the
/// span cut to the range.
pub(crate) fn for_each_clipped(g: &Goroutine, range: TimeRange, mut f: impl FnMut(usize, &Span, i64, i64)) {
    g.track.for_each_in(range.start_ns, range.end_ns, |i, s| {
        if let Some((start, end)) = range.clip(s.start_ns, s.end_ns) {
            f(i, s, start, end);
        }
    });
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Small synthetic timelines for the unit tests.

    use trace_core::GoroutineId;

    use crate::model::{Goroutine, Timeline};
    use crate::origins::OriginId;
    use crate::stacks::{Frame, StackId};
    use crate::state::GState;
    use crate::strings::StrId;
    use crate::track::TrackBuilder;

    /// A goroutine from `(start, state, stack, a, b)` spans ending at `end`.
    pub fn goroutine(id: i64, start_fn: StrId, spans: &[(i64, GState, StackId, i64, i64)], end: i64) -> Goroutine {
        let mut b = TrackBuilder::default();
        for &(t, s, stack, a, arg_b) in spans {
            b.push(t, s as u8, stack, a, arg_b);
        }
        Goroutine::new(GoroutineId(id), OriginId::NONE, start_fn, false, b.finish(end))
    }

    /// A goroutine from `(start, state)` spans with no stacks or arguments.
    pub fn simple(id: i64, start_fn: StrId, spans: &[(i64, GState)], end: i64) -> Goroutine {
        let full: Vec<_> = spans.iter().map(|&(t, s)| (t, s, StackId::NONE, -1, -1)).collect();
        goroutine(id, start_fn, &full, end)
    }

    /// Interns a stack given as function names, outermost first.
    pub fn stack(tl: &mut Timeline, outermost_first: &[&str]) -> StackId {
        let frames: Vec<Frame> = outermost_first
            .iter()
            .rev()
            .map(|f| Frame { func: tl.strings.intern(f.as_bytes()), file: StrId(0), line: 1 })
            .collect();
        tl.stacks.insert(&frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_clip_half_open() {
        let r = TimeRange::new(10, 20);
        assert_eq!(r.clip(0, 15), Some((10, 15)));
        assert_eq!(r.clip(15, 30), Some((15, 20)));
        assert_eq!(r.clip(20, 30), None);
        assert_eq!(r.clip(0, 10), None);
        assert_eq!(r.clip(12, 12), Some((12, 12)));
        assert_eq!(r.clip(20, 20), None);
        assert_eq!(r.overlap_ns(5, 25), 10);
        assert_eq!(TimeRange::ALL.overlap_ns(-5, 5), 10);
    }

    #[test]
    fn filters_select_goroutines() {
        let f = Filter::all().with_goroutines([GoroutineId(7), GoroutineId(3), GoroutineId(7)]);
        assert_eq!(f.goroutines(), Some(&[GoroutineId(3), GoroutineId(7)][..]));
        assert!(f.includes(GoroutineId(3)));
        assert!(!f.includes(GoroutineId(4)));
        assert!(Filter::all().includes(GoroutineId(4)));
    }
}

/// Test helper: the value, or a test failure naming what was missing
/// (test modules here read fixed, hand-built inputs, never trace files).
#[cfg(test)]
pub(crate) fn found<T>(value: Option<T>, what: &str) -> T {
    match value {
        Some(v) => v,
        None => panic!("expected {what}"),
    }
}
