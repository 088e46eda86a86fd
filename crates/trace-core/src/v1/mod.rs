//! Go 1.11-1.21 (v1 format) traces.
//!
//! Not decoded yet: opening one reports a clear error instead of guessing.

use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, EventContext, ExtraStrings};
use crate::version::Version;

/// Converts a v1 trace into the v2 event model.
#[derive(Debug)]
pub struct Converter<'a> {
    _data: &'a [u8],
    extra: ExtraStrings,
}

impl<'a> Converter<'a> {
    /// Starts converting; fails for now with a message naming the version.
    pub fn new(_data: &'a [u8], version: Version) -> Result<Self> {
        Err(Error::new(
            ErrorKind::UnsupportedVersion,
            0,
            "header",
            format!("Go 1.{} execution traces (the pre-1.22 format) are not supported yet", version.minor()),
        ))
    }

    /// The next converted event.
    pub fn next_event(&mut self) -> Result<Option<Event>> {
        Ok(None)
    }

    /// Resolution context for converted events.
    pub fn context(&self) -> EventContext<'_, 'a> {
        EventContext { table: None, extra: &self.extra }
    }
}
