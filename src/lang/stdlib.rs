//! The standard library: the proxy files under `stdlib/`, compiled into the binary so that
//! `--stdlib` works wherever lpzero is installed.

use super::check::CheckedDefinition;

/// One bundled proxy file.
#[derive(Clone, Copy, Debug)]
pub struct StdlibFile {
    /// File name under `stdlib/`.
    pub name: &'static str,
    /// Its text.
    pub text: &'static str,
}

/// Every file of `stdlib/`, by name (the list is made by the build script).
pub const FILES: &[StdlibFile] = include!(concat!(env!("OUT_DIR"), "/stdlib_files.rs"));

/// Every stdlib definition, checked, in file order. The stdlib is tested to be free of errors.
pub fn definitions() -> Vec<CheckedDefinition> {
    FILES.iter().flat_map(|f| super::analyze_file(f.text).definitions).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_the_folder_is_bundled() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/stdlib");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".proxy"))
            .collect();
        on_disk.sort();
        let bundled: Vec<String> = FILES.iter().map(|f| f.name.to_owned()).collect();
        assert_eq!(on_disk, bundled);
    }

    #[test]
    fn stdlib_has_no_errors_and_one_definition_per_file() {
        for f in FILES {
            let a = super::super::analyze_file(f.text);
            assert!(!a.has_errors(), "{}: {:?}", f.name, a.diagnostics);
            assert_eq!(a.definitions.len(), 1, "{}", f.name);
            assert_eq!(format!("{}.proxy", a.definitions[0].name), f.name);
        }
    }
}
