//! Round trip: `parse(print(t)) == t` for randomly generated syntax trees and files, and for
//! every stdlib file.

use lpzero::lang::syntax::{BinOp, Comment, Definition, Expr, ExprKind, Item, ProxyFile};
use lpzero::lang::{parse_expr, parse_file, print_expr, print_file, stdlib, table};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(table::INPUTS.iter().map(|i| i.name.to_owned()).collect::<Vec<_>>()),
        "[a-z_][a-z0-9_]{0,6}",
    ]
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (0u32..1000).prop_map(f64::from),
        (0.0f64..1e6),
        prop::num::f64::POSITIVE.prop_filter("finite", |v| v.is_finite()),
        Just(0.0),
        Just(1e-9),
        Just(f64::MAX),
        Just(5e-324),
    ]
}

fn op_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(table::OPS.iter().map(|o| o.name.to_owned()).collect::<Vec<_>>()),
        "[a-z][a-z0-9_]{0,6}",
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![number().prop_map(ExprKind::Number), name().prop_map(ExprKind::Name)].prop_map(Expr::new);
    leaf.prop_recursive(8, 64, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::new(ExprKind::Neg(Box::new(e)))),
            (prop::sample::select(BinOp::ALL.to_vec()), inner.clone(), inner.clone()).prop_map(|(op, l, r)| Expr::new(
                ExprKind::Binary { op, op_span: Default::default(), lhs: Box::new(l), rhs: Box::new(r) }
            )),
            (op_name(), prop::collection::vec(inner, 0..4)).prop_map(|(op, args)| Expr::new(ExprKind::Call {
                op,
                op_span: Default::default(),
                args
            })),
        ]
    })
}

/// Files in canonical shape: no leading, trailing or doubled blank lines, and trailing comments
/// only after definitions (the printer cannot express anything else).
fn file() -> impl Strategy<Value = ProxyFile> {
    let comment_text = "[^\n\r]{0,20}".prop_map(|t: String| t.trim_end().to_owned());
    let item = prop_oneof![
        (name(), expr()).prop_map(|(name, expr)| vec![Item::Definition(Definition {
            name,
            name_span: Default::default(),
            expr
        })]),
        (name(), expr(), comment_text.clone()).prop_map(|(name, expr, text)| vec![
            Item::Definition(Definition { name, name_span: Default::default(), expr }),
            Item::Comment(Comment { text, trailing: true, span: Default::default() }),
        ]),
        comment_text.prop_map(|text| vec![Item::Comment(Comment { text, trailing: false, span: Default::default() })]),
    ];
    prop::collection::vec((item, any::<bool>()), 0..8).prop_map(|groups| {
        let mut items = vec![];
        let n = groups.len();
        for (i, (group, blank_after)) in groups.into_iter().enumerate() {
            items.extend(group);
            if blank_after && i + 1 < n {
                items.push(Item::BlankLine);
            }
        }
        ProxyFile { items }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn expressions_round_trip(e in expr()) {
        let text = print_expr(&e);
        let back = parse_expr(&text).map_err(|d| TestCaseError::fail(format!("{text}: {}", d.message)))?;
        prop_assert_eq!(&back, &e, "{}", text);
        // The canonical form is a fixed point.
        prop_assert_eq!(print_expr(&back), text);
    }

    #[test]
    fn files_round_trip(f in file()) {
        let text = print_file(&f);
        let back = parse_file(&text).map_err(|d| TestCaseError::fail(format!("{text}: {}", d.message)))?;
        prop_assert_eq!(&back, &f, "{}", text);
        prop_assert_eq!(print_file(&back), text);
    }
}

#[test]
fn stdlib_files_are_canonical_and_round_trip() {
    for f in stdlib::FILES {
        let parsed = parse_file(f.text).unwrap();
        let printed = print_file(&parsed);
        assert_eq!(printed, f.text, "{} is not in canonical form (run `lpzero fmt`)", f.name);
        assert_eq!(parse_file(&printed).unwrap(), parsed, "{}", f.name);
    }
}
