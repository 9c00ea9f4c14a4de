//! Participants announce the cipher suite they accept (IEEE 802.1X-2020 11.12) and still secure.

use std::time::{Duration, Instant};

use macsec_dataplane::secy::{CipherSuite, Sci};
use rand::rngs::StdRng;

use super::*;

fn node(sci: Sci, suite: CipherSuite, seed: u64, now: Instant) -> Participant<StdRng> {
    super::tests::node(sci, 16, suite, seed, now)
}

#[test]
fn two_participants_exchanging_announcements_secure() {
    for suite in CipherSuite::ALL {
        let t0 = Instant::now();
        let mut nodes =
            [node(Sci(0x0200_0000_000a_0001), suite, 1, t0), node(Sci(0x0200_0000_000b_0001), suite, 2, t0)];
        let want = Announcement::supporting(suite, MACSEC_CAPABILITY);
        let (mut now, mut announced) = (t0, 0);
        for _ in 0..50 {
            now += Duration::from_millis(100);
            for p in nodes.iter_mut().filter(|p| p.poll_timeout() <= now) {
                p.handle_timeout(now);
            }
            for _ in 0..20 {
                let mut frames = Vec::new();
                for (i, p) in nodes.iter_mut().enumerate() {
                    while let Some(f) = p.poll_transmit() {
                        frames.push((i, f));
                    }
                }
                if frames.is_empty() {
                    break;
                }
                for (from, f) in frames {
                    let m = Mkpdu::parse(&f).unwrap().mkpdu;
                    assert_eq!(m.announcement.as_ref(), Some(&want), "{suite}");
                    assert_eq!(
                        m.announcement.unwrap().cipher_suites().map(|c| c.cipher_suite).collect::<Vec<_>>(),
                        [suite.id()]
                    );
                    announced += 1;
                    let _ = nodes[1 - from].handle_mkpdu(now, &f);
                }
                for p in nodes.iter_mut() {
                    while p.poll_dataplane_command().is_some() {}
                }
            }
        }
        assert!(announced > 4, "{suite}: {announced} MKPDUs");
        for p in &nodes {
            assert!(p.is_secured(), "{suite}: {:?}", p.status());
            assert_eq!(p.status().stats.validation_errors, 0, "{suite}");
            assert_eq!(p.status().stats.sak_cipher_mismatch, 0, "{suite}");
        }
    }
}
