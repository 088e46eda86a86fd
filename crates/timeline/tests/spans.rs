//! Goroutine and P spans checked against Go's own parse (the committed
//! `go tool trace -d=parsed` oracles), plus the parallel build against the
//! sequential one.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use timeline::{Category, GState, MState, Mode, PState, Progress, Timeline, build_all, build_threads, build_with};

fn traces_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces")
}

/// Every committed trace with its oracle, but those Go refuses (they
/// have no oracle; see `refused_v1_traces_show_the_cgo_callbacks_whole`).
fn committed() -> Vec<(PathBuf, PathBuf)> {
    every_committed().into_iter().filter(|(t, _)| !t.with_extension("parsed.err").exists()).collect()
}

/// Every committed trace, with the path of its oracle.
fn every_committed() -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(traces_root()).unwrap().map(|d| d.unwrap().path()).collect();
    dirs.sort();
    for dir in dirs {
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|d| d.unwrap().path()).collect();
        files.sort();
        for f in files {
            if f.extension().is_some_and(|e| e == "trace") {
                let oracle = f.with_extension("parsed.txt.gz");
                out.push((f, oracle));
            }
        }
    }
    out
}

fn oracle_text(path: &Path) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut s).unwrap();
    s
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(key)? + key.len();
    let rest = &line[start..];
    Some(rest.split(' ').next().unwrap_or(rest))
}

/// Go's goroutine states by category, as our tracks classify them.
fn category(go_state: &str) -> Category {
    match go_state {
        "Runnable" => Category::Runnable,
        "Running" => Category::Running,
        "Syscall" => Category::Syscall,
        "Waiting" => Category::Blocked,
        "NotExist" => Category::Dead,
        other => panic!("unexpected goroutine state {other}"),
    }
}

/// From the oracle: per goroutine, every change of state (time, new
/// category); per P, every change between idle and busy.
#[allow(clippy::type_complexity)]
fn oracle_changes(text: &str) -> (BTreeMap<i64, Vec<(i64, Category)>>, BTreeMap<i64, Vec<(i64, bool)>>) {
    let (mut gs, mut ps) = (BTreeMap::new(), BTreeMap::new());
    for line in text.lines().filter(|l| l.contains(" StateTransition ")) {
        let time: i64 = field(line, "Time=").unwrap().parse().unwrap();
        if let Some(g) = field(line, "GoID=") {
            let tr = line.split(&format!("GoID={g} ")).nth(1).unwrap().split(' ').next().unwrap();
            let (from, to) = tr.split_once("->").unwrap();
            if from != to {
                gs.entry(g.parse::<i64>().unwrap()).or_insert_with(Vec::new).push((time, category(to)));
            }
        } else if let Some(p) = field(line, "ProcID=") {
            let tr = line.split(&format!("ProcID={p} ")).nth(1).unwrap().split(' ').next().unwrap();
            let (from, to) = tr.split_once("->").unwrap();
            if from != to {
                ps.entry(p.parse::<i64>().unwrap()).or_insert_with(Vec::new).push((time, to == "Idle"));
            }
        }
    }
    (gs, ps)
}

fn load(path: &Path, mode: Mode) -> Timeline {
    let bytes = std::fs::read(path).unwrap();
    build_all(&bytes, &Progress::default(), mode).unwrap()
}

#[test]
fn goroutine_spans_match_go_on_every_committed_trace() {
    let mut goroutines = 0;
    for (trace, oracle) in committed() {
        let tl = load(&trace, Mode::Parallel);
        assert!(tl.error.is_none(), "{}: {:?}", trace.display(), tl.error);
        let (expect_g, expect_p) = oracle_changes(&oracle_text(&oracle));
        let ours: BTreeMap<i64, Vec<(i64, Category)>> = tl
            .goroutines
            .iter()
            .map(|g| {
                let spans = g.track.spans();
                (g.id.0, spans.iter().map(|s| (s.start_ns, GState::from_u8(s.state).unwrap().category())).collect())
            })
            .collect();
        assert_eq!(ours.len(), expect_g.len(), "{}: goroutine count", trace.display());
        for (id, want) in &expect_g {
            assert_eq!(ours.get(id), Some(want), "{}: goroutine {id}", trace.display());
            goroutines += 1;
        }
        for (id, want) in &expect_p {
            let p = tl.procs.iter().find(|p| p.id.0 == *id).unwrap_or_else(|| panic!("{}: P{id}", trace.display()));
            let mut got = Vec::new();
            let mut last = None;
            for s in p.track.spans() {
                let idle = s.state == PState::Idle as u8;
                if last != Some(idle) {
                    got.push((s.start_ns, idle));
                    last = Some(idle);
                }
            }
            // Both may start idle; compare from the first busy span. That first span may
            // start earlier than Go's: v1 traces show goroutines on a P
            // before its ProcStart.
            let want: Vec<_> = want.iter().copied().skip_while(|&(_, idle)| idle).collect();
            let got: Vec<_> = got.into_iter().skip_while(|&(_, idle)| idle).collect();
            assert!(got.first().map(|f| f.0) <= want.first().map(|f| f.0), "{}: P{id}", trace.display());
            assert_eq!(got.get(1..), want.get(1..), "{}: P{id}", trace.display());
        }
    }
    assert!(goroutines > 1000, "only {goroutines} goroutines checked");
}

