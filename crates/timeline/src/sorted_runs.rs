//! Items the merge gathers in one order and a list wants in another, kept
//! packed until the trace ends.
//!
//! Regions close in the order their ends come, and logs come in time
//! order, while the [`crate::RegionList`] and the [`crate::LogList`] want
//! them by goroutine, so they must be sorted once all are known. As
//! structs waiting for that sort they were most of the memory of a trace
//! that marks every step of its requests (4 M regions: 192 MB, for a 40
//! MB trace) or logs a line per request (2 M logs: 64 MB, and as much
//! again while the vector grew). Here every [`RUN`] of them is sorted and
//! packed as it fills (about 8 to 11 bytes an item, as the lists encode
//! them), and the sorted items come from merging the runs.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use trace_core::GoroutineId;

use crate::gblocks::Packed;
use crate::varint::{read_uvarint, unzigzag, write_uvarint, zigzag};

/// Items sorted and packed together: a few MB of structs at a time.
const RUN: usize = 1 << 16;

/// An item with the order its list keeps.
pub(crate) trait RunOrder: Packed {
    /// Sorts as the list orders its items, goroutine first; items with
    /// equal keys keep the order they were pushed in.
    type Key: Ord + Copy;
    fn key(&self) -> Self::Key;
}

/// Items in sorted packed runs and a last run still filling.
#[derive(Debug)]
pub(crate) struct SortedRuns<T> {
    filling: Vec<T>,
    runs: Vec<Vec<u8>>,
}

impl<T> Default for SortedRuns<T> {
    fn default() -> Self {
        SortedRuns { filling: Vec::new(), runs: Vec::new() }
    }
}

impl<T: RunOrder> SortedRuns<T> {
    /// Adds an item.
    pub fn push(&mut self, item: T) {
        if self.filling.capacity() == 0 {
            self.filling.reserve_exact(RUN);
        }
        self.filling.push(item);
        if self.filling.len() >= RUN {
            self.seal();
        }
    }

    /// Sorts (stably) and packs the filling run.
    fn seal(&mut self) {
        self.filling.sort_by_key(T::key);
        let mut bytes = Vec::new();
        let (mut prev, mut prev_g) = (T::Prev::default(), 0i64);
        for item in self.filling.drain(..) {
            write_uvarint(&mut bytes, zigzag(item.g().0.wrapping_sub(prev_g)));
            prev_g = item.g().0;
            item.encode(&mut bytes, &mut prev);
        }
        bytes.shrink_to_fit();
        self.runs.push(bytes);
    }

    /// Every item, sorted by [`RunOrder::key`], equal keys in the order
    /// pushed; each run's bytes are freed once read.
    pub fn into_sorted(mut self) -> Merged<T> {
        if !self.filling.is_empty() {
            self.seal();
        }
        let mut cursors: Vec<Cursor<T>> = self.runs.into_iter().map(Cursor::new).collect();
        let mut keys = BinaryHeap::with_capacity(cursors.len());
        for (i, c) in cursors.iter_mut().enumerate() {
            if let Some(item) = c.advance() {
                keys.push(Reverse((item.key(), i)));
            }
        }
        Merged { cursors, keys }
    }
}

/// The sorted items of [`SortedRuns`]: a merge of its runs.
pub(crate) struct Merged<T: RunOrder> {
    cursors: Vec<Cursor<T>>,
    /// Each run's head's key, and the run (the lower first among equal
    /// keys: runs were filled in order).
    keys: BinaryHeap<Reverse<(T::Key, usize)>>,
}

impl<T: RunOrder> Iterator for Merged<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let Reverse((_, i)) = self.keys.pop()?;
        let cursor = self.cursors.get_mut(i)?;
        let item = cursor.head.take()?;
        if let Some(next) = cursor.advance() {
            self.keys.push(Reverse((next.key(), i)));
        }
        Some(item)
    }
}

/// Where a merge is in one packed run.
struct Cursor<T: Packed> {
    bytes: Vec<u8>,
    pos: usize,
    prev: T::Prev,
    prev_g: i64,
    /// The item read last and not yet handed out.
    head: Option<T>,
}

