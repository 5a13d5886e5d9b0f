//! Load balancers: a service whose instances are proxies run by the agent
//! (Rancher's `lb_config`), routing the source ports of the nodes they run
//! on to the serving instances of target services.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::service::{PortSpec, Protocol};
use crate::validate::{ValidationError, validate_name};

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// What a load balancer does: its port rules, certificates and stickiness.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LbConfig {
    pub port_rules: Vec<PortRule>,
    /// Names of Corral certificates offered by SNI on https and tls ports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<String>,
    /// The certificate for clients without SNI or whose name no certificate
    /// covers; empty: the first of `certificates`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub default_certificate: String,
    /// Sticky sessions by cookie on http and https ports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<Stickiness>,
    /// Trust the `X-Forwarded-For`, `X-Real-IP`, `Forwarded` and
    /// `X-Forwarded-Proto`/`-Port` headers clients send (the balancer sits
    /// behind another proxy): the peer is appended to them. Off (the
    /// default): they are replaced by what the balancer saw.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub trust_forwarded_for: bool,
}

/// How a source port is served.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LbProtocol {
    /// HTTP/1.1, routed by host and path.
    #[default]
    Http,
    /// TLS terminated, then HTTP/1.1 routed by host and path.
    Https,
    /// TCP, spliced to a backend.
    Tcp,
    /// TLS terminated, then spliced to a backend as TCP.
    Tls,
}

impl LbProtocol {
    /// True for the protocols routed by host and path.
    pub fn is_http(self) -> bool {
        matches!(self, LbProtocol::Http | LbProtocol::Https)
    }

    /// True for the protocols that terminate TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, LbProtocol::Https | LbProtocol::Tls)
    }
}

impl fmt::Display for LbProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LbProtocol::Http => "http",
            LbProtocol::Https => "https",
            LbProtocol::Tcp => "tcp",
            LbProtocol::Tls => "tls",
        })
    }
}

impl std::str::FromStr for LbProtocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "http" => Ok(LbProtocol::Http),
            "https" => Ok(LbProtocol::Https),
            "tcp" => Ok(LbProtocol::Tcp),
            "tls" => Ok(LbProtocol::Tls),
            other => Err(format!(
                "protocol {other:?} is not one of http, https, tcp, tls"
            )),
        }
    }
}

/// One rule: traffic on `source_port` (matching `hostname` and `path` for
/// http and https) goes to `target_port` of the serving instances of
/// `target_service`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortRule {
    /// The port the load balancer listens on, on every node it runs on.
    pub source_port: u16,
    pub protocol: LbProtocol,
    /// `example.com` (exact) or `*.example.com` (any subdomain); empty: any host.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    /// A path prefix such as `/api`; empty: any path.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Rules are tried lowest number first (Rancher's order), then the most
    /// specific (exact host, wildcard host, any host; longer path first).
    #[serde(skip_serializing_if = "is_default")]
    pub priority: u32,
    /// A service of the load balancer's stack (`web`) or of another stack (`shop/web`).
    pub target_service: String,
    /// The instances' port; 0: the same as `source_port`.
    #[serde(skip_serializing_if = "is_default")]
    pub target_port: u16,
    /// A name for the backend (Rancher's `backend_name`); informational.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub backend_name: String,
}

impl PortRule {
    /// The port of the target instances.
    pub fn effective_target_port(&self) -> u16 {
        if self.target_port == 0 {
            self.source_port
        } else {
            self.target_port
        }
    }

    /// The target as (stack, service): `web` is in `own_stack`, `shop/web` in `shop`.
    pub fn target<'a>(&'a self, own_stack: &'a str) -> (&'a str, &'a str) {
        match self.target_service.split_once('/') {
            Some((stack, service)) => (stack, service),
            None => (own_stack, self.target_service.as_str()),
        }
    }
}

/// How a rule is written in `io.corral.lb.rule.*` labels and `corral lb create --rule`.
pub const PORT_RULE_FORM: &str =
    "SOURCE_PORT[/PROTOCOL] [HOST][/PATH] -> SERVICE[:PORT] [priority=N] [backend=NAME]";

