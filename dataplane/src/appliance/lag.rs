//! Link aggregation over MACsec: every member of a LAG is its own SecY (own SCI, SAKs, PNs and
//! MKA session, as IEEE 802.1AE-2018 11.7 puts a SecY below the aggregator, one per port). What
//! the LAG adds is the choice of member for each frame from the host port: a flow hash over the
//! frame's addresses and ports, so one flow stays in order on one member, and a set of usable
//! members the service lcore keeps up to date, so a member that goes down or loses its keys
//! gives its flows to the others without moving theirs.
//!
//! No allocation, lock or syscall: the workers call [`pick`] per frame with a mask they read once
//! per burst.

use std::sync::atomic::{AtomicU64, Ordering};

/// The most members a LAG may have (AWS Direct Connect allows 4 per LAG; a bit mask holds 64).
pub const MAX_MEMBERS: usize = 8;

const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_SCTP: u8 = 132;

/// Which members of one LAG may carry traffic, shared by the service lcore (writer) and the
/// protect workers (readers).
#[derive(Debug)]
pub struct LagState {
    members: usize,
    usable: AtomicU64,
}

impl LagState {
    /// A LAG of `members` members, all usable until the service lcore learns otherwise.
    pub fn new(members: usize) -> Self {
        let members = members.clamp(1, MAX_MEMBERS);
        LagState { members, usable: AtomicU64::new(all(members)) }
    }

    pub fn members(&self) -> usize {
        self.members
    }

    /// The usable mask, read once per burst. Relaxed: a burst that still sees the old mask sends
    /// a few frames on the old choice, which is what happens on any LAG while a link fails.
    pub fn usable(&self) -> u64 {
        self.usable.load(Ordering::Relaxed)
    }

    /// Publishes a new mask; returns whether it changed.
    pub fn set_usable(&self, mask: u64) -> bool {
        self.usable.swap(mask & all(self.members), Ordering::Relaxed) != mask & all(self.members)
    }
}

fn all(members: usize) -> u64 {
    (1u64 << members.min(63)) - 1
}

/// The state of a member as the service lcore sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberState {
    pub link_up: bool,
    /// A Tx SA is installed (MKA secured the member, or static keys).
    pub secured: bool,
}

/// The members that should carry traffic: those with link and keys; while none has keys (MKA
/// still coming up, or `should_encrypt` in clear), those with link; while none has link, none.
pub fn usable_mask(members: &[MemberState]) -> u64 {
    let mask = |f: &dyn Fn(&MemberState) -> bool| {
        members.iter().enumerate().take(MAX_MEMBERS).filter(|(_, m)| f(m)).fold(0u64, |a, (i, _)| a | 1 << i)
    };
    let secured = mask(&|m| m.link_up && m.secured);
    if secured != 0 {
        return secured;
    }
    mask(&|m| m.link_up)
}

/// The member for a frame with flow hash `hash`: its home member (`hash mod members`) while that
/// one is usable, so the flows of healthy members never move; otherwise one of the usable
/// members, chosen by other bits of the hash. With no usable member, the home member (the frame
/// is then dropped and counted there, or sent clear under `should_encrypt`).
pub fn pick(hash: u32, members: usize, usable: u64) -> usize {
    let members = members.clamp(1, MAX_MEMBERS);
    let home = hash as usize % members;
    if usable & (1 << home) != 0 || usable == 0 {
        return home;
    }
    let k = usable.count_ones();
    let mut nth = (hash >> 16) % k;
    let mut bits = usable;
    loop {
        let m = bits.trailing_zeros() as usize;
        if nth == 0 {
            return m;
        }
        nth -= 1;
        bits &= bits - 1;
    }
}

/// A hash of the frame's flow: IP addresses, protocol and TCP/UDP/SCTP ports for IPv4 and IPv6
/// (behind up to two VLAN tags), the MAC addresses and EtherType otherwise. Never panics; a
/// truncated header hashes what is there.
pub fn flow_hash(frame: &[u8]) -> u32 {
    let mut h = Hasher::default();
    let Some(mut ethertype) = be16(frame, 12) else {
        h.add(frame);
        return h.finish();
    };
    let mut l3 = 14;
    for _ in 0..2 {
        if ethertype != ETH_P_8021Q && ethertype != ETH_P_8021AD {
            break;
        }
        match be16(frame, l3 + 2) {
            Some(inner) => ethertype = inner,
            None => break,
        }
        l3 += 4;
    }
    let ip = match ethertype {
        ETH_P_IPV4 => ipv4_tuple(frame, l3, &mut h),
        ETH_P_IPV6 => ipv6_tuple(frame, l3, &mut h),
        _ => false,
    };
    if !ip {
        h.add(frame.get(..12).unwrap_or(frame));
        h.add(&ethertype.to_be_bytes());
    }
    h.finish()
}

