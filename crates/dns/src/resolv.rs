//! The host's resolvers, read from a resolv.conf.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// The DNS port.
const DNS_PORT: u16 = 53;

/// The `nameserver` addresses of the resolv.conf at `path`, on port 53, in
/// file order, without the addresses in `skip` (the server's own listen
/// addresses: forwarding to itself would loop). A listen address on the
/// unspecified address (`0.0.0.0:53`) also skips loopback resolvers on its
/// port. A file that cannot be read gives no resolver.
pub fn host_resolvers(path: &Path, skip: &[SocketAddr]) -> Vec<SocketAddr> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_resolv_conf(&text, skip),
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "cannot read resolv.conf: no upstream resolver");
            Vec::new()
        }
    }
}

/// [`host_resolvers`] on the text of a resolv.conf.
pub fn parse_resolv_conf(text: &str, skip: &[SocketAddr]) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(word) = words.next() else { continue };
        // A link-local IPv6 address with a zone (`fe80::1%eth0`) is
        // skipped: the zone cannot be kept portably.
        let Ok(ip) = word.parse::<IpAddr>() else {
            continue;
        };
        let addr = SocketAddr::new(ip, DNS_PORT);
        if !is_own(addr, skip) && !out.contains(&addr) {
            out.push(addr);
        }
    }
    out
}

fn is_own(addr: SocketAddr, skip: &[SocketAddr]) -> bool {
    skip.iter().any(|own| {
        *own == addr
            || (own.port() == addr.port() && own.ip().is_unspecified() && addr.ip().is_loopback())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn nameservers_are_read_in_order_on_port_53_ignoring_everything_else() {
        let text = "# generated\nsearch example.com\nnameserver 10.0.0.2\n\
                    options ndots:5\nnameserver 2001:db8::53\nnameserver   8.8.8.8  # x\n\
                    nameserver fe80::1%eth0\nnameserver bogus\nnameserver\n";
        assert_eq!(
            parse_resolv_conf(text, &[]),
            [
                addr("10.0.0.2:53"),
                addr("[2001:db8::53]:53"),
                addr("8.8.8.8:53")
            ]
        );
    }

    #[test]
    fn the_servers_own_addresses_are_never_upstream() {
        let text = "nameserver 10.42.0.1\nnameserver 127.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.2\n";
        assert_eq!(
            parse_resolv_conf(text, &[addr("10.42.0.1:53")]),
            [addr("127.0.0.1:53"), addr("10.0.0.2:53")]
        );
        assert_eq!(
            parse_resolv_conf(text, &[addr("0.0.0.0:53")]),
            [addr("10.42.0.1:53"), addr("10.0.0.2:53")]
        );
    }

    #[test]
    fn an_unreadable_file_gives_no_resolver() {
        assert!(host_resolvers(Path::new("/nonexistent/resolv.conf"), &[]).is_empty());
    }
}
