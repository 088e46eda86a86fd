#![allow(unsafe_code)]
//! Loads a trace and prints build time, spans and memory (`--threads`:
//! then builds the thread tracks too, as the viewer does on demand;
//! `--scan`: times reading every goroutine's spans, `--pscan` on all threads;
//! `--analyses`: times the
//! full-range analysis queries; `--checksum`: a digest of every span,
//! and one of every block header, to compare two builds; `--rss-trace`:
//! prints phase, bytes merged and
//! anonymous RSS every 50 ms of the build, to find where the peak is;
//! `--cpu-trace`: phase and cores busy every 200 ms, to find idle cores;
//! `--drop`: the live bytes of each part of the timeline, and by size
//! class; `--hist`: goroutines and spans by spans per goroutine; `SEQ=1`
//! in the environment builds on one thread. It also prints the CPU time
//! the build used, less noisy than wall time for comparisons;
//! `ANALYSES=a,b` times only the analyses whose names start so; `KEEP=1`
//! leaves mimalloc's purge delay as it is instead of 0, as the viewer sets it,
//! and installs no reclaim hook; `NO_RECLAIM=1` only the latter).
/// `println!` that ends the program quietly when stdout is closed (as by
/// `| head`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

fn rss_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}
#[global_allocator]
static GLOBAL: Counting = Counting;

/// Whether allocations are counted: only for `--rss-trace` and `--drop`,
/// since two threads updating the same counters on every allocation cost
/// the build about 2% of its time.
static COUNTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Bytes allocated and not yet freed, for `--rss-trace`.
static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// mimalloc, counting the live bytes.
struct Counting;

/// Live bytes by size class (log2 of the size).
static BY_CLASS: [std::sync::atomic::AtomicIsize; 40] = [const { std::sync::atomic::AtomicIsize::new(0) }; 40];

fn class(size: usize) -> &'static std::sync::atomic::AtomicIsize {
    &BY_CLASS[(usize::BITS - size.leading_zeros()).min(39) as usize]
}

