//! What happens to a frame before the SecY sees it, by encryption mode (AWS Direct Connect
//! semantics) and by EtherType. Pure decisions; the workers apply them.
//!
//! - `must_encrypt`: nothing crosses in clear, ever. Without a Tx SA host frames are dropped
//!   and counted; clear frames from the wire are dropped (InPktsNoTag).
//! - `should_encrypt`: until a SA is installed clear frames pass both ways; once one is, only
//!   MACsec passes (plus EAPOL, which always goes to control).
//! - `no_encrypt`: pass-through.

use super::config::EncryptionMode;

/// EAPOL (IEEE 802.1X-2020 11.1): MKPDUs travel on the uncontrolled port.
pub const ETHERTYPE_EAPOL: u16 = 0x888e;
/// MACsec (IEEE 802.1AE-2018 9.2).
pub const ETHERTYPE_MACSEC: u16 = 0x88e5;

/// A frame from the host port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostAction {
    Protect,
    PassClear,
    /// Dropped and counted as a policy drop.
    Drop,
}

/// A frame from the wire port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireAction {
    /// Through the SecY receive path.
    Validate,
    /// To the control process (MKA).
    Punt,
    PassClear,
    /// A clear frame the mode forbids: dropped, counted as InPktsNoTag.
    DropClear,
}

/// `tx_sa`: whether an encoding SA is installed; `secured`: whether any SA is installed.
pub fn host_action(mode: EncryptionMode, tx_sa: bool, secured: bool) -> HostAction {
    match mode {
        EncryptionMode::NoEncrypt => HostAction::PassClear,
        _ if tx_sa => HostAction::Protect,
        EncryptionMode::ShouldEncrypt if !secured => HostAction::PassClear,
        _ => HostAction::Drop,
    }
}

/// `ethertype`: the frame's outer EtherType (octets 12..14).
pub fn wire_action(mode: EncryptionMode, ethertype: u16, secured: bool) -> WireAction {
    match (ethertype, mode) {
        (ETHERTYPE_EAPOL, _) => WireAction::Punt,
        (_, EncryptionMode::NoEncrypt) => WireAction::PassClear,
        (ETHERTYPE_MACSEC, _) => WireAction::Validate,
        (_, EncryptionMode::ShouldEncrypt) if !secured => WireAction::PassClear,
        _ => WireAction::DropClear,
    }
}

/// The outer EtherType of a frame, if it has one.
pub fn ethertype(frame: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use EncryptionMode::*;

    #[test]
    fn must_encrypt_never_passes_clear() {
        for (tx, secured) in [(false, false), (false, true), (true, true)] {
            assert_ne!(host_action(MustEncrypt, tx, secured), HostAction::PassClear);
            assert_ne!(wire_action(MustEncrypt, 0x0800, secured), WireAction::PassClear);
        }
        assert_eq!(host_action(MustEncrypt, false, false), HostAction::Drop);
        assert_eq!(wire_action(MustEncrypt, ETHERTYPE_EAPOL, false), WireAction::Punt);
    }

    #[test]
    fn should_encrypt_falls_back_to_clear_until_secured() {
        assert_eq!(host_action(ShouldEncrypt, false, false), HostAction::PassClear);
        assert_eq!(host_action(ShouldEncrypt, true, true), HostAction::Protect);
        assert_eq!(host_action(ShouldEncrypt, false, true), HostAction::Drop); // Rx SA first
        assert_eq!(wire_action(ShouldEncrypt, 0x0800, false), WireAction::PassClear);
        assert_eq!(wire_action(ShouldEncrypt, 0x0800, true), WireAction::DropClear);
        assert_eq!(wire_action(ShouldEncrypt, ETHERTYPE_MACSEC, false), WireAction::Validate);
    }

    #[test]
    fn no_encrypt_passes_everything_but_eapol() {
        assert_eq!(host_action(NoEncrypt, true, true), HostAction::PassClear);
        assert_eq!(wire_action(NoEncrypt, ETHERTYPE_MACSEC, true), WireAction::PassClear);
        assert_eq!(wire_action(NoEncrypt, ETHERTYPE_EAPOL, true), WireAction::Punt);
        assert_eq!(ethertype(&[0; 13]), None);
    }
}
