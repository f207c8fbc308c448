//! Prometheus metrics of the service (`GET /metrics`).

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The service's counters, gauges and histograms, in their own registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests by route, method and status.
    pub requests: IntCounterVec,
    /// Request latency by route, in seconds.
    pub latency: HistogramVec,
    /// Problems per batched planner call.
    pub batch_size: Histogram,
    /// Planning time per planner call by planner, in seconds.
    pub plan_seconds: HistogramVec,
    /// Requests being handled.
    pub in_flight: IntGauge,
    /// Plans waiting for the inference worker.
    pub queue_depth: IntGauge,
}

impl Metrics {
    /// Fresh metrics.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("flowopt".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency")
                .buckets(prometheus::exponential_buckets(0.001, 2.0, 16)?),
            &["route"],
        )?;
        let batch_size = Histogram::with_opts(
            HistogramOpts::new("batch_size", "problems per batched planner call")
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]),
        )?;
        let plan_seconds = HistogramVec::new(
            HistogramOpts::new("plan_seconds", "planner call time (a whole batch)")
                .buckets(prometheus::exponential_buckets(0.001, 2.0, 16)?),
            &["planner"],
        )?;
        let in_flight = IntGauge::new("in_flight_requests", "requests being handled")?;
        let queue_depth = IntGauge::new("queue_depth", "plans waiting for the inference worker")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(batch_size.clone()))?;
        registry.register(Box::new(plan_seconds.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            batch_size,
            plan_seconds,
            in_flight,
            queue_depth,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding into a Vec only fails on metrics that break the text format's rules, which
        // the fixed names above do not.
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!("encoding metrics: {err}");
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }
}
