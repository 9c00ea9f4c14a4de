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

use super::conn::{Conn, Rekey};
use super::{unix_now, Daemon, OpCall};
use crate::key_store::{Pending, StoreError};
use crate::keychain::{self, KeychainError, MAX_KEYS};
use crate::mka::keys::{Cak, Ckn};
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

/// What an operator verb needs: a reply now, or a key store write first (run off the event
/// loop: an fsync on a busy disk can take seconds, and MKA must keep its timers meanwhile).
pub enum Op {
    Done(OpReply),
    Save(Pending, AfterSave),
}

/// The running-state change a key store write was for, applied only once it is on disk.
pub enum AfterSave {
    Associate { id: String, ckn: Ckn, cak: Cak, at: u64, warning: Option<String> },
    Disassociate { id: String, ckn: Ckn },
    Schedule { id: String, ckn: Ckn, at: u64 },
}

impl From<OpReply> for Op {
    fn from(r: OpReply) -> Op {
        Op::Done(r)
    }
}

impl Daemon {
    /// Runs a verb to the end, writing the key store on this thread (tests, and callers that
    /// may block).
    pub fn operate(&mut self, req: OpRequest) -> OpReply {
        let op = self.begin(req);
        self.run_op(op)
    }

    pub fn run_op(&mut self, op: Op) -> OpReply {
        match op {
            Op::Done(r) => r,
            Op::Save(p, then) => {
                let written = p.write();
                self.finish(p, written, then)
            }
        }
    }

    /// After the write: on success the store and the running keychain change, else neither.
    pub fn finish(&mut self, p: Pending, written: Result<(), StoreError>, then: AfterSave) -> OpReply {
        if let Err(e) = written {
            return match then {
                AfterSave::Schedule { .. } => OpReply::err(e),
                _ => OpReply::err(format!("{e}; the keychain is unchanged")),
            };
        }
        self.store.commit(p);
        match then {
            AfterSave::Associate { id, ckn, cak, at, warning } => self.associated(&id, ckn, cak, at, warning),
            AfterSave::Disassociate { id, ckn } => self.disassociated(&id, &ckn),
            AfterSave::Schedule { id, ckn, at } => {
                OpReply::ok(json!({"connectionId": id, "ckn": ckn.to_string(), "deleteAt": at}))
            }
        }
    }

    /// Starts a verb: everything is checked here; what changes state waits for its write.
    pub fn begin(&mut self, req: OpRequest) -> Op {
        match &req {
            OpRequest::AssociateMacSecKey { connection_id, ckn, cak } => self.associate(connection_id, ckn, cak),
            OpRequest::DisassociateMacSecKey { connection_id, ckn } => self.disassociate(connection_id, ckn),
            OpRequest::ScheduleKeyDeletion { connection_id, ckn, days } => {
                self.schedule_deletion(connection_id, ckn, *days)
            }
            OpRequest::UpdateConnection { connection_id, encryption_mode } => {
                self.update_connection(connection_id, encryption_mode).into()
            }
            OpRequest::DescribeConnections { connection_id } => {
                OpReply::ok(self.describe(connection_id.as_deref())).into()
            }
            OpRequest::Rekey { connection_id } => self.rekey(connection_id).into(),
            OpRequest::Status => OpReply::ok(self.status()).into(),
        }
    }

    /// Every member of a LAG that is up and key server rekeys.
    fn rekey(&mut self, id: &str) -> OpReply {
        let all = match self.conn_indices(id) {
            Ok(all) => all,
            Err(e) => return OpReply::err(e),
        };
        let done: Vec<Rekey> = all.iter().map(|&i| self.conns[i].rekey()).collect();
        let peer_ks = done.iter().find_map(|r| match r {
            Rekey::PeerIsKeyServer(sci) => Some(*sci),
            _ => None,
        });
        match peer_ks {
            _ if done.contains(&Rekey::Requested) => OpReply::ok(json!({"connectionId": id, "rekey": "requested"})),
            Some(sci) => OpReply::err(format!(
                "connection {id}: the peer {sci} is key server and only the key server distributes SAKs \
                 (802.1X-2020 9.8.1); rekey on the peer"
            )),
            None => OpReply::err(format!("connection {id}: encryption is down, nothing to rekey")),
        }
    }

