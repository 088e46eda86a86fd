//! The built timeline: everything the viewer draws and the queries read.

use std::sync::Arc;

use trace_core::{GoroutineId, ProcId, ThreadId};

use rayon::prelude::*;

use crate::analysis::Stop;
use crate::counter::Counter;
use crate::loglist::LogList;
use crate::origins::{Origin, OriginId, Origins};
use crate::ranges::RangeList;
use crate::regions::RegionList;
use crate::stacks::{StackId, StackTree};
use crate::state::GState;
use crate::strings::{StrId, Strings};
use crate::tasktable::TaskTable;
use crate::track::{Span, Track};

/// One goroutine: who made it, where it started, and its state spans.
///
/// Span arguments on a goroutine track: for `Running`, `a` is the P and `b`
/// the GC mark worker mode ([`crate::analysis::MarkWorker`], -1 if none); for
/// `Runnable` after a wake-up, `a` is the goroutine that woke it (or -1) and
/// `stack` is where it was woken; for blocked, stopped and syscall spans,
/// `stack` is where the goroutine blocked or entered the call.
#[derive(Clone, Debug)]
pub struct Goroutine {
    /// ID.
    pub id: GoroutineId,
    /// Who created it and where ([`Timeline::origin`]).
    pub origin: OriginId,
    /// The start function in the low bits, the flags above: records stay
    /// at 32 bytes, and a busy 1 GB trace has 7.4 M of them.
    bits: u32,
    /// Its state spans.
    pub track: Track,
}

/// [`Goroutine::created_in_trace`].
const CREATED: u32 = 1 << 31;
/// [`Goroutine::is_system`].
const SYSTEM: u32 = 1 << 30;
/// The start function's string ID (no trace has a billion strings: an
/// ID beyond this names no function).
const FN_MASK: u32 = SYSTEM - 1;

impl Goroutine {
    /// A goroutine record; `origin` names its parent and creation stack
    /// in the timeline's [`Origins`].
    pub fn new(id: GoroutineId, origin: OriginId, start_fn: StrId, created_in_trace: bool, track: Track) -> Goroutine {
        let f = if start_fn.0 <= FN_MASK { start_fn.0 } else { 0 };
        let bits = f | if created_in_trace { CREATED } else { 0 };
        Goroutine { id, origin, bits, track }
    }

    /// The function it started in.
    pub fn start_fn(&self) -> StrId {
        StrId(self.bits & FN_MASK)
    }

    /// Created inside the trace: its track starts at its creation (see
    /// [`Goroutine::created_ns`]).
    pub fn created_in_trace(&self) -> bool {
        self.bits & CREATED != 0
    }

    /// A runtime goroutine (start function in package runtime but
    /// `runtime.main`).
    pub fn is_system(&self) -> bool {
        self.bits & SYSTEM != 0
    }

    /// Marks it a runtime goroutine or not.
    pub fn set_system(&mut self, system: bool) {
        self.bits = (self.bits & !SYSTEM) | if system { SYSTEM } else { 0 };
    }

    /// Creation time, if inside the trace.
    pub fn created_ns(&self) -> Option<i64> {
        if self.created_in_trace() { self.track.start_ns() } else { None }
    }

    /// Exit time, if inside the trace: its track's last span is `Exited`
    /// (an empty span at the exit).
    pub fn exited_ns(&self) -> Option<i64> {
        self.track.last().filter(|s| s.state == GState::Exited as u8).map(|s| s.start_ns)
    }

    /// The span that ends a blocked span `i`: who woke it and where.
    pub fn unblocked_by(&self, i: usize) -> Option<(GoroutineId, StackId)> {
        let next = self.track.span(i + 1)?;
        (GState::from_u8(next.state) == Some(GState::Runnable) && next.a >= 0)
            .then_some((GoroutineId(next.a), next.stack))
    }

    /// The state of span `s`.
    pub fn state(s: &Span) -> GState {
        GState::from_u8(s.state).unwrap_or(GState::Blocked)
    }

    /// Time spent in each state within `[start_ns, end_ns)`, indexed by
    /// state code (spans clipped to the range; exited time not counted).
    pub fn state_totals(&self, start_ns: i64, end_ns: i64) -> [i64; GState::COUNT] {
        let mut out = [0i64; GState::COUNT];
        self.track.for_each_in(start_ns, end_ns, |_, s| {
            if s.state != GState::Exited as u8
                && let Some(slot) = out.get_mut(s.state as usize)
            {
                // Saturating: a damaged trace can hold absurd times.
                *slot = slot.saturating_add(s.end_ns.min(end_ns) - s.start_ns.max(start_ns));
            }
        });
        out
    }
}

/// One P: which goroutine it ran when ([`crate::PState`] spans; `a` is the
/// goroutine).
#[derive(Clone, Debug)]
pub struct Proc {
    /// ID.
    pub id: ProcId,
    /// Its spans.
    pub track: Track,
}

