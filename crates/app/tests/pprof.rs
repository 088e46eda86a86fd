//! `gotv pprof` and `gotv::pprof::write_profile`: the profile decodes to
//! what the timeline computed, and `go tool pprof` reads it as it reads
//! `go tool trace -pprof=KIND`'s own.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use timeline::analysis::{Filter, ProfileKind, TimeRange, blocking_profile, go_tool_blocking_profile};
use timeline::{Progress, Timeline};

mod support;
use support::{go_or_skip, run_go};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(rel)
}

fn load(rel: &str) -> Timeline {
    let file = gotv::trace_file::TraceFile::open(testdata(rel)).expect("open trace");
    timeline::build(file.bytes(), &Progress::default()).expect("build timeline")
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz).read_to_end(&mut out).expect("gzip");
    out
}

/// A scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pprof-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Runs `gotv pprof ARGS`, returns the decoded profile.
fn gotv_pprof(args: &[&OsStr], out: &Path) -> Profile {
    let o = Command::new(env!("CARGO_BIN_EXE_gotv"))
        .arg("pprof")
        .args(args)
        .arg("-o")
        .arg(out)
        .output()
        .expect("gotv runs");
    assert!(o.status.success(), "gotv pprof {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    Profile::decode(&gunzip(&std::fs::read(out).expect("profile written")))
}

// ---------------------------------------------------------------------------
// A minimal protobuf reader for profile.proto.

/// One field: a varint or a length-delimited payload.
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn varint(&mut self) -> u64 {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.0.split_first().expect("truncated varint");
            self.0 = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return v;
            }
        }
        panic!("varint too long");
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (u64, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let key = self.varint();
        let value = match key & 7 {
            0 => Value::Varint(self.varint()),
            2 => {
                let n = self.varint() as usize;
                let (b, rest) = self.0.split_at(n);
                self.0 = rest;
                Value::Bytes(b)
            }
            w => panic!("unexpected wire type {w}"),
        };
        Some((key >> 3, value))
    }
}

/// A repeated varint field, packed or not.
fn push_varints(out: &mut Vec<u64>, v: Value<'_>) {
    match v {
        Value::Varint(x) => out.push(x),
        Value::Bytes(b) => {
            let mut f = Fields(b);
            while !f.0.is_empty() {
                out.push(f.varint());
            }
        }
    }
}

fn varint(v: Value<'_>) -> u64 {
    match v {
        Value::Varint(x) => x,
        Value::Bytes(_) => panic!("expected a varint"),
    }
}

fn bytes(v: Value<'_>) -> &[u8] {
    match v {
        Value::Bytes(b) => b,
        Value::Varint(_) => panic!("expected bytes"),
    }
}

#[derive(Debug, Default)]
struct Location {
    address: u64,
    mapping: u64,
    /// (function ID, line)
    lines: Vec<(u64, i64)>,
}

#[derive(Debug, Default)]
struct Function {
    name: i64,
    system_name: i64,
    filename: i64,
}

#[derive(Debug, Default)]
struct Profile {
    sample_types: Vec<(i64, i64)>,
    /// (location IDs, values)
    samples: Vec<(Vec<u64>, Vec<i64>)>,
    locations: HashMap<u64, Location>,
    location_order: Vec<u64>,
    functions: HashMap<u64, Function>,
    mappings: usize,
    strings: Vec<String>,
    period_type: (i64, i64),
    period: i64,
    comments: Vec<i64>,
}

fn value_type(b: &[u8]) -> (i64, i64) {
    let mut vt = (0, 0);
    for (f, v) in Fields(b) {
        match f {
            1 => vt.0 = varint(v) as i64,
            2 => vt.1 = varint(v) as i64,
            _ => {}
        }
    }
    vt
}

