//! The convergence plot: best search-set ρ per iteration, one line per run, as SVG.

/// An SVG line plot of best fitness per iteration; each series is `(label, best per iteration)`
/// with `None` where no valid candidate existed yet.
pub fn convergence(title: &str, series: &[(String, Vec<Option<f64>>)]) -> String {
    const COLORS: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];
    let (w, h, m) = (640.0, 420.0, 64.0);
    let n = series.iter().map(|(_, v)| v.len()).max().unwrap_or(1).max(2) as f64;
    let vals: Vec<f64> = series.iter().flat_map(|(_, v)| v.iter().flatten().copied()).collect();
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo { (lo - 0.02, hi + 0.02) } else { (-1.0, 1.0) };
    let px = |i: f64| m + i / (n - 1.0) * (w - 1.5 * m);
    let py = |v: f64| h - m - (v - lo) / (hi - lo) * (h - 2.0 * m);
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"26\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n\
         <rect x=\"{m}\" y=\"{m}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n\
         <text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\">iteration</text>\n\
         <text x=\"16\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 16 {})\">best Spearman ρ on the search set</text>\n",
        w / 2.0, esc(title), w - 1.5 * m, h - 2.0 * m, w / 2.0, h - 18.0, h / 2.0, h / 2.0
    );
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        svg.push_str(&format!("<text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{v:.3}</text>\n", m - 4.0, py(v) + 4.0));
    }
    svg.push_str(&format!("<text x=\"{m}\" y=\"{}\" font-size=\"11\">0</text>\n", h - m + 16.0));
    svg.push_str(&format!("<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>\n", w - 0.5 * m, h - m + 16.0, n as usize - 1));
    for (s, (label, v)) in series.iter().enumerate() {
        let color = COLORS[s % COLORS.len()];
        let pts: Vec<String> = v.iter().enumerate().filter_map(|(i, b)| b.map(|b| format!("{:.1},{:.1}", px(i as f64), py(b)))).collect();
        svg.push_str(&format!("<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n", pts.join(" ")));
        let y = m + 18.0 + 16.0 * s as f64;
        svg.push_str(&format!(
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{color}\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>\n",
            w - 0.5 * m - 190.0, w - 0.5 * m - 170.0, w - 0.5 * m - 165.0, y + 4.0, esc(label)
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_line_per_series_with_its_label() {
        let s = vec![("evolution".to_string(), vec![None, Some(0.5), Some(0.7)]), ("random <search>".to_string(), vec![Some(0.4), Some(0.4), Some(0.6)])];
        let svg = super::convergence("FlexiBERT, seed 1", &s);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("random &lt;search&gt;"));
        // The first series skips the iteration without a valid candidate.
        let first = svg.split("<polyline").nth(1).unwrap();
        assert_eq!(first.split("points=\"").nth(1).unwrap().split('"').next().unwrap().split(' ').count(), 2);
    }
}
