//! Results: percentiles, targets, the Markdown table for docs/PERFORMANCE.md
//! and the JSON file.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::load::Outcome;

/// Did a figure meet its target? `None` when the row has no target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Miss,
}

/// One line of the table.
#[derive(Debug)]
pub struct Row {
    pub scenario: String,
    pub concurrency: usize,
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub target: String,
    pub verdict: Option<Verdict>,
    pub aborted: bool,
    /// Writes are not compared with the ceiling (a fixed GET); set by [`Row::write`].
    pub is_write: bool,
}

impl Row {
    pub fn new(scenario: &str, concurrency: usize, mut o: Outcome) -> Self {
        o.latencies_us.sort_unstable();
        let seconds = o.elapsed.as_secs_f64();
        Row {
            scenario: scenario.to_string(),
            concurrency,
            requests: o.requests,
            errors: o.errors,
            seconds,
            rps: if seconds > 0.0 { o.requests as f64 / seconds } else { 0.0 },
            p50_ms: percentile(&o.latencies_us, 0.50) as f64 / 1000.0,
            p99_ms: percentile(&o.latencies_us, 0.99) as f64 / 1000.0,
            target: String::new(),
            verdict: None,
            aborted: o.aborted,
            is_write: false,
        }
    }

    /// Marks a row of writes (creates, uploads): no "× ceiling" figure.
    pub fn write(mut self) -> Self {
        self.is_write = true;
        self
    }

    /// Sets the target text and verdict; a row with errors never passes.
    pub fn target(&mut self, text: String, met: bool) {
        self.target = text;
        self.verdict = Some(if met && self.errors == 0 { Verdict::Pass } else { Verdict::Miss });
    }
}

/// Nearest-rank percentile of sorted values (0 when empty).
pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Server memory after the big seeding.
#[derive(Debug)]
pub struct Memory {
    pub contacts: usize,
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// Everything printed at the end.
#[derive(Debug, Default)]
pub struct Report {
    pub database: String,
    pub contacts: usize,
    pub duration: f64,
    pub rows: Vec<Row>,
    pub memory: Option<Memory>,
    /// Free-text lines under the table (timings, errors, skipped checks).
    pub notes: Vec<String>,
    /// The ceiling server's req/s at each concurrency (see `ceiling.rs`).
    pub ceiling: Vec<(usize, f64)>,
    /// `/proc/loadavg`'s one-minute figure when the run started (the machine may be shared).
    pub load_before: Option<f64>,
}

pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub mem_kib: u64,
}

impl Machine {
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|(_, v)| v.trim()))
            .unwrap_or("unknown CPU")
            .to_string();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        Machine { cpu, cores: std::thread::available_parallelism().map_or(0, |n| n.get()), mem_kib }
    }
}

/// The one-minute load average, where the kernel tells it.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

impl Report {
    /// The ceiling's req/s at `concurrency`, when that level was measured.
    pub fn ceiling_at(&self, concurrency: usize) -> Option<f64> {
        self.ceiling.iter().find(|(c, _)| *c == concurrency).map(|(_, rps)| *rps).filter(|r| *r > 0.0)
    }

    /// A row's throughput as a fraction of the ceiling at its concurrency.
    pub fn of_ceiling(&self, r: &Row) -> Option<f64> {
        self.ceiling_at(r.concurrency).filter(|_| !r.is_write).map(|c| r.rps / c)
    }

    pub fn markdown(&self, machine: &Machine, date: &str) -> String {
        let mut s = format!("## Benchmark results — {date}\n\n");
        s += &format!(
            "- Machine: {} · {} cores · {:.1} GiB RAM\n",
            machine.cpu,
            machine.cores,
            machine.mem_kib as f64 / 1024.0 / 1024.0
        );
        s += &format!(
            "- Database: {} · {} seeded contacts · {} s per scenario\n",
            self.database,
            thousands(self.contacts as f64),
            self.duration
        );
        s += "- Load: rolo-bench on the same machine (one thread, one keep-alive HTTP/1.1 \
              connection per concurrent request); latency percentiles cover successful requests\n";
        if let Some(l) = self.load_before {
            s += &format!(
                "- Load average (1 min) at the start: {l:.2}; at the end: {}\n",
                load_average().map_or("?".into(), |l| format!("{l:.2}"))
            );
        }
        s += "\n";
        s += "| Scenario | Concurrency | Requests | req/s | × ceiling | p50 ms | p99 ms | Errors | Target | Result |\n";
        s += "|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n";
        for r in &self.rows {
            let result = match (r.aborted, r.verdict) {
                (true, _) => "ABORTED",
                (_, Some(Verdict::Pass)) => "PASS",
                (_, Some(Verdict::Miss)) => "MISS",
                (_, None) => "",
            };
            s += &format!(
                "| {} | {} | {} | {} | {} | {:.2} | {:.2} | {} | {} | {} |\n",
                r.scenario,
                r.concurrency,
                thousands(r.requests as f64),
                thousands(r.rps),
                self.of_ceiling(r).map_or(String::new(), |f| format!("{f:.2}")),
                r.p50_ms,
                r.p99_ms,
                r.errors,
                r.target,
                result
            );
        }
        if !self.notes.is_empty() {
            s += "\n";
            for n in &self.notes {
                s += &format!("- {n}\n");
            }
        }
        s
    }