/// The state a blocked or stopped span shows is the reason Go reports for
/// it: from the oracle, every goroutine going from running to waiting or
/// runnable with a reason, and our span starting then.
#[test]
fn blocked_and_stopped_spans_carry_the_reason_go_reports() {
    let sync_family = [GState::Sync, GState::Mutex, GState::RwMutex, GState::WaitGroup];
    let mut checked = BTreeMap::<String, usize>::new();
    for (trace, oracle) in committed() {
        let tl = load(&trace, Mode::Parallel);
        let tracks: BTreeMap<i64, _> = tl.goroutines.iter().map(|g| (g.id.0, g.track.spans())).collect();
        for line in oracle_text(&oracle).lines().filter(|l| l.contains(" StateTransition ")) {
            let (Some(g), Some(reason)) = (field(line, "GoID="), line.split("Reason=\"").nth(1)) else { continue };
            let reason = reason.trim_end_matches('"');
            let tr = line.split(&format!("GoID={g} ")).nth(1).unwrap().split(' ').next().unwrap();
            let want = match tr {
                _ if reason.is_empty() => continue,
                "Running->Waiting" => GState::from_block_reason(reason.as_bytes()),
                "Running->Runnable" => GState::from_stop_reason(reason.as_bytes()),
                _ => continue,
            };
            let time: i64 = field(line, "Time=").unwrap().parse().unwrap();
            let spans = &tracks[&g.parse::<i64>().unwrap()];
            let got = spans
                .iter()
                .filter(|s| s.start_ns == time)
                .filter_map(|s| GState::from_u8(s.state))
                .find(|s| s.category() == want.category())
                .unwrap_or_else(|| panic!("{}: g{g} at {time}: no {want:?} span", trace.display()));
            let same = got == want || (want == GState::Sync && sync_family.contains(&got));
            assert!(same, "{}: g{g} at {time}, reason {reason:?}: {got:?}, want {want:?}", trace.display());
            *checked.entry(reason.to_string()).or_default() += 1;
        }
    }
    // Reasons of both kinds, on many spans.
    for reason in ["chan receive", "chan send", "select", "sleep", "sync", "network", "preempted", "runtime.Gosched"] {
        assert!(checked.get(reason).is_some_and(|&n| n > 0), "no span blocked or stopped for {reason:?}: {checked:?}");
    }
    assert!(checked.values().sum::<usize>() > 1000, "{checked:?}");
}

