//! Per start function statistics of span durations, with exact percentiles
//! in bounded memory.
//!
//! A busy 1 GB trace has 170 M goroutine spans; sorting each function's
//! durations (the plain way to exact percentiles) took 2.3 GB. Instead the
//! spans are read in passes that keep counts, and at the end a few
//! durations:
//!
//! 1. Per function and state: count, total, min, max, and a histogram of
//!    durations in buckets 1/16 of an octave wide (the first 64 durations
//!    are kept as they are, so a function with few spans is done here).
//! 2. Each percentile of each function and state (or category, a union of
//!    states) is a *target*: a value range known to hold it (at first its
//!    histogram bucket) and its rank within the range. A pass cuts each
//!    target's range into at most 4 096 equal parts and counts the
//!    durations in each, which narrows the range to one part; once the
//!    range holds at most 4 096 durations (or up to 2^20, within
//!    a budget per pass) and is under 2^32 ns wide, the next pass
//!    collects them and picks the one of that rank. A range one
//!    nanosecond wide is the value itself.
//!
//! Each pass reads only the goroutines of functions with a target left,
//! and takes at most 1 024 targets, so its counts stay within a few
//! tens of MB per thread. On a busy 1 GB trace two passes find all: 5.1 s
//! and no memory above the timeline's, where sorting took 6-8 s and 2.3 GB.
//!
//! ```no_run
//! use timeline::analysis::{TimeRange, start_fn_stats};
//! use timeline::{Progress, build};
//!
//! let tl = build(&std::fs::read("trace.out").unwrap(), &Progress::default()).unwrap();
//! for f in start_fn_stats(&tl, TimeRange::ALL) {
//!     if let Some(wait) = f.stats.category(timeline::Category::Runnable) {
//!         println!("{}: p99 wait for a P {} ns", tl.strings.get(f.start_fn), wait.p99_ns);
//!     }
//! }
//! ```

use std::collections::BTreeMap;
use std::sync::Mutex;

use rayon::prelude::*;

use super::stats::{CATEGORIES, DurationStats, StateStats};
use super::{Stop, TimeRange, for_each_clipped};
use crate::model::{Goroutine, Timeline};
use crate::state::{Category, GState};
use crate::strings::StrId;

/// The statistics of all goroutines started in one function, together.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionStats {
    /// The start function.
    pub start_fn: StrId,
    /// How many of its goroutines have a span inside the range.
    pub goroutines: usize,
    /// Statistics over all their spans.
    pub stats: StateStats,
}

/// Parts a target's range is cut into in a pass; a target with no more
/// durations than this in its range has them collected (if the range is
/// under 2^32 ns wide: they are kept as 32-bit offsets into it).
const SPLIT: usize = 4096;
/// The most targets one pass takes.
const ACTIVE: usize = 1024;
/// A target with up to this many durations in its range has them
/// collected while the pass has collected fewer than [`BUDGET`] (on a busy
/// trace most percentiles are then found in the second pass, not a third).
const COLLECT: u64 = 1 << 20;
/// Durations one pass collects at most, besides those of targets with at
/// most [`SPLIT`] (32 MB).
const BUDGET: u64 = 1 << 23;
/// Durations kept as they are per function and state before they go to
/// the histogram.
const SMALL: usize = 64;
/// Percentiles, as [`DurationStats`] has them.
const PERCENTILES: [u64; 3] = [50, 95, 99];

/// How the passes are cut (tests make them small to force many passes).
#[derive(Clone, Copy, Debug)]
struct Limits {
    split: usize,
    active: usize,
    small: usize,
    collect: u64,
    budget: u64,
}

const LIMITS: Limits = Limits { split: SPLIT, active: ACTIVE, small: SMALL, collect: COLLECT, budget: BUDGET };

/// Statistics per start function, over the goroutines with a span inside
/// `range`, sorted by function name (then string ID).
///
/// The percentiles are exact (nearest rank, as [`DurationStats`] says),
/// found in a few passes over the spans with bounded memory (see the
/// module's notes).
pub fn start_fn_stats(tl: &Timeline, range: TimeRange) -> Vec<FunctionStats> {
    start_fn_stats_with(tl, range, LIMITS, Stop::NEVER).unwrap_or_default()
}

