//! Every colour gotv paints, in one place.

use egui::Color32;
use timeline::{GState, MState, PState, RangeKind};

/// Dark or light palette.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
pub enum ThemeChoice {
    /// Dark background.
    #[default]
    Dark,
    /// Light background.
    Light,
}

/// The palette in use this frame.
#[derive(Clone, Copy, Debug)]
pub struct Theme {
    /// Whether the background is dark.
    pub dark: bool,
}

const fn rgb(r: u8, g: u8, b: u8) -> Color32 {
    Color32::from_rgb(r, g, b)
}

impl Theme {
    /// The palette for a choice.
    pub fn new(choice: ThemeChoice) -> Theme {
        Theme { dark: choice == ThemeChoice::Dark }
    }

    /// A goroutine state. Running is green, waiting for a P is orange-ish
    /// (the scheduling latency people hunt for), syscalls blue, blocking
    /// reasons in distinct muted hues.
    pub fn gstate(&self, s: GState) -> Color32 {
        match s {
            GState::Created => rgb(0xc9, 0xb2, 0x6b),
            GState::Runnable => rgb(0xe8, 0xa2, 0x3b),
            GState::Preempted => rgb(0xe0, 0x7b, 0x39),
            GState::Yielded => rgb(0xd8, 0xc0, 0x4a),
            GState::Running => rgb(0x4c, 0xaf, 0x50),
            GState::Syscall => rgb(0x42, 0x8b, 0xca),
            GState::ChanSend => rgb(0xb0, 0x6a, 0xb3),
            GState::ChanRecv => rgb(0x9c, 0x5f, 0xc9),
            GState::Select => rgb(0x7e, 0x6a, 0xc9),
            GState::Mutex => rgb(0xd9, 0x53, 0x4f),
            GState::RwMutex => rgb(0xc2, 0x47, 0x6b),
            GState::WaitGroup => rgb(0xc7, 0x6d, 0x86),
            GState::Cond => rgb(0xb5, 0x5d, 0x5d),
            GState::Sync => rgb(0xc0, 0x5a, 0x5a),
            GState::Network => rgb(0x3f, 0xa7, 0xa8),
            GState::Sleep => rgb(0x8a, 0x93, 0x9b),
            GState::GcAssistWait => rgb(0xa0, 0x84, 0x5c),
            GState::GcWait => rgb(0x8d, 0x75, 0x55),
            GState::SystemWait => rgb(0x6b, 0x6e, 0x73),
            GState::Forever => rgb(0x55, 0x55, 0x5d),
            GState::DebugCall => rgb(0x77, 0x77, 0x88),
            GState::Synctest => rgb(0x88, 0x77, 0x99),
            GState::Blocked => rgb(0x9e, 0x7b, 0x9b),
            GState::Exited => Color32::TRANSPARENT,
        }
    }

    /// A P state.
    pub fn pstate(&self, s: PState) -> Color32 {
        match s {
            PState::Idle => Color32::TRANSPARENT,
            PState::Scheduling => rgb(0x9a, 0xa0, 0x6b),
            PState::Running => rgb(0x4c, 0xaf, 0x50),
            PState::Syscall => rgb(0x42, 0x8b, 0xca),
        }
    }

    /// A thread state.
    pub fn mstate(&self, s: MState) -> Color32 {
        match s {
            MState::Idle => Color32::TRANSPARENT,
            MState::Running => rgb(0x4c, 0xaf, 0x50),
            MState::Syscall => rgb(0x42, 0x8b, 0xca),
        }
    }

    /// A GC-related range.
    pub fn range(&self, k: RangeKind) -> Color32 {
        match k {
            RangeKind::GcMark => rgb(0xd6, 0x8f, 0x2e),
            RangeKind::Stw => rgb(0xd0, 0x3b, 0x3b),
            RangeKind::Sweep => rgb(0x9b, 0x8b, 0x5a),
            RangeKind::MarkAssist => rgb(0xc9, 0x7a, 0x2b),
        }
    }

    /// Heap in use, heap goal, and the goroutine-count plots.
    pub fn heap_alloc(&self) -> Color32 {
        rgb(0x4f, 0x9d, 0xde)
    }

    /// Heap goal line.
    pub fn heap_goal(&self) -> Color32 {
        rgb(0xd9, 0x8c, 0x3f)
    }

    /// A user region bar.
    pub fn region(&self) -> Color32 {
        rgb(0x6c, 0x8e, 0xbf)
    }

