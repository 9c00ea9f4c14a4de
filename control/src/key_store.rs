//! The key store: CAKs encrypted at rest (ChaCha20-Poly1305 under a master key, the connection and
//! CKN bound as associated data), file mode 0600, written atomically (temp file, fsync, rename).
//! A stored key is immutable; only its deletion can be scheduled. SAKs are never stored.
//!
//! A failed write (full disk, read-only file system) is an error and leaves both the file and the
//! caller's running state unchanged: the caller changes its keychain only after `save` succeeded.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::mka::keys::{Cak, Ckn};

#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The file or directory could not be read or written.
    Io { path: PathBuf, what: &'static str, err: std::io::Error },
    /// The master key or store file is readable by group or others.
    Mode { path: PathBuf, mode: u32 },
    /// The master key file does not hold 32 octets (64 hex digits).
    MasterKey { path: PathBuf },
    /// The store file is not valid JSON of the expected form.
    Format { path: PathBuf, detail: String },
    /// A sealed CAK did not decrypt: another master key, or the file was altered.
    Unseal { connection: String, ckn: String },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, what, err } => write!(f, "key store: cannot {what} {}: {err}", path.display()),
            Self::Mode { path, mode } => {
                write!(
                    f,
                    "key store: {} has mode {mode:o}; expected 0600 (no access for group or others)",
                    path.display()
                )
            }
            Self::MasterKey { path } => write!(f, "key store: {}: expected 32 octets or 64 hex digits", path.display()),
            Self::Format { path, detail } => {
                write!(f, "key store: {} is not a valid key store: {detail}", path.display())
            }
            Self::Unseal { connection, ckn } => write!(
                f,
                "key store: the CAK of connection {connection} CKN {ckn} does not decrypt with this master key"
            ),
        }
    }
}

impl std::error::Error for StoreError {}

/// One stored key. `sealed` = nonce (12) ‖ ciphertext ‖ tag, hex.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub connection: String,
    pub ckn: String,
    sealed: String,
    /// Seconds since the epoch.
    pub associated_at: u64,
    /// When set, the key is disassociated and removed at this time.
    #[serde(default)]
    pub delete_at: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    keys: Vec<Entry>,
}

pub struct KeyStore {
    path: PathBuf,
    master: Key,
    file: File,
}

impl Drop for KeyStore {
    fn drop(&mut self) {
        self.master.as_mut_slice().zeroize();
    }
}

fn io<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |err| StoreError::Io { path: path.to_owned(), what, err }
}

fn check_mode(path: &Path) -> Result<(), StoreError> {
    let mode = std::fs::metadata(path).map_err(io(path, "stat"))?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StoreError::Mode { path: path.to_owned(), mode });
    }
    Ok(())
}

/// Reads the master key, creating 32 random octets (mode 0600) when the file does not exist.
fn master_key(path: &Path) -> Result<Key, StoreError> {
    if !path.exists() {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(io(d, "create"))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io(path, "create"))?;
        let written = f.write_all(&k).and_then(|()| f.sync_all());
        k.zeroize();
        written.map_err(io(path, "write"))?;
    }
    check_mode(path)?;
    let mut raw = std::fs::read(path).map_err(io(path, "read"))?;
    let mut key = [0u8; 32];
    let ok = match raw.len() {
        32 => {
            key.copy_from_slice(&raw);
            true
        }
        64 | 65 => hex::decode_to_slice(raw[..64].trim_ascii(), &mut key).is_ok(),
        _ => false,
    };
    raw.zeroize();
    if !ok {
        return Err(StoreError::MasterKey { path: path.to_owned() });
    }
    let k = *Key::from_slice(&key);
    key.zeroize();
    Ok(k)
}

impl KeyStore {
    /// Opens (or creates, empty) the store at `path` with the master key at `master_path`.
    pub fn open(path: &Path, master_path: &Path) -> Result<KeyStore, StoreError> {
        let master = master_key(master_path)?;
        let file = if path.exists() {
            check_mode(path)?;
            let text = std::fs::read_to_string(path).map_err(io(path, "read"))?;
            serde_json::from_str(&text)
                .map_err(|e| StoreError::Format { path: path.to_owned(), detail: format!("line {}", e.line()) })?
        } else {
            File { version: 1, keys: Vec::new() }
        };
        Ok(KeyStore { path: path.to_owned(), master, file })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.file.keys
    }