    /// The running SecYs of connection `id`: one, or every member of a LAG (a verb on a LAG id
    /// acts on all its members at once).
    fn conn_indices(&self, id: &str) -> Result<Vec<usize>, KeychainError> {
        if !self.cfg.connections.iter().any(|c| c.id == id) {
            return Err(KeychainError::NoSuchConnection(id.to_owned()));
        }
        let all: Vec<usize> = (0..self.conns.len()).filter(|&i| self.conns[i].cfg.id == id).collect();
        if all.is_empty() {
            return Err(KeychainError::NoSuchConnection(format!(
                "{id} (not started: waiting for the dataplane, or static keys)"
            )));
        }
        Ok(all)
    }

    /// Checks everything first; the store is written before the running keychain changes.
    fn associate(&mut self, id: &str, ckn: &str, cak: &str) -> Op {
        let all = match self.conn_indices(id) {
            Ok(all) => all,
            Err(e) => return OpReply::err(e).into(),
        };
        let (ckn, cak, warning) = match keychain::parse_pair(ckn, cak) {
            Ok(p) => p,
            Err(e) => return OpReply::err(e).into(),
        };
        if self.store.entries().iter().any(|e| e.connection == id && e.ckn == ckn.to_string()) {
            return OpReply::err(KeychainError::AlreadyAssociated { ckn: ckn.to_string() }).into();
        }
        if self.conns[all[0]].keys.len() >= MAX_KEYS {
            return OpReply::err(KeychainError::Full { connection: id.to_owned() }).into();
        }
        let at = unix_now();
        let keys = self.store.with_added(id, &ckn, &cak, at);
        self.save(keys, AfterSave::Associate { id: id.to_owned(), ckn, cak, at, warning })
    }

    fn save(&self, keys: Vec<crate::key_store::Entry>, then: AfterSave) -> Op {
        match self.store.prepare(keys) {
            Ok(p) => Op::Save(p, then),
            Err(e) => OpReply::err(format!("{e}; the keychain is unchanged")).into(),
        }
    }

    fn associated(&mut self, id: &str, ckn: Ckn, cak: Cak, at: u64, warning: Option<String>) -> OpReply {
        for i in self.conn_indices(id).unwrap_or_default() {
            let c = &mut self.conns[i];
            c.add_key(ckn.clone(), cak.duplicate(), at, std::time::Instant::now());
            c.pump();
        }
        drop(cak);
        let mut r =
            OpReply::ok(json!({"connectionId": id, "macSecKeys": [{"ckn": ckn.to_string(), "state": "associated"}]}));
        r.warnings.extend(warning);
        r
    }

    pub fn disassociate(&mut self, id: &str, ckn: &str) -> Op {
        if let Err(e) = self.conn_indices(id) {
            return OpReply::err(e).into();
        }
        let Ok(ckn_v) = Ckn::from_hex(ckn) else {
            return OpReply::err(KeychainError::NotHex { field: "ckn" }).into();
        };
        let keys: Vec<_> = self
            .store
            .entries()
            .iter()
            .filter(|e| !(e.connection == id && e.ckn == ckn_v.to_string()))
            .cloned()
            .collect();
        if keys.len() == self.store.entries().len() {
            return OpReply::err(KeychainError::NoSuchKey { connection: id.to_owned(), ckn: ckn.to_owned() }).into();
        }
        self.save(keys, AfterSave::Disassociate { id: id.to_owned(), ckn: ckn_v })
    }

