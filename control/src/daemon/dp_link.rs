//! The link to the dataplane's control socket (Unix SOCK_SEQPACKET, one JSON message per
//! datagram; see docs/control-socket.md), driven by tokio.

use std::io;
use std::path::Path;

use macsec_dataplane::appliance::ctl_proto::{Request, RequestMsg, ServerMsg, MAX_MESSAGE};
use socket2::{Domain, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use zeroize::Zeroize;

pub struct DpLink {
    fd: AsyncFd<Socket>,
    next_id: u64,
    buf: Vec<u8>,
}

impl DpLink {
    pub fn connect(path: &Path) -> io::Result<DpLink> {
        let s = Socket::new(Domain::UNIX, Type::SEQPACKET, None)?;
        s.connect(&SockAddr::unix(path)?)?;
        s.set_nonblocking(true)?;
        // `new` is deprecated for I/O safety (a registered fd closed elsewhere); here the AsyncFd
        // owns the socket, so the fd lives exactly as long as its registration. Its replacement
        // `register` is `unsafe`, which this crate forbids.
        #[allow(deprecated)]
        let fd = AsyncFd::new(s)?;
        Ok(DpLink { fd, next_id: 0, buf: vec![0u8; MAX_MESSAGE] })
    }

    /// Sends a request; returns its id. The serialized datagram (it may hold a SAK) is zeroized.
    pub fn send(&mut self, req: Request) -> io::Result<u64> {
        self.next_id += 1;
        let id = self.next_id;
        let mut bytes = serde_json::to_vec(&RequestMsg { id, req }).map_err(io::Error::other)?;
        let r = self.fd.get_ref().send(&bytes);
        bytes.zeroize();
        match r {
            Ok(_) => Ok(id),
            Err(e) => Err(e),
        }
    }

    /// The next message from the dataplane.
    pub async fn recv(&mut self) -> io::Result<ServerMsg> {
        loop {
            let mut guard = self.fd.readable().await?;
            let buf = &mut self.buf;
            match guard.try_io(|inner| {
                let mut b = inner.get_ref();
                std::io::Read::read(&mut b, buf)
            }) {
                Ok(Ok(0)) => return Err(io::Error::new(io::ErrorKind::ConnectionReset, "dataplane closed the socket")),
                Ok(Ok(n)) => return serde_json::from_slice(&self.buf[..n]).map_err(io::Error::other),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}
