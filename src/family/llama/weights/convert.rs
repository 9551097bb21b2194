//! Conversion of stored tensor bytes to f32, row by row, and the memory-mapped files they come
//! from.
//!
//! A tensor is viewed as a matrix `[rows, cols]` (see [`super::TensorInfo::matrix_dims`]); a
//! row is contiguous in every supported encoding, and in the block-quantised ggml types a row is
//! a whole number of 32-element blocks (checked when a file is opened). A region read converts
//! only the rows asked for and, within each row, only the blocks that cover the column prefix.

use super::error::{Result, WeightsError};
use half::{bf16, f16};
use memmap2::Mmap;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Elements per block of the ggml block types.
pub(crate) const QK: usize = 32;

/// How a tensor's bytes encode its values (the types lpzero can convert).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    F32,
    F16,
    BF16,
    F64,
    /// Blocks of 32: f16 scale `d`, 32 × i8; `w = d·q`.
    Q8_0,
    /// Blocks of 32: f16 scale `d`, 16 bytes of nibbles; `w = d·(q − 8)`.
    Q4_0,
    /// Blocks of 32: f16 scale `d`, f16 minimum `m`, 16 bytes of nibbles; `w = d·q + m`.
    Q4_1,
}

impl Encoding {
    /// Elements per block (1 for the plain float types).
    pub(crate) fn block_elems(self) -> usize {
        match self {
            Encoding::F32 | Encoding::F16 | Encoding::BF16 | Encoding::F64 => 1,
            Encoding::Q8_0 | Encoding::Q4_0 | Encoding::Q4_1 => QK,
        }
    }

    /// Bytes per block.
    pub(crate) fn block_bytes(self) -> usize {
        match self {
            Encoding::F32 => 4,
            Encoding::F16 | Encoding::BF16 => 2,
            Encoding::F64 => 8,
            Encoding::Q8_0 => 2 + QK,
            Encoding::Q4_0 => 2 + QK / 2,
            Encoding::Q4_1 => 4 + QK / 2,
        }
    }

    /// Bytes of one row of `cols` elements; `None` when `cols` is not a whole number of blocks
    /// or the size overflows.
    pub(crate) fn row_bytes(self, cols: usize) -> Option<usize> {
        if cols % self.block_elems() != 0 {
            return None;
        }
        (cols / self.block_elems()).checked_mul(self.block_bytes())
    }

    /// Appends the first `cols` values of a row to `out`. `row` must hold at least the blocks
    /// that cover those columns (callers pass the whole row).
    pub(crate) fn decode_prefix(self, row: &[u8], cols: usize, out: &mut Vec<f32>) -> Option<()> {
        let blocks = cols.div_ceil(self.block_elems());
        let bytes = row.get(..blocks.checked_mul(self.block_bytes())?)?;
        match self {
            Encoding::F32 => {
                out.extend(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            }
            Encoding::F16 => out.extend(bytes.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())),
            Encoding::BF16 => out.extend(bytes.chunks_exact(2).map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32())),
            Encoding::F64 => out.extend(
                bytes.chunks_exact(8).map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32),
            ),
            Encoding::Q8_0 | Encoding::Q4_0 | Encoding::Q4_1 => {
                let mut block = [0f32; QK];
                let mut left = cols;
                for b in bytes.chunks_exact(self.block_bytes()) {
                    dequantize_block(self, b, &mut block);
                    let take = left.min(QK);
                    out.extend_from_slice(&block[..take]);
                    left -= take;
                }
            }
        }
        Some(())
    }
}

/// De-quantises one ggml block (`bytes.len() == enc.block_bytes()`) into 32 values.
///
/// In the 4-bit types element `j < 16` is the low nibble of quant byte `j` and element `j + 16`
/// its high nibble (ggml's layout, not alternating nibbles).
pub(crate) fn dequantize_block(enc: Encoding, bytes: &[u8], out: &mut [f32; QK]) {
    let half_at = |i: usize| f16::from_le_bytes([bytes[i], bytes[i + 1]]).to_f32();
    match enc {
        Encoding::Q8_0 => {
            let d = half_at(0);
            for (o, &q) in out.iter_mut().zip(&bytes[2..2 + QK]) {
                *o = d * (q as i8) as f32;
            }
        }
        Encoding::Q4_0 => {
            let d = half_at(0);
            for (j, &q) in bytes[2..2 + QK / 2].iter().enumerate() {
                out[j] = d * ((q & 0x0F) as i32 - 8) as f32;
                out[j + QK / 2] = d * ((q >> 4) as i32 - 8) as f32;
            }
        }
        Encoding::Q4_1 => {
            let d = half_at(0);
            let m = half_at(2);
            for (j, &q) in bytes[4..4 + QK / 2].iter().enumerate() {
                out[j] = d * (q & 0x0F) as f32 + m;
                out[j + QK / 2] = d * (q >> 4) as f32 + m;
            }
        }
        Encoding::F32 | Encoding::F16 | Encoding::BF16 | Encoding::F64 => unreachable!("not a block type"),
    }
}

/// A read-only memory map of one file.
#[derive(Debug)]
pub(crate) struct MappedFile {
    pub(crate) path: PathBuf,
    map: Mmap,
}

/// The page size assumed when handing pages back (madvise on a range that is not aligned to the
/// real page size fails harmlessly and releases nothing).
const PAGE: usize = 4096;

