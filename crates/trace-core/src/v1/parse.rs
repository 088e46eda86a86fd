//! The v1 wire parser: reads the flat event stream, merges the per-P
//! batches into one consistent order, converts times and validates the
//! result the way Go's `internal/trace/internal/tracev1` does.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::error::{Error, Result};
use crate::gtable::GMap;
use crate::wire::uvarint;

use super::reclist::{RecBuilder, RecList};

/// v1 event type numbers.
#[allow(missing_docs)]
pub(crate) mod t {
    pub const NONE: u8 = 0;
    pub const BATCH: u8 = 1;
    pub const FREQUENCY: u8 = 2;
    pub const STACK: u8 = 3;
    pub const GOMAXPROCS: u8 = 4;
    pub const PROC_START: u8 = 5;
    pub const PROC_STOP: u8 = 6;
    pub const GC_START: u8 = 7;
    pub const GC_DONE: u8 = 8;
    pub const STW_START: u8 = 9;
    pub const STW_DONE: u8 = 10;
    pub const GC_SWEEP_START: u8 = 11;
    pub const GC_SWEEP_DONE: u8 = 12;
    pub const GO_CREATE: u8 = 13;
    pub const GO_START: u8 = 14;
    pub const GO_END: u8 = 15;
    pub const GO_STOP: u8 = 16;
    pub const GO_SCHED: u8 = 17;
    pub const GO_PREEMPT: u8 = 18;
    pub const GO_SLEEP: u8 = 19;
    pub const GO_BLOCK: u8 = 20;
    pub const GO_UNBLOCK: u8 = 21;
    pub const GO_BLOCK_SEND: u8 = 22;
    pub const GO_BLOCK_RECV: u8 = 23;
    pub const GO_BLOCK_SELECT: u8 = 24;
    pub const GO_BLOCK_SYNC: u8 = 25;
    pub const GO_BLOCK_COND: u8 = 26;
    pub const GO_BLOCK_NET: u8 = 27;
    pub const GO_SYS_CALL: u8 = 28;
    pub const GO_SYS_EXIT: u8 = 29;
    pub const GO_SYS_BLOCK: u8 = 30;
    pub const GO_WAITING: u8 = 31;
    pub const GO_IN_SYSCALL: u8 = 32;
    pub const HEAP_ALLOC: u8 = 33;
    pub const HEAP_GOAL: u8 = 34;
    pub const TIMER_GOROUTINE: u8 = 35;
    pub const FUTILE_WAKEUP: u8 = 36;
    pub const STRING: u8 = 37;
    pub const GO_START_LOCAL: u8 = 38;
    pub const GO_UNBLOCK_LOCAL: u8 = 39;
    pub const GO_SYS_EXIT_LOCAL: u8 = 40;
    pub const GO_START_LABEL: u8 = 41;
    pub const GO_BLOCK_GC: u8 = 42;
    pub const GC_MARK_ASSIST_START: u8 = 43;
    pub const GC_MARK_ASSIST_DONE: u8 = 44;
    pub const USER_TASK_CREATE: u8 = 45;
    pub const USER_TASK_END: u8 = 46;
    pub const USER_REGION: u8 = 47;
    pub const USER_LOG: u8 = 48;
    pub const CPU_SAMPLE: u8 = 49;
    pub const COUNT: u8 = 50;
}

/// Static description of a v1 event type.
#[derive(Clone, Copy)]
pub(crate) struct Desc {
    pub name: &'static str,
    /// First header minor version that has the type.
    pub min_version: u32,
    /// Whether the last value is a stack ID.
    pub stack: bool,
    /// Number of values besides the timestamp and the stack.
    pub nargs: usize,
}

const fn d(name: &'static str, min_version: u32, stack: bool, nargs: usize) -> Desc {
    Desc { name, min_version, stack, nargs }
}

pub(crate) fn desc(typ: u8) -> Desc {
    match typ {
        t::BATCH => d("Batch", 5, false, 2),
        t::FREQUENCY => d("Frequency", 5, false, 1),
        t::STACK => d("Stack", 5, false, 2),
        t::GOMAXPROCS => d("Gomaxprocs", 5, true, 1),
        t::PROC_START => d("ProcStart", 5, false, 1),
        t::PROC_STOP => d("ProcStop", 5, false, 0),
        t::GC_START => d("GCStart", 5, true, 1),
        t::GC_DONE => d("GCDone", 5, false, 0),
        t::STW_START => d("GCSTWStart", 5, false, 1),
        t::STW_DONE => d("GCSTWDone", 5, false, 0),
        t::GC_SWEEP_START => d("GCSweepStart", 5, true, 0),
        t::GC_SWEEP_DONE => d("GCSweepDone", 5, false, 2),
        t::GO_CREATE => d("GoCreate", 5, true, 2),
        t::GO_START => d("GoStart", 5, false, 2),
        t::GO_END => d("GoEnd", 5, false, 0),
        t::GO_STOP => d("GoStop", 5, true, 0),
        t::GO_SCHED => d("GoSched", 5, true, 0),
        t::GO_PREEMPT => d("GoPreempt", 5, true, 0),
        t::GO_SLEEP => d("GoSleep", 5, true, 0),
        t::GO_BLOCK => d("GoBlock", 5, true, 0),
        t::GO_UNBLOCK => d("GoUnblock", 5, true, 2),
        t::GO_BLOCK_SEND => d("GoBlockSend", 5, true, 0),
        t::GO_BLOCK_RECV => d("GoBlockRecv", 5, true, 0),
        t::GO_BLOCK_SELECT => d("GoBlockSelect", 5, true, 0),
        t::GO_BLOCK_SYNC => d("GoBlockSync", 5, true, 0),
        t::GO_BLOCK_COND => d("GoBlockCond", 5, true, 0),
        t::GO_BLOCK_NET => d("GoBlockNet", 5, true, 0),
        t::GO_SYS_CALL => d("GoSysCall", 5, true, 0),
        t::GO_SYS_EXIT => d("GoSysExit", 5, false, 3),
        t::GO_SYS_BLOCK => d("GoSysBlock", 5, false, 0),
        t::GO_WAITING => d("GoWaiting", 5, false, 1),
        t::GO_IN_SYSCALL => d("GoInSyscall", 5, false, 1),
        t::HEAP_ALLOC => d("HeapAlloc", 5, false, 1),
        t::HEAP_GOAL => d("HeapGoal", 5, false, 1),
        t::TIMER_GOROUTINE => d("TimerGoroutine", 5, false, 1),
        t::FUTILE_WAKEUP => d("FutileWakeup", 5, false, 0),
        t::STRING => d("String", 7, false, 0),
        t::GO_START_LOCAL => d("GoStartLocal", 7, false, 1),
        t::GO_UNBLOCK_LOCAL => d("GoUnblockLocal", 7, true, 1),
        t::GO_SYS_EXIT_LOCAL => d("GoSysExitLocal", 7, false, 2),
        t::GO_START_LABEL => d("GoStartLabel", 8, false, 3),
        t::GO_BLOCK_GC => d("GoBlockGC", 8, true, 0),
        t::GC_MARK_ASSIST_START => d("GCMarkAssistStart", 9, true, 0),
        t::GC_MARK_ASSIST_DONE => d("GCMarkAssistDone", 9, false, 0),
        t::USER_TASK_CREATE => d("UserTaskCreate", 11, true, 3),
        t::USER_TASK_END => d("UserTaskEnd", 11, true, 1),
        t::USER_REGION => d("UserRegion", 11, true, 3),
        t::USER_LOG => d("UserLog", 11, true, 2),
        t::CPU_SAMPLE => d("CPUSample", 19, true, 3),
        _ => d("None", 5, false, 0),
    }
}

/// Fake P for timer unblocks.
pub(crate) const TIMER_P: i32 = 1_000_001;
/// Fake P for network unblocks.
pub(crate) const NETPOLL_P: i32 = 1_000_002;
/// Fake P for syscall exits.
pub(crate) const SYSCALL_P: i32 = 1_000_003;
/// Fake P for GC starts.
pub(crate) const GC_P: i32 = 1_000_004;

/// One parsed v1 event, as Go's `tracev1.Event`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct V1Event {
    /// Ticks while parsing, nanoseconds from the first event afterwards.
    pub ts: i64,
    pub g: u64,
    /// The values after the timestamp, without the stack; for a UserLog,
    /// the third is the ID of its inline string.
    pub args: [u64; 3],
    pub stk: u32,
    pub p: i32,
    pub typ: u8,
    pub offset: u64,
}

/// One event of the merged list, unpacked (24 bytes; the list holds it
/// packed, see [`RecList`]): what the ordering changes or what cannot be
/// decoded again from the file on its own. The
/// arguments and the stack are decoded again from `offset` when needed
/// ([`decode_args`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rec {
    pub ts: i64,
    /// The file offset in the low 56 bits, the (final) type in the top 8.
    off_typ: u64,
    /// The goroutine, as encoded by [`GIds`].
    pub g: u32,
    pub p: i32,
}

const _: () = assert!(std::mem::size_of::<Rec>() == 24);

/// Largest file offset a [`Rec`] holds.
const MAX_OFFSET: u64 = (1 << 56) - 1;

