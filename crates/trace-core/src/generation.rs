//! Generations: finding them by their batch headers, and decoding the
//! structural parts of one (strings, stacks, CPU samples, clock data).

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::ids::{GoroutineId, ProcId, StackId, StringId, ThreadId, TimeNs};
use crate::spec::{self, ev, experiment};
use crate::table::IdTable;
use crate::version::Version;
use crate::wire::{Batch, Cursor, read_batch};

/// The batches of one generation, found by scanning batch headers only.
#[derive(Clone, Debug)]
pub struct GenerationSpan<'a> {
    /// The generation number written by the runtime.
    pub generation: u64,
    /// Every batch of the generation, in file order.
    pub batches: Vec<Batch<'a>>,
    /// File offset of the first batch.
    pub start_offset: u64,
    /// File offset just past the last batch.
    pub end_offset: u64,
}

/// The result of scanning a whole trace's batch headers.
#[derive(Clone, Debug)]
pub struct GenerationIndex<'a> {
    /// Format version from the header.
    pub version: Version,
    /// Generations that were found complete enough to decode, in order.
    pub generations: Vec<GenerationSpan<'a>>,
    /// The error that ended the scan early, reported after the generations.
    pub tail_error: Option<Error>,
}

impl<'a> GenerationIndex<'a> {
    /// Scans the batch headers of a v2 trace. `data` is the whole file.
    ///
    /// Follows Go's rules for where a generation ends and what a read error
    /// costs: before Go 1.26 a generation ends where the next one's first
    /// batch begins and an error after a generation's first batch keeps what
    /// was read; from Go 1.26 a generation ends at its end-of-generation
    /// marker and an incomplete one is dropped.
    pub fn scan(data: &'a [u8], version: Version) -> Self {
        let body = data.get(crate::version::HEADER_LEN..).unwrap_or_default();
        let mut cur = Cursor::new(body, crate::version::HEADER_LEN as u64);
        let mut generations = Vec::new();
        let tail_error = if version >= Version::Go126 {
            scan_with_markers(&mut cur, &mut generations)
        } else {
            scan_with_spill(&mut cur, &mut generations, version >= Version::Go125)
        };
        let tail_error = tail_error.map(|e| describe_truncation(e, &generations, version, data.len()));
        GenerationIndex { version, generations, tail_error }
    }
}

/// When the generation cut short by a truncation fails to decode, the
/// truncation is the real cause: say so, keeping the failure as detail.
pub(crate) fn blame_truncation(e: Error, tail: Option<&Error>) -> Error {
    match tail {
        Some(t) if t.kind == crate::ErrorKind::Truncated && e.kind != crate::ErrorKind::Truncated => Error {
            message: format!("{}; decoding what was kept failed at byte {}: {}", t.message, e.offset, e.message),
            ..t.clone()
        },
        _ => e,
    }
}

/// Says what a truncation cost: which generation, how much of the file is kept.
fn describe_truncation(mut e: Error, generations: &[GenerationSpan<'_>], version: Version, len: usize) -> Error {
    if e.kind != crate::ErrorKind::Truncated {
        return e;
    }
    // Before Go 1.26 the cut generation is kept as far as it was read.
    let (n, kept) = if version >= Version::Go126 {
        (generations.len() + 1, generations.last().map_or(crate::version::HEADER_LEN as u64, |g| g.end_offset))
    } else {
        (generations.len().max(1), generations.last().map_or(crate::version::HEADER_LEN as u64, |g| g.end_offset))
    };
    let pct = kept as f64 * 100.0 / len.max(1) as f64;
    e.message = format!(
        "trace truncated at byte {len}: generation {n} incomplete ({}), kept {kept} of {len} bytes ({pct:.1}%)",
        e.message
    );
    e
}

fn new_span<'a>(generation: u64, b: Batch<'a>) -> GenerationSpan<'a> {
    GenerationSpan {
        generation,
        start_offset: b.offset,
        end_offset: b.data_offset + b.data.len() as u64,
        batches: vec![b],
    }
}

