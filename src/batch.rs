//! Bulk mode: a ZIP of cases in, a ZIP of response documents out. The CLI (`liveproof batch`)
//! and the server's batch endpoint share these rules.
//!
//! # Naming rules
//! - Each file is an image (`.jpg .jpeg .png .webp`) or a video (`.mp4 .m4v .mov .webm .mkv`);
//!   other files, folders, hidden files and `__MACOSX/` are ignored.
//! - A file's **case** is its path without the extension (`alice.jpg` + `alice.mp4` are one
//!   case with both inputs), except that a file named `image.*` or `video.*` belongs to the case
//!   named by its folder (`alice/image.jpg` + `alice/video.webm` is case `alice`).
//! - A case has at most one image and one video; a second one makes the case an error.
//! - Output: `results/<case>.json` (the v1 or v2 document, or `{"error": {"code", "message"}}`)
//!   for every case, and `summary.csv` with `case,image,video,overall_result,overall_confidence,error`.
//! - Limits: 1000 cases, 50 MiB per image, 200 MiB per video, 2 GiB uncompressed in all; sizes
//!   are checked as bytes are read, not trusted from the ZIP directory.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Seek, Write};

use serde::Serialize;

use crate::check::{check_media, CheckParams, MediaLimits};
use crate::error::{Error, Result};
use crate::pipeline::Engine;
use crate::report::ApiVersion;

const IMAGE_EXT: [&str; 4] = ["jpg", "jpeg", "png", "webp"];
const VIDEO_EXT: [&str; 5] = ["mp4", "m4v", "mov", "webm", "mkv"];

/// Batch limits.
#[derive(Debug, Clone)]
pub struct BatchLimits {
    pub max_cases: usize,
    pub max_image_bytes: u64,
    pub max_video_bytes: u64,
    pub max_total_bytes: u64,
    /// Decoding limits for each case's still and video.
    pub media: MediaLimits,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_cases: 1000,
            max_image_bytes: 50 << 20,
            max_video_bytes: 200 << 20,
            max_total_bytes: 2 << 30,
            media: MediaLimits::default(),
        }
    }
}

/// The inputs of one case (archive entry names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFiles {
    pub image: Option<String>,
    pub video: Option<String>,
    /// Why the case cannot run (e.g. two images).
    pub problem: Option<String>,
}

/// Groups archive entry names into cases by the naming rules.
pub fn group_cases<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, CaseFiles> {
    let mut cases: BTreeMap<String, CaseFiles> = BTreeMap::new();
    for name in names {
        if name.ends_with('/')
            || name.starts_with("__MACOSX/")
            || name.split('/').any(|p| p.starts_with('.'))
        {
            continue;
        }
        let Some((stem_path, ext)) = name.rsplit_once('.') else {
            continue;
        };
        let ext = ext.to_ascii_lowercase();
        let is_image = IMAGE_EXT.contains(&ext.as_str());
        let is_video = VIDEO_EXT.contains(&ext.as_str());
        if !is_image && !is_video {
            continue;
        }
        let (folder, stem) = match stem_path.rsplit_once('/') {
            Some((f, s)) => (Some(f), s),
            None => (None, stem_path),
        };
        let case = match (folder, stem.to_ascii_lowercase().as_str()) {
            (Some(f), "image" | "video") => f.to_owned(),
            _ => stem_path.to_owned(),
        };
        let entry = cases.entry(case).or_default();
        let slot = if is_image {
            &mut entry.image
        } else {
            &mut entry.video
        };
        if let Some(previous) = slot.replace(name.to_owned()) {
            entry.problem = Some(format!(
                "two {} files: {previous} and {name}",
                if is_image { "image" } else { "video" }
            ));
        }
    }
    cases
}

/// One row of `summary.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryRow {
    pub case: String,
    pub image: String,
    pub video: String,
    pub overall_result: String,
    pub overall_confidence: String,
    pub error: String,
}

