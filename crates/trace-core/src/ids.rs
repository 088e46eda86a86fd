//! Newtypes for the identifiers and units that appear in a trace.

use std::fmt;

/// A point in time, in nanoseconds since an arbitrary trace-wide epoch.
///
/// Values come from the trace clock scaled by the trace's frequency, exactly
/// as Go's `trace.Time`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeNs(pub i64);

impl TimeNs {
    /// The largest representable time.
    pub const MAX: TimeNs = TimeNs(i64::MAX);

    /// Nanoseconds elapsed from `earlier` to `self` (saturating).
    pub fn since(self, earlier: TimeNs) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for TimeNs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! signed_id {
    ($(#[$m:meta])* $name:ident, $none:ident, $none_doc:literal) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);

        impl $name {
            #[doc = $none_doc]
            pub const $none: $name = $name(-1);

            /// Builds the ID from a raw wire value (Go reinterprets the bits as signed).
            pub fn from_wire(v: u64) -> Self {
                $name(v as i64)
            }

            /// Whether this is a real ID rather than the "none" sentinel.
            pub fn is_some(self) -> bool {
                self.0 != -1
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

signed_id!(
    /// A goroutine ID (Go's `trace.GoID`).
    GoroutineId,
    NONE,
    "No goroutine."
);
signed_id!(
    /// A P (logical processor) ID (Go's `trace.ProcID`).
    ProcId,
    NONE,
    "No P."
);
signed_id!(
    /// An M (OS thread) ID (Go's `trace.ThreadID`).
    ThreadId,
    NONE,
    "No thread."
);

/// A user task ID (Go's `trace.TaskID`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u64);

impl TaskId {
    /// No task.
    pub const NONE: TaskId = TaskId(u64::MAX);
    /// The background task every goroutine starts in.
    pub const BACKGROUND: TaskId = TaskId(0);
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An ID into a generation's stack table; 0 is the empty stack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StackId(pub u64);

/// An ID into a generation's string table; 0 is the empty string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StringId(pub u64);