impl Rec {
    fn new(ev: &V1Event, gids: &mut GIds) -> Result<Rec> {
        if ev.offset > MAX_OFFSET {
            return Err(invalid(ev.offset, "trace too large"));
        }
        Ok(Rec { ts: ev.ts, off_typ: ev.offset | u64::from(ev.typ) << 56, g: gids.encode(ev.g, ev.offset)?, p: ev.p })
    }

    /// A record of its parts (`offset` at most [`MAX_OFFSET`]).
    pub fn from_parts(ts: i64, offset: u64, typ: u8, g: u32, p: i32) -> Rec {
        Rec { ts, off_typ: (offset & MAX_OFFSET) | u64::from(typ) << 56, g, p }
    }

    pub fn typ(&self) -> u8 {
        (self.off_typ >> 56) as u8
    }

    pub fn offset(&self) -> u64 {
        self.off_typ & MAX_OFFSET
    }
}

/// Goroutine IDs as `u32`: those below 2^31 as they are, the others as
/// 2^31 plus their index in a side table.
#[derive(Debug, Default)]
pub(crate) struct GIds {
    big: Vec<u64>,
    index: FxHashMap<u64, u32>,
}

const BIG_G: u32 = 1 << 31;

impl GIds {
    fn encode(&mut self, g: u64, at: u64) -> Result<u32> {
        if g < u64::from(BIG_G) {
            return Ok(g as u32);
        }
        if let Some(&i) = self.index.get(&g) {
            return Ok(i);
        }
        let i = u32::try_from(self.big.len())
            .ok()
            .filter(|&i| i < BIG_G)
            .ok_or_else(|| invalid(at, "too many large goroutine IDs"))?;
        self.big.push(g);
        self.index.insert(g, i | BIG_G);
        Ok(i | BIG_G)
    }

    pub fn get(&self, g: u32) -> u64 {
        if g < BIG_G { u64::from(g) } else { self.big.get((g - BIG_G) as usize).copied().unwrap_or(0) }
    }
}

/// Decodes again the arguments and the stack of the event at `offset` (an
/// event of the merged list), as [`ProcCursor`] built them.
// Inlined for the same reason as `args_of`.
#[inline(always)]
pub(crate) fn decode_args(
    data: &[u8],
    offset: u64,
    inline_map: &FxHashMap<&[u8], u64>,
    scratch: &mut Vec<u64>,
) -> ([u64; 3], u32) {
    let mut off = usize::try_from(offset).unwrap_or(usize::MAX);
    let (typ, sarg) = decode_raw(data, &mut off, scratch);
    args_of(typ, scratch, sarg, inline_map)
}

/// The arguments and the stack of an event from its raw values.
// Inlined: its result came back through memory and was copied on with a
// wide load its stores could not forward to (as a record passed to
// `RecBuilder::push` by value was).
#[inline(always)]
fn args_of(typ: u8, args: &[u64], sarg: &[u8], inline_map: &FxHashMap<&[u8], u64>) -> ([u64; 3], u32) {
    let arg = |i: usize| args.get(i).copied().unwrap_or(0);
    if typ == t::CPU_SAMPLE {
        return ([0, arg(2), arg(3)], arg(4) as u32);
    }
    let dsc = desc(typ);
    let mut out = [0u64; 3];
    let mut stk = 0;
    let n = args.len();
    for (i, &v) in args.iter().enumerate().skip(1) {
        if i == n - 1 && dsc.stack {
            stk = v as u32;
        } else if let Some(slot) = out.get_mut(i - 1) {
            *slot = v;
        }
    }
    if typ == t::USER_LOG {
        out[2] = inline_map.get(sarg).copied().unwrap_or(0);
    }
    (out, stk)
}

/// One stack frame: PC, function and file string IDs, line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawFrame {
    pub func: u64,
    pub file: u64,
    pub line: u64,
}

/// A whole parsed v1 trace.
pub(crate) struct Parsed<'a> {
    pub events: RecList,
    /// The places of the GoSysCall events whose goroutine's next event is
    /// a GoSysBlock.
    pub blocked: FxHashSet<usize>,
    /// The events' times (in ticks) in nanoseconds.
    pub scale: TickScale,
    pub gids: GIds,
    /// The IDs of the inline strings (indexes into `inline_strings`).
    pub inline_map: FxHashMap<&'a [u8], u64>,
    pub strings: FxHashMap<u64, &'a [u8]>,
    pub inline_strings: Vec<&'a [u8]>,
    pub stacks: FxHashMap<u32, Vec<u64>>,
    pub pcs: FxHashMap<u64, RawFrame>,
    /// For a truncated or damaged trace: the error, its message saying what
    /// was kept. `events` then holds what could be ordered before it.
    pub damage: Option<Error>,
}

fn corrupt(at: usize, msg: impl Into<String>) -> Error {
    Error::corrupt(at as u64, "event", msg)
}

fn invalid(at: u64, msg: impl Into<String>) -> Error {
    Error::invalid(at, "event", msg)
}

fn time_order(at: u64) -> Error {
    invalid(at, "time stamps out of order")
}

struct Cur<'a> {
    data: &'a [u8],
    off: usize,
}

impl<'a> Cur<'a> {
    fn val(&mut self) -> Result<u64> {
        let rest = self.data.get(self.off..).unwrap_or_default();
        match uvarint(rest) {
            Some((v, n)) => {
                self.off += n;
                Ok(v)
            }
            None if rest.len() < 10 && rest.iter().all(|b| *b >= 0x80) => {
                Err(Error::truncated(self.off as u64, "event"))
            }
            None => Err(corrupt(self.off, "malformatted base-128 varint")),
        }
    }

    fn bytes(&mut self, n: u64) -> Result<&'a [u8]> {
        let end = usize::try_from(n).ok().and_then(|n| self.off.checked_add(n));
        match end.and_then(|end| self.data.get(self.off..end).map(|s| (s, end))) {
            Some((s, end)) => {
                self.off = end;
                Ok(s)
            }
            None => Err(Error::truncated(self.off as u64, "event")),
        }
    }
}

/// Parses a v1 trace (`data` is the whole file) for header minor `ver`.
pub(crate) fn parse(data: &[u8], ver: u32) -> Result<Parsed<'_>> {
    let mut p = Parser::new(data, ver);
    let damage = match p.read_all() {
        Err(e) => e,
        // Cut exactly between two events: the footer with the frequency,
        // written after every batch, is missing.
        Ok(()) if p.ticks_per_sec == 0 && !p.footer_seen && p.batch_mark.is_some() => Error::new(
            crate::error::ErrorKind::Truncated,
            data.len() as u64,
            "trace",
            "trace truncated: no EvFrequency event (the footer is missing)",
        ),
        Ok(()) => return parse_complete(p),
    };

    // A truncated or damaged trace: keep what can be ordered consistently.
    // Events of the batch being read when the damage was hit are dropped
    // (the batch may be cut anywhere), unless the damage is in the footer
    // (frequency and stack table) written after every batch.
    let read = p.n_read + p.cpu_samples.len();
    if let Some((pi, cpu_len)) = p.batch_mark
        && !p.footer_seen
    {
        if let Some(proc) = p.procs.get_mut(pi) {
            proc.batches.pop();
        }
        p.cpu_samples.truncate(cpu_len);
    }
    let events = p.merge(Merge::Prefix, &mut Assumed::default())?;
    let no_frequency = p.ticks_per_sec == 0;
    if no_frequency {
        // The frequency is written at the very end: without it times stay
        // in ticks (one tick shown as one nanosecond).
        p.ticks_per_sec = 1_000_000_000;
    }
    // An inconsistent event ends the list: what is before it is kept.
    let (done, _) = post_process(events.into_ordered(), &p, None);
    if done.events.is_empty() {
        return Err(damage);
    }
    let mut msg = format!(
        "{}; kept the {} of {read} events read before byte {} that could be ordered consistently \
         (a v1 trace is ordered as a whole: the events of the cut batch, those whose predecessors were lost, \
         and everything after the damage were dropped)",
        damage.message,
        done.events.len(),
        damage.offset
    );
    if no_frequency {
        msg.push_str("; the tick frequency was lost, so times are in ticks, not nanoseconds");
    }
    if p.stacks.is_empty() {
        msg.push_str("; the stack table was lost");
    }
    let damage = Error::new(damage.kind, damage.offset, damage.what, msg);
    Ok(p.into_parsed(done, Some(damage)))
}

