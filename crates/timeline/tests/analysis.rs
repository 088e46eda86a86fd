//! The analysis queries on committed traces: checked against Go's own
//! results (testdata/analysis/oracle.txt, written by
//! testdata/analysis/gen-oracle.sh from Go 1.27.3's internal/trace and
//! cmd/trace), against testdata/README.md, and against brute force.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use timeline::analysis::{
    DurationStats, Filter, FlameKey, FlameNode, FlameTree, FunctionStats, GapOrder, GoroutineStats, GoroutineTable,
    LogHist, MarkWorker, MmuCurve, ProfileEntry, ProfileKind, StateStats, TimeRange, UtilFlags, all_goroutine_stats,
    blocking_profile, cpu_flame, flame_layout, go_tool_blocking_profile, idle_proc_gaps, is_off_cpu,
    longest_runnable_waits, longest_stw, mutator_utilization, offcpu_flame, start_fn_stats,
};
use timeline::{Category, GState, Goroutine, Mode, PState, Progress, StackId, StrId, Timeline, build_with};
use trace_core::GoroutineId;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// Where the oracle's traces are: the committed ones, or those of another
/// oracle (`GOTV_ANALYSIS_TRACES`, with `GOTV_ANALYSIS_ORACLE`; see
/// testdata/analysis/README.md).
fn traces_dir() -> PathBuf {
    std::env::var_os("GOTV_ANALYSIS_TRACES").map_or_else(|| testdata().join("traces"), PathBuf::from)
}

fn load(rel: &str) -> Timeline {
    let bytes = std::fs::read(traces_dir().join(rel)).unwrap();
    build_with(&bytes, &Progress::default(), Mode::Parallel).unwrap()
}

const V2: [&str; 6] = ["go1.22", "go1.23", "go1.24", "go1.25", "go1.26", "go1.27"];

/// Loads each trace once.
#[derive(Default)]
struct Cache(BTreeMap<String, Timeline>);

impl Cache {
    fn get(&mut self, rel: &str) -> &Timeline {
        self.0.entry(rel.to_string()).or_insert_with(|| load(rel))
    }
}

fn oracle() -> String {
    let path =
        std::env::var_os("GOTV_ANALYSIS_ORACLE").map_or_else(|| testdata().join("analysis/oracle.txt"), PathBuf::from);
    std::fs::read_to_string(path).unwrap()
}

fn flags(name: &str) -> UtilFlags {
    name.split('|').fold(UtilFlags::NONE, |f, n| {
        f | match n {
            "stw" => UtilFlags::STW,
            "background" => UtilFlags::BACKGROUND,
            "assist" => UtilFlags::ASSIST,
            "sweep" => UtilFlags::SWEEP,
            "perProc" => UtilFlags::PER_PROC,
            other => panic!("flag {other}"),
        }
    })
}

/// `mmu TRACE FLAGS WINDOW VALUE` lines of the oracle.
fn oracle_mmu() -> Vec<(String, String, i64, f64)> {
    oracle()
        .lines()
        .filter_map(|l| l.strip_prefix("mmu "))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[0].to_string(), f[1].to_string(), f[2].parse().unwrap(), f[3].parse().unwrap())
        })
        .collect()
}

/// Whether a trace of the oracle's is in the v1 format (`go1.21/...` here,
/// `go1.21.13/...` in the oracle of real-world traces).
fn is_v1(trace: &str) -> bool {
    trace.starts_with("go1.19") || trace.starts_with("go1.21")
}

#[test]
fn mmu_matches_go_for_stw_assists_and_sweeps() {
    let mut cache = Cache::default();
    let mut compared = 0;
    for (trace, fl, window, want) in oracle_mmu() {
        // Go's own series is off for two inputs, see the module docs of
        // timeline::analysis::mmu and below; everything else must agree.
        //  - Background workers: Go counts a worker again at each
        //    reschedule, so a P can stay "in GC" for good.
        //  - v1 traces report GOMAXPROCS only inside the first pause, so
        //    Go sees that pause end without a start and never counts a
        //    pause again.
        let v1 = is_v1(&trace);
        if fl.contains("background") || (fl.contains("stw") && v1) {
            continue;
        }
        let tl = cache.get(&trace);
        let got = MmuCurve::new(mutator_utilization(tl, flags(&fl))).mmu(window);
        assert!((got - want).abs() < 1e-6, "{trace} {fl} window {window}: go {want}, ours {got}");
        compared += 1;
    }
    // Another oracle (of real-world traces) holds as many lines as it holds.
    let least = if std::env::var_os("GOTV_ANALYSIS_ORACLE").is_some() { 1 } else { 100 };
    assert!(compared >= least, "{compared} compared");
}

#[test]
fn mmu_counts_no_more_gc_than_go() {
    // With background workers, Go's series only ever overcounts (see
    // above); a single series therefore never has a lower MMU than ours.
    // That needs Go's series to reach the trace's end, as it does on the
    // committed traces: on most real-world ones it sticks at 0 after a
    // worker's second run, and as Go records a value only when it changes,
    // the series (and the windows its MMU looks at) ends there.
    let mut cache = Cache::default();
    let mut compared = 0;
    for (trace, fl, window, want) in oracle_mmu() {
        if !fl.contains("background") || fl.contains("perProc") || is_v1(&trace) {
            continue;
        }
        let got = MmuCurve::new(mutator_utilization(cache.get(&trace), flags(&fl))).mmu(window);
        assert!(got >= want - 1e-6, "{trace} {fl} window {window}: go {want}, ours {got}");
        compared += 1;
    }
    assert!(compared >= 50, "{compared} compared");
}

/// The utilisation of a single series at `t`.
fn util_at(series: &[timeline::analysis::UtilPoint], t: i64) -> f64 {
    let i = series.partition_point(|p| p.time_ns <= t);
    series[i - 1].util
}

