//! The process's own CPU time and peak memory, read from `/proc/self`.

use std::time::Duration;

/// CPU time (user + system) and peak resident set size of this process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub cpu: Duration,
    pub peak_rss_kib: u64,
}

/// Reads `/proc/self/stat` and `/proc/self/status`; zeros where they are
/// missing (not Linux).
pub fn usage() -> Usage {
    Usage { cpu: cpu_time().unwrap_or_default(), peak_rss_kib: peak_rss_kib().unwrap_or(0) }
}

fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may contain spaces; fields after it are plain.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux exports clock ticks at USER_HZ, which is 100 on every supported
    // architecture.
    Some(Duration::from_millis(ticks * 10))
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