impl Profile {
    fn decode(b: &[u8]) -> Profile {
        let mut p = Profile::default();
        for (field, v) in Fields(b) {
            match field {
                1 => p.sample_types.push(value_type(bytes(v))),
                2 => {
                    let (mut locs, mut vals) = (Vec::new(), Vec::new());
                    for (f, v) in Fields(bytes(v)) {
                        match f {
                            1 => push_varints(&mut locs, v),
                            2 => push_varints(&mut vals, v),
                            _ => {}
                        }
                    }
                    p.samples.push((locs, vals.into_iter().map(|x| x as i64).collect()));
                }
                3 => p.mappings += 1,
                4 => {
                    let (mut id, mut loc) = (0, Location::default());
                    for (f, v) in Fields(bytes(v)) {
                        match f {
                            1 => id = varint(v),
                            2 => loc.mapping = varint(v),
                            3 => loc.address = varint(v),
                            4 => {
                                let mut line = (0, 0);
                                for (f, v) in Fields(bytes(v)) {
                                    match f {
                                        1 => line.0 = varint(v),
                                        2 => line.1 = varint(v) as i64,
                                        _ => {}
                                    }
                                }
                                loc.lines.push(line);
                            }
                            _ => {}
                        }
                    }
                    assert!(id != 0, "location IDs are not zero");
                    assert!(p.locations.insert(id, loc).is_none(), "location {id} twice");
                    p.location_order.push(id);
                }
                5 => {
                    let (mut id, mut func) = (0, Function::default());
                    for (f, v) in Fields(bytes(v)) {
                        match f {
                            1 => id = varint(v),
                            2 => func.name = varint(v) as i64,
                            3 => func.system_name = varint(v) as i64,
                            4 => func.filename = varint(v) as i64,
                            _ => {}
                        }
                    }
                    assert!(id != 0, "function IDs are not zero");
                    assert!(p.functions.insert(id, func).is_none(), "function {id} twice");
                }
                6 => p.strings.push(String::from_utf8(bytes(v).to_vec()).expect("UTF-8 string")),
                11 => p.period_type = value_type(bytes(v)),
                12 => p.period = varint(v) as i64,
                13 => p.comments.push(varint(v) as i64),
                _ => {}
            }
        }
        p
    }

    fn str(&self, i: i64) -> &str {
        &self.strings[usize::try_from(i).expect("string index")]
    }

    /// A sample's stack as `func file:line`, innermost first.
    fn stack(&self, locs: &[u64]) -> Vec<String> {
        let mut out = Vec::new();
        for id in locs {
            let loc = &self.locations[id];
            for &(fid, line) in &loc.lines {
                let f = &self.functions[&fid];
                out.push(format!("{} {}:{line}", self.str(f.name), self.str(f.filename)));
            }
        }
        out
    }

    /// (count, delay) per stack, stacks innermost first, samples with the
    /// same stack summed (as pprof does).
    fn by_stack(&self) -> BTreeMap<Vec<String>, (i64, i64)> {
        let mut out: BTreeMap<Vec<String>, (i64, i64)> = BTreeMap::new();
        for (locs, vals) in &self.samples {
            let e = out.entry(self.stack(locs)).or_default();
            e.0 += vals[0];
            e.1 += vals[1];
        }
        out
    }
}

/// The profile as the timeline computed it, in [`Profile::by_stack`]'s form.
fn expected(tl: &Timeline, entries: &[timeline::analysis::ProfileEntry]) -> BTreeMap<Vec<String>, (i64, i64)> {
    let mut out: BTreeMap<Vec<String>, (i64, i64)> = BTreeMap::new();
    for e in entries {
        let frames = tl.stacks.frames(e.stack);
        let stack: Vec<String> = frames
            .iter()
            .map(|f| format!("{} {}:{}", tl.strings.get(f.func), tl.strings.get(f.file), f.line))
            .collect();
        let v = out.entry(stack).or_default();
        v.0 += e.count as i64;
        v.1 += e.total_ns;
    }
    out
}

// ---------------------------------------------------------------------------

