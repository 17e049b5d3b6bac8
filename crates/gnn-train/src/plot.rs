//! PNG plots of a run: learning curves (training and validation loss per epoch, log scale) and
//! predicted against true values on the test split. Text uses the embedded DejaVu Sans font, so no
//! system fonts are needed.

use crate::error::{Error, Result};
use crate::run_dir::EpochRecord;
use plotters::coord::ranged1d::Ranged;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::path::Path;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register() {
    REGISTER.call_once(|| {
        // The font is embedded and valid; a failure would only lose the text.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn plot_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::State { path: path.to_path_buf(), message: format!("plotting failed: {e}") }
}

/// Training and validation loss per epoch.
pub fn learning_curve(path: &Path, history: &[EpochRecord]) -> Result<()> {
    register();
    let points = |f: fn(&EpochRecord) -> f64| -> Vec<(f64, f64)> {
        history.iter().map(|r| (r.epoch as f64, f(r))).filter(|(_, y)| y.is_finite() && *y > 0.0).collect()
    };
    let (train, val) = (points(|r| r.train_loss), points(|r| r.val.loss));
    let ys = train.iter().chain(&val).map(|p| p.1);
    let (lo, hi) = ys.fold((f64::INFINITY, 0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let (lo, hi) = if lo.is_finite() { (lo * 0.8, hi * 1.25) } else { (0.1, 1.0) };
    let epochs = history.len().max(1) as f64;
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Learning curve", ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.5..epochs + 0.5, (lo..hi).log_scale())
        .map_err(|e| plot_error(path, e))?;
    chart.configure_mesh().x_desc("epoch").y_desc("loss (scaled residuals)").draw().map_err(|e| plot_error(path, e))?;
    for (name, data, color) in [("train", train, BLUE), ("validation", val, RED)] {
        chart
            .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))
            .map_err(|e| plot_error(path, e))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(data.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(|e| plot_error(path, e))?;
    }
    legend_and_present(&mut chart, &root, path)
}

/// Draws the series' legend and writes the picture.
fn legend_and_present<'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    root: &DrawingArea<BitMapBackend<'a>, Shift>,
    path: &Path,
) -> Result<()> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| plot_error(path, e))?;
    root.present().map_err(|e| plot_error(path, e))
}

/// Predicted against true values of one target, with the diagonal.
pub fn parity(path: &Path, pairs: &[(f64, f64)], target: &str, unit: &str) -> Result<()> {
    register();
    let (lo, hi) = pairs
        .iter()
        .flat_map(|&(p, t)| [p, t])
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo < hi { (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)) } else { (lo - 1.0, lo + 1.0) };
    let root = BitMapBackend::new(path, (600, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{target}: test set ({} structures)", pairs.len()), ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d(lo..hi, lo..hi)
        .map_err(|e| plot_error(path, e))?;
    chart
        .configure_mesh()
        .x_desc(format!("true ({unit})"))
        .y_desc(format!("predicted ({unit})"))
        .draw()
        .map_err(|e| plot_error(path, e))?;
    chart.draw_series(LineSeries::new([(lo, lo), (hi, hi)], BLACK.mix(0.5))).map_err(|e| plot_error(path, e))?;
    chart
        .draw_series(pairs.iter().map(|&(p, t)| Circle::new((t, p), 2, BLUE.mix(0.5).filled())))
        .map_err(|e| plot_error(path, e))?;
    root.present().map_err(|e| plot_error(path, e))
}

/// Grouped bars: for each category (x axis), one bar per series, with a zero line and a legend.
/// `series` holds `(name, one value per category)`; non-finite values are left out.
pub fn grouped_bars(
    path: &Path,
    title: &str,
    y_label: &str,
    categories: &[String],
    series: &[(String, Vec<f64>)],
) -> Result<()> {
    register();
    if let Some((name, values)) = series.iter().find(|(_, v)| v.len() != categories.len()) {
        return Err(plot_error(
            path,
            format!("series {name} has {} values for {} categories", values.len(), categories.len()),
        ));
    }
    let values = series.iter().flat_map(|(_, v)| v.iter().copied()).filter(|v| v.is_finite());
    let (lo, hi) = values.fold((0f64, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = 0.1 * (hi - lo).max(1e-9);
    let root = BitMapBackend::new(path, (160 + 110 * categories.len() as u32, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let n = categories.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..n - 0.5, lo - pad..hi + pad)
        .map_err(|e| plot_error(path, e))?;
    let labels = categories.to_vec();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(categories.len().max(1))
        .x_label_formatter(&move |x| {
            let k = x.round();
            if (x - k).abs() < 1e-6 && k >= 0.0 {
                labels.get(k as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(y_label)
        .draw()
        .map_err(|e| plot_error(path, e))?;
    chart.draw_series(LineSeries::new([(-0.5, 0.0), (n - 0.5, 0.0)], BLACK)).map_err(|e| plot_error(path, e))?;
    let width = 0.8 / series.len().max(1) as f64;
    for (s, (name, values)) in series.iter().enumerate() {
        let color = Palette99::pick(s).to_rgba();
        let left = |c: usize| c as f64 - 0.4 + s as f64 * width;
        let bars = values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(c, &v)| Rectangle::new([(left(c), 0.0), (left(c) + width * 0.9, v)], color.filled()));
        chart
            .draw_series(bars)
            .map_err(|e| plot_error(path, e))?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], color.filled()));
    }
    legend_and_present(&mut chart, &root, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_bars_draw_a_png_and_reject_ragged_series() {
        let dir = std::env::temp_dir().join(format!("chemgnn-bars-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bars.png");
        let categories = vec!["mu".to_string(), "U0".to_string()];
        let series = vec![("a".to_string(), vec![-20.0, 5.0]), ("b".to_string(), vec![f64::NAN, -3.0])];
        grouped_bars(&path, "t", "%", &categories, &series).unwrap();
        let png = std::fs::read(&path).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let ragged = vec![("a".to_string(), vec![1.0])];
        let err = grouped_bars(&path, "t", "%", &categories, &ragged).unwrap_err().to_string();
        assert!(err.contains("series a has 1 values for 2 categories"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