impl PortRule {
    /// Reads the one-line form
    /// `SOURCE[/PROTOCOL] [HOST][/PATH] -> SERVICE[:PORT] [priority=N] [backend=NAME]`.
    /// Only the syntax is checked here; [`LbConfig::validate`] checks the rest.
    pub fn parse(s: &str) -> Result<PortRule, String> {
        let form = format!("use {PORT_RULE_FORM}");
        let (left, right) = s
            .split_once("->")
            .ok_or_else(|| format!("{s:?}: no '->': {form}"))?;
        let mut rule = PortRule::default();
        let mut words = left.split_whitespace();
        let source = words
            .next()
            .ok_or_else(|| format!("{s:?}: no source port: {form}"))?;
        let (p, proto) = source.split_once('/').unwrap_or((source, "http"));
        rule.source_port = parse_port(p)?;
        rule.protocol = proto.parse()?;
        if let Some(matcher) = words.next() {
            match matcher.find('/') {
                Some(i) => {
                    rule.hostname = matcher[..i].to_string();
                    rule.path = matcher[i..].to_string();
                }
                None => rule.hostname = matcher.to_string(),
            }
        }
        if let Some(extra) = words.next() {
            return Err(format!("{s:?}: unexpected {extra:?} before '->': {form}"));
        }
        let mut words = right.split_whitespace();
        let target = words
            .next()
            .ok_or_else(|| format!("{s:?}: no target service: {form}"))?;
        match target.split_once(':') {
            Some((service, port)) => {
                rule.target_service = service.to_string();
                rule.target_port = parse_port(port)?;
            }
            None => rule.target_service = target.to_string(),
        }
        for option in words {
            match option.split_once('=') {
                Some(("priority", n)) => {
                    rule.priority = n
                        .parse()
                        .map_err(|_| format!("priority {n:?} is not a whole number"))?
                }
                Some(("backend", name)) => rule.backend_name = name.to_string(),
                _ => return Err(format!("{s:?}: unknown option {option:?}: {form}")),
            }
        }
        Ok(rule)
    }
}

fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{p:?} is not a port from 1 to 65535")),
    }
}

impl std::str::FromStr for PortRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PortRule::parse(s)
    }
}

/// The one-line form [`PortRule::parse`] reads back (defaults left out).
impl fmt::Display for PortRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source_port)?;
        if self.protocol != LbProtocol::Http {
            write!(f, "/{}", self.protocol)?;
        }
        if !self.hostname.is_empty() || !self.path.is_empty() {
            write!(f, " {}{}", self.hostname, self.path)?;
        }
        write!(f, " -> {}", self.target_service)?;
        if self.target_port != 0 {
            write!(f, ":{}", self.target_port)?;
        }
        if self.priority != 0 {
            write!(f, " priority={}", self.priority)?;
        }
        if !self.backend_name.is_empty() {
            write!(f, " backend={}", self.backend_name)?;
        }
        Ok(())
    }
}

/// Sticky sessions: the load balancer sets a cookie naming the backend, and
/// requests carrying it go to that backend while it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Stickiness {
    /// The cookie's name.
    pub cookie: String,
    /// The cookie's `Domain` attribute; empty: none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

impl Default for Stickiness {
    fn default() -> Self {
        Stickiness {
            cookie: Stickiness::DEFAULT_COOKIE.to_string(),
            domain: String::new(),
        }
    }
}

impl Stickiness {
    /// The cookie name when none is given.
    pub const DEFAULT_COOKIE: &'static str = "CORRAL_LB";
}

impl LbConfig {
    /// Checks every rule; the error names the field at fault relative to the
    /// config (`port_rules[0].protocol`).
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.port_rules.is_empty() {
            return Err(ValidationError::new(
                "port_rules",
                "a load balancer needs at least one port rule",
            ));
        }
        let has_cert = !self.certificates.is_empty() || !self.default_certificate.is_empty();
        let mut protocols: BTreeMap<u16, (LbProtocol, usize)> = BTreeMap::new();
        for (i, rule) in self.port_rules.iter().enumerate() {
            validate_rule(rule, i)?;
            let field = |f: &str| format!("port_rules[{i}].{f}");
            if rule.protocol.is_tls() && !has_cert {
                return Err(ValidationError::new(
                    field("protocol"),
                    format!(
                        "{} needs a certificate: set certificates or default_certificate",
                        rule.protocol
                    ),
                ));
            }
            let (p, first) = *protocols
                .entry(rule.source_port)
                .or_insert((rule.protocol, i));
            if p != rule.protocol {
                return Err(ValidationError::new(
                    field("protocol"),
                    format!(
                        "port {} is already served as {p} by port_rules[{first}]",
                        rule.source_port
                    ),
                ));
            }
        }
        for (i, name) in self.certificates.iter().enumerate() {
            validate_name(&format!("certificates[{i}]"), name)?;
        }
        if !self.default_certificate.is_empty() {
            validate_name("default_certificate", &self.default_certificate)?;
        }
        if let Some(s) = &self.stickiness {
            validate_cookie(s)?;
        }
        Ok(())
    }

    /// The host ports the load balancer listens on, as the service's `ports`
    /// (so the scheduler keeps two of them off the same host port).
    pub fn port_specs(&self) -> Vec<PortSpec> {
        let mut ports: Vec<u16> = self.port_rules.iter().map(|r| r.source_port).collect();
        ports.sort_unstable();
        ports.dedup();
        ports
            .into_iter()
            .map(|p| PortSpec {
                host_port: p,
                container_port: p,
                protocol: Protocol::Tcp,
            })
            .collect()
    }
}

