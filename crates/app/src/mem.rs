//! Peak memory of this process excluding file mappings (Linux), for
//! `gotv stats`: a mapped trace's pages count towards RSS but are not
//! memory gotv allocated.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Samples anonymous resident memory until stopped.
pub struct PeakAnon {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// Anonymous resident memory in bytes (`RssAnon` in /proc/self/status).
pub fn rss_anon_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

impl PeakAnon {
    /// Starts sampling every few milliseconds.
    pub fn start() -> PeakAnon {
        let peak = Arc::new(AtomicU64::new(rss_anon_bytes().unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(v) = rss_anon_bytes() {
                    p.fetch_max(v, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        PeakAnon { peak, stop, handle: Some(handle) }
    }

    /// Stops sampling and returns the peak in bytes (0 where unsupported).
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        if let Some(v) = rss_anon_bytes() {
            self.peak.fetch_max(v, Ordering::Relaxed);
        }
        self.peak.load(Ordering::Relaxed)
    }
}
