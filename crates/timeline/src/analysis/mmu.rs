//! Minimum mutator utilisation (MMU), as `go tool trace` computes it.
//!
//! The mutator utilisation at an instant is the fraction of GOMAXPROCS Ps
//! running the program rather than the garbage collector: 0 during a GC
//! stop-the-world pause, otherwise 1 minus the share of Ps sweeping, running
//! a goroutine in a mark assist, or running a dedicated or fractional
//! background mark worker. Which of these count is chosen by [`UtilFlags`];
//! with [`UtilFlags::PER_PROC`] each P gets its own 0-or-1 series instead.
//!
//! For a window length `w`, the MMU is the lowest mean utilisation over all
//! windows of length `w` inside the trace. The mean over a window moving
//! across a step function changes linearly between the instants at which
//! either edge crosses a step, so the minimum is at one of those instants:
//! [`MmuCurve::mmu`] evaluates exactly those, walking both edges forward
//! once (linear in the number of steps).
//!
//! One deliberate difference from Go 1.27: Go counts a background mark
//! worker again every time it is rescheduled (its GoStart and its mode label
//! both add to the P's count, only the stop subtracts), so after a worker's
//! second run a P can stay "in GC" for the rest of the trace. As Go records
//! a value only when it changes, its series then ends there, and so do the
//! windows its MMU looks at: on most real-world traces (`go test -trace` of
//! `net/http`, for one) a small part at the start. Here a worker counts
//! exactly while it runs in dedicated or fractional mode.

use std::cmp::Ordering;
use std::ops::BitOr;

use rayon::prelude::*;
use trace_core::GoroutineId;

use super::Stop;
use crate::model::{RangeKind, RangeSpan, Timeline};
use crate::state::GState;

/// What takes time from the mutator. Combine with `|`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct UtilFlags(u8);

impl UtilFlags {
    /// Nothing: utilisation is 1 throughout.
    pub const NONE: UtilFlags = UtilFlags(0);
    /// GC stop-the-world pauses (non-GC pauses, such as GOMAXPROCS changes,
    /// do not count, as in Go).
    pub const STW: UtilFlags = UtilFlags(1);
    /// Background mark workers (dedicated and fractional).
    pub const BACKGROUND: UtilFlags = UtilFlags(2);
    /// Mark assists (while the assisting goroutine runs).
    pub const ASSIST: UtilFlags = UtilFlags(4);
    /// Sweeping.
    pub const SWEEP: UtilFlags = UtilFlags(8);
    /// One series per P instead of one for the whole program; dedicated
    /// workers then do not count (they take a whole P, so they delay no
    /// goroutine directly).
    pub const PER_PROC: UtilFlags = UtilFlags(16);
    /// Everything the GC does: STW, background, assist and sweep.
    pub const ALL_GC: UtilFlags = UtilFlags(1 | 2 | 4 | 8);

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: UtilFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for UtilFlags {
    type Output = UtilFlags;

    fn bitor(self, rhs: UtilFlags) -> UtilFlags {
        UtilFlags(self.0 | rhs.0)
    }
}

/// The mode of a GC background mark worker while it runs, from its label;
/// stored as the `b` argument of its running spans.
#[repr(i64)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MarkWorker {
    /// Takes a whole P for the GC.
    Dedicated = 1,
    /// Takes part of a P's time.
    Fractional = 2,
    /// Uses a P that had nothing else to do.
    Idle = 3,
}

impl MarkWorker {
    /// The mode named by a goroutine label (`GC (dedicated)`, ...).
    pub fn from_label(label: &[u8]) -> Option<MarkWorker> {
        match label {
            b"GC (dedicated)" => Some(MarkWorker::Dedicated),
            b"GC (fractional)" => Some(MarkWorker::Fractional),
            b"GC (idle)" => Some(MarkWorker::Idle),
            _ => None,
        }
    }

    /// The mode stored in a running span's `b` argument.
    pub fn from_code(b: i64) -> Option<MarkWorker> {
        [MarkWorker::Dedicated, MarkWorker::Fractional, MarkWorker::Idle].into_iter().find(|m| *m as i64 == b)
    }
}

/// Utilisation from `time_ns` until the next point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UtilPoint {
    /// When.
    pub time_ns: i64,
    /// Mean mutator utilisation from then on, 0 to 1.
    pub util: f64,
}

/// A change to the utilisation inputs: 8 bytes, as a busy 1 GB trace has
/// tens of millions of them (with 16, the list and the sort's buffer
/// raised the peak by half the file). Ordered only so that a list of them
/// sorts one way: their order at one instant does not change the
/// utilisation, which is recorded after all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    /// A P starts (+1) or stops (-1) doing GC work.
    Gc { p: u32, delta: i8 },
    /// A GC stop-the-world pause starts or ends.
    Stw(i8),
    /// GOMAXPROCS changes.
    Procs(u32),
}

/// A change list.
type Changes = Vec<(i64, Change)>;

