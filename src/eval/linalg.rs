//! The dense linear algebra behind the matrix ops (`t`, `gram`, `cosine`, `logdet`) and the
//! spectral count `pcadim`, in f64 on the host, with faer (blocked kernels, run sequentially, so
//! the same inputs give the same bits on every run).
//!
//! The contracts are the op table's ([`crate::lang::table::OPS`]); the tests below check them
//! against values known by construction (a matrix of known spectrum, data of known rank).

use super::inputs::TensorEntry;
use super::ops::{all_finite, Invalid, MatrixMap};
use crate::lang::table::EPSILON;
use faer::{Mat, Side};

/// Rows of the centred sample matrix folded into the covariance at a time (bounds the f64 copy).
const COVARIANCE_CHUNK_ROWS: usize = 4096;

fn matrix_dims(t: &TensorEntry, what: &str) -> Result<(usize, usize), Invalid> {
    let [rows, cols] = t.shape[..] else {
        return Err(Invalid::new(format!("{what} needs a matrix, got shape {:?}", t.shape)));
    };
    if !all_finite(&t.data) {
        return Err(Invalid::new(format!("{what} of a matrix with non-finite values")));
    }
    Ok((rows, cols))
}

fn to_f32(m: &Mat<f64>) -> TensorEntry {
    let (r, c) = (m.nrows(), m.ncols());
    let data: Vec<f32> = (0..r).flat_map(|i| (0..c).map(move |j| (i, j))).map(|(i, j)| m[(i, j)] as f32).collect();
    TensorEntry { data: data.into(), shape: vec![r, c] }
}

/// `t(x)`, `gram(x)` (`x xᵀ`) or `cosine(x)` (the Gram matrix of the unit-length rows) of one
/// matrix entry.
pub fn matrix_map(op: MatrixMap, t: &TensorEntry) -> Result<TensorEntry, Invalid> {
    let name = match op {
        MatrixMap::Transpose => "t",
        MatrixMap::Gram => "gram",
        MatrixMap::Cosine => "cosine",
    };
    let (rows, cols) = matrix_dims(t, name)?;
    let x = &t.data;
    match op {
        MatrixMap::Transpose => {
            let data: Vec<f32> = (0..cols).flat_map(|j| (0..rows).map(move |i| x[i * cols + j])).collect();
            Ok(TensorEntry { data: data.into(), shape: vec![cols, rows] })
        }
        MatrixMap::Gram | MatrixMap::Cosine => {
            let mut m = Mat::<f64>::from_fn(rows, cols, |i, j| x[i * cols + j] as f64);
            if op == MatrixMap::Cosine {
                for i in 0..rows {
                    let norm = (0..cols).map(|j| m[(i, j)] * m[(i, j)]).sum::<f64>().sqrt();
                    if norm == 0.0 {
                        return Err(Invalid::new(format!("cosine: row {i} is zero and has no direction")));
                    }
                    (0..cols).for_each(|j| m[(i, j)] /= norm);
                }
            }
            let gram = &m * m.transpose();
            Ok(to_f32(&gram))
        }
    }
}

/// `ln(max(|det x|, ε))` of a square matrix entry, from an LU factorisation with partial
/// pivoting; a matrix with a pivot at or below `n · 2⁻⁵² · max|x|` counts as singular (ln ε).
pub fn log_abs_det(t: &TensorEntry) -> Result<f64, Invalid> {
    let (rows, cols) = matrix_dims(t, "logdet")?;
    if rows != cols {
        return Err(Invalid::new(format!("logdet needs a square matrix, got {rows} × {cols}")));
    }
    let floor = EPSILON.ln();
    let scale = t.data.iter().fold(0.0f64, |m, &v| m.max((v as f64).abs()));
    if scale == 0.0 {
        return Ok(floor);
    }
    let x = &t.data;
    let m = Mat::<f64>::from_fn(rows, cols, |i, j| x[i * cols + j] as f64);
    let lu = m.partial_piv_lu();
    let u = lu.U();
    let tolerance = rows as f64 * f64::EPSILON * scale;
    let mut log_det = 0.0;
    for k in 0..rows {
        let pivot = u[(k, k)].abs();
        if pivot <= tolerance {
            return Ok(floor);
        }
        log_det += pivot.ln();
    }
    Ok(log_det.max(floor))
}