/// One thread: which goroutine it ran ([`crate::MState`] spans; `a` is the
/// goroutine).
#[derive(Clone, Debug)]
pub struct Thread {
    /// ID.
    pub id: ThreadId,
    /// Its spans.
    pub track: Track,
}

/// What kind of runtime range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RangeKind {
    /// A GC cycle (mark phase, from GCBegin to GCEnd).
    GcMark,
    /// A stop-the-world pause.
    Stw,
    /// A P sweeping.
    Sweep,
    /// A goroutine doing mark assist work.
    MarkAssist,
}

/// A runtime range: GC cycle, STW pause, sweep or assist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeSpan {
    /// What it is.
    pub kind: RangeKind,
    /// Start (trace start if it began before).
    pub start_ns: i64,
    /// End (trace end if it never ended).
    pub end_ns: i64,
    /// STW reason.
    pub reason: StrId,
    /// The P (sweep) or goroutine (assist) it belongs to; -1 for global ones.
    pub scope: i64,
}

impl RangeKind {
    /// Sweeps and mark assists: GC work done by one P or goroutine, kept
    /// apart in [`Timeline::gc_work`].
    pub fn is_gc_work(self) -> bool {
        matches!(self, RangeKind::Sweep | RangeKind::MarkAssist)
    }
}

impl RangeSpan {
    /// Length in ns.
    pub fn duration_ns(&self) -> i64 {
        self.end_ns - self.start_ns
    }
}

/// Counters over time.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    /// Heap in use (bytes).
    pub heap_alloc: Counter,
    /// Heap goal (bytes).
    pub heap_goal: Counter,
    /// GOMAXPROCS.
    pub gomaxprocs: Counter,
    /// Goroutines running.
    pub running: Counter,
    /// Goroutines runnable (waiting for a P).
    pub runnable: Counter,
    /// Goroutines blocked.
    pub blocked: Counter,
    /// Goroutines in system calls (threads in syscalls).
    pub syscall: Counter,
}

/// A user task (`runtime/trace.NewTask`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// ID.
    pub id: u64,
    /// Parent task (0 = none).
    pub parent: u64,
    /// Type name.
    pub typ: StrId,
    /// Start, if inside the trace.
    pub start_ns: Option<i64>,
    /// End, if inside the trace.
    pub end_ns: Option<i64>,
    /// Goroutines that began, ended or annotated it, sorted.
    pub goroutines: Vec<GoroutineId>,
}

/// A user region (`runtime/trace.WithRegion`) on one goroutine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// The goroutine.
    pub g: GoroutineId,
    /// Start (trace start if it began before).
    pub start_ns: i64,
    /// End (trace end if it never ended).
    pub end_ns: i64,
    /// Its task (0 = background).
    pub task: u64,
    /// Region type.
    pub typ: StrId,
    /// Nesting depth on its goroutine (0 = outermost).
    pub depth: u32,
    /// The stack it began in ([`StackId::NONE`] if it began before the
    /// trace or without one).
    pub stack: StackId,
}

/// A user log message (`runtime/trace.Log`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// When.
    pub time_ns: i64,
    /// The goroutine.
    pub g: GoroutineId,
    /// Its task.
    pub task: u64,
    /// Category.
    pub category: StrId,
    /// Message.
    pub message: StrId,
}

/// A CPU profile sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuSample {
    /// When.
    pub time_ns: i64,
    /// Goroutine running (`NONE` if none).
    pub g: GoroutineId,
    /// P.
    pub p: ProcId,
    /// Thread.
    pub m: ThreadId,
    /// Stack.
    pub stack: StackId,
}

/// Everything built from one trace.
#[derive(Debug, Default)]
pub struct Timeline {
    /// Time of the first event.
    pub start_ns: i64,
    /// Time of the last event.
    pub end_ns: i64,
    /// Goroutines sorted by ID.
    pub goroutines: Vec<Goroutine>,
    /// Ps sorted by ID.
    pub procs: Vec<Proc>,
    /// Threads sorted by ID; their tracks are empty unless
    /// [`Timeline::threads_built`].
    pub threads: Vec<Thread>,
    /// Whether the thread tracks were built (see [`crate::build()`]).
    pub threads_built: bool,
    /// GC cycles, in time order.
    pub gc: Vec<RangeSpan>,
    /// STW pauses, in time order.
    pub stw: Vec<RangeSpan>,
    /// Sweeps and mark assists, in the order they ended (packed: a busy
    /// trace has millions).
    pub gc_work: RangeList,
    /// Counters.
    pub counters: Counters,
    /// Tasks sorted by ID (packed: see [`TaskTable`]).
    pub tasks: TaskTable,
    /// Regions sorted by goroutine, then start (packed: see [`RegionList`]).
    pub regions: RegionList,
    /// Logs sorted by goroutine, then time (packed: see [`LogList`]).
    pub logs: LogList,
    /// CPU samples in time order.
    pub cpu_samples: Vec<CpuSample>,
    /// Who created each goroutine, and where ([`Timeline::origin`]).
    pub origins: Origins,
    /// Every stack.
    pub stacks: StackTree,
    /// Every string.
    pub strings: Strings,
    /// Events decoded.
    pub event_count: u64,
    /// Generations decoded.
    pub generations: usize,
    /// Size of the trace in bytes.
    pub file_bytes: u64,
    /// What stopped decoding early (truncation or damage); everything
    /// before it is here.
    pub error: Option<trace_core::Error>,
}

