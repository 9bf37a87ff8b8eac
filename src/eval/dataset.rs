//! What an evaluation runs on: labelled stills and videos, listed either from a folder layout
//! or from a labels file, each with the group (person) that keeps its samples on one side of
//! the held-apart split.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const IMAGE_EXT: [&str; 4] = ["jpg", "jpeg", "png", "webp"];
const VIDEO_EXT: [&str; 5] = ["mp4", "m4v", "mov", "webm", "mkv"];

/// The bona fide class's name.
pub const BONA_FIDE: &str = "live";

/// Still or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
}

impl MediaKind {
    fn of(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        if IMAGE_EXT.contains(&ext.as_str()) {
            Some(MediaKind::Image)
        } else if VIDEO_EXT.contains(&ext.as_str()) {
            Some(MediaKind::Video)
        } else {
            None
        }
    }
}

/// One labelled presentation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Sample {
    pub path: PathBuf,
    /// [`BONA_FIDE`] or the attack type (PAI species).
    pub class: String,
    /// Who is shown: samples of one group stay on one side of the split.
    pub group: String,
    pub kind: MediaKind,
}

/// A listed file left out, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// `DIR/live/**` bona fide, every other top-level folder `DIR/<attack type>/**` attacks of that
/// type; stills and videos. Each file is its own group (a folder layout names no people).
pub fn from_folders(dir: &Path) -> Result<Vec<Sample>> {
    let mut samples = Vec::new();
    let mut has_live = false;
    for entry in read_dir(dir)? {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if !path.is_dir() || name.starts_with('.') {
            continue;
        }
        has_live |= name == BONA_FIDE;
        let mut files = Vec::new();
        collect_media(&path, &mut files, 0);
        files.sort();
        for file in files {
            let Some(kind) = MediaKind::of(&file) else {
                continue;
            };
            samples.push(Sample {
                group: file.to_string_lossy().into_owned(),
                path: file,
                class: name.clone(),
                kind,
            });
        }
    }
    if !has_live {
        return Err(Error::invalid(
            "dir",
            format!(
                "{} has no live/ folder (see the eval layout)",
                dir.display()
            ),
        ));
    }
    Ok(samples)
}

/// A labels file (CSV with a header; the media folder's `catalog.csv` is one): columns `path`
/// (relative to `dir`) and `label`, optionally `identity` (the group; the path when empty).
/// Labels: `live...` is bona fide; `spoof: <what>` is an attack whose type is read from
/// `<what>` ([`species_of`]); anything else (an uncertain `spoof?`, a synthetic face, which is
/// an injection rather than a presentation) is skipped with its reason. Only paths starting
/// with one of `include` are used (all when empty).
pub fn from_labels(
    dir: &Path,
    labels: &Path,
    include: &[String],
) -> Result<(Vec<Sample>, Vec<Skipped>)> {
    let text = std::fs::read_to_string(labels)
        .map_err(|e| Error::invalid("labels", format!("{}: {e}", labels.display())))?;
    let mut lines = text.lines();
    let header = split_csv(lines.next().unwrap_or_default());
    let col = |name: &str| header.iter().position(|c| c == name);
    let (Some(path_col), Some(label_col)) = (col("path"), col("label")) else {
        return Err(Error::invalid(
            "labels",
            "the labels file needs a header with `path` and `label` columns",
        ));
    };
    let identity_col = col("identity");
    let (mut samples, mut skipped) = (Vec::new(), Vec::new());
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cols = split_csv(line);
        let get = |i: usize| cols.get(i).map(String::as_str).unwrap_or_default();
        let rel = get(path_col);
        if !include.is_empty() && !include.iter().any(|p| rel.starts_with(p.as_str())) {
            continue;
        }
        let path = dir.join(rel);
        let Some(kind) = MediaKind::of(&path) else {
            continue;
        };
        let class = match species_of(get(label_col)) {
            Ok(class) => class,
            Err(reason) => {
                skipped.push(Skipped { path, reason });
                continue;
            }
        };
        let group = identity_col
            .map(get)
            .filter(|g| !g.is_empty())
            .unwrap_or(rel)
            .to_owned();
        samples.push(Sample {
            path,
            class,
            group,
            kind,
        });
    }
    if !samples.iter().any(|s| s.class == BONA_FIDE) {
        return Err(Error::invalid(
            "labels",
            "no bona fide (`live`) sample listed",
        ));
    }
    Ok((samples, skipped))
}

/// The class of a catalogue label: `live` or an attack type (`print` for prints and cut-outs,
/// `replay` for screens, `mask` for masks), or why the sample is left out.
pub fn species_of(label: &str) -> std::result::Result<String, String> {
    let l = label.trim().to_ascii_lowercase();
    if l.starts_with("live") {
        return Ok(BONA_FIDE.to_owned());
    }
    let Some(what) = l.strip_prefix("spoof:") else {
        return Err(format!(
            "label {label:?} is neither live nor a certain attack"
        ));
    };
    if what.contains("digital") || what.contains("synthetic") || what.contains("gan") {
        Err("a synthetic face is an injection, not a presentation attack".into())
    } else if what.contains("mask") {
        Ok("mask".into())
    } else if what.contains("print") || what.contains("cut-out") {
        Ok("print".into())
    } else if what.contains("replay") || what.contains("screen") {
        Ok("replay".into())
    } else {
        Err(format!("attack type of {label:?} not known"))
    }
}

