//! Plans kept across frames while only panning.
//!
//! `timeline::plan_track` merges runs of sub-pixel spans at boundaries that
//! depend only on the zoom level, so a plan made for a window three times
//! as wide as the view stays valid while the view pans inside it. Zooming
//! changes the scale and starts over.

use std::collections::HashMap;

use timeline::{PlanItem, Track, View, plan_track_into};

use super::Row;

/// Cached entries above this are dropped (rows scrolled away).
const MAX_ENTRIES: usize = 512;

#[derive(Debug, Default)]
struct Entry {
    start_ns: i64,
    end_ns: i64,
    planned: bool,
    items: Vec<PlanItem>,
}

/// Per-row plans at one zoom level.
#[derive(Debug, Default)]
pub struct PlanCache {
    ns_per_px_bits: u64,
    min_px_bits: u32,
    entries: HashMap<Row, Entry>,
}

impl PlanCache {
    /// The plan items of `row` overlapping `view`.
    pub fn plan(&mut self, row: Row, track: &Track, view: View, min_px: f32) -> &[PlanItem] {
        let scale = (view.ns_per_px().to_bits(), min_px.to_bits());
        if scale != (self.ns_per_px_bits, self.min_px_bits) || self.entries.len() > MAX_ENTRIES {
            self.entries.clear();
            (self.ns_per_px_bits, self.min_px_bits) = scale;
        }
        let e = self.entries.entry(row).or_default();
        if !e.planned || view.start_ns < e.start_ns || view.end_ns > e.end_ns {
            // The first plan at a scale covers just the view (while zooming
            // the scale changes every frame); once the view moves at the
            // same scale, plan three views wide and keep it.
            let (span, grow) = if e.planned { (view.end_ns - view.start_ns, 3.0) } else { (0, 1.0) };
            let wide =
                View { start_ns: view.start_ns - span, end_ns: view.end_ns + span, width_px: view.width_px * grow };
            plan_track_into(track, wide, min_px, &mut e.items);
            (e.start_ns, e.end_ns, e.planned) = (wide.start_ns, wide.end_ns, true);
        }
        let a = e.items.partition_point(|it| it.end_ns <= view.start_ns);
        let b = e.items.partition_point(|it| it.start_ns < view.end_ns);
        e.items.get(a..b.max(a)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use timeline::track::TrackBuilder;
    use timeline::{StackId, plan_track};

    use super::*;

    #[test]
    fn cached_plans_equal_fresh_ones_inside_the_view() {
        let mut b = TrackBuilder::default();
        let mut t = 0;
        for i in 0..20_000i64 {
            b.push(t, (i % 5) as u8, StackId::NONE, -1, -1);
            t += if i % 97 == 0 { 40_000 } else { 30 + i % 11 };
        }
        let track = b.finish(t);
        let mut cache = PlanCache::default();
        for k in 0..40 {
            let view = View { start_ns: k * 10_000, end_ns: k * 10_000 + 400_000, width_px: 800.0 };
            let cached = cache.plan(Row::Goroutine(0), &track, view, 1.0).to_vec();
            let fresh = plan_track(&track, view, 1.0);
            // Items wholly inside the view agree exactly.
            let inside = |v: &[PlanItem]| -> Vec<PlanItem> {
                v.iter().copied().filter(|it| it.start_ns >= view.start_ns && it.end_ns <= view.end_ns).collect()
            };
            assert_eq!(inside(&cached), inside(&fresh), "view {k}");
            assert!(!cached.is_empty());
        }
    }
}