/// Adds addresses, protocol and ports of an IPv4 header at `off`; false when it is not there.
fn ipv4_tuple(frame: &[u8], off: usize, h: &mut Hasher) -> bool {
    let Some(hdr) = frame.get(off..off + 20) else { return false };
    let ihl = usize::from(hdr[0] & 0x0f) * 4;
    let proto = hdr[9];
    h.add(&hdr[12..20]);
    h.add(&[proto]);
    // RFC 791: only the first fragment (offset 0, MF may be set) carries the ports; later
    // fragments would hash elsewhere, so no fragment uses its ports.
    let fragment = u16::from_be_bytes([hdr[6], hdr[7]]) & 0x3fff != 0;
    if !fragment && ihl >= 20 {
        add_ports(frame, off + ihl, proto, h);
    }
    true
}

/// Adds addresses, next header and ports of an IPv6 header at `off` (no extension headers are
/// followed: their flows hash on addresses alone, still one member per flow).
fn ipv6_tuple(frame: &[u8], off: usize, h: &mut Hasher) -> bool {
    let Some(hdr) = frame.get(off..off + 40) else { return false };
    let next = hdr[6];
    h.add(&hdr[8..40]);
    h.add(&[next]);
    add_ports(frame, off + 40, next, h);
    true
}

fn add_ports(frame: &[u8], off: usize, proto: u8, h: &mut Hasher) {
    if matches!(proto, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP) {
        if let Some(ports) = frame.get(off..off + 4) {
            h.add(ports);
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// FNV-1a, then a final mix so that both the low bits (home member) and the high bits (fallback
/// member) depend on every input byte.
struct Hasher(u32);

impl Default for Hasher {
    fn default() -> Self {
        Hasher(0x811c_9dc5)
    }
}

impl Hasher {
    fn add(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u32::from(*b)).wrapping_mul(0x0100_0193);
        }
    }

    fn finish(&self) -> u32 {
        let mut x = self.0;
        x ^= x >> 16;
        x = x.wrapping_mul(0x7feb_352d);
        x ^= x >> 15;
        x = x.wrapping_mul(0x846c_a68b);
        x ^ (x >> 16)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn udp4(src_port: u16, vlan: bool) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        if vlan {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
        }
        f.extend_from_slice(&[0x08, 0x00]);
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[9] = IPPROTO_UDP;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&src_port.to_be_bytes());
        f.extend_from_slice(&5201u16.to_be_bytes());
        f.extend_from_slice(&[0u8; 20]);
        f
    }

    #[test]
    fn one_flow_one_hash_and_flows_spread() {
        assert_eq!(flow_hash(&udp4(40000, false)), flow_hash(&udp4(40000, false)));
        // The payload does not matter, the ports do.
        let mut other_payload = udp4(40000, false);
        *other_payload.last_mut().unwrap() = 9;
        assert_eq!(flow_hash(&udp4(40000, false)), flow_hash(&other_payload));
        assert_ne!(flow_hash(&udp4(40000, false)), flow_hash(&udp4(40001, false)));
        // The VLAN tag is skipped to find the IP header.
        assert_eq!(flow_hash(&udp4(40000, true)), flow_hash(&udp4(40000, false)));
        let mut per_member = [0u32; 2];
        for port in 40000..41000 {
            per_member[pick(flow_hash(&udp4(port, false)), 2, 0b11)] += 1;
        }
        assert!(per_member.iter().all(|&n| n > 400), "{per_member:?}");
    }

    #[test]
    fn later_fragments_hash_without_ports() {
        let mut a = udp4(1, false);
        let mut b = udp4(2, false);
        for f in [&mut a, &mut b] {
            f[14 + 6] = 0x00;
            f[14 + 7] = 0x10; // fragment offset 16
        }
        assert_eq!(flow_hash(&a), flow_hash(&b));
    }

    #[test]
    fn usable_prefers_secured_members_with_link() {
        let m = |link_up, secured| MemberState { link_up, secured };
        assert_eq!(usable_mask(&[m(true, true), m(true, false)]), 0b01);
        assert_eq!(usable_mask(&[m(true, false), m(true, false)]), 0b11);
        assert_eq!(usable_mask(&[m(false, true), m(true, false)]), 0b10);
        assert_eq!(usable_mask(&[m(false, true), m(false, false)]), 0);
        let lag = LagState::new(2);
        assert_eq!(lag.usable(), 0b11);
        assert!(lag.set_usable(0b01));
        assert!(!lag.set_usable(0b01));
        assert!(!lag.set_usable(0b1101), "bits beyond the members are ignored");
    }

    proptest! {
        /// Flows whose home member is usable never move; the others land on a usable member.
        #[test]
        fn healthy_flows_stay_where_they_are(hash: u32, members in 1usize..=MAX_MEMBERS, usable: u64) {
            let usable = usable & all(members);
            let m = pick(hash, members, usable);
            prop_assert!(m < members);
            let home = hash as usize % members;
            if usable & (1 << home) != 0 || usable == 0 {
                prop_assert_eq!(m, home);
            } else {
                prop_assert!(usable & (1 << m) != 0);
            }
        }

        #[test]
        fn flow_hash_never_panics(frame in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = flow_hash(&frame);
        }
    }
}
