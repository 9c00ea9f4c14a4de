//! Ethernet ports: find by name, configure queues, start, stop, rx/tx bursts, stats, link.

use std::ffi::CString;

use super::{DpdkError, Mbuf, MbufBurst, Mempool};

/// A DPDK port id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port(pub u16);

/// `rte_eth_stats` (the part we export).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    pub ipackets: u64,
    pub opackets: u64,
    pub ibytes: u64,
    pub obytes: u64,
    pub imissed: u64,
    pub ierrors: u64,
    pub oerrors: u64,
    pub rx_nombuf: u64,
    /// Per queue (the first `RTE_ETHDEV_QUEUE_STAT_CNTRS` = 16 queues).
    pub q_ipackets: [u64; 16],
    pub q_opackets: [u64; 16],
    pub q_ibytes: [u64; 16],
    pub q_obytes: [u64; 16],
}

/// Link state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStatus {
    pub up: bool,
    pub speed_mbps: u32,
}

impl Port {
    /// The port of a device: a PCI address or the name of a vdev (the part of the `--vdev`
    /// string before the first comma).
    pub fn by_name(device: &str) -> Result<Port, DpdkError> {
        let name = device.split(',').next().unwrap_or(device);
        let c = CString::new(name).map_err(|_| DpdkError::new("rte_eth_dev_get_port_by_name (NUL)", 22))?;
        let mut id = 0u16;
        // SAFETY: c is a valid C string; id is a valid out pointer.
        let rc = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
        DpdkError::check(|| format!("rte_eth_dev_get_port_by_name({name})"), rc)?;
        Ok(Port(id))
    }

    /// Configures `rxq` receive and `txq` transmit queues of `desc` descriptors each. With
    /// several receive queues, RSS over every flow type the NIC can hash spreads the flows (a
    /// PMD without RSS, like af_packet with its kernel fanout, spreads them itself).
    pub fn configure(self, rxq: u16, txq: u16, desc: u16, pool: &Mempool) -> Result<(), DpdkError> {
        let mut conf = dpdk_sys::rte_eth_conf::default();
        let info = self.info()?;
        if rxq > info.max_rx_queues || txq > info.max_tx_queues {
            return Err(DpdkError::new(
                "rte_eth_dev_configure: more queues than the device has (see its max_rx_queues/max_tx_queues)",
                22,
            ));
        }
        if rxq > 1 && info.flow_type_rss_offloads != 0 {
            conf.rxmode.mq_mode = dpdk_sys::RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads;
        }
        // SAFETY: valid port id and a zeroed (default) config.
        let rc = unsafe { dpdk_sys::rte_eth_dev_configure(self.0, rxq, txq, &conf) };
        DpdkError::check(|| format!("rte_eth_dev_configure(port {})", self.0), rc)?;
        // SAFETY: the port was configured above.
        let socket = unsafe { dpdk_sys::rte_eth_dev_socket_id(self.0) };
        let socket = if socket < 0 { 0 } else { socket as u32 };
        for q in 0..rxq {
            // SAFETY: queue index < configured count; NULL rxconf = driver defaults; valid pool.
            let rc =
                unsafe { dpdk_sys::rte_eth_rx_queue_setup(self.0, q, desc, socket, std::ptr::null(), pool.as_ptr()) };
            DpdkError::check(|| format!("rte_eth_rx_queue_setup(port {}, queue {q})", self.0), rc)?;
        }
        for q in 0..txq {
            // SAFETY: queue index < configured count; NULL txconf = driver defaults.
            let rc = unsafe { dpdk_sys::rte_eth_tx_queue_setup(self.0, q, desc, socket, std::ptr::null()) };
            DpdkError::check(|| format!("rte_eth_tx_queue_setup(port {}, queue {q})", self.0), rc)?;
        }
        Ok(())
    }

    pub fn start(self) -> Result<(), DpdkError> {
        // SAFETY: valid, configured port.
        let rc = unsafe { dpdk_sys::rte_eth_dev_start(self.0) };
        DpdkError::check(|| format!("rte_eth_dev_start(port {})", self.0), rc)?;
        // Promiscuous: a bump in the wire forwards every frame. Not all PMDs support it.
        // SAFETY: valid, started port.
        let _ = unsafe { dpdk_sys::rte_eth_promiscuous_enable(self.0) };
        Ok(())
    }

    pub fn stop(self) -> Result<(), DpdkError> {
        // SAFETY: valid port.
        let rc = unsafe { dpdk_sys::rte_eth_dev_stop(self.0) };
        DpdkError::check(|| format!("rte_eth_dev_stop(port {})", self.0), rc).map(|_| ())
    }

