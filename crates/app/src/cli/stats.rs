//! `gotv stats`: load a trace and summarise it.
//!
//! By default the whole timeline is built (as the viewer does) and the
//! summary covers goroutines, GC, the longest scheduling waits, load time
//! per phase and memory; `--decode-only` only decodes events, to measure
//! the decoder alone.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use timeline::analysis::{Filter, RunnableWait, longest_runnable_waits};
use timeline::{Mode, Phase, Progress, Timeline};

use trace_core::spec::ev;
use trace_core::{Event, EventContext, EventKind, GenerationRun, Reader};

use crate::trace_file::TraceFile;

/// Per-kind event counts and a checksum proving strings and stacks were read.
#[derive(Clone, Debug, Default)]
struct Tally {
    counts: [u64; EventKind::ALL.len()],
    first_ns: Option<i64>,
    last_ns: i64,
    touched: u64,
}

impl Tally {
    /// Counts the event and resolves what Go's reader benchmark resolves
    /// (testdata/bench/goreader): every frame's function and file of the
    /// event's stack and of a state transition's stack, and every string an
    /// event names (reasons, labels, task and region types, log text).
    #[inline]
    fn add(&mut self, ev: &Event, ctx: &EventContext<'_, '_>) {
        let kind = ev.kind();
        if let Some(c) = self.counts.get_mut(kind as usize) {
            *c += 1;
        }
        if self.first_ns.is_none() {
            self.first_ns = Some(ev.time.0);
        }
        self.last_ns = ev.time.0;
        let Some(t) = ctx.table else { return };
        self.touch_stack(t, ev.stack());
        let s = |id: u64| t.string(trace_core::StringId(id)).map_or(0, |s| s.len() as u64);
        self.touched += match kind {
            EventKind::Metric => ev.metric().map_or(0, |m| m.name.len() as u64),
            EventKind::Label => s(ev.args[0]),
            EventKind::RangeBegin | EventKind::RangeActive | EventKind::RangeEnd => match ev.typ {
                ev::STW_BEGIN | ev::STW_END => s(ev.args[0]),
                _ => 0,
            },
            EventKind::TaskBegin | EventKind::TaskEnd => ev.task().map_or(0, |task| ctx.str_ref(task.typ).len() as u64),
            EventKind::RegionBegin | EventKind::RegionEnd => s(ev.args[1]),
            EventKind::Log => s(ev.args[1]) + s(ev.args[2]),
            EventKind::StateTransition => match ev.typ {
                ev::GO_BLOCK | ev::GO_STOP => s(ev.args[0]),
                ev::GO_CREATE | ev::GO_CREATE_BLOCKED => {
                    self.touch_stack(t, trace_core::StackId(ev.args[1]));
                    0
                }
                _ => 0,
            },
            _ => 0,
        };
    }

    #[inline]
    fn touch_stack(&mut self, t: &trace_core::EvTable<'_>, stack: trace_core::StackId) {
        if stack.0 == 0 {
            return;
        }
        for f in t.resolved_frames(stack) {
            self.touched += (f.func.len() + f.file.len()) as u64 + (f.line & 1);
        }
    }

