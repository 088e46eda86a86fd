//! Counters over time (heap, goroutines by state, ...) and their decimation.
//!
//! A counter is a step function stored in blocks of up to `BLOCK_SAMPLES`
//! samples: each block's header holds its first and last sample and the
//! least and greatest value in it; the other samples follow as varints
//! (time step, then zigzag value delta), usually 2 bytes a sample plus a
//! 56-byte header per block, instead of 16 bytes a sample. Zoomed out,
//! decimation merges whole blocks from their headers.

use crate::varint::{read_uvarint, unzigzag, write_uvarint, zigzag};

/// Most samples a block holds. Zoomed out, a block whose samples straddle
/// a pixel column is decoded sample by sample; with 128 a block, those few
/// blocks took most of a whole-trace frame. 32 costs about 1.4 bytes a
/// sample more and decimates about twice as fast.
const BLOCK_SAMPLES: u32 = 32;

/// The goroutine counters are sampled on a grid of this many ns (see the
/// merge's `COUNTER_RESOLUTION_NS`), so most time steps are whole grid
/// steps and are stored as such: a step of up to 630 us then takes one
/// byte instead of two or three (20 MB less on a busy 1 GB trace). Other
/// steps are stored in ns, told apart by the low bit.
const GRID_NS: u64 = 10_000;

/// Times are clamped to +-2^61 ns (73 years), so a step in ns always fits
/// beside the low bit.
const MAX_TIME_NS: i64 = 1 << 61;

/// A time step as stored.
fn encode_step(step_ns: u64) -> u64 {
    if step_ns.is_multiple_of(GRID_NS) { (step_ns / GRID_NS) << 1 } else { (step_ns << 1) | 1 }
}

/// The inverse of [`encode_step`].
fn decode_step(v: u64) -> u64 {
    if v & 1 == 0 { (v >> 1).wrapping_mul(GRID_NS) } else { v >> 1 }
}

/// A step function: each sample's value holds from its time until the next
/// sample's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counter {
    blocks: Vec<CounterBlock>,
    /// Samples after each block's first, delta-encoded.
    bytes: Vec<u8>,
    /// The newest sample, kept aside: a later one at the same time replaces
    /// its value.
    last: Option<(i64, i64)>,
}

/// Header of a block of samples.
#[derive(Clone, Copy, Debug, PartialEq)]
struct CounterBlock {
    first_ns: i64,
    first: i64,
    last_ns: i64,
    last: i64,
    min: i64,
    max: i64,
    byte_start: u32,
    count: u32,
}

/// One pixel column of a decimated counter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CounterColumn {
    /// Start of the column.
    pub start_ns: i64,
    /// Smallest value held in the column.
    pub min: i64,
    /// Largest value held in the column.
    pub max: i64,
    /// Value at the end of the column.
    pub last: i64,
}

impl Counter {
    /// Records `value` at `t_ns`. Samples at the same time overwrite; an
    /// unchanged value adds nothing; times never go back (an earlier time
    /// counts as the newest sample's). Times are clamped to +-2^61 ns.
    pub fn push(&mut self, t_ns: i64, value: i64) {
        let t_ns = t_ns.clamp(-MAX_TIME_NS, MAX_TIME_NS);
        if let Some((lt, lv)) = self.last.as_mut() {
            if *lv == value {
                return;
            }
            if *lt >= t_ns {
                *lv = value;
                return;
            }
        }
        if let Some((lt, lv)) = self.last.replace((t_ns, value)) {
            self.encode(lt, lv);
        }
    }

    /// Appends a sample to the blocks.
    fn encode(&mut self, t_ns: i64, value: i64) {
        match self.blocks.last_mut() {
            Some(b) if b.count < BLOCK_SAMPLES => {
                write_uvarint(&mut self.bytes, encode_step((t_ns - b.last_ns) as u64));
                write_uvarint(&mut self.bytes, zigzag(value.wrapping_sub(b.last)));
                b.last_ns = t_ns;
                b.last = value;
                b.min = b.min.min(value);
                b.max = b.max.max(value);
                b.count += 1;
            }
            _ => self.blocks.push(CounterBlock {
                first_ns: t_ns,
                first: value,
                last_ns: t_ns,
                last: value,
                min: value,
                max: value,
                byte_start: self.bytes.len() as u32,
                count: 1,
            }),
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.blocks.iter().map(|b| b.count as usize).sum::<usize>() + usize::from(self.last.is_some())
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.last.is_none()
    }

    /// Every sample, `(time, value)`, in time order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        (0..self.blocks.len()).flat_map(|i| BlockSamples::new(self, i)).chain(self.last)
    }

