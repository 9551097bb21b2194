//! Parameter declarations and their materialisation as burn tensors.
//!
//! A model is declared as a list of [`ParamSpec`]s (name, shape, initialiser, group); the same
//! list is what [`ParamStore::build`] turns into tensors and what parameter counts are summed
//! from, so a count can never disagree with the model that is run.

use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};
use std::collections::BTreeMap;

/// How a parameter is initialised.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
    /// N(0, std²).
    Normal(f64),
    /// N(mean, std²) (Transformer-XL's LayerNorm weights start at N(1, 0.02²)).
    NormalAround {
        /// The mean.
        mean: f64,
        /// The standard deviation.
        std: f64,
    },
    /// N(0, std²) redrawn outside ±2 std (TensorFlow's truncated normal).
    TruncatedNormal(f64),
    /// U(−a, a) with a = sqrt(6 / (fan_in + fan_out)) (Glorot/Xavier uniform).
    GlorotUniform,
}

/// One parameter tensor of a model.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// A dotted name, e.g. `layer.0.ffn.0.weight`.
    pub name: String,
    /// Its shape; linear weights are `[out, in]`.
    pub shape: Vec<usize>,
    /// Its initialiser.
    pub init: Init,
    /// Which count it belongs to (family-specific: `embedding`, `attn`, `ffn`, ...).
    pub group: &'static str,
    /// For word-embedding tables: a row set to zero after initialisation (a padding id).
    pub zero_row: Option<usize>,
}

impl ParamSpec {
    /// A parameter.
    pub fn new(name: impl Into<String>, shape: &[usize], init: Init, group: &'static str) -> Self {
        ParamSpec { name: name.into(), shape: shape.to_vec(), init, group, zero_row: None }
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Sum of elements of the specs in each group.
pub fn count_by_group(specs: &[ParamSpec]) -> BTreeMap<&'static str, u64> {
    let mut out = BTreeMap::new();
    for s in specs {
        *out.entry(s.group).or_insert(0) += s.numel() as u64;
    }
    out
}

/// Draws a parameter's initial values on the host, deterministically from `rng`.
pub fn initial_values(spec: &ParamSpec, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let n = spec.numel();
    let mut v: Vec<f32> = match spec.init {
        Init::Zeros => vec![0.0; n],
        Init::Ones => vec![1.0; n],
        Init::Normal(std) => {
            let d = Normal::new(0.0, std).expect("a positive std");
            (0..n).map(|_| d.sample(rng) as f32).collect()
        }
        Init::NormalAround { mean, std } => {
            let d = Normal::new(mean, std).expect("a positive std");
            (0..n).map(|_| d.sample(rng) as f32).collect()
        }
        Init::TruncatedNormal(std) => {
            let d = Normal::new(0.0, std).expect("a positive std");
            (0..n)
                .map(|_| loop {
                    let x: f64 = d.sample(rng);
                    if x.abs() <= 2.0 * std {
                        break x as f32;
                    }
                })
                .collect()
        }
        Init::GlorotUniform => {
            let (fan_out, fan_in) = match spec.shape[..] {
                [o, i] => (o, i),
                _ => (n, 1),
            };
            let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
            let d = Uniform::new_inclusive(-a, a).expect("a finite range");
            (0..n).map(|_| rng.sample(d) as f32).collect()
        }
    };
    if let (Some(row), [_, width]) = (spec.zero_row, &spec.shape[..]) {
        v[row * width..(row + 1) * width].iter_mut().for_each(|x| *x = 0.0);
    }
    v
}

/// A model's parameters as tensors on one device, by name.
#[derive(Clone, Debug)]
pub struct ParamStore {
    tensors: BTreeMap<String, (Tensor<2>, Vec<usize>)>,
}

impl ParamStore {
    /// Materialises the specs in order, from one seeded generator. With an autodiff device the
    /// tensors require gradients.
    pub fn build(specs: &[ParamSpec], seed: u64, device: &Device) -> ParamStore {
        ParamStore::from_values(ParamStore::initial(specs, seed), device)
    }

    /// The values [`ParamStore::build`] materialises: the specs in order, from one seeded
    /// generator, row-major.
    pub fn initial(specs: &[ParamSpec], seed: u64) -> Vec<(ParamSpec, Vec<f32>)> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        specs.iter().map(|s| (s.clone(), initial_values(s, &mut rng))).collect()
    }

    /// Materialises given values (a pretrained model's, row-major, one per spec, of the spec's
    /// size): the same layout as [`ParamStore::build`]. With an autodiff device the tensors
    /// require gradients.
    pub fn from_values(values: Vec<(ParamSpec, Vec<f32>)>, device: &Device) -> ParamStore {
        ParamStore::from_values_tracking(values, device, |_| true)
    }