/// A thread's track follows what Go's own parse says each thread did: from
/// the oracle, every goroutine starting to run, entering a syscall, or
/// stopping (blocked, stopped, exited, or back from a syscall that lost its
/// P) on a thread, and that thread's span starting then, in that state
/// and, running or in a syscall, for that goroutine. (Restatements at a
/// generation's start are left out: a thread's track drops one that says
/// what it already showed.)
#[test]
fn thread_spans_follow_the_goroutines_go_reports_on_each_thread() {
    let mut checked = BTreeMap::<String, usize>::new();
    for (trace, oracle) in committed() {
        let tl = build_all(&std::fs::read(&trace).unwrap(), &Progress::default(), Mode::Parallel).unwrap();
        let tracks: BTreeMap<i64, _> = tl.threads.iter().map(|t| (t.id.0, t.track.spans())).collect();
        for line in oracle_text(&oracle).lines().filter(|l| l.contains(" StateTransition ")) {
            let (Some(m), Some(g)) = (field(line, "M="), field(line, "GoID=")) else { continue };
            let tr = line.split(&format!("GoID={g} ")).nth(1).unwrap().split(' ').next().unwrap();
            let (from, to) = tr.split_once("->").unwrap();
            let want = match (from, to) {
                // Restatements, at a generation's start.
                ("Undetermined", _) => continue,
                (f, t) if f == t => continue,
                (_, "Running") => MState::Running,
                (_, "Syscall") => MState::Syscall,
                ("Running", _) | ("Syscall", _) => MState::Idle,
                _ => continue,
            };
            let m: i64 = m.parse().unwrap();
            if m == -1 {
                continue;
            }
            let (time, g): (i64, i64) = (field(line, "Time=").unwrap().parse().unwrap(), g.parse().unwrap());
            let spans = &tracks[&m];
            let found =
                spans.iter().any(|s| s.start_ns == time && s.state == want as u8 && (want == MState::Idle || s.a == g));
            assert!(found, "{}: m{m} at {time}: no {want:?} span for g{g} ({tr})", trace.display());
            *checked.entry(tr.to_string()).or_default() += 1;
        }
    }
    for tr in ["Runnable->Running", "Running->Waiting", "Running->Syscall", "Syscall->Running", "Running->NotExist"] {
        assert!(checked.get(tr).is_some_and(|&n| n > 0), "no {tr} checked: {checked:?}");
    }
    assert!(checked.values().sum::<usize>() > 1000, "{checked:?}");
}

/// Everything observable of a timeline, as text.
fn digest(tl: &Timeline) -> String {
    let mut s = format!("{} {} {} {}\n", tl.start_ns, tl.end_ns, tl.event_count, tl.generations);
    for g in &tl.goroutines {
        s += &format!(
            "g{} {} {} {:?} {:?} {:?} {:?}\n",
            g.id.0,
            tl.origin(g).parent.0,
            tl.strings.get(g.start_fn()),
            tl.stacks.frames(tl.origin(g).creation_stack),
            g.created_ns(),
            g.exited_ns(),
            g.track.spans()
        );
    }
    for p in &tl.procs {
        s += &format!("p{} {:?}\n", p.id.0, p.track.spans());
    }
    for t in &tl.threads {
        s += &format!("m{} {:?}\n", t.id.0, t.track.spans());
    }
    s += &format!("{:?}\n{:?}\n{:?}\n", tl.gc, tl.stw, tl.gc_work);
    let c = &tl.counters;
    for counter in [&c.heap_alloc, &c.heap_goal, &c.gomaxprocs, &c.running, &c.runnable, &c.blocked, &c.syscall] {
        s += &format!("{counter:?}\n");
    }
    s += &format!("{:?}\n{:?}\n{:?}\n{:?}\n", tl.tasks, tl.regions, tl.logs, tl.cpu_samples);
    s
}

/// The default build leaves thread tracks out (listing the threads);
/// building them on their own, later, gives exactly the full build's.
#[test]
fn thread_tracks_built_later_equal_the_full_build() {
    let mut threads = 0;
    for (trace, _) in every_committed() {
        let bytes = std::fs::read(&trace).unwrap();
        let full = build_all(&bytes, &Progress::default(), Mode::Parallel).unwrap();
        let mut lean = build_with(&bytes, &Progress::default(), Mode::Parallel).unwrap();
        assert!(!lean.threads_built && full.threads_built);
        let ids = |tl: &Timeline| tl.threads.iter().map(|t| t.id).collect::<Vec<_>>();
        assert_eq!(ids(&lean), ids(&full), "{}", trace.display());
        assert!(lean.threads.iter().all(|t| t.track.is_empty()));
        assert_eq!(lean.span_count() + full.threads.iter().map(|t| t.track.len()).sum::<usize>(), full.span_count());
        for mode in [Mode::Parallel, Mode::Sequential] {
            lean.set_threads(build_threads(&bytes, &Progress::default(), mode).unwrap());
            assert_eq!(digest(&lean), digest(&full), "{} {mode:?}", trace.display());
        }
        threads += full.threads.len();
    }
    assert!(threads > 100, "{threads}");
}

#[test]
fn parallel_build_equals_sequential_build() {
    let mut checked = 0;
    for (trace, _) in every_committed() {
        let par = load(&trace, Mode::Parallel);
        let seq = load(&trace, Mode::Sequential);
        assert_eq!(digest(&par), digest(&seq), "{}", trace.display());
        checked += 1;
    }
    assert!(checked >= 90);
}