    /// Time of the first sample.
    pub fn first_time(&self) -> Option<i64> {
        self.blocks.first().map(|b| b.first_ns).or(self.last.map(|l| l.0))
    }

    /// Time of the newest sample.
    pub fn last_time(&self) -> Option<i64> {
        self.last.map(|l| l.0)
    }

    /// The value in effect at `t_ns` (`None` before the first sample).
    pub fn value_at(&self, t_ns: i64) -> Option<i64> {
        if let Some((lt, lv)) = self.last
            && lt <= t_ns
        {
            return Some(lv);
        }
        let k = self.blocks.partition_point(|b| b.first_ns <= t_ns).checked_sub(1)?;
        let b = self.blocks.get(k)?;
        if b.last_ns <= t_ns {
            return Some(b.last);
        }
        BlockSamples::new(self, k).take_while(|&(t, _)| t <= t_ns).last().map(|s| s.1)
    }

    /// The largest value.
    pub fn max(&self) -> Option<i64> {
        self.blocks.iter().map(|b| b.max).chain(self.last.map(|l| l.1)).max()
    }

    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.blocks.capacity() * std::mem::size_of::<CounterBlock>() + self.bytes.capacity()
    }

    /// Trims spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.blocks.shrink_to_fit();
        self.bytes.shrink_to_fit();
    }

    /// Grows the storage ahead (see [`crate::track::TrackBuilder::reserve_scaled`]).
    pub(crate) fn reserve_scaled(&mut self, scale: f64) {
        crate::track::reserve_scaled(&mut self.bytes, scale);
        crate::track::reserve_scaled(&mut self.blocks, scale);
    }

    /// Decimates to `columns` equal columns over `[start_ns, end_ns)`: the
    /// min, max and last value held in each, so spikes never vanish. Columns
    /// before the first sample are left out. A block of samples that falls
    /// inside one column is merged from its header.
    pub fn decimate(&self, start_ns: i64, end_ns: i64, columns: usize) -> Vec<CounterColumn> {
        if columns == 0 || end_ns <= start_ns {
            return Vec::new();
        }
        let mut d = Decimator::new(start_ns, end_ns, columns, self.value_at(start_ns));
        // Blocks with a sample after the window's start.
        let first = self.blocks.partition_point(|b| b.last_ns <= start_ns);
        for (i, b) in self.blocks.iter().enumerate().skip(first) {
            if b.first_ns >= end_ns || d.is_done() {
                break;
            }
            if b.first_ns > start_ns && d.same_column(b.first_ns, b.last_ns) {
                d.merge(b.first_ns, b.min, b.max, b.last);
                continue;
            }
            for (t, v) in BlockSamples::new(self, i) {
                if t >= end_ns {
                    break;
                }
                if t > start_ns {
                    d.merge(t, v, v, v);
                }
            }
        }
        if let Some((t, v)) = self.last
            && t > start_ns
            && t < end_ns
        {
            d.merge(t, v, v, v);
        }
        d.finish()
    }
}

/// Fills decimation columns left to right.
struct Decimator {
    start_ns: i64,
    width: f64,
    columns: usize,
    /// The column being filled.
    c: usize,
    /// Where the next column starts (kept, as every sample checks it).
    next_bound: i64,
    col: Option<CounterColumn>,
    /// The value in effect.
    current: Option<i64>,
    out: Vec<CounterColumn>,
}

impl Decimator {
    fn new(start_ns: i64, end_ns: i64, columns: usize, current: Option<i64>) -> Decimator {
        let width = (end_ns - start_ns) as f64 / columns as f64;
        let col = current.map(|v| CounterColumn { start_ns, min: v, max: v, last: v });
        let mut d =
            Decimator { start_ns, width, columns, c: 0, next_bound: 0, col, current, out: Vec::with_capacity(columns) };
        d.next_bound = d.bound(1);
        d
    }

    /// Start of column `c`.
    fn bound(&self, c: usize) -> i64 {
        self.start_ns + (c as f64 * self.width) as i64
    }

    fn is_done(&self) -> bool {
        self.c >= self.columns
    }

    /// Moves on to the column holding `t`, closing the ones before.
    fn advance(&mut self, t: i64) {
        if t < self.next_bound {
            return;
        }
        // Jump near the right column, then step to it exactly.
        let guess = (((t - self.start_ns) as f64 / self.width) as usize).saturating_sub(1).max(self.c + 1);
        self.close_through(guess.min(self.columns));
        while !self.is_done() && t >= self.next_bound {
            self.close_through(self.c + 1);
        }
    }

