//! Low-level reading of the wire format: varints and batch headers.

use crate::error::{Error, Result};
use crate::spec::{self, ev, experiment};

/// Reads an unsigned LEB128 varint the way Go's `binary.Uvarint` does.
///
/// Returns the value and the number of bytes used, or `None` when the
/// buffer ends first or the value overflows 64 bits.
#[inline(always)]
pub fn uvarint(buf: &[u8]) -> Option<(u64, usize)> {
    // Most values fit in one to three bytes.
    if let [b0, rest @ ..] = buf {
        if *b0 < 0x80 {
            return Some((u64::from(*b0), 1));
        }
        if let [b1, rest @ ..] = rest {
            let x = u64::from(b0 & 0x7f);
            if *b1 < 0x80 {
                return Some((x | (u64::from(*b1) << 7), 2));
            }
            if let [b2, ..] = rest
                && *b2 < 0x80
            {
                return Some((x | (u64::from(b1 & 0x7f) << 7) | (u64::from(*b2) << 14), 3));
            }
        }
    }
    uvarint_slow(buf)
}

/// The general case of [`uvarint`]: four bytes or more, or malformed.
#[inline(never)]
fn uvarint_slow(buf: &[u8]) -> Option<(u64, usize)> {
    let mut x: u64 = 0;
    let mut s: u32 = 0;
    for (i, &b) in buf.iter().enumerate() {
        if i == 10 {
            return None;
        }
        if b < 0x80 {
            if i == 9 && b > 1 {
                return None;
            }
            return Some((x | (u64::from(b) << s), i + 1));
        }
        x |= u64::from(b & 0x7f) << s;
        s += 7;
    }
    None
}

/// A cursor over a byte slice that knows its absolute file offset.
#[derive(Clone, Debug)]
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Cursor<'a> {
    /// A cursor over `data`, whose first byte sits at file offset `base`.
    pub fn new(data: &'a [u8], base: u64) -> Self {
        Cursor { data, pos: 0, base }
    }

    /// Absolute file offset of the next byte.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Whether all bytes were consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Reads one byte.
    pub fn byte(&mut self, what: &'static str) -> Result<u8> {
        let b = *self.data.get(self.pos).ok_or_else(|| Error::truncated(self.offset(), what))?;
        self.pos += 1;
        Ok(b)
    }

    /// Reads one varint; a short buffer is truncation, an overlong one corruption.
    pub fn uvarint(&mut self, what: &'static str) -> Result<u64> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        match uvarint(rest) {
            Some((v, n)) => {
                self.pos += n;
                Ok(v)
            }
            None if rest.len() < 10 && rest.iter().all(|b| b & 0x80 != 0) => Err(Error::truncated(self.offset(), what)),
            None => Err(Error::corrupt(self.offset(), what, format!("invalid varint in {what}"))),
        }
    }

    /// Reads `n` raw bytes.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| Error::truncated(self.offset(), what))?;
        let out = self.data.get(self.pos..end).ok_or_else(|| Error::truncated(self.offset(), what))?;
        self.pos = end;
        Ok(out)
    }
}

/// A batch of events: its header decoded, its payload borrowed from the input.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// Generation number.
    pub generation: u64,
    /// The M that wrote the batch (raw; `u64::MAX` means no M).
    pub m: u64,
    /// Base timestamp (raw clock ticks).
    pub time: u64,
    /// Payload bytes.
    pub data: &'a [u8],
    /// File offset of the payload's first byte.
    pub data_offset: u64,
    /// File offset of the batch header.
    pub offset: u64,
    /// Experiment ID (0 for a regular batch).
    pub exp: u8,
    /// Whether this is an in-band end-of-generation marker.
    pub end_of_generation: bool,
}

impl<'a> Batch<'a> {
    fn first_byte(&self) -> Option<u8> {
        if self.exp == experiment::NONE { self.data.first().copied() } else { None }
    }
    /// Whether the batch holds the string table.
    pub fn is_strings(&self) -> bool {
        self.first_byte() == Some(ev::STRINGS)
    }
    /// Whether the batch holds the stack table.
    pub fn is_stacks(&self) -> bool {
        self.first_byte() == Some(ev::STACKS)
    }
    /// Whether the batch holds CPU samples.
    pub fn is_cpu_samples(&self) -> bool {
        self.first_byte() == Some(ev::CPU_SAMPLES)
    }
    /// Whether the batch holds the frequency / clock snapshot.
    pub fn is_sync(&self, go125: bool) -> bool {
        match self.first_byte() {
            Some(ev::FREQUENCY) => !go125,
            Some(ev::SYNC) => go125,
            _ => false,
        }
    }
}

/// Reads the batch starting at `cur`, or `None` at a clean end of input.
pub fn read_batch<'a>(cur: &mut Cursor<'a>) -> Result<Option<Batch<'a>>> {
    if cur.is_empty() {
        return Ok(None);
    }
    let offset = cur.offset();
    let typ = cur.byte("batch header")?;
    if typ == ev::END_OF_GENERATION {
        return Ok(Some(Batch {
            generation: 0,
            m: u64::MAX,
            time: 0,
            data: &[],
            data_offset: cur.offset(),
            offset,
            exp: 0,
            end_of_generation: true,
        }));
    }
    if typ != ev::EVENT_BATCH && typ != ev::EXPERIMENTAL_BATCH {
        return Err(Error::corrupt(offset, "batch header", format!("expected batch event, got event {typ}")));
    }
    let exp = if typ == ev::EXPERIMENTAL_BATCH { cur.byte("batch header")? } else { 0 };
    let generation = cur.uvarint("batch header")?;
    let m = cur.uvarint("batch header")?;
    let time = cur.uvarint("batch header")?;
    let size = cur.uvarint("batch header")?;
    if size > spec::MAX_BATCH_SIZE {
        return Err(Error::corrupt(
            offset,
            "batch header",
            format!("invalid batch size {size}, maximum is {}", spec::MAX_BATCH_SIZE),
        ));
    }
    let data_offset = cur.offset();
    // `size` is at most 64 KiB, so the conversion cannot fail.
    let data = cur.bytes(usize::try_from(size).unwrap_or(usize::MAX), "batch payload")?;
    Ok(Some(Batch { generation, m, time, data, data_offset, offset, exp, end_of_generation: false }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uvarint_matches_go() {
        assert_eq!(uvarint(&[0x00]), Some((0, 1)));
        assert_eq!(uvarint(&[0x96, 0x01]), Some((150, 2)));
        assert_eq!(uvarint(&[0x80]), None);
        assert_eq!(uvarint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), Some((u64::MAX, 10)));
        assert_eq!(uvarint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]), None);
        assert_eq!(uvarint(&[0x80; 11]), None);
    }

    #[test]
    fn batch_header_size_is_capped() {
        // EventBatch generation=1 m=0 time=0 size=2^40
        let mut b = vec![ev::EVENT_BATCH, 1, 0, 0];
        let mut v: u64 = 1 << 40;
        while v >= 0x80 {
            b.push((v as u8) | 0x80);
            v >>= 7;
        }
        b.push(v as u8);
        let err = read_batch(&mut Cursor::new(&b, 16)).unwrap_err();
        assert!(err.message.contains("invalid batch size"), "{err}");
        assert_eq!(err.offset, 16);
    }
}
