//! A disk cache of gathered inputs, so that ranking a new proxy on architectures gathered before
//! reads them back instead of running the models again.
//!
//! Layout: `<root>/<family>-<key hash>/<architecture id>-<definition hash>.safetensors`. Each
//! file is an inputs file ([`crate::eval::file`], the same format `lpzero gather` writes and
//! other frameworks can write), whose name carries a hash of the architecture's whole definition
//! (two benchmarks that reuse an id for different networks never share a file). The key is a
//! hash of everything that determines the inputs: the family, the gather version
//! ([`super::GATHER_VERSION`], bumped with every change that can alter gathered numbers, so
//! inputs gathered by older code are never read back), the fidelity, the minibatch (batch,
//! sequence length, seed), a hash of the corpus text, and the device. `<root>/<key>/key.json`
//! says what the key stands for; `lpzero cache info` lists the keys, `lpzero cache clear`
//! empties the cache (or delete the folder).
//!
//! A file holds the inputs that were asked for (and any it held before): a weight-only proxy
//! caches weights only, and a later proxy that reads activations gathers those (a forward pass)
//! and the file grows.
//!
//! Bounds: memory holds one architecture at a time (the reader builds one [`ProxyInputs`]); disk
//! is capped by a byte budget over the whole root, every key together. When a new file would
//! exceed it, the least recently used files (by modification time, which a read refreshes) are
//! removed until it fits; a file larger than the whole budget is not written. Nothing is
//! written when the disk would be left with less than [`FREE_DISK_RESERVE`] bytes. A write that
//! fails (a full disk) removes its temporary file and is not an error: the inputs are in hand. A
//! file that cannot be read back (truncated, corrupt, another format) is ignored and the
//! architecture is gathered again.

use super::{GatherOptions, Gathered};
use crate::eval::file::{self, Check, InputsMeta};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What the cache leaves free on the disk: it does not write a file that would leave less.
pub const FREE_DISK_RESERVE: u64 = 1 << 30;

const EXTENSION: &str = "safetensors";

/// Where cached inputs live and how much disk they may take.
#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
    dir: PathBuf,
    budget_bytes: u64,
}

/// What identifies a set of gathered inputs besides the architecture.
#[derive(Serialize)]
struct Key<'a> {
    family: &'a str,
    gather_version: u32,
    fidelity: crate::models::Fidelity,
    batch: usize,
    seq_len: usize,
    seed: u64,
    corpus_fnv64: String,
    device: crate::device::DeviceKind,
    /// Absent for the first minibatch and initialisation (so their keys are those of before).
    #[serde(skip_serializing_if = "crate::source::Variant::is_first")]
    variant: crate::source::Variant,
}

/// The default cache root: `$LPZERO_CACHE`, else `$XDG_CACHE_HOME/lpzero`, else
/// `~/.cache/lpzero`.
pub fn default_root() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LPZERO_CACHE") {
        return Some(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(p).join("lpzero"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("lpzero"))
}