/// Runs every case of `input` and writes the result archive to `output`. `progress(done, total)`
/// is called after each case.
pub fn run_batch<R: Read + Seek, W: Write + Seek>(
    engine: &Engine,
    input: R,
    output: W,
    params: &CheckParams,
    version: ApiVersion,
    limits: &BatchLimits,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<SummaryRow>> {
    let bad_zip = |e: zip::result::ZipError| {
        Error::invalid("archive", format!("not a readable ZIP archive: {e}"))
    };
    let mut archive = zip::ZipArchive::new(input).map_err(bad_zip)?;
    let names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    let cases = group_cases(names.iter().map(String::as_str));
    if cases.is_empty() {
        return Err(Error::invalid(
            "archive",
            "the archive holds no image or video files",
        ));
    }
    if cases.len() > limits.max_cases {
        return Err(Error::invalid(
            "archive",
            format!(
                "{} cases, more than the {} allowed",
                cases.len(),
                limits.max_cases
            ),
        ));
    }
    let mut writer = zip::ZipWriter::new(output);
    let options = zip::write::SimpleFileOptions::default();
    let io =
        |e: std::io::Error| Error::invalid("output", format!("writing the result archive: {e}"));
    let zip_io = |e: zip::result::ZipError| {
        Error::invalid("output", format!("writing the result archive: {e}"))
    };
    let mut rows = Vec::with_capacity(cases.len());
    let mut budget = limits.max_total_bytes;
    let total = cases.len();
    for (done, (case, files)) in cases.into_iter().enumerate() {
        let result = run_case(engine, &mut archive, &files, params, limits, &mut budget);
        let (doc, row) = match result {
            Ok(outcome) => {
                let doc = version.render(&outcome);
                let row = summary(&case, &files, Some(&doc), None);
                (doc, row)
            }
            Err(e) => {
                let doc =
                    serde_json::json!({ "error": { "code": e.code(), "message": e.to_string() } });
                let row = summary(&case, &files, None, Some(e.to_string()));
                (doc, row)
            }
        };
        writer
            .start_file(format!("results/{case}.json"), options)
            .map_err(zip_io)?;
        writer
            .write_all(
                serde_json::to_string_pretty(&doc)
                    .unwrap_or_default()
                    .as_bytes(),
            )
            .map_err(io)?;
        rows.push(row);
        progress(done + 1, total);
    }
    writer.start_file("summary.csv", options).map_err(zip_io)?;
    writer
        .write_all(summary_csv(&rows).as_bytes())
        .map_err(io)?;
    writer.finish().map_err(zip_io)?;
    Ok(rows)
}

fn run_case<R: Read + Seek>(
    engine: &Engine,
    archive: &mut zip::ZipArchive<R>,
    files: &CaseFiles,
    params: &CheckParams,
    limits: &BatchLimits,
    budget: &mut u64,
) -> Result<crate::check::CheckOutcome> {
    if let Some(p) = &files.problem {
        return Err(Error::invalid("archive", p.clone()));
    }
    let image = files
        .image
        .as_deref()
        .map(|n| read_entry(archive, n, limits.max_image_bytes, budget))
        .transpose()?;
    let video = files
        .video
        .as_deref()
        .map(|n| read_entry(archive, n, limits.max_video_bytes, budget))
        .transpose()?;
    check_media(
        engine,
        image.as_deref(),
        video.as_deref(),
        params,
        &limits.media,
    )
}

/// Reads an entry, stopping at `max` bytes whatever the directory claims (ZIP bombs lie).
fn read_entry<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    name: &str,
    max: u64,
    budget: &mut u64,
) -> Result<Vec<u8>> {
    let entry = archive
        .by_name(name)
        .map_err(|e| Error::invalid("archive", format!("{name}: {e}")))?;
    let cap = max.min(*budget);
    let mut bytes = Vec::new();
    entry
        .take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::invalid("archive", format!("{name}: corrupt archive entry: {e}")))?;
    if bytes.len() as u64 > cap {
        return Err(Error::invalid(
            "archive",
            format!("{name}: larger than the {cap}-byte limit"),
        ));
    }
    *budget -= bytes.len() as u64;
    Ok(bytes)
}

