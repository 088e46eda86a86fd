//! Building a [`Timeline`] from trace bytes: generations decoded in
//! parallel into parts, parts stitched together in order.

use trace_core::{Event, GenerationRun, ParallelDecode, Reader, TimeNs, Version};

use crate::merge::{COUNTER_RESOLUTION_NS, Merger};
use crate::model::{Thread, Timeline};
use crate::paged::Packing;
use crate::part::{GenPart, PartSizes, Retime, StackMap, Tracks};
use crate::progress::{Phase, Progress};
use std::sync::Arc;

/// Why a build produced no timeline.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The file is not a trace, or its header or first generation is unusable.
    #[error(transparent)]
    Decode(#[from] trace_core::Error),
    /// [`Progress::cancel`] was called.
    #[error("loading cancelled")]
    Cancelled,
}

/// How to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Generations on rayon's thread pool.
    Parallel,
    /// Everything on the calling thread (the reference for tests).
    Sequential,
}

/// Builds the timeline of a whole trace, generations in parallel.
///
/// Thread (M) tracks are left empty ([`Timeline::threads_built`] is false):
/// they take as much room as the P tracks and the viewer hides them until
/// asked, when [`build_threads`] makes them from the trace again.
///
/// A trace damaged part-way still builds: everything decoded before the
/// damage is kept and [`Timeline::error`] says what was lost.
pub fn build(data: &[u8], progress: &Progress) -> Result<Timeline, BuildError> {
    build_with(data, progress, Mode::Parallel)
}

/// [`build`] with a choice of [`Mode`].
pub fn build_with(data: &[u8], progress: &Progress, mode: Mode) -> Result<Timeline, BuildError> {
    build_tracks(data, progress, mode, Tracks::NoThreads)
}

/// [`build_with`] with the thread tracks too.
pub fn build_all(data: &[u8], progress: &Progress, mode: Mode) -> Result<Timeline, BuildError> {
    build_tracks(data, progress, mode, Tracks::All)
}

/// Only the thread tracks, for a timeline built without them (see
/// [`Timeline::set_threads`]).
pub fn build_threads(data: &[u8], progress: &Progress, mode: Mode) -> Result<Vec<Thread>, BuildError> {
    Ok(build_tracks(data, progress, mode, Tracks::ThreadsOnly)?.threads)
}

fn build_tracks(data: &[u8], progress: &Progress, mode: Mode, tracks: Tracks) -> Result<Timeline, BuildError> {
    progress.set_total(data.len() as u64);
    progress.set_phase(Phase::Scanning);
    let version = Version::from_header(data)?;
    let built =
        if version.is_v1() { build_v1(data, progress, mode, tracks) } else { build_v2(data, progress, mode, tracks) };
    // What the build freed on threads that did not allocate it, cancelled
    // or not.
    crate::reclaim::everywhere();
    let mut timeline = built?;
    timeline.threads_built = tracks != Tracks::NoThreads;
    progress.set_done(data.len() as u64);
    progress.set_phase(Phase::Done);
    Ok(timeline)
}

/// Collects generation `index`'s part, with the chain's time `floor` for
/// it if known (see [`GenPart::new`]) and its stacks' trace-wide numbers.
fn collect<'a>(
    run: &mut GenerationRun<'a>,
    index: usize,
    floor: Option<TimeNs>,
    (stacks, tracks, sizes): What,
) -> GenPart<'a> {
    let unit = run.context().table.map_or(0, |t| crate::part::time_unit(t.ns_per_tick));
    let mut part = GenPart::new(COUNTER_RESOLUTION_NS, index, floor, stacks)
        .with_tracks(tracks)
        .with_sizes(sizes)
        .with_time_unit(unit);
    let mut ev = Event::EMPTY;
    let mut ord = 0u32;
    // A decode error is recorded in the run and reported by the chain.
    while let Ok(true) = run.next_into(&mut ev) {
        part.add(&ev, &run.context(), ord);
        ord = ord.wrapping_add(1);
    }
    part.end_offset = run.generation().end_offset;
    part
}

/// What collecting a generation needs: its stack map, which tracks, and
/// the sizes of the part merged last (to reserve as much).
type What = (Option<Arc<StackMap>>, Tracks, PartSizes);

