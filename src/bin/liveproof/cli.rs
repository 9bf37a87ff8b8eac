//! Argument parsing and dispatch.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use liveproof::check::{check_media, CheckParams, MediaLimits};
use liveproof::models::{Manifest, ModelSource, Weights};
use liveproof::report::ApiVersion;
use liveproof::{Engine, EngineConfig};

#[derive(Parser)]
#[command(
    name = "liveproof",
    version,
    about = "Face liveness: stills, videos, challenges, batches, evaluation"
)]
struct Cli {
    /// Directory holding the model files (default: $LIVEPROOF_MODELS, else the repo's models/).
    #[arg(long, global = true, env = "LIVEPROOF_MODELS")]
    models: Option<PathBuf>,
    /// Also run the CelebA-Spoof-trained second-opinion PAD model (NON-COMMERCIAL weights).
    #[arg(long, global = true)]
    celeba_pad: bool,
    /// Which weight files to load: the originals, or the compact ones the browser SDK loads
    /// (derived by `liveproof models --write-compact`).
    #[arg(long, global = true, value_enum, default_value_t = WeightsArg::Full)]
    weights: WeightsArg,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum WeightsArg {
    Full,
    Compact,
}

#[derive(Subcommand)]
enum Command {
    /// Liveness of a still and/or a video, printed as the v1 or v2 response document.
    Check(CheckArgs),
    /// Run the challenge engine over a recorded clip and print its events as JSON lines.
    Video(crate::video_cmd::VideoArgs),
    /// The server's run of a session recording with its script: the report a verdict is
    /// signed from, and where the time went (stderr).
    Replay(crate::replay::ReplayArgs),
    /// Score a recording's response to the light sequence of a nonce (a real session saved
    /// by www/light.html).
    Light(crate::light_cmd::LightArgs),
    /// The light challenge simulated on the real live clips of the media folder (honest
    /// response, another session's light, an unlit replay, a photo): the detection table.
    LightSim(crate::light_sim::LightSimArgs),
    /// Run `check` over every case in a ZIP and write a ZIP of results.
    Batch(crate::batch::BatchArgs),
    /// ISO/IEC 30107-3 figures (APCER per attack type, BPCER, BPCER20/100, EER, non-response
    /// rates, bootstrap intervals) and a DET plot on labelled stills and videos.
    Eval(crate::eval::EvalArgs),
    /// The per-frame record (faces, landmarks, pose, quality, guidance, scores) of each image.
    Analyze {
        /// Images (JPEG, PNG, WebP).
        images: Vec<PathBuf>,
        /// Leave the 478 landmarks out of the output.
        #[arg(long)]
        brief: bool,
    },
    /// Verify the model files against the manifest (sha256).
    Models {
        /// Also derive the compact browser weights (the manifest's `[[compact]]` entries)
        /// from the originals into the models directory, each checked against its pinned
        /// sha256.
        #[arg(long)]
        write_compact: bool,
    },
}

/// Response document version.
#[derive(Clone, Copy, ValueEnum, Default)]
pub enum Format {
    V1,
    #[default]
    V2,
}

impl From<Format> for ApiVersion {
    fn from(f: Format) -> Self {
        match f {
            Format::V1 => ApiVersion::V1,
            Format::V2 => ApiVersion::V2,
        }
    }
}

/// The tuning fields of the liveness APIs.
#[derive(clap::Args, Clone)]
pub struct TuningArgs {
    /// Image + video: multi-frame analysis (true) or the legacy image + blink path (false).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub enhanced_detection: bool,
    /// Video frames compared with the still.
    #[arg(long, default_value_t = 3)]
    pub facematch_frames: u32,
    /// Fraction of compared frames that must match.
    #[arg(long, default_value_t = 0.6)]
    pub facematch_threshold: f32,
    /// Analyse every Nth video frame.
    #[arg(long, default_value_t = 15)]
    pub frame_sampling_rate: u32,
    /// Cap on analysed video frames.
    #[arg(long, default_value_t = 20)]
    pub max_frames_to_analyze: u32,
}

impl TuningArgs {
    pub fn params(&self) -> CheckParams {
        CheckParams {
            enhanced_detection: self.enhanced_detection,
            facematch_frames: self.facematch_frames,
            facematch_threshold: self.facematch_threshold,
            frame_sampling_rate: self.frame_sampling_rate,
            max_frames_to_analyze: self.max_frames_to_analyze,
            ..CheckParams::default()
        }
    }
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Still image (JPEG, PNG or WebP).
    #[arg(long)]
    image: Option<PathBuf>,
    /// Video (MP4/H.264, WebM/VP8/VP9).
    #[arg(long)]
    video: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::V2)]
    format: Format,
    #[command(flatten)]
    tuning: TuningArgs,
}

