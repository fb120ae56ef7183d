//! A horizontal bar chart as inline SVG, drawn on the server: no script,
//! no image requests. Colours are SVG attributes (not styles), so the
//! Content-Security-Policy need not allow inline styles. The same numbers
//! are always in a table next to it, for screen readers and for copying.

use maud::{Markup, html};

/// One bar: label, value, and its colour (by outcome).
pub struct Bar {
    pub label: String,
    pub value: u64,
    pub colour: &'static str,
}

const WIDTH: u64 = 460;
const LABEL: u64 = 170;
const ROW: u64 = 26;

/// `id` names the chart's title for `aria-labelledby`.
pub fn bars(id: &str, title: &str, bars: &[Bar]) -> Markup {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let height = ROW * (bars.len() as u64).max(1) + 8;
    let span = WIDTH - LABEL - 50;
    let summary: Vec<String> = bars
        .iter()
        .map(|b| format!("{}: {}", b.label, b.value))
        .collect();
    html! {
        figure.chart {
            svg role="img" aria-labelledby=(format!("{id}-title {id}-desc"))
                viewBox=(format!("0 0 {WIDTH} {height}")) width="100%" {
                title id=(format!("{id}-title")) { (title) }
                desc id=(format!("{id}-desc")) { (summary.join("; ")) }
                @for (i, bar) in bars.iter().enumerate() {
                    @let y = 4 + ROW * i as u64;
                    @let w = if bar.value == 0 { 0 } else { (span * bar.value / max).max(2) };
                    text x=(LABEL - 8) y=(y + 17) text-anchor="end" fill="#1a1a1a" font-size="14" { (bar.label) }
                    rect x=(LABEL) y=(y + 3) width=(w) height=(ROW - 8) fill=(bar.colour) {}
                    text x=(LABEL + w + 6) y=(y + 17) fill="#1a1a1a" font-size="14" { (bar.value) }
                }
                @if bars.is_empty() {
                    text x="8" y="20" fill="#1a1a1a" font-size="14" { "no exchanges" }
                }
            }
            figcaption { (title) }
        }
    }
}
