//! Scatter plots of proxy rank against ground-truth rank, as self-contained SVG.
//!
//! Written by hand rather than with a plotting crate: one kind of plot, a few dozen lines, and
//! no font or image dependencies in the build.

use crate::stats::{ranks, Correlation};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An SVG scatter plot of the ranks of `scores` (valid ones only) against the ranks of `truth`,
/// with axis labels and a title carrying ρ and τ.
pub fn rank_scatter(title: &str, scores: &[Option<f64>], truth: &[f64], c: &Correlation) -> String {
    let (x, y): (Vec<f64>, Vec<f64>) = scores.iter().zip(truth).filter_map(|(s, t)| s.filter(|v| v.is_finite()).map(|s| (*t, s))).unzip();
    let (rx, ry) = (ranks(&x), ranks(&y));
    let n = rx.len().max(1) as f64;
    let (w, h, m) = (520.0, 520.0, 64.0);
    let px = |r: f64| m + (r - 1.0) / (n - 1.0).max(1.0) * (w - 2.0 * m);
    let py = |r: f64| h - m - (r - 1.0) / (n - 1.0).max(1.0) * (h - 2.0 * m);
    let fmt = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "undefined".into());
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n\
         <text x=\"{}\" y=\"44\" font-size=\"13\" text-anchor=\"middle\">Spearman ρ = {}, Kendall τ = {}, {} of {} architectures valid</text>\n\
         <rect x=\"{m}\" y=\"{m}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n\
         <text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\">ground-truth rank (higher = better model)</text>\n\
         <text x=\"18\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 18 {})\">proxy rank (higher = higher score)</text>\n",
        w / 2.0, escape(title), w / 2.0, fmt(c.spearman), fmt(c.kendall), c.valid, c.total,
        w - 2.0 * m, h - 2.0 * m, w / 2.0, h - 20.0, h / 2.0, h / 2.0
    );
    for (a, b) in rx.iter().zip(&ry) {
        svg.push_str(&format!("<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#1f77b4\" fill-opacity=\"0.6\"/>\n", px(*a), py(*b)));
    }
    svg.push_str(&format!("<text x=\"{m}\" y=\"{}\" font-size=\"11\">1</text>\n", h - m + 16.0));
    svg.push_str(&format!("<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>\n", w - m, h - m + 16.0, rx.len()));
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
        let svg = rank_scatter("snip <on> test", &scores, &truth, &c);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("snip &lt;on&gt; test"));
        assert!(svg.contains("Spearman ρ = 0.500"), "{svg}");
        assert!(svg.contains("3 of 4 architectures valid"));
    }
}