fn goroutine_by_fn<'t>(tl: &'t Timeline, name: &str) -> &'t timeline::Goroutine {
    let hits: Vec<_> = tl.goroutines.iter().filter(|g| tl.strings.get(g.start_fn()) == name).collect();
    assert_eq!(hits.len(), 1, "goroutines starting in {name}");
    hits[0]
}

fn stack_funcs(tl: &Timeline, id: timeline::StackId) -> Vec<String> {
    tl.stacks.frames(id).iter().map(|f| tl.strings.get(f.func).to_string()).collect()
}

/// The blocked spans of a goroutine in one state, with durations in ms.
fn blocked_ms(g: &timeline::Goroutine, state: GState) -> Vec<(timeline::Span, f64)> {
    g.track.spans().into_iter().filter(|s| s.state == state as u8).map(|s| (s, s.duration_ns() as f64 / 1e6)).collect()
}

/// The trace `file` of each version directory that has one.
fn in_every_version(file: &str) -> Vec<PathBuf> {
    let dirs = std::fs::read_dir(traces_root()).unwrap().map(|d| d.unwrap().path());
    dirs.map(|d| d.join(file)).filter(|p| p.exists()).collect()
}

#[test]
fn blocked_receiver_blocks_60ms_in_chan_receive_in_every_version() {
    let mut versions = 0;
    for path in in_every_version("chan.trace") {
        let tl = load(&path, Mode::Parallel);
        let g = goroutine_by_fn(&tl, "main.blockedReceiver");
        let spans = blocked_ms(g, GState::ChanRecv);
        assert_eq!(spans.len(), 1, "{}", path.display());
        let (span, ms) = spans[0];
        assert!((60.0..61.0).contains(&ms), "{}: {ms} ms", path.display());
        assert!(stack_funcs(&tl, span.stack).contains(&"main.blockedReceiver".to_string()));
        let i = g.track.index_at(span.start_ns).unwrap();
        let (by, wake_stack) = g.unblocked_by(i).expect("someone woke it");
        let waker = tl.goroutine(by).unwrap();
        assert_eq!(tl.strings.get(waker.start_fn()), "main.main", "{}", path.display());
        assert!(stack_funcs(&tl, wake_stack).contains(&"main.delayedSender".to_string()));
        // Started by the main goroutine, at the go statement in main.run.
        let origin = tl.origin(g);
        let parent = tl.goroutine(origin.parent).expect("its parent is in the trace");
        assert_eq!(tl.strings.get(parent.start_fn()), "main.main", "{}", path.display());
        assert_eq!(stack_funcs(&tl, origin.creation_stack).first().map(String::as_str), Some("main.run"));
        versions += 1;
    }
    assert!(versions >= 8, "{versions} versions");
}

#[test]
fn known_blocking_goroutines_show_their_reason_and_length() {
    // (program, start function, state, min ms, max ms), from testdata/README.md.
    let cases = [
        ("chan", "main.blockedSender", GState::ChanSend, 24.0, 30.0),
        ("chan", "main.blockedSelector", GState::Select, 19.0, 25.0),
        ("sync", "main.mutexWaiter", GState::Mutex, 28.0, 35.0),
        ("syscalls", "main.blockingSyscallReader", GState::Syscall, 29.0, 40.0),
        ("syscalls", "main.pipeReader", GState::Network, 14.0, 20.0),
        ("net", "main.echoServer", GState::Network, 19.0, 25.0),
        ("multigen", "main.longSleeper", GState::Sleep, 1150.0, 1300.0),
    ];
    for v in ["go1.22", "go1.23", "go1.24", "go1.25", "go1.26", "go1.27"] {
        for (program, func, state, lo, hi) in cases {
            let path = traces_root().join(v).join(format!("{program}.trace"));
            let tl = load(&path, Mode::Parallel);
            let g = goroutine_by_fn(&tl, func);
            let longest = blocked_ms(g, state).into_iter().map(|(_, ms)| ms).fold(0.0, f64::max);
            assert!((lo..hi).contains(&longest), "{v} {func}: longest {state:?} is {longest} ms");
        }
    }
}

