//! The dataplane's config file (`appliance.toml`), parsed and checked before anything starts.
//!
//! Every error names the key, the bad value and the expected form
//! (`connections[0].cipher_suite = "gcm-aes-512": expected one of gcm-aes-128, …`);
//! `macsec-dataplane --check-config` prints it and exits 2. The format is documented field by
//! field in `deploy/examples/appliance.toml`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::lag;
use crate::secy::{CipherSuite, ConfidentialityOffset, ValidateFrames};

/// Default XPN rekey threshold: far before 2^64 (ARCHITECTURE.md, PN order).
pub const XPN_PN_THRESHOLD: u64 = 1 << 62;
/// Non-XPN rekey threshold (802.1X-2020 9.8: the key server acts before the 32-bit PN wraps).
pub const PN_THRESHOLD: u64 = 0xc000_0000;

/// A config error: which key, which value, what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub value: String,
    pub expected: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, value: impl fmt::Display, expected: impl Into<String>) -> Self {
        ConfigError { key: key.into(), value: value.to_string(), expected: expected.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}: {}", self.key, self.expected)
        } else {
            write!(f, "{} = {}: expected {}", self.key, self.value, self.expected)
        }
    }
}

impl std::error::Error for ConfigError {}

/// What a connection does with traffic while MACsec is not up (AWS Direct Connect semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncryptionMode {
    /// Nothing passes in clear, ever; without a SA frames are dropped and counted.
    MustEncrypt,
    /// Clear traffic passes until a SA is installed; then only MACsec (and EAPOL).
    ShouldEncrypt,
    /// Pass-through.
    NoEncrypt,
}

impl EncryptionMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::MustEncrypt => "must_encrypt",
            Self::ShouldEncrypt => "should_encrypt",
            Self::NoEncrypt => "no_encrypt",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "must_encrypt" => Some(Self::MustEncrypt),
            "should_encrypt" => Some(Self::ShouldEncrypt),
            "no_encrypt" => Some(Self::NoEncrypt),
            _ => None,
        }
    }
}

/// Where the SAs of a connection come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// From the control process (MKA) over the control socket.
    Control,
    /// From a key file (labs and tests).
    Static(PathBuf),
}

/// One wire port (a LAG member when a connection has several).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WirePort {
    pub device: String,
    pub speed_gbps: Option<u32>,
}

/// A host port + wire port(s) pair with its SecY settings.
#[derive(Clone, Debug)]
pub struct Connection {
    pub id: String,
    pub host_port: String,
    pub wire_ports: Vec<WirePort>,
    pub workers: u16,
    /// Rx/Tx queue pairs per port (RSS spreads the host's flows over them; all are polled).
    pub queues: u16,
    pub cipher_suite: CipherSuite,
    pub encryption_mode: EncryptionMode,
    pub validate_frames: ValidateFrames,
    pub replay_protect: bool,
    pub replay_window: u32,
    pub confidentiality_offset: ConfidentialityOffset,
    pub max_frame_len: usize,
    pub sci_port: u16,
    pub pn_threshold: u64,
    pub key_source: KeySource,
    /// MKA Key Server Priority (lower wins; 255 = never key server). Default 16.
    pub key_server_priority: u8,
    /// Distribute a new SAK this often (seconds; 0 = only on the other triggers). Default 0.
    pub rekey_interval_s: u64,
}

/// EAL settings.
#[derive(Clone, Debug)]
pub struct Eal {
    pub lcores: String,
    pub huge_pages: bool,
    pub memory_mb: u32,
    pub file_prefix: String,
    pub extra_args: Vec<String>,
}

/// Settings of `macsec-control` (the `[control]` section besides `socket`).
#[derive(Clone, Debug)]
pub struct ControlSettings {
    /// The operator socket `macsecctl` talks to (JSON, mode 0600, peer uid checked).
    pub operator_socket: PathBuf,
    /// CAKs encrypted at rest (mode 0600).
    pub key_store: PathBuf,
    /// 32 random octets (mode 0600), created if missing; or a systemd credential path.
    pub master_key_file: PathBuf,
    /// macsec-control's own Prometheus endpoint.
    pub metrics_listen: SocketAddr,
}

