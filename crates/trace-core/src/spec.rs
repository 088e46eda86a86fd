//! Wire event types of the v2 trace format (Go 1.22 and later) and their
//! argument layouts.

/// A raw wire event type byte.
pub type EventType = u8;

/// Wire event type numbers.
#[allow(missing_docs)]
pub mod ev {
    use super::EventType;
    pub const NONE: EventType = 0;
    pub const EVENT_BATCH: EventType = 1;
    pub const STACKS: EventType = 2;
    pub const STACK: EventType = 3;
    pub const STRINGS: EventType = 4;
    pub const STRING: EventType = 5;
    pub const CPU_SAMPLES: EventType = 6;
    pub const CPU_SAMPLE: EventType = 7;
    pub const FREQUENCY: EventType = 8;
    pub const PROCS_CHANGE: EventType = 9;
    pub const PROC_START: EventType = 10;
    pub const PROC_STOP: EventType = 11;
    pub const PROC_STEAL: EventType = 12;
    pub const PROC_STATUS: EventType = 13;
    pub const GO_CREATE: EventType = 14;
    pub const GO_CREATE_SYSCALL: EventType = 15;
    pub const GO_START: EventType = 16;
    pub const GO_DESTROY: EventType = 17;
    pub const GO_DESTROY_SYSCALL: EventType = 18;
    pub const GO_STOP: EventType = 19;
    pub const GO_BLOCK: EventType = 20;
    pub const GO_UNBLOCK: EventType = 21;
    pub const GO_SYSCALL_BEGIN: EventType = 22;
    pub const GO_SYSCALL_END: EventType = 23;
    pub const GO_SYSCALL_END_BLOCKED: EventType = 24;
    pub const GO_STATUS: EventType = 25;
    pub const STW_BEGIN: EventType = 26;
    pub const STW_END: EventType = 27;
    pub const GC_ACTIVE: EventType = 28;
    pub const GC_BEGIN: EventType = 29;
    pub const GC_END: EventType = 30;
    pub const GC_SWEEP_ACTIVE: EventType = 31;
    pub const GC_SWEEP_BEGIN: EventType = 32;
    pub const GC_SWEEP_END: EventType = 33;
    pub const GC_MARK_ASSIST_ACTIVE: EventType = 34;
    pub const GC_MARK_ASSIST_BEGIN: EventType = 35;
    pub const GC_MARK_ASSIST_END: EventType = 36;
    pub const HEAP_ALLOC: EventType = 37;
    pub const HEAP_GOAL: EventType = 38;
    pub const GO_LABEL: EventType = 39;
    pub const USER_TASK_BEGIN: EventType = 40;
    pub const USER_TASK_END: EventType = 41;
    pub const USER_REGION_BEGIN: EventType = 42;
    pub const USER_REGION_END: EventType = 43;
    pub const USER_LOG: EventType = 44;
    pub const GO_SWITCH: EventType = 45;
    pub const GO_SWITCH_DESTROY: EventType = 46;
    pub const GO_CREATE_BLOCKED: EventType = 47;
    pub const GO_STATUS_STACK: EventType = 48;
    pub const EXPERIMENTAL_BATCH: EventType = 49;
    pub const SYNC: EventType = 50;
    pub const CLOCK_SNAPSHOT: EventType = 51;
    pub const END_OF_GENERATION: EventType = 52;
    /// One past the last regular event.
    pub const NUM_EVENTS: EventType = 53;

    /// Experimental events start after this value.
    pub const MAX_EVENT: EventType = 127;
    pub const SPAN: EventType = 128;
    pub const SPAN_ALLOC: EventType = 129;
    pub const SPAN_FREE: EventType = 130;
    pub const HEAP_OBJECT: EventType = 131;
    pub const HEAP_OBJECT_ALLOC: EventType = 132;
    pub const HEAP_OBJECT_FREE: EventType = 133;
    pub const GOROUTINE_STACK: EventType = 134;
    pub const GOROUTINE_STACK_ALLOC: EventType = 135;
    pub const GOROUTINE_STACK_FREE: EventType = 136;
    /// One past the last experimental event.
    pub const MAX_EXPERIMENTAL_EVENT: EventType = 137;

