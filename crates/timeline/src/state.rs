//! What a goroutine, P or thread was doing during a span.

/// A goroutine's state during one span, with the reason Go gave for it.
///
/// Stored as a `u8` in track blocks; [`GState::from_u8`] reads it back.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GState {
    /// Created, waiting to run for the first time.
    Created = 0,
    /// Ready to run (woken), waiting for a P.
    Runnable,
    /// Preempted by the scheduler, waiting for a P.
    Preempted,
    /// Yielded (`runtime.Gosched`), waiting for a P.
    Yielded,
    /// Running on a P.
    Running,
    /// In a system call.
    Syscall,
    /// Blocked sending on a channel.
    ChanSend,
    /// Blocked receiving from a channel.
    ChanRecv,
    /// Blocked in a select statement.
    Select,
    /// Blocked on a `sync.Mutex`.
    Mutex,
    /// Blocked on a `sync.RWMutex`.
    RwMutex,
    /// Blocked on a `sync.WaitGroup`.
    WaitGroup,
    /// Blocked in `sync.(*Cond).Wait`.
    Cond,
    /// Blocked on another sync primitive.
    Sync,
    /// Blocked on network I/O.
    Network,
    /// Sleeping.
    Sleep,
    /// Waiting for GC mark assist work.
    GcAssistWait,
    /// Waiting on the GC (until it ends, sweeper, weak-to-strong).
    GcWait,
    /// A runtime goroutine parked while idle.
    SystemWait,
    /// Blocked forever (`select {}`, nil channel).
    Forever,
    /// Waiting for a debugger call.
    DebugCall,
    /// Blocked inside a `testing/synctest` bubble.
    Synctest,
    /// Blocked for another (or an unspecified) reason.
    Blocked,
    /// Exited; the span runs to the end of the track.
    Exited,
}

impl GState {
    /// Number of states (for per-state arrays).
    pub const COUNT: usize = GState::Exited as usize + 1;

    /// All states in code order.
    pub const ALL: [GState; GState::COUNT] = [
        GState::Created,
        GState::Runnable,
        GState::Preempted,
        GState::Yielded,
        GState::Running,
        GState::Syscall,
        GState::ChanSend,
        GState::ChanRecv,
        GState::Select,
        GState::Mutex,
        GState::RwMutex,
        GState::WaitGroup,
        GState::Cond,
        GState::Sync,
        GState::Network,
        GState::Sleep,
        GState::GcAssistWait,
        GState::GcWait,
        GState::SystemWait,
        GState::Forever,
        GState::DebugCall,
        GState::Synctest,
        GState::Blocked,
        GState::Exited,
    ];

    /// Reads a stored state code.
    pub fn from_u8(v: u8) -> Option<GState> {
        GState::ALL.get(v as usize).copied()
    }