/// Every change the flags ask for, sorted (by time, then by [`Change`]'s
/// order, so the list is the same however it was found).
fn changes(tl: &Timeline, flags: UtilFlags, stop: Stop<'_>) -> Changes {
    let mut out = gc_work_changes(tl, flags, stop);
    if flags.contains(UtilFlags::BACKGROUND) {
        let workers = tl.goroutines.par_iter().filter(|g| g.is_system()).fold(Changes::new, |mut out, g| {
            if stop.is_raised() {
                return out;
            }
            g.track.for_each_in(i64::MIN, i64::MAX, |_, s| {
                if s.state == GState::Running as u8 && counts_as_gc(flags, MarkWorker::from_code(s.b)) {
                    push_gc(s.a, s.start_ns, s.end_ns, &mut |t, c| out.push((t, c)));
                }
            });
            out
        });
        let mut workers = in_order(workers);
        out.reserve_exact(workers.len());
        out.append(&mut workers);
    }
    if flags.contains(UtilFlags::STW) {
        for r in tl.stw.iter().filter(|r| tl.strings.get(r.reason).contains("GC")) {
            out.push((r.start_ns, Change::Stw(1)));
            out.push((r.end_ns, Change::Stw(-1)));
        }
    }
    let c = &tl.counters.gomaxprocs;
    for (t, n) in c.iter() {
        out.push((t, Change::Procs(u32::try_from(n).unwrap_or(0))));
    }
    // In place: a stable sort's buffer doubled the list at its largest.
    out.par_sort_unstable();
    out
}

/// The lists of a fold, joined in input order.
fn in_order<T: Send>(pieces: impl ParallelIterator<Item = Vec<T>>) -> Vec<T> {
    pieces.reduce(Vec::new, |mut a, mut b| {
        a.append(&mut b);
        a
    })
}

/// The changes of the sweeps and mark assists, unsorted.
fn gc_work_changes(tl: &Timeline, flags: UtilFlags, stop: Stop<'_>) -> Changes {
    // Reading the assists goroutine by goroutine, in time order, finds the
    // pages a read needs in the store's cache (about 3x faster than in
    // `gc_work` order).
    let mut ranges: Vec<RangeSpan> = tl.gc_work.iter().collect();
    ranges.par_sort_unstable_by_key(|r| (r.kind == RangeKind::MarkAssist, r.scope, r.start_ns, r.end_ns));
    in_order(ranges.par_iter().fold(Vec::new, |mut out, r| {
        if !stop.is_raised() {
            range_changes(tl, flags, r, &mut |t, c| out.push((t, c)));
        }
        out
    }))
}

/// The changes of one sweep or mark assist range the flags ask for.
fn range_changes(tl: &Timeline, flags: UtilFlags, r: &RangeSpan, out: &mut impl FnMut(i64, Change)) {
    match r.kind {
        RangeKind::Sweep if flags.contains(UtilFlags::SWEEP) => push_gc(r.scope, r.start_ns, r.end_ns, out),
        RangeKind::MarkAssist if flags.contains(UtilFlags::ASSIST) => {
            // An assist takes its P only while the goroutine runs.
            let Some(g) = tl.goroutine(GoroutineId(r.scope)) else { return };
            g.track.for_each_in(r.start_ns, r.end_ns, |_, s| {
                if s.state == GState::Running as u8 {
                    push_gc(s.a, s.start_ns.max(r.start_ns), s.end_ns.min(r.end_ns), out);
                }
            });
        }
        _ => {}
    }
}

/// P `p` doing GC work in `[start, end)`, if `p` is a P and the time not empty.
fn push_gc(p: i64, start: i64, end: i64, out: &mut impl FnMut(i64, Change)) {
    if let Ok(p) = u32::try_from(p)
        && start < end
    {
        out(start, Change::Gc { p, delta: 1 });
        out(end, Change::Gc { p, delta: -1 });
    }
}

/// Whether a background mark worker running in mode `m` takes its P.
fn counts_as_gc(flags: UtilFlags, m: Option<MarkWorker>) -> bool {
    match m {
        Some(MarkWorker::Fractional) => true,
        Some(MarkWorker::Dedicated) => !flags.contains(UtilFlags::PER_PROC),
        _ => false,
    }
}

/// Appends a point unless the utilisation is unchanged; at an instant
/// already recorded the lowest value wins.
fn add_util(series: &mut Vec<UtilPoint>, p: UtilPoint) {
    if let Some(last) = series.last_mut() {
        if last.util == p.util {
            return;
        }
        if last.time_ns == p.time_ns {
            if p.util < last.util {
                *last = p;
            }
            return;
        }
    }
    series.push(p);
}

/// The state of the utilisation sweep.
#[derive(Default)]
struct UtilState {
    per_proc: bool,
    /// GC work in progress per P ID.
    gc: Vec<i32>,
    /// Ps with GC work among the first `procs`.
    gc_procs: usize,
    procs: usize,
    stw: i32,
    out: Vec<Vec<UtilPoint>>,
    /// Per P below `procs`, its series in `out` (per-P mode).
    series: Vec<usize>,
    /// Ps whose count changed at the current instant.
    dirty: Vec<usize>,
    all_dirty: bool,
}

impl UtilState {
    fn gc_at(&self, p: usize) -> i32 {
        self.gc.get(p).copied().unwrap_or(0)
    }

    fn apply(&mut self, t: i64, c: Change) {
        match c {
            Change::Gc { p, delta } => {
                let (p, delta) = (p as usize, i32::from(delta));
                if self.gc.len() <= p {
                    self.gc.resize(p + 1, 0);
                }
                let before = self.gc_at(p) > 0;
                if let Some(v) = self.gc.get_mut(p) {
                    *v += delta;
                }
                let after = self.gc_at(p) > 0;
                if before != after && p < self.procs {
                    if after { self.gc_procs += 1 } else { self.gc_procs = self.gc_procs.saturating_sub(1) }
                }
                self.dirty.push(p);
            }
            Change::Stw(d) => {
                self.stw += i32::from(d);
                self.all_dirty = true;
            }
            Change::Procs(n) => self.set_procs(t, n as usize),
        }
    }