/// What collecting generation `i` needs.
fn what(stacks: &[Arc<StackMap>], i: usize, tracks: Tracks, sizes: PartSizes) -> What {
    (stacks.get(i).cloned(), tracks, sizes)
}

/// Generations collecting or waiting to be merged beyond one per thread:
/// one. With none, a thread waited now and then for the merge (which runs
/// on the pool too), and the cores were 1.87 busy on average; one more part
/// in flight took busy-1gb from 13.6-14.6 s to 13.2-13.3 s for 15-25 MiB
/// more at the peak (a part in flight holds about 50 MB of it, but the
/// peak is not where every part is at its largest). Two took another
/// 0.3 s for another 40 MiB then; in session 15, with leaner parts, no
/// time at all for 35 MiB.
const IN_FLIGHT_EXTRA: usize = 1;

/// Events in each part of a v1 trace (see [`build_v1`]): 4 M, a few
/// tens of MB of trace, about what a busy program's generation holds.
const V1_PART_EVENTS: u32 = 1 << 22;

fn build_v2(data: &[u8], progress: &Progress, mode: Mode, tracks: Tracks) -> Result<Timeline, BuildError> {
    let pd = ParallelDecode::new(data)?;
    progress.set_phase(Phase::Decoding);
    let mut chainer = pd.chainer();
    let parallel = mode == Mode::Parallel;
    let mut merger = Merger::new(parallel, data.len() as u64);
    // Each generation's stacks, numbered trace-wide in generation order
    // before it is collected (so the numbering is the same however the
    // generations are spread over threads).
    let mut stacks: Vec<Arc<StackMap>> = Vec::with_capacity(pd.len());
    let mut cancelled = false;
    // In parallel, a generation starts as soon as one finishes, while the
    // calling thread interns the next generations' tables, feeds finished
    // parts to the chain in order and merges the confirmed ones into the
    // tracks (by shard, on the pool).
    let limit = rayon::current_num_threads().max(1) + IN_FLIGHT_EXTRA;
    crate::ordered::in_order(
        pd.len(),
        limit,
        parallel,
        &mut (&mut merger, &mut stacks, &mut chainer, &mut cancelled),
        |(merger, stacks, _, _), i| {
            let built = pd.generation(i);
            let map = built.as_ref().map(|g| merger.intern_table(&g.table)).unwrap_or_default();
            stacks.push(Arc::new(map));
            (built, what(stacks, i, tracks, merger.part_sizes()))
        },
        |i, (built, what)| {
            // The parts merged since this thread last collected were freed
            // on others.
            crate::reclaim::here();
            pd.run_generation(i, built, |r| collect(r, i, None, what))
        },
        |(merger, stacks, chainer, cancelled), i, started| {
            let sizes = merger.part_sizes();
            chainer.feed(started, |r| collect(r, i, None, what(stacks, i, tracks, sizes)));
            // Parts are collected before the chain knows each one's time
            // floor; `confirm` applies it.
            let confirmed: Vec<_> = chainer
                .take_confirmed()
                .into_iter()
                .map(|(p, f, _)| confirm(&pd, p, f, |i| what(stacks, i, tracks, sizes)))
                .collect();
            if let Some((p, _)) = confirmed.last() {
                progress.set_done(p.end_offset);
            }
            merger.merge(confirmed);
            **cancelled = progress.is_cancelled();
            !**cancelled && !chainer.is_stopped()
        },
    );
    if cancelled {
        return Err(BuildError::Cancelled);
    }
    progress.set_phase(Phase::Finishing);
    let mut chained = chainer.finish();
    let rest: Vec<_> = chained
        .values
        .drain(..)
        .zip(chained.time_floors.drain(..))
        .map(|(p, f)| confirm(&pd, p, f, |i| what(&stacks, i, tracks, merger.part_sizes())))
        .collect();
    merger.merge(rest);
    Ok(merger.finish(chained.error, data.len() as u64))
}

