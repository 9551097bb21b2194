//! Search spaces as files: a YAML file whose `family:` names the model family, and the family's
//! own dimensions (`crate::family::<name>::space`). The spaces lpzero ships are in `spaces/`,
//! compiled in and named by each family ([`crate::family::Family::shipped_spaces`]).

use crate::family::space::{ArchSpace, SpaceError};
use crate::family::{FamilyRef, REGISTRY};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// A parsed space file of any family: serialised as its own data (with `family:`), compared by
/// that data.
#[derive(Clone, Debug)]
pub struct SpaceSpec(pub Arc<dyn ArchSpace>);

impl SpaceSpec {
    /// Parses YAML text, dispatching on its `family` field.
    pub fn parse(text: &str, origin: &str) -> Result<SpaceSpec, SpaceError> {
        #[derive(Deserialize)]
        struct Family {
            family: Option<String>,
        }
        let family = serde_norway::from_str::<Family>(text).map_err(|e| SpaceError::parse(origin, e.to_string()))?.family;
        let Some(name) = family else {
            return Err(SpaceError::parse(origin, format!("a space needs `family:` (one of {})", FamilyRef::names())));
        };
        if name == crate::family::pretrained::subnet::SPACE_FAMILY {
            return Err(sub_network_space(origin));
        }
        let Some(f) = FamilyRef::named(&name) else {
            return Err(SpaceError::parse(origin, format!("unknown family `{name}` (families: {})", FamilyRef::names())));
        };
        Ok(SpaceSpec(Arc::from(f.parse_space(text, origin)?)))
    }

    /// Reads a space file, or a shipped space by name (`tiny`, `gpt2-wt103`, `flexibert`, ...).
    pub fn load(spec: &str) -> Result<SpaceSpec, SpaceError> {
        if let Some(s) = shipped(spec) {
            return SpaceSpec::parse(s.text, s.path);
        }
        if crate::family::pretrained::subnet::SHIPPED.iter().any(|(name, _)| *name == spec) {
            return Err(sub_network_space(spec));
        }
        let text = std::fs::read_to_string(Path::new(spec)).map_err(|source| SpaceError::Io { path: spec.to_owned(), source })?;
        SpaceSpec::parse(&text, spec)
    }

    /// The names of every shipped space, for messages.
    pub fn shipped_names() -> String {
        REGISTRY.iter().flat_map(|f| f.shipped_spaces().iter().map(|s| s.name)).collect::<Vec<_>>().join(", ")
    }
}

/// A LoNAS-style space is sub-networks of a pretrained model, not architectures to train: what
/// to run instead.
fn sub_network_space(origin: &str) -> SpaceError {
    SpaceError::parse(
        origin,
        format!(
            "a space of sub-networks of a pretrained model: its benchmark is built by \
             `lpzero subnet bench --model PATH --space {origin} --corpus TEXT --out DIR` (recovery training of each \
             sub-network, then its validation perplexity), and `rank`, `evolve` and `repl` read DIR with --bench"
        ),
    )
}

/// The shipped space of a name, if any family ships one.
fn shipped(name: &str) -> Option<crate::family::ShippedSpace> {
    REGISTRY.iter().flat_map(|f| f.shipped_spaces().iter().copied()).find(|s| s.name == name)
}

impl PartialEq for SpaceSpec {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_json() == other.0.to_json()
    }
}

impl std::ops::Deref for SpaceSpec {
    type Target = dyn ArchSpace;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl Serialize for SpaceSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for SpaceSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let text = serde_json::to_string(&value).map_err(serde::de::Error::custom)?;
        SpaceSpec::parse(&text, "the manifest's space").map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_spaces_load_by_name_and_dispatch_on_family() {
        for f in REGISTRY.iter() {
            for s in f.shipped_spaces() {
                let spec = SpaceSpec::load(s.name).unwrap();
                assert_eq!(spec.family(), *f, "{}", s.name);
                // The manifest's form reads back as the same space.
                let json = serde_json::to_string(&spec).unwrap();
                assert_eq!(serde_json::from_str::<SpaceSpec>(&json).unwrap(), spec);
            }
        }
        let e = SpaceSpec::load("nonexistent.yaml").unwrap_err().to_string();
        assert!(e.contains("nonexistent.yaml"), "{e}");
        let e = SpaceSpec::parse("name: x\nfamily: bert\n", "y.yaml").unwrap_err().to_string();
        assert!(e.contains("y.yaml") && e.contains("unknown family"), "{e}");
        let e = SpaceSpec::parse("name: x\n", "z.yaml").unwrap_err().to_string();
        assert!(e.contains("needs `family:`"), "{e}");
    }
}
