//! Scheduling latency: goroutines waiting for a P.
//!
//! Three views: the longest single runnable waits; the intervals in which
//! some goroutine waited while some P sat idle (work that could have run but
//! did not); and the longest stop-the-world pauses.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use rayon::prelude::*;
use trace_core::GoroutineId;

use super::{Filter, Stop, TimeRange};
use crate::model::{Goroutine, RangeSpan, Timeline};
use crate::stacks::StackId;
use crate::state::{Category, GState, PState};
use crate::track::{BlockHeader, Span, Track};

/// One wait of a goroutine for a P (a span of the runnable category).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunnableWait {
    /// The goroutine.
    pub g: GoroutineId,
    /// Why it was waiting: created, runnable (woken), preempted or yielded.
    pub state: GState,
    /// Start (clipped to the query range).
    pub start_ns: i64,
    /// End (clipped to the query range).
    pub end_ns: i64,
    /// Where it became runnable: the creating goroutine's stack for a new
    /// goroutine, the waker's stack after a wake-up, its own stack when
    /// preempted or yielding.
    pub stack: StackId,
    /// The goroutine that woke it, if one did.
    pub woken_by: Option<GoroutineId>,
}

impl RunnableWait {
    /// Length in ns.
    pub fn duration_ns(&self) -> i64 {
        self.end_ns - self.start_ns
    }

    /// Ranking: longer first, then earlier, then lower goroutine ID.
    fn rank(&self) -> (Reverse<i64>, i64, GoroutineId) {
        (Reverse(self.duration_ns()), self.start_ns, self.g)
    }
}

/// Orders waits so that a max-heap's top is the one to drop first.
struct Ranked(RunnableWait);

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.rank().cmp(&other.0.rank())
    }
}

/// Where a runnable span of `g` became runnable (see [`RunnableWait::stack`]).
pub(crate) fn runnable_stack(tl: &Timeline, g: &Goroutine, s: &Span) -> StackId {
    match Goroutine::state(s) {
        GState::Created => tl.origin(g).creation_stack,
        _ => s.stack,
    }
}

/// The `limit` longest runnable waits of the selected goroutines inside the
/// filter's range (clipped to it), longest first; ties go to the earlier
/// wait, then the lower goroutine ID.
pub fn longest_runnable_waits(tl: &Timeline, filter: &Filter, limit: usize) -> Vec<RunnableWait> {
    longest_runnable_waits_stoppable(tl, filter, limit, Stop::NEVER).unwrap_or_default()
}

/// [`longest_runnable_waits`], giving up (`None`) once `stop` is raised.
pub fn longest_runnable_waits_stoppable(
    tl: &Timeline,
    filter: &Filter,
    limit: usize,
    stop: Stop<'_>,
) -> Option<Vec<RunnableWait>> {
    if limit == 0 {
        return stop.unless_raised(Vec::new());
    }
    // Each thread keeps the best `limit` of its goroutines, then the heaps
    // merge. The ranking is a total order, so the result does not depend
    // on how the goroutines were split.
    let keep = |heap: &mut BinaryHeap<Ranked>, w: RunnableWait| {
        if heap.len() < limit {
            heap.push(Ranked(w));
        } else if heap.peek().is_some_and(|worst| Ranked(w) < *worst) {
            heap.pop();
            heap.push(Ranked(w));
        }
    };
    let heap = tl
        .goroutines
        .par_iter()
        .filter(|g| filter.includes(g.id))
        .fold(BinaryHeap::new, |mut heap, g| {
            if stop.is_raised() {
                return heap;
            }
            let range = filter.range;
            // Once `limit` waits are kept, a block whose longest span is
            // shorter than the shortest of them holds none to keep
            // (clipping only shortens): it is left undecoded.
            let too_short = |heap: &mut BinaryHeap<Ranked>, h: &BlockHeader| {
                heap.len() >= limit && heap.peek().is_some_and(|w| h.max_span_ns() < w.0.duration_ns())
            };
            g.track.for_each_in_pruned(range.start_ns, range.end_ns, &mut heap, too_short, |heap, _, s| {
                let state = Goroutine::state(s);
                if state.category() != Category::Runnable {
                    return;
                }
                let Some((start_ns, end_ns)) = range.clip(s.start_ns, s.end_ns) else { return };
                let woken_by = (state == GState::Runnable && s.a >= 0).then_some(GoroutineId(s.a));
                keep(
                    heap,
                    RunnableWait { g: g.id, state, start_ns, end_ns, stack: runnable_stack(tl, g, s), woken_by },
                );
            });
            heap
        })
        .reduce(BinaryHeap::new, |mut a, b| {
            for w in b {
                keep(&mut a, w.0);
            }
            a
        });
    stop.unless_raised(heap.into_sorted_vec().into_iter().map(|r| r.0).collect())
}

/// The `limit` longest stop-the-world pauses overlapping `range` (clipped to
/// it), longest first, ties by start time.
pub fn longest_stw(tl: &Timeline, range: TimeRange, limit: usize) -> Vec<RangeSpan> {
    let mut out: Vec<RangeSpan> = tl
        .stw
        .iter()
        .filter_map(|r| range.clip(r.start_ns, r.end_ns).map(|(start_ns, end_ns)| RangeSpan { start_ns, end_ns, ..*r }))
        .collect();
    out.sort_by_key(|r| (Reverse(r.duration_ns()), r.start_ns, r.end_ns));
    out.truncate(limit);
    out
}

/// An interval in which at least one goroutine was runnable while at least
/// one P was idle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdleGap {
    /// Start.
    pub start_ns: i64,
    /// End.
    pub end_ns: i64,
    /// Goroutine-nanoseconds spent waiting in the gap: the integral of the
    /// number of runnable goroutines over it.
    pub waiting_ns: i64,
    /// Most goroutines runnable at once.
    pub max_runnable: u32,
    /// Most Ps idle at once.
    pub max_idle_procs: u32,
    /// Goroutines runnable at some time in the gap, lowest IDs first, at
    /// most the cap given to [`idle_proc_gaps`].
    pub goroutines: Vec<GoroutineId>,
    /// How many distinct goroutines were runnable in the gap.
    pub goroutine_count: usize,
}

impl IdleGap {
    /// Length in ns.
    pub fn duration_ns(&self) -> i64 {
        self.end_ns - self.start_ns
    }
}

/// How [`idle_proc_gaps`] ranks gaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GapOrder {
    /// Longest first.
    Duration,
    /// Most goroutine-time waiting first ([`IdleGap::waiting_ns`]).
    Waiting,
}

