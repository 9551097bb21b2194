//! The convergence plot: best search-set ρ per iteration, one line per run, as SVG. Ticks on both
//! axes at round values, the legend below the plot area so it never covers a curve, and the
//! held-out ρ of the first run's best proxy marked at the right edge.

use crate::plot::{escape, nice_ticks, COLORS};

/// An SVG line plot of best fitness per iteration; each series is `(label, best per iteration)`
/// with `None` where no valid candidate existed yet; `axis` says what the values are (Spearman ρ,
/// or a fitness). `heldout` is the held-out ρ of the first series' best proxy and what it is of
/// ("evolution's best proxy"), drawn as a marker and a dashed line at the last iteration.
pub fn convergence(title: &str, axis: &str, series: &[(String, Vec<Option<f64>>)], heldout: Option<(f64, &str)>) -> String {
    let (heldout, heldout_of) = (heldout.map(|h| h.0), heldout.map_or("", |h| h.1));
    let (w, m_left, m_right, m_top) = (720.0, 70.0, 30.0, 48.0);
    let plot_h = 330.0;
    let legend_rows = series.len() + usize::from(heldout.is_some());
    let h = m_top + plot_h + 56.0 + 18.0 * legend_rows as f64;
    let n = series.iter().map(|(_, v)| v.len()).max().unwrap_or(1).max(2) as f64;
    let mut vals: Vec<f64> = series.iter().flat_map(|(_, v)| v.iter().flatten().copied()).collect();
    vals.extend(heldout);
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo { (lo - 0.02 * (hi - lo).max(0.5), hi + 0.02 * (hi - lo).max(0.5)) } else { (-1.0, 1.0) };
    let pw = w - m_left - m_right;
    let px = |i: f64| m_left + i / (n - 1.0) * pw;
    let py = |v: f64| m_top + plot_h - (v - lo) / (hi - lo) * plot_h;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"28\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n",
        w / 2.0,
        escape(title)
    );
    for v in nice_ticks(lo, hi, 6) {
        let y = py(v);
        svg.push_str(&format!(
            "<line x1=\"{m_left}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>\n",
            m_left + pw,
            m_left - 6.0,
            y + 4.0,
            crate::plot::tick_label(v)
        ));
    }
    for i in nice_ticks(0.0, n - 1.0, 8) {
        let x = px(i);
        svg.push_str(&format!(
            "<line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#444\"/><text x=\"{x:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n",
            m_top + plot_h,
            m_top + plot_h + 5.0,
            m_top + plot_h + 18.0,
            crate::plot::tick_label(i)
        ));
    }
    svg.push_str(&format!(
        "<rect x=\"{m_left}\" y=\"{m_top}\" width=\"{pw}\" height=\"{plot_h}\" fill=\"none\" stroke=\"#444\"/>\n\
         <text x=\"{}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\">iteration (offspring)</text>\n\
         <text x=\"18\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 18 {})\">{}</text>\n",
        m_left + pw / 2.0,
        m_top + plot_h + 36.0,
        m_top + plot_h / 2.0,
        m_top + plot_h / 2.0,
        escape(axis)
    ));
    for (s, (_, v)) in series.iter().enumerate() {
        let color = COLORS[s % COLORS.len()];
        let pts: Vec<String> = v.iter().enumerate().filter_map(|(i, b)| b.map(|b| format!("{:.1},{:.1}", px(i as f64), py(b)))).collect();
        svg.push_str(&format!("<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n", pts.join(" ")));
    }
    if let Some(r) = heldout {
        let (x, y) = (px(n - 1.0), py(r));
        svg.push_str(&format!(
            "<line x1=\"{m_left}\" y1=\"{y:.1}\" x2=\"{x:.1}\" y2=\"{y:.1}\" stroke=\"{}\" stroke-width=\"1\" stroke-dasharray=\"5 4\"/><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"{}\" stroke=\"black\"/>\n",
            COLORS[0], COLORS[0]
        ));
    }
    let mut y = m_top + plot_h + 60.0;
    for (s, (label, _)) in series.iter().enumerate() {
        let color = COLORS[s % COLORS.len()];
        svg.push_str(&format!(
            "<line x1=\"{m_left}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{color}\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>\n",
            m_left + 24.0,
            m_left + 30.0,
            y + 4.0,
            escape(label)
        ));
        y += 18.0;
    }
    if let Some(r) = heldout {
        svg.push_str(&format!(
            "<circle cx=\"{}\" cy=\"{y}\" r=\"5\" fill=\"{}\" stroke=\"black\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">held-out ρ of {}: {r:.3}</text>\n",
            m_left + 12.0,
            COLORS[0],
            m_left + 30.0,
            y + 4.0,
            escape(heldout_of)
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_line_per_series_with_its_label_and_ticks() {
        let s = vec![("evolution".to_string(), vec![None, Some(0.5), Some(0.7)]), ("random <search>".to_string(), vec![Some(0.4), Some(0.4), Some(0.6)])];
        let svg = super::convergence("flexibert: search set of 3, seed 1", "best Spearman ρ on the search set", &s, Some((0.65, "evolution's best proxy")));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("random &lt;search&gt;"));
        assert!(svg.contains("held-out ρ of evolution's best proxy: 0.650"));
        let joint = super::convergence("a + b", "best fitness: the worst over 2 benchmarks of Spearman ρ", &s, Some((0.65, "evolution's best proxy on gpt2-wt103")));
        assert!(joint.contains("held-out ρ of evolution's best proxy on gpt2-wt103: 0.650"));
        // The first series skips the iteration without a valid candidate.
        let first = svg.split("<polyline").nth(1).unwrap();
        assert_eq!(first.split("points=\"").nth(1).unwrap().split('"').next().unwrap().split(' ').count(), 2);
        // Ticks along the iteration axis, not only its ends.
        let long = vec![("evolution".to_string(), (0..1001).map(|i| Some(i as f64 / 1000.0)).collect())];
        let svg = super::convergence("t", "fitness", &long, None);
        assert!(svg.contains(">fitness</text>"), "the axis says what the curve is");
        for t in [">0<", ">200<", ">400<", ">600<", ">800<", ">1000<"] {
            assert!(svg.contains(t), "tick {t} missing");
        }
    }
}
