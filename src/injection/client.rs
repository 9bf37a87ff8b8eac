//! What the SDK's JavaScript reports about the camera it was given, and what the core makes
//! of it.
//!
//! All of it is advisory: the page belongs to whoever runs it, so a careful attacker reports a
//! clean camera. These signals can therefore only ever *add* reasons (raise the risk); their
//! absence proves nothing, and nothing here can lower what the server measured itself.

use serde::{Deserialize, Serialize};

use super::assess::{InjectionReason, InjectionThresholds, Source};
use super::InjectionError;

/// Most entries in each list a client may send.
pub const MAX_ENTRIES: usize = 16;
/// Longest API or setting name, characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest device label, characters.
pub const MAX_LABEL_CHARS: usize = 256;

/// What the SDK's JavaScript reports (advisory; the attacker controls it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientSignals {
    /// Camera/stream APIs found replaced or wrapped before the SDK loaded (e.g.
    /// "getUserMedia", "enumerateDevices", "srcObject", "MediaStreamTrack.getSettings",
    /// "createImageBitmap"): not native code, or a Proxy.
    pub wrapped: Vec<String>,
    /// The video track's device label.
    pub device_label: Option<String>,
    /// Track settings outside the device's reported capabilities (setting names).
    pub settings_inconsistent: Vec<String>,
    /// Inter-frame intervals the page saw (requestVideoFrameCallback / rAF).
    pub frame_intervals: Option<IntervalStats>,
}

/// Inter-frame interval statistics: how many intervals, their median and their median
/// absolute deviation from it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntervalStats {
    pub count: u32,
    pub median_ms: f64,
    pub mad_ms: f64,
}