/// The rest of [`parse`] for a trace read to its end without damage.
///
/// Go gives up on a complete trace it cannot order or whose goroutine
/// states do not add up, and runtimes before Go 1.22 write such traces:
/// they leave out the events that bring the goroutines of C threads
/// calling Go into existence (golang/go#29707), and some machines' clocks
/// put events out of order. Such a trace is read again, assuming what the
/// events need, and shown with a note saying so.
fn parse_complete(mut p: Parser<'_>) -> Result<Parsed<'_>> {
    // The batch lists (a few words a batch), for a second merge.
    let saved = p.procs.clone();
    let refused = match p.merge(Merge::Strict, &mut Assumed::default()) {
        Ok(events) => {
            if p.ticks_per_sec == 0 {
                return Err(Error::corrupt(p.cur.data.len() as u64, "trace", "no EvFrequency event"));
            }
            match post_process(events.into_ordered(), &p, None) {
                (done, Ok(())) => return Ok(p.into_parsed(done, None)),
                (_, Err((_, e))) => e,
            }
        }
        Err(e) => e,
    };
    if p.ticks_per_sec == 0 {
        return Err(refused);
    }
    p.procs = saved;
    let mut assumed = Assumed::default();
    let events = p.merge(Merge::Repair, &mut assumed)?;
    let (done, _) = post_process(events.into_ordered(), &p, Some(&mut assumed));
    let Some(first) = assumed.first else { return Err(refused) };
    let message = format!(
        "{} (where Go's reader stops); {} events needed states that the events before them do not give, \
         and were taken as given (runtimes before Go 1.22 leave out events, e.g. of C threads calling Go: \
         golang/go#29707); the first: {}",
        refused.message, assumed.count, first.message
    );
    let note = Error::new(crate::error::ErrorKind::Inconsistent, first.offset, "event", message);
    Ok(p.into_parsed(done, Some(note)))
}

/// What [`Parser::merge`] does when no event can be ordered next.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Merge {
    /// Fails, as Go does.
    Strict,
    /// Stops, keeping the events ordered so far (a damaged trace).
    Prefix,
    /// Assumes the earliest waiting event's goroutine is in the state the
    /// event needs, and goes on; events are then put in time order.
    Repair,
}

/// What a repairing read assumed: how many times, and the first.
#[derive(Debug, Default)]
struct Assumed {
    count: usize,
    first: Option<Error>,
}

impl Assumed {
    fn note(&mut self, e: Error) {
        self.count += 1;
        self.first.get_or_insert(e);
    }

    /// Notes what `later` noted, after what this one did.
    fn absorb(&mut self, later: Assumed) {
        self.count += later.count;
        if let Some(e) = later.first {
            self.first.get_or_insert(e);
        }
    }

    /// `Ok` if `check` passed or is noted as assumed (`repair` set).
    fn allow(repair: &mut Option<&mut Assumed>, check: Result<()>) -> Result<()> {
        match (check, repair) {
            (Err(e), Some(a)) => {
                a.note(e);
                Ok(())
            }
            (check, _) => check,
        }
    }
}

/// Ticks to nanoseconds since the first event. The merged events keep
/// their times in ticks, whose deltas pack smaller.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TickScale {
    min_ts: i64,
    ns_per_tick: f64,
}

impl TickScale {
    /// A time in ticks in nanoseconds.
    pub fn ns(&self, ticks: i64) -> i64 {
        (ticks.wrapping_sub(self.min_ts) as f64 * self.ns_per_tick) as i64
    }
}

/// Finds the [`TickScale`] from the first event and moves timer unblocks
/// and syscall exits to their fake Ps.
struct Times<'p> {
    scale: TickScale,
    seen: bool,
    timer_goids: &'p FxHashSet<u64>,
    gids: &'p GIds,
}

impl<'p> Times<'p> {
    fn new(p: &'p Parser<'_>) -> Times<'p> {
        let scale = TickScale { min_ts: 0, ns_per_tick: 1e9 / p.ticks_per_sec as f64 };
        Times { scale, seen: false, timer_goids: &p.timer_goids, gids: &p.gids }
    }

    /// Moves `ev`, the next event in order, to its fake P if it has one,
    /// and returns its time in nanoseconds.
    fn apply(&mut self, ev: &mut Rec) -> i64 {
        if !self.seen {
            self.seen = true;
            self.scale.min_ts = ev.ts;
        }
        let typ = ev.typ();
        if typ == t::GO_UNBLOCK && self.timer_goids.contains(&self.gids.get(ev.g)) {
            ev.p = TIMER_P;
        }
        if typ == t::GO_SYS_EXIT {
            ev.p = SYSCALL_P;
        }
        self.scale.ns(ev.ts)
    }
}

struct Parser<'a> {
    cur: Cur<'a>,
    ver: u32,
    strings: FxHashMap<u64, &'a [u8]>,
    inline_strings: Vec<&'a [u8]>,
    inline_map: FxHashMap<&'a [u8], u64>,
    gids: GIds,
    stacks: FxHashMap<u32, Vec<u64>>,
    pcs: FxHashMap<u64, RawFrame>,
    ticks_per_sec: i64,
    timer_goids: FxHashSet<u64>,
    /// The batches of each P, Ps in order of first appearance. Their events
    /// are decoded again from the file while merging, so that they are never
    /// all held in memory at once.
    procs: Vec<ProcBatches>,
    proc_index: FxHashMap<i32, usize>,
    cpu_samples: Vec<V1Event>,
    /// Events read into the per-P batches.
    n_read: usize,
    /// The current batch (the last one of its P): P index, and the length
    /// of the CPU samples when it started.
    batch_mark: Option<(usize, usize)>,
    /// Whether a frequency or stack event came after the current batch
    /// started (the footer, written after every batch).
    footer_seen: bool,
}

impl<'a> Parser<'a> {
    /// A parser of `data` (the whole file) for header minor `ver`.
    fn new(data: &'a [u8], ver: u32) -> Parser<'a> {
        Parser {
            cur: Cur { data, off: crate::version::HEADER_LEN.min(data.len()) },
            ver,
            strings: FxHashMap::default(),
            inline_strings: Vec::new(),
            inline_map: FxHashMap::default(),
            gids: GIds::default(),
            stacks: FxHashMap::default(),
            pcs: FxHashMap::default(),
            ticks_per_sec: 0,
            timer_goids: FxHashSet::default(),
            procs: Vec::new(),
            proc_index: FxHashMap::default(),
            cpu_samples: Vec::new(),
            n_read: 0,
            batch_mark: None,
            footer_seen: false,
        }
    }

    /// Hands the tables over with the merged events.
    fn into_parsed(self, done: Processed, damage: Option<Error>) -> Parsed<'a> {
        Parsed {
            events: done.events,
            blocked: done.blocked,
            scale: done.scale,
            gids: self.gids,
            inline_map: self.inline_map,
            strings: self.strings,
            inline_strings: self.inline_strings,
            stacks: self.stacks,
            pcs: self.pcs,
            damage,
        }
    }
}

impl<'a> Parser<'a> {
    fn read_all(&mut self) -> Result<()> {
        let mut args: Vec<u64> = Vec::with_capacity(16);
        let mut cur_p: Option<usize> = None;
        loop {
            let at = self.cur.off;
            let Some(&b) = self.cur.data.get(at) else { break };
            self.cur.off += 1;
            let typ = b & 0x3f;
            let narg = usize::from(b >> 6) + 1;
            let dsc = desc(typ);
            if typ == t::NONE || typ >= t::COUNT || dsc.min_version > self.ver {
                return Err(corrupt(at, format!("unknown event type {typ}")));
            }
            match typ {
                t::STRING => {
                    let id = self.cur.val()?;
                    let len = self.cur.val()?;
                    if cur_p.is_none() {
                        // Go never parses strings written before the first batch.
                        self.cur.bytes(len)?;
                        continue;
                    }
                    if id == 0 {
                        return Err(corrupt(at, "string has invalid id 0"));
                    }
                    if self.strings.contains_key(&id) {
                        return Err(corrupt(at, format!("string has duplicate id {id}")));
                    }
                    if len == 0 {
                        return Err(corrupt(at, "string has invalid length 0"));
                    }
                    if len > 1_000_000 {
                        return Err(corrupt(at, format!("string has too large length {len}")));
                    }
                    let s = self.cur.bytes(len)?;
                    self.strings.insert(id, s);
                }
                t::BATCH => {
                    if narg != 2 {
                        return Err(corrupt(at, format!("EvBatch has wrong number of arguments: got {narg}, want 2")));
                    }
                    let pid = self.cur.val()?;
                    let ts = self.cur.val()?;
                    if pid != u64::MAX && pid > i32::MAX as u64 {
                        return Err(corrupt(at, format!("processor ID {pid} is larger than maximum of {}", i32::MAX)));
                    }
                    let pid = if pid == u64::MAX { -1 } else { pid as i32 };
                    let next = self.procs.len();
                    let i = *self.proc_index.entry(pid).or_insert(next);
                    if i == next {
                        self.procs.push(ProcBatches { p: pid, batches: Vec::new() });
                    }
                    let off = self.cur.off;
                    if let Some(proc) = self.procs.get_mut(i) {
                        proc.batches.push(Batch { start: off, end: off, ts: ts as i64, count: 0, first: 0 });
                    }
                    cur_p = Some(i);
                    self.batch_mark = Some((i, self.cpu_samples.len()));
                    self.footer_seen = false;
                }
                _ => {
                    args.clear();
                    let mut sarg: &'a [u8] = &[];
                    if narg <= 3 {
                        for _ in 0..narg {
                            args.push(self.cur.val()?);
                        }
                    } else {
                        let len = self.cur.val()?;
                        if len > 2048 {
                            return Err(corrupt(
                                at,
                                format!(
                                    "failed to read event {typ} argument: length-prefixed argument too big: {len} bytes, limit is 2048"
                                ),
                            ));
                        }
                        let mut buf = self.cur.bytes(len)?;
                        while !buf.is_empty() {
                            let Some((v, n)) = uvarint(buf) else {
                                return Err(corrupt(at, "malformatted base-128 varint"));
                            };
                            args.push(v);
                            buf = buf.get(n..).unwrap_or_default();
                        }
                        if typ == t::USER_LOG {
                            let sz = self.cur.val()?;
                            if sz > 1_000_000 {
                                return Err(corrupt(at, format!("string is too large (len={sz})")));
                            }
                            sarg = self.cur.bytes(sz)?;
                        }
                    }
                    let Some(pi) = cur_p else {
                        return Err(corrupt(
                            at,
                            format!("read event {typ} with current P of 0, but P has no batches yet"),
                        ));
                    };
                    self.parse_event(at, typ, &args, sarg, pi)?;
                }
            }
        }
        Ok(())
    }