    /// The CAK of an entry.
    pub fn unseal(&self, e: &Entry) -> Result<Cak, StoreError> {
        let bad = || StoreError::Unseal { connection: e.connection.clone(), ckn: e.ckn.clone() };
        let mut raw = hex::decode(&e.sealed).map_err(|_| bad())?;
        if raw.len() < 12 + 16 {
            return Err(bad());
        }
        let (nonce, ct) = raw.split_at(12);
        let aad = format!("{}\n{}", e.connection, e.ckn);
        let cipher = ChaCha20Poly1305::new(&self.master);
        let mut plain =
            cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: aad.as_bytes() }).map_err(|_| bad())?;
        raw.zeroize();
        let cak = Cak::from_slice(&plain).map_err(|_| bad());
        plain.zeroize();
        cak
    }

    /// A new store state with the key added (not saved yet).
    pub fn with_added(&self, connection: &str, ckn: &Ckn, cak: &Cak, now: u64) -> Vec<Entry> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = format!("{connection}\n{ckn}");
        let cipher = ChaCha20Poly1305::new(&self.master);
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: cak.expose(), aad: aad.as_bytes() })
            .unwrap_or_default();
        let mut keys = self.file.keys.clone();
        keys.push(Entry {
            connection: connection.to_owned(),
            ckn: ckn.to_string(),
            sealed: format!("{}{}", hex::encode(nonce), hex::encode(ct)),
            associated_at: now,
            delete_at: None,
        });
        keys
    }

    /// Writes `keys` atomically (mode 0600) and makes them the store's state.
    pub fn save(&mut self, keys: Vec<Entry>) -> Result<(), StoreError> {
        let p = self.prepare(keys)?;
        p.write()?;
        self.commit(p);
        Ok(())
    }

    /// `keys` serialized, to be written by [`Pending::write`] (which may block for seconds on
    /// a busy disk, so the daemon runs it off its event loop) and then [`Self::commit`]ted.
    pub fn prepare(&self, keys: Vec<Entry>) -> Result<Pending, StoreError> {
        let file = File { version: 1, keys };
        let text = serde_json::to_string_pretty(&file)
            .map_err(|e| StoreError::Format { path: self.path.clone(), detail: e.to_string() })?;
        Ok(Pending { path: self.path.clone(), text, file })
    }

    /// Makes a written state the store's state.
    pub fn commit(&mut self, p: Pending) {
        self.file = p.file;
    }
}

/// A store state ready to write. It holds sealed CAKs only.
pub struct Pending {
    path: PathBuf,
    text: String,
    file: File,
}

impl Pending {
    /// Writes the file atomically: temp file (mode 0600), fsync, rename. On error the old file
    /// stays as it was.
    pub fn write(&self) -> Result<(), StoreError> {
        if let Some(d) = self.path.parent() {
            std::fs::create_dir_all(d).map_err(io(d, "create"))?;
        }
        let tmp = self.path.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            f.write_all(self.text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            StoreError::Io { path: self.path.clone(), what: "write", err: e }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cak_sealed_at_rest_mode_0600_and_reopens() {
        let dir = std::env::temp_dir().join(format!("ks-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (path, master) = (dir.join("store.json"), dir.join("master.key"));
        let mut ks = KeyStore::open(&path, &master).unwrap();
        let cak_hex = "1122334455667788990011223344556677889900112233445566778899001122";
        let cak = Cak::from_hex(cak_hex).unwrap();
        let ckn = Ckn::from_hex(&"ab".repeat(32)).unwrap();
        let keys = ks.with_added("dxcon-1", &ckn, &cak, 1);
        ks.save(keys).unwrap();
        let text = std::fs::read(&path).unwrap();
        assert!(!String::from_utf8_lossy(&text).contains(cak_hex));
        assert!(!text.windows(32).any(|w| w == cak.expose()));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&master).unwrap().permissions().mode() & 0o777, 0o600);
        let again = KeyStore::open(&path, &master).unwrap();
        assert_eq!(again.unseal(&again.entries()[0]).unwrap().expose(), cak.expose());
        // Another master key cannot unseal; a loose mode is refused.
        std::fs::remove_file(&master).unwrap();
        let other = KeyStore::open(&path, &master).unwrap();
        assert!(matches!(other.unseal(&other.entries()[0]), Err(StoreError::Unseal { .. })));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(KeyStore::open(&path, &master), Err(StoreError::Mode { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failed_write_keeps_the_old_state() {
        let dir = std::env::temp_dir().join(format!("ks-ro-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut ks = KeyStore::open(&dir.join("sub/store.json"), &dir.join("master.key")).unwrap();
        // The store's directory is a file: the write fails.
        std::fs::write(dir.join("sub"), b"x").unwrap();
        let cak = Cak::from_hex(&"11".repeat(32)).unwrap();
        let keys = ks.with_added("c", &Ckn::from_hex("ab").unwrap(), &cak, 1);
        assert!(matches!(ks.save(keys), Err(StoreError::Io { .. })));
        assert!(ks.entries().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