/// One CSV line: commas outside double quotes separate; `""` inside quotes is a quote.
pub fn split_csv(line: &str) -> Vec<String> {
    let (mut cols, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => cols.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    cols.push(cur);
    cols
}

/// Counts per class and kind.
pub fn counts(samples: &[Sample]) -> BTreeMap<(String, MediaKind), usize> {
    let mut out = BTreeMap::new();
    for s in samples {
        *out.entry((s.class.clone(), s.kind)).or_default() += 1;
    }
    out
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::invalid("dir", format!("{}: {e}", dir.display())))?;
    let mut v: Vec<_> = entries.flatten().collect();
    v.sort_by_key(|e| e.file_name());
    Ok(v)
}

fn collect_media(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 8 {
        return; // symlink loops
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_media(&path, out, depth + 1);
        } else if MediaKind::of(&path).is_some() {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_labels_map_to_attack_types() {
        assert_eq!(species_of("live (2 faces)").unwrap(), "live");
        assert_eq!(species_of("live / identity df_p01").unwrap(), "live");
        assert_eq!(species_of("spoof: print (NUAA Imposter)").unwrap(), "print");
        assert_eq!(species_of("spoof: cut-out print").unwrap(), "print");
        assert_eq!(species_of("spoof: 3D cut-out bust").unwrap(), "print");
        assert_eq!(
            species_of("spoof: screen replay, face crop").unwrap(),
            "replay"
        );
        assert_eq!(species_of("spoof: paper mask worn").unwrap(), "mask");
        assert!(species_of("spoof: digital - GAN/synthetic face").is_err());
        assert!(species_of("spoof? (source filename)").is_err());
        assert!(species_of("").is_err());
    }

    #[test]
    fn csv_fields_keep_quoted_commas() {
        assert_eq!(
            split_csv(r#"a.jpg,"spoof: screen replay, face crop",p1,"say ""hi""""#),
            vec![
                "a.jpg",
                "spoof: screen replay, face crop",
                "p1",
                "say \"hi\""
            ]
        );
    }

    #[test]
    fn a_labels_file_lists_groups_filters_and_skips() {
        let dir = tempfile::tempdir().unwrap();
        let labels = dir.path().join("labels.csv");
        std::fs::write(
            &labels,
            "path,label,identity\n\
             live/a.jpg,live,alice\n\
             live/b.jpg,live,\n\
             spoof/c.jpg,spoof: print,alice\n\
             spoof/d.jpg,spoof?,\n\
             video/e.mp4,spoof: screen replay,bob\n\
             other/f.jpg,live,\n\
             notes.txt,live,\n",
        )
        .unwrap();
        let include = ["live/".to_owned(), "spoof/".to_owned(), "video/".to_owned()];
        let (samples, skipped) = from_labels(dir.path(), &labels, &include).unwrap();
        let got: Vec<_> = samples
            .iter()
            .map(|s| (s.class.as_str(), s.group.as_str(), s.kind))
            .collect();
        assert_eq!(
            got,
            vec![
                ("live", "alice", MediaKind::Image),
                ("live", "live/b.jpg", MediaKind::Image),
                ("print", "alice", MediaKind::Image),
                ("replay", "bob", MediaKind::Video),
            ]
        );
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].path.ends_with("spoof/d.jpg"));
    }

    #[test]
    fn a_labels_file_without_columns_or_bona_fide_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let labels = dir.path().join("labels.csv");
        std::fs::write(&labels, "file,class\na.jpg,live\n").unwrap();
        assert!(from_labels(dir.path(), &labels, &[]).is_err());
        std::fs::write(&labels, "path,label\na.jpg,spoof: print\n").unwrap();
        assert!(from_labels(dir.path(), &labels, &[]).is_err());
        assert!(from_labels(dir.path(), &dir.path().join("missing.csv"), &[]).is_err());
    }

    #[test]
    fn a_folder_layout_needs_live() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("print")).unwrap();
        std::fs::write(dir.path().join("print/a.jpg"), b"x").unwrap();
        assert!(from_folders(dir.path()).is_err());
        std::fs::create_dir_all(dir.path().join("live/sub")).unwrap();
        std::fs::write(dir.path().join("live/sub/b.webm"), b"x").unwrap();
        std::fs::write(dir.path().join("live/c.txt"), b"x").unwrap();
        let s = from_folders(dir.path()).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].class.as_str(), s[0].kind), ("live", MediaKind::Video));
        assert_eq!(
            (s[1].class.as_str(), s[1].kind),
            ("print", MediaKind::Image)
        );
    }
}
