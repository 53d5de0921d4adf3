//! The report: one row per figure, as `bench/report.md` (a table) and `bench/report.json`.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

/// Whether higher or lower measured values are better, which decides how the ratio reads.
#[derive(Clone, Copy, Debug)]
pub enum Better {
    /// Rates: ratio = measured / baseline.
    Higher,
    /// Latencies, costs and sizes: ratio = baseline / measured.
    Lower,
}

/// One measured figure beside its same-run baseline.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// What was measured.
    pub name: String,
    /// Measured against baseline, oriented so that 1.0 means "as good as the baseline".
    pub ratio: f64,
    /// The target, e.g. `>= 0.50x`, or `null` for figures reported without one.
    pub target: Option<String>,
    /// Whether the target is met (`null` without a target).
    pub met: Option<bool>,
    /// What the baseline measured, and in what.
    pub baseline: f64,
    /// What Keyward measured.
    pub measured: f64,
    /// The unit of `baseline` and `measured`.
    pub unit: String,
    /// How the baseline was measured, and anything else worth knowing.
    pub note: String,
}

impl Figure {
    /// A figure with a ratio target (`min_ratio`), or none.
    pub fn new(
        name: impl Into<String>,
        baseline: f64,
        measured: f64,
        unit: &str,
        better: Better,
        min_ratio: Option<f64>,
    ) -> Self {
        let ratio = match better {
            Better::Higher => measured / baseline,
            Better::Lower => baseline / measured,
        };
        let ratio = if ratio.is_finite() { ratio } else { 0.0 };
        Self {
            name: name.into(),
            ratio,
            target: min_ratio.map(|t| format!(">= {t:.2}x")),
            met: min_ratio.map(|t| ratio >= t),
            baseline,
            measured,
            unit: unit.to_owned(),
            note: String::new(),
        }
    }

    /// Replaces the target with an absolute bound on `measured` (e.g. bytes per session).
    pub fn with_max_measured(mut self, max: f64) -> Self {
        self.target = Some(format!("<= {max} {}", self.unit));
        self.met = Some(self.measured <= max);
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }
}

fn number(value: f64) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.4}")
    }
}

/// The Markdown table.
pub fn markdown(figures: &[Figure]) -> String {
    let mut out = String::from(
        "| figure | ratio | target | met | baseline | measured | unit | notes |\n|---|---|---|---|---|---|---|---|\n",
    );
    for f in figures {
        let met = match f.met {
            Some(true) => "yes",
            Some(false) => "**MISSED**",
            None => "-",
        };
        let _ = writeln!(
            out,
            "| {} | {:.2}x | {} | {} | {} | {} | {} | {} |",
            f.name,
            f.ratio,
            f.target.as_deref().unwrap_or("-"),
            met,
            number(f.baseline),
            number(f.measured),
            f.unit,
            f.note
        );
    }
    out
}

/// Writes `<prefix>.md` and `<prefix>.json`.
pub fn write(prefix: &Path, header: &str, figures: &[Figure]) -> std::io::Result<()> {
    if let Some(dir) = prefix.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let md = format!("{header}\n\n{}", markdown(figures));
    std::fs::write(prefix.with_extension("md"), md)?;
    let json = serde_json::to_string_pretty(figures).map_err(std::io::Error::other)?;
    std::fs::write(prefix.with_extension("json"), json + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_read_as_better_when_above_one() {
        let rate = Figure::new("rate", 100.0, 60.0, "req/s", Better::Higher, Some(0.5));
        assert!((rate.ratio - 0.6).abs() < 1e-9);
        assert_eq!(rate.met, Some(true));
        let latency = Figure::new("latency", 10.0, 20.0, "ms", Better::Lower, Some(0.8));
        assert!((latency.ratio - 0.5).abs() < 1e-9);
        assert_eq!(latency.met, Some(false));
        let bytes = Figure::new("bytes", 100.0, 600.0, "B", Better::Lower, None).with_max_measured(512.0);
        assert_eq!(bytes.met, Some(false));
        assert!(markdown(&[bytes]).contains("**MISSED**"));
    }
}
