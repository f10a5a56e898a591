//! The run's summary: a table for people on stdout, JSON for machines.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use cartage_core::PipelineStats;
use serde_json::json;

use crate::resources;

/// One stream's figures.
#[derive(Debug, Clone)]
pub struct StreamSummary {
    pub tenant: String,
    pub stream: String,
    pub stats: PipelineStats,
}

impl StreamSummary {
    pub fn new(tenant: &str, stream: &str, stats: &PipelineStats) -> Self {
        StreamSummary { tenant: tenant.to_owned(), stream: stream.to_owned(), stats: stats.clone() }
    }
}

/// Everything a run did.
#[derive(Debug, Default)]
pub struct RunSummary {
    pub streams: Vec<StreamSummary>,
    pub usage: resources::Usage,
}

impl RunSummary {
    /// Records the process's CPU time and peak memory at the end of the run.
    pub fn finish(&mut self) {
        self.usage = resources::usage();
    }

    fn totals(&self) -> (u64, BTreeMap<String, u64>) {
        let mut rows = BTreeMap::new();
        let mut records = 0;
        for s in &self.streams {
            records += s.stats.records;
            for (table, n) in &s.stats.rows {
                *rows.entry(table.clone()).or_default() += n;
            }
        }
        (records, rows)
    }

    pub fn print(&self) {
        for s in &self.streams {
            let st = &s.stats;
            println!(
                "tenant {} · stream {}: {} records in {:.2} s",
                s.tenant,
                s.stream,
                st.records,
                st.duration.as_secs_f64()
            );
            for (table, n) in &st.rows {
                println!("  {table:<20} {n:>10} rows written");
            }
            for (table, n) in st.deleted.iter().filter(|(_, n)| **n > 0) {
                println!("  {table:<20} {n:>10} rows marked deleted");
            }
            println!(
                "  requests {} · retries {} · rate-limited (429) {} · rate-limit waits {} ({:.1} s)",
                st.source.requests,
                st.source.retries,
                st.source.rate_limited,
                st.source.throttle_waits,
                st.source.throttle_wait.as_secs_f64()
            );
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let (records, rows) = self.totals();
        let sum = |f: fn(&PipelineStats) -> u64| -> u64 {
            self.streams.iter().map(|s| f(&s.stats)).sum()
        };
        let wait: Duration = self.streams.iter().map(|s| s.stats.source.throttle_wait).sum();
        json!({
            "records": records,
            "rows": rows,
            "requests": sum(|s| s.source.requests),
            "retries": sum(|s| s.source.retries),
            "rate_limited": sum(|s| s.source.rate_limited),
            "throttle_waits": sum(|s| s.source.throttle_waits),
            "throttle_wait_ms": wait.as_millis() as u64,
            "duration_ms": self.streams.iter().map(|s| s.stats.duration.as_millis() as u64).sum::<u64>(),
            "cpu_ms": self.usage.cpu.as_millis() as u64,
            "peak_rss_kib": self.usage.peak_rss_kib,
            "streams": self.streams.iter().map(|s| json!({
                "tenant": s.tenant,
                "stream": s.stream,
                "records": s.stats.records,
                "batches": s.stats.batches,
                "rows": s.stats.rows,
                "deleted": s.stats.deleted,
                "duration_ms": s.stats.duration.as_millis() as u64,
            })).collect::<Vec<_>>(),
        })
    }

    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json()).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }
}