/// Exit codes: 0 ok, 1 the input was refused (bad media, no face), 2 setup or internal error.
pub fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            let input = e
                .downcast_ref::<liveproof::Error>()
                .is_some_and(liveproof::Error::is_input_error);
            ExitCode::from(if input { 1 } else { 2 })
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let source = match &cli.models {
        Some(dir) => ModelSource::Dir(dir.clone()),
        None => ModelSource::from_env(),
    };
    if let Command::Models { write_compact } = cli.command {
        verify_models(&source)?;
        return if write_compact {
            write_compact_models(&source)
        } else {
            Ok(())
        };
    }
    let config = EngineConfig {
        celeba_pad: cli.celeba_pad,
        weights: match cli.weights {
            WeightsArg::Full => Weights::Full,
            WeightsArg::Compact => Weights::Compact,
        },
        ..EngineConfig::default()
    };
    let engine = Engine::load(&source, config)?;
    match cli.command {
        Command::Check(args) => {
            let doc = check_files(
                &engine,
                args.image.as_deref(),
                args.video.as_deref(),
                &args.tuning.params(),
                args.format,
            )?;
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
        Command::Video(args) => crate::video_cmd::run(&engine, args),
        Command::Replay(args) => crate::replay::run(&engine, args),
        Command::Light(args) => crate::light_cmd::run(&engine, args),
        Command::LightSim(args) => crate::light_sim::run(&engine, args),
        Command::Batch(args) => crate::batch::run(&engine, args),
        Command::Eval(args) => crate::eval::run(&engine, args),
        Command::Analyze { images, brief } => analyze(&engine, &images, brief),
        Command::Models { .. } => unreachable!("handled above"),
    }
}

/// Runs a check on files and renders the requested document.
fn check_files(
    engine: &Engine,
    image: Option<&Path>,
    video: Option<&Path>,
    params: &CheckParams,
    format: Format,
) -> Result<serde_json::Value> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let image = image.map(read).transpose()?;
    let video = video.map(read).transpose()?;
    let outcome = check_media(
        engine,
        image.as_deref(),
        video.as_deref(),
        params,
        &MediaLimits::default(),
    )?;
    Ok(ApiVersion::from(format).render(&outcome))
}

/// Prints one JSON line per image: `{"file", "record"}` or `{"file", "error"}`.
fn analyze(engine: &Engine, images: &[PathBuf], brief: bool) -> Result<()> {
    for path in images {
        let result = std::fs::read(path)
            .map_err(anyhow::Error::from)
            .and_then(|b| {
                Ok(liveproof::decode_image(
                    &b,
                    &liveproof::ImageLimits::default(),
                )?)
            })
            .and_then(|f| Ok(engine.analyze(&f.as_ref(), 0.0, liveproof::Stages::ALL)?));
        let line = match result {
            Ok(mut record) => {
                if brief {
                    if let Some(face) = record.face.as_mut() {
                        face.landmarks.points.clear();
                        face.embedding = None;
                    }
                }
                serde_json::json!({ "file": path, "record": record })
            }
            Err(e) => serde_json::json!({ "file": path, "error": format!("{e:#}") }),
        };
        println!("{line}");
    }
    Ok(())
}

/// Writes the compact browser weights next to the originals (scripts/build-pkg.sh ships them).
fn write_compact_models(source: &ModelSource) -> Result<()> {
    let ModelSource::Dir(dir) = source else {
        anyhow::bail!("compact files are written into a models directory");
    };
    let manifest = Manifest::builtin()?;
    for entry in manifest.compact_entries() {
        let bytes = source.derive_compact(&manifest, entry)?;
        let path = dir.join(&entry.file);
        // Never write through a symlink into ../shared/models.
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        println!(
            "derived  {:<12} {} ({} bytes, {:?})",
            entry.role.to_string(),
            entry.file,
            bytes.len(),
            entry.spec.weights
        );
    }
    Ok(())
}

fn verify_models(source: &ModelSource) -> Result<()> {
    let manifest = Manifest::builtin()?;
    let mut failed = 0;
    for entry in manifest.entries() {
        match source.bytes(entry) {
            Ok(_) => println!("ok       {:<12} {}", entry.role.to_string(), entry.file),
            Err(e) => {
                failed += 1;
                println!("FAILED   {:<12} {e}", entry.role.to_string());
            }
        }
    }
    anyhow::ensure!(failed == 0, "{failed} model file(s) missing or corrupt");
    Ok(())
}
