//! Scheduled key deletion (AWS semantics: a CAK's secret can be scheduled for deletion after 7 to
//! 30 days; when that time comes the key is disassociated). The decisions are pure functions of
//! the time; `schedule-key-deletion` and the daemon's tick apply them.

use std::fmt;

use crate::key_store::Entry;

pub const MIN_DAYS: u32 = 7;
pub const MAX_DAYS: u32 = 30;
const DAY_S: u64 = 86_400;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScheduleError {
    /// A deletion window outside 7..=30 days.
    Days(u32),
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Days(d) => write!(f, "days: expected {MIN_DAYS} to {MAX_DAYS}, got {d}"),
        }
    }
}

impl std::error::Error for ScheduleError {}

/// When a deletion scheduled at `now` (Unix seconds) for `days` falls due.
pub fn delete_at(now: u64, days: u32) -> Result<u64, ScheduleError> {
    if !(MIN_DAYS..=MAX_DAYS).contains(&days) {
        return Err(ScheduleError::Days(days));
    }
    Ok(now.saturating_add(u64::from(days) * DAY_S))
}

/// (connection, CKN) of every stored key whose deletion is due at `now`.
pub fn due(entries: &[Entry], now: u64) -> Vec<(String, String)> {
    entries
        .iter()
        .filter(|e| e.delete_at.is_some_and(|t| t <= now))
        .map(|e| (e.connection.clone(), e.ckn.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use macsec_dataplane::appliance::config::{Config, EncryptionMode};
    use macsec_dataplane::appliance::ctl_proto::SecyRef;
    use macsec_dataplane::secy::Sci;

    use super::super::{conn::Conn, unix_now, Daemon};
    use super::*;
    use crate::key_store::KeyStore;
    use crate::mka::keys::{Cak, Ckn};
    use crate::operator_proto::OpRequest;

    #[test]
    fn deletion_window_is_7_to_30_days() {
        assert_eq!(delete_at(1000, 7), Ok(1000 + 7 * 86_400));
        assert_eq!(delete_at(1000, 30), Ok(1000 + 30 * 86_400));
        for d in [0, 6, 31, u32::MAX] {
            assert_eq!(delete_at(1000, d), Err(ScheduleError::Days(d)));
        }
        assert_eq!(ScheduleError::Days(6).to_string(), "days: expected 7 to 30, got 6");
    }

    const CKN1: &str = "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1";
    const CKN2: &str = "d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2";

    /// A daemon with no dataplane, connection dxcon-s (must_encrypt) and `ckns` stored and in
    /// its keychain; the key store lives in `dir`.
    fn daemon(dir: &std::path::Path, ckns: &[&str]) -> Daemon {
        let _ = std::fs::remove_dir_all(dir);
        let text = format!(
            "[control]\nkey_store = \"{0}/store.json\"\nmaster_key_file = \"{0}/master.key\"\n\n\
             [[connections]]\nid = \"dxcon-s\"\nhost_port = \"net_null0\"\nwire_port = \"net_null1\"\n\
             cipher_suite = \"gcm-aes-xpn-256\"\nencryption_mode = \"must_encrypt\"\nkey_source = \"control\"\n",
            dir.display()
        );
        let cfg = Config::parse(&text).unwrap_or_else(|e| panic!("test config: {e}"));
        let mut store = KeyStore::open(&cfg.mka.key_store, &cfg.mka.master_key_file).unwrap();
        let c = cfg.connections[0].clone();
        let secy = SecyRef { connection: c.id.clone(), member: 0 };
        let mut conn = Conn::new(c, secy, Sci(0x0200_0000_000a_0001), [2, 0, 0, 0, 0, 0x0a]);
        for (i, ckn) in ckns.iter().enumerate() {
            let (ckn, cak) = (Ckn::from_hex(ckn).unwrap(), Cak::from_hex(&"5e".repeat(32)).unwrap());
            let keys = store.with_added("dxcon-s", &ckn, &cak, i as u64 + 1);
            store.save(keys).unwrap();
            conn.add_key(ckn, cak, i as u64 + 1, Instant::now());
        }
        Daemon { cfg, store, conns: vec![conn], dp: None, status_ids: Vec::new(), last_log: Vec::new() }
    }

    fn tick(d: &mut Daemon) {
        if let Some(op) = d.tick(true) {
            d.run_op(op);
        }
    }

    fn schedule(d: &mut Daemon, ckn: &str, days: u32) -> crate::operator_proto::OpReply {
        d.operate(OpRequest::ScheduleKeyDeletion { connection_id: "dxcon-s".into(), ckn: ckn.into(), days })
    }

    #[test]
    fn schedule_key_deletion_outside_the_window_is_refused_and_changes_nothing() {
        let dir = std::env::temp_dir().join(format!("schedule-window-{}", std::process::id()));
        let mut d = daemon(&dir, &[CKN1]);
        for days in [6, 31, 0] {
            let r = schedule(&mut d, CKN1, days);
            assert_eq!(r.error.as_deref(), Some(format!("days: expected 7 to 30, got {days}").as_str()));
            assert_eq!(d.store.entries()[0].delete_at, None);
        }
        let before = unix_now();
        let r = schedule(&mut d, CKN1, 7);
        assert!(r.ok, "{r:?}");
        let at = d.store.entries()[0].delete_at.unwrap();
        assert!(at >= before + 7 * 86_400 && at <= unix_now() + 7 * 86_400);
        // Not due yet: the tick keeps the key.
        tick(&mut d);
        assert_eq!((d.store.entries().len(), d.conns[0].keys.len()), (1, 1));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_due_deletion_disassociates_the_key() {
        let dir = std::env::temp_dir().join(format!("schedule-due-{}", std::process::id()));
        let mut d = daemon(&dir, &[CKN1, CKN2]);
        let mut keys = d.store.entries().to_vec();
        keys.iter_mut().find(|e| e.ckn == CKN1).unwrap().delete_at = Some(unix_now() - 1);
        d.store.save(keys).unwrap();
        assert_eq!(due(d.store.entries(), unix_now()), vec![("dxcon-s".to_owned(), CKN1.to_owned())]);
        tick(&mut d);
        let left: Vec<&str> = d.store.entries().iter().map(|e| e.ckn.as_str()).collect();
        assert_eq!(left, [CKN2], "removed from the key store");
        assert_eq!(d.conns[0].keys.iter().map(|k| k.ckn.to_string()).collect::<Vec<_>>(), [CKN2]);
        assert_eq!(d.conns[0].mode, EncryptionMode::MustEncrypt, "a key is left: the mode stays");
        // The last key's deletion falls due: must_encrypt becomes should_encrypt.
        let mut keys = d.store.entries().to_vec();
        keys[0].delete_at = Some(unix_now());
        d.store.save(keys).unwrap();
        tick(&mut d);
        assert!(d.store.entries().is_empty() && d.conns[0].keys.is_empty());
        assert_eq!(d.conns[0].mode, EncryptionMode::ShouldEncrypt);
        // Reopened, the store no longer has them.
        let again = KeyStore::open(&d.cfg.mka.key_store, &d.cfg.mka.master_key_file).unwrap();
        assert!(again.entries().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