#[test]
fn sync_profile_of_chan_trace_round_trips() {
    let tl = load("traces/go1.27/chan.trace");
    let entries = blocking_profile(&tl, ProfileKind::Sync, &Filter::all());
    let mut gz = Vec::new();
    gotv::pprof::write_profile(&tl, &entries, ProfileKind::Sync, &mut gz).expect("write");
    assert_eq!(&gz[..2], [0x1f, 0x8b], "gzipped");
    let p = Profile::decode(&gunzip(&gz));

    // The header as go tool trace -pprof writes it.
    assert_eq!(p.strings[0], "");
    let names = |vt: (i64, i64)| (p.str(vt.0).to_string(), p.str(vt.1).to_string());
    let types: Vec<_> = p.sample_types.iter().map(|&vt| names(vt)).collect();
    assert_eq!(types, [("contentions".into(), "count".into()), ("delay".into(), "nanoseconds".into())]);
    assert_eq!(names(p.period_type), ("trace".into(), "count".into()));
    assert_eq!(p.period, 1);
    assert_eq!(p.mappings, 0);
    assert!(p.comments.iter().any(|&c| p.str(c).contains("sync")));

    // One sample per entry, in order, with the entry's values.
    assert_eq!(p.samples.len(), entries.len());
    for ((locs, vals), e) in p.samples.iter().zip(&entries) {
        assert_eq!(vals, &[e.count as i64, e.total_ns]);
        let frames = tl.stacks.frames(e.stack);
        let want: Vec<String> = frames
            .iter()
            .map(|f| format!("{} {}:{}", tl.strings.get(f.func), tl.strings.get(f.file), f.line))
            .collect();
        assert_eq!(p.stack(locs), want);
    }
    assert_eq!(p.by_stack(), expected(&tl, &entries));

    // main.blockedReceiver waits ~60 ms in one channel receive; Go's
    // `go tool trace -pprof=sync` gives the same 60224768 ns.
    let recv = p
        .samples
        .iter()
        .find(|(locs, _)| {
            let s = p.stack(locs);
            s.len() == 2 && s[0].starts_with("runtime.chanrecv1 ") && s[1].starts_with("main.blockedReceiver ")
        })
        .expect("a sample in main.blockedReceiver");
    assert_eq!(recv.1, [1, 60_224_768]);
    let total: i64 = p.samples.iter().map(|s| s.1[1]).sum();
    assert_eq!(total, entries.iter().map(|e| e.total_ns).sum::<i64>());

    // Functions and locations are shared; every location has one line and
    // a distinct synthetic address; IDs are 1..=n.
    let mut funcs = HashSet::new();
    for f in p.functions.values() {
        assert_eq!(f.name, f.system_name);
        assert!(funcs.insert((f.name, f.filename)), "function {} twice", p.str(f.name));
    }
    let mut lines = HashSet::new();
    let mut addrs = HashSet::new();
    for loc in p.locations.values() {
        assert_eq!(loc.lines.len(), 1);
        assert!(lines.insert(loc.lines[0]), "location {:?} twice", loc.lines[0]);
        assert!(loc.address != 0 && addrs.insert(loc.address));
        assert_eq!(loc.mapping, 0);
    }
    let mut ids: Vec<u64> = p.locations.keys().copied().collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    let used: HashSet<u64> = p.samples.iter().flat_map(|s| s.0.iter().copied()).collect();
    assert_eq!(used.len(), p.locations.len(), "no unused locations");
    assert!(p.functions.len() < p.locations.len(), "functions shared across lines: {}", p.functions.len());
}

