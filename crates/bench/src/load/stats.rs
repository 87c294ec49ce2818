//! Figures of one step: latency samples and their percentiles, counters of errors by kind, and a
//! process's CPU and memory read from /proc.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

/// Latency samples of one phase, in milliseconds (a sorted `Vec` at the end: a step holds at most
/// some hundred thousand samples, so an HDR histogram would buy nothing).
#[derive(Debug, Default, Clone)]
pub struct Samples(Vec<f64>);

impl Samples {
    /// Adds one sample.
    pub fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1000.0);
    }

    /// How many samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The percentiles, and the throughput over `seconds`.
    pub fn summary(&self, seconds: f64) -> Summary {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        // Nearest rank: the smallest sample at or above the quantile.
        let at = |q: f64| {
            if v.is_empty() {
                return f64::NAN;
            }
            let rank = (q * v.len() as f64).ceil() as usize;
            v[rank.clamp(1, v.len()) - 1]
        };
        Summary {
            count: v.len(),
            p50: at(0.5),
            p99: at(0.99),
            p999: at(0.999),
            max: v.last().copied().unwrap_or(f64::NAN),
            per_second: if seconds > 0.0 {
                v.len() as f64 / seconds
            } else {
                0.0
            },
        }
    }
}

/// Percentiles of one phase (milliseconds) and how many per second.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Samples.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
    /// Samples per second of the step.
    pub per_second: f64,
}

impl Summary {
    /// As JSON (`null` for a percentile of no samples).
    pub fn to_json(&self) -> Value {
        let f = |x: f64| {
            if x.is_finite() {
                json!((x * 1000.0).round() / 1000.0)
            } else {
                Value::Null
            }
        };
        json!({
            "count": self.count,
            "p50_ms": f(self.p50),
            "p99_ms": f(self.p99),
            "p999_ms": f(self.p999),
            "max_ms": f(self.max),
            "per_second": f(self.per_second),
        })
    }
}

/// Errors by kind (the server's message or what the simulated desktop saw).
#[derive(Debug, Default, Clone)]
pub struct Errors(BTreeMap<String, u64>);

impl Errors {
    /// Counts one error of `kind` (cut to 160 characters so messages with SIDs stay readable).
    pub fn add(&mut self, kind: impl Into<String>) {
        let mut k: String = kind.into();
        if k.len() > 160 {
            let mut cut = 160;
            while !k.is_char_boundary(cut) {
                cut -= 1;
            }
            k.truncate(cut);
        }
        *self.0.entry(k).or_default() += 1;
    }

    /// Adds the counts of `other`.
    pub fn extend(&mut self, other: Errors) {
        for (k, n) in other.0 {
            *self.0.entry(k).or_default() += n;
        }
    }

    /// All errors.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// As a JSON object, kind → count.
    pub fn to_json(&self) -> Value {
        json!(self.0)
    }
}

/// CPU seconds (user + system) and resident memory of a process, from /proc.
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    /// CPU seconds so far.
    pub cpu_seconds: f64,
    /// Resident set, MiB.
    pub rss_mib: f64,
}

/// Reads `/proc/PID/stat` and `/proc/PID/status` (`pid` `None`: this process).
pub fn proc_sample(pid: Option<u32>) -> Option<ProcSample> {
    let dir = match pid {
        Some(p) => format!("/proc/{p}"),
        None => "/proc/self".to_owned(),
    };
    let cpu_seconds = crate::server::proc_cpu_seconds(&format!("{dir}/stat"))?;
    let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(ProcSample {
        cpu_seconds,
        rss_mib: kib / 1024.0,
    })
}

/// This process's soft limit on open files (`ulimit -n`), from /proc.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut s = Samples::default();
        for ms in 1..=1000u64 {
            s.push(Duration::from_millis(ms));
        }
        let sum = s.summary(10.0);
        assert_eq!(sum.count, 1000);
        assert!((sum.p50 - 500.0).abs() < 1e-9);
        assert!((sum.p99 - 990.0).abs() < 1e-9);
        assert!((sum.p999 - 999.0).abs() < 1e-9);
        assert!((sum.max - 1000.0).abs() < 1e-9);
        assert!((sum.per_second - 100.0).abs() < 1e-9);
        assert!(Samples::default().summary(1.0).p99.is_nan());
    }
}
