//! wasm-bindgen bindings for the browser SDK (wasm32 builds only).
//!
//! No logic lives here: each export converts JS values into core types (serde-wasm-bindgen,
//! never JSON strings), calls the core, and converts the result back. Core errors become JS
//! `Error`s whose `code` property is [`crate::Error::code`], so the JS wrapper can branch on
//! it. Frames arrive as raw RGBA (from a canvas) or RGB; nothing is decoded per frame.

use std::collections::HashMap;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::challenge::{seed_from_nonce, ChallengeAction, ChallengeConfig, ChallengeSession};
use crate::events::Event;
use crate::evidence::{self, Alg, Bundle, Clip, VerifyKey};
use crate::frame::{FrameRef, ImageLimits, PixelFormat};
use crate::live::{LiveCheck, LiveConfig};
use crate::models::{Manifest, ModelSource};
use crate::pipeline::{EngineConfig, FrameSummary, Stages};

fn error(code: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&e, &"code".into(), &code.into());
    e.into()
}

fn core_error(e: crate::Error) -> JsValue {
    let js = error(e.code(), &e.to_string());
    // Model errors name the file, so a caller can purge exactly that cached file; argument
    // errors name the field at fault.
    let fields: &[(&str, &str)] = match &e {
        crate::Error::InvalidArgument { field, .. } => &[("field", field)],
        crate::Error::ModelMissing { file, role, .. } => &[("file", file), ("role", role)],
        crate::Error::ModelLoad { file, .. } => &[("file", file)],
        crate::Error::ModelChecksum {
            file,
            expected,
            actual,
            ..
        } => &[("file", file), ("expected", expected), ("actual", actual)],
        _ => &[],
    };
    for (k, v) in fields {
        let _ = js_sys::Reflect::set(&js, &(*k).into(), &(*v).into());
    }
    js
}

fn invalid(message: &str) -> JsValue {
    error("invalid_argument", message)
}

fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| error("internal", &e.to_string()))
}

/// `undefined`/`null` give the type's defaults; anything else must deserialize.
fn from_js<T: DeserializeOwned + Default>(value: JsValue, what: &str) -> Result<T, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    serde_wasm_bindgen::from_value(value).map_err(|e| invalid(&format!("{what}: {e}")))
}

fn frame(pixels: &[u8], width: u32, height: u32) -> Result<FrameRef<'_>, JsValue> {
    let px = width as usize * height as usize;
    let format = if pixels.len() == px * 4 {
        PixelFormat::Rgba8
    } else if pixels.len() == px * 3 {
        PixelFormat::Rgb8
    } else {
        return Err(error(
            "invalid_frame",
            &format!(
                "a {width}x{height} frame needs {} (RGBA) or {} (RGB) bytes, got {}",
                px * 4,
                px * 3,
                pixels.len()
            ),
        ));
    };
    FrameRef::new(width, height, format, pixels).map_err(core_error)
}

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = debug)]
    fn console_debug(line: &str);
}

/// Forwards the core's `log` records to `console.debug` (the engine build's per-model step
/// times, for one: see README "Performance").
struct ConsoleLog;

impl log::Log for ConsoleLog {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            console_debug(&format!("[{}] {}", record.target(), record.args()));
        }
    }

    fn flush(&self) {}
}

static CONSOLE_LOG: ConsoleLog = ConsoleLog;

/// Sends the core's log records at `level` (`"off"`, `"error"`, `"warn"`, `"info"`, `"debug"`)
/// and above to `console.debug`.
#[wasm_bindgen(js_name = setLogLevel)]
pub fn set_log_level(level: &str) -> Result<(), JsValue> {
    let level: log::LevelFilter = level.parse().map_err(|_| {
        invalid(&format!(
            "log level {level:?}: off, error, warn, info or debug"
        ))
    })?;
    // Only the first call installs the logger; later ones change the level.
    let _ = log::set_logger(&CONSOLE_LOG);
    log::set_max_level(level);
    Ok(())
}

/// Build facts: core version and whether this binary uses wasm SIMD.
#[derive(Serialize)]
struct BuildInfo {
    core: &'static str,
    simd: bool,
}

