//! Loading a trace on a background thread: open (map, gunzip) and build the
//! timeline, with progress and cancellation.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use timeline::{BuildError, Mode, Progress, Thread, Timeline};

use crate::capture::{CaptureProgress, DEFAULT_SECONDS, capture, capture_file_name, capture_url};
use crate::trace_file::TraceFile;

/// A trace loaded and indexed.
#[derive(Debug)]
pub struct LoadedTrace {
    /// The file it came from.
    pub path: PathBuf,
    /// Size of the file on disk (smaller than the trace if it was gzipped).
    pub disk_bytes: u64,
    /// Everything built from it (shared with analyses running on their
    /// own threads).
    pub timeline: Arc<Timeline>,
    /// Wall time from opening the file to the finished timeline.
    pub load_time: Duration,
}

impl LoadedTrace {
    /// The file name, for titles and the status line.
    pub fn file_name(&self) -> String {
        file_name(&self.path)
    }
}

/// The last component of `path`, or the whole path if it has none or is a
/// program's address (`http://…`, see [`crate::capture`]).
pub fn file_name(path: &Path) -> String {
    if path.to_str().is_some_and(|p| p.starts_with("http://")) {
        return path.display().to_string();
    }
    path.file_name().unwrap_or(path.as_os_str()).to_string_lossy().into_owned()
}

/// Whether a load error is the user's own cancellation.
pub fn is_cancelled(err: &anyhow::Error) -> bool {
    matches!(err.downcast_ref::<BuildError>(), Some(BuildError::Cancelled))
}

/// A load running on its own thread.
#[derive(Debug)]
pub struct Loader {
    path: PathBuf,
    progress: Arc<Progress>,
    /// Set when `path` is a program's address to capture from first.
    capture: Option<Arc<CaptureProgress>>,
    rx: mpsc::Receiver<anyhow::Result<LoadedTrace>>,
}

impl Loader {
    /// Starts loading `path` (a file, or an `http://` address to capture a
    /// trace from first, into `captures_dir`, see [`crate::capture`]);
    /// repaints `ctx` when done.
    pub fn start(path: PathBuf, captures_dir: &Path, ctx: &egui::Context) -> Loader {
        let progress = Arc::new(Progress::default());
        // An address: the URL to capture from and how that goes.
        let job = path
            .to_str()
            .and_then(|p| capture_url(p, DEFAULT_SECONDS))
            .map(|url| (url, Arc::new(CaptureProgress::default())));
        let capture = job.as_ref().map(|(_, cp)| Arc::clone(cp));
        let (tx, rx) = mpsc::channel();
        let (worker_path, worker_progress, worker_tx, ctx) = (path.clone(), progress.clone(), tx.clone(), ctx.clone());
        let captures_dir = captures_dir.to_path_buf();
        let spawned = std::thread::Builder::new().name("gotv-load".into()).spawn(move || {
            let result = match job {
                Some((url, cp)) => {
                    let out = captures_dir.join(capture_file_name(&url));
                    capture_then_load(&url, out, &cp, &worker_progress)
                }
                None => load(worker_path, &worker_progress),
            };
            let _ = worker_tx.send(result);
            ctx.request_repaint();
        });
        if let Err(e) = spawned {
            let _ = tx.send(Err(anyhow::Error::new(e).context("cannot start a loading thread")));
        }
        Loader { path, progress, capture, rx }
    }

    /// How a capture before the load is going, if this load captures.
    pub fn capture(&self) -> Option<&CaptureProgress> {
        self.capture.as_deref()
    }

    /// The file being loaded.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How far the build has come.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Asks the build to stop; [`Loader::poll`] then reports an error for
    /// which [`is_cancelled`] holds.
    pub fn cancel(&self) {
        self.progress.cancel();
        if let Some(c) = &self.capture {
            c.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The result, once the thread has finished; never blocks.
    pub fn poll(&self) -> Option<anyhow::Result<LoadedTrace>> {
        match self.rx.try_recv() {
            Ok(result) => Some(result),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(Err(anyhow::anyhow!(
                "internal error: the loading thread stopped without a result (see the terminal output)"
            ))),
        }
    }
}

/// Captures a trace from `url` into `out`, then loads that file (which the
/// recent files then name); runs on the loading thread.
fn capture_then_load(
    url: &str,
    out: PathBuf,
    cp: &CaptureProgress,
    progress: &Progress,
) -> anyhow::Result<LoadedTrace> {
    capture(url, &out, cp)?;
    load(out, progress)
}

/// Opens and builds; runs on the loading thread.
fn load(path: PathBuf, progress: &Progress) -> anyhow::Result<LoadedTrace> {
    let started = Instant::now();
    let disk_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let file = TraceFile::open(&path)?;
    let timeline = timeline::build(file.bytes(), progress)?;
    // The mapping is no longer needed: the timeline owns what it keeps.
    drop(file);
    Ok(LoadedTrace { path, disk_bytes, timeline: Arc::new(timeline), load_time: started.elapsed() })
}

/// Thread (M) tracks being built on their own thread for a loaded trace
/// (the first build leaves them out; see `timeline::build`).
#[derive(Debug)]
pub struct ThreadsLoader {
    rx: mpsc::Receiver<anyhow::Result<Vec<Thread>>>,
}

impl ThreadsLoader {
    /// Starts building the thread tracks of the trace at `path`; repaints
    /// `ctx` when done.
    pub fn start(path: PathBuf, ctx: &egui::Context) -> ThreadsLoader {
        let (tx, rx) = mpsc::channel();
        let (worker_tx, ctx) = (tx.clone(), ctx.clone());
        let spawned = std::thread::Builder::new().name("gotv-threads".into()).spawn(move || {
            let result = build_threads(&path);
            let _ = worker_tx.send(result);
            ctx.request_repaint();
        });
        if let Err(e) = spawned {
            let _ = tx.send(Err(anyhow::Error::new(e).context("cannot start a thread for the thread rows")));
        }
        ThreadsLoader { rx }
    }

    /// The tracks, once built; never blocks.
    pub fn poll(&self) -> Option<anyhow::Result<Vec<Thread>>> {
        match self.rx.try_recv() {
            Ok(result) => Some(result),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => {
                Some(Err(anyhow::anyhow!("internal error: the thread-row builder stopped without a result")))
            }
        }
    }
}

/// Opens the trace again and builds its thread tracks.
fn build_threads(path: &Path) -> anyhow::Result<Vec<Thread>> {
    let file = TraceFile::open(path)?;
    Ok(timeline::build_threads(file.bytes(), &Progress::default(), Mode::Parallel)?)
}
