//! Flame graphs: stacks merged into a tree of functions weighted by CPU
//! samples or by time spent off the CPU, and their layout in pixels.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::{Filter, Stop};
use crate::model::{Goroutine, Timeline};
use crate::stacks::StackId;
use crate::state::{Category, GState};
use crate::strings::StrId;

/// What a flame-graph node stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlameKey {
    /// The root: everything.
    Root,
    /// Off-CPU time in one state (the level under the root of an off-CPU tree).
    State(GState),
    /// A function.
    Func(StrId),
}

/// A node of a [`FlameTree`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlameNode {
    /// What it stands for.
    pub key: FlameKey,
    /// Index of the parent (the root is its own parent).
    pub parent: u32,
    /// Distance from the root (the root is 0).
    pub depth: u32,
    /// Weight of this node and everything under it.
    pub total: i64,
    /// Weight of stacks ending exactly here.
    pub self_value: i64,
    /// Indices of the children, sorted by name.
    pub children: Vec<u32>,
}

/// Stacks merged into a tree, outermost frame at the top; node 0 is the root.
///
/// Frames with the same function under the same parent are one node whatever
/// their line. Children are sorted by name (function or state name), so the
/// same input always gives the same tree and layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlameTree {
    /// The nodes; every parent comes before its children.
    pub nodes: Vec<FlameNode>,
}

impl Default for FlameTree {
    fn default() -> Self {
        FlameTree { nodes: vec![root()] }
    }
}

fn root() -> FlameNode {
    FlameNode { key: FlameKey::Root, parent: 0, depth: 0, total: 0, self_value: 0, children: Vec::new() }
}

impl FlameTree {
    /// Index of the root.
    pub const ROOT: u32 = 0;

    /// The node at `i`.
    pub fn node(&self, i: u32) -> Option<&FlameNode> {
        self.nodes.get(i as usize)
    }

    /// Total weight.
    pub fn total(&self) -> i64 {
        self.node(Self::ROOT).map_or(0, |n| n.total)
    }

    /// The name of node `i`: the function, the state, or "all" for the root.
    pub fn name<'t>(&self, tl: &'t Timeline, i: u32) -> &'t str {
        key_name(tl, self.node(i).map_or(FlameKey::Root, |n| n.key))
    }

    /// The child of `parent` named `name`, if any.
    pub fn child_named(&self, tl: &Timeline, parent: u32, name: &str) -> Option<u32> {
        self.node(parent)?.children.iter().copied().find(|&c| self.name(tl, c) == name)
    }

    /// The nodes from the root down to `i`, both included.
    pub fn path(&self, i: u32) -> Vec<u32> {
        let mut out = vec![i];
        let mut cur = i;
        while let Some(n) = self.node(cur).filter(|_| cur != Self::ROOT) {
            cur = n.parent;
            out.push(cur);
        }
        out.reverse();
        out
    }
}

/// Builds a [`FlameTree`] from weighted stacks.
struct Builder<'t> {
    tl: &'t Timeline,
    nodes: Vec<FlameNode>,
    children: FxHashMap<(u32, FlameKey), u32>,
    /// (node a stack hangs under, stack) -> the stack's innermost node.
    memo: FxHashMap<(u32, StackId), u32>,
}