fn validate_rule(rule: &PortRule, i: usize) -> Result<(), ValidationError> {
    let field = |f: &str| format!("port_rules[{i}].{f}");
    if rule.source_port == 0 {
        return Err(ValidationError::new(
            field("source_port"),
            "must be from 1 to 65535",
        ));
    }
    if !rule.protocol.is_http() && (!rule.hostname.is_empty() || !rule.path.is_empty()) {
        return Err(ValidationError::new(
            field("protocol"),
            format!(
                "{} rules route by port only: hostname and path need http or https",
                rule.protocol
            ),
        ));
    }
    if !rule.hostname.is_empty() && !valid_hostname(&rule.hostname) {
        return Err(ValidationError::new(
            field("hostname"),
            format!(
                "{:?} is not a host name such as example.com or *.example.com",
                rule.hostname
            ),
        ));
    }
    if !rule.path.is_empty()
        && (!rule.path.starts_with('/') || rule.path.chars().any(|c| c.is_whitespace()))
    {
        return Err(ValidationError::new(
            field("path"),
            format!(
                "{:?} must start with '/' and contain no whitespace",
                rule.path
            ),
        ));
    }
    let target = field("target_service");
    match rule.target_service.split_once('/') {
        Some((stack, service)) => {
            validate_name(&target, stack)?;
            validate_name(&target, service)
        }
        None => validate_name(&target, &rule.target_service),
    }
}

