//! The one error type of the decoder.

use std::fmt;

/// What class of problem stopped decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is not a Go execution trace at all.
    NotATrace,
    /// The header names a trace version this decoder does not know.
    UnsupportedVersion,
    /// The input ends in the middle of something.
    Truncated,
    /// The bytes violate the wire format.
    Corrupt,
    /// The events decode but break Go's ordering or validation rules.
    Invalid,
    /// The events break Go's ordering or validation rules, so Go's reader
    /// refuses the trace, but it was read whole anyway, assuming the states
    /// the events needed (the message says which, and where first).
    Inconsistent,
    /// The file could not be read.
    Io,
}

/// A decoding error: what was being read, where, and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    /// The class of the problem.
    pub kind: ErrorKind,
    /// The byte offset in the input where the problem was found.
    pub offset: u64,
    /// A noun for what was being read ("batch header", "string table", "event").
    pub what: &'static str,
    /// A human-readable description of the problem.
    pub message: String,
}

impl Error {
    /// Builds an error.
    pub fn new(kind: ErrorKind, offset: u64, what: &'static str, message: impl Into<String>) -> Self {
        Error { kind, offset, what, message: message.into() }
    }

    /// A truncation error at `offset`.
    pub fn truncated(offset: u64, what: &'static str) -> Self {
        Error::new(ErrorKind::Truncated, offset, what, format!("trace truncated while reading {what}"))
    }

    /// A wire-format error at `offset`.
    pub fn corrupt(offset: u64, what: &'static str, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Corrupt, offset, what, message)
    }

    /// An ordering/validation error at `offset`.
    pub fn invalid(offset: u64, what: &'static str, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Invalid, offset, what, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Where the problem is only helps inside the file; a missing file or
        // a foreign one is said fully by the message.
        match self.kind {
            ErrorKind::Io | ErrorKind::NotATrace | ErrorKind::UnsupportedVersion => f.write_str(&self.message),
            _ => write!(f, "{} ({} at byte {})", self.message, self.what, self.offset),
        }
    }
}

/// Result alias for the decoder.
pub type Result<T, E = Error> = std::result::Result<T, E>;
