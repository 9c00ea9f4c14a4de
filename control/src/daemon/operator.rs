//! The operator socket (JSON lines, mode 0600, peer uid checked) and the verbs behind it, plus
//! the metrics HTTP endpoint.

use std::net::SocketAddr;
use std::path::Path;

use macsec_dataplane::appliance::config::EncryptionMode;
use macsec_dataplane::appliance::ctl_proto::Request;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, oneshot};

use super::{unix_now, Daemon, OpCall};
use crate::keychain::{self, KeychainError, MAX_KEYS};
use crate::mka::keys::Ckn;
use crate::operator_proto::{OpReply, OpRequest};

pub fn serve(path: &Path, calls: mpsc::Sender<OpCall>) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let _ = std::fs::remove_file(path);
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let listener = UnixListener::bind(path);
    nix::sys::stat::umask(old);
    let listener = listener?;
    let me = nix::unistd::geteuid().as_raw();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let uid = stream.peer_cred().map(|c| c.uid()).unwrap_or(u32::MAX);
            let calls = calls.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.split();
                let mut line = String::new();
                if BufReader::new(r.take(64 * 1024)).read_line(&mut line).await.is_err() {
                    return;
                }
                let refused = uid != me && uid != 0;
                if refused {
                    eprintln!("macsec-control: operator client refused: uid {uid} is not {me} or root");
                }
                let reply = match serde_json::from_str::<OpRequest>(&line) {
                    _ if refused => {
                        OpReply::err(format!("permission denied: uid {uid} may not use the operator socket"))
                    }
                    Ok(req) => {
                        let (tx, rx) = oneshot::channel();
                        if calls.send((req, tx)).await.is_err() {
                            return;
                        }
                        rx.await.unwrap_or_else(|_| OpReply::err("macsec-control is stopping"))
                    }
                    Err(e) => {
                        OpReply::err(format!("not a valid request ({:?} error at column {})", e.classify(), e.column()))
                    }
                };
                zeroize::Zeroize::zeroize(&mut line);
                let mut out = serde_json::to_vec(&reply).unwrap_or_default();
                out.push(b'\n');
                let _ = w.write_all(&out).await;
            });
        }
    });
    Ok(())
}

pub async fn serve_metrics(addr: SocketAddr, render: mpsc::Sender<oneshot::Sender<String>>) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let render = render.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let ok = buf[..n].starts_with(b"GET /metrics");
                let body = if ok {
                    let (tx, rx) = oneshot::channel();
                    let _ = render.send(tx).await;
                    rx.await.unwrap_or_default()
                } else {
                    "try /metrics\n".to_owned()
                };
                let status = if ok { "200 OK" } else { "404 Not Found" };
                let head = format!(
                    "HTTP/1.0 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(body.as_bytes()).await;
            });
        }
    });
    Ok(())
}

impl Daemon {
    pub fn operate(&mut self, req: OpRequest) -> OpReply {
        match &req {
            OpRequest::AssociateMacSecKey { connection_id, ckn, cak } => self.associate(connection_id, ckn, cak),
            OpRequest::DisassociateMacSecKey { connection_id, ckn } => self.disassociate(connection_id, ckn),
            OpRequest::ScheduleKeyDeletion { connection_id, ckn, days } => {
                self.schedule_deletion(connection_id, ckn, *days)
            }
            OpRequest::UpdateConnection { connection_id, encryption_mode } => {
                self.update_connection(connection_id, encryption_mode)
            }
            OpRequest::DescribeConnections { connection_id } => OpReply::ok(self.describe(connection_id.as_deref())),
            OpRequest::Rekey { connection_id } => match self.conn_index(connection_id) {
                Ok(i) if self.conns[i].rekey() => {
                    OpReply::ok(json!({"connectionId": connection_id, "rekey": "requested"}))
                }
                Ok(_) => OpReply::err(format!("connection {connection_id}: encryption is down, nothing to rekey")),
                Err(e) => OpReply::err(e),
            },
            OpRequest::Status => OpReply::ok(self.status()),
        }
    }

    fn conn_index(&self, id: &str) -> Result<usize, KeychainError> {
        if !self.cfg.connections.iter().any(|c| c.id == id) {
            return Err(KeychainError::NoSuchConnection(id.to_owned()));
        }
        self.conns.iter().position(|c| c.cfg.id == id).ok_or_else(|| {
            KeychainError::NoSuchConnection(format!("{id} (not started: waiting for the dataplane, or static keys)"))
        })
    }

    /// Checks everything first; the store is written before the running keychain changes.
    fn associate(&mut self, id: &str, ckn: &str, cak: &str) -> OpReply {
        let i = match self.conn_index(id) {
            Ok(i) => i,
            Err(e) => return OpReply::err(e),
        };
        let (ckn, cak, warning) = match keychain::parse_pair(ckn, cak) {
            Ok(p) => p,
            Err(e) => return OpReply::err(e),
        };
        if self.store.entries().iter().any(|e| e.connection == id && e.ckn == ckn.to_string()) {
            return OpReply::err(KeychainError::AlreadyAssociated { ckn: ckn.to_string() });
        }
        if self.conns[i].keys.len() >= MAX_KEYS {
            return OpReply::err(KeychainError::Full { connection: id.to_owned() });
        }
        let now = unix_now();
        let keys = self.store.with_added(id, &ckn, &cak, now);
        if let Err(e) = self.store.save(keys) {
            return OpReply::err(format!("{e}; the keychain is unchanged"));
        }
        let c = &mut self.conns[i];
        c.add_key(ckn.clone(), cak, now, std::time::Instant::now());
        c.pump();
        let mut r =
            OpReply::ok(json!({"connectionId": id, "macSecKeys": [{"ckn": ckn.to_string(), "state": "associated"}]}));
        r.warnings.extend(warning);
        r
    }