/// The whole checked config.
#[derive(Clone, Debug)]
pub struct Config {
    pub eal: Eal,
    pub control_socket: PathBuf,
    pub metrics_listen: SocketAddr,
    /// The control process (`macsec-control`) settings.
    pub mka: ControlSettings,
    pub mbufs: u32,
    pub connections: Vec<Connection>,
}

// ---------------------------------------------------------------------------------------------
// The file as written: strings where the checked form is an enum, every field optional where
// there is a default. Unknown keys are errors (a typo must not silently fall back to a default).

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    eal: Option<RawEal>,
    control: Option<RawControl>,
    metrics: Option<RawMetrics>,
    mbufs: Option<u32>,
    #[serde(default)]
    connections: Vec<RawConnection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEal {
    lcores: Option<String>,
    huge_pages: Option<bool>,
    memory_mb: Option<u32>,
    file_prefix: Option<String>,
    #[serde(default)]
    extra_args: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawControl {
    socket: Option<PathBuf>,
    operator_socket: Option<PathBuf>,
    key_store: Option<PathBuf>,
    master_key_file: Option<PathBuf>,
    metrics_listen: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWirePort {
    device: String,
    speed_gbps: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnection {
    id: Option<String>,
    host_port: Option<String>,
    wire_port: Option<String>,
    wire_ports: Option<Vec<RawWirePort>>,
    workers: Option<u16>,
    queues: Option<u16>,
    cipher_suite: Option<String>,
    encryption_mode: Option<String>,
    validate_frames: Option<String>,
    replay_protect: Option<bool>,
    replay_window: Option<u32>,
    confidentiality_offset: Option<u32>,
    max_frame_len: Option<u32>,
    sci_port: Option<u16>,
    pn_threshold: Option<u64>,
    key_source: Option<String>,
    static_key_file: Option<PathBuf>,
    key_server_priority: Option<u8>,
    rekey_interval_s: Option<u64>,
}

impl Config {
    /// Parses and checks the text of a config file.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        let eal = check_eal(raw.eal)?;
        let control = raw.control.unwrap_or(RawControl {
            socket: None,
            operator_socket: None,
            key_store: None,
            master_key_file: None,
            metrics_listen: None,
        });
        let control_socket = control.socket.unwrap_or_else(|| PathBuf::from("/run/macsec/dataplane.sock"));
        let mka_listen = control.metrics_listen.unwrap_or_else(|| "127.0.0.1:9465".to_owned());
        let mka = ControlSettings {
            operator_socket: control.operator_socket.unwrap_or_else(|| PathBuf::from("/run/macsec/control.sock")),
            key_store: control.key_store.unwrap_or_else(|| PathBuf::from("/var/lib/macsec/keystore.json")),
            master_key_file: control.master_key_file.unwrap_or_else(|| PathBuf::from("/etc/macsec/master.key")),
            metrics_listen: mka_listen.parse().map_err(|_| {
                ConfigError::new(
                    "control.metrics_listen",
                    format!("{mka_listen:?}"),
                    "ADDRESS:PORT, e.g. \"127.0.0.1:9465\"",
                )
            })?,
        };
        let listen = raw.metrics.and_then(|m| m.listen).unwrap_or_else(|| "127.0.0.1:9464".to_owned());
        let metrics_listen = listen.parse().map_err(|_| {
            ConfigError::new("metrics.listen", format!("{listen:?}"), "ADDRESS:PORT, e.g. \"127.0.0.1:9464\"")
        })?;
        if raw.connections.is_empty() {
            return Err(ConfigError::new("connections", "", "at least one [[connections]] section"));
        }
        let connections = raw
            .connections
            .into_iter()
            .enumerate()
            .map(|(i, c)| check_connection(i, c))
            .collect::<Result<Vec<_>, _>>()?;
        check_unique(&connections)?;
        let mbufs = raw.mbufs.unwrap_or(8191);
        if !(1023..=1 << 20).contains(&mbufs) {
            return Err(ConfigError::new("mbufs", mbufs, "a number of mbufs between 1023 and 1048576"));
        }
        Ok(Config { eal, control_socket, metrics_listen, mka, mbufs, connections })
    }

    /// The EAL argument list: lcores, memory, the devices (`-a` for PCI addresses, `--vdev` for
    /// vdevs; `--no-pci` when there is no PCI device), then `extra_args`.
    pub fn eal_args(&self) -> Vec<String> {
        let mut a = vec!["macsec-dataplane".to_owned(), "--lcores".to_owned(), self.eal.lcores.clone()];
        a.extend(["--file-prefix".to_owned(), self.eal.file_prefix.clone()]);
        a.extend(["-m".to_owned(), self.eal.memory_mb.to_string()]);
        if !self.eal.huge_pages {
            a.push("--no-huge".to_owned());
        }
        let devices = self
            .connections
            .iter()
            .flat_map(|c| std::iter::once(c.host_port.as_str()).chain(c.wire_ports.iter().map(|w| w.device.as_str())));
        let mut pci = false;
        for dev in devices {
            if dev.starts_with("net_") {
                a.extend(["--vdev".to_owned(), dev.to_owned()]);
            } else {
                pci = true;
                a.extend(["-a".to_owned(), dev.to_owned()]);
            }
        }
        if !pci {
            a.push("--no-pci".to_owned());
        }
        a.extend(self.eal.extra_args.iter().cloned());
        a
    }

    /// Reads and checks a config file.
    pub fn load(path: &std::path::Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(path.display().to_string(), "", format!("a readable config file ({e})")))?;
        Self::parse(&text)
    }
}

/// Turns a TOML syntax or type error into the key/value/expected form: the key and value come
/// from the line the error points at, the table from the last header above it.
fn toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let msg = e.message().trim();
    let Some(span) = e.span() else { return ConfigError::new("config", "", msg) };
    let before = &text[..span.start.min(text.len())];
    let line_no = before.matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
    let table = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').to_owned());
    // "invalid type: string \"no\", expected a boolean" → "a boolean"; other messages stay whole.
    let expected = match msg.split_once(", expected ") {
        Some((_, want)) if msg.starts_with("invalid") => format!("{want} (line {line_no})"),
        _ => format!("no {msg} (line {line_no})"),
    };
    // A line with nothing before its `=`, or a table header with no name, names no key: the
    // error then names the config (and the line) rather than an empty key.
    let table = table.filter(|t| !t.trim().is_empty());
    match line.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => {
            let key = table.map_or(k.trim().to_owned(), |t| format!("{t}.{}", k.trim()));
            ConfigError::new(key, v.trim(), expected)
        }
        _ => ConfigError::new(table.unwrap_or_else(|| "config".to_owned()), "", expected),
    }
}

