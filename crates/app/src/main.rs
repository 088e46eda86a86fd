//! `gotv`: a native desktop viewer for Go execution traces.
//!
//! `gotv` opens the viewer (`gotv FILE` with that file loaded, `gotv
//! http://host:port` with a trace captured from that program); `gotv dump
//! FILE`, `gotv stats FILE`, `gotv pprof` and `gotv capture URL` are
//! command-line tools over the same decoder.
//! The viewer lives in the library (`lib.rs`); this is the command line.

mod cli;
mod mem;

// The command-line tools name it `crate::trace_file`.
use gotv::trace_file;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A native viewer for Go execution traces.
#[derive(Parser, Debug)]
#[command(name = "gotv", version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Trace file to open in the viewer, or a running program's address
    /// (`http://localhost:6060`) to capture a trace from its
    /// /debug/pprof/trace endpoint and open it.
    file: Option<PathBuf>,
    /// Show frame times in an overlay (for checking the frame budget).
    #[arg(long)]
    frame_stats: bool,
    /// Select this goroutine once the trace is open (e.g. `21` or `g21`).
    #[arg(long, value_name = "ID")]
    goroutine: Option<String>,
    /// With --goroutine: select its span at this offset from the trace
    /// start (e.g. `30ms`, `1.5s`, `250us`).
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print every event exactly as `go tool trace -d=parsed` does.
    Dump {
        /// The trace file.
        file: PathBuf,
    },
    /// Decode the trace and print a summary.
    Stats {
        /// The trace file.
        file: PathBuf,
        /// Only decode events (strings and stacks resolved); build no indices.
        #[arg(long)]
        decode_only: bool,
        /// Decode on one thread with the sequential reader.
        #[arg(long)]
        sequential: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write a blocking profile (pprof, gzipped) as `go tool trace -pprof=KIND` does.
    Pprof(cli::pprof::Args),
    /// Save a trace from a running program's /debug/pprof/trace endpoint.
    Capture(cli::capture::Args),
}

fn main() -> ExitCode {
    gotv::alloc::return_freed_memory_at_once();
    let args = Args::parse();
    let result = match args.command {
        Some(Command::Dump { file }) => cli::dump::run(&file),
        Some(Command::Stats { file, decode_only, sequential, json }) => {
            cli::stats::run(&file, decode_only, sequential, json)
        }
        Some(Command::Pprof(args)) => cli::pprof::run(&args),
        Some(Command::Capture(args)) => cli::capture::run(&args),
        None => {
            let select = match gotv::view::Selection::parse(args.goroutine.as_deref(), args.at.as_deref()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("gotv: {e}");
                    return ExitCode::from(2);
                }
            };
            gotv::app::run(args.file, args.frame_stats, select).map(|()| ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gotv: {e:#}");
            ExitCode::FAILURE
        }
    }
}
