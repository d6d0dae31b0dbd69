//! Choropleth maps drawn on the server: the country's provinces, or a province's
//! kabupaten/kota, from the boundary files embedded in the binary
//! (`assets/boundaries/`, MIT, see its README). Each region's outline is projected once per map
//! (equirectangular, x scaled by the cosine of the map's middle latitude) and kept; a page only
//! colours and links them.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Deserialize;

use crate::svg::{escape, OUTLINE};

const PROVINCES: &str = include_str!("../assets/boundaries/provinces.geojson");
const REGENCIES: &str = include_str!("../assets/boundaries/regencies.geojson");

/// The drawn map's width in SVG units (its height follows the region's shape).
const WIDTH: f64 = 720.0;

#[derive(Deserialize)]
struct Collection {
    features: Vec<Feature>,
}

#[derive(Deserialize)]
struct Feature {
    properties: Properties,
    geometry: Geometry,
}

#[derive(Deserialize)]
struct Properties {
    code: String,
    province_code: Option<String>,
}

#[derive(Deserialize)]
struct Geometry {
    /// MultiPolygon: polygons → rings → `[lng, lat]`.
    coordinates: Vec<Vec<Vec<[f64; 2]>>>,
}

/// One region's outline in degrees.
struct Outline {
    code: String,
    parent: Option<String>,
    rings: Vec<Vec<[f64; 2]>>,
}

fn parse(text: &str) -> Vec<Outline> {
    match serde_json::from_str::<Collection>(text) {
        Ok(collection) => collection
            .features
            .into_iter()
            .map(|feature| Outline {
                code: feature.properties.code,
                parent: feature.properties.province_code,
                rings: feature.geometry.coordinates.into_iter().flatten().collect(),
            })
            .collect(),
        Err(error) => {
            // The files are embedded and tested: this would be a build of a broken file.
            tracing::error!(error = %error, "the embedded boundary file does not read");
            Vec::new()
        }
    }
}

fn provinces() -> &'static [Outline] {
    static OUTLINES: OnceLock<Vec<Outline>> = OnceLock::new();
    OUTLINES.get_or_init(|| parse(PROVINCES))
}

fn regencies() -> &'static [Outline] {
    static OUTLINES: OnceLock<Vec<Outline>> = OnceLock::new();
    OUTLINES.get_or_init(|| parse(REGENCIES))
}

/// A map's regions as SVG path data, and its height.
pub struct Projected {
    /// `(code, d)` of each region.
    pub paths: Vec<(String, String)>,
    /// The height for [`WIDTH`].
    pub height: f64,
}

/// The regions drawn for a scope: the provinces (`None`) or a province's kabupaten/kota. `None`
/// for a level without boundaries (a kabupaten/kota or below) or an unknown province.
pub fn projected(province: Option<&str>) -> Option<Arc<Projected>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Projected>>>> = OnceLock::new();
    let key = province.unwrap_or("").to_owned();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(found) = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
    {
        return Some(found.clone());
    }
    let outlines: Vec<&Outline> = match province {
        None => provinces().iter().collect(),
        Some(code) => regencies()
            .iter()
            .filter(|outline| outline.parent.as_deref() == Some(code))
            .collect(),
    };
    let drawn = Arc::new(project(&outlines)?);
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key, drawn.clone());
    Some(drawn)
}

fn project(outlines: &[&Outline]) -> Option<Projected> {
    let points = || outlines.iter().flat_map(|o| o.rings.iter().flatten());
    let (mut west, mut east, mut south, mut north) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for [lng, lat] in points() {
        west = west.min(*lng);
        east = east.max(*lng);
        south = south.min(*lat);
        north = north.max(*lat);
    }
    if outlines.is_empty() || east <= west || north <= south {
        return None;
    }
    let squeeze = ((north + south) / 2.0).to_radians().cos();
    let scale = WIDTH / ((east - west) * squeeze);
    let height = ((north - south) * scale).ceil();
    let paths = outlines
        .iter()
        .map(|outline| {
            let mut d = String::new();
            for ring in &outline.rings {
                let mut last: Option<(i64, i64)> = None;
                let mut count = 0;
                for [lng, lat] in ring {
                    // Tenths of a unit: points that round together are drawn once.
                    let x = ((lng - west) * squeeze * scale * 10.0).round() as i64;
                    let y = ((north - lat) * scale * 10.0).round() as i64;
                    if last == Some((x, y)) {
                        continue;
                    }
                    let _ = write!(
                        d,
                        "{}{}.{},{}.{}",
                        if count == 0 { 'M' } else { 'L' },
                        x / 10,
                        x % 10,
                        y / 10,
                        y % 10
                    );
                    last = Some((x, y));
                    count += 1;
                }
                if count > 0 {
                    d.push('Z');
                }
            }
            (outline.code.clone(), d)
        })
        .collect();
    Some(Projected { paths, height })
}

/// One region's colour, link and hover text on a map.
pub struct Shade {
    /// Fill colour.
    pub fill: &'static str,
    /// Where a click goes.
    pub href: String,
    /// `<title>`: name and figure.
    pub title: String,
}

