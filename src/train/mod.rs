//! Ground truth for any search space (`lpzero bench build`): [`config`] (what determines a
//! build, its manifest), [`space`] (search-space files of any family), [`data`] (the build's
//! token streams), [`optim`] (AdamW, warm-up + cosine schedule, gradient clipping),
//! [`trainer`] (training one architecture), [`layout`] (the files written per architecture and
//! the family's benchmark files), [`build`] (planning, resuming and running a build), [`result`]
//! (one architecture's result), and [`builtin`] (the demo benchmark `builtin:tiny`).
//!
//! A K-step benchmark measures early training, not full training: `lpzero bench build
//! --from-bench` trains published architectures the same way and reports how well the two
//! agree (docs/RESULTS.md).

pub mod build;
pub mod builtin;
pub mod config;
pub mod data;
pub mod layout;
pub mod optim;
pub mod result;
pub mod space;
pub mod trainer;