/// What changes at an instant of the sweep, besides goroutines, in the
/// order applied at equal times (ends before starts, so a run ending where
/// the next begins never counts twice).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    ProcEnd,
    StwEnd,
    ProcStart,
    StwStart,
    Gomaxprocs,
}

/// One change: time, kind, and the P index or GOMAXPROCS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Ev {
    t: i64,
    change: Change,
    arg: u32,
}

/// [`for_each_run_until`] never stopped.
#[cfg(test)]
fn for_each_run(track: &Track, want: impl Fn(u8) -> bool, f: impl FnMut(i64, i64)) {
    for_each_run_until(track, want, Stop::NEVER, f);
}

/// Calls `f(start, end)` for each maximal run of spans of `track` for which
/// `want` holds, leaving out runs of length zero; reads no more blocks once
/// `stop` is raised (a P's track runs to millions of spans: seconds on a
/// big trace).
fn for_each_run_until(track: &Track, want: impl Fn(u8) -> bool, stop: Stop<'_>, f: impl FnMut(i64, i64)) {
    for_each_run_in(track, want, &[(i64::MIN, i64::MAX)], stop, f);
}

/// Like `for_each_run_until` never stopped, decoding only the blocks that overlap one of the
/// sorted, disjoint `within` stretches. A run is cut where a skipped block
/// begins, which no stretch covers, so its parts inside the stretches are
/// the same; at most the run is reported in pieces.
fn for_each_run_within<F: FnMut(i64, i64)>(track: &Track, want: impl Fn(u8) -> bool, within: &[(i64, i64)], f: F) {
    for_each_run_in(track, want, within, Stop::NEVER, f);
}

/// [`for_each_run_within`], reading no more blocks once `stop` is raised.
fn for_each_run_in<F: FnMut(i64, i64)>(
    track: &Track,
    want: impl Fn(u8) -> bool,
    within: &[(i64, i64)],
    stop: Stop<'_>,
    f: F,
) {
    /// The open run's start, the last span's end, the first stretch not yet
    /// passed, and where runs go.
    struct Runs<F> {
        open: Option<i64>,
        last_end: i64,
        first: usize,
        f: F,
    }
    let outside = |r: &mut Runs<F>, h: &BlockHeader| {
        if stop.is_raised() {
            return true;
        }
        r.first = first_ending_after(within, r.first, h.start_ns);
        let outside = within.get(r.first).is_none_or(|&(from, _)| from >= h.end_ns);
        if outside && let Some(t) = r.open.take().filter(|&t| t < h.start_ns) {
            (r.f)(t, h.start_ns);
        }
        outside
    };
    // Only the blocks from the first stretch to the last: a goroutine
    // read again for each stretch of time starts where that stretch does.
    let (Some(&(from_ns, _)), Some(&(_, to_ns))) = (within.first(), within.last()) else { return };
    let mut runs = Runs { open: None, last_end: 0, first: 0, f };
    track.for_each_in_pruned(from_ns, to_ns, &mut runs, outside, |r, _, s| {
        match (want(s.state), r.open) {
            (true, None) => r.open = Some(s.start_ns),
            (false, Some(t)) => {
                if t < s.start_ns {
                    (r.f)(t, s.start_ns);
                }
                r.open = None;
            }
            _ => {}
        }
        r.last_end = s.end_ns;
    });
    if let Some(t) = runs.open.filter(|&t| t < runs.last_end) {
        (runs.f)(t, runs.last_end);
    }
}

fn is_runnable(s: u8) -> bool {
    GState::from_u8(s).is_some_and(|s| s.category() == Category::Runnable)
}

/// The sweep's key for a run ending at `t` (add 1 for a start): the time
/// after `base` shifted left by one, so ends sort first at equal times.
fn end_key(t: i64, base: i64) -> u64 {
    u64::try_from(t.saturating_sub(base)).unwrap_or(0) << 1
}

/// One step of [`gaps_counting_within`]: the changes before `until` are
/// swept now. Long goroutines are read up to `horizon` (the end of the
/// step's group), within the idle stretches `long` from the step's start;
/// short ones whole, within `short`, all from the step's start on.
struct Step<'a> {
    base: i64,
    /// This step's end, then the later steps'.
    untils: &'a [i64],
    horizon: i64,
    long: Vec<(i64, i64)>,
    short: Vec<(i64, i64)>,
}

impl Step<'_> {
    /// How many steps after this one a key is swept.
    fn steps_ahead(&self, key: u64) -> usize {
        let t = self.base.saturating_add((key >> 1).min(i64::MAX as u64) as i64);
        match self.untils.first() {
            Some(&until) if t >= until => self.untils.partition_point(|&u| u <= t),
            _ => 0,
        }
    }
}

/// Tracks no longer than this (a few hundred spans) are read whole at
/// once, their later changes held until due; longer ones again at each
/// group of steps, for its stretch of time only.
const READ_WHOLE_BYTES: usize = 2048;

/// What [`goroutine_keys`] found.
#[derive(Default)]
struct Found {
    /// Changes (see [`end_key`]), in no order, by the step they are
    /// swept in: this one, the next, and so on.
    by_step: Vec<Vec<u64>>,
    /// The goroutines to read again at the next group of steps.
    carried: Vec<usize>,
}

impl Found {
    fn push(&mut self, steps_ahead: usize, key: u64) {
        if self.by_step.len() <= steps_ahead {
            self.by_step.resize_with(steps_ahead + 1, Vec::new);
        }
        if let Some(keys) = self.by_step.get_mut(steps_ahead) {
            keys.push(key);
        }
    }

    fn join(mut self, mut other: Found) -> Found {
        if self.by_step.len() < other.by_step.len() {
            std::mem::swap(&mut self.by_step, &mut other.by_step);
        }
        for (a, b) in self.by_step.iter_mut().zip(other.by_step) {
            *a = join(std::mem::take(a), b);
        }
        Found { by_step: self.by_step, carried: join(self.carried, other.carried) }
    }
}