impl<'t> Builder<'t> {
    fn new(tl: &'t Timeline) -> Builder<'t> {
        Builder { tl, nodes: vec![root()], children: FxHashMap::default(), memo: FxHashMap::default() }
    }

    fn child(&mut self, parent: u32, key: FlameKey) -> u32 {
        if let Some(&c) = self.children.get(&(parent, key)) {
            return c;
        }
        let id = self.nodes.len() as u32;
        let depth = self.nodes.get(parent as usize).map_or(0, |p| p.depth + 1);
        self.nodes.push(FlameNode { key, parent, depth, total: 0, self_value: 0, children: Vec::new() });
        self.children.insert((parent, key), id);
        id
    }

    /// Adds `weight` to `stack` hung under node `base`.
    fn add(&mut self, base: u32, stack: StackId, weight: i64) {
        let leaf = match self.memo.get(&(base, stack)) {
            Some(&n) => n,
            None => {
                let mut node = base;
                for f in self.tl.stacks.frames(stack).iter().rev() {
                    node = self.child(node, FlameKey::Func(f.func));
                }
                self.memo.insert((base, stack), node);
                node
            }
        };
        if let Some(n) = self.nodes.get_mut(leaf as usize) {
            // Saturating, as everywhere a damaged trace's times add up.
            n.self_value = n.self_value.saturating_add(weight);
        }
    }

    fn finish(mut self) -> FlameTree {
        for n in &mut self.nodes {
            n.total = n.self_value;
        }
        // Children come after their parents: fold totals upwards.
        for i in (1..self.nodes.len()).rev() {
            let Some(&FlameNode { parent, total, .. }) = self.nodes.get(i) else { continue };
            if let Some(p) = self.nodes.get_mut(parent as usize) {
                p.total = p.total.saturating_add(total);
                p.children.push(i as u32);
            }
        }
        let keys: Vec<FlameKey> = self.nodes.iter().map(|n| n.key).collect();
        let key_of = |c: &u32| keys.get(*c as usize).copied().unwrap_or(FlameKey::Root);
        let tl = self.tl;
        for n in &mut self.nodes {
            n.children.sort_by(|a, b| {
                let (ka, kb) = (key_of(a), key_of(b));
                key_name(tl, ka).cmp(key_name(tl, kb)).then(ka.cmp(&kb))
            });
        }
        FlameTree { nodes: self.nodes }
    }
}

/// The name of a node key ("all" for the root).
fn key_name(tl: &Timeline, key: FlameKey) -> &str {
    match key {
        FlameKey::Func(f) => tl.strings.get(f),
        FlameKey::State(s) => s.name(),
        FlameKey::Root => "all",
    }
}

/// A flame tree of the CPU samples taken inside the filter's range on the
/// selected goroutines (samples taken outside any goroutine count only when
/// no goroutines are selected); each sample weighs 1.
pub fn cpu_flame(tl: &Timeline, filter: &Filter) -> FlameTree {
    let mut b = Builder::new(tl);
    let r = filter.range;
    let first = tl.cpu_samples.partition_point(|s| s.time_ns < r.start_ns);
    for s in tl.cpu_samples.iter().skip(first).take_while(|s| s.time_ns < r.end_ns) {
        let wanted = match filter.goroutines() {
            None => true,
            Some(_) => s.g.is_some() && filter.includes(s.g),
        };
        if wanted {
            b.add(FlameTree::ROOT, s.stack, 1);
        }
    }
    b.finish()
}

/// Whether time in state `s` is off-CPU time worth a flame graph: blocked or
/// in a system call, but not a runtime goroutine parked while idle.
pub fn is_off_cpu(s: GState) -> bool {
    matches!(s.category(), Category::Blocked | Category::Syscall) && s != GState::SystemWait
}

/// A flame tree of off-CPU time: every span of the selected goroutines in a
/// state for which `keep` holds (e.g. [`is_off_cpu`]), weighted by its
/// duration inside the filter's range, under a node per state, then the
/// blocking stack outermost frame first.
pub fn offcpu_flame(tl: &Timeline, filter: &Filter, keep: impl Fn(GState) -> bool) -> FlameTree {
    offcpu_flame_stoppable(tl, filter, keep, Stop::NEVER).unwrap_or_default()
}

/// [`offcpu_flame`], giving up (`None`) once `stop` is raised.
pub fn offcpu_flame_stoppable(
    tl: &Timeline,
    filter: &Filter,
    keep: impl Fn(GState) -> bool,
    stop: Stop<'_>,
) -> Option<FlameTree> {
    // Asked once per state, so the threads share a table, not `keep`.
    let kept = GState::ALL.map(keep);
    let weights = tl
        .goroutines
        .par_iter()
        .filter(|g| filter.includes(g.id))
        .fold(Weights::default, |mut w, g| {
            if stop.is_raised() {
                return w;
            }
            super::for_each_clipped(g, filter.range, |_, s, start, end| {
                let state = Goroutine::state(s);
                if kept.get(state as usize).copied().unwrap_or(false) && start < end {
                    w.add((state, s.stack), end - start);
                }
            });
            w
        })
        .reduce(Weights::default, Weights::merge);
    let weights = stop.unless_raised(weights)?;
    let mut b = Builder::new(tl);
    let mut state_nodes: [Option<u32>; GState::COUNT] = [None; GState::COUNT];
    for ((state, stack), weight) in weights.order {
        let Some(slot) = state_nodes.get_mut(state as usize) else { continue };
        let base = *slot.get_or_insert_with(|| b.child(FlameTree::ROOT, FlameKey::State(state)));
        b.add(base, stack, weight);
    }
    Some(b.finish())
}

/// Off-CPU time per (state, stack), in the order each pair first appears.
///
/// The tree numbers its nodes in the order they are first needed, so
/// feeding it these pairs in this order gives the nodes one pass over the
/// spans would.
#[derive(Default)]
struct Weights {
    order: Vec<((GState, StackId), i64)>,
    index: FxHashMap<(GState, StackId), usize>,
}

impl Weights {
    fn add(&mut self, key: (GState, StackId), weight: i64) {
        let next = self.order.len();
        let i = *self.index.entry(key).or_insert(next);
        match self.order.get_mut(i) {
            Some(e) => e.1 = e.1.saturating_add(weight),
            None => self.order.push((key, weight)),
        }
    }

