use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::validate::ValidationError;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnvironmentSpec {
    pub description: String,
    /// How the scheduler picks among feasible nodes.
    #[serde(skip_serializing_if = "is_default")]
    pub placement_strategy: PlacementStrategy,
    /// The address range of the environment's managed network (IPv4 CIDR,
    /// at most a /23); each node gets a /24 of it. Empty in a request: the
    /// server picks a free /16 (10.42.0.0/16, then 10.43.0.0/16, ...).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub network: String,
    /// A deactivated environment's agents keep running what they run, but
    /// nothing new is deployed, and it may then be removed.
    #[serde(skip_serializing_if = "is_default")]
    pub deactivated: bool,
    /// Whether members and owners may run containers with host access
    /// (privileged, capabilities, host network/pid/ipc/uts, host paths);
    /// unset means allowed. Restricted users never may.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_host_access: Option<bool>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl EnvironmentSpec {
    /// Checks the fields a user may set; an empty `network` is valid (the
    /// server fills it in).
    pub fn validate(&self) -> Result<(), ValidationError> {
        if !self.network.is_empty() {
            parse_env_range(&self.network)?;
        }
        Ok(())
    }
}

/// Parses and checks an environment's managed range: a network address
/// with a prefix from /8 to /23, not loopback, link-local, multicast or 0/8.
pub fn parse_env_range(text: &str) -> Result<Ipv4Cidr, ValidationError> {
    let bad = |m: String| ValidationError::new("spec.network", m);
    let cidr: Ipv4Cidr = text.parse().map_err(bad)?;
    if !(8..=23).contains(&cidr.prefix) {
        return Err(bad(format!(
            "{text:?}: the prefix must be from /8 to /23 (every node gets a /24 of it)"
        )));
    }
    if cidr.network() != cidr.addr {
        return Err(bad(format!(
            "{text:?} is not a network address; did you mean {}?",
            Ipv4Cidr {
                addr: cidr.network(),
                prefix: cidr.prefix
            }
        )));
    }
    let first = cidr.addr.octets()[0];
    if first == 0
        || cidr.addr.is_loopback()
        || cidr.addr.is_link_local()
        || cidr.addr.is_multicast()
        || first >= 224
    {
        return Err(bad(format!(
            "{text:?} is a reserved range (0/8, loopback, link-local, multicast)"
        )));
    }
    Ok(cidr)
}

/// The default range of the first environment's managed network.
pub const DEFAULT_ENV_NETWORK: &str = "10.42.0.0/16";

/// An IPv4 address with a prefix length, such as `10.42.3.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Cidr {
    /// The netmask as a number (`/24` -> `0xffffff00`).
    pub fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix.min(32)))
        }
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }

    /// True when the two ranges share an address.
    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.contains(other.network()) || other.contains(self.network())
    }

    /// How many /24 slices the range holds (0 for a /25 or longer).
    pub fn slice_count(&self) -> u32 {
        if self.prefix > 24 {
            0
        } else {
            1u32 << (24 - u32::from(self.prefix))
        }
    }

    /// The `index`th /24 of the range, if it holds that many.
    pub fn slice(&self, index: u32) -> Option<Ipv4Cidr> {
        (index < self.slice_count()).then(|| Ipv4Cidr {
            addr: Ipv4Addr::from(u32::from(self.network()) + (index << 8)),
            prefix: 24,
        })
    }

    /// The index of `slice` within this range, when it is one of its /24s.
    pub fn slice_index(&self, slice: &Ipv4Cidr) -> Option<u32> {
        (slice.prefix == 24 && slice.network() == slice.addr && self.contains(slice.addr))
            .then(|| (u32::from(slice.addr) - u32::from(self.network())) >> 8)
    }

    /// The address `n` past the network address (`.1` for `n = 1`).
    pub fn host(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network()).wrapping_add(n))
    }
}

impl FromStr for Ipv4Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not in CIDR form (such as 10.42.0.0/16)"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("{s:?}: {addr:?} is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("{s:?}: the prefix must be a number from 0 to 32"))?;
        Ok(Ipv4Cidr { addr, prefix })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Spread: the least loaded node first. Bin-pack: the fullest node that fits first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlacementStrategy {
    #[default]
    Spread,
    Binpack,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EnvironmentStatus {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_range_must_be_a_network_of_slash_8_to_slash_23() {
        assert!(parse_env_range("10.42.0.0/16").is_ok());
        assert!(parse_env_range("192.168.0.0/23").is_ok());
        for bad in [
            "10.42.0.0",
            "10.42.0.0/24",
            "10.42.0.1/16",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "224.0.0.0/8",
            "10.42.0.0/33",
            "x/16",
        ] {
            let err = parse_env_range(bad).unwrap_err();
            assert_eq!(err.field, "spec.network", "{bad}");
        }
    }

    #[test]
    fn slices_are_the_slash_24s_of_the_range() {
        let r: Ipv4Cidr = "10.42.0.0/16".parse().unwrap();
        assert_eq!(r.slice_count(), 256);
        assert_eq!(r.slice(3).unwrap().to_string(), "10.42.3.0/24");
        assert_eq!(r.slice(256), None);
        let s: Ipv4Cidr = "10.42.3.0/24".parse().unwrap();
        assert_eq!(r.slice_index(&s), Some(3));
        assert_eq!(s.host(1), Ipv4Addr::new(10, 42, 3, 1));
        let other: Ipv4Cidr = "10.43.0.0/16".parse().unwrap();
        assert!(!r.overlaps(&other));
        assert!(r.overlaps(&"10.0.0.0/8".parse().unwrap()));
        assert_eq!(other.slice_index(&s), None);
    }

    #[test]
    fn an_empty_network_is_not_serialized_and_unknown_fields_are_rejected() {
        let json = serde_json::to_string(&EnvironmentSpec::default()).unwrap();
        assert!(!json.contains("network"));
        assert!(serde_json::from_str::<EnvironmentSpec>(r#"{"netwrok":"x"}"#).is_err());
    }
}
