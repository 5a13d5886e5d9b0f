//! Compose `healthcheck:` and rancher-compose `health_check:`.

use corral_types::{HealthCheck, HealthStrategy, Probe};

use crate::ctx::{Ctx, join};
use crate::error::ComposeError;
use crate::service::duration;
use crate::value::{Kind, Node};

/// Docker's defaults: every 30 s, 30 s timeout, 3 retries; healthy after
/// one success; no initializing timeout. Unhealthy instances are replaced,
/// as Swarm does.
pub(crate) fn compose_defaults(probe: Probe) -> HealthCheck {
    HealthCheck {
        probe,
        interval_ms: 30_000,
        timeout_ms: 30_000,
        healthy_threshold: 1,
        unhealthy_threshold: 3,
        start_period_ms: 0,
        initializing_timeout_ms: 0,
        reinitializing_timeout_ms: 0,
        strategy: HealthStrategy::Recreate,
    }
}

pub(crate) fn compose(
    ctx: &mut Ctx,
    v: &Node,
    key: &str,
) -> Result<Option<HealthCheck>, ComposeError> {
    let mut hc = compose_defaults(Probe::Command {
        command: Vec::new(),
    });
    let mut disabled = false;
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        let val = &e.value;
        match e.key.as_str() {
            "test" => match test(ctx, val, &k)? {
                Some(command) => hc.probe = Probe::Command { command },
                None => disabled = true,
            },
            "interval" => hc.interval_ms = duration(ctx, val, &k)?,
            "timeout" => hc.timeout_ms = duration(ctx, val, &k)?,
            "retries" => hc.unhealthy_threshold = val.u32(ctx, &k)?,
            "start_period" => hc.start_period_ms = duration(ctx, val, &k)?,
            "start_interval" => ctx.ignored(e.pos, &k, "the interval applies from the start"),
            "disable" => disabled |= val.bool(ctx, &k)?,
            x if x.starts_with("x-") => {}
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    if disabled {
        return Ok(None);
    }
    if hc.probe
        == (Probe::Command {
            command: Vec::new(),
        })
    {
        return Err(ctx.invalid(v.pos, key, "test is required"));
    }
    Ok(Some(hc))
}

/// `["CMD", ...]`, `["CMD-SHELL", "..."]`, a string (run by a shell), or
/// `["NONE"]` (no check: `None`).
fn test(ctx: &Ctx, v: &Node, key: &str) -> Result<Option<Vec<String>>, ComposeError> {
    if let Kind::Str(s) = &v.kind {
        return Ok(Some(vec!["CMD-SHELL".to_string(), s.clone()]));
    }
    let items = v.strings(ctx, key)?;
    match items.first().map(String::as_str) {
        Some("NONE") => Ok(None),
        Some("CMD") | Some("CMD-SHELL") if items.len() > 1 => Ok(Some(items)),
        _ => Err(ctx.invalid(
            v.pos,
            key,
            "expected [\"CMD\", ...], [\"CMD-SHELL\", \"...\"] or [\"NONE\"]",
        )),
    }
}

/// Rancher's `health_check:`: times in milliseconds, an HTTP request line
/// or a TCP connect.
pub(crate) fn rancher(ctx: &mut Ctx, v: &Node, key: &str) -> Result<HealthCheck, ComposeError> {
    let mut hc = HealthCheck::default();
    let mut port = None;
    let mut request_line = None;
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        let val = &e.value;
        match e.key.as_str() {
            "port" => {
                let p = val.u64(ctx, &k)?;
                port = Some(u16::try_from(p).ok().filter(|p| *p > 0).ok_or_else(|| {
                    ctx.invalid(val.pos, &k, format!("{p} is not a port from 1 to 65535"))
                })?);
            }
            "request_line" => request_line = val.opt_str(ctx, &k)?.map(str::to_string),
            "interval" => hc.interval_ms = val.u64(ctx, &k)?,
            "response_timeout" => hc.timeout_ms = val.u64(ctx, &k)?,
            "healthy_threshold" => hc.healthy_threshold = val.u32(ctx, &k)?,
            "unhealthy_threshold" => hc.unhealthy_threshold = val.u32(ctx, &k)?,
            "initializing_timeout" => hc.initializing_timeout_ms = val.u64(ctx, &k)?,
            "reinitializing_timeout" => hc.reinitializing_timeout_ms = val.u64(ctx, &k)?,
            "strategy" => {
                hc.strategy = match val.str(ctx, &k)? {
                    "recreate" => HealthStrategy::Recreate,
                    "none" => HealthStrategy::None,
                    other => {
                        ctx.ignored(
                            val.pos,
                            &k,
                            &format!("strategy {other:?}: unhealthy instances are recreated"),
                        );
                        HealthStrategy::Recreate
                    }
                }
            }
            "recreate_on_quorum_strategy_config" => {
                ctx.ignored(e.pos, &k, "quorum strategies are not supported")
            }
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    let Some(port) = port else {
        return Err(ctx.invalid(v.pos, key, "port is required"));
    };
    hc.probe = match request_line.filter(|r| !r.trim().is_empty()) {
        Some(request_line) => Probe::Http { port, request_line },
        None => Probe::Tcp { port },
    };
    Ok(hc)
}
