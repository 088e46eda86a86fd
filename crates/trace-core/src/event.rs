//! The public event model, mirroring Go's `internal/trace.Event`.
//!
//! An [`Event`] is a small `Copy` value. Strings and stacks stay in the
//! generation's tables and are resolved through an [`EventContext`].

use crate::generation::{ClockSnapshot, EvTable};
use crate::ids::{GoroutineId, ProcId, StackId, StringId, TaskId, ThreadId, TimeNs};
use crate::spec::{self, EventType, ev};

/// The number of argument slots an event carries.
pub const ARG_SLOTS: usize = spec::MAX_TIMED_EVENT_ARGS - 1;

/// What an event means, as in Go's `trace.EventKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// Not a valid event.
    Bad,
    /// A generation boundary: everything before it is consistent.
    Sync,
    /// A sampled runtime metric (heap, heap goal, GOMAXPROCS).
    Metric,
    /// A goroutine label.
    Label,
    /// A CPU profile sample.
    StackSample,
    /// A range (GC, STW, sweep, mark assist) begins.
    RangeBegin,
    /// A range is active at a generation's start.
    RangeActive,
    /// A range ends.
    RangeEnd,
    /// A user task begins.
    TaskBegin,
    /// A user task ends.
    TaskEnd,
    /// A user region begins.
    RegionBegin,
    /// A user region ends.
    RegionEnd,
    /// A user log message.
    Log,
    /// A goroutine or P changes state.
    StateTransition,
    /// An experimental event.
    Experimental,
}

impl EventKind {
    /// Go's name for the kind.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Bad => "Bad",
            EventKind::Sync => "Sync",
            EventKind::Metric => "Metric",
            EventKind::Label => "Label",
            EventKind::StackSample => "StackSample",
            EventKind::RangeBegin => "RangeBegin",
            EventKind::RangeActive => "RangeActive",
            EventKind::RangeEnd => "RangeEnd",
            EventKind::TaskBegin => "TaskBegin",
            EventKind::TaskEnd => "TaskEnd",
            EventKind::RegionBegin => "RegionBegin",
            EventKind::RegionEnd => "RegionEnd",
            EventKind::Log => "Log",
            EventKind::StateTransition => "StateTransition",
            EventKind::Experimental => "Experimental",
        }
    }

    /// Every kind, for tables and counters.
    pub const ALL: [EventKind; 15] = [
        EventKind::Bad,
        EventKind::Sync,
        EventKind::Metric,
        EventKind::Label,
        EventKind::StackSample,
        EventKind::RangeBegin,
        EventKind::RangeActive,
        EventKind::RangeEnd,
        EventKind::TaskBegin,
        EventKind::TaskEnd,
        EventKind::RegionBegin,
        EventKind::RegionEnd,
        EventKind::Log,
        EventKind::StateTransition,
        EventKind::Experimental,
    ];
}

/// Per type, 1 + the argument slot of the event's own stack (0: none).
static OWN_STACK_SLOT: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < spec::SPECS.len() {
        if let Some(&a) = spec::SPECS[i].stack_ids.first() {
            t[i] = a as u8;
        }
        i += 1;
    }
    // CPU samples carry their stack in the first slot; Sync events have none.
    t[ev::CPU_SAMPLE as usize] = 1;
    t
};

/// Kinds by type byte, so `Event::kind` is one load.
static KINDS: [EventKind; 256] = {
    let mut t = [EventKind::Bad; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = kind_of_slow(i as u8);
        i += 1;
    }
    t
};

/// Maps a wire type to its kind.
#[inline]
pub fn kind_of(typ: EventType) -> EventKind {
    KINDS[typ as usize]
}

