//! `gotv capture URL`: save a trace from a running program's
//! `/debug/pprof/trace` endpoint to a file (as `curl -o` would, with the
//! URL filled in and the answer checked to be a Go trace).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::bail;
use gotv::capture::{CaptureProgress, DEFAULT_SECONDS, capture, capture_url, default_capture_path};

/// Arguments of `gotv capture`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The program's address (`http://localhost:6060`) or the full trace
    /// URL (`http://localhost:6060/debug/pprof/trace?seconds=5`).
    url: String,
    /// How long to trace, unless the URL says (`seconds=`).
    #[arg(long, default_value_t = DEFAULT_SECONDS)]
    seconds: u32,
    /// Where to write the trace (default: gotv's captures directory).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs `gotv capture`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let Some(url) = capture_url(&args.url, args.seconds) else {
        bail!("not an http:// URL: {} (try http://localhost:6060)", args.url);
    };
    let out = args.output.clone().unwrap_or_else(|| default_capture_path(&url));
    eprintln!("capturing {url} ...");
    let started = Instant::now();
    let captured = capture(&url, &out, &CaptureProgress::default())?;
    println!("{} ({} bytes in {:.1} s)", out.display(), captured.bytes, started.elapsed().as_secs_f64());
    match captured.broken {
        // Kept: a truncated trace still opens, up to where it stops.
        Some(why) => {
            eprintln!("gotv: {why}; {} holds the trace up to there", out.display());
            Ok(ExitCode::FAILURE)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}
