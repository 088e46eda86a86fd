//! Go's own v1 traces, `$GOROOT/src/internal/trace/internal/tracev1/
//! testdata/*`, decode to what `go tool trace -d=parsed` prints for them.
//!
//! The oracle is produced at test time by the Go toolchain of the GOROOT
//! found as in `golden.rs` (`GOTV_GOROOT`, else `go env GOROOT` of
//! `GOTV_GO`, `/opt/go/v1.27.3/bin/go` or `go` on `PATH`; see
//! `support/goroot.rs`), run with `GOTOOLCHAIN=local`. Without Go the test
//! fails, unless `GOTV_SKIP_GO_TESTS=1`.
//!
//! # Comparison
//!
//! Go's output is not deterministic for every one of these files: its v1
//! reader keeps goroutine and P state in maps, so map iteration order
//! decides (a) the order of events whose v1 timestamps are equal, and (b)
//! the order of the initial `Undetermined->` status events of goroutines
//! created before tracing started. Go then makes times strictly
//! increasing by bumping ties by 1 ns, so such a reordering also swaps the
//! printed `Time=` values of the events involved.
//!
//! So each file is first compared byte for byte ("exact"). If that fails,
//! both outputs are split into events (a line starting with `M=` plus its
//! continuation lines) and into groups, taken from Go's output: a group is
//! a maximal run of consecutive events whose `Time=` values are equal or
//! each 1 ns after the previous one, and the initial block of
//! `Undetermined->` events after the first Sync is one group. At the same
//! positions gotv's output must then have, per group, the same multiset of
//! event texts with `Time=` removed and the same multiset of `Time=`
//! values ("group-equal"). Event counts must always be equal.

#[allow(dead_code)] // only `support::goroot` is used here
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::goroot;
use trace_core::{Reader, gofmt};

/// Where Go keeps its v1 test traces, relative to GOROOT.
const V1_TESTDATA: &str = "src/internal/trace/internal/tracev1/testdata";

/// GOROOT, or `None` when Go is missing and skipping was requested.
fn goroot_or_skip() -> Option<PathBuf> {
    match goroot::goroot() {
        Ok(root) => Some(root),
        Err(e) if goroot::skip_requested() => {
            eprintln!("v1_goroot: SKIPPED because GOTV_SKIP_GO_TESTS=1 and no Go tree was found: {e}");
            None
        }
        Err(e) => panic!(
            "v1_goroot: no Go installation to take the v1 test traces from: {e}\n\
             Set GOTV_GOROOT to a GOROOT or GOTV_GO to a go binary, \
             or GOTV_SKIP_GO_TESTS=1 to skip this test."
        ),
    }
}

/// The go binary belonging to `root`.
fn go_binary(root: &Path) -> PathBuf {
    let bin = root.join("bin/go");
    if bin.exists() { bin } else { PathBuf::from("go") }
}