/// `{core, simd}` of this build.
#[wasm_bindgen(js_name = buildInfo)]
pub fn build_info() -> Result<JsValue, JsValue> {
    to_js(&BuildInfo {
        core: env!("CARGO_PKG_VERSION"),
        simd: cfg!(target_feature = "simd128"),
    })
}

/// The model manifest compiled into this build: `[{role, file, sha256, bytes, licence,
/// source, input, output, optional}]`. The wrapper fetches exactly these files.
#[wasm_bindgen(js_name = modelManifest)]
pub fn model_manifest() -> Result<JsValue, JsValue> {
    to_js(Manifest::builtin().map_err(core_error)?.entries())
}

/// The manifest entries of the models an engine with this (partial) configuration loads.
#[wasm_bindgen(js_name = requiredModels)]
pub fn required_models(config: JsValue) -> Result<JsValue, JsValue> {
    let config: EngineConfig = from_js(config, "engine config")?;
    let manifest = Manifest::builtin().map_err(core_error)?;
    let entries = config
        .roles()
        .into_iter()
        .map(|role| manifest.entry_for(role, config.weights))
        .collect::<crate::Result<Vec<_>>>()
        .map_err(core_error)?;
    to_js(&entries)
}

/// Decodes a JPEG/PNG/WebP still (EXIF orientation applied, size limits enforced) into
/// `{width, height, data: Uint8Array (RGB)}`.
#[wasm_bindgen(js_name = decodeImage)]
pub fn decode_image(bytes: &[u8]) -> Result<JsValue, JsValue> {
    let f = crate::decode_image(bytes, &ImageLimits::default()).map_err(core_error)?;
    let out = js_sys::Object::new();
    js_sys::Reflect::set(&out, &"width".into(), &f.width().into())?;
    js_sys::Reflect::set(&out, &"height".into(), &f.height().into())?;
    let data = js_sys::Uint8Array::from(f.into_rgb().as_slice());
    js_sys::Reflect::set(&out, &"data".into(), &data)?;
    Ok(out.into())
}

/// The core's defaults and limits for session options, so the wrapper never copies them:
/// `{challenge: ChallengeConfig, evidence: EvidenceConfig, engine: EngineConfig,
/// max_timeout_ms, max_detect_every}`.
#[wasm_bindgen(js_name = sessionDefaults)]
pub fn session_defaults() -> Result<JsValue, JsValue> {
    #[derive(Serialize)]
    struct Defaults {
        challenge: ChallengeConfig,
        evidence: crate::evidence::EvidenceConfig,
        engine: EngineConfig,
        max_timeout_ms: f64,
        max_detect_every: u32,
    }
    to_js(&Defaults {
        challenge: ChallengeConfig::default(),
        evidence: crate::evidence::EvidenceConfig::default(),
        engine: EngineConfig::default(),
        max_timeout_ms: crate::challenge::MAX_TIMEOUT_MS,
        max_detect_every: crate::live::MAX_DETECT_EVERY,
    })
}

/// Every model, loaded once; share one per worker.
#[wasm_bindgen]
pub struct Engine {
    inner: Rc<crate::Engine>,
}

#[wasm_bindgen]
impl Engine {
    /// Loads the models from `{ [file name]: Uint8Array }`, refusing any file whose SHA-256
    /// is not the manifest's. `config` is a partial [`EngineConfig`].
    #[wasm_bindgen(constructor)]
    pub fn new(models: JsValue, config: JsValue) -> Result<Engine, JsValue> {
        let files: HashMap<String, serde_bytes::ByteBuf> = serde_wasm_bindgen::from_value(models)
            .map_err(|e| {
            invalid(&format!(
                "models must be an object of file name → Uint8Array: {e}"
            ))
        })?;
        let config: EngineConfig = from_js(config, "engine config")?;
        let source =
            ModelSource::Memory(files.into_iter().map(|(k, v)| (k, v.into_vec())).collect());
        let inner = crate::Engine::load(&source, config).map_err(core_error)?;
        Ok(Engine {
            inner: Rc::new(inner),
        })
    }

    /// Loads an on-demand model (`"emotion"`) from its bytes, refusing bytes whose SHA-256
    /// is not the manifest's.
    #[wasm_bindgen(js_name = addModel)]
    pub fn add_model(&self, role: JsValue, bytes: &[u8]) -> Result<(), JsValue> {
        let role: crate::models::ModelRole =
            serde_wasm_bindgen::from_value(role).map_err(|e| invalid(&format!("role: {e}")))?;
        self.inner.add_model(role, bytes).map_err(core_error)
    }

