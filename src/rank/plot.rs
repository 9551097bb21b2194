//! Rank scatter plots, as self-contained SVG (and PNG through [`crate::plot::png`]): a proxy's
//! rank against the ground-truth rank, each point coloured by the architecture's depth and shaped
//! by its width, with the best architecture-only ordering in a second panel beside it, so one
//! sees at a glance whether a proxy does more than sort by size.
//!
//! Written by hand rather than with a plotting crate: one kind of plot, a few dozen lines.

use crate::plot::{escape, COLORS};
use crate::stats::{ranks, Correlation};

/// One panel: a name, a score per architecture (`None`: invalid there) and its correlation.
pub struct Panel<'a> {
    /// What is ranked.
    pub name: &'a str,
    /// Its score per architecture.
    pub scores: &'a [Option<f64>],
    /// Its correlation with ground truth.
    pub correlation: &'a Correlation,
}

/// Depth and width of each architecture, for the points' colours and shapes.
pub struct Marks<'a> {
    /// Depth per architecture.
    pub depth: &'a [u64],
    /// Width per architecture.
    pub width: &'a [u64],
}

/// Widths get a shape each when there are at most this many of them.
const SHAPES: usize = 6;

/// An SVG point of shape `k` (circle, square, triangle, diamond, inverted triangle, cross).
fn marker(k: usize, x: f64, y: f64, color: &str) -> String {
    let r = 3.2;
    let style = format!("fill=\"{color}\" fill-opacity=\"0.7\" stroke=\"{color}\" stroke-width=\"0.6\"");
    match k {
        1 => format!("<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" {style}/>", x - r, y - r, 2.0 * r, 2.0 * r),
        2 => format!("<polygon points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" {style}/>", x, y - r * 1.2, x - r * 1.1, y + r * 0.9, x + r * 1.1, y + r * 0.9),
        3 => format!("<polygon points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" {style}/>", x, y - r * 1.3, x + r * 1.3, y, x, y + r * 1.3, x - r * 1.3, y),
        4 => format!("<polygon points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" {style}/>", x, y + r * 1.2, x - r * 1.1, y - r * 0.9, x + r * 1.1, y - r * 0.9),
        5 => format!(
            "<path d=\"M{:.1},{:.1}L{:.1},{:.1}M{:.1},{:.1}L{:.1},{:.1}\" stroke=\"{color}\" stroke-width=\"1.8\"/>",
            x - r, y - r, x + r, y + r, x - r, y + r, x + r, y - r
        ),
        _ => format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r}\" {style}/>"),
    }
}

fn distinct(v: &[u64]) -> Vec<u64> {
    let mut d = v.to_vec();
    d.sort_unstable();
    d.dedup();
    d
}

/// An SVG of one or more panels side by side (the proxy first, then e.g. the best
/// architecture-only ordering), each the ranks of its valid scores against the ranks of `truth`,
/// titled with ρ, τ and the count of valid architectures. With `marks`, points are coloured by
/// depth and shaped by width (when there are at most six widths), with a legend below.
pub fn rank_scatter(title: &str, panels: &[Panel<'_>], truth: &[f64], marks: Option<Marks<'_>>) -> String {
    let (side, m, top) = (440.0, 56.0, 64.0);
    let depths = marks.as_ref().map(|g| distinct(g.depth)).unwrap_or_default();
    let widths = marks.as_ref().map(|g| distinct(g.width)).unwrap_or_default();
    let shaped = !widths.is_empty() && widths.len() <= SHAPES;
    let legend_h = if marks.is_some() { 60.0 } else { 0.0 };
    let w = panels.len().max(1) as f64 * (side + m) + m;
    let h = top + side + 44.0 + legend_h;
    let fmt = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "undefined".into());
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"DejaVu Sans, sans-serif\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n\
         <text x=\"18\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 18 {})\">rank by the score (higher = higher score)</text>\n",
        w / 2.0,
        escape(title),
        top + side / 2.0,
        top + side / 2.0
    );
    for (k, p) in panels.iter().enumerate() {
        let x0 = m + k as f64 * (side + m);
        let keep: Vec<usize> = (0..truth.len()).filter(|&i| p.scores.get(i).copied().flatten().is_some_and(f64::is_finite)).collect();
        let rx = ranks(&keep.iter().map(|&i| truth[i]).collect::<Vec<_>>());
        let ry = ranks(&keep.iter().map(|&i| p.scores[i].expect("kept")).collect::<Vec<_>>());
        let n = keep.len().max(2) as f64;
        let px = |r: f64| x0 + (r - 1.0) / (n - 1.0) * side;
        let py = |r: f64| top + side - (r - 1.0) / (n - 1.0) * side;
        let c = p.correlation;
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\">{}</text>\n\
             <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">ρ = {}, τ = {}, {} of {} valid</text>\n\
             <rect x=\"{x0}\" y=\"{top}\" width=\"{side}\" height=\"{side}\" fill=\"none\" stroke=\"#444\"/>\n\
             <text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">ground-truth rank (higher = better model)</text>\n\
             <text x=\"{x0}\" y=\"{}\" font-size=\"10\">1</text><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>\n",
            x0 + side / 2.0,
            top - 22.0,
            escape(p.name),
            x0 + side / 2.0,
            top - 7.0,
            fmt(c.spearman),
            fmt(c.kendall),
            c.valid,
            c.total,
            x0 + side / 2.0,
            top + side + 34.0,
            top + side + 14.0,
            x0 + side,
            top + side + 14.0,
            keep.len()
        ));
        for (j, &i) in keep.iter().enumerate() {
            let (color, shape) = match &marks {
                Some(g) => (
                    COLORS[depths.iter().position(|&d| d == g.depth[i]).unwrap_or(0) % COLORS.len()],
                    if shaped { widths.iter().position(|&x| x == g.width[i]).unwrap_or(0) } else { 0 },
                ),
                None => (COLORS[0], 0),
            };
            svg.push_str(&marker(shape, px(rx[j]), py(ry[j]), color));
            svg.push('\n');
        }
    }
    if marks.is_some() {
        // One legend row: a title, then a mark and a value per entry.
        let row = |svg: &mut String, y: f64, title: &str, entries: Vec<(usize, &str, u64)>| {
            svg.push_str(&format!("<text x=\"{m}\" y=\"{}\" font-size=\"12\">{title}</text>\n", y + 4.0));
            let mut x = m + 96.0;
            for (shape, color, value) in entries {
                svg.push_str(&marker(shape, x, y, color));
                svg.push_str(&format!("<text x=\"{}\" y=\"{}\" font-size=\"12\">{value}</text>\n", x + 8.0, y + 4.0));
                x += 18.0 + 8.0 * value.to_string().len() as f64;
            }
        };
        let y = top + side + 60.0;
        row(&mut svg, y, "colour: depth", depths.iter().enumerate().map(|(k, &d)| (0, COLORS[k % COLORS.len()], d)).collect());
        if shaped {
            row(&mut svg, y + 22.0, "shape: width", widths.iter().enumerate().map(|(k, &wv)| (k, "#555", wv)).collect());
        } else if !widths.is_empty() {
            svg.push_str(&format!("<text x=\"{m}\" y=\"{}\" font-size=\"12\">width: {} values, not marked</text>\n", y + 26.0, widths.len()));
        }
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::correlate;

    #[test]
    fn one_point_per_valid_architecture_and_the_numbers_in_the_title() {
        let scores = [Some(1.0), None, Some(3.0), Some(2.0)];
        let truth = [1.0, 2.0, 3.0, 4.0];
        let c = correlate(&scores, &truth);
        let svg = rank_scatter("snip <on> test", &[Panel { name: "snip", scores: &scores, correlation: &c }], &truth, None);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("snip &lt;on&gt; test"));
        assert!(svg.contains("ρ = 0.500"), "{svg}");
        assert!(svg.contains("3 of 4 valid"));
    }

    #[test]
    fn points_are_coloured_by_depth_and_shaped_by_width_in_both_panels() {
        let truth = [1.0, 2.0, 3.0, 4.0];
        let proxy = [Some(4.0), Some(3.0), Some(2.0), Some(1.0)];
        let size = [Some(1.0), Some(2.0), Some(3.0), Some(4.0)];
        let (c1, c2) = (correlate(&proxy, &truth), correlate(&size, &truth));
        let marks = Marks { depth: &[2, 2, 4, 4], width: &[128, 256, 128, 256] };
        let panels = [Panel { name: "proxy", scores: &proxy, correlation: &c1 }, Panel { name: "layers, then hidden size", scores: &size, correlation: &c2 }];
        let svg = rank_scatter("t", &panels, &truth, Some(marks));
        // Per panel: two circles (width 128) and two squares (256); the legend adds two circles
        // (one per depth) and a circle and a square (one per width).
        assert_eq!(svg.matches("<circle").count(), 2 * 2 + 2 + 1);
        assert_eq!(svg.matches("<rect x=").count(), 2 * 2 + 1 + 2, "two squares per panel, one in the legend, two panel frames");
        assert_eq!(svg.matches(COLORS[1]).count(), 2 * 2 * 2 + 2, "depth 4: fill and stroke of two points per panel, and its legend mark");
        assert!(svg.contains("ρ = -1.000") && svg.contains("ρ = 1.000"));
        assert!(svg.contains("colour: depth") && svg.contains("shape: width"));
        // Too many widths to shape: all circles, and the legend says so.
        let widths: Vec<u64> = (0..8).collect();
        let svg = rank_scatter("t", &panels[..1], &truth, Some(Marks { depth: &[2, 2, 4, 4], width: &widths[..4] }));
        assert!(!svg.contains("not marked"), "four widths are shaped");
        let t8 = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let s8: Vec<Option<f64>> = t8.iter().map(|&v| Some(v)).collect();
        let c8 = correlate(&s8, &t8);
        let svg = rank_scatter("t", &[Panel { name: "p", scores: &s8, correlation: &c8 }], &t8, Some(Marks { depth: &[1; 8], width: &widths }));
        assert!(svg.contains("width: 8 values, not marked"));
        assert_eq!(svg.matches("<circle").count(), 8 + 1);
    }
}
