//! Text to syntax tree: the pest grammar in `grammar/proxy.pest`, a Pratt parser for infix
//! precedence, and conversion of pest errors into [`Diagnostic`]s.
//!
//! The parser never panics: input is first checked against nesting and size limits (so no
//! input can overflow the stack of the recursive parser or of later tree walks), then parsed;
//! every failure is a diagnostic with a span.

use super::diagnostic::{code, Diagnostic};
use super::syntax::{BinOp, Comment, Definition, Expr, ExprKind, Item, ProxyFile, ReplInput, Span};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser;
use std::sync::OnceLock;

mod grammar {
    #![allow(missing_docs)]
    #[derive(pest_derive::Parser)]
    #[grammar = "../grammar/proxy.pest"]
    pub(super) struct ProxyParser;
}
use grammar::{ProxyParser, Rule};

/// Deepest parenthesis nesting accepted.
pub const MAX_NESTING: usize = 32;
/// Most operator characters accepted in one definition or expression.
pub const MAX_OPERATORS: usize = 256;

fn pratt() -> &'static PrattParser<Rule> {
    static PRATT: OnceLock<PrattParser<Rule>> = OnceLock::new();
    PRATT.get_or_init(|| {
        PrattParser::new()
            .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
            .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left))
            .op(Op::prefix(Rule::neg))
    })
}

/// Parses a proxy file: definitions and comments.
pub fn parse_file(src: &str) -> Result<ProxyFile, Diagnostic> {
    check_limits(src)?;
    let mut pairs = ProxyParser::parse(Rule::file, src).map_err(|e| syntax_error(e, src))?;
    let file = pairs.next().expect("the file rule always yields one pair");
    let mut items: Vec<Item> = Vec::new();
    let mut last_end: Option<usize> = None;
    for pair in file.into_inner() {
        let span = span_of(&pair);
        if let Some(end) = last_end {
            let gap = &src[end..span.start];
            if gap.matches('\n').count() >= 2 {
                items.push(Item::BlankLine);
            }
        }
        match pair.as_rule() {
            Rule::comment => {
                let trailing = match (last_end, items.last()) {
                    (Some(end), Some(Item::Definition(_))) => !src[end..span.start].contains('\n'),
                    _ => false,
                };
                let text = pair.as_str()[1..].trim_end().to_owned();
                items.push(Item::Comment(Comment { text, trailing, span }));
            }
            Rule::definition => {
                let def = build_definition(pair)?;
                // A pest pair's span can include trailing white space; the expression's cannot.
                last_end = Some(def.expr.span.end);
                items.push(Item::Definition(def));
                continue;
            }
            Rule::EOI => {}
            other => unreachable!("the file rule holds only comments and definitions, got {other:?}"),
        }
        last_end = Some(span.end);
    }
    Ok(ProxyFile { items })
}

/// Parses one bare expression (for `-e` and the REPL).
pub fn parse_expr(src: &str) -> Result<Expr, Diagnostic> {
    check_limits(src)?;
    let mut pairs = ProxyParser::parse(Rule::expression_input, src).map_err(|e| syntax_error(e, src))?;
    let input = pairs.next().expect("the expression_input rule always yields one pair");
    let expr = input.into_inner().next().expect("expression_input holds an expr");
    build_expr(expr)
}

/// Parses one line of REPL input: a definition or a bare expression.
pub fn parse_repl_input(src: &str) -> Result<ReplInput, Diagnostic> {
    check_limits(src)?;
    let mut pairs = ProxyParser::parse(Rule::repl_input, src).map_err(|e| syntax_error(e, src))?;
    let input = pairs.next().expect("the repl_input rule always yields one pair");
    let inner = input.into_inner().next().expect("repl_input holds a definition or an expr");
    match inner.as_rule() {
        Rule::definition => Ok(ReplInput::Definition(build_definition(inner)?)),
        _ => Ok(ReplInput::Expr(build_expr(inner)?)),
    }
}