/// The changes of goroutines `read` (indices) from the step's start on.
///
/// Only the parts of runnable runs inside idle stretches count: the
/// number of goroutines runnable at any instant inside them is exact, and
/// outside them it is not needed.
fn goroutine_keys(tl: &Timeline, read: &[usize], step: &Step, stop: Stop<'_>) -> Found {
    let key = |t: i64| end_key(t, step.base);
    // Collected on all threads in any order: the sort decides it.
    read.par_iter()
        .fold(Found::default, |mut found, &gi| {
            let Some(g) = tl.goroutines.get(gi).filter(|_| !stop.is_raised()) else { return found };
            let whole = step.horizon == i64::MAX || g.track.encoded_len() <= READ_WHOLE_BYTES;
            let within = if whole { &step.short } else { &step.long };
            // A goroutine's runs come in time order: look for each one's
            // first stretch from where the last one's was.
            let mut first = 0;
            for_each_run_within(&g.track, is_runnable, within, |s, e| {
                first = first_ending_after(within, first, s);
                for &(from, to) in within.get(first..).unwrap_or_default() {
                    if from >= e {
                        break;
                    }
                    let (s, e) = (s.max(from), e.min(to));
                    if s < e {
                        for k in [key(s) | 1, key(e)] {
                            found.push(step.steps_ahead(k), k);
                        }
                    }
                }
            });
            if !whole && g.track.end_ns().is_some_and(|end| end > step.horizon) {
                found.carried.push(gi);
            }
            found
        })
        .reduce(Found::default, Found::join)
}

/// Two lists as one, the longer grown.
fn join<T>(a: Vec<T>, b: Vec<T>) -> Vec<T> {
    let (mut big, mut small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    big.append(&mut small);
    big
}

/// The first of the sorted, disjoint `stretches` from `from` on that ends
/// after `t`: galloping forward, as most calls move a step or none, where a
/// binary search over all of them took most of the gap finder's time.
fn first_ending_after(stretches: &[(i64, i64)], from: usize, t: i64) -> usize {
    let before = |i: usize| stretches.get(i).is_some_and(|&(_, end)| end <= t);
    if !before(from) {
        return from;
    }
    // `before(lo)` holds; widen until `before(hi)` fails (or runs out).
    let (mut lo, mut step) = (from, 1);
    while before(lo + step) {
        lo += step;
        step *= 2;
    }
    let hi = (lo + step).min(stretches.len());
    lo + 1 + stretches.get(lo + 1..hi).map_or(0, |rest| rest.partition_point(|&(_, end)| end <= t))
}

/// P, pause and GOMAXPROCS changes, sorted.
fn other_events(tl: &Timeline, stop: Stop<'_>) -> Vec<Ev> {
    // The Ps' busy runs on all threads, in any order: an event is all its
    // fields, so the sort decides the order.
    let mut ev = tl
        .procs
        .par_iter()
        .enumerate()
        .fold(Vec::new, |mut ev, (i, p)| {
            let arg = i as u32;
            for_each_run_until(
                &p.track,
                |s| s != PState::Idle as u8,
                stop,
                |s, e| {
                    ev.push(Ev { t: s, change: Change::ProcStart, arg });
                    ev.push(Ev { t: e, change: Change::ProcEnd, arg });
                },
            );
            ev
        })
        .reduce(Vec::new, |mut a, mut b| {
            a.append(&mut b);
            a
        });
    for r in tl.stw.iter().filter(|r| r.start_ns < r.end_ns) {
        ev.push(Ev { t: r.start_ns, change: Change::StwStart, arg: 0 });
        ev.push(Ev { t: r.end_ns, change: Change::StwEnd, arg: 0 });
    }
    let c = &tl.counters.gomaxprocs;
    for (t, v) in c.iter() {
        ev.push(Ev { t, change: Change::Gomaxprocs, arg: v.clamp(0, i64::from(u32::MAX)) as u32 });
    }
    ev.par_sort_unstable();
    ev
}

/// A stretch of time with constant state, as the sweep reports it.
#[derive(Clone, Copy, Debug)]
struct Segment {
    start_ns: i64,
    end_ns: i64,
    runnable: u32,
    idle: u32,
    stw: bool,
}

impl Segment {
    fn is_gap(&self) -> bool {
        self.runnable > 0 && self.idle > 0 && !self.stw
    }
}

/// Sweep state: runnable goroutines, busy Ps among those that exist, pauses.
struct Sweep<'t> {
    tl: &'t Timeline,
    runnable: u32,
    busy: Vec<bool>,
    busy_existing: u32,
    procs: u32,
    stw: u32,
    /// The last instant with changes, once there was one.
    last: Option<i64>,
    /// The first event not applied yet.
    next_event: usize,
    steps: u32,
}

impl<'t> Sweep<'t> {
    fn new(tl: &'t Timeline) -> Sweep<'t> {
        // Without a GOMAXPROCS sample, every P the trace mentions exists.
        let procs = tl.procs.iter().map(|p| p.id.0 + 1).max().unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32;
        let busy = vec![false; tl.procs.len()];
        Sweep { tl, runnable: 0, busy, busy_existing: 0, procs, stw: 0, last: None, next_event: 0, steps: 0 }
    }

    fn exists(&self, proc_index: usize) -> bool {
        self.tl.procs.get(proc_index).is_some_and(|p| p.id.0 >= 0 && p.id.0 < i64::from(self.procs))
    }

    fn set_busy(&mut self, i: usize, busy: bool) {
        let Some(slot) = self.busy.get_mut(i) else { return };
        if *slot == busy {
            return;
        }
        *slot = busy;
        if self.exists(i) {
            if busy {
                self.busy_existing += 1;
            } else {
                self.busy_existing = self.busy_existing.saturating_sub(1);
            }
        }
    }

    fn apply(&mut self, e: &Ev) {
        match e.change {
            Change::ProcStart => self.set_busy(e.arg as usize, true),
            Change::ProcEnd => self.set_busy(e.arg as usize, false),
            Change::StwStart => self.stw += 1,
            Change::StwEnd => self.stw = self.stw.saturating_sub(1),
            Change::Gomaxprocs => {
                self.procs = e.arg;
                let busy = (0..self.busy.len()).filter(|&i| self.exists(i) && self.busy.get(i) == Some(&true));
                self.busy_existing = busy.count() as u32;
            }
        }
    }

    /// Applies every change in time order and calls `f` for each stretch
    /// inside `range` between two instants.
    fn run(
        mut self,
        keys: &[u64],
        base: i64,
        events: &[Ev],
        range: TimeRange,
        stop: Stop<'_>,
        mut f: impl FnMut(Segment),
    ) {
        self.advance(Changes { keys, base, events, until: i64::MAX }, range, stop, &mut f);
    }

    /// Applies the changes before `changes.until` (all of its keys must
    /// be), in time order, calling `f` for each stretch inside `range`
    /// between two instants; the next call goes on from there.
    fn advance(&mut self, changes: Changes<'_>, range: TimeRange, stop: Stop<'_>, f: &mut impl FnMut(Segment)) {
        let Changes { keys, base, events, until } = changes;
        let key_time = |k: &u64| base.saturating_add((k >> 1).min(i64::MAX as u64) as i64);
        let mut i = 0;
        loop {
            let event_ns = events.get(self.next_event).map(|e| e.t).filter(|&t| t < until);
            let Some(now) = earliest(keys.get(i).map(key_time), event_ns) else { break };
            self.steps = self.steps.wrapping_add(1);
            if self.steps.is_multiple_of(4096) && stop.is_raised() {
                return;
            }
            if let Some((start_ns, end_ns)) = self.last.and_then(|t| range.clip(t, now)).filter(|(s, e)| s < e) {
                let idle = self.procs.saturating_sub(self.busy_existing);
                f(Segment { start_ns, end_ns, runnable: self.runnable, idle, stw: self.stw > 0 });
            }
            while let Some(k) = keys.get(i).filter(|k| key_time(k) == now) {
                if k & 1 == 1 {
                    self.runnable += 1;
                } else {
                    self.runnable = self.runnable.saturating_sub(1);
                }
                i += 1;
            }
            while let Some(e) = events.get(self.next_event).filter(|e| e.t == now) {
                self.apply(e);
                self.next_event += 1;
            }
            self.last = Some(now);
        }
    }
}

/// Changes for [`Sweep::advance`]: goroutine keys (sorted, see
/// [`end_key`]) and the other events, up to a time.
#[derive(Clone, Copy)]
struct Changes<'a> {
    keys: &'a [u64],
    base: i64,
    events: &'a [Ev],
    until: i64,
}