    fn merge(&mut self, o: &Tally) {
        for (a, b) in self.counts.iter_mut().zip(o.counts) {
            *a += b;
        }
        if self.first_ns.is_none() {
            self.first_ns = o.first_ns;
        }
        if o.first_ns.is_some() {
            self.last_ns = o.last_ns;
        }
        self.touched += o.touched;
    }

    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

fn tally_run(run: &mut GenerationRun<'_>) -> Tally {
    let mut t = Tally::default();
    let mut ev = Event::EMPTY;
    while let Ok(true) = run.next_into(&mut ev) {
        t.add(&ev, &run.context());
    }
    t
}

/// Summarises a trace: builds the timeline, or with `decode_only` only
/// decodes every event (resolving strings and stacks) and prints counts.
pub fn run(path: &Path, decode_only: bool, sequential: bool, json: bool) -> anyhow::Result<ExitCode> {
    if decode_only { run_decode(path, sequential, json) } else { run_build(path, sequential, json) }
}

/// `--decode-only`: decodes every event and prints counts and speed.
fn run_decode(path: &Path, sequential: bool, json: bool) -> anyhow::Result<ExitCode> {
    let file = TraceFile::open(path)?;
    let bytes = file.bytes();
    let sampler = crate::mem::PeakAnon::start();
    let start = Instant::now();
    let version = trace_core::Version::from_header(bytes)?;
    let (tally, error, redone) = if sequential || version.is_v1() {
        let mut reader = Reader::new(bytes)?;
        let mut t = Tally::default();
        let mut ev = Event::EMPTY;
        let error = loop {
            match reader.next_into(&mut ev) {
                Ok(true) => t.add(&ev, &reader.context()),
                Ok(false) => break None,
                Err(e) => break Some(e),
            }
        };
        (t, error, 0)
    } else {
        let chained = timeline::decode::decode_parallel(bytes, tally_run)?;
        let mut t = Tally::default();
        for v in &chained.values {
            t.merge(v);
        }
        // Task ends whose task began in an earlier generation: the chain
        // supplies their type, which the speculative run could not know.
        for fix in chained.task_fixes.iter().flatten() {
            t.touched += fix.typ.len() as u64;
        }
        if let Some(s) = chained.final_sync {
            t.counts[EventKind::Sync as usize] += 1;
            t.last_ns = s.time.0;
        }
        (t, chained.error, chained.redone.len())
    };
    let secs = start.elapsed().as_secs_f64();
    let peak_anon = sampler.finish();
    let mb = bytes.len() as f64 / 1e6;
    let total = tally.total();
    let generations = tally.counts[EventKind::Sync as usize].saturating_sub(1);
    let duration_ns = tally.last_ns - tally.first_ns.unwrap_or(0);
    if json {
        let mut kinds = serde_json::Map::new();
        for (k, n) in EventKind::ALL.iter().zip(tally.counts) {
            if n > 0 {
                kinds.insert(k.name().into(), n.into());
            }
        }
        let v = serde_json::json!({
            "file": path.display().to_string(),
            "version": format!("go 1.{}", version.minor()),
            "bytes": bytes.len(),
            "events": total,
            "generations": generations,
            "generations_redecoded": redone,
            "duration_ns": duration_ns,
            "kinds": kinds,
            "decode_seconds": secs,
            "mb_per_second": mb / secs.max(1e-9),
            "peak_anon_rss_bytes": peak_anon,
            "checksum": tally.touched,
            "error": error.as_ref().map(|e| e.to_string()),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("file:        {}", path.display());
        println!("format:      go 1.{} trace", version.minor());
        println!("bytes:       {}", bytes.len());
        println!("events:      {total}");
        println!("generations: {generations} ({redone} decoded twice)");
        println!("duration:    {:.6} s", duration_ns as f64 / 1e9);
        for (k, n) in EventKind::ALL.iter().zip(tally.counts) {
            if n > 0 {
                println!("  {:<16} {n}", k.name());
            }
        }
        println!("decode:      {secs:.3} s, {:.1} MB/s (checksum {})", mb / secs.max(1e-9), tally.touched);
        println!(
            "memory:      {:.1} MB peak anonymous RSS ({:.1}% of the file; the mapping is not counted)",
            peak_anon as f64 / 1e6,
            peak_anon as f64 * 100.0 / bytes.len().max(1) as f64
        );
        if let Some(e) = &error {
            println!("error:       {e}");
        }
    }
    Ok(if error.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// How many scheduling waits to list.
const WAITS: usize = 10;

/// Wall time of each build phase, as seen by polling the build's progress.
#[derive(Clone, Debug, Default)]
struct PhaseTimes {
    /// (phase, seconds), in the order entered.
    phases: Vec<(Phase, f64)>,
}

/// Runs `f` while a second thread notes when `progress` changes phase.
fn timed_phases<T>(progress: &Progress, f: impl FnOnce() -> T) -> (T, PhaseTimes, f64) {
    let start = Instant::now();
    let value = f();
    let end = Instant::now();
    // The build notes when it enters each phase (polling from another
    // thread missed phases of small traces).
    let seen = progress.phase_starts();
    let total = end.duration_since(start).as_secs_f64();
    let mut times = PhaseTimes::default();
    for (i, (phase, at)) in seen.iter().enumerate() {
        if *phase == Phase::Done {
            break;
        }
        let until = seen.get(i + 1).map_or(end, |n| n.1);
        let from = if i == 0 { start } else { *at };
        times.phases.push((*phase, until.saturating_duration_since(from).as_secs_f64()));
    }
    (value, times, total)
}

/// Default mode: builds the timeline and prints its summary.
fn run_build(path: &Path, sequential: bool, json: bool) -> anyhow::Result<ExitCode> {
    let file = TraceFile::open(path)?;
    let bytes = file.bytes();
    let version = trace_core::Version::from_header(bytes)?;
    let sampler = crate::mem::PeakAnon::start();
    let progress = Progress::default();
    let mode = if sequential { Mode::Sequential } else { Mode::Parallel };
    let (tl, phases, secs) = timed_phases(&progress, || timeline::build_with(bytes, &progress, mode));
    let tl = tl?;
    let peak_anon = sampler.finish();
    let waits = longest_runnable_waits(&tl, &Filter::all(), WAITS);
    let summary = Summary { path, version: version.minor(), tl: &tl, waits, phases, secs, peak_anon };
    if json {
        println!("{}", serde_json::to_string_pretty(&summary.json())?);
    } else {
        summary.print();
    }
    Ok(if tl.error.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// What `gotv stats` reports after a build.
struct Summary<'a> {
    path: &'a Path,
    version: u32,
    tl: &'a Timeline,
    waits: Vec<RunnableWait>,
    phases: PhaseTimes,
    secs: f64,
    peak_anon: u64,
}

impl Summary<'_> {
    fn stw_total_ns(&self) -> i64 {
        self.tl.stw.iter().map(|r| r.duration_ns()).sum()
    }

    fn label(&self, w: &RunnableWait) -> String {
        self.tl.goroutine(w.g).map_or_else(|| format!("g{}", w.g.0), |g| self.tl.goroutine_label(g))
    }

    fn json(&self) -> serde_json::Value {
        let tl = self.tl;
        let waits: Vec<serde_json::Value> = self
            .waits
            .iter()
            .map(|w| {
                serde_json::json!({
                    "goroutine": w.g.0,
                    "label": self.label(w),
                    "state": w.state.name(),
                    "duration_ns": w.duration_ns(),
                    "start_ns": w.start_ns - tl.start_ns,
                    "woken_by": w.woken_by.map(|g| g.0),
                })
            })
            .collect();
        let mut phases = serde_json::Map::new();
        for (p, s) in &self.phases.phases {
            phases.insert(p.name().into(), (*s).into());
        }
        serde_json::json!({
            "file": self.path.display().to_string(),
            "version": format!("go 1.{}", self.version),
            "bytes": tl.file_bytes,
            "events": tl.event_count,
            "generations": tl.generations,
            "duration_ns": tl.end_ns - tl.start_ns,
            "goroutines": tl.goroutines.len(),
            "procs": tl.procs.len(),
            "threads": tl.threads.len(),
            "spans": tl.span_count(),
            "gc_cycles": tl.gc.len(),
            "stw_pauses": tl.stw.len(),
            "stw_total_ns": self.stw_total_ns(),
            "longest_scheduling_waits": waits,
            "load_seconds": self.secs,
            "load_phase_seconds": phases,
            "mb_per_second": tl.file_bytes as f64 / 1e6 / self.secs.max(1e-9),
            "timeline_heap_bytes": tl.heap_bytes(),
            "peak_anon_rss_bytes": self.peak_anon,
            "error": tl.error.as_ref().map(|e| e.to_string()),
        })
    }

    fn print(&self) {
        let tl = self.tl;
        let ms = |ns: i64| ns as f64 / 1e6;
        println!("file:        {}", self.path.display());
        println!("format:      go 1.{} trace", self.version);
        println!("bytes:       {}", tl.file_bytes);
        println!("events:      {}", tl.event_count);
        println!("generations: {}", tl.generations);
        println!("duration:    {:.6} s", (tl.end_ns - tl.start_ns) as f64 / 1e9);
        println!("goroutines:  {}", tl.goroutines.len());
        println!("procs:       {}", tl.procs.len());
        println!("threads:     {}", tl.threads.len());
        println!("spans:       {}", tl.span_count());
        let longest = tl.stw.iter().map(|r| r.duration_ns()).max().unwrap_or(0);
        println!(
            "GC:          {} cycles; {} stop-the-world pauses, {:.3} ms in total, longest {:.3} ms",
            tl.gc.len(),
            tl.stw.len(),
            ms(self.stw_total_ns()),
            ms(longest)
        );
        let phases: Vec<String> = self.phases.phases.iter().map(|(p, s)| format!("{} {s:.3} s", p.name())).collect();
        println!(
            "load:        {:.3} s, {:.1} MB/s ({})",
            self.secs,
            tl.file_bytes as f64 / 1e6 / self.secs.max(1e-9),
            phases.join(", ")
        );
        println!("timeline:    {:.1} MB on the heap", tl.heap_bytes() as f64 / 1e6);
        println!(
            "memory:      {:.1} MB peak anonymous RSS ({:.1}% of the file; the mapping is not counted)",
            self.peak_anon as f64 / 1e6,
            self.peak_anon as f64 * 100.0 / tl.file_bytes.max(1) as f64
        );
        println!("longest scheduling waits (runnable, waiting for a P):");
        for w in &self.waits {
            println!(
                "  {:>10.3} ms  {:<40} {} at {:.6} s",
                ms(w.duration_ns()),
                self.label(w),
                w.state.name(),
                (w.start_ns - tl.start_ns) as f64 / 1e9
            );
        }
        if let Some(e) = &tl.error {
            println!("error:       {e}");
        }
    }
}