    fn parse_event(&mut self, at: usize, typ: u8, args: &[u64], sarg: &'a [u8], pi: usize) -> Result<()> {
        let dsc = desc(typ);
        let want = match typ {
            t::STACK => args.len(),
            t::FREQUENCY | t::TIMER_GOROUTINE => dsc.nargs,
            _ => dsc.nargs + usize::from(dsc.stack) + 1,
        };
        if args.len() != want {
            return Err(corrupt(
                at,
                format!("{} has wrong number of arguments: want {want}, got {}", dsc.name, args.len()),
            ));
        }
        let arg = |i: usize| args.get(i).copied().unwrap_or(0);
        match typ {
            t::FREQUENCY => {
                self.footer_seen = true;
                self.ticks_per_sec = arg(0) as i64;
                if self.ticks_per_sec <= 0 {
                    return Err(time_order(at as u64));
                }
            }
            t::TIMER_GOROUTINE => {
                self.timer_goids.insert(arg(0));
            }
            t::STACK => {
                self.footer_seen = true;
                if args.len() < 2 {
                    return Err(corrupt(
                        at,
                        format!("EvStack has wrong number of arguments: want at least 2, got {}", args.len()),
                    ));
                }
                let size = arg(1);
                if size > 1000 {
                    return Err(corrupt(at, format!("EvStack has bad number of frames: {size}")));
                }
                let want = 2 + 4 * size;
                if args.len() as u64 != want {
                    return Err(corrupt(
                        at,
                        format!("EvStack has wrong number of arguments: want {want}, got {}", args.len()),
                    ));
                }
                let id = arg(0) as u32;
                if id != 0 && size > 0 {
                    let mut stk = Vec::with_capacity(size as usize);
                    for f in args.get(2..).unwrap_or_default().chunks_exact(4) {
                        let &[pc, func, file, line] = f else { continue };
                        stk.push(pc);
                        self.pcs.entry(pc).or_insert(RawFrame { func, file, line });
                    }
                    self.stacks.insert(id, stk);
                }
            }
            t::CPU_SAMPLE => {
                let stk = arg(4) as u32;
                self.cpu_samples.push(V1Event {
                    ts: arg(1) as i64,
                    g: arg(3),
                    args: [0, arg(2), arg(3)],
                    stk,
                    p: arg(2) as i32,
                    typ,
                    offset: at as u64,
                });
            }
            _ => {
                if typ == t::USER_LOG {
                    let next = self.inline_strings.len() as u64;
                    if *self.inline_map.entry(sarg).or_insert(next) == next {
                        self.inline_strings.push(sarg);
                    }
                }
                let end = self.cur.off;
                if let Some(b) = self.procs.get_mut(pi).and_then(|p| p.batches.last_mut()) {
                    if b.count == 0 {
                        b.first = at as u64;
                    }
                    b.count += 1;
                    b.end = end;
                }
                self.n_read += 1;
            }
        }
        Ok(())
    }

    /// Merges the per-P event lists into one consistent stream; `mode`
    /// says what to do where no event can be ordered next (see [`Merge`]),
    /// and `assumed` gathers what a repair assumed.
    fn merge(&mut self, mode: Merge, assumed: &mut Assumed) -> Result<Merged> {
        crate::gosort::sort_by(&mut self.cpu_samples, |a, b| a.ts.cmp(&b.ts));
        let data = self.cur.data;
        let inline_map = &self.inline_map;
        let pbs = std::mem::take(&mut self.procs);
        // The first event of each P, for the error message.
        let firsts: Vec<u64> =
            pbs.iter().map(|p| p.batches.iter().find(|b| b.count > 0).map_or(0, |b| b.first)).collect();
        let mut procs: Vec<ProcCursor> = pbs.into_iter().map(ProcCursor::new).collect();
        let cpu = &self.cpu_samples;
        let mut cpu_pos = 0;
        let mut scratch: Vec<u64> = Vec::with_capacity(16);
        let mut out = RecBuilder::default();
        // The time of the last event out, and the place and offset of the
        // first event earlier than the one before it.
        let (mut last_ts, mut reversal) = (i64::MIN, None);
        // Syscall exits are moved to their real times as the events come
        // out (Go does it in a pass after the merge): the moved ones are
        // set aside, to be put back in time order afterwards.
        let mut exits = SysExits::new(data, inline_map);
        let (mut moved, mut exit_notes, mut bad) = (Vec::new(), Assumed::default(), None);
        let mut place = 0usize;
        let mut gs: GMap<GState> = GMap::default();
        // The heads ready to go, as (time, P index): each stays in its
        // cursor (or the CPU samples) until it comes out.
        let mut frontier: Vec<(i64, usize)> = Vec::new();
        let mut available: Vec<usize> = (0..=procs.len()).collect();
        loop {
            let mut i = 0;
            while let Some(&pi) = available.get(i) {
                let next = match procs.get_mut(pi) {
                    Some(c) => c.peek(data, inline_map, &mut scratch),
                    None => cpu.get(cpu_pos),
                };
                let Some(ev) = next else {
                    available.swap_remove(i);
                    continue;
                };
                let (g, init, _) = state_transition(ev);
                if !transition_ready(g, gs.get(g), init) {
                    i += 1;
                    continue;
                }
                let ts = ev.ts;
                available.swap_remove(i);
                heap_push(&mut frontier, (ts, pi));
            }
            let next = heap_pop(&mut frontier).and_then(|(_, pi)| {
                let ev = match procs.get_mut(pi) {
                    Some(c) => c.head.take(),
                    None => {
                        cpu_pos += 1;
                        cpu.get(cpu_pos - 1).copied()
                    }
                };
                Some((ev?, pi))
            });
            let Some((mut ev, pi)) = next else {
                if mode == Merge::Repair {
                    let heads = available
                        .iter()
                        .filter_map(|&pi| procs.get_mut(pi)?.peek(data, inline_map, &mut scratch).copied());
                    if let Some(ev) = heads.min_by_key(|ev| ev.ts) {
                        let (g, init, _) = state_transition(&ev);
                        let curr = gs.get(g);
                        let seq = if init.seq == NOSEQ { curr.seq } else { init.seq };
                        gs.insert(g, GState { seq, status: init.status });
                        let name = desc(ev.typ).name;
                        let what = if g == GARBAGE { name.to_string() } else { format!("{name} of g {g}") };
                        assumed.note(invalid(ev.offset, format!("{what} out of sequence")));
                        continue;
                    }
                }
                if mode != Merge::Strict {
                    break;
                }
                let stuck = procs.iter_mut().position(|c| c.peek(data, inline_map, &mut scratch).is_some());
                if let Some(at) = stuck.and_then(|i| firsts.get(i)) {
                    return Err(invalid(*at, "no consistent ordering of events possible"));
                }
                if cpu_pos < cpu.len() {
                    let at = cpu.first().map_or(0, |e| e.offset);
                    return Err(invalid(at, "no consistent ordering of events possible"));
                }
                break;
            };
            let (g, init, next) = state_transition(&ev);
            ev.typ = match ev.typ {
                t::GO_START_LOCAL => t::GO_START,
                t::GO_UNBLOCK_LOCAL => t::GO_UNBLOCK,
                t::GO_SYS_EXIT_LOCAL => t::GO_SYS_EXIT,
                other => other,
            };
            let mut rec = Rec::new(&ev, &mut self.gids)?;
            if rec.ts < last_ts && reversal.is_none() {
                reversal = Some((place, rec.offset()));
            }
            last_ts = rec.ts;
            if bad.is_none() {
                let merged_ts = rec.ts;
                match exits.check(&mut rec) {
                    Exit::Keep => out.push(&rec),
                    Exit::Move => moved.push(MovedRec { rec, place, merged_ts }),
                    // Left at its place and time.
                    Exit::Fault(e) if mode == Merge::Repair => {
                        exit_notes.note(e);
                        out.push(&rec);
                    }
                    // The events end before it.
                    Exit::Fault(e) => bad = Some((place, e)),
                }
            }
            place += 1;
            if g != UNORDERED {
                let curr = gs.get(g);
                if !transition_ready(g, curr, init) {
                    return Err(invalid(ev.offset, "encountered impossible goroutine state transition"));
                }
                let seq = match next.seq {
                    NOSEQ => curr.seq,
                    SEQINC => curr.seq.wrapping_add(1),
                    s => s,
                };
                gs.insert(g, GState { seq, status: next.status });
            }
            available.push(pi);
        }
        let mut merged = Merged { rest: out.finish(), moved };
        if let Some((i, offset)) = reversal {
            match mode {
                Merge::Strict => return Err(time_order(0)),
                // Any prefix of the merged order is consistent.
                Merge::Prefix => merged.cut(bad.as_ref().map_or(i, |(b, _)| i.min(*b))),
                Merge::Repair => {
                    assumed.note(invalid(offset, "an event's time stamp is earlier than the one before it"));
                    // The exits were moved in an order that no longer holds:
                    // put everything back as merged, sort it (unpacked: only
                    // a trace whose clocks went back comes here) and move
                    // them again.
                    let mut all = restore(merged.rest, merged.moved);
                    all.sort_by_key(|r| r.ts);
                    return Ok(move_exits(all, &mut SysExits::new(data, inline_map), assumed));
                }
            }
        }
        if let Some((_, e)) = bad
            && mode == Merge::Strict
        {
            return Err(e);
        }
        assumed.absorb(exit_notes);
        Ok(merged)
    }
}