/// The earlier of two optional times.
fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The `limit` largest intervals inside `range` in which at least one
/// goroutine was runnable while at least one P was idle, ranked by `order`
/// (ties: earlier first), each listing up to `goroutine_cap` of the
/// goroutines that waited in it.
///
/// The Ps that exist at a time are those with an ID below GOMAXPROCS then
/// (every P the trace mentions if it never says); a P is idle when its track
/// says [`PState::Idle`] or has no span. Stop-the-world pauses are not gaps:
/// no goroutine can run then, whatever the Ps do (see [`longest_stw`]).
///
/// One sweep over the sorted boundaries of runnable and busy runs (O(n log
/// n) for n spans, 8 bytes per goroutine run boundary), then one pass over
/// the goroutines to name those of the chosen gaps.
pub fn idle_proc_gaps(
    tl: &Timeline,
    range: TimeRange,
    order: GapOrder,
    limit: usize,
    goroutine_cap: usize,
) -> Vec<IdleGap> {
    idle_proc_gaps_stoppable(tl, range, order, limit, goroutine_cap, Stop::NEVER).unwrap_or_default()
}

/// [`idle_proc_gaps`], giving up (`None`) once `stop` is raised.
pub fn idle_proc_gaps_stoppable(
    tl: &Timeline,
    range: TimeRange,
    order: GapOrder,
    limit: usize,
    goroutine_cap: usize,
    stop: Stop<'_>,
) -> Option<Vec<IdleGap>> {
    if limit == 0 {
        return stop.unless_raised(Vec::new());
    }
    let ask = Ask { range, order, limit, goroutine_cap };
    let within = |tl: &Timeline, base, events: &[Ev], range| idle_stretches(tl, base, events, range, stop);
    gaps_counting_within(tl, ask, within, Batches::DEFAULT, stop)
}

/// What [`sweep_in_steps`] sweeps: the goroutine changes inside the idle
/// `stretches` (key times from `base`), the other `events`, segments
/// inside `range`; `later` from [`later_starts`].
#[derive(Clone, Copy)]
struct Sweeping<'a> {
    base: i64,
    later: &'a [i64],
    stretches: &'a [(i64, i64)],
    events: &'a [Ev],
    range: TimeRange,
}

/// Sweeps the goroutines' runnable runs, batch by batch (in ID order,
/// which is mostly creation order), each step up to the earliest start
/// among the batches after: no goroutine read later has a change before
/// it. Short goroutines are read whole, their later changes kept for their
/// step; long ones (a few thousand on busy-1gb, with two thirds of the
/// changes) a group of steps' stretch of time at a time. All the changes at
/// once took 380 MB there, 520 MB at the peak. `None` once stopped.
fn sweep_in_steps(
    tl: &Timeline,
    sweep: &mut Sweep<'_>,
    what: Sweeping<'_>,
    sizes: Batches,
    stop: Stop<'_>,
    on_segment: &mut impl FnMut(Segment),
) -> Option<()> {
    let Sweeping { base, later, stretches, events, range } = what;
    let (batch, group) = (sizes.goroutines.max(1), sizes.group.max(1));
    // Step `s` sweeps the changes before `untils[s]`.
    let untils: Vec<i64> = (0..later.len()).map(|s| later.get(s + 1).copied().unwrap_or(i64::MAX)).collect();
    let mut pending: Vec<Vec<u64>> = vec![Vec::new(); untils.len()];
    let (mut carried, mut from_ns) = (Vec::new(), i64::MIN);
    for (b, &until) in untils.iter().enumerate() {
        let start = b.saturating_mul(batch);
        let batch_end = start.saturating_add(batch).min(tl.goroutines.len());
        // Long goroutines are read a group of steps at a time.
        let group_end = (b / group + 1).saturating_mul(group);
        let horizon = untils.get(group_end - 1).copied().unwrap_or(i64::MAX);
        let mut read: Vec<usize> = Vec::new();
        if b.is_multiple_of(group) {
            read.append(&mut carried);
        }
        read.extend(start..batch_end);
        let step = Step {
            base,
            untils: untils.get(b..).unwrap_or_default(),
            horizon,
            long: clip(stretches, from_ns, horizon),
            short: clip(stretches, from_ns, i64::MAX),
        };
        let found = stop.unless_raised(goroutine_keys(tl, &read, &step, stop))?;
        // Later changes wait for their step.
        for (ahead, keys) in found.by_step.into_iter().enumerate() {
            if let Some(p) = pending.get_mut(b + ahead) {
                *p = join(std::mem::take(p), keys);
            }
        }
        let mut now = pending.get_mut(b).map(std::mem::take).unwrap_or_default();
        carried.extend(found.carried);
        now.par_sort_unstable();
        sweep.advance(Changes { keys: &now, base, events, until }, range, stop, on_segment);
        from_ns = until;
    }
    Some(())
}