    fn disassociated(&mut self, id: &str, ckn: &Ckn) -> OpReply {
        let mut r = OpReply::ok(
            json!({"connectionId": id, "macSecKeys": [{"ckn": ckn.to_string(), "state": "disassociated"}]}),
        );
        let mut relaxed = false;
        for i in self.conn_indices(id).unwrap_or_default() {
            let c = &mut self.conns[i];
            c.remove_key(ckn);
            // AWS: disassociating the last key of a must_encrypt connection makes it should_encrypt.
            if c.keys.is_empty() && c.mode == EncryptionMode::MustEncrypt {
                c.mode = EncryptionMode::ShouldEncrypt;
                c.out.push(Request::SetMode { secy: c.secy.clone(), mode: c.mode.name().to_owned() });
                relaxed = true;
            }
        }
        if relaxed {
            r.warnings.push(format!("connection {id}: last key disassociated; encryption mode is now should_encrypt"));
        }
        r
    }

    fn schedule_deletion(&mut self, id: &str, ckn: &str, days: u32) -> Op {
        let at = match super::schedule::delete_at(unix_now(), days) {
            Ok(at) => at,
            Err(e) => return OpReply::err(e).into(),
        };
        let Ok(ckn_v) = Ckn::from_hex(ckn) else {
            return OpReply::err(KeychainError::NotHex { field: "ckn" }).into();
        };
        let mut keys = self.store.entries().to_vec();
        let Some(e) = keys.iter_mut().find(|e| e.connection == id && e.ckn == ckn_v.to_string()) else {
            return OpReply::err(KeychainError::NoSuchKey { connection: id.to_owned(), ckn: ckn.to_owned() }).into();
        };
        e.delete_at = Some(at);
        match self.store.prepare(keys) {
            Ok(p) => Op::Save(p, AfterSave::Schedule { id: id.to_owned(), ckn: ckn_v, at }),
            Err(e) => OpReply::err(e).into(),
        }
    }

    fn update_connection(&mut self, id: &str, mode: &str) -> OpReply {
        let all = match self.conn_indices(id) {
            Ok(all) => all,
            Err(e) => return OpReply::err(e),
        };
        let Some(m) = EncryptionMode::parse(mode) else {
            return OpReply::err(format!(
                "encryption-mode: expected must_encrypt, should_encrypt or no_encrypt, got {mode:?}"
            ));
        };
        for i in all {
            let c = &mut self.conns[i];
            c.mode = m;
            c.out.push(Request::SetMode { secy: c.secy.clone(), mode: m.name().to_owned() });
        }
        OpReply::ok(json!({"connectionId": id, "encryptionMode": m.name()}))
    }

    /// AWS-shaped `describe-connections`. A LAG is one entry (its id, its keys, its mode) with
    /// a `members` list giving each member's SecY and encryption status.
    fn describe(&self, only: Option<&str>) -> serde_json::Value {
        let list: Vec<_> = self
            .cfg
            .connections
            .iter()
            .filter(|cfg| only.map_or(true, |o| o == cfg.id))
            .filter_map(|cfg| {
                let members: Vec<&Conn> = self.conns.iter().filter(|c| c.cfg.id == cfg.id).collect();
                let first = *members.first()?;
                let up = members.iter().all(|c| c.encryption_up());
                let mut v = json!({
                    "connectionId": cfg.id,
                    "encryptionMode": first.mode.name(),
                    "macSecCapable": true,
                    "portEncryptionStatus": encryption_status(up),
                    "cipherSuite": cfg.cipher_suite.to_string(),
                    "macSecKeys": self.describe_keys(first),
                });
                if cfg.wire_ports.len() > 1 {
                    v["lagId"] = json!(cfg.id);
                    v["numberOfConnections"] = json!(cfg.wire_ports.len());
                    v["members"] = members.iter().map(|c| describe_secy(c)).collect::<Vec<_>>().into();
                } else if let (Some(o), serde_json::Value::Object(secy)) = (v.as_object_mut(), describe_secy(first)) {
                    o.extend(secy.into_iter().filter(|(k, _)| k != "portEncryptionStatus"));
                }
                Some(v)
            })
            .collect();
        json!({ "connections": list })
    }

