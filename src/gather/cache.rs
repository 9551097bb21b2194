//! A disk cache of gathered inputs, so that ranking a new proxy on architectures gathered before
//! reads them back instead of running the models again.
//!
//! Layout: `<root>/<key>/<architecture id>-<model hash>.lpzin`, where the model hash is a hash of
//! the architecture's whole definition (two benchmarks that reuse an id for different networks,
//! such as a built one and a published one, never share a file), and `<key>` is a hash of everything that
//! determines the inputs: the benchmark family, the fidelity, the minibatch (batch, sequence
//! length, seed), a hash of the corpus text, and the lpzero version (a new version may gather
//! differently, so it never reads an older one's files). `<root>/<key>/key.json` says what the
//! key stands for. One file per architecture: the magic line `LPZIN1`, a little-endian `u32`
//! header length, a JSON header (loss, parameter count, gather seconds, then per input its
//! entries' shapes), and the f32 values in little-endian order, entry after entry. Files are
//! written to a temporary name and renamed, so an interrupted write leaves no partial file.
//!
//! Bounds: memory holds one architecture at a time (the reader builds one [`ProxyInputs`]);
//! disk is capped by a byte budget over the whole cache root, every key together (one budget
//! per key let a few seeds fill a disk): once the root holds more than the budget, new
//! architectures are gathered but not written (nothing is evicted). A write that fails (a full
//! disk) removes its temporary file and is not an error: the inputs are in hand. A file that cannot be read
//! back (truncated, corrupt, another format) is ignored and the architecture is gathered again.

use super::{GatherOptions, Gathered};
use crate::eval::{ProxyInputs, TensorEntry};
use crate::lang::table::{self, InputId};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8] = b"LPZIN1\n";

/// Where cached inputs live and how much disk they may take.
#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
    dir: PathBuf,
    budget_bytes: u64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    loss: f64,
    params: usize,
    seconds: f64,
    inputs: Vec<(String, Vec<Vec<usize>>)>,
}

/// What identifies a set of gathered inputs besides the architecture.
#[derive(Serialize)]
struct Key<'a> {
    family: &'a str,
    fidelity: crate::models::Fidelity,
    batch: usize,
    seq_len: usize,
    seed: u64,
    corpus_fnv64: String,
    device: crate::device::DeviceKind,
    lpzero: &'static str,
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

impl Cache {
    /// The cache for one family, fidelity, minibatch and corpus under `root`; it writes only while
    /// everything under `root` (all keys) holds at most `budget_bytes`.
    pub fn open(root: &Path, family: crate::bench::Family, opts: &GatherOptions, corpus: &super::text::Corpus, budget_bytes: u64) -> std::io::Result<Cache> {
        let family = match family {
            crate::bench::Family::Flexibert => "flexibert",
            crate::bench::Family::Gpt2 => "gpt2",
        };
        let key = Key {
            family,
            fidelity: opts.fidelity,
            batch: opts.batch,
            seq_len: opts.seq_len,
            seed: opts.seed,
            corpus_fnv64: format!("{:016x}", corpus.hash),
            device: opts.device,
            lpzero: env!("CARGO_PKG_VERSION"),
        };
        let json = serde_json::to_string_pretty(&key).expect("the key serialises");
        let dir = root.join(format!("{family}-{:016x}", super::text::hash_str(&json)));
        std::fs::create_dir_all(&dir)?;
        let key_file = dir.join("key.json");
        if !key_file.exists() {
            std::fs::write(&key_file, json)?;
        }
        Ok(Cache { root: root.to_path_buf(), dir, budget_bytes })
    }

