//! User regions, stored compactly and planned for drawing.
//!
//! A program that marks every step of every request as a region has
//! millions of them: as 48-byte [`Region`]s they took about ten times the
//! bytes their events take in the trace. Here each goroutine's regions, in
//! start order, sit in blocks of up to [`BLOCK`], every field a varint
//! delta from the region before (about 10 bytes a region), and each block
//! keeps the time bounds a view needs to skip it undecoded.
//!
//! ```
//! use timeline::{Region, RegionList, StackId, StrId, View};
//! use trace_core::GoroutineId;
//!
//! let region = |start_ns, end_ns| Region {
//!     g: GoroutineId(7), start_ns, end_ns, task: 0, typ: StrId(1), depth: 0, stack: StackId::NONE,
//! };
//! let list = RegionList::from_regions(vec![region(50, 60), region(0, 10), region(12, 20)]);
//! assert_eq!(list.get(1).map(|r| r.start_ns), Some(12));
//! // At 1 ns a pixel, the regions 2 ns apart stay two bars.
//! let view = |end_ns| View { start_ns: 0, end_ns, width_px: 30.0 };
//! assert_eq!(list.plan(GoroutineId(7), &view(30)), [(0, 10), (12, 20)]);
//! // At 4 ns a pixel, the 2 ns gap is under a pixel: one bar.
//! assert_eq!(list.plan(GoroutineId(7), &view(120)), [(0, 20), (50, 60)]);
//! ```

use trace_core::GoroutineId;

use crate::gblocks::{ByGoroutine, Items, Packed};
use crate::model::Region;
use crate::plan::View;
use crate::stacks::StackId;
use crate::strings::StrId;
use crate::varint::{read_uvarint, unzigzag, write_uvarint, zigzag};

/// Regions per block: small enough that finding one decodes little.
pub use crate::gblocks::BLOCK;

/// All user regions of a trace, by goroutine, then start, depth and end.
#[derive(Clone, Default)]
pub struct RegionList {
    list: ByGoroutine<Region>,
}

impl std::fmt::Debug for RegionList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl FromIterator<Region> for RegionList {
    fn from_iter<I: IntoIterator<Item = Region>>(regions: I) -> RegionList {
        RegionList::from_regions(regions.into_iter().collect())
    }
}

/// The order of the list: by goroutine, then start, depth and end (the
/// rest only so that equal regions sort the same way every time).
fn order_key(r: &Region) -> (GoroutineId, i64, u32, i64, StrId, u64, StackId) {
    (r.g, r.start_ns, r.depth, r.end_ns, r.typ, r.task, r.stack)
}

/// The fields a region is encoded against: the region before it in its
/// block (at a block's start, its start time and zeros).
#[derive(Clone, Copy, Default)]
pub(crate) struct Prev {
    start_ns: i64,
    task: u64,
    stack: u32,
}

/// Appends `r` encoded against `prev` (then `r`'s own fields).
fn encode(out: &mut Vec<u8>, prev: &mut Prev, r: &Region) {
    write_uvarint(out, zigzag(r.start_ns.wrapping_sub(prev.start_ns)));
    write_uvarint(out, zigzag(r.end_ns.wrapping_sub(r.start_ns)));
    write_uvarint(out, u64::from(r.depth));
    write_uvarint(out, u64::from(r.typ.0));
    write_uvarint(out, zigzag(r.task.wrapping_sub(prev.task) as i64));
    write_uvarint(out, zigzag(i64::from(r.stack.0) - i64::from(prev.stack)));
    *prev = Prev { start_ns: r.start_ns, task: r.task, stack: r.stack.0 };
}