#[test]
fn background_workers_take_their_p_while_running_in_gc_mode() {
    for v in V2 {
        let tl = load(&format!("{v}/gc.trace"));
        let util = mutator_utilization(&tl, UtilFlags::BACKGROUND);
        assert_eq!(util.len(), 1);
        let (mut runs, mut idle_runs) = (0, 0);
        for g in tl.goroutines.iter().filter(|g| tl.strings.get(g.start_fn()) == "runtime.gcBgMarkWorker") {
            for s in g.track.spans().iter().filter(|s| s.state == GState::Running as u8 && s.duration_ns() > 2) {
                let mid = s.start_ns + s.duration_ns() / 2;
                let procs = tl.counters.gomaxprocs.value_at(mid).unwrap() as f64;
                match MarkWorker::from_code(s.b) {
                    Some(MarkWorker::Dedicated | MarkWorker::Fractional) => {
                        assert!(util_at(&util[0], mid) <= 1.0 - 1.0 / procs + 1e-9, "{v} g{} at {mid}", g.id.0);
                        runs += 1;
                    }
                    Some(MarkWorker::Idle) => idle_runs += 1,
                    None => {}
                }
            }
        }
        assert!(runs >= 5, "{v}: {runs} runs in GC mode");
        assert!(idle_runs > 0, "{v}: no idle worker runs");
        // Nothing asked for, nothing taken.
        let none = mutator_utilization(&tl, UtilFlags::NONE);
        assert_eq!(none[0].len(), 2, "{v}: {:?}", &none[0]);
    }
}

#[test]
fn worst_windows_are_disjoint_and_start_at_the_mmu() {
    let tl = load("go1.27/gc.trace");
    let c = MmuCurve::new(mutator_utilization(&tl, UtilFlags::ALL_GC));
    for w in [10_000, 100_000, 1_000_000] {
        let worst = c.worst_windows(w, 5);
        assert_eq!(worst.len(), 5);
        assert!((worst[0].util - c.mmu(w)).abs() < 1e-12);
        assert!(worst.windows(2).all(|p| p[0].util <= p[1].util));
        for (i, a) in worst.iter().enumerate() {
            for b in &worst[i + 1..] {
                assert!((a.time_ns - b.time_ns).abs() >= w, "{w}: {a:?} overlaps {b:?}");
            }
        }
    }
    // Longer windows never have a lower minimum than shorter ones here.
    let curve = timeline::analysis::mmu_curve(&c, &timeline::analysis::default_windows(tl.end_ns - tl.start_ns));
    assert!(curve.len() > 10);
    assert!(curve.windows(2).all(|p| p[1].1 >= p[0].1 - 1e-9), "{curve:?}");
}

/// Frames outermost first as `func:line` joined by `;`, as the oracle
/// prints them. Go keys its profile records by PC, with missing PCs as 0,
/// so a stack of one unknown frame (PC 0, printed `:0`) is the same record
/// as no stack at all: both become "".
fn stack_key(tl: &Timeline, s: StackId) -> String {
    let frames = tl.stacks.frames(s);
    let key = frames.iter().rev().map(|f| format!("{}:{}", tl.strings.get(f.func), f.line)).collect::<Vec<_>>();
    let key = key.join(";");
    if key == ":0" { String::new() } else { key }
}

#[test]
fn blocking_profiles_match_go_tool_trace_pprof() {
    let mut want: BTreeMap<(String, String), BTreeMap<String, (u64, i64)>> = BTreeMap::new();
    let mut traces = Vec::new();
    for line in oracle().lines().filter_map(|l| l.strip_prefix("pprof ")) {
        let f: Vec<&str> = line.splitn(5, ' ').collect();
        let key = if f[4] == ":0" { String::new() } else { f[4].to_string() };
        let e = want.entry((f[0].into(), f[1].into())).or_default().entry(key).or_default();
        e.0 += f[2].parse::<u64>().unwrap();
        e.1 += f[3].parse::<i64>().unwrap();
        traces.push(f[0].to_string());
    }
    traces.dedup();
    assert!(traces.len() >= 20);
    let mut compared = 0;
    for trace in traces {
        let tl = load(&trace);
        for kind in ProfileKind::ALL {
            let profile = blocking_profile(&tl, kind, &Filter::all());
            assert!(profile.windows(2).all(|p| (-p[0].total_ns, p[0].stack) < (-p[1].total_ns, p[1].stack)));
            let mut got: BTreeMap<String, (u64, i64)> = BTreeMap::new();
            for e in profile {
                let v = got.entry(stack_key(&tl, e.stack)).or_default();
                v.0 += e.count;
                v.1 += e.total_ns;
            }
            let expect = want.get(&(trace.clone(), kind.name().to_string())).cloned().unwrap_or_default();
            assert_eq!(got, expect, "{trace} -pprof={}", kind.name());
            compared += expect.len();
        }
    }
    assert!(compared > 500, "{compared} stacks compared");
}

fn goroutine_by_fn<'t>(tl: &'t Timeline, name: &str) -> &'t Goroutine {
    let hits: Vec<_> = tl.goroutines.iter().filter(|g| tl.strings.get(g.start_fn()) == name).collect();
    assert_eq!(hits.len(), 1, "goroutines starting in {name}");
    hits[0]
}

#[test]
fn stats_account_for_every_nanosecond() {
    for rel in ["go1.27/chan.trace", "go1.22/sync.trace", "go1.21/net.trace"] {
        let tl = load(rel);
        let per_g = all_goroutine_stats(&tl, TimeRange::ALL);
        assert_eq!(per_g.len(), tl.goroutines.len(), "{rel}");
        for (g, s) in tl.goroutines.iter().zip(&per_g) {
            assert_eq!(g.id, s.g);
            let life = g.track.end_ns().unwrap() - g.track.start_ns().unwrap();
            let by_state: i64 = s.stats.states.iter().map(|(_, d)| d.total_ns).sum();
            let by_cat: i64 = s.stats.categories.iter().map(|(_, d)| d.total_ns).sum();
            assert_eq!((by_state, by_cat), (life, life), "{rel} g{}", g.id.0);
            let spans = s.stats.states.iter().map(|(_, d)| d.count).sum::<u64>();
            assert_eq!(spans as usize, g.track.len());
        }
        // Per function, the goroutine counts add up.
        let per_fn = start_fn_stats(&tl, TimeRange::ALL);
        assert_eq!(per_fn.iter().map(|f| f.goroutines).sum::<usize>(), tl.goroutines.len());
        let names: Vec<&str> = per_fn.iter().map(|f| tl.strings.get(f.start_fn)).collect();
        assert!(names.windows(2).all(|p| p[0] < p[1]), "{rel}: sorted by name");
    }
}

