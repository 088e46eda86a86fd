//! Level-of-detail plans: what to draw of a track in a time window.

use crate::group::{BlockGroup, GROUP_BLOCKS};
use crate::stacks::StackId;
use crate::track::{Blocks, Track};

/// A visible time window mapped onto a width in pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// Time at the left edge.
    pub start_ns: i64,
    /// Time at the right edge.
    pub end_ns: i64,
    /// Width of the window in pixels.
    pub width_px: f32,
}

impl View {
    /// Nanoseconds per pixel.
    pub fn ns_per_px(&self) -> f64 {
        (self.end_ns - self.start_ns).max(1) as f64 / f64::from(self.width_px.max(1.0))
    }

    /// Pixel offset of a time from the left edge.
    pub fn x_from_time(&self, t_ns: i64) -> f32 {
        ((t_ns - self.start_ns) as f64 / self.ns_per_px()) as f32
    }

    /// Time at a pixel offset from the left edge.
    pub fn time_from_x(&self, x_px: f32) -> i64 {
        self.start_ns + (f64::from(x_px) * self.ns_per_px()).round() as i64
    }
}

/// One thing to draw: a span, or a run of spans too small to see one by one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanItem {
    /// Start time.
    pub start_ns: i64,
    /// End time.
    pub end_ns: i64,
    /// State code of the span, or the dominant state of a merged run.
    pub state: u8,
    /// How many spans this item stands for (1 = a single span).
    pub count: u32,
    /// Index of the (first) span in the track.
    pub first_index: u32,
    /// Stack of the (first) span.
    pub stack: StackId,
}

impl PlanItem {
    /// Whether this stands for several spans.
    pub fn is_merged(&self) -> bool {
        self.count > 1
    }
}

/// Accumulates a run of sub-pixel spans.
struct Run {
    item: PlanItem,
    /// Time per state code in the run.
    state_ns: [i64; 32],
}

impl Run {
    fn new(start_ns: i64, end_ns: i64, state: u8, count: u32, first_index: u32, stack: StackId) -> Run {
        let mut state_ns = [0; 32];
        if let Some(slot) = state_ns.get_mut(state as usize) {
            *slot = end_ns - start_ns;
        }
        Run { item: PlanItem { start_ns, end_ns, state, count, first_index, stack }, state_ns }
    }

    fn add(&mut self, end_ns: i64, state: u8, count: u32, ns: i64) {
        self.item.end_ns = end_ns;
        self.item.count += count;
        if let Some(slot) = self.state_ns.get_mut(state as usize) {
            *slot += ns;
        }
    }

    /// A run starting with a whole group.
    fn group(g: &BlockGroup, states: &[(u8, i64)]) -> Run {
        let mut r = Run::new(g.start_ns, g.end_ns, g.first_dominant, g.count, g.first_index, StackId::NONE);
        r.state_ns = [0; 32];
        r.add_states(states);
        r
    }

    /// Adds a whole group, as adding its blocks one by one would.
    fn add_group(&mut self, g: &BlockGroup, states: &[(u8, i64)]) {
        self.item.end_ns = g.end_ns;
        self.item.count += g.count;
        self.add_states(states);
    }

    fn add_states(&mut self, states: &[(u8, i64)]) {
        for &(state, ns) in states {
            if let Some(slot) = self.state_ns.get_mut(state as usize) {
                *slot += ns;
            }
        }
    }

    fn finish(mut self) -> PlanItem {
        let mut best = self.item.state;
        for (s, &ns) in self.state_ns.iter().enumerate() {
            if ns > self.state_ns.get(best as usize).copied().unwrap_or(0) {
                best = s as u8;
            }
        }
        self.item.state = best;
        self.item
    }
}

/// Plans one track: every span overlapping the view, except that each run
/// of consecutive spans narrower than `min_px` becomes one merged item.
///
/// Runs are merged maximally and their boundaries depend only on the zoom
/// level, not on where the view starts, so panning never flickers. A block
/// whose longest span is narrower than `min_px` is merged from its header
/// without being decoded, so a zoomed-out plan decodes only blocks holding
/// a span wide enough to draw on its own.
pub fn plan_track(track: &Track, view: View, min_px: f32) -> Vec<PlanItem> {
    let mut out = Vec::new();
    plan_track_into(track, view, min_px, &mut out);
    out
}

