//! Both themes of `static/app.css` meet WCAG AA: every pair of colours text is drawn in, on the
//! backgrounds it is drawn on, has a contrast ratio of at least 4.5:1, read from the stylesheet's
//! own `light-dark(light, dark)` custom properties.

use std::collections::HashMap;

const CSS: &str = include_str!("../../static/app.css");

/// (text, background) custom properties the pages draw text with.
const PAIRS: &[(&str, &str)] = &[
    ("text", "bg"),
    ("text", "panel"),
    ("text", "panel-alt"),
    ("text", "input-bg"),
    ("muted", "bg"),
    ("muted", "panel"),
    ("muted", "panel-alt"),
    ("brand", "bg"),
    ("brand", "panel"),
    ("brand", "panel-alt"),
    ("brand", "brand-bg"),
    ("on-brand", "brand"),
    ("on-brand", "brand-dark"),
    ("ok", "ok-bg"),
    ("ok", "panel"),
    ("bad", "bad-bg"),
    ("bad", "panel"),
    ("bad", "bg"),
    ("warn", "warn-bg"),
    ("warn", "panel"),
    ("off", "off-bg"),
    ("head-text", "head-bg"),
    ("head-text", "head-active"),
    ("head-strong", "head-bg"),
    ("head-strong", "head-active"),
];

/// `--name: light-dark(#light, #dark)` of the `:root` block, by name.
fn themes() -> HashMap<String, ([f64; 3], [f64; 3])> {
    let root = CSS.split_once(":root {").and_then(|(_, rest)| rest.split_once('}')).map(|(block, _)| block);
    let mut colours = HashMap::new();
    for declaration in root.expect("a :root block").split(';') {
        let Some((name, value)) = declaration.trim().split_once(':') else { continue };
        let Some(name) = name.trim().rsplit_once("--").map(|(_, n)| n) else { continue };
        let Some(pair) = value.trim().strip_prefix("light-dark(").and_then(|v| v.strip_suffix(')')) else { continue };
        let (light, dark) = pair.split_once(',').expect("two colours");
        colours.insert(name.to_owned(), (rgb(light.trim()), rgb(dark.trim())));
    }
    colours
}

fn rgb(hex: &str) -> [f64; 3] {
    let hex = hex.strip_prefix('#').unwrap_or_else(|| panic!("{hex} is not a hex colour"));
    let full: String = if hex.len() == 3 { hex.chars().flat_map(|c| [c, c]).collect() } else { hex.to_owned() };
    let channel = |i: usize| u8::from_str_radix(&full[i..i + 2], 16).expect("hex digits") as f64 / 255.0;
    [channel(0), channel(2), channel(4)]
}

/// WCAG 2's relative luminance.
fn luminance([r, g, b]: [f64; 3]) -> f64 {
    let linear = |c: f64| if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) };
    0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
}

fn ratio(a: [f64; 3], b: [f64; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[test]
fn the_formula_matches_wcag() {
    assert!((ratio(rgb("#000"), rgb("#fff")) - 21.0).abs() < 1e-9);
    assert!((ratio(rgb("#777777"), rgb("#ffffff")) - 4.48).abs() < 0.01);
}

#[test]
fn text_meets_aa_in_both_themes() {
    let colours = themes();
    let mut failing = Vec::new();
    for (text, background) in PAIRS {
        let (Some(t), Some(b)) = (colours.get(*text), colours.get(*background)) else {
            panic!("--{text} or --{background} is not a light-dark() pair of app.css's :root");
        };
        for (theme, t, b) in [("light", t.0, b.0), ("dark", t.1, b.1)] {
            let r = ratio(t, b);
            if r < 4.5 {
                failing.push(format!("{theme}: --{text} on --{background} is {r:.2}:1"));
            }
        }
    }
    assert!(failing.is_empty(), "below 4.5:1: {failing:#?}");
}