/// [`start_fn_stats`], giving up (`None`) once `stop` is raised.
pub fn start_fn_stats_stoppable(tl: &Timeline, range: TimeRange, stop: Stop<'_>) -> Option<Vec<FunctionStats>> {
    start_fn_stats_with(tl, range, LIMITS, stop)
}

fn start_fn_stats_with(tl: &Timeline, range: TimeRange, limits: Limits, stop: Stop<'_>) -> Option<Vec<FunctionStats>> {
    let groups = Groups::of(tl);
    let sums = first_pass(tl, &groups, range, limits.small, stop);
    let mut targets = Vec::new();
    let mut out: Vec<Draft> = Vec::new();
    for (gi, s) in sums.iter().enumerate() {
        if s.goroutines > 0 {
            out.push(Draft::new(gi as u32, s, &mut targets, limits.small));
        }
    }
    resolve(tl, &groups, range, &mut targets, limits, stop);
    if stop.is_raised() {
        return None;
    }
    let mut sorted: BTreeMap<(&str, StrId), FunctionStats> = BTreeMap::new();
    for d in out {
        let Some(&start_fn) = groups.fns.get(d.group as usize) else { continue };
        let goroutines = sums.get(d.group as usize).map_or(0, |s| s.goroutines);
        sorted.insert(
            (tl.strings.get(start_fn), start_fn),
            FunctionStats { start_fn, goroutines, stats: d.finish(&targets) },
        );
    }
    Some(sorted.into_values().collect())
}

/// The start functions, numbered densely.
struct Groups {
    /// By group.
    fns: Vec<StrId>,
    /// By string ID: the group, or `u32::MAX`.
    by_str: Vec<u32>,
}

impl Groups {
    fn of(tl: &Timeline) -> Groups {
        let mut g = Groups { fns: Vec::new(), by_str: Vec::new() };
        for gr in &tl.goroutines {
            let f = gr.start_fn();
            let i = f.0 as usize;
            if i >= g.by_str.len() {
                g.by_str.resize(i + 1, u32::MAX);
            }
            if let Some(slot) = g.by_str.get_mut(i)
                && *slot == u32::MAX
            {
                *slot = g.fns.len() as u32;
                g.fns.push(f);
            }
        }
        g
    }

    fn of_goroutine(&self, g: &Goroutine) -> Option<usize> {
        self.by_str.get(g.start_fn().0 as usize).filter(|&&i| i != u32::MAX).map(|&i| i as usize)
    }
}

/// Runs `f` on every goroutine on all threads, with one accumulator per
/// thread (so the memory is the threads', not the number of jobs').
fn per_thread<A: Send>(
    tl: &Timeline,
    stop: Stop<'_>,
    init: impl Fn() -> A + Sync,
    f: impl Fn(&mut A, &Goroutine) + Sync,
) -> Vec<A> {
    let n = rayon::current_num_threads().max(1);
    let accs: Vec<Mutex<A>> = (0..n).map(|_| Mutex::new(init())).collect();
    tl.goroutines.par_chunks(256).for_each(|chunk| {
        if stop.is_raised() {
            return;
        }
        let t = rayon::current_thread_index().unwrap_or(0) % n;
        if let Some(Ok(mut acc)) = accs.get(t).map(Mutex::lock) {
            for g in chunk {
                f(&mut acc, g);
            }
        }
    });
    accs.into_iter().filter_map(|m| m.into_inner().ok()).collect()
}

/// One function's first-pass numbers.
#[derive(Clone, Default)]
struct FnSums {
    goroutines: usize,
    states: Vec<Sums>,
}

/// Count, total, min, max and histogram of some durations.
#[derive(Clone, Debug, Default)]
struct Sums {
    count: u64,
    total: i128,
    min: i64,
    max: i64,
    /// The durations themselves while there are few (then `hist` is empty).
    small: Vec<i64>,
    /// Counts per [`log_bucket`], once there were many.
    hist: Vec<u64>,
}