    /// The directory of this key.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, id: &str) -> PathBuf {
        let safe: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
        self.dir.join(format!("{safe}.lpzin"))
    }

    /// Bytes used by this key's files.
    pub fn used_bytes(&self) -> u64 {
        dir_bytes(&self.dir)
    }

    /// Bytes used by every key under the cache root: what the budget bounds.
    pub fn root_used_bytes(&self) -> u64 {
        std::fs::read_dir(&self.root)
            .map(|d| d.filter_map(Result::ok).filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| dir_bytes(&e.path())).sum())
            .unwrap_or(0)
    }

    /// The cached inputs of an architecture, if a readable file is there.
    pub fn load(&self, id: &str, device: &Device) -> Option<Gathered> {
        let mut f = std::io::BufReader::new(std::fs::File::open(self.path(id)).ok()?);
        let mut magic = [0u8; 7];
        f.read_exact(&mut magic).ok()?;
        if magic != MAGIC {
            return None;
        }
        let mut len = [0u8; 4];
        f.read_exact(&mut len).ok()?;
        let mut header = vec![0u8; u32::from_le_bytes(len) as usize];
        f.read_exact(&mut header).ok()?;
        let header: Header = serde_json::from_slice(&header).ok()?;
        let mut inputs = ProxyInputs::new(device.clone());
        let mut bytes = vec![];
        for (name, shapes) in &header.inputs {
            let id = table::input_by_name(name)?.id;
            let mut entries = vec![];
            for shape in shapes {
                let n: usize = shape.iter().product();
                bytes.resize(n * 4, 0);
                f.read_exact(&mut bytes).ok()?;
                let values: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                entries.push(TensorEntry::from_f32(shape, &values).ok()?);
            }
            inputs.insert(id, entries).ok()?;
        }
        // Nothing may follow the last entry.
        if f.read(&mut [0u8; 1]).ok()? != 0 {
            return None;
        }
        Some(Gathered { inputs, loss: header.loss, params: header.params, seconds: 0.0, phases: super::GatherPhases::default() })
    }

    /// Writes an architecture's inputs unless the budget is spent; returns whether it wrote.
    pub fn store(&self, id: &str, g: &Gathered) -> std::io::Result<bool> {
        let size = g.inputs.numel() as u64 * 4;
        if self.root_used_bytes() + size > self.budget_bytes {
            return Ok(false);
        }
        let present: Vec<InputId> = g.inputs.present().collect();
        let header = Header {
            loss: g.loss,
            params: g.params,
            seconds: g.seconds,
            inputs: present
                .iter()
                .map(|&i| (table::input(i).name.to_owned(), g.inputs.get(i).unwrap_or_default().iter().map(|e| e.shape.clone()).collect()))
                .collect(),
        };
        let header = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
        let path = self.path(id);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = write_file(&tmp, &header, &present, g).and_then(|()| std::fs::rename(&tmp, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map(|()| true)
    }
}

/// Bytes held by the files directly in `dir` (0 when it cannot be read).
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map(|d| d.filter_map(Result::ok).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
}

/// Writes one architecture's file (see the module docs for the format).
fn write_file(tmp: &Path, header: &[u8], present: &[InputId], g: &Gathered) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(tmp)?);
    f.write_all(MAGIC)?;
    f.write_all(&(header.len() as u32).to_le_bytes())?;
    f.write_all(header)?;
    for &i in present {
        for e in g.inputs.get(i).unwrap_or_default() {
            for v in e.data.iter() {
                f.write_all(&v.to_le_bytes())?;
            }
        }
    }
    f.flush()
}

/// The name of an architecture's file: its id and a hash of its whole definition.
pub fn file_id(arch: crate::models::ArchRef<'_>) -> String {
    format!("{}-{:08x}", arch.id(), super::text::hash_str(&format!("{arch:?}")) as u32)
}

/// Gathers an architecture through the cache: read back when cached, else gathered and written
/// (within the budget). The `bool` says whether it came from the cache.
pub fn gather_cached(
    arch: crate::models::ArchRef<'_>,
    corpus: &super::text::Corpus,
    opts: &GatherOptions,
    device: &Device,
    cache: Option<&Cache>,
) -> Result<(Gathered, bool), super::GatherError> {
    let id = file_id(arch);
    let start = std::time::Instant::now();
    if let Some(mut g) = cache.and_then(|c| c.load(&id, device)) {
        g.seconds = start.elapsed().as_secs_f64();
        return Ok((g, true));
    }
    let g = super::gather(arch, corpus, opts, device)?;
    if let Some(c) = cache {
        // A cache that cannot be written is not an error: the inputs are in hand.
        let _ = c.store(&id, &g);
    }
    Ok((g, false))
}