const fn kind_of_slow(typ: EventType) -> EventKind {
    use EventKind as K;
    match typ {
        ev::SYNC_PSEUDO => K::Sync,
        ev::CPU_SAMPLE => K::StackSample,
        ev::PROCS_CHANGE | ev::HEAP_ALLOC | ev::HEAP_GOAL => K::Metric,
        ev::PROC_START..=ev::GO_STATUS => K::StateTransition,
        ev::GO_SWITCH | ev::GO_SWITCH_DESTROY | ev::GO_CREATE_BLOCKED | ev::GO_STATUS_STACK => K::StateTransition,
        ev::STW_BEGIN | ev::GC_BEGIN | ev::GC_SWEEP_BEGIN | ev::GC_MARK_ASSIST_BEGIN => K::RangeBegin,
        ev::GC_ACTIVE | ev::GC_SWEEP_ACTIVE | ev::GC_MARK_ASSIST_ACTIVE => K::RangeActive,
        ev::STW_END | ev::GC_END | ev::GC_SWEEP_END | ev::GC_MARK_ASSIST_END => K::RangeEnd,
        ev::GO_LABEL => K::Label,
        ev::USER_TASK_BEGIN => K::TaskBegin,
        ev::USER_TASK_END => K::TaskEnd,
        ev::USER_REGION_BEGIN => K::RegionBegin,
        ev::USER_REGION_END => K::RegionEnd,
        ev::USER_LOG => K::Log,
        ev::SPAN..=ev::GOROUTINE_STACK_FREE => K::Experimental,
        _ => K::Bad,
    }
}

/// A goroutine state, as in Go's `trace.GoState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum GoState {
    /// Nothing is known.
    Undetermined = 0,
    /// The goroutine does not exist.
    NotExist = 1,
    /// Ready to run.
    Runnable = 2,
    /// Running on a P.
    Running = 3,
    /// Blocked.
    Waiting = 4,
    /// In a system call.
    Syscall = 5,
}

impl GoState {
    /// From the numeric value; out-of-range values are `None` (Go prints "Bad").
    pub fn from_u8(v: u8) -> Option<GoState> {
        Some(match v {
            0 => GoState::Undetermined,
            1 => GoState::NotExist,
            2 => GoState::Runnable,
            3 => GoState::Running,
            4 => GoState::Waiting,
            5 => GoState::Syscall,
            _ => return None,
        })
    }

    /// Go's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            GoState::Undetermined => "Undetermined",
            GoState::NotExist => "NotExist",
            GoState::Runnable => "Runnable",
            GoState::Running => "Running",
            GoState::Waiting => "Waiting",
            GoState::Syscall => "Syscall",
        }
    }

    /// Whether the goroutine holds an M (running or in a syscall).
    pub fn executing(self) -> bool {
        matches!(self, GoState::Running | GoState::Syscall)
    }
}

/// A P state, as in Go's `trace.ProcState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ProcState {
    /// Nothing is known.
    Undetermined = 0,
    /// The P does not exist.
    NotExist = 1,
    /// Running (including in a syscall).
    Running = 2,
    /// Idle.
    Idle = 3,
}

impl ProcState {
    /// From the numeric value; out-of-range values are `None`.
    pub fn from_u8(v: u8) -> Option<ProcState> {
        Some(match v {
            0 => ProcState::Undetermined,
            1 => ProcState::NotExist,
            2 => ProcState::Running,
            3 => ProcState::Idle,
            _ => return None,
        })
    }

    /// Go's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            ProcState::Undetermined => "Undetermined",
            ProcState::NotExist => "NotExist",
            ProcState::Running => "Running",
            ProcState::Idle => "Idle",
        }
    }
}

/// Goroutine status as written on the wire.
pub(crate) mod go_status {
    pub const RUNNABLE: u64 = 1;
    pub const RUNNING: u64 = 2;
    pub const SYSCALL: u64 = 3;
    pub const WAITING: u64 = 4;
    pub const COUNT: u64 = 5;
}

/// P status as written on the wire.
pub(crate) mod proc_status {
    pub const RUNNING: u64 = 1;
    pub const IDLE: u64 = 2;
    pub const SYSCALL: u64 = 3;
    pub const SYSCALL_ABANDONED: u64 = 4;
    pub const COUNT: u64 = 5;
}