    /// Pseudo type used for Sync events synthesised by the reader.
    pub const SYNC_PSEUDO: EventType = 255;
    /// Pseudo type used for CPU samples surfaced as events.
    pub const CPU_SAMPLE_PSEUDO: EventType = CPU_SAMPLE;
}

/// The experiment an experimental event or batch belongs to.
pub mod experiment {
    /// Not experimental.
    pub const NONE: u8 = 0;
    /// Heap span, object and goroutine-stack allocation events.
    pub const ALLOC_FREE: u8 = 1;
    /// Names of the experiments, indexed by ID.
    pub const NAMES: [&str; 2] = ["None", "AllocFree"];
}

/// The static description of one wire event type.
#[derive(Clone, Copy, Debug)]
pub struct EventSpec {
    /// Human-readable name, as in Go's `tracev2` package.
    pub name: &'static str,
    /// Argument names (the first is `dt` for timed events).
    pub args: &'static [&'static str],
    /// Indices into `args` that are string IDs.
    pub string_ids: &'static [usize],
    /// Indices into `args` that are stack IDs; the first is the event's own stack.
    pub stack_ids: &'static [usize],
    /// For the "end" of a range, the type of its "begin".
    pub start_ev: EventType,
    /// Whether the event is timed and appears in per-M batches.
    pub timed: bool,
    /// Experiment ID (0 = none).
    pub experiment: u8,
}