fn push_batch<'a>(span: &mut GenerationSpan<'a>, b: Batch<'a>) {
    span.end_offset = b.data_offset + b.data.len() as u64;
    span.batches.push(b);
}

/// `go125`: the frequency comes in a sync batch (Go 1.25), not on its own.
fn scan_with_spill<'a>(cur: &mut Cursor<'a>, out: &mut Vec<GenerationSpan<'a>>, go125: bool) -> Option<Error> {
    let mut current: Option<GenerationSpan<'a>> = None;
    loop {
        let b = match read_batch(cur) {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(e) => {
                // An error after a generation has begun keeps what was read.
                out.extend(current);
                return Some(e);
            }
        };
        // Before Go 1.26 an end-of-generation marker carries generation 0,
        // which Go rejects like any other batch of generation 0.
        if b.generation == 0 {
            return Some(Error::corrupt(b.offset, "batch header", "invalid generation number 0"));
        }
        match current.as_mut() {
            None => current = Some(new_span(b.generation, b)),
            Some(span) if b.generation == span.generation => push_batch(span, b),
            Some(span) if Some(b.generation) == span.generation.checked_add(1) => {
                out.extend(current.replace(new_span(b.generation, b)));
            }
            Some(_) => {
                return Some(Error::corrupt(b.offset, "batch header", "generations out of order"));
            }
        }
    }
    match current {
        Some(span) => {
            // Every generation has a frequency; the last one without it is
            // where the file was cut at a batch boundary, which reads
            // cleanly (it is kept, as Go keeps it, and fails to decode).
            let cut = !span.batches.iter().any(|b| b.is_sync(go125));
            let start = span.start_offset;
            out.push(span);
            let why = "the file ends before the generation's frequency event";
            cut.then(|| Error::new(crate::ErrorKind::Truncated, start, "generation", why))
        }
        // Go reports an empty trace as a generation without a frequency.
        None => Some(Error::corrupt(cur.offset(), "generation", "no frequency event found")),
    }
}

/// Whether a batch holds timed events (as opposed to tables or clock data).
fn is_event_batch(b: &Batch<'_>) -> bool {
    b.exp == experiment::NONE && !b.is_strings() && !b.is_stacks() && !b.is_cpu_samples() && !b.is_sync(true)
}

fn scan_with_markers<'a>(cur: &mut Cursor<'a>, out: &mut Vec<GenerationSpan<'a>>) -> Option<Error> {
    loop {
        let mut current: Option<GenerationSpan<'a>> = None;
        let mut gen_no = 0u64;
        loop {
            let b = match read_batch(cur) {
                Ok(Some(b)) => b,
                // Go only calls a generation incomplete once it has read
                // event batches; tables alone at the end are dropped quietly.
                Ok(None) if current.as_ref().is_none_or(|s| !s.batches.iter().any(is_event_batch)) => return None,
                Ok(None) => {
                    let start = current.as_ref().map_or(cur.offset(), |s| s.start_offset);
                    return Some(Error::new(
                        crate::ErrorKind::Truncated,
                        start,
                        "generation",
                        "incomplete generation found; trace likely truncated",
                    ));
                }
                Err(e) => return Some(e),
            };
            if gen_no == 0 {
                gen_no = b.generation;
            }
            if b.end_of_generation {
                match current {
                    Some(mut span) => {
                        span.end_offset = b.data_offset;
                        out.push(span);
                    }
                    None => return Some(Error::corrupt(b.offset, "generation", "no frequency event found")),
                }
                break;
            }
            if b.generation == 0 {
                return Some(Error::corrupt(b.offset, "batch header", "invalid generation number 0"));
            }
            if b.generation != gen_no {
                return Some(Error::corrupt(
                    b.offset,
                    "batch header",
                    "broken trace: missing end-of-generation event, or generations are interleaved",
                ));
            }
            match current.as_mut() {
                None => current = Some(new_span(b.generation, b)),
                Some(span) => push_batch(span, b),
            }
        }
    }
}

