//! Fuzzes the front end: any bytes through the parser, checker, lint and both renderers.
//! Run with `cargo fuzz run parse` (see the README).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lpzero::lang::{analyze_expr, analyze_file, diagnostic, parse_repl_input, parse_file, print_file, parse_expr, print_expr};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for analysis in [analyze_file(&text), analyze_expr(&text)] {
        for d in &analysis.diagnostics {
            let _ = diagnostic::render(d, "fuzz.proxy", &text, false);
            let _ = diagnostic::to_json(d, "fuzz.proxy", &text);
        }
    }
    let _ = parse_repl_input(&text);
    // Whatever parses must round-trip through the printer.
    if let Ok(file) = parse_file(&text) {
        assert_eq!(parse_file(&print_file(&file)).as_ref().ok(), Some(&file));
    }
    if let Ok(expr) = parse_expr(&text) {
        assert_eq!(parse_expr(&print_expr(&expr)).as_ref().ok(), Some(&expr));
    }
});
