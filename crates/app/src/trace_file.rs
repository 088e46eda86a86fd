//! Opening trace files: memory-mapped when possible.

use std::path::Path;

use trace_core::{Error, ErrorKind, Result};

/// The bytes of a trace file, memory-mapped or owned.
#[derive(Debug)]
pub enum TraceFile {
    /// A read-only mapping of the file.
    Mapped(memmap2::Mmap),
    /// Bytes held in memory.
    Owned(Vec<u8>),
}

impl TraceFile {
    /// Opens and maps `path`.
    ///
    /// The file must not be truncated while mapped. A gzip-compressed trace
    /// is decompressed into memory (people keep traces compressed).
    pub fn open(path: impl AsRef<Path>) -> Result<TraceFile> {
        let file = Self::open_raw(path.as_ref())?;
        if file.bytes().starts_with(&[0x1f, 0x8b]) {
            return gunzip(path.as_ref(), file.bytes()).map(TraceFile::Owned);
        }
        Ok(file)
    }

    fn open_raw(path: &Path) -> Result<TraceFile> {
        let io =
            |e: std::io::Error| Error::new(ErrorKind::Io, 0, "file", format!("cannot read {}: {e}", path.display()));
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.is_dir() {
            return Err(Error::new(
                ErrorKind::Io,
                0,
                "file",
                format!("{} is a directory, not a trace file", path.display()),
            ));
        }
        let f = std::fs::File::open(path).map_err(io)?;
        if meta.len() == 0 {
            return Ok(TraceFile::Owned(Vec::new()));
        }
        map(&f).map(TraceFile::Mapped).or_else(|_| std::fs::read(path).map(TraceFile::Owned).map_err(io))
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            TraceFile::Mapped(m) => m,
            TraceFile::Owned(v) => v,
        }
    }
}

/// Decompresses a gzip file that should hold a trace.
fn gunzip(path: &Path, gz: &[u8]) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(gz);
    if let Err(e) = dec.read_to_end(&mut out) {
        // Keep what decompressed: a cut-off .gz still holds a trace prefix.
        if out.is_empty() {
            return Err(Error::new(
                ErrorKind::NotATrace,
                0,
                "file",
                format!("{} is gzip-compressed but does not decompress: {e}", path.display()),
            ));
        }
    }
    if !out.starts_with(b"go 1.") {
        return Err(Error::new(
            ErrorKind::NotATrace,
            0,
            "file",
            format!(
                "not a Go execution trace: {} is gzip-compressed and holds something else (a pprof profile? open it with `go tool pprof`)",
                path.display()
            ),
        ));
    }
    Ok(out)
}

/// Maps `f` read-only.
#[allow(unsafe_code)]
fn map(f: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the mapping is read-only and private to this process. If
    // another process truncates the file while it is mapped, reads past the
    // new end fault; gotv accepts that risk for traces, which are written
    // once and not modified, in exchange for not copying gigabytes.
    unsafe { memmap2::Mmap::map(f) }
}
