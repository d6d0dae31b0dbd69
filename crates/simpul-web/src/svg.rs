//! Charts drawn on the server as SVG: no script, printable, readable without colour (every bar
//! has its numbers beside it in the table, and a `<title>` for screen readers and hovering).

use std::fmt::Write as _;

use maud::html;

/// The stages' colours, light to dark (a sequential palette that stays apart in grey).
pub const STAGE_COLOURS: [&str; 4] = ["#9ecae1", "#4292c6", "#2171b5", "#08306b"];

/// The outline of every filled shape that stands for a figure (bar segments, stacked areas,
/// legend swatches, map regions): 4.8:1 on white, so each shape stands out from the page by its
/// edge even where its fill is light (WCAG 1.4.11, non-text contrast: the lightest stage colour
/// is 1.8:1 on white, the map's lightest step 1.2:1).
pub const OUTLINE: &str = "#6b7280";

/// A legend's colour swatch, outlined.
pub fn swatch(colour: &str) -> String {
    format!(
        r#"<svg class="sw" width="12" height="12" aria-hidden="true"><rect x="0.5" y="0.5" width="11" height="11" fill="{colour}" stroke="{OUTLINE}" stroke-width="1"/></svg>"#
    )
}

/// Text as SVG/XML character data (maud escapes the same way).
pub fn escape(text: &str) -> String {
    html! { (text) }.into_string()
}

/// One horizontal bar of `segments` (count, colour, label), scaled so that `max` fills `width`.
pub fn stacked_bar(segments: &[(i64, &str, String)], max: i64, width: u32, label: &str) -> String {
    let height = 14;
    let mut svg = format!(
        r#"<svg class="bar" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{}">"#,
        escape(label)
    );
    // Segments are drawn half a unit inside the box, so that their 1-unit outline is not cut.
    let start = 0.5_f64;
    let mut x = start;
    let scale = if max > 0 {
        (f64::from(width) - 1.0) / max as f64
    } else {
        0.0
    };
    for (count, colour, name) in segments {
        if *count <= 0 {
            continue;
        }
        let w = *count as f64 * scale;
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="0.5" width="{w:.1}" height="{}" fill="{colour}" stroke="{OUTLINE}" stroke-width="1"><title>{}: {count}</title></rect>"#,
            height - 1,
            escape(name)
        );
        x += w;
    }
    if x == start {
        let _ = write!(
            svg,
            r##"<rect x="0" y="{}" width="{width}" height="1" fill="#bbb"/>"##,
            height / 2
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The two series of the monthly chart.
pub const SERIES_COLOURS: [&str; 2] = ["#2171b5", "#e6550d"];

/// Grouped columns: per label, one column per series (`values[i]` has one value per series).
pub fn grouped_columns(
    labels: &[String],
    values: &[[i64; 2]],
    names: [&str; 2],
    label: &str,
) -> String {
    let (group, bar, height) = (40_u32, 14_u32, 90_u32);
    let width = group * u32::try_from(labels.len()).unwrap_or(0);
    let max = values.iter().flatten().copied().max().unwrap_or(0).max(1);
    let mut svg = format!(
        r#"<svg class="columns" width="{width}" height="{}" viewBox="0 0 {width} {}" role="img" aria-label="{}">"#,
        height + 16,
        height + 16,
        escape(label)
    );
    for (i, (name, pair)) in labels.iter().zip(values).enumerate() {
        let x0 = u32::try_from(i).unwrap_or(0) * group + 5;
        for (series, value) in pair.iter().enumerate() {
            let h = (*value as f64 / max as f64 * f64::from(height)).round();
            let x = x0 + u32::try_from(series).unwrap_or(0) * (bar + 1);
            let _ = write!(
                svg,
                r#"<rect x="{x}" y="{:.0}" width="{bar}" height="{h:.0}" fill="{}"><title>{} {}: {value}</title></rect>"#,
                f64::from(height) - h,
                SERIES_COLOURS[series],
                escape(names[series]),
                escape(name),
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" font-size="10" text-anchor="middle" fill="#333">{}</text>"##,
            x0 + bar,
            height + 12,
            escape(name)
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="0" y1="{height}" x2="{width}" y2="{height}" stroke="#999" stroke-width="1"/>"##
    );
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_is_as_long_as_its_share_of_the_largest() {
        let segments = [
            (10, STAGE_COLOURS[0], "KIM 1".to_owned()),
            (0, STAGE_COLOURS[1], "KIM 2".to_owned()),
            (5, STAGE_COLOURS[2], "KIM 3".to_owned()),
        ];
        // 300 units of bar inside a 301-unit box (half a unit each side for the outline).
        let svg = stacked_bar(&segments, 30, 301, "Sleman <& co>");
        assert!(
            svg.contains(r#"x="0.5" y="0.5" width="100.0" height="13""#),
            "{svg}"
        );
        assert!(svg.contains(r#"x="100.5" y="0.5" width="50.0""#), "{svg}");
        assert_eq!(
            svg.matches(&format!(r#"stroke="{OUTLINE}""#)).count(),
            2,
            "each segment outlined: {svg}"
        );
        assert!(
            !svg.contains("KIM 2"),
            "an empty segment is not drawn: {svg}"
        );
        assert!(
            svg.contains("Sleman &lt;&amp; co&gt;"),
            "labels are escaped: {svg}"
        );
    }

    #[test]
    fn grouped_columns_scale_to_the_largest_value() {
        let labels = vec!["Jan".to_owned(), "Feb".to_owned()];
        let svg = grouped_columns(&labels, &[[0, 4], [2, 0]], ["baru", "tahap"], "grafik");
        assert!(
            svg.contains(r##"y="0" width="14" height="90" fill="#e6550d"><title>tahap Jan: 4"##),
            "{svg}"
        );
        assert!(
            svg.contains(r##"height="45" fill="#2171b5"><title>baru Feb: 2"##),
            "{svg}"
        );
        assert_eq!(svg.matches("<text").count(), 2);
    }

    #[test]
    fn an_empty_region_gets_a_baseline_not_a_bar() {
        let svg = stacked_bar(
            &[(0, STAGE_COLOURS[0], "KIM 1".to_owned())],
            0,
            200,
            "Kota Yogyakarta",
        );
        assert!(svg.contains(r#"height="1""#), "{svg}");
        assert!(!svg.contains("<title>"), "{svg}");
    }
}
