//! Progress on stderr for every long command: a bar when stderr is a terminal, and
//! otherwise plain lines (batch schedulers, containers and CI capture stderr to a file,
//! where a bar's redraws are noise and its absence looks like a hang).
//!
//! A plain line is printed when the work crosses another 5% or when 10 s have passed since
//! the last line, whichever comes first, but at most one a second, so a fast command
//! prints only its last line. `LIQSIM_PROGRESS=bar|plain|off` overrides the choice (tests
//! use `plain`). Progress never goes to stdout, which holds results only.
//!
//! The peak memory on Linux is the process's high-water resident set (`VmHWM` of
//! `/proc/self/status`), absent elsewhere.

use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const PLAIN_EVERY: Duration = Duration::from_secs(10);
const PLAIN_AT_MOST: Duration = Duration::from_secs(1);
const PLAIN_STEP_PERCENT: u64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bar,
    Plain,
    Off,
}

fn mode() -> Mode {
    match std::env::var("LIQSIM_PROGRESS").as_deref() {
        Ok("bar") => Mode::Bar,
        Ok("plain") => Mode::Plain,
        Ok("off") => Mode::Off,
        _ if std::io::stderr().is_terminal() => Mode::Bar,
        _ => Mode::Plain,
    }
}

#[derive(Debug)]
struct Plain {
    position: u64,
    last_line: Instant,
    last_step: u64,
    /// The position the last line showed.
    printed: Option<u64>,
}

/// Progress of `total` units of work (`unit` names them: runs, evaluations, simulated
/// seconds). Shared by the workers of a pool: every method takes `&self`.
#[derive(Debug)]
pub struct Progress {
    label: String,
    unit: &'static str,
    total: u64,
    started: Instant,
    bar: Option<indicatif::ProgressBar>,
    plain: Option<Mutex<Plain>>,
}

impl Progress {
    pub fn new(total: u64, label: &str, unit: &'static str) -> Progress {
        let started = Instant::now();
        let (bar, plain) = match mode() {
            Mode::Bar => {
                let bar = indicatif::ProgressBar::new(total);
                if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
                    "{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{per_sec}}, {{eta}} left"
                )) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_message(label.to_string());
                (Some(bar), None)
            }
            Mode::Plain => (
                None,
                Some(Mutex::new(Plain {
                    position: 0,
                    last_line: started,
                    last_step: 0,
                    printed: None,
                })),
            ),
            Mode::Off => (None, None),
        };
        Progress { label: label.to_string(), unit, total, started, bar, plain }
    }

    /// `n` more units done.
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        if let Some(plain) = &self.plain
            && let Ok(mut p) = plain.lock()
        {
            let position = p.position + n;
            self.plain_to(&mut p, position);
        }
    }

    /// The work is at `position` units.
    pub fn set(&self, position: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(position);
        }
        if let Some(plain) = &self.plain
            && let Ok(mut p) = plain.lock()
        {
            self.plain_to(&mut p, position);
        }
    }

    fn plain_to(&self, p: &mut Plain, position: u64) {
        p.position = position.min(self.total);
        let step = (p.position * 100 / self.total.max(1)) / PLAIN_STEP_PERCENT;
        let now = Instant::now();
        let since = now.duration_since(p.last_line);
        if since >= PLAIN_EVERY || (step > p.last_step && since >= PLAIN_AT_MOST) {
            p.last_line = now;
            p.last_step = step;
            p.printed = Some(p.position);
            eprintln!("{}", self.line(p.position));
        }
    }

    fn line(&self, position: u64) -> String {
        let elapsed = self.started.elapsed().as_secs_f64();
        let fraction = position as f64 / self.total.max(1) as f64;
        let left = if fraction > 0.0 && fraction < 1.0 {
            format!(", about {:.0} s left", elapsed * (1.0 - fraction) / fraction)
        } else {
            String::new()
        };
        format!(
            "{}: {position}/{} {} ({:.0}%), {elapsed:.1} s{left}",
            self.label,
            self.total,
            self.unit,
            fraction * 100.0
        )
    }

    /// Clears the bar; in plain mode prints the last line unless it was just printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if let Some(plain) = &self.plain
            && let Ok(p) = plain.lock()
            && p.printed != Some(p.position)
        {
            eprintln!("{}", self.line(p.position));
        }
    }
}

/// The process's peak resident memory in bytes (Linux), or `None` where it is not known.
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 =
        line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// The line every command ends with on stderr: wall time and peak memory.
pub fn resources(started: Instant) -> String {
    let wall = started.elapsed().as_secs_f64();
    match peak_memory_bytes() {
        Some(bytes) => {
            format!("{wall:.2} s wall, peak memory {:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
        }
        None => format!("{wall:.2} s wall"),
    }
}