/// Converts a wire goroutine status to the public state.
pub(crate) fn go_state_of_status(s: u64) -> GoState {
    match s {
        go_status::RUNNABLE => GoState::Runnable,
        go_status::RUNNING => GoState::Running,
        go_status::SYSCALL => GoState::Syscall,
        go_status::WAITING => GoState::Waiting,
        _ => GoState::Undetermined,
    }
}

/// Converts a wire P status to the public state.
pub(crate) fn proc_state_of_status(s: u64) -> ProcState {
    match s {
        proc_status::RUNNING | proc_status::SYSCALL => ProcState::Running,
        proc_status::IDLE | proc_status::SYSCALL_ABANDONED => ProcState::Idle,
        _ => ProcState::Undetermined,
    }
}

/// What a state transition or range applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceId {
    /// Nothing (global).
    None,
    /// A goroutine.
    Goroutine(GoroutineId),
    /// A P.
    Proc(ProcId),
    /// An M.
    Thread(ThreadId),
}

/// A goroutine or P state change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateTransition {
    /// What changed state.
    pub resource: ResourceId,
    /// Why (goroutine stop/block reasons), as a string ID.
    pub reason: StringId,
    /// The stack relevant to the transition (blocking stack, creation stack).
    pub stack: StackId,
    /// Previous state, raw (a `GoState` or `ProcState` per resource).
    pub from: u8,
    /// New state, raw.
    pub to: u8,
}

impl StateTransition {
    /// Goroutine states, for goroutine transitions.
    pub fn goroutine(&self) -> Option<(GoroutineId, Option<GoState>, Option<GoState>)> {
        match self.resource {
            ResourceId::Goroutine(g) => Some((g, GoState::from_u8(self.from), GoState::from_u8(self.to))),
            _ => None,
        }
    }

    /// P states, for P transitions.
    pub fn proc(&self) -> Option<(ProcId, Option<ProcState>, Option<ProcState>)> {
        match self.resource {
            ResourceId::Proc(p) => Some((p, ProcState::from_u8(self.from), ProcState::from_u8(self.to))),
            _ => None,
        }
    }
}

/// Which kind of runtime range an event belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RangeName {
    /// "stop-the-world (KIND)", with the kind string.
    StopTheWorld(StringId),
    /// "GC concurrent mark phase".
    GcMark,
    /// "GC incremental sweep".
    GcSweep,
    /// "GC mark assist".
    GcMarkAssist,
}

/// A range event's name and scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// Which range.
    pub name: RangeName,
    /// What it applies to.
    pub scope: ResourceId,
}

/// A metric sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric {
    /// Go's metric name, e.g. "/gc/heap/goal:bytes".
    pub name: &'static str,
    /// Its value.
    pub value: u64,
}

/// Names of the metrics Go reports.
pub mod metric_name {
    /// GOMAXPROCS.
    pub const GOMAXPROCS: &str = "/sched/gomaxprocs:threads";
    /// Live heap bytes.
    pub const HEAP_ALLOC: &str = "/memory/classes/heap/objects:bytes";
    /// Heap goal bytes.
    pub const HEAP_GOAL: &str = "/gc/heap/goal:bytes";
}

/// Where a string lives: a generation's table or the reader's extra strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrRef {
    /// The generation's string table.
    Table(StringId),
    /// The reader's extra strings (task names carried across generations).
    Extra(u64),
}

/// A user task begin or end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Task {
    /// Task ID.
    pub id: TaskId,
    /// Parent task ID ([`TaskId::NONE`] if none or unknown).
    pub parent: TaskId,
    /// Task type (name).
    pub typ: StrRef,
}

/// A user region begin or end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Task the region belongs to.
    pub task: TaskId,
    /// Region type (name).
    pub typ: StringId,
}

/// A user log message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Log {
    /// Task the log belongs to.
    pub task: TaskId,
    /// Category.
    pub category: StringId,
    /// Message.
    pub message: StringId,
}

