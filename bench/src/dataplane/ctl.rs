//! A minimal client of the dataplane's control socket (docs/control-socket.md): one JSON
//! request per SOCK_SEQPACKET datagram, replies matched by id.

use std::io::{Read, Write};

use socket2::{Domain, SockAddr, Socket, Type};

use macsec_dataplane::secy::{An, Sak};

use crate::crypto::work::XorShift;

pub struct Ctl {
    sock: Socket,
    id: u64,
    rng: XorShift,
}

impl Ctl {
    pub fn connect(path: &str) -> Result<Ctl, String> {
        let sock = Socket::new(Domain::UNIX, Type::SEQPACKET, None).map_err(|e| format!("control socket: {e}"))?;
        let addr = SockAddr::unix(path).map_err(|e| format!("control socket {path}: {e}"))?;
        sock.connect(&addr).map_err(|e| format!("control socket {path}: {e}"))?;
        sock.set_read_timeout(Some(std::time::Duration::from_secs(5))).map_err(|e| e.to_string())?;
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
        Ok(Ctl { sock, id: 0, rng: XorShift(seed | 1) })
    }

    /// Sends one request and waits for its reply; `Err` unless the result is `ok`.
    pub fn ok(&mut self, req: serde_json::Value) -> Result<(), String> {
        self.id += 1;
        let msg = serde_json::json!({ "id": self.id, "req": req });
        (&self.sock).write_all(msg.to_string().as_bytes()).map_err(|e| format!("control socket send: {e}"))?;
        let mut buf = vec![0u8; 65536];
        loop {
            let n = (&self.sock).read(&mut buf).map_err(|e| format!("control socket recv: {e}"))?;
            let v: serde_json::Value = serde_json::from_slice(&buf[..n]).map_err(|e| e.to_string())?;
            let Some(reply) = v.get("reply") else { continue }; // an event
            if reply.get("id").and_then(|i| i.as_u64()) != Some(self.id) {
                continue;
            }
            let body = reply.get("body").cloned().unwrap_or_default();
            if body.get("result").and_then(|r| r.as_str()) == Some("ok") {
                return Ok(());
            }
            return Err(format!("control socket: request refused: {body}"));
        }
    }

    /// A rekey of the transmit direction: install a fresh SAK on `an`, then make it the
    /// encoding SA (IEEE 802.1AE-2018 10.7.21-22). `installed` gets the SAK in between, before
    /// the dataplane can send a frame under it.
    pub fn rekey_tx(
        &mut self,
        connection: &str,
        an: An,
        key_len: usize,
        installed: impl FnOnce(Sak),
    ) -> Result<(), String> {
        let key: Vec<u8> = (0..key_len).map(|_| self.rng.byte()).collect();
        let sak = hex::encode(&key);
        let secy = serde_json::json!({ "connection": connection });
        self.ok(serde_json::json!({ "op": "install_tx_sa", "secy": secy, "an": an.get(), "next_pn": 1, "sak": sak }))?;
        installed(Sak::from_slice(&key).map_err(|e| e.to_string())?);
        self.ok(serde_json::json!({ "op": "enable_tx_sa", "secy": secy, "an": an.get() }))
    }
}
