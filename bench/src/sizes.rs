//! Frame sizes the benchmarks sweep, and the IMIX mix (7 × 64 : 4 × 594 : 1 × 1518 octets).

/// A size point: one frame length, or the IMIX mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    Fixed(usize),
    Imix,
}

impl Size {
    pub fn label(self) -> String {
        match self {
            Size::Fixed(n) => n.to_string(),
            Size::Imix => "IMIX".into(),
        }
    }

    /// `n` frame lengths: all equal, or the IMIX pattern repeated (n a multiple of 12 keeps
    /// the exact 7:4:1 proportions).
    pub fn lengths(self, n: usize) -> Vec<usize> {
        match self {
            Size::Fixed(len) => vec![len; n],
            Size::Imix => IMIX_ORDER.iter().copied().cycle().take(n).collect(),
        }
    }
}

/// The crypto sweep (issue 7): payload octets per AES-GCM call.
pub const CRYPTO_SIZES: [Size; 9] = [
    Size::Fixed(64),
    Size::Fixed(128),
    Size::Fixed(256),
    Size::Fixed(512),
    Size::Fixed(1024),
    Size::Fixed(1500),
    Size::Fixed(4096),
    Size::Fixed(9000),
    Size::Imix,
];

/// One IMIX period, interleaved so that a burst is never all one size.
const IMIX_ORDER: [usize; 12] = [64, 594, 64, 64, 1518, 64, 594, 64, 64, 594, 64, 594];

/// Frames per batch in the crypto and SecY benchmarks: three bursts of 32, and 8 IMIX periods.
pub const BATCH: usize = 96;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imix_is_7_4_1() {
        let l = Size::Imix.lengths(BATCH);
        assert_eq!(l.iter().filter(|&&x| x == 64).count(), 56);
        assert_eq!(l.iter().filter(|&&x| x == 594).count(), 32);
        assert_eq!(l.iter().filter(|&&x| x == 1518).count(), 8);
    }
}
