//! Architecture invariants the compiler does not check, checked on the source text.
//!
//! * Model families live behind one interface: outside its own module (`src/family/<name>/`) and
//!   the registry (`src/family/mod.rs`), no code names a family. Comments and unit tests may.
//! * The core (language, interpreter, statistics, ranking and search over a source of inputs)
//!   does not use burn.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file: lines before its unit tests, without `//` comments.
fn code(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .enumerate()
        .take_while(|(_, l)| l.trim() != "#[cfg(test)]")
        .map(|(i, l)| (i + 1, l.split("//").next().unwrap_or("").to_owned()))
        .collect()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_family_is_named_outside_its_module_and_the_registry() {
    let root = src();
    let families: Vec<String> = std::fs::read_dir(root.join("family"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(families.len() >= 3, "{families:?}");
    // The names as they are written in code: module names, type prefixes, titles.
    let needles = ["flexibert", "flexiarch", "flexispace", "flexilayer", "gpt2", "gpt-2", "gpt_2", "transxl", "transformer-xl", "transformer_xl", "txl", "llama"];
    let mut files = vec![];
    rust_files(&root, &mut files);
    let mut found = vec![];
    for f in files {
        let rel = f.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        if rel == "family/mod.rs" || families.iter().any(|fam| rel.starts_with(&format!("family/{fam}/"))) {
            continue;
        }
        for (n, line) in code(&f) {
            let lower = line.to_lowercase();
            if let Some(w) = needles.iter().find(|w| lower.contains(*w)) {
                found.push(format!("src/{rel}:{n}: `{w}` in: {}", line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "family names outside their modules:\n{}", found.join("\n"));
}

#[test]
fn the_core_does_not_use_burn() {
    let root = src();
    let core = ["lang", "eval", "stats", "search", "rank", "source", "progress.rs", "stop.rs", "fsutil.rs", "parallel.rs", "plot.rs"];
    let mut found = vec![];
    for part in core {
        let mut files = vec![];
        let p = root.join(part);
        if p.is_dir() {
            rust_files(&p, &mut files);
        } else {
            files.push(p);
        }
        for f in files {
            for (n, line) in code(&f) {
                let models_layer = ["burn::", "crate::gather", "crate::family", "crate::models", "crate::bench", "crate::train", "crate::device", "crate::speed", "crate::cli", "crate::repl", "anyhow", "clap::"];
                if models_layer.iter().any(|m| line.contains(m)) {
                    found.push(format!("{}:{n}: {}", f.display(), line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "the core reaches into the models layer:\n{}", found.join("\n"));
}