/// A sequential palette, light to dark; `NONE` for no KIM.
pub const PALETTE: [&str; 5] = ["#deebf7", "#9ecae1", "#4292c6", "#2171b5", "#08306b"];
/// Regions with no KIM (or no figure).
pub const NONE: &str = "#f2f2f2";

/// The map as SVG: every region of `projected`, coloured by `shade` (regions it has no shade for
/// are drawn empty and unlinked). The map is a named group, not an image: an image's content is
/// hidden from screen readers, and its regions are links that the keyboard reaches, each named
/// by its `<title>` (which is also the text shown on hover).
pub fn svg(projected: &Projected, label: &str, shade: impl Fn(&str) -> Option<Shade>) -> String {
    let mut out = format!(
        r#"<svg class="map" viewBox="0 0 {WIDTH} {}" role="group" aria-label="{}">"#,
        projected.height,
        escape(label)
    );
    for (code, d) in &projected.paths {
        match shade(code) {
            Some(shade) => {
                let _ = write!(
                    out,
                    r##"<a href="{}"><title>{}</title><path d="{d}" fill="{}" stroke="{OUTLINE}" stroke-width="0.8"/></a>"##,
                    escape(&shade.href),
                    escape(&shade.title),
                    shade.fill,
                );
            }
            None => {
                let _ = write!(
                    out,
                    r##"<path d="{d}" fill="{NONE}" stroke="{OUTLINE}" stroke-width="0.8"/>"##
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// The palette colour of `value` among `0..=max` (five equal steps; zero is [`NONE`]).
pub fn colour(value: f64, max: f64) -> &'static str {
    if value <= 0.0 || max <= 0.0 {
        return NONE;
    }
    let step = ((value / max) * PALETTE.len() as f64).ceil() as usize;
    PALETTE[step.clamp(1, PALETTE.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_province_and_kabupaten_kota_of_the_edition_has_an_outline() {
        let regions = simpul_regions::bundled().expect("regions");
        assert_eq!(provinces().len(), 38);
        assert_eq!(regencies().len(), 514);
        for province in regions.provinces() {
            let code = province.code.to_string();
            let drawn = projected(Some(&code)).expect("a province's map");
            let mut drawn: Vec<&str> = drawn.paths.iter().map(|(c, _)| c.as_str()).collect();
            drawn.sort_unstable();
            let mut listed: Vec<String> = regions
                .children(&province.code)
                .iter()
                .map(|r| r.code.to_string())
                .collect();
            listed.sort_unstable();
            assert_eq!(drawn, listed, "province {code}");
        }
        assert!(projected(Some("99")).is_none(), "no such province");
    }

    #[test]
    fn di_yogyakarta_is_drawn_to_the_map_width_with_its_five_regions_linked() {
        let map = projected(Some("34")).expect("DIY");
        assert_eq!(map.paths.len(), 5);
        assert!(map.height > 100.0 && map.height < WIDTH, "{}", map.height);
        for (_, d) in &map.paths {
            assert!(d.starts_with('M') && d.ends_with('Z'), "{d}");
            for point in d.split(['M', 'L', 'Z']).filter(|p| !p.is_empty()) {
                let (x, y) = point.split_once(',').expect("x,y");
                let (x, y): (f64, f64) = (x.parse().expect("x"), y.parse().expect("y"));
                assert!(
                    (0.0..=WIDTH).contains(&x) && (0.0..=map.height).contains(&y),
                    "{point}"
                );
            }
        }
        let svg = svg(&map, "DIY <peta>", |code| {
            (code == "34.03").then(|| Shade {
                fill: colour(142.0, 142.0),
                href: "/wilayah/34.03".to_owned(),
                title: "Kabupaten Gunungkidul: 142".to_owned(),
            })
        });
        assert_eq!(svg.matches("<a href=").count(), 1);
        // A group of links, each named by its title (an image would hide its links).
        assert!(svg.contains(r#"role="group" aria-label="DIY &lt;peta&gt;""#));
        assert!(svg.contains(
            r#"<a href="/wilayah/34.03"><title>Kabupaten Gunungkidul: 142</title><path "#
        ));
        assert!(svg.contains(r##"fill="#08306b""##));
        assert_eq!(svg.matches(NONE).count(), 4);
        // Every region outlined, the empty ones too (non-text contrast on white).
        assert_eq!(
            svg.matches(&format!(r#"stroke="{OUTLINE}""#)).count(),
            5,
            "{svg}"
        );
        assert!(svg.contains("DIY &lt;peta&gt;"));
    }

    #[test]
    fn colours_step_with_the_share_of_the_largest() {
        assert_eq!(colour(0.0, 10.0), NONE);
        assert_eq!(colour(1.0, 10.0), PALETTE[0]);
        assert_eq!(colour(5.0, 10.0), PALETTE[2]);
        assert_eq!(colour(10.0, 10.0), PALETTE[4]);
        assert_eq!(colour(3.0, 0.0), NONE);
    }
}