impl MappedFile {
    pub(crate) fn open(path: &Path) -> Result<MappedFile> {
        let file = File::open(path).map_err(|e| WeightsError::io(path, e))?;
        // SAFETY: the map is only ever read. As with every memory-mapped reader, another
        // process truncating or rewriting the file while it is mapped is outside what this code
        // can guard against (the same caveat as the safetensors and llama.cpp loaders).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| WeightsError::io(path, e))?;
        Ok(MappedFile { path: path.to_path_buf(), map })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Drops this process's mapping of the whole pages inside `range`, so that a tensor once
    /// converted no longer counts toward the resident set (the pages stay in the page cache; a
    /// later read faults them back in from there).
    pub(crate) fn release(&self, range: Range<usize>) {
        let start = range.start.div_ceil(PAGE) * PAGE;
        let end = (range.end.min(self.map.len()) / PAGE) * PAGE;
        if end > start {
            // SAFETY: the mapping is read-only and file-backed (MAP_SHARED): MADV_DONTNEED only
            // unmaps the pages, and the next access reads the same bytes from the file again.
            // No reference into the range is held across this call by the readers.
            #[cfg(unix)]
            unsafe {
                let _ = self.map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start);
            }
        }
    }
}

/// Bytes of source converted between two hand-backs of pages (see [`decode_rows`]).
const RELEASE_EVERY: usize = 8 << 20;

/// Where a tensor's bytes are and how to convert them: the shared core of the readers.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    /// Index of the mapped file among the reader's files.
    pub(crate) file: usize,
    /// Absolute byte offset of the tensor in that file.
    pub(crate) start: usize,
    /// The encoding, or the name of an unsupported type.
    pub(crate) encoding: std::result::Result<Encoding, String>,
}

/// Converts the rows `rows` (in the order given, each a stored row index) of a tensor, first
/// `cols` values of each. The caller has checked the region against the tensor's shape and the
/// tensor's bytes against the file; a violation still gives an error, not a panic.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decode_rows(
    file: &MappedFile,
    start: usize,
    encoding: Encoding,
    total_cols: usize,
    rows: impl ExactSizeIterator<Item = usize>,
    cols: usize,
    tensor: &str,
) -> Result<Vec<f32>> {
    let corrupt = || WeightsError::Truncated {
        path: file.path.clone(),
        what: format!("the data of tensor `{tensor}` lies beyond the end of the file"),
    };
    let row_bytes = encoding.row_bytes(total_cols).ok_or_else(corrupt)?;
    let mut out = Vec::with_capacity(rows.len().saturating_mul(cols));
    // Pages are handed back every RELEASE_EVERY bytes of source, so that a large tensor's
    // stored bytes and its f32 values are not resident together; then the whole span once more.
    let (mut lo, mut hi) = (usize::MAX, 0usize);
    let (mut all_lo, mut all_hi) = (usize::MAX, 0usize);
    for r in rows {
        let at = r.checked_mul(row_bytes).and_then(|o| o.checked_add(start)).ok_or_else(corrupt)?;
        let end = at.checked_add(row_bytes).ok_or_else(corrupt)?;
        let row = file.bytes().get(at..end).ok_or_else(corrupt)?;
        encoding.decode_prefix(row, cols, &mut out).ok_or_else(corrupt)?;
        lo = lo.min(at);
        hi = hi.max(end);
        if hi - lo >= RELEASE_EVERY {
            file.release(lo..hi);
            (all_lo, all_hi) = (all_lo.min(lo), all_hi.max(hi));
            (lo, hi) = (usize::MAX, 0);
        }
    }
    (all_lo, all_hi) = (all_lo.min(lo), all_hi.max(hi));
    if all_hi > all_lo {
        file.release(all_lo..all_hi);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_bytes_of_block_types() {
        assert_eq!(Encoding::Q8_0.row_bytes(64), Some(68));
        assert_eq!(Encoding::Q4_0.row_bytes(64), Some(36));
        assert_eq!(Encoding::Q4_1.row_bytes(32), Some(20));
        assert_eq!(Encoding::Q4_1.row_bytes(33), None);
        assert_eq!(Encoding::F16.row_bytes(3), Some(6));
    }

    #[test]
    fn q4_1_nibble_order() {
        // d = 1.0 (0x3C00), m = 0.0; byte j = 0xF0 | j: low nibble j, high nibble 15.
        let mut b = vec![0x00, 0x3C, 0x00, 0x00];
        b.extend((0..16u8).map(|j| 0xF0 | j));
        let mut out = [0f32; QK];
        dequantize_block(Encoding::Q4_1, &b, &mut out);
        for j in 0..16 {
            assert_eq!(out[j], j as f32);
            assert_eq!(out[j + 16], 15.0);
        }
    }

    #[test]
    fn prefix_of_a_block_row() {
        // Two Q8_0 blocks, d = 0.5 (0x3800), q = 0..64; the first 40 values.
        let mut row = Vec::new();
        for blk in 0..2u8 {
            row.extend([0x00, 0x38]);
            row.extend((0..32u8).map(|j| blk * 32 + j));
        }
        let mut out = Vec::new();
        Encoding::Q8_0.decode_prefix(&row, 40, &mut out).unwrap();
        assert_eq!(out, (0..40).map(|q| q as f32 * 0.5).collect::<Vec<_>>());
        assert!(Encoding::Q8_0.decode_prefix(&row[..40], 40, &mut out).is_none());
    }
}
