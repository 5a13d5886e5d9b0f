//! Names and addresses of a test bed, all derived from its root directory so
//! that two test beds on one machine (a test's and a user's, or a CI clone's)
//! never share a bridge, a namespace or a link.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::paths::fnv1a;

/// The most hosts one test bed has: host `i` is `10.213.X.(10+i)` and its
/// engine's bridge `172.31.i.1/24`.
pub const MAX_HOSTS: usize = 200;

/// The longest root: its unix sockets must fit `sun_path` (107 bytes and the
/// NUL). The longest is `<root>/h200/exec/containerd/containerd.sock.ttrpc`.
pub const MAX_ROOT_LEN: usize = 107 - "/h200/exec/containerd/containerd.sock.ttrpc".len();

/// The first two octets of every test bed subnet: `10.213.X.0/24`. The
/// private engine uses `172.30.X.0/24` and the hosts' engines `172.31.i.0/24`.
const SUBNET_PREFIX: [u8; 2] = [10, 213];

/// Interface and namespace names of one test bed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// 8 hex digits of the root's hash.
    tag: String,
    /// The subnet's third octet this root prefers (1 to 254).
    preferred: u8,
}

impl Names {
    pub fn for_root(root: &Path) -> Names {
        let hash = fnv1a(root.as_os_str().as_encoded_bytes());
        // Truncations: both values are reduced modulo their range first.
        let tag = format!("{:08x}", hash & 0xffff_ffff);
        let preferred = 1 + ((hash >> 32) % 254) as u8;
        Names { tag, preferred }
    }

    /// The bridge in the root namespace: `ctb-` and 8 hex digits (12 bytes,
    /// interface names have at most 15).
    pub fn bridge(&self) -> String {
        format!("ctb-{}", self.tag)
    }

    /// Host `i`'s network namespace: `ctb-<tag>-h<i>`.
    pub fn netns(&self, host: usize) -> String {
        format!("{}{host}", self.netns_prefix())
    }

    pub fn netns_prefix(&self) -> String {
        format!("ctb-{}-h", self.tag)
    }

    /// The root-namespace end of host `i`'s veth pair, a port of the bridge:
    /// `ctb<tag>h<i>` (at most 15 bytes for `i` up to 999).
    pub fn veth(&self, host: usize) -> String {
        format!("{}{host}", self.veth_prefix())
    }

    pub fn veth_prefix(&self) -> String {
        format!("ctb{}h", self.tag)
    }

    /// The third octet of the subnet tried first.
    pub fn preferred_subnet(&self) -> u8 {
        self.preferred
    }
}

/// `10.213.X.0/24`, by its third octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet(pub u8);

impl Subnet {
    /// The bridge's address, where the server listens: `10.213.X.1`.
    pub fn gateway(self) -> Ipv4Addr {
        self.address(1)
    }

    /// Host `i`'s address in its namespace: `10.213.X.(10+i)`.
    pub fn host(self, host: usize) -> Ipv4Addr {
        // Truncation: hosts are checked against MAX_HOSTS (10 + 200 < 255).
        self.address(10 + host.min(MAX_HOSTS) as u8)
    }

    fn address(self, last: u8) -> Ipv4Addr {
        Ipv4Addr::new(SUBNET_PREFIX[0], SUBNET_PREFIX[1], self.0, last)
    }

    /// `10.213.X.` for matching addresses in `ip addr` output.
    pub fn prefix(self) -> String {
        format!("{}.{}.{}.", SUBNET_PREFIX[0], SUBNET_PREFIX[1], self.0)
    }

    /// The candidates in the order they are tried, starting at `preferred`.
    pub fn candidates(preferred: u8) -> impl Iterator<Item = Subnet> {
        let start = u16::from(preferred.clamp(1, 254)) - 1;
        // Truncation: the value is below 254 after the modulo.
        (0..254u16).map(move |k| Subnet(1 + ((start + k) % 254) as u8))
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}0/24", self.prefix())
    }
}