impl Timeline {
    /// The goroutine with this ID.
    pub fn goroutine(&self, id: GoroutineId) -> Option<&Goroutine> {
        self.goroutines.binary_search_by_key(&id, |g| g.id).ok().and_then(|i| self.goroutines.get(i))
    }

    /// Who created `g`, and where.
    pub fn origin(&self, g: &Goroutine) -> Origin {
        self.origins.get(g.origin)
    }

    /// Index of the goroutine with this ID in [`Timeline::goroutines`].
    pub fn goroutine_index(&self, id: GoroutineId) -> Option<usize> {
        self.goroutines.binary_search_by_key(&id, |g| g.id).ok()
    }

    /// The regions of one goroutine, by start time.
    pub fn regions_of(&self, g: GoroutineId) -> crate::regions::Regions<'_> {
        self.regions.of(g)
    }

    /// The logs of goroutine `g`, in time order.
    pub fn logs_of(&self, g: GoroutineId) -> crate::loglist::Logs<'_> {
        self.logs.of(g)
    }

    /// The logs of goroutine `g` in `[start_ns, end_ns]`, in time order.
    pub fn logs_in(&self, g: GoroutineId, start_ns: i64, end_ns: i64) -> impl Iterator<Item = LogEntry> + Clone + '_ {
        self.logs.of_in(g, start_ns, end_ns)
    }

    /// The log of goroutine `g` nearest to `t_ns`, if one is within
    /// `slack_ns` of it (the earlier one on a tie).
    pub fn log_near(&self, g: GoroutineId, t_ns: i64, slack_ns: i64) -> Option<LogEntry> {
        let dist = |l: &LogEntry| (l.time_ns - t_ns).abs();
        // min_by_key keeps the first of equals: the earlier log.
        self.logs_in(g, t_ns.saturating_sub(slack_ns), t_ns.saturating_add(slack_ns)).min_by_key(dist)
    }

    /// The regions of goroutine `g` that are open at `t_ns`, outermost first.
    pub fn regions_at(&self, g: GoroutineId, t_ns: i64) -> Vec<Region> {
        let mut open: Vec<Region> = self.regions.overlapping(g, t_ns, t_ns.saturating_add(1)).collect();
        open.sort_by_key(|r| r.depth);
        open
    }

    /// `g123 pkg.func`, the label people know a goroutine by.
    pub fn goroutine_label(&self, g: &Goroutine) -> String {
        let f = self.strings.get(g.start_fn());
        if f.is_empty() { format!("g{}", g.id.0) } else { format!("g{} {}", g.id.0, f) }
    }

    /// Time all goroutines spent in each state within `[start_ns, end_ns)`,
    /// largest first, states with no time left out.
    pub fn state_totals_in(&self, start_ns: i64, end_ns: i64) -> Vec<(GState, i64)> {
        self.state_totals_in_stoppable(start_ns, end_ns, Stop::NEVER).unwrap_or_default()
    }

    /// [`Timeline::state_totals_in`] on all threads, giving up (`None`)
    /// once `stop` is raised.
    pub fn state_totals_in_stoppable(&self, start_ns: i64, end_ns: i64, stop: Stop<'_>) -> Option<Vec<(GState, i64)>> {
        // Saturating sums of times, which are never negative: the same in
        // any order, so on any number of threads.
        let add = |mut a: [i64; GState::COUNT], b: [i64; GState::COUNT]| {
            for (acc, v) in a.iter_mut().zip(b) {
                *acc = acc.saturating_add(v);
            }
            a
        };
        let sum = self
            .goroutines
            .par_iter()
            .fold(
                || [0i64; GState::COUNT],
                |acc, g| if stop.is_raised() { acc } else { add(acc, g.state_totals(start_ns, end_ns)) },
            )
            .reduce(|| [0i64; GState::COUNT], add);
        let mut out: Vec<(GState, i64)> =
            GState::ALL.iter().zip(sum).filter(|&(_, ns)| ns > 0).map(|(&s, ns)| (s, ns)).collect();
        out.sort_by_key(|&(s, ns)| (std::cmp::Reverse(ns), s));
        stop.unless_raised(out)
    }

    /// Total spans over all tracks.
    pub fn span_count(&self) -> usize {
        self.goroutines.iter().map(|g| g.track.len()).sum::<usize>()
            + self.procs.iter().map(|p| p.track.len()).sum::<usize>()
            + self.threads.iter().map(|t| t.track.len()).sum::<usize>()
    }

    /// Fills in the thread tracks made by [`crate::build::build_threads`].
    pub fn set_threads(&mut self, threads: Vec<Thread>) {
        self.threads = threads;
        self.threads_built = true;
    }

    /// Approximate bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        let tracks = self.goroutines.iter().map(|g| &g.track);
        let tracks = tracks_heap_bytes(
            tracks.chain(self.procs.iter().map(|p| &p.track)).chain(self.threads.iter().map(|t| &t.track)),
        ) + self.goroutines.len() * std::mem::size_of::<Goroutine>();
        let c = &self.counters;
        let counters = [&c.heap_alloc, &c.heap_goal, &c.gomaxprocs, &c.running, &c.runnable, &c.blocked, &c.syscall]
            .iter()
            .map(|c| c.heap_bytes())
            .sum::<usize>();
        tracks
            + counters
            + self.origins.heap_bytes()
            + self.stacks.heap_bytes()
            + self.strings.heap_bytes()
            + self.gc_work.heap_bytes()
            + (self.gc.len() + self.stw.len()) * std::mem::size_of::<RangeSpan>()
            + self.regions.heap_bytes()
            + self.tasks.heap_bytes()
            + self.logs.heap_bytes()
            + self.cpu_samples.len() * std::mem::size_of::<CpuSample>()
    }
}