    /// Closes columns up to `c`, which becomes the one being filled; the
    /// columns skipped hold the value in effect.
    fn close_through(&mut self, c: usize) {
        if c <= self.c {
            return;
        }
        self.out.extend(self.col.take());
        if let Some(v) = self.current {
            for k in self.c + 1..c.min(self.columns) {
                self.out.push(CounterColumn { start_ns: self.bound(k), min: v, max: v, last: v });
            }
        }
        self.c = c;
        self.next_bound = self.bound(c + 1);
        self.col = self.current.map(|v| CounterColumn { start_ns: self.bound(c), min: v, max: v, last: v });
    }

    /// Whether `a` and `b` (`a <= b`) fall in the same column.
    fn same_column(&mut self, a: i64, b: i64) -> bool {
        self.advance(a);
        !self.is_done() && b < self.next_bound
    }

    /// Samples from `t` on, within one column, with these least, greatest
    /// and last values.
    fn merge(&mut self, t: i64, min: i64, max: i64, last: i64) {
        if t >= self.next_bound {
            self.advance(t);
            if self.is_done() {
                return;
            }
        }
        let col = match self.col.as_mut() {
            Some(col) => col,
            None => self.col.insert(CounterColumn { start_ns: self.bound(self.c), min, max, last }),
        };
        col.min = col.min.min(min);
        col.max = col.max.max(max);
        col.last = last;
        self.current = Some(last);
    }

    fn finish(mut self) -> Vec<CounterColumn> {
        self.close_through(self.columns);
        self.out
    }
}

/// The samples of one block, decoded in order.
struct BlockSamples<'c> {
    bytes: &'c [u8],
    left: u32,
    t: i64,
    v: i64,
    first: bool,
}

impl<'c> BlockSamples<'c> {
    fn new(c: &'c Counter, i: usize) -> BlockSamples<'c> {
        let Some(b) = c.blocks.get(i) else {
            return BlockSamples { bytes: &[], left: 0, t: 0, v: 0, first: false };
        };
        let end = c.blocks.get(i + 1).map_or(c.bytes.len(), |n| n.byte_start as usize);
        let bytes = c.bytes.get(b.byte_start as usize..end).unwrap_or_default();
        BlockSamples { bytes, left: b.count, t: b.first_ns, v: b.first, first: true }
    }
}

impl Iterator for BlockSamples<'_> {
    type Item = (i64, i64);

