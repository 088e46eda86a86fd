//! Interned strings.

use rustc_hash::FxHashMap;

/// An interned string; 0 is the empty string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StrId(pub u32);

/// Every distinct string of a trace (function and file names, reasons,
/// labels, task types...) stored once.
#[derive(Debug)]
pub struct Strings {
    list: Vec<Box<str>>,
    index: FxHashMap<Box<str>, u32>,
}

impl Default for Strings {
    fn default() -> Self {
        let mut s = Strings { list: Vec::new(), index: FxHashMap::default() };
        s.intern(b"");
        s
    }
}

impl Strings {
    /// Interns raw bytes (invalid UTF-8 is replaced).
    pub fn intern(&mut self, bytes: &[u8]) -> StrId {
        // The empty string is always 0: most ranges (mark assists, sweeps)
        // have an empty reason, and a busy trace has a million of them.
        if bytes.is_empty() && !self.list.is_empty() {
            return StrId(0);
        }
        let text = String::from_utf8_lossy(bytes);
        if let Some(&id) = self.index.get(&*text) {
            return StrId(id);
        }
        let id = self.list.len() as u32;
        let boxed: Box<str> = text.into();
        self.list.push(boxed.clone());
        self.index.insert(boxed, id);
        StrId(id)
    }

    /// The string of an ID ("" if unknown).
    pub fn get(&self, id: StrId) -> &str {
        self.list.get(id.0 as usize).map_or("", |s| s)
    }

    /// The ID of a string already interned.
    pub fn find(&self, text: &str) -> Option<StrId> {
        self.index.get(text).map(|&i| StrId(i))
    }

    /// Number of strings (including the empty one).
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether only the empty string is present.
    pub fn is_empty(&self) -> bool {
        self.list.len() <= 1
    }

    /// Bytes held (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.list.iter().map(|s| s.len() * 2 + 48).sum()
    }
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
}