impl ClientSignals {
    /// Checks the report's size and numbers: at most [`MAX_ENTRIES`] entries per list, names
    /// of 1 to [`MAX_NAME_CHARS`] characters, a label of at most [`MAX_LABEL_CHARS`], no
    /// control characters (they end up in audit logs), finite non-negative statistics.
    pub fn validate(&self) -> Result<(), InjectionError> {
        names("wrapped", &self.wrapped)?;
        names("settings_inconsistent", &self.settings_inconsistent)?;
        if let Some(label) = &self.device_label {
            text("device_label", label, MAX_LABEL_CHARS, true)?;
        }
        if let Some(s) = &self.frame_intervals {
            for (field, v) in [
                ("frame_intervals.median_ms", s.median_ms),
                ("frame_intervals.mad_ms", s.mad_ms),
            ] {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(InjectionError::Invalid {
                        field,
                        reason: "must be a finite number ≥ 0".into(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The reasons this report gives, judged with `t`. Works on any report, valid or not:
    /// only the first [`MAX_ENTRIES`] entries count, names are cut to their limits and
    /// non-finite statistics are ignored, so a hostile report costs nothing and cannot panic.
    pub fn reasons(&self, t: &InjectionThresholds) -> Vec<InjectionReason> {
        let mut out = Vec::new();
        let apis = bounded(&self.wrapped);
        if !apis.is_empty() {
            out.push(InjectionReason::ApiWrapped { apis });
        }
        if let Some(label) = &self.device_label {
            if let Some(product) = virtual_camera(label) {
                out.push(InjectionReason::VirtualCamera {
                    label: label.chars().take(MAX_LABEL_CHARS).collect(),
                    product: product.to_string(),
                });
            }
        }
        let settings = bounded(&self.settings_inconsistent);
        if !settings.is_empty() {
            out.push(InjectionReason::InconsistentSettings { settings });
        }
        if let Some(s) = self.frame_intervals {
            if s.mad_ms.is_finite()
                && s.median_ms.is_finite()
                && s.median_ms > 0.0
                && s.count as usize >= t.min_intervals
                && s.mad_ms <= t.regular_mad_ms
            {
                out.push(InjectionReason::RegularTiming {
                    mad_ms: s.mad_ms,
                    source: Source::Client,
                });
            }
        }
        out
    }
}

fn names(field: &'static str, list: &[String]) -> Result<(), InjectionError> {
    if list.len() > MAX_ENTRIES {
        return Err(InjectionError::Invalid {
            field,
            reason: format!("{} entries, at most {MAX_ENTRIES}", list.len()),
        });
    }
    list.iter()
        .try_for_each(|name| text(field, name, MAX_NAME_CHARS, false))
}

fn text(field: &'static str, s: &str, max: usize, empty_ok: bool) -> Result<(), InjectionError> {
    let bad = |reason: String| Err(InjectionError::Invalid { field, reason });
    // Bytes first: a multi-megabyte string is refused without walking it.
    if s.len() > 4 * max || s.chars().count() > max {
        return bad(format!("longer than {max} characters"));
    }
    if !empty_ok && s.trim().is_empty() {
        return bad("an empty name".into());
    }
    if s.chars().any(char::is_control) {
        return bad("contains control characters".into());
    }
    Ok(())
}

/// The first [`MAX_ENTRIES`] non-empty names, each cut to [`MAX_NAME_CHARS`], sorted, without
/// duplicates.
fn bounded(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = list
        .iter()
        .take(MAX_ENTRIES)
        .map(|s| {
            s.chars()
                .filter(|c| !c.is_control())
                .take(MAX_NAME_CHARS)
                .collect::<String>()
        })
        .filter(|s| !s.trim().is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What kind of non-camera source a device label names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraKind {
    /// Software that presents any video (a file, a screen, a synthetic face) as a camera.
    Virtual,
    /// An app that relays a phone's own camera: a real sensor sits behind it, but the same
    /// apps also stream files, so it is a weaker sign.
    PhoneRelay,
}

/// A device label recognised by [`known_camera`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownCamera {
    pub product: &'static str,
    pub kind: CameraKind,
}

/// Lower-case label fragments and what they name. Checked in order; labels seen on Windows,
/// macOS and Linux (v4l2loopback's default card name is "Dummy video device").
const KNOWN: &[(&str, &str, CameraKind)] = {
    use CameraKind::{PhoneRelay, Virtual};
    &[
        ("obs virtual", "OBS Virtual Camera", Virtual),
        ("obs-camera", "OBS Virtual Camera", Virtual),
        ("obs camera", "OBS Virtual Camera", Virtual),
        ("manycam", "ManyCam", Virtual),
        ("xsplit", "XSplit VCam", Virtual),
        ("snap camera", "Snap Camera", Virtual),
        ("e2esoft", "e2eSoft VCam", Virtual),
        ("camtwist", "CamTwist", Virtual),
        ("mmhmm", "mmhmm", Virtual),
        ("nvidia broadcast", "NVIDIA Broadcast", Virtual),
        ("v4l2loopback", "v4l2loopback", Virtual),
        ("v4l2 loopback", "v4l2loopback", Virtual),
        ("dummy video device", "v4l2loopback", Virtual),
        ("fake_device", "Chromium fake capture device", Virtual),
        // Chromium's fake camera fed from a file (`--use-file-for-fake-video-capture`) is
        // labelled with the file's path: no real device is named after a video file.
        (".y4m", "Chromium fake capture device (file)", Virtual),
        (".mjpeg", "Chromium fake capture device (file)", Virtual),
        ("unity video capture", "Unity Video Capture", Virtual),
        ("splitcam", "SplitCam", Virtual),
        ("youcam", "CyberLink YouCam", Virtual),
        ("webcamoid", "Webcamoid", Virtual),
        ("altercam", "AlterCam", Virtual),
        ("chromacam", "ChromaCam", Virtual),
        ("vmix", "vMix", Virtual),
        ("wirecast", "Wirecast", Virtual),
        ("ndi webcam", "NDI Webcam", Virtual),
        ("ndi virtual", "NDI Webcam", Virtual),
        ("avatarify", "Avatarify", Virtual),
        ("facerig", "FaceRig", Virtual),
        ("prism lens", "PRISM Lens", Virtual),
        ("virtual cam", "a virtual camera", Virtual),
        ("virtualcam", "a virtual camera", Virtual),
        ("virtual webcam", "a virtual camera", Virtual),
        ("virtual video", "a virtual camera", Virtual),
        ("droidcam", "DroidCam", PhoneRelay),
        ("iriun", "Iriun Webcam", PhoneRelay),
        ("epoccam", "EpocCam", PhoneRelay),
        ("reincubate camo", "Camo", PhoneRelay),
    ]
};

/// The known virtual camera or capture tool a device label names, with its kind.
/// Case-insensitive; `None` for an ordinary camera (or a label a tool renamed).
pub fn known_camera(label: &str) -> Option<KnownCamera> {
    if label.len() > 4 * MAX_LABEL_CHARS {
        return None;
    }
    let lower = label.to_lowercase();
    KNOWN
        .iter()
        .find(|(needle, _, _)| lower.contains(needle))
        .map(|&(_, product, kind)| KnownCamera { product, kind })
}

/// Whether a device label names a known virtual camera / capture tool (OBS Virtual Camera,
/// ManyCam, XSplit VCam, Snap Camera, e2eSoft VCam, CamTwist, mmhmm, NVIDIA Broadcast,
/// v4l2loopback / "Dummy video device", Chromium's fake capture device "fake_device_…",
/// DroidCam/Iriun (phone-as-webcam, weaker), Unity Video Capture, Splitcam, etc.).
/// Case-insensitive. Returns the product's name.
pub fn virtual_camera(label: &str) -> Option<&'static str> {
    known_camera(label).map(|k| k.product)
}