    pub fn json(&self, machine: &Machine, date: &str) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "scenario": r.scenario,
                    "concurrency": r.concurrency,
                    "requests": r.requests,
                    "errors": r.errors,
                    "seconds": r.seconds,
                    "req_per_s": r.rps,
                    "of_ceiling": self.of_ceiling(r),
                    "p50_ms": r.p50_ms,
                    "p99_ms": r.p99_ms,
                    "target": r.target,
                    "result": match (r.aborted, r.verdict) {
                        (true, _) => Some("aborted"),
                        (_, Some(Verdict::Pass)) => Some("pass"),
                        (_, Some(Verdict::Miss)) => Some("miss"),
                        (_, None) => None,
                    },
                })
            })
            .collect();
        json!({
            "date": date,
            "machine": {
                "cpu": machine.cpu,
                "cores": machine.cores,
                "mem_kib": machine.mem_kib,
            },
            "database": self.database,
            "contacts": self.contacts,
            "duration_s": self.duration,
            "results": rows,
            "memory": self.memory.as_ref().map(|m| json!({
                "contacts": m.contacts,
                "vm_rss_kib": m.rss_kib,
                "vm_hwm_kib": m.hwm_kib,
            })),
            "notes": self.notes,
            "ceiling": self.ceiling.iter().map(|(c, rps)| json!({"concurrency": c, "req_per_s": rps})).collect::<Vec<_>>(),
            "load_average_start": self.load_before,
        })
    }
}

/// 12345.6 -> "12,346".
pub fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Current UTC time as "YYYY-MM-DD HH:MM UTC" (no date crate needed).
pub fn now_utc() -> String {
    format_utc(unix_now())
}

/// `secs` after now as RFC 3339, e.g. "2024-02-29T12:34:56Z" (a subscription's expiry).
pub fn rfc3339_from_now(secs: u64) -> String {
    rfc3339(unix_now() + secs)
}

/// The RFC 3339 timestamp `secs` seconds ago.
pub fn rfc3339_ago(secs: u64) -> String {
    rfc3339(unix_now().saturating_sub(secs))
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn format_utc(secs: u64) -> String {
    let (year, month, day) = civil(secs);
    let (h, m) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02} UTC")
}

fn rfc3339(secs: u64) -> String {
    let (year, month, day) = civil(secs);
    let (h, m, s) = ((secs % 86_400) / 3600, (secs % 3600) / 60, secs % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

/// (year, month, day) of a Unix time.
fn civil(secs: u64) -> (i64, i64, i64) {
    let days = (secs / 86_400) as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.50), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn formatting() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(15_000.2), "15,000");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(1_709_210_096), "2024-02-29 12:34 UTC");
        assert_eq!(rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
    }

    #[test]
    fn rows_and_markdown() {
        let o = Outcome {
            requests: 1000,
            errors: 0,
            elapsed: Duration::from_secs(2),
            latencies_us: (1..=1000).rev().collect(),
            ..Outcome::default()
        };
        let mut row = Row::new("get-by-id", 16, o);
        assert_eq!((row.rps, row.p50_ms, row.p99_ms), (500.0, 0.5, 0.99));
        row.target("≥ 15,000 req/s".into(), false);
        let report = Report { rows: vec![row], ceiling: vec![(16, 2000.0)], ..Report::default() };
        let machine = Machine { cpu: "Test CPU".into(), cores: 2, mem_kib: 2 * 1024 * 1024 };
        let md = report.markdown(&machine, "2024-01-01 00:00 UTC");
        assert!(md.contains("Test CPU · 2 cores · 2.0 GiB RAM"));
        assert!(md.contains("| get-by-id | 16 | 1,000 | 500 | 0.25 | 0.50 | 0.99 | 0 | ≥ 15,000 req/s | MISS |"));
        assert_eq!(report.json(&machine, "d")["results"][0]["result"], "miss");
        assert_eq!(report.json(&machine, "d")["results"][0]["of_ceiling"], 0.25);
        assert_eq!(report.ceiling_at(1), None);
    }
}
