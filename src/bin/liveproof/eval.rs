//! `liveproof eval`: APCER per attack type and BPCER (layout: `liveproof::eval`).

use std::path::PathBuf;

use anyhow::Result;
use liveproof::eval::evaluate;
use liveproof::Engine;

#[derive(clap::Args)]
pub struct EvalArgs {
    /// Folder with live/ and one folder per attack type.
    pub dir: PathBuf,
    /// Real-probability threshold (default: the engine's).
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Print the full report (with every sample's score) as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(engine: &Engine, args: EvalArgs) -> Result<()> {
    let threshold = args.threshold.unwrap_or(engine.config().pad_threshold);
    anyhow::ensure!(
        (0.0..=1.0).contains(&threshold),
        "--threshold must be in [0, 1]"
    );
    let report = evaluate(engine, &args.dir, threshold)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("threshold {threshold:.2}");
    let b = &report.bona_fide;
    println!(
        "{:<22} {:>7} {:>9} {:>8} {:>7}",
        "class", "samples", "accepted", "no face", "error"
    );
    println!(
        "{:<22} {:>7} {:>9} {:>8} {:>7.3}  BPCER",
        "live (bona fide)", b.samples, b.accepted, b.no_face, report.bpcer
    );
    for (name, s) in &report.attacks {
        println!(
            "{:<22} {:>7} {:>9} {:>8} {:>7.3}  APCER",
            name, s.samples, s.accepted, s.no_face, report.apcer[name]
        );
    }
    println!("APCER (max over attack types) {:.3}", report.apcer_max);
    Ok(())
}
