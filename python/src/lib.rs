//! The Python extension `lpzero._lpzero`: a thin layer over lpzero's core. Values cross the
//! boundary as plain Python types (strings, bytes, lists) and reports as JSON text; the Pythonic
//! API (`lpzero.Proxy`, `lpzero.Inputs`, numpy arrays) is in `lpzero/__init__.py`. Long work
//! (scoring, ranking, searching) runs with the GIL released.

use lpzero::eval::file::{self, Check, InputsMeta};
use lpzero::eval::{ProxyInputs, TensorEntry};
use lpzero::lang::{self, diagnostic, table, Proxy};
use lpzero::progress::Silent;
use lpzero::rank::Baseline;
use lpzero::search::candidate::{paper_unary_ops, SearchSpace, ShapeKind};
use lpzero::search::run::{self, Outcome, RunOptions, RunSettings, Start};
use lpzero::search::SearchConfig;
use lpzero::source::memory::MemorySource;
use lpzero::source::SourceInfo;
use lpzero::stop::Stop;
use pyo3::exceptions::{PyKeyError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::PathBuf;

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// The analysis of proxy text as JSON: `{"definitions": [{"name", "text", "inputs"}],
/// "diagnostics": [...]}` (diagnostics with 1-based lines and columns, as `lpzero lint
/// --format json` writes them).
#[pyfunction]
fn analyze(text: &str, is_expr: bool, source: &str) -> String {
    let a = if is_expr { lang::analyze_expr(text) } else { lang::analyze_file(text) };
    let defs: Vec<serde_json::Value> = a
        .definitions
        .iter()
        .map(|d| {
            let p = Proxy::from(d.clone());
            serde_json::json!({"name": p.name, "text": p.text(), "inputs": p.typed.inputs().iter().map(|i| table::input(*i).name).collect::<Vec<_>>()})
        })
        .collect();
    let diags: Vec<diagnostic::JsonDiagnostic> = a.diagnostics.iter().map(|d| diagnostic::to_json(d, source, text)).collect();
    serde_json::json!({"definitions": defs, "diagnostics": diags}).to_string()
}

/// The stdlib as JSON: `[{"name", "text"}]`.
#[pyfunction]
fn stdlib() -> String {
    let defs: Vec<serde_json::Value> = lang::stdlib::definitions().into_iter().map(Proxy::from).map(|p| serde_json::json!({"name": p.name, "text": p.text()})).collect();
    serde_json::Value::Array(defs).to_string()
}

/// The inputs and ops of the language as JSON (what `lpzero ops --format json` prints).
#[pyfunction]
fn ops() -> String {
    serde_json::json!({"inputs": table::INPUTS, "ops": table::OPS}).to_string()
}

/// Proxies from `(name, expression)` pairs.
fn proxies(list: &[(String, String)]) -> PyResult<Vec<Proxy>> {
    list.iter()
        .map(|(name, text)| {
            let p = Proxy::parse(text).map_err(|e| value_error(format!("`{text}`: {}", e.0.iter().map(|d| d.message.clone()).collect::<Vec<_>>().join("; "))))?;
            Ok(Proxy { name: name.clone(), ..p })
        })
        .collect()
}

/// One architecture's proxy inputs.
#[pyclass(module = "lpzero._lpzero", name = "RawInputs")]
#[derive(Clone)]
struct RawInputs {
    inputs: ProxyInputs,
    meta: InputsMeta,
}

#[pymethods]
impl RawInputs {
    /// No inputs yet, for architecture `arch`.
    #[new]
    fn new(arch: String) -> Self {
        RawInputs { inputs: ProxyInputs::new(), meta: InputsMeta { arch, ..InputsMeta::default() } }
    }

    /// Sets input `name` from its entries: `shapes[k]` and little-endian f32 bytes `data[k]`.
    fn insert(&mut self, name: &str, shapes: Vec<Vec<usize>>, data: Vec<Vec<u8>>) -> PyResult<()> {
        let spec = table::input_by_name(name).ok_or_else(|| PyKeyError::new_err(format!("`{name}` is not an input (inputs are {})", table::INPUTS.iter().map(|i| i.name).collect::<Vec<_>>().join(", "))))?;
        if shapes.len() != data.len() {
            return Err(value_error(format!("{} shapes for {} arrays", shapes.len(), data.len())));
        }
        let mut entries = Vec::with_capacity(shapes.len());
        for (k, (shape, bytes)) in shapes.iter().zip(&data).enumerate() {
            if bytes.len() % 4 != 0 {
                return Err(value_error(format!("{name}[{k}]: {} bytes are not f32 values", bytes.len())));
            }
            let values: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            entries.push(TensorEntry::from_f32(shape, &values).map_err(|e| value_error(format!("{name}[{k}]: {e}")))?);
        }
        self.inputs.insert(spec.id, entries).map_err(value_error)
    }

    /// The entries of input `name` as `(shape, f32 bytes)` pairs (empty when absent).
    fn get<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Vec<(Vec<usize>, Bound<'py, PyBytes>)>> {
        let spec = table::input_by_name(name).ok_or_else(|| PyKeyError::new_err(format!("`{name}` is not an input")))?;
        Ok(self
            .inputs
            .get(spec.id)
            .unwrap_or_default()
            .iter()
            .map(|e| {
                let mut bytes = Vec::with_capacity(e.data.len() * 4);
                for v in e.data.iter() {
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
                (e.shape.clone(), PyBytes::new(py, &bytes))
            })
            .collect())
    }

    /// The inputs present.
    fn names(&self) -> Vec<&'static str> {
        self.inputs.present().map(|i| table::input(i).name).collect()
    }

    /// The metadata as JSON.
    fn meta_json(&self) -> String {
        serde_json::to_string(&self.meta).expect("plain data")
    }

    /// Replaces the metadata (JSON of the same shape as [`RawInputs::meta_json`]).
    fn set_meta_json(&mut self, json: &str) -> PyResult<()> {
        self.meta = serde_json::from_str(json).map_err(value_error)?;
        Ok(())
    }

    /// Writes an inputs file (atomically).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        if let Some(why) = file::unpaired_gradient(&self.inputs) {
            return Err(value_error(why));
        }
        file::write(&path, &self.inputs, &self.meta).map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))
    }

    /// Reads an inputs file (`finite`: refuse NaN and inf).
    #[staticmethod]
    fn load(path: PathBuf, finite: bool) -> PyResult<RawInputs> {
        let (inputs, meta) = file::read(&path, if finite { Check::Finite } else { Check::Structure }).map_err(value_error)?;
        Ok(RawInputs { inputs, meta })
    }
}