impl Sums {
    fn add(&mut self, d: i64, small: usize) {
        self.note(d);
        if self.hist.is_empty() && self.small.len() < small {
            self.small.push(d);
        } else {
            self.spill();
            hist_add(&mut self.hist, log_bucket(d), 1);
        }
    }

    fn note(&mut self, d: i64) {
        if self.count == 0 {
            (self.min, self.max) = (d, d);
        }
        self.count += 1;
        self.total += i128::from(d);
        self.min = self.min.min(d);
        self.max = self.max.max(d);
    }

    /// Moves the durations kept as they are into the histogram.
    fn spill(&mut self) {
        for d in std::mem::take(&mut self.small) {
            hist_add(&mut self.hist, log_bucket(d), 1);
        }
    }

    fn merge(&mut self, o: &Sums, small: usize) {
        if o.count == 0 {
            return;
        }
        if self.count == 0 {
            (self.min, self.max) = (o.min, o.max);
        }
        self.count += o.count;
        self.total += o.total;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.small.extend_from_slice(&o.small);
        for (b, &n) in o.hist.iter().enumerate() {
            hist_add(&mut self.hist, b, n);
        }
        if !self.hist.is_empty() || self.small.len() > small {
            self.spill();
        }
    }
}

fn hist_add(hist: &mut Vec<u64>, b: usize, n: u64) {
    if n == 0 {
        return;
    }
    if b >= hist.len() {
        hist.resize(b + 1, 0);
    }
    if let Some(c) = hist.get_mut(b) {
        *c += n;
    }
}

/// The first pass: per function, how many goroutines have a span in the
/// range, and per state the [`Sums`] of their durations.
fn first_pass(tl: &Timeline, groups: &Groups, range: TimeRange, small: usize, stop: Stop<'_>) -> Vec<FnSums> {
    let init = || vec![FnSums { goroutines: 0, states: vec![Sums::default(); GState::COUNT] }; groups.fns.len()];
    let accs = per_thread(tl, stop, init, |acc, g| {
        let Some(f) = groups.of_goroutine(g).and_then(|i| acc.get_mut(i)) else { return };
        let mut any = false;
        for_each_clipped(g, range, |_, s, start, end| {
            if let Some(st) = f.states.get_mut(s.state as usize) {
                st.add(end - start, small);
                any = true;
            }
        });
        f.goroutines += usize::from(any);
    });
    let mut all = accs.into_iter();
    let mut sums = all.next().unwrap_or_default();
    for acc in all {
        for (mine, theirs) in sums.iter_mut().zip(&acc) {
            mine.goroutines += theirs.goroutines;
            for (m, t) in mine.states.iter_mut().zip(&theirs.states) {
                m.merge(t, small);
            }
        }
    }
    sums
}

/// The first-pass bucket of a duration: one for all negative ones (none
/// in a sound timeline), one per value below 16, then 16 per octave.
fn log_bucket(d: i64) -> usize {
    let Ok(u) = u64::try_from(d) else { return 0 };
    if u < 16 {
        return 1 + u as usize;
    }
    let e = 63 - u.leading_zeros();
    let m = (u >> (e - 4)) & 15;
    17 + (e as usize - 4) * 16 + m as usize
}

/// The durations in [`log_bucket`] `b`: `[lo, hi)`.
fn log_bucket_range(b: usize) -> (i128, i128) {
    match b {
        0 => (i128::from(i64::MIN), 0),
        1..=16 => ((b - 1) as i128, b as i128),
        _ => {
            let k = b - 17;
            let (e, m) = (4 + k / 16, (k % 16) as i128);
            ((16 + m) << (e - 4), (17 + m) << (e - 4))
        }
    }
}

/// One percentile being searched for.
#[derive(Clone, Debug)]
struct Target {
    group: u32,
    /// The states whose durations count (bit `s` for state `s`).
    mask: u32,
    /// The percentile lies in `[lo, hi)`...
    lo: i128,
    hi: i128,
    /// ...as the `rank`-th smallest (from 1) of the durations there...
    rank: u64,
    /// ...of which there are this many.
    count: u64,
    found: Option<i64>,
}