    pub fn disassociate(&mut self, id: &str, ckn: &str) -> OpReply {
        let i = match self.conn_index(id) {
            Ok(i) => i,
            Err(e) => return OpReply::err(e),
        };
        let Ok(ckn_v) = Ckn::from_hex(ckn) else {
            return OpReply::err(KeychainError::NotHex { field: "ckn" });
        };
        let keys: Vec<_> = self
            .store
            .entries()
            .iter()
            .filter(|e| !(e.connection == id && e.ckn == ckn_v.to_string()))
            .cloned()
            .collect();
        if keys.len() == self.store.entries().len() {
            return OpReply::err(KeychainError::NoSuchKey { connection: id.to_owned(), ckn: ckn.to_owned() });
        }
        if let Err(e) = self.store.save(keys) {
            return OpReply::err(format!("{e}; the keychain is unchanged"));
        }
        let c = &mut self.conns[i];
        c.remove_key(&ckn_v);
        let mut r = OpReply::ok(
            json!({"connectionId": id, "macSecKeys": [{"ckn": ckn_v.to_string(), "state": "disassociated"}]}),
        );
        // AWS: disassociating the last key of a must_encrypt connection makes it should_encrypt.
        if c.keys.is_empty() && c.mode == EncryptionMode::MustEncrypt {
            c.mode = EncryptionMode::ShouldEncrypt;
            c.out.push(Request::SetMode { secy: c.secy.clone(), mode: c.mode.name().to_owned() });
            r.warnings.push(format!("connection {id}: last key disassociated; encryption mode is now should_encrypt"));
        }
        r
    }

    fn schedule_deletion(&mut self, id: &str, ckn: &str, days: u32) -> OpReply {
        if !(7..=30).contains(&days) {
            return OpReply::err(format!("days: expected 7 to 30, got {days}"));
        }
        let Ok(ckn_v) = Ckn::from_hex(ckn) else { return OpReply::err(KeychainError::NotHex { field: "ckn" }) };
        let at = unix_now() + u64::from(days) * 86_400;
        let mut keys = self.store.entries().to_vec();
        let Some(e) = keys.iter_mut().find(|e| e.connection == id && e.ckn == ckn_v.to_string()) else {
            return OpReply::err(KeychainError::NoSuchKey { connection: id.to_owned(), ckn: ckn.to_owned() });
        };
        e.delete_at = Some(at);
        if let Err(e) = self.store.save(keys) {
            return OpReply::err(e);
        }
        OpReply::ok(json!({"connectionId": id, "ckn": ckn_v.to_string(), "deleteAt": at}))
    }

    fn update_connection(&mut self, id: &str, mode: &str) -> OpReply {
        let i = match self.conn_index(id) {
            Ok(i) => i,
            Err(e) => return OpReply::err(e),
        };
        let Some(m) = EncryptionMode::parse(mode) else {
            return OpReply::err(format!(
                "encryption-mode: expected must_encrypt, should_encrypt or no_encrypt, got {mode:?}"
            ));
        };
        let c = &mut self.conns[i];
        c.mode = m;
        c.out.push(Request::SetMode { secy: c.secy.clone(), mode: m.name().to_owned() });
        OpReply::ok(json!({"connectionId": id, "encryptionMode": m.name()}))
    }

    fn describe(&self, only: Option<&str>) -> serde_json::Value {
        let list: Vec<_> = self
            .conns
            .iter()
            .filter(|c| only.map_or(true, |o| o == c.cfg.id))
            .map(|c| {
                let principal =
                    c.keys.iter().find(|k| Some(&k.ckn) == c.principal.as_ref()).map(|k| k.participant.status());
                json!({
                    "connectionId": c.cfg.id,
                    "encryptionMode": c.mode.name(),
                    "macSecCapable": true,
                    "portEncryptionStatus": if c.encryption_up() { "Encryption Up" } else { "Encryption Down" },
                    "cipherSuite": c.cfg.cipher_suite.to_string(),
                    "sci": format!("{:016x}", c.sci.0),
                    "keyServer": principal.as_ref().map(|s| s.key_server),
                    "keyServerSci": principal.as_ref().and_then(|s| s.key_server_sci.clone()),
                    "an": principal.as_ref().and_then(|s| s.latest_an),
                    "kn": principal.as_ref().and_then(|s| s.latest_kn),
                    "macSecKeys": c.keys.iter().map(|k| {
                        let s = k.participant.status();
                        json!({
                            "ckn": k.ckn.to_string(),
                            "state": "associated",
                            "startOn": k.associated_at,
                            "mka": s.state,
                            "inUse": Some(&k.ckn) == c.principal.as_ref(),
                            "worked": k.worked,
                        })
                    }).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({ "connections": list })
    }

    fn status(&self) -> serde_json::Value {
        let conns: Vec<_> = self
            .conns
            .iter()
            .map(|c| json!({"connectionId": c.cfg.id, "participants": c.keys.iter().map(|k| k.participant.status()).collect::<Vec<_>>()}))
            .collect();
        json!({"dataplaneConnected": self.dp.is_some(), "connections": conns})
    }
}
