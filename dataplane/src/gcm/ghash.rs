//! GHASH arithmetic in software, in the POLYVAL representation every path of the engine uses.
//!
//! GHASH's bit order is reflected. Following RFC 8452 Appendix A, the engine computes
//! `GHASH(H, X1..Xn) = ByteReverse(POLYVAL(mulX_POLYVAL(ByteReverse(H)), ByteReverse(X1), ..))`:
//! a block read as a big-endian integer is its byte-reversed little-endian POLYVAL element, and
//! the POLYVAL product `a • b = a·b·x^-128 mod x^128 + x^127 + x^126 + x^121 + 1` maps onto
//! carry-less multiplication plus a two-step Montgomery reduction, the same on PCLMULQDQ and here.
//!
//! Constant time: the carry-less multiply uses integer multiplications on operands with holes
//! (every fourth bit), so no branch or memory index depends on secret data.
#![forbid(unsafe_code)]

/// The POLYVAL reduction constant: `x^127 + x^126 + x^121` in the high 64 bits (the `+ 1` is in
/// the low 64 bits of `0xc2000000000000000000000000000001`, implicit in the reduction below).
pub(super) const POLY_HI: u64 = 0xc200_0000_0000_0000;

/// A 16-octet GHASH block as a POLYVAL field element.
pub(super) fn from_block(b: &[u8; 16]) -> u128 {
    u128::from_be_bytes(*b)
}

/// A POLYVAL field element as a 16-octet GHASH block.
pub(super) fn to_block(v: u128) -> [u8; 16] {
    v.to_be_bytes()
}

/// Carry-less 32×32 → 64-bit multiply. Each of the four bit classes holds 8 bits, so a column
/// sums at most 8 ones and never carries into the next bit of its class.
fn clmul32(x: u32, y: u32) -> u64 {
    const M: [u64; 4] = [0x1111_1111, 0x2222_2222, 0x4444_4444, 0x8888_8888];
    let (x, y) = (u64::from(x), u64::from(y));
    let xs = [x & M[0], x & M[1], x & M[2], x & M[3]];
    let ys = [y & M[0], y & M[1], y & M[2], y & M[3]];
    let mut z = 0u64;
    for class in 0..4 {
        let mut acc = 0u64;
        for i in 0..4 {
            acc ^= xs[i].wrapping_mul(ys[(class + 4 - i) % 4]);
        }
        z |= acc & (0x1111_1111_1111_1111u64 << class);
    }
    z
}

/// Carry-less 64×64 → 128-bit multiply (Karatsuba over 32-bit halves).
pub(super) fn clmul64(x: u64, y: u64) -> u128 {
    let (x0, x1, y0, y1) = (x as u32, (x >> 32) as u32, y as u32, (y >> 32) as u32);
    let lo = clmul32(x0, y0);
    let hi = clmul32(x1, y1);
    let mid = clmul32(x0 ^ x1, y0 ^ y1) ^ lo ^ hi;
    u128::from(lo) ^ (u128::from(mid) << 32) ^ (u128::from(hi) << 64)
}

/// Montgomery reduction: `(hi·x^128 + lo)·x^-128 mod Q`, the same two folds as the SIMD paths.
pub(super) fn reduce(lo: u128, hi: u128) -> u128 {
    let t = clmul64(lo as u64, POLY_HI);
    let l = lo.rotate_left(64) ^ t;
    let t = clmul64(l as u64, POLY_HI);
    hi ^ l.rotate_left(64) ^ t
}

/// The 256-bit carry-less product of two field elements, as `(lo, hi)`.
pub(super) fn clmul128(a: u128, b: u128) -> (u128, u128) {
    let (a0, a1, b0, b1) = (a as u64, (a >> 64) as u64, b as u64, (b >> 64) as u64);
    let lo = clmul64(a0, b0);
    let hi = clmul64(a1, b1);
    let mid = clmul64(a0 ^ a1, b0 ^ b1) ^ lo ^ hi;
    (lo ^ (mid << 64), hi ^ (mid >> 64))
}

/// POLYVAL's product `a • b = a·b·x^-128`.
pub(super) fn dot(a: u128, b: u128) -> u128 {
    let (lo, hi) = clmul128(a, b);
    reduce(lo, hi)
}

/// `mulX_POLYVAL` (RFC 8452 Appendix A): multiply by `x` in POLYVAL's field.
pub(super) fn mul_x(v: u128) -> u128 {
    let carry = (v >> 127) as u64; // 0 or 1, no branch
    let r = v << 1;
    r ^ (u128::from(carry.wrapping_neg() & POLY_HI) << 64) ^ u128::from(carry)
}

/// GHASH over one message in software (Horner's rule), for the portable path: AAD, data and the
/// lengths block, each zero-padded to whole blocks. `h1` is `mulX_POLYVAL(ByteReverse(H))`.
pub(super) fn ghash(h1: u128, aad: &[u8], data: &[u8]) -> [u8; 16] {
    let mut acc = 0u128;
    for segment in [aad, data] {
        for chunk in segment.chunks(16) {
            let mut block = [0u8; 16];
            block[..chunk.len()].copy_from_slice(chunk);
            acc = dot(acc ^ from_block(&block), h1);
        }
    }
    acc = dot(acc ^ from_block(&lengths_block(aad.len(), data.len())), h1);
    to_block(acc)
}

/// The last GHASH block: bit lengths of the AAD and of the data, 64-bit big-endian each.
pub(super) fn lengths_block(aad_len: usize, data_len: usize) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&((aad_len as u64) * 8).to_be_bytes());
    b[8..].copy_from_slice(&((data_len as u64) * 8).to_be_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit-by-bit carry-less multiply, the definition.
    fn clmul64_slow(x: u64, y: u64) -> u128 {
        (0..64).filter(|i| (y >> i) & 1 == 1).fold(0u128, |acc, i| acc ^ (u128::from(x) << i))
    }

    #[test]
    fn clmul64_matches_the_definition() {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let x = s;
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let y = s;
            assert_eq!(clmul64(x, y), clmul64_slow(x, y));
        }
        assert_eq!(clmul64(u64::MAX, u64::MAX), clmul64_slow(u64::MAX, u64::MAX));
    }

    #[test]
    fn polyval_rfc8452_vector() {
        // RFC 8452 Appendix A: POLYVAL(H, X1, X2).
        let h = u128::from_le_bytes(hex::decode("25629347589242761d31f826ba4b757b").unwrap().try_into().unwrap());
        let x1 = u128::from_le_bytes(hex::decode("4f4f95668c83dfb6401762bb2d01a262").unwrap().try_into().unwrap());
        let x2 = u128::from_le_bytes(hex::decode("d1a24ddd2721d006bbe45f20d3c9f362").unwrap().try_into().unwrap());
        let r = dot(dot(x1, h) ^ x2, h);
        assert_eq!(hex::encode(r.to_le_bytes()), "f7a3b47b846119fae5b7866cf5e5b77e");
    }
}