/// Syscall exits moved to their real exit times (a GoSysExit carries the
/// time the syscall returned; the event itself is written later).
struct SysExits<'p, 'a> {
    data: &'a [u8],
    inline_map: &'p FxHashMap<&'a [u8], u64>,
    /// When each goroutine last entered a syscall.
    last_block: FxHashMap<u32, i64>,
    scratch: Vec<u64>,
}

/// What to do with an event (see [`SysExits::check`]).
enum Exit {
    Keep,
    Move,
    /// An exit with no syscall before it, or before its syscall.
    Fault(Error),
}

impl<'p, 'a> SysExits<'p, 'a> {
    fn new(data: &'a [u8], inline_map: &'p FxHashMap<&'a [u8], u64>) -> Self {
        SysExits { data, inline_map, last_block: FxHashMap::default(), scratch: Vec::with_capacity(16) }
    }

    /// Whether `ev`, the next event in merged order, moves; if it does,
    /// its time is set to the real one.
    fn check(&mut self, ev: &mut Rec) -> Exit {
        match ev.typ() {
            t::GO_SYS_BLOCK | t::GO_IN_SYSCALL => {
                self.last_block.insert(ev.g, ev.ts);
                Exit::Keep
            }
            t::GO_SYS_EXIT => {
                let ts = decode_args(self.data, ev.offset(), self.inline_map, &mut self.scratch).0[2] as i64;
                if ts == 0 {
                    return Exit::Keep;
                }
                match self.last_block.get(&ev.g).copied().unwrap_or(0) {
                    0 => Exit::Fault(invalid(ev.offset(), "stray syscall exit")),
                    block if ts < block => Exit::Fault(time_order(ev.offset())),
                    _ => {
                        ev.ts = ts;
                        Exit::Move
                    }
                }
            }
            _ => Exit::Keep,
        }
    }
}

/// A syscall exit moved to its real time, set aside at its place in the
/// merged order.
#[derive(Clone, Copy, Debug)]
struct MovedRec {
    rec: Rec,
    place: usize,
    /// Its time where it was merged.
    merged_ts: i64,
}

/// The merged events: those in time order, and the syscall exits moved
/// out of it (by place).
pub(crate) struct Merged {
    rest: RecList,
    moved: Vec<MovedRec>,
}

/// The events in `all` (merged, sorted by time) with their syscall exits
/// moved, faults noted in `assumed` (a repairing read).
fn move_exits(all: Vec<Rec>, exits: &mut SysExits<'_, '_>, assumed: &mut Assumed) -> Merged {
    let mut rest = RecBuilder::default();
    let mut moved = Vec::new();
    for (place, mut rec) in all.into_iter().enumerate() {
        let merged_ts = rec.ts;
        match exits.check(&mut rec) {
            Exit::Move => moved.push(MovedRec { rec, place, merged_ts }),
            Exit::Keep => rest.push(&rec),
            Exit::Fault(e) => {
                assumed.note(e);
                rest.push(&rec);
            }
        }
    }
    Merged { rest: rest.finish(), moved }
}

/// The events as merged, with the times they were merged with.
fn restore(rest: RecList, moved: Vec<MovedRec>) -> Vec<Rec> {
    let mut all = Vec::with_capacity(rest.len() + moved.len());
    let mut moved = moved.into_iter().peekable();
    for r in rest {
        while let Some(m) = moved.next_if(|m| m.place <= all.len()) {
            all.push(Rec { ts: m.merged_ts, ..m.rec });
        }
        all.push(r);
    }
    all.extend(moved.map(|m| Rec { ts: m.merged_ts, ..m.rec }));
    all
}

impl Merged {
    /// Keeps the events merged before place `end`.
    fn cut(&mut self, end: usize) {
        self.moved.retain(|m| m.place < end);
        self.rest.truncate(end.saturating_sub(self.moved.len()));
    }

    /// The events in time order: the moved ones put back among the others
    /// as a stable sort by time of the merged list would put them.
    pub fn into_ordered(self) -> Ordered {
        let places: Vec<usize> = self.moved.iter().map(|m| m.place).collect();
        let mut moved = self.moved;
        moved.sort_unstable_by_key(|m| (m.rec.ts, m.place));
        Ordered {
            rest: self.rest.into_iter(),
            moved: moved.into_iter().peekable(),
            places,
            next_place: 0,
            taken: 0,
            head: None,
        }
    }
}

/// See [`Merged::into_ordered`].
pub(crate) struct Ordered {
    rest: super::reclist::IntoIter,
    /// Sorted by time, then place.
    moved: std::iter::Peekable<std::vec::IntoIter<MovedRec>>,
    /// The places of the moved events, ascending.
    places: Vec<usize>,
    /// The place in the merged order of the next event of `rest`, less the
    /// moved ones not yet stepped over (`taken` of `places` are).
    next_place: usize,
    taken: usize,
    /// The next event of `rest`, with its place.
    head: Option<(Rec, usize)>,
}

impl Iterator for Ordered {
    type Item = Rec;

    fn next(&mut self) -> Option<Rec> {
        if self.head.is_none()
            && let Some(a) = self.rest.next()
        {
            while self.places.get(self.taken) == Some(&self.next_place) {
                self.taken += 1;
                self.next_place += 1;
            }
            let place = self.next_place;
            self.next_place += 1;
            // Nearly always no moved event goes first: the record is given
            // out as it is, not parked in `head` and read back at once (a
            // stalled load, each event).
            if self.moved.peek().is_none_or(|m| (m.rec.ts, m.place) >= (a.ts, place)) {
                return Some(a);
            }
            self.head = Some((a, place));
        }
        let Some((a, place)) = self.head else { return self.moved.next().map(|m| m.rec) };
        // Ties go by place.
        if let Some(m) = self.moved.next_if(|m| (m.rec.ts, m.place) < (a.ts, place)) {
            return Some(m.rec);
        }
        self.head = None;
        Some(a)
    }
}

/// One batch of a P: the byte range of its events (which may also hold
/// string and stack events), its start time, its event count and the
/// offset of its first event.
#[derive(Clone, Copy)]
struct Batch {
    start: usize,
    end: usize,
    ts: i64,
    count: usize,
    first: u64,
}

/// The batches of one P.
#[derive(Clone)]
struct ProcBatches {
    p: i32,
    batches: Vec<Batch>,
}

/// Decodes the events of one P again from the (already validated) file,
/// batch by batch, as Go's parser built them on the first read.
struct ProcCursor {
    p: i32,
    batches: Vec<Batch>,
    bi: usize,
    off: usize,
    last_ts: i64,
    last_g: u64,
    head: Option<V1Event>,
}

impl ProcCursor {
    fn new(pb: ProcBatches) -> Self {
        let mut c = ProcCursor { p: pb.p, batches: pb.batches, bi: 0, off: 0, last_ts: 0, last_g: 0, head: None };
        if let Some(b) = c.batches.first() {
            c.off = b.start;
            c.last_ts = b.ts;
        }
        c
    }

    /// The next event of the P, without consuming it (taking `head` does).
    fn peek(&mut self, data: &[u8], inline_map: &FxHashMap<&[u8], u64>, args: &mut Vec<u64>) -> Option<&V1Event> {
        if self.head.is_none() {
            self.head = self.decode_next(data, inline_map, args);
        }
        self.head.as_ref()
    }

    fn decode_next(&mut self, data: &[u8], inline_map: &FxHashMap<&[u8], u64>, args: &mut Vec<u64>) -> Option<V1Event> {
        loop {
            let b = *self.batches.get(self.bi)?;
            if self.off >= b.end {
                self.bi += 1;
                let nb = self.batches.get(self.bi)?;
                self.off = nb.start;
                self.last_ts = nb.ts;
                continue;
            }
            let at = self.off;
            let (typ, sarg) = decode_raw(data, &mut self.off, args);
            match typ {
                t::STRING | t::STACK | t::FREQUENCY | t::TIMER_GOROUTINE | t::CPU_SAMPLE | t::BATCH => continue,
                _ => {}
            }
            return Some(self.build(typ, args, sarg, at, inline_map));
        }
    }

