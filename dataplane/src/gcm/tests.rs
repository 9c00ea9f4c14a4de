//! Differential tests of every path this CPU has against `ring`, `aws-lc-rs` and RustCrypto
//! `aes-gcm`, plus every 802.1AE vector of `dataplane/vectors` through every path.
#![forbid(unsafe_code)]

use std::sync::Arc;

use serde_json::Value;

use super::*;
use crate::secy::{An, CipherSuite, GcmBackend, Pn, RxVerdict, SaParams, Sak, Salt, Sci, Secy, SecyConfig, Ssci};

/// SplitMix64: deterministic, seedable, good enough to pick test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// One random GCM case with its expected output.
struct Case {
    key: usize,
    iv: [u8; 12],
    aad: Vec<u8>,
    plain: Vec<u8>,
    cipher: Vec<u8>,
    tag: [u8; 16],
}

fn ring_seal(key: &[u8], iv: &[u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
    use ring::aead;
    let alg = if key.len() == 16 { &aead::AES_128_GCM } else { &aead::AES_256_GCM };
    let k = aead::LessSafeKey::new(aead::UnboundKey::new(alg, key).unwrap());
    let tag =
        k.seal_in_place_separate_tag(aead::Nonce::assume_unique_for_key(*iv), aead::Aad::from(aad), data).unwrap();
    tag.as_ref().try_into().unwrap()
}

fn aws_lc_seal(key: &[u8], iv: &[u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
    use aws_lc_rs::aead;
    let alg = if key.len() == 16 { &aead::AES_128_GCM } else { &aead::AES_256_GCM };
    let k = aead::LessSafeKey::new(aead::UnboundKey::new(alg, key).unwrap());
    let tag =
        k.seal_in_place_separate_tag(aead::Nonce::assume_unique_for_key(*iv), aead::Aad::from(aad), data).unwrap();
    tag.as_ref().try_into().unwrap()
}

fn rustcrypto_seal(key: &[u8], iv: &[u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
    use aes_gcm::aead::AeadInPlace;
    use aes_gcm::KeyInit;
    let nonce = aes_gcm::Nonce::from_slice(iv);
    let tag = if key.len() == 16 {
        aes_gcm::Aes128Gcm::new_from_slice(key).unwrap().encrypt_in_place_detached(nonce, aad, data).unwrap()
    } else {
        aes_gcm::Aes256Gcm::new_from_slice(key).unwrap().encrypt_in_place_detached(nonce, aad, data).unwrap()
    };
    tag.into()
}

/// Cases for `lengths`, keys drawn from `keys`, expected values from ring and checked against
/// aws-lc-rs (every case) and RustCrypto (every third case).
fn cases(rng: &mut Rng, keys: &[Vec<u8>], lengths: impl Iterator<Item = usize>) -> Vec<Case> {
    lengths
        .enumerate()
        .map(|(i, len)| {
            let key = rng.below(keys.len());
            let iv: [u8; 12] = rng.bytes(12).try_into().unwrap();
            let aad_len = [0, 1, 15, 16, 20, 28, 32, 44, 80][rng.below(9)] + rng.below(2) * rng.below(100);
            let aad = rng.bytes(aad_len);
            let plain = rng.bytes(len);
            let mut cipher = plain.clone();
            let tag = ring_seal(&keys[key], &iv, &aad, &mut cipher);
            let mut other = plain.clone();
            assert_eq!(aws_lc_seal(&keys[key], &iv, &aad, &mut other), tag, "aws-lc-rs tag, len {len}");
            assert_eq!(other, cipher, "aws-lc-rs ciphertext, len {len}");
            if i % 3 == 0 {
                let mut other = plain.clone();
                assert_eq!(rustcrypto_seal(&keys[key], &iv, &aad, &mut other), tag, "aes-gcm tag, len {len}");
                assert_eq!(other, cipher, "aes-gcm ciphertext, len {len}");
            }
            Case { key, iv, aad, plain, cipher, tag }
        })
        .collect()
}

/// Random keys, both sizes.
fn keys(rng: &mut Rng) -> Vec<Vec<u8>> {
    (0..6).map(|i| rng.bytes(if i % 2 == 0 { 16 } else { 32 })).collect()
}

/// Seals and opens `cases` on `engine` in batches of random size (1..=64), checks ciphertext,
/// tag and plaintext, and that a flipped bit in the tag, the ciphertext or the AAD of some jobs
/// fails exactly those jobs.
fn check_engine(engine: Engine, rng: &mut Rng, keys: &[Vec<u8>], cases: &[Case]) {
    let path = engine.path();
    let schedules: Vec<GcmKeySchedule> = keys.iter().map(|k| GcmKeySchedule::new(k).unwrap()).collect();
    let mut start = 0;
    while start < cases.len() {
        let n = (1 + rng.below(64)).min(cases.len() - start);
        let batch = &cases[start..start + n];
        // Seal.
        let mut bufs: Vec<Vec<u8>> = batch.iter().map(|c| c.plain.clone()).collect();
        let mut tags: Vec<[u8; 16]> = vec![[0; 16]; batch.len()];
        let mut jobs: Vec<SealJob<'_>> = batch
            .iter()
            .zip(bufs.iter_mut())
            .zip(tags.iter_mut())
            .map(|((c, b), tag)| SealJob { key: &schedules[c.key], iv: c.iv, aad: &c.aad, data: b, tag })
            .collect();
        engine.seal_batch(&mut jobs);
        drop(jobs);
        for ((c, b), t) in batch.iter().zip(&bufs).zip(&tags) {
            let what = format!("{path:?} seal len {} aad {} key {}", c.plain.len(), c.aad.len(), keys[c.key].len());
            assert_eq!(hex::encode(b), hex::encode(&c.cipher), "{what}: ciphertext");
            assert_eq!(hex::encode(t), hex::encode(c.tag), "{what}: tag");
        }
        // Open, with some jobs tampered.
        let tamper: Vec<u8> =
            batch.iter().map(|_| if rng.below(4) == 0 { 1 + rng.below(3) as u8 } else { 0 }).collect();
        let mut aads: Vec<Vec<u8>> = batch.iter().map(|c| c.aad.clone()).collect();
        let mut bufs: Vec<Vec<u8>> = batch.iter().map(|c| c.cipher.clone()).collect();
        let mut given: Vec<[u8; 16]> = batch.iter().map(|c| c.tag).collect();
        for (i, t) in tamper.iter().enumerate() {
            match t {
                0 => {}
                1 => given[i][rng.below(16)] ^= 1 << rng.below(8),
                2 if !bufs[i].is_empty() => {
                    let at = rng.below(bufs[i].len());
                    bufs[i][at] ^= 1 << rng.below(8);
                }
                3 if !aads[i].is_empty() => {
                    let at = rng.below(aads[i].len());
                    aads[i][at] ^= 1 << rng.below(8);
                }
                _ => given[i][15] ^= 0x80,
            }
        }
        let mut jobs: Vec<OpenJob<'_>> = batch
            .iter()
            .zip(bufs.iter_mut())
            .zip(&aads)
            .zip(&given)
            .map(|(((c, b), a), tag)| OpenJob { key: &schedules[c.key], iv: c.iv, aad: a, data: b, tag, ok: false })
            .collect();
        engine.open_batch(&mut jobs);
        let oks: Vec<bool> = jobs.iter().map(|j| j.ok).collect();
        drop(jobs);
        for (i, c) in batch.iter().enumerate() {
            let what = format!("{path:?} open len {} aad {}", c.plain.len(), c.aad.len());
            assert_eq!(oks[i], tamper[i] == 0, "{what}: tamper {}", tamper[i]);
            if tamper[i] == 0 {
                assert_eq!(hex::encode(&bufs[i]), hex::encode(&c.plain), "{what}: plaintext");
            }
        }
        start += n;
    }
}

#[test]
fn every_path_every_length_to_300() {
    let mut rng = Rng(1);
    let keys = keys(&mut rng);
    let cases = cases(&mut rng, &keys, (0..=300).chain(0..=300));
    for path in Engine::available() {
        check_engine(Engine::with_path(path).unwrap(), &mut rng, &keys, &cases);
    }
}

#[test]
fn every_path_random_lengths_to_9216() {
    let mut rng = Rng(2);
    let keys = keys(&mut rng);
    let mut lengths: Vec<usize> = (0..40).map(|_| 301 + rng.below(9216 - 300)).collect();
    lengths.extend([511, 512, 513, 1500, 1518, 4096, 9000, 9216]);
    let cases = cases(&mut rng, &keys, lengths.into_iter());
    for path in Engine::available() {
        check_engine(Engine::with_path(path).unwrap(), &mut rng, &keys, &cases);
    }
}

#[test]
fn every_path_every_tail_after_whole_batches() {
    // Every tail length after one and after two 512-octet batches (VAES-512), and so after one to
    // four 256-octet batches (VAES-256): tails long enough to take the stitched loop's last step
    // and those that do not, around both of its limits.
    let mut rng = Rng(5);
    let keys = keys(&mut rng);
    let cases = cases(&mut rng, &keys, (256..=1024).chain((1024 + 240..=1024 + 512).step_by(3)));
    for path in Engine::available() {
        check_engine(Engine::with_path(path).unwrap(), &mut rng, &keys, &cases);
    }
}

#[test]
fn every_path_frames_that_are_their_own_tail_mixed_with_others() {
    // VAES-512 seals and opens a frame of 288..=496 octets as one stitched step (seal leaves its
    // GHASH to the next frame's first step), VAES-256 opens one of 160..=255 octets so; VAES-512
    // takes a short tail into the last batch's step (open from 512 octets, seal 513..=767 in a
    // pass of their own): mixed in random order with small frames (CTR across frames), frames of
    // whole batches and tails, and the sizes at the limits.
    let mut rng = Rng(6);
    let keys = keys(&mut rng);
    let sizes = [
        0, 64, 159, 160, 200, 255, 256, 287, 288, 289, 300, 400, 495, 496, 497, 511, 512, 513, 594, 640, 641, 700, 767,
        768, 1518,
    ];
    let lens: Vec<usize> = (0..400).map(|_| sizes[rng.below(sizes.len())]).collect();
    let cases = cases(&mut rng, &keys, lens.into_iter());
    for path in Engine::available() {
        check_engine(Engine::with_path(path).unwrap(), &mut rng, &keys, &cases);
    }
}

/// Cases for every pair of an AAD length and a data length, random keys, IVs and contents.
fn grid(rng: &mut Rng, keys: &[Vec<u8>], aad_lens: &[usize], lens: &[usize]) -> Vec<Case> {
    let mut cases = Vec::new();
    for &aad_len in aad_lens {
        for &len in lens {
            let key = rng.below(keys.len());
            let iv: [u8; 12] = rng.bytes(12).try_into().unwrap();
            let (aad, plain) = (rng.bytes(aad_len), rng.bytes(len));
            let mut cipher = plain.clone();
            let tag = ring_seal(&keys[key], &iv, &aad, &mut cipher);
            cases.push(Case { key, iv, aad, plain, cipher, tag });
        }
    }
    cases
}

#[test]
fn every_path_long_aad() {
    // AAD of more than 32 blocks: its GHASH chunks do not end where the data's batches start.
    let mut rng = Rng(4);
    let keys = keys(&mut rng);
    let cases = grid(&mut rng, &keys, &[496, 511, 512, 513, 600, 1024, 2000], &[0, 15, 64, 511, 512, 513, 1500, 4096]);
    for path in Engine::available() {
        check_engine(Engine::with_path(path).unwrap(), &mut rng, &keys, &cases);
    }
}

#[test]
fn every_path_small_frame_bursts() {
    // Full bursts of MACsec-sized frames with SecTAG-sized AAD: the batching layouts.
    let mut rng = Rng(3);
    let keys = keys(&mut rng);
    let lengths: Vec<usize> = (0..64 * 6).map(|i| [0, 16, 46, 48, 64, 594, 1500][i % 7] + rng.below(2)).collect();
    let cases = cases(&mut rng, &keys, lengths.into_iter());
    for path in Engine::available() {
        check_engine(Engine::with_path(path).unwrap(), &mut rng, &keys, &cases);
    }
}

#[test]
fn available_paths_and_names() {
    let available = Engine::available();
    assert_eq!(available[0], Path::Portable);
    for p in &available {
        assert_eq!(Path::from_name(p.name()), Some(*p));
        assert_eq!(Engine::with_path(*p).unwrap().path(), *p);
    }
    assert_eq!(Engine::best().path(), *available.last().unwrap());
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("aes") && is_x86_feature_detected!("pclmulqdq") {
        assert!(available.contains(&Path::AesNi), "{available:?}");
    }
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("vaes") {
        assert!(available.contains(&Path::Vaes256), "{available:?}");
    }
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("vaes") {
        assert!(available.contains(&Path::Vaes512), "{available:?}");
    }
    // `Path::ALL` holds every variant, in its place (a new variant breaks this match first).
    for (i, p) in Path::ALL.into_iter().enumerate() {
        let at = match p {
            Path::Portable => 0,
            Path::AesNi => 1,
            Path::Vaes256 => 2,
            Path::Vaes512 => 3,
        };
        assert_eq!(at, i, "{p:?}");
        assert_eq!(Path::from_name(p.name()), Some(p));
        #[cfg(target_arch = "x86_64")]
        assert_eq!(p.features().is_empty(), p == Path::Portable, "{p:?}");
    }
    assert!(GcmKeySchedule::new(&[0; 24]).is_err());
    let k = GcmKeySchedule::new(&[0x55; 32]).unwrap();
    assert_eq!(format!("{k:?}"), "GcmKeySchedule(AES-256, redacted)");
}

// ---------------------------------------------------------------------------------------------
// The 802.1AE vectors (IEEE 802.1AE-2018 Annex C and DPDK's extras), through every path.

fn hex_field(v: &Value, name: &str) -> Option<Vec<u8>> {
    v.get(name)?.as_str().map(|s| hex::decode(s).unwrap())
}

fn vectors(file: &str) -> Vec<Value> {
    let path = format!("{}/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

/// A vector as raw GCM: AAD and Secure Data split out of the protected frame (the AAD layout of
/// `dataplane/vectors/README.md`: DA ‖ SA ‖ SecTAG, plus the User Data without E; clear tags are
/// not covered).
struct Raw {
    id: String,
    key: Vec<u8>,
    iv: [u8; 12],
    aad: Vec<u8>,
    secure: Vec<u8>,
    icv: [u8; 16],
    user_data: Vec<u8>,
    ok: bool,
}

fn raw_vectors() -> Vec<Raw> {
    let mut out = Vec::new();
    for v in vectors("secy-annex-c.json").into_iter().chain(vectors("secy-dpdk-edge.json")) {
        let check = v.get("check").and_then(Value::as_str).unwrap_or("gcm");
        if check != "gcm" && check != "gcm-fail" {
            continue;
        }
        let mut frame = hex_field(&v, "protected_frame").unwrap();
        let plain = hex_field(&v, "plaintext_frame").unwrap();
        let clear = v.get("clear_tag_len").and_then(Value::as_u64).unwrap_or(0) as usize;
        let tci = hex_field(&v, "tci_an").unwrap()[0];
        let sectag = if tci & 0x20 != 0 { 16 } else { 8 };
        // VLAN tags left in clear are not covered by the ICV (vectors README, `aad_note`).
        frame.drain(12..12 + clear);
        let (aad_end, icv_at) = (12 + sectag, frame.len() - 16);
        let confidentiality = tci & 0x08 != 0;
        let (aad, secure) = if confidentiality {
            (frame[..aad_end].to_vec(), frame[aad_end..icv_at].to_vec())
        } else {
            (frame[..icv_at].to_vec(), Vec::new())
        };
        out.push(Raw {
            id: v["id"].as_str().unwrap().to_owned(),
            key: hex_field(&v, "key").unwrap(),
            iv: hex_field(&v, "iv").unwrap().try_into().unwrap(),
            aad,
            user_data: if confidentiality { plain[12 + clear..].to_vec() } else { Vec::new() },
            secure,
            icv: frame[icv_at..].try_into().unwrap(),
            ok: check == "gcm",
        });
    }
    out
}

#[test]
fn every_path_every_secy_vector_as_raw_gcm() {
    let raws = raw_vectors();
    assert_eq!(raws.len(), 32 + 17);
    let keys: Vec<GcmKeySchedule> = raws.iter().map(|r| GcmKeySchedule::new(&r.key).unwrap()).collect();
    for path in Engine::available() {
        let engine = Engine::with_path(path).unwrap();
        // All vectors in one batch: mixed keys, suites and lengths.
        let mut bufs: Vec<Vec<u8>> = raws.iter().map(|r| r.secure.clone()).collect();
        let mut jobs: Vec<OpenJob<'_>> = raws
            .iter()
            .zip(&keys)
            .zip(bufs.iter_mut())
            .map(|((r, k), b)| OpenJob { key: k, iv: r.iv, aad: &r.aad, data: b, tag: &r.icv, ok: false })
            .collect();
        engine.open_batch(&mut jobs);
        let oks: Vec<bool> = jobs.iter().map(|j| j.ok).collect();
        drop(jobs);
        for ((r, ok), b) in raws.iter().zip(oks).zip(&bufs) {
            assert_eq!(ok, r.ok, "{path:?} {}", r.id);
            if r.ok {
                assert_eq!(hex::encode(b), hex::encode(&r.user_data), "{path:?} {}", r.id);
            }
        }
        for (r, k) in raws.iter().zip(&keys).filter(|(r, _)| r.ok) {
            let mut data = r.user_data.clone();
            let mut tag = [0; 16];
            engine.seal_batch(&mut [SealJob { key: k, iv: r.iv, aad: &r.aad, data: &mut data, tag: &mut tag }]);
            assert_eq!(tag, r.icv, "{path:?} {}", r.id);
            assert_eq!(data, r.secure, "{path:?} {}", r.id);
        }
    }
}

#[test]
fn every_path_validates_annex_c_through_the_secy() {
    for path in Engine::available() {
        let backend: Arc<dyn GcmBackend> = Arc::new(EngineBackend::new(Engine::with_path(path).unwrap()));
        for v in vectors("secy-annex-c.json") {
            let suite: CipherSuite = v["cipher_suite"].as_str().unwrap().parse().unwrap();
            let sci = Sci::from_bytes(hex_field(&v, "sci").unwrap().try_into().unwrap());
            let params = SaParams {
                an: An::new(v["an"].as_u64().unwrap() as u8).unwrap(),
                pn: Pn(v["pn"].as_u64().unwrap()),
                ssci: hex_field(&v, "ssci").map(|b| Ssci(u32::from_be_bytes(b.try_into().unwrap()))),
                salt: hex_field(&v, "salt").map(|b| Salt(b.try_into().unwrap())),
            };
            let mut rx = Secy::new(SecyConfig::new(suite), Sci(1), backend.clone());
            rx.add_rx_sc(sci);
            rx.install_rx_sa(sci, &Sak::from_slice(&hex_field(&v, "key").unwrap()).unwrap(), &params).unwrap();
            let mut frame = hex_field(&v, "protected_frame").unwrap();
            assert_eq!(rx.validate(&mut frame), RxVerdict::Ok, "{path:?} {}", v["id"]);
            assert_eq!(frame, hex_field(&v, "plaintext_frame").unwrap(), "{path:?} {}", v["id"]);
        }
    }
}

/// `copy_short` copies exactly the slice at every length a partial block has (and beyond),
/// touching nothing around it.
#[test]
fn copy_short_copies_exactly_the_slice() {
    for n in 0..=48usize {
        let src: Vec<u8> = (0..n as u8).map(|b| b.wrapping_mul(37).wrapping_add(1)).collect();
        let mut buf = [0xeeu8; 64];
        super::copy_short(&mut buf[5..5 + n], &src);
        assert_eq!(&buf[5..5 + n], &src[..], "n {n}");
        assert!(buf[..5].iter().chain(&buf[5 + n..]).all(|&b| b == 0xee), "n {n}: wrote outside");
    }
    let mut short = [0u8; 3];
    super::copy_short(&mut short, &[1, 2, 3, 4]);
    assert_eq!(short, [0; 3], "different lengths copy nothing");
}

/// `tags_equal` is equality, whichever octet differs and however.
#[test]
fn tags_equal_is_equality_on_every_octet() {
    let a: [u8; 16] = std::array::from_fn(|i| (i as u8).wrapping_mul(29).wrapping_add(3));
    assert!(super::tags_equal(&a, &a));
    for i in 0..16 {
        for bit in 0..8 {
            let mut b = a;
            b[i] ^= 1 << bit;
            assert!(!super::tags_equal(&a, &b), "octet {i} bit {bit}");
        }
    }
    assert!(!super::tags_equal(&[0; 16], &[0xff; 16]));
}

/// Around the GHASH chunk and register boundaries of small frames: every AAD length up to four
/// blocks with data that ends in each lane of the first registers, and data that fills a chunk
/// to its last block or one past it.
#[test]
fn every_path_small_frame_ghash_boundaries() {
    let mut rng = Rng(6);
    let keys = keys(&mut rng);
    let aad_lens: Vec<usize> = (0..=64).collect();
    let lens: Vec<usize> =
        (0..=72).step_by(3).chain([16 * 29 - 1, 16 * 29, 16 * 29 + 1, 16 * 30, 16 * 31 + 1]).collect();
    let cases = grid(&mut rng, &keys, &aad_lens, &lens);
    for path in Engine::available() {
        check_engine(Engine::with_path(path).unwrap(), &mut rng, &keys, &cases);
    }
}