    /// A user log marker (`trace.Log`) on a goroutine row.
    pub fn log_marker(&self) -> Color32 {
        if self.dark { rgb(0xf2, 0xd5, 0x4b) } else { rgb(0xb3, 0x5c, 0x00) }
    }

    /// Background of a track row.
    pub fn row_bg(&self, odd: bool) -> Color32 {
        match (self.dark, odd) {
            (true, false) => rgb(0x1e, 0x1f, 0x22),
            (true, true) => rgb(0x23, 0x24, 0x28),
            (false, false) => rgb(0xfa, 0xfa, 0xfa),
            (false, true) => rgb(0xf0, 0xf1, 0xf3),
        }
    }

    /// Axis ticks, labels and row text.
    pub fn text(&self) -> Color32 {
        if self.dark { rgb(0xd0, 0xd0, 0xd0) } else { rgb(0x30, 0x30, 0x30) }
    }

    /// Faint text and grid lines.
    pub fn weak(&self) -> Color32 {
        if self.dark { rgb(0x70, 0x70, 0x78) } else { rgb(0xa0, 0xa0, 0xa8) }
    }

    /// Time selection overlay.
    pub fn selection(&self) -> Color32 {
        Color32::from_rgba_unmultiplied(0x6c, 0xa0, 0xff, 0x40)
    }

    /// Outline of the selected span.
    pub fn highlight(&self) -> Color32 {
        if self.dark { Color32::WHITE } else { Color32::BLACK }
    }

    /// The arrow from a waker to the goroutine it woke.
    pub fn wake_arrow(&self) -> Color32 {
        if self.dark { rgb(0xff, 0xe0, 0x8a) } else { rgb(0x8a, 0x4b, 0x00) }
    }

    /// Everything dimmed by a search.
    pub fn dim(&self, c: Color32) -> Color32 {
        c.gamma_multiply(0.25)
    }

    /// The warning banner of a truncated or damaged trace.
    pub fn warning_bg(&self) -> Color32 {
        rgb(0x8a, 0x5a, 0x12)
    }

    /// Error text.
    pub fn error(&self) -> Color32 {
        rgb(0xe0, 0x55, 0x55)
    }
}

// Colours of the application shell (start page, loading, banners).
impl Theme {
    /// Text on [`Theme::warning_bg`].
    pub fn warning_text(&self) -> Color32 {
        rgb(0xff, 0xf4, 0xe0)
    }

    /// The veil over the window while a file is dragged onto it.
    pub fn drop_overlay(&self) -> Color32 {
        Color32::from_rgba_unmultiplied(0x20, 0x60, 0xc0, 0x60)
    }

    /// Text on [`Theme::drop_overlay`].
    pub fn drop_text(&self) -> Color32 {
        Color32::WHITE
    }
}

// Colours of the analysis panels.
impl Theme {
    /// A flame-graph frame of a function in `package`: a hue picked by a
    /// hash of the package path, so a package keeps its colour across
    /// frames, graphs and runs.
    pub fn flame(&self, package: &str) -> Color32 {
        // FNV-1a: stable across runs and platforms, unlike std's hasher.
        let mut h: u32 = 0x811c_9dc5;
        for b in package.bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        let hue = (h % 360) as f32 / 360.0;
        let sat = 0.35 + ((h >> 9) & 0xf) as f32 / 100.0;
        let val = if self.dark { 0.78 } else { 0.88 };
        egui::ecolor::Hsva::new(hue, sat, val, 1.0).into()
    }

    /// Text on a flame-graph frame.
    pub fn flame_text(&self) -> Color32 {
        rgb(0x10, 0x10, 0x14)
    }

    /// A flame-graph frame that is an ancestor of the zoomed-in frame.
    pub fn flame_ancestor(&self) -> Color32 {
        if self.dark { rgb(0x55, 0x58, 0x60) } else { rgb(0xc8, 0xca, 0xd0) }
    }

    /// Outline of a frame matching the flame-graph search.
    pub fn flame_match(&self) -> Color32 {
        rgb(0xff, 0xd5, 0x4f)
    }

    /// The MMU curve.
    pub fn mmu_line(&self) -> Color32 {
        rgb(0x4f, 0x9d, 0xde)
    }

    /// The chosen window on the MMU plot.
    pub fn mmu_marker(&self) -> Color32 {
        rgb(0xd9, 0x8c, 0x3f)
    }

    /// A P's busy share in the selection summary.
    pub fn busy_bar(&self) -> Color32 {
        rgb(0x4c, 0xaf, 0x50)
    }
}
