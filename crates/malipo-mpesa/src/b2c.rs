//! Business to customer payments (v3, with our OriginatorConversationID).

use malipo_core::{Money, Msisdn};
use serde::Serialize;
use url::Url;

use crate::client::{check_accepted, Endpoint, Retry};
use crate::{validate, AcceptedResponse, MpesaClient, MpesaError};

const B2C: Endpoint = Endpoint {
    name: "B2C payment",
    path: "/mpesa/b2c/v3/paymentrequest",
};

/// The kind of B2C payment (`CommandID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum B2cCommand {
    /// A plain payment to a customer.
    #[default]
    BusinessPayment,
    /// A salary payment.
    SalaryPayment,
    /// A promotion (bonus) payment.
    PromotionPayment,
}

impl B2cCommand {
    /// Daraja's `CommandID`.
    pub fn command_id(self) -> &'static str {
        match self {
            B2cCommand::BusinessPayment => "BusinessPayment",
            B2cCommand::SalaryPayment => "SalaryPayment",
            B2cCommand::PromotionPayment => "PromotionPayment",
        }
    }
}

/// A payment from the shortcode to a phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct B2cRequest {
    /// Our id of this payment, echoed in the result; reuse it only to retry the same payment.
    pub originator_conversation_id: String,
    /// Payment kind.
    pub command: B2cCommand,
    /// Whole shillings.
    pub amount: Money,
    /// The receiving phone.
    pub phone: Msisdn,
    /// 2 to 100 characters.
    pub remarks: String,
    /// Up to 100 characters.
    pub occasion: Option<String>,
    /// Receives the result.
    pub result_url: Url,
    /// Receives the queue timeout notification.
    pub queue_timeout_url: Url,
}

impl B2cRequest {
    /// A request with a fresh random OriginatorConversationID.
    pub fn new(
        command: B2cCommand,
        amount: Money,
        phone: Msisdn,
        remarks: impl Into<String>,
        result_url: Url,
        queue_timeout_url: Url,
    ) -> Self {
        B2cRequest {
            originator_conversation_id: new_originator_id(),
            command,
            amount,
            phone,
            remarks: remarks.into(),
            occasion: None,
            result_url,
            queue_timeout_url,
        }
    }
}

/// A random 32-hex-digit originator id.
pub(crate) fn new_originator_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct B2cBody<'a> {
    #[serde(rename = "OriginatorConversationID")]
    originator_conversation_id: &'a str,
    initiator_name: &'a str,
    security_credential: &'a str,
    #[serde(rename = "CommandID")]
    command_id: &'a str,
    amount: u64,
    party_a: &'a str,
    party_b: &'a str,
    remarks: &'a str,
    #[serde(rename = "QueueTimeOutURL")]
    queue_timeout_url: &'a str,
    #[serde(rename = "ResultURL")]
    result_url: &'a str,
    // Daraja's spelling.
    occassion: &'a str,
}

impl MpesaClient {
    /// Pays a customer (B2C v3). Needs the initiator settings. Sent once: on a timeout, use
    /// [`MpesaClient::transaction_status`] with the OriginatorConversationID before resending.
    pub async fn b2c(&self, request: &B2cRequest) -> Result<AcceptedResponse, MpesaError> {
        let amount = validate::whole_shillings("Amount", request.amount)?;
        validate::text(
            "OriginatorConversationID",
            &request.originator_conversation_id,
            1,
            64,
        )?;
        validate::text("Remarks", &request.remarks, 2, 100)?;
        let occasion = request.occasion.as_deref().unwrap_or("");
        validate::text("Occassion", occasion, 0, 100)?;
        validate::callback_url("ResultURL", &request.result_url)?;
        validate::callback_url("QueueTimeOutURL", &request.queue_timeout_url)?;
        let (initiator, credential) = self.initiator(B2C.name)?;
        let body = B2cBody {
            originator_conversation_id: &request.originator_conversation_id,
            initiator_name: initiator,
            security_credential: credential.expose(),
            command_id: request.command.command_id(),
            amount,
            party_a: &self.settings().shortcode,
            party_b: request.phone.as_str(),
            remarks: &request.remarks,
            queue_timeout_url: request.queue_timeout_url.as_str(),
            result_url: request.result_url.as_str(),
            occassion: occasion,
        };
        let answer: AcceptedResponse = self.post(B2C, &body, Retry::Once).await?;
        check_accepted(B2C.name, &answer.response_code, &answer.response_description)?;
        Ok(answer)
    }
}
