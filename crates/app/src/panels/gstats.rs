//! Per-goroutine totals and per-start-function aggregates for the goroutine
//! table, computed a slice of goroutines at a time so a trace with millions
//! of goroutines never blocks a frame for long.
//!
//! Percentiles of the groups come from logarithmic histograms ([`LogHist`]):
//! exact count, total, min and max, percentiles within about 6%, in memory
//! bounded by the number of start functions rather than of spans.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use timeline::{Category, GState, Goroutine, StrId, Timeline};

/// Buckets per power of two above [`EXACT`].
const SUB: u32 = 8;
/// Durations below this many ns get a bucket each.
const EXACT: i64 = 16;
/// Upper edges of the decade bins of [`LogHist::decades`]: 1 µs ... 1 s.
pub const DECADE_EDGES: [i64; 7] = [1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];
/// Names of the decade bins.
pub const DECADE_NAMES: [&str; 8] =
    ["< 1µs", "1-10µs", "10-100µs", "100µs-1ms", "1-10ms", "10-100ms", "100ms-1s", ">= 1s"];

/// Durations counted in logarithmic buckets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogHist {
    counts: Vec<u32>,
    /// How many durations.
    pub count: u64,
    /// Their sum.
    pub total_ns: i64,
    /// The shortest (0 if none).
    pub min_ns: i64,
    /// The longest (0 if none).
    pub max_ns: i64,
}

/// The bucket of a duration.
fn bucket(ns: i64) -> usize {
    if ns < EXACT {
        return ns.max(0) as usize;
    }
    let octave = 63 - ns.leading_zeros(); // >= 4
    let shift = octave - 3;
    let sub = ((ns >> shift) & 7) as u32;
    (EXACT as u32 + (octave - 4) * SUB + sub) as usize
}

/// The durations `[lo, hi)` of bucket `i`.
fn bucket_bounds(i: usize) -> (i64, i64) {
    if (i as i64) < EXACT {
        return (i as i64, i as i64 + 1);
    }
    let k = i as u32 - EXACT as u32;
    let (octave, sub) = (4 + k / SUB, u64::from(k % SUB));
    let shift = octave - 3;
    let edge = |m: u64| (m.checked_shl(shift).unwrap_or(u64::MAX)).min(i64::MAX as u64) as i64;
    (edge(8 + sub), edge(9 + sub))
}

impl LogHist {
    /// Counts one duration.
    pub fn add(&mut self, ns: i64) {
        let i = bucket(ns);
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        if let Some(c) = self.counts.get_mut(i) {
            *c = c.saturating_add(1);
        }
        if self.count == 0 {
            (self.min_ns, self.max_ns) = (ns, ns);
        } else {
            self.min_ns = self.min_ns.min(ns);
            self.max_ns = self.max_ns.max(ns);
        }
        self.count += 1;
        self.total_ns = self.total_ns.saturating_add(ns);
    }

    /// The `pct`-th percentile by nearest rank: the middle of the bucket
    /// holding it, clamped to the minimum and maximum (`None` if empty).
    pub fn percentile(&self, pct: u32) -> Option<i64> {
        if self.count == 0 {
            return None;
        }
        let rank = (self.count * u64::from(pct)).div_ceil(100).max(1);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                let (lo, hi) = bucket_bounds(i);
                let mid = lo + (hi - lo) / 2;
                return Some(mid.clamp(self.min_ns, self.max_ns));
            }
        }
        Some(self.max_ns)
    }

    /// Counts per decade bin (see [`DECADE_NAMES`]).
    pub fn decades(&self) -> [u64; 8] {
        let mut out = [0u64; 8];
        for (i, &c) in self.counts.iter().enumerate() {
            let lo = bucket_bounds(i).0;
            let bin = DECADE_EDGES.iter().filter(|&&e| e <= lo).count();
            if let Some(slot) = out.get_mut(bin) {
                *slot += u64::from(c);
            }
        }
        out
    }
}

/// One goroutine's row: its lifetime and time per kind of state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GRow {
    /// Index in `Timeline::goroutines` (and so in ID order).
    pub gi: u32,
    /// Index of its start function in [`GStats::groups`].
    pub group: u32,
    /// Created (or first seen).
    pub start_ns: i64,
    /// Exited (or the end of the trace).
    pub end_ns: i64,
    /// Time running.
    pub running_ns: i64,
    /// Time waiting for a P (created, runnable, preempted, yielded).
    pub runnable_ns: i64,
    /// Time blocked, all reasons together.
    pub blocked_ns: i64,
    /// Time in system calls.
    pub syscall_ns: i64,
    /// The reason it was blocked longest, and for how long in total.
    pub top_block: Option<(GState, i64)>,
}

impl GRow {
    /// Length of the lifetime.
    pub fn lifetime_ns(&self) -> i64 {
        self.end_ns - self.start_ns
    }
}

/// All goroutines started in one function, together.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The start function.
    pub start_fn: StrId,
    /// How many goroutines.
    pub count: u64,
    /// Their running time.
    pub running_ns: i64,
    /// Their time waiting for a P.
    pub runnable_ns: i64,
    /// Their time blocked.
    pub blocked_ns: i64,
    /// Their time in system calls.
    pub syscall_ns: i64,
    /// Their blocked spans.
    pub blocked: LogHist,
    /// Their runnable spans (scheduling latency).
    pub runnable: LogHist,
}

/// Rows and groups computed so far.
#[derive(Debug, Default)]
pub struct GStats {
    /// One row per goroutine done, in goroutine order.
    pub rows: Vec<GRow>,
    /// One group per start function seen, in order of first appearance.
    pub groups: Vec<Group>,
    by_fn: HashMap<StrId, u32>,
    next: usize,
}

