//! Trace format versions and the file header.

use crate::error::{Error, ErrorKind, Result};

/// A trace format version, named by the Go release that introduced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// Go 1.11 - 1.18 (v1 format).
    Go111,
    /// Go 1.19 - 1.20 (v1 format).
    Go119,
    /// Go 1.21 (v1 format).
    Go121,
    /// Go 1.22 (v2 format).
    Go122,
    /// Go 1.23 - 1.24 (v2 format, adds coroutine and experimental events).
    Go123,
    /// Go 1.25 (v2 format, adds sync batches and clock snapshots).
    Go125,
    /// Go 1.26 and later (v2 format, adds end-of-generation markers).
    Go126,
}

/// Length of the header in bytes.
pub const HEADER_LEN: usize = 16;

impl Version {
    /// The minor version number in the header ("go 1.N trace").
    pub fn minor(self) -> u32 {
        match self {
            Version::Go111 => 11,
            Version::Go119 => 19,
            Version::Go121 => 21,
            Version::Go122 => 22,
            Version::Go123 => 23,
            Version::Go125 => 25,
            Version::Go126 => 26,
        }
    }

    fn from_minor(n: u32) -> Option<Version> {
        Some(match n {
            11 => Version::Go111,
            19 => Version::Go119,
            21 => Version::Go121,
            22 => Version::Go122,
            23 => Version::Go123,
            25 => Version::Go125,
            26 => Version::Go126,
            _ => return None,
        })
    }

    /// Whether this is one of the pre-1.22 (v1) formats.
    pub fn is_v1(self) -> bool {
        self <= Version::Go121
    }

    /// Parses the 16-byte header at the start of `data`.
    pub fn from_header(data: &[u8]) -> Result<Version> {
        let not_trace = |msg: String| Error::new(ErrorKind::NotATrace, 0, "header", msg);
        const PREFIX: &[u8] = b"go 1.";
        if data.len() < HEADER_LEN {
            if data.is_empty() {
                return Err(not_trace("not a Go execution trace: the file is empty".into()));
            }
            if PREFIX.starts_with(&data[..data.len().min(PREFIX.len())]) {
                return Err(Error::truncated(0, "header"));
            }
        }
        if !data.starts_with(PREFIX) {
            return Err(not_trace(describe_foreign(data)));
        }
        let rest = &data[PREFIX.len()..data.len().min(HEADER_LEN)];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let minor: Option<u32> = std::str::from_utf8(&rest[..digits]).ok().and_then(|s| s.parse().ok());
        let tail = &rest[digits..];
        let Some(minor) = minor.filter(|_| tail.starts_with(b" trace")) else {
            return Err(not_trace("not a Go execution trace: bad header".into()));
        };
        let header_len = PREFIX.len() + digits + b" trace\0\0\0".len();
        if header_len != HEADER_LEN || !tail.starts_with(b" trace\0\0\0") {
            return Err(not_trace("not a Go execution trace: bad header".into()));
        }
        Version::from_minor(minor).ok_or_else(|| {
            Error::new(
                ErrorKind::UnsupportedVersion,
                0,
                "header",
                format!("unknown or unsupported trace version go 1.{minor}"),
            )
        })
    }
}

/// Names what a non-trace file most likely is, for the error message.
fn describe_foreign(data: &[u8]) -> String {
    if data.starts_with(&[0x1f, 0x8b]) {
        return "not a Go execution trace: the data is gzip-compressed (decompress it first; a gzipped pprof profile also looks like this)".into();
    }
    if data.starts_with(b"go ") && data.windows(6).any(|w| w == b" trace") {
        return "not a Go execution trace: unrecognised header".into();
    }
    let text = data.iter().take(512).all(|&b| b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b));
    if text {
        return "not a Go execution trace: the file is plain text".into();
    }
    "not a Go execution trace: missing \"go 1.N trace\" header".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_headers() {
        assert_eq!(Version::from_header(b"go 1.22 trace\0\0\0").ok(), Some(Version::Go122));
        assert_eq!(Version::from_header(b"go 1.26 trace\0\0\0rest").ok(), Some(Version::Go126));
        assert_eq!(Version::from_header(b"go 1.11 trace\0\0\0").ok(), Some(Version::Go111));
    }

    #[test]
    fn rejects_foreign_and_unknown() {
        let e = Version::from_header(b"go 1.24 trace\0\0\0").unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsupportedVersion);
        let e = Version::from_header(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert!(e.message.contains("gzip"));
        assert_eq!(Version::from_header(b"").unwrap_err().kind, ErrorKind::NotATrace);
        assert_eq!(Version::from_header(b"go 1.2").unwrap_err().kind, ErrorKind::Truncated);
        assert!(Version::from_header(b"hello world, this is text").unwrap_err().message.contains("text"));
    }
}