impl Target {
    /// The width of the parts a pass cuts the range into, as a shift.
    fn shift(&self, split: usize) -> u32 {
        // Parts of at least a `split`-th, so at most `split` of them, and
        // (with `split` >= 2) each narrower than the range.
        let width = (self.hi - self.lo + split as i128 - 1).div_euclid(split.max(2) as i128);
        u128::try_from(width).map_or(0, |w| w.next_power_of_two().trailing_zeros())
    }

    /// Narrows the range to the part of `counts` (parts `2^shift` wide)
    /// holding the rank.
    fn narrow(&mut self, counts: &[u64], shift: u32) {
        let mut below = 0u64;
        for (j, &n) in counts.iter().enumerate() {
            if below + n >= self.rank {
                let lo = self.lo + ((j as i128) << shift);
                (self.lo, self.hi) = (lo, (lo + (1i128 << shift)).min(self.hi));
                (self.rank, self.count) = (self.rank - below, n);
                if self.hi - self.lo == 1 {
                    self.found = i64::try_from(self.lo).ok();
                }
                return;
            }
            below += n;
        }
        // Damaged counts: give up on the value rather than loop.
        self.found = Some(0);
    }

    /// Picks the rank among the collected durations (as offsets from `lo`).
    fn pick(&mut self, offsets: &mut [u32]) {
        let at = (self.rank as usize).saturating_sub(1);
        let off = if at < offsets.len() { *offsets.select_nth_unstable(at).1 } else { 0 };
        self.found = i64::try_from(self.lo + i128::from(off)).ok().or(Some(0));
    }
}

/// The nearest rank of percentile `pct` among `n` values (from 1).
fn nearest_rank(n: u64, pct: u64) -> u64 {
    (u128::from(n) * u128::from(pct)).div_ceil(100).clamp(1, u128::from(n.max(1))) as u64
}

/// One function's statistics, percentiles pending as targets.
struct Draft {
    group: u32,
    states: Vec<(GState, Pending)>,
    categories: Vec<(Category, Pending)>,
}

/// Statistics with each percentile either known or a target's index.
struct Pending {
    sums: Sums,
    percentiles: [Result<i64, usize>; 3],
}

impl Draft {
    fn new(group: u32, f: &FnSums, targets: &mut Vec<Target>, small: usize) -> Draft {
        let mut d = Draft { group, states: Vec::new(), categories: Vec::new() };
        for (s, sums) in GState::ALL.iter().zip(&f.states) {
            if sums.count > 0 {
                d.states.push((*s, Pending::new(group, 1 << *s as u32, sums.clone(), targets)));
            }
        }
        for c in CATEGORIES {
            let mut sums = Sums::default();
            let mut mask = 0u32;
            for (s, st) in GState::ALL.iter().zip(&f.states).filter(|(s, _)| s.category() == c) {
                sums.merge(st, small);
                mask |= 1 << *s as u32;
            }
            if sums.count > 0 {
                d.categories.push((c, Pending::new(group, mask, sums, targets)));
            }
        }
        d
    }

    fn finish(self, targets: &[Target]) -> StateStats {
        StateStats {
            states: self.states.into_iter().map(|(s, p)| (s, p.finish(targets))).collect(),
            categories: self.categories.into_iter().map(|(c, p)| (c, p.finish(targets))).collect(),
        }
    }
}

impl Pending {
    /// Known percentiles if the durations are all kept, targets otherwise.
    fn new(group: u32, mask: u32, mut sums: Sums, targets: &mut Vec<Target>) -> Pending {
        sums.small.sort_unstable();
        let percentiles = PERCENTILES.map(|pct| {
            let rank = nearest_rank(sums.count, pct);
            if sums.hist.is_empty() {
                return Ok(sums.small.get((rank as usize).saturating_sub(1)).copied().unwrap_or(0));
            }
            let mut below = 0u64;
            let (b, n) = sums
                .hist
                .iter()
                .enumerate()
                .find(|(_, n)| {
                    below += **n;
                    below >= rank
                })
                .map_or((0, 0), |(b, n)| (b, *n));
            let (lo, hi) = log_bucket_range(b);
            let found = if hi - lo == 1 { i64::try_from(lo).ok() } else { None };
            targets.push(Target { group, mask, lo, hi, rank: rank.saturating_sub(below - n), count: n, found });
            Err(targets.len() - 1)
        });
        sums.hist = Vec::new();
        sums.small = Vec::new();
        Pending { sums, percentiles }
    }

