//! The MKA key derivation function and what MKA derives with it: ICK, KEK and SAK.
//!
//! IEEE 802.1X-2020 6.2.1: KDF(Key, Label, Context, L) is AES-CMAC in counter mode (the NIST SP
//! 800-108 construction): output block i = AES-CMAC(Key, i || Label || 0x00 || Context || L), with
//! i a one-octet counter from 1 and L the output length in bits as two octets. AES-128-CMAC for a
//! 128-bit key, AES-256-CMAC for a 256-bit key (AWS uses 256-bit CAKs).

use cmac::{Cmac, Mac};
use dp::secy::Sak;
use macsec_dataplane as dp;
use zeroize::Zeroize;

use super::keys::{Cak, Ckn, Ick, Kek};

/// AES-CMAC (RFC 4493, NIST SP 800-38B) over the concatenation of `parts`, with a 16- or 32-octet
/// key. Returns `None` for any other key length.
pub fn aes_cmac(key: &[u8], parts: &[&[u8]]) -> Option<[u8; 16]> {
    fn run<M: Mac + cmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Option<[u8; 16]> {
        let mut mac = <M as cmac::digest::KeyInit>::new_from_slice(key).ok()?;
        for part in parts {
            mac.update(part);
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&mac.finalize().into_bytes()[..16]);
        Some(out)
    }
    match key.len() {
        16 => run::<Cmac<aes::Aes128>>(key, parts),
        32 => run::<Cmac<aes::Aes256>>(key, parts),
        _ => None,
    }
}

/// Fills `out` (16 or 32 octets, or up to 255 blocks in general) with KDF(key, label, context,
/// 8 * out.len()). Returns `None` for a key that is not 16 or 32 octets.
pub fn kdf(key: &[u8], label: &[u8], context: &[u8], out: &mut [u8]) -> Option<()> {
    let bits = u16::try_from(out.len() * 8).ok()?;
    for (i, chunk) in out.chunks_mut(16).enumerate() {
        let counter = [u8::try_from(i + 1).ok()?];
        let mut block = aes_cmac(key, &[&counter, label, &[0x00], context, &bits.to_be_bytes()])?;
        chunk.copy_from_slice(&block[..chunk.len()]);
        block.zeroize();
    }
    Some(())
}

fn derive(cak: &Cak, label: &[u8], context: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let len = cak.len();
    // The CAK is 16 or 32 octets by construction, so kdf cannot fail.
    let _ = kdf(cak.expose(), label, context, &mut out[..len]);
    out
}

/// ICK = KDF(CAK, "IEEE8021 ICK", Keyid, CAK length) (IEEE 802.1X-2020 9.3.3).
pub fn derive_ick(cak: &Cak, ckn: &Ckn) -> Ick {
    let mut out = derive(cak, b"IEEE8021 ICK", &ckn.key_id());
    let ick = Ick::from_slice(&out[..cak.len()]);
    out.zeroize();
    ick.unwrap_or_else(|_| unreachable!("the ICK has the CAK's length, 16 or 32"))
}

/// KEK = KDF(CAK, "IEEE8021 KEK", Keyid, CAK length) (IEEE 802.1X-2020 9.3.3).
pub fn derive_kek(cak: &Cak, ckn: &Ckn) -> Kek {
    let mut out = derive(cak, b"IEEE8021 KEK", &ckn.key_id());
    let kek = Kek::from_slice(&out[..cak.len()]);
    out.zeroize();
    kek.unwrap_or_else(|_| unreachable!("the KEK has the CAK's length, 16 or 32"))
}

/// SAK = KDF(CAK, "IEEE8021 SAK", KS-nonce | MI-value list | KN, SAK length)
/// (IEEE 802.1X-2020 9.8.1). `sak_len` is 16 or 32 (the cipher suite's key length); the
/// KS-nonce has that length too and comes from the caller's CSPRNG.
pub fn derive_sak(cak: &Cak, ks_nonce: &[u8], mi_list: &[[u8; 12]], kn: u32, sak_len: usize) -> Option<Sak> {
    if sak_len != 16 && sak_len != 32 {
        return None;
    }
    let mut context = Vec::with_capacity(ks_nonce.len() + 12 * mi_list.len() + 4);
    context.extend_from_slice(ks_nonce);
    for mi in mi_list {
        context.extend_from_slice(mi);
    }
    context.extend_from_slice(&kn.to_be_bytes());
    let mut out = [0u8; 32];
    let ok = kdf(cak.expose(), b"IEEE8021 SAK", &context, &mut out[..sak_len]);
    let sak = ok.and_then(|()| Sak::from_slice(&out[..sak_len]).ok());
    out.zeroize();
    context.zeroize();
    sak
}
