//! Interned strings.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// An interned string; 0 is the empty string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StrId(pub u32);

/// Every distinct string of a trace (function and file names, reasons,
/// labels, task types, log messages...) stored once.
///
/// The texts sit end to end in one buffer and the index holds only their
/// IDs: a program that logs a distinct message per request has millions of
/// strings, and two boxed copies of each (list and hash key) cost about
/// 100 bytes a string besides the text.
#[derive(Debug)]
pub struct Strings {
    text: String,
    /// Where string `i` ends in `text` (it starts where `i - 1` ends).
    ends: Vec<u64>,
    index: HashTable<u32>,
}

impl Default for Strings {
    fn default() -> Self {
        let mut s = Strings { text: String::new(), ends: Vec::new(), index: HashTable::new() };
        s.intern(b"");
        s
    }
}

/// The hash of a string's text.
fn hash(text: &str) -> u64 {
    FxBuildHasher.hash_one(text)
}

impl Strings {
    /// Interns raw bytes (invalid UTF-8 is replaced).
    pub fn intern(&mut self, bytes: &[u8]) -> StrId {
        // The empty string is always 0: most ranges (mark assists, sweeps)
        // have an empty reason, and a busy trace has a million of them.
        if bytes.is_empty() && !self.ends.is_empty() {
            return StrId(0);
        }
        let text = String::from_utf8_lossy(bytes);
        let h = hash(&text);
        if let Some(&id) = self.index.find(h, |&id| self.text_of(id) == text) {
            return StrId(id);
        }
        let id = self.ends.len() as u32;
        self.text.push_str(&text);
        self.ends.push(self.text.len() as u64);
        let (all, ends) = (&self.text, &self.ends);
        self.index.insert_unique(h, id, |&i| hash(slice(all, ends, i)));
        StrId(id)
    }

    /// The string of an ID ("" if unknown).
    pub fn get(&self, id: StrId) -> &str {
        self.text_of(id.0)
    }

    fn text_of(&self, id: u32) -> &str {
        slice(&self.text, &self.ends, id)
    }

    /// The ID of a string already interned.
    pub fn find(&self, text: &str) -> Option<StrId> {
        self.index.find(hash(text), |&id| self.text_of(id) == text).map(|&i| StrId(i))
    }

    /// Number of strings (including the empty one).
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether only the empty string is present.
    pub fn is_empty(&self) -> bool {
        self.ends.len() <= 1
    }

    /// Bytes held (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 8 + self.index.capacity() * 5
    }
}

/// String `id` of `text` cut at `ends` ("" if unknown).
fn slice<'s>(text: &'s str, ends: &[u64], id: u32) -> &'s str {
    let i = id as usize;
    let start = match i.checked_sub(1) {
        Some(prev) => ends.get(prev).copied(),
        None => Some(0),
    };
    let range = start.zip(ends.get(i).copied());
    range.and_then(|(s, e)| text.get(s as usize..e as usize)).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once() {
        let mut s = Strings::default();
        let a = s.intern(b"main.main");
        let b = s.intern(b"main.main");
        assert_eq!(a, b);
        assert_ne!(a, StrId(0));
        assert_eq!(s.get(a), "main.main");
        assert_eq!(s.get(StrId(0)), "");
        assert_eq!(s.find("main.main"), Some(a));
        assert_eq!(s.intern(b""), StrId(0));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn many_strings_keep_their_ids_and_texts() {
        let mut s = Strings::default();
        let ids: Vec<StrId> = (0..5000).map(|i| s.intern(format!("message {i}").as_bytes())).collect();
        // Interning again (after the table grew many times) finds the same IDs.
        for (i, &id) in ids.iter().enumerate() {
            assert_eq!(s.intern(format!("message {i}").as_bytes()), id);
            assert_eq!(s.get(id), format!("message {i}"));
        }
        assert_eq!(s.len(), 5001);
        assert_eq!(s.find("message 4999"), ids.last().copied());
        assert_eq!(s.find("message 5000"), None);
        assert_eq!(s.get(StrId(5001)), "");
        let bad = s.intern(b"a\xffb");
        assert_eq!(s.get(bad), "a\u{fffd}b");
    }
}
