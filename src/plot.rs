//! Shared pieces of lpzero's hand-written SVG plots (rank scatters, convergence curves): colours,
//! text escaping, round tick values, short titles, and PNG copies of the SVGs (rendered with
//! `resvg` and the DejaVu Sans font compiled in, so a PNG looks the same on every machine).

/// The series colours, in order.
pub const COLORS: [&str; 8] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/// Escapes text for SVG.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Round tick values covering `[lo, hi]`, about `want` of them: steps of 1, 2 or 5 times a power
/// of ten.
pub fn nice_ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / want.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|k| k * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    let mut out = vec![];
    let mut v = first;
    while v <= hi + step * 1e-9 {
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    out
}

/// The short name of a benchmark for titles: the file or folder name without its extension.
pub fn short_name(bench: &str) -> String {
    let p = std::path::Path::new(bench);
    p.file_stem().map(|s| s.to_string_lossy().into_owned()).filter(|s| !s.is_empty()).unwrap_or_else(|| bench.to_owned())
}

/// Renders an SVG as PNG at `scale` × its size (2 for print); text in DejaVu Sans.
#[cfg(feature = "png")]
pub fn png(svg: &str, scale: f32) -> Result<Vec<u8>, String> {
    render(svg, scale)?.encode_png().map_err(|e| e.to_string())
}

#[cfg(feature = "png")]
fn render(svg: &str, scale: f32) -> Result<resvg::tiny_skia::Pixmap, String> {
    let mut opt = resvg::usvg::Options::default();
    let fonts = opt.fontdb_mut();
    fonts.load_font_data(dejavu::sans::regular().to_vec());
    fonts.set_sans_serif_family("DejaVu Sans");
    opt.font_family = "DejaVu Sans".to_owned();
    let tree = resvg::usvg::Tree::from_str(svg, &opt).map_err(|e| e.to_string())?;
    let size = tree.size().to_int_size().scale_by(scale).ok_or("the plot has no size")?;
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).ok_or("the plot has no size")?;
    resvg::render(&tree, resvg::tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    Ok(pixmap)
}

/// Writes `<stem>.svg` and, in builds with PNG output (the `png` feature, on with `models`),
/// `<stem>.png` at twice the size, each atomically.
pub fn write_svg_and_png(stem: &std::path::Path, svg: &str) -> std::io::Result<()> {
    crate::fsutil::write_atomic(&stem.with_extension("svg"), svg.as_bytes())?;
    #[cfg(feature = "png")]
    {
        let bytes = png(svg, 2.0).map_err(|e| std::io::Error::other(format!("cannot render {}.png: {e}", stem.display())))?;
        crate::fsutil::write_atomic(&stem.with_extension("png"), &bytes)?;
    }
    Ok(())
}

/// A tick value as short text (`0.85`, `200`).
pub fn tick_label(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 1000.0, 8), vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]);
        assert_eq!(nice_ticks(0.61, 0.95, 6).iter().map(|v| tick_label(*v)).collect::<Vec<_>>(), ["0.7", "0.8", "0.9"]);
        assert_eq!(nice_ticks(0.0, 24.0, 8), vec![0.0, 5.0, 10.0, 15.0, 20.0]);
    }

    /// The PNG has twice the SVG's size, and its text is drawn (the compiled-in font is found):
    /// dark pixels where the text is, none in an SVG without it.
    #[cfg(feature = "png")]
    #[test]
    fn png_is_twice_the_size_and_draws_its_text() {
        let page = |body: &str| format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"40\"><rect width=\"100%\" height=\"100%\" fill=\"white\"/>{body}</svg>");
        let dark = |svg: &str| render(svg, 2.0).unwrap().pixels().iter().filter(|p| p.red() < 128).count();
        let text = page("<text x=\"10\" y=\"28\" font-size=\"20\" font-family=\"sans-serif\">ρ = 0.9</text>");
        let pixmap = render(&text, 2.0).unwrap();
        assert_eq!((pixmap.width(), pixmap.height()), (240, 80));
        assert!(dark(&text) > 200, "the text is drawn: {} dark pixels", dark(&text));
        assert_eq!(dark(&page("")), 0);
        assert_eq!(&png(&text, 2.0).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    }
}