    pub fn close(self) -> Result<(), DpdkError> {
        // SAFETY: valid, stopped port.
        let rc = unsafe { dpdk_sys::rte_eth_dev_close(self.0) };
        DpdkError::check(|| format!("rte_eth_dev_close(port {})", self.0), rc).map(|_| ())
    }

    pub fn mac(self) -> Result<[u8; 6], DpdkError> {
        let mut a = dpdk_sys::rte_ether_addr::default();
        // SAFETY: valid port and out pointer.
        let rc = unsafe { dpdk_sys::rte_eth_macaddr_get(self.0, &mut a) };
        DpdkError::check(|| format!("rte_eth_macaddr_get(port {})", self.0), rc)?;
        Ok(a.addr_bytes)
    }

    fn info(self) -> Result<dpdk_sys::rte_eth_dev_info, DpdkError> {
        let mut info = dpdk_sys::rte_eth_dev_info::default();
        // SAFETY: valid port id and out pointer; DPDK fills the struct.
        let rc = unsafe { dpdk_sys::rte_eth_dev_info_get(self.0, &mut info) };
        DpdkError::check(|| format!("rte_eth_dev_info_get(port {})", self.0), rc)?;
        Ok(info)
    }

    pub fn stats(self) -> Result<PortStats, DpdkError> {
        let mut s = dpdk_sys::rte_eth_stats::default();
        // SAFETY: valid port and out pointer.
        let rc = unsafe { dpdk_sys::rte_eth_stats_get(self.0, &mut s) };
        DpdkError::check(|| format!("rte_eth_stats_get(port {})", self.0), rc)?;
        Ok(PortStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
            q_ipackets: s.q_ipackets,
            q_opackets: s.q_opackets,
            q_ibytes: s.q_ibytes,
            q_obytes: s.q_obytes,
        })
    }

    pub fn link(self) -> Result<LinkStatus, DpdkError> {
        let mut l = dpdk_sys::rte_eth_link::default();
        // SAFETY: valid port and out pointer; the nowait variant does not block.
        let rc = unsafe { dpdk_sys::rte_eth_link_get_nowait(self.0, &mut l) };
        DpdkError::check(|| format!("rte_eth_link_get_nowait(port {})", self.0), rc)?;
        Ok(LinkStatus { up: l.link_status() != 0, speed_mbps: l.link_speed })
    }

    /// Receives up to a burst into the empty `burst`; returns how many arrived.
    pub fn rx_burst(self, queue: u16, burst: &mut MbufBurst) -> usize {
        let port = self.0;
        burst.fill_with(|ptrs, n| {
            // SAFETY: ptrs has room for n mbuf pointers; the PMD fills at most n and hands
            // their ownership to us.
            unsafe { dpdk_sys::shim_rx_burst(port, queue, ptrs, n) }
        });
        burst.len()
    }

    /// Transmits the burst. The first `sent` mbufs now belong to the PMD; the rest stay in
    /// `burst` (in order) for the caller to retry or free. Returns `sent`.
    pub fn tx_burst(self, queue: u16, burst: &mut MbufBurst) -> usize {
        if burst.is_empty() {
            return 0;
        }
        let n = burst.len() as u16;
        // SAFETY: the first n pointers are owned mbufs; the PMD takes ownership of the first
        // `sent` of them, which `consumed` then forgets without freeing.
        let sent = usize::from(unsafe { dpdk_sys::shim_tx_burst(self.0, queue, burst.as_mut_ptr(), n) });
        burst.consumed(sent);
        sent
    }

    /// Sends one mbuf; gives it back if the queue is full.
    pub fn tx_one(self, queue: u16, m: Mbuf) -> Result<(), Mbuf> {
        let mut b = MbufBurst::new();
        b.push(m)?;
        if self.tx_burst(queue, &mut b) == 1 {
            return Ok(());
        }
        match b.pop() {
            Some(m) => Err(m),
            None => Ok(()),
        }
    }
}

impl Port {
    /// An ethdev over two rings (`rte_eth_from_rings`): frames sent go into `tx`, frames
    /// received come from `rx`. Two ports with their rings crossed make a wire.
    pub fn from_rings(name: &str, rx: &super::Ring, tx: &super::Ring) -> Result<Port, DpdkError> {
        let c = CString::new(name).map_err(|_| DpdkError::new("rte_eth_from_rings (NUL)", 22))?;
        let rxs = [rx.as_ptr()];
        let txs = [tx.as_ptr()];
        // SAFETY: valid name and one valid ring per direction; the rings outlive the port
        // (the caller keeps them).
        let rc = unsafe { dpdk_sys::rte_eth_from_rings(c.as_ptr(), rxs.as_ptr(), 1, txs.as_ptr(), 1, 0) };
        let id = DpdkError::check(|| format!("rte_eth_from_rings({name})"), rc)?;
        Ok(Port(id as u16))
    }
}
