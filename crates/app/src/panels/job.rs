//! An analysis running on a thread of its own, so the window keeps
//! painting while it works: the thread reports how far it got and stops
//! when the job is dropped (another trace opened, the panel reset).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// What the working thread sees: where to report progress, and whether to
/// stop.
#[derive(Clone, Debug, Default)]
pub struct JobProgress {
    done: Arc<AtomicUsize>,
    cancel: Arc<AtomicBool>,
}

impl JobProgress {
    /// Reports that `n` items are done.
    pub fn set_done(&self, n: usize) {
        self.done.store(n, Ordering::Relaxed);
    }

    /// Whether the job was cancelled or dropped and the work should stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The cancel flag, as the stoppable timeline queries take it.
    pub fn stop(&self) -> timeline::analysis::Stop<'_> {
        timeline::analysis::Stop::when(&self.cancel)
    }
}

/// Where a job is.
#[derive(Debug, PartialEq, Eq)]
pub enum JobState<T> {
    /// Still working.
    Running,
    /// Finished with this (given once).
    Done(T),
    /// Stopped without a result: cancelled, or the thread panicked or could
    /// not start.
    Failed,
}

/// A result being computed on another thread.
#[derive(Debug)]
pub struct Job<T> {
    rx: mpsc::Receiver<T>,
    progress: JobProgress,
}

impl<T: Send + 'static> Job<T> {
    /// Runs `work` on a new thread; repaints `ctx` when it finishes. `work`
    /// returns `None` if it stopped because the job was cancelled.
    pub fn start(ctx: &egui::Context, work: impl FnOnce(&JobProgress) -> Option<T> + Send + 'static) -> Job<T> {
        let (tx, rx) = mpsc::channel();
        let progress = JobProgress::default();
        let (theirs, ctx) = (progress.clone(), ctx.clone());
        let spawned = std::thread::Builder::new().name("gotv-analysis".into()).spawn(move || {
            if let Some(v) = work(&theirs) {
                let _ = tx.send(v);
                ctx.request_repaint();
            }
        });
        if let Err(e) = spawned {
            // Without a thread the job never finishes; say why once.
            eprintln!("gotv: cannot start an analysis thread: {e}");
        }
        Job { rx, progress }
    }

    /// Where the job is; never blocks.
    pub fn poll(&self) -> JobState<T> {
        match self.rx.try_recv() {
            Ok(v) => JobState::Done(v),
            Err(mpsc::TryRecvError::Empty) => JobState::Running,
            Err(mpsc::TryRecvError::Disconnected) => JobState::Failed,
        }
    }

    /// Asks the thread to stop; it finishes (as [`JobState::Failed`]) at its
    /// next check.
    pub fn cancel(&self) {
        self.progress.cancel.store(true, Ordering::Relaxed);
    }

    /// Items done so far, as the thread reported.
    pub fn done(&self) -> usize {
        self.progress.done.load(Ordering::Relaxed)
    }
}

impl<T> Drop for Job<T> {
    fn drop(&mut self) {
        self.progress.cancel.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The job's state once it stops running (at most ~10 s).
    fn wait<T: Send + 'static>(job: &Job<T>) -> JobState<T> {
        for _ in 0..2000 {
            match job.poll() {
                JobState::Running => std::thread::sleep(std::time::Duration::from_millis(5)),
                other => return other,
            }
        }
        JobState::Running
    }

    #[test]
    fn a_job_reports_progress_and_its_result_and_stops_when_dropped() {
        let ctx = egui::Context::default();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let job = Job::start(&ctx, move |p| {
            p.set_done(7);
            go_rx.recv().ok()?;
            Some(42)
        });
        while job.done() != 7 {
            std::thread::yield_now();
        }
        assert_eq!(job.poll(), JobState::Running, "not finished before it is let go");
        go_tx.send(()).unwrap();
        assert_eq!(wait(&job), JobState::Done(42));
        // A thread that panics fails the job instead of leaving it running.
        let job = Job::start(&ctx, |_| -> Option<u8> { panic!("an analysis bug") });
        assert_eq!(wait(&job), JobState::Failed);

        // Dropped: the thread sees the cancel flag and gives up.
        let (seen_tx, seen_rx) = mpsc::channel();
        let job = Job::start(&ctx, move |p| {
            while !p.is_cancelled() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            seen_tx.send(()).ok()?;
            None::<u8>
        });
        drop(job);
        assert!(seen_rx.recv_timeout(std::time::Duration::from_secs(10)).is_ok());
    }
}
