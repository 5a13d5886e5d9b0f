//! Live stats routes: an agent's report (`POST .../nodes/{name}/stats`,
//! kept in memory by [`crate::stats_book::StatsBook`]) and the reading of
//! a node's, an instance's, a service's or every instance's samples
//! (`GET .../stats`, JSON lines, `follow=true` to keep streaming).

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use corral_api::stats::{
    MAX_INSTANCES_PER_REPORT, MAX_SAMPLES_PER_SERIES, Sample, StatsQuery, StatsReport,
};
use corral_types::validate_name;

use crate::error::{ApiError, decode_body};
use crate::objects::require_environment;
use crate::state::AppState;
use crate::stats_book::Selection;

/// Samples from further ahead of the server's clock than this are refused.
const MAX_CLOCK_AHEAD_MS: u64 = 5 * 60 * 1000;

/// `POST .../nodes/{name}/stats`: the gate lets a node's credential report
/// for its own node only.
pub async fn report(
    State(state): State<AppState>,
    Path((env, node)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_environment(&state, &env).await?;
    let report: StatsReport = decode_body(&body)?;
    let now_ms = state.clock.now_ms();
    check_report(&report, now_ms)?;
    let refused = state.stats.ingest(&env, &node, &report, now_ms);
    if refused > 0 {
        tracing::warn!(
            "stats of node {env}/{node}: {refused} series not kept (the server keeps at most {} series)",
            state.stats.max_series()
        );
    }
    Ok(Json(serde_json::json!({ "refused_series": refused })))
}

/// Bounds, names and numbers of a report, each error naming its field.
fn check_report(report: &StatsReport, now_ms: u64) -> Result<(), ApiError> {
    if report.instances.len() > MAX_INSTANCES_PER_REPORT {
        return Err(ApiError::invalid(
            "instances",
            format!("more than {MAX_INSTANCES_PER_REPORT} instances in one report"),
        ));
    }
    check_samples("host", &report.host, now_ms)?;
    for (i, inst) in report.instances.iter().enumerate() {
        validate_name(&format!("instances[{i}].instance"), &inst.instance)?;
        if !inst.service.is_empty() {
            validate_name(&format!("instances[{i}].service"), &inst.service)?;
        }
        check_samples(&format!("instances[{i}].samples"), &inst.samples, now_ms)?;
    }
    Ok(())
}

fn check_samples(field: &str, samples: &[Sample], now_ms: u64) -> Result<(), ApiError> {
    if samples.len() > MAX_SAMPLES_PER_SERIES {
        return Err(ApiError::invalid(
            field,
            format!("more than {MAX_SAMPLES_PER_SERIES} samples"),
        ));
    }
    for (i, s) in samples.iter().enumerate() {
        if !s.cpu_percent.is_finite() || s.cpu_percent < 0.0 {
            return Err(ApiError::invalid(
                format!("{field}[{i}].cpu_percent"),
                "must be a number of 0 or more",
            ));
        }
        if s.time_ms > now_ms + MAX_CLOCK_AHEAD_MS {
            return Err(ApiError::invalid(
                format!("{field}[{i}].time_ms"),
                "is more than 5 minutes ahead of the server's clock",
            ));
        }
    }
    Ok(())
}

/// `GET .../stats`: what the query selects, then (`follow`) new samples.
pub async fn read(
    State(state): State<AppState>,
    Path(env): Path<String>,
    Query(query): Query<StatsQuery>,
) -> Result<Response, ApiError> {
    require_environment(&state, &env).await?;
    let selection = selection(&query)?;
    // Subscribe first, so nothing falls between the history and the live lines.
    let live = query.follow.then(|| state.stats.subscribe());
    let history = state.stats.select(&env, &selection, query.since_ms);
    let mut last = history.last().map(|l| l.sample.time_ms).unwrap_or_default();
    let head = futures::stream::iter(
        history
            .into_iter()
            .map(|l| Ok::<Bytes, std::io::Error>(line_bytes(&l))),
    );
    let Some(live) = live else {
        return Ok(respond(Body::from_stream(head)));
    };
    let mut stop = state.shutdown.clone();
    let follow = BroadcastStream::new(live)
        .filter_map(move |item| {
            let keep = match item {
                Ok(line) if line.0 == env && selection.matches(&line.1) => {
                    // With one series, never a sample older than one sent.
                    let single =
                        !matches!(selection, Selection::AllInstances | Selection::AllNodes);
                    if single && line.1.sample.time_ms <= last {
                        None
                    } else {
                        last = last.max(line.1.sample.time_ms);
                        Some(Ok(line_bytes(&line.1)))
                    }
                }
                // A follower too slow for the broadcast skips what it lost.
                _ => None,
            };
            std::future::ready(keep)
        })
        .take_until(async move {
            let _ = stop.wait_for(|s| *s).await;
        });
    Ok(respond(Body::from_stream(head.chain(follow))))
}

fn respond(body: Body) -> Response {
    ([("content-type", "application/x-ndjson")], body).into_response()
}

fn line_bytes(line: &corral_api::stats::StatsLine) -> Bytes {
    let mut bytes = serde_json::to_vec(line).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// At most one of node, instance and service.
fn selection(q: &StatsQuery) -> Result<Selection, ApiError> {
    let given = [&q.node, &q.instance, &q.service]
        .iter()
        .filter(|v| v.is_some())
        .count()
        + usize::from(q.nodes);
    if given > 1 {
        return Err(ApiError::bad_request(
            Some("node"),
            "give at most one of node, instance, service and nodes",
        ));
    }
    let named = |field: &str, v: &str| {
        validate_name(field, v)
            .map(|()| v.to_string())
            .map_err(ApiError::Invalid)
    };
    Ok(match (&q.node, &q.instance, &q.service) {
        (Some(n), _, _) => Selection::Node(named("node", n)?),
        (_, Some(i), _) => Selection::Instance(named("instance", i)?),
        (_, _, Some(s)) => Selection::Service(named("service", s)?),
        _ if q.nodes => Selection::AllNodes,
        _ => Selection::AllInstances,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use corral_api::stats::InstanceSamples;

    use super::*;

    #[test]
    fn bad_reports_are_refused_naming_the_field() {
        let bad = |report: StatsReport| check_report(&report, 1_000).unwrap_err().to_string();
        let nan = StatsReport {
            host: vec![Sample {
                cpu_percent: f64::NAN,
                ..Sample::default()
            }],
            instances: Vec::new(),
        };
        assert!(bad(nan).contains("host[0].cpu_percent"));
        let future = StatsReport {
            host: Vec::new(),
            instances: vec![InstanceSamples {
                instance: "web-1".into(),
                service: "web".into(),
                samples: vec![Sample {
                    time_ms: 1_000 + MAX_CLOCK_AHEAD_MS + 1,
                    ..Sample::default()
                }],
            }],
        };
        assert!(bad(future).contains("instances[0].samples[0].time_ms"));
        let badname = StatsReport {
            host: Vec::new(),
            instances: vec![InstanceSamples {
                instance: "Web_1".into(),
                ..InstanceSamples::default()
            }],
        };
        assert!(bad(badname).contains("instances[0].instance"));
    }

    #[test]
    fn a_query_selects_one_series_or_every_instance() {
        let q = |node: Option<&str>, service: Option<&str>| StatsQuery {
            node: node.map(str::to_string),
            service: service.map(str::to_string),
            ..StatsQuery::default()
        };
        assert_eq!(selection(&q(None, None)).unwrap(), Selection::AllInstances);
        assert_eq!(
            selection(&q(Some("n1"), None)).unwrap(),
            Selection::Node("n1".into())
        );
        assert!(selection(&q(Some("n1"), Some("web"))).is_err());
        assert!(selection(&q(Some("N 1"), None)).is_err());
    }
}