/// The key folders under a root (not the built-in benchmarks' `bench/`).
fn key_dirs(root: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(root)
        .map(|d| d.filter_map(Result::ok).filter(|e| e.file_type().is_ok_and(|t| t.is_dir()) && e.path().join("key.json").exists()).map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// The input files under a root, with their size and modification time.
fn files(root: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut out = vec![];
    for dir in key_dirs(root) {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_file() && e.file_name() != "key.json" {
                out.push((e.path(), m.len(), m.modified().unwrap_or(std::time::UNIX_EPOCH)));
            }
        }
    }
    out
}

impl Cache {
    /// The cache for one family, fidelity, minibatch and corpus under `root`; it keeps
    /// everything under `root` (all keys) within `budget_bytes`.
    pub fn open(root: &Path, family: crate::family::FamilyRef, opts: &GatherOptions, corpus: &super::text::Corpus, budget_bytes: u64) -> std::io::Result<Cache> {
        let family = family.name();
        let key = Key {
            family,
            gather_version: super::GATHER_VERSION,
            fidelity: opts.fidelity,
            batch: opts.batch,
            seq_len: opts.seq_len,
            seed: opts.seed,
            corpus_fnv64: format!("{:016x}", corpus.hash),
            device: opts.device,
            variant: opts.variant,
        };
        let json = serde_json::to_string_pretty(&key).expect("the key serialises");
        let dir = root.join(format!("{family}-{:016x}", super::text::hash_str(&json)));
        std::fs::create_dir_all(&dir)?;
        let key_file = dir.join("key.json");
        if !key_file.exists() {
            crate::fsutil::write_atomic(&key_file, json.as_bytes())?;
        }
        Ok(Cache { root: root.to_path_buf(), dir, budget_bytes })
    }

    /// The cache under the same root and budget for other gather options.
    pub fn with_options(&self, family: crate::family::FamilyRef, opts: &GatherOptions, corpus: &super::text::Corpus) -> std::io::Result<Cache> {
        Cache::open(&self.root, family, opts, corpus, self.budget_bytes)
    }

    /// The directory of this key.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, id: &str) -> PathBuf {
        let safe: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
        self.dir.join(format!("{safe}.{EXTENSION}"))
    }

    /// Bytes used by this key's files.
    pub fn used_bytes(&self) -> u64 {
        std::fs::read_dir(&self.dir).map(|d| d.filter_map(Result::ok).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
    }

    /// Bytes used by every key under the cache root: what the budget bounds.
    pub fn root_used_bytes(&self) -> u64 {
        files(&self.root).iter().map(|f| f.1).sum()
    }

    /// The cached inputs of an architecture, if a readable file is there (reading marks it as
    /// recently used).
    pub fn load(&self, id: &str) -> Option<Gathered> {
        let path = self.path(id);
        let bytes = std::fs::read(&path).ok()?;
        let (inputs, meta) = file::from_bytes(&bytes, &path.display().to_string(), id, Check::Structure).ok()?;
        if let Ok(f) = std::fs::File::options().append(true).open(&path) {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
        Some(Gathered {
            inputs,
            loss: meta.loss,
            params: meta.params.unwrap_or(0) as usize,
            seconds: 0.0,
            phases: super::GatherPhases::default(),
            modules: meta.modules,
            minibatch: meta.minibatch,
        })
    }

    /// Makes room for `size` more bytes within the budget by removing the least recently used
    /// files (of any key); `false` when it cannot.
    fn make_room(&self, size: u64) -> bool {
        if size > self.budget_bytes {
            return false;
        }
        let mut all = files(&self.root);
        let mut used: u64 = all.iter().map(|f| f.1).sum();
        all.sort_by_key(|f| f.2);
        for (path, len, _) in all {
            if used + size <= self.budget_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                used -= len;
            }
        }
        used + size <= self.budget_bytes
    }

    /// Writes an architecture's inputs when they fit in the budget (evicting the least recently
    /// used files) and on the disk; returns whether it wrote.
    pub fn store(&self, id: &str, g: &Gathered, meta: &InputsMeta) -> std::io::Result<bool> {
        let size = g.inputs.numel() as u64 * 4 + 4096;
        if crate::fsutil::free_bytes(&self.dir).is_some_and(|free| free < size + FREE_DISK_RESERVE) {
            return Ok(false);
        }
        if !self.make_room(size) {
            return Ok(false);
        }
        file::write(&self.path(id), &g.inputs, meta).map(|()| true)
    }
}

/// The name of an architecture's file: its id and a hash of its whole definition.
pub fn file_id(arch: &dyn crate::family::Arch) -> String {
    format!("{}-{:08x}", arch.id(), super::text::hash_str(&arch.definition()) as u32)
}

/// Gathers the inputs `need` lists of an architecture through the cache: read back when a
/// cached file holds them all; else the ones it lacks are gathered, joined to what it held (the
/// same numbers a full gather gives, so a file only grows) and written (within the budget). The
/// `bool` says whether it came from the cache. The inputs returned may hold more than `need`.
pub fn gather_cached(
    arch: &dyn crate::family::Arch,
    corpus: &super::text::Corpus,
    opts: &GatherOptions,
    device: &burn::tensor::Device,
    cache: Option<&Cache>,
    need: &[crate::lang::table::InputId],
) -> Result<(Gathered, bool), super::GatherError> {
    let id = file_id(arch);
    let start = std::time::Instant::now();
    let held = cache.and_then(|c| c.load(&id));
    let missing: Vec<_> = need.iter().copied().filter(|&i| held.as_ref().is_none_or(|g| g.inputs.get(i).is_none())).collect();
    let mut g = match held {
        Some(mut g) if missing.is_empty() => {
            g.seconds = start.elapsed().as_secs_f64();
            return Ok((g, true));
        }
        Some(g) => super::gather(arch, corpus, opts, device, &missing)?.absorb(g)?,
        None => super::gather(arch, corpus, opts, device, &missing)?,
    };
    g.seconds = start.elapsed().as_secs_f64();
    if let Some(c) = cache {
        // A cache that cannot be written is not an error: the inputs are in hand.
        let _ = c.store(&id, &g, &super::meta(arch, opts, corpus, &g));
    }
    Ok((g, false))
}

/// One key of the cache, for `lpzero cache info`.
#[derive(Clone, Debug, Serialize)]
pub struct KeyInfo {
    /// The folder name.
    pub name: String,
    /// Files.
    pub files: usize,
    /// Bytes.
    pub bytes: u64,
    /// What it stands for, in one line.
    pub summary: String,
}

/// What a cache root holds.
#[derive(Clone, Debug, Serialize)]
pub struct CacheInfo {
    /// Input files in all.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Per key.
    pub keys: Vec<KeyInfo>,
}

/// Lists the keys under a cache root.
pub fn info(root: &Path) -> std::io::Result<CacheInfo> {
    let mut keys = vec![];
    for dir in key_dirs(root) {
        let entries: Vec<u64> = std::fs::read_dir(&dir)?.filter_map(Result::ok).filter(|e| e.file_name() != "key.json").filter_map(|e| e.metadata().ok()).map(|m| m.len()).collect();
        let summary = std::fs::read_to_string(dir.join("key.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.as_object().map(|o| o.iter().map(|(k, v)| format!("{k} {}", v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))).collect::<Vec<_>>().join(", ")))
            .unwrap_or_default();
        keys.push(KeyInfo { name: dir.file_name().unwrap_or_default().to_string_lossy().into_owned(), files: entries.len(), bytes: entries.iter().sum(), summary });
    }
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(CacheInfo { files: keys.iter().map(|k| k.files).sum(), bytes: keys.iter().map(|k| k.bytes).sum(), keys })
}

/// Removes every key folder under a root (and the built-in benchmarks when `all`); returns how
/// many folders were removed.
pub fn clear(root: &Path, all: bool) -> std::io::Result<usize> {
    let mut n = 0;
    for dir in key_dirs(root) {
        std::fs::remove_dir_all(&dir)?;
        n += 1;
    }
    let bench = root.join("bench");
    if all && bench.is_dir() {
        std::fs::remove_dir_all(&bench)?;
        n += 1;
    }
    Ok(n)
}

/// Where gathered inputs are cached and how much disk they may take: what the front ends' cache
/// flags (`--cache DIR`, `--no-cache`, `--cache-budget GIB`) say.
#[derive(Clone, Debug)]
pub struct CacheSettings {
    /// The cache root [default: [`default_root`]].
    pub root: Option<PathBuf>,
    /// Whether to read and write cached inputs at all.
    pub enabled: bool,
    /// The byte budget over the whole root.
    pub budget_bytes: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings { root: None, enabled: true, budget_bytes: 20 << 30 }
    }
}

impl CacheSettings {
    /// The cache root in use: the given one, else [`default_root`]. (Built-in benchmarks live
    /// under it too, whether input caching is on or not.)
    pub fn root(&self) -> Option<PathBuf> {
        self.root.clone().or_else(default_root)
    }

    /// The cache for a family, gather options and corpus; `Ok(None)` when caching is off or no
    /// root can be found.
    pub fn open(&self, family: crate::family::FamilyRef, opts: &GatherOptions, corpus: &super::text::Corpus) -> std::io::Result<Option<Cache>> {
        if !self.enabled {
            return Ok(None);
        }
        let Some(root) = self.root() else { return Ok(None) };
        Cache::open(&root, family, opts, corpus, self.budget_bytes).map(Some).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", root.display())))
    }
}