fn check_eal(raw: Option<RawEal>) -> Result<Eal, ConfigError> {
    let raw = raw.unwrap_or(RawEal {
        lcores: None,
        huge_pages: None,
        memory_mb: None,
        file_prefix: None,
        extra_args: vec![],
    });
    let lcores = raw.lcores.unwrap_or_else(|| "0,1".to_owned());
    let lcore_ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || ",-@()".contains(c));
    if !lcore_ok(&lcores) {
        return Err(ConfigError::new(
            "eal.lcores",
            format!("{lcores:?}"),
            "an EAL --lcores list such as \"0,1\" or \"0@0,1@1,2@1\"",
        ));
    }
    let file_prefix = raw.file_prefix.unwrap_or_else(|| "macsec".to_owned());
    if file_prefix.is_empty() || !file_prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(ConfigError::new("eal.file_prefix", format!("{file_prefix:?}"), "letters, digits, '-' or '_'"));
    }
    let memory_mb = raw.memory_mb.unwrap_or(512);
    if !(64..=1 << 20).contains(&memory_mb) {
        return Err(ConfigError::new("eal.memory_mb", memory_mb, "a size in MiB between 64 and 1048576"));
    }
    Ok(Eal { lcores, huge_pages: raw.huge_pages.unwrap_or(true), memory_mb, file_prefix, extra_args: raw.extra_args })
}

