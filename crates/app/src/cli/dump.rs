//! `gotv dump`: Go's `-d=parsed` text, byte for byte.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use trace_core::{Reader, gofmt};

use crate::trace_file::TraceFile;

/// Prints every event; on a decoding error prints what came before, then
/// the error on stderr, and fails.
pub fn run(path: &Path) -> anyhow::Result<ExitCode> {
    let file = TraceFile::open(path)?;
    let mut reader = Reader::new(file.bytes())?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut line = Vec::with_capacity(256);
    let failure = loop {
        match reader.next_event() {
            Ok(Some(ev)) => {
                line.clear();
                gofmt::write_event_bytes(&mut line, &ev, &reader.context());
                line.push(b'\n');
                if let Err(e) = out.write_all(&line) {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(ExitCode::SUCCESS);
                    }
                    return Err(e).context("writing to stdout");
                }
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    out.flush().ok();
    match failure {
        None => Ok(ExitCode::SUCCESS),
        Some(e) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
