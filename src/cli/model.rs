//! `lpzero params`, `lpzero score`, `lpzero rank`, `lpzero cache`: options into library calls,
//! reports onto the terminal.

use super::progress::Reporter;
use super::{load_proxies, settings_line, shard_of, BenchSel, CacheArgs, LintFormat, ModelArgs, ProxyArgs, SourceSel};
use crate::bench::resolve::resolve;
use crate::lang::Proxy;
use crate::models::Fidelity;
use crate::rank::RankReport;
use crate::source::{Source, Variant};
use crate::stop::Stop;
use clap::ValueEnum;
use std::io::Write;
use std::path::PathBuf;

/// Output format of tables of numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// Aligned columns.
    Table,
    /// One JSON document.
    Json,
    /// Comma-separated values with a header.
    Csv,
}

/// Arguments of `lpzero params`.
#[derive(Debug, clap::Args)]
pub struct ParamsArgs {
    /// The benchmark.
    #[command(flatten)]
    pub bench: BenchSel,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
    /// Which networks to build.
    #[arg(long, value_enum, default_value_t = Fidelity::Trained)]
    pub fidelity: Fidelity,
}

/// Arguments of `lpzero score`.
#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    /// A benchmark (see `params --bench`).
    #[arg(long, required_unless_present = "inputs", conflicts_with = "inputs", requires = "arch")]
    pub bench: Option<PathBuf>,
    /// The benchmark's model family, where its files do not say.
    #[arg(long, value_enum)]
    pub family: Option<crate::family::FamilyRef>,
    /// The architecture id (`0`..`499`, `config_3_j7`).
    #[arg(long)]
    pub arch: Option<String>,
    /// Score one proxy-input file instead of gathering an architecture.
    #[arg(long, value_name = "FILE")]
    pub inputs: Option<PathBuf>,
    /// The proxies.
    #[command(flatten)]
    pub proxies: ProxyArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// Model and minibatch options.
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Arguments of `lpzero rank`.
#[derive(Debug, clap::Args)]
pub struct RankArgs {
    /// The architectures.
    #[command(flatten)]
    pub source: SourceSel,
    /// The proxies.
    #[command(flatten)]
    pub proxies: ProxyArgs,
    /// Every stdlib proxy.
    #[arg(long)]
    pub stdlib: bool,
    /// Leave out stdlib proxies by name (repeatable), e.g. the slow `synaptic_diversity`.
    #[arg(long, value_name = "NAME")]
    pub skip: Vec<String>,
    /// Rank a seeded sample of this many architectures instead of all.
    #[arg(long)]
    pub archs: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// Also write the report (`summary.json`, the same document as `--format json`),
    /// per-architecture scores (`scores.csv`) and rank scatter plots (`plots/`) here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Rank only shard I of N, writing `shard-I-of-N.json` into `--out` for `lpzero merge`:
    /// `I/N`; `N` (the index is `SLURM_ARRAY_TASK_ID` or Kubernetes' `JOB_COMPLETION_INDEX`);
    /// `--shard` alone or `auto` (index and count from the Slurm job array it runs in).
    #[arg(long, value_name = "I/N", num_args = 0..=1, default_missing_value = "auto")]
    pub shard: Option<String>,
    /// Score each architecture on this many consecutive minibatches of the text (the first is
    /// the one a run without this flag uses) and rank by the mean; the report says how the
    /// score and ρ move with them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub minibatches: u32,
    /// Score each architecture under this many parameter initialisations (the first is the
    /// one a run without this flag uses) and rank by the mean, as `--minibatches` does.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub inits: u32,
    /// Model and minibatch options (`--seed` also seeds the sample of `--archs`).
    #[command(flatten)]
    pub model: ModelArgs,
    /// The input cache.
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// Arguments of `lpzero merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Folders holding the shard files of one sharded `rank` (`shard-I-of-N.json`), a benchmark
    /// built by sharded `bench build` tasks, or a folder filled by sharded `gather` tasks.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where a merged ranking's `summary.json`, `scores.csv` and `plots/` go [default: the
    /// first folder].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Output format of a merged ranking.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
}

