//! The DET picture (ISO/IEC 19795-1, ISO/IEC 30107-3): APCER on x, BPCER on y, both on
//! normal-deviate (probit) axes.
//!
//! Probit axes are the standard's choice because a detector whose two score distributions are
//! Gaussian draws a straight line on them, and the low error rates that matter (0.1 % … 5 %)
//! get as much room as the high ones. Rates of exactly 0 or 1 have no normal deviate; they are
//! clamped to the axis limits ([`AXIS_MIN`], [`AXIS_MAX`]) so such points still show.
//!
//! The picture is SVG written by plotters' SVG backend, which emits `<text>` elements and
//! leaves fonts to the viewer: no font files are needed to draw it.

use std::ops::Range;
use std::path::Path;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::{
    ChartBuilder, Circle, Color, IntoDrawingArea, LineSeries, PathElement, RGBColor, SVGBackend,
    SeriesLabelPosition, BLACK, WHITE,
};

use crate::error::{Error, Result};
use crate::eval::metrics::DetPoint;

/// Lowest rate the axes show (0.05 %); smaller rates, 0 included, are drawn here.
pub const AXIS_MIN: f64 = 0.0005;
/// Highest rate the axes show (95 %); larger rates, 1 included, are drawn here.
pub const AXIS_MAX: f64 = 0.95;
/// Tick positions, as rates (labelled in percent).
const TICKS: [f64; 11] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8,
];
/// Okabe–Ito colours: distinguishable with the common colour-vision deficiencies.
const COLOURS: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];
const SIZE: (u32, u32) = (800, 640);

/// The inverse of the standard normal CDF (the probit), by Acklam's rational approximation
/// (relative error below 1.15e-9 over (0, 1)). `p <= 0` gives −∞, `p >= 1` gives +∞, NaN NaN.
pub fn probit(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    const P_LOW: f64 = 0.02425;
    if p.is_nan() {
        return f64::NAN;
    }
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    // The tails share one rational function of sqrt(-2 ln q), mirrored.
    let tail = |q: f64| {
        let q = (-2.0 * q.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < P_LOW {
        tail(p)
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail(1.0 - p)
    }
}

/// Draws the DET curves into an SVG document, one coloured line per `(name, curve)` with its
/// name in the legend (how `--compare` puts two configurations on one plot), and each curve's
/// EER marked by a dot: the curve's point closest to the APCER = BPCER diagonal.
///
/// Errors: no curves, a curve with no points, or a rate that is not in [0, 1].
pub fn det_svg(title: &str, curves: &[(String, Vec<DetPoint>)]) -> Result<String> {
    if curves.is_empty() {
        return Err(Error::invalid("curves", "no DET curve to draw"));
    }
    for (name, points) in curves {
        if points.is_empty() {
            return Err(Error::invalid(
                "curves",
                format!("DET curve `{name}` has no points"),
            ));
        }
        if let Some(p) = points
            .iter()
            .find(|p| !(0.0..=1.0).contains(&p.apcer) || !(0.0..=1.0).contains(&p.bpcer))
        {
            return Err(Error::invalid(
                "curves",
                format!("DET curve `{name}` has a rate outside [0, 1]: {p:?}"),
            ));
        }
    }
    let mut svg = String::new();
    draw(&mut svg, title, curves).map_err(|e| Error::ImageEncode(format!("DET plot: {e}")))?;
    Ok(svg)
}

/// [`det_svg`], written to `path`.
pub fn write_det_svg(path: &Path, title: &str, curves: &[(String, Vec<DetPoint>)]) -> Result<()> {
    let svg = det_svg(title, curves)?;
    std::fs::write(path, svg)
        .map_err(|e| Error::invalid("path", format!("{}: {e}", path.display())))
}

fn draw(
    svg: &mut String,
    title: &str,
    curves: &[(String, Vec<DetPoint>)],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(ProbitAxis, ProbitAxis)?;
    let percent = |v: &f64| format_percent(*v);
    chart
        .configure_mesh()
        .x_desc("APCER (%)")
        .y_desc("BPCER (%)")
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .x_label_formatter(&percent)
        .y_label_formatter(&percent)
        .bold_line_style(BLACK.mix(0.15))
        .draw()?;
    // The EER diagonal, as a reference for the eye.
    chart.draw_series(LineSeries::new(
        [(AXIS_MIN, AXIS_MIN), (AXIS_MAX, AXIS_MAX)],
        BLACK.mix(0.3),
    ))?;
    for (i, (name, points)) in curves.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let line = points.iter().map(|p| (clamp(p.apcer), clamp(p.bpcer)));
        let eer = points
            .iter()
            .min_by(|a, b| {
                (a.apcer - a.bpcer)
                    .abs()
                    .total_cmp(&(b.apcer - b.bpcer).abs())
            })
            .copied()
            .unwrap_or(DetPoint {
                threshold: 0.0,
                apcer: 0.0,
                bpcer: 0.0,
            });
        let label = format!(
            "{name} (EER {})",
            format_percent_label((eer.apcer + eer.bpcer) / 2.0)
        );
        chart
            .draw_series(LineSeries::new(line, colour.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], colour.stroke_width(2)));
        chart.draw_series(std::iter::once(Circle::new(
            (clamp(eer.apcer), clamp(eer.bpcer)),
            5,
            colour.filled(),
        )))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.5))
        .label_font(("sans-serif", 16))
        .draw()?;
    root.present()?;
    Ok(())
}