fn summary(
    case: &str,
    files: &CaseFiles,
    doc: Option<&serde_json::Value>,
    error: Option<String>,
) -> SummaryRow {
    let field = |k: &str| match doc.map(|d| &d[k]) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    SummaryRow {
        case: case.to_owned(),
        image: files.image.clone().unwrap_or_default(),
        video: files.video.clone().unwrap_or_default(),
        overall_result: field("overall_result"),
        overall_confidence: field("overall_confidence"),
        error: error.unwrap_or_default(),
    }
}

/// The summary as CSV (RFC 4180 quoting). Case and file names come from the uploader's ZIP:
/// a cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, carriage return
/// first) gets a leading `'`, as OWASP recommends against CSV injection.
fn summary_csv(rows: &[SummaryRow]) -> String {
    let quote = |s: &str| {
        let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{s}")
        } else {
            s.to_owned()
        };
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    let mut out = String::from("case,image,video,overall_result,overall_confidence,error\n");
    for r in rows {
        let cells = [
            &r.case,
            &r.image,
            &r.video,
            &r.overall_result,
            &r.overall_confidence,
            &r.error,
        ];
        out.push_str(&cells.iter().map(|c| quote(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

/// Convenience: batch over in-memory archives.
pub fn run_batch_bytes(
    engine: &Engine,
    zip: &[u8],
    params: &CheckParams,
    version: ApiVersion,
    limits: &BatchLimits,
) -> Result<(Vec<u8>, Vec<SummaryRow>)> {
    let mut out = Cursor::new(Vec::new());
    let rows = run_batch(
        engine,
        Cursor::new(zip),
        &mut out,
        params,
        version,
        limits,
        |_, _| {},
    )?;
    Ok((out.into_inner(), rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naming_rules_group_by_stem_and_by_folder() {
        let cases = group_cases([
            "alice.jpg",
            "alice.MP4",
            "bob/image.png",
            "bob/video.webm",
            "carol/selfie.jpg",
            "notes.txt",
            "__MACOSX/alice.jpg",
            ".hidden.jpg",
            "dir/",
            "dave.jpg",
            "dave.png",
        ]);
        assert_eq!(cases.len(), 4, "{cases:?}");
        assert_eq!(
            cases["alice"],
            CaseFiles {
                image: Some("alice.jpg".into()),
                video: Some("alice.MP4".into()),
                problem: None
            }
        );
        assert_eq!(cases["bob"].video.as_deref(), Some("bob/video.webm"));
        assert_eq!(
            cases["carol/selfie"].image.as_deref(),
            Some("carol/selfie.jpg")
        );
        assert!(cases["dave"].problem.is_some());
    }

    #[test]
    fn csv_quotes_commas() {
        let row = SummaryRow {
            case: "a,b".into(),
            image: String::new(),
            video: String::new(),
            overall_result: "real".into(),
            overall_confidence: "99".into(),
            error: String::new(),
        };
        assert!(summary_csv(&[row]).contains("\"a,b\",,,real,99,"));
    }

    #[test]
    fn csv_cells_cannot_be_formulas() {
        let row = SummaryRow {
            case: "=HYPERLINK(\"http://evil.example\",\"x\")".into(),
            image: "+cmd.jpg".into(),
            video: "@sum.mp4".into(),
            overall_result: "-1".into(),
            overall_confidence: "\tx".into(),
            error: "plain".into(),
        };
        let csv = summary_csv(&[row]);
        let line = csv.lines().nth(1).unwrap();
        assert_eq!(
            line,
            "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",'+cmd.jpg,'@sum.mp4,'-1,'\tx,plain"
        );
    }
}