/// Heap bytes of tracks: each one's own, and each store they use once.
/// (Summing every track's share of its store would give the same, but it
/// takes the store's lock once per track: seconds for millions of them.)
fn tracks_heap_bytes<'t>(tracks: impl Iterator<Item = &'t Track>) -> usize {
    let mut own = 0;
    let mut stores = std::collections::BTreeMap::new();
    for t in tracks {
        own += t.own_heap_bytes();
        if let Some(s) = t.store() {
            stores.entry(Arc::as_ptr(s) as usize).or_insert(s);
        }
    }
    own + stores.values().map(|s| s.heap_bytes()).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_goroutine_record_is_32_bytes_and_keeps_its_flags_apart() {
        // 7.4 M records on a busy 1 GB trace: 8 bytes more each is 57 MiB.
        assert_eq!(std::mem::size_of::<Goroutine>(), 32);
        let track = Track::default;
        let mut g = Goroutine::new(GoroutineId(7), OriginId(1), StrId(FN_MASK), true, track());
        assert_eq!((g.start_fn(), g.created_in_trace(), g.is_system()), (StrId(FN_MASK), true, false));
        g.set_system(true);
        assert_eq!((g.start_fn(), g.created_in_trace(), g.is_system()), (StrId(FN_MASK), true, true));
        g.set_system(false);
        assert!(!g.is_system() && g.created_in_trace());
        // An ID past the bits names no function rather than setting flags.
        let g = Goroutine::new(GoroutineId(8), OriginId(1), StrId(u32::MAX), false, track());
        assert_eq!((g.start_fn(), g.created_in_trace(), g.is_system()), (StrId(0), false, false));
    }

    #[test]
    fn logs_are_found_by_goroutine_and_nearest_time() {
        let mut tl = Timeline::default();
        let log = |time_ns, g| LogEntry { time_ns, g: GoroutineId(g), task: 0, category: StrId(0), message: StrId(0) };
        tl.logs = LogList::from_logs(vec![log(10, 2), log(20, 1), log(30, 2), log(40, 3), log(50, 2)]);
        let times = |g| tl.logs_of(GoroutineId(g)).map(|l| l.time_ns).collect::<Vec<_>>();
        assert_eq!((times(1), times(2), times(3), times(4)), (vec![20], vec![10, 30, 50], vec![40], vec![]));
        let within = |g, a, b| tl.logs_in(GoroutineId(g), a, b).map(|l| l.time_ns).collect::<Vec<_>>();
        assert_eq!((within(2, 10, 30), within(2, 11, 49), within(2, 51, 99)), (vec![10, 30], vec![30], vec![]));
        let near = |g, t, slack| tl.log_near(GoroutineId(g), t, slack).map(|l| l.time_ns);
        assert_eq!(near(2, 33, 5), Some(30));
        assert_eq!(near(2, 47, 5), Some(50));
        assert_eq!(near(2, 40, 10), Some(30), "a tie goes to the earlier");
        assert_eq!(near(2, 40, 9), None);
        assert_eq!(near(1, 0, 100), Some(20));
        assert_eq!(near(4, 20, 100), None);
    }
}
