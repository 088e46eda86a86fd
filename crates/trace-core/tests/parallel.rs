//! Decoding generations independently (speculatively, on several threads)
//! and chaining them yields exactly the sequential reader's event stream.

use std::path::{Path, PathBuf};

#[allow(dead_code)] // only `support::textfmt` is used here
mod support;

use trace_core::parallel::Chained;
use trace_core::speculate::TaskFix;
use trace_core::{Event, EventKind, TaskId};
use trace_core::{GenerationRun, ParallelDecode, Reader, gofmt};

fn v2_traces() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(root).expect("testdata/traces").flatten() {
        let minor: u32 =
            dir.file_name().to_string_lossy().strip_prefix("go1.").and_then(|m| m.parse().ok()).unwrap_or(0);
        if minor < 22 {
            continue;
        }
        for f in std::fs::read_dir(dir.path()).into_iter().flatten().flatten() {
            if f.path().extension().is_some_and(|e| e == "trace") {
                out.push(f.path());
            }
        }
    }
    out.sort();
    out
}

fn sequential(bytes: &[u8]) -> (String, Option<String>) {
    let mut out = String::new();
    let mut r = Reader::new(bytes).expect("header");
    loop {
        match r.next_event() {
            Ok(Some(ev)) => {
                gofmt::write_event(&mut out, &ev, &r.context());
                out.push('\n');
            }
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e.to_string())),
        }
    }
}

/// Formatted events with their (possibly provisional) times.
fn collect(run: &mut GenerationRun<'_>) -> Lines {
    let mut out = Vec::new();
    while let Ok(Some(ev)) = run.next_event() {
        let mut line = String::new();
        gofmt::write_event(&mut line, &ev, &run.context());
        line.push('\n');
        out.push((ev, line));
    }
    out
}

/// Applies a speculative generation's time floor to its formatted events.
fn settle(events: Lines, floor: Option<trace_core::TimeNs>, fixes: &[TaskFix]) -> String {
    let mut out = String::new();
    for (i, (ev, mut line)) in events.into_iter().enumerate() {
        let t = ev.time.0;
        let fixed = floor.map_or(t, |f| t.max(f.0 + 1 + i as i64));
        if fixed != t {
            line = line.replacen(&format!(" Time={t}"), &format!(" Time={fixed}"), 1);
        }
        if let Some(task) = ev.task().filter(|_| ev.kind() == EventKind::TaskEnd)
            && let Some(fix) = fixes.iter().find(|f| f.task == task.id)
        {
            let was = format!(" Parent={} Type=\"\"", TaskId::NONE);
            let now = format!(" Parent={} Type={}", fix.parent, gofmt::quote(&fix.typ));
            line = line.replacen(&was, &now, 1);
        }
        out.push_str(&line);
    }
    out
}

/// Runs every generation on its own thread (two at a time), then chains.
/// Formatted events of one generation, with the events themselves.
type Lines = Vec<(Event, String)>;

fn parallel(bytes: &[u8]) -> (String, Option<String>, Chained<Lines>) {
    let pd = ParallelDecode::new(bytes).expect("header");
    let n = pd.len();
    let mut started: Vec<Option<_>> = (0..n).map(|_| None).collect();
    std::thread::scope(|s| {
        for chunk in started.chunks_mut(1).enumerate().collect::<Vec<_>>().chunks_mut(2) {
            let handles: Vec<_> = chunk
                .iter_mut()
                .map(|(i, _)| {
                    let i = *i;
                    let pd = &pd;
                    s.spawn(move || (i, pd.run(i, collect)))
                })
                .collect();
            for (h, (_, slot)) in handles.into_iter().zip(chunk.iter_mut()) {
                slot[0] = Some(h.join().expect("no panic").1);
            }
        }
    });
    let mut chained = pd.chain(started.into_iter().flatten().collect(), collect);
    let values = std::mem::take(&mut chained.values);
    let mut out: String = values
        .into_iter()
        .enumerate()
        .map(|(i, v)| settle(v, chained.time_floors[i], &chained.task_fixes[i]))
        .collect();
    if let Some(sync) = &chained.final_sync {
        gofmt::write_event(&mut out, sync, &trace_core::EventContext { table: None, extra: &Default::default() });
        out.push('\n');
    }
    let err = chained.error.as_ref().map(|e| e.to_string());
    (out, err, chained)
}

#[test]
fn parallel_equals_sequential_on_every_committed_trace() {
    let mut multi = 0;
    let mut redone = 0;
    let mut gens = 0;
    for t in v2_traces() {
        let bytes = std::fs::read(&t).expect("readable");
        let (seq, seq_err) = sequential(&bytes);
        let (par, par_err, chained) = parallel(&bytes);
        assert_eq!(seq_err, par_err, "{}: error differs", t.display());
        if seq != par {
            let line = seq.lines().zip(par.lines()).position(|(a, b)| a != b);
            panic!("{}: streams differ at line {line:?}", t.display());
        }
        gens += chained.time_floors.len();
        redone += chained.redone.len();
        if chained.time_floors.len() > 1 {
            multi += 1;
        }
    }
    eprintln!("{gens} generations, {redone} re-run exactly");
    assert!(multi >= 10, "need multi-generation traces to exercise speculation, found {multi}");
    assert!(redone * 2 < gens, "speculation should usually be confirmed: {redone} of {gens} re-run");
}