/// Scores `(name, expression)` proxies on one architecture's inputs: JSON of the per-proxy
/// scores (`[{"proxy", "text", "score", "invalid", "eval_seconds"}]`).
#[pyfunction]
fn score(py: Python<'_>, list: Vec<(String, String)>, inputs: PyRef<'_, RawInputs>) -> PyResult<String> {
    let ps = proxies(&list)?;
    let inputs = inputs.inputs.clone();
    let scores = py.detach(move || lpzero::rank::score_all(&inputs, &ps));
    Ok(serde_json::to_string(&scores).expect("plain data"))
}

fn memory_source(inputs: Vec<PyRef<'_, RawInputs>>, ids: Vec<String>, truth: Vec<f64>, baselines: Vec<(String, Vec<f64>)>) -> PyResult<MemorySource> {
    let info = SourceInfo { bench: "memory".into(), family: None, truth: "truth".into(), settings: vec![] };
    let baselines = baselines.into_iter().map(|(name, scores)| Baseline { name, scores }).collect();
    MemorySource::new(inputs.iter().map(|i| i.inputs.clone()).collect(), ids, truth, baselines, info).map_err(value_error)
}

/// Ranks architectures (inputs in memory, ids, ground truth higher-is-better, baselines): JSON
/// of the report `lpzero rank --format json` prints.
#[pyfunction]
fn rank(py: Python<'_>, list: Vec<(String, String)>, inputs: Vec<PyRef<'_, RawInputs>>, ids: Vec<String>, truth: Vec<f64>, baselines: Vec<(String, Vec<f64>)>) -> PyResult<String> {
    let ps = proxies(&list)?;
    let source = memory_source(inputs, ids, truth, baselines)?;
    let report = py.detach(move || lpzero::rank::rank(&source, &ps, &Stop::new(), &Silent)).map_err(value_error)?;
    Ok(serde_json::to_string(&report).expect("plain data"))
}

/// Ranks a folder of inputs files with its ground-truth table (as `lpzero rank --inputs`).
#[pyfunction]
#[pyo3(signature = (list, dir, truth=None, truth_column=None, lower_is_better=false))]
fn rank_dir(py: Python<'_>, list: Vec<(String, String)>, dir: PathBuf, truth: Option<PathBuf>, truth_column: Option<String>, lower_is_better: bool) -> PyResult<String> {
    let ps = proxies(&list)?;
    let spec = lpzero::source::files::InputsSpec { inputs: dir, truth, truth_column, lower_is_better };
    let report = py
        .detach(move || -> Result<_, String> {
            let source = lpzero::source::files::InputsDir::open(&spec).map_err(|e| e.to_string())?;
            lpzero::rank::rank(&source, &ps, &Stop::new(), &Silent).map_err(|e| e.to_string())
        })
        .map_err(value_error)?;
    Ok(serde_json::to_string(&report).expect("plain data"))
}

