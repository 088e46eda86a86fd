//! Capturing a trace from a running Go program's `net/http/pprof`
//! endpoint (`/debug/pprof/trace?seconds=N`), so `gotv
//! http://localhost:6060` goes from a live service to its trace in one
//! step. The trace is streamed into a file (kept, so it can be opened
//! again from the recent files) and then loaded like any other.
//!
//! Plain HTTP only: the endpoint is normally served on localhost or
//! reached through a port forward.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

/// Seconds traced when the URL does not say.
pub const DEFAULT_SECONDS: u32 = 5;
/// Seconds to wait for the program to accept the connection.
const CONNECT_TIMEOUT_S: u64 = 10;
/// The endpoint `net/http/pprof` serves traces at.
const TRACE_PATH: &str = "/debug/pprof/trace";

/// The capture URL for `arg`, if it is an `http://` URL: a bare
/// `http://host:port` gets pprof's trace path, and a URL without a
/// `seconds` parameter gets `seconds` (Go's own default is one second).
pub fn capture_url(arg: &str, seconds: u32) -> Option<String> {
    let rest = arg.strip_prefix("http://")?;
    let (authority, path_query) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return None;
    }
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_query, None),
    };
    let path = if path.is_empty() || path == "/" { TRACE_PATH } else { path };
    let has_seconds = query.is_some_and(|q| q.split('&').any(|kv| kv.starts_with("seconds=")));
    let query = match (query, has_seconds) {
        (Some(q), true) => q.to_owned(),
        (Some(q), false) if !q.is_empty() => format!("{q}&seconds={seconds}"),
        _ => format!("seconds={seconds}"),
    };
    Some(format!("http://{authority}{path}?{query}"))
}

/// Where a capture from `url` goes by default: the captures directory
/// (see [`captures_dir`]), named by [`capture_file_name`].
pub fn default_capture_path(url: &str) -> PathBuf {
    captures_dir().join(capture_file_name(url))
}

/// A capture's file name: the host and port, and the time (UTC), e.g.
/// `localhost-6060-20261205-103800.trace`.
pub fn capture_file_name(url: &str) -> String {
    let host = url.trim_start_matches("http://").split('/').next().unwrap_or("trace");
    let host: String = host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' }).collect();
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("{host}-{}.trace", utc_stamp(secs))
}

/// The address typed into the window, as a capture URL: `http://` may be
/// left out (`localhost:6060`).
pub fn typed_capture_url(typed: &str, seconds: u32) -> Option<String> {
    let typed = typed.trim();
    if typed.is_empty() || typed.contains(char::is_whitespace) {
        return None;
    }
    if typed.contains("://") { capture_url(typed, seconds) } else { capture_url(&format!("http://{typed}"), seconds) }
}

/// `$GOTV_CONFIG_DIR/captures` when that is set (tests), else the user's
/// cache directory's `gotv/captures`, else the temporary directory.
pub fn captures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(crate::settings::CONFIG_DIR_ENV) {
        return PathBuf::from(dir).join("captures");
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    cache.map_or_else(std::env::temp_dir, |c| c.join("gotv")).join("captures")
}

/// `YYYYMMDD-HHMMSS` in UTC for Unix time `secs`.
fn utc_stamp(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}-{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// How a capture is going, shared with the window.
#[derive(Debug, Default)]
pub struct CaptureProgress {
    /// Trace bytes received so far.
    pub received: AtomicU64,
    /// Set to give up.
    pub cancel: AtomicBool,
}

/// What a capture wrote.
#[derive(Debug)]
pub struct Captured {
    /// Bytes of trace written.
    pub bytes: u64,
    /// Why the trace stops early, if the connection broke off (the program
    /// died, say): the file then holds the trace up to there, which opens
    /// like any truncated trace.
    pub broken: Option<String>,
}

/// Fetches `url` into `out` (directories made as needed). Fails, naming
/// the URL, if the server does not answer 200 with a Go trace (pprof not
/// enabled, a trace already running, a wrong path): then `out` is removed,
/// and the server's own words are in the error. A connection that breaks
/// off after the trace began keeps what came ([`Captured::broken`]).
pub fn capture(url: &str, out: &Path, progress: &CaptureProgress) -> anyhow::Result<Captured> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // A wrong host fails in seconds, not the system's minutes; the body has
    // no time limit (a quiet program's trace trickles in).
    let config = ureq::config::Config::builder()
        .http_status_as_error(false)
        .timeout_connect(Some(std::time::Duration::from_secs(CONNECT_TIMEOUT_S)))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let response = agent.get(url).call().with_context(|| format!("cannot fetch {url}"))?;
    let status = response.status();
    let mut body = response.into_body().into_reader();
    if !status.is_success() {
        let said = first_line(&mut body);
        bail!("{url} answered {status}: {said}");
    }
    let written = stream_to_file(&mut body, out, progress);
    let result = written.and_then(|c| check_trace(out, c.bytes).map(|()| c));
    if result.is_err() {
        let _ = std::fs::remove_file(out);
    }
    result.with_context(|| format!("capturing {url}"))
}

/// The start of an error page, for the error message.
fn first_line(body: &mut impl Read) -> String {
    let mut buf = vec![0u8; 512];
    let n = body.read(&mut buf).unwrap_or(0);
    let text = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned();
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("(empty body)");
    line.to_owned()
}

/// Where a capture to `out` is written until it is done.
fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_owned();
    name.push(".part");
    out.with_file_name(name)
}