#[test]
fn stats_show_the_blocked_receiver() {
    for v in V2 {
        let tl = load(&format!("{v}/chan.trace"));
        let f = start_fn_stats(&tl, TimeRange::ALL);
        let f = f.iter().find(|f| tl.strings.get(f.start_fn) == "main.blockedReceiver").unwrap();
        assert_eq!(f.goroutines, 1);
        let recv = f.stats.state(GState::ChanRecv).unwrap();
        assert_eq!(recv.count, 1, "{v}");
        assert!((60_000_000..61_000_000).contains(&recv.total_ns), "{v}: {}", recv.total_ns);
        assert_eq!(recv.max_ns, recv.p50_ns);
        // Half of it, seen through a window.
        let g = goroutine_by_fn(&tl, "main.blockedReceiver");
        let span = g.track.spans().into_iter().find(|s| s.state == GState::ChanRecv as u8).unwrap();
        let half = TimeRange::new(span.start_ns, span.start_ns + span.duration_ns() / 2);
        let s = timeline::analysis::goroutine_stats(g, half);
        assert_eq!(s.state(GState::ChanRecv).unwrap().total_ns, span.duration_ns() / 2);
        assert_eq!(s.states.len(), 1);
    }
}

/// Brute force: whether some goroutine is runnable at `t`, some existing P
/// idle, and no pause in progress.
fn is_gap_at(tl: &Timeline, t: i64) -> bool {
    let runnable = tl.goroutines.iter().any(|g| {
        g.track
            .span_at(t)
            .is_some_and(|s| s.start_ns < s.end_ns && Goroutine::state(&s).category() == Category::Runnable)
    });
    let procs = tl.counters.gomaxprocs.value_at(t).unwrap_or(tl.procs.len() as i64);
    let idle = (0..procs).any(|id| {
        let p = tl.procs.iter().find(|p| p.id.0 == id);
        p.and_then(|p| p.track.span_at(t)).is_none_or(|s| s.state == PState::Idle as u8)
    });
    let stw = tl.stw.iter().any(|r| r.start_ns <= t && t < r.end_ns);
    runnable && idle && !stw
}

#[test]
fn idle_p_gaps_agree_with_brute_force() {
    for rel in ["go1.27/chan.trace", "go1.27/gomaxprocs.trace", "go1.22/net.trace", "go1.21/sync.trace"] {
        let tl = load(rel);
        let gaps = idle_proc_gaps(&tl, TimeRange::ALL, GapOrder::Duration, 20, 4);
        assert_eq!(gaps.len(), 20, "{rel}");
        assert!(gaps.windows(2).all(|p| p[0].duration_ns() >= p[1].duration_ns()));
        for g in &gaps {
            assert!(g.duration_ns() > 0);
            for t in [g.start_ns, g.start_ns + g.duration_ns() / 2, g.end_ns - 1] {
                assert!(is_gap_at(&tl, t), "{rel}: {g:?} at {t}");
            }
            // Maximal: no gap just before or at the end.
            assert!(!is_gap_at(&tl, g.start_ns - 1) && !is_gap_at(&tl, g.end_ns), "{rel}: {g:?}");
            assert!(g.waiting_ns >= g.duration_ns());
            assert!(!g.goroutines.is_empty() && g.goroutines.len() <= 4 && g.goroutine_count >= g.goroutines.len());
            assert!(g.goroutines.windows(2).all(|p| p[0] < p[1]));
            for id in &g.goroutines {
                let waits = longest_runnable_waits(
                    &tl,
                    &Filter::range(TimeRange::new(g.start_ns, g.end_ns)).with_goroutines([*id]),
                    1,
                );
                assert_eq!(waits.len(), 1, "{rel}: g{} in {g:?}", id.0);
            }
        }
        let by_waiting = idle_proc_gaps(&tl, TimeRange::ALL, GapOrder::Waiting, 20, 4);
        assert!(by_waiting.windows(2).all(|p| p[0].waiting_ns >= p[1].waiting_ns));
    }
}

#[test]
fn longest_waits_are_runnable_spans_longest_first() {
    let tl = load("go1.27/chan.trace");
    let waits = longest_runnable_waits(&tl, &Filter::all(), 10);
    assert_eq!(waits.len(), 10);
    assert!(waits.windows(2).all(|p| p[0].duration_ns() >= p[1].duration_ns()));
    // Brute force: the longest runnable span of the trace.
    let longest = tl
        .goroutines
        .iter()
        .flat_map(|g| g.track.spans())
        .filter(|s| Goroutine::state(s).category() == Category::Runnable)
        .map(|s| s.duration_ns())
        .max()
        .unwrap();
    assert_eq!(waits[0].duration_ns(), longest);
    // The blocked receiver's 60 ms is blocking, not waiting for a P.
    let receiver = goroutine_by_fn(&tl, "main.blockedReceiver").id;
    assert!(waits.iter().all(|w| w.state.category() == Category::Runnable));
    assert!(waits.iter().all(|w| w.g != receiver || w.duration_ns() < 1_000_000));
    let stw = longest_stw(&tl, TimeRange::ALL, 3);
    assert!(!stw.is_empty() && stw.windows(2).all(|p| p[0].duration_ns() >= p[1].duration_ns()));
}

