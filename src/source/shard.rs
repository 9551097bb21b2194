//! Sharding: splitting the architectures of one job into `N` parts that separate processes (the
//! tasks of a Slurm job array, a Kubernetes indexed job) work on, to be merged afterwards.
//!
//! The partition is deterministic and balanced by expected cost: architectures are taken largest
//! first (ties by position) and each goes to the shard with the least cost so far (ties to the
//! lowest shard), the longest-processing-time rule. Every task computes the same partition from
//! the same costs, so no task needs to know what the others do.

use super::Source;
use serde::{Deserialize, Serialize};

/// One part of `count`: shard `index` (from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: usize,
    /// How many shards there are.
    pub count: usize,
}

/// What is wrong with a shard specification.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ShardError {
    /// Not `I/N`, `N` or `auto`, or out of range.
    #[error("--shard {0:?}: {1}")]
    Spec(String, String),
    /// The environment of a job array is not usable.
    #[error("{0}")]
    Env(String),
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Reads a variable of `env`.
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Shard {
    /// A shard, checked: `count` ≥ 1 and `index < count`.
    pub fn new(index: usize, count: usize) -> Result<Shard, ShardError> {
        if count == 0 || index >= count {
            return Err(ShardError::Spec(format!("{index}/{count}"), "the index must be below the count, and the count at least 1".into()));
        }
        Ok(Shard { index, count })
    }

    /// Parses `I/N` (shard I of N), `N` (N shards, this task's index the job array's task id)
    /// or `auto` (both from the environment, [`Shard::from_env`]).
    pub fn parse(text: &str, env: Env<'_>) -> Result<Shard, ShardError> {
        let bad = |why: &str| ShardError::Spec(text.to_owned(), why.to_owned());
        let number = |s: &str| s.trim().parse::<usize>().map_err(|_| bad("expected I/N (e.g. 0/4), N, or auto"));
        if text.trim() == "auto" {
            return Shard::from_env(env)?.ok_or_else(|| bad("no job-array environment (SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX with --shard N)"));
        }
        match text.split_once('/') {
            Some((i, n)) => Shard::new(number(i)?, number(n)?).map_err(|_| bad("the index must be below the count, and the count at least 1")),
            None => {
                let count = number(text)?;
                let index = index_from_env(env)?.ok_or_else(|| bad("--shard N takes this task's index from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX, and neither is set"))?;
                Shard::new(index, count).map_err(|_| bad(&format!("this task's index {index} is not below {count}")))
            }
        }
    }

    /// The shard a Slurm array task is: index `SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN` (an
    /// array need not start at 0) of `SLURM_ARRAY_TASK_COUNT`. `None` outside a job array.
    pub fn from_env(env: Env<'_>) -> Result<Option<Shard>, ShardError> {
        let var = |k: &str| -> Result<Option<usize>, ShardError> {
            match env(k) {
                None => Ok(None),
                Some(v) => v.trim().parse().map(Some).map_err(|_| ShardError::Env(format!("{k}={v:?} is not a number"))),
            }
        };
        let (Some(id), Some(count)) = (var("SLURM_ARRAY_TASK_ID")?, var("SLURM_ARRAY_TASK_COUNT")?) else { return Ok(None) };
        let min = var("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let step = var("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
        if id < min || (id - min) % step != 0 {
            return Err(ShardError::Env(format!("SLURM_ARRAY_TASK_ID {id} is not in the array that starts at {min} with step {step}")));
        }
        Shard::new((id - min) / step, count).map(Some).map_err(|_| ShardError::Env(format!("SLURM_ARRAY_TASK_ID {id} gives shard {} of {count}", (id - min) / step)))
    }

    /// The positions (into `costs`) this shard works on, in ascending order, and the shard of
    /// every position ([`partition`]).
    pub fn split(&self, costs: &[f64]) -> (Vec<usize>, Vec<usize>) {
        let owner = partition(costs, self.count);
        ((0..costs.len()).filter(|&k| owner[k] == self.index).collect(), owner)
    }

    /// The positions (into `costs`) this shard works on, in ascending order.
    pub fn select(&self, costs: &[f64]) -> Vec<usize> {
        self.split(costs).0
    }

    /// [`Shard::split`] of a source's architectures by their [`Source::cost`].
    pub fn split_source(&self, source: &dyn Source) -> (Vec<usize>, Vec<usize>) {
        self.split(&(0..source.len()).map(|k| source.cost(k)).collect::<Vec<_>>())
    }
}

/// This task's index for `--shard N`: Slurm's `SLURM_ARRAY_TASK_ID` as it is (so that one
/// failed task resubmitted alone, `sbatch --array=2`, is still shard 2), else Kubernetes'
/// `JOB_COMPLETION_INDEX`.
fn index_from_env(env: Env<'_>) -> Result<Option<usize>, ShardError> {
    for k in ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"] {
        if let Some(v) = env(k) {
            return v.trim().parse().map(Some).map_err(|_| ShardError::Env(format!("{k}={v:?} is not a number")));
        }
    }
    Ok(None)
}