fn clamp(rate: f64) -> f64 {
    rate.clamp(AXIS_MIN, AXIS_MAX)
}

/// A tick label: the rate in percent, without a `%` (the axis title carries it).
fn format_percent(rate: f64) -> String {
    let pct = rate * 100.0;
    if (pct - pct.round()).abs() < 1e-9 {
        format!("{pct:.0}")
    } else {
        format!("{pct:.1}")
    }
}

fn format_percent_label(rate: f64) -> String {
    format!("{:.2} %", rate * 100.0)
}

/// A plotters axis over rates in [`AXIS_MIN`, `AXIS_MAX`], linear in the probit of the rate,
/// with the fixed [`TICKS`].
struct ProbitAxis;

impl Ranged for ProbitAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, (from, to): (i32, i32)) -> i32 {
        let (lo, hi) = (probit(AXIS_MIN), probit(AXIS_MAX));
        let t = (probit(clamp(*v)) - lo) / (hi - lo);
        (f64::from(from) + t * f64::from(to - from)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Bold points only: light grid lines at the same places would duplicate them.
        if hint.weight().allow_light_points() || hint.max_num_points() == 0 {
            Vec::new()
        } else {
            TICKS.to_vec()
        }
    }

    fn range(&self) -> Range<f64> {
        AXIS_MIN..AXIS_MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(shift: f64) -> Vec<DetPoint> {
        (0..=20)
            .map(|i| {
                let t = f64::from(i) / 20.0;
                DetPoint {
                    threshold: t,
                    apcer: (1.0 - t).powf(2.0 + shift),
                    bpcer: t.powf(2.0 - shift),
                }
            })
            .collect()
    }

    #[test]
    fn probit_matches_known_quantiles() {
        let cases = [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (0.025, -1.959_963_984_540_054),
            (0.001, -3.090_232_306_167_813),
            (0.9999, 3.719_016_485_455_709),
            (0.841_344_746_068_543, 1.0),
        ];
        for (p, z) in cases {
            assert!((probit(p) - z).abs() < 1e-8, "probit({p}) = {}", probit(p));
        }
        assert_eq!(probit(0.0), f64::NEG_INFINITY);
        assert_eq!(probit(1.0), f64::INFINITY);
        assert!(probit(f64::NAN).is_nan());
    }

    #[test]
    fn axis_maps_limits_to_pixel_ends_and_clamps() {
        let axis = ProbitAxis;
        assert_eq!(axis.map(&AXIS_MIN, (0, 500)), 0);
        assert_eq!(axis.map(&AXIS_MAX, (0, 500)), 500);
        assert_eq!(axis.map(&0.0, (0, 500)), 0);
        assert_eq!(axis.map(&1.0, (0, 500)), 500);
        // The y axis maps top-down: plotters hands the range reversed.
        assert_eq!(axis.map(&AXIS_MIN, (500, 0)), 500);
        // Probit spacing: 50 % is not in the middle of [0.05 %, 95 %].
        assert_ne!(axis.map(&0.5, (0, 500)), 250);
    }

    #[test]
    fn svg_has_both_curves_in_the_legend() {
        let curves = vec![
            ("baseline".to_string(), curve(0.0)),
            ("tuned <new>".to_string(), curve(0.5)),
        ];
        let svg = det_svg("DET: print & replay", &curves).unwrap();
        assert!(svg.trim_start().starts_with("<svg"), "{}", &svg[..80]);
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("baseline (EER"));
        // Names are escaped, so the document stays well formed.
        assert!(svg.contains("tuned &lt;new&gt; (EER"));
        assert!(svg.contains("print &amp; replay"));
        // Tick labels in percent (plotters puts a text element's content on its own line).
        for tick in ["0.1", "0.5", "5", "40", "80"] {
            assert!(svg.contains(&format!("\n{tick}\n")), "tick {tick} missing");
        }
        assert!(svg.contains("APCER (%)") && svg.contains("BPCER (%)"));
    }

    #[test]
    fn svg_is_written_to_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("det.svg");
        write_det_svg(&path, "DET", &[("a".to_string(), curve(0.0))]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("a (EER"));
    }

    #[test]
    fn bad_curves_are_errors_not_panics() {
        assert!(det_svg("DET", &[]).is_err());
        assert!(det_svg("DET", &[("empty".to_string(), Vec::new())]).is_err());
        let mut bad = curve(0.0);
        bad[3].apcer = f64::NAN;
        assert!(det_svg("DET", &[("nan".to_string(), bad)]).is_err());
        let mut bad = curve(0.0);
        bad[3].bpcer = 1.5;
        assert!(det_svg("DET", &[("big".to_string(), bad)]).is_err());
    }
}
