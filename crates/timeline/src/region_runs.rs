//! The regions the merge has closed, kept packed until the trace ends.
//!
//! Regions close in the order their ends come, and the [`RegionList`]
//! wants them by goroutine and start, so they must be sorted once all are
//! known. As 48-byte [`Region`]s waiting for that sort they were most of
//! the memory of a trace that marks every step of its requests (4 M
//! regions: 192 MB, for a 40 MB trace). Here every [`RUN`] of them is
//! sorted and packed (about 11 bytes a region) as it fills, and the list
//! is built by merging the runs.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use trace_core::GoroutineId;

use crate::model::Region;
use crate::regions::{Prev, RegionList, decode, encode, order_key};
use crate::varint::{read_uvarint, unzigzag, write_uvarint, zigzag};

/// Regions sorted and packed together: 3 MB of [`Region`]s at a time.
const RUN: usize = 1 << 16;

/// Closed regions, in sorted packed runs and a last run still filling.
#[derive(Debug, Default)]
pub(crate) struct RegionRuns {
    filling: Vec<Region>,
    runs: Vec<Vec<u8>>,
}

impl RegionRuns {
    /// Adds a closed region.
    pub fn push(&mut self, r: Region) {
        if self.filling.capacity() == 0 {
            self.filling.reserve_exact(RUN);
        }
        self.filling.push(r);
        if self.filling.len() >= RUN {
            self.seal();
        }
    }

    /// Sorts and packs the filling run.
    fn seal(&mut self) {
        self.filling.sort_unstable_by_key(order_key);
        let mut bytes = Vec::new();
        let (mut prev, mut prev_g) = (Prev::default(), 0i64);
        for r in self.filling.drain(..) {
            write_uvarint(&mut bytes, zigzag(r.g.0.wrapping_sub(prev_g)));
            prev_g = r.g.0;
            encode(&mut bytes, &mut prev, &r);
        }
        bytes.shrink_to_fit();
        self.runs.push(bytes);
    }

    /// Every region, in the list's order.
    pub fn into_list(mut self) -> RegionList {
        // Small enough to sort alone, as most traces' regions are.
        if self.runs.is_empty() {
            return RegionList::from_regions(self.filling);
        }
        if !self.filling.is_empty() {
            self.seal();
        }
        self.filling = Vec::new();
        let mut cursors: Vec<Cursor> = self.runs.into_iter().map(Cursor::new).collect();
        let mut heads = BinaryHeap::with_capacity(cursors.len());
        for (i, c) in cursors.iter_mut().enumerate() {
            if let Some(r) = c.next() {
                heads.push(Reverse((order_key(&r), i)));
            }
        }
        RegionList::from_sorted(std::iter::from_fn(move || {
            // The key is the whole region.
            let Reverse(((g, start_ns, depth, end_ns, typ, task, stack), i)) = heads.pop()?;
            if let Some(next) = cursors.get_mut(i).and_then(Cursor::next) {
                heads.push(Reverse((order_key(&next), i)));
            }
            Some(Region { g, start_ns, end_ns, task, typ, depth, stack })
        }))
    }
}

/// Where a merge is in one packed run.
struct Cursor {
    bytes: Vec<u8>,
    pos: usize,
    prev: Prev,
    prev_g: i64,
}

impl Cursor {
    fn new(bytes: Vec<u8>) -> Cursor {
        Cursor { bytes, pos: 0, prev: Prev::default(), prev_g: 0 }
    }

    /// The run's next region; its bytes are freed after the last.
    fn next(&mut self) -> Option<Region> {
        let Some(mut rest) = self.bytes.get(self.pos..).filter(|r| !r.is_empty()) else {
            self.bytes = Vec::new();
            return None;
        };
        let before = rest.len();
        let g = self.prev_g.wrapping_add(unzigzag(read_uvarint(&mut rest)));
        let r = decode(&mut rest, &mut self.prev, GoroutineId(g));
        self.prev_g = g;
        self.pos += before - rest.len();
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stacks::StackId;
    use crate::strings::StrId;

    fn region(i: u64) -> Region {
        // A spread of goroutines, times, depths and ties on start.
        let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
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

    /// Over several runs, the list holds exactly what sorting all of them
    /// at once gives, in the same order.
    #[test]
    fn runs_merge_into_the_sorted_list() {
        for n in [0, 1, 5, RUN - 1, RUN, RUN + 1, 3 * RUN + 17] {
            let regions: Vec<Region> = (0..n as u64).map(region).collect();
            let mut runs = RegionRuns::default();
            for &r in &regions {
                runs.push(r);
            }
            let got: Vec<Region> = runs.into_list().iter().collect();
            let want: Vec<Region> = RegionList::from_regions(regions).iter().collect();
            assert_eq!(got.len(), n);
            assert!(got == want, "{n} regions: the merged runs differ from one sort");
        }
    }

    /// A run holds a region in about a quarter of a [`Region`]'s bytes.
    #[test]
    fn a_packed_run_is_small() {
        let mut runs = RegionRuns::default();
        for i in 0..RUN as u64 {
            runs.push(region(i));
        }
        let bytes: usize = runs.runs.iter().map(Vec::len).sum();
        assert_eq!(runs.runs.len(), 1);
        assert!(bytes <= RUN * 16, "{} bytes a region", bytes / RUN);
    }
}