/// How [`gaps_counting_within`] reads the goroutines: how many at a time
/// (a step), and how many steps' worth of a long goroutine at a time.
#[derive(Clone, Copy, Debug)]
struct Batches {
    goroutines: usize,
    group: usize,
}

impl Batches {
    /// 113 steps in 8 groups on busy-1gb.
    const DEFAULT: Batches = Batches { goroutines: 1 << 16, group: 16 };
}

/// The parts of `stretches` (sorted, disjoint) in `[from_ns, until_ns)`.
fn clip(stretches: &[(i64, i64)], from_ns: i64, until_ns: i64) -> Vec<(i64, i64)> {
    let first = stretches.partition_point(|&(_, end)| end <= from_ns);
    let rest = stretches.get(first..).unwrap_or_default();
    rest.iter().take_while(|&&(start, _)| start < until_ns).map(|&(s, e)| (s.max(from_ns), e.min(until_ns))).collect()
}

/// For each batch of `batch` goroutines, the earliest start among it and
/// the batches after it.
fn later_starts(goroutines: &[Goroutine], batch: usize) -> Vec<i64> {
    let mut starts: Vec<i64> = goroutines
        .par_chunks(batch.max(1))
        .map(|c| c.iter().filter_map(|g| g.track.start_ns()).min().unwrap_or(i64::MAX))
        .collect();
    let mut min = i64::MAX;
    for s in starts.iter_mut().rev() {
        min = min.min(*s);
        *s = min;
    }
    starts
}

/// What [`idle_proc_gaps`] is asked.
#[derive(Clone, Copy)]
struct Ask {
    range: TimeRange,
    order: GapOrder,
    limit: usize,
    goroutine_cap: usize,
}

/// [`idle_proc_gaps`], counting runnable goroutines only inside the
/// stretches `within` picks (all of them must hold the gaps).
fn gaps_counting_within(
    tl: &Timeline,
    ask: Ask,
    within: impl FnOnce(&Timeline, i64, &[Ev], TimeRange) -> Vec<(i64, i64)>,
    sizes: Batches,
    stop: Stop<'_>,
) -> Option<Vec<IdleGap>> {
    let Ask { range, order, limit, goroutine_cap } = ask;
    let batch = sizes.goroutines.max(1);
    let later = later_starts(&tl.goroutines, batch);
    let first = later.first().copied().filter(|&t| t < i64::MAX);
    let base = first.unwrap_or(tl.start_ns).min(tl.start_ns);
    let events = stop.unless_raised(other_events(tl, stop))?;
    let stretches = stop.unless_raised(within(tl, base, &events, range))?;
    let mut gaps = Vec::new();
    let mut open: Option<IdleGap> = None;
    let mut on_segment = |seg: Segment| {
        if !seg.is_gap() {
            gaps.extend(open.take());
            return;
        }
        // Segments inside the range are contiguous: extend the open gap.
        let gap = open.get_or_insert_with(|| IdleGap {
            start_ns: seg.start_ns,
            end_ns: seg.start_ns,
            waiting_ns: 0,
            max_runnable: 0,
            max_idle_procs: 0,
            goroutines: Vec::new(),
            goroutine_count: 0,
        });
        gap.end_ns = seg.end_ns;
        // Saturating: a damaged trace can hold absurd times.
        let waited = i64::from(seg.runnable).saturating_mul(seg.end_ns - seg.start_ns);
        gap.waiting_ns = gap.waiting_ns.saturating_add(waited);
        gap.max_runnable = gap.max_runnable.max(seg.runnable);
        gap.max_idle_procs = gap.max_idle_procs.max(seg.idle);
    };
    let mut sweep = Sweep::new(tl);
    sweep_in_steps(
        tl,
        &mut sweep,
        Sweeping { base, later: &later, stretches: &stretches, events: &events, range },
        sizes,
        stop,
        &mut on_segment,
    )?;
    // The events after the last goroutine change.
    sweep.advance(Changes { keys: &[], base, events: &events, until: i64::MAX }, range, stop, &mut on_segment);
    gaps.extend(open);
    let mut gaps = stop.unless_raised(gaps)?;
    match order {
        GapOrder::Duration => gaps.sort_by_key(|g| (Reverse(g.duration_ns()), g.start_ns)),
        GapOrder::Waiting => gaps.sort_by_key(|g| (Reverse(g.waiting_ns), g.start_ns)),
    }
    gaps.truncate(limit);
    name_goroutines(tl, &mut gaps, goroutine_cap, stop);
    stop.unless_raised(gaps)
}

/// The stretches of `range` in which some P is idle outside a pause: the
/// only places a gap can be, found from the Ps alone. On a busy trace they
/// are a small part of the time, so the goroutines' runnable runs need
/// only be counted there (on busy-1gb, the sorted boundaries of all of
/// them took 720 MB and most of the query's time).
fn idle_stretches(tl: &Timeline, base: i64, events: &[Ev], range: TimeRange, stop: Stop<'_>) -> Vec<(i64, i64)> {
    // Goroutines can be runnable from `base` to the last track's end: one
    // run over all of it makes the sweep report every stretch there, before
    // the first P event and after the last too.
    let last = tl.goroutines.par_iter().filter_map(|g| g.track.end_ns()).max().unwrap_or(base);
    if last <= base {
        return Vec::new();
    }
    let key = |t: i64| end_key(t, base);
    let mut out: Vec<(i64, i64)> = Vec::new();
    Sweep::new(tl).run(&[key(base) | 1, key(last)], base, events, range, stop, |seg| {
        if seg.idle == 0 || seg.stw {
            return;
        }
        match out.last_mut() {
            Some(last) if last.1 == seg.start_ns => last.1 = seg.end_ns,
            _ => out.push((seg.start_ns, seg.end_ns)),
        }
    });
    out
}

/// Fills in the goroutines whose runnable runs overlap the chosen gaps.
fn name_goroutines(tl: &Timeline, gaps: &mut [IdleGap], cap: usize, stop: Stop<'_>) {
    let mut by_start: Vec<usize> = (0..gaps.len()).collect();
    by_start.sort_by_key(|&i| gaps.get(i).map(|g| g.start_ns));
    let bounds: Vec<(i64, i64)> =
        by_start.iter().filter_map(|&i| gaps.get(i)).map(|g| (g.start_ns, g.end_ns)).collect();
    // Each thread names the goroutines of a stretch of the list; the
    // stretches merge in list order, so the first `cap` stay the first.
    let found = tl
        .goroutines
        .par_iter()
        .enumerate()
        .fold(
            || Named::new(bounds.len()),
            |mut named, (gi, g)| {
                if !stop.is_raised() {
                    named.add(&bounds, gi, g, cap);
                }
                named
            },
        )
        .reduce(|| Named::new(bounds.len()), |a, b| a.merge(b, cap));
    for (&gi, (ids, n)) in by_start.iter().zip(found.found) {
        if let Some(gap) = gaps.get_mut(gi) {
            gap.goroutines = ids;
            gap.goroutine_count = n;
        }
    }
}

