//! Key server election (IEEE 802.1X-2020 9.5.1): among the participant and its live peers, the
//! one with the highest priority (the lowest Key Server Priority value) is key server; a tie goes
//! to the lowest SCI. Priority 0xFF means "never key server".

use macsec_dataplane::secy::Sci;

/// Default Key Server Priority (IEEE 802.1X-2020 Table 9-3 suggests 16 for a port that may be key server).
pub const DEFAULT_PRIORITY: u8 = 16;
pub const NEVER_KEY_SERVER: u8 = 0xff;

/// A candidate: (priority, SCI).
pub type Candidate = (u8, Sci);

/// The elected key server's SCI, if any candidate is willing.
pub fn elect(candidates: impl IntoIterator<Item = Candidate>) -> Option<Sci> {
    candidates.into_iter().filter(|(p, _)| *p != NEVER_KEY_SERVER).min_by_key(|&(p, sci)| (p, sci)).map(|(_, s)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_priority_value_then_lowest_sci() {
        let a = Sci(0x0200_0000_000a_0001);
        let b = Sci(0x0200_0000_000b_0001);
        assert_eq!(elect([(16, a), (16, b)]), Some(a));
        assert_eq!(elect([(16, a), (15, b)]), Some(b));
        assert_eq!(elect([(NEVER_KEY_SERVER, a), (200, b)]), Some(b));
        assert_eq!(elect([(NEVER_KEY_SERVER, a)]), None);
    }
}
