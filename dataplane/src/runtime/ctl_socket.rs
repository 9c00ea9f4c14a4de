//! The control socket server: Unix `SOCK_SEQPACKET`, mode 0600, non-blocking, polled by the
//! service lcore. Clients with another uid than ours (or root) are refused at accept.

use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use socket2::{Domain, SockAddr, Socket, Type};
use zeroize::Zeroize;

use crate::appliance::ctl_proto::{RequestMsg, ServerMsg, MAX_MESSAGE};

/// One connected client.
pub struct Client {
    sock: Socket,
    /// Receives events (EAPOL, PN threshold).
    pub subscribed: bool,
}

/// What one poll of a client produced.
pub enum Incoming {
    Request(RequestMsg),
    /// A datagram that is not a valid request (the reply says why).
    Malformed(String),
}

pub struct CtlServer {
    listener: Socket,
    path: PathBuf,
    pub clients: Vec<Client>,
    buf: Box<[u8]>,
    /// Clients refused for their credentials.
    pub refused: u64,
}

impl CtlServer {
    /// Binds `path` (replacing a stale socket file) with mode 0600.
    pub fn bind(path: &Path) -> io::Result<CtlServer> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let listener = Socket::new(Domain::UNIX, Type::SEQPACKET, None)?;
        // Created 0600 from the start: no window in which another user could connect.
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
        let bound = listener.bind(&SockAddr::unix(path)?);
        nix::sys::stat::umask(old);
        bound?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.listen(8)?;
        listener.set_nonblocking(true)?;
        Ok(CtlServer {
            listener,
            path: path.to_owned(),
            clients: Vec::new(),
            buf: vec![0u8; MAX_MESSAGE].into(),
            refused: 0,
        })
    }

    /// Accepts waiting clients whose uid is ours or root.
    pub fn accept(&mut self) {
        while let Ok((sock, _)) = self.listener.accept() {
            let Ok(cred) = getsockopt(&sock, PeerCredentials) else { continue };
            let me = nix::unistd::geteuid().as_raw();
            if cred.uid() != me && cred.uid() != 0 {
                self.refused += 1;
                eprintln!("macsec-dataplane: control client refused: uid {} is not {me} or root", cred.uid());
                continue;
            }
            if sock.set_nonblocking(true).is_ok() {
                eprintln!("macsec-dataplane: control client connected (uid {}, pid {})", cred.uid(), cred.pid());
                self.clients.push(Client { sock, subscribed: false });
            }
        }
    }

    /// The next datagram of client `i`, if any. A closed client is removed (returns `None`).
    pub fn recv(&mut self, i: usize) -> Option<Incoming> {
        let c = self.clients.get_mut(i)?;
        match (&c.sock).read(&mut self.buf) {
            Ok(0) => {
                self.clients.remove(i);
                None
            }
            Ok(n) => {
                let parsed = serde_json::from_slice::<RequestMsg>(&self.buf[..n]);
                // The datagram may hold a SAK in hex.
                self.buf[..n].zeroize();
                // serde_json's message can quote a value (a key in the wrong field): report the
                // position and the kind of error only.
                Some(match parsed {
                    Ok(m) => Incoming::Request(m),
                    Err(e) => Incoming::Malformed(format!(
                        "not a valid request ({:?} error at column {}): expected {{\"id\": N, \"req\": {{\"op\": ...}}}} as in docs/control-socket.md",
                        e.classify(),
                        e.column()
                    )),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(_) => {
                self.clients.remove(i);
                None
            }
        }
    }

    /// Sends a message to client `i`; a client that cannot take it is dropped.
    pub fn send(&mut self, i: usize, msg: &ServerMsg) {
        let Some(c) = self.clients.get(i) else { return };
        let Ok(bytes) = serde_json::to_vec(msg) else { return };
        if c.sock.send(&bytes).is_err() {
            self.clients.remove(i);
        }
    }

    /// Sends an event to every subscribed client.
    pub fn broadcast(&mut self, msg: &ServerMsg) {
        let Ok(bytes) = serde_json::to_vec(msg) else { return };
        self.clients.retain(|c| !c.subscribed || c.sock.send(&bytes).is_ok());
    }
}

impl Drop for CtlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