/// The goroutines waiting in each gap (in start order) among some of the
/// goroutines: the first `cap`, and how many.
struct Named {
    /// Per gap: the goroutine last added, to count each once.
    last: Vec<Option<usize>>,
    found: Vec<(Vec<GoroutineId>, usize)>,
}

impl Named {
    fn new(gaps: usize) -> Named {
        Named { last: vec![None; gaps], found: vec![(Vec::new(), 0); gaps] }
    }

    /// Adds goroutine `g`, at index `gi`, to the gaps its runnable runs
    /// overlap (`bounds`: the gaps sorted by start, disjoint).
    fn add(&mut self, bounds: &[(i64, i64)], gi: usize, g: &Goroutine, cap: usize) {
        for_each_run_within(&g.track, is_runnable, bounds, |s, e| {
            let first = bounds.partition_point(|&(_, end)| end <= s);
            for k in first..bounds.len() {
                let (Some(&(start, _)), Some(seen), Some((ids, n))) =
                    (bounds.get(k), self.last.get_mut(k), self.found.get_mut(k))
                else {
                    break;
                };
                if start >= e {
                    break;
                }
                if *seen != Some(gi) {
                    *seen = Some(gi);
                    *n += 1;
                    if ids.len() < cap {
                        ids.push(g.id);
                    }
                }
            }
        });
    }

