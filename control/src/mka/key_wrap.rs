//! AES Key Wrap (RFC 3394, default IV) of a SAK under the KEK, for the Distributed SAK parameter
//! set (IEEE 802.1X-2020 9.8, 11.11.1).

use aes_kw::{KekAes128, KekAes256};
use dp::secy::Sak;
use macsec_dataplane as dp;
use zeroize::Zeroize;

use super::keys::Kek;

/// The wrapped form of a 16- or 32-octet key: 24 or 40 octets.
pub fn wrapped_len(key_len: usize) -> usize {
    key_len + 8
}

/// Wraps `sak` under `kek` into 24 or 40 octets.
pub fn wrap(kek: &Kek, sak: &Sak) -> Vec<u8> {
    let mut out = vec![0u8; wrapped_len(sak.len())];
    let done = match kek.len() {
        16 => KekAes128::try_from(kek.expose()).map(|k| k.wrap(sak.expose(), &mut out)),
        _ => KekAes256::try_from(kek.expose()).map(|k| k.wrap(sak.expose(), &mut out)),
    };
    // Key sizes are fixed by the types (KEK 16/32, SAK 16/32, out = SAK + 8): wrap cannot fail.
    debug_assert!(matches!(done, Ok(Ok(()))));
    out
}

/// Why a wrapped SAK was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnwrapError {
    /// Not 24 or 40 octets.
    Length(usize),
    /// The integrity check of RFC 3394 2.2.3 failed: another KEK, or corrupted.
    Integrity,
}

/// Unwraps a 24- or 40-octet wrapped SAK.
pub fn unwrap(kek: &Kek, wrapped: &[u8]) -> Result<Sak, UnwrapError> {
    if wrapped.len() != 24 && wrapped.len() != 40 {
        return Err(UnwrapError::Length(wrapped.len()));
    }
    let mut out = [0u8; 32];
    let len = wrapped.len() - 8;
    let done = match kek.len() {
        16 => KekAes128::try_from(kek.expose()).map(|k| k.unwrap(wrapped, &mut out[..len])),
        _ => KekAes256::try_from(kek.expose()).map(|k| k.unwrap(wrapped, &mut out[..len])),
    };
    let sak = match done {
        Ok(Ok(())) => Sak::from_slice(&out[..len]).map_err(|_| UnwrapError::Length(wrapped.len())),
        _ => Err(UnwrapError::Integrity),
    };
    out.zeroize();
    sak
}