const fn spec(name: &'static str, args: &'static [&'static str]) -> EventSpec {
    EventSpec { name, args, string_ids: &[], stack_ids: &[], start_ev: ev::NONE, timed: false, experiment: 0 }
}

const fn timed(name: &'static str, args: &'static [&'static str]) -> EventSpec {
    let mut s = spec(name, args);
    s.timed = true;
    s
}

const fn stacks(mut s: EventSpec, ids: &'static [usize]) -> EventSpec {
    s.stack_ids = ids;
    s
}

const fn strings(mut s: EventSpec, ids: &'static [usize]) -> EventSpec {
    s.string_ids = ids;
    s
}

const fn ends(mut s: EventSpec, start: EventType) -> EventSpec {
    s.start_ev = start;
    s
}

const fn exp(name: &'static str, args: &'static [&'static str]) -> EventSpec {
    let mut s = timed(name, args);
    s.experiment = experiment::ALLOC_FREE;
    s
}

const EMPTY: EventSpec = spec("", &[]);

/// Specs for every wire event type, indexed by type byte.
pub static SPECS: [EventSpec; ev::MAX_EXPERIMENTAL_EVENT as usize] = build_specs();

const fn build_specs() -> [EventSpec; ev::MAX_EXPERIMENTAL_EVENT as usize] {
    let mut s = [EMPTY; ev::MAX_EXPERIMENTAL_EVENT as usize];
    s[ev::EVENT_BATCH as usize] = spec("EventBatch", &["gen", "m", "time", "size"]);
    s[ev::STACKS as usize] = spec("Stacks", &[]);
    s[ev::STACK as usize] = spec("Stack", &["id", "nframes"]);
    s[ev::STRINGS as usize] = spec("Strings", &[]);
    s[ev::STRING as usize] = spec("String", &["id"]);
    s[ev::CPU_SAMPLES as usize] = spec("CPUSamples", &[]);
    s[ev::CPU_SAMPLE as usize] = stacks(spec("CPUSample", &["time", "m", "p", "g", "stack"]), &[4]);
    s[ev::FREQUENCY as usize] = spec("Frequency", &["freq"]);
    s[ev::EXPERIMENTAL_BATCH as usize] = spec("ExperimentalBatch", &["exp", "gen", "m", "time"]);
    s[ev::SYNC as usize] = spec("Sync", &[]);
    s[ev::END_OF_GENERATION as usize] = spec("EndOfGeneration", &[]);

    s[ev::PROCS_CHANGE as usize] = stacks(timed("ProcsChange", &["dt", "procs_value", "stack"]), &[2]);
    s[ev::PROC_START as usize] = timed("ProcStart", &["dt", "p", "p_seq"]);
    s[ev::PROC_STOP as usize] = timed("ProcStop", &["dt"]);
    s[ev::PROC_STEAL as usize] = timed("ProcSteal", &["dt", "p", "p_seq", "m"]);
    s[ev::PROC_STATUS as usize] = timed("ProcStatus", &["dt", "p", "pstatus"]);
    s[ev::GO_CREATE as usize] = stacks(timed("GoCreate", &["dt", "new_g", "new_stack", "stack"]), &[3, 2]);
    s[ev::GO_CREATE_SYSCALL as usize] = timed("GoCreateSyscall", &["dt", "new_g"]);
    s[ev::GO_START as usize] = timed("GoStart", &["dt", "g", "g_seq"]);
    s[ev::GO_DESTROY as usize] = timed("GoDestroy", &["dt"]);
    s[ev::GO_DESTROY_SYSCALL as usize] = timed("GoDestroySyscall", &["dt"]);
    s[ev::GO_STOP as usize] = strings(stacks(timed("GoStop", &["dt", "reason_string", "stack"]), &[2]), &[1]);
    s[ev::GO_BLOCK as usize] = strings(stacks(timed("GoBlock", &["dt", "reason_string", "stack"]), &[2]), &[1]);
    s[ev::GO_UNBLOCK as usize] = stacks(timed("GoUnblock", &["dt", "g", "g_seq", "stack"]), &[3]);
    s[ev::GO_SYSCALL_BEGIN as usize] = stacks(timed("GoSyscallBegin", &["dt", "p_seq", "stack"]), &[2]);
    s[ev::GO_SYSCALL_END as usize] = ends(timed("GoSyscallEnd", &["dt"]), ev::GO_SYSCALL_BEGIN);
    s[ev::GO_SYSCALL_END_BLOCKED as usize] = ends(timed("GoSyscallEndBlocked", &["dt"]), ev::GO_SYSCALL_BEGIN);
    s[ev::GO_STATUS as usize] = timed("GoStatus", &["dt", "g", "m", "gstatus"]);
    s[ev::STW_BEGIN as usize] = strings(stacks(timed("STWBegin", &["dt", "kind_string", "stack"]), &[2]), &[1]);
    s[ev::STW_END as usize] = ends(timed("STWEnd", &["dt"]), ev::STW_BEGIN);
    s[ev::GC_ACTIVE as usize] = ends(timed("GCActive", &["dt", "gc_seq"]), ev::GC_BEGIN);
    s[ev::GC_BEGIN as usize] = stacks(timed("GCBegin", &["dt", "gc_seq", "stack"]), &[2]);
    s[ev::GC_END as usize] = ends(timed("GCEnd", &["dt", "gc_seq"]), ev::GC_BEGIN);
    s[ev::GC_SWEEP_ACTIVE as usize] = ends(timed("GCSweepActive", &["dt", "p"]), ev::GC_SWEEP_BEGIN);
    s[ev::GC_SWEEP_BEGIN as usize] = stacks(timed("GCSweepBegin", &["dt", "stack"]), &[1]);
    s[ev::GC_SWEEP_END as usize] =
        ends(timed("GCSweepEnd", &["dt", "swept_value", "reclaimed_value"]), ev::GC_SWEEP_BEGIN);
    s[ev::GC_MARK_ASSIST_ACTIVE as usize] = ends(timed("GCMarkAssistActive", &["dt", "g"]), ev::GC_MARK_ASSIST_BEGIN);
    s[ev::GC_MARK_ASSIST_BEGIN as usize] = stacks(timed("GCMarkAssistBegin", &["dt", "stack"]), &[1]);
    s[ev::GC_MARK_ASSIST_END as usize] = ends(timed("GCMarkAssistEnd", &["dt"]), ev::GC_MARK_ASSIST_BEGIN);
    s[ev::HEAP_ALLOC as usize] = timed("HeapAlloc", &["dt", "heapalloc_value"]);
    s[ev::HEAP_GOAL as usize] = timed("HeapGoal", &["dt", "heapgoal_value"]);
    s[ev::GO_LABEL as usize] = strings(timed("GoLabel", &["dt", "label_string"]), &[1]);
    s[ev::USER_TASK_BEGIN as usize] =
        strings(stacks(timed("UserTaskBegin", &["dt", "task", "parent_task", "name_string", "stack"]), &[4]), &[3]);
    s[ev::USER_TASK_END as usize] = stacks(timed("UserTaskEnd", &["dt", "task", "stack"]), &[2]);
    s[ev::USER_REGION_BEGIN as usize] =
        strings(stacks(timed("UserRegionBegin", &["dt", "task", "name_string", "stack"]), &[3]), &[2]);
    s[ev::USER_REGION_END as usize] = ends(
        strings(stacks(timed("UserRegionEnd", &["dt", "task", "name_string", "stack"]), &[3]), &[2]),
        ev::USER_REGION_BEGIN,
    );
    s[ev::USER_LOG as usize] =
        strings(stacks(timed("UserLog", &["dt", "task", "key_string", "value_string", "stack"]), &[4]), &[2, 3]);
    s[ev::GO_SWITCH as usize] = timed("GoSwitch", &["dt", "g", "g_seq"]);
    s[ev::GO_SWITCH_DESTROY as usize] = timed("GoSwitchDestroy", &["dt", "g", "g_seq"]);
    s[ev::GO_CREATE_BLOCKED as usize] =
        stacks(timed("GoCreateBlocked", &["dt", "new_g", "new_stack", "stack"]), &[3, 2]);
    s[ev::GO_STATUS_STACK as usize] = stacks(timed("GoStatusStack", &["dt", "g", "m", "gstatus", "stack"]), &[4]);
    s[ev::CLOCK_SNAPSHOT as usize] = timed("ClockSnapshot", &["dt", "mono", "sec", "nsec"]);

    s[ev::SPAN as usize] = exp("Span", &["dt", "id", "npages_value", "kindclass"]);
    s[ev::SPAN_ALLOC as usize] = exp("SpanAlloc", &["dt", "id", "npages_value", "kindclass"]);
    s[ev::SPAN_FREE as usize] = exp("SpanFree", &["dt", "id"]);
    s[ev::HEAP_OBJECT as usize] = exp("HeapObject", &["dt", "id", "type"]);
    s[ev::HEAP_OBJECT_ALLOC as usize] = exp("HeapObjectAlloc", &["dt", "id", "type"]);
    s[ev::HEAP_OBJECT_FREE as usize] = exp("HeapObjectFree", &["dt", "id"]);
    s[ev::GOROUTINE_STACK as usize] = exp("GoroutineStack", &["dt", "id", "order"]);
    s[ev::GOROUTINE_STACK_ALLOC as usize] = exp("GoroutineStackAlloc", &["dt", "id", "order"]);
    s[ev::GOROUTINE_STACK_FREE as usize] = exp("GoroutineStackFree", &["dt", "id"]);
    s
}

/// Returns the spec for a type byte, or `None` for bytes outside the table.
pub fn spec_of(typ: EventType) -> Option<&'static EventSpec> {
    SPECS.get(typ as usize)
}

/// Looks up an event type by its Go name (used by the text wire format).
pub fn type_by_name(name: &str) -> Option<EventType> {
    SPECS.iter().position(|s| !s.name.is_empty() && s.name == name).and_then(|i| u8::try_from(i).ok())
}

/// Maximum size of one batch's payload in bytes.
pub const MAX_BATCH_SIZE: u64 = 64 << 10;
/// Maximum number of frames in one stack.
pub const MAX_FRAMES_PER_STACK: u64 = 128;
/// Maximum length of one string in the string table.
pub const MAX_STRING_SIZE: u64 = 1 << 10;
/// Maximum number of arguments of a timed event, timestamp included.
pub const MAX_TIMED_EVENT_ARGS: usize = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (i, s) in SPECS.iter().enumerate() {
            if !s.name.is_empty() {
                assert_eq!(type_by_name(s.name), Some(i as u8), "{}", s.name);
            }
        }
    }

    #[test]
    fn timed_events_fit_the_argument_array() {
        for s in SPECS.iter().filter(|s| s.timed) {
            assert!(s.args.len() <= MAX_TIMED_EVENT_ARGS, "{}", s.name);
            assert_eq!(s.args.first(), Some(&"dt"), "{}", s.name);
        }
    }
}