/// Arguments of `lpzero gather`.
#[derive(Debug, clap::Args)]
pub struct GatherArgs {
    /// The benchmark.
    #[command(flatten)]
    pub bench: BenchSel,
    /// Where the files go (one `<id>.safetensors` per architecture and `truth.csv`); a rerun
    /// keeps the files already there.
    #[arg(long)]
    pub out: PathBuf,
    /// Gather a seeded sample of this many architectures instead of all.
    #[arg(long)]
    pub archs: Option<usize>,
    /// Gather only these inputs, comma-separated (a gradient brings its tensor), running only
    /// as much of the model as they need [default: every input].
    #[arg(long, value_delimiter = ',')]
    pub keep: Vec<String>,
    /// Gather only shard I of N (`I/N`, or `N`/`auto` from a job array's index) into the same
    /// `--out`; `lpzero merge DIR` says when every file is there.
    #[arg(long, value_name = "I/N", num_args = 0..=1, default_missing_value = "auto")]
    pub shard: Option<String>,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// Model and minibatch options (`--seed` also seeds the sample of `--archs`).
    #[command(flatten)]
    pub model: ModelArgs,
    /// The input cache (read when it has the inputs).
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// Arguments of `lpzero cache`.
#[derive(Debug, clap::Args)]
pub struct CacheCmdArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: CacheCommand,
    /// The cache.
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// The `cache` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum CacheCommand {
    /// Where the cache is, its keys and what they hold.
    Info,
    /// Remove every cached input (built-in benchmarks under `bench/` are kept unless `--all`).
    Clear {
        /// Also remove the built-in benchmarks (they are rebuilt on next use).
        #[arg(long)]
        all: bool,
    },
}