    fn set_procs(&mut self, t: i64, n: usize) {
        if self.per_proc {
            // Ps going away end their series; Ps (re)appearing start one.
            for &s in self.series.get(n..).unwrap_or_default() {
                if let Some(series) = self.out.get_mut(s) {
                    add_util(series, UtilPoint { time_ns: t, util: 0.0 });
                }
            }
            self.series.truncate(n);
            while self.series.len() < n {
                self.series.push(self.out.len());
                self.out.push(vec![UtilPoint { time_ns: t, util: 1.0 }]);
            }
        } else if self.out.is_empty() && n > 0 {
            self.out.push(vec![UtilPoint { time_ns: t, util: 1.0 }]);
        }
        self.procs = n;
        self.gc_procs = (0..n).filter(|&p| self.gc_at(p) > 0).count();
        self.all_dirty = true;
    }

    /// Records the utilisation after every change at `t`.
    fn record(&mut self, t: i64) {
        if self.per_proc {
            let ps: Vec<usize> =
                if self.all_dirty { (0..self.procs).collect() } else { std::mem::take(&mut self.dirty) };
            for p in ps {
                let util = if self.stw > 0 || self.gc_at(p) > 0 { 0.0 } else { 1.0 };
                if let Some(series) = self.series.get(p).and_then(|&s| self.out.get_mut(s)) {
                    add_util(series, UtilPoint { time_ns: t, util });
                }
            }
        } else if let Some(series) = self.out.first_mut().filter(|_| self.procs > 0) {
            let util = if self.stw > 0 { 0.0 } else { 1.0 - self.gc_procs as f64 / self.procs as f64 };
            add_util(series, UtilPoint { time_ns: t, util });
        }
        self.dirty.clear();
        self.all_dirty = false;
    }
}

/// The mutator utilisation of the trace as step functions: one series, or
/// one per P (a new series each time a P comes back after GOMAXPROCS
/// shrank) with [`UtilFlags::PER_PROC`].
///
/// A series starts at the first GOMAXPROCS sample with utilisation 1 and
/// ends at the end of the trace with a final point of utilisation 0; a trace
/// without GOMAXPROCS samples has no series, as in Go.
pub fn mutator_utilization(tl: &Timeline, flags: UtilFlags) -> Vec<Vec<UtilPoint>> {
    mutator_utilization_stoppable(tl, flags, Stop::NEVER).unwrap_or_default()
}

/// [`mutator_utilization`], giving up (`None`) once `stop` is raised.
pub fn mutator_utilization_stoppable(tl: &Timeline, flags: UtilFlags, stop: Stop<'_>) -> Option<Vec<Vec<UtilPoint>>> {
    let Some(first) = tl.counters.gomaxprocs.first_time() else { return stop.unless_raised(Vec::new()) };
    let changes = stop.unless_raised(changes(tl, flags, stop))?;
    sweep(&changes, first, tl.end_ns, flags.contains(UtilFlags::PER_PROC), stop)
}

/// The utilisation series from `changes` (in time order), recorded from
/// `first` on and ending at `end_ns` or the last change.
fn sweep(
    changes: &[(i64, Change)],
    first: i64,
    end_ns: i64,
    per_proc: bool,
    stop: Stop<'_>,
) -> Option<Vec<Vec<UtilPoint>>> {
    let mut st = UtilState { per_proc, ..UtilState::default() };
    let mut i = 0;
    while let Some(&(t, _)) = changes.get(i) {
        if i % 4096 == 0 && stop.is_raised() {
            return None;
        }
        while let Some(&(_, c)) = changes.get(i).filter(|(ct, _)| *ct == t) {
            st.apply(t, c);
            i += 1;
        }
        if t >= first {
            st.record(t);
        }
    }
    let end = end_ns.max(changes.last().map_or(first, |c| c.0));
    for s in &mut st.out {
        add_util(s, UtilPoint { time_ns: end, util: 0.0 });
    }
    Some(st.out)
}

/// A window of the utilisation function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UtilWindow {
    /// Start of the window.
    pub time_ns: i64,
    /// Mean utilisation over the window.
    pub util: f64,
}

/// One utilisation series with its running integral.
#[derive(Clone, Debug)]
struct Series {
    points: Vec<UtilPoint>,
    /// `cum[i]`: integral of the utilisation from the first point to point i.
    cum: Vec<f64>,
}

impl Series {
    fn new(points: Vec<UtilPoint>) -> Series {
        let mut cum = Vec::with_capacity(points.len());
        let mut acc = 0.0;
        let mut prev: Option<&UtilPoint> = None;
        for p in &points {
            if let Some(q) = prev {
                acc += q.util * (p.time_ns - q.time_ns) as f64;
            }
            cum.push(acc);
            prev = Some(p);
        }
        Series { points, cum }
    }

    fn bounds(&self) -> Option<(i64, i64)> {
        Some((self.points.first()?.time_ns, self.points.last()?.time_ns))
    }

    /// Every window start at which the mean over `w` can be lowest, with the
    /// mean there, in time order.
    fn windows(&self, w: i64, f: impl FnMut(UtilWindow)) {
        self.windows_in(w, i64::MIN, i64::MAX, f);
    }

