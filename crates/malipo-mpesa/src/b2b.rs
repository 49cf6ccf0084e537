//! Business to business payments.

use malipo_core::{Money, Msisdn};
use serde::Serialize;
use url::Url;

use crate::client::{check_accepted, Endpoint, Retry};
use crate::{validate, AcceptedResponse, IdentifierType, MpesaClient, MpesaError};

const B2B: Endpoint = Endpoint {
    name: "B2B payment",
    path: "/mpesa/b2b/v1/paymentrequest",
};

/// The kind of B2B payment (`CommandID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum B2bCommand {
    /// Pay a paybill (needs an AccountReference).
    #[default]
    BusinessPayBill,
    /// Pay a till.
    BusinessBuyGoods,
    /// Move funds from a utility to a business.
    DisburseFundsToBusiness,
    /// Between businesses' working accounts.
    BusinessToBusinessTransfer,
    /// Between merchant accounts.
    MerchantToMerchantTransfer,
}

impl B2bCommand {
    /// Daraja's `CommandID`.
    pub fn command_id(self) -> &'static str {
        match self {
            B2bCommand::BusinessPayBill => "BusinessPayBill",
            B2bCommand::BusinessBuyGoods => "BusinessBuyGoods",
            B2bCommand::DisburseFundsToBusiness => "DisburseFundsToBusiness",
            B2bCommand::BusinessToBusinessTransfer => "BusinessToBusinessTransfer",
            B2bCommand::MerchantToMerchantTransfer => "MerchantToMerchantTransfer",
        }
    }
}

/// A payment from the shortcode to another business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct B2bRequest {
    /// Payment kind.
    pub command: B2bCommand,
    /// Whole shillings.
    pub amount: Money,
    /// The receiving shortcode or till.
    pub receiver: String,
    /// How to read `receiver` (shortcode 4 or till 2).
    pub receiver_identifier_type: IdentifierType,
    /// The account at the receiver (paybill), up to 13 characters.
    pub account_reference: Option<String>,
    /// The customer on whose behalf the payment is made, when there is one.
    pub requester: Option<Msisdn>,
    /// 2 to 100 characters.
    pub remarks: String,
    /// Receives the result.
    pub result_url: Url,
    /// Receives the queue timeout notification.
    pub queue_timeout_url: Url,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct B2bBody<'a> {
    initiator: &'a str,
    security_credential: &'a str,
    #[serde(rename = "CommandID")]
    command_id: &'a str,
    sender_identifier_type: &'a str,
    // Daraja's spelling.
    reciever_identifier_type: &'a str,
    amount: u64,
    party_a: &'a str,
    party_b: &'a str,
    account_reference: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    requester: Option<&'a str>,
    remarks: &'a str,
    #[serde(rename = "QueueTimeOutURL")]
    queue_timeout_url: &'a str,
    #[serde(rename = "ResultURL")]
    result_url: &'a str,
}

impl MpesaClient {
    /// Pays another business. Needs the initiator settings. Sent once.
    pub async fn b2b(&self, request: &B2bRequest) -> Result<AcceptedResponse, MpesaError> {
        let amount = validate::whole_shillings("Amount", request.amount)?;
        validate::digits("PartyB", &request.receiver)?;
        let account = request.account_reference.as_deref().unwrap_or("");
        let min = usize::from(request.command == B2bCommand::BusinessPayBill);
        validate::text("AccountReference", account, min, 13)?;
        validate::text("Remarks", &request.remarks, 2, 100)?;
        validate::callback_url("ResultURL", &request.result_url)?;
        validate::callback_url("QueueTimeOutURL", &request.queue_timeout_url)?;
        let (initiator, credential) = self.initiator(B2B.name)?;
        let body = B2bBody {
            initiator,
            security_credential: credential.expose(),
            command_id: request.command.command_id(),
            sender_identifier_type: IdentifierType::Shortcode.code(),
            reciever_identifier_type: request.receiver_identifier_type.code(),
            amount,
            party_a: &self.settings().shortcode,
            party_b: &request.receiver,
            account_reference: account,
            requester: request.requester.as_ref().map(Msisdn::as_str),
            remarks: &request.remarks,
            queue_timeout_url: request.queue_timeout_url.as_str(),
            result_url: request.result_url.as_str(),
        };
        let answer: AcceptedResponse = self.post(B2B, &body, Retry::Once).await?;
        check_accepted(B2B.name, &answer.response_code, &answer.response_description)?;
        Ok(answer)
    }
}