/// The region encoded at the front of `bytes` (advanced past it).
fn decode(bytes: &mut &[u8], prev: &mut Prev, g: GoroutineId) -> Region {
    let start_ns = prev.start_ns.wrapping_add(unzigzag(read_uvarint(bytes)));
    let end_ns = start_ns.wrapping_add(unzigzag(read_uvarint(bytes)));
    let depth = read_uvarint(bytes) as u32;
    let typ = StrId(read_uvarint(bytes) as u32);
    let task = prev.task.wrapping_add(unzigzag(read_uvarint(bytes)) as u64);
    let stack = (i64::from(prev.stack) + unzigzag(read_uvarint(bytes))) as u32;
    *prev = Prev { start_ns, task, stack };
    Region { g, start_ns, end_ns, task, typ, depth, stack: StackId(stack) }
}

impl Packed for Region {
    type Prev = Prev;
    fn g(&self) -> GoroutineId {
        self.g
    }
    fn start_ns(&self) -> i64 {
        self.start_ns
    }
    fn end_ns(&self) -> i64 {
        self.end_ns
    }
    fn prev_at(block_start_ns: i64) -> Prev {
        Prev { start_ns: block_start_ns, ..Prev::default() }
    }
    fn encode(&self, out: &mut Vec<u8>, prev: &mut Prev) {
        encode(out, prev, self);
    }
    fn decode(bytes: &mut &[u8], prev: &mut Prev, g: GoroutineId) -> Region {
        decode(bytes, prev, g)
    }
}

impl crate::sorted_runs::RunOrder for Region {
    type Key = (GoroutineId, i64, u32, i64, StrId, u64, StackId);
    fn key(&self) -> Self::Key {
        order_key(self)
    }
}

impl RegionList {
    /// The list of `regions` (in any order).
    pub fn from_regions(mut regions: Vec<Region>) -> RegionList {
        regions.sort_unstable_by_key(order_key);
        RegionList::from_sorted(regions)
    }

    /// The list of `regions`, which come in the list's order
    /// ([`order_key`]).
    pub(crate) fn from_sorted(regions: impl IntoIterator<Item = Region>) -> RegionList {
        RegionList { list: ByGoroutine::from_sorted(regions) }
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.list.heap_bytes()
    }

    /// Region `i` (in the list's order).
    pub fn get(&self, i: usize) -> Option<Region> {
        self.list.get(i)
    }

    /// Every region, in the list's order.
    pub fn iter(&self) -> Regions<'_> {
        Regions(self.list.iter())
    }

    /// The regions of goroutine `g`, by start.
    pub fn of(&self, g: GoroutineId) -> Regions<'_> {
        Regions(self.list.of(g))
    }

    /// The regions of goroutine `g` that overlap `[start_ns, end_ns)`, by
    /// start; blocks that end before it are not decoded.
    pub fn overlapping(&self, g: GoroutineId, start_ns: i64, end_ns: i64) -> impl Iterator<Item = Region> + '_ {
        let (blocks, ahead) = self.list.blocks_of(g);
        let first = blocks.start + ahead.partition_point(|b| b.reach_ns <= start_ns);
        self.list
            .blocks_from(first, blocks.end)
            .take_while(move |r| r.start_ns < end_ns)
            .filter(move |r| r.end_ns > start_ns)
    }

    /// Bars to draw for goroutine `g`'s regions in `view`: each region's
    /// time range, merged with the
    /// next while the gap between them is under a pixel (regions nest and
    /// overlap, so a bar is their union). Whole blocks that fall inside a
    /// bar are merged undecoded, so a goroutine with millions of regions
    /// plans in about as many steps as bars are drawn.
    pub fn plan(&self, g: GoroutineId, view: &View) -> Vec<(i64, i64)> {
        let mut bars: Vec<(i64, i64)> = Vec::new();
        let (start_ns, end_ns) = (view.start_ns, view.end_ns);
        if end_ns <= start_ns || view.width_px <= 0.0 {
            return bars;
        }
        let px_ns = view.ns_per_px().max(1.0) as i64;
        let (blocks, list) = self.list.blocks_of(g);
        let mut b = blocks.start + list.partition_point(|b| b.reach_ns <= start_ns);
        while let Some(block) = self.list.block(b).filter(|_| b < blocks.end) {
            if block.start_ns >= end_ns {
                break;
            }
            // All of the block starts and ends within a pixel of the bar
            // (and before the view's end, so a scan would take it all).
            if let Some(last) = bars.last_mut()
                && block.start_ns >= last.0
                && block.end_ns <= last.1.saturating_add(px_ns)
                && block.end_ns < end_ns
            {
                last.1 = last.1.max(block.end_ns);
                b += 1;
                continue;
            }
            for r in self.list.blocks_from(b, b + 1) {
                if r.start_ns >= end_ns {
                    break;
                }
                if r.end_ns <= start_ns {
                    continue;
                }
                match bars.last_mut() {
                    Some(last) if r.start_ns <= last.1.saturating_add(px_ns) => last.1 = last.1.max(r.end_ns),
                    _ => bars.push((r.start_ns, r.end_ns)),
                }
            }
            b += 1;
        }
        bars
    }
}