    /// [`Series::windows`] starting in `[from, to)`: the same windows as a
    /// walk from the start would find there, found by bisection first.
    fn windows_in(&self, w: i64, from: i64, to: i64, mut f: impl FnMut(UtilWindow)) {
        let Some((t0, t1)) = self.bounds() else { return };
        let last = (t1 - w).min(to.saturating_sub(1));
        let pts = &self.points;
        let mut left = Cursor::at(pts, from);
        let mut right = Cursor::at(pts, from.saturating_add(w));
        let mut i = pts.partition_point(|p| p.time_ns < from);
        let mut j = pts.partition_point(|p| p.time_ns.saturating_sub(w) < from);
        let mut prev = None;
        loop {
            // Candidates: a point under the left edge, or under the right.
            let a = self.points.get(i).map(|p| p.time_ns).filter(|&t| t <= last);
            let b = self.points.get(j).map(|p| p.time_ns - w).filter(|&t| t <= last);
            let x = match (a, b) {
                (None, None) => break,
                (Some(a), Some(b)) if a <= b => {
                    i += 1;
                    a
                }
                (Some(a), None) => {
                    i += 1;
                    a
                }
                (_, Some(b)) => {
                    j += 1;
                    b
                }
            };
            if x < t0 || prev == Some(x) {
                continue;
            }
            prev = Some(x);
            let u = (right.integral(self, x + w) - left.integral(self, x)) / w as f64;
            f(UtilWindow { time_ns: x, util: u.clamp(0.0, 1.0) });
        }
    }
}

/// A position in a series for integrals at increasing times.
#[derive(Clone, Copy, Debug, Default)]
struct Cursor {
    k: usize,
}

impl Cursor {
    /// A cursor for integrals at `t` or later: at the last point not after
    /// `t` (or the first).
    fn at(points: &[UtilPoint], t: i64) -> Cursor {
        Cursor { k: points.partition_point(|p| p.time_ns <= t).saturating_sub(1) }
    }

    /// Integral of the utilisation from the series start to `t`.
    fn integral(&mut self, s: &Series, t: i64) -> f64 {
        while s.points.get(self.k + 1).is_some_and(|p| p.time_ns <= t) {
            self.k += 1;
        }
        let (Some(p), Some(c)) = (s.points.get(self.k), s.cum.get(self.k)) else { return 0.0 };
        c + p.util * (t - p.time_ns) as f64
    }
}

/// Utilisation series prepared for MMU queries.
#[derive(Clone, Debug)]
pub struct MmuCurve {
    series: Vec<Series>,
}

impl MmuCurve {
    /// Prepares series from [`mutator_utilization`] (or any step functions
    /// with points in time order).
    pub fn new(util: Vec<Vec<UtilPoint>>) -> MmuCurve {
        MmuCurve { series: util.into_iter().filter(|s| !s.is_empty()).map(Series::new).collect() }
    }

    /// Calls `f` with each series and the window length used for it: `w`,
    /// or the series' length if shorter (as Go does). Empty series are skipped.
    fn for_each_series(&self, w: i64, mut f: impl FnMut(&Series, i64)) {
        for s in &self.series {
            let Some((t0, t1)) = s.bounds() else { continue };
            if t1 > t0 {
                f(s, w.min(t1 - t0));
            }
        }
    }

    /// The minimum mean utilisation over all windows of `window_ns`: 0 for
    /// a window of 0 or less, 1 if there is no series.
    pub fn mmu(&self, window_ns: i64) -> f64 {
        if window_ns <= 0 {
            return 0.0;
        }
        let mut min = 1.0f64;
        self.for_each_series(window_ns, |s, w| s.windows(w, |u| min = min.min(u.util)));
        min
    }

    /// Up to `n` non-overlapping windows of `window_ns` with the lowest mean
    /// utilisation, lowest first (ties: earliest first). Picked greedily:
    /// the lowest window, then the lowest that does not overlap it, and so on.
    pub fn worst_windows(&self, window_ns: i64, n: usize) -> Vec<UtilWindow> {
        self.worst_windows_stoppable(window_ns, n, Stop::NEVER).unwrap_or_default()
    }

    /// [`MmuCurve::worst_windows`], giving up (`None`) once `stop` is raised.
    pub fn worst_windows_stoppable(&self, window_ns: i64, n: usize, stop: Stop<'_>) -> Option<Vec<UtilWindow>> {
        self.worst_in_segments(window_ns, n, WORST_SEGMENTS, stop)
    }

    /// The greedy pick of [`MmuCurve::worst_windows`] without holding every
    /// window (two per step, 15 M on a 1 GB trace): the time is cut into at
    /// most `max_segments` segments at least a window long, each remembers
    /// its lowest window, and after each pick only the segments it overlaps
    /// (at most three) are walked again, leaving out the picked windows'
    /// neighbourhoods. The lowest of the segments' lowest is then the lowest
    /// window overlapping no pick, as a sort of all of them would find.
    fn worst_in_segments(
        &self,
        window_ns: i64,
        n: usize,
        max_segments: usize,
        stop: Stop<'_>,
    ) -> Option<Vec<UtilWindow>> {
        let mut out: Vec<UtilWindow> = Vec::new();
        let Some(segs) = Segments::new(self, window_ns, max_segments).filter(|_| n > 0) else {
            return stop.unless_raised(out);
        };
        let lowest = |k: usize, picks: &[UtilWindow]| {
            let (from, to) = segs.range(k);
            let mut best: Option<UtilWindow> = None;
            self.for_each_series(window_ns, |s, w| {
                s.windows_in(w, from, to, |u| {
                    let free = picks.iter().all(|p| (p.time_ns - u.time_ns).abs() >= window_ns);
                    if free && best.is_none_or(|b| lower(&u, &b)) {
                        best = Some(u);
                    }
                });
            });
            best
        };
        let mut best: Vec<Option<UtilWindow>> =
            (0..segs.count).into_par_iter().map(|k| if stop.is_raised() { None } else { lowest(k, &[]) }).collect();
        while out.len() < n {
            let Some(pick) = best.iter().flatten().copied().reduce(|a, b| if lower(&b, &a) { b } else { a }) else {
                break;
            };
            out.push(pick);
            for k in segs.around(pick.time_ns, window_ns) {
                if let Some(b) = best.get_mut(k) {
                    *b = lowest(k, &out);
                }
            }
        }
        stop.unless_raised(out)
    }
}

