//! `lpzero repl` driven as users drive it: through a pseudo-terminal (typing, Tab completion,
//! Ctrl-C, multi-line input, history) and through a pipe (plain output for scripts).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A fresh home directory for one test, so that history never touches the user's files.
fn home(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("repl-home").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn repl(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lpzero"));
    c.arg("repl")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env("LPZERO_CACHE", Path::new(env!("CARGO_TARGET_TMPDIR")).join("repl-cache"))
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("TERM", "xterm");
    c
}

/// Runs a script through stdin; returns (exit code, stdout, stderr).
fn piped(home: &Path, args: &[&str], script: &str) -> (Option<i32>, String, String) {
    let mut child = repl(home, args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the binary runs");
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Types text into the terminal (no Enter).
fn typ(p: &mut rexpect::session::PtySession, text: &str) {
    p.send(text).unwrap();
    p.flush().unwrap();
}

/// Types a line and presses Enter.
fn enter(p: &mut rexpect::session::PtySession, line: &str) {
    typ(p, &format!("{line}\r"));
}

#[test]
fn a_terminal_session() {
    let home = home("pty");
    let opts = rexpect::reader::Options::new().timeout_ms(Some(60_000)).strip_ansi_escape_codes(false);
    let mut p = rexpect::session::spawn_with_options(repl(&home, &[]), opts).expect("a pseudo-terminal");
    p.exp_string("lpzero> ").unwrap();

    // The raw terminal output is matched (rustyline's redraws are escape sequences around
    // plain text), so expected strings are ones the REPL writes in one piece.
    // Tab completes the only op that starts with `fr`, with its parenthesis.
    typ(&mut p, "sum(fr");
    typ(&mut p, "\t");
    p.exp_string("sum(fro(").unwrap();
    typ(&mut p, "G))");
    typ(&mut p, "\r");
    p.exp_string("sum(fro(G)) : one number").unwrap();

    // An error is drawn as a diagnostic pointing into the line, and the session goes on.
    enter(&mut p, "sum(abz(G))");
    p.exp_string("[E102] Error: unknown op `abz`").unwrap();
    p.exp_string("did you mean `abs`?").unwrap();

    // A definition is reused by a later expression.
    enter(&mut p, "snip = sum(abs(G * W))");
    p.exp_string("snip : one number").unwrap();
    enter(&mut p, "snip / sum(numel(W))");
    p.exp_string("snip / sum(numel(W)) : one number").unwrap();

    // An open bracket continues on the next line.
    enter(&mut p, "sum(sq(");
    enter(&mut p, "W))");
    p.exp_string("sum(sq(W)) : one number").unwrap();

    // Ctrl-C clears the line; the next input is read as usual.
    typ(&mut p, "qqq is not finished");
    p.exp_string("qqq is not finished").unwrap();
    p.send_control('c').unwrap();
    // Input typed ahead of the new prompt may be dropped after Ctrl-C: wait for it.
    p.exp_string("lpzero> ").unwrap();
    enter(&mut p, ":type G * W");
    p.exp_string("matrix [out, in] entries, one entry per linear layer").unwrap();

    enter(&mut p, ":quit");
    p.exp_eof().unwrap();

    let history = std::fs::read_to_string(home.join("data/lpzero/history")).expect("the history is written");
    assert!(history.contains("snip = sum(abs(G * W))"), "{history}");
}

#[test]
fn a_piped_session_is_plain_text() {
    let home = home("pipe");
    let saved = home.join("session.proxy");
    let script = format!(
        "# a comment line is skipped\n\
         snip = sum(abs(G * W))\n\
         snip * 2\n\
         sum(abz(G))\n\
         :type sum(fro(G))\n\
         :lint sum(abs(abs(G)))\n\
         sum(abs(\n  G))\n\
         :no-such-command\n\
         :save {}\n\
         :quit\n\
         sum(G)\n",
        saved.display()
    );
    let (code, out, err) = piped(&home, &[], &script);
    assert_eq!(code, Some(1), "an input ended in an error: {out}\n{err}");
    assert!(!out.contains('\x1b') && !out.contains("lpzero>"), "no colour, no prompt: {out}");
    assert!(out.contains("snip : one number"), "{out}");
    assert!(out.contains("snip * 2 : one number"), "{out}");
    assert!(out.contains("[E102] Error: unknown op `abz`") && out.contains("<repl>:1:5"), "{out}");
    assert!(out.contains("sum(fro(G))   one number\n  fro(G)      scalar entries, one entry per linear layer\n    G         matrix [out, in] entries"), "{out}");
    assert!(out.contains("[L102] Warning"), "{out}");
    assert!(out.contains("sum(abs(G)) : one number"), "{out}");
    assert!(out.contains("unknown command `:no-such-command`"), "{out}");
    // Everything after :quit is left unread.
    assert!(!out.contains("sum(G) :"), "{out}");
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), "snip = sum(abs(G * W))\n");
    // `:load` reads it back in a later session.
    let (code, out, _) = piped(&home, &[], &format!(":load {}\nsnip + 1\n:defs\n", saved.display()));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("loaded 1 definition from") && out.contains("snip + 1 : one number"), "{out}");
    assert!(!home.join("data").exists(), "a piped session keeps no history");
}

#[test]
fn a_loaded_benchmark_ranks_expressions_beside_the_baselines() {
    let home = home("bench");
    let script = "sum(fro(G))\n:arch 0 sum(fro(G))\n:arch 0\n:arch nope\n:bench tests/fixtures/bench/flexibert.json --archs 1\n";
    let (code, out, err) = piped(&home, &["--bench", "tests/fixtures/bench/flexibert.json", "--archs", "2", "--batch", "2", "--seq-len", "16"], script);
    assert_eq!(code, Some(1), "`:arch nope` is an error: {out}\n{err}");
    assert!(out.contains("loaded 2 architectures of tests/fixtures/bench/flexibert.json (batch 2 × 16"), "{out}");
    let row = out.lines().find(|l| l.starts_with("sum(fro(G)) ")).expect("a row for the expression");
    assert!(row.contains("2/2"), "{row}");
    assert!(out.contains("params (total)") && out.contains("layers, then hidden size"), "{out}");
    assert!(out.contains("0: ground truth"), "{out}");
    assert!(out.contains("sum(fro(G))\n  = ") && out.contains("  fro(G)\n    = "), "{out}");
    assert!(out.contains("no architecture `nope` is loaded; loaded: 0, 1"), "{out}");
    assert!(out.contains("loaded 1 architecture of"), "{out}");
}