    /// `self` followed by `later`, which saw the goroutines after.
    fn merge(mut self, later: Named, cap: usize) -> Named {
        for ((ids, n), (more, m)) in self.found.iter_mut().zip(later.found) {
            ids.extend(more.into_iter().take(cap.saturating_sub(ids.len())));
            *n += m;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testutil::{goroutine, simple, stack};
    use crate::model::{Proc, RangeKind};
    use crate::strings::StrId;
    use crate::track::TrackBuilder;
    use trace_core::ProcId;

    fn proc(id: i64, spans: &[(i64, PState)], end: i64) -> Proc {
        let mut b = TrackBuilder::default();
        for &(t, s) in spans {
            b.push(t, s as u8, StackId::NONE, -1, -1);
        }
        Proc { id: ProcId(id), track: b.finish(end) }
    }

    /// GOMAXPROCS 2. P0 runs throughout; P1 is idle 30-60 and 90-100.
    /// g1 waits 20-50 (woken by g2), g2 is created at 35 and waits until 48,
    /// g3 is preempted 70-80, g10..g20 wait 92-95. A GC pause 31-33.
    fn timeline() -> Timeline {
        let mut tl = Timeline { start_ns: 0, end_ns: 100, ..Timeline::default() };
        let (wake, create) = (stack(&mut tl, &["main", "wake"]), stack(&mut tl, &["main", "spawn"]));
        tl.counters.gomaxprocs.push(0, 2);
        tl.procs = vec![
            proc(0, &[(0, PState::Running)], 100),
            proc(1, &[(0, PState::Running), (30, PState::Idle), (60, PState::Running), (90, PState::Idle)], 100),
        ];
        let n = StackId::NONE;
        let g1 = [(0, GState::Running, n, 0, -1), (20, GState::Runnable, wake, 2, -1), (50, GState::Running, n, 1, -1)];
        let mut g2 = simple(2, StrId(0), &[(35, GState::Created), (48, GState::Running)], 100);
        g2.origin = tl.origins.intern(crate::Origin { parent: GoroutineId(1), creation_stack: create });
        let g3 = [(0, GState::Running, n, 0, -1), (70, GState::Preempted, n, -1, -1), (80, GState::Running, n, 0, -1)];
        tl.goroutines = vec![goroutine(1, StrId(0), &g1, 100), g2, goroutine(3, StrId(0), &g3, 100)];
        for id in 10..21 {
            tl.goroutines.push(simple(id, StrId(0), &[(92, GState::Runnable), (95, GState::Running)], 100));
        }
        let reason = tl.strings.intern(b"GC mark termination");
        tl.stw = vec![RangeSpan { kind: RangeKind::Stw, start_ns: 31, end_ns: 33, reason, scope: -1 }];
        tl
    }

    fn summary(gaps: &[IdleGap]) -> Vec<(i64, i64, i64, u32, u32, usize)> {
        gaps.iter()
            .map(|g| (g.start_ns, g.end_ns, g.waiting_ns, g.max_runnable, g.max_idle_procs, g.goroutine_count))
            .collect()
    }

    #[test]
    fn runnable_waits_longest_first() {
        let tl = timeline();
        let w = longest_runnable_waits(&tl, &Filter::all(), 4);
        let got: Vec<_> = w.iter().map(|w| (w.g.0, w.state, w.start_ns, w.end_ns)).collect();
        assert_eq!(
            got,
            [
                (1, GState::Runnable, 20, 50),
                (2, GState::Created, 35, 48),
                (3, GState::Preempted, 70, 80),
                (10, GState::Runnable, 92, 95),
            ]
        );
        assert_eq!(w[0].woken_by, Some(GoroutineId(2)));
        assert_eq!(
            w[0].stack,
            crate::analysis::found(tl.goroutines[0].track.span(1), "tl.goroutines[0].track.span(1)").stack
        );
        assert_eq!(w[1].stack, tl.origin(&tl.goroutines[1]).creation_stack);
        assert_eq!(w[2].woken_by, None);
        // Clipped to [40, 45): g1 and g2 wait 5 ns each from 40, so the lower
        // ID comes first.
        let w = longest_runnable_waits(&tl, &Filter::range(TimeRange::new(40, 45)), 10);
        assert_eq!(w.iter().map(|w| (w.g.0, w.duration_ns())).collect::<Vec<_>>(), [(1, 5), (2, 5)]);
        let w = longest_runnable_waits(&tl, &Filter::all().with_goroutines([GoroutineId(3)]), 10);
        assert_eq!(w.iter().map(|w| w.g.0).collect::<Vec<_>>(), [3]);
        assert!(longest_runnable_waits(&tl, &Filter::all(), 0).is_empty());
    }

    #[test]
    fn gaps_where_goroutines_wait_and_a_p_idles() {
        let tl = timeline();
        // P1 idles 30-60: [30,31) has g1 alone; the pause 31-33 splits it
        // from [33,50), where g1 waits throughout and g2 35-48 (2 + 26 + 2
        // goroutine-ns). P1 idles again 90-100: eleven goroutines wait 92-95.
        let by_duration = idle_proc_gaps(&tl, TimeRange::ALL, GapOrder::Duration, 10, 3);
        assert_eq!(
            summary(&by_duration),
            [(33, 50, 2 + 26 + 2, 2, 1, 2), (92, 95, 33, 11, 1, 11), (30, 31, 1, 1, 1, 1),]
        );
        assert_eq!(by_duration[0].goroutines, [GoroutineId(1), GoroutineId(2)]);
        assert_eq!(by_duration[1].goroutines, [GoroutineId(10), GoroutineId(11), GoroutineId(12)]);
        assert_eq!(by_duration[2].goroutines, [GoroutineId(1)]);
        let by_waiting = idle_proc_gaps(&tl, TimeRange::ALL, GapOrder::Waiting, 2, 3);
        assert_eq!(by_waiting.iter().map(|g| (g.start_ns, g.waiting_ns)).collect::<Vec<_>>(), [(92, 33), (33, 30)]);
        // Inside [40, 93): the first gap is cut at 40; g2 is already waiting.
        let cut = idle_proc_gaps(&tl, TimeRange::new(40, 93), GapOrder::Duration, 10, 3);
        assert_eq!(summary(&cut), [(40, 50, 8 * 2 + 2, 2, 1, 2), (92, 93, 11, 11, 1, 11)]);
    }

    #[test]
    fn only_ps_below_gomaxprocs_can_idle() {
        let mut tl = Timeline { start_ns: 0, end_ns: 100, ..Timeline::default() };
        tl.counters.gomaxprocs.push(0, 1);
        tl.counters.gomaxprocs.push(50, 3);
        tl.procs = vec![proc(0, &[(0, PState::Running)], 100), proc(1, &[(0, PState::Idle)], 100)];
        tl.goroutines = vec![simple(1, StrId(0), &[(10, GState::Runnable), (80, GState::Running)], 100)];
        // P1 is idle but does not exist until 50; P2 has no track and is idle from 50.
        let gaps = idle_proc_gaps(&tl, TimeRange::ALL, GapOrder::Duration, 10, 3);
        assert_eq!(summary(&gaps), [(50, 80, 30, 1, 2, 1)]);
    }

    #[test]
    fn runs_of_length_zero_change_nothing() {
        let mut tl = Timeline { start_ns: 0, end_ns: 50, ..Timeline::default() };
        tl.counters.gomaxprocs.push(0, 1);
        tl.procs = vec![proc(0, &[(0, PState::Idle), (20, PState::Running), (20, PState::Idle)], 50)];
        let spans = [
            (0, GState::Running),
            (10, GState::Runnable),
            (10, GState::Running),
            (30, GState::Runnable),
            (40, GState::Running),
        ];
        tl.goroutines = vec![simple(1, StrId(0), &spans, 50)];
        let gaps = idle_proc_gaps(&tl, TimeRange::ALL, GapOrder::Duration, 10, 3);
        assert_eq!(summary(&gaps), [(30, 40, 10, 1, 1, 1)]);
    }

    #[test]
    fn longest_pauses_first() {
        let mut tl = timeline();
        let reason = tl.strings.intern(b"GOMAXPROCS");
        tl.stw.push(RangeSpan { kind: RangeKind::Stw, start_ns: 60, end_ns: 65, reason, scope: -1 });
        let s = longest_stw(&tl, TimeRange::ALL, 10);
        assert_eq!(s.iter().map(|r| (r.start_ns, r.end_ns)).collect::<Vec<_>>(), [(60, 65), (31, 33)]);
        let s = longest_stw(&tl, TimeRange::new(32, 61), 1);
        assert_eq!(s.iter().map(|r| (r.start_ns, r.end_ns)).collect::<Vec<_>>(), [(32, 33)]);
    }

    /// The parts of runnable runs inside some stretches, merged where they
    /// touch: what counting and naming goroutines in them depends on.
    fn covered(runs: &[(i64, i64)], within: &[(i64, i64)]) -> Vec<(i64, i64)> {
        let mut parts: Vec<(i64, i64)> = Vec::new();
        for &(s, e) in runs {
            for &(from, to) in within {
                let (s, e) = (s.max(from), e.min(to));
                if s < e {
                    parts.push((s, e));
                }
            }
        }
        parts.sort_unstable();
        let mut out: Vec<(i64, i64)> = Vec::new();
        for (s, e) in parts {
            match out.last_mut() {
                Some(last) if last.1 >= s => last.1 = last.1.max(e),
                _ => out.push((s, e)),
            }
        }
        out
    }

    #[test]
    fn runs_read_only_where_stretches_are_cover_the_same_time_there() {
        // A goroutine of 3 000 spans (12 blocks) switching among runnable,
        // running and blocked, some spans empty.
        let mut b = TrackBuilder::default();
        let (mut t, mut x) = (0i64, 7u64);
        let states = [GState::Runnable, GState::Running, GState::ChanRecv, GState::Preempted];
        for _ in 0..3000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.push(t, states[(x % 4) as usize] as u8, StackId::NONE, -1, -1);
            t += (x >> 8) as i64 % 50;
        }
        let track = b.finish(t + 10);
        assert!(track.block_count() > 10);
        // Every runnable run, from the spans one by one.
        let mut all: Vec<(i64, i64)> = Vec::new();
        let mut last_runnable = false;
        for s in track.spans() {
            let runnable = is_runnable(s.state);
            match all.last_mut() {
                Some(run) if runnable && last_runnable => run.1 = s.end_ns,
                _ if runnable => all.push((s.start_ns, s.end_ns)),
                _ => {}
            }
            last_runnable = runnable;
        }
        all.retain(|r| r.0 < r.1);
        let mut whole = Vec::new();
        for_each_run(&track, is_runnable, |s, e| whole.push((s, e)));
        assert_eq!(whole, all);
        let stretch_sets: [Vec<(i64, i64)>; 4] = [
            vec![(i64::MIN, i64::MAX)],
            vec![],
            (0..40).map(|i| (i * 2_000 + 300, i * 2_000 + 700)).collect(),
            vec![(-50, 3), (t / 2, t / 2 + 1), (t - 20, t + 100)],
        ];
        for within in &stretch_sets {
            let mut got = Vec::new();
            for_each_run_within(&track, is_runnable, within, |s, e| got.push((s, e)));
            assert!(got.windows(2).all(|w| w[0].1 <= w[1].0), "in order, apart");
            assert_eq!(covered(&got, within), covered(&all, within), "{within:?}");
        }
        // Reading inside few stretches decodes few blocks: most runs are
        // never reported.
        let mut few = 0;
        for_each_run_within(&track, is_runnable, &stretch_sets[3], |_, _| few += 1);
        assert!(few * 4 < all.len(), "{few} of {}", all.len());
    }

    #[test]
    fn galloping_finds_what_a_binary_search_finds() {
        let stretches: Vec<(i64, i64)> = (0..100).map(|i| (i * 10, i * 10 + 5)).collect();
        for from in [0, 1, 7, 50, 99, 100] {
            for t in -5..1010 {
                let want = stretches.partition_point(|&(_, end)| end <= t).max(from);
                assert_eq!(first_ending_after(&stretches, from, t), want, "from {from} t {t}");
            }
        }
        assert_eq!(first_ending_after(&[], 0, 3), 0);
    }

    /// Found by the fuzzer: goroutine-time waiting overflowed on a damaged
    /// trace's absurd times.
    #[test]
    fn gap_waiting_time_saturates_on_absurd_times() {
        let (from, to) = (-(1i64 << 61), 1i64 << 61);
        let mut tl = Timeline { start_ns: from, end_ns: to, ..Timeline::default() };
        tl.procs = vec![proc(0, &[(from, PState::Idle)], to)];
        for id in 1..5 {
            tl.goroutines.push(simple(id, StrId(0), &[(from, GState::Runnable)], to));
        }
        let gaps = idle_proc_gaps(&tl, TimeRange::ALL, GapOrder::Waiting, 10, 2);
        assert_eq!(summary(&gaps), [(from, to, i64::MAX, 4, 1, 4)]);
    }

    /// Reading the goroutines a few at a time, a stretch of time at a time,
    /// the sweep finds the gaps it finds from all of their changes at once:
    /// with goroutines out of time order too (the table is by ID, and a
    /// goroutine's ID need not follow its start).
    #[test]
    fn gaps_from_goroutines_in_batches_equal_gaps_from_all_at_once() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces");
        let stretches =
            |tl: &Timeline, base, events: &[Ev], range| idle_stretches(tl, base, events, range, Stop::NEVER);
        let gaps = |tl: &Timeline, range, order, sizes| {
            let ask = Ask { range, order, limit: 1000, goroutine_cap: 5 };
            crate::analysis::found(gaps_counting_within(tl, ask, stretches, sizes, Stop::NEVER), "gaps")
        };
        let mut shuffled = timeline();
        shuffled.goroutines.reverse();
        let mut compared = 0;
        let traces = ["go1.27/manyg.trace", "go1.27/chan.trace", "go1.27/gomaxprocs.trace", "go1.22/net.trace"];
        let built = traces.iter().map(|rel| {
            let bytes = std::fs::read(root.join(rel)).unwrap_or_default();
            crate::analysis::found(crate::build(&bytes, &crate::Progress::default()).ok(), rel)
        });
        for (i, tl) in [timeline(), shuffled].into_iter().chain(built).enumerate() {
            let third = (tl.end_ns - tl.start_ns) / 3;
            let ranges = [TimeRange::ALL, TimeRange::new(tl.start_ns + third, tl.end_ns - third)];
            for (range, order) in ranges.into_iter().flat_map(|r| [(r, GapOrder::Duration), (r, GapOrder::Waiting)]) {
                let want = gaps(&tl, range, order, Batches { goroutines: usize::MAX, group: 1 });
                compared += want.len();
                for (goroutines, group) in [(1, 1), (1, 5), (2, 1), (3, 2), (7, 16), (50, 3), (1000, 1), (1 << 16, 16)]
                {
                    let got = gaps(&tl, range, order, Batches { goroutines, group });
                    assert_eq!(got, want, "timeline {i} {range:?} {order:?}, {goroutines} a batch, groups of {group}");
                }
            }
        }
        assert!(compared > 200, "{compared} gaps");
    }

