//! The IEEE 802.1AE-2018 MIB counters (clause 10.7, 13, and IEEE8021-SECY-MIB) of a SecY, its
//! transmit and receive SCs and SAs.
//!
//! Each counter is declared once below (field, MIB name, meaning); the list drives the struct,
//! the merge used to sum per-core copies and the export to metrics.

macro_rules! counters {
    ($(#[$meta:meta])* pub struct $name:ident { $( $(#[doc = $doc:literal])+ $field:ident => $mib:literal, )+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Default, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            $( $(#[doc = $doc])+ pub $field: u64, )+
        }

        impl $name {
            /// `(field, MIB name, meaning)` of every counter, in declaration order.
            pub const FIELDS: &'static [CounterInfo] = &[
                $( CounterInfo { field: stringify!($field), mib: $mib, help: concat!($($doc),+) }, )+
            ];

            /// Counter values in the order of [`Self::FIELDS`].
            pub fn values(&self) -> impl Iterator<Item = (&'static CounterInfo, u64)> + '_ {
                Self::FIELDS.iter().zip([$( self.$field ),+])
            }

            /// How many counters the struct has.
            pub const LEN: usize = Self::FIELDS.len();

            /// Sets the counters from `values`, in the order of [`Self::FIELDS`] (the inverse of
            /// [`Self::values`]); missing values leave counters unchanged.
            pub fn set_from(&mut self, values: &mut impl Iterator<Item = u64>) {
                $( if let Some(v) = values.next() { self.$field = v; } )+
            }

            /// Adds `other` into `self` (summing per-core or per-SA copies).
            pub fn merge(&mut self, other: &Self) {
                $( self.$field = self.$field.wrapping_add(other.$field); )+
            }
        }
    };
}

/// What a counter is: its Rust field, its 802.1AE MIB name and its meaning.
#[derive(Debug)]
pub struct CounterInfo {
    pub field: &'static str,
    pub mib: &'static str,
    pub help: &'static str,
}

counters! {
    /// Counters of the SecY itself (IEEE 802.1AE-2018 10.7.3, 10.7.6; secyStatsTable).
    pub struct SecyStats {
        /// Frames without a SecTAG received while validateFrames is not Strict (delivered).
        in_pkts_untagged => "InPktsUntagged",
        /// Frames without a SecTAG received while validateFrames is Strict (discarded).
        in_pkts_no_tag => "InPktsNoTag",
        /// Frames with an invalid SecTAG or too short to hold one and an ICV (discarded).
        in_pkts_bad_tag => "InPktsBadTag",
        /// Frames for an unknown SCI delivered without validation (C=0, validateFrames not Strict).
        in_pkts_unknown_sci => "InPktsUnknownSCI",
        /// Frames for an unknown SCI discarded (C=1 or validateFrames Strict).
        in_pkts_no_sci => "InPktsNoSCI",
        /// Frames discarded because the cipher engine could not keep up.
        in_pkts_overrun => "InPktsOverrun",
        /// Frames transmitted without protection (protectFrames false).
        out_pkts_untagged => "OutPktsUntagged",
        /// Frames discarded because protection would exceed the maximum frame size.
        out_pkts_too_long => "OutPktsTooLong",
    }
}

counters! {
    /// Counters of the transmit SC (IEEE 802.1AE-2018 10.7.18; secyTxSCStatsTable).
    pub struct TxScStats {
        /// Integrity-protected but not encrypted frames transmitted.
        out_pkts_protected => "OutPktsProtected",
        /// Encrypted frames transmitted.
        out_pkts_encrypted => "OutPktsEncrypted",
        /// User Data octets of integrity-protected frames transmitted.
        out_octets_protected => "OutOctetsProtected",
        /// User Data octets of encrypted frames transmitted.
        out_octets_encrypted => "OutOctetsEncrypted",
    }
}

counters! {
    /// Counters of a transmit SA (IEEE 802.1AE-2018 10.7.22; secyTxSAStatsTable).
    pub struct TxSaStats {
        /// Integrity-protected but not encrypted frames transmitted with this SA.
        out_pkts_protected => "OutPktsProtected",
        /// Encrypted frames transmitted with this SA.
        out_pkts_encrypted => "OutPktsEncrypted",
    }
}

counters! {
    /// Counters of a receive SC (IEEE 802.1AE-2018 10.7.9; secyRxSCStatsTable).
    pub struct RxScStats {
        /// Frames delivered unchecked (validateFrames Disabled).
        in_pkts_unchecked => "InPktsUnchecked",
        /// Frames delivered with a PN below the lowest acceptable PN (replayProtect off).
        in_pkts_delayed => "InPktsDelayed",
        /// Frames discarded because their PN was below the window or already seen.
        in_pkts_late => "InPktsLate",
        /// User Data octets of frames that were integrity-checked but not decrypted.
        in_octets_validated => "InOctetsValidated",
        /// User Data octets of frames that were decrypted.
        in_octets_decrypted => "InOctetsDecrypted",
    }
}

counters! {
    /// Counters of a receive SA, kept per AN slot (IEEE 802.1AE-2018 10.7.14;
    /// secyRxSAStatsTable).
    pub struct RxSaStats {
        /// Frames that validated and were delivered.
        in_pkts_ok => "InPktsOK",
        /// Frames that failed validation and were delivered (validateFrames Check, C=0).
        in_pkts_invalid => "InPktsInvalid",
        /// Frames that failed validation and were discarded.
        in_pkts_not_valid => "InPktsNotValid",
        /// Frames for an AN without a SA in use, discarded (C=1 or validateFrames Strict).
        in_pkts_not_using_sa => "InPktsNotUsingSA",
        /// Frames for an AN without a SA in use, delivered unvalidated.
        in_pkts_unused_sa => "InPktsUnusedSA",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_follow_the_declaration() {
        let s = SecyStats { in_pkts_bad_tag: 3, ..Default::default() };
        let bad = s.values().find(|(i, _)| i.mib == "InPktsBadTag").unwrap();
        assert_eq!(bad.1, 3);
        assert_eq!(bad.0.field, "in_pkts_bad_tag");
        assert!(bad.0.help.contains("invalid SecTAG"));
        let mut t = s;
        t.merge(&s);
        assert_eq!(t.in_pkts_bad_tag, 6);
        assert_eq!(RxSaStats::FIELDS.len(), 5);
    }
}