/// Go's `-d=parsed` text for `trace`.
fn go_oracle(go: &Path, trace: &Path) -> String {
    let out = Command::new(go)
        .args(["tool", "trace", "-d=parsed"])
        .arg(trace)
        .env("GOTOOLCHAIN", "local")
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{} tool trace`: {e}", go.display()));
    assert!(
        out.status.success(),
        "`go tool trace -d=parsed {}` failed ({}): {}",
        trace.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8(out.stdout).expect("Go's output is UTF-8")
}

/// gotv's text for `bytes`, one string per event (no trailing newline).
fn gotv_events(bytes: &[u8]) -> Result<Vec<String>, String> {
    let mut reader = Reader::new(bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(ev) = reader.next_event().map_err(|e| e.to_string())? {
        let mut buf = Vec::new();
        gofmt::write_event_bytes(&mut buf, &ev, &reader.context());
        out.push(String::from_utf8(buf).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// Splits Go's text into events: a line starting with `M=` and the lines
/// after it that do not.
fn split_events(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        match out.last_mut() {
            Some(last) if !line.starts_with("M=") => {
                last.push('\n');
                last.push_str(line);
            }
            _ => out.push(line.to_owned()),
        }
    }
    out
}

/// The `Time=` value of an event and its text without it.
fn split_time(ev: &str) -> (Option<i64>, String) {
    let first = ev.lines().next().unwrap_or_default();
    let Some(at) = first.find(" Time=") else { return (None, ev.to_owned()) };
    let rest = &ev[at + " Time=".len()..];
    let end = rest.find(|c: char| !(c == '-' || c.is_ascii_digit())).unwrap_or(rest.len());
    let time = rest[..end].parse().ok();
    (time, format!("{}{}", &ev[..at], &rest[end..]))
}

/// The sorted times and sorted texts of a group.
fn sorted(v: &[(Option<i64>, String)]) -> (Vec<Option<i64>>, Vec<&str>) {
    let mut times: Vec<Option<i64>> = v.iter().map(|x| x.0).collect();
    let mut texts: Vec<&str> = v.iter().map(|x| x.1.as_str()).collect();
    times.sort_unstable();
    texts.sort_unstable();
    (times, texts)
}

/// Group boundaries `[start, end)` over Go's events (see the module docs).
fn groups(events: &[(Option<i64>, String)]) -> Vec<(usize, usize)> {
    // The initial block of Undetermined-> status events after the first Sync.
    let init_end = 1 + events.iter().skip(1).take_while(|(_, s)| s.contains("Undetermined->")).count();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=events.len() {
        let joined = i < events.len()
            && if i < init_end {
                i > 1
            } else {
                matches!((events[i - 1].0, events[i].0), (Some(a), Some(b)) if b == a || b == a + 1)
            };
        if !joined {
            out.push((start, i));
            start = i;
        }
    }
    out
}

enum Verdict {
    Exact,
    GroupEqual { reordered_groups: usize },
}

fn compare(want_text: &str, got: &[String]) -> Result<Verdict, String> {
    let want = split_events(want_text);
    if want.len() != got.len() {
        return Err(format!("event counts differ: Go {}, gotv {}", want.len(), got.len()));
    }
    if want.iter().zip(got).all(|(a, b)| a == b) {
        return Ok(Verdict::Exact);
    }
    let want: Vec<_> = want.iter().map(|e| split_time(e)).collect();
    let got: Vec<_> = got.iter().map(|e| split_time(e)).collect();
    let mut reordered_groups = 0;
    for (s, e) in groups(&want) {
        if want[s..e] == got[s..e] {
            continue;
        }
        if sorted(&want[s..e]) != sorted(&got[s..e]) {
            let show = |v: &[(Option<i64>, String)]| {
                v.iter().map(|(t, s)| format!("    {t:?} {}", s.lines().next().unwrap_or_default())).collect::<Vec<_>>()
            };
            return Err(format!(
                "events {s}..{e} differ beyond reordering within a timestamp group:\n  Go:\n{}\n  gotv:\n{}",
                show(&want[s..e]).join("\n"),
                show(&got[s..e]).join("\n")
            ));
        }
        reordered_groups += 1;
    }
    Ok(Verdict::GroupEqual { reordered_groups })
}

#[test]
fn goroot_v1_testdata_matches_go() {
    let Some(root) = goroot_or_skip() else { return };
    let dir = root.join(V1_TESTDATA);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e} (Go 1.23+ keeps its v1 test traces there)", dir.display()));
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    assert!(!files.is_empty(), "no v1 test traces in {}", dir.display());
    let go = go_binary(&root);

    let (mut exact, mut group_equal, mut failures) = (0, 0, Vec::new());
    for file in &files {
        let name = file.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let want = go_oracle(&go, file);
        let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let got = match gotv_events(&bytes) {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{name}: gotv failed: {e}"));
                continue;
            }
        };
        match compare(&want, &got) {
            Ok(Verdict::Exact) => {
                exact += 1;
                eprintln!("{name}: exact ({} events)", got.len());
            }
            Ok(Verdict::GroupEqual { reordered_groups }) => {
                group_equal += 1;
                eprintln!("{name}: group-equal ({} events, {reordered_groups} groups reordered)", got.len());
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    eprintln!("{} files: {exact} exact, {group_equal} group-equal, {} failed", files.len(), failures.len());
    assert!(failures.is_empty(), "v1 traces from GOROOT that do not match Go:\n{}", failures.join("\n"));
}

#[test]
fn grouping_unit() {
    let ev = |t: i64, s: &str| (Some(t), s.to_owned());
    let g = groups(&[ev(-1, "Sync"), ev(5, "a"), ev(6, "b"), ev(9, "c"), ev(9, "d"), ev(20, "e")]);
    assert_eq!(g, vec![(0, 1), (1, 3), (3, 5), (5, 6)]);
    let (t, s) = split_time("M=1 P=2 G=3 Sync Time=42 N=1\nStack=");
    assert_eq!((t, s.as_str()), (Some(42), "M=1 P=2 G=3 Sync N=1\nStack="));
}