    /// Whether the emotion model (the smile challenge's) is loaded.
    #[wasm_bindgen(js_name = hasEmotion)]
    pub fn has_emotion(&self) -> bool {
        self.inner.has_emotion()
    }

    /// Runs the pipeline on one frame (RGBA or RGB bytes) and returns the full record.
    /// `stages` is a partial [`Stages`] (default: anti-spoofing only).
    pub fn analyze(
        &self,
        pixels: &[u8],
        width: u32,
        height: u32,
        t_ms: f64,
        stages: JsValue,
    ) -> Result<JsValue, JsValue> {
        let stages = if stages.is_undefined() || stages.is_null() {
            Stages::PAD
        } else {
            from_js::<Stages>(stages, "stages")?
        };
        let f = frame(pixels, width, height)?;
        let record = self.inner.analyze(&f, t_ms, stages).map_err(core_error)?;
        to_js(&record)
    }
}

/// Options of a live session.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SessionOptions {
    challenge: ChallengeConfig,
    /// An explicit script (otherwise drawn from `seed`).
    script: Option<Vec<ChallengeAction>>,
    /// Bytes the script is drawn from: the server nonce (UTF-8) or fresh random bytes.
    #[serde(with = "serde_bytes")]
    seed: Option<Vec<u8>>,
    live: LiveConfig,
}

#[derive(Serialize)]
struct Step<'a> {
    record: FrameSummary,
    events: &'a [Event],
}

/// One liveness session over camera frames.
#[wasm_bindgen]
pub struct LiveSession {
    engine: Rc<crate::Engine>,
    check: LiveCheck,
    /// The last frame's landmark points, for the overlay.
    points: Vec<f32>,
    bundle: Option<Bundle>,
}

#[wasm_bindgen]
impl LiveSession {
    /// Starts a session: `{challenge?: ChallengeConfig, script?: string[], seed?: Uint8Array,
    /// live?: {detect_every, evidence}}`; one of `script` and `seed` is required.
    #[wasm_bindgen(constructor)]
    pub fn new(engine: &Engine, options: JsValue) -> Result<LiveSession, JsValue> {
        let o: SessionOptions = from_js(options, "session options")?;
        let session = match (o.script, o.seed) {
            (Some(script), _) => ChallengeSession::with_script(o.challenge, script),
            (None, Some(seed)) if !seed.is_empty() => {
                ChallengeSession::new(o.challenge, seed_from_nonce(&seed))
            }
            _ => return Err(invalid("a session needs a script or a non-empty seed")),
        }
        .map_err(core_error)?;
        // A script with a smile on an engine without the emotion model: a `model_missing`
        // error naming the file, which the wrapper fetches and passes to `addModel`.
        engine
            .inner
            .ready_for(session.script())
            .map_err(core_error)?;
        Ok(LiveSession {
            engine: engine.inner.clone(),
            check: LiveCheck::new(session, o.live).map_err(core_error)?,
            points: Vec::new(),
            bundle: None,
        })
    }

    /// The challenge script.
    pub fn script(&self) -> Result<JsValue, JsValue> {
        to_js(self.check.session().script())
    }

    /// Analyses one frame captured at `t_ms` (RGBA or RGB bytes): `{record, events}`.
    pub fn process(
        &mut self,
        pixels: &[u8],
        width: u32,
        height: u32,
        t_ms: f64,
    ) -> Result<JsValue, JsValue> {
        let f = frame(pixels, width, height)?;
        let step = self
            .check
            .process(&self.engine, &f, t_ms)
            .map_err(core_error)?;
        self.points.clear();
        if let Some(face) = &step.record.face {
            self.points
                .extend(face.landmarks.points.iter().flat_map(|p| [p[0], p[1]]));
        }
        to_js(&Step {
            record: step.record.summary(),
            events: &step.events,
        })
    }

    /// The last frame's landmarks as `[x0, y0, x1, y1, …]` in frame pixels (empty: no face).
    pub fn landmarks(&self) -> Vec<f32> {
        self.points.clone()
    }