fn check_connection(i: usize, c: RawConnection) -> Result<Connection, ConfigError> {
    let key = |k: &str| format!("connections[{i}].{k}");
    let id =
        c.id.ok_or_else(|| ConfigError::new(key("id"), "", "a connection id such as \"dxcon-fgabc123\" (missing)"))?;
    if id.is_empty() || !id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
        return Err(ConfigError::new(key("id"), format!("{id:?}"), "letters, digits, '-' or '_'"));
    }
    let host_port =
        c.host_port.ok_or_else(|| ConfigError::new(key("host_port"), "", "a PCI address or vdev string (missing)"))?;
    check_device(&key("host_port"), &host_port)?;
    let wire_ports = wire_ports(i, c.wire_port, c.wire_ports)?;
    let suite_text = c.cipher_suite.unwrap_or_else(|| "gcm-aes-xpn-256".to_owned());
    let cipher_suite = suite_text.parse::<CipherSuite>().map_err(|e| {
        ConfigError::new(key("cipher_suite"), format!("{suite_text:?}"), e.to_string().trim_start_matches("expected "))
    })?;
    let mode_text = c.encryption_mode.unwrap_or_else(|| "should_encrypt".to_owned());
    let encryption_mode = EncryptionMode::parse(&mode_text).ok_or_else(|| {
        ConfigError::new(
            key("encryption_mode"),
            format!("{mode_text:?}"),
            "one of must_encrypt, should_encrypt, no_encrypt",
        )
    })?;
    let vf_text = c.validate_frames.unwrap_or_else(|| "strict".to_owned());
    let validate_frames = vf_text.parse::<ValidateFrames>().map_err(|e| {
        ConfigError::new(key("validate_frames"), format!("{vf_text:?}"), e.trim_start_matches("expected "))
    })?;
    let offset = c.confidentiality_offset.unwrap_or(0);
    let confidentiality_offset = ConfidentialityOffset::from_octets(offset as usize)
        .ok_or_else(|| ConfigError::new(key("confidentiality_offset"), offset, "0, 30 or 50 (AWS requires 0)"))?;
    let queues = c.queues.unwrap_or(1);
    if !(1..=16).contains(&queues) {
        return Err(ConfigError::new(key("queues"), queues, "a number of queue pairs per port between 1 and 16"));
    }
    let workers = c.workers.unwrap_or(1);
    if !(1..=64).contains(&workers) {
        return Err(ConfigError::new(key("workers"), workers, "a number of worker lcores between 1 and 64"));
    }
    let max_frame_len = c.max_frame_len.unwrap_or(9216);
    if !(128..=16_128).contains(&max_frame_len) {
        return Err(ConfigError::new(
            key("max_frame_len"),
            max_frame_len,
            "octets between 128 and 16128 (DA to ICV, no FCS)",
        ));
    }
    let default_threshold = if cipher_suite.is_xpn() { XPN_PN_THRESHOLD } else { PN_THRESHOLD };
    let pn_threshold = c.pn_threshold.unwrap_or(default_threshold);
    if pn_threshold == 0 || pn_threshold > cipher_suite.max_pn() {
        return Err(ConfigError::new(
            key("pn_threshold"),
            pn_threshold,
            format!("a PN between 1 and {:#x} for {cipher_suite}", cipher_suite.max_pn()),
        ));
    }
    let key_source = key_source(i, c.key_source, c.static_key_file)?;
    if wire_ports.len() > 1 && matches!(key_source, KeySource::Static(_)) {
        // Every member is its own SecY and needs its own SAKs (802.1AE-2018 11.7): one static
        // key for several members would reuse an IV with XPN.
        return Err(ConfigError::new(
            format!("connections[{i}].key_source"),
            "\"static\"",
            "\"control\" for a LAG: each member runs its own MKA session and SAKs",
        ));
    }
    Ok(Connection {
        id,
        host_port,
        wire_ports,
        workers,
        queues,
        cipher_suite,
        encryption_mode,
        validate_frames,
        replay_protect: c.replay_protect.unwrap_or(true),
        replay_window: c.replay_window.unwrap_or(0),
        confidentiality_offset,
        max_frame_len: max_frame_len as usize,
        sci_port: c.sci_port.unwrap_or(1),
        pn_threshold,
        key_source,
        key_server_priority: c.key_server_priority.unwrap_or(16),
        rekey_interval_s: c.rekey_interval_s.unwrap_or(0),
    })
}

