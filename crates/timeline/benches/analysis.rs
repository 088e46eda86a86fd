//! The analysis queries on built timelines of committed traces, and of a big
//! trace when `GOTV_BENCH_TRACE` names one (see scripts/gen-big-trace.sh).

use std::path::Path;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use timeline::analysis::{
    Filter, FlameTree, GapOrder, GoroutineTable, MmuCurve, ProfileKind, TimeRange, UtilFlags, all_goroutine_stats,
    blocking_profile, cpu_flame, default_windows, flame_layout, idle_proc_gaps, is_off_cpu, longest_runnable_waits,
    mmu_curve, mutator_utilization, offcpu_flame, start_fn_stats,
};
use timeline::{Progress, Timeline, build};

fn load(path: &Path) -> Timeline {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    build(&bytes, &Progress::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn inputs() -> Vec<(String, Timeline)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces");
    let mut v: Vec<(String, Timeline)> = [
        ("net", "go1.27/net.trace"),
        ("manyg", "go1.27/manyg.trace"),
        ("gc", "go1.27/gc.trace"),
        ("cpuprof", "go1.27/cpuprof.trace"),
    ]
    .iter()
    .map(|(name, rel)| (format!("go1.27-{name}"), load(&root.join(rel))))
    .collect();
    if let Some(p) = std::env::var_os("GOTV_BENCH_TRACE") {
        v.push(("big".to_string(), load(Path::new(&p))));
    }
    v
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("analysis");
    for (name, tl) in inputs() {
        if tl.span_count() > 5_000_000 {
            g.sample_size(10);
        }
        let all = Filter::all();
        g.bench_with_input(BenchmarkId::new("start_fn_stats", &name), &tl, |b, tl| {
            b.iter(|| start_fn_stats(tl, TimeRange::ALL).len())
        });
        g.bench_with_input(BenchmarkId::new("goroutine_stats", &name), &tl, |b, tl| {
            b.iter(|| all_goroutine_stats(tl, TimeRange::ALL).len())
        });
        g.bench_with_input(BenchmarkId::new("goroutine_table", &name), &tl, |b, tl| {
            b.iter(|| GoroutineTable::compute(tl).len())
        });
        g.bench_with_input(BenchmarkId::new("runnable_waits", &name), &tl, |b, tl| {
            b.iter(|| longest_runnable_waits(tl, &all, 10).len())
        });
        g.bench_with_input(BenchmarkId::new("idle_p_gaps", &name), &tl, |b, tl| {
            b.iter(|| idle_proc_gaps(tl, TimeRange::ALL, GapOrder::Waiting, 10, 8).len())
        });
        g.bench_with_input(BenchmarkId::new("cpu_flame", &name), &tl, |b, tl| {
            b.iter(|| cpu_flame(tl, &all).nodes.len())
        });
        g.bench_with_input(BenchmarkId::new("offcpu_flame", &name), &tl, |b, tl| {
            b.iter(|| offcpu_flame(tl, &all, is_off_cpu).nodes.len())
        });
        let tree = offcpu_flame(&tl, &all, is_off_cpu);
        g.bench_with_input(BenchmarkId::new("flame_layout", &name), &tree, |b, tree| {
            b.iter(|| flame_layout(tree, FlameTree::ROOT, 1920.0, 1.0).len())
        });
        g.bench_with_input(BenchmarkId::new("mmu_curve", &name), &tl, |b, tl| {
            b.iter(|| {
                let curve = MmuCurve::new(mutator_utilization(tl, UtilFlags::ALL_GC));
                mmu_curve(&curve, &default_windows(tl.end_ns - tl.start_ns)).len()
            })
        });
        g.bench_with_input(BenchmarkId::new("profiles", &name), &tl, |b, tl| {
            b.iter(|| ProfileKind::ALL.iter().map(|&k| blocking_profile(tl, k, &all).len()).sum::<usize>())
        });
    }
    g.finish();
}

#[allow(missing_docs)]
mod harness {
    use super::*;
    criterion_group!(benches, bench);
}
use harness::benches;
criterion_main!(benches);
