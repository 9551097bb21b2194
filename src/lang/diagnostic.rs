//! Diagnostics as data, and their two renderings (ariadne for people, JSON for programs).
//!
//! Every stage that can complain (parser, checker, lint) produces [`Diagnostic`] values with a
//! stable code from [`CODES`]; nothing prints until the edge calls [`render`] or [`to_json`].

use super::syntax::Span;
use ariadne::{Color, Config, IndexType, Label, Report, ReportKind, Source};
use serde::Serialize;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Degenerate or redundant, but the proxy still evaluates.
    Warning,
    /// The text is not a valid proxy.
    Error,
}

/// The declaration of a diagnostic code.
#[derive(Clone, Debug, Serialize)]
pub struct CodeInfo {
    /// The stable code, e.g. `E105` or `L104`.
    pub code: &'static str,
    /// A short kebab-case name.
    pub name: &'static str,
    /// Its severity.
    pub severity: Severity,
    /// What it means and why it matters.
    pub rationale: &'static str,
}

macro_rules! codes {
    ($($konst:ident = $code:literal, $name:literal, $sev:ident, $why:literal;)*) => {
        /// The stable diagnostic codes, as constants.
        #[allow(missing_docs)]
        pub mod code {
            $(pub const $konst: &str = $code;)*
        }
        /// Every diagnostic code with its name, severity and rationale.
        pub const CODES: &[CodeInfo] = &[
            $(CodeInfo { code: $code, name: $name, severity: Severity::$sev, rationale: $why },)*
        ];
    };
}

codes! {
    SYNTAX = "E001", "syntax", Error, "The text does not follow the grammar.";
    NUMBER = "E002", "bad-number", Error, "A number literal is not a finite f64.";
    TOO_DEEP = "E003", "too-deep", Error, "Parentheses nest more than 32 deep, or one definition has more than 256 operators; such input is refused before parsing so nothing can overflow the stack.";
    UNKNOWN_NAME = "E101", "unknown-name", Error, "A name is neither an input nor a definition that comes earlier in the file.";
    UNKNOWN_OP = "E102", "unknown-op", Error, "A call names no op of the op table.";
    ARITY = "E103", "arity", Error, "An op is called with the wrong number of arguments.";
    DOMAIN = "E104", "domain", Error, "An op is applied to a shape class outside its domain, e.g. `fro` of a scalar or `nuc` of a tensor.";
    MISALIGNED = "E105", "misaligned", Error, "Two inputs whose entries do not correspond (an activation per FFN and a weight per linear layer) are combined entry by entry. Aggregate one side to a number first.";
    SHAPE = "E106", "shape-mismatch", Error, "Aligned entries with different layouts are combined element by element.";
    NOT_A_NUMBER = "E107", "not-one-number", Error, "A proxy must evaluate to one number per architecture; its top level is a list of entries.";
    DUPLICATE = "E108", "duplicate-definition", Error, "A name is defined twice in one file.";
    SHADOWS_INPUT = "E109", "shadows-input", Error, "A definition takes the name of an input.";
    AXIS = "E110", "bad-axis", Error, "The axis argument of `amax`/`asum` is not an integer literal inside the entry's rank.";
    NOT_CALLABLE = "E111", "not-callable", Error, "A name is used as a call but is an input or a definition, or an op is used without a call.";
    INVERSE = "L101", "inverse-pair", Warning, "An op followed by its inverse (log∘exp, sqrt∘sq, neg∘neg, ...) does nothing or reduces to a simpler op; the GP should not spend a slot on it (paper Table 11, inverse operations).";
    REDUNDANT = "L102", "redundant-chain", Warning, "An op whose result is unchanged by the op applied after it (abs∘abs, relu∘exp, abs∘sq, ...) or an identity op: the outer op is a no-op (paper Table 11, redundant operations).";
    CONFLICT = "L103", "conflict", Warning, "An op applied where its domain is never met, e.g. log or sqrt of a value that is never positive: the result is a constant (paper Table 11, conflicting operations).";
    CONSTANT_OP = "L104", "dead-branch", Warning, "A distribution op (softmax, logsoftmax, minmax, normalize) of a scalar is a constant, so the branch carries no information (paper Table 11, special cases).";
    SELF_CANCEL = "L106", "self-cancelling", Warning, "`x - x` is 0 and `x / x` is 1 whatever x is.";
    DIV_ZERO = "L107", "division-by-zero", Warning, "The denominator is exactly zero for some elements (it is a non-negative element-wise value such as relu, step or minmax), so the quotient depends on ε.";
    CONSTANT_PROXY = "L108", "constant-proxy", Warning, "The proxy depends on no input once dead branches are removed: it gives every architecture the same score.";
    REDUNDANT_AGGREGATE = "L109", "redundant-aggregate", Warning, "An aggregation of a value that is already one number does nothing.";
}