/// Regions decoded block by block ([`RegionList::iter`], [`RegionList::of`]).
pub struct Regions<'l>(Items<'l, Region>);

impl Iterator for Regions<'_> {
    type Item = Region;

    fn next(&mut self) -> Option<Region> {
        self.0.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(g: i64, start_ns: i64, end_ns: i64, depth: u32) -> Region {
        let (task, typ, stack) = ((g as u64 * 7 + depth as u64) % 5, StrId(depth + 1), StackId((start_ns % 97) as u32));
        Region { g: GoroutineId(g), start_ns, end_ns, task, typ, depth, stack }
    }

    /// Regions on three goroutines: nested pairs, long ones, and enough
    /// to fill many blocks.
    fn sample() -> Vec<Region> {
        let mut out = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n) as i64
        };
        for g in [3, 9, 40] {
            let mut t = 1_000;
            for _ in 0..500 {
                let long = rand(10) == 0;
                let len = 1 + rand(if long { 100_000 } else { 300 });
                out.push(region(g, t, t + len, 0));
                out.push(region(g, t + len / 3, t + len / 2, 1));
                t += rand(400);
            }
        }
        out.push(region(9, i64::MIN + 5, i64::MAX - 5, 2));
        out.push(Region { task: u64::MAX, ..region(40, 7, 8, 0) });
        out
    }

    fn sorted(mut v: Vec<Region>) -> Vec<Region> {
        v.sort_unstable_by_key(|r| (r.g, r.start_ns, r.depth, r.end_ns, r.typ, r.task, r.stack));
        v
    }

    #[test]
    fn every_region_comes_back_in_order_by_index_and_by_goroutine() {
        let want = sorted(sample());
        let list = RegionList::from_regions(sample());
        assert_eq!(list.len(), want.len());
        assert_eq!(list.iter().collect::<Vec<_>>(), want);
        for i in [0, 1, BLOCK - 1, BLOCK, 777, want.len() - 1] {
            assert_eq!(list.get(i).as_ref(), want.get(i), "region {i}");
        }
        assert_eq!(list.get(want.len()), None);
        for g in [3, 9, 40, 5] {
            let of: Vec<Region> = want.iter().filter(|r| r.g.0 == g).copied().collect();
            assert_eq!(list.of(GoroutineId(g)).collect::<Vec<_>>(), of, "g{g}");
        }
        assert!(list.heap_bytes() < want.len() * 16, "{} bytes", list.heap_bytes());
    }

    #[test]
    fn overlapping_finds_what_a_scan_finds() {
        let all = sorted(sample());
        let list = RegionList::from_regions(sample());
        for (a, b) in [(0, 10), (5_000, 6_000), (60_000, 60_001), (90_000, 200_000), (i64::MIN, i64::MAX)] {
            for g in [3, 9, 40] {
                let want: Vec<Region> =
                    all.iter().filter(|r| r.g.0 == g && r.start_ns < b && r.end_ns > a).copied().collect();
                let got: Vec<Region> = list.overlapping(GoroutineId(g), a, b).collect();
                assert_eq!(got, want, "g{g} in [{a}, {b})");
            }
        }
    }

    /// Bars by merging every overlapping region, one at a time.
    fn plan_by_scan(all: &[Region], g: i64, start_ns: i64, end_ns: i64, width_px: f32) -> Vec<(i64, i64)> {
        let px_ns = View { start_ns, end_ns, width_px }.ns_per_px().max(1.0) as i64;
        let mut bars: Vec<(i64, i64)> = Vec::new();
        for r in all.iter().filter(|r| r.g.0 == g && r.start_ns < end_ns && r.end_ns > start_ns) {
            match bars.last_mut() {
                Some(last) if r.start_ns <= last.1.saturating_add(px_ns) => last.1 = last.1.max(r.end_ns),
                _ => bars.push((r.start_ns, r.end_ns)),
            }
        }
        bars
    }

    #[test]
    fn plan_merges_as_a_scan_does_at_every_zoom() {
        let all: Vec<Region> = sorted(sample()).into_iter().filter(|r| r.start_ns > i64::MIN + 5).collect();
        let list = RegionList::from_regions(all.clone());
        for (a, b) in [(0, 200_000), (0, 2_000_000), (30_000, 31_000), (50_000, 90_000)] {
            for width in [50.0, 800.0, 3000.0] {
                for g in [3, 9, 40] {
                    let want = plan_by_scan(&all, g, a, b, width);
                    let view = View { start_ns: a, end_ns: b, width_px: width };
                    assert_eq!(list.plan(GoroutineId(g), &view), want, "g{g} [{a}, {b}) at {width} px");
                }
            }
        }
        // Zoomed out, the bars are few and nothing is lost.
        let bars = list.plan(GoroutineId(3), &View { start_ns: 0, end_ns: 2_000_000, width_px: 50.0 });
        assert!(bars.len() <= 50, "{bars:?}");
        assert!(bars.first().is_some_and(|b| b.0 == 1_000));
    }

    #[test]
    fn a_block_running_past_the_view_is_not_merged_whole() {
        // Block 1: a long region and 63 inside it; block 2: 64 regions of
        // 1 ns from 995 ns, within a pixel (100 ns) of the first bar's end
        // but most of them after the view's end.
        let mut v = vec![region(1, 0, 990, 0)];
        v.extend((0..63).map(|i| region(1, 10 + i, 11 + i, 1)));
        v.extend((0..64).map(|i| region(1, 995 + i, 996 + i, 0)));
        let list = RegionList::from_regions(v.clone());
        let view = View { start_ns: 0, end_ns: 1_000, width_px: 10.0 };
        assert_eq!(list.plan(GoroutineId(1), &view), plan_by_scan(&sorted(v), 1, 0, 1_000, 10.0));
        assert_eq!(list.plan(GoroutineId(1), &view), [(0, 1_000)]);
    }

    #[test]
    fn a_long_region_begun_long_before_the_view_is_planned() {
        let list = RegionList::from_regions(vec![region(1, 0, 1_000_000, 0), region(1, 10, 20, 1)]);
        let view = View { start_ns: 500_000, end_ns: 500_100, width_px: 100.0 };
        assert_eq!(list.plan(GoroutineId(1), &view), [(0, 1_000_000)]);
        assert_eq!(list.overlapping(GoroutineId(1), 500_000, 500_100).count(), 1);
    }

    #[test]
    fn an_empty_list_plans_nothing() {
        let list = RegionList::default();
        assert!(list.is_empty() && list.get(0).is_none() && list.iter().next().is_none());
        assert!(list.plan(GoroutineId(1), &View { start_ns: 0, end_ns: 10, width_px: 10.0 }).is_empty());
    }
}
