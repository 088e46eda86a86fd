//! Runs Go's own reader golden suite, `$GOROOT/src/internal/trace/testdata/
//! tests/*.test`, against the decoder.
//!
//! Each test is a txtar archive with an `expect` section (`SUCCESS`, or
//! `FAILURE "regexp"`) and a `trace` section holding a trace in Go's text
//! form. The text is converted to wire bytes exactly as Go's test harness
//! does (`testtrace.ParseFile`), decoded to the end with [`Reader`], and
//! the verdict (error or not) must equal Go's. Error texts are printed next
//! to Go's pattern but not compared.
//!
//! GOROOT comes from `GOTV_GOROOT`, else `go env GOROOT` (see
//! `support/goroot.rs`); set `GOTV_SKIP_GO_TESTS=1` to skip when there is
//! no Go installation.
//!
//! Set `GOTV_GOLDEN_DUMP=DIR` to also write each converted trace to
//! `DIR/NAME.trace`, e.g. to feed it to `go tool trace -d=parsed`.

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use support::goroot;
use support::textfmt::{WireTrace, put_uvarint, text_to_wire};
use support::txtar::{self, Expectation};
use support::unquote::go_unquote;
use trace_core::Reader;
use trace_core::spec::ev;

/// How decoding a trace ended.
#[derive(Debug)]
enum Outcome {
    /// Every event read, then `Ok(None)`.
    Success { events: usize },
    /// `Reader::new` or `next_event` returned an error.
    Failure(String),
    /// The decoder panicked: never acceptable.
    Panic(String),
}

/// Decodes `bytes` to the end, turning panics into an outcome.
fn decode(bytes: &[u8]) -> Outcome {
    let run = || -> Result<usize, trace_core::Error> {
        let mut reader = Reader::new(bytes)?;
        let mut events = 0;
        while reader.next_event()?.is_some() {
            events += 1;
        }
        Ok(events)
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(events)) => Outcome::Success { events },
        Ok(Err(e)) => Outcome::Failure(e.to_string()),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            Outcome::Panic(msg)
        }
    }
}

/// Reads one golden file: its expectation and its trace as wire bytes.
fn load(path: &Path) -> Result<(Expectation, WireTrace), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let files = txtar::parse(&text);
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    if names != ["expect", "trace"] {
        return Err(format!("malformed test: expected sections [expect, trace], found {names:?}"));
    }
    let expect = Expectation::parse(&files[0].data)?;
    let wire = text_to_wire(&files[1].data).map_err(|e| format!("bad trace text: {e}"))?;
    Ok((expect, wire))
}