/// Segments at most [`WORST_SEGMENTS`] many: 10 ms each on a 10 min trace.
const WORST_SEGMENTS: usize = 1 << 16;

/// Whether window `a` sorts before `b`: lower utilisation, then earlier.
fn lower(a: &UtilWindow, b: &UtilWindow) -> bool {
    a.util.total_cmp(&b.util).then(a.time_ns.cmp(&b.time_ns)) == Ordering::Less
}

/// The segments of the time over which [`MmuCurve::worst_in_segments`]
/// keeps its lowest windows.
struct Segments {
    start_ns: i64,
    len_ns: i64,
    count: usize,
}

impl Segments {
    /// Segments of at least `window_ns` covering every window start of
    /// `curve`, or `None` for no window.
    fn new(curve: &MmuCurve, window_ns: i64, max_segments: usize) -> Option<Segments> {
        if window_ns <= 0 {
            return None;
        }
        let bounds = curve.series.iter().filter_map(Series::bounds);
        let start_ns = bounds.clone().map(|b| b.0).min()?;
        let end_ns = bounds.map(|b| b.1).max()?;
        let span = end_ns.saturating_sub(start_ns).saturating_add(1);
        let most = i64::try_from(max_segments.max(1)).unwrap_or(i64::MAX);
        let len_ns = window_ns.max(span.div_euclid(most).saturating_add(1));
        let count = usize::try_from(span.div_euclid(len_ns).saturating_add(1)).unwrap_or(1);
        Some(Segments { start_ns, len_ns, count })
    }

    /// Segment `k`'s start times, `[from, to)`; the last is open-ended.
    fn range(&self, k: usize) -> (i64, i64) {
        let from = self.start_ns.saturating_add(self.len_ns.saturating_mul(k as i64));
        let to = if k + 1 >= self.count { i64::MAX } else { from.saturating_add(self.len_ns) };
        (if k == 0 { i64::MIN } else { from }, to)
    }

    /// The segment of a window starting at `t`.
    fn of(&self, t: i64) -> usize {
        let k = t.saturating_sub(self.start_ns).div_euclid(self.len_ns).max(0);
        usize::try_from(k).unwrap_or(usize::MAX).min(self.count - 1)
    }

    /// The segments holding windows that overlap one at `t` (starting less
    /// than `window_ns` from it).
    fn around(&self, t: i64, window_ns: i64) -> std::ops::RangeInclusive<usize> {
        let lo = t.saturating_sub(window_ns - 1);
        let hi = t.saturating_add(window_ns - 1);
        self.of(lo)..=self.of(hi)
    }
}

/// The MMU at each window length: `(window_ns, mmu)` in the order given.
pub fn mmu_curve(curve: &MmuCurve, windows_ns: &[i64]) -> Vec<(i64, f64)> {
    windows_ns.iter().map(|&w| (w, curve.mmu(w))).collect()
}