/// `wire_port = "dev"` for one port, or `wire_ports = [{ device, speed_gbps }, …]` for a LAG
/// whose members must all have the same speed.
fn wire_ports(i: usize, one: Option<String>, many: Option<Vec<RawWirePort>>) -> Result<Vec<WirePort>, ConfigError> {
    let ports = match (one, many) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(format!("connections[{i}]"), "", "either wire_port or wire_ports, not both"))
        }
        (None, None) => {
            return Err(ConfigError::new(
                format!("connections[{i}].wire_port"),
                "",
                "a PCI address or vdev string (missing)",
            ))
        }
        (Some(d), None) => vec![WirePort { device: d, speed_gbps: None }],
        (None, Some(v)) if v.is_empty() => {
            return Err(ConfigError::new(format!("connections[{i}].wire_ports"), "[]", "at least one wire port"))
        }
        (None, Some(v)) => v.into_iter().map(|p| WirePort { device: p.device, speed_gbps: p.speed_gbps }).collect(),
    };
    for (m, p) in ports.iter().enumerate() {
        check_device(&format!("connections[{i}].wire_ports[{m}].device"), &p.device)?;
    }
    check_lag(i, &ports)?;
    let first = ports[0].speed_gbps;
    for (m, p) in ports.iter().enumerate().skip(1) {
        if p.speed_gbps != first {
            return Err(ConfigError::new(
                format!("connections[{i}].wire_ports[{m}].speed_gbps"),
                p.speed_gbps.map_or("unset".to_owned(), |s| s.to_string()),
                format!(
                    "{} like wire_ports[0]: LAG members must have equal speeds",
                    first.map_or("unset".to_owned(), |s| format!("{s} Gbps"))
                ),
            ));
        }
    }
    Ok(ports)
}

/// A LAG (more than one wire port) has at most [`lag::MAX_MEMBERS`] members, each with its speed
/// declared, so that unequal members are caught here and not on the wire.
fn check_lag(i: usize, ports: &[WirePort]) -> Result<(), ConfigError> {
    if ports.len() < 2 {
        return Ok(());
    }
    if ports.len() > lag::MAX_MEMBERS {
        return Err(ConfigError::new(
            format!("connections[{i}].wire_ports"),
            format!("{} members", ports.len()),
            format!("at most {} LAG members", lag::MAX_MEMBERS),
        ));
    }
    match ports.iter().position(|p| p.speed_gbps.is_none()) {
        Some(m) => Err(ConfigError::new(
            format!("connections[{i}].wire_ports[{m}].speed_gbps"),
            "unset",
            "the member's speed in Gbps (e.g. 10, 100, 400): LAG members must declare equal speeds",
        )),
        None => Ok(()),
    }
}

/// A PCI address (`0000:3b:00.0`) or a vdev string (`net_af_packet0,iface=eth1`).
fn check_device(key: &str, dev: &str) -> Result<(), ConfigError> {
    let pci = dev.len() == 12
        && dev.chars().enumerate().all(|(i, c)| match i {
            4 | 7 => c == ':',
            10 => c == '.',
            _ => c.is_ascii_hexdigit(),
        });
    let vdev = dev.starts_with("net_") && dev.chars().all(|c| c.is_ascii_graphic());
    if pci || vdev {
        Ok(())
    } else {
        Err(ConfigError::new(
            key,
            format!("{dev:?}"),
            "a PCI address such as \"0000:3b:00.0\" or a vdev such as \"net_af_packet0,iface=eth1\"",
        ))
    }
}

fn key_source(i: usize, source: Option<String>, file: Option<PathBuf>) -> Result<KeySource, ConfigError> {
    match (source.as_deref().unwrap_or("control"), file) {
        ("control", None) => Ok(KeySource::Control),
        ("control", Some(_)) => {
            Err(ConfigError::new(format!("connections[{i}].static_key_file"), "", "only with key_source = \"static\""))
        }
        ("static", Some(f)) => Ok(KeySource::Static(f)),
        ("static", None) => Err(ConfigError::new(
            format!("connections[{i}].static_key_file"),
            "",
            "a key file path (missing; key_source = \"static\" needs it)",
        )),
        (other, _) => Err(ConfigError::new(
            format!("connections[{i}].key_source"),
            format!("{other:?}"),
            "\"control\" or \"static\"",
        )),
    }
}

