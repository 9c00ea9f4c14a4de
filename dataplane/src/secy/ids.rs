//! Identifiers of the SecY model: SCI, AN, SSCI and the packet number.

use std::fmt;

/// Secure Channel Identifier: the MAC address of the transmitting system followed by a 16-bit
/// port number (IEEE 802.1AE-2018 8.2.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sci(pub u64);

impl Sci {
    /// The SCI of a port: MAC address ‖ port identifier.
    pub fn from_mac_port(mac: [u8; 6], port: u16) -> Self {
        let mut b = [0u8; 8];
        b[..6].copy_from_slice(&mac);
        b[6..].copy_from_slice(&port.to_be_bytes());
        Sci(u64::from_be_bytes(b))
    }

    /// IEEE 802.1AE-2018 9.9: with ES=1 and SC=0 the SCI is the source MAC address followed by
    /// the port identifier 0x0001 (the "common port").
    pub fn end_station(mac: [u8; 6]) -> Self {
        Self::from_mac_port(mac, 0x0001)
    }

    pub fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    pub fn from_bytes(b: [u8; 8]) -> Self {
        Sci(u64::from_be_bytes(b))
    }

    pub fn mac(self) -> [u8; 6] {
        let b = self.to_bytes();
        [b[0], b[1], b[2], b[3], b[4], b[5]]
    }

    pub fn port(self) -> u16 {
        (self.0 & 0xffff) as u16
    }
}

impl fmt::Display for Sci {
    /// Sixteen hex digits, as `ip macsec show` and wpa_supplicant print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for Sci {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sci({:016x})", self.0)
    }
}

/// Association Number, 0..=3 (IEEE 802.1AE-2018 7.1.3): the two low bits of the TCI octet.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct An(u8);

impl An {
    pub const ALL: [An; 4] = [An(0), An(1), An(2), An(3)];

    /// `None` unless `an < 4`.
    pub fn new(an: u8) -> Option<Self> {
        (an < 4).then_some(An(an))
    }

    /// The AN carried in the TCI/AN octet (bits 1..0).
    pub fn from_tci(tci_an: u8) -> Self {
        An(tci_an & 0x03)
    }

    pub fn get(self) -> u8 {
        self.0
    }

    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// The next AN in rotation (an SA rekey moves to it).
    pub fn next(self) -> Self {
        An((self.0 + 1) & 0x03)
    }
}

impl fmt::Display for An {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Short Secure Channel Identifier, used instead of the SCI in the XPN IV
/// (IEEE 802.1AE-2018 14.7). Assigned by the key server (802.1X-2020 9.8.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Ssci(pub u32);

/// A packet number. 32 bits are significant without XPN, 64 bits with XPN
/// (IEEE 802.1AE-2018 10.6.2, 10.7.8).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Pn(pub u64);

impl Pn {
    /// The 32 bits carried in the SecTAG's PN field.
    pub fn wire(self) -> u32 {
        self.0 as u32
    }
}

impl fmt::Display for Pn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sci_from_mac_and_port() {
        let sci = Sci::from_mac_port([0x12, 0x15, 0x35, 0x24, 0xc0, 0x89], 0x5e81);
        assert_eq!(sci, Sci(0x1215_3524_c089_5e81));
        assert_eq!(sci.port(), 0x5e81);
        assert_eq!(sci.mac(), [0x12, 0x15, 0x35, 0x24, 0xc0, 0x89]);
        assert_eq!(sci.to_string(), "12153524c0895e81");
        assert_eq!(Sci::end_station([1, 2, 3, 4, 5, 6]).port(), 1);
    }

    #[test]
    fn an_is_two_bits() {
        assert_eq!(An::new(4), None);
        assert_eq!(An::from_tci(0x2f).get(), 3);
        assert_eq!(An::new(3).map(An::next), An::new(0));
    }
}