#[test]
fn cli_filters_by_goroutine_and_time() {
    let tl = load("traces/go1.27/chan.trace");
    let dir = scratch("filters");
    let trace = testdata("traces/go1.27/chan.trace");
    let out = dir.join("p.pb.gz");

    // The whole trace: go tool trace's profile.
    let all = gotv_pprof(&["--kind".as_ref(), "sync".as_ref(), trace.as_os_str()], &out);
    assert_eq!(all.by_stack(), expected(&tl, &go_tool_blocking_profile(&tl, ProfileKind::Sync, &Filter::all())));

    // One goroutine: only main.blockedReceiver's receive.
    let g = tl
        .goroutines
        .iter()
        .find(|g| tl.strings.get(g.start_fn()) == "main.blockedReceiver")
        .expect("main.blockedReceiver's goroutine");
    let id = format!("g{}", g.id.0);
    let one =
        gotv_pprof(&["--kind".as_ref(), "sync".as_ref(), "--goroutine".as_ref(), id.as_ref(), trace.as_os_str()], &out);
    let by = one.by_stack();
    assert_eq!(by.len(), 1, "{by:?}");
    assert_eq!(by.values().next(), Some(&(1, 60_224_768)));

    // A time range: waits cut to [10ms, 40ms) from the trace start.
    let range = TimeRange::new(tl.start_ns + 10_000_000, tl.start_ns + 40_000_000);
    let cut = gotv_pprof(
        &[
            "--kind".as_ref(),
            "sync".as_ref(),
            "--start".as_ref(),
            "10ms".as_ref(),
            "--end".as_ref(),
            "40ms".as_ref(),
            trace.as_os_str(),
        ],
        &out,
    );
    let want = expected(&tl, &go_tool_blocking_profile(&tl, ProfileKind::Sync, &Filter::range(range)));
    assert_eq!(cut.by_stack(), want);
    let total: i64 = want.values().map(|v| v.1).sum();
    assert!(total > 0 && total < all.by_stack().values().map(|v| v.1).sum::<i64>());

    // Bad arguments fail with a clear message.
    for (args, msg) in [
        (vec!["--kind", "sync", "--goroutine", "999999"], "no goroutine 999999"),
        (vec!["--kind", "sync", "--start", "40ms", "--end", "10ms"], "--end must be after --start"),
        (vec!["--kind", "sync", "--start", "soon"], "not a time"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_gotv"))
            .arg("pprof")
            .args(&args)
            .arg(&trace)
            .arg("-o")
            .arg(&out)
            .output()
            .expect("gotv runs");
        assert!(!o.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

// ---------------------------------------------------------------------------
// Against Go.

/// `go tool pprof -top` output: the totals line and (name, flat, cum) rows.
#[derive(Debug)]
struct Top {
    text: String,
    shown_ns: f64,
    total_ns: f64,
    rows: Vec<(String, f64, f64)>,
}

/// `203ms`, `64.93ms`, `0.32us`, `1.5s`, `0` in nanoseconds.
fn duration_ns(s: &str) -> f64 {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().unwrap_or_else(|_| panic!("not a duration: {s:?}"));
    v * match unit {
        "" | "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "mins" => 60e9,
        "hrs" => 3600e9,
        _ => panic!("unknown unit in {s:?}"),
    }
}

fn pprof_top(go: &Path, profile: &Path) -> Top {
    let out = run_go(
        go,
        &[
            "tool".as_ref(),
            "pprof".as_ref(),
            "-symbolize=none".as_ref(),
            "-top".as_ref(),
            "-nodecount=20".as_ref(),
            profile.as_os_str(),
        ],
    );
    let text = String::from_utf8(out).expect("UTF-8");
    let (mut shown_ns, mut total_ns) = (0.0, 0.0);
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Showing nodes accounting for ") {
            // "293.39ms, 99.70% of 294.28ms total"
            let f: Vec<&str> = rest.split_whitespace().collect();
            shown_ns = duration_ns(f[0].trim_end_matches(','));
            total_ns = duration_ns(f[3]);
        } else if line.trim_start().starts_with("flat ") {
            in_table = true;
        } else if in_table {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert!(f.len() >= 6, "row {line:?}");
            rows.push((f[5..].join(" "), duration_ns(f[0]), duration_ns(f[3])));
        }
    }
    Top { text, shown_ns, total_ns, rows }
}

/// Equal up to the rounding of pprof's printed values.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= (a.abs().max(b.abs()) * 1e-3).max(1.0)
}

#[test]
fn go_tool_pprof_reads_the_profile_as_it_reads_go_tool_traces() {
    let Some(go) = go_or_skip("go_tool_pprof_reads_the_profile_as_it_reads_go_tool_traces") else { return };
    let dir = scratch("go");
    let cases: &[(&str, &[&str])] = &[
        ("traces/go1.27/chan.trace", &["sync", "sched", "syscall", "net"]),
        ("traces/go1.27/sync.trace", &["sync"]),
        ("traces/go1.27/net.trace", &["net"]),
        ("traces/go1.27/syscalls.trace", &["syscall"]),
        // A stack of one unknown frame, which Go treats as no stack.
        ("traces/go1.27/timers.trace", &["sched"]),
        ("traces/go1.22/multigen.trace", &["sched"]),
        ("traces/go1.21/chan.trace", &["sync", "sched"]),
    ];
    for &(rel, kinds) in cases {
        let trace = testdata(rel);
        for &kind in kinds {
            let what = format!("{rel} {kind}");
            let go_pb = dir.join("go.pb");
            let flag = format!("-pprof={kind}");
            let bytes = run_go(&go, &["tool".as_ref(), "trace".as_ref(), flag.as_ref(), trace.as_os_str()]);
            std::fs::write(&go_pb, &bytes).expect("write go.pb");
            let ours_pb = dir.join("gotv.pb.gz");
            let ours = gotv_pprof(&["--kind".as_ref(), kind.as_ref(), trace.as_os_str()], &ours_pb);

            // Every stack has the same count and delay as in Go's profile.
            let theirs = Profile::decode(&gunzip(&bytes));
            assert_eq!(ours.by_stack(), theirs.by_stack(), "{what}: samples differ");

            // And `go tool pprof -top` shows the same.
            let (a, b) = (pprof_top(&go, &ours_pb), pprof_top(&go, &go_pb));
            if kind == "sync" && rel == "traces/go1.27/chan.trace" {
                println!("== go tool pprof -top -nodecount=20 (gotv pprof --kind sync chan.trace)\n{}", a.text);
                println!("== go tool pprof -top -nodecount=20 (go tool trace -pprof=sync chan.trace)\n{}", b.text);
            }
            assert!(close(a.total_ns, b.total_ns) && close(a.shown_ns, b.shown_ns), "{what}:\n{}\n{}", a.text, b.text);
            assert_eq!(a.rows.len(), b.rows.len(), "{what}:\n{}\n{}", a.text, b.text);
            for (x, y) in a.rows.iter().zip(&b.rows) {
                assert!(
                    x.0 == y.0 && close(x.1, y.1) && close(x.2, y.2),
                    "{what}: {x:?} vs {y:?}\n{}\n{}",
                    a.text,
                    b.text
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