#[test]
fn longest_waits_equal_a_full_sort_of_every_runnable_span() {
    // The waits are ranked per thread and merged: the result must be the
    // first of all runnable spans in (longer, earlier, lower ID) order.
    let tl = load("go1.27/manyg.trace");
    let mut all: Vec<(i64, i64, i64)> = tl
        .goroutines
        .iter()
        .flat_map(|g| g.track.spans().into_iter().map(move |s| (g.id.0, s)))
        .filter(|(_, s)| Goroutine::state(s).category() == Category::Runnable && s.duration_ns() > 0)
        .map(|(g, s)| (-s.duration_ns(), s.start_ns, g))
        .collect();
    all.sort_unstable();
    assert!(all.len() > 1000, "{} runnable spans", all.len());
    for limit in [1, 7, 100, 1000] {
        let got: Vec<(i64, i64, i64)> = longest_runnable_waits(&tl, &Filter::all(), limit)
            .iter()
            .map(|w| (-w.duration_ns(), w.start_ns, w.g.0))
            .collect();
        assert_eq!(got, all[..limit], "limit {limit}");
    }
}

fn find(tree: &FlameTree, tl: &Timeline, name: &str) -> Vec<u32> {
    (0..tree.nodes.len() as u32).filter(|&i| tree.name(tl, i) == name).collect()
}

#[test]
fn cpu_flame_shows_the_burners() {
    for v in V2 {
        let tl = load(&format!("{v}/cpuprof.trace"));
        let tree = cpu_flame(&tl, &Filter::all());
        assert_eq!(tree.total(), tl.cpu_samples.len() as i64);
        let burn: i64 = ["main.cpuBurnA", "main.cpuBurnB"]
            .iter()
            .flat_map(|f| find(&tree, &tl, f))
            .map(|i| tree.node(i).unwrap().total)
            .sum();
        assert!(burn * 2 > tree.total(), "{v}: {burn} of {}", tree.total());
        // Only goroutine A's samples.
        let a = goroutine_by_fn(&tl, "main.cpuBurnA").id;
        let only_a = cpu_flame(&tl, &Filter::all().with_goroutines([a]));
        assert!(find(&only_a, &tl, "main.cpuBurnB").is_empty());
        assert!(!find(&only_a, &tl, "main.cpuBurnA").is_empty());
        // Every node is as heavy as its children plus itself; children sorted.
        for n in &tree.nodes {
            let kids: i64 = n.children.iter().map(|&c| tree.node(c).unwrap().total).sum();
            assert_eq!(n.total, kids + n.self_value);
            let names: Vec<&str> = n.children.iter().map(|&c| tree.name(&tl, c)).collect();
            assert!(names.windows(2).all(|p| p[0] <= p[1]));
        }
        // Layout: children inside their parent, side by side.
        let rects = flame_layout(&tree, FlameTree::ROOT, 1000.0, 0.5);
        assert!(rects.len() > 5);
        for r in &rects {
            let n = tree.node(r.node).unwrap();
            let inside: Vec<_> = rects.iter().filter(|c| n.children.contains(&c.node)).collect();
            let sum: f32 = inside.iter().map(|c| c.width).sum();
            assert!(sum <= r.width + 0.01);
            assert!(inside.iter().all(|c| c.x >= r.x - 0.01 && c.x + c.width <= r.x + r.width + 0.01));
            assert!(r.width >= 0.5);
        }
    }
}

#[test]
fn off_cpu_flame_shows_the_blocked_receiver() {
    let tl = load("go1.27/chan.trace");
    let tree = offcpu_flame(&tl, &Filter::all(), is_off_cpu);
    let recv = tree.child_named(&tl, FlameTree::ROOT, "chan receive").unwrap();
    let receiver = find(&tree, &tl, "main.blockedReceiver");
    let under_recv: i64 =
        receiver.iter().filter(|&&i| tree.path(i)[1] == recv).map(|&i| tree.node(i).unwrap().total).sum();
    assert!((60_000_000..61_000_000).contains(&under_recv), "{under_recv}");
    // The root's children are the states, by name.
    let states: Vec<&str> = tree.node(FlameTree::ROOT).unwrap().children.iter().map(|&c| tree.name(&tl, c)).collect();
    assert!(states.contains(&"chan send") && states.contains(&"select") && !states.contains(&"runtime idle"));
    assert!(states.windows(2).all(|p| p[0] < p[1]));
}

// The queries below run on all threads. Each is checked against a plain
// one-pass computation, inside pools of several sizes so that the work is
// split (and merged) in different places.

/// Traces with many goroutines, and some with many kinds of waits.
const PARALLEL_TRACES: [&str; 5] =
    ["go1.27/manyg.trace", "go1.22/manyg.trace", "go1.27/chan.trace", "go1.21/net.trace", "go1.27/gc.trace"];

/// `f` on a pool of `threads` threads.
fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}

const POOLS: [usize; 4] = [1, 2, 4, 7];

/// The whole trace and its middle third (which cuts spans).
fn ranges(tl: &Timeline) -> [TimeRange; 2] {
    let third = (tl.end_ns - tl.start_ns) / 3;
    [TimeRange::ALL, TimeRange::new(tl.start_ns + third, tl.end_ns - third)]
}

/// Span durations inside `range` (clipped) by state code, one pass.
fn durations_by_state(g: &Goroutine, range: TimeRange, out: &mut [Vec<i64>]) -> bool {
    let mut any = false;
    for s in g.track.spans() {
        if let Some((start, end)) = range.clip(s.start_ns, s.end_ns) {
            out[s.state as usize].push(end - start);
            any = true;
        }
    }
    any
}

/// Statistics from durations by state code, straight from the definitions.
fn reference_state_stats(by_state: &[Vec<i64>]) -> StateStats {
    let mut out = StateStats::default();
    let mut by_cat: BTreeMap<Category, Vec<i64>> = BTreeMap::new();
    for (s, v) in GState::ALL.iter().zip(by_state) {
        if let Some(d) = DurationStats::from_durations(v.clone()) {
            out.states.push((*s, d));
            by_cat.entry(s.category()).or_default().extend(v);
        }
    }
    out.categories = by_cat.into_iter().filter_map(|(c, v)| Some((c, DurationStats::from_durations(v)?))).collect();
    out
}