/// Strings created by the reader rather than read from the trace
/// (task names carried from an earlier generation to a task's end).
#[derive(Clone, Debug, Default)]
pub struct ExtraStrings {
    strings: Vec<Box<[u8]>>,
    index: rustc_hash::FxHashMap<Box<[u8]>, u64>,
}

impl ExtraStrings {
    /// Interns `s`, returning its ID (0 for the empty string).
    pub fn add(&mut self, s: &[u8]) -> u64 {
        if s.is_empty() {
            return 0;
        }
        if let Some(&id) = self.index.get(s) {
            return id;
        }
        self.strings.push(s.into());
        let id = self.strings.len() as u64;
        self.index.insert(s.into(), id);
        id
    }

    /// Looks a string up by ID.
    pub fn get(&self, id: u64) -> &[u8] {
        match id.checked_sub(1).and_then(|i| usize::try_from(i).ok()) {
            Some(i) => self.strings.get(i).map(|s| &s[..]).unwrap_or_default(),
            None => &[],
        }
    }
}

/// What is needed to resolve an event's strings and stacks.
#[derive(Clone, Copy, Debug)]
pub struct EventContext<'t, 'a> {
    /// The generation's tables (absent for Sync events between generations).
    pub table: Option<&'t EvTable<'a>>,
    /// The reader's extra strings.
    pub extra: &'t ExtraStrings,
}

impl<'t, 'a> EventContext<'t, 'a> {
    /// Resolves a table string (empty if missing).
    pub fn string(&self, id: StringId) -> &'a [u8] {
        self.table.and_then(|t| t.string(id)).unwrap_or_default()
    }

    /// Resolves a [`StrRef`].
    pub fn str_ref(&self, r: StrRef) -> &'t [u8]
    where
        'a: 't,
    {
        match r {
            StrRef::Table(id) => self.string(id),
            StrRef::Extra(id) => self.extra.get(id),
        }
    }
}

/// One decoded event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// When it happened.
    pub time: TimeNs,
    /// Goroutine running on the thread at the time (context, not subject).
    pub g: GoroutineId,
    /// P held by the thread.
    pub p: ProcId,
    /// The thread.
    pub m: ThreadId,
    /// Wire event type (or a pseudo type for Sync and CPU samples).
    pub typ: EventType,
    /// Raw arguments after the timestamp, plus values the orderer fills in.
    pub args: [u64; ARG_SLOTS],
    /// File offset of the wire event (0 for synthesised events).
    pub offset: u64,
}

impl Event {
    /// A placeholder event (kind Bad), to be overwritten.
    pub const EMPTY: Event = Event {
        time: TimeNs(0),
        g: GoroutineId::NONE,
        p: ProcId::NONE,
        m: ThreadId::NONE,
        typ: ev::NONE,
        args: [0; ARG_SLOTS],
        offset: 0,
    };

    /// The event's kind.
    #[inline]
    pub fn kind(&self) -> EventKind {
        kind_of(self.typ)
    }

    /// The extra argument slots after the event's own arguments.
    pub(crate) fn extra_index(typ: EventType) -> usize {
        spec::spec_of(typ).map_or(0, |s| s.args.len().saturating_sub(1))
    }

    pub(crate) fn extra(&self, i: usize) -> u64 {
        self.args.get(Self::extra_index(self.typ) + i).copied().unwrap_or(0)
    }

    /// The event's own stack (0 if none).
    #[inline]
    pub fn stack(&self) -> StackId {
        match OWN_STACK_SLOT[self.typ as usize] {
            0 => StackId(0),
            slot => StackId(self.args.get(slot as usize - 1).copied().unwrap_or(0)),
        }
    }

    /// The metric, for Metric events.
    pub fn metric(&self) -> Option<Metric> {
        let name = match self.typ {
            ev::PROCS_CHANGE => metric_name::GOMAXPROCS,
            ev::HEAP_ALLOC => metric_name::HEAP_ALLOC,
            ev::HEAP_GOAL => metric_name::HEAP_GOAL,
            _ => return None,
        };
        Some(Metric { name, value: self.args[0] })
    }