    /// The keys of a connection (every LAG member has the same keychain), with AWS's states:
    /// `associating` until MKA secured the key once, `associated`, `disassociating` while a
    /// scheduled deletion is pending.
    fn describe_keys(&self, c: &Conn) -> Vec<serde_json::Value> {
        c.keys
            .iter()
            .map(|k| {
                let deleting = self
                    .store
                    .entries()
                    .iter()
                    .find(|e| e.connection == c.cfg.id && e.ckn == k.ckn.to_string())
                    .and_then(|e| e.delete_at);
                let state = match (deleting, k.worked) {
                    (Some(_), _) => "disassociating",
                    (None, true) => "associated",
                    (None, false) => "associating",
                };
                json!({
                    "ckn": k.ckn.to_string(),
                    "state": state,
                    "startOn": iso8601(k.associated_at),
                    "deleteOn": deleting.map(iso8601),
                    "mka": k.participant.status().state,
                    "inUse": Some(&k.ckn) == c.principal.as_ref(),
                    "worked": k.worked,
                })
            })
            .collect()
    }

    /// One entry per SecY (a LAG has one per member): what `macsecctl status` tabulates.
    fn status(&self) -> serde_json::Value {
        let conns: Vec<_> = self
            .conns
            .iter()
            .map(|c| {
                let mut v = describe_secy(c);
                let principal = c.keys.iter().find(|k| Some(&k.ckn) == c.principal.as_ref());
                if let Some(o) = v.as_object_mut() {
                    o.insert("connectionId".into(), json!(c.cfg.id));
                    o.insert("encryptionMode".into(), json!(c.mode.name()));
                    o.insert("cipherSuite".into(), json!(c.cfg.cipher_suite.to_string()));
                    o.insert("ckn".into(), json!(principal.map(|k| k.ckn.to_string())));
                    let peers = principal.map_or(0, |k| k.participant.status().live_peers.len());
                    o.insert("livePeers".into(), json!(peers));
                    o.insert("txNextPn".into(), json!(c.tx_next_pn));
                    o.insert("rxNextPn".into(), json!(c.rx_next_pn));
                    o.insert("lastRekey".into(), json!(c.last_rekey.map(iso8601)));
                    let parts: Vec<_> = c.keys.iter().map(|k| k.participant.status()).collect();
                    o.insert("participants".into(), json!(parts));
                }
                v
            })
            .collect();
        json!({"dataplaneConnected": self.dp.is_some(), "connections": conns})
    }
}

fn encryption_status(up: bool) -> &'static str {
    if up {
        "Encryption Up"
    } else {
        "Encryption Down"
    }
}

/// One SecY (a connection, or a LAG member): SCI, encryption status and the principal key's
/// MKA view.
fn describe_secy(c: &Conn) -> serde_json::Value {
    let principal = c.keys.iter().find(|k| Some(&k.ckn) == c.principal.as_ref()).map(|k| k.participant.status());
    json!({
        "member": c.secy.member,
        "wirePort": c.cfg.wire_ports.get(usize::from(c.secy.member)).map(|w| w.device.clone()),
        "portEncryptionStatus": encryption_status(c.encryption_up()),
        "sci": format!("{:016x}", c.sci.0),
        "keyServer": principal.as_ref().map(|s| s.key_server),
        "keyServerSci": principal.as_ref().and_then(|s| s.key_server_sci.clone()),
        "an": principal.as_ref().and_then(|s| s.latest_an),
        "kn": principal.as_ref().and_then(|s| s.latest_kn),
    })
}

/// Unix seconds as an ISO 8601 UTC timestamp, as AWS prints `startOn`.
fn iso8601(unix: u64) -> String {
    let (days, secs) = (unix / 86_400, unix % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::iso8601;

    #[test]
    fn timestamps_are_iso8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_796_083_199), "2026-11-30T23:59:59Z");
    }
}
