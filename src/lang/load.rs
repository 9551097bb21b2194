//! Proxies named on a command line or by a caller: proxy files (all their definitions, or one,
//! `FILE:NAME`), expressions, and the stdlib by name. Errors carry the diagnostics with the text
//! they point into, so a front end can render them.

use super::{analyze_file, Diagnostic, Proxy};

/// Why proxies could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file or expression has errors.
    #[error("{name} has errors")]
    Diagnostics {
        /// The file, or `<expr>`.
        name: String,
        /// Its text.
        text: String,
        /// The errors.
        diagnostics: Vec<Diagnostic>,
    },
    /// A file defines no proxy (of the name asked for).
    #[error("{path} defines no proxy{}", name.as_ref().map(|n| format!(" named `{n}`")).unwrap_or_default())]
    NoDefinition {
        /// The file.
        path: String,
        /// The name asked for.
        name: Option<String>,
    },
    /// A stdlib proxy of that name does not exist.
    #[error("the stdlib has no proxy `{0}`")]
    NoStdlib(String),
}

/// Loads the proxies of `files` (`FILE` or `FILE:NAME`, in order) and then `exprs`.
pub fn load_proxies(files: &[String], exprs: &[String]) -> Result<Vec<Proxy>, LoadError> {
    let mut out = vec![];
    for spec in files {
        let (path, name) = match spec.rsplit_once(':') {
            Some((p, n)) if !n.contains('/') && std::path::Path::new(p).exists() => (p, Some(n)),
            _ => (spec.as_str(), None),
        };
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io { path: path.to_owned(), source })?;
        let analysis = analyze_file(&text);
        if analysis.has_errors() {
            let diagnostics = analysis.diagnostics.into_iter().filter(Diagnostic::is_error).collect();
            return Err(LoadError::Diagnostics { name: path.to_owned(), text, diagnostics });
        }
        let defs: Vec<_> = analysis.definitions.into_iter().filter(|d| name.is_none_or(|n| d.name == n)).collect();
        if defs.is_empty() {
            return Err(LoadError::NoDefinition { path: path.to_owned(), name: name.map(str::to_owned) });
        }
        out.extend(defs.into_iter().map(Proxy::from));
    }
    for e in exprs {
        match Proxy::parse(e) {
            Ok(p) => out.push(p),
            Err(err) => return Err(LoadError::Diagnostics { name: "<expr>".into(), text: e.clone(), diagnostics: err.0 }),
        }
    }
    Ok(out)
}

/// The stdlib proxies, all of them but `skip` (names that do not exist are an error).
pub fn stdlib_proxies(skip: &[String]) -> Result<Vec<Proxy>, LoadError> {
    let defs = super::stdlib::definitions();
    if let Some(s) = skip.iter().find(|s| !defs.iter().any(|d| &&d.name == s)) {
        return Err(LoadError::NoStdlib(s.clone()));
    }
    Ok(defs.into_iter().filter(|d| !skip.contains(&d.name)).map(Proxy::from).collect())
}
