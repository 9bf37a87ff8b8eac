//! `liveproof batch`: bulk mode with a progress bar (naming rules: `liveproof::batch`).

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use liveproof::batch::{run_batch, BatchLimits};
use liveproof::Engine;

use crate::cli::{Format, TuningArgs};

#[derive(clap::Args)]
pub struct BatchArgs {
    /// Input ZIP (see README "Batch mode" for the naming rules).
    pub input: PathBuf,
    /// Output ZIP.
    #[arg(short, long)]
    pub output: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::V2)]
    pub format: Format,
    #[command(flatten)]
    pub tuning: TuningArgs,
}

pub fn run(engine: &Engine, args: BatchArgs) -> Result<()> {
    let input =
        File::open(&args.input).with_context(|| format!("opening {}", args.input.display()))?;
    let output = File::create(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} cases  {elapsed_precise} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let rows = run_batch(
        engine,
        BufReader::new(input),
        output,
        &args.tuning.params(),
        args.format.into(),
        &BatchLimits::default(),
        |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();
    let failed = rows.iter().filter(|r| !r.error.is_empty()).count();
    eprintln!(
        "{} cases, {} failed → {}",
        rows.len(),
        failed,
        args.output.display()
    );
    Ok(())
}
