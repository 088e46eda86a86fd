//! Stacks as a prefix tree of frames.

use rustc_hash::FxHashMap;

use crate::strings::{StrId, Strings};

/// A stack in the [`StackTree`]; 0 is the empty stack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StackId(pub u32);

impl StackId {
    /// The empty (absent) stack.
    pub const NONE: StackId = StackId(0);
}

/// One frame: function, file and line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Frame {
    /// Function name.
    pub func: StrId,
    /// Source file.
    pub file: StrId,
    /// Line number.
    pub line: u32,
}

#[derive(Clone, Copy, Debug)]
struct Node {
    parent: u32,
    frame: u32,
    depth: u32,
}

/// Every stack of a trace, sharing common outer frames.
///
/// A node is a frame plus its caller's node, so a stack is one `u32` and a
/// million stacks that all start in `main.main` store that frame once.
#[derive(Debug)]
pub struct StackTree {
    nodes: Vec<Node>,
    children: FxHashMap<(u32, u32), u32>,
    frames: Vec<Frame>,
    frame_index: FxHashMap<Frame, u32>,
}

impl Default for StackTree {
    fn default() -> Self {
        StackTree {
            nodes: vec![Node { parent: 0, frame: u32::MAX, depth: 0 }],
            children: FxHashMap::default(),
            frames: Vec::new(),
            frame_index: FxHashMap::default(),
        }
    }
}

impl StackTree {
    /// Adds a stack given innermost frame first (as Go records them).
    pub fn insert(&mut self, innermost_first: &[Frame]) -> StackId {
        let mut node = 0u32;
        for f in innermost_first.iter().rev() {
            let frame = self.frame_id(*f);
            node = match self.children.get(&(node, frame)) {
                Some(&n) => n,
                None => {
                    let depth = self.nodes.get(node as usize).map_or(0, |n| n.depth) + 1;
                    let id = self.nodes.len() as u32;
                    self.nodes.push(Node { parent: node, frame, depth });
                    self.children.insert((node, frame), id);
                    id
                }
            };
        }
        StackId(node)
    }

    fn frame_id(&mut self, f: Frame) -> u32 {
        if let Some(&i) = self.frame_index.get(&f) {
            return i;
        }
        let i = self.frames.len() as u32;
        self.frames.push(f);
        self.frame_index.insert(f, i);
        i
    }

    /// The innermost frame of a stack.
    pub fn top(&self, id: StackId) -> Option<Frame> {
        let n = self.nodes.get(id.0 as usize)?;
        self.frames.get(n.frame as usize).copied()
    }

    /// The outermost frame of a stack (where its goroutine started, as far
    /// as the stack goes back).
    pub fn outermost(&self, id: StackId) -> Option<Frame> {
        let mut cur = id;
        while self.depth(cur) > 1 {
            cur = self.parent(cur);
        }
        self.top(cur)
    }

    /// The caller's stack (one frame shorter).
    pub fn parent(&self, id: StackId) -> StackId {
        StackId(self.nodes.get(id.0 as usize).map_or(0, |n| n.parent))
    }

    /// Number of frames.
    pub fn depth(&self, id: StackId) -> usize {
        self.nodes.get(id.0 as usize).map_or(0, |n| n.depth as usize)
    }

    /// The frames, innermost first.
    pub fn frames(&self, id: StackId) -> Vec<Frame> {
        let mut out = Vec::with_capacity(self.depth(id));
        let mut cur = id;
        while cur.0 != 0 {
            match self.top(cur) {
                Some(f) => out.push(f),
                None => break,
            }
            cur = self.parent(cur);
        }
        out
    }

    /// The function a goroutine with this stack started in: the outermost
    /// frame that is not `runtime.goexit` and has a name; [`StrId`] 0 if
    /// none has (as the creation of an extra M's goroutine before Go
    /// 1.22, a single frame at PC 0).
    pub fn start_function(&self, id: StackId, strings: &Strings) -> StrId {
        // Walked innermost first, without collecting the frames: every
        // finished goroutine asks, millions on a big trace.
        let mut found = StrId(0);
        let mut cur = id;
        while cur.0 != 0 {
            let Some(f) = self.top(cur) else { break };
            let name = strings.get(f.func);
            if name != "runtime.goexit" && !name.is_empty() {
                found = f.func;
            }
            cur = self.parent(cur);
        }
        found
    }

