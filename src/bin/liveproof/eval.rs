//! `liveproof eval`: ISO/IEC 30107-3 figures with bootstrap intervals, a DET plot and a JSON
//! report on labelled stills and videos (data layout and configurations: `liveproof::eval`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use liveproof::eval::dataset::{self, MediaKind};
use liveproof::eval::det::write_det_svg;
use liveproof::eval::metrics::{Bootstrap, Interval, MAX_BOOTSTRAP_REPS};
use liveproof::eval::{evaluate, Config, EvalOptions, KindReport, PartFilter, Report};
use liveproof::Engine;

#[derive(clap::Args)]
pub struct EvalArgs {
    /// The media folder: `live/` + one folder per attack type, or the root the labels' paths
    /// are relative to.
    pub dir: PathBuf,
    /// A labels CSV (`path,label[,identity]`; the media folder's catalog.csv is one) instead
    /// of the folder layout.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// With --labels: only paths starting with this prefix (repeatable), e.g. `live/`.
    #[arg(long = "include")]
    pub include: Vec<String>,
    /// Which part of the person-wise split the figures are computed on (the fusion is always
    /// fitted on `train`).
    #[arg(long, value_enum, default_value = "test")]
    pub part: PartArg,
    /// The `before` rule's threshold; the other rules' thresholds are matched to its BPCER on
    /// the train part unless --fixed-threshold.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Use --threshold for every rule instead of matching BPCER on the train part.
    #[arg(long)]
    pub fixed_threshold: bool,
    /// The configuration reported: before, refusals (= product), fused.
    #[arg(long, default_value = "product")]
    pub config: String,
    /// A second configuration printed beside it and drawn on the same DET plot.
    #[arg(long)]
    pub compare: Option<String>,
    /// Write the DET plot here (SVG); one file per media kind gets `-stills` / `-videos`.
    #[arg(long)]
    pub det: Option<PathBuf>,
    /// Write the full JSON report (every figure and sample score) here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Bootstrap replicates for the 95 % intervals (0: none).
    #[arg(long, default_value_t = 2000)]
    pub bootstrap: usize,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum PartArg {
    Test,
    Train,
    All,
}

pub fn run(engine: &Engine, args: EvalArgs) -> Result<()> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.threshold),
        "--threshold must be in [0, 1]"
    );
    anyhow::ensure!(
        args.bootstrap <= MAX_BOOTSTRAP_REPS,
        "--bootstrap must be at most {MAX_BOOTSTRAP_REPS}"
    );
    let mut shown = vec![Config::parse(&args.config)?];
    if let Some(c) = &args.compare {
        shown.push(Config::parse(c)?);
    }
    let (samples, skipped) = match &args.labels {
        Some(labels) => dataset::from_labels(&args.dir, labels, &args.include)?,
        None => {
            anyhow::ensure!(args.include.is_empty(), "--include needs --labels");
            (dataset::from_folders(&args.dir)?, Vec::new())
        }
    };
    let options = EvalOptions {
        part: match args.part {
            PartArg::Test => PartFilter::Test,
            PartArg::Train => PartFilter::Train,
            PartArg::All => PartFilter::All,
        },
        threshold: args.threshold,
        fixed_threshold: args.fixed_threshold,
        bootstrap: Bootstrap {
            reps: args.bootstrap,
            ..Bootstrap::default()
        },
        celeba: engine.celeba_pad_enabled(),
    };
    let bar = ProgressBar::new(samples.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} samples  {elapsed_precise} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = evaluate(engine, &samples, skipped, &options, &|done, _| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    print_report(&report, &shown);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.det {
        for k in &report.kinds {
            let out = if report.kinds.len() == 1 {
                path.clone()
            } else {
                suffixed(path, kind_name(k.kind))
            };
            let curves: Vec<_> = k
                .configs
                .iter()
                .filter(|c| shown.contains(&c.config))
                .map(|c| (c.config.name().to_owned(), c.det.clone()))
                .collect();
            let title = format!("DET, {} ({:?} part)", kind_name(k.kind), report.part);
            write_det_svg(&out, &title, &curves)?;
            eprintln!("DET plot: {}", out.display());
        }
    }
    Ok(())
}