    fn finish(self, targets: &[Target]) -> DurationStats {
        let s = &self.sums;
        let [p50_ns, p95_ns, p99_ns] =
            self.percentiles.map(|p| p.unwrap_or_else(|t| targets.get(t).and_then(|t| t.found).unwrap_or(0)));
        DurationStats {
            count: s.count,
            total_ns: s.total.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
            min_ns: s.min,
            max_ns: s.max,
            mean_ns: s.total as f64 / s.count as f64,
            p50_ns,
            p95_ns,
            p99_ns,
        }
    }
}

/// What one pass does for the targets it takes: per group and state, the
/// probes a span's duration goes through, side by side.
struct Plan {
    /// Taken targets (indices into all targets), with their part shifts.
    taken: Vec<(usize, Option<u32>)>,
    /// The probes of group `g` and state `s` are
    /// `probes[starts[g * COUNT + s]..starts[g * COUNT + s + 1]]`.
    starts: Vec<u32>,
    probes: Vec<Probe>,
    /// Per group, whether any target is taken.
    groups: Vec<bool>,
    /// Counted parts in all.
    parts: usize,
    /// Targets whose durations are collected.
    collected: usize,
}

/// One taken target, as a span's duration meets it.
#[derive(Clone, Copy, Debug)]
struct Probe {
    /// The range's start, and its width (a duration `d` is in it if
    /// `d - lo`, wrapping, is below `width`).
    lo: i64,
    width: u64,
    /// Parts `2^shift` wide, counted from `at` on; or, with `collect`, the
    /// durations go to list `at`.
    shift: u32,
    at: u32,
    collect: bool,
}

/// One thread's counts and collected durations for a pass.
struct Tally {
    counts: Vec<u64>,
    /// Collected durations, as offsets from their target's `lo` (half the
    /// memory of the durations).
    values: Vec<Vec<u32>>,
}

/// Narrows every target to its value, pass by pass.
fn resolve(tl: &Timeline, groups: &Groups, range: TimeRange, targets: &mut [Target], limits: Limits, stop: Stop<'_>) {
    while !stop.is_raised() {
        let open: Vec<usize> =
            (0..targets.len()).filter(|&i| targets.get(i).is_some_and(|t| t.found.is_none())).collect();
        if open.is_empty() {
            return;
        }
        let plan = Plan::new(targets, &open, groups.fns.len(), limits);
        let mut tally = tally(tl, groups, range, &plan, stop);
        let (mut part, mut list) = (0usize, 0usize);
        for &(ti, shift) in &plan.taken {
            let Some(t) = targets.get_mut(ti) else { continue };
            match shift {
                Some(shift) => {
                    t.narrow(tally.counts.get(part..part + limits.split).unwrap_or_default(), shift);
                    part += limits.split;
                }
                None => {
                    t.pick(tally.values.get_mut(list).map(Vec::as_mut_slice).unwrap_or_default());
                    list += 1;
                }
            }
        }
    }
}