fn count(size: usize, sign: isize) {
    if !COUNTING.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    if sign > 0 {
        LIVE.fetch_add(size, std::sync::atomic::Ordering::Relaxed);
    } else {
        LIVE.fetch_sub(size, std::sync::atomic::Ordering::Relaxed);
    }
    class(size).fetch_add(sign * size as isize, std::sync::atomic::Ordering::Relaxed);
}

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        count(l.size(), 1);
        unsafe { mimalloc::MiMalloc.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        count(l.size(), -1);
        unsafe { mimalloc::MiMalloc.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: std::alloc::Layout) -> *mut u8 {
        count(l.size(), 1);
        unsafe { mimalloc::MiMalloc.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, new: usize) -> *mut u8 {
        count(l.size(), -1);
        count(new, 1);
        unsafe { mimalloc::MiMalloc.realloc(p, l, new) }
    }
}

/// Samples anonymous RSS every 5 ms and keeps the peak (the mapped trace's
/// pages are file-backed and not counted).
fn peak_anon_sampler() -> std::sync::Arc<std::sync::atomic::AtomicU64> {
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let p = peak.clone();
    std::thread::spawn(move || {
        loop {
            p.fetch_max(rss_kb("RssAnon:"), std::sync::atomic::Ordering::Relaxed);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    });
    peak
}

/// Runs `f` every `period` on a thread of its own until the returned
/// guard is dropped.
fn every(period: std::time::Duration, mut f: impl FnMut() + Send + 'static) -> impl Drop {
    struct Stop(std::sync::Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    std::thread::spawn(move || {
        while !s.load(std::sync::atomic::Ordering::Relaxed) {
            f();
            std::thread::sleep(period);
        }
    });
    Stop(stop)
}

/// Prints time, phase, bytes merged and anonymous RSS every 50 ms until
/// the returned guard is dropped.
fn rss_trace(progress: std::sync::Arc<timeline::Progress>, t0: std::time::Instant) -> impl Drop {
    every(std::time::Duration::from_millis(50), move || {
        let (done, total) = progress.bytes();
        eprintln!(
            "rss {:7.2}s {:<10} {:5.1}% {:6} MiB, live {:6} MiB",
            t0.elapsed().as_secs_f64(),
            progress.phase().name(),
            done as f64 * 100.0 / total.max(1) as f64,
            rss_kb("RssAnon:") / 1024,
            LIVE.load(std::sync::atomic::Ordering::Relaxed) >> 20
        );
    })
}

/// Prints phase, progress and the cores the process kept busy, every
/// 200 ms of the build (`--cpu-trace`; no allocation counting, which would
/// slow it), to find where the build leaves a core idle.
fn cpu_trace(progress: std::sync::Arc<timeline::Progress>, t0: std::time::Instant) -> impl Drop {
    let mut last = (0.0, 0.0);
    every(std::time::Duration::from_millis(200), move || {
        let (user_s, sys_s) = cpu_secs();
        let now = (t0.elapsed().as_secs_f64(), user_s + sys_s);
        let (done, total) = progress.bytes();
        if last.0 > 0.0 && now.0 > last.0 {
            eprintln!(
                "cpu {:7.2}s {:<15} {:5.1}% {:4.2} cores",
                now.0,
                progress.phase().name(),
                done as f64 * 100.0 / total.max(1) as f64,
                (now.1 - last.1) / (now.0 - last.0)
            );
        }
        last = now;
    })
}

/// As the `gotv` binary does (see its `alloc` module).
fn return_freed_memory_at_once() {
    // SAFETY: sets mimalloc's integer option 15, `mi_option_purge_delay`.
    unsafe { libmimalloc_sys::mi_option_set(15, 0) };
    if std::env::var_os("NO_RECLAIM").is_none() {
        // SAFETY: `mi_collect` only goes over the calling thread's heap.
        timeline::set_reclaim_hook(|| unsafe { libmimalloc_sys::mi_collect(false) });
    }
}

/// User and system CPU seconds the process has used so far.
fn cpu_secs() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which ends at the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    // utime and stime (fields 14 and 15 of the whole line), in 1/100 s.
    (f.get(11).copied().unwrap_or(0.0) / 100.0, f.get(12).copied().unwrap_or(0.0) / 100.0)
}

fn main() {
    if std::env::var_os("KEEP").is_none() {
        return_freed_memory_at_once();
    }
    let counted = ["--rss-trace", "--drop"];
    if std::env::args().any(|a| counted.contains(&a.as_str())) {
        COUNTING.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let peak = peak_anon_sampler();
    let path = std::env::args().nth(1).expect("trace path");
    let f = std::fs::File::open(&path).unwrap();
    let bytes = unsafe { memmap2::Mmap::map(&f) }.unwrap();
    let t0 = std::time::Instant::now();
    let progress = std::sync::Arc::new(timeline::Progress::default());
    let tracing = std::env::args().any(|a| a == "--rss-trace").then(|| rss_trace(progress.clone(), t0));
    let cpu_tracing = std::env::args().any(|a| a == "--cpu-trace").then(|| cpu_trace(progress.clone(), t0));
    let mode = if std::env::var_os("SEQ").is_some() { timeline::Mode::Sequential } else { timeline::Mode::Parallel };
    let tl = timeline::build_with(&bytes, &progress, mode).unwrap();
    let dt = t0.elapsed();
    let (user_s, sys_s) = cpu_secs();
    drop(tracing);
    drop(cpu_tracing);
    out!(
        "{path}: {} gens, {} MB in {:.2}s ({:.0} MB/s; cpu {user_s:.2}s user + {sys_s:.2}s sys); {} events, {} goroutines, {} spans; heap_bytes {} MB; RssAnon {} MB, peak RssAnon {} MB, VmHWM {} MB; err {:?}",
        tl.generations,
        bytes.len() / 1_000_000,
        dt.as_secs_f64(),
        bytes.len() as f64 / 1e6 / dt.as_secs_f64(),
        tl.event_count,
        tl.goroutines.len(),
        tl.span_count(),
        tl.heap_bytes() / 1_000_000,
        rss_kb("RssAnon:") / 1024,
        peak.load(std::sync::atomic::Ordering::Relaxed).max(rss_kb("RssAnon:")) / 1024,
        rss_kb("VmHWM:") / 1024,
        tl.error.as_ref().map(|e| e.to_string())
    );
    let mb = |b: usize| b / 1_000_000;
    let gt: usize = tl.goroutines.iter().map(|g| g.track.heap_bytes()).sum();
    let gspans: usize = tl.goroutines.iter().map(|g| g.track.len()).sum();
    let pt: usize = tl.procs.iter().map(|p| p.track.heap_bytes()).sum();
    let pspans: usize = tl.procs.iter().map(|p| p.track.len()).sum();
    let mt: usize = tl.threads.iter().map(|t| t.track.heap_bytes()).sum();
    let mspans: usize = tl.threads.iter().map(|t| t.track.len()).sum();
    let c = &tl.counters;
    let cs: usize = [&c.running, &c.runnable, &c.blocked, &c.syscall, &c.heap_alloc].iter().map(|c| c.len()).sum();
    out!(
        "goroutine tracks {} MB ({} spans) + structs {} MB + {} origins {} MB; P tracks {} MB ({} spans); M tracks {} MB ({} spans); counter samples {}; stacks {} MB; strings {} MB",
        mb(gt),
        gspans,
        mb(tl.goroutines.len() * std::mem::size_of::<timeline::Goroutine>()),
        tl.origins.len(),
        mb(tl.origins.heap_bytes()),
        mb(pt),
        pspans,
        mb(mt),
        mspans,
        cs,
        mb(tl.stacks.heap_bytes()),
        mb(tl.strings.heap_bytes())
    );
    if std::env::args().any(|a| a == "--hist") {
        // Goroutines (and their spans) by how many spans they have.
        let labels = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9-32", "33-256", ">256"];
        let (mut goroutines, mut spans) = ([0u64; 12], [0u64; 12]);
        for g in tl.goroutines.iter() {
            let n = g.track.len();
            let i = match n {
                0..=8 => n,
                9..=32 => 9,
                33..=256 => 10,
                _ => 11,
            };
            goroutines[i] += 1;
            spans[i] += n as u64;
        }
        for (i, label) in labels.iter().enumerate() {
            eprintln!("spans {label:>7}: {:>9} goroutines, {:>10} spans", goroutines[i], spans[i]);
        }
    }
    if std::env::args().any(|a| a == "--drop") {
        live_by_part(tl);
        return;
    }
    if std::env::args().any(|a| a == "--scan") {
        // What a query reading every goroutine's track costs, twice (the
        // second time with the stores' caches as the first left them).
        for round in 0..2 {
            let t0 = std::time::Instant::now();
            let mut n = 0usize;
            for g in &tl.goroutines {
                g.track.for_each_in(i64::MIN, i64::MAX, |_, s| n += usize::from(s.state));
            }
            let scan = t0.elapsed().as_secs_f64();
            let w = timeline::analysis::longest_runnable_waits(&tl, &timeline::analysis::Filter::all(), 10);
            let waits = t0.elapsed().as_secs_f64() - scan;
            // A digest of the waits, to compare two builds.
            let digest = w.iter().fold(0i64, |d, w| {
                [w.start_ns, w.end_ns, w.g.0, i64::from(w.stack.0)]
                    .iter()
                    .fold(d, |d, &v| d.wrapping_mul(1_000_003).wrapping_add(v))
            });
            out!(
                "scan {round}: every goroutine span {scan:.2}s ({n}); 10 longest runnable waits {waits:.2}s ({}, digest {digest:x})",
                w.len()
            );
        }
    }
    if std::env::args().any(|a| a == "--pscan") {
        use rayon::prelude::*;
        for round in 0..2 {
            let t0 = std::time::Instant::now();
            let n: usize = tl
                .goroutines
                .par_iter()
                .map(|g| {
                    let mut n = 0usize;
                    g.track.for_each_in(i64::MIN, i64::MAX, |_, s| n += usize::from(s.state));
                    n
                })
                .sum();
            out!("pscan {round}: every goroutine span on all threads {:.2}s ({n})", t0.elapsed().as_secs_f64());
        }
    }
    if std::env::args().any(|a| a == "--analyses") {
        analyses(&tl);
    }
    if std::env::args().any(|a| a == "--decimate") {
        let c = &tl.counters;
        for (name, k) in [
            ("running", &c.running),
            ("runnable", &c.runnable),
            ("syscall", &c.syscall),
            ("heap", &c.heap_alloc),
            ("goal", &c.heap_goal),
        ] {
            let t0 = std::time::Instant::now();
            let mut n = 0;
            for _ in 0..10 {
                n = k.decimate(tl.start_ns, tl.end_ns, 1600).len();
            }
            out!(
                "{name}: {} samples, {n} columns, {:.2} ms per decimation",
                k.len(),
                t0.elapsed().as_secs_f64() * 100.0
            );
        }
    }
    if std::env::args().any(|a| a == "--checksum") {
        // A digest of every span, to compare builds of the same trace.
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for g in &tl.goroutines {
            let o = tl.origin(g);
            (g.id.0, o.parent.0, g.start_fn().0, o.creation_stack.0, g.created_in_trace()).hash(&mut h);
            for s in g.track.spans() {
                (s.start_ns, s.end_ns, s.state, s.stack.0, s.a, s.b).hash(&mut h);
            }
        }
        for p in &tl.procs {
            for s in p.track.spans() {
                (s.start_ns, s.end_ns, s.state, s.stack.0, s.a, s.b).hash(&mut h);
            }
        }
        out!("checksum {:016x}", h.finish());
        // The block headers too (bounds, dominant state, longest span),
        // which zoomed-out rows are drawn from without decoding.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let tracks = tl.goroutines.iter().map(|g| &g.track).chain(tl.procs.iter().map(|p| &p.track));
        for t in tracks {
            for b in t.blocks() {
                (b.start_ns, b.end_ns, b.first_index, b.count, b.dominant, b.max_span_ns()).hash(&mut h);
            }
        }
        out!("headers {:016x}", h.finish());
    }
    if std::env::args().any(|a| a == "--threads") {
        // What the viewer does when the thread rows are first shown.
        let t0 = std::time::Instant::now();
        let threads =
            timeline::build_threads(&bytes, &timeline::Progress::default(), timeline::Mode::Parallel).unwrap();
        let spans: usize = threads.iter().map(|t| t.track.len()).sum();
        let held: usize = threads.iter().map(|t| t.track.heap_bytes()).sum();
        out!(
            "thread tracks: {} threads, {spans} spans, {} MB, built in {:.2}s; RssAnon now {} MB, peak {} MB",
            threads.len(),
            mb(held),
            t0.elapsed().as_secs_f64(),
            rss_kb("RssAnon:") / 1024,
            peak.load(std::sync::atomic::Ordering::Relaxed).max(rss_kb("RssAnon:")) / 1024,
        );
    }
}

/// Times each full-range analysis query once, printing a count from its
/// result so the work cannot be skipped.
/// Drops the timeline a part at a time, printing the live bytes left:
/// what each part really holds, allocator rounding included.
fn live_by_part(mut tl: timeline::Timeline) {
    let live = || LIVE.load(std::sync::atomic::Ordering::Relaxed) >> 20;
    eprintln!("live {} MiB, heap_bytes {} MiB", live(), tl.heap_bytes() >> 20);
    for (i, c) in BY_CLASS.iter().enumerate() {
        let b = c.load(std::sync::atomic::Ordering::Relaxed);
        if b > 1 << 20 {
            eprintln!("  sizes < 2^{i}: {} MiB", b >> 20);
        }
    }
    eprintln!(
        "{} gc, {} stw, {} gc work ({} B packed), {} regions, {} logs, {} samples",
        tl.gc.len(),
        tl.stw.len(),
        tl.gc_work.len(),
        tl.gc_work.heap_bytes(),
        tl.regions.len(),
        tl.logs.len(),
        tl.cpu_samples.len()
    );
    drop(std::mem::take(&mut tl.procs));
    eprintln!("without P tracks: {} MiB", live());
    drop(std::mem::take(&mut tl.counters));
    eprintln!("without counters: {} MiB", live());
    let mut gs = std::mem::take(&mut tl.goroutines);
    let tracks: Vec<_> = gs.iter_mut().map(|g| std::mem::take(&mut g.track)).collect();
    drop(gs);
    eprintln!("without goroutine records: {} MiB", live());
    drop(tracks);
    eprintln!("without goroutine tracks: {} MiB", live());
    drop(tl);
    eprintln!("without the rest: {} MiB", live());
}

fn analyses(tl: &timeline::Timeline) {
    use timeline::analysis::{self as a, Filter, GapOrder, ProfileKind, TimeRange, UtilFlags};
    // `ANALYSES=name,...` in the environment times only those.
    let only = std::env::var("ANALYSES").ok();
    let time = |name: &str, f: &dyn Fn() -> usize| {
        if only.as_ref().is_some_and(|o| !o.split(',').any(|w| name.starts_with(w))) {
            return;
        }
        let t0 = std::time::Instant::now();
        let n = f();
        out!("analysis {name}: {:.2}s ({n})", t0.elapsed().as_secs_f64());
    };
    let all = Filter::all();
    time("all_goroutine_stats", &|| a::all_goroutine_stats(tl, TimeRange::ALL).len());
    time("start_fn_stats", &|| {
        let stats = a::start_fn_stats(tl, TimeRange::ALL);
        // A digest of every number, to compare two builds.
        let digest = stats
            .iter()
            .flat_map(|f| f.stats.states.iter().map(|(_, d)| d).chain(f.stats.categories.iter().map(|(_, d)| d)))
            .fold(0i64, |h, d| {
                let fields = [d.count as i64, d.total_ns, d.min_ns, d.max_ns, d.p50_ns, d.p95_ns, d.p99_ns];
                fields.iter().fold(h, |h, &v| h.wrapping_mul(1_000_003).wrapping_add(v))
            });
        out!("start_fn_stats digest {digest:x}");
        stats.len()
    });
    // The goroutine table stepped 30 ms at a time (the app's thread steps
    // 50 ms; the step count shows the overhead is small), and on one thread
    // as the app did before it moved here.
    time("goroutine_table", &|| {
        let mut t = a::GoroutineTable::default();
        let mut steps = 0;
        while !t.is_done(tl) {
            t.step(tl, std::time::Duration::from_millis(30));
            steps += 1;
        }
        out!(
            "goroutine_table: {} rows ({} on the side), {} groups, {steps} steps",
            t.len(),
            t.side_rows(),
            t.groups.len()
        );
        t.len()
    });
    time("goroutine_table_1thread", &|| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build();
        pool.map_or(0, |p| p.install(|| a::GoroutineTable::compute(tl).len()))
    });
    time("idle_proc_gaps", &|| {
        let gaps = a::idle_proc_gaps(tl, TimeRange::ALL, GapOrder::Waiting, 10, 8);
        // A digest of the result, to compare two builds.
        let ids = |g: &a::IdleGap| g.goroutines.iter().map(|id| id.0).sum::<i64>();
        let digest = gaps.iter().fold(0i64, |d, g| {
            let fields =
                [g.start_ns, g.end_ns, g.waiting_ns, i64::from(g.max_runnable), g.goroutine_count as i64, ids(g)];
            fields.iter().fold(d, |d, &v| d.wrapping_mul(1_000_003).wrapping_add(v))
        });
        out!("idle_proc_gaps digest {digest:x}");
        gaps.len()
    });
    time("blocking_profile x4", &|| ProfileKind::ALL.iter().map(|&k| a::blocking_profile(tl, k, &all).len()).sum());
    time("go_tool_blocking_profile x4", &|| {
        ProfileKind::ALL.iter().map(|&k| a::go_tool_blocking_profile(tl, k, &all).len()).sum()
    });
    time("offcpu_flame", &|| a::offcpu_flame(tl, &all, a::is_off_cpu).nodes.len());
    // As the Tasks panel computes its tables (on the UI thread), then the
    // list and the state totals of the largest region row (on a job thread).
    time("task_and_region_types", &|| a::task_types(tl).len() + a::region_types(tl).len());
    time("largest_region_row", &|| {
        let rows = a::region_types(tl);
        let Some(row) = rows.iter().max_by_key(|r| r.count) else { return 0 };
        let _ = a::region_state_totals(tl, row.typ, row.site);
        a::regions_of_type(tl, row.typ, row.site).len()
    });
    time("mutator_utilization", &|| a::mutator_utilization(tl, UtilFlags::ALL_GC).iter().map(Vec::len).sum());
    time("mutator_utilization per-P", &|| {
        a::mutator_utilization(tl, UtilFlags::ALL_GC | UtilFlags::PER_PROC).iter().map(Vec::len).sum()
    });
    // As the MMU panel computes it: the series, the curve, its points.
    time("mmu_curve", &|| {
        let curve = a::MmuCurve::new(a::mutator_utilization(tl, UtilFlags::ALL_GC));
        a::mmu_curve(&curve, &a::default_windows(tl.end_ns - tl.start_ns)).len()
    });
    // The MMU panel's list of the ten worst 1 ms windows, and one MMU
    // scan of the same window length, on a curve built beforehand.
    let curve = std::sync::OnceLock::new();
    let curve = || curve.get_or_init(|| a::MmuCurve::new(a::mutator_utilization(tl, UtilFlags::ALL_GC)));
    time("mmu_w_prepare", &|| usize::from(curve().mmu(0) > 0.5));
    time("mmu_w_worst_windows", &|| curve().worst_windows(1_000_000, 10).len());
    time("mmu_w_one_window", &|| usize::from(curve().mmu(1_000_000) > 0.5));
    time("state_totals_in", &|| tl.state_totals_in(tl.start_ns, tl.end_ns).len());
    // How soon each stoppable query gives up once its flag is raised
    // 200 ms in (what a viewer waits when the selection moves on).
    let stopped = |name: &str, q: &(dyn Fn(a::Stop<'_>) -> bool + Sync)| {
        time(&format!("stop {name}"), &|| {
            let flag = std::sync::atomic::AtomicBool::new(false);
            std::thread::scope(|s| {
                let worker = s.spawn(|| q(a::Stop::when(&flag)));
                std::thread::sleep(std::time::Duration::from_millis(200));
                let raised = std::time::Instant::now();
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
                let gave_up = !worker.join().unwrap_or(true);
                out!("stop {name}: gave up {gave_up}, {:.0} ms after the flag", raised.elapsed().as_secs_f64() * 1e3);
                usize::from(gave_up)
            })
        });
    };
    stopped("idle_proc_gaps", &|stop| {
        a::idle_proc_gaps_stoppable(tl, TimeRange::ALL, GapOrder::Waiting, 10, 8, stop).is_some()
    });
    stopped("longest_runnable_waits", &|stop| a::longest_runnable_waits_stoppable(tl, &all, 10, stop).is_some());
    stopped("offcpu_flame", &|stop| a::offcpu_flame_stoppable(tl, &all, a::is_off_cpu, stop).is_some());
    stopped("mutator_utilization", &|stop| a::mutator_utilization_stoppable(tl, UtilFlags::ALL_GC, stop).is_some());
    stopped("state_totals_in", &|stop| tl.state_totals_in_stoppable(tl.start_ns, tl.end_ns, stop).is_some());
}