    /// As [`ParamStore::from_values`], but on an autodiff device only the parameters `tracked`
    /// accepts require gradients; the others are constants, whose gradients a backward pass
    /// does not compute. The values, and the gradients of the tracked ones, are the same.
    pub fn from_values_tracking(values: Vec<(ParamSpec, Vec<f32>)>, device: &Device, tracked: impl Fn(&str) -> bool) -> ParamStore {
        let mut tensors = BTreeMap::new();
        for (s, v) in values {
            let (rows, cols) = match s.shape[..] {
                [n] => (1, n),
                [r, c] => (r, c),
                _ => (s.shape[..s.shape.len() - 1].iter().product(), *s.shape.last().unwrap_or(&1)),
            };
            let mut t = Tensor::<2>::from_data(TensorData::new(v, [rows, cols]), device);
            if device.is_autodiff() && tracked(&s.name) {
                t = t.require_grad();
            }
            tensors.insert(s.name, (t, s.shape));
        }
        ParamStore { tensors }
    }

    /// A matrix parameter (`[out, in]` for linear weights).
    pub fn matrix(&self, name: &str) -> Tensor<2> {
        self.tensors.get(name).unwrap_or_else(|| panic!("the model declares `{name}`")).0.clone()
    }

    /// A vector parameter.
    pub fn vector(&self, name: &str) -> Tensor<1> {
        let (t, shape) = self.tensors.get(name).unwrap_or_else(|| panic!("the model declares `{name}`"));
        t.clone().reshape([shape.iter().product::<usize>()])
    }

    /// A copy with one parameter shifted by `delta` (row-major, one value per element), for
    /// finite differences. The copy's tensors are new leaves on the same device.
    pub fn perturbed(&self, name: &str, delta: &[f64]) -> ParamStore {
        let mut tensors = BTreeMap::new();
        for (n, (t, shape)) in &self.tensors {
            let device = t.device();
            let dims = t.dims();
            let mut values: Vec<f32> = t.clone().inner().into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
            if n == name {
                values.iter_mut().zip(delta).for_each(|(v, d)| *v = (*v as f64 + d) as f32);
            }
            let mut fresh = Tensor::<2>::from_data(TensorData::new(values, dims), &device);
            if device.is_autodiff() {
                fresh = fresh.require_grad();
            }
            tensors.insert(n.clone(), (fresh, shape.clone()));
        }
        ParamStore { tensors }
    }

    /// A parameter's values on the host, row-major.
    pub fn values(&self, name: &str) -> Vec<f32> {
        self.matrix(name).inner().into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default()
    }

    /// Replaces a parameter's values with `values` (a tensor without autodiff, of the stored
    /// 2-D shape); on an autodiff device the new tensor is a fresh leaf that requires gradients.
    pub fn replace(&mut self, name: &str, values: Tensor<2>) {
        let entry = self.tensors.get_mut(name).unwrap_or_else(|| panic!("the model declares `{name}`"));
        let device = entry.0.device();
        // Through the host, so the new leaf carries the device's own autodiff settings
        // (gradient checkpointing included), like its neighbours.
        entry.0 = if device.is_autodiff() { Tensor::<2>::from_data(values.into_data(), &device).require_grad() } else { values };
    }

    /// Whether a parameter is declared as a matrix (two or more axes), i.e. a weight rather than
    /// a bias, a LayerNorm gain or a vector.
    pub fn is_matrix(&self, name: &str) -> bool {
        self.tensors.get(name).is_some_and(|(_, shape)| shape.len() >= 2)
    }

    /// The same values without autodiff (for evaluation: no graph is recorded).
    pub fn detached(&self) -> ParamStore {
        let tensors = self.tensors.iter().map(|(n, (t, s))| (n.clone(), (t.clone().inner(), s.clone()))).collect();
        ParamStore { tensors }
    }

    /// A copy with every parameter replaced by its magnitude `|θ|` (Synflow's network); on an
    /// autodiff device the copies are fresh leaves that require gradients.
    pub fn absolute(&self) -> ParamStore {
        let tensors = self
            .tensors
            .iter()
            .map(|(n, (t, s))| {
                let abs = t.clone().inner().abs();
                let t = if t.device().is_autodiff() { Tensor::<2>::from_data(abs.into_data(), &t.device()).require_grad() } else { abs };
                (n.clone(), (t, s.clone()))
            })
            .collect();
        ParamStore { tensors }
    }

    /// Whether a parameter exists.
    pub fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Every tensor with its declared shape, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor<2>, &[usize])> {
        self.tensors.iter().map(|(n, (t, s))| (n.as_str(), t, s.as_slice()))
    }

    /// Total number of elements actually held.
    pub fn numel(&self) -> usize {
        self.tensors.values().map(|(t, _)| t.dims().iter().product::<usize>()).sum()
    }
}
