//! The markdown table the bench prints.

/// Whether a figure must be at least or at most a bound.
#[derive(Debug, Clone, Copy)]
pub enum Goal {
    /// No target: the figure is information.
    None,
    /// `value >= bound`.
    AtLeast(f64),
    /// `value <= bound`.
    AtMost(f64),
}

/// One line of the table.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// The scenario.
    pub case: String,
    /// Which server (or measurement) the line is about.
    pub subject: String,
    /// The main figure.
    pub result: String,
    /// Median latency.
    pub p50: String,
    /// 99th-percentile latency.
    pub p99: String,
    /// CPU use: server · load generator · server CPU per request.
    pub cpu: String,
    /// Ratio against the case's baseline.
    pub ratio: String,
    /// The case's performance target, if any.
    pub target: String,
    /// Whether the target is met.
    pub met: String,
}

impl Row {
    /// A row with its scenario and subject; the rest is filled in by the caller.
    pub fn new(case: impl Into<String>, subject: impl Into<String>) -> Row {
        Row {
            case: case.into(),
            subject: subject.into(),
            ..Row::default()
        }
    }

    /// Sets the ratio, the target and the verdict (`value` is the ratio or figure checked).
    pub fn judge(mut self, shown: String, value: f64, goal: Goal, unit: &str) -> Row {
        self.ratio = shown;
        let (target, ok) = match goal {
            Goal::None => (String::new(), None),
            Goal::AtLeast(b) => (format!("≥ {}{unit}", trim(b)), Some(value >= b)),
            Goal::AtMost(b) => (format!("≤ {}{unit}", trim(b)), Some(value <= b)),
        };
        self.target = target;
        self.met = match ok {
            None => String::new(),
            Some(_) if !value.is_finite() => "n/a".to_owned(),
            Some(true) => "yes".to_owned(),
            Some(false) => "**NO**".to_owned(),
        };
        self
    }
}

fn trim(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// Renders the table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(
        "| Case | Server / measurement | Result | p50 | p99 | CPU: server · load gen (% of a core) · µs/req server · load gen | Ratio | Target | Met |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let cells = [
            &r.case, &r.subject, &r.result, &r.p50, &r.p99, &r.cpu, &r.ratio, &r.target, &r.met,
        ];
        out.push('|');
        for c in cells {
            out.push(' ');
            out.push_str(&c.replace('|', "\\|"));
            out.push_str(" |");
        }
        out.push('\n');
    }
    out
}

/// `12,345`.
pub fn grouped(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate: `12,345` or `4.8` for small values.
pub fn rate(x: f64) -> String {
    if x < 100.0 {
        format!("{x:.1}")
    } else {
        grouped(x)
    }
}

/// A duration in nanoseconds: `85 µs`, `12.3 ms`, `1.23 s`.
pub fn duration_ns(ns: u64) -> String {
    let ns = ns as f64;
    if ns < 1e6 {
        format!("{:.0} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// `0.95×`, or `1,234×` for large ratios.
pub fn times(x: f64) -> String {
    if !x.is_finite() {
        "n/a".to_owned()
    } else if x >= 100.0 {
        format!("{}×", grouped(x))
    } else if x >= 10.0 {
        format!("{x:.1}×")
    } else {
        format!("{x:.2}×")
    }
}

/// The median of `xs` (NaN when empty).
pub fn median(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `0.95× (0.91–0.98, 5 rounds)`: median of per-round ratios and their range.
pub fn ratio_summary(ratios: &[f64]) -> (String, f64) {
    let m = median(ratios);
    if ratios.len() < 2 {
        return (times(m), m);
    }
    let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (
        format!(
            "{} ({}–{}, {} rounds)",
            times(m),
            times(lo).trim_end_matches('×'),
            times(hi),
            ratios.len()
        ),
        m,
    )
}