#[test]
fn goroutine_stats_on_all_threads_equal_one_pass() {
    let mut compared = 0;
    for rel in PARALLEL_TRACES {
        let tl = load(rel);
        for range in ranges(&tl) {
            let mut want = Vec::new();
            for g in &tl.goroutines {
                let mut by_state = vec![Vec::new(); GState::COUNT];
                if durations_by_state(g, range, &mut by_state) {
                    want.push(GoroutineStats { g: g.id, stats: reference_state_stats(&by_state) });
                }
            }
            compared += want.len();
            for threads in POOLS {
                let got = on_threads(threads, || all_goroutine_stats(&tl, range));
                assert!(got == want, "{rel} {range:?} on {threads} threads");
            }
        }
    }
    assert!(compared > 10_000, "{compared} goroutines compared");
}

#[test]
fn start_fn_stats_on_all_threads_equal_one_pass() {
    for rel in PARALLEL_TRACES {
        let tl = load(rel);
        for range in ranges(&tl) {
            // (name, ID) -> goroutines with a span in the range, durations by state.
            type ByFn<'t> = BTreeMap<(&'t str, StrId), (usize, Vec<Vec<i64>>)>;
            let mut by_fn = ByFn::new();
            for g in &tl.goroutines {
                let key = (tl.strings.get(g.start_fn()), g.start_fn());
                let (n, by_state) = by_fn.entry(key).or_insert_with(|| (0, vec![Vec::new(); GState::COUNT]));
                *n += usize::from(durations_by_state(g, range, by_state));
            }
            let want: Vec<FunctionStats> = by_fn
                .into_iter()
                .filter(|(_, (n, _))| *n > 0)
                .map(|((_, start_fn), (goroutines, by_state))| FunctionStats {
                    start_fn,
                    goroutines,
                    stats: reference_state_stats(&by_state),
                })
                .collect();
            assert!(want.len() > 3, "{rel} {range:?}: {} functions", want.len());
            for threads in POOLS {
                let got = on_threads(threads, || start_fn_stats(&tl, range));
                assert!(got == want, "{rel} {range:?} on {threads} threads");
            }
        }
    }
}

/// The blocking profile by its definition (see `blocking_profile`), one
/// goroutine after the other.
fn reference_profile(tl: &Timeline, kind: ProfileKind, filter: &Filter, from_first_run: bool) -> Vec<ProfileEntry> {
    let mut by_stack: BTreeMap<StackId, (i64, u64)> = BTreeMap::new();
    for g in tl.goroutines.iter().filter(|g| filter.includes(g.id)) {
        let spans = g.track.spans();
        let first_run = spans.iter().find(|s| Goroutine::state(s) == GState::Running).map(|s| s.start_ns);
        for (i, s) in spans.iter().enumerate() {
            let state = Goroutine::state(s);
            let Some((start, end)) = filter.range.clip(s.start_ns, s.end_ns) else { continue };
            let start = if from_first_run { first_run.map_or(start, |t| start.max(t)) } else { start };
            let unknown_reason =
                i == 0 && g.created_ns().is_none() && matches!(kind, ProfileKind::Net | ProfileKind::Sync);
            if i + 1 == spans.len() || end <= start || unknown_reason || !kind.matches(state) {
                continue;
            }
            let stack = if kind == ProfileKind::Sched && state == GState::Created {
                tl.origin(g).creation_stack
            } else {
                s.stack
            };
            let e = by_stack.entry(stack).or_default();
            e.0 += end - start;
            e.1 += 1;
        }
    }
    let mut out: Vec<ProfileEntry> =
        by_stack.into_iter().map(|(stack, (total_ns, count))| ProfileEntry { stack, total_ns, count }).collect();
    out.sort_by_key(|e| (std::cmp::Reverse(e.total_ns), e.stack));
    out
}

#[test]
fn blocking_profiles_on_all_threads_equal_one_pass() {
    let mut stacks = 0;
    for rel in PARALLEL_TRACES {
        let tl = load(rel);
        // Every other goroutine: a selection that is not a prefix.
        let some = tl.goroutines.iter().step_by(2).map(|g| g.id);
        let filters = ranges(&tl).map(Filter::range).into_iter().chain([Filter::all().with_goroutines(some)]);
        for filter in filters {
            for kind in ProfileKind::ALL {
                for from_first_run in [false, true] {
                    let want = reference_profile(&tl, kind, &filter, from_first_run);
                    stacks += want.len();
                    for threads in POOLS {
                        let got = on_threads(threads, || match from_first_run {
                            false => blocking_profile(&tl, kind, &filter),
                            true => go_tool_blocking_profile(&tl, kind, &filter),
                        });
                        assert_eq!(got, want, "{rel} {kind:?} {from_first_run} on {threads} threads");
                    }
                }
            }
        }
    }
    assert!(stacks > 500, "{stacks} stacks compared");
}

/// The off-CPU flame tree by its definition: spans in trace order, a node
/// made the first time a path needs it.
fn reference_offcpu_flame(tl: &Timeline, filter: &Filter, keep: impl Fn(GState) -> bool) -> FlameTree {
    let node = |key, parent, depth| FlameNode { key, parent, depth, total: 0, self_value: 0, children: Vec::new() };
    let mut nodes = vec![node(FlameKey::Root, 0, 0)];
    let mut children: BTreeMap<(u32, FlameKey), u32> = BTreeMap::new();
    let mut child = |nodes: &mut Vec<FlameNode>, parent: u32, key: FlameKey| {
        *children.entry((parent, key)).or_insert_with(|| {
            let depth = nodes[parent as usize].depth + 1;
            nodes.push(node(key, parent, depth));
            nodes.len() as u32 - 1
        })
    };
    for g in tl.goroutines.iter().filter(|g| filter.includes(g.id)) {
        for s in g.track.spans() {
            let state = Goroutine::state(&s);
            let Some((start, end)) = filter.range.clip(s.start_ns, s.end_ns) else { continue };
            if !keep(state) || end <= start {
                continue;
            }
            let mut n = child(&mut nodes, FlameTree::ROOT, FlameKey::State(state));
            for f in tl.stacks.frames(s.stack).iter().rev() {
                n = child(&mut nodes, n, FlameKey::Func(f.func));
            }
            nodes[n as usize].self_value += end - start;
        }
    }
    for n in &mut nodes {
        n.total = n.self_value;
    }
    for i in (1..nodes.len()).rev() {
        let (parent, total) = (nodes[i].parent as usize, nodes[i].total);
        nodes[parent].total += total;
        nodes[parent].children.push(i as u32);
    }
    let mut tree = FlameTree { nodes };
    for i in 0..tree.nodes.len() {
        let mut kids = std::mem::take(&mut tree.nodes[i].children);
        kids.sort_by_key(|&c| (tree.name(tl, c), tree.nodes[c as usize].key));
        tree.nodes[i].children = kids;
    }
    tree
}