fn check_unique(conns: &[Connection]) -> Result<(), ConfigError> {
    let mut seen: Vec<&str> = Vec::new();
    for (i, c) in conns.iter().enumerate() {
        let ports = std::iter::once(c.host_port.as_str()).chain(c.wire_ports.iter().map(|p| p.device.as_str()));
        for p in ports {
            if seen.contains(&p) {
                return Err(ConfigError::new(
                    format!("connections[{i}]"),
                    format!("{p:?}"),
                    "each port in one place only",
                ));
            }
            seen.push(p);
        }
        if conns[..i].iter().any(|o| o.id == c.id) {
            return Err(ConfigError::new(format!("connections[{i}].id"), format!("{:?}", c.id), "a unique id"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [eal]
        lcores = "0@0,1@1"
        huge_pages = false
        file_prefix = "dpa"
        [metrics]
        listen = "127.0.0.1:9464"
        [[connections]]
        id = "dxcon-a"
        host_port = "net_af_packet0,iface=hosta"
        wire_port = "net_af_packet1,iface=wirea"
        cipher_suite = "gcm-aes-xpn-256"
        encryption_mode = "must_encrypt"
    "#;

    fn err(text: &str) -> String {
        Config::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn good_config_and_defaults() {
        let c = Config::parse(GOOD).unwrap();
        assert_eq!(c.connections[0].cipher_suite, CipherSuite::GcmAesXpn256);
        assert_eq!(c.connections[0].encryption_mode, EncryptionMode::MustEncrypt);
        assert_eq!(c.connections[0].pn_threshold, XPN_PN_THRESHOLD);
        assert_eq!(c.connections[0].key_source, KeySource::Control);
        assert!(!c.eal.huge_pages);
        assert_eq!(c.metrics_listen.to_string(), "127.0.0.1:9464");
    }

    #[test]
    fn each_error_names_key_value_and_form() {
        assert_eq!(
            err(&GOOD.replace("gcm-aes-xpn-256", "gcm-aes-512")),
            "connections[0].cipher_suite = \"gcm-aes-512\": expected one of gcm-aes-128, gcm-aes-256, gcm-aes-xpn-128, gcm-aes-xpn-256"
        );
        assert_eq!(
            err(&GOOD.replace("id = \"dxcon-a\"", "")),
            "connections[0].id: a connection id such as \"dxcon-fgabc123\" (missing)"
        );
        assert_eq!(
            err(&GOOD.replace("huge_pages = false", "huge_pages = \"no\"")),
            "eal.huge_pages = \"no\": expected a boolean (line 4)"
        );
        assert!(err(&GOOD.replace("[metrics]", "[metrics]\nlisten_on = 1")).contains("unknown field `listen_on`"));
        assert!(err(&GOOD.replace("must_encrypt", "always"))
            .starts_with("connections[0].encryption_mode = \"always\": expected one of"));
        assert!(err(&GOOD.replace("wire_port = \"net_af_packet1,iface=wirea\"", "wire_port = \"eth1\""))
            .contains("PCI address"));
    }

    #[test]
    fn lag_members_need_equal_speeds() {
        let lag = GOOD.replace(
            "wire_port = \"net_af_packet1,iface=wirea\"",
            "wire_ports = [{ device = \"0000:3b:00.0\", speed_gbps = 100 }, { device = \"0000:3b:00.1\", speed_gbps = 10 }]",
        );
        assert_eq!(
            err(&lag),
            "connections[0].wire_ports[1].speed_gbps = 10: expected 100 Gbps like wire_ports[0]: LAG members must have equal speeds"
        );
        assert_eq!(
            Config::parse(&lag.replace("speed_gbps = 10 ", "speed_gbps = 100 ")).unwrap().connections[0]
                .wire_ports
                .len(),
            2
        );
        assert_eq!(
            err(&lag.replace(", speed_gbps = 10 ", " ")),
            "connections[0].wire_ports[1].speed_gbps = unset: expected the member's speed in Gbps (e.g. 10, 100, 400): LAG members must declare equal speeds"
        );
        let nine = (0..9).map(|m| format!("{{ device = \"0000:3b:00.{m}\", speed_gbps = 10 }}")).collect::<Vec<_>>();
        let big =
            GOOD.replace("wire_port = \"net_af_packet1,iface=wirea\"", &format!("wire_ports = [{}]", nine.join(", ")));
        assert_eq!(err(&big), "connections[0].wire_ports = 9 members: expected at most 8 LAG members");
    }

    #[test]
    fn static_keys_need_a_file() {
        let s = GOOD.replace("[[connections]]", "[[connections]]\nkey_source = \"static\"");
        assert!(err(&s).starts_with("connections[0].static_key_file"));
        let ok = s
            .replace("key_source = \"static\"", "key_source = \"static\"\nstatic_key_file = \"/etc/macsec/keys.toml\"");
        assert!(matches!(Config::parse(&ok).unwrap().connections[0].key_source, KeySource::Static(_)));
    }
}