/// [`plan_track`] into a reused vector (cleared first).
pub fn plan_track_into(track: &Track, view: View, min_px: f32, out: &mut Vec<PlanItem>) {
    out.clear();
    track.with_blocks(|blocks| plan_blocks(blocks, view, min_px, out));
}

fn plan_blocks(blocks: &Blocks<'_, '_>, view: View, min_px: f32, out: &mut Vec<PlanItem>) {
    let min_ns = (view.ns_per_px() * f64::from(min_px.max(0.0))) as i64;
    let first = blocks.partition(|b| b.end_ns <= view.start_ns);
    let mut run: Option<Run> = None;
    let flush = |run: &mut Option<Run>, out: &mut Vec<PlanItem>| {
        if let Some(r) = run.take() {
            out.push(r.finish());
        }
    };
    let (count, groups) = (blocks.count(), blocks.groups());
    let mut bi = first;
    while bi < count {
        if bi.is_multiple_of(GROUP_BLOCKS)
            && let Some(g) = groups.get(bi / GROUP_BLOCKS)
            && let Some(states) = g.states()
            && g.max_span_ns < min_ns
            && g.all_multi
            && g.start_ns >= view.start_ns
            && g.end_ns <= view.end_ns
        {
            // A whole group of blocks merged from headers: take its sums.
            match run.as_mut() {
                Some(r) => r.add_group(g, states),
                None => run = Some(Run::group(g, states)),
            }
            bi += GROUP_BLOCKS;
            continue;
        }
        let this = bi;
        bi += 1;
        let Some(h) = blocks.get(this) else { break };
        if h.start_ns >= view.end_ns {
            break;
        }
        let first_index = h.first_index;
        if h.max_span_ns() < min_ns && h.count > 1 && h.start_ns >= view.start_ns && h.end_ns <= view.end_ns {
            // Every span in the block is sub-pixel: merge it whole.
            let ns = h.end_ns - h.start_ns;
            match run.as_mut() {
                Some(r) => r.add(h.end_ns, h.dominant, u32::from(h.count), ns),
                None => {
                    run =
                        Some(Run::new(h.start_ns, h.end_ns, h.dominant, u32::from(h.count), first_index, StackId::NONE))
                }
            }
            continue;
        }
        let mut k = 0u32;
        blocks.for_each_in_block_until(this, view.end_ns, |s| {
            let index = first_index + k;
            k += 1;
            if s.end_ns <= view.start_ns || s.start_ns >= view.end_ns {
                return;
            }
            let ns = s.end_ns - s.start_ns;
            if ns < min_ns {
                match run.as_mut() {
                    Some(r) => r.add(s.end_ns, s.state, 1, ns),
                    None => run = Some(Run::new(s.start_ns, s.end_ns, s.state, 1, index, s.stack)),
                }
            } else {
                flush(&mut run, out);
                out.push(PlanItem {
                    start_ns: s.start_ns,
                    end_ns: s.end_ns,
                    state: s.state,
                    count: 1,
                    first_index: index,
                    stack: s.stack,
                });
            }
        });
    }
    flush(&mut run, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stacks::StackId;
    use crate::track::TrackBuilder;

    fn track(spans: &[(i64, u8)], end: i64) -> Track {
        let mut b = TrackBuilder::default();
        for &(t, s) in spans {
            b.push(t, s, StackId::NONE, 0, 0);
        }
        b.finish(end)
    }

    #[test]
    fn wide_spans_stay_separate() {
        let t = track(&[(0, 1), (500, 2)], 1000);
        let plan = plan_track(&t, View { start_ns: 0, end_ns: 1000, width_px: 100.0 }, 1.0);
        assert_eq!(plan.len(), 2);
        assert_eq!((plan[0].start_ns, plan[0].end_ns, plan[0].state, plan[0].count), (0, 500, 1, 1));
        assert_eq!((plan[1].start_ns, plan[1].end_ns, plan[1].state), (500, 1000, 2));
    }

    #[test]
    fn sub_pixel_runs_merge_with_dominant_state() {
        // 10 ns per pixel: spans of 3 ns merge; the 50 ns span does not.
        let mut spans: Vec<(i64, u8)> = (0..10).map(|i| (i * 3, if i % 3 == 0 { 2 } else { 1 })).collect();
        spans.push((30, 4));
        let t = track(&spans, 80);
        let plan = plan_track(&t, View { start_ns: 0, end_ns: 100, width_px: 10.0 }, 1.0);
        assert_eq!(plan.len(), 2, "{plan:?}");
        assert_eq!((plan[0].start_ns, plan[0].end_ns, plan[0].count, plan[0].state), (0, 30, 10, 1));
        assert_eq!((plan[1].start_ns, plan[1].state, plan[1].count, plan[1].first_index), (30, 4, 1, 10));
    }

    #[test]
    fn panning_does_not_move_merge_boundaries() {
        // Mostly sub-pixel spans with a wide one every 37th.
        let mut t0 = 0;
        let spans: Vec<(i64, u8)> = (0..5000)
            .map(|i| {
                let start = t0;
                t0 += if i % 37 == 0 { 5000 } else { 50 + (i % 13) * 7 };
                (start, (i % 4) as u8)
            })
            .collect();
        let t = track(&spans, t0);
        let a = plan_track(&t, View { start_ns: 0, end_ns: 200_000, width_px: 500.0 }, 1.0);
        let b = plan_track(&t, View { start_ns: 20_000, end_ns: 220_000, width_px: 500.0 }, 1.0);
        // Items fully inside both windows are identical.
        let inside = |p: &PlanItem| p.start_ns >= 40_000 && p.end_ns <= 180_000;
        let a: Vec<_> = a.into_iter().filter(inside).collect();
        let b: Vec<_> = b.into_iter().filter(inside).collect();
        assert!(!a.is_empty());
        assert_eq!(a, b);
    }

    #[test]
    fn whole_trace_zoomed_out_is_small() {
        let spans: Vec<(i64, u8)> = (0..100_000).map(|i| (i * 10, (i % 3) as u8)).collect();
        let t = track(&spans, 1_000_000);
        let plan = plan_track(&t, View { start_ns: 0, end_ns: 1_000_000, width_px: 1000.0 }, 1.0);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].count, 100_000);
        let total: u32 = plan.iter().map(|p| p.count).sum();
        assert_eq!(total, 100_000);
    }

    #[test]
    fn x_and_time_are_inverse() {
        let v = View { start_ns: 1000, end_ns: 3000, width_px: 200.0 };
        assert_eq!(v.x_from_time(2000), 100.0);
        assert_eq!(v.time_from_x(100.0), 2000);
    }

    /// A long track: runs of short spans in a few states, now and then a
    /// long one; `states` distinct states in all.
    fn long_track(n: usize, states: u64, seed: u64) -> Track {
        let mut b = TrackBuilder::default();
        let (mut x, mut t) = (seed, 0i64);
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let long = x % 997 == 0;
            b.push(t, (x >> 8) as u8 % states as u8, StackId::NONE, 0, 0);
            t += if long { 5_000_000 } else { (x >> 20) as i64 % 3_000 + 1 };
        }
        b.finish(t)
    }

    #[test]
    fn group_summaries_plan_exactly_as_blocks_do() {
        for (states, seed) in [(3, 7), (4, 11), (9, 13)] {
            let owned = long_track(300_000, states, seed);
            let stored = owned.clone().into_store(&crate::paged::PagedBytes::new());
            assert!(stored.with_blocks(|b| b.groups().len()) > 10, "a long stored track has groups");
            assert_eq!(owned.with_blocks(|b| b.groups().len()), 0);
            let end = owned.end_ns().unwrap_or(0);
            // Fully zoomed out, groups are taken whole (unless they hold
            // too many states), so the equality below covers them.
            let min_ns = end / 300;
            let whole = stored.with_blocks(|b| {
                b.groups().iter().filter(|g| g.states().is_some() && g.max_span_ns < min_ns && g.all_multi).count()
            });
            assert_eq!(whole > 0, states <= 4, "{states} states: {whole} groups can be taken whole");
            for width in [1.0f32, 300.0, 1600.0] {
                for (from, to) in [(0, end), (-5_000, end + 9), (end / 3, end / 3 + end / 50), (12_345, 99_999)] {
                    let view = View { start_ns: from, end_ns: to, width_px: width };
                    assert_eq!(plan_track(&stored, view, 1.0), plan_track(&owned, view, 1.0), "{view:?}");
                }
            }
        }
    }
}
