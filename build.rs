//! Build script: bundles every proxy file of `stdlib/` into the binary (the list is made here, so
//! adding a stdlib proxy is adding its file).

use std::io::Write;

fn main() {
    // Read at run time: a build script compiled for one checkout may be reused for another.
    let dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("stdlib");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("the stdlib folder exists")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".proxy"))
        .collect();
    names.sort();
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("stdlib_files.rs");
    let mut f = std::fs::File::create(out).expect("OUT_DIR is writable");
    writeln!(f, "&[").unwrap();
    for n in names {
        let path = dir.join(&n);
        writeln!(f, "    StdlibFile {{ name: {n:?}, text: include_str!({:?}) }},", path.display().to_string()).unwrap();
    }
    writeln!(f, "]").unwrap();
}