    fn build(&mut self, typ: u8, args: &[u64], sarg: &[u8], at: usize, inline_map: &FxHashMap<&[u8], u64>) -> V1Event {
        let arg = |i: usize| args.get(i).copied().unwrap_or(0);
        let mut ev = V1Event {
            ts: self.last_ts.wrapping_add(arg(0) as i64),
            g: self.last_g,
            args: [0; 3],
            stk: 0,
            p: self.p,
            typ,
            offset: at as u64,
        };
        self.last_ts = ev.ts;
        (ev.args, ev.stk) = args_of(typ, args, sarg, inline_map);
        match typ {
            t::GO_START | t::GO_START_LOCAL | t::GO_START_LABEL => {
                self.last_g = ev.args[0];
                ev.g = self.last_g;
            }
            t::GO_END
            | t::GO_STOP
            | t::GO_SCHED
            | t::GO_PREEMPT
            | t::GO_SLEEP
            | t::GO_BLOCK
            | t::GO_BLOCK_SEND
            | t::GO_BLOCK_RECV
            | t::GO_BLOCK_SELECT
            | t::GO_BLOCK_SYNC
            | t::GO_BLOCK_COND
            | t::GO_BLOCK_NET
            | t::GO_SYS_BLOCK
            | t::GO_BLOCK_GC => self.last_g = 0,
            t::GO_SYS_EXIT | t::GO_WAITING | t::GO_IN_SYSCALL => ev.g = ev.args[0],
            _ => {}
        }
        ev
    }
}

/// Decodes the event at `*off` of a file already validated by
/// [`Parser::read_all`]: its type, its values into `args` and its string
/// argument. Moves `*off` past it.
fn decode_raw<'a>(data: &'a [u8], off: &mut usize, args: &mut Vec<u64>) -> (u8, &'a [u8]) {
    let val = |off: &mut usize| {
        let (v, n) = data.get(*off..).and_then(uvarint).unwrap_or((0, 1));
        *off += n;
        v
    };
    args.clear();
    let b = data.get(*off).copied().unwrap_or(0);
    *off += 1;
    let typ = b & 0x3f;
    let narg = usize::from(b >> 6) + 1;
    if typ == t::STRING {
        let _id = val(off);
        let len = val(off) as usize;
        *off = off.saturating_add(len);
        return (typ, &[]);
    }
    if narg <= 3 {
        for _ in 0..narg {
            args.push(val(off));
        }
        return (typ, &[]);
    }
    let len = val(off) as usize;
    let end = off.saturating_add(len).min(data.len());
    let mut buf = data.get(*off..end).unwrap_or_default();
    *off = end;
    while let Some((v, n)) = uvarint(buf) {
        args.push(v);
        buf = buf.get(n..).unwrap_or_default();
    }
    let mut sarg: &[u8] = &[];
    if typ == t::USER_LOG {
        let sz = val(off) as usize;
        let end = off.saturating_add(sz).min(data.len());
        sarg = data.get(*off..end).unwrap_or_default();
        *off = end;
    }
    (typ, sarg)
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct GState {
    seq: u64,
    status: u8,
}

const G_DEAD: u8 = 0;
const G_RUNNABLE: u8 = 1;
const G_RUNNING: u8 = 2;
const G_WAITING: u8 = 3;
const UNORDERED: u64 = u64::MAX;
const GARBAGE: u64 = u64::MAX - 1;
const NOSEQ: u64 = u64::MAX;
const SEQINC: u64 = u64::MAX - 1;

fn gst(seq: u64, status: u8) -> GState {
    GState { seq, status }
}

fn state_transition(ev: &V1Event) -> (u64, GState, GState) {
    let a = &ev.args;
    match ev.typ {
        t::GO_CREATE => (a[0], gst(0, G_DEAD), gst(1, G_RUNNABLE)),
        t::GO_WAITING | t::GO_IN_SYSCALL => (ev.g, gst(1, G_RUNNABLE), gst(2, G_WAITING)),
        t::GO_START | t::GO_START_LABEL => (ev.g, gst(a[1], G_RUNNABLE), gst(a[1].wrapping_add(1), G_RUNNING)),
        t::GO_START_LOCAL => (ev.g, gst(NOSEQ, G_RUNNABLE), gst(SEQINC, G_RUNNING)),
        t::GO_BLOCK
        | t::GO_BLOCK_SEND
        | t::GO_BLOCK_RECV
        | t::GO_BLOCK_SELECT
        | t::GO_BLOCK_SYNC
        | t::GO_BLOCK_COND
        | t::GO_BLOCK_NET
        | t::GO_SLEEP
        | t::GO_SYS_BLOCK
        | t::GO_BLOCK_GC => (ev.g, gst(NOSEQ, G_RUNNING), gst(NOSEQ, G_WAITING)),
        t::GO_SCHED | t::GO_PREEMPT => (ev.g, gst(NOSEQ, G_RUNNING), gst(NOSEQ, G_RUNNABLE)),
        t::GO_UNBLOCK | t::GO_SYS_EXIT => (a[0], gst(a[1], G_WAITING), gst(a[1].wrapping_add(1), G_RUNNABLE)),
        t::GO_UNBLOCK_LOCAL | t::GO_SYS_EXIT_LOCAL => (a[0], gst(NOSEQ, G_WAITING), gst(SEQINC, G_RUNNABLE)),
        t::GC_START => (GARBAGE, gst(a[0], G_DEAD), gst(a[0].wrapping_add(1), G_DEAD)),
        _ => (UNORDERED, GState::default(), GState::default()),
    }
}

fn transition_ready(g: u64, curr: GState, init: GState) -> bool {
    g == UNORDERED || (init.seq == NOSEQ || init.seq == curr.seq) && init.status == curr.status
}

// A binary min-heap by timestamp with exactly Go's sift steps, so that
// events with equal timestamps come out in the same order.
// The steps are Go's swaps done with a hole: an entry moves once per
// level and the new (or last) one is written once, at its place, where a
// swap read back the entry just written (a stalled load, each event).
fn heap_push(h: &mut Vec<(i64, usize)>, x: (i64, usize)) {
    let mut j = h.len();
    h.push(x);
    while j > 0 {
        let i = (j - 1) / 2;
        let Some(&parent) = h.get(i) else { break };
        if x.0 >= parent.0 {
            break;
        }
        if let Some(slot) = h.get_mut(j) {
            *slot = parent;
        }
        j = i;
    }
    if let Some(slot) = h.get_mut(j) {
        *slot = x;
    }
}

fn heap_pop(h: &mut Vec<(i64, usize)>) -> Option<(i64, usize)> {
    let n = h.len().checked_sub(1)?;
    let last = *h.get(n)?;
    let top = *h.first()?;
    let mut i = 0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let (Some(&c1), c2) = (h.get(j1), h.get(j1 + 1).filter(|_| j1 + 1 < n).copied()) else { break };
        let (j, c) = match c2 {
            Some(c2) if c2.0 < c1.0 => (j1 + 1, c2),
            _ => (j1, c1),
        };
        if c.0 >= last.0 {
            break;
        }
        if let Some(slot) = h.get_mut(i) {
            *slot = c;
        }
        i = j;
    }
    if let Some(slot) = h.get_mut(i) {
        *slot = last;
    }
    h.truncate(n);
    Some(top)
}

#[derive(Clone, Copy, Default)]
struct GDesc {
    state: u8,
    /// Type of the event Go keeps as the goroutine's last relevant event.
    ev: Option<u8>,
    mark_assist: bool,
}

#[derive(Clone, Copy, Default)]
struct PDesc {
    running: bool,
    g: u64,
    sweep: bool,
}

/// Times in nanoseconds ([`Times`]), then Go's consistency pass: validates
/// states and moves network unblocks and GC starts to their fake Ps.
/// Returns the events that passed, which syscalls blocked and, on
/// failure, the index of the offending event (the events kept are the ones
/// before it).
///
/// With `repair`, a failed check is noted there instead, and the event
/// changes the states as if it had passed.
fn post_process(
    events: impl Iterator<Item = Rec>,
    parser: &Parser<'_>,
    mut repair: Option<&mut Assumed>,
) -> (Processed, Result<(), (usize, Error)>) {
    let mut at = 0;
    let mut out =
        Checked { events: RecBuilder::default(), blocked: FxHashSet::default(), in_call: FxHashMap::default() };
    let mut times = Times::new(parser);
    let checked = post_process_at(events, &mut out, &mut times, parser, &mut at, &mut repair);
    // On an error, what was checked before it.
    let done = Processed { events: out.events.finish(), blocked: out.blocked, scale: times.scale };
    (done, checked.map_err(|e| (at, e)))
}

/// What [`post_process`] gives.
pub(crate) struct Processed {
    events: RecList,
    blocked: FxHashSet<usize>,
    scale: TickScale,
}

/// The events post-processing has passed, and which syscalls blocked.
struct Checked {
    events: RecBuilder,
    blocked: FxHashSet<usize>,
    /// Each goroutine's last event, if it was a GoSysCall: its place.
    in_call: FxHashMap<u32, usize>,
}

impl Checked {
    fn push(&mut self, i: usize, rec: Rec) {
        if let Some(j) = self.in_call.remove(&rec.g)
            && rec.typ() == t::GO_SYS_BLOCK
        {
            self.blocked.insert(j);
        }
        if rec.typ() == t::GO_SYS_CALL {
            self.in_call.insert(rec.g, i);
        }
        self.events.push(&rec);
    }
}

