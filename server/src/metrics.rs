//! Prometheus metrics, written by hand in the text exposition format.
//!
//! Why not a metrics crate: four series (requests by route and status, a latency histogram,
//! pool occupancy and rejections) do not justify a registry, a recorder and their
//! dependencies. Routes are labelled by their matched pattern, never the raw path, so label
//! cardinality stays bounded.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use crate::pool::PoolStats;

/// Latency bucket upper bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
}

/// The method label: a standard method, else `OTHER`.
pub fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
    KNOWN
        .iter()
        .find(|k| **k == method)
        .copied()
        .unwrap_or("OTHER")
}

/// Request metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Records one finished request. The method is one of a fixed set (anything else is
    /// `OTHER`), so a client cannot add label values: routes are matched patterns already.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let Ok(mut m) = self.inner.lock() else { return };
        *m.requests
            .entry((route.to_owned(), method_label(method).to_owned(), status))
            .or_default() += 1;
        let h = m.latency.entry(route.to_owned()).or_default();
        for (c, le) in h.counts.iter_mut().zip(BUCKETS) {
            if seconds <= le {
                *c += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// The exposition text, including the pool's occupancy.
    pub fn render(&self, pool: PoolStats) -> String {
        let mut out = String::new();
        let Ok(m) = self.inner.lock() else {
            return out;
        };
        out.push_str("# HELP liveproof_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE liveproof_http_requests_total counter\n");
        for ((route, method, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "liveproof_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP liveproof_http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE liveproof_http_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            for (c, le) in h.counts.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "liveproof_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {c}"
                );
            }
            let _ = writeln!(
                out,
                "liveproof_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 liveproof_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 liveproof_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count, h.sum, h.count
            );
        }
        let _ = write!(
            out,
            "# HELP liveproof_pool_size Pipeline worker permits.\n\
             # TYPE liveproof_pool_size gauge\nliveproof_pool_size {}\n\
             # HELP liveproof_pool_queue_capacity Requests allowed to wait for a worker.\n\
             # TYPE liveproof_pool_queue_capacity gauge\nliveproof_pool_queue_capacity {}\n\
             # HELP liveproof_pool_busy Pipeline runs in progress.\n\
             # TYPE liveproof_pool_busy gauge\nliveproof_pool_busy {}\n\
             # HELP liveproof_pool_admitted Requests running or waiting for a worker.\n\
             # TYPE liveproof_pool_admitted gauge\nliveproof_pool_admitted {}\n\
             # HELP liveproof_pool_rejected_total Requests refused with 503 because the pool was saturated.\n\
             # TYPE liveproof_pool_rejected_total counter\nliveproof_pool_rejected_total {}\n",
            pool.size, pool.queue, pool.busy, pool.admitted, pool.rejected
        );
        out
    }
}
