//! Durations counted in logarithmic buckets: exact count, total, minimum
//! and maximum, percentiles within about 6%, in memory bounded by the
//! range of durations rather than their number (the goroutine table keeps
//! two per start function, over millions of spans).
//!
//! ```
//! use timeline::analysis::LogHist;
//!
//! let mut h = LogHist::default();
//! for us in 1..=100 {
//!     h.add(us * 1_000);
//! }
//! let p50 = h.percentile(50).expect("not empty");
//! assert!((47_000..=53_000).contains(&p50), "{p50}");
//! assert_eq!((h.count, h.min_ns, h.max_ns), (100, 1_000, 100_000));
//! ```

/// Buckets per power of two above [`EXACT`].
const SUB: u32 = 8;
/// Durations below this many ns get a bucket each.
const EXACT: i64 = 16;
/// Upper edges of the decade bins of [`LogHist::decades`]: 1 µs ... 1 s.
pub const DECADE_EDGES: [i64; 7] = [1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

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

    /// Adds `other`'s durations (the result is the same in any order: the
    /// durations of spans are never negative, so the saturating total is
    /// the true one capped).
    pub fn merge(&mut self, other: &LogHist) {
        if other.count == 0 {
            return;
        }
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (c, o) in self.counts.iter_mut().zip(&other.counts) {
            *c = c.saturating_add(*o);
        }
        if self.count == 0 {
            (self.min_ns, self.max_ns) = (other.min_ns, other.max_ns);
        } else {
            self.min_ns = self.min_ns.min(other.min_ns);
            self.max_ns = self.max_ns.max(other.max_ns);
        }
        self.count += other.count;
        self.total_ns = self.total_ns.saturating_add(other.total_ns);
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

    /// Counts per decade bin: below 1 µs, 1-10 µs, ... 100 ms-1 s, 1 s and
    /// more (the bins' upper edges are [`DECADE_EDGES`]; a bucket that
    /// straddles an edge counts below it).
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
            let got = crate::analysis::found(h.percentile(pct), "a percentile") as f64;
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

    #[test]
    fn merging_equals_adding_everything_to_one() {
        let durations: Vec<i64> = (0..3000).map(|i| (i * 7919) % 5_000_003 + i % 13).collect();
        let mut one = LogHist::default();
        durations.iter().for_each(|&d| one.add(d));
        for split in [0, 1, 1500, 2999, 3000] {
            let (a, b) = durations.split_at(split);
            let (mut ha, mut hb) = (LogHist::default(), LogHist::default());
            a.iter().for_each(|&d| ha.add(d));
            b.iter().for_each(|&d| hb.add(d));
            let mut ab = ha.clone();
            ab.merge(&hb);
            hb.merge(&ha);
            // Trailing empty buckets aside, both orders equal one pass.
            for m in [&ab, &hb] {
                assert_eq!(
                    (m.count, m.total_ns, m.min_ns, m.max_ns),
                    (one.count, one.total_ns, one.min_ns, one.max_ns)
                );
                assert_eq!(m.decades(), one.decades());
                for p in [1, 50, 95, 99, 100] {
                    assert_eq!(m.percentile(p), one.percentile(p), "split {split} p{p}");
                }
            }
        }
        // Totals saturate instead of overflowing.
        let mut big = LogHist::default();
        big.add(i64::MAX - 1);
        big.merge(&big.clone());
        assert_eq!(big.total_ns, i64::MAX);
    }
}