/// The frequency, stacks and strings batches that end generation `generation`
/// of a text trace (no stacks, no strings).
fn tables(generation: u32) -> String {
    let batch = |size: u32| format!("EventBatch gen={generation} m=18446744073709551615 time=0 size={size}\n");
    format!("{}Frequency freq=15625000\n{}Stacks\n{}Strings\n", batch(5), batch(1), batch(1))
}

/// Decodes a text trace of two generations sequentially and generation by
/// generation: the same events, no error, and the second generation's
/// speculative run confirmed, not run again. Returns the events.
fn confirmed_two_generations(text: &str) -> String {
    let wire = support::textfmt::text_to_wire(text).expect("converts");
    assert!(wire.notes.is_empty(), "{:?}", wire.notes);
    let (seq, seq_err) = sequential(&wire.bytes);
    let (par, par_err, chained) = parallel(&wire.bytes);
    assert_eq!((seq_err, par_err), (None, None));
    assert_eq!(seq, par);
    assert_eq!(chained.time_floors.len(), 2);
    assert!(chained.redone.is_empty(), "generation {:?} was run again", chained.redone);
    seq
}

/// A goroutine in a mark assist when a generation ends is restated in the
/// next with the assist in flight (`GCMarkAssistActive`): the next
/// generation's prediction says so, and the speculative run is confirmed,
/// not run again.
#[test]
fn a_mark_assist_across_generations_is_predicted() {
    let text = format!(
        "Trace Go1.22
EventBatch gen=1 m=0 time=0 size=12
ProcStatus dt=1 p=0 pstatus=1
GoStatus dt=1 g=1 m=0 gstatus=2
GCMarkAssistBegin dt=1 stack=0
{t1}EventBatch gen=2 m=0 time=5 size=14
ProcStatus dt=1 p=0 pstatus=1
GoStatus dt=1 g=1 m=0 gstatus=2
GCMarkAssistActive dt=1 g=1
GCMarkAssistEnd dt=1
{t2}",
        t1 = tables(1),
        t2 = tables(2)
    );
    let seq = confirmed_two_generations(&text);
    assert!(seq.contains("RangeActive") && seq.contains("GC mark assist"), "{seq}");
}

/// A P in a syscall when a generation starts, restated first thing by the
/// thread holding it, then stopped there and started by another thread,
/// from which it is stolen later: the prediction gives it to the thread
/// that restated it, not to the one its first steal names, and the
/// speculative run is confirmed, not run again. (busy-1gb had one such
/// generation: its speculative run stuck, as the thread predicted to hold
/// the P could not start it.)
#[test]
fn a_syscall_p_restated_by_its_thread_is_predicted_there() {
    let text = format!(
        "Trace Go1.22
EventBatch gen=1 m=0 time=0 size=13
ProcStatus dt=1 p=3 pstatus=1
GoStatus dt=1 g=10 m=0 gstatus=2
GoSyscallBegin dt=1 p_seq=1 stack=0
EventBatch gen=1 m=1 time=0 size=13
ProcStatus dt=2 p=4 pstatus=1
GoStatus dt=1 g=20 m=1 gstatus=2
GoSyscallBegin dt=1 p_seq=1 stack=0
EventBatch gen=1 m=2 time=0 size=14
ProcStatus dt=3 p=5 pstatus=1
GoStatus dt=1 g=30 m=2 gstatus=2
ProcSteal dt=5 p=4 p_seq=2 m=1
{t1}EventBatch gen=2 m=0 time=20 size=17
ProcStatus dt=1 p=3 pstatus=3
GoStatus dt=1 g=10 m=0 gstatus=3
GoSyscallEnd dt=1
GoSyscallBegin dt=1 p_seq=1 stack=0
ProcStop dt=1
EventBatch gen=2 m=1 time=30 size=19
GoStatus dt=1 g=20 m=1 gstatus=3
GoSyscallEndBlocked dt=1
ProcStart dt=1 p=3 p_seq=2
GoStart dt=1 g=20 g_seq=1
GoSyscallBegin dt=1 p_seq=3 stack=0
EventBatch gen=2 m=2 time=40 size=14
ProcStatus dt=1 p=5 pstatus=1
GoStatus dt=1 g=30 m=2 gstatus=2
ProcSteal dt=1 p=3 p_seq=4 m=1
{t2}",
        t1 = tables(1),
        t2 = tables(2)
    );
    let seq = confirmed_two_generations(&text);
    // The story decodes whole: the second thread starts the P the first
    // stopped, and the third steals it from the second.
    let line = |m: i64, rest: &str| seq.lines().any(|l| l.starts_with(&format!("M={m} ")) && l.ends_with(rest));
    assert!(line(0, "ProcID=3 Running->Idle Reason=\"\""), "{seq}");
    assert!(line(1, "ProcID=3 Idle->Running Reason=\"\""), "{seq}");
    assert!(line(2, "ProcID=3 Running->Idle Reason=\"\""), "{seq}");
}
