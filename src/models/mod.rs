//! The model manifest, locating and verifying model files, and running them with tract.
//!
//! `models/manifest.toml` is compiled into the crate, so the browser build, the server and the
//! CLI agree on exactly which bytes each role needs. Weights are never in the repository: a
//! [`ModelSource`] hands the loader bytes (from a directory natively, from `fetch` in the
//! browser), and [`ModelSource::bytes`] refuses any file whose SHA-256 differs from the
//! manifest's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;

use crate::error::{Error, Result};

pub mod compact;
mod maxpool;
mod prelu;

pub use compact::{CompactSpec, WeightStorage};

/// The manifest text, embedded at build time.
pub const MANIFEST_TOML: &str = include_str!("../../models/manifest.toml");

/// Environment variable naming a directory that holds the model files.
pub const MODELS_ENV: &str = "LIVEPROOF_MODELS";

const SETUP_HINT: &str = "run `scripts/setup-models.sh` (links them from ../shared/models) \
                          or set LIVEPROOF_MODELS to a directory holding the files listed in models/manifest.toml";

/// What a model is used for in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelRole {
    /// YuNet face detector with 5 keypoints.
    Detector,
    /// MediaPipe face mesh with attention (478 landmarks).
    Landmarks,
    /// MiniFASNetV2, 2.7× crop.
    PadV2,
    /// MiniFASNetV1SE, 4.0× crop.
    PadV1se,
    /// MobileFaceNet face embedding.
    Embedding,
    /// HSE FaceRes age and gender.
    AgeGender,
    /// mini-Xception emotion.
    Emotion,
    /// CelebA-Spoof-trained MiniFASNetV2-SE (second opinion; off unless configured).
    PadCeleba,
}

impl std::fmt::Display for ModelRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned));
        f.write_str(s.as_deref().unwrap_or("?"))
    }
}

/// One manifest entry.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct ModelEntry {
    pub role: ModelRole,
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    pub licence: String,
    pub source: String,
    pub input: String,
    pub output: String,
    /// Not loaded unless configured (licence-encumbered weights).
    #[serde(default)]
    pub optional: bool,
    /// How the weights are stored, for a compact file derived from the original
    /// ([`compact`]); absent for the original files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<WeightStorage>,
}

/// A compact file derived from the original of the same role by [`compact::compact`].
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct CompactEntry {
    pub role: ModelRole,
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    #[serde(flatten)]
    pub spec: CompactSpec,
}

/// Which weight files an engine loads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Weights {
    /// The original f32 (or float16) files.
    #[default]
    Full,
    /// The compact files of the manifest's `[[compact]]` entries where a role has one (the
    /// browser download), else the original.
    Compact,
}

#[derive(Deserialize)]
struct ManifestFile {
    model: Vec<ModelEntry>,
    #[serde(default)]
    compact: Vec<CompactEntry>,
}

/// The parsed manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    entries: Vec<ModelEntry>,
    compact: Vec<CompactEntry>,
}

impl Manifest {
    /// The manifest compiled into this build.
    pub fn builtin() -> Result<Self> {
        Self::parse(MANIFEST_TOML)
    }

    /// Parses manifest TOML.
    pub fn parse(text: &str) -> Result<Self> {
        let file: ManifestFile =
            toml::from_str(text).map_err(|e| Error::Manifest(e.to_string()))?;
        for c in &file.compact {
            if !file.model.iter().any(|m| m.role == c.role) {
                return Err(Error::Manifest(format!(
                    "compact file {} has no original for role {}",
                    c.file, c.role
                )));
            }
        }
        Ok(Self {
            entries: file.model,
            compact: file.compact,
        })
    }

    /// All entries of original files.
    pub fn entries(&self) -> &[ModelEntry] {
        &self.entries
    }

    /// All compact files.
    pub fn compact_entries(&self) -> &[CompactEntry] {
        &self.compact
    }

    /// The entry of the file a role loads with these weights: the compact file when asked
    /// for and the role has one, else the original.
    pub fn entry_for(&self, role: ModelRole, weights: Weights) -> Result<ModelEntry> {
        let original = self.entry(role)?;
        let compact = self.compact.iter().find(|c| c.role == role);
        Ok(match (weights, compact) {
            (Weights::Compact, Some(c)) => ModelEntry {
                file: c.file.clone(),
                sha256: c.sha256.clone(),
                bytes: c.bytes,
                weights: Some(c.spec.weights),
                ..original.clone()
            },
            _ => original.clone(),
        })
    }

    /// The entry for a role.
    pub fn entry(&self, role: ModelRole) -> Result<&ModelEntry> {
        self.entries
            .iter()
            .find(|e| e.role == role)
            .ok_or_else(|| Error::Manifest(format!("no model for role {role}")))
    }
}

