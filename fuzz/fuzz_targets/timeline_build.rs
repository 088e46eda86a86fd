//! The full timeline build (parallel generations, per-generation pieces
//! stitched by shard, time repair after the fact, thread tracks, ranges,
//! counters, annotations) on arbitrary bytes: never a panic; then what
//! the viewer reads of it (spans, plans, counter decimation, the gap
//! finder).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tl) = timeline::build_all(data, &timeline::Progress::default(), timeline::Mode::Parallel) {
        // Touch what the viewer reads.
        for g in &tl.goroutines {
            // Tracks are read back from compressed stores: all of them, as
            // many as the headers say.
            assert_eq!(g.track.spans().len(), g.track.len());
            let _ = (g.created_ns(), g.exited_ns(), tl.strings.get(g.start_fn()));
            // Every record names an origin in the table (the shards' tables
            // are appended, their IDs moved).
            assert!((g.origin.0 as usize) < tl.origins.len());
            let _ = tl.stacks.frames(tl.origin(g).creation_stack);
        }
        // A range read (which stops at the range's end) gives what a filter
        // over every span gives.
        let mid = tl.start_ns + (tl.end_ns - tl.start_ns) / 2;
        for g in tl.goroutines.iter().take(64) {
            let mut got = Vec::new();
            g.track.for_each_in(tl.start_ns, mid, |i, s| got.push((i, *s)));
            let all = g.track.spans();
            let want: Vec<_> =
                all.into_iter().enumerate().filter(|(_, s)| s.end_ns > tl.start_ns && s.start_ns < mid).collect();
            assert_eq!(got, want);
        }
        assert_eq!(tl.gc_work.iter().count(), tl.gc_work.len());
        for t in &tl.threads {
            let _ = t.track.spans();
        }
        let view = timeline::View { start_ns: tl.start_ns, end_ns: tl.end_ns, width_px: 100.0 };
        for p in &tl.procs {
            assert_eq!(p.track.spans().len(), p.track.len());
            let _ = timeline::plan_track(&p.track, view, 1.0);
        }
        // The analyses the viewer runs, over the whole trace and its second
        // half (the gap finder counts runnable goroutines only where some P
        // is idle).
        use timeline::analysis::{self as a, Filter, GapOrder, ProfileKind, TimeRange, UtilFlags};
        for range in [TimeRange::ALL, TimeRange::new(mid, tl.end_ns)] {
            for g in a::idle_proc_gaps(&tl, range, GapOrder::Waiting, 10, 4) {
                assert!(g.start_ns < g.end_ns && g.goroutines.len() <= 4 && g.goroutine_count >= g.goroutines.len());
            }
            let filter = Filter::range(range);
            let _ = (a::longest_runnable_waits(&tl, &filter, 5), a::all_goroutine_stats(&tl, range));
            let _ = (a::start_fn_stats(&tl, range), a::offcpu_flame(&tl, &filter, a::is_off_cpu));
            for kind in ProfileKind::ALL {
                let _ = (a::blocking_profile(&tl, kind, &filter), a::go_tool_blocking_profile(&tl, kind, &filter));
            }
        }
        let _ = a::mutator_utilization(&tl, UtilFlags::ALL_GC | UtilFlags::PER_PROC);
        let table = a::GoroutineTable::compute(&tl);
        assert_eq!(table.len(), tl.goroutines.len());
        // Every row comes back from its packed form, whatever its times.
        assert_eq!(table.rows(&tl).count(), table.len());
        for r in table.rows(&tl) {
            let _ = table.groups.get(r.group as usize).map(|g| g.blocked.percentile(99));
            // The lifetime, not kept but summed from the other times unless
            // kept on the side, is the spans' own.
            let spans = tl.goroutines[r.gi as usize].track.spans();
            let start = spans.first().map_or(tl.start_ns, |s| s.start_ns);
            let exit = spans.last().filter(|s| s.state == timeline::GState::Exited as u8).map(|s| s.start_ns);
            assert_eq!(r.lifetime_ns(), exit.unwrap_or(tl.end_ns).max(start) - start, "g{}", r.gi);
        }
        // Percentiles found in passes are those of sorting the durations.
        check_start_fn_stats(&tl);
        // User tasks, regions and logs, as the tasks panel and the rows read them.
        let tasks = a::task_types(&tl);
        assert_eq!(tasks.iter().map(|t| t.count).sum::<usize>(), tl.tasks.len());
        for t in &tasks {
            for i in a::tasks_of_type(&tl, t.typ).into_iter().take(3) {
                let _ = tl.tasks.get(i).map(|task| a::task_events(&tl, task.id));
            }
        }
        let regions = a::region_types(&tl);
        // Every region is in one row, and a row lists its own regions.
        assert_eq!(regions.iter().map(|t| t.count).sum::<usize>(), tl.regions.len());
        for t in regions.into_iter().take(8) {
            assert_eq!(a::regions_of_type(&tl, t.typ, t.site).len(), t.count);
            // Where the row's time goes: never negative, whatever the spans.
            assert!(a::region_state_totals(&tl, t.typ, t.site).iter().all(|&ns| ns >= 0));
        }
        for g in tl.goroutines.iter().take(64) {
            let n = tl.logs_in(g.id, i64::MIN, i64::MAX).count();
            assert_eq!(n, tl.logs_of(g.id).count());
            let _ = tl.log_near(g.id, mid, 1_000);
        }
        let c = &tl.counters;
        for counter in [&c.heap_alloc, &c.running, &c.runnable, &c.blocked, &c.syscall, &c.gomaxprocs] {
            let _ = (counter.decimate(tl.start_ns, tl.end_ns, 100), counter.value_at(tl.end_ns), counter.max());
            assert_eq!(counter.iter().count(), counter.len());
        }
    }
});

/// `start_fn_stats` over the whole trace against sorting every duration.
fn check_start_fn_stats(tl: &timeline::Timeline) {
    use std::collections::BTreeMap;
    use timeline::analysis::{DurationStats, TimeRange, start_fn_stats};
    let mut by_fn: BTreeMap<u32, Vec<Vec<i64>>> = BTreeMap::new();
    for g in &tl.goroutines {
        let v = by_fn.entry(g.start_fn().0).or_insert_with(|| vec![Vec::new(); timeline::GState::COUNT]);
        for s in g.track.spans() {
            if let Some(d) = v.get_mut(s.state as usize) {
                d.push(s.end_ns - s.start_ns);
            }
        }
    }
    for f in start_fn_stats(tl, TimeRange::ALL) {
        let Some(v) = by_fn.get(&f.start_fn.0) else { panic!("no goroutines of {:?}", f.start_fn) };
        for (state, got) in &f.stats.states {
            let want = DurationStats::from_durations(v[*state as usize].clone());
            assert_eq!(Some(*got), want, "{:?} {state:?}", f.start_fn);
        }
    }
}