/// `lpzero params`: counts on stdout (table, CSV or JSON), checked against the benchmark's
/// published counts (on stderr).
pub fn params(args: &ParamsArgs) -> anyhow::Result<()> {
    let resolved = resolve(&args.bench.bench, args.bench.family, crate::gather::cache::default_root().as_deref(), &Stop::process(), &Reporter::new())?;
    let bench = &resolved.bench;
    let fields = bench.family.count_fields();
    let counts = bench.counts(args.fidelity)?;
    let check = bench.check_counts(&counts);
    let ids = bench.ids();
    let mut out = std::io::stdout().lock();
    match args.format {
        TableFormat::Json => {
            let rows: Vec<serde_json::Value> = ids
                .iter()
                .zip(&counts)
                .map(|(id, c)| {
                    let mut m = serde_json::Map::new();
                    m.insert("id".into(), id.clone().into());
                    for (k, v) in c {
                        m.insert((*k).into(), (*v).into());
                    }
                    serde_json::Value::Object(m)
                })
                .collect();
            let doc = serde_json::json!({ "family": bench.family, "fidelity": args.fidelity, "architectures": rows, "published": check });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        TableFormat::Csv => {
            writeln!(out, "id,{}", fields.join(","))?;
            for (id, c) in ids.iter().zip(&counts) {
                let vals: Vec<String> = c.iter().map(|(_, v)| v.to_string()).collect();
                writeln!(out, "{id},{}", vals.join(","))?;
            }
        }
        TableFormat::Table => {
            write!(out, "{:<14}", "id")?;
            for f in fields {
                write!(out, "{f:>15}")?;
            }
            writeln!(out)?;
            for (id, c) in ids.iter().zip(&counts) {
                write!(out, "{id:<14}")?;
                for (_, v) in c {
                    write!(out, "{v:>15}")?;
                }
                writeln!(out)?;
            }
        }
    }
    if let Some(c) = check {
        if c.mismatches.is_empty() {
            eprintln!("the counts equal the benchmark's published counts: {} architectures, {} fields compared, all equal", c.archs, c.compared);
        } else {
            eprintln!("{} of {} published counts differ from the declarations:", c.mismatches.len(), c.compared);
            for m in c.mismatches.iter().take(20) {
                eprintln!("  {} {}: lpzero {} vs published {}", m.id, m.field, m.ours, m.published);
            }
            anyhow::bail!("parameter counts differ from the benchmark's");
        }
    }
    Ok(())
}

/// `lpzero score`.
pub fn score(args: &ScoreArgs) -> anyhow::Result<()> {
    let proxies = load_proxies(&args.proxies)?;
    if proxies.is_empty() {
        anyhow::bail!("no proxy given: use --proxy FILE[:NAME] or -e EXPR");
    }
    let (report, label) = match (&args.bench, &args.inputs) {
        (_, Some(path)) => {
            let r = crate::gather::score::score_file(path, &proxies)?;
            (r, path.display().to_string())
        }
        (Some(b), None) => {
            let arch = args.arch.clone().expect("clap requires --arch with --bench");
            let spec = args.model.spec(&BenchSel { bench: b.clone(), family: args.family });
            let resolved = resolve(&spec.bench, spec.family, crate::gather::cache::default_root().as_deref(), &Stop::process(), &Reporter::new())?;
            let bench = &resolved.bench;
            let k = bench.position(&arch).ok_or_else(|| {
                anyhow::anyhow!("{} has no architecture `{arch}` (ids are {}…)", b.display(), bench.ids().into_iter().take(3).collect::<Vec<_>>().join(", "))
            })?;
            let (opts, corpus) = spec.options(bench, args.model.seed)?;
            let device = opts.device.open()?;
            (crate::gather::score::score(&*bench.archs[k], &proxies, &corpus, &opts, &device)?, resolved.label.clone())
        }
        (None, None) => unreachable!("clap requires --bench or --inputs"),
    };
    match args.format {
        LintFormat::Json => {
            let mut doc = serde_json::to_value(&report)?;
            doc["bench"] = label.into();
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        LintFormat::Text => {
            eprintln!(
                "{label} {}: {} parameters, loss {}, gathered in {:.2} s (batch {} × {}, seed {}, corpus {})",
                report.arch,
                report.params,
                report.loss.map_or("- (the proxies read weights only: no pass over the minibatch)".to_owned(), |l| format!("{l:.4}")),
                report.gather_seconds, report.batch, report.seq_len, report.seed, report.corpus
            );
            for p in &report.proxies {
                match (p.score, &p.invalid) {
                    (Some(v), _) => println!("{:<24} {v:>16.6e}   ({:.3} s)", p.proxy, p.eval_seconds),
                    (None, reason) => println!("{:<24} {:>16}   invalid: {}", p.proxy, "-", reason.as_deref().unwrap_or("")),
                }
            }
        }
    }
    Ok(())
}

/// The proxies of `rank`: `--proxy`, `-e`, then `--stdlib` (minus `--skip`).
pub fn rank_proxies(proxies: &ProxyArgs, stdlib: bool, skip: &[String]) -> anyhow::Result<Vec<Proxy>> {
    let mut out = load_proxies(proxies)?;
    if stdlib {
        out.extend(crate::lang::load::stdlib_proxies(skip)?);
    }
    if out.is_empty() {
        anyhow::bail!("no proxy given: use --stdlib, --proxy FILE[:NAME] or -e EXPR");
    }
    Ok(out)
}

/// `lpzero rank`.
pub fn rank(args: &RankArgs) -> anyhow::Result<()> {
    let proxies = rank_proxies(&args.proxies, args.stdlib, &args.skip)?;
    let reporter = Reporter::new();
    let stop = Stop::process();
    let spec = args.source.spec(&args.model)?;
    let source = spec.open(args.model.seed, &args.cache.settings(), &stop, &reporter)?;
    let selected = crate::source::sample(source.len(), args.archs, args.model.seed);
    let variants = Variant::grid(args.minibatches as usize, args.inits as usize);
    let others = variants[1..]
        .iter()
        .map(|&v| match source.variant(v) {
            Some(s) => Ok(s?),
            None => anyhow::bail!("--minibatches and --inits need a benchmark that lpzero gathers; {} holds one gather per architecture", spec.label()),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let subsets: Vec<_> = std::iter::once(&*source).chain(others.iter().map(|s| &**s)).map(|s| crate::source::Subset::new(s, selected.clone())).collect();
    let sources: Vec<&dyn crate::source::Source> = subsets.iter().map(|s| s as &dyn crate::source::Source).collect();
    let subset = sources[0];
    eprintln!(
        "ranking {} architectures of {} with {} proxies ({}){}; Ctrl-C stops and reports what is done",
        subset.len(),
        spec.label(),
        proxies.len(),
        settings_line(&source.info()),
        if variants.len() > 1 { format!(", each scored on {} and ranked by the mean", crate::rank::noise::describe(&variants)) } else { String::new() }
    );
    if let Some(shard) = shard_of(args.shard.as_deref())? {
        return rank_shard(args, shard, &sources, &variants, &proxies, &stop, &reporter);
    }
    let report = crate::rank::rank_variants(&sources, &variants, &proxies, &stop, &reporter)?;
    if let Some(dir) = &args.out {
        report.write(dir)?;
    }
    match args.format {
        LintFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        LintFormat::Text => print_rank(&report),
    }
    if report.interrupted {
        return Err(super::Interrupted.into());
    }
    Ok(())
}

/// `lpzero rank --shard I/N`: ranks this shard's architectures and writes its shard file.
fn rank_shard(
    args: &RankArgs,
    shard: crate::source::shard::Shard,
    sources: &[&dyn crate::source::Source],
    variants: &[Variant],
    proxies: &[Proxy],
    stop: &Stop,
    reporter: &Reporter,
) -> anyhow::Result<()> {
    use crate::rank::shard::{file_name, ShardFile};
    let Some(dir) = &args.out else { anyhow::bail!("--shard needs --out DIR: each shard writes its file there for `lpzero merge DIR`") };
    let source = sources[0];
    let (mine, owner) = shard.split_source(source);
    let ids: Vec<String> = (0..source.len()).map(|k| source.id(k)).collect();
    let meta = crate::rank::meta(source, proxies, variants);
    let path = dir.join(file_name(shard));
    if let Ok(done) = ShardFile::read(&path) {
        if done.shard == shard && done.is_of(&meta, &ids, &owner, shard.count) {
            eprintln!("shard {shard}: already finished ({}); nothing to do", path.display());
            return Ok(());
        }
    }
    eprintln!("shard {shard}: {} of the {} architectures", mine.len(), source.len());
    let parts: Vec<_> = sources.iter().map(|s| crate::source::Subset::new(*s, mine.clone())).collect();
    let parts: Vec<&dyn crate::source::Source> = parts.iter().map(|s| s as &dyn crate::source::Source).collect();
    let rows = crate::rank::rank_rows(&parts, variants, proxies, stop, reporter)?;
    if rows.ids.len() < mine.len() {
        eprintln!("interrupted: shard {shard} wrote nothing; run the same command again (the input cache keeps what was gathered)");
        return Err(super::Interrupted.into());
    }
    let path = ShardFile::new(shard, meta, ids, owner, rows).write(dir)?;
    eprintln!("shard {shard} written to {}; when every shard is done: lpzero merge {}", path.display(), dir.display());
    Ok(())
}

/// `lpzero merge`.
pub fn merge(args: &MergeArgs) -> anyhow::Result<()> {
    let first = &args.dirs[0];
    if first.join("bench.yaml").is_file() {
        let report = crate::train::build::merge(first)?;
        println!("{} of {} planned architectures finished; benchmark files of {} rewritten", report.finished, report.planned, first.display());
        if !report.missing.is_empty() {
            anyhow::bail!("{} architectures are not finished: {}", report.missing.len(), report.missing.join(", "));
        }
        return Ok(());
    }
    let shard_files = crate::rank::shard::find(&args.dirs)?;
    if first.join("truth.csv").is_file() && shard_files.is_empty() {
        let missing = crate::source::files::missing_files(first)?;
        if !missing.is_empty() {
            anyhow::bail!("{} architectures of {} have no inputs file yet: {}", missing.len(), first.join("truth.csv").display(), missing.join(", "));
        }
        println!("every architecture of {} has its inputs file", first.join("truth.csv").display());
        return Ok(());
    }
    let report = crate::rank::shard::merge(&shard_files, &args.dirs)?;
    report.write(args.out.as_ref().unwrap_or(first))?;
    match args.format {
        LintFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        LintFormat::Text => print_rank(&report),
    }
    Ok(())
}

/// `lpzero gather`.
pub fn gather(args: &GatherArgs) -> anyhow::Result<()> {
    let keep = crate::search::candidate::parse_inputs(&args.keep).map_err(anyhow::Error::msg)?;
    let reporter = Reporter::new();
    let stop = Stop::process();
    let source = args.model.spec(&args.bench).open(args.model.seed, &args.cache.settings(), &stop, &reporter)?;
    let indices = crate::source::sample(source.len(), args.archs, args.model.seed);
    // A shard gathers its part; every shard writes the whole truth table.
    let mine = match shard_of(args.shard.as_deref())? {
        Some(shard) => {
            let sub = crate::source::Subset::new(&source, indices.clone());
            let (pos, _) = shard.split_source(&sub);
            eprintln!("shard {shard}: {} of the {} architectures", pos.len(), indices.len());
            pos.iter().map(|&p| indices[p]).collect()
        }
        None => indices.clone(),
    };
    eprintln!("gathering {} architectures of {} into {} ({})", indices.len(), args.bench.bench.display(), args.out.display(), settings_line(&source.info()));
    let report = crate::gather::export::export(&source, &indices, &mine, &keep, &args.out, &stop, &reporter)?;
    match args.format {
        LintFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        LintFormat::Text => eprintln!(
            "{} architectures in {} ({} written now, {:.1} MiB; {} there before); rank them with `lpzero rank --inputs {}`",
            report.archs, report.dir.display(), report.written, report.bytes as f64 / (1u64 << 20) as f64, report.skipped, report.dir.display()
        ),
    }
    if report.interrupted {
        eprintln!("interrupted: run the same command again to gather the rest");
        return Err(super::Interrupted.into());
    }
    Ok(())
}

/// The text table of a rank report.
pub fn print_rank(report: &RankReport) {
    let fmt = |v: Option<f64>| v.map(|v| format!("{v:+.3}")).unwrap_or_else(|| "  -   ".into());
    if report.interrupted {
        eprintln!("interrupted: the numbers cover the {} architectures scored so far", report.ids.len());
    }
    println!("{:<34} {:>7} {:>7} {:>9} {:>9}   {:>13} {:>12}", "proxy", "ρ", "τ", "valid", "seconds", "reference ρ/τ", "ρ(lpz, ref)");
    for p in &report.proxies {
        let (rr, agree) = match &p.reference {
            Some(r) => (format!("{}/{}", fmt(r.spearman), fmt(r.kendall)), fmt(r.agreement)),
            None => (String::new(), String::new()),
        };
        let c = &p.correlation;
        println!(
            "{:<34} {:>7} {:>7} {:>9} {:>9.2}   {:>13} {:>12}",
            p.proxy, fmt(c.spearman), fmt(c.kendall), format!("{}/{}", c.valid, c.total), p.eval_seconds, rr, agree
        );
    }
    println!("{:-<100}", "");
    for b in &report.baselines {
        let c = &b.correlation;
        println!("{:<34} {:>7} {:>7} {:>9}", b.baseline, fmt(c.spearman), fmt(c.kendall), format!("{}/{}", c.valid, c.total));
    }
    print_beyond(report);
    print_noise(report);
    eprintln!(
        "gathering took {:.1} s ({:.2} s per architecture; {} of {} read from the cache)",
        report.gather_seconds,
        report.gather_seconds / report.ids.len().max(1) as f64,
        report.cached,
        report.ids.len(),
    );
}

/// The third table of a rank report scored on several variants: how each proxy's score and ρ
/// move with the minibatch and the initialisation.
fn print_noise(report: &RankReport) {
    if report.variants.len() < 2 {
        return;
    }
    let num = |v: Option<f64>| v.map(|v| format!("{v:+.3}")).unwrap_or_else(|| "-".into());
    println!();
    println!("noise over {} ({} in all; scores and ρ above are the means over them)", crate::rank::noise::describe(&report.variants), report.variants.len());
    println!("{:<34} {:>17} {:>9}   ρ of the mean of the first 1, 2, … variants", "", "ρ of one: min–max", "spread");
    for p in &report.proxies {
        let Some(n) = &p.noise else { continue };
        let each: Vec<f64> = n.rho_each.iter().flatten().copied().collect();
        let range = match (each.iter().copied().reduce(f64::min), each.iter().copied().reduce(f64::max)) {
            (Some(lo), Some(hi)) => format!("{lo:+.3} – {hi:+.3}"),
            _ => "-".into(),
        };
        let spread = n.spread_median.map_or("-".into(), |s| format!("{:.2}%", 100.0 * s));
        let by_k: Vec<String> = n.rho_mean_of_first.iter().map(|&r| num(r)).collect();
        println!("{:<34} {:>17} {:>9}   {}", p.proxy, range, spread, by_k.join(" "));
    }
    println!("(spread: the median over architectures of the standard deviation of a score over the variants, relative to its mean)");
}

/// The second table of a rank report: what each proxy and baseline knows beyond the
/// architecture.
fn print_beyond(report: &RankReport) {
    use crate::stats::{Finding, Interval};
    let Some(info) = &report.beyond else { return };
    let num = |v: Option<f64>| v.map(|v| format!("{v:+.3}")).unwrap_or_else(|| "-".into());
    let iv = |i: Option<&Interval>| match i {
        Some(i) => match i.bounds() {
            Some((lo, hi)) => format!("{} [{lo:+.2}, {hi:+.2}]", num(i.estimate)),
            None => num(i.estimate),
        },
        None => "-".into(),
    };
    let pct = (info.level * 100.0).round();
    println!();
    println!(
        "beyond the architecture ({pct}% bootstrap intervals, {} resamples, seed {}; partial ρ given {})",
        info.resamples,
        info.seed,
        info.controls.as_deref().unwrap_or("no baseline")
    );
    println!("{:<34} {:>22} {:>13} {:>13} {:>22}   verdict", "", "ρ", "ρ | depth", "ρ | width", "partial ρ");
    let rows = report.proxies.iter().map(|p| (&p.proxy, &p.beyond)).chain(report.baselines.iter().map(|b| (&b.baseline, &b.beyond)));
    for (name, b) in rows {
        let Some(b) = b else { continue };
        let h = &b.honest;
        let finding = match h.verdict.finding {
            Finding::AddsSignal => "adds signal",
            Finding::Worse => "worse",
            Finding::NoEvidence => "no evidence",
            Finding::Undetermined => "-",
        };
        println!(
            "{:<34} {:>22} {:>13} {:>13} {:>22}   {finding}",
            name,
            iv(Some(&h.interval)),
            num(h.within_groups.as_ref().and_then(|w| w.pooled)),
            num(b.within_width.as_ref().and_then(|w| w.pooled)),
            iv(h.partial_interval.as_ref()),
        );
    }
    match &info.ceiling {
        Some(c) => println!(
            "noise ceiling: ρ {:.3} [{:.3}, {:.3}] between two trainings of the same network ({} networks listed more than once, {} architectures)",
            c.median, c.lower, c.upper, c.groups, c.architectures
        ),
        None => println!("noise ceiling: none (the benchmark lists no network more than once)"),
    }
    println!("verdicts: \"adds signal\" where partial ρ's interval lies above 0; \"worse\" where ρ − ρ(best baseline) lies below 0; else \"no evidence\"");
}

/// `lpzero cache info|clear`.
pub fn cache(args: &CacheCmdArgs) -> anyhow::Result<()> {
    let settings = args.cache.settings();
    let root = settings.root().ok_or_else(|| anyhow::anyhow!("no cache folder: set --cache or $LPZERO_CACHE"))?;
    match &args.command {
        CacheCommand::Info => {
            let info = crate::gather::cache::info(&root)?;
            println!("{}: {:.2} GiB in {} files, budget {:.1} GiB", root.display(), info.bytes as f64 / (1u64 << 30) as f64, info.files, args.cache.cache_budget);
            for k in &info.keys {
                println!("  {:<28} {:>6} files {:>9.1} MiB  {}", k.name, k.files, k.bytes as f64 / (1u64 << 20) as f64, k.summary);
            }
        }
        CacheCommand::Clear { all } => {
            let removed = crate::gather::cache::clear(&root, *all)?;
            println!("removed {removed} cache folders under {}", root.display());
        }
    }
    Ok(())
}
