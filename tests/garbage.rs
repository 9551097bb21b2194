//! Bad input never panics: random strings, random bytes and mutated stdlib files go through
//! the parser, checker and lint, and come back as diagnostics.

use lpzero::lang::{analyze_expr, analyze_file, diagnostic, parse_repl_input, stdlib};
use proptest::prelude::*;

/// Runs every front-end stage and the renderers on a text; panics are the failure.
fn exercise(text: &str) {
    for analysis in [analyze_file(text), analyze_expr(text)] {
        for d in &analysis.diagnostics {
            let _ = diagnostic::render(d, "fuzz.proxy", text, false);
            let _ = diagnostic::to_json(d, "fuzz.proxy", text);
            assert!(d.span.start <= d.span.end && d.span.end <= text.len(), "span out of range: {d:?}");
        }
    }
    let _ = parse_repl_input(text);
}

/// Characters that the grammar cares about, so random strings get deep into it.
const ALPHABET: &[char] = &[
    '(', ')', ',', '+', '-', '*', '/', '=', '#', '\n', ' ', '.', 'e', 'E', '0', '1', '9', 'W', 'G', 'A', 'H', 'S', 'J', 'P',
    's', 'u', 'm', 'f', 'r', 'o', 'x', '_', 'é', '\t', '\r', '∑',
];

fn grammar_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET.to_vec()), 0..80).prop_map(|v| v.into_iter().collect())
}

fn op_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("sum(".to_owned()),
        Just("fro(".to_owned()),
        Just("softmax(".to_owned()),
        Just("amax(".to_owned()),
        Just("logsoftmax(".to_owned()),
        Just("nuc(".to_owned()),
        Just("W".to_owned()),
        Just("G".to_owned()),
        Just("A".to_owned()),
        Just("S".to_owned()),
        Just(")".to_owned()),
        Just(", -1)".to_owned()),
        Just(" * ".to_owned()),
        Just(" / ".to_owned()),
        Just(" - ".to_owned()),
        Just("x = ".to_owned()),
        Just("\n".to_owned()),
        Just("0".to_owned()),
    ];
    prop::collection::vec(token, 0..30).prop_map(|v| v.concat())
}

/// A stdlib file with a few random edits (deletions, insertions, swaps) of characters.
fn mutated_stdlib() -> impl Strategy<Value = String> {
    let edits = prop::collection::vec((0usize..10_000, 0u8..3, prop::sample::select(ALPHABET.to_vec())), 1..6);
    (0..stdlib::FILES.len(), edits).prop_map(|(i, edits)| {
        let mut chars: Vec<char> = stdlib::FILES[i].text.chars().collect();
        for (pos, kind, c) in edits {
            if chars.is_empty() {
                chars.push(c);
                continue;
            }
            let p = pos % chars.len();
            match kind {
                0 => {
                    chars.remove(p);
                }
                1 => chars.insert(p, c),
                _ => chars[p] = c,
            }
        }
        chars.into_iter().collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        exercise(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn grammar_soup_never_panics(s in grammar_soup()) {
        exercise(&s);
    }

    #[test]
    fn op_soup_never_panics(s in op_soup()) {
        exercise(&s);
    }

    #[test]
    fn mutated_stdlib_never_panics(s in mutated_stdlib()) {
        exercise(&s);
    }
}

#[test]
fn inputs_at_the_limits_are_handled() {
    // Right at the limits: accepted, and deep trees are walked without overflowing the stack.
    let nested = format!("x = sum({}W{})", "abs(".repeat(31), ")".repeat(31));
    assert!(!analyze_file(&nested).has_errors(), "{:?}", analyze_file(&nested).diagnostics);
    let minus = format!("x = sum({}W)", "-".repeat(256));
    assert!(!analyze_file(&minus).has_errors());
    let chain = format!("x = {}", vec!["sum(fro(W))"; 257].join(" + "));
    // The deepest tree the limits allow: 256 operators inside 31 nested calls.
    let deepest = format!("x = {}{}W{}", "sum(".repeat(31), "-".repeat(256), ")".repeat(31));
    assert!(!analyze_file(&deepest).has_errors());
    assert!(!analyze_file(&chain).has_errors());
    // Past them: a diagnostic, not a crash.
    for text in [format!("x = {}W{}", "(".repeat(10_000), ")".repeat(10_000)), format!("x = {}W", "-".repeat(100_000))] {
        let a = analyze_file(&text);
        assert_eq!(a.diagnostics.len(), 1);
        assert_eq!(a.diagnostics[0].code, diagnostic::code::TOO_DEEP);
    }
}