#[test]
fn offcpu_flame_on_all_threads_equals_one_pass() {
    for rel in PARALLEL_TRACES {
        let tl = load(rel);
        let some = tl.goroutines.iter().step_by(3).map(|g| g.id);
        let filters = ranges(&tl).map(Filter::range).into_iter().chain([Filter::all().with_goroutines(some)]);
        for filter in filters {
            let keeps: [fn(GState) -> bool; 2] = [is_off_cpu, |s| s.category() != Category::Running];
            for keep in keeps {
                let want = reference_offcpu_flame(&tl, &filter, keep);
                assert!(want.nodes.len() > 5, "{rel}: {} nodes", want.nodes.len());
                for threads in POOLS {
                    let got = on_threads(threads, || offcpu_flame(&tl, &filter, keep));
                    assert_eq!(got, want, "{rel} {filter:?} on {threads} threads");
                }
            }
        }
    }
}

#[test]
fn idle_p_gaps_on_all_threads_equal_one_pass() {
    let (mut compared, mut over_cap) = (0, 0);
    let traces = ["go1.27/manyg.trace", "go1.22/manyg.trace", "go1.27/chan.trace", "go1.27/gomaxprocs.trace"];
    for rel in traces.into_iter().chain(["go1.22/net.trace", "go1.21/sync.trace"]) {
        let tl = load(rel);
        // Runnable spans of positive length, one pass.
        let runnable: Vec<(usize, timeline::Span)> = (tl.goroutines.iter().enumerate())
            .flat_map(|(i, g)| g.track.spans().into_iter().map(move |s| (i, s)))
            .filter(|(_, s)| s.start_ns < s.end_ns && Goroutine::state(s).category() == Category::Runnable)
            .collect();
        for (order, cap) in [(GapOrder::Duration, 3), (GapOrder::Waiting, 50)] {
            let gaps = on_threads(1, || idle_proc_gaps(&tl, TimeRange::ALL, order, 30, cap));
            compared += gaps.len();
            for gap in &gaps {
                // The goroutines waiting in it, in list order, and their time.
                let mut ids: Vec<GoroutineId> = Vec::new();
                let mut waiting_ns = 0;
                for (i, s) in &runnable {
                    let overlap = s.end_ns.min(gap.end_ns) - s.start_ns.max(gap.start_ns);
                    if overlap > 0 {
                        waiting_ns += overlap;
                        let id = tl.goroutines[*i].id;
                        if ids.last() != Some(&id) {
                            ids.push(id);
                        }
                    }
                }
                assert_eq!(gap.goroutine_count, ids.len(), "{rel}: {gap:?}");
                ids.truncate(cap);
                assert_eq!(gap.goroutines, ids, "{rel}: {gap:?}");
                assert_eq!(gap.waiting_ns, waiting_ns, "{rel}: {gap:?}");
                over_cap += usize::from(gap.goroutine_count > cap);
            }
            for threads in POOLS {
                let got = on_threads(threads, || idle_proc_gaps(&tl, TimeRange::ALL, order, 30, cap));
                assert_eq!(got, gaps, "{rel} {order:?} on {threads} threads");
            }
        }
    }
    assert!(compared > 50 && over_cap > 5, "{compared} gaps, {over_cap} with goroutines left unnamed");
}

#[test]
fn mutator_utilization_on_all_threads_is_the_same() {
    // The change list itself is checked against one pass in
    // `timeline::analysis::mmu`'s tests; here the series built from it.
    let mut points = 0;
    for rel in ["go1.27/gc.trace", "go1.22/gc.trace", "go1.27/manyg.trace"] {
        let tl = load(rel);
        for fl in [UtilFlags::ALL_GC, UtilFlags::ALL_GC | UtilFlags::PER_PROC, UtilFlags::ASSIST] {
            let want = on_threads(1, || mutator_utilization(&tl, fl));
            points += want.iter().map(Vec::len).sum::<usize>();
            for threads in POOLS {
                let got = on_threads(threads, || mutator_utilization(&tl, fl));
                assert!(got == want, "{rel} {fl:?} on {threads} threads");
            }
        }
    }
    assert!(points > 300, "{points} points");
}

/// The goroutine table's groups, computed the plain way: every goroutine in
/// order, one histogram per start function in order of first appearance.
fn table_groups_one_pass(tl: &Timeline) -> Vec<(StrId, u64, i64, LogHist, LogHist)> {
    let mut out: Vec<(StrId, u64, i64, LogHist, LogHist)> = Vec::new();
    for g in &tl.goroutines {
        let i = match out.iter().position(|e| e.0 == g.start_fn()) {
            Some(i) => i,
            None => {
                out.push((g.start_fn(), 0, 0, LogHist::default(), LogHist::default()));
                out.len() - 1
            }
        };
        let e = &mut out[i];
        e.1 += 1;
        for s in g.track.spans() {
            let d = s.end_ns - s.start_ns;
            match Goroutine::state(&s).category() {
                Category::Blocked => {
                    e.2 += d;
                    e.3.add(d);
                }
                Category::Runnable => e.4.add(d),
                _ => {}
            }
        }
    }
    out
}

