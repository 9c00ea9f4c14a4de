//! The management controls of a SecY (IEEE 802.1AE-2018 10.7).

use std::fmt;

use super::CipherSuite;

/// IEEE 802.1AE-2018 10.7.8 validateFrames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ValidateFrames {
    /// No validation; SecTAG and ICV are removed (frames with C=1 are still decrypted).
    Disabled,
    /// Validate, count failures, deliver frames that fail if they were not encrypted.
    Check,
    /// Validate and discard every frame that fails.
    #[default]
    Strict,
}

impl std::str::FromStr for ValidateFrames {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "disabled" => Ok(Self::Disabled),
            "check" => Ok(Self::Check),
            "strict" => Ok(Self::Strict),
            _ => Err("expected one of strict, check, disabled"),
        }
    }
}

/// IEEE 802.1AE-2018 10.7.24 confidentialityOffset: how many octets of User Data stay in clear
/// (but integrity-protected) at the start of an encrypted frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ConfidentialityOffset {
    #[default]
    Zero,
    Thirty,
    Fifty,
}

impl ConfidentialityOffset {
    pub fn octets(self) -> usize {
        match self {
            Self::Zero => 0,
            Self::Thirty => 30,
            Self::Fifty => 50,
        }
    }

    pub fn from_octets(n: usize) -> Option<Self> {
        match n {
            0 => Some(Self::Zero),
            30 => Some(Self::Thirty),
            50 => Some(Self::Fifty),
            _ => None,
        }
    }
}

impl fmt::Display for ConfidentialityOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.octets())
    }
}

/// The SecY's controls. The SCI is always sent (SC=1, as AWS requires): there is no control
/// for it.
#[derive(Clone, Debug)]
pub struct SecyConfig {
    pub cipher_suite: CipherSuite,
    /// 10.7.17 protectFrames: false transmits frames unprotected.
    pub protect_frames: bool,
    /// true: confidentiality (E=1, C=1); false: integrity only (E=0, C=0).
    pub confidentiality: bool,
    pub confidentiality_offset: ConfidentialityOffset,
    pub validate_frames: ValidateFrames,
    /// 10.7.8 replayProtect and replayWindow.
    pub replay_protect: bool,
    pub replay_window: u32,
    /// The largest frame (DA to the end of the ICV, no FCS) the wire port may send; a longer
    /// protected frame is discarded and counted as OutPktsTooLong.
    pub max_frame_len: usize,
    /// Octets of 802.1Q tags in clear between MAC SA and SecTAG on receive (0, 4 or 8). Not an
    /// 802.1AE format (some vendors' "clear tag" mode); 0 unless a peer needs it.
    pub rx_clear_tag_len: usize,
}

impl SecyConfig {
    pub fn new(cipher_suite: CipherSuite) -> Self {
        SecyConfig {
            cipher_suite,
            protect_frames: true,
            confidentiality: true,
            confidentiality_offset: ConfidentialityOffset::Zero,
            validate_frames: ValidateFrames::Strict,
            replay_protect: true,
            replay_window: 0,
            max_frame_len: 9216,
            rx_clear_tag_len: 0,
        }
    }
}