/// Window lengths for plotting an MMU curve: 1, 2 and 5 times each power of
/// ten from 1 µs up to `duration_ns` (which ends the list).
pub fn default_windows(duration_ns: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut decade: i64 = 1_000;
    'outer: while decade < duration_ns {
        for m in [1, 2, 5] {
            let w = decade.saturating_mul(m);
            if w >= duration_ns {
                break 'outer;
            }
            out.push(w);
        }
        decade = decade.saturating_mul(10);
    }
    if duration_ns > 0 {
        out.push(duration_ns);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testutil::goroutine;
    use crate::model::RangeSpan;
    use crate::stacks::StackId;
    use crate::strings::StrId;

    /// [`changes`] as it was written before it ran on all threads: the
    /// reference for it.
    fn changes_one_pass(tl: &Timeline, flags: UtilFlags) -> Vec<(i64, Change)> {
        let mut out = Vec::new();
        let gc = |p: i64, start: i64, end: i64, out: &mut Vec<(i64, Change)>| {
            if let Ok(p) = u32::try_from(p)
                && start < end
            {
                out.push((start, Change::Gc { p, delta: 1 }));
                out.push((end, Change::Gc { p, delta: -1 }));
            }
        };
        for r in &tl.gc_work {
            match r.kind {
                RangeKind::Sweep if flags.contains(UtilFlags::SWEEP) => gc(r.scope, r.start_ns, r.end_ns, &mut out),
                RangeKind::MarkAssist if flags.contains(UtilFlags::ASSIST) => {
                    let Some(g) = tl.goroutine(GoroutineId(r.scope)) else { continue };
                    g.track.for_each_in(r.start_ns, r.end_ns, |_, s| {
                        if s.state == GState::Running as u8 {
                            gc(s.a, s.start_ns.max(r.start_ns), s.end_ns.min(r.end_ns), &mut out);
                        }
                    });
                }
                _ => {}
            }
        }
        if flags.contains(UtilFlags::BACKGROUND) {
            let counts = |m: Option<MarkWorker>| match m {
                Some(MarkWorker::Fractional) => true,
                Some(MarkWorker::Dedicated) => !flags.contains(UtilFlags::PER_PROC),
                _ => false,
            };
            for g in tl.goroutines.iter().filter(|g| g.is_system()) {
                g.track.for_each_in(i64::MIN, i64::MAX, |_, s| {
                    if s.state == GState::Running as u8 && counts(MarkWorker::from_code(s.b)) {
                        gc(s.a, s.start_ns, s.end_ns, &mut out);
                    }
                });
            }
        }
        if flags.contains(UtilFlags::STW) {
            for r in tl.stw.iter().filter(|r| tl.strings.get(r.reason).contains("GC")) {
                out.push((r.start_ns, Change::Stw(1)));
                out.push((r.end_ns, Change::Stw(-1)));
            }
        }
        let c = &tl.counters.gomaxprocs;
        for (t, n) in c.iter() {
            out.push((t, Change::Procs(u32::try_from(n).unwrap_or(0))));
        }
        out.sort_unstable();
        out
    }

    /// Thousands of sweeps, assists and worker runs starting and ending at
    /// a few instants on many Ps, and GOMAXPROCS changing at two of them.
    fn crowded() -> Timeline {
        let mut tl = Timeline { start_ns: 0, end_ns: 1000, ..Timeline::default() };
        tl.counters.gomaxprocs.push(0, 64);
        tl.counters.gomaxprocs.push(40, 32);
        tl.counters.gomaxprocs.push(80, 64);
        let range = |kind, start_ns, scope| RangeSpan { kind, start_ns, end_ns: 0, reason: StrId(0), scope };
        let sweeps = (0..3000).map(|i| (i, range(RangeKind::Sweep, (i % 8) * 10, i % 64)));
        let sweeps = sweeps.map(|(i, r)| RangeSpan { end_ns: r.start_ns + 5 + (i % 4) * 10, ..r });
        // Assists over several runs of their goroutine back to back on
        // different Ps (an end and a start at the same instant).
        let assists = (0..2000).map(|i| range(RangeKind::MarkAssist, (i % 20) * 40, 1000 + i % 20));
        let assists = assists.map(|r| RangeSpan { end_ns: r.start_ns + 35, ..r });
        tl.gc_work = sweeps.chain(assists).collect();
        let n = StackId::NONE;
        let workers = (0..500).map(|id| {
            let (t, mode) = ((id % 5) * 10, MarkWorker::Fractional as i64);
            let spans = [(t, GState::Running, n, id % 64, mode), (t + 10 + id % 3, GState::SystemWait, n, -1, -1)];
            let mut g = goroutine(id, StrId(0), &spans, 1000);
            g.set_system(true);
            g
        });
        let assisters = (1000..1020).map(|id| {
            let spans: Vec<_> = (0..100).map(|k| (k * 10, GState::Running, n, (id + k) % 64, -1)).collect();
            goroutine(id, StrId(0), &spans, 1000)
        });
        tl.goroutines = workers.chain(assisters).collect();
        tl
    }

    /// The changes at one instant may come in any order: the utilisation
    /// is the same with each instant's changes reversed or rotated.
    #[test]
    fn the_order_of_changes_at_one_instant_does_not_matter() {
        let tl = crowded();
        for flags in [UtilFlags::ALL_GC, UtilFlags::ALL_GC | UtilFlags::PER_PROC] {
            let sorted = changes(&tl, flags, Stop::NEVER);
            let per_proc = flags.contains(UtilFlags::PER_PROC);
            let one = sweep(&sorted, 0, tl.end_ns, per_proc, Stop::NEVER);
            let points = one.as_ref().map_or(0, |s| s.iter().map(Vec::len).sum::<usize>());
            assert!(points > 20, "{flags:?}: {points} points");
            let (mut reversed, mut rotated) = (sorted.clone(), sorted.clone());
            let mut ties = 0;
            for group in reversed.chunk_by_mut(|a, b| a.0 == b.0) {
                ties += usize::from(group.first() != group.last());
                group.reverse();
            }
            for group in rotated.chunk_by_mut(|a, b| a.0 == b.0) {
                group.rotate_left(group.len() / 2);
            }
            assert!(ties > 10, "{ties} instants with several changes");
            assert_eq!(one, sweep(&reversed, 0, tl.end_ns, per_proc, Stop::NEVER), "{flags:?}, reversed");
            assert_eq!(one, sweep(&rotated, 0, tl.end_ns, per_proc, Stop::NEVER), "{flags:?}, rotated");
        }
    }

    #[test]
    fn changes_at_the_same_instant_sort_the_same_on_any_threads() {
        // The list is the one-pass list, sorted, whatever the threads
        // found first.
        let tl = crowded();
        let want = changes_one_pass(&tl, UtilFlags::ALL_GC);
        assert!(want.len() > 2 * (3000 + 2000 * 4 + 500), "{} changes", want.len());
        for threads in [2, 4, 7] {
            let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(threads).build() else {
                panic!("no pool of {threads}")
            };
            assert!(pool.install(|| changes(&tl, UtilFlags::ALL_GC, Stop::NEVER)) == want, "on {threads} threads");
        }
    }

    #[test]
    fn changes_on_all_threads_equal_one_pass() {
        // Committed traces with sweeps, assists and background workers.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces");
        let flag_sets = [
            UtilFlags::ALL_GC,
            UtilFlags::ALL_GC | UtilFlags::PER_PROC,
            UtilFlags::ASSIST,
            UtilFlags::BACKGROUND,
            UtilFlags::SWEEP | UtilFlags::STW,
        ];
        let mut gc_changes = 0;
        for v in ["go1.22", "go1.23", "go1.24", "go1.25", "go1.26", "go1.27"] {
            let Ok(bytes) = std::fs::read(dir.join(v).join("gc.trace")) else { panic!("{v}/gc.trace") };
            let Ok(tl) = crate::build_with(&bytes, &crate::Progress::default(), crate::Mode::Parallel) else {
                panic!("{v}/gc.trace does not build")
            };
            for flags in flag_sets {
                let want = changes_one_pass(&tl, flags);
                gc_changes += want.iter().filter(|(_, c)| matches!(c, Change::Gc { .. })).count();
                for threads in [1, 2, 4, 7] {
                    let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(threads).build() else {
                        panic!("no pool of {threads}")
                    };
                    assert!(
                        pool.install(|| changes(&tl, flags, Stop::NEVER)) == want,
                        "{v} {flags:?} on {threads} threads"
                    );
                }
            }
        }
        assert!(gc_changes > 1000, "{gc_changes} GC work changes");
    }

    fn pts(v: &[(i64, f64)]) -> Vec<UtilPoint> {
        v.iter().map(|&(time_ns, util)| UtilPoint { time_ns, util }).collect()
    }

    /// 1 on [0,1), 0 on [1,2), 1 on [2,3), 0 on [3,4), 1 on [4,5); ends at 5.
    fn square() -> MmuCurve {
        MmuCurve::new(vec![pts(&[(0, 1.0), (1000, 0.0), (2000, 1.0), (3000, 0.0), (4000, 1.0), (5000, 0.0)])])
    }

    #[test]
    fn mmu_of_a_square_wave() {
        let c = square();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        for (w, want) in
            [(0, 0.0), (1, 0.0), (1000, 0.0), (2000, 0.5), (3000, 1.0 / 3.0), (4000, 0.5), (5000, 0.6), (6000, 0.6)]
        {
            assert!(close(c.mmu(w), want), "window {w}: {} want {want}", c.mmu(w));
        }
        assert_eq!(mmu_curve(&c, &[2000, 5000]), vec![(2000, 0.5), (5000, 0.6)]);
        assert_eq!(MmuCurve::new(Vec::new()).mmu(1000), 1.0);
    }

    #[test]
    fn worst_windows_do_not_overlap() {
        let c = square();
        let w = c.worst_windows(1000, 5);
        let got: Vec<(i64, f64)> = w.iter().map(|u| (u.time_ns, u.util)).collect();
        assert_eq!(got, vec![(1000, 0.0), (3000, 0.0), (0, 1.0), (2000, 1.0), (4000, 1.0)]);
        assert_eq!(c.worst_windows(1000, 1), vec![UtilWindow { time_ns: 1000, util: 0.0 }]);
        let w = c.worst_windows(2000, 2);
        assert_eq!(w.len(), 2);
        assert!(w.iter().all(|u| (u.util - 0.5).abs() < 1e-12), "{w:?}");
        assert!((w[0].time_ns - w[1].time_ns).abs() >= 2000);
    }

    /// [`MmuCurve::worst_windows`] as it was first written: every window
    /// sorted, then picked greedily. The reference for the segments.
    fn worst_by_sorting(c: &MmuCurve, window_ns: i64, n: usize) -> Vec<UtilWindow> {
        let mut all = Vec::new();
        c.for_each_series(window_ns, |s, w| s.windows(w, |u| all.push(u)));
        all.sort_by(|a, b| a.util.total_cmp(&b.util).then(a.time_ns.cmp(&b.time_ns)));
        let mut out: Vec<UtilWindow> = Vec::new();
        for u in all {
            if out.len() < n && out.iter().all(|o| (o.time_ns - u.time_ns).abs() >= window_ns) {
                out.push(u);
            }
        }
        out
    }

    /// Step series: `(gap to the next step, utilisation in tenths)` each,
    /// a series per list, all starting at `starts`.
    fn steps(series: &[(i64, Vec<(i64, u8)>)]) -> MmuCurve {
        MmuCurve::new(
            series
                .iter()
                .map(|(start, steps)| {
                    let mut t = *start;
                    steps
                        .iter()
                        .map(|&(gap, tenths)| {
                            t += gap;
                            UtilPoint { time_ns: t, util: f64::from(tenths) / 10.0 }
                        })
                        .collect()
                })
                .collect(),
        )
    }

    proptest::proptest! {
        #[test]
        fn worst_windows_by_segments_equal_a_sort_of_all(
            series in proptest::collection::vec(
                (0i64..500, proptest::collection::vec((1i64..300, 0u8..=10), 1..60)), 1..4),
            window_ns in 1i64..2_000,
            n in 0usize..8,
            max_segments in 1usize..80,
        ) {
            let c = steps(&series);
            let want = worst_by_sorting(&c, window_ns, n);
            let got = c.worst_in_segments(window_ns, n, max_segments, Stop::NEVER).unwrap_or_default();
            proptest::prop_assert_eq!(&got, &want, "{} segments", max_segments);
        }
    }

    #[test]
    fn worst_windows_walk_only_the_segments_near_a_pick() {
        // Ten 1 µs dips, 100 µs apart: with the segments narrower than the
        // gaps, every dip is its own segment's lowest, and each pick
        // leaves the next dip to the others.
        let dips: Vec<(i64, u8)> = (0..10).flat_map(|k| [(if k == 0 { 0 } else { 99_000 }, 2), (1_000, 10)]).collect();
        let c = steps(&[(0, dips)]);
        let got = c.worst_in_segments(1_000, 10, 1 << 16, Stop::NEVER).unwrap_or_default();
        assert_eq!(got, worst_by_sorting(&c, 1_000, 10));
        let times: Vec<i64> = got.iter().map(|u| u.time_ns).collect();
        assert_eq!(times, (0..10).map(|k| k * 100_000).collect::<Vec<_>>());
        assert_eq!(c.worst_windows(0, 3), Vec::new());
        // A series over nearly all of time, in one segment or many.
        let wide = MmuCurve::new(vec![pts(&[(0, 1.0), (1 << 62, 0.0), (i64::MAX - 1, 0.0)])]);
        for max_segments in [1, 7, 1 << 16] {
            let got = wide.worst_in_segments(1 << 40, 3, max_segments, Stop::NEVER).unwrap_or_default();
            assert_eq!(got, worst_by_sorting(&wide, 1 << 40, 3), "{max_segments} segments");
        }
        assert_eq!(MmuCurve::new(Vec::new()).worst_windows(1_000, 3), Vec::new());
    }

    #[test]
    fn default_windows_are_1_2_5_per_decade() {
        assert_eq!(default_windows(30_000), vec![1_000, 2_000, 5_000, 10_000, 20_000, 30_000]);
        assert_eq!(default_windows(0), Vec::<i64>::new());
    }

    /// GOMAXPROCS 2 from 0; P0 sweeps 10-20; a GC STW 30-35 and a non-GC
    /// one 50-55; goroutine 5 assists 60-80 but runs only 60-70 on P1; a
    /// fractional worker runs 90-95 on P0 and a dedicated one 100-110 on
    /// P1, an idle one 120-130 on P0. Trace ends at 200.
    fn gc_timeline() -> Timeline {
        let mut tl = Timeline { start_ns: 0, end_ns: 200, ..Timeline::default() };
        tl.counters.gomaxprocs.push(0, 2);
        let (gc_reason, other) = (tl.strings.intern(b"GC mark termination"), tl.strings.intern(b"GOMAXPROCS"));
        let range = |kind, start_ns, end_ns, reason, scope| RangeSpan { kind, start_ns, end_ns, reason, scope };
        tl.stw = vec![range(RangeKind::Stw, 30, 35, gc_reason, -1), range(RangeKind::Stw, 50, 55, other, -1)];
        tl.gc_work = [range(RangeKind::Sweep, 10, 20, StrId(0), 0), range(RangeKind::MarkAssist, 60, 80, StrId(0), 5)]
            .into_iter()
            .collect();
        let n = StackId::NONE;
        let assister =
            [(0, GState::Running, n, 1, -1), (70, GState::Runnable, n, -1, -1), (85, GState::Running, n, 0, -1)];
        let mut worker = goroutine(
            7,
            StrId(0),
            &[
                (0, GState::SystemWait, n, -1, -1),
                (90, GState::Running, n, 0, MarkWorker::Fractional as i64),
                (95, GState::SystemWait, n, -1, -1),
                (100, GState::Running, n, 1, MarkWorker::Dedicated as i64),
                (110, GState::SystemWait, n, -1, -1),
                (120, GState::Running, n, 0, MarkWorker::Idle as i64),
                (130, GState::SystemWait, n, -1, -1),
            ],
            200,
        );
        worker.set_system(true);
        tl.goroutines = vec![goroutine(5, StrId(0), &assister, 200), worker];
        tl
    }

    #[test]
    fn utilisation_from_gc_work() {
        let tl = gc_timeline();
        let u = mutator_utilization(&tl, UtilFlags::ALL_GC);
        assert_eq!(
            u,
            vec![pts(&[
                (0, 1.0),
                (10, 0.5),
                (20, 1.0),
                (30, 0.0),
                (35, 1.0),
                (60, 0.5),
                (70, 1.0),
                (90, 0.5),
                (95, 1.0),
                (100, 0.5),
                (110, 1.0),
                (200, 0.0),
            ])]
        );
        let u = mutator_utilization(&tl, UtilFlags::STW);
        assert_eq!(u, vec![pts(&[(0, 1.0), (30, 0.0), (35, 1.0), (200, 0.0)])]);
        // Per P: the dedicated worker does not count.
        let u = mutator_utilization(&tl, UtilFlags::ALL_GC | UtilFlags::PER_PROC);
        assert_eq!(
            u,
            vec![
                pts(&[(0, 1.0), (10, 0.0), (20, 1.0), (30, 0.0), (35, 1.0), (90, 0.0), (95, 1.0), (200, 0.0)]),
                pts(&[(0, 1.0), (30, 0.0), (35, 1.0), (60, 0.0), (70, 1.0), (200, 0.0)]),
            ]
        );
        let c = MmuCurve::new(mutator_utilization(&tl, UtilFlags::ALL_GC));
        assert_eq!(c.mmu(5), 0.0);
        // 20 ns windows: [15, 35) has 5 ns at 0.5, 10 at 1 and 5 at 0;
        // [90, 110) has 10 ns at 0.5 and 5 at 1.
        assert!((c.mmu(20) - 0.625).abs() < 1e-12, "{}", c.mmu(20));
        assert_eq!(
            c.worst_windows(20, 2),
            vec![UtilWindow { time_ns: 15, util: 0.625 }, UtilWindow { time_ns: 90, util: 0.625 }]
        );
        assert!(mutator_utilization(&Timeline::default(), UtilFlags::ALL_GC).is_empty());
    }

    #[test]
    fn gomaxprocs_changes_open_and_close_per_p_series() {
        let mut tl = Timeline { start_ns: 0, end_ns: 100, ..Timeline::default() };
        tl.counters.gomaxprocs.push(0, 1);
        tl.counters.gomaxprocs.push(40, 2);
        tl.counters.gomaxprocs.push(60, 1);
        tl.gc_work = [RangeSpan { kind: RangeKind::Sweep, start_ns: 50, end_ns: 70, reason: StrId(0), scope: 1 }]
            .into_iter()
            .collect();
        let u = mutator_utilization(&tl, UtilFlags::SWEEP | UtilFlags::PER_PROC);
        assert_eq!(u, vec![pts(&[(0, 1.0), (100, 0.0)]), pts(&[(40, 1.0), (50, 0.0)])]);
        // One series: half the Ps sweep from 50 until P1 goes away at 60.
        let u = mutator_utilization(&tl, UtilFlags::SWEEP);
        assert_eq!(u, vec![pts(&[(0, 1.0), (50, 0.5), (60, 1.0), (100, 0.0)])]);
    }
}
