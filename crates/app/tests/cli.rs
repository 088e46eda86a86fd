//! The `gotv` binary as a user runs it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(rel)
}

fn gotv(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gotv")).args(args).output().expect("gotv runs")
}

fn oracle(trace: &Path) -> Vec<u8> {
    let gz = std::fs::read(trace.with_extension("parsed.txt.gz")).expect("oracle");
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut out).expect("gzip");
    out
}

#[test]
fn dump_prints_what_go_prints() {
    for rel in ["traces/go1.22/sync.trace", "traces/go1.25/flightrec.trace", "traces/go1.27/chan.trace"] {
        let t = testdata(rel);
        let out = gotv(&["dump".as_ref(), t.as_os_str()]);
        assert!(out.status.success(), "{rel}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout == oracle(&t), "{rel}: output differs from go tool trace -d=parsed");
    }
}

#[test]
fn dump_of_a_truncated_trace_prints_what_decoded_then_fails() {
    let t = testdata("traces/go1.27/timers.trace");
    let bytes = std::fs::read(&t).expect("trace");
    let dir = std::env::temp_dir().join(format!("gotv-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let cut = dir.join("cut.trace");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let out = gotv(&["dump".as_ref(), cut.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at byte"), "error names the offset: {stderr}");
    // Everything printed is a prefix of the full dump, Sync lines aside.
    let full = oracle(&t);
    let printed: Vec<&[u8]> = out.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    assert!(printed.len() > 10, "complete generations are kept");
    let full_lines: Vec<&[u8]> = full.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let last = printed.len() - 1;
    assert_eq!(&printed[..last], &full_lines[..last]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_file_that_is_not_a_trace_gets_one_clear_line() {
    let readme = testdata("README.md");
    let out = gotv(&["dump".as_ref(), readme.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a Go execution trace"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn stats_reports_counts_as_json() {
    let t = testdata("traces/go1.27/chan.trace");
    for mode in [&["stats", "--json", "--decode-only"][..], &["stats", "--json", "--decode-only", "--sequential"][..]] {
        let mut args: Vec<&std::ffi::OsStr> = mode.iter().map(|s| s.as_ref()).collect();
        args.push(t.as_os_str());
        let out = gotv(&args);
        assert!(out.status.success());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let lines = oracle(&t).split(|&b| b == b'\n').filter(|l| l.starts_with(b"M=")).count() as u64;
        assert_eq!(v["events"].as_u64(), Some(lines), "{mode:?}");
        assert!(v["checksum"].as_u64().unwrap_or(0) > 0);
        assert_eq!(v["error"], serde_json::Value::Null);
    }
}

#[test]
fn gzipped_traces_open_transparently_and_gzipped_others_are_named() {
    use std::io::Write;
    let t = testdata("traces/go1.26/net.trace");
    let dir = std::env::temp_dir().join(format!("gotv-gz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let gz_path = dir.join("net.trace.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&std::fs::read(&t).expect("trace")).expect("gzip");
    std::fs::write(&gz_path, enc.finish().expect("gzip")).expect("write");
    let out = gotv(&["dump".as_ref(), gz_path.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout == oracle(&t));

    let other = dir.join("profile.pb.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(b"\x0a\x04some protobuf").expect("gzip");
    std::fs::write(&other, enc.finish().expect("gzip")).expect("write");
    let out = gotv(&["dump".as_ref(), other.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pprof"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn parallel_and_sequential_stats_resolve_the_same_strings_and_stacks() {
    for rel in ["traces/go1.22/timers.trace", "traces/go1.25/flightrec.trace", "traces/go1.27/multigen.trace"] {
        let t = testdata(rel);
        let run = |extra: &[&str]| {
            let mut args: Vec<&std::ffi::OsStr> = vec!["stats".as_ref(), "--json".as_ref(), "--decode-only".as_ref()];
            args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
            args.push(t.as_os_str());
            let out = gotv(&args);
            assert!(out.status.success(), "{rel}");
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            (v["events"].as_u64(), v["checksum"].as_u64(), v["generations"].as_u64())
        };
        let (par, seq) = (run(&[]), run(&["--sequential"]));
        assert_eq!(par, seq, "{rel}");
        assert!(par.2.unwrap_or(0) >= 2, "{rel}: needs several generations");
    }
}

fn oracle_text(trace: &Path) -> String {
    String::from_utf8(oracle(trace)).expect("utf-8")
}

/// The value after `key` (up to the next space) in an oracle line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = &line[line.find(key)? + key.len()..];
    Some(rest.split(' ').next().unwrap_or(rest))
}

fn stats_json(extra: &[&str], trace: &Path) -> serde_json::Value {
    let mut args: Vec<&std::ffi::OsStr> = vec!["stats".as_ref(), "--json".as_ref()];
    args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
    args.push(trace.as_os_str());
    let out = gotv(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn stats_builds_the_timeline_and_agrees_with_go() {
    let t = testdata("traces/go1.27/chan.trace");
    let text = oracle_text(&t);
    let events: Vec<&str> = text.lines().filter(|l| l.starts_with("M=")).collect();
    let goids: std::collections::BTreeSet<&str> = events.iter().filter_map(|l| field(l, "GoID=")).collect();
    let syncs = events.iter().filter(|l| l.contains(" Sync ")).count() as u64;
    // Pauses do not nest: their total is the sum of ends minus the sum of starts.
    let stw_ns: i64 = events
        .iter()
        .filter(|l| l.contains("Name=\"stop-the-world"))
        .map(|l| {
            let t: i64 = field(l, "Time=").unwrap().parse().unwrap();
            if l.contains(" RangeEnd ") { t } else { -t }
        })
        .sum();
    let gc_cycles =
        events.iter().filter(|l| l.contains(" RangeBegin ") && l.contains("GC concurrent mark phase")).count();
    for mode in [&[][..], &["--sequential"][..]] {
        let v = stats_json(mode, &t);
        assert_eq!(v["goroutines"].as_u64(), Some(goids.len() as u64), "{mode:?}");
        assert_eq!(v["generations"].as_u64(), Some(syncs - 1), "{mode:?}");
        assert_eq!(v["stw_total_ns"].as_i64(), Some(stw_ns), "{mode:?}");
        assert!(stw_ns > 0);
        assert_eq!(v["gc_cycles"].as_u64(), Some(gc_cycles as u64), "{mode:?}");
        assert!(v["procs"].as_u64().unwrap_or(0) >= 1 && v["threads"].as_u64().unwrap_or(0) >= 1);
        assert!(v["timeline_heap_bytes"].as_u64().unwrap_or(0) > 10_000);
        assert!(v["load_seconds"].as_f64().unwrap_or(0.0) > 0.0);
        assert!(v["load_phase_seconds"].as_object().is_some_and(|p| !p.is_empty()));
        assert_eq!(v["error"], serde_json::Value::Null);
    }
}

#[test]
fn stats_lists_scheduling_waits_not_blocking() {
    let t = testdata("traces/go1.27/chan.trace");
    let v = stats_json(&[], &t);
    let waits = v["longest_scheduling_waits"].as_array().expect("waits");
    assert_eq!(waits.len(), 10);
    let durations: Vec<i64> = waits.iter().map(|w| w["duration_ns"].as_i64().unwrap()).collect();
    assert!(durations.windows(2).all(|p| p[0] >= p[1]), "{durations:?}");
    for w in waits {
        let label = w["label"].as_str().unwrap();
        assert!(label.starts_with(&format!("g{}", w["goroutine"])), "{label}");
        assert!(["created", "runnable", "preempted", "yielded"].contains(&w["state"].as_str().unwrap()));
        // main.blockedReceiver blocks 60 ms in a channel receive: blocked,
        // not waiting for a P.
        assert!(w["duration_ns"].as_i64().unwrap() < 50_000_000, "{w}");
    }
    // The text report names the same goroutines.
    let out = gotv(&["stats".as_ref(), t.as_os_str()]);
    assert!(out.status.success());
    let report = String::from_utf8_lossy(&out.stdout);
    for key in ["goroutines:", "GC:", "load:", "timeline:", "memory:", "longest scheduling waits"] {
        assert!(report.contains(key), "{key} missing from\n{report}");
    }
    assert!(report.contains(waits[0]["label"].as_str().unwrap()), "{report}");
    assert!(!report.contains("main.blockedReceiver"), "{report}");
}

#[test]
fn stats_decode_only_keeps_the_decoder_report() {
    let t = testdata("traces/go1.22/timers.trace");
    let v = stats_json(&["--decode-only"], &t);
    assert!(v["checksum"].as_u64().unwrap_or(0) > 0);
    assert!(v.get("goroutines").is_none());
    let built = stats_json(&[], &t);
    assert!(built.get("checksum").is_none());
    assert_eq!(built["generations"], v["generations"]);
}