/// The diagnostic codes as a Markdown table (for `lpzero ops --format markdown` and the user guide).
pub fn codes_markdown() -> String {
    let mut out = String::from("| code | name | severity | meaning |\n|---|---|---|---|\n");
    for c in CODES {
        let sev = match c.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        out.push_str(&format!("| `{}` | {} | {} | {} |\n", c.code, c.name, sev, c.rationale));
    }
    out
}

/// The declaration of a code.
pub fn code_info(code: &str) -> Option<&'static CodeInfo> {
    CODES.iter().find(|c| c.code == code)
}

/// A secondary label: another place in the source and what it has to do with the problem.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SecondaryLabel {
    /// Where.
    pub span: Span,
    /// What about it.
    pub message: String,
}

/// One problem found in proxy text.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnostic {
    /// Stable code (see [`CODES`]).
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where it is wrong.
    pub span: Span,
    /// What the primary span points at, when that adds to the message.
    pub label: Option<String>,
    /// Other places that matter.
    pub secondary: Vec<SecondaryLabel>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity.
    pub fn new(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        let severity = code_info(code).map(|c| c.severity).unwrap_or(Severity::Error);
        Diagnostic { code, severity, message: message.into(), span, label: None, secondary: vec![], help: None }
    }

    /// Adds a label on the primary span.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds a secondary label.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(SecondaryLabel { span, message: message.into() });
        self
    }

    /// Adds a help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Diagnostics as one error value, for `?` in code that embeds the language.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}", .0.iter().map(|d| format!("{}: {}", d.code, d.message)).collect::<Vec<_>>().join("; "))]
pub struct CheckError(pub Vec<Diagnostic>);

/// A 1-based line and column (in characters) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let offset = (0..=offset).rev().find(|&i| src.is_char_boundary(i)).unwrap_or(0);
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = src[line_start..offset].chars().count() + 1;
    (line, column)
}

/// Renders one diagnostic the way ariadne draws it: the message, the code, the source line
/// with the span underlined, labels and help. `color` adds ANSI colours.
pub fn render(diagnostic: &Diagnostic, file: &str, src: &str, color: bool) -> String {
    let clamp = |s: Span| {
        let end = s.end.min(src.len());
        let start = s.start.min(end);
        start..end
    };
    let kind = match diagnostic.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let primary_color = match diagnostic.severity {
        Severity::Error => Color::Red,
        Severity::Warning => Color::Yellow,
    };
    let config = Config::default().with_color(color).with_index_type(IndexType::Byte);
    let mut report = Report::build(kind, (file, clamp(diagnostic.span)))
        .with_config(config)
        .with_code(diagnostic.code)
        .with_message(&diagnostic.message);
    // ariadne underlines only labels with a message.
    let label = diagnostic.label.as_deref().unwrap_or("here");
    report = report.with_label(Label::new((file, clamp(diagnostic.span))).with_message(label).with_color(primary_color));
    for s in &diagnostic.secondary {
        report = report.with_label(Label::new((file, clamp(s.span))).with_message(&s.message).with_color(Color::Blue));
    }
    if let Some(help) = &diagnostic.help {
        report = report.with_help(help);
    }
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = report.finish().write((file, Source::from(src)), &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// One diagnostic as the JSON object `lpzero lint --format json` prints.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct JsonDiagnostic {
    /// The file (or `<expr>` for `-e`).
    pub file: String,
    /// 1-based line of the start.
    pub line: usize,
    /// 1-based column (characters) of the start.
    pub column: usize,
    /// 1-based line of the end.
    pub end_line: usize,
    /// 1-based column of the end (exclusive).
    pub end_column: usize,
    /// The stable code.
    pub code: String,
    /// `error` or `warning`.
    pub severity: Severity,
    /// The message.
    pub message: String,
    /// The help text, if any.
    pub help: Option<String>,
}

/// Converts a diagnostic into its JSON form, with line and column numbers.
pub fn to_json(diagnostic: &Diagnostic, file: &str, src: &str) -> JsonDiagnostic {
    let (line, column) = line_col(src, diagnostic.span.start);
    let (end_line, end_column) = line_col(src, diagnostic.span.end);
    JsonDiagnostic {
        file: file.to_owned(),
        line,
        column,
        end_line,
        end_column,
        code: diagnostic.code.to_owned(),
        severity: diagnostic.severity,
        message: diagnostic.message.clone(),
        help: diagnostic.help.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        for (i, c) in CODES.iter().enumerate() {
            assert!(CODES[i + 1..].iter().all(|d| d.code != c.code && d.name != c.name), "{} twice", c.code);
        }
    }

    #[test]
    fn line_col_counts_characters() {
        let src = "a = 1\nbé = x";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        // 'é' is two bytes; the '=' after "bé " is the 4th character of its line.
        assert_eq!(line_col(src, 10), (2, 4));
        assert_eq!(line_col(src, 999), (2, 7));
    }
}
