//! The safe DPDK layer end to end: EAL with `--no-huge`, two ethdevs whose rings are crossed
//! like a wire, 10,000 frames of varied length sent on one port and received intact and in
//! order on the other, and every mbuf back in its pool afterwards.
//!
//! Its own test binary, so its own process and its own EAL (EAL initialises once per process).

use std::time::{Duration, Instant};

use macsec_dataplane::dpdk::{Eal, Mbuf, MbufBurst, Mempool, Port, Ring, BURST};
use macsec_dataplane::secy::FrameBuf;

const FRAMES: u32 = 10_000;

/// Frame `seq`: broadcast DA, a local SA, EtherType 0x88b5 (local experimental), the sequence
/// number, then a pattern derived from it; 60..1514 octets.
fn frame(seq: u32) -> Vec<u8> {
    let len = 60 + (seq as usize * 97) % (1514 - 60 + 1);
    let mut f = vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5];
    f.extend(seq.to_be_bytes());
    f.extend((f.len()..len).map(|i| (i as u32 ^ seq.wrapping_mul(2_654_435_761)) as u8));
    f
}

/// `Mbuf`'s own prepend/append/adj/trim (the SecY's SecTAG and ICV room) keep data_off,
/// data_len and pkt_len as DPDK's inline functions do, refuse what does not fit and change
/// nothing then.
#[allow(clippy::expect_used)] // a test helper: a failed expectation fails the test
fn grows_and_shrinks_like_dpdk(pool: &Mempool) {
    let f = frame(1);
    let mut m: Mbuf = pool.alloc().expect("pool has mbufs");
    m.fill(&f).expect("frame fits an mbuf");
    let start = m.data().as_ptr() as usize;
    m.prepend(16).expect("headroom");
    m.append(16).expect("tailroom");
    assert_eq!(m.data().as_ptr() as usize, start - 16);
    assert_eq!((m.data().len(), m.pkt_len() as usize), (f.len() + 32, f.len() + 32));
    assert_eq!(&m.data()[16..16 + f.len()], &f[..]);
    m.trim_front(16);
    m.trim_back(16);
    assert_eq!((m.data(), m.pkt_len() as usize), (&f[..], f.len()));
    assert_eq!(m.data().as_ptr() as usize, start);
    // Exhaust the headroom and the tailroom one octet at a time: a refusal changes nothing.
    let headroom = (0..).take_while(|_| m.prepend(1).is_ok()).count();
    let tailroom = (0..).take_while(|_| m.append(1).is_ok()).count();
    assert!(headroom >= 16 && tailroom >= 16);
    let len = m.data().len();
    assert_eq!(len, f.len() + headroom + tailroom);
    assert!(m.prepend(1).is_err() && m.append(1).is_err() && m.prepend(usize::MAX).is_err());
    assert_eq!((m.data().len(), m.pkt_len() as usize), (len, len));
    m.trim_front(headroom);
    m.trim_back(len); // more than is left: trims to empty, as far as it goes
    assert_eq!((m.data().len(), m.pkt_len()), (0, 0));
    drop(m);
}

#[test]
fn ten_thousand_frames_over_a_ring_wire() {
    let prefix = format!("dpring{}", std::process::id());
    let args = [
        "dpdk-ring-test",
        "-l",
        "0",
        "--no-pci",
        "--no-huge",
        "-m",
        "256",
        "--file-prefix",
        &prefix,
        "--log-level",
        "lib.eal:error",
    ];
    let eal = Eal::init(&args).expect("EAL init with --no-huge");
    assert!(Eal::init(&args).is_err(), "EAL initialises once per process");

    let pool = Mempool::new("ring_test_pool", 4095).expect("mempool");
    let a_to_b = Ring::new("wire_ab", 1024).expect("ring");
    let b_to_a = Ring::new("wire_ba", 1024).expect("ring");
    let a = Port::from_rings("wire_a", &b_to_a, &a_to_b).expect("port a");
    let b = Port::from_rings("wire_b", &a_to_b, &b_to_a).expect("port b");
    for p in [a, b] {
        p.configure(1, 1, 512, &pool).expect("configure");
        p.start().expect("start");
    }
    grows_and_shrinks_like_dpdk(&pool);
    let start_avail = pool.available();

    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut next_tx, mut next_rx) = (0u32, 0u32);
    let mut pending = MbufBurst::new();
    let mut rx = MbufBurst::new();
    while next_rx < FRAMES {
        assert!(Instant::now() < deadline, "timed out: sent {next_tx}, received {next_rx}");
        while !pending.is_full() && next_tx < FRAMES {
            let mut m: Mbuf = pool.alloc().expect("pool has mbufs");
            m.fill(&frame(next_tx)).expect("frame fits an mbuf");
            pending.push(m).expect("room in burst");
            next_tx += 1;
        }
        a.tx_burst(0, &mut pending); // unsent frames stay in `pending`, in order
        b.rx_burst(0, &mut rx);
        for m in rx.as_mut_slice().iter() {
            assert_eq!(m.data(), &frame(next_rx)[..], "frame {next_rx} arrived intact and in order");
            next_rx += 1;
        }
        rx.free_all();
    }
    assert!(pending.is_empty() && rx.len() <= BURST);
    let sa = a.stats().expect("stats");
    let sb = b.stats().expect("stats");
    assert_eq!((sa.opackets, sb.ipackets), (u64::from(FRAMES), u64::from(FRAMES)));
    assert_eq!(pool.available(), start_avail, "every mbuf freed exactly once");

    for p in [a, b] {
        p.stop().expect("stop");
        p.close().expect("close");
    }
    drop((a_to_b, b_to_a));
    eal.cleanup();
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
}