fn kind_name(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "stills",
        MediaKind::Video => "videos",
    }
}

fn suffixed(path: &std::path::Path, tag: &str) -> PathBuf {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("det");
    let ext = path.extension().and_then(|s| s.to_str()).unwrap_or("svg");
    path.with_file_name(format!("{stem}-{tag}.{ext}"))
}

fn pct(i: &Interval) -> String {
    format!(
        "{:5.1} % [{:.1}, {:.1}]",
        i.value * 100.0,
        i.low * 100.0,
        i.high * 100.0
    )
}

fn opt(i: &Option<Interval>) -> String {
    i.as_ref().map_or_else(|| "N/A".to_owned(), pct)
}

fn print_report(report: &Report, shown: &[Config]) {
    println!(
        "part {:?}, before's threshold {:.2} ({}), {} bootstrap replicates (95 % intervals)",
        report.part,
        report.threshold,
        if report.fixed_threshold {
            "every rule"
        } else {
            "the others matched to its train BPCER"
        },
        report.bootstrap_reps
    );
    if let Some(f) = &report.fusion {
        println!(
            "fusion (fitted on the train part): bias {:.3}, weights {:?}, lambda {}",
            f.bias, f.weights, f.lambda
        );
    }
    for k in &report.kinds {
        print_kind(k, shown);
    }
    if !report.skipped.is_empty() {
        println!("\nskipped {} labelled files:", report.skipped.len());
        for s in &report.skipped {
            println!("  {}: {}", s.path.display(), s.reason);
        }
    }
    let errors: Vec<_> = report
        .samples
        .iter()
        .filter(|s| s.error.is_some())
        .collect();
    if !errors.is_empty() {
        println!("\n{} unreadable files (in no figure):", errors.len());
        for s in errors {
            println!(
                "  {}: {}",
                s.path.display(),
                s.error.as_deref().unwrap_or("")
            );
        }
    }
}

fn print_kind(k: &KindReport, shown: &[Config]) {
    println!("\n== {} ==", kind_name(k.kind));
    for c in k.configs.iter().filter(|c| shown.contains(&c.config)) {
        let m = &c.metrics;
        println!(
            "\n[{}]  threshold {:.3} (train BPCER {}), bona fide {}, attacks {:?}",
            c.config.name(),
            c.threshold,
            c.train_bpcer
                .map_or_else(|| "N/A".to_owned(), |b| format!("{:.1} %", b * 100.0)),
            m.bona_fide,
            m.attacks
        );
        for (species, i) in &m.apcer {
            println!("  APCER {species:<10} {}", pct(i));
        }
        println!("  APCER max        {}", pct(&m.apcer_max));
        println!("  BPCER            {}", pct(&m.bpcer));
        println!("  BPNRR            {}", pct(&m.bpnrr));
        println!("  APNRR            {}", pct(&m.apnrr));
        println!("  BPCER20          {}", opt(&m.bpcer20));
        println!("  BPCER100         {}", opt(&m.bpcer100));
        println!(
            "  EER              {} at threshold {}",
            opt(&m.eer),
            m.eer_threshold
                .map_or_else(|| "N/A".to_owned(), |t| format!("{t:.3}"))
        );
    }
    if !k.cues.is_empty() {
        println!("\n  cues alone (every part; value ranges among the judged):");
        for c in &k.cues {
            let r = |v: Option<(f64, f64)>| {
                v.map_or_else(|| "-".to_owned(), |(a, b)| format!("{a:.4}..{b:.4}"))
            };
            println!(
                "  {:<20} attack when {:<22} judged {:>3} bona fide / {:>2} attacks  EER {}  bona fide {}  attacks {}",
                c.cue,
                c.attack_when,
                c.bona_fide_judged,
                c.attacks_judged,
                c.eer
                    .map_or_else(|| "N/A".to_owned(), |e| format!("{:.1} %", e * 100.0)),
                r(c.bona_fide_range),
                r(c.attack_range),
            );
        }
    }
    if !k.non_responses.is_empty() {
        println!(
            "\n  non-responses (refusals rule) by class: {:?}",
            k.non_responses
        );
    }
}
