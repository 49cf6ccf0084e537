//! What the asynchronous operations (B2C, B2B, status, balance, reversal, C2B) answer at once,
//! and the parts of their requests they share.

use malipo_core::Secret;
use serde::{Deserialize, Serialize};

use crate::de::{opt_string_or_number, string_or_number};
use crate::{MpesaClient, MpesaError};

/// Daraja's "accepted for processing" answer; the result arrives later at the ResultURL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedResponse {
    /// Daraja's id of the conversation: the dedup key of the result callback.
    #[serde(rename = "ConversationID", default)]
    pub conversation_id: Option<String>,
    /// The originator's id (ours for B2C v3). Daraja's C2B answers spell it
    /// `OriginatorCoversationID`; both spellings are read.
    #[serde(
        rename = "OriginatorConversationID",
        alias = "OriginatorCoversationID",
        default,
        deserialize_with = "opt_string_or_number"
    )]
    pub originator_conversation_id: Option<String>,
    /// `"0"` when accepted.
    #[serde(rename = "ResponseCode", deserialize_with = "string_or_number")]
    pub response_code: String,
    /// Daraja's description.
    #[serde(rename = "ResponseDescription", default)]
    pub response_description: String,
}

/// How Daraja should read an identifier such as `PartyA` (`IdentifierType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdentifierType {
    /// 1: a phone number.
    Msisdn,
    /// 2: a till number.
    TillNumber,
    /// 4: an organisation shortcode (paybill).
    #[default]
    Shortcode,
    /// 11: the organisation receiving a reversal.
    ReversalOrganization,
}

impl IdentifierType {
    /// Daraja's numeric code, as the string it sends.
    pub fn code(self) -> &'static str {
        match self {
            IdentifierType::Msisdn => "1",
            IdentifierType::TillNumber => "2",
            IdentifierType::Shortcode => "4",
            IdentifierType::ReversalOrganization => "11",
        }
    }
}

impl MpesaClient {
    /// The initiator name and security credential, or which one is missing.
    pub(crate) fn initiator(&self, operation: &'static str) -> Result<(&str, &Secret<String>), MpesaError> {
        let settings = self.settings();
        let name = settings
            .initiator_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .ok_or(MpesaError::MissingSetting {
                operation,
                what: "initiator name",
            })?;
        let credential = settings
            .security_credential
            .as_ref()
            .filter(|c| !c.expose().is_empty())
            .ok_or(MpesaError::MissingSetting {
                operation,
                what: "security credential (the encrypted initiator password)",
            })?;
        Ok((name, credential))
    }
}