/// The goroutine table: rows agree with the timeline's own totals, the
/// goroutine known to block on a channel for 50 ms shows it, and the groups
/// equal a plain one-pass computation, however the table is stepped and on
/// any number of threads.
#[test]
fn goroutine_table_matches_one_pass_on_any_threads_and_steps() {
    let tl = load("go1.27/chan.trace");
    let table = GoroutineTable::compute(&tl);
    assert!(table.is_done(&tl));
    assert_eq!(table.len(), tl.goroutines.len());
    assert_eq!(table.rows(&tl).count(), tl.goroutines.len());
    for (i, r) in table.rows(&tl).enumerate() {
        assert_eq!(r.gi as usize, i);
        let g = &tl.goroutines[i];
        let t = g.state_totals(i64::MIN, i64::MAX);
        let blocked: i64 = GState::ALL.iter().zip(t).filter(|(s, _)| s.is_blocked()).map(|(_, v)| v).sum();
        assert_eq!((r.blocked_ns, r.running_ns), (blocked, t[GState::Running as usize]));
        assert_eq!(table.groups[r.group as usize].start_fn, g.start_fn());
        let end = g.exited_ns().unwrap_or(tl.end_ns);
        assert_eq!((r.start_ns, r.end_ns), (g.track.start_ns().unwrap(), end));
    }
    let rows: Vec<_> = table
        .rows(&tl)
        .filter(|r| tl.strings.get(tl.goroutines[r.gi as usize].start_fn()) == "main.blockedReceiver")
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].top_block.map(|(s, _)| s), Some(GState::ChanRecv));
    assert!((50_000_000..70_000_000).contains(&rows[0].blocked_ns), "{}", rows[0].blocked_ns);

    // manyg's 7 020 goroutines take two steps.
    for name in ["go1.27/chan.trace", "go1.27/manyg.trace", "go1.22/manyg.trace"] {
        let tl = load(name);
        let want = table_groups_one_pass(&tl);
        let key = |t: &GoroutineTable| {
            let groups: Vec<_> = t
                .groups
                .iter()
                .map(|g| (g.start_fn, g.count, g.blocked_ns, g.blocked.clone(), g.runnable.clone()))
                .collect();
            (groups, t.rows(&tl).collect::<Vec<_>>())
        };
        let one = on_threads(1, || GoroutineTable::compute(&tl));
        assert_eq!(key(&one).0, want, "{name}");
        // Each row names its own goroutine's group (chunks number theirs apart).
        for r in one.rows(&tl) {
            assert_eq!(one.groups[r.group as usize].start_fn, tl.goroutines[r.gi as usize].start_fn(), "{name}");
        }
        for threads in POOLS {
            let mut stepped = GoroutineTable::default();
            let steps = on_threads(threads, || {
                let mut steps = 0;
                while !stepped.is_done(&tl) {
                    stepped.step(&tl, std::time::Duration::ZERO);
                    steps += 1;
                }
                steps
            });
            assert_eq!(steps, tl.goroutines.len().div_ceil(GoroutineTable::BATCH).max(1), "{name}: one batch a step");
            assert!(key(&stepped) == key(&one), "{name} on {threads} threads");
        }
    }
}

/// One task or region row's numbers as the oracle prints them: (count,
/// complete, sum, min, max), -1 for the min of none.
type TypeNumbers = (usize, u64, i64, i64, i64);

/// (trace, "task" or "region", type name, where the regions began as
/// "func file:line", empty for tasks and for regions without a stack).
type TypeKey = (String, String, String, String);

/// Our summary of one task or region row, as the oracle prints it.
fn summary_numbers(t: &timeline::analysis::TypeSummary) -> TypeNumbers {
    match &t.durations {
        Some(d) => (t.count, d.count, d.total_ns, d.min_ns, d.max_ns),
        None => (t.count, 0, 0, -1, 0),
    }
}

/// A region row of the oracle ("regionsite" lines): (trace, type, site as
/// "func file:line" or empty, numbers).
fn oracle_region_rows() -> Vec<(String, String, String, TypeNumbers)> {
    let mut out = Vec::new();
    for line in oracle().lines().filter(|l| l.starts_with("regionsite ")) {
        let f: Vec<&str> = line.splitn(8, ' ').collect();
        let num = |i: usize| f[i].parse::<i64>().unwrap();
        let [func, file, typ]: [&str; 3] = f[7].splitn(3, '\t').collect::<Vec<_>>().try_into().unwrap();
        let site = if func.is_empty() { String::new() } else { format!("{func} {file}:{}", f[6]) };
        // Every region is timed: all are "complete".
        out.push((f[1].to_string(), typ.to_string(), site, (num(2) as usize, num(2) as u64, num(3), num(4), num(5))));
    }
    out
}

/// Our site of a region row, as [`oracle_region_rows`] writes it.
fn site_text(tl: &Timeline, site: Option<timeline::Frame>) -> String {
    site.map_or(String::new(), |f| format!("{} {}:{}", tl.strings.get(f.func), tl.strings.get(f.file), f.line))
}