/// Refuses input that nests parentheses too deeply or has too many operators in one
/// definition, before the recursive parser sees it.
fn check_limits(src: &str) -> Result<(), Diagnostic> {
    let mut depth = 0usize;
    let mut operators = 0usize;
    let mut in_comment = false;
    for (i, c) in src.char_indices() {
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        match c {
            '#' => in_comment = true,
            '(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Diagnostic::new(code::TOO_DEEP, Span::new(i, i + 1), format!("parentheses nest more than {MAX_NESTING} deep"))
                        .with_label("this one is too deep")
                        .with_help("split the expression into named definitions"));
                }
            }
            ')' => depth = depth.saturating_sub(1),
            '=' => operators = 0,
            '+' | '-' | '*' | '/' => {
                operators += 1;
                if operators > MAX_OPERATORS {
                    return Err(Diagnostic::new(code::TOO_DEEP, Span::new(i, i + 1), format!("more than {MAX_OPERATORS} operators in one expression"))
                        .with_help("split the expression into named definitions"));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn span_of(pair: &Pair<Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

fn build_definition(pair: Pair<Rule>) -> Result<Definition, Diagnostic> {
    let mut inner = pair.into_inner();
    let name = inner.next().expect("a definition starts with its name");
    let expr = inner.next().expect("a definition has an expression");
    Ok(Definition { name: name.as_str().to_owned(), name_span: span_of(&name), expr: build_expr(expr)? })
}

fn build_expr(pair: Pair<Rule>) -> Result<Expr, Diagnostic> {
    debug_assert_eq!(pair.as_rule(), Rule::expr);
    build_infix(pair.into_inner())
}

fn build_infix(pairs: Pairs<Rule>) -> Result<Expr, Diagnostic> {
    pratt()
        .map_primary(build_primary)
        .map_prefix(|op, operand| {
            let operand = operand?;
            let span = span_of(&op).to(operand.span);
            Ok(Expr::spanned(ExprKind::Neg(Box::new(operand)), span))
        })
        .map_infix(|lhs, op_pair, rhs| {
            let (lhs, rhs) = (lhs?, rhs?);
            let op = match op_pair.as_rule() {
                Rule::add => BinOp::Add,
                Rule::sub => BinOp::Sub,
                Rule::mul => BinOp::Mul,
                Rule::div => BinOp::Div,
                other => unreachable!("not an infix rule: {other:?}"),
            };
            let span = lhs.span.to(rhs.span);
            let op_span = span_of(&op_pair);
            Ok(Expr::spanned(ExprKind::Binary { op, op_span, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span))
        })
        .parse(pairs)
}

fn build_primary(pair: Pair<Rule>) -> Result<Expr, Diagnostic> {
    let span = span_of(&pair);
    match pair.as_rule() {
        Rule::number => {
            let text = pair.as_str();
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Expr::spanned(ExprKind::Number(v), span)),
                _ => Err(Diagnostic::new(code::NUMBER, span, format!("`{text}` is not a finite number"))
                    .with_label("too large for a 64-bit float")
                    .with_help("numbers must lie within ±1.8e308")),
            }
        }
        Rule::ident => Ok(Expr::spanned(ExprKind::Name(pair.as_str().to_owned()), span)),
        Rule::paren => build_expr(pair.into_inner().next().expect("a paren holds an expr")),
        Rule::call => {
            let mut inner = pair.into_inner();
            let name = inner.next().expect("a call starts with its name");
            let args = inner.next().expect("a call has an argument list");
            let args = args.into_inner().map(build_expr).collect::<Result<Vec<_>, _>>()?;
            Ok(Expr::spanned(ExprKind::Call { op: name.as_str().to_owned(), op_span: span_of(&name), args }, span))
        }
        Rule::expr => build_expr(pair),
        other => unreachable!("not a primary rule: {other:?}"),
    }
}

/// What a grammar rule is called in an error message.
fn describe(rule: &Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of input",
        Rule::expr => "an expression",
        Rule::number => "a number",
        Rule::ident => "a name",
        Rule::call => "a call",
        Rule::args => "arguments",
        Rule::paren => "`(`",
        Rule::neg | Rule::sub => "`-`",
        Rule::add => "`+`",
        Rule::mul => "`*`",
        Rule::div => "`/`",
        Rule::definition => "a definition `name = expr`",
        Rule::comment => "a comment",
        _ => "something else",
    }
}

fn syntax_error(err: pest::error::Error<Rule>, src: &str) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let span = match err.location {
        // At the end of the input, point just after the last text rather than at trailing blank lines.
        InputLocation::Pos(p) if src[p..].trim().is_empty() => {
            let end = src.trim_end().len();
            Span::new(end, end)
        }
        InputLocation::Pos(p) => {
            // Point at the offending character (or the end of input).
            let end = src[p..].chars().next().map(|c| p + c.len_utf8()).unwrap_or(p);
            Span::new(p, end)
        }
        InputLocation::Span((a, b)) => Span::new(a, b),
    };
    let found = src[span.start..].chars().next().filter(|_| !src[span.start..].trim().is_empty());
    let found_text = match found {
        None => "the end of the input".to_owned(),
        Some('\n') => "the end of the line".to_owned(),
        Some(c) => format!("`{c}`"),
    };
    let (message, help) = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let infix_only = positives.iter().all(|r| matches!(r, Rule::add | Rule::sub | Rule::mul | Rule::div));
            let mut wanted: Vec<&str> = if infix_only {
                vec!["an operator (`+ - * /`)"]
            } else {
                positives.iter().map(describe).collect()
            };
            wanted.sort_unstable();
            wanted.dedup();
            if infix_only && open_parens(&src[..span.start]) > 0 {
                wanted.push("`)`");
            }
            let expected = match wanted.len() {
                0 => "something else".to_owned(),
                1 => wanted[0].to_owned(),
                _ => {
                    let last = wanted.pop().expect("non-empty");
                    format!("{} or {}", wanted.join(", "), last)
                }
            };
            let help = hint_for(found, src, span.start);
            (format!("expected {expected}, found {found_text}"), help)
        }
        ErrorVariant::CustomError { message } => (message.clone(), None),
    };
    let label = if found.is_none() { "the input ends here" } else { "unexpected here" };
    let mut d = Diagnostic::new(code::SYNTAX, span, message).with_label(label);
    if let Some(help) = help {
        d = d.with_help(help);
    }
    d
}

