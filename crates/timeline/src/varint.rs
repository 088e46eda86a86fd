//! LEB128 varints and zigzag signs, for the delta-encoded tracks and
//! counters.

/// Appends `v` as a varint.
pub(crate) fn write_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint from the front of `bytes` (0 from nothing; a truncated
/// one yields what it has).
pub(crate) fn read_uvarint(bytes: &mut &[u8]) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    while let Some((&b, rest)) = bytes.split_first() {
        *bytes = rest;
        v |= u64::from(b & 0x7f) << shift.min(63);
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    v
}

/// Maps a signed value to an unsigned one small for small magnitudes.
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for v in [0i64, 1, -1, 63, -64, 64, 1 << 40, i64::MAX, i64::MIN] {
            let mut buf = Vec::new();
            write_uvarint(&mut buf, zigzag(v));
            let mut r = &buf[..];
            assert_eq!(unzigzag(read_uvarint(&mut r)), v);
            assert!(r.is_empty());
        }
        let mut empty: &[u8] = &[];
        assert_eq!(read_uvarint(&mut empty), 0);
    }
}
