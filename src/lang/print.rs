//! Syntax tree to canonical text.
//!
//! The canonical form: one space around infix operators, none inside calls' parentheses, `, `
//! between arguments, the fewest parentheses that keep the tree (left-associative `+ - * /`,
//! `* /` above `+ -`, unary minus above both), numbers in the shorter of plain and exponent
//! notation that reads back to the same f64. `parse(print(t)) == t` for every tree.

use super::syntax::{Expr, ExprKind, Item, ProxyFile};

impl std::fmt::Display for Expr {
    /// The canonical text of the expression.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&print_expr(self))
    }
}

/// The canonical text of an expression.
pub fn print_expr(expr: &Expr) -> String {
    let mut out = String::new();
    write_expr(expr, &mut out);
    out
}

/// The canonical text of a file: one definition per line, comments kept, runs of blank lines
/// collapsed to one, trailing comments two spaces after their definition, a final newline.
pub fn print_file(file: &ProxyFile) -> String {
    let mut out = String::new();
    for item in &file.items {
        match item {
            Item::Definition(d) => {
                out.push_str(&d.name);
                out.push_str(" = ");
                write_expr(&d.expr, &mut out);
                out.push('\n');
            }
            Item::Comment(c) => {
                if c.trailing && out.ends_with('\n') {
                    out.pop();
                    out.push_str("  #");
                } else {
                    out.push('#');
                }
                out.push_str(&c.text);
                out.push('\n');
            }
            Item::BlankLine => out.push('\n'),
        }
    }
    out
}

/// The canonical text of a number literal: plain notation, unless it is longer than 8
/// characters and exponent notation is shorter (`1000`, `0.0001`, but `1e-9`, `1e21`).
pub fn print_number(v: f64) -> String {
    let plain = format!("{v}");
    let exp = format!("{v:e}");
    if plain.len() > 8 && exp.len() < plain.len() {
        exp
    } else {
        plain
    }
}

/// Binding strength of a node when it stands as an operand: atoms and calls bind tightest.
fn strength(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Binary { op, .. } => op.precedence(),
        ExprKind::Neg(_) => 3,
        _ => 4,
    }
}

fn write_operand(e: &Expr, parens: bool, out: &mut String) {
    if parens {
        out.push('(');
        write_expr(e, out);
        out.push(')');
    } else {
        write_expr(e, out);
    }
}

fn write_expr(e: &Expr, out: &mut String) {
    match &e.kind {
        ExprKind::Number(v) => out.push_str(&print_number(*v)),
        ExprKind::Name(n) => out.push_str(n),
        ExprKind::Call { op, args, .. } => {
            out.push_str(op);
            out.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(a, out);
            }
            out.push(')');
        }
        ExprKind::Neg(inner) => {
            out.push('-');
            // `-(a * b)` differs from `-a * b`; `- -x` stays readable as `--x`.
            write_operand(inner, strength(inner) < 3, out);
        }
        ExprKind::Binary { op, lhs, rhs, .. } => {
            let p = op.precedence();
            write_operand(lhs, strength(lhs) < p, out);
            out.push(' ');
            out.push_str(op.symbol());
            out.push(' ');
            // Left-associative: an equal-precedence right operand needs parentheses.
            write_operand(rhs, strength(rhs) <= p, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::{parse_expr, parse_file};
    use super::*;

    fn canon(src: &str) -> String {
        print_expr(&parse_expr(src).unwrap())
    }

    #[test]
    fn minimal_parentheses() {
        assert_eq!(canon("(a + b) + c"), "a + b + c");
        assert_eq!(canon("a + (b + c)"), "a + (b + c)");
        assert_eq!(canon("a - (b - c)"), "a - (b - c)");
        assert_eq!(canon("(a * b) + (c / d)"), "a * b + c / d");
        assert_eq!(canon("(a + b) * c"), "(a + b) * c");
        assert_eq!(canon("a / (b * c)"), "a / (b * c)");
        assert_eq!(canon("-(a * b)"), "-(a * b)");
        assert_eq!(canon("(-a) * b"), "-a * b");
        assert_eq!(canon("- - a"), "--a");
        assert_eq!(canon("sum( abs( G*W ) )"), "sum(abs(G * W))");
        assert_eq!(canon("amax(S,-1)"), "amax(S, -1)");
    }

    #[test]
    fn numbers_print_short_and_exact() {
        assert_eq!(print_number(2.0), "2");
        assert_eq!(print_number(0.5), "0.5");
        assert_eq!(print_number(1e-9), "1e-9");
        assert_eq!(print_number(2500.0), "2500");
        assert_eq!(print_number(1000.0), "1000");
        assert_eq!(print_number(0.0001), "0.0001");
        assert_eq!(print_number(1e21), "1e21");
        for v in [0.1, 1.0 / 3.0, 6.02214076e23, 5e-324, f64::MAX] {
            assert_eq!(print_number(v).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn file_layout() {
        let src = "# header\n\n\n\nsnip=sum(abs(G*W))   # trailing   \n# own\ngn = sum(\n fro(G))";
        let out = print_file(&parse_file(src).unwrap());
        assert_eq!(out, "# header\n\nsnip = sum(abs(G * W))  # trailing\n# own\ngn = sum(fro(G))\n");
        assert_eq!(print_file(&parse_file(&out).unwrap()), out);
    }
}