/// The shard of every position: largest cost first (ties by position), each to the shard with
/// the least total so far (ties to the lowest index). Costs that are not finite count as 0.
pub fn partition(costs: &[f64], count: usize) -> Vec<usize> {
    let count = count.max(1);
    let cost = |k: usize| if costs[k].is_finite() { costs[k].max(0.0) } else { 0.0 };
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| cost(b).total_cmp(&cost(a)).then(a.cmp(&b)));
    let mut load = vec![0.0f64; count];
    let mut owner = vec![0; costs.len()];
    for k in order {
        let s = (0..count).min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b))).expect("count ≥ 1");
        owner[k] = s;
        load[s] += cost(k);
    }
    owner
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn specifications_parse_and_bad_ones_are_refused() {
        let none = env(&[]);
        assert_eq!(Shard::parse("1/4", &none), Ok(Shard { index: 1, count: 4 }));
        assert!(Shard::parse("4/4", &none).is_err());
        assert!(Shard::parse("0/0", &none).is_err());
        assert!(Shard::parse("a/4", &none).is_err());
        assert!(Shard::parse("4", &none).unwrap_err().to_string().contains("neither is set"));
        assert!(Shard::parse("auto", &none).is_err());
        let slurm = env(&[("SLURM_ARRAY_TASK_ID", "7"), ("SLURM_ARRAY_TASK_MIN", "5"), ("SLURM_ARRAY_TASK_COUNT", "4")]);
        assert_eq!(Shard::parse("auto", &slurm), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(Shard::from_env(&slurm), Ok(Some(Shard { index: 2, count: 4 })));
        // `--shard N` takes the task id as it is: task 2 resubmitted alone is still shard 2.
        let again = env(&[("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_MIN", "2"), ("SLURM_ARRAY_TASK_COUNT", "1")]);
        assert_eq!(Shard::parse("4", &again), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(Shard::parse("auto", &again), Ok(Shard { index: 0, count: 1 }));
        assert!(Shard::parse("4", &slurm).is_err());
        let stepped = env(&[("SLURM_ARRAY_TASK_ID", "6"), ("SLURM_ARRAY_TASK_MIN", "0"), ("SLURM_ARRAY_TASK_STEP", "2"), ("SLURM_ARRAY_TASK_COUNT", "4")]);
        assert_eq!(Shard::from_env(&stepped), Ok(Some(Shard { index: 3, count: 4 })));
        let k8s = env(&[("JOB_COMPLETION_INDEX", "3")]);
        assert_eq!(Shard::parse("5", &k8s), Ok(Shard { index: 3, count: 5 }));
        assert!(Shard::parse("3", &k8s).is_err());
        assert!(Shard::from_env(&env(&[("SLURM_ARRAY_TASK_ID", "x"), ("SLURM_ARRAY_TASK_COUNT", "2")])).is_err());
    }

    /// Largest first to the least loaded shard, worked out by hand below.
    #[test]
    fn the_partition_is_balanced_largest_first_and_covers_everything_once() {
        let costs = [3.0, 9.0, 2.0, 7.0, 5.0, 4.0];
        // 9 (pos 1) → s0 [9, 0]; 7 (pos 3) → s1 [9, 7]; 5 (pos 4) → s1 [9, 12]; 4 (pos 5) → s0
        // [13, 12]; 3 (pos 0) → s1 [13, 15]; 2 (pos 2) → s0 [15, 15].
        assert_eq!(partition(&costs, 2), vec![1, 0, 0, 1, 1, 0]);
        assert_eq!(Shard { index: 0, count: 2 }.select(&costs), vec![1, 2, 5]);
        assert_eq!(Shard { index: 1, count: 2 }.select(&costs), vec![0, 3, 4]);
        // Equal costs: round robin by position.
        assert_eq!(partition(&[1.0; 7], 3), vec![0, 1, 2, 0, 1, 2, 0]);
        // More shards than architectures: some shards are empty, none is shared.
        let owner = partition(&[1.0, 2.0], 4);
        assert_eq!(owner, vec![1, 0]);
        assert!(Shard { index: 3, count: 4 }.select(&[1.0, 2.0]).is_empty());
    }
}