    /// The stack as Go prints a goroutine's in a panic or `SIGQUIT` dump:
    /// `func(...)` then a tab and `file:line`, innermost first, one line
    /// each, so it pastes where Go tracebacks go (issues, editors that
    /// open `file:line`). Empty for [`StackId::NONE`].
    pub fn traceback(&self, id: StackId, strings: &Strings) -> String {
        let mut out = String::new();
        for f in self.frames(id) {
            out.push_str(strings.get(f.func));
            out.push_str("(...)\n\t");
            out.push_str(strings.get(f.file));
            out.push(':');
            out.push_str(&f.line.to_string());
            out.push('\n');
        }
        out
    }

    /// Number of stacks (tree nodes), the empty one included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether only the empty stack is present.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() <= 1
    }

    /// Bytes held (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * 12 + self.children.capacity() * 16 + self.frames.capacity() * 24 * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(s: &mut Strings, name: &str) -> Frame {
        Frame { func: s.intern(name.as_bytes()), file: s.intern(b"x.go"), line: 1 }
    }

    #[test]
    fn shares_prefixes() {
        let mut s = Strings::default();
        let mut t = StackTree::default();
        let (a, b, main, exit) =
            (frame(&mut s, "a"), frame(&mut s, "b"), frame(&mut s, "main.main"), frame(&mut s, "runtime.goexit"));
        let s1 = t.insert(&[a, main, exit]);
        let s2 = t.insert(&[b, main, exit]);
        let s3 = t.insert(&[a, main, exit]);
        assert_eq!(s1, s3);
        assert_ne!(s1, s2);
        assert_eq!(t.parent(s1), t.parent(s2));
        assert_eq!(t.frames(s2), vec![b, main, exit]);
        assert_eq!(t.depth(s1), 3);
        assert_eq!(t.len(), 5); // root, exit, main, a, b
        assert_eq!(s.get(t.start_function(s1, &s)), "main.main");
        // Only goexit frames, none, or goexit between others.
        let only_exit = t.insert(&[exit]);
        assert_eq!(t.start_function(only_exit, &s), StrId(0));
        assert_eq!(t.start_function(StackId::NONE, &s), StrId(0));
        let odd = t.insert(&[a, exit, main, exit]);
        assert_eq!(s.get(t.start_function(odd, &s)), "main.main");
        let no_exit = t.insert(&[b, a]);
        assert_eq!(s.get(t.start_function(no_exit, &s)), "a");
        // A frame with no function (an extra M's goroutine made at PC 0).
        let nameless = frame(&mut s, "");
        let (only_nameless, under_nameless) = (t.insert(&[nameless]), t.insert(&[a, nameless]));
        assert_eq!(t.start_function(only_nameless, &s), StrId(0));
        assert_eq!(s.get(t.start_function(under_nameless, &s)), "a");
        assert_eq!(t.insert(&[]), StackId::NONE);
        assert!(t.frames(StackId::NONE).is_empty());
    }

    #[test]
    fn traceback_reads_like_gos() {
        let mut s = Strings::default();
        let mut t = StackTree::default();
        let recv = Frame { func: s.intern(b"runtime.chanrecv1"), file: s.intern(b"runtime/chan.go"), line: 509 };
        let main = Frame { func: s.intern(b"main.main"), file: s.intern(b"/src/app/main.go"), line: 12 };
        let id = t.insert(&[recv, main]);
        assert_eq!(
            t.traceback(id, &s),
            "runtime.chanrecv1(...)\n\truntime/chan.go:509\nmain.main(...)\n\t/src/app/main.go:12\n"
        );
        assert_eq!(t.traceback(StackId::NONE, &s), "");
    }
}