/// Where model bytes come from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// Files in a directory (native).
    Dir(PathBuf),
    /// Bytes already in memory, keyed by file name (browser, tests).
    Memory(HashMap<String, Vec<u8>>),
}

impl ModelSource {
    /// `$LIVEPROOF_MODELS` if set, else the repository's `models/` directory.
    #[cfg(not(target_family = "wasm"))]
    pub fn from_env() -> Self {
        match std::env::var_os(MODELS_ENV) {
            Some(dir) if !dir.is_empty() => ModelSource::Dir(PathBuf::from(dir)),
            _ => ModelSource::Dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("models")),
        }
    }

    /// The verified bytes of a manifest entry.
    pub fn bytes(&self, entry: &ModelEntry) -> Result<Vec<u8>> {
        let bytes = match self {
            ModelSource::Dir(dir) => read_model_file(dir, entry)?,
            ModelSource::Memory(map) => {
                map.get(&entry.file)
                    .cloned()
                    .ok_or_else(|| Error::ModelMissing {
                        role: entry.role.to_string(),
                        file: entry.file.clone(),
                        dir: PathBuf::from("<memory>"),
                        hint: "pass the file's bytes to the loader".into(),
                    })?
            }
        };
        verify_sha256(entry, &bytes)?;
        Ok(bytes)
    }

    /// Derives a compact file from its (verified) original and checks the result against
    /// the pinned sha256: the rewrite is deterministic, so a mismatch means the spec, the
    /// code or the original changed.
    pub fn derive_compact(&self, manifest: &Manifest, compact: &CompactEntry) -> Result<Vec<u8>> {
        let original = self.bytes(manifest.entry(compact.role)?)?;
        let bytes = compact::compact(&original, &compact.spec)?;
        let entry = manifest.entry_for(compact.role, Weights::Compact)?;
        verify_sha256(&entry, &bytes).map_err(|e| match e {
            Error::ModelChecksum {
                file,
                actual,
                expected,
                ..
            } => Error::ModelChecksum {
                file,
                actual,
                expected,
                hint: format!(
                    "the derived file has {} bytes; update its [[compact]] entry in \
                     models/manifest.toml if the spec or compact.rs changed on purpose",
                    bytes.len()
                ),
            },
            e => e,
        })?;
        Ok(bytes)
    }
}

fn read_model_file(dir: &Path, entry: &ModelEntry) -> Result<Vec<u8>> {
    let path = dir.join(&entry.file);
    std::fs::read(&path).map_err(|_| Error::ModelMissing {
        role: entry.role.to_string(),
        file: entry.file.clone(),
        dir: dir.to_path_buf(),
        hint: SETUP_HINT.into(),
    })
}

/// Checks bytes against the manifest's SHA-256.
pub fn verify_sha256(entry: &ModelEntry, bytes: &[u8]) -> Result<()> {
    let actual = hex::encode(Sha256::digest(bytes));
    if !actual.eq_ignore_ascii_case(&entry.sha256) {
        return Err(Error::ModelChecksum {
            file: entry.file.clone(),
            actual,
            expected: entry.sha256.clone(),
            hint: SETUP_HINT.into(),
        });
    }
    Ok(())
}

/// A tract plan with a fixed input shape and named outputs in a known order.
pub type Plan = Arc<TypedRunnableModel>;

/// A loaded ONNX graph, kept so that plans for other input shapes can be derived (YuNet).
#[derive(Debug, Clone)]
pub struct OnnxGraph {
    name: &'static str,
    model: InferenceModel,
}

impl OnnxGraph {
    /// Parses ONNX bytes.
    pub fn parse(name: &'static str, bytes: &[u8]) -> Result<Self> {
        let mut onnx = tract_onnx::onnx();
        onnx.op_register.insert("PRelu", |_, _| {
            Ok((
                tract_onnx::tract_hir::ops::expandable::expand(prelu::MaxMinPrelu),
                vec![],
            ))
        });
        let start = web_time::Instant::now();
        let load = |bytes: &[u8]| -> TractResult<InferenceModel> {
            use tract_onnx::prelude::Framework;
            let mut proto = <tract_onnx::pb::ModelProto as prost::Message>::decode(bytes)?;
            if let Some(graph) = proto.graph.as_mut() {
                compact::widen(graph)?;
            }
            onnx.model_for_proto_model(&proto)
        };
        let model = load(bytes).map_err(|e| Error::ModelLoad {
            file: name.into(),
            message: format!("{e:#}"),
        })?;
        log::debug!("{name}: parse {:.1} ms", ms(start));
        Ok(Self { name, model })
    }