    /// What people call it.
    pub fn name(self) -> &'static str {
        match self {
            GState::Created => "created",
            GState::Runnable => "runnable",
            GState::Preempted => "preempted",
            GState::Yielded => "yielded",
            GState::Running => "running",
            GState::Syscall => "syscall",
            GState::ChanSend => "chan send",
            GState::ChanRecv => "chan receive",
            GState::Select => "select",
            GState::Mutex => "sync.Mutex",
            GState::RwMutex => "sync.RWMutex",
            GState::WaitGroup => "sync.WaitGroup",
            GState::Cond => "sync.Cond",
            GState::Sync => "sync",
            GState::Network => "network I/O",
            GState::Sleep => "sleep",
            GState::GcAssistWait => "GC assist wait",
            GState::GcWait => "GC wait",
            GState::SystemWait => "runtime idle",
            GState::Forever => "blocked forever",
            GState::DebugCall => "debug call",
            GState::Synctest => "synctest",
            GState::Blocked => "blocked",
            GState::Exited => "exited",
        }
    }

    /// The broad class of the state.
    pub fn category(self) -> Category {
        match self {
            GState::Created | GState::Runnable | GState::Preempted | GState::Yielded => Category::Runnable,
            GState::Running => Category::Running,
            GState::Syscall => Category::Syscall,
            GState::Exited => Category::Dead,
            _ => Category::Blocked,
        }
    }

    /// Whether the goroutine was blocked (waiting on something other than a P).
    pub fn is_blocked(self) -> bool {
        self.category() == Category::Blocked
    }

    /// Classifies a block reason string (`GoBlock`'s reason) into a state.
    ///
    /// `sync` is refined by the blocking stack, see [`GState::refine_sync`].
    pub fn from_block_reason(reason: &[u8]) -> GState {
        match reason {
            b"chan send" => GState::ChanSend,
            b"chan receive" => GState::ChanRecv,
            b"select" => GState::Select,
            b"sync" => GState::Sync,
            b"sync.(*Cond).Wait" => GState::Cond,
            b"network" => GState::Network,
            b"sleep" => GState::Sleep,
            b"GC mark assist wait for work" => GState::GcAssistWait,
            b"GC background sweeper wait" | b"wait until GC ends" | b"GC weak to strong wait" => GState::GcWait,
            b"system goroutine wait" => GState::SystemWait,
            b"forever" => GState::Forever,
            b"wait for debug call" => GState::DebugCall,
            b"synctest" => GState::Synctest,
            _ => GState::Blocked,
        }
    }

    /// Classifies a stop reason string (`GoStop`'s reason).
    pub fn from_stop_reason(reason: &[u8]) -> GState {
        match reason {
            b"runtime.Gosched" | b"yield" => GState::Yielded,
            _ => GState::Runnable,
        }
    }

    /// Names the sync primitive of a `sync` block from the function names of
    /// its stack (innermost first).
    pub fn refine_sync<'f>(funcs: impl IntoIterator<Item = &'f [u8]>) -> GState {
        for f in funcs {
            if f.starts_with(b"sync.(*WaitGroup)") {
                return GState::WaitGroup;
            }
            if f.starts_with(b"sync.(*RWMutex)") {
                return GState::RwMutex;
            }
            if f.starts_with(b"sync.(*Mutex)") {
                return GState::Mutex;
            }
        }
        GState::Sync
    }
}

/// The broad class of a goroutine state, for counters and colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Waiting for a P.
    Runnable,
    /// On a P.
    Running,
    /// In a system call.
    Syscall,
    /// Waiting for something else.
    Blocked,
    /// Gone.
    Dead,
}

/// What a P was doing during a span.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PState {
    /// Not held by any thread.
    Idle = 0,
    /// Held by a thread but running no goroutine (scheduling).
    Scheduling,
    /// Running a goroutine.
    Running,
    /// Its goroutine is in a system call (the P may be handed off).
    Syscall,
}

impl PState {
    /// Reads a stored state code.
    pub fn from_u8(v: u8) -> Option<PState> {
        [PState::Idle, PState::Scheduling, PState::Running, PState::Syscall].get(v as usize).copied()
    }

    /// What people call it.
    pub fn name(self) -> &'static str {
        match self {
            PState::Idle => "idle",
            PState::Scheduling => "scheduling",
            PState::Running => "running",
            PState::Syscall => "syscall",
        }
    }
}

/// What a thread (M) was doing during a span.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MState {
    /// Running no goroutine.
    Idle = 0,
    /// Running a goroutine.
    Running,
    /// In a system call on behalf of a goroutine.
    Syscall,
}

impl MState {
    /// Reads a stored state code.
    pub fn from_u8(v: u8) -> Option<MState> {
        [MState::Idle, MState::Running, MState::Syscall].get(v as usize).copied()
    }

    /// What people call it.
    pub fn name(self) -> &'static str {
        match self {
            MState::Idle => "idle",
            MState::Running => "running",
            MState::Syscall => "syscall",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for s in GState::ALL {
            assert_eq!(GState::from_u8(s as u8), Some(s));
        }
        assert_eq!(GState::from_u8(GState::COUNT as u8), None);
    }

    #[test]
    fn reasons_classify() {
        assert_eq!(GState::from_block_reason(b"chan receive"), GState::ChanRecv);
        assert_eq!(GState::from_block_reason(b"whatever"), GState::Blocked);
        assert_eq!(GState::from_stop_reason(b"runtime.Gosched"), GState::Yielded);
        let funcs: [&[u8]; 3] = [b"internal/sync.runtime_SemacquireMutex", b"sync.(*Mutex).lockSlow", b"main.f"];
        assert_eq!(GState::refine_sync(funcs), GState::Mutex);
        let funcs: [&[u8]; 2] = [b"sync.runtime_SemacquireWaitGroup", b"sync.(*WaitGroup).Wait"];
        assert_eq!(GState::refine_sync(funcs), GState::WaitGroup);
    }
}