/// The timeline's heap count takes each store once; it must agree with
/// the sum of every track's share of its store (each share rounds down).
#[test]
fn heap_bytes_count_each_store_once_and_agree_with_the_tracks_shares() {
    let mut tl = load(&traces_root().join("go1.27/manyg.trace"), Mode::Parallel);
    let tracks = || (tl.goroutines.iter().map(|g| &g.track)).chain(tl.procs.iter().map(|p| &p.track));
    let stored = tracks().filter(|t| t.store().is_some()).count();
    assert!(stored > 1000, "manyg's tracks are stored: {stored}");
    let shares: usize = tracks().map(|t| t.heap_bytes()).sum();
    let n = tracks().count() + tl.threads.len();
    let with_tracks = tl.heap_bytes();
    let shares = shares + tl.threads.iter().map(|t| t.track.heap_bytes()).sum::<usize>();
    for g in &mut tl.goroutines {
        g.track = timeline::Track::default();
    }
    for p in &mut tl.procs {
        p.track = timeline::Track::default();
    }
    for t in &mut tl.threads {
        t.track = timeline::Track::default();
    }
    // What the empty tracks put in their place count.
    let empty = n * timeline::Track::default().heap_bytes();
    let of_tracks = with_tracks - (tl.heap_bytes() - empty);
    assert!(of_tracks >= shares && of_tracks - shares <= n, "stores once: {of_tracks}, shares: {shares}");
}

/// `cgocallback` (testdata/README.md): three C threads call Go's
/// `main.fromC` five times each, and `main.viaC` calls it three times
/// through C; each call sleeps 0.3 ms holding a mutex, then 1 ms. Go
/// refuses the program's Go 1.19 and 1.21 traces (those runtimes leave out
/// events of the goroutines C threads call Go on); gotv shows them whole,
/// every call's two sleeps, as in the Go 1.22+ traces.
#[test]
fn refused_v1_traces_show_the_cgo_callbacks_whole() {
    let mut versions = 0;
    for path in in_every_version("cgocallback.trace") {
        let tl = load(&path, Mode::Parallel);
        let refused = path.with_extension("parsed.err").exists();
        let kind = tl.error.as_ref().map(|e| e.kind);
        assert_eq!(kind, refused.then_some(trace_core::ErrorKind::Inconsistent), "{}", path.display());
        if let Some(e) = &tl.error {
            assert!(e.message.contains("golang/go#29707") && e.offset > 0, "{}: {e}", path.display());
        }
        // Sleeps in main.fromC, by whether the goroutine is main.viaC's
        // (the C threads' goroutines are numbered and named differently
        // from one runtime to the next).
        let via_c = goroutine_by_fn(&tl, "main.viaC").id;
        let (mut from_c_threads, mut from_via_c) = (0, 0);
        for g in &tl.goroutines {
            for (span, ms) in blocked_ms(g, GState::Sleep) {
                if ms >= 0.25 && stack_funcs(&tl, span.stack).iter().any(|f| f == "main.fromC") {
                    *(if g.id == via_c { &mut from_via_c } else { &mut from_c_threads }) += 1;
                }
            }
        }
        assert_eq!((from_c_threads, from_via_c), (3 * 5 * 2, 3 * 2), "{}", path.display());
        // Every goroutine that ran main.fromC for a C thread is named as Go
        // names it, by the root of its stacks, even where its creation
        // names no function (Go 1.21).
        for g in tl.goroutines.iter().filter(|g| g.id != via_c) {
            let ran_from_c =
                g.track.spans().iter().any(|s| stack_funcs(&tl, s.stack).iter().any(|f| f == "main.fromC"));
            if ran_from_c {
                assert_eq!(tl.strings.get(g.start_fn()), "runtime.cgocallback", "{} g{}", path.display(), g.id.0);
            }
        }
        versions += 1;
    }
    assert!(versions >= 8, "{versions} versions");
}

/// Every region lies within the trace, on every committed trace (those
/// begun before it or never ended: `merge`'s unit tests).
#[test]
fn regions_lie_within_the_trace() {
    let mut seen = 0;
    for (trace, _) in every_committed() {
        let tl = load(&trace, Mode::Parallel);
        for r in tl.regions.iter() {
            let name = trace.display();
            assert!(r.start_ns >= tl.start_ns && r.end_ns <= tl.end_ns, "{name}: {r:?} outside the trace");
            assert!(r.start_ns <= r.end_ns, "{name}: {r:?}");
            seen += 1;
        }
    }
    assert!(seen > 100, "{seen} regions");
}
