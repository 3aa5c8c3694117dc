//! The exposition: every series of the broker, read at scrape time from [`Metrics`], the
//! limits, the token manager, the vault and the JWT cache, encoded by `prometheus-client` (which
//! escapes label values). Series names are `icebroker_*`; counters get `_total` from the encoder.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::histogram::Histogram;
use super::stats::{ReauthReason, RefreshResult, VaultOp};
use super::{Metrics, UpstreamOutcome, UPSTREAM_SLOTS};
use crate::ratelimit::LimitKind;
use crate::state::AppState;

/// `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The whole exposition for the broker behind `state`.
pub fn render(state: &AppState) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Exposition(state.clone())));
    let mut out = String::with_capacity(16 * 1024);
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

struct Exposition(AppState);

impl std::fmt::Debug for Exposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Exposition")
    }
}

type Res = Result<(), std::fmt::Error>;

fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> Res {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    metric.encode_counter::<NoLabelSet, u64, u64>(&value, None)
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> Res {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    metric.encode_gauge(&value)
}

fn labelled_counter(metric: &mut MetricEncoder, labels: &[(&str, &str)], value: u64) -> Res {
    metric
        .encode_family(&labels)?
        .encode_counter::<NoLabelSet, u64, u64>(&value, None)
}

fn labelled_histogram(metric: &mut MetricEncoder, labels: &[(&str, &str)], h: &Histogram) -> Res {
    let s = h.snapshot();
    metric
        .encode_family(&labels)?
        .encode_histogram::<NoLabelSet>(s.sum_secs, s.count, &s.buckets, None)
}

impl Collector for Exposition {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let state = &self.0;
        http(&mut encoder, &state.metrics)?;
        upstream(&mut encoder, &state.metrics)?;
        limits(&mut encoder, state)?;
        oauth(&mut encoder, state)?;
        vault(&mut encoder, state)?;
        counter(
            &mut encoder,
            "icebroker_jwt_signatures",
            "Keypair JWTs signed (RS256); cached tokens are reused for ~59 min",
            state.connections.signatures(),
        )
    }
}

fn http(encoder: &mut DescriptorEncoder, metrics: &Metrics) -> Res {
    let series = metrics.request_snapshot();
    let statuses: Vec<String> = series.iter().map(|(k, _)| k.status.to_string()).collect();
    let labels = |i: usize| {
        let key = &series[i].0;
        [
            ("route", &*key.route),
            ("method", key.method),
            ("status", statuses[i].as_str()),
        ]
    };
    let mut metric = encoder.encode_descriptor(
        "icebroker_http_requests",
        "HTTP requests served, by route pattern, method and status",
        None,
        MetricType::Counter,
    )?;
    for (i, (_, h)) in series.iter().enumerate() {
        labelled_counter(&mut metric, &labels(i), h.count())?;
    }
    let mut metric = encoder.encode_descriptor(
        "icebroker_http_request_duration_seconds",
        "Time from request head to response head, by route pattern, method and status",
        None,
        MetricType::Histogram,
    )?;
    for (i, (_, h)) in series.iter().enumerate() {
        labelled_histogram(&mut metric, &labels(i), h)?;
    }
    gauge(
        encoder,
        "icebroker_http_requests_in_flight",
        "HTTP requests being served now",
        metrics.in_flight.get(),
    )
}

fn upstream(encoder: &mut DescriptorEncoder, metrics: &Metrics) -> Res {
    let series = metrics.upstream_snapshot();
    let mut metric = encoder.encode_descriptor(
        "icebroker_upstream_requests",
        "Snowflake SQL API calls by connection name and outcome (status, timeout, unreachable)",
        None,
        MetricType::Counter,
    )?;
    for (connection, s) in &series {
        for slot in 0..UPSTREAM_SLOTS {
            let n = s.outcomes[slot].get();
            if n > 0 {
                let status = UpstreamOutcome::label(slot);
                labelled_counter(
                    &mut metric,
                    &[("connection", connection), ("status", &status)],
                    n,
                )?;
            }
        }
    }
    let mut metric = encoder.encode_descriptor(
        "icebroker_upstream_request_duration_seconds",
        "Time to Snowflake's response head (retries included), by connection name",
        None,
        MetricType::Histogram,
    )?;
    for (connection, s) in &series {
        labelled_histogram(&mut metric, &[("connection", connection)], &s.latency)?;
    }
    Ok(())
}

fn limits(encoder: &mut DescriptorEncoder, state: &AppState) -> Res {
    let mut metric = encoder.encode_descriptor(
        "icebroker_rate_limited",
        "Requests turned away by a limit (api_key, identifier, connection_concurrency)",
        None,
        MetricType::Counter,
    )?;
    for kind in LimitKind::ALL {
        labelled_counter(
            &mut metric,
            &[("limit", kind.as_str())],
            state.limits.rejected(kind),
        )?;
    }
    let mut metric = encoder.encode_descriptor(
        "icebroker_upstream_in_flight",
        "Upstream requests in flight per connection (when a concurrency cap is set)",
        None,
        MetricType::Gauge,
    )?;
    for (connection, n) in state.limits.in_flight() {
        metric
            .encode_family(&[("connection", connection.as_str())])?
            .encode_gauge(&i64::from(n))?;
    }
    gauge(
        encoder,
        "icebroker_rate_limit_keys",
        "Keys tracked by the rate limiters (idle keys are evicted)",
        i64::try_from(state.limits.tracked_keys()).unwrap_or(i64::MAX),
    )
}

fn oauth(encoder: &mut DescriptorEncoder, state: &AppState) -> Res {
    let stats = state.oauth.tokens().stats();
    let mut metric = encoder.encode_descriptor(
        "icebroker_oauth_refreshes",
        "OAuth refresh grants sent to Snowflake, by result",
        None,
        MetricType::Counter,
    )?;
    for result in RefreshResult::ALL {
        labelled_counter(
            &mut metric,
            &[("result", result.as_str())],
            stats.refreshes(result),
        )?;
    }
    gauge(
        encoder,
        "icebroker_oauth_refresh_waiters",
        "Callers queued now behind another caller's refresh of the same account (single flight)",
        stats.waiters.get(),
    )?;
    counter(
        encoder,
        "icebroker_oauth_refresh_waits",
        "Callers that queued behind another caller's refresh instead of refreshing themselves",
        stats.waits.get(),
    )?;
    let mut metric = encoder.encode_descriptor(
        "icebroker_oauth_reauthorization_required",
        "Accounts marked as needing a new authorization link, by reason",
        None,
        MetricType::Counter,
    )?;
    for reason in ReauthReason::ALL {
        labelled_counter(
            &mut metric,
            &[("reason", reason.as_str())],
            stats.reauthorizations(reason),
        )?;
    }
    Ok(())
}

fn vault(encoder: &mut DescriptorEncoder, state: &AppState) -> Res {
    let stats = state.vault.stats();
    let mut metric = encoder.encode_descriptor(
        "icebroker_vault_operation_duration_seconds",
        "Vault operations (seal/open + durable write), by operation",
        None,
        MetricType::Histogram,
    )?;
    for op in VaultOp::ALL {
        labelled_histogram(&mut metric, &[("op", op.as_str())], &stats.op(op).latency)?;
    }
    let mut metric = encoder.encode_descriptor(
        "icebroker_vault_operation_errors",
        "Vault operations that failed, by operation",
        None,
        MetricType::Counter,
    )?;
    for op in VaultOp::ALL {
        labelled_counter(
            &mut metric,
            &[("op", op.as_str())],
            stats.op(op).errors.get(),
        )?;
    }
    Ok(())
}
