//! Who the server answers, and how much forwarding one client may cause.
//!
//! - [`ClientRanges`]: the server answers (its own names and forwarded
//!   ones) only clients whose source address is inside the environment's
//!   range; every other client gets REFUSED.
//! - [`ForwardSlots`]: at most [`MAX_FORWARDS_PER_CLIENT`] forwarded
//!   queries in flight per source address; beyond that, SERVFAIL at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use corral_types::Ipv4Cidr;

/// Forwarded queries one source address may have in flight at once (UDP
/// and TCP together). A resolver library asks a handful of names at a
/// time; 64 leaves room for a busy container while one client cannot take
/// all of [`crate::MAX_FORWARDS`].
pub const MAX_FORWARDS_PER_CLIENT: usize = 64;

/// The source ranges the server answers.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientRanges {
    ranges: Vec<Ipv4Cidr>,
}

impl ClientRanges {
    pub(crate) fn new(ranges: Vec<Ipv4Cidr>) -> ClientRanges {
        ClientRanges { ranges }
    }

    /// True when `client` (already canonical: an IPv4-mapped IPv6 address
    /// is its IPv4 address) is inside one of the ranges. IPv6 clients are
    /// never inside: the managed network is IPv4.
    pub(crate) fn allows(&self, client: IpAddr) -> bool {
        match client {
            IpAddr::V4(v4) => self.ranges.iter().any(|r| r.contains(v4)),
            IpAddr::V6(_) => false,
        }
    }
}

/// The number of forwards in flight per source address.
#[derive(Debug)]
pub(crate) struct ForwardSlots {
    max: usize,
    in_flight: Mutex<HashMap<IpAddr, usize>>,
}

/// One forward in flight for a client; the slot is given back on drop.
#[derive(Debug)]
pub(crate) struct ForwardSlot {
    slots: Arc<ForwardSlots>,
    client: IpAddr,
}

impl ForwardSlots {
    pub(crate) fn new(max: usize) -> Arc<ForwardSlots> {
        Arc::new(ForwardSlots {
            max,
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for `client`, or `None` when it already has `max` forwards in
    /// flight.
    pub(crate) fn try_take(self: &Arc<Self>, client: IpAddr) -> Option<ForwardSlot> {
        // A poisoned lock still holds consistent counts (each update is a
        // single statement).
        if self.max == 0 {
            return None;
        }
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let count = in_flight.entry(client).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(ForwardSlot {
            slots: Arc::clone(self),
            client,
        })
    }

    /// How many forwards `client` has in flight.
    #[cfg(test)]
    pub(crate) fn in_flight(&self, client: IpAddr) -> usize {
        let in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        in_flight.get(&client).copied().unwrap_or(0)
    }

    #[cfg(test)]
    pub(crate) fn clients(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

impl Drop for ForwardSlot {
    fn drop(&mut self) {
        let mut in_flight = self
            .slots
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = in_flight.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                // No entry stays behind for a client with nothing in
                // flight, so the map is as large as the busy clients.
                in_flight.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_addresses_inside_the_ranges_are_allowed() {
        let ranges = ClientRanges::new(vec!["10.42.0.0/16".parse().unwrap()]);
        assert!(ranges.allows(ip("10.42.0.1")));
        assert!(ranges.allows(ip("10.42.255.254")));
        assert!(!ranges.allows(ip("10.43.0.1")));
        assert!(!ranges.allows(ip("127.0.0.1")));
        assert!(!ranges.allows(ip("fd00::1")));
    }

    #[test]
    fn no_range_allows_nobody() {
        let ranges = ClientRanges::default();
        assert!(!ranges.allows(ip("10.42.0.1")));
        assert!(!ranges.allows(ip("127.0.0.1")));
    }

    #[test]
    fn a_client_gets_at_most_max_slots_and_others_are_not_affected() {
        let slots = ForwardSlots::new(2);
        let a = ip("10.42.0.1");
        let b = ip("10.42.0.2");
        let first = slots.try_take(a).unwrap();
        let _second = slots.try_take(a).unwrap();
        assert!(slots.try_take(a).is_none(), "third slot for a");
        let _other = slots.try_take(b).expect("b has its own slots");
        drop(first);
        assert_eq!(slots.in_flight(a), 1);
        assert!(slots.try_take(a).is_some(), "a slot came back");
    }

    #[test]
    fn clients_with_nothing_in_flight_leave_no_entry() {
        let slots = ForwardSlots::new(4);
        let taken: Vec<_> = (1..=3)
            .filter_map(|n| slots.try_take(ip(&format!("10.42.0.{n}"))))
            .collect();
        assert_eq!(slots.clients(), 3);
        drop(taken);
        assert_eq!(slots.clients(), 0);
    }
}