    /// The label string, for Label events (applies to `self.g`).
    pub fn label(&self) -> Option<StringId> {
        (self.typ == ev::GO_LABEL).then_some(StringId(self.args[0]))
    }

    /// The range, for range events.
    pub fn range(&self) -> Option<Range> {
        let g = ResourceId::Goroutine(self.g);
        Some(match self.typ {
            ev::STW_BEGIN | ev::STW_END => Range { name: RangeName::StopTheWorld(StringId(self.args[0])), scope: g },
            ev::GC_BEGIN | ev::GC_ACTIVE | ev::GC_END => Range { name: RangeName::GcMark, scope: ResourceId::None },
            ev::GC_SWEEP_ACTIVE => {
                Range { name: RangeName::GcSweep, scope: ResourceId::Proc(ProcId::from_wire(self.args[0])) }
            }
            ev::GC_SWEEP_BEGIN | ev::GC_SWEEP_END => {
                Range { name: RangeName::GcSweep, scope: ResourceId::Proc(self.p) }
            }
            ev::GC_MARK_ASSIST_ACTIVE => Range {
                name: RangeName::GcMarkAssist,
                scope: ResourceId::Goroutine(GoroutineId::from_wire(self.args[0])),
            },
            ev::GC_MARK_ASSIST_BEGIN | ev::GC_MARK_ASSIST_END => Range { name: RangeName::GcMarkAssist, scope: g },
            _ => return None,
        })
    }

    /// Attributes of a range end (bytes swept and reclaimed for sweeps).
    pub fn range_attributes(&self) -> Vec<(&'static str, u64)> {
        if self.typ == ev::GC_SWEEP_END {
            vec![("bytes swept", self.args[0]), ("bytes reclaimed", self.args[1])]
        } else {
            Vec::new()
        }
    }

    /// The task, for task events.
    pub fn task(&self) -> Option<Task> {
        match self.typ {
            ev::USER_TASK_BEGIN => Some(Task {
                id: TaskId(self.args[0]),
                parent: TaskId(self.args[1]),
                typ: StrRef::Table(StringId(self.args[2])),
            }),
            ev::USER_TASK_END => Some(Task {
                id: TaskId(self.args[0]),
                parent: TaskId(self.extra(0)),
                typ: StrRef::Extra(self.extra(1)),
            }),
            _ => None,
        }
    }

    /// The region, for region events.
    pub fn region(&self) -> Option<Region> {
        matches!(self.typ, ev::USER_REGION_BEGIN | ev::USER_REGION_END)
            .then(|| Region { task: TaskId(self.args[0]), typ: StringId(self.args[1]) })
    }

    /// The log, for log events.
    pub fn log(&self) -> Option<Log> {
        (self.typ == ev::USER_LOG).then(|| Log {
            task: TaskId(self.args[0]),
            category: StringId(self.args[1]),
            message: StringId(self.args[2]),
        })
    }

    /// The sync sequence number, for Sync events.
    pub fn sync_n(&self) -> Option<u64> {
        (self.typ == ev::SYNC_PSEUDO).then_some(self.args[0])
    }

    /// The clock snapshot a Sync event carries, if any.
    pub fn clock_snapshot(&self, ctx: &EventContext<'_, '_>) -> Option<ClockSnapshot> {
        if self.typ == ev::SYNC_PSEUDO && self.args[1] != 0 { ctx.table.and_then(|t| t.clock) } else { None }
    }

    /// For a goroutine state transition, the states before and after, as
    /// [`Event::state_transition`] gives them but without building the
    /// rest (its stack and reason): for callers that look at every event.
    pub fn goroutine_states(&self) -> Option<(Option<GoState>, Option<GoState>)> {
        self.goroutine_states_raw().map(|(from, to)| (GoState::from_u8(from), GoState::from_u8(to)))
    }

