//! `gotv pprof`: write a blocking profile as a gzipped pprof file, as
//! `go tool trace -pprof=KIND` does, optionally limited to a time range and
//! to some goroutines.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use timeline::analysis::{Filter, ProfileKind, TimeRange, go_tool_blocking_profile};
use trace_core::GoroutineId;

use crate::trace_file::TraceFile;

/// Arguments of `gotv pprof`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Which waits to count: network I/O, channels/select/sync primitives,
    /// system calls, or waiting for a P.
    #[arg(long, value_enum)]
    kind: Kind,
    /// The trace file.
    file: PathBuf,
    /// Where to write the profile (`-` for stdout).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Count only time after this offset from the trace start (e.g. `10ms`).
    #[arg(long, value_name = "TIME")]
    start: Option<String>,
    /// Count only time before this offset from the trace start (e.g. `1.5s`).
    #[arg(long, value_name = "TIME")]
    end: Option<String>,
    /// Count only this goroutine's waits (`21` or `g21`; repeat for more).
    #[arg(long = "goroutine", value_name = "ID")]
    goroutines: Vec<String>,
}

/// `--kind`: the names `go tool trace -pprof` takes.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Kind {
    Net,
    Sync,
    Syscall,
    Sched,
}

impl From<Kind> for ProfileKind {
    fn from(k: Kind) -> ProfileKind {
        match k {
            Kind::Net => ProfileKind::Net,
            Kind::Sync => ProfileKind::Sync,
            Kind::Syscall => ProfileKind::Syscall,
            Kind::Sched => ProfileKind::Sched,
        }
    }
}

/// Builds the timeline, computes the profile and writes it; a one-line
/// summary goes to stderr. A damaged trace gives the profile of what could
/// be read, with a warning.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let kind = ProfileKind::from(args.kind);
    let start = args.start.as_deref().map(|t| parse_offset(t, "--start")).transpose()?;
    let end = args.end.as_deref().map(|t| parse_offset(t, "--end")).transpose()?;
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        bail!("--end must be after --start");
    }
    let ids = args.goroutines.iter().map(|g| parse_goroutine(g)).collect::<anyhow::Result<Vec<_>>>()?;

    let file = TraceFile::open(&args.file)?;
    let tl = timeline::build(file.bytes(), &timeline::Progress::default())
        .with_context(|| format!("reading {}", args.file.display()))?;
    if let Some(e) = &tl.error {
        eprintln!("gotv: warning: {e}; the profile covers what was read before it");
    }
    for &id in &ids {
        if tl.goroutine(id).is_none() {
            bail!("the trace has no goroutine {}", id.0);
        }
    }
    let range = TimeRange::new(
        start.map_or(i64::MIN, |s| tl.start_ns.saturating_add(s)),
        end.map_or(i64::MAX, |e| tl.start_ns.saturating_add(e)),
    );
    let mut filter = Filter::range(range);
    if !ids.is_empty() {
        filter = filter.with_goroutines(ids);
    }
    let entries = go_tool_blocking_profile(&tl, kind, &filter);

    let to_stdout = args.output.as_os_str() == "-";
    if to_stdout {
        let mut out = std::io::stdout().lock();
        gotv::pprof::write_profile(&tl, &entries, kind, &mut out)?;
        out.flush().context("writing to stdout")?;
    } else {
        write_file(&args.output, |out| gotv::pprof::write_profile(&tl, &entries, kind, out))?;
    }
    let waits: u64 = entries.iter().map(|e| e.count).sum();
    let total_ns: i64 = entries.iter().map(|e| e.total_ns).sum();
    eprintln!(
        "gotv: {} profile: {} stacks, {} waits, {:.3} ms{}",
        kind.name(),
        entries.len(),
        waits,
        total_ns as f64 / 1e6,
        if to_stdout { String::new() } else { format!(" -> {}", args.output.display()) }
    );
    Ok(ExitCode::SUCCESS)
}

/// Creates `path` and writes it through a buffer.
fn write_file(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::new(f);
    write(&mut out).with_context(|| format!("writing {}", path.display()))?;
    out.flush().with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// `21` or `g21`.
fn parse_goroutine(text: &str) -> anyhow::Result<GoroutineId> {
    match text.trim().trim_start_matches('g').parse::<i64>() {
        Ok(id) => Ok(GoroutineId(id)),
        Err(_) => bail!("--goroutine: not a goroutine ID: {text:?}"),
    }
}

/// An offset such as `10ms`, `250us`, `1.5s` or `1500` (ns), not negative.
fn parse_offset(text: &str, flag: &str) -> anyhow::Result<i64> {
    match timeline::ticks::parse_duration(text) {
        Some(ns) if ns >= 0 => Ok(ns),
        _ => bail!("{flag}: not a time: {text:?} (try 10ms, 250us or 1.5s)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_with_units() {
        assert_eq!(parse_offset("10ms", "--start").unwrap(), 10_000_000);
        assert_eq!(parse_offset(" 250us", "--start").unwrap(), 250_000);
        assert_eq!(parse_offset("1.5s", "--start").unwrap(), 1_500_000_000);
        assert_eq!(parse_offset("1500", "--start").unwrap(), 1500);
        assert_eq!(parse_offset("7ns", "--start").unwrap(), 7);
        assert!(parse_offset("-5ms", "--start").is_err());
        assert!(parse_offset("ms", "--start").is_err());
        assert!(parse_offset("5 parsecs", "--end").is_err());
    }

    #[test]
    fn goroutines_parse_with_or_without_g() {
        assert_eq!(parse_goroutine("21").unwrap(), GoroutineId(21));
        assert_eq!(parse_goroutine("g21").unwrap(), GoroutineId(21));
        assert!(parse_goroutine("main").is_err());
    }
}