/// How many `(` are still open at the end of `text` (comments skipped).
fn open_parens(text: &str) -> usize {
    let mut depth = 0usize;
    for line in text.split('\n') {
        let code = line.split('#').next().unwrap_or("");
        for c in code.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    depth
}

/// A hint for common slips, judged from the character where parsing stopped.
fn hint_for(found: Option<char>, src: &str, at: usize) -> Option<String> {
    let before = src[..at].trim_end();
    match found {
        Some('(') if before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') => {
            Some("write a call without a space between the op's name and `(`, e.g. `fro(G)`".into())
        }
        Some('#') => Some("comments may stand between definitions or at the end of a line, not inside an expression".into()),
        Some(')') => Some("this `)` has no matching `(`, or an argument is missing before it".into()),
        Some('=') => Some("a definition is `name = expression`; `=` cannot appear inside an expression".into()),
        None if before.ends_with(['+', '-', '*', '/', '(', ',']) => Some("the expression is unfinished".into()),
        None if open_parens(src) > 0 => Some("a `(` is never closed".into()),
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            Some("two terms stand side by side; join them with an operator (`+ - * /`) or put the second on a new definition `name = ...`".into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: f64) -> Expr {
        Expr::new(ExprKind::Number(v))
    }
    fn name(n: &str) -> Expr {
        Expr::new(ExprKind::Name(n.into()))
    }
    fn bin(op: BinOp, l: Expr, r: Expr) -> Expr {
        Expr::new(ExprKind::Binary { op, op_span: Span::default(), lhs: Box::new(l), rhs: Box::new(r) })
    }

    #[test]
    fn precedence_and_left_associativity() {
        // a - b - c * d / e  ==  (a - b) - ((c * d) / e)
        let e = parse_expr("a - b - c * d / e").unwrap();
        let want = bin(
            BinOp::Sub,
            bin(BinOp::Sub, name("a"), name("b")),
            bin(BinOp::Div, bin(BinOp::Mul, name("c"), name("d")), name("e")),
        );
        assert_eq!(e, want);
    }

    #[test]
    fn unary_minus_binds_tighter_than_products() {
        let e = parse_expr("-a * 2").unwrap();
        assert_eq!(e, bin(BinOp::Mul, Expr::new(ExprKind::Neg(Box::new(name("a")))), num(2.0)));
        let e = parse_expr("--2").unwrap();
        assert_eq!(e, Expr::new(ExprKind::Neg(Box::new(Expr::new(ExprKind::Neg(Box::new(num(2.0))))))));
    }

    #[test]
    fn calls_and_spans() {
        let src = "sum(abs(G * W))";
        let e = parse_expr(src).unwrap();
        assert_eq!(e.span, Span::new(0, src.len()));
        match &e.kind {
            ExprKind::Call { op, op_span, args } => {
                assert_eq!(op, "sum");
                assert_eq!(*op_span, Span::new(0, 3));
                assert_eq!(args.len(), 1);
                assert_eq!(args[0].span, Span::new(4, 14));
            }
            _ => panic!("not a call"),
        }
    }

    #[test]
    fn numbers() {
        for (text, v) in [("2", 2.0), ("0.5", 0.5), (".5", 0.5), ("1e-9", 1e-9), ("2.5E3", 2500.0), ("3.", 3.0)] {
            assert_eq!(parse_expr(text).unwrap(), num(v), "{text}");
        }
        let err = parse_expr("1e999").unwrap_err();
        assert_eq!(err.code, code::NUMBER);
    }

    #[test]
    fn file_with_comments_and_blank_lines() {
        let src = "# header\n\nsnip = sum(abs(G * W))  # trailing\n# own line\ngn = sum(\n  fro(G))\n";
        let f = parse_file(src).unwrap();
        assert_eq!(f.items.len(), 6, "{:?}", f.items);
        assert!(matches!(&f.items[0], Item::Comment(c) if c.text == " header" && !c.trailing));
        assert!(matches!(&f.items[1], Item::BlankLine));
        assert!(matches!(&f.items[2], Item::Definition(d) if d.name == "snip"));
        assert!(matches!(&f.items[3], Item::Comment(c) if c.text == " trailing" && c.trailing));
        assert!(matches!(&f.items[4], Item::Comment(c) if !c.trailing));
        assert!(matches!(&f.items[5], Item::Definition(d) if d.name == "gn"));
    }

    #[test]
    fn syntax_errors_point_at_the_problem() {
        let err = parse_expr("sum(abs(G * W)").unwrap_err();
        assert_eq!(err.code, code::SYNTAX);
        assert_eq!(err.span.start, 14);
        let err = parse_expr("fro (G)").unwrap_err();
        assert_eq!(err.span.start, 4);
        assert!(err.help.unwrap().contains("without a space"));
        let err = parse_file("a = 1 +\nb = 2").unwrap_err();
        assert_eq!(err.code, code::SYNTAX);
    }

    #[test]
    fn limits_refuse_deep_input_without_overflow() {
        let deep = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(parse_expr(&deep).unwrap_err().code, code::TOO_DEEP);
        let long = vec!["x"; 300].join(" + ");
        assert_eq!(parse_expr(&long).unwrap_err().code, code::TOO_DEEP);
        let minus = format!("{}x", "-".repeat(100_000));
        assert_eq!(parse_expr(&minus).unwrap_err().code, code::TOO_DEEP);
    }

    #[test]
    fn repl_input_is_a_definition_or_an_expression() {
        assert!(matches!(parse_repl_input("x = sum(fro(G))").unwrap(), ReplInput::Definition(_)));
        assert!(matches!(parse_repl_input("sum(fro(G))").unwrap(), ReplInput::Expr(_)));
    }
}