    fn next(&mut self) -> Option<(i64, i64)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        if !std::mem::take(&mut self.first) {
            self.t = self.t.wrapping_add(decode_step(read_uvarint(&mut self.bytes)) as i64);
            self.v = self.v.wrapping_add(unzigzag(read_uvarint(&mut self.bytes)));
        }
        Some((self.t, self.v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_coalesces() {
        let mut c = Counter::default();
        c.push(0, 1);
        c.push(0, 2);
        c.push(5, 2);
        c.push(7, 3);
        assert_eq!(c.iter().collect::<Vec<_>>(), [(0, 2), (7, 3)]);
        assert_eq!(c.value_at(6), Some(2));
        assert_eq!(c.value_at(-1), None);
        assert_eq!((c.first_time(), c.last_time(), c.len()), (Some(0), Some(7), 2));
    }

    #[test]
    fn grid_steps_take_one_byte_and_any_step_reads_back() {
        // On the goroutine counters' 10 us grid: one byte a step.
        let mut grid = Counter::default();
        let on: Vec<(i64, i64)> = (0..1000).map(|i| (1_000_000_000 + i * 30_000, i % 5)).collect();
        for &(t, v) in &on {
            grid.push(t, v);
        }
        assert_eq!(grid.iter().collect::<Vec<_>>(), on);
        // The newest sample is kept aside, and each block's first is in its header.
        let encoded = on.len() - 1;
        let samples_after_firsts = encoded - encoded.div_ceil(BLOCK_SAMPLES as usize);
        assert_eq!(grid.bytes.len(), 2 * samples_after_firsts);
        // Off the grid, mixed, huge steps, and times past the clamp.
        let mut any = Counter::default();
        let times = [i64::MIN, -5, 0, 10_000, 10_001, 30_001, 40_001, 1 << 40, (1 << 40) + 20_000, i64::MAX];
        for (i, &t) in times.iter().enumerate() {
            any.push(t, i as i64);
        }
        let want: Vec<(i64, i64)> =
            times.iter().enumerate().map(|(i, &t)| (t.clamp(-MAX_TIME_NS, MAX_TIME_NS), i as i64)).collect();
        assert_eq!(any.iter().collect::<Vec<_>>(), want);
        assert_eq!(any.value_at(10_000), Some(3));
    }

    #[test]
    fn decimation_keeps_spikes() {
        let mut c = Counter::default();
        for t in 0..1000 {
            c.push(t, if t == 503 { 100 } else { t % 2 });
        }
        let cols = c.decimate(0, 1000, 10);
        assert_eq!(cols.len(), 10);
        assert_eq!(cols[5].max, 100);
        assert_eq!(cols[5].min, 0);
        assert_eq!(cols[4].max, 1);
        assert_eq!(cols[9].last, 1);
        // Before the first sample there is nothing to draw.
        let cols = c.decimate(-1000, 1000, 4);
        assert_eq!(cols.len(), 2);
        assert_eq!(cols[0].start_ns, 0);
    }

    #[test]
    fn columns_without_samples_carry_the_value() {
        let mut c = Counter::default();
        c.push(0, 7);
        c.push(900, 9);
        let cols = c.decimate(0, 1000, 10);
        assert_eq!(cols[3], CounterColumn { start_ns: 300, min: 7, max: 7, last: 7 });
        assert_eq!(cols[9].last, 9);
    }

    /// The obvious decimation over plain sample lists.
    fn naive(samples: &[(i64, i64)], start_ns: i64, end_ns: i64, columns: usize) -> Vec<CounterColumn> {
        let mut out = Vec::new();
        if columns == 0 || end_ns <= start_ns {
            return out;
        }
        let width = (end_ns - start_ns) as f64 / columns as f64;
        let mut current = samples.iter().take_while(|s| s.0 <= start_ns).last().map(|s| s.1);
        for c in 0..columns {
            let (a, b) = (start_ns + (c as f64 * width) as i64, start_ns + ((c + 1) as f64 * width) as i64);
            let mut col = current.map(|v| CounterColumn { start_ns: a, min: v, max: v, last: v });
            for &(_, v) in samples.iter().filter(|s| s.0 > start_ns && s.0 >= a && s.0 < b) {
                let x = col.get_or_insert(CounterColumn { start_ns: a, min: v, max: v, last: v });
                x.min = x.min.min(v);
                x.max = x.max.max(v);
                x.last = v;
                current = Some(v);
            }
            out.extend(col);
        }
        out
    }

    #[test]
    fn blocks_equal_plain_samples_in_every_query() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..40 {
            let n = [0, 1, 2, 31, 32, 33, 1000, 5000][round % 8];
            let mut c = Counter::default();
            let mut plain: Vec<(i64, i64)> = Vec::new();
            let mut t = (next() % 1000) as i64 - 500;
            for _ in 0..n {
                t += (next() % 50) as i64 * if next() % 10 == 0 { 1000 } else { 1 };
                let v = (next() % 200) as i64 - 100 + if next() % 100 == 0 { i64::MAX / 4 } else { 0 };
                c.push(t, v);
                // The same rule by hand.
                match plain.last_mut() {
                    Some(l) if l.1 == v => {}
                    Some(l) if l.0 >= t => l.1 = v,
                    _ => plain.push((t, v)),
                }
            }
            assert_eq!(c.iter().collect::<Vec<_>>(), plain);
            assert_eq!(c.len(), plain.len());
            assert_eq!(c.max(), plain.iter().map(|s| s.1).max());
            let (lo, hi) = (plain.first().map_or(0, |s| s.0), plain.last().map_or(0, |s| s.0));
            for _ in 0..20 {
                let q = lo - 10 + (next() % ((hi - lo + 20).max(1) as u64)) as i64;
                let want = plain.iter().take_while(|s| s.0 <= q).last().map(|s| s.1);
                assert_eq!(c.value_at(q), want, "value_at({q})");
            }
            for _ in 0..10 {
                let a = lo - 20 + (next() % ((hi - lo + 40).max(1) as u64)) as i64;
                let b = a + 1 + (next() % ((hi - lo + 40).max(1) as u64)) as i64;
                let cols = 1 + (next() % 300) as usize;
                assert_eq!(c.decimate(a, b, cols), naive(&plain, a, b, cols), "{a}..{b} in {cols}");
            }
        }
    }
}