impl Plan {
    fn new(targets: &[Target], open: &[usize], n_groups: usize, limits: Limits) -> Plan {
        let mut plan = Plan {
            taken: Vec::new(),
            starts: Vec::new(),
            probes: Vec::new(),
            groups: vec![false; n_groups],
            parts: 0,
            collected: 0,
        };
        let mut by_slot: Vec<Vec<Probe>> = vec![Vec::new(); n_groups * GState::COUNT];
        let mut budget = limits.budget;
        for &ti in open.iter().take(limits.active) {
            let Some(t) = targets.get(ti) else { continue };
            let few = t.count <= limits.split as u64;
            // Collected durations are kept as 32-bit offsets.
            let narrow = t.hi - t.lo <= 1 << 32;
            let collect = narrow && (few || (t.count <= limits.collect && t.count <= budget));
            if collect && !few {
                budget -= t.count;
            }
            let shift = (!collect).then(|| t.shift(limits.split));
            plan.taken.push((ti, shift));
            let probe = Probe {
                lo: i64::try_from(t.lo).unwrap_or(i64::MIN),
                width: u64::try_from(t.hi - t.lo).unwrap_or(u64::MAX),
                shift: shift.unwrap_or(0),
                at: if shift.is_some() { plan.parts } else { plan.collected } as u32,
                collect: shift.is_none(),
            };
            match shift {
                Some(_) => plan.parts += limits.split,
                None => plan.collected += 1,
            }
            if let Some(g) = plan.groups.get_mut(t.group as usize) {
                *g = true;
            }
            for s in (0..GState::COUNT).filter(|s| t.mask & (1 << s) != 0) {
                if let Some(list) = by_slot.get_mut(t.group as usize * GState::COUNT + s) {
                    list.push(probe);
                }
            }
        }
        plan.starts.push(0);
        for list in by_slot {
            plan.probes.extend(list);
            plan.starts.push(plan.probes.len() as u32);
        }
        plan
    }

    /// The probes of a span of state `s` of a goroutine of group `g`.
    fn probes(&self, g: usize, s: usize) -> &[Probe] {
        let i = g * GState::COUNT + s;
        match (self.starts.get(i), self.starts.get(i + 1)) {
            (Some(&a), Some(&b)) => self.probes.get(a as usize..b as usize).unwrap_or_default(),
            _ => &[],
        }
    }
}