fn post_process_at(
    events: impl Iterator<Item = Rec>,
    out: &mut Checked,
    times: &mut Times<'_>,
    parser: &Parser<'_>,
    index: &mut usize,
    repair: &mut Option<&mut Assumed>,
) -> Result<()> {
    let (data, inline_map, gids) = (parser.cur.data, &parser.inline_map, &parser.gids);
    let mut gs: GMap<GDesc> = GMap::default();
    let mut ps: FxHashMap<i32, PDesc> = FxHashMap::default();
    let mut tasks: FxHashSet<u64> = FxHashSet::default();
    let mut regions: FxHashMap<u64, Vec<(u64, u64)>> = FxHashMap::default();
    gs.insert(0, GDesc { state: G_RUNNING, ..GDesc::default() });
    let (mut in_gc, mut in_stw) = (false, false);

    let check_running = |p: PDesc, g: GDesc, ev: &V1Event, allow_g0: bool| -> Result<()> {
        let name = desc(ev.typ).name;
        if g.state != G_RUNNING {
            return Err(invalid(ev.offset, format!("g {} is not running while {name} (time {})", ev.g, ev.ts)));
        }
        if p.g != ev.g {
            return Err(invalid(
                ev.offset,
                format!("p {} is not running g {} while {name} (time {})", ev.p, ev.g, ev.ts),
            ));
        }
        if !allow_g0 && ev.g == 0 {
            return Err(invalid(ev.offset, format!("g 0 did {name} (time {})", ev.ts)));
        }
        Ok(())
    };

    let mut scratch: Vec<u64> = Vec::with_capacity(16);
    for (i, mut rec) in events.enumerate() {
        *index = i;
        let ns = times.apply(&mut rec);
        let typ = rec.typ();
        let offset = rec.offset();
        // Only these events need their arguments (the stack is checked by
        // the converter).
        let args = match typ {
            t::GO_CREATE | t::GO_UNBLOCK | t::USER_TASK_CREATE | t::USER_TASK_END | t::USER_REGION => {
                decode_args(data, offset, inline_map, &mut scratch).0
            }
            _ => [0; 3],
        };
        let ev = &mut V1Event { ts: ns, g: gids.get(rec.g), args, stk: 0, p: rec.p, typ, offset };
        let at = ev.offset;
        let ts = ev.ts;
        match ev.typ {
            t::PROC_START => {
                let p = ps.entry(ev.p).or_default();
                if p.running {
                    Assumed::allow(
                        repair,
                        Err(invalid(at, format!("p {} is running before start (time {ts})", ev.p))),
                    )?;
                }
                p.running = true;
            }
            t::PROC_STOP => {
                let p = ps.entry(ev.p).or_default();
                if !p.running {
                    Assumed::allow(
                        repair,
                        Err(invalid(at, format!("p {} is not running before stop (time {ts})", ev.p))),
                    )?;
                }
                if p.g != 0 {
                    Assumed::allow(
                        repair,
                        Err(invalid(at, format!("p {} is running a goroutine {} during stop (time {ts})", ev.p, p.g))),
                    )?;
                }
                p.running = false;
            }
            t::GC_START => {
                if in_gc {
                    Assumed::allow(
                        repair,
                        Err(invalid(at, format!("previous GC is not ended before a new one (time {ts})"))),
                    )?;
                }
                in_gc = true;
                ev.p = GC_P;
            }
            t::GC_DONE => {
                if !in_gc {
                    Assumed::allow(repair, Err(invalid(at, format!("bogus GC end (time {ts})"))))?;
                }
                in_gc = false;
            }
            t::STW_START => {
                if in_stw {
                    Assumed::allow(
                        repair,
                        Err(invalid(at, format!("previous STW is not ended before a new one (time {ts})"))),
                    )?;
                }
                in_stw = true;
            }
            t::STW_DONE => {
                if !in_stw {
                    Assumed::allow(repair, Err(invalid(at, format!("bogus STW end (time {ts})"))))?;
                }
                in_stw = false;
            }
            t::GC_SWEEP_START => {
                let p = ps.entry(ev.p).or_default();
                if p.sweep {
                    Assumed::allow(
                        repair,
                        Err(invalid(at, format!("previous sweeping is not ended before a new one (time {ts})"))),
                    )?;
                }
                p.sweep = true;
            }
            t::GC_MARK_ASSIST_START => {
                let g = gs.entry(ev.g);
                if g.mark_assist {
                    Assumed::allow(
                        repair,
                        Err(invalid(at, format!("previous mark assist is not ended before a new one (time {ts})"))),
                    )?;
                }
                g.mark_assist = true;
            }
            t::GC_MARK_ASSIST_DONE => {
                gs.entry(ev.g).mark_assist = false;
            }
            t::GC_SWEEP_DONE => {
                let p = ps.entry(ev.p).or_default();
                if !p.sweep {
                    Assumed::allow(repair, Err(invalid(at, format!("bogus sweeping end (time {ts})"))))?;
                }
                p.sweep = false;
            }
            t::GO_WAITING | t::GO_IN_SYSCALL => {
                let g = gs.entry(ev.g);
                if g.state != G_RUNNABLE {
                    let what = if ev.typ == t::GO_WAITING { "EvGoWaiting" } else { "EvGoInSyscall" };
                    Assumed::allow(
                        repair,
                        Err(invalid(at, format!("g {} is not runnable before {what} (time {ts})", ev.g))),
                    )?;
                }
                g.state = G_WAITING;
                g.ev = Some(ev.typ);
            }
            t::GO_CREATE => {
                let g = gs.get(ev.g);
                let p = ps.get(&ev.p).copied().unwrap_or_default();
                Assumed::allow(repair, check_running(p, g, ev, true))?;
                if gs.contains_key(ev.args[0]) {
                    Assumed::allow(repair, Err(invalid(at, format!("g {} already exists (time {ts})", ev.args[0]))))?;
                }
                gs.insert(ev.args[0], GDesc { state: G_RUNNABLE, ev: Some(ev.typ), mark_assist: false });
            }
            t::GO_START | t::GO_START_LABEL => {
                let g = gs.entry(ev.g);
                let p = ps.entry(ev.p).or_default();
                if g.state != G_RUNNABLE {
                    Assumed::allow(
                        repair,
                        Err(invalid(at, format!("g {} is not runnable before start (time {ts})", ev.g))),
                    )?;
                }
                if p.g != 0 {
                    Assumed::allow(
                        repair,
                        Err(invalid(
                            at,
                            format!("p {} is already running g {} while start g {} (time {ts})", ev.p, p.g, ev.g),
                        )),
                    )?;
                }
                g.state = G_RUNNING;
                g.ev = None;
                p.g = ev.g;
            }
            t::GO_END | t::GO_STOP | t::GO_SCHED | t::GO_PREEMPT | t::GO_SYS_BLOCK => {
                let g = gs.get(ev.g);
                let p = ps.get(&ev.p).copied().unwrap_or_default();
                Assumed::allow(repair, check_running(p, g, ev, false))?;
                let g = gs.entry(ev.g);
                match ev.typ {
                    t::GO_SCHED | t::GO_PREEMPT => {
                        g.state = G_RUNNABLE;
                        g.ev = Some(ev.typ);
                    }
                    t::GO_SYS_BLOCK => g.state = G_WAITING,
                    _ => g.state = G_DEAD,
                }
                ps.entry(ev.p).or_default().g = 0;
                if ev.typ == t::GO_END {
                    regions.remove(&ev.g);
                }
            }
            t::GO_UNBLOCK => {
                let g = gs.get(ev.g);
                let p = ps.get(&ev.p).copied().unwrap_or_default();
                if g.state != G_RUNNING {
                    Assumed::allow(
                        repair,
                        Err(invalid(at, format!("g {} is not running while unpark (time {ts})", ev.g))),
                    )?;
                }
                if ev.p != TIMER_P && p.g != ev.g {
                    Assumed::allow(
                        repair,
                        Err(invalid(at, format!("p {} is not running g {} while unpark (time {ts})", ev.p, ev.g))),
                    )?;
                }
                let g1 = gs.entry(ev.args[0]);
                if g1.state != G_WAITING {
                    Assumed::allow(
                        repair,
                        Err(invalid(at, format!("g {} is not waiting before unpark (time {ts})", ev.args[0]))),
                    )?;
                }
                if g1.ev == Some(t::GO_BLOCK_NET) {
                    ev.p = NETPOLL_P;
                }
                g1.state = G_RUNNABLE;
                g1.ev = Some(ev.typ);
            }
            t::GO_SYS_CALL => {
                let g = gs.get(ev.g);
                let p = ps.get(&ev.p).copied().unwrap_or_default();
                Assumed::allow(repair, check_running(p, g, ev, false))?;
                gs.entry(ev.g).ev = Some(ev.typ);
            }
            t::GO_SYS_EXIT => {
                let g = gs.entry(ev.g);
                if g.state != G_WAITING {
                    Assumed::allow(
                        repair,
                        Err(invalid(at, format!("g {} is not waiting during syscall exit (time {ts})", ev.g))),
                    )?;
                }
                g.state = G_RUNNABLE;
                g.ev = Some(ev.typ);
            }
            t::GO_SLEEP
            | t::GO_BLOCK
            | t::GO_BLOCK_SEND
            | t::GO_BLOCK_RECV
            | t::GO_BLOCK_SELECT
            | t::GO_BLOCK_SYNC
            | t::GO_BLOCK_COND
            | t::GO_BLOCK_NET
            | t::GO_BLOCK_GC => {
                let g = gs.get(ev.g);
                let p = ps.get(&ev.p).copied().unwrap_or_default();
                Assumed::allow(repair, check_running(p, g, ev, false))?;
                let g = gs.entry(ev.g);
                g.state = G_WAITING;
                g.ev = Some(ev.typ);
                ps.entry(ev.p).or_default().g = 0;
            }
            t::USER_TASK_CREATE if !tasks.insert(ev.args[0]) => {
                Assumed::allow(repair, Err(invalid(at, format!("task id conflicts (id:{})", ev.args[0]))))?;
            }
            t::USER_TASK_END => {
                tasks.remove(&ev.args[0]);
            }
            t::USER_REGION => match ev.args[1] {
                0 => regions.entry(ev.g).or_default().push((ev.args[0], ev.args[2])),
                1 => {
                    if let Some(stack) = regions.get_mut(&ev.g)
                        && let Some(&(task, name)) = stack.last()
                    {
                        if task != ev.args[0] || name != ev.args[2] {
                            Assumed::allow(
                                repair,
                                Err(invalid(at, format!("misuse of region in goroutine {}", ev.g))),
                            )?;
                        }
                        stack.pop();
                        if stack.is_empty() {
                            regions.remove(&ev.g);
                        }
                    }
                }
                _ => Assumed::allow(repair, Err(invalid(at, "invalid user region mode")))?,
            },
            _ => {}
        }
        rec.p = ev.p;
        out.push(i, rec);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed v1 traces: (file, header minor, whether Go refuses it).
    fn committed_v1() -> Vec<(std::path::PathBuf, u32, bool)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces");
        let mut out = Vec::new();
        for (dir, ver) in [("go1.19", 19), ("go1.21", 21)] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
            for path in entries.flatten().map(|e| e.path()) {
                if path.extension().is_some_and(|e| e == "trace") {
                    let refused = path.with_extension("parsed.err").exists();
                    out.push((path, ver, refused));
                }
            }
        }
        out.sort();
        out
    }

    fn read(path: &std::path::Path) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn key(r: Rec) -> (i64, u64, u32, i32) {
        (r.ts, r.off_typ, r.g, r.p)
    }

    #[test]
    fn a_complete_trace_go_refuses_is_read_whole_in_time_order() {
        let mut refused = 0;
        for (path, ver, _) in committed_v1().into_iter().filter(|t| t.2) {
            let data = read(&path);
            let mut p = Parser::new(&data, ver);
            assert!(p.read_all().is_ok(), "{}", path.display());
            let read = p.n_read + p.cpu_samples.len();
            let parsed = parse(&data, ver).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let note = parsed.damage.unwrap_or_else(|| panic!("{}: no note", path.display()));
            assert_eq!(note.kind, crate::error::ErrorKind::Inconsistent, "{}: {note}", path.display());
            assert!(note.message.starts_with("no consistent ordering of events possible"), "{note}");
            assert_eq!(parsed.events.len(), read, "{}: every event read is kept", path.display());
            assert!(parsed.events.is_sorted_by_time(), "{}", path.display());
            refused += 1;
        }
        assert!(refused >= 2, "{refused} refused traces");
    }

    /// The merged events of a whole trace are held packed: a few bytes an
    /// event, where a `Rec` takes 24.
    #[test]
    fn merged_events_take_a_few_bytes_each() {
        let mut checked = 0;
        for (path, ver, _) in committed_v1() {
            let data = read(&path);
            let parsed = parse(&data, ver).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if parsed.events.len() < 2_000 {
                continue;
            }
            let per_event = parsed.events.byte_len() as f64 / parsed.events.len() as f64;
            assert!(per_event < 6.0, "{}: {per_event:.2} bytes an event", path.display());
            checked += 1;
        }
        assert!(checked >= 4, "{checked} traces");
    }

    #[test]
    fn repairing_changes_nothing_where_go_can_order() {
        let mut checked = 0;
        for (path, ver, _) in committed_v1().into_iter().filter(|t| !t.2) {
            let data = read(&path);
            let strict = parse(&data, ver).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(strict.damage.is_none(), "{}", path.display());
            let mut p = Parser::new(&data, ver);
            assert!(p.read_all().is_ok(), "{}", path.display());
            let mut assumed = Assumed::default();
            let events = p.merge(Merge::Repair, &mut assumed).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let (done, checked_ok) = post_process(events.into_ordered(), &p, Some(&mut assumed));
            let events = done.events;
            assert!(checked_ok.is_ok(), "{}", path.display());
            assert_eq!(assumed.count, 0, "{}: {:?}", path.display(), assumed.first);
            let (got, want): (Vec<_>, Vec<_>) =
                (events.iter().map(key).collect(), strict.events.iter().map(key).collect());
            assert!(got == want, "{}: the repairing read differs", path.display());
            checked += 1;
        }
        assert!(checked >= 20, "{checked} traces");
    }

    /// Go's heap steps, swap by swap, as a reference for the hole version:
    /// equal times must come out in exactly Go's order.
    #[test]
    fn the_heap_pops_equal_times_in_gos_order() {
        fn less(h: &[(i64, usize)], i: usize, j: usize) -> bool {
            h[i].0 < h[j].0
        }
        fn push(h: &mut Vec<(i64, usize)>, x: (i64, usize)) {
            h.push(x);
            let mut j = h.len() - 1;
            while j > 0 {
                let i = (j - 1) / 2;
                if !less(h, j, i) {
                    break;
                }
                h.swap(i, j);
                j = i;
            }
        }
        fn pop(h: &mut Vec<(i64, usize)>) -> Option<(i64, usize)> {
            let n = h.len().checked_sub(1)?;
            h.swap(0, n);
            let mut i = 0;
            loop {
                let j1 = 2 * i + 1;
                if j1 >= n {
                    break;
                }
                let mut j = j1;
                if j1 + 1 < n && less(h, j1 + 1, j1) {
                    j = j1 + 1;
                }
                if !less(h, j, i) {
                    break;
                }
                h.swap(i, j);
                i = j;
            }
            h.pop()
        }
        let mut seed = 11u64;
        let mut rnd = |m: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        for _ in 0..500 {
            let (mut got, mut want) = (Vec::new(), Vec::new());
            let (mut out_got, mut out_want) = (Vec::new(), Vec::new());
            for k in 0..200usize {
                if rnd(3) == 0 {
                    out_got.push(heap_pop(&mut got));
                    out_want.push(pop(&mut want));
                } else {
                    // Few distinct times: many ties.
                    let x = (rnd(4) as i64, k);
                    heap_push(&mut got, x);
                    push(&mut want, x);
                }
                assert_eq!(got, want);
            }
            while let Some(x) = pop(&mut want) {
                out_want.push(Some(x));
                out_got.push(heap_pop(&mut got));
            }
            assert_eq!(out_got, out_want);
            assert_eq!(heap_pop(&mut got), None);
        }
    }

    #[test]
    fn moved_events_are_put_back_as_a_stable_sort_would() {
        let mut seed = 7u64;
        let mut rnd = |m: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        for _ in 0..2000 {
            let n = rnd(40) as usize;
            let mut ts = 0i64;
            let mut v: Vec<Rec> = (0..n)
                .map(|i| {
                    ts += rnd(3) as i64;
                    Rec { ts, off_typ: i as u64, g: 0, p: 0 }
                })
                .collect();
            let merged = v.clone();
            let mut moved = Vec::new();
            for (i, e) in v.iter_mut().enumerate() {
                if rnd(4) == 0 {
                    e.ts = rnd(ts as u64 + 3) as i64;
                    moved.push(i);
                }
            }
            let mut want = v.clone();
            want.sort_by_key(|e| e.ts);
            let split = || {
                let (rest, taken): (Vec<_>, Vec<_>) =
                    v.iter().copied().enumerate().partition(|(i, _)| !moved.contains(i));
                let rest: RecList = rest.into_iter().map(|(_, e)| e).collect();
                let moved: Vec<MovedRec> = taken
                    .into_iter()
                    .map(|(place, rec)| MovedRec { rec, place, merged_ts: merged[place].ts })
                    .collect();
                Merged { rest, moved }
            };
            let sorted: Vec<Rec> = split().into_ordered().collect();
            let got: Vec<u64> = sorted.iter().map(|e| e.offset()).collect();
            let want: Vec<u64> = want.iter().map(|e| e.offset()).collect();
            assert_eq!(got, want);
            // A prefix of the merged order.
            let end = rnd(n as u64 + 2) as usize;
            let mut cut = split();
            cut.cut(end);
            let mut want: Vec<Rec> = v.iter().copied().take(end).collect();
            want.sort_by_key(|e| e.ts);
            let got: Vec<_> = cut.into_ordered().map(key).collect();
            assert_eq!(got, want.into_iter().map(key).collect::<Vec<_>>(), "cut at {end}");
            // And back as merged, for a repairing read to sort again.
            let Merged { rest, moved } = split();
            let back: Vec<_> = restore(rest, moved).into_iter().map(key).collect();
            assert_eq!(back, merged.into_iter().map(key).collect::<Vec<_>>());
        }
    }
}
