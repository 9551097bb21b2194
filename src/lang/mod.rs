//! The proxy language: text → syntax tree → typed tree → lint.
//!
//! This module knows no tensors and no models: parsing, checking and lint run without burn.
//! Stages: [`parse`] (pest grammar → [`syntax`] tree with spans), [`print`] (canonical text),
//! [`table`] (the input and op registries), [`check`] (types, alignment, resolution),
//! [`lint`] (the Rule-based Pruning Strategy), [`diagnostic`] (problems as data, rendered with
//! ariadne or as JSON), [`stdlib`] (the bundled proxy files).

pub mod build;
pub mod check;
pub mod diagnostic;
pub mod lint;
pub mod load;
pub mod parse;
pub mod print;
pub mod stdlib;
pub mod syntax;
pub mod table;

pub use check::{check_expr, check_file, check_proxy, CheckedDefinition, CheckedFile, Env, Type, Typed};
pub use diagnostic::{Diagnostic, Severity};
pub use lint::lint_proxy;
pub use parse::{parse_expr, parse_file, parse_repl_input};
pub use print::{print_expr, print_file};
pub use syntax::{Expr, ProxyFile};

/// A checked proxy: a name (if it came from a definition) and its typed tree.
#[derive(Clone, Debug)]
pub struct Proxy {
    /// The definition's name, or the expression's canonical text for `-e`.
    pub name: String,
    /// The typed tree (of type [`Type::Number`]).
    pub typed: std::sync::Arc<Typed>,
}

impl Proxy {
    /// Parses and checks one proxy expression. Lint warnings do not stop it; errors do.
    pub fn parse(src: &str) -> Result<Proxy, diagnostic::CheckError> {
        let expr = parse_expr(src).map_err(|d| diagnostic::CheckError(vec![d]))?;
        let typed = check_proxy(&expr, &Env::new()).map_err(diagnostic::CheckError)?;
        Ok(Proxy { name: print_expr(&expr), typed: std::sync::Arc::new(typed) })
    }

    /// The canonical text of its expression.
    pub fn text(&self) -> String {
        print_expr(&self.typed.to_expr())
    }
}

impl From<CheckedDefinition> for Proxy {
    fn from(d: CheckedDefinition) -> Self {
        Proxy { name: d.name, typed: d.typed }
    }
}

/// Everything a front end wants to know about one file: its checked definitions and every
/// diagnostic (syntax, type and lint), in source order.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// The definitions that passed the checker.
    pub definitions: Vec<CheckedDefinition>,
    /// Syntax errors, type errors and lint warnings, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    /// True when some diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses, checks and lints a proxy file.
pub fn analyze_file(src: &str) -> Analysis {
    match parse_file(src) {
        Err(d) => Analysis { definitions: vec![], diagnostics: vec![d] },
        Ok(file) => {
            let checked = check_file(&file);
            let mut diagnostics = checked.diagnostics;
            diagnostics.extend(lint::lint_definitions(&checked.definitions));
            diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
            Analysis { definitions: checked.definitions, diagnostics }
        }
    }
}

/// Parses, checks and lints one bare proxy expression; its definition is named `expr`.
pub fn analyze_expr(src: &str) -> Analysis {
    match parse_expr(src) {
        Err(d) => Analysis { definitions: vec![], diagnostics: vec![d] },
        Ok(expr) => match check_proxy(&expr, &Env::new()) {
            Err(diagnostics) => Analysis { definitions: vec![], diagnostics },
            Ok(typed) => {
                let diagnostics = lint_proxy(&typed);
                let definition = CheckedDefinition {
                    name: "expr".into(),
                    name_span: expr.span,
                    typed: std::sync::Arc::new(typed),
                };
                Analysis { definitions: vec![definition], diagnostics }
            }
        },
    }
}