impl<T: Packed> Cursor<T> {
    fn new(bytes: Vec<u8>) -> Cursor<T> {
        Cursor { bytes, pos: 0, prev: T::Prev::default(), prev_g: 0, head: None }
    }

    /// Reads the run's next item into `head`, returning it; the run's
    /// bytes are freed after the last.
    fn advance(&mut self) -> Option<T> {
        let Some(mut rest) = self.bytes.get(self.pos..).filter(|r| !r.is_empty()) else {
            self.bytes = Vec::new();
            return None;
        };
        let before = rest.len();
        let g = self.prev_g.wrapping_add(unzigzag(read_uvarint(&mut rest)));
        let item = T::decode(&mut rest, &mut self.prev, GoroutineId(g));
        self.prev_g = g;
        self.pos += before - rest.len();
        self.head = Some(item);
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LogEntry, Region};
    use crate::regions::RegionList;
    use crate::stacks::StackId;
    use crate::strings::StrId;

    fn hash(i: u64) -> u64 {
        i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    fn region(i: u64) -> Region {
        // A spread of goroutines, times, depths and ties on start.
        let h = hash(i);
        Region {
            g: GoroutineId((h % 37) as i64 - 3),
            start_ns: ((h >> 8) % 10_000) as i64 * 64,
            end_ns: ((h >> 8) % 10_000) as i64 * 64 + ((h >> 24) % 5_000) as i64,
            task: (h >> 40) % 4,
            typ: StrId(((h >> 44) % 3) as u32),
            depth: ((h >> 48) % 3) as u32,
            stack: StackId(((h >> 52) % 5) as u32),
        }
    }

    /// Few goroutines and times, so many logs tie on (goroutine, time)
    /// and differ only in their message (their place in the input).
    fn log(i: u64) -> LogEntry {
        let h = hash(i);
        LogEntry {
            time_ns: ((h >> 8) % 50) as i64 * 64 - 128,
            g: GoroutineId((h % 5) as i64 - 1),
            task: (h >> 40) % 3,
            category: StrId(((h >> 44) % 2) as u32),
            message: StrId(i as u32),
        }
    }

    const COUNTS: [usize; 7] = [0, 1, 5, RUN - 1, RUN, RUN + 1, 3 * RUN + 17];

    fn merged<T: RunOrder>(items: &[T]) -> Vec<T> {
        let mut runs = SortedRuns::default();
        for &item in items {
            runs.push(item);
        }
        runs.into_sorted().collect()
    }

    /// Over several runs, the regions come out exactly as sorting all of
    /// them at once orders them.
    #[test]
    fn regions_merge_as_one_sort_orders_them() {
        for n in COUNTS {
            let regions: Vec<Region> = (0..n as u64).map(region).collect();
            let got = merged(&regions);
            let want: Vec<Region> = RegionList::from_regions(regions).iter().collect();
            assert_eq!(got.len(), n);
            assert!(got == want, "{n} regions: the merged runs differ from one sort");
        }
    }

    /// Logs that tie on goroutine and time, within a run and across runs,
    /// keep the order they came in, as one stable sort keeps them.
    #[test]
    fn logs_merge_as_one_stable_sort_orders_them() {
        for n in COUNTS {
            let logs: Vec<LogEntry> = (0..n as u64).map(log).collect();
            let got = merged(&logs);
            let mut want = logs.clone();
            want.sort_by_key(|l| (l.g, l.time_ns));
            assert_eq!(got.len(), n);
            assert!(got == want, "{n} logs: the merged runs differ from one stable sort");
        }
    }

    /// A run holds a region in about a quarter of a [`Region`]'s bytes,
    /// and a log in a quarter of a [`LogEntry`]'s.
    #[test]
    fn a_packed_run_is_small() {
        fn run_bytes<T: RunOrder>(item: impl Fn(u64) -> T) -> usize {
            let mut runs = SortedRuns::default();
            for i in 0..RUN as u64 {
                runs.push(item(i));
            }
            assert_eq!(runs.runs.len(), 1);
            runs.runs.iter().map(Vec::len).sum()
        }
        let bytes = run_bytes(region);
        assert!(bytes <= RUN * 16, "{} bytes a region", bytes / RUN);
        let bytes = run_bytes(log);
        assert!(bytes <= RUN * 10, "{} bytes a log", bytes / RUN);
    }
}