/// Settings of an in-memory source in a checkpoint (a resumed run needs the same inputs again).
#[derive(Clone, serde::Serialize)]
struct MemorySpec {
    memory: usize,
}

/// Evolves a proxy on inputs in memory, with the command line's options (JSON:
/// `population, iterations, crossover, mutation, parent_pool, shape ("template"|"free"),
/// n_unary, max_size, read (input names), rps, random_search, seed, search_archs,
/// heldout_archs`); the run's files go to `out`. Returns the summary JSON (`summary.json`).
#[pyfunction]
fn evolve(py: Python<'_>, inputs: Vec<PyRef<'_, RawInputs>>, ids: Vec<String>, truth: Vec<f64>, baselines: Vec<(String, Vec<f64>)>, options: &str, out: PathBuf) -> PyResult<String> {
    let o: serde_json::Value = serde_json::from_str(options).map_err(value_error)?;
    let num = |k: &str, d: f64| o.get(k).and_then(serde_json::Value::as_f64).unwrap_or(d);
    let int = |k: &str, d: usize| o.get(k).and_then(serde_json::Value::as_u64).map_or(d, |v| v as usize);
    let opt_int = |k: &str| o.get(k).and_then(serde_json::Value::as_u64).map(|v| v as usize);
    let read: Vec<String> = o.get("read").and_then(|v| v.as_array()).map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default();
    let inputs_read = if read.is_empty() { lpzero::search::candidate::PAPER_INPUTS.to_vec() } else { lpzero::search::candidate::parse_inputs(&read).map_err(value_error)? };
    let shape = match o.get("shape").and_then(|v| v.as_str()).unwrap_or("template") {
        "template" => ShapeKind::Template { n_unary: int("n_unary", 2) },
        "free" => ShapeKind::Free { max_size: int("max_size", 12) },
        other => return Err(value_error(format!("shape `{other}`: template or free"))),
    };
    let seed = int("seed", 0) as u64;
    let config = SearchConfig {
        space: SearchSpace { shape, inputs: inputs_read, unary: paper_unary_ops(), binary: lang::syntax::BinOp::ALL.to_vec(), rps: o.get("rps").and_then(|v| v.as_bool()).unwrap_or(true) },
        population: int("population", 80),
        iterations: int("iterations", 1000),
        crossover: num("crossover", 0.5),
        mutation: num("mutation", 0.5),
        parent_pool: num("parent_pool", 0.1),
        seed,
        random_search: o.get("random_search").and_then(|v| v.as_bool()).unwrap_or(false),
        objective: lpzero::search::fitness::Objective {
            correlation: match o.get("fitness").and_then(|v| v.as_str()).unwrap_or("spearman") {
                "spearman" => lpzero::search::fitness::RankCorrelation::Spearman,
                "kendall" => lpzero::search::fitness::RankCorrelation::Kendall,
                other => return Err(value_error(format!("fitness `{other}`: spearman or kendall"))),
            },
            folds: int("folds", 0),
            parsimony: num("parsimony", 0.0),
            combine: lpzero::search::fitness::Combine::Worst,
        },
    };
    let n = inputs.len();
    let source = memory_source(inputs, ids, truth, baselines)?;
    let settings = RunSettings { source: MemorySpec { memory: n }, also: vec![], search_archs: opt_int("search_archs"), heldout_archs: opt_int("heldout_archs"), seed, compare: vec![], version: env!("CARGO_PKG_VERSION").into() };
    let outcome = py
        .detach(move || run::evolve(&out, &settings, Start::New(config), &[&source], &Stop::new(), &Silent, &RunOptions::default()))
        .map_err(value_error)?;
    match outcome {
        Outcome::Finished(s) => Ok(serde_json::to_string(&s).expect("plain data")),
        Outcome::Stopped { .. } => Err(value_error("the search stopped before it finished")),
    }
}

/// lpzero's core, for Python.
#[pymodule]
fn _lpzero(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RawInputs>()?;
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    m.add_function(wrap_pyfunction!(stdlib, m)?)?;
    m.add_function(wrap_pyfunction!(ops, m)?)?;
    m.add_function(wrap_pyfunction!(score, m)?)?;
    m.add_function(wrap_pyfunction!(rank, m)?)?;
    m.add_function(wrap_pyfunction!(rank_dir, m)?)?;
    m.add_function(wrap_pyfunction!(evolve, m)?)?;
    m.add("FORMAT_VERSION", file::VERSION)?;
    Ok(())
}