/// Copies `body` into a new file at `out`, counting bytes into `progress`,
/// until it ends or breaks off. The bytes go to `out.part` first and are
/// renamed to `out` at the end, so a capture whose process is killed
/// leaves no file that looks finished among the recent captures.
fn stream_to_file(body: &mut impl Read, out: &Path, progress: &CaptureProgress) -> anyhow::Result<Captured> {
    let part = partial_path(out);
    let written = stream_to(body, &part, progress).and_then(|c| {
        std::fs::rename(&part, out).with_context(|| format!("cannot write {}", out.display())).map(|()| c)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    written
}

/// Copies `body` into a new file at `out` (see [`stream_to_file`]).
fn stream_to(body: &mut impl Read, out: &Path, progress: &CaptureProgress) -> anyhow::Result<Captured> {
    let file = std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut file = std::io::BufWriter::new(file);
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    let mut broken = None;
    loop {
        if progress.cancel.load(Ordering::Relaxed) {
            bail!("capture cancelled");
        }
        let n = match body.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                broken = Some(format!("the connection broke off after {total} bytes: {e}"));
                break;
            }
        };
        if n == 0 {
            break;
        }
        file.write_all(buf.get(..n).unwrap_or_default()).with_context(|| format!("cannot write {}", out.display()))?;
        total += n as u64;
        progress.received.store(total, Ordering::Relaxed);
    }
    file.flush().with_context(|| format!("cannot write {}", out.display()))?;
    Ok(Captured { bytes: total, broken })
}

/// Fails unless the file starts like a Go trace (the pprof handler
/// answers 200 with a text error when tracing is already on, say).
fn check_trace(path: &Path, len: u64) -> anyhow::Result<()> {
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    let head = head.get(..n).unwrap_or_default();
    if head.starts_with(b"go 1.") {
        return Ok(());
    }
    if len == 0 {
        bail!("the server sent nothing");
    }
    let text = String::from_utf8_lossy(head);
    let line = text.lines().next().unwrap_or_default().trim();
    bail!("the server did not send a Go execution trace; it said: {line}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_address_gets_the_trace_path_and_seconds() {
        assert_eq!(
            capture_url("http://localhost:6060", 5).as_deref(),
            Some("http://localhost:6060/debug/pprof/trace?seconds=5")
        );
        assert_eq!(
            capture_url("http://127.0.0.1:6060/", 3).as_deref(),
            Some("http://127.0.0.1:6060/debug/pprof/trace?seconds=3")
        );
        // A full URL keeps its path and seconds; other parameters stay.
        assert_eq!(
            capture_url("http://h:1/debug/pprof/trace?seconds=10", 5).as_deref(),
            Some("http://h:1/debug/pprof/trace?seconds=10")
        );
        assert_eq!(
            capture_url("http://h:1/x/trace?debug=1", 2).as_deref(),
            Some("http://h:1/x/trace?debug=1&seconds=2")
        );
        // Not an http URL: a file name.
        assert_eq!(capture_url("trace.out", 5), None);
        assert_eq!(capture_url("https://h/debug/pprof/trace", 5), None);
        assert_eq!(capture_url("http://", 5), None);
    }

    #[test]
    fn typed_addresses_may_leave_out_the_scheme() {
        assert_eq!(
            typed_capture_url(" localhost:6060 ", 7).as_deref(),
            Some("http://localhost:6060/debug/pprof/trace?seconds=7")
        );
        assert_eq!(typed_capture_url("http://h:1", 2).as_deref(), Some("http://h:1/debug/pprof/trace?seconds=2"));
        assert_eq!(typed_capture_url("https://h:1", 2), None);
        assert_eq!(typed_capture_url("", 2), None);
        assert_eq!(typed_capture_url("local host", 2), None);
    }

    #[test]
    fn stamps_are_utc_dates() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        // 2026-12-05 10:38:00 UTC.
        assert_eq!(utc_stamp(1_796_467_080), "20261205-103800");
        // 2024-02-29 23:59:59 UTC (a leap day).
        assert_eq!(utc_stamp(1_709_251_199), "20240229-235959");
    }

    /// A body that checks, as it is read, that nothing is at the final
    /// path yet.
    struct Watched<'a> {
        chunks: Vec<&'static [u8]>,
        out: &'a Path,
        seen_early: bool,
    }

    impl Read for Watched<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.seen_early |= self.out.exists();
            let Some(chunk) = self.chunks.pop() else { return Ok(0) };
            buf[..chunk.len()].copy_from_slice(chunk);
            Ok(chunk.len())
        }
    }

    #[test]
    fn a_capture_reaches_its_path_only_when_done() {
        let dir = std::env::temp_dir().join(format!("gotv-capture-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("x.trace");
        let mut body = Watched { chunks: vec![b"rest", b"go 1.27 trace\0\0\0"], out: &out, seen_early: false };
        let c = stream_to_file(&mut body, &out, &CaptureProgress::default()).unwrap();
        assert!(!body.seen_early, "the final file existed while the capture ran");
        assert_eq!(c.bytes, 20);
        assert_eq!(std::fs::read(&out).unwrap(), b"go 1.27 trace\0\0\0rest");
        assert!(!partial_path(&out).exists());
        // Cancelled: neither file is left.
        let cancelled = CaptureProgress::default();
        cancelled.cancel.store(true, Ordering::Relaxed);
        let out2 = dir.join("y.trace");
        let mut body = Watched { chunks: vec![b"go 1.27 trace\0\0\0"], out: &out2, seen_early: false };
        assert!(stream_to_file(&mut body, &out2, &cancelled).is_err());
        assert!(!out2.exists() && !partial_path(&out2).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn captures_are_named_after_the_host() {
        let p = default_capture_path("http://localhost:6060/debug/pprof/trace?seconds=5");
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("localhost-6060-") && name.ends_with(".trace"), "{name}");
        assert!(p.parent().unwrap().ends_with("captures"));
    }
}