    /// Ends the stream; an undecided session fails. Returns the final events.
    pub fn finish(&mut self) -> Result<JsValue, JsValue> {
        to_js(&self.check.finish())
    }

    /// Whether the session has decided.
    #[wasm_bindgen(js_name = isDone)]
    pub fn is_done(&self) -> bool {
        self.check.session().is_done()
    }

    /// The session's outcome (script, timings, failure reason), or `null` before the end.
    pub fn outcome(&self) -> Result<JsValue, JsValue> {
        to_js(&self.check.outcome())
    }

    /// Assembles the evidence bundle of a decided session (started with `live.evidence`):
    /// `{manifest, items: [{name, kind, media_type, t_ms, bytes, sha256, data}]}`, with the
    /// session's recording (`clip`, `clip_type` = `video/webm` or `video/mp4`) when given, the
    /// light timeline (`{onsets_ms}`) and the injection signals the page collected (or null).
    #[allow(clippy::too_many_arguments)]
    pub fn evidence(
        &mut self,
        session_id: &str,
        nonce: &str,
        created_ms: f64,
        sdk_version: &str,
        clip: Option<Vec<u8>>,
        clip_type: Option<String>,
        light: JsValue,
        signals: JsValue,
    ) -> Result<JsValue, JsValue> {
        let light: Option<crate::light::LightTimeline> = from_js(light, "light")?;
        let signals: Option<crate::injection::ClientSignals> = from_js(signals, "signals")?;
        if let Some(s) = &signals {
            s.validate()
                .map_err(|e| invalid(&format!("signals: {e}")))?;
        }
        let clip = match (&clip, &clip_type) {
            (Some(data), Some(media_type)) => Some(Clip { data, media_type }),
            (None, None) => None,
            _ => return Err(invalid("a clip needs both its bytes and its media type")),
        };
        let mut bundle = self
            .check
            .bundle(session_id, nonce, created_ms, sdk_version, clip)
            .map_err(core_error)?;
        bundle.manifest.light = light;
        bundle.manifest.signals = signals;
        let items = js_sys::Array::new();
        for (item, data) in bundle.manifest.items.iter().zip(&bundle.data) {
            let obj = to_js(item)?;
            js_sys::Reflect::set(
                &obj,
                &"data".into(),
                &js_sys::Uint8Array::from(data.as_slice()),
            )?;
            items.push(&obj);
        }
        let out = js_sys::Object::new();
        js_sys::Reflect::set(&out, &"manifest".into(), &to_js(&bundle.manifest)?)?;
        js_sys::Reflect::set(&out, &"items".into(), &items)?;
        self.bundle = Some(bundle);
        Ok(out.into())
    }

    /// The JWS signing input (`header.payload`) of the last assembled bundle's manifest, for
    /// `alg` `HS256` (session key, kid = session id) or `EdDSA` (device key).
    #[wasm_bindgen(js_name = signingInput)]
    pub fn signing_input(&self, alg: &str, kid: &str) -> Result<String, JsValue> {
        let alg = Alg::parse(alg).map_err(|e| invalid(&e.to_string()))?;
        let bundle = self
            .bundle
            .as_ref()
            .ok_or_else(|| invalid("call evidence() before signingInput()"))?;
        Ok(bundle.manifest.signing_input(alg, kid))
    }
}

/// Verifies a signed evidence manifest with a raw key (HS256 secret or Ed25519 public key)
/// and returns the manifest; the same check the server makes. Throws with the evidence error
/// code (`bad_signature`, `unknown_key`, ...).
#[wasm_bindgen(js_name = verifyEvidence)]
pub fn verify_evidence(token: &str, alg: &str, key: &[u8]) -> Result<JsValue, JsValue> {
    let alg = Alg::parse(alg).map_err(|e| invalid(&e.to_string()))?;
    let key = match alg {
        Alg::HS256 => VerifyKey::Hmac(key.to_vec()),
        Alg::EdDSA => VerifyKey::ed25519(key).map_err(|e| invalid(&e.to_string()))?,
    };
    let verified =
        evidence::verify_bundle(token, |a, _| (a == alg).then_some(key)).map_err(|e| {
            let e = crate::Error::from(e);
            error(e.code(), &e.to_string())
        })?;
    to_js(&verified.manifest)
}
