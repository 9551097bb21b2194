//! A writer of GGUF files for tests (`#[path = "common/gguf.rs"] mod gguf;`): metadata values of
//! every type, raw values for malformed files, tensors at aligned offsets.
#![allow(dead_code)]

/// A metadata value for the writer: GGUF type number and encoded bytes (after the type).
#[derive(Clone)]
pub enum V {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    Str(String),
    Arr(u32, Vec<V>),
    U64(u64),
    I64(i64),
    F64(f64),
    /// Raw: a type number and bytes, for malformed files.
    Raw(u32, Vec<u8>),
}

pub fn gstr(s: &str) -> Vec<u8> {
    let mut b = (s.len() as u64).to_le_bytes().to_vec();
    b.extend(s.as_bytes());
    b
}

impl V {
    /// The GGUF type number.
    pub fn ty(&self) -> u32 {
        match self {
            V::U8(_) => 0,
            V::I8(_) => 1,
            V::U16(_) => 2,
            V::I16(_) => 3,
            V::U32(_) => 4,
            V::I32(_) => 5,
            V::F32(_) => 6,
            V::Bool(_) => 7,
            V::Str(_) => 8,
            V::Arr(..) => 9,
            V::U64(_) => 10,
            V::I64(_) => 11,
            V::F64(_) => 12,
            V::Raw(t, _) => *t,
        }
    }

    /// The encoded value (after its type).
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            V::U8(x) => vec![*x],
            V::I8(x) => vec![*x as u8],
            V::U16(x) => x.to_le_bytes().to_vec(),
            V::I16(x) => x.to_le_bytes().to_vec(),
            V::U32(x) => x.to_le_bytes().to_vec(),
            V::I32(x) => x.to_le_bytes().to_vec(),
            V::F32(x) => x.to_le_bytes().to_vec(),
            V::Bool(x) => vec![*x as u8],
            V::Str(s) => gstr(s),
            V::Arr(t, items) => {
                let mut b = t.to_le_bytes().to_vec();
                b.extend((items.len() as u64).to_le_bytes());
                for i in items {
                    b.extend(i.bytes());
                }
                b
            }
            V::U64(x) => x.to_le_bytes().to_vec(),
            V::I64(x) => x.to_le_bytes().to_vec(),
            V::F64(x) => x.to_le_bytes().to_vec(),
            V::Raw(_, b) => b.clone(),
        }
    }
}

/// One tensor of a GGUF fixture: name, dims fastest-first, ggml type, data.
pub struct GT {
    /// Its name.
    pub name: String,
    /// Dimensions, fastest first.
    pub dims: Vec<u64>,
    /// The ggml type number.
    pub ty: u32,
    /// The data.
    pub data: Vec<u8>,
}

/// Writes a GGUF v`version` file; tensors in the order given, each at an aligned offset.
pub fn gguf_bytes(version: u32, kvs: &[(&str, V)], tensors: &[GT], alignment: usize) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend(version.to_le_bytes());
    b.extend((tensors.len() as u64).to_le_bytes());
    b.extend((kvs.len() as u64).to_le_bytes());
    for (k, v) in kvs {
        b.extend(gstr(k));
        b.extend(v.ty().to_le_bytes());
        b.extend(v.bytes());
    }
    let mut offset = 0usize;
    let mut offsets = Vec::new();
    for t in tensors {
        offsets.push(offset);
        offset += t.data.len().div_ceil(alignment) * alignment;
    }
    for (t, &o) in tensors.iter().zip(&offsets) {
        b.extend(gstr(&t.name));
        b.extend((t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            b.extend(d.to_le_bytes());
        }
        b.extend(t.ty.to_le_bytes());
        b.extend((o as u64).to_le_bytes());
    }
    while b.len() % alignment != 0 {
        b.push(0);
    }
    for (i, t) in tensors.iter().enumerate() {
        b.extend(&t.data);
        if i + 1 < tensors.len() {
            while b.len() % alignment != 0 {
                b.push(0);
            }
        }
    }
    b
}

