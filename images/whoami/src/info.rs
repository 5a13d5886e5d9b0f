//! Who am I: the host name and the local addresses, read from files only.

use std::collections::BTreeSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `/etc/hostname`, else `$HOSTNAME`, else the kernel's host name, else `unknown`.
pub fn hostname() -> String {
    let from_file = |path: &str| {
        fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    from_file("/etc/hostname")
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .or_else(|| from_file("/proc/sys/kernel/hostname"))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Every local address: IPv4 from `/proc/net/fib_trie`, IPv6 from
/// `/proc/net/if_inet6`, each sorted. When neither gives anything (no /proc,
/// another OS), the address the connection was accepted on.
pub fn local_ips(accepted_on: IpAddr) -> Vec<IpAddr> {
    let v4 = fs::read_to_string("/proc/net/fib_trie")
        .map(|t| parse_fib_trie(&t))
        .unwrap_or_default();
    let v6 = fs::read_to_string("/proc/net/if_inet6")
        .map(|t| parse_if_inet6(&t))
        .unwrap_or_default();
    let ips: Vec<IpAddr> = v4
        .into_iter()
        .map(IpAddr::V4)
        .chain(v6.into_iter().map(IpAddr::V6))
        .collect();
    if ips.is_empty() {
        vec![accepted_on]
    } else {
        ips
    }
}

/// The local IPv4 addresses of a fib_trie dump: a leaf line `|-- A.B.C.D`
/// followed by a `/32 host LOCAL` line. Sorted, without duplicates (the
/// address shows in the Main and the Local table).
fn parse_fib_trie(text: &str) -> BTreeSet<Ipv4Addr> {
    let mut ips = BTreeSet::new();
    let mut leaf: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(addr) = line.strip_prefix("|-- ") {
            leaf = addr.trim().parse().ok();
        } else if line.starts_with('/') {
            let mut words = line.split_whitespace();
            let is_local = words.next() == Some("/32")
                && words.next() == Some("host")
                && words.next() == Some("LOCAL");
            if let (true, Some(addr)) = (is_local, leaf) {
                ips.insert(addr);
            }
        } else {
            leaf = None;
        }
    }
    ips
}

/// The addresses of `/proc/net/if_inet6`: 32 hex digits first on each line.
fn parse_if_inet6(text: &str) -> BTreeSet<Ipv6Addr> {
    text.lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|hex| hex.len() == 32)
        .filter_map(|hex| u128::from_str_radix(hex, 16).ok())
        .map(Ipv6Addr::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIB_TRIE: &str = "\
Main:
  +-- 0.0.0.0/0 3 0 4
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 10.1.0.0/24 2 0 2
           |-- 10.1.0.7
              /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 4
           |-- 127.0.0.1
              /32 host LOCAL
";

    #[test]
    fn fib_trie_gives_local_host_addresses_once() {
        let ips: Vec<String> = parse_fib_trie(FIB_TRIE)
            .iter()
            .map(|ip| ip.to_string())
            .collect();
        assert_eq!(ips, ["10.1.0.7", "127.0.0.1"]);
    }

    #[test]
    fn if_inet6_gives_every_address_and_skips_garbage() {
        let text = "\
00000000000000000000000000000001 01 80 10 80       lo
fe8000000000000000fc00fffe000001 04 40 20 80     eth0
not-hex 01
";
        let ips: Vec<String> = parse_if_inet6(text)
            .iter()
            .map(|ip| ip.to_string())
            .collect();
        assert_eq!(ips, ["::1", "fe80::fc:ff:fe00:1"]);
    }

    #[test]
    fn garbage_proc_files_parse_to_nothing() {
        assert!(parse_fib_trie("|-- not an ip\n/32 host LOCAL\n").is_empty());
        assert!(parse_if_inet6("").is_empty());
    }
}