impl GStats {
    /// Everything for `tl` at once.
    #[cfg(test)]
    pub fn compute(tl: &Timeline) -> GStats {
        let mut s = GStats::default();
        s.step(tl, Duration::MAX);
        s
    }

    /// Whether every goroutine of `tl` is done.
    pub fn is_done(&self, tl: &Timeline) -> bool {
        self.next >= tl.goroutines.len()
    }

    /// Goroutines done so far.
    pub fn done_count(&self) -> usize {
        self.next
    }

    /// Processes goroutines until all are done or `budget` has passed.
    pub fn step(&mut self, tl: &Timeline, budget: Duration) {
        let started = Instant::now();
        self.rows.reserve(tl.goroutines.len().saturating_sub(self.rows.len()));
        while let Some(g) = tl.goroutines.get(self.next) {
            self.add(tl, self.next, g);
            self.next += 1;
            if self.next.is_multiple_of(512) && started.elapsed() >= budget {
                break;
            }
        }
    }

    fn group_of(&mut self, start_fn: StrId) -> u32 {
        if let Some(&i) = self.by_fn.get(&start_fn) {
            return i;
        }
        let i = self.groups.len() as u32;
        self.groups.push(Group {
            start_fn,
            count: 0,
            running_ns: 0,
            runnable_ns: 0,
            blocked_ns: 0,
            syscall_ns: 0,
            blocked: LogHist::default(),
            runnable: LogHist::default(),
        });
        self.by_fn.insert(start_fn, i);
        i
    }

    fn add(&mut self, tl: &Timeline, gi: usize, g: &Goroutine) {
        let group = self.group_of(g.start_fn());
        let mut totals = [0i64; GState::COUNT];
        if let Some(grp) = self.groups.get_mut(group as usize) {
            for bi in 0..g.track.block_count() {
                g.track.for_each_in_block(bi, |s| {
                    let state = Goroutine::state(&s);
                    let d = s.end_ns - s.start_ns;
                    match state.category() {
                        Category::Blocked => grp.blocked.add(d),
                        Category::Runnable => grp.runnable.add(d),
                        _ => {}
                    }
                    if let Some(t) = totals.get_mut(state as usize) {
                        *t += d;
                    }
                });
            }
        }
        let row = row_from_totals(tl, gi, group, g, &totals);
        if let Some(grp) = self.groups.get_mut(group as usize) {
            grp.count += 1;
            grp.running_ns += row.running_ns;
            grp.runnable_ns += row.runnable_ns;
            grp.blocked_ns += row.blocked_ns;
            grp.syscall_ns += row.syscall_ns;
        }
        self.rows.push(row);
    }
}

/// A goroutine's row from its time per state.
fn row_from_totals(tl: &Timeline, gi: usize, group: u32, g: &Goroutine, totals: &[i64; GState::COUNT]) -> GRow {
    let sum = |c: Category| GState::ALL.iter().zip(totals).filter(|(s, _)| s.category() == c).map(|(_, t)| t).sum();
    let top_block = GState::ALL
        .iter()
        .zip(totals)
        .filter(|(s, t)| s.is_blocked() && **t > 0)
        .max_by_key(|(s, t)| (**t, std::cmp::Reverse(**s)))
        .map(|(s, t)| (*s, *t));
    let start_ns = g.created_ns().or(g.track.start_ns()).unwrap_or(tl.start_ns);
    let end_ns = g.exited_ns().unwrap_or(tl.end_ns).max(start_ns);
    GRow {
        gi: gi as u32,
        group,
        start_ns,
        end_ns,
        running_ns: sum(Category::Running),
        runnable_ns: sum(Category::Runnable),
        blocked_ns: sum(Category::Blocked),
        syscall_ns: sum(Category::Syscall),
        top_block,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_duration_once() {
        let mut prev_hi = 0;
        for i in 0..500 {
            let (lo, hi) = bucket_bounds(i);
            assert_eq!(lo, prev_hi, "bucket {i} starts where {} ended", i.saturating_sub(1));
            assert!(hi > lo || hi == i64::MAX, "bucket {i}: {lo}..{hi}");
            assert_eq!(bucket(lo), i);
            if hi < i64::MAX {
                assert_eq!(bucket(hi - 1), i);
            }
            prev_hi = hi;
            if hi == i64::MAX {
                break;
            }
        }
        assert_eq!(bucket(i64::MAX), bucket(i64::MAX - 1));
        assert_eq!(bucket(-5), 0);
    }

    #[test]
    fn percentiles_are_close_and_clamped() {
        let mut h = LogHist::default();
        assert_eq!(h.percentile(50), None);
        h.add(60_000_000);
        assert_eq!(h.percentile(50), Some(60_000_000));
        assert_eq!(h.percentile(99), Some(60_000_000));
        let mut h = LogHist::default();
        for v in 1..=1000 {
            h.add(v * 1000);
        }
        assert_eq!((h.count, h.min_ns, h.max_ns), (1000, 1000, 1_000_000));
        assert_eq!(h.total_ns, 500_500_000);
        for (pct, exact) in [(50, 500_000.0), (95, 950_000.0), (99, 990_000.0)] {
            let got = h.percentile(pct).unwrap() as f64;
            assert!((got / exact - 1.0).abs() < 0.07, "p{pct}: {got} vs {exact}");
        }
        assert_eq!(h.percentile(100), Some(1_000_000));
        // Buckets straddling a decade edge count below it.
        let d = h.decades();
        assert_eq!(d.iter().sum::<u64>(), 1000);
        assert_eq!((d[0], d[1]), (1, 9));
        assert!(d[2].abs_diff(90) <= 10 && d[3].abs_diff(900) <= 10, "{d:?}");
        assert_eq!(d[4..], [0, 0, 0, 0]);
    }
}
