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
    for mode in [&["stats", "--json"][..], &["stats", "--json", "--sequential"][..]] {
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
            let mut args: Vec<&std::ffi::OsStr> = vec!["stats".as_ref(), "--json".as_ref()];
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
