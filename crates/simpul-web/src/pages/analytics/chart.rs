//! What the analyses' SVG charts share: a frame (the drawing area inside its margins), axes,
//! text and colours. Every chart is an `<svg role="img">` whose `<title>` names it; its figures
//! are also in a table beside it. Colours are presentation attributes, which the content
//! security policy allows (it blocks `style` attributes).

use std::fmt::Write as _;

use crate::svg::escape;

/// Text and lines that must read on white (16:1).
pub const INK: &str = "#1b1f24";
/// Axis labels (6:1).
pub const MUTED: &str = "#535b66";
/// Grid lines: light, only a guide.
pub const GRID: &str = "#dde2e7";
/// The band of a 95 % interval behind a line.
pub const BAND: &str = "#c6dbef";
/// A point estimate's mark.
pub const MARK: &str = "#0b5394";

/// Lines of up to eight groups: each at least 3:1 against white, the last four dashed as well,
/// so two groups never differ by hue alone.
pub const SERIES: [&str; 8] = [
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#a6761d", "#1f78b4", "#e31a1c", "#666666",
];

/// The dash pattern of series `index` (`None`: solid).
pub fn dash(index: usize) -> Option<&'static str> {
    (index >= 4).then_some("6 3")
}

/// A chart's canvas: its size in SVG units and the margins around the plotting area.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Frame {
    /// The x of `fraction` (0 to 1) of the plotting area's width.
    pub fn x(&self, fraction: f64) -> f64 {
        self.left + fraction.clamp(0.0, 1.0) * (self.width - self.left - self.right)
    }

    /// The y of `fraction` (0 at the bottom, 1 at the top) of the plotting area's height.
    pub fn y(&self, fraction: f64) -> f64 {
        self.top + (1.0 - fraction.clamp(0.0, 1.0)) * (self.height - self.top - self.bottom)
    }

    /// The bottom of the plotting area.
    pub fn base(&self) -> f64 {
        self.height - self.bottom
    }

    /// `<svg …>` with its `<title>`; close it with `</svg>`.
    pub fn open(&self, class: &str, title: &str) -> String {
        format!(
            r#"<svg class="chart {class}" viewBox="0 0 {:.0} {:.0}" role="img" preserveAspectRatio="xMinYMin meet"><title>{}</title>"#,
            self.width,
            self.height,
            escape(title)
        )
    }
}

/// Text at (x, y); `anchor` is `start`, `middle` or `end`.
pub fn text(svg: &mut String, x: f64, y: f64, anchor: &str, fill: &str, content: &str) {
    let _ = write!(
        svg,
        r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" fill="{fill}">{}</text>"#,
        escape(content)
    );
}

/// A straight line.
pub fn line(svg: &mut String, from: (f64, f64), to: (f64, f64), stroke: &str, width: f64) {
    let _ = write!(
        svg,
        r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{stroke}" stroke-width="{width}"/>"#,
        from.0, from.1, to.0, to.1
    );
}

/// A step for ticks up to `max`, about `ticks` of them: 1, 2 or 5 times a power of ten.
pub fn nice_step(max: f64, ticks: f64) -> f64 {
    if max.is_nan() || max <= 0.0 {
        return 1.0;
    }
    let raw = max / ticks;
    let power = 10_f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * power);
    step.max(1.0)
}

/// Horizontal grid lines with their labels at each `step` up to `max` on a value axis.
pub fn value_grid(
    svg: &mut String,
    frame: &Frame,
    max: f64,
    step: f64,
    label: impl Fn(f64) -> String,
) {
    let mut value = 0.0;
    while value <= max + step * 1e-9 {
        let y = frame.y(value / max);
        line(
            svg,
            (frame.left, y),
            (frame.width - frame.right, y),
            GRID,
            1.0,
        );
        text(svg, frame.left - 6.0, y + 4.0, "end", MUTED, &label(value));
        value += step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(nice_step(100.0, 4.0), 50.0);
        assert_eq!(nice_step(1.0, 4.0), 1.0);
        assert_eq!(nice_step(730.0, 6.0), 200.0);
        assert_eq!(nice_step(0.0, 4.0), 1.0);
        assert_eq!(nice_step(37.0, 4.0), 10.0);
    }

    #[test]
    fn the_frame_maps_fractions_inside_its_margins() {
        let frame = Frame {
            width: 100.0,
            height: 50.0,
            left: 10.0,
            right: 10.0,
            top: 5.0,
            bottom: 5.0,
        };
        assert_eq!(frame.x(0.0), 10.0);
        assert_eq!(frame.x(1.0), 90.0);
        assert_eq!(frame.y(0.0), 45.0);
        assert_eq!(frame.y(1.0), 5.0);
        assert_eq!(frame.x(2.0), 90.0, "clamped");
        assert!(frame
            .open("x", "a <b>")
            .contains("<title>a &lt;b&gt;</title>"));
    }
}