/// A confirmed part with what its time floor changes: parts are collected
/// before the chain knows their floor, which moves the times of a
/// generation's first events; the rare part where it moves more is
/// collected again with it.
fn confirm<'a>(
    pd: &ParallelDecode<'a>,
    mut part: GenPart<'a>,
    floor: Option<TimeNs>,
    what: impl FnOnce(usize) -> What,
) -> (GenPart<'a>, Option<Retime>) {
    let floor = hooks::shift_floor(floor);
    if part.needs_floor(floor) || hooks::force_recollect() {
        let (i, what) = (part.index, what(part.index));
        // Freed before the new one grows: both at once raised the peak.
        drop(part);
        (pd.run(i, |r| collect(r, i, floor, what)).into_value(), None)
    } else {
        let retime = part.take_retime(floor);
        hooks::count_retime(retime.is_some());
        (part, retime)
    }
}

fn build_v1(data: &[u8], progress: &Progress, mode: Mode, tracks: Tracks) -> Result<Timeline, BuildError> {
    let mut reader = Reader::new(data)?;
    progress.set_phase(Phase::Decoding);
    // The merges run beside the fold, which takes longer: they have the
    // time to search the goroutine tracks for repeats (a busy program's
    // long-lived goroutines, stitched across parts, repeat their spans:
    // busy-v1-200mb's goroutine tracks take 86 MB without, 71 MB with).
    let mut merger = Merger::new(mode == Mode::Parallel, data.len() as u64).with_goroutine_packing(Packing::Matched);
    // A v1 trace is one generation whose tables are all known before its
    // first event: with its stacks numbered trace-wide up front, each
    // goroutine is finished as it exits instead of kept, growing, to the end.
    let stacks = reader.context().table.map(|t| Arc::new(merger.intern_table(t)));
    // Its events are folded into parts of a few million each, as if they
    // were generations without restatements: each part is merged (its
    // tracks packed) while the next is folded, instead of one part
    // holding the whole trace's pieces unpacked until the end.
    let mut merged: Option<GenPart<'_>> = None;
    let mut error = None;
    for index in 0.. {
        let mut part = GenPart::new(COUNTER_RESOLUTION_NS, index, None, stacks.clone()).with_tracks(tracks);
        let (reader, part_ref, merger, last) = (&mut reader, &mut part, &mut merger, merged.take());
        let mut fill = move || fill_v1(reader, part_ref, progress);
        let merge = move || {
            if let Some(p) = last {
                hooks::count_v1_part();
                merger.merge(vec![(p, None)]);
            }
        };
        let filled = match mode {
            Mode::Parallel => rayon::join(fill, merge).0,
            Mode::Sequential => {
                merge();
                fill()
            }
        };
        merged = Some(part);
        match filled {
            Filled::More => {}
            Filled::End => break,
            Filled::Error(e) => {
                error = Some(e);
                break;
            }
            Filled::Cancelled => return Err(BuildError::Cancelled),
        }
    }
    progress.set_phase(Phase::Finishing);
    if let Some(p) = merged {
        hooks::count_v1_part();
        merger.merge(vec![(p, None)]);
    }
    let mut timeline = merger.finish(error, data.len() as u64);
    // One generation, whatever the parts it was folded in.
    timeline.generations = 1;
    Ok(timeline)
}

/// How a v1 part's folding stopped.
enum Filled {
    /// At [`hooks::v1_part_events`] events: another part follows.
    More,
    End,
    /// At a decoding error, after the events before it.
    Error(trace_core::Error),
    Cancelled,
}

/// Folds the reader's next events into `part`, up to a part's worth.
fn fill_v1<'a>(reader: &mut Reader<'a>, part: &mut GenPart<'a>, progress: &Progress) -> Filled {
    let mut ev = Event::EMPTY;
    let limit = hooks::v1_part_events();
    let mut ord = 0u32;
    // Not right after a goroutine starts: the label naming a GC mark
    // worker's mode comes next, and goes on the span it starts.
    let mut started = false;
    while ord < limit || started {
        match reader.next_into(&mut ev) {
            Ok(true) => {}
            Ok(false) => return Filled::End,
            Err(e) => return Filled::Error(e),
        }
        part.add(&ev, &reader.context(), ord);
        started = matches!(ev.goroutine_states(), Some((_, Some(trace_core::GoState::Running))));
        // Where a merge is in the file, for growing the trace-wide
        // vectors ahead: a v1 trace's batches are laid out about in time
        // order.
        part.end_offset = part.end_offset.max(ev.offset);
        ord = ord.saturating_add(1);
        if ord.is_multiple_of(1 << 20) {
            if progress.is_cancelled() {
                return Filled::Cancelled;
            }
            progress.set_done(ev.offset);
        }
    }
    Filled::More
}