    /// The pairs of `self` then those of `later` (the goroutines after).
    fn merge(mut self, later: Weights) -> Weights {
        for (key, weight) in later.order {
            self.add(key, weight);
        }
        self
    }
}

/// One box of a laid-out flame graph.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlameRect {
    /// The node.
    pub node: u32,
    /// Left edge in pixels.
    pub x: f32,
    /// Width in pixels.
    pub width: f32,
    /// Row: the node's depth in the tree (the root is row 0).
    pub depth: u32,
}

/// Lays out `tree` zoomed on `focus` in `width_px` pixels: the focus and its
/// ancestors span the whole width, the focus's descendants share it in
/// proportion to their totals, children left to right in tree order. Nodes
/// narrower than `min_width_px` are left out with everything under them.
///
/// Rectangles come in depth-first order (ancestors first).
pub fn flame_layout(tree: &FlameTree, focus: u32, width_px: f32, min_width_px: f32) -> Vec<FlameRect> {
    let Some(f) = tree.node(focus) else { return Vec::new() };
    let mut out: Vec<FlameRect> = tree
        .path(focus)
        .into_iter()
        .filter_map(|i| tree.node(i).map(|n| FlameRect { node: i, x: 0.0, width: width_px, depth: n.depth }))
        .collect();
    if f.total <= 0 {
        return out;
    }
    let scale = f64::from(width_px) / f.total as f64;
    // (node, left edge) still to place, children pushed in reverse so they
    // come out left to right.
    let mut todo: Vec<(u32, f64)> = Vec::new();
    push_children(tree, f, 0.0, scale, min_width_px, &mut todo);
    while let Some((i, x)) = todo.pop() {
        let Some(n) = tree.node(i) else { continue };
        out.push(FlameRect { node: i, x: x as f32, width: (n.total as f64 * scale) as f32, depth: n.depth });
        push_children(tree, n, x, scale, min_width_px, &mut todo);
    }
    out
}