    /// The raw goroutine states before and after, for a goroutine state
    /// transition (a status event's state before is whatever the orderer
    /// put there).
    fn goroutine_states_raw(&self) -> Option<(u8, u8)> {
        use GoState as G;
        let (from, to) = match self.typ {
            ev::GO_CREATE => (G::NotExist, G::Runnable),
            ev::GO_CREATE_BLOCKED => (G::NotExist, G::Waiting),
            ev::GO_CREATE_SYSCALL => (G::NotExist, G::Syscall),
            ev::GO_START => (G::Runnable, G::Running),
            ev::GO_DESTROY => (G::Running, G::NotExist),
            ev::GO_DESTROY_SYSCALL => (G::Syscall, G::NotExist),
            ev::GO_STOP => (G::Running, G::Runnable),
            ev::GO_BLOCK => (G::Running, G::Waiting),
            ev::GO_UNBLOCK | ev::GO_SWITCH | ev::GO_SWITCH_DESTROY => (G::Waiting, G::Runnable),
            ev::GO_SYSCALL_BEGIN => (G::Running, G::Syscall),
            ev::GO_SYSCALL_END => (G::Syscall, G::Running),
            ev::GO_SYSCALL_END_BLOCKED => (G::Syscall, G::Runnable),
            ev::GO_STATUS | ev::GO_STATUS_STACK => {
                let packed = self.args[2];
                return Some(((packed >> 32) as u8, go_state_of_status(packed & 0xffff_ffff) as u8));
            }
            _ => return None,
        };
        Some((from as u8, to as u8))
    }

    /// The state transition, for StateTransition events.
    pub fn state_transition(&self) -> Option<StateTransition> {
        let a = &self.args;
        if let Some((from, to)) = self.goroutine_states_raw() {
            // The goroutine that changes: an argument, or the one running.
            let subject = match self.typ {
                ev::GO_DESTROY
                | ev::GO_DESTROY_SYSCALL
                | ev::GO_STOP
                | ev::GO_BLOCK
                | ev::GO_SYSCALL_BEGIN
                | ev::GO_SYSCALL_END
                | ev::GO_SYSCALL_END_BLOCKED => self.g,
                _ => GoroutineId::from_wire(a[0]),
            };
            let stack = match self.typ {
                ev::GO_CREATE | ev::GO_CREATE_BLOCKED => StackId(a[1]),
                ev::GO_STOP | ev::GO_BLOCK | ev::GO_SYSCALL_BEGIN | ev::GO_STATUS | ev::GO_STATUS_STACK => self.stack(),
                _ => StackId(0),
            };
            let reason = if matches!(self.typ, ev::GO_STOP | ev::GO_BLOCK) { StringId(a[0]) } else { StringId(0) };
            return Some(StateTransition { resource: ResourceId::Goroutine(subject), reason, stack, from, to });
        }
        let pr = |p: ProcId, from: u8, to: ProcState| StateTransition {
            resource: ResourceId::Proc(p),
            reason: StringId(0),
            stack: StackId(0),
            from,
            to: to as u8,
        };
        Some(match self.typ {
            ev::PROC_START => pr(ProcId::from_wire(a[0]), ProcState::Idle as u8, ProcState::Running),
            ev::PROC_STOP => pr(self.p, ProcState::Running as u8, ProcState::Idle),
            ev::PROC_STEAL => {
                let before =
                    if self.extra(0) == proc_status::SYSCALL_ABANDONED { ProcState::Idle } else { ProcState::Running };
                pr(ProcId::from_wire(a[0]), before as u8, ProcState::Idle)
            }
            ev::PROC_STATUS => pr(ProcId::from_wire(a[0]), self.extra(0) as u8, proc_state_of_status(a[1])),
            _ => return None,
        })
    }

    /// Name and argument values of an experimental event.
    pub fn experimental(&self) -> Option<(&'static spec::EventSpec, &[u64])> {
        if self.kind() != EventKind::Experimental {
            return None;
        }
        let s = spec::spec_of(self.typ)?;
        let n = s.args.len().saturating_sub(1).min(ARG_SLOTS);
        Some((s, &self.args[..n]))
    }
}