    /// Fixes the input shape, selects outputs by name (in that order), optimises and plans.
    pub fn plan(&self, input_shape: &[usize], outputs: &[&str]) -> Result<Plan> {
        let fail = |e: TractError| Error::ModelLoad {
            file: self.name.into(),
            message: format!("{e:#}"),
        };
        let mut model = self.model.clone();
        model
            .set_input_fact(0, f32::fact(input_shape).into())
            .map_err(fail)?;
        if !outputs.is_empty() {
            model.select_outputs_by_name(outputs).map_err(fail)?;
        }
        // Each step's time is logged: the engine build is most of a cold start.
        let start = web_time::Instant::now();
        let typed = model.into_typed().map_err(fail)?;
        let t_typed = ms(start);
        let mut typed = typed;
        declutter_optimizer().optimize(&mut typed).map_err(fail)?;
        let pools = maxpool::replace_2x2_pools(&mut typed).map_err(fail)?;
        let t_declutter = ms(start);
        // Codegen only: `into_optimized` would declutter the decluttered graph again.
        typed.optimize().map_err(fail)?;
        let optimized = typed;
        let t_optimize = ms(start);
        let plan = optimized.into_runnable().map_err(fail)?;
        log::debug!(
            "{}: typed {t_typed:.1} ms, decluttered {:.1} ms ({pools} 2x2 pools), optimised {:.1} ms, planned {:.1} ms",
            self.name,
            t_declutter - t_typed,
            t_optimize - t_declutter,
            ms(start) - t_optimize
        );
        Ok(plan)
    }
}

/// tract's declutter, cut to the two passes these convolutional models need: constant
/// propagation and each op's own simplification. The others reorganise axes, slices, splits,
/// masks and symbolic shapes (for transformer graphs) and cost time for nothing here: measured
/// natively on every model of the manifest, outputs bit-identical and frame times equal within
/// noise (face mesh 4.86 / 4.85 ms, MobileFaceNet 8.60 / 8.54 ms), while the face mesh's
/// declutter fell from 113 ms to 22 ms (`ChangeAxes` alone was 73 ms of it). The onnxruntime
/// bars of tests/integration/reference.rs hold.
fn declutter_optimizer() -> tract_onnx::tract_core::optim::Optimizer {
    // By Debug name: `PropConst(..)`, and the op pass prints its name, `declutter`.
    let mut optimizer = tract_onnx::tract_core::optim::Optimizer::declutter();
    optimizer.passes.retain(|pass| {
        let name = format!("{pass:?}");
        name.starts_with("PropConst") || name == "declutter"
    });
    optimizer
}

fn ms(start: web_time::Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// Runs a plan on one input and returns its outputs as flat f32 vectors.
pub fn run(model: &'static str, plan: &Plan, input: Tensor) -> Result<Vec<Vec<f32>>> {
    let fail = |e: TractError| Error::Inference {
        model,
        message: format!("{e:#}"),
    };
    let outputs = plan.run(tvec!(input.into())).map_err(fail)?;
    outputs
        .iter()
        .map(|t| {
            let t = t.cast_to::<f32>().map_err(fail)?;
            let view = t.try_as_plain_ram().map_err(fail)?;
            Ok(view.as_slice::<f32>().map_err(fail)?.to_vec())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifest_has_every_role_once() {
        let m = Manifest::builtin().unwrap();
        for role in [
            ModelRole::Detector,
            ModelRole::Landmarks,
            ModelRole::PadV2,
            ModelRole::PadV1se,
            ModelRole::Embedding,
            ModelRole::AgeGender,
            ModelRole::Emotion,
            ModelRole::PadCeleba,
        ] {
            assert_eq!(
                m.entries().iter().filter(|e| e.role == role).count(),
                1,
                "{role}"
            );
        }
        assert!(m.entry(ModelRole::PadCeleba).unwrap().optional);
        assert!(!m.entry(ModelRole::PadV2).unwrap().optional);
    }

    #[test]
    fn the_declutter_optimizer_keeps_its_two_passes() {
        // Found by their Debug names: a tract upgrade that renames them fails here instead of
        // quietly running no declutter at all.
        assert_eq!(declutter_optimizer().passes.len(), 2);
    }

    #[test]
    fn checksum_mismatch_names_the_file() {
        let m = Manifest::builtin().unwrap();
        let e = m.entry(ModelRole::Emotion).unwrap();
        let err = verify_sha256(e, b"not a model").unwrap_err();
        assert!(
            err.to_string().contains("attr_emotion_oarriaga.onnx"),
            "{err}"
        );
        assert_eq!(err.code(), "model_checksum");
    }
}