/// Switches the tests below use to check the time repair; fixed outside
/// tests.
mod hooks {
    #[cfg(test)]
    use std::cell::Cell;

    #[cfg(test)]
    thread_local! {
        pub(super) static FORCE_RECOLLECT: Cell<bool> = const { Cell::new(false) };
        pub(super) static RETIMES: Cell<usize> = const { Cell::new(0) };
        pub(super) static FLOOR_SHIFT: Cell<i64> = const { Cell::new(0) };
        pub(super) static V1_PART_EVENTS: Cell<u32> = const { Cell::new(super::V1_PART_EVENTS) };
        pub(super) static V1_PARTS: Cell<usize> = const { Cell::new(0) };
    }

    /// The chain's time floor, raised by a test to move more of each
    /// generation than the traces it has would.
    pub(super) fn shift_floor(floor: Option<trace_core::TimeNs>) -> Option<trace_core::TimeNs> {
        #[cfg(test)]
        return floor.map(|f| trace_core::TimeNs(f.0.saturating_add(FLOOR_SHIFT.get())));
        #[cfg(not(test))]
        floor
    }

    /// Events in each part of a v1 trace; in tests, as few as a test asks
    /// for, and when fuzzing, a few hundred, so small traces are cut many
    /// times.
    pub(super) fn v1_part_events() -> u32 {
        #[cfg(test)]
        return V1_PART_EVENTS.get();
        #[cfg(all(fuzzing, not(test)))]
        return 300;
        #[cfg(not(any(test, fuzzing)))]
        super::V1_PART_EVENTS
    }

    /// Counts the parts of v1 traces merged, in tests.
    pub(super) fn count_v1_part() {
        #[cfg(test)]
        V1_PARTS.set(V1_PARTS.get() + 1);
    }

    /// Whether a test asked for every part with a floor to be collected
    /// again with it (the slow, direct way) instead of retimed.
    pub(super) fn force_recollect() -> bool {
        #[cfg(test)]
        return FORCE_RECOLLECT.get();
        #[cfg(not(test))]
        false
    }

