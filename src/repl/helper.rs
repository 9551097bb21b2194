//! The line editor's helper: Tab completion (ops, inputs, defined names, commands, file paths
//! after `:load`, `:save` and `:bench`), hints with an op's signature, and multi-line input
//! while a bracket is open.

use super::session::COMMANDS;
use crate::lang::table::{self, OPS};
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::{Hint, Hinter};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::Context;
use std::borrow::Cow;
use std::sync::{Arc, Mutex};

/// The commands whose argument is a file path.
const PATH_COMMANDS: &[&str] = &[":load", ":save", ":bench"];

/// The REPL's [`rustyline::Helper`].
pub struct ReplHelper {
    names: Arc<Mutex<Vec<String>>>,
    files: FilenameCompleter,
    color: bool,
}

impl ReplHelper {
    /// A helper that completes the defined names in `names` (kept up to date by the session);
    /// `color` dims hints.
    pub fn new(names: Arc<Mutex<Vec<String>>>, color: bool) -> Self {
        ReplHelper { names, files: FilenameCompleter::new(), color }
    }
}

/// How many `(` are open at the end of `src` (negative when more are closed); a `#` comment
/// runs to the end of its line.
pub fn open_brackets(src: &str) -> i64 {
    let mut depth = 0i64;
    let mut comment = false;
    for c in src.chars() {
        match c {
            '\n' => comment = false,
            _ if comment => {}
            '#' => comment = true,
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
    }
    depth
}

/// Start of the identifier (or `:command`) that ends at byte `pos`.
fn word_start(line: &str, pos: usize) -> usize {
    let before = &line[..pos];
    before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
        .last()
        .map(|(i, _)| i)
        .unwrap_or(pos)
}

/// Completion candidates for the word ending at `pos`: the start of the word and the
/// candidates (ops complete with their `(`). File paths are not handled here.
pub fn complete_word(line: &str, pos: usize, names: &[String]) -> (usize, Vec<Pair>) {
    let start = word_start(line, pos);
    let word = &line[start..pos];
    // A command name.
    if line[..start].trim_start() == ":" {
        let colon = line[..start].rfind(':').unwrap_or(start);
        let typed = &line[colon..pos];
        let pairs = COMMANDS
            .iter()
            .filter(|(c, ..)| c.starts_with(typed))
            .map(|(c, ..)| Pair { display: (*c).to_owned(), replacement: format!("{c} ") })
            .collect();
        return (colon, pairs);
    }
    if word.is_empty() || word.starts_with(|c: char| c.is_ascii_digit()) {
        return (start, vec![]);
    }
    let mut pairs: Vec<Pair> = vec![];
    for o in OPS.iter().filter(|o| o.name.starts_with(word)) {
        pairs.push(Pair { display: o.signature(), replacement: format!("{}(", o.name) });
    }
    for i in table::INPUTS.iter().filter(|i| i.name.starts_with(word)) {
        pairs.push(Pair { display: i.name.to_owned(), replacement: i.name.to_owned() });
    }
    for n in names.iter().filter(|n| n.starts_with(word)) {
        pairs.push(Pair { display: n.clone(), replacement: n.clone() });
    }
    (start, pairs)
}

/// The op a hint is about: the word just typed when it names an op, else the op of the
/// innermost call still open at `pos`.
pub fn hinted_op(line: &str, pos: usize) -> Option<&'static table::OpSpec> {
    let start = word_start(line, pos);
    if let Some(op) = table::op_by_name(&line[start..pos]) {
        return Some(op);
    }
    let mut depth = 0i64;
    for (i, c) in line[..pos].char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth > 0 => depth -= 1,
            '(' => return table::op_by_name(&line[word_start(line, i)..i]),
            _ => {}
        }
    }
    None
}

/// A hint that shows text but inserts nothing (the right arrow does not accept it).
pub struct SignatureHint(String);

impl Hint for SignatureHint {
    fn display(&self) -> &str {
        &self.0
    }

    fn completion(&self) -> Option<&str> {
        None
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let first = line.split_whitespace().next().unwrap_or("");
        let lead = line.len() - line.trim_start().len();
        if PATH_COMMANDS.contains(&first) && pos > lead + first.len() {
            return self.files.complete(line, pos, ctx);
        }
        let names = self.names.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(complete_word(line, pos, &names))
    }
}

impl Hinter for ReplHelper {
    type Hint = SignatureHint;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<SignatureHint> {
        if pos < line.len() || line.starts_with(':') && !line.starts_with(":type") && !line.starts_with(":lint") && !line.starts_with(":arch") {
            return None;
        }
        hinted_op(line, pos).map(|o| SignatureHint(format!("   {} — {}", o.signature(), o.summary)))
    }
}

impl Highlighter for ReplHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if open_brackets(ctx.input()) > 0 { ValidationResult::Incomplete } else { ValidationResult::Valid(None) })
    }
}

impl rustyline::Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn replacements(line: &str, names: &[&str]) -> (usize, Vec<String>) {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let (start, pairs) = complete_word(line, line.len(), &names);
        (start, pairs.into_iter().map(|p| p.replacement).collect())
    }

    #[test]
    fn completes_ops_inputs_names_and_commands() {
        let (start, r) = replacements("sum(ab", &[]);
        assert_eq!(start, 4);
        assert!(r.contains(&"abs(".to_owned()) && r.contains(&"abslog(".to_owned()), "{r:?}");
        let mut g = replacements("fro(G", &[]).1;
        g.sort();
        assert_eq!(g, vec!["G", "GA", "GH", "GS"]);
        assert_eq!(replacements("sn", &["snip", "other"]).1, vec!["snip"]);
        assert_eq!(replacements(":ty", &[]), (0, vec![":type ".to_owned()]));
        assert_eq!(replacements("2", &[]).1, Vec::<String>::new());
    }

    #[test]
    fn hints_the_innermost_open_call() {
        assert_eq!(hinted_op("sum(abs(G", 9).map(|o| o.name), Some("abs"));
        assert_eq!(hinted_op("sum(abs(G) * ", 13).map(|o| o.name), Some("sum"));
        assert_eq!(hinted_op("fro", 3).map(|o| o.name), Some("fro"));
        assert!(hinted_op("G * W", 5).is_none());
    }

    #[test]
    fn brackets() {
        assert_eq!(open_brackets("sum(abs(G)"), 1);
        assert_eq!(open_brackets("sum(G) # ("), 0);
        assert_eq!(open_brackets("sum(G))"), -1);
    }
}