    /// Counting runnable goroutines only where some P is idle outside a
    /// pause finds the very gaps that counting them everywhere finds.
    #[test]
    fn gaps_counted_in_idle_stretches_equal_gaps_counted_everywhere() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces");
        let everywhere = |_: &Timeline, _: i64, _: &[Ev], _: TimeRange| vec![(i64::MIN, i64::MAX)];
        // Goroutines waiting before the Ps' first change and after their last.
        let mut edges = timeline();
        edges.procs = vec![proc(0, &[(10, PState::Running)], 80), proc(1, &[(10, PState::Running)], 80)];
        edges.goroutines.push(simple(30, StrId(0), &[(0, GState::Runnable), (5, GState::Running)], 100));
        let counted_everywhere = |tl: &Timeline, range, order, limit| {
            let ask = Ask { range, order, limit, goroutine_cap: 5 };
            crate::analysis::found(gaps_counting_within(tl, ask, everywhere, Batches::DEFAULT, Stop::NEVER), "gaps")
        };
        let want = counted_everywhere(&edges, TimeRange::ALL, GapOrder::Duration, 10);
        assert_eq!(summary(&want), [(0, 5, 5, 1, 2, 1), (92, 95, 33, 11, 2, 11)], "the edge gaps themselves");
        assert_eq!(idle_proc_gaps(&edges, TimeRange::ALL, GapOrder::Duration, 10, 5), want);
        let mut gaps_seen = 0;
        for rel in ["go1.27/manyg.trace", "go1.27/chan.trace", "go1.27/gomaxprocs.trace", "go1.22/net.trace"] {
            let bytes = std::fs::read(root.join(rel)).unwrap_or_default();
            let tl = crate::analysis::found(crate::build(&bytes, &crate::Progress::default()).ok(), rel);
            let third = (tl.end_ns - tl.start_ns) / 3;
            let ranges = [TimeRange::ALL, TimeRange::new(tl.start_ns + third, tl.end_ns - third)];
            for (range, order) in ranges.into_iter().flat_map(|r| [(r, GapOrder::Duration), (r, GapOrder::Waiting)]) {
                let want = counted_everywhere(&tl, range, order, 1000);
                let got = idle_proc_gaps(&tl, range, order, 1000, 5);
                assert_eq!(got, want, "{rel} {range:?} {order:?}");
                gaps_seen += want.len();
            }
        }
        assert!(gaps_seen > 200, "{gaps_seen} gaps");
    }
}