    /// Counts retimed parts, in tests.
    pub(super) fn count_retime(_some: bool) {
        #[cfg(test)]
        RETIMES.set(RETIMES.get() + usize::from(_some));
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use super::hooks::{FLOOR_SHIFT, FORCE_RECOLLECT, RETIMES};
    use super::*;

    fn digest(tl: &Timeline) -> String {
        let mut s = format!("{} {} {}\n", tl.start_ns, tl.end_ns, tl.event_count);
        for g in &tl.goroutines {
            let _ = writeln!(
                s,
                "g{} {:?} {:?} {:?} {:?}",
                g.id.0,
                g.created_ns(),
                g.exited_ns(),
                g.start_fn(),
                g.track.spans()
            );
        }
        for p in &tl.procs {
            let _ = writeln!(s, "p{} {:?}", p.id.0, p.track.spans());
        }
        for t in &tl.threads {
            let _ = writeln!(s, "m{} {:?}", t.id.0, t.track.spans());
        }
        let c = &tl.counters;
        let _ = write!(s, "{:?}{:?}{:?}{:?}{:?}{:?}", tl.gc, tl.stw, tl.gc_work, c.heap_alloc, c.running, c.blocked);
        let _ = write!(s, "{:?}{:?}{:?}{:?}", tl.tasks, tl.regions, tl.logs, tl.cpu_samples);
        s
    }

    /// The committed traces.
    fn testdata_traces() -> Vec<std::path::PathBuf> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces");
        let mut traces = Vec::new();
        for dir in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            for f in std::fs::read_dir(dir.path()).into_iter().flatten().flatten() {
                if f.path().extension().is_some_and(|e| e == "trace") {
                    traces.push(f.path());
                }
            }
        }
        traces.sort();
        assert!(traces.len() >= 90, "{} traces under {}", traces.len(), root.display());
        traces
    }

    /// Go's time repair across generation boundaries, applied to a part
    /// after the fact ([`Retime`]), gives what collecting the generation
    /// again with its time floor gives: with the traces' own floors, and
    /// with floors 100 ms later, which move far more of each generation
    /// (goroutines finished in it among them: `genchurn` has some).
    #[test]
    fn time_repair_after_the_fact_equals_collecting_with_the_floor() {
        let restitched = || crate::shard::hooks::RESTITCHED.load(std::sync::atomic::Ordering::Relaxed);
        for shift_ns in [0, 100_000_000] {
            RETIMES.set(0);
            FLOOR_SHIFT.set(shift_ns);
            let restitched_before = restitched();
            for path in &testdata_traces() {
                let bytes = std::fs::read(path).unwrap_or_default();
                let build = |force: bool| {
                    FORCE_RECOLLECT.set(force);
                    let tl = build_all(&bytes, &Progress::default(), Mode::Parallel);
                    FORCE_RECOLLECT.set(false);
                    tl.map(|tl| digest(&tl)).map_err(|e| e.to_string())
                };
                assert_eq!(build(false), build(true), "{} shifted {shift_ns} ns", path.display());
            }
            FLOOR_SHIFT.set(0);
            assert!(RETIMES.get() >= 10, "only {} parts were retimed", RETIMES.get());
            // Goroutines finished before the floor was known, then moved by it.
            let n = restitched() - restitched_before;
            if shift_ns > 0 {
                assert!(n >= 100, "only {n} goroutines finished early were moved by a floor");
            }
        }
    }

    /// Goroutines finished where their generation was collected
    /// ([`crate::finished::Finished`]) come out as stitched ones do. The first
    /// events' times are kept for far fewer events than in real builds, so
    /// small traces have parts collected again with their floor too.
    #[test]
    fn goroutines_finished_early_equal_goroutines_stitched() {
        use crate::part::hooks::{EARLY_EVENTS, FINISH_EARLY, FINISHED};
        let mut total = 0;
        for path in testdata_traces() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let build = |early: bool| {
                FINISH_EARLY.set(early);
                let tl = build_all(&bytes, &Progress::default(), Mode::Sequential);
                FINISH_EARLY.set(true);
                tl.map(|tl| digest(&tl)).map_err(|e| e.to_string())
            };
            EARLY_EVENTS.set(64);
            FINISHED.set(0);
            let (with, without) = (build(true), build(false));
            total += FINISHED.get();
            EARLY_EVENTS.set(crate::part::EARLY_EVENTS);
            assert_eq!(with, without, "{}", path.display());
        }
        assert!(total >= 1000, "only {total} goroutines were finished early");
    }

    /// Goroutines kept small in a part (woken after a restatement, or
    /// ended there though made before: see [`crate::pieces`]) come out as
    /// the pieces they stand for, in parallel builds too. v1 traces are
    /// cut in parts of 300 events, so many goroutines end in a part they
    /// were not made in.
    #[test]
    fn goroutines_kept_small_equal_pieces() {
        use crate::pieces::hooks::{ENDED, SMALL, WOKEN};
        let (mut woken, mut ended) = (0, 0);
        hooks::V1_PART_EVENTS.set(300);
        for path in testdata_traces() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let build = |small: bool, mode: Mode| {
                SMALL.set(small);
                let tl = build_all(&bytes, &Progress::default(), mode);
                SMALL.set(true);
                tl.map(|tl| digest(&tl)).map_err(|e| e.to_string())
            };
            WOKEN.set(0);
            ENDED.set(0);
            let with = build(true, Mode::Sequential);
            (woken, ended) = (woken + WOKEN.get(), ended + ENDED.get());
            assert_eq!(with, build(false, Mode::Sequential), "{}", path.display());
            assert_eq!(with, build(true, Mode::Parallel), "{} in parallel", path.display());
        }
        hooks::V1_PART_EVENTS.set(super::V1_PART_EVENTS);
        assert!(woken >= 200 && ended >= 5000, "only {woken} goroutines woken and {ended} ended");
    }

    /// A v1 trace folded in parts of a few events each comes out as folded
    /// in one part.
    #[test]
    fn a_v1_trace_cut_into_parts_equals_it_whole() {
        use hooks::{V1_PART_EVENTS, V1_PARTS};
        let mut cut = 0;
        for path in testdata_traces() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            if !Version::from_header(&bytes).is_ok_and(|v| v.is_v1()) {
                continue;
            }
            let build = |events: u32, mode: Mode| {
                V1_PART_EVENTS.set(events);
                let tl = build_all(&bytes, &Progress::default(), mode);
                V1_PART_EVENTS.set(super::V1_PART_EVENTS);
                tl.map(|tl| digest(&tl)).map_err(|e| e.to_string())
            };
            V1_PARTS.set(0);
            let whole = build(u32::MAX, Mode::Sequential);
            assert_eq!(V1_PARTS.get(), 1, "{}", path.display());
            for (events, mode) in [(50, Mode::Sequential), (333, Mode::Parallel)] {
                V1_PARTS.set(0);
                let got = build(events, mode);
                // (Parallel merges run on the pool, which counts on its own threads.)
                if mode == Mode::Sequential {
                    assert!(V1_PARTS.get() >= 2, "{}: {} parts", path.display(), V1_PARTS.get());
                }
                if got != whole {
                    let (a, b) = (got.unwrap_or_else(|e| e), whole.clone().unwrap_or_else(|e| e));
                    let (x, y) = a.lines().zip(b.lines()).find(|(x, y)| x != y).unwrap_or_default();
                    panic!("{} in parts of {events}: got\n{x}\nwant\n{y}", path.display());
                }
            }
            cut += 1;
        }
        assert!(cut >= 10, "only {cut} v1 traces");
    }

    /// A v1 trace's goroutine tracks, those stitched across its parts too,
    /// are packed with repeats: its merges have the time.
    #[test]
    fn a_v1_traces_goroutine_tracks_pack_with_repeats() {
        use crate::paged::Packing;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces/go1.21/manyg.trace");
        let bytes = std::fs::read(root).unwrap_or_default();
        hooks::V1_PART_EVENTS.set(500);
        let tl = build_all(&bytes, &Progress::default(), Mode::Sequential);
        hooks::V1_PART_EVENTS.set(super::V1_PART_EVENTS);
        let tl = tl.unwrap_or_else(|e| panic!("manyg.trace: {e}"));
        let stored: Vec<Packing> = tl.goroutines.iter().filter_map(|g| g.track.store().map(|s| s.packing())).collect();
        assert!(stored.len() > 1000, "{} goroutines stored", stored.len());
        assert!(stored.iter().all(|&p| p == Packing::Matched), "{:?}", stored.iter().find(|&&p| p != Packing::Matched));
    }

    /// Goroutines finished in the generation that started them go to a
    /// store that searches for repeats (their records repeat runs of
    /// their neighbours' bytes); P tracks and the goroutine tracks
    /// stitched across generations to stores that only Huffman-code.
    #[test]
    fn short_goroutines_pack_with_repeats_and_long_tracks_without() {
        use crate::paged::Packing;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces/go1.27/manyg.trace");
        let bytes = std::fs::read(root).unwrap_or_default();
        let tl = match build_all(&bytes, &Progress::default(), Mode::Sequential) {
            Ok(tl) => tl,
            Err(e) => panic!("manyg.trace: {e}"),
        };
        let packing_of = |t: &crate::Track| t.store().map(|s| s.packing());
        let count = |p: Packing| tl.goroutines.iter().filter(|g| packing_of(&g.track) == Some(p)).count();
        let (matched, entropy) = (count(Packing::Matched), count(Packing::Entropy));
        assert!(matched > 1000, "manyg's goroutines finished early are packed with repeats: {matched}");
        assert!(entropy >= 5, "those stitched are not: {entropy}");
        for p in &tl.procs {
            assert_eq!(packing_of(&p.track), Some(Packing::Entropy), "P{}", p.id.0);
        }
    }
}