/// Task types and region rows against `go tool trace`'s tasks and regions
/// pages (the oracle's `task` and `regionsite` lines, from Go's own
/// summariser and the regions page's split of a type by where its regions
/// began).
#[test]
fn task_and_region_types_match_go() {
    use timeline::analysis::{region_types, task_types};
    let mut cache = Cache::default();
    let mut want: BTreeMap<TypeKey, TypeNumbers> = BTreeMap::new();
    for line in oracle().lines().filter(|l| l.starts_with("task ")) {
        let f: Vec<&str> = line.splitn(8, ' ').collect();
        let num = |i: usize| f[i].parse::<i64>().unwrap();
        let v = (num(2) as usize, num(3) as u64, num(4), num(5), num(6));
        want.insert((f[1].to_string(), "task".to_string(), f[7].to_string(), String::new()), v);
    }
    for (trace, typ, site, v) in oracle_region_rows() {
        want.insert((trace, "region".to_string(), typ, site), v);
    }
    // Go's summariser adds two things no program wrote, which gotv does
    // not list: the background task (ID 0) that untasked regions and logs
    // belong to (no type, never begun or ended), and a nameless region for
    // each goroutine created inside a region, spanning its life. No
    // committed program names a task or region "".
    want.retain(|k, _| !k.2.is_empty());
    assert!(want.len() >= 40, "the oracle has task and region lines ({})", want.len());
    let split = want.keys().filter(|k| k.0 == "go1.27/regionsites.trace" && k.2 == "query").count();
    assert_eq!(split, 4, "one region type begun in four places");
    let traces: std::collections::BTreeSet<String> = want.keys().map(|k| k.0.clone()).collect();
    let mut got: BTreeMap<TypeKey, TypeNumbers> = BTreeMap::new();
    for trace in &traces {
        let tl = cache.get(trace);
        for (kind, types) in [("task", task_types(tl)), ("region", region_types(tl))] {
            for t in &types {
                let key = (trace.clone(), kind.to_string(), tl.strings.get(t.typ).to_string(), site_text(tl, t.site));
                got.insert(key, summary_numbers(t));
            }
        }
    }
    assert_eq!(got, want);
    // The rows of a type add up to Go's numbers for the whole type (the
    // oracle's `region` lines).
    let mut by_type: BTreeMap<(String, String), TypeNumbers> = BTreeMap::new();
    for ((trace, _, typ, _), (n, _, sum, min, max)) in got.into_iter().filter(|k| k.0.1 == "region") {
        let t = by_type.entry((trace, typ)).or_insert((0, 0, 0, i64::MAX, 0));
        *t = (t.0 + n, t.1 + n as u64, t.2 + sum, t.3.min(min), t.4.max(max));
    }
    let mut whole: BTreeMap<(String, String), TypeNumbers> = BTreeMap::new();
    for line in oracle().lines().filter(|l| l.starts_with("region ")) {
        let f: Vec<&str> = line.splitn(7, ' ').collect();
        let num = |i: usize| f[i].parse::<i64>().unwrap();
        if !f[6].is_empty() {
            let n = num(2) as usize;
            whole.insert((f[1].to_string(), f[6].to_string()), (n, n as u64, num(3), num(4), num(5)));
        }
    }
    assert_eq!(by_type, whole);
}

/// The long queries give up once their stop flag is raised, and unstopped
/// they return what their plain forms do.
#[test]
fn stoppable_queries_give_up_when_stopped() {
    use std::sync::atomic::AtomicBool;
    use timeline::analysis::{
        Stop, idle_proc_gaps_stoppable, longest_runnable_waits_stoppable, mutator_utilization_stoppable,
        offcpu_flame_stoppable,
    };
    let mut cache = Cache::default();
    let tl = cache.get("go1.27/gc.trace");
    let raised = AtomicBool::new(true);
    for (stop, stopped) in [(Stop::when(&raised), true), (Stop::NEVER, false)] {
        let all = Filter::all();
        let waits = longest_runnable_waits_stoppable(tl, &all, 10, stop);
        let gaps = idle_proc_gaps_stoppable(tl, TimeRange::ALL, GapOrder::Waiting, 10, 3, stop);
        let flame = offcpu_flame_stoppable(tl, &all, is_off_cpu, stop);
        let util = mutator_utilization_stoppable(tl, UtilFlags::ALL_GC, stop);
        let totals = tl.state_totals_in_stoppable(tl.start_ns, tl.end_ns, stop);
        if stopped {
            assert!(waits.is_none() && gaps.is_none() && flame.is_none() && util.is_none() && totals.is_none());
            continue;
        }
        assert_eq!(waits.unwrap(), longest_runnable_waits(tl, &all, 10));
        assert_eq!(gaps.unwrap(), idle_proc_gaps(tl, TimeRange::ALL, GapOrder::Waiting, 10, 3));
        assert_eq!(flame.unwrap(), offcpu_flame(tl, &all, is_off_cpu));
        assert_eq!(util.unwrap(), mutator_utilization(tl, UtilFlags::ALL_GC));
        // The state totals, now summed on all threads, against one pass.
        let mut sum = [0i64; GState::COUNT];
        for g in &tl.goroutines {
            for (acc, v) in sum.iter_mut().zip(g.state_totals(tl.start_ns, tl.end_ns)) {
                *acc += v;
            }
        }
        let mut want: Vec<(GState, i64)> =
            GState::ALL.iter().zip(sum).filter(|&(_, ns)| ns > 0).map(|(&s, ns)| (s, ns)).collect();
        want.sort_by_key(|&(s, ns)| (std::cmp::Reverse(ns), s));
        assert!(want.len() > 3);
        assert_eq!(totals.unwrap(), want);
    }
}

/// The time inside a region row, by state, adds up to the regions' own
/// durations as Go's summariser times them (the goroutines live through
/// their regions), and the handlers' "inner" regions hold their sleeps.
#[test]
fn region_state_totals_add_up_to_the_regions_durations() {
    use timeline::analysis::{region_state_totals, region_types};
    let mut cache = Cache::default();
    let mut checked = 0;
    for (trace, typ, site, (_, _, sum_ns, _, _)) in oracle_region_rows() {
        if typ.is_empty() {
            continue;
        }
        let tl = cache.get(&trace);
        let t = tl.strings.find(&typ).unwrap();
        let row = region_types(tl).into_iter().find(|r| r.typ == t && site_text(tl, r.site) == site).unwrap();
        let totals = region_state_totals(tl, t, row.site);
        assert_eq!(totals.iter().sum::<i64>(), sum_ns, "{trace} {typ} {site}");
        if typ == "inner" {
            assert!(totals[GState::Sleep as usize] > sum_ns / 20, "{trace}: {totals:?}");
        }
        checked += 1;
    }
    assert!(checked >= 24, "{checked}");
}