/// One frame of a stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Program counter.
    pub pc: u64,
    /// Function name.
    pub func: StringId,
    /// Source file.
    pub file: StringId,
    /// Line number.
    pub line: u64,
}

/// A frame with its names resolved, as a viewer shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolvedFrame<'a> {
    /// Program counter.
    pub pc: u64,
    /// Function name.
    pub func: &'a [u8],
    /// Source file.
    pub file: &'a [u8],
    /// Line number.
    pub line: u64,
}

/// A CPU profile sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuSample {
    /// When the sample was taken.
    pub time: TimeNs,
    /// Thread that was running.
    pub m: ThreadId,
    /// P that was running, if any.
    pub p: ProcId,
    /// Goroutine that was running, if any.
    pub g: GoroutineId,
    /// Sampled stack.
    pub stack: StackId,
}

/// The wall-clock / monotonic-clock snapshot of a generation (Go 1.25+).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSnapshot {
    /// Trace time of the snapshot.
    pub trace: TimeNs,
    /// Monotonic clock reading.
    pub mono: u64,
    /// Wall clock seconds since the Unix epoch.
    pub sec: u64,
    /// Wall clock nanoseconds within the second.
    pub nsec: u64,
}

/// An experimental batch kept opaque.
#[derive(Clone, Copy, Debug)]
pub struct ExperimentalBatch<'a> {
    /// Experiment ID.
    pub experiment: u8,
    /// Thread that wrote it.
    pub m: ThreadId,
    /// Its raw payload.
    pub data: &'a [u8],
}

/// The string and stack tables of one generation, plus its clock data.
#[derive(Clone, Debug, Default)]
pub struct EvTable<'a> {
    strings: IdTable<&'a [u8]>,
    stacks: IdTable<(u32, u32)>,
    stack_pcs: Vec<u64>,
    /// `stack_pcs` resolved to frames once, so reading a stack is a slice.
    stack_frames: Vec<Frame>,
    /// `stack_frames` with function and file names looked up.
    resolved: Vec<ResolvedFrame<'a>>,
    frames: FxHashMap<u64, Frame>,
    /// Nanoseconds per clock tick.
    pub ns_per_tick: f64,
    /// See [`int_tick`].
    int_tick: IntTick,
    /// The clock snapshot, if the generation has one.
    pub clock: Option<ClockSnapshot>,
    /// Experimental batches, in file order.
    pub experimental: Vec<ExperimentalBatch<'a>>,
}