impl std::str::FromStr for Subnet {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{text}` is not a 10.213.X.0/24 subnet");
        let rest = text
            .strip_prefix(&format!("{}.{}.", SUBNET_PREFIX[0], SUBNET_PREFIX[1]))
            .and_then(|r| r.strip_suffix(".0/24"))
            .ok_or_else(bad)?;
        rest.parse::<u8>().map(Subnet).map_err(|_| bad())
    }
}

/// The `--bip` of host `i`'s engine: `172.31.i.1/24`, its own per host so
/// that container addresses tell the hosts apart.
pub fn engine_bip(host: usize) -> String {
    format!("172.31.{}.1/24", host.min(MAX_HOSTS))
}

/// Files of one test bed under its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn state(&self) -> PathBuf {
        self.root.join("state")
    }
    pub fn images(&self) -> PathBuf {
        self.root.join("images.tar")
    }
    pub fn daemon_json(&self) -> PathBuf {
        self.root.join("daemon.json")
    }
    pub fn server_dir(&self) -> PathBuf {
        self.root.join("server")
    }
    pub fn server_log(&self) -> PathBuf {
        self.root.join("server.log")
    }
    pub fn server_pid(&self) -> PathBuf {
        self.root.join("server.pid")
    }
    pub fn host_dir(&self, host: usize) -> PathBuf {
        self.root.join(format!("h{host}"))
    }
    pub fn docker_socket(&self, host: usize) -> PathBuf {
        self.host_dir(host).join("docker.sock")
    }
    pub fn docker_pid(&self, host: usize) -> PathBuf {
        self.host_dir(host).join("docker.pid")
    }
    pub fn docker_log(&self, host: usize) -> PathBuf {
        self.host_dir(host).join("dockerd.log")
    }
    pub fn agent_pid(&self, host: usize) -> PathBuf {
        self.host_dir(host).join("agent.pid")
    }
    pub fn agent_log(&self, host: usize) -> PathBuf {
        self.host_dir(host).join("agent.log")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_the_interface_name_limit() {
        let names = Names::for_root(Path::new("/work/main/target/testbed/cluster"));
        assert!(names.bridge().len() <= 15, "{}", names.bridge());
        assert!(
            names.veth(MAX_HOSTS).len() <= 15,
            "{}",
            names.veth(MAX_HOSTS)
        );
        assert!(names.bridge().starts_with("ctb-"));
        assert!(names.netns(3).starts_with(&names.netns_prefix()));
        assert!(names.veth(12).starts_with(&names.veth_prefix()));
    }

    #[test]
    fn two_roots_get_different_names() {
        let a = Names::for_root(Path::new("/work/main/target/testbed/cluster"));
        let b = Names::for_root(Path::new("/work/main/target/testbed/test-faults"));
        assert_ne!(a.bridge(), b.bridge());
        assert_ne!(a.netns(1), b.netns(1));
        assert_ne!(a.veth(1), b.veth(1));
        assert_eq!(
            a,
            Names::for_root(Path::new("/work/main/target/testbed/cluster"))
        );
    }

    #[test]
    fn veth_and_netns_prefixes_never_match_another_host() {
        let names = Names::for_root(Path::new("/r"));
        // h1 is a prefix of h12 as a string; the code matches whole names.
        assert_ne!(names.veth(1), names.veth(12));
        assert!(!names.bridge().starts_with(&names.veth_prefix()));
    }

    #[test]
    fn subnet_addresses() {
        let subnet = Subnet(45);
        assert_eq!(subnet.gateway(), Ipv4Addr::new(10, 213, 45, 1));
        assert_eq!(subnet.host(1), Ipv4Addr::new(10, 213, 45, 11));
        assert_eq!(subnet.host(MAX_HOSTS), Ipv4Addr::new(10, 213, 45, 210));
        assert_eq!(subnet.to_string(), "10.213.45.0/24");
        assert_eq!("10.213.45.0/24".parse::<Subnet>(), Ok(subnet));
        assert!("10.213.300.0/24".parse::<Subnet>().is_err());
        assert!("172.30.1.0/24".parse::<Subnet>().is_err());
    }

    #[test]
    fn subnet_candidates_cover_1_to_254_once_from_the_preferred() {
        let all: Vec<u8> = Subnet::candidates(200).map(|s| s.0).collect();
        assert_eq!(all.len(), 254);
        assert_eq!(all[0], 200);
        assert_eq!(all[55], 1);
        let mut sorted = all.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, (1..=254).collect::<Vec<u8>>());
        for root in ["/a", "/b", "/work/main/target/testbed/cluster"] {
            let preferred = Names::for_root(Path::new(root)).preferred_subnet();
            assert!((1..=254).contains(&preferred));
        }
    }

    #[test]
    fn engine_bridges_differ_per_host_and_from_the_private_engine() {
        assert_eq!(engine_bip(1), "172.31.1.1/24");
        assert_ne!(engine_bip(1), engine_bip(2));
        assert!(!engine_bip(7).starts_with("172.30."));
    }

    #[test]
    fn the_longest_socket_of_the_longest_root_fits() {
        let root = PathBuf::from(format!("/{}", "r".repeat(MAX_ROOT_LEN - 1)));
        let layout = Layout { root };
        let socket = layout
            .host_dir(MAX_HOSTS)
            .join("exec/containerd/containerd.sock.ttrpc");
        assert!(socket.as_os_str().len() <= 107, "{}", socket.display());
    }
}
