//! Charts drawn on the server as SVG: no script, printable, readable without colour (every bar
//! has its numbers beside it in the table, and a `<title>` for screen readers and hovering).

use std::fmt::Write as _;

use maud::html;

/// The stages' colours, light to dark (a sequential palette that stays apart in grey).
pub const STAGE_COLOURS: [&str; 4] = ["#9ecae1", "#4292c6", "#2171b5", "#08306b"];

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
    let mut x = 0.0_f64;
    let scale = if max > 0 {
        f64::from(width) / max as f64
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
            r#"<rect x="{x:.1}" y="0" width="{w:.1}" height="{height}" fill="{colour}"><title>{}: {count}</title></rect>"#,
            escape(name)
        );
        x += w;
    }
    if x == 0.0 {
        let _ = write!(
            svg,
            r##"<rect x="0" y="{}" width="{width}" height="1" fill="#bbb"/>"##,
            height / 2
        );
    }
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
        let svg = stacked_bar(&segments, 30, 300, "Sleman <& co>");
        assert!(svg.contains(r#"width="100.0""#), "{svg}");
        assert!(svg.contains(r#"x="100.0" y="0" width="50.0""#), "{svg}");
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
