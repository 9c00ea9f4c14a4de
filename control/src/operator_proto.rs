//! The operator socket's protocol between `macsecctl` and `macsec-control`: one JSON request per
//! line on a Unix stream socket (mode 0600, peer uid checked), one JSON reply line. The verbs
//! mirror AWS Direct Connect's.

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(tag = "verb", rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub enum OpRequest {
    AssociateMacSecKey {
        connection_id: String,
        ckn: String,
        cak: String,
    },
    DisassociateMacSecKey {
        connection_id: String,
        ckn: String,
    },
    /// Disassociates the key after `days` (7..=30), like a scheduled secret deletion.
    ScheduleKeyDeletion {
        connection_id: String,
        ckn: String,
        days: u32,
    },
    UpdateConnection {
        connection_id: String,
        encryption_mode: String,
    },
    DescribeConnections {
        connection_id: Option<String>,
    },
    /// Distribute a new SAK now (key server only; a member asks for nothing).
    Rekey {
        connection_id: String,
    },
    Status,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct OpReply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(default)]
    pub result: serde_json::Value,
}

impl OpReply {
    pub fn ok(result: serde_json::Value) -> Self {
        OpReply { ok: true, error: None, warnings: Vec::new(), result }
    }

    pub fn err(e: impl ToString) -> Self {
        OpReply { ok: false, error: Some(e.to_string()), warnings: Vec::new(), result: serde_json::Value::Null }
    }
}

/// Names the verb only: a request can hold a CAK.
impl std::fmt::Debug for OpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = match self {
            Self::AssociateMacSecKey { .. } => "associate-mac-sec-key",
            Self::DisassociateMacSecKey { .. } => "disassociate-mac-sec-key",
            Self::ScheduleKeyDeletion { .. } => "schedule-key-deletion",
            Self::UpdateConnection { .. } => "update-connection",
            Self::DescribeConnections { .. } => "describe-connections",
            Self::Rekey { .. } => "rekey",
            Self::Status => "status",
        };
        write!(f, "OpRequest({verb})")
    }
}

impl Drop for OpRequest {
    fn drop(&mut self) {
        if let OpRequest::AssociateMacSecKey { cak, .. } = self {
            zeroize::Zeroize::zeroize(cak);
        }
    }
}