/// `example.com`, `*.example.com`: labels of letters, digits and '-'.
fn valid_hostname(h: &str) -> bool {
    let rest = h.strip_prefix("*.").unwrap_or(h);
    !rest.is_empty()
        && h.len() <= 253
        && rest.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Cookie names are HTTP tokens; domains host names.
fn validate_cookie(s: &Stickiness) -> Result<(), ValidationError> {
    let token = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
    if s.cookie.is_empty() || !s.cookie.bytes().all(token) {
        return Err(ValidationError::new(
            "stickiness.cookie",
            format!(
                "{:?} is not a cookie name (letters, digits and !#$%&'*+-.^_`|~)",
                s.cookie
            ),
        ));
    }
    let domain = s.domain.trim_start_matches('.');
    if !s.domain.is_empty() && !valid_hostname(domain) {
        return Err(ValidationError::new(
            "stickiness.domain",
            format!("{:?} is not a domain", s.domain),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(port: u16, protocol: LbProtocol, target: &str) -> PortRule {
        PortRule {
            source_port: port,
            protocol,
            target_service: target.into(),
            ..Default::default()
        }
    }

    fn config(rules: Vec<PortRule>) -> LbConfig {
        LbConfig {
            port_rules: rules,
            ..Default::default()
        }
    }

    fn field(c: &LbConfig) -> String {
        c.validate().err().map(|e| e.field).unwrap_or_default()
    }

    #[test]
    fn a_valid_config_passes_and_round_trips_through_json() {
        let mut c = config(vec![
            PortRule {
                hostname: "*.example.com".into(),
                path: "/api".into(),
                priority: 2,
                target_port: 8080,
                ..rule(443, LbProtocol::Https, "shop/api")
            },
            rule(80, LbProtocol::Http, "web"),
            rule(5432, LbProtocol::Tcp, "db"),
        ]);
        c.default_certificate = "example".into();
        c.stickiness = Some(Stickiness::default());
        assert_eq!(c.validate(), Ok(()));
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<LbConfig>(&json).unwrap(), c);
        let ports: Vec<u16> = c.port_specs().iter().map(|p| p.host_port).collect();
        assert_eq!(ports, [80, 443, 5432]);
        assert_eq!(c.port_rules[2].effective_target_port(), 5432);
        assert_eq!(c.port_rules[0].target("own"), ("shop", "api"));
        assert_eq!(c.port_rules[1].target("own"), ("own", "web"));
    }

    #[test]
    fn bad_rules_name_the_field_at_fault() {
        assert_eq!(field(&config(vec![])), "port_rules");
        assert_eq!(
            field(&config(vec![rule(0, LbProtocol::Http, "web")])),
            "port_rules[0].source_port"
        );
        let mut tcp_with_host = rule(90, LbProtocol::Tcp, "web");
        tcp_with_host.hostname = "a.example.com".into();
        assert_eq!(
            field(&config(vec![
                rule(80, LbProtocol::Http, "web"),
                tcp_with_host
            ])),
            "port_rules[1].protocol"
        );
        assert_eq!(
            field(&config(vec![rule(443, LbProtocol::Https, "web")])),
            "port_rules[0].protocol",
            "https without a certificate"
        );
        assert_eq!(
            field(&config(vec![
                rule(80, LbProtocol::Http, "web"),
                rule(80, LbProtocol::Tcp, "db")
            ])),
            "port_rules[1].protocol",
            "one port, two protocols"
        );
        let mut bad_path = rule(80, LbProtocol::Http, "web");
        bad_path.path = "api".into();
        assert_eq!(field(&config(vec![bad_path])), "port_rules[0].path");
        let mut bad_host = rule(80, LbProtocol::Http, "web");
        bad_host.hostname = "a..b".into();
        assert_eq!(field(&config(vec![bad_host])), "port_rules[0].hostname");
        assert_eq!(
            field(&config(vec![rule(80, LbProtocol::Http, "Web/x")])),
            "port_rules[0].target_service"
        );
        let mut sticky = config(vec![rule(80, LbProtocol::Http, "web")]);
        sticky.stickiness = Some(Stickiness {
            cookie: "a b".into(),
            ..Default::default()
        });
        assert_eq!(field(&sticky), "stickiness.cookie");
    }

    #[test]
    fn a_load_balancer_service_runs_no_image_and_publishes_its_source_ports() {
        let lb = config(vec![rule(80, LbProtocol::Http, "web")]);
        let mut spec = crate::ServiceSpec {
            scale: 1,
            ports: lb.port_specs(),
            lb: Some(lb),
            ..Default::default()
        };
        assert_eq!(spec.validate(), Ok(()));
        spec.image = "rancher/lb-service-haproxy".into();
        assert_eq!(spec.validate().unwrap_err().field, "spec.image");
        spec.image.clear();
        spec.ports.clear();
        assert_eq!(spec.validate().unwrap_err().field, "spec.ports");
        spec.lb = Some(config(vec![rule(0, LbProtocol::Http, "web")]));
        assert_eq!(
            spec.validate().unwrap_err().field,
            "spec.lb.port_rules[0].source_port"
        );
    }

    #[test]
    fn the_one_line_rule_form_reads_every_field_and_reads_back_what_it_writes() {
        let r =
            PortRule::parse("443/https *.example.com/api -> shop/api:8080 priority=2 backend=b1")
                .unwrap();
        let want = PortRule {
            source_port: 443,
            protocol: LbProtocol::Https,
            hostname: "*.example.com".into(),
            path: "/api".into(),
            priority: 2,
            target_service: "shop/api".into(),
            target_port: 8080,
            backend_name: "b1".into(),
        };
        assert_eq!(r, want);
        let d: PortRule = "80 -> web".parse().unwrap();
        assert_eq!(
            (d.protocol, d.target_port, d.hostname.as_str()),
            (LbProtocol::Http, 0, "")
        );
        let p = PortRule::parse("80 /static -> files:8000").unwrap();
        assert_eq!((p.hostname.as_str(), p.path.as_str()), ("", "/static"));
        for rule in [want, d, p, rule(5432, LbProtocol::Tcp, "db")] {
            assert_eq!(
                PortRule::parse(&rule.to_string()),
                Ok(rule.clone()),
                "{rule}"
            );
        }
        assert_eq!(
            PortRule::parse("80 web").unwrap_err(),
            format!("\"80 web\": no '->': use {PORT_RULE_FORM}")
        );
        for bad in [
            "x -> web",
            "80/udp -> web",
            "80 a b -> web",
            "80 -> web colour=red",
            "80 ->",
            "0 -> web",
            "80 -> web priority=-1",
        ] {
            assert!(PortRule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<PortRule>(r#"{"source_port":80,"prot":"tcp"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("prot"), "{err}");
        assert!(serde_json::from_str::<LbProtocol>(r#""udp""#).is_err());
    }
}