impl<'a> EvTable<'a> {
    /// The bytes of a string; ID 0 is the empty string.
    #[inline]
    pub fn string(&self, id: StringId) -> Option<&'a [u8]> {
        if id.0 == 0 {
            return Some(&[]);
        }
        self.strings.get(id.0).copied()
    }

    /// A string as text (lossy for invalid UTF-8).
    pub fn str(&self, id: StringId) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(self.string(id).unwrap_or_default())
    }

    /// The PCs of a stack, innermost first; ID 0 is the empty stack.
    #[inline]
    pub fn stack_pcs(&self, id: StackId) -> Option<&[u64]> {
        if id.0 == 0 {
            return Some(&[]);
        }
        let &(start, end) = self.stacks.get(id.0)?;
        self.stack_pcs.get(start as usize..end as usize)
    }

    /// The frames of a stack, innermost first (empty for unknown IDs).
    #[inline]
    pub fn stack_frames(&self, id: StackId) -> &[Frame] {
        if id.0 == 0 {
            return &[];
        }
        match self.stacks.get(id.0) {
            Some(&(start, end)) => self.stack_frames.get(start as usize..end as usize).unwrap_or_default(),
            None => &[],
        }
    }

    /// The frames of a stack with their names, innermost first (empty for
    /// unknown IDs). Resolved once per generation, so this is a slice.
    #[inline]
    pub fn resolved_frames(&self, id: StackId) -> &[ResolvedFrame<'a>] {
        if id.0 == 0 {
            return &[];
        }
        match self.stacks.get(id.0) {
            Some(&(start, end)) => self.resolved.get(start as usize..end as usize).unwrap_or_default(),
            None => &[],
        }
    }

    /// The IDs of the generation's stacks, in ID order.
    pub fn stack_ids(&self) -> impl Iterator<Item = StackId> + '_ {
        self.stacks.iter().map(|(id, _)| StackId(id))
    }

    /// Looks up every frame's names once.
    fn resolve(mut self) -> Self {
        let name = |id: StringId| self.string(id).unwrap_or_default();
        self.resolved = self
            .stack_frames
            .iter()
            .map(|f| ResolvedFrame { pc: f.pc, func: name(f.func), file: name(f.file), line: f.line })
            .collect();
        self
    }

    /// The frame recorded for a PC.
    pub fn frame(&self, pc: u64) -> Option<&Frame> {
        self.frames.get(&pc)
    }

    /// Whether a stack ID resolves.
    #[inline]
    pub fn has_stack(&self, id: StackId) -> bool {
        self.stacks.contains(id.0)
    }

    /// Whether a string ID resolves.
    #[inline]
    pub fn has_string(&self, id: StringId) -> bool {
        self.strings.contains(id.0)
    }

    /// Number of stacks.
    pub fn stack_count(&self) -> usize {
        self.stacks.len()
    }

    /// Number of strings.
    pub fn string_count(&self) -> usize {
        self.strings.len()
    }

    /// All stacks in ID order.
    pub fn stacks(&self) -> impl Iterator<Item = (StackId, &[u64])> {
        self.stacks
            .iter()
            .map(|(id, &(s, e))| (StackId(id), self.stack_pcs.get(s as usize..e as usize).unwrap_or_default()))
    }

    /// All strings in ID order.
    pub fn strings(&self) -> impl Iterator<Item = (StringId, &'a [u8])> + '_ {
        self.strings.iter().map(|(id, s)| (StringId(id), *s))
    }

    /// Builds a table from already-decoded parts: the single table of a v1
    /// trace. `stacks` are PC lists by ID, `frames` the frame of every PC.
    pub(crate) fn from_parts(
        strings: Vec<(u64, &'a [u8])>,
        stacks: Vec<(u64, Vec<u64>)>,
        frames: FxHashMap<u64, Frame>,
        ns_per_tick: f64,
    ) -> std::result::Result<Self, crate::table::DuplicateId> {
        let strings = IdTable::build(strings)?;
        let mut stack_pcs = Vec::new();
        let mut ranges = Vec::with_capacity(stacks.len());
        for (id, pcs) in stacks {
            let start = u32::try_from(stack_pcs.len()).map_err(|_| crate::table::DuplicateId(id))?;
            stack_pcs.extend_from_slice(&pcs);
            let end = u32::try_from(stack_pcs.len()).map_err(|_| crate::table::DuplicateId(id))?;
            ranges.push((id, (start, end)));
        }
        let stacks = IdTable::build(ranges)?;
        let stack_frames = stack_pcs
            .iter()
            .map(|pc| {
                frames.get(pc).copied().unwrap_or(Frame { pc: *pc, func: StringId(0), file: StringId(0), line: 0 })
            })
            .collect();
        Ok(EvTable {
            strings,
            stacks,
            stack_pcs,
            stack_frames,
            resolved: Vec::new(),
            frames,
            ns_per_tick,
            int_tick: int_tick(ns_per_tick),
            clock: None,
            experimental: Vec::new(),
        }
        .resolve())
    }

    /// Converts a raw tick count to nanoseconds the way Go does (float multiply, truncate).
    #[inline]
    pub fn ticks_to_ns(&self, ticks: u64) -> TimeNs {
        let t = &self.int_tick;
        if ticks < t.limit && t.from == self.ns_per_tick {
            // Exact integers: the same value as the float product below.
            return TimeNs((ticks * t.ns) as i64);
        }
        // Below 2^63 the signed conversion gives the same double and is
        // one instruction, where the unsigned one is several.
        let t = if let Ok(t) = i64::try_from(ticks) { t as f64 } else { ticks as f64 };
        TimeNs((t * self.ns_per_tick) as i64)
    }
}

/// A whole number of nanoseconds per tick (64 on most machines) and the
/// tick count below which `ticks * ns` is below 2^53: there the float
/// product Go computes is exact, so integer arithmetic gives the same
/// value without the float round trip on the hot path.
#[derive(Clone, Copy, Debug, Default)]
struct IntTick {
    /// The `ns_per_tick` this was derived from (the field is public).
    from: f64,
    ns: u64,
    /// 0 when `ns_per_tick` is not a whole number.
    limit: u64,
}

fn int_tick(ns_per_tick: f64) -> IntTick {
    if (1.0..=1_048_576.0).contains(&ns_per_tick) && ns_per_tick.fract() == 0.0 {
        let ns = ns_per_tick as u64;
        IntTick { from: ns_per_tick, ns, limit: (1u64 << 53) / ns }
    } else {
        IntTick { from: ns_per_tick, ns: 0, limit: 0 }
    }
}

/// A decoded generation: its tables and its event batches grouped by M.
#[derive(Clone, Debug)]
pub struct Generation<'a> {
    /// The generation number.
    pub generation: u64,
    /// Strings, stacks and clock data.
    pub table: EvTable<'a>,
    /// Event batches per M, Ms in order of first appearance.
    pub batches: Vec<(ThreadId, Vec<Batch<'a>>)>,
    /// CPU samples sorted by time.
    pub cpu_samples: Vec<CpuSample>,
    /// Smallest batch base timestamp (raw ticks).
    pub min_ts: u64,
    /// File offsets covered.
    pub start_offset: u64,
    /// File offset just past the generation.
    pub end_offset: u64,
}

#[derive(Default)]
struct Builder<'a> {
    strings: Vec<(u64, &'a [u8])>,
    stacks: Vec<(u64, (u32, u32))>,
    stack_pcs: Vec<u64>,
    frames: FxHashMap<u64, Frame>,
    frame_strings: Vec<(u64, StringId, StringId)>,
    cpu_raw: Vec<(u64, CpuSample)>,
    freq: Option<u64>,
    clock: Option<(u64, u64, u64, u64)>,
    experimental: Vec<ExperimentalBatch<'a>>,
    by_m: FxHashMap<u64, usize>,
    batches: Vec<(ThreadId, Vec<Batch<'a>>)>,
}

impl<'a> Generation<'a> {
    /// Decodes the structural parts of a generation.
    pub fn build(span: &GenerationSpan<'a>, version: Version) -> Result<Generation<'a>> {
        let mut b = Builder::default();
        let mut min_ts: u64 = 0;
        for batch in &span.batches {
            if min_ts == 0 || batch.time < min_ts {
                min_ts = batch.time;
            }
            b.process(batch, version)?;
        }
        let at = span.start_offset;
        let freq = b.freq.ok_or_else(|| Error::corrupt(at, "generation", "no frequency event found"))?;
        if version >= Version::Go125 && b.clock.is_none() {
            return Err(Error::corrupt(at, "generation", "no clock snapshot event found"));
        }
        let ns_per_tick = 1.0 / (freq as f64 / 1e9);
        let strings = IdTable::build(b.strings).map_err(|d| {
            Error::corrupt(at, "string table", format!("multiple strings with the same ID: id={}", d.0))
        })?;
        let stacks = IdTable::build(b.stacks)
            .map_err(|d| Error::corrupt(at, "stack table", format!("multiple stacks with the same ID: id={}", d.0)))?;
        for &(stack, func, file) in &b.frame_strings {
            if !strings.contains(func.0) {
                return Err(Error::corrupt(
                    at,
                    "stack table",
                    format!("found invalid func string ID {} for stack {stack}", func.0),
                ));
            }
            if !strings.contains(file.0) {
                return Err(Error::corrupt(
                    at,
                    "stack table",
                    format!("found invalid file string ID {} for stack {stack}", file.0),
                ));
            }
        }
        let mut table = EvTable {
            strings,
            stacks,
            stack_frames: b.stack_pcs.iter().filter_map(|pc| b.frames.get(pc).copied()).collect(),
            resolved: Vec::new(),
            stack_pcs: b.stack_pcs,
            frames: b.frames,
            ns_per_tick,
            int_tick: int_tick(ns_per_tick),
            clock: None,
            experimental: b.experimental,
        }
        .resolve();
        if let Some((ts, mono, sec, nsec)) = b.clock {
            table.clock = Some(ClockSnapshot { trace: table.ticks_to_ns(ts), mono, sec, nsec });
        }
        let mut cpu_samples: Vec<CpuSample> =
            b.cpu_raw.into_iter().map(|(ticks, s)| CpuSample { time: table.ticks_to_ns(ticks), ..s }).collect();
        crate::gosort::sort_by(&mut cpu_samples, |a, b| a.time.cmp(&b.time));
        Ok(Generation {
            generation: span.generation,
            table,
            batches: b.batches,
            cpu_samples,
            min_ts,
            start_offset: span.start_offset,
            end_offset: span.end_offset,
        })
    }
}

impl<'a> Builder<'a> {
    fn process(&mut self, batch: &Batch<'a>, version: Version) -> Result<()> {
        if batch.is_strings() {
            self.add_strings(batch)
        } else if batch.is_stacks() {
            self.add_stacks(batch)
        } else if batch.is_cpu_samples() {
            self.add_cpu_samples(batch)
        } else if batch.is_sync(version >= Version::Go125) {
            self.add_sync(batch, version)
        } else if batch.exp != experiment::NONE {
            self.experimental.push(ExperimentalBatch {
                experiment: batch.exp,
                m: ThreadId::from_wire(batch.m),
                data: batch.data,
            });
            Ok(())
        } else {
            let next = self.batches.len();
            let i = *self.by_m.entry(batch.m).or_insert(next);
            if i == next {
                self.batches.push((ThreadId::from_wire(batch.m), Vec::new()));
            }
            if let Some(list) = self.batches.get_mut(i) {
                list.1.push(*batch);
            }
            Ok(())
        }
    }

    fn add_strings(&mut self, batch: &Batch<'a>) -> Result<()> {
        let mut c = Cursor::new(batch.data, batch.data_offset);
        c.byte("string table")?;
        while !c.is_empty() {
            let at = c.offset();
            let t = c.byte("string table")?;
            if t != ev::STRING {
                return Err(Error::corrupt(at, "string table", format!("expected string event, got {t}")));
            }
            let id = c.uvarint("string table")?;
            let len = c.uvarint("string table")?;
            if len > spec::MAX_STRING_SIZE {
                return Err(Error::corrupt(
                    at,
                    "string table",
                    format!("invalid string size {len}, maximum is {}", spec::MAX_STRING_SIZE),
                ));
            }
            // len <= 1 KiB.
            let s = c.bytes(len as usize, "string table")?;
            self.strings.push((id, s));
        }
        Ok(())
    }

    fn add_stacks(&mut self, batch: &Batch<'a>) -> Result<()> {
        let mut c = Cursor::new(batch.data, batch.data_offset);
        c.byte("stack table")?;
        while !c.is_empty() {
            let at = c.offset();
            let t = c.byte("stack table")?;
            if t != ev::STACK {
                return Err(Error::corrupt(at, "stack table", format!("expected stack event, got {t}")));
            }
            let id = c.uvarint("stack table")?;
            let n = c.uvarint("stack table")?;
            if n > spec::MAX_FRAMES_PER_STACK {
                return Err(Error::corrupt(
                    at,
                    "stack table",
                    format!("invalid stack size {n}, maximum is {}", spec::MAX_FRAMES_PER_STACK),
                ));
            }
            let start = u32::try_from(self.stack_pcs.len())
                .map_err(|_| Error::corrupt(at, "stack table", "too many stack frames"))?;
            for _ in 0..n {
                let pc = c.uvarint("stack frame")?;
                let func = StringId(c.uvarint("stack frame")?);
                let file = StringId(c.uvarint("stack frame")?);
                let line = c.uvarint("stack frame")?;
                self.stack_pcs.push(pc);
                self.frames.entry(pc).or_insert_with(|| {
                    self.frame_strings.push((id, func, file));
                    Frame { pc, func, file, line }
                });
            }
            let end = start + n as u32;
            self.stacks.push((id, (start, end)));
        }
        Ok(())
    }

    fn add_cpu_samples(&mut self, batch: &Batch<'a>) -> Result<()> {
        let mut c = Cursor::new(batch.data, batch.data_offset);
        c.byte("CPU samples")?;
        while !c.is_empty() {
            let at = c.offset();
            let t = c.byte("CPU sample")?;
            if t != ev::CPU_SAMPLE {
                return Err(Error::corrupt(at, "CPU sample", format!("expected CPU sample event, got {t}")));
            }
            let ts = c.uvarint("CPU sample")?;
            let m = c.uvarint("CPU sample")?;
            let p = c.uvarint("CPU sample")?;
            let g = c.uvarint("CPU sample")?;
            let stack = c.uvarint("CPU sample")?;
            let g = if g == 0 { GoroutineId::NONE } else { GoroutineId::from_wire(g) };
            self.cpu_raw.push((
                ts,
                CpuSample {
                    time: TimeNs(0),
                    m: ThreadId::from_wire(m),
                    p: ProcId::from_wire(p),
                    g,
                    stack: StackId(stack),
                },
            ));
        }
        Ok(())
    }

    fn add_sync(&mut self, batch: &Batch<'a>, version: Version) -> Result<()> {
        let mut c = Cursor::new(batch.data, batch.data_offset);
        if version >= Version::Go125 {
            c.byte("sync batch")?;
        }
        let mut last_ts = batch.time;
        while !c.is_empty() {
            let at = c.offset();
            match c.byte("sync batch")? {
                ev::FREQUENCY => {
                    if self.freq.is_some() {
                        return Err(Error::corrupt(at, "sync batch", "found multiple frequency events"));
                    }
                    self.freq = Some(c.uvarint("frequency")?);
                }
                ev::CLOCK_SNAPSHOT if version >= Version::Go125 => {
                    if self.clock.is_some() {
                        return Err(Error::corrupt(at, "sync batch", "found multiple clock snapshot events"));
                    }
                    last_ts = last_ts.wrapping_add(c.uvarint("clock snapshot")?);
                    let mono = c.uvarint("clock snapshot")?;
                    let sec = c.uvarint("clock snapshot")?;
                    let nsec = c.uvarint("clock snapshot")?;
                    self.clock = Some((last_ts, mono, sec, nsec));
                }
                t => {
                    return Err(Error::corrupt(
                        at,
                        "sync batch",
                        format!("expected frequency or clock snapshot event, got {t}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The integer shortcut gives exactly Go's float product.
    #[test]
    fn ticks_to_ns_matches_float_product() {
        for freq in [15_625_000u64, 1_000_000_000, 500_000_000, 2_400_000_000, 3_000_000, 1] {
            let ns_per_tick = 1.0 / (freq as f64 / 1e9);
            let table = EvTable { ns_per_tick, int_tick: int_tick(ns_per_tick), ..EvTable::default() };
            let limit = table.int_tick.limit;
            let mut ticks: Vec<u64> = vec![0, 1, 2, 63, 64, 1 << 40, u64::MAX, i64::MAX as u64, 1 << 63];
            for d in 0..3 {
                ticks.extend([limit.wrapping_sub(d), limit.wrapping_add(d)]);
            }
            let mut x: u64 = 88_172_645_463_325_252;
            for _ in 0..10_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ticks.push(x >> (x % 64));
            }
            for t in ticks {
                let want = TimeNs((t as f64 * ns_per_tick) as i64);
                assert_eq!(table.ticks_to_ns(t), want, "freq {freq} ticks {t}");
            }
        }
    }
}