/// The eigenvalues of the column covariance of an entry read as samples × features (the last
/// axis the features, every other axis samples), largest first, negatives from rounding as 0.
pub fn covariance_eigenvalues(t: &TensorEntry) -> Result<Vec<f64>, Invalid> {
    let Some(&features) = t.shape.last().filter(|_| t.shape.len() >= 2) else {
        return Err(Invalid::new(format!("needs samples × features, got shape {:?}", t.shape)));
    };
    let samples = t.numel().checked_div(features).unwrap_or(0);
    if samples < features + 1 {
        return Err(Invalid::new(format!(
            "{samples} samples of {features} features: the covariance needs more samples than features (use a larger minibatch)"
        )));
    }
    if !all_finite(&t.data) {
        return Err(Invalid::new("the samples have non-finite values"));
    }
    let x = &t.data;
    let mut mean = vec![0.0f64; features];
    for row in x.chunks(features) {
        mean.iter_mut().zip(row).for_each(|(m, &v)| *m += v as f64);
    }
    mean.iter_mut().for_each(|m| *m /= samples as f64);
    let mut cov = Mat::<f64>::zeros(features, features);
    for start in (0..samples).step_by(COVARIANCE_CHUNK_ROWS) {
        let n = COVARIANCE_CHUNK_ROWS.min(samples - start);
        let block = Mat::<f64>::from_fn(n, features, |i, j| x[(start + i) * features + j] as f64 - mean[j]);
        cov += block.transpose() * &block;
    }
    let scale = 1.0 / (samples as f64 - 1.0);
    let cov = Mat::<f64>::from_fn(features, features, |i, j| cov[(i, j)] * scale);
    let mut eig = cov.self_adjoint_eigenvalues(Side::Lower).map_err(|e| Invalid::new(format!("the eigenvalue iteration did not converge ({e:?})")))?;
    eig.iter_mut().for_each(|l| *l = l.max(0.0));
    eig.sort_by(|a, b| b.total_cmp(a));
    Ok(eig)
}

