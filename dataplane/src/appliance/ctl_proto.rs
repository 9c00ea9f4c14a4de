//! The control socket's message set (version 1), shared by the dataplane and `macsec-control`.
//!
//! Transport: a Unix `SOCK_SEQPACKET` socket (mode 0600; the dataplane accepts only clients with
//! its own uid or root). One JSON object per datagram, at most [`MAX_MESSAGE`] octets:
//!
//! - client → dataplane: [`RequestMsg`] `{"id": N, "req": {"op": "...", ...}}`;
//! - dataplane → client: [`ServerMsg`], either `{"reply": {"id": N, "body": {...}}}` answering
//!   request N, or `{"event": {...}}` (EAPOL from the wire, PN threshold) to clients that sent
//!   `subscribe`.
//!
//! The first request of a connection should be `hello` with [`PROTOCOL_VERSION`]; a different
//! major version is refused. Key material (SAK, salt) travels as hex in [`SecretHex`] fields, which
//! zeroize their buffer when dropped and never print. See `docs/control-socket.md`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroize;

use super::stats::Snapshot;
use crate::secy::Sak;

pub const PROTOCOL_VERSION: u32 = 1;
/// Largest datagram either side sends or accepts.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Names one SecY: a connection id and, for a LAG, the member index (0 otherwise).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecyRef {
    pub connection: String,
    #[serde(default)]
    pub member: u16,
}

impl fmt::Display for SecyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.connection, self.member)
    }
}

/// Hex text of a secret (SAK): zeroized on drop, redacted in `Debug`.
#[derive(Default, PartialEq, Eq)]
pub struct SecretHex(String);

impl SecretHex {
    pub fn from_sak(sak: &Sak) -> Self {
        SecretHex(hex::encode(sak.expose()))
    }

    pub fn to_sak(&self) -> Result<Sak, crate::secy::SakError> {
        Sak::from_hex(&self.0)
    }
}

impl Drop for SecretHex {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHex(redacted)")
    }
}

impl Serialize for SecretHex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretHex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretHex)
    }
}

/// A request and its id (echoed in the reply).
#[derive(Debug, Serialize, Deserialize)]
pub struct RequestMsg {
    pub id: u64,
    pub req: Request,
}

/// What a client can ask (IEEE 802.1AE-2018 10.7 SecY management, plus EAPOL relay and status).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Request {
    /// Version check; the reply lists the SecYs.
    Hello {
        version: u32,
    },
    /// Receive EAPOL events (MKPDUs from the wire) and PN threshold events on this connection.
    Subscribe,
    /// Installs a Tx SA (not used until `enable_tx_sa`). `ssci` and `salt` (24 hex digits) for XPN.
    InstallTxSa {
        secy: SecyRef,
        an: u8,
        next_pn: u64,
        #[serde(default)]
        ssci: Option<u32>,
        #[serde(default)]
        salt: Option<String>,
        sak: SecretHex,
    },
    /// Makes the AN the encoding SA (the switch of a rekey).
    EnableTxSa {
        secy: SecyRef,
        an: u8,
    },
    DeleteTxSa {
        secy: SecyRef,
        an: u8,
    },
    /// Installs an Rx SA for the peer SCI (16 hex digits), receiving from `lowest_pn`.
    InstallRxSa {
        secy: SecyRef,
        peer_sci: String,
        an: u8,
        lowest_pn: u64,
        #[serde(default)]
        ssci: Option<u32>,
        #[serde(default)]
        salt: Option<String>,
        sak: SecretHex,
    },
    DeleteRxSa {
        secy: SecyRef,
        peer_sci: String,
        an: u8,
    },
    /// Removes every SA of the SecY (MKA lost its peers).
    ClearSas {
        secy: SecyRef,
    },
    /// `must_encrypt`, `should_encrypt` or `no_encrypt`.
    SetMode {
        secy: SecyRef,
        mode: String,
    },
    /// Sends an EAPOL frame (hex, from the destination address on) out of the wire port.
    SendEapol {
        secy: SecyRef,
        frame: String,
    },
    /// The counters snapshot (also the SA next/lowest PNs and port state).
    Status,
}

/// A SecY as `hello` describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecyInfo {
    pub secy: SecyRef,
    /// Our transmit SCI (16 hex digits) and the wire port's MAC address.
    pub sci: String,
    pub mac: String,
    pub cipher_suite: String,
    pub encryption_mode: String,
    /// Whether SAs come from a static key file (then control must not manage them).
    pub static_keys: bool,
}

/// The body of a reply.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReplyBody {
    Ok,
    /// The request was refused; nothing changed. The message names the field and the expected form.
    Error {
        message: String,
    },
    Hello {
        version: u32,
        secys: Vec<SecyInfo>,
    },
    Status {
        snapshot: Box<Snapshot>,
    },
}

/// Something the dataplane reports without being asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// An EAPOL frame (hex) that arrived on the wire port.
    Eapol { secy: SecyRef, frame: String },
    /// The Tx SA passed the PN threshold: control should distribute a new SAK
    /// (IEEE 802.1X-2020 9.8 rekey on PN exhaustion).
    PnThreshold { secy: SecyRef, an: u8, next_pn: u64 },
}

/// A reply with the id of its request.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    pub id: u64,
    pub body: ReplyBody,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerMsg {
    Reply(Reply),
    Event(Event),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_tx_sa_round_trips_and_never_prints_the_key() {
        let text = r#"{"id":7,"req":{"op":"install_tx_sa","secy":{"connection":"dxcon-1"},"an":1,"next_pn":1,
            "ssci":1,"salt":"0c0d0e0f1011121314151617","sak":"000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f"}}"#;
        let m: RequestMsg = serde_json::from_str(text).unwrap();
        assert_eq!(m.id, 7);
        let debug = format!("{m:?}");
        assert!(!debug.contains("0405060708"), "{debug}");
        let Request::InstallTxSa { sak, secy, .. } = m.req else { panic!("wrong op") };
        assert_eq!(secy.member, 0);
        assert_eq!(sak.to_sak().unwrap().len(), 32);
    }

    #[test]
    fn unknown_ops_and_fields_are_errors() {
        assert!(serde_json::from_str::<RequestMsg>(r#"{"id":1,"req":{"op":"format_disk"}}"#).is_err());
        assert!(serde_json::from_str::<RequestMsg>(
            r#"{"id":1,"req":{"op":"enable_tx_sa","secy":{"connection":"a"},"an":1,"x":1}}"#
        )
        .is_err());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = serde_json::from_slice::<RequestMsg>(&bytes);
            let _ = serde_json::from_slice::<ServerMsg>(&bytes);
        }
    }
}
