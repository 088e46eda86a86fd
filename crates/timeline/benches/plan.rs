//! Draw planning: every goroutine track of 10k goroutines fully zoomed out
//! (the frame-budget case), zoomed in, as built and as stored; one long
//! track with and without group summaries; a goroutine's million user
//! regions; counter decimation.

use criterion::{Criterion, criterion_group, criterion_main};
use timeline::paged::PagedBytes;
use timeline::track::TrackBuilder;
use timeline::{
    Counter, LogEntry, LogList, PlanItem, Region, RegionList, StackId, StrId, Track, View, plan_track_into,
};
use trace_core::GoroutineId;

/// 10k goroutines, 1000 spans each (10M spans over about 0.4 s each),
/// span lengths spread from 100 ns to 10 ms so some are wide at any zoom.
fn tracks() -> Vec<Track> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..10_000)
        .map(|_| {
            let mut b = TrackBuilder::default();
            let mut t = (next() % 1_000_000) as i64;
            for _ in 0..1000 {
                let state = (next() % 6) as u8;
                b.push(t, state, StackId((next() % 500) as u32), -1, -1);
                // 100 ns to 1 ms, and one span in 50 of 10 ms (a sleep).
                let len = if next() % 50 == 0 { 10_000_000 } else { 10i64.pow(2 + (next() % 5) as u32) };
                t += len + (next() % 100) as i64;
            }
            b.finish(t)
        })
        .collect()
}

/// A P-like track: `n` spans of 1 to 10 us in three states.
fn long_track(n: usize) -> Track {
    let mut b = TrackBuilder::default();
    let mut t = 0i64;
    for i in 0..n {
        b.push(t, (i % 3) as u8, StackId::NONE, (i % 500) as i64, -1);
        t += 1_000 + (i as i64 * 7919) % 9_000;
    }
    b.finish(t)
}

/// `n` outer regions of 1-10 us on goroutine 1, each with one inside it.
fn region_list(n: usize) -> RegionList {
    let mut t = 0i64;
    let mut regions = Vec::with_capacity(2 * n);
    for i in 0..n {
        let len = 1_000 + (i as i64 * 7919) % 9_000;
        let r = Region {
            g: GoroutineId(1),
            start_ns: t,
            end_ns: t + len,
            task: 0,
            typ: StrId(1),
            depth: 0,
            stack: StackId(3),
        };
        regions.push(r);
        regions.push(Region { start_ns: t + len / 4, end_ns: t + len / 2, depth: 1, typ: StrId(2), ..r });
        // A 10 ms pause after every thousandth: 500 bars when zoomed out.
        t += len + if i % 1000 == 999 { 10_000_000 } else { (i as i64 * 104_729) % 3_000 };
    }
    RegionList::from_regions(regions)
}

fn plan_all(tracks: &[Track], view: View, out: &mut Vec<PlanItem>) -> usize {
    let mut n = 0;
    for t in tracks {
        plan_track_into(t, view, 1.0, out);
        n += out.len();
    }
    n
}

fn bench(c: &mut Criterion) {
    let tracks = tracks();
    let end = tracks.iter().filter_map(|t| t.end_ns()).max().unwrap_or(1);
    let mut out = Vec::new();
    let mut g = c.benchmark_group("plan_10k_goroutines");
    let full = View { start_ns: 0, end_ns: end, width_px: 1600.0 };
    g.bench_function("zoomed_out", |b| b.iter(|| plan_all(&tracks, full, &mut out)));
    let mid = View { start_ns: end / 2, end_ns: end / 2 + 50_000_000, width_px: 1600.0 };
    g.bench_function("zoomed_50ms", |b| b.iter(|| plan_all(&tracks, mid, &mut out)));
    let close = View { start_ns: end / 2, end_ns: end / 2 + 100_000, width_px: 1600.0 };
    g.bench_function("zoomed_100us", |b| b.iter(|| plan_all(&tracks, close, &mut out)));
    // The visible rows: what a window shows of 10k rows (18 px each), on a
    // 1080p screen (50 rows) and on a 4K screen (120 rows), fully zoomed out.
    g.bench_function("zoomed_out_50_rows", |b| b.iter(|| plan_all(&tracks[..50], full, &mut out)));
    g.bench_function("zoomed_out_120_rows", |b| b.iter(|| plan_all(&tracks[..120], full, &mut out)));
    // The same rows kept as a built timeline keeps them: compressed in a
    // store, read through its page cache.
    let store = PagedBytes::new();
    let stored: Vec<Track> = tracks.iter().take(120).cloned().map(|t| t.into_store(&store)).collect();
    store.seal();
    g.bench_function("zoomed_out_120_rows_stored", |b| b.iter(|| plan_all(&stored, full, &mut out)));
    g.finish();

    // One P's track of a large trace: 4M spans of 1-10 us, fully zoomed
    // out. Stored, it keeps group summaries of 64 blocks each.
    let long = long_track(4_000_000);
    let end = long.end_ns().unwrap_or(1);
    let stored_long = long.clone().into_store(&PagedBytes::new());
    let full = View { start_ns: 0, end_ns: end, width_px: 1600.0 };
    let mut g = c.benchmark_group("plan_4M_span_track");
    g.bench_function("zoomed_out_blocks", |b| b.iter(|| plan_all(std::slice::from_ref(&long), full, &mut out)));
    g.bench_function("zoomed_out_groups", |b| b.iter(|| plan_all(std::slice::from_ref(&stored_long), full, &mut out)));
    g.finish();

    // One goroutine marking a million steps as regions (an outer one
    // with one nested in it, 1-10 us each): its region bar, zoomed out
    // (500 bars from 15 625 blocks) and zoomed in.
    let regions = region_list(500_000);
    let end = regions.iter().map(|r| r.end_ns).max().unwrap_or(1);
    let mut g = c.benchmark_group("plan_1M_regions");
    let full = View { start_ns: 0, end_ns: end, width_px: 1600.0 };
    g.bench_function("zoomed_out", |b| b.iter(|| regions.plan(GoroutineId(1), &full).len()));
    let close = View { start_ns: end / 2, end_ns: end / 2 + 100_000, width_px: 1600.0 };
    g.bench_function("zoomed_100us", |b| b.iter(|| regions.plan(GoroutineId(1), &close).len()));
    g.finish();

    // One goroutine logging a million lines, 1-10 us apart: its markers
    // (7 px apart at most), zoomed out and zoomed in.
    let mut t = 0i64;
    let logs: LogList = (0..1_000_000i64)
        .map(|i| {
            t += 1_000 + (i * 7919) % 9_000;
            LogEntry { time_ns: t, g: GoroutineId(1), task: 0, category: StrId(1), message: StrId(2 + i as u32) }
        })
        .collect();
    let mut g = c.benchmark_group("plan_1M_logs");
    let full = View { start_ns: 0, end_ns: t, width_px: 1600.0 };
    g.bench_function("zoomed_out", |b| b.iter(|| logs.plan(GoroutineId(1), &full, 7.0).len()));
    let close = View { start_ns: t / 2, end_ns: t / 2 + 100_000, width_px: 1600.0 };
    g.bench_function("zoomed_100us", |b| b.iter(|| logs.plan(GoroutineId(1), &close, 7.0).len()));
    g.finish();

    let mut counter = Counter::default();
    let mut t = 0;
    for i in 0..5_000_000i64 {
        t += 1 + i % 7;
        counter.push(t, i % 1000);
    }
    c.bench_function("decimate_5M_samples_1600px", |b| b.iter(|| counter.decimate(0, t, 1600).len()));
}

#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, bench);
}
use group::benches;
criterion_main!(benches);