fn push_children(tree: &FlameTree, n: &FlameNode, x: f64, scale: f64, min_width_px: f32, todo: &mut Vec<(u32, f64)>) {
    let start = todo.len();
    let mut cx = x;
    for &c in &n.children {
        let Some(child) = tree.node(c) else { continue };
        let w = child.total as f64 * scale;
        if w >= f64::from(min_width_px) && w > 0.0 {
            todo.push((c, cx));
        }
        cx += w;
    }
    if let Some(added) = todo.get_mut(start..) {
        added.reverse();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::TimeRange;
    use crate::analysis::testutil::{goroutine, stack};
    use crate::model::CpuSample;
    use trace_core::{GoroutineId, ProcId, ThreadId};

    fn sample(tl: &mut Timeline, t: i64, g: i64, frames: &[&str]) {
        let s = stack(tl, frames);
        tl.cpu_samples.push(CpuSample { time_ns: t, g: GoroutineId(g), p: ProcId(0), m: ThreadId(0), stack: s });
    }

    fn names(tree: &FlameTree, tl: &Timeline, i: u32) -> Vec<(String, i64, i64)> {
        let n = crate::analysis::found(tree.node(i), "tree.node(i)");
        n.children
            .iter()
            .map(|&c| (tree.name(tl, c).to_string(), tree.nodes[c as usize].total, tree.nodes[c as usize].self_value))
            .collect()
    }

    /// main -> a -> x (x2), main -> a (self), main -> b, at times 0..5; g1
    /// takes the first three.
    fn cpu_timeline() -> Timeline {
        let mut tl = Timeline::default();
        sample(&mut tl, 0, 1, &["main", "a", "x"]);
        sample(&mut tl, 1, 1, &["main", "a", "x"]);
        sample(&mut tl, 2, 1, &["main", "a"]);
        sample(&mut tl, 3, 2, &["main", "b"]);
        sample(&mut tl, 4, -1, &["runtime.idle"]);
        tl
    }

    #[test]
    fn cpu_samples_merge_into_a_tree() {
        let tl = cpu_timeline();
        let t = cpu_flame(&tl, &Filter::all());
        assert_eq!(t.total(), 5);
        assert_eq!(names(&t, &tl, FlameTree::ROOT), [("main".into(), 4, 0), ("runtime.idle".into(), 1, 1)]);
        let main = crate::analysis::found(
            t.child_named(&tl, FlameTree::ROOT, "main"),
            "t.child_named(&tl, FlameTree::ROOT, \"main\")",
        );
        assert_eq!(names(&t, &tl, main), [("a".into(), 3, 1), ("b".into(), 1, 1)]);
        let a = crate::analysis::found(t.child_named(&tl, main, "a"), "t.child_named(&tl, main, \"a\")");
        assert_eq!(names(&t, &tl, a), [("x".into(), 2, 2)]);
        let x = crate::analysis::found(t.child_named(&tl, a, "x"), "t.child_named(&tl, a, \"x\")");
        assert_eq!(t.path(x), vec![0, main, a, x]);
        assert_eq!(t.nodes[x as usize].depth, 3);
    }

    #[test]
    fn cpu_samples_filtered_by_time_and_goroutine() {
        let tl = cpu_timeline();
        let t = cpu_flame(&tl, &Filter::range(TimeRange::new(1, 4)));
        assert_eq!(t.total(), 3);
        let t = cpu_flame(&tl, &Filter::all().with_goroutines([GoroutineId(2)]));
        assert_eq!(names(&t, &tl, FlameTree::ROOT), [("main".into(), 1, 0)]);
    }

    #[test]
    fn off_cpu_time_is_rooted_by_state() {
        let mut tl = Timeline::default();
        let recv = stack(&mut tl, &["main", "f", "runtime.chanrecv1"]);
        let lock = stack(&mut tl, &["main", "g", "sync.(*Mutex).Lock"]);
        let spans = [
            (0, GState::Running, StackId::NONE, 0, -1),
            (10, GState::ChanRecv, recv, -1, -1),
            (40, GState::Runnable, StackId::NONE, -1, -1),
            (45, GState::Mutex, lock, -1, -1),
            (50, GState::Running, StackId::NONE, 0, -1),
            (60, GState::ChanRecv, recv, -1, -1),
        ];
        tl.goroutines.push(goroutine(1, StrId(0), &spans, 100));
        tl.goroutines.push(goroutine(2, StrId(0), &[(0, GState::SystemWait, StackId::NONE, -1, -1)], 100));
        let t = offcpu_flame(&tl, &Filter::all(), is_off_cpu);
        assert_eq!(t.total(), 30 + 5 + 40);
        // Sorted by name: "chan receive" < "sync.Mutex".
        assert_eq!(names(&t, &tl, FlameTree::ROOT), [("chan receive".into(), 70, 0), ("sync.Mutex".into(), 5, 0)]);
        let state = crate::analysis::found(
            t.child_named(&tl, FlameTree::ROOT, "chan receive"),
            "t.child_named(&tl, FlameTree::ROOT, \"chan receive\")",
        );
        let main = crate::analysis::found(t.child_named(&tl, state, "main"), "t.child_named(&tl, state, \"main\")");
        let f = crate::analysis::found(t.child_named(&tl, main, "f"), "t.child_named(&tl, main, \"f\")");
        assert_eq!(names(&t, &tl, f), [("runtime.chanrecv1".into(), 70, 70)]);
        // Clipped to [35, 55): 5 ns of receive, 5 of mutex.
        let t = offcpu_flame(&tl, &Filter::range(TimeRange::new(35, 55)), is_off_cpu);
        assert_eq!(names(&t, &tl, FlameTree::ROOT), [("chan receive".into(), 5, 0), ("sync.Mutex".into(), 5, 0)]);
        // The idle runtime goroutine shows up only if asked for.
        let t = offcpu_flame(&tl, &Filter::all(), |s| s == GState::SystemWait);
        assert_eq!(t.total(), 100);
    }

    #[test]
    fn layout_scales_to_the_focus_and_skips_thin_nodes() {
        let tl = cpu_timeline();
        let t = cpu_flame(&tl, &Filter::all());
        let main = crate::analysis::found(
            t.child_named(&tl, FlameTree::ROOT, "main"),
            "t.child_named(&tl, FlameTree::ROOT, \"main\")",
        );
        let a = crate::analysis::found(t.child_named(&tl, main, "a"), "t.child_named(&tl, main, \"a\")");
        let b = crate::analysis::found(t.child_named(&tl, main, "b"), "t.child_named(&tl, main, \"b\")");
        let x = crate::analysis::found(t.child_named(&tl, a, "x"), "t.child_named(&tl, a, \"x\")");
        let idle = crate::analysis::found(
            t.child_named(&tl, FlameTree::ROOT, "runtime.idle"),
            "t.child_named(&tl, FlameTree::ROOT, \"runtime.idle\")",
        );
        let rects = flame_layout(&t, FlameTree::ROOT, 500.0, 1.0);
        let r = |n: u32| {
            crate::analysis::found(
                rects.iter().find(|r| r.node == n).copied(),
                "rects.iter().find(|r| r.node == n).copied()",
            )
        };
        assert_eq!(rects.len(), 6);
        assert_eq!(rects[0], FlameRect { node: 0, x: 0.0, width: 500.0, depth: 0 });
        assert_eq!(r(main), FlameRect { node: main, x: 0.0, width: 400.0, depth: 1 });
        assert_eq!(r(idle), FlameRect { node: idle, x: 400.0, width: 100.0, depth: 1 });
        assert_eq!(r(a), FlameRect { node: a, x: 0.0, width: 300.0, depth: 2 });
        assert_eq!(r(b), FlameRect { node: b, x: 300.0, width: 100.0, depth: 2 });
        assert_eq!(r(x), FlameRect { node: x, x: 0.0, width: 200.0, depth: 3 });
        // Depth first, children left to right.
        assert_eq!(rects.iter().map(|r| r.node).collect::<Vec<_>>(), [0, main, a, x, b, idle]);
        // Focus on a: root, main and a are full width; x is two thirds.
        let rects = flame_layout(&t, a, 300.0, 1.0);
        assert_eq!(
            rects.iter().map(|r| (r.node, r.width)).collect::<Vec<_>>(),
            [(0, 300.0), (main, 300.0), (a, 300.0), (x, 200.0)]
        );
        // At 4 px, 1-sample nodes (0.8 px) vanish.
        let rects = flame_layout(&t, FlameTree::ROOT, 4.0, 1.0);
        assert_eq!(rects.iter().map(|r| r.node).collect::<Vec<_>>(), [0, main, a, x]);
        assert!(flame_layout(&t, 999, 100.0, 1.0).is_empty());
    }
}