#[test]
fn go_golden_suite() {
    let Some(dir) = goroot::golden_dir_or_skip("go_golden_suite") else {
        return;
    };
    let files = goroot::golden_files(&dir);
    assert!(!files.is_empty(), "no *.test files in {}", dir.display());
    println!("golden: {} tests from {}", files.len(), dir.display());

    let mut mismatches = Vec::new();
    for path in &files {
        let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let (expect, wire) = match load(path) {
            Ok(loaded) => loaded,
            Err(e) => {
                println!("{name:<72} CONVERT-ERROR {e}");
                mismatches.push(format!("{name}: cannot convert: {e}"));
                continue;
            }
        };
        for note in &wire.notes {
            println!("{name:<72} note: {note}");
        }
        if let Some(dump) = std::env::var_os("GOTV_GOLDEN_DUMP") {
            let out = Path::new(&dump).join(&name).with_extension("trace");
            std::fs::write(&out, &wire.bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
        }
        let want = if expect.is_failure() { "FAILURE" } else { "SUCCESS" };
        let outcome = decode(&wire.bytes);
        let (ours, detail, ok) = match &outcome {
            Outcome::Success { events } => ("SUCCESS", format!("{events} events"), !expect.is_failure()),
            Outcome::Failure(e) => ("FAILURE", format!("error: {e}"), expect.is_failure()),
            Outcome::Panic(p) => ("PANIC", format!("panic: {p}"), false),
        };
        let verdict = if ok { "ok      " } else { "MISMATCH" };
        let pattern = match &expect {
            Expectation::Failure { pattern } => format!(" | Go wants error matching /{pattern}/"),
            Expectation::Success => String::new(),
        };
        println!("{verdict} {name:<72} expect={want} ours={ours} ({detail}){pattern}");
        if !ok {
            mismatches.push(format!("{name}: expected {want}, got {ours} ({detail})"));
        }
    }
    let total = files.len();
    println!("golden: {}/{total} verdicts match", total - mismatches.len());
    assert!(mismatches.is_empty(), "golden verdict mismatches:\n  {}", mismatches.join("\n  "));
}

/// A Sync event Go's `TestTraceGenSync` expects: time, and the clock
/// snapshot `(trace time, mono, wall seconds, wall nanoseconds)` if any.
type WantSync = (i64, Option<(i64, u64, u64, u64)>);

/// Mirrors Go's `TestTraceGenSync`: the Sync events of the two sync tests
/// carry the times (and clock snapshots) Go's reader gives them.
#[test]
fn go_sync_times() {
    let Some(dir) = goroot::golden_dir_or_skip("go_sync_times") else {
        return;
    };
    // 1740755049 is 2025-02-28T15:04:09Z.
    let cases: [(&str, &[WantSync]); 2] = [
        ("go123-sync.test", &[(10, None), (40, None), (60, None), (63, None)]),
        (
            "go125-sync.test",
            &[
                (9, Some((10, 99, 1_740_755_049, 123))),
                (38, Some((40, 199, 1_740_755_050, 123))),
                (58, Some((60, 299, 1_740_755_051, 123))),
                (83, None),
            ],
        ),
    ];
    let mut problems = Vec::new();
    for (name, want) in cases {
        let path = dir.join(name);
        if !path.exists() {
            println!("{name}: not in this Go tree, skipped");
            continue;
        }
        let (_, wire) = load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut reader = Reader::new(&wire.bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut got: Vec<WantSync> = Vec::new();
        while let Some(e) = reader.next_event().unwrap_or_else(|e| panic!("{name}: {e}")) {
            if e.typ == ev::SYNC_PSEUDO {
                let clock = e.clock_snapshot(&reader.context()).map(|c| (c.trace.0, c.mono, c.sec, c.nsec));
                got.push((e.time.0, clock));
            }
        }
        println!("{name}: syncs {got:?}");
        if got != want {
            problems.push(format!("{name}: got syncs {got:?}, Go has {want:?}"));
        }
    }
    assert!(problems.is_empty(), "sync mismatches:\n  {}", problems.join("\n  "));
}

// ---- Unit tests of the helpers ----------------------------------------

#[test]
fn converter_bytes_by_hand() {
    let text = "\
# a comment line, then a blank one

Trace Go1.22
EventBatch gen=1 m=0 time=300 size=3
GoCreateSyscall dt=1 new_g=4
EventBatch gen=1 m=18446744073709551615 time=301 size=15
Stack id=1 nframes=1
\tpc=200 func=2 file=3 line=4
String id=1
\tdata=\"a\\\"\\x80\\n\"
";
    let wire = text_to_wire(text).expect("converts");
    #[rustfmt::skip]
    let want: Vec<u8> = [
        b"go 1.22 trace\0\0\0".as_slice(),
        // EventBatch: gen=1 m=0 time=300 (0xac 0x02) size=3
        &[1, 1, 0, 0xac, 0x02, 3],
        // GoCreateSyscall dt=1 new_g=4
        &[15, 1, 4],
        // EventBatch: gen=1, m=u64::MAX (ten bytes), time=301 (0xad 0x02), size=15
        &[1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0xad, 0x02, 15],
        // Stack id=1 nframes=1, frame pc=200 (0xc8 0x01) func=2 file=3 line=4
        &[3, 1, 1, 0xc8, 0x01, 2, 3, 4],
        // String id=1, length 4, bytes a " 0x80 \n
        &[5, 1, 4, b'a', b'"', 0x80, b'\n'],
    ]
    .concat();
    assert_eq!(wire.bytes, want);
    assert_eq!(wire.minor, 22);
    assert_eq!(wire.events, 5);
    assert!(wire.notes.is_empty(), "{:?}", wire.notes);
}

#[test]
fn converter_reports_wrong_batch_sizes() {
    let wire = text_to_wire("Trace Go1.23\nEventBatch gen=1 m=0 time=1 size=9\nProcStop dt=1\n").unwrap();
    assert_eq!(wire.bytes[16..], [1, 1, 0, 1, 9, 11, 1]);
    assert_eq!(wire.notes.len(), 1, "{:?}", wire.notes);
}

#[test]
fn converter_rejects_bad_text() {
    let bad = [
        ("Trace Go1.21\n", "no v2 text format"),
        ("Trace Go1.22 extra\n", "after the header"),
        ("Trace Go1.22\nNoSuchEvent dt=1\n", "unknown event"),
        // GoSwitch only exists from Go 1.23 on.
        ("Trace Go1.22\nGoSwitch dt=1 g=1 g_seq=1\n", "unknown event"),
        ("Trace Go1.22\nProcStart dt=1 p_seq=1 p=1\n", "expected argument"),
        ("Trace Go1.22\nProcStart dt=1 p=1\n", "missing argument"),
        ("Trace Go1.22\nProcStop dt=1 # trailing comment\n", "after the arguments"),
        ("Trace Go1.22\nProcStop dt=+1\n", "non-decimal"),
        ("Trace Go1.22\nProcStop dt=18446744073709551616\n", "dt"),
        ("Trace Go1.22\nStack id=1 nframes=2\n\tpc=1 func=2 file=3 line=4\n", "inside a stack"),
        ("Trace Go1.22\nString id=1\n\tdatum=\"x\"\n", "malformed data"),
        ("Trace Go1.22\nString id=1\n", "before the data"),
    ];
    for (text, want) in bad {
        let err = text_to_wire(text).expect_err(text);
        assert!(err.contains(want), "{text:?}: error {err:?} lacks {want:?}");
    }
}

#[test]
fn converter_handles_experimental_batches() {
    let wire = text_to_wire("Trace Go1.26\nExperimentalBatch exp=1 gen=2 m=3 time=4\n\tdata=`\x01z`\n").unwrap();
    assert_eq!(wire.bytes[16..], [49, 1, 2, 3, 4, 2, 1, b'z']);
    assert!(text_to_wire("Trace Go1.22\nExperimentalBatch exp=1 gen=2 m=3 time=4\n\tdata=\"\"\n").is_err());
}

#[test]
fn uvarint_encoding() {
    for (v, want) in [
        (0u64, &[0u8][..]),
        (127, &[0x7f]),
        (128, &[0x80, 0x01]),
        (16384, &[0x80, 0x80, 0x01]),
        (u64::MAX, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    ] {
        let mut out = Vec::new();
        put_uvarint(&mut out, v);
        assert_eq!(out, want, "{v}");
        assert_eq!(trace_core::wire::uvarint(&out), Some((v, out.len())));
    }
}

#[test]
fn go_unquote_matches_strconv() {
    let ok: [(&str, &[u8]); 12] = [
        (r#""""#, b""),
        (r#""foo""#, b"foo"),
        (r#""a\"b\\c""#, b"a\"b\\c"),
        (r#""\n\t\r\a\b\f\v""#, b"\n\t\r\x07\x08\x0c\x0b"),
        (r#""\x80\xff""#, b"\x80\xff"),
        (r#""\101\377""#, b"A\xff"),
        (r#""\u00e9\U0001F600""#, "é😀".as_bytes()),
        (r#""it's""#, b"it's"),
        ("\"é\"", "é".as_bytes()),
        ("`a\\n\r\"`", b"a\\n\""),
        (r"'x'", b"x"),
        (r"'\''", b"'"),
    ];
    for (lit, want) in ok {
        assert_eq!(go_unquote(lit).as_deref(), Ok(want), "{lit}");
    }
    let bad = [
        "",
        "\"",
        "foo",
        "\"abc",
        r#""a"b""#,
        r#""\'""#,
        r#""\q""#,
        r#""\x4""#,
        r#""\400""#,
        r#""\ud800""#,
        "\"a\nb\"",
        "`a`b`",
        "'ab'",
        r#"'\"'"#,
    ];
    for lit in bad {
        assert!(go_unquote(lit).is_err(), "{lit:?} should not unquote");
    }
}

#[test]
fn txtar_and_expectations() {
    let files = txtar::parse("comment\n-- expect --\nFAILURE \"a\\\\.b\"\n-- trace --\nTrace Go1.22\nmore");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0].name, "expect");
    assert_eq!(files[1].data, "Trace Go1.22\nmore\n");
    assert_eq!(Expectation::parse(&files[0].data), Ok(Expectation::Failure { pattern: r"a\.b".to_owned() }));
    assert_eq!(Expectation::parse("SUCCESS\n"), Ok(Expectation::Success));
    assert_eq!(Expectation::parse(""), Ok(Expectation::Success));
    assert!(Expectation::parse("FAILURE\n").is_err());
    assert!(Expectation::parse("MAYBE\n").is_err());
}
