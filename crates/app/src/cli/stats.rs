//! `gotv stats`: decode a trace and summarise it.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use trace_core::{EventKind, Reader};

use crate::trace_file::TraceFile;

/// Decodes every event (resolving strings and stacks) and prints counts.
pub fn run(path: &Path, decode_only: bool, json: bool) -> anyhow::Result<ExitCode> {
    let _ = decode_only;
    let file = TraceFile::open(path)?;
    let bytes = file.bytes();
    let start = Instant::now();
    let mut reader = Reader::new(bytes)?;
    let mut counts = [0u64; EventKind::ALL.len()];
    let mut total = 0u64;
    let mut generations = 0u64;
    let mut first_ns = None;
    let mut last_ns = 0i64;
    let mut touched = 0u64;
    let error = loop {
        match reader.next_event() {
            Ok(Some(ev)) => {
                total += 1;
                let k = ev.kind();
                counts[k as usize] += 1;
                if k == EventKind::Sync {
                    generations += 1;
                }
                first_ns.get_or_insert(ev.time.0);
                last_ns = ev.time.0;
                // Resolve what a viewer would: the stack's frames and any strings.
                let ctx = reader.context();
                if let Some(t) = ctx.table {
                    for f in t.stack_frames(ev.stack()) {
                        touched += t.string(f.func).map_or(0, |s| s.len() as u64);
                    }
                }
                if let Some(st) = ev.state_transition() {
                    touched += ctx.string(st.reason).len() as u64;
                }
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    let secs = start.elapsed().as_secs_f64();
    let mb = bytes.len() as f64 / 1e6;
    let duration_ns = last_ns - first_ns.unwrap_or(0);
    if json {
        let mut kinds = serde_json::Map::new();
        for (k, n) in EventKind::ALL.iter().zip(counts) {
            if n > 0 {
                kinds.insert(k.name().into(), n.into());
            }
        }
        let v = serde_json::json!({
            "file": path.display().to_string(),
            "version": format!("go 1.{}", reader.version().minor()),
            "bytes": bytes.len(),
            "events": total,
            "generations": generations.saturating_sub(1),
            "duration_ns": duration_ns,
            "kinds": kinds,
            "decode_seconds": secs,
            "mb_per_second": mb / secs.max(1e-9),
            "error": error.as_ref().map(|e| e.to_string()),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("file:        {}", path.display());
        println!("format:      go 1.{} trace", reader.version().minor());
        println!("bytes:       {}", bytes.len());
        println!("events:      {total}");
        println!("generations: {}", generations.saturating_sub(1));
        println!("duration:    {:.6} s", duration_ns as f64 / 1e9);
        for (k, n) in EventKind::ALL.iter().zip(counts) {
            if n > 0 {
                println!("  {:<16} {n}", k.name());
            }
        }
        println!("decode:      {secs:.3} s, {:.1} MB/s (checksum {touched})", mb / secs.max(1e-9));
        if let Some(e) = &error {
            println!("error:       {e}");
        }
    }
    Ok(if error.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