/// `pcadim`: the smallest number of leading covariance eigenvalues whose share of the total
/// exceeds `share` (W-PCA's count: add eigenvalues from the largest down until the running share
/// is above `share`).
pub fn pca_dim(t: &TensorEntry, share: f64) -> Result<usize, Invalid> {
    let eig = covariance_eigenvalues(t)?;
    let total: f64 = eig.iter().sum();
    if total <= 0.0 {
        return Err(Invalid::new("the samples have no variance"));
    }
    let mut running = 0.0;
    for (k, l) in eig.iter().enumerate() {
        running += l;
        if running / total > share {
            return Ok(k + 1);
        }
    }
    Ok(eig.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(shape: &[usize], data: Vec<f32>) -> TensorEntry {
        TensorEntry { data: data.into(), shape: shape.to_vec() }
    }

    /// A rotation-like orthogonal matrix from Householder reflections, so a spectrum can be
    /// planted: `Q diag(λ) Qᵀ`.
    fn orthogonal(n: usize, seed: u64) -> Mat<f64> {
        let mut q = Mat::<f64>::identity(n, n);
        let mut s = seed;
        for _ in 0..3 {
            let v: Vec<f64> = (0..n)
                .map(|_| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
                })
                .collect();
            let vv: f64 = v.iter().map(|a| a * a).sum();
            let h = Mat::<f64>::from_fn(n, n, |i, j| if i == j { 1.0 } else { 0.0 } - 2.0 * v[i] * v[j] / vv);
            q = &q * &h;
        }
        q
    }

    #[test]
    fn transpose_gram_and_cosine_by_hand() {
        let x = entry(&[2, 3], vec![1.0, 2.0, 2.0, 0.0, 3.0, 4.0]);
        let t = matrix_map(MatrixMap::Transpose, &x).unwrap();
        assert_eq!(t.shape, vec![3, 2]);
        assert_eq!(&t.data[..], &[1.0, 0.0, 2.0, 3.0, 2.0, 4.0]);
        let g = matrix_map(MatrixMap::Gram, &x).unwrap();
        // rows (1,2,2) and (0,3,4): 9, 14, 14, 25.
        assert_eq!(&g.data[..], &[9.0, 14.0, 14.0, 25.0]);
        let c = matrix_map(MatrixMap::Cosine, &x).unwrap();
        let expect = 14.0 / (3.0 * 5.0);
        assert!((c.data[1] as f64 - expect).abs() < 1e-7 && (c.data[0] - 1.0).abs() < 1e-7);
        let zero = entry(&[2, 2], vec![1.0, 0.0, 0.0, 0.0]);
        assert!(matrix_map(MatrixMap::Cosine, &zero).unwrap_err().reason.contains("row 1 is zero"));
        assert!(matrix_map(MatrixMap::Gram, &entry(&[3], vec![1.0; 3])).is_err());
    }

    #[test]
    fn logdet_of_known_determinants_and_singular_matrices() {
        // det [[4, 3], [6, 3]] = −6.
        let a = entry(&[2, 2], vec![4.0, 3.0, 6.0, 3.0]);
        assert!((log_abs_det(&a).unwrap() - 6f64.ln()).abs() < 1e-12);
        // A planted spectrum: det = Π λ.
        let n = 12;
        let q = orthogonal(n, 7);
        let lambda: Vec<f64> = (0..n).map(|i| 0.5 + i as f64).collect();
        let m = &q * Mat::<f64>::from_fn(n, n, |i, j| if i == j { lambda[i] } else { 0.0 }) * q.transpose();
        let e = entry(&[n, n], (0..n * n).map(|k| m[(k / n, k % n)] as f32).collect());
        let expect: f64 = lambda.iter().map(|l| l.ln()).sum();
        assert!((log_abs_det(&e).unwrap() - expect).abs() < 1e-4, "{} vs {expect}", log_abs_det(&e).unwrap());
        // Rank 1 (and the Gram of a wide sign matrix's columns, as EZNAS builds): singular.
        let r1 = entry(&[3, 3], vec![1.0, 2.0, 3.0, 2.0, 4.0, 6.0, 3.0, 6.0, 9.0]);
        assert_eq!(log_abs_det(&r1).unwrap(), EPSILON.ln());
        let s = entry(&[2, 5], vec![1.0, -1.0, 1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0]);
        let cols = matrix_map(MatrixMap::Gram, &matrix_map(MatrixMap::Transpose, &s).unwrap()).unwrap();
        assert_eq!(log_abs_det(&cols).unwrap(), EPSILON.ln());
        assert!(log_abs_det(&entry(&[2, 3], vec![1.0; 6])).unwrap_err().reason.contains("square"));
        assert_eq!(log_abs_det(&entry(&[2, 2], vec![0.0; 4])).unwrap(), EPSILON.ln());
    }

    /// A known spectrum: columns c_j·h_j, h_j rows 1..=5 of the 8 × 8 Sylvester Hadamard matrix
    /// (centred, mutually orthogonal, Σ h² = 8), rotated by an orthogonal Q. The sample covariance
    /// is then Q diag(c_j² · 8/7) Qᵀ, whose eigenvalues are c_j² · 8/7 exactly.
    #[test]
    fn covariance_eigenvalues_of_a_known_spectrum() {
        let (n, d) = (8, 5);
        let hadamard = |i: usize, j: usize| if (i & j).count_ones() % 2 == 0 { 1.0 } else { -1.0 };
        let c = [4.0, 3.0, 2.0, 1.0, 0.5];
        let q = orthogonal(d, 7);
        let data: Vec<f32> = (0..n)
            .flat_map(|i| (0..d).map(|f| (0..d).map(|j| c[j] * hadamard(j + 1, i) * q[(f, j)]).sum::<f64>() as f32).collect::<Vec<_>>())
            .collect();
        let eig = covariance_eigenvalues(&entry(&[n, d], data)).unwrap();
        for (got, cj) in eig.iter().zip(c) {
            let want = cj * cj * 8.0 / 7.0;
            assert!((got - want).abs() < 1e-5 * want, "{got} vs {want}");
        }
    }

    /// Samples `z · diag(σ) · Qᵀ` with `z` of orthonormal-ish columns: the covariance spectrum is
    /// known up to sampling, and exactly when the data are built to have a given rank.
    #[test]
    fn pca_dim_counts_the_planted_rank_and_the_variance_share() {
        // Data of rank 3 in 8 features: 3 nonzero eigenvalues, so 3 components hold all the variance.
        let (n, d) = (200, 8);
        let q = orthogonal(d, 3);
        let mut s = 11u64;
        let mut draw = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        let weights = [5.0, 3.0, 1.0];
        let rows: Vec<Vec<f64>> = (0..n).map(|_| (0..3).map(|_| draw()).collect()).collect();
        let data: Vec<f32> = rows
            .iter()
            .flat_map(|z| (0..d).map(|j| (0..3).map(|k| z[k] * weights[k] * q[(j, k)]).sum::<f64>() as f32).collect::<Vec<_>>())
            .collect();
        let x = entry(&[n, d], data.clone());
        assert_eq!(pca_dim(&x, 0.99).unwrap(), 3);
        // The eigenvalues equal those computed independently from the 3 × 3 problem: the sample
        // covariance of the latent z (scaled by the weights), as a check of the values, not only the count.
        let eig = covariance_eigenvalues(&x).unwrap();
        assert!(eig[3..].iter().all(|&l| l < 1e-9 * eig[0]));
        let total: f64 = eig.iter().sum();
        // Σ λ = trace of the covariance = Σ_j var(column j), computed directly.
        let var_sum: f64 = (0..d)
            .map(|j| {
                let col: Vec<f64> = (0..n).map(|i| data[i * d + j] as f64).collect();
                let m = col.iter().sum::<f64>() / n as f64;
                col.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n as f64 - 1.0)
            })
            .sum();
        assert!((total - var_sum).abs() < 1e-9 * var_sum);
        // The leading share: the count is the first k whose running share exceeds η.
        let share1 = eig[0] / total;
        assert_eq!(pca_dim(&x, share1 * 0.999).unwrap(), 1);
        assert_eq!(pca_dim(&x, share1 * 1.001).unwrap(), 2);
        // Three axes (batch, token, unit) read as samples × features.
        let x3 = entry(&[4, 50, d], data);
        assert_eq!(pca_dim(&x3, 0.99).unwrap(), 3);
    }

    #[test]
    fn pca_dim_is_invalid_with_too_few_samples_or_no_variance() {
        let few = entry(&[8, 8], (0..64).map(|k| k as f32).collect());
        assert!(pca_dim(&few, 0.99).unwrap_err().reason.contains("more samples than features"));
        let flat = entry(&[10, 2], vec![1.0; 20]);
        assert!(pca_dim(&flat, 0.99).unwrap_err().reason.contains("no variance"));
        let nan = entry(&[4, 1], vec![1.0, f32::NAN, 0.0, 2.0]);
        assert!(pca_dim(&nan, 0.5).is_err());
    }
}