/// One pass over the spans: the counts and durations of the plan's
/// targets.
fn tally(tl: &Timeline, groups: &Groups, range: TimeRange, plan: &Plan, stop: Stop<'_>) -> Tally {
    let init = || Tally { counts: vec![0; plan.parts], values: vec![Vec::new(); plan.collected] };
    let accs = per_thread(tl, stop, init, |acc, g| {
        let Some(gi) = groups.of_goroutine(g).filter(|&gi| plan.groups.get(gi) == Some(&true)) else { return };
        for_each_clipped(g, range, |_, s, start, end| {
            let d = end - start;
            for p in plan.probes(gi, s.state as usize) {
                let off = (d as u64).wrapping_sub(p.lo as u64);
                if off >= p.width {
                    continue;
                }
                if p.collect {
                    if let Some(v) = acc.values.get_mut(p.at as usize) {
                        v.push(off as u32);
                    }
                } else if let Some(n) = acc.counts.get_mut(p.at as usize + (off >> p.shift) as usize) {
                    *n += 1;
                }
            }
        });
    });
    let mut all = accs.into_iter();
    let mut sum = all.next().unwrap_or_else(init);
    for mut acc in all {
        sum.counts.iter_mut().zip(&acc.counts).for_each(|(m, t)| *m += t);
        sum.values.iter_mut().zip(&mut acc.values).for_each(|(m, t)| m.append(t));
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testutil::simple;

    #[test]
    fn log_buckets_hold_their_durations_in_order() {
        let mut last = 0;
        for d in [-5i64, -1, 0, 1, 15, 16, 17, 31, 32, 33, 1000, 1 << 40, (1 << 40) + 1, i64::MAX - 1, i64::MAX] {
            let b = log_bucket(d);
            let (lo, hi) = log_bucket_range(b);
            assert!(lo <= i128::from(d) && i128::from(d) < hi, "{d} in bucket {b} [{lo}, {hi})");
            assert!(b >= last, "{d}: bucket {b} after {last}");
            last = b;
        }
        // Neighbouring buckets meet.
        for b in 1..log_bucket(i64::MAX) {
            assert_eq!(log_bucket_range(b).1, log_bucket_range(b + 1).0, "bucket {b}");
        }
    }

    /// Goroutines of two functions whose running spans have the given
    /// lengths, one goroutine per length.
    fn timeline_of(lengths: &[(bool, i64)]) -> Timeline {
        let mut tl = Timeline::default();
        let (a, b) = (tl.strings.intern(b"main.a"), tl.strings.intern(b"main.b"));
        tl.goroutines = lengths
            .iter()
            .enumerate()
            .map(|(i, &(first, len))| {
                let f = if first { a } else { b };
                let spans = [(0, GState::Running), (len, GState::Runnable)];
                simple(i as i64 + 1, f, &spans, len + 1 + (i as i64 % 3))
            })
            .collect();
        tl
    }

    /// The statistics by sorting every duration, for comparison.
    fn sorted_reference(tl: &Timeline) -> Vec<FunctionStats> {
        type ByFn<'t> = BTreeMap<(&'t str, StrId), (usize, Vec<Vec<i64>>)>;
        let mut by_fn = ByFn::new();
        for g in &tl.goroutines {
            let e = by_fn
                .entry((tl.strings.get(g.start_fn()), g.start_fn()))
                .or_insert_with(|| (0, vec![Vec::new(); GState::COUNT]));
            e.0 += 1;
            for s in g.track.spans() {
                if let Some(v) = e.1.get_mut(s.state as usize) {
                    v.push(s.end_ns - s.start_ns);
                }
            }
        }
        let stats = |by_state: &[Vec<i64>]| {
            let mut out = StateStats::default();
            for (s, v) in GState::ALL.iter().zip(by_state) {
                if let Some(d) = DurationStats::from_durations(v.clone()) {
                    out.states.push((*s, d));
                }
            }
            for c in CATEGORIES {
                let all: Vec<i64> = GState::ALL
                    .iter()
                    .zip(by_state)
                    .filter(|(s, _)| s.category() == c)
                    .flat_map(|(_, v)| v.iter().copied())
                    .collect();
                if let Some(d) = DurationStats::from_durations(all) {
                    out.categories.push((c, d));
                }
            }
            out
        };
        by_fn
            .into_iter()
            .map(|((_, start_fn), (goroutines, v))| FunctionStats { start_fn, goroutines, stats: stats(&v) })
            .collect()
    }

    #[test]
    fn a_raised_stop_gives_nothing() {
        let tl = timeline_of(&[(true, 10), (false, 20)]);
        let flag = std::sync::atomic::AtomicBool::new(true);
        assert_eq!(start_fn_stats_stoppable(&tl, TimeRange::ALL, Stop::when(&flag)), None);
        assert_eq!(start_fn_stats_stoppable(&tl, TimeRange::ALL, Stop::NEVER).map(|v| v.len()), Some(2));
    }

    /// Percentiles found in many passes (tiny parts, few targets a pass,
    /// few durations kept) equal those of sorting: many equal durations,
    /// wide ones, ones near the largest time, on any number of threads.
    #[test]
    fn percentiles_in_passes_equal_a_sort() {
        let mut lengths: Vec<(bool, i64)> = Vec::new();
        for i in 0..3000i64 {
            lengths.push((i % 2 == 0, 64 * (i % 7) + 128));
            lengths.push((i % 3 == 0, (i * 7919) % 1_000_003));
        }
        lengths.extend([(true, 1 << 61), (true, (1 << 61) - 1), (false, 5_000_000_000), (false, 0), (true, 1)]);
        lengths.extend((0..500).map(|i| (false, 4_294_967_296 + i * 1_000_000_007)));
        let tl = timeline_of(&lengths);
        let want = sorted_reference(&tl);
        for limits in [
            LIMITS,
            Limits { split: 2, active: 1, small: 0, collect: 0, budget: 0 },
            Limits { split: 3, active: 5, small: 1, collect: 100, budget: 150 },
            Limits { split: 16, active: 7, small: 64, collect: 0, budget: 0 },
            Limits { split: 64, active: 1024, small: 2, collect: 1000, budget: 1 << 20 },
        ] {
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
                let got = pool.map(|p| p.install(|| start_fn_stats_with(&tl, TimeRange::ALL, limits, Stop::NEVER)));
                assert!(got.as_ref().is_ok_and(|g| g.as_ref() == Some(&want)), "{limits:?} on {threads} threads");
            }
        }
    }
}
