//! Transaction status, account balance and reversal: initiator operations answered by a Result
//! callback.

use malipo_core::Money;
use serde::Serialize;
use url::Url;

use crate::client::{check_accepted, Endpoint, Retry};
use crate::{validate, AcceptedResponse, IdentifierType, MpesaClient, MpesaError};

const STATUS: Endpoint = Endpoint {
    name: "transaction status",
    path: "/mpesa/transactionstatus/v1/query",
};
const BALANCE: Endpoint = Endpoint {
    name: "account balance",
    path: "/mpesa/accountbalance/v1/query",
};
const REVERSAL: Endpoint = Endpoint {
    name: "reversal",
    path: "/mpesa/reversal/v1/request",
};

/// Where a Result callback is sent and what the request says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultUrls {
    /// Receives the result.
    pub result_url: Url,
    /// Receives the queue timeout notification.
    pub queue_timeout_url: Url,
}

impl ResultUrls {
    fn check(&self) -> Result<(), MpesaError> {
        validate::callback_url("ResultURL", &self.result_url)?;
        validate::callback_url("QueueTimeOutURL", &self.queue_timeout_url)
    }
}

/// "What happened to this transaction?"
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionStatusRequest {
    /// The M-Pesa receipt / transaction id (such as `NLJ7RT61SV`), when known.
    pub transaction_id: Option<String>,
    /// Alternatively or as well, the OriginatorConversationID of the request that made the
    /// transaction (a B2C payment whose result never came has no receipt to ask by). One of
    /// the two is required.
    pub original_conversation_id: Option<String>,
    /// The party asking; `None` uses the settings' shortcode.
    pub party_a: Option<String>,
    /// How to read PartyA.
    pub identifier_type: IdentifierType,
    /// 2 to 100 characters.
    pub remarks: String,
    /// Up to 100 characters.
    pub occasion: Option<String>,
    /// Callback URLs.
    pub urls: ResultUrls,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct StatusBody<'a> {
    initiator: &'a str,
    security_credential: &'a str,
    #[serde(rename = "CommandID")]
    command_id: &'a str,
    #[serde(rename = "TransactionID", skip_serializing_if = "Option::is_none")]
    transaction_id: Option<&'a str>,
    #[serde(rename = "OriginalConversationID", skip_serializing_if = "Option::is_none")]
    original_conversation_id: Option<&'a str>,
    party_a: &'a str,
    identifier_type: &'a str,
    #[serde(rename = "ResultURL")]
    result_url: &'a str,
    #[serde(rename = "QueueTimeOutURL")]
    queue_timeout_url: &'a str,
    remarks: &'a str,
    occasion: &'a str,
}

/// "How much is on the shortcode's accounts?"
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountBalanceRequest {
    /// The party asked about; `None` uses the settings' shortcode.
    pub party_a: Option<String>,
    /// How to read PartyA.
    pub identifier_type: IdentifierType,
    /// 2 to 100 characters.
    pub remarks: String,
    /// Callback URLs.
    pub urls: ResultUrls,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BalanceBody<'a> {
    initiator: &'a str,
    security_credential: &'a str,
    #[serde(rename = "CommandID")]
    command_id: &'a str,
    party_a: &'a str,
    identifier_type: &'a str,
    remarks: &'a str,
    #[serde(rename = "QueueTimeOutURL")]
    queue_timeout_url: &'a str,
    #[serde(rename = "ResultURL")]
    result_url: &'a str,
}

/// Reverse a C2B payment received by the shortcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReversalRequest {
    /// The transaction to reverse.
    pub transaction_id: String,
    /// Its amount, whole shillings.
    pub amount: Money,
    /// The organisation that received it; `None` uses the settings' shortcode.
    pub receiver_party: Option<String>,
    /// 2 to 100 characters.
    pub remarks: String,
    /// Up to 100 characters.
    pub occasion: Option<String>,
    /// Callback URLs.
    pub urls: ResultUrls,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReversalBody<'a> {
    initiator: &'a str,
    security_credential: &'a str,
    #[serde(rename = "CommandID")]
    command_id: &'a str,
    #[serde(rename = "TransactionID")]
    transaction_id: &'a str,
    amount: u64,
    receiver_party: &'a str,
    // Daraja's spelling.
    reciever_identifier_type: &'a str,
    #[serde(rename = "ResultURL")]
    result_url: &'a str,
    #[serde(rename = "QueueTimeOutURL")]
    queue_timeout_url: &'a str,
    remarks: &'a str,
    occasion: &'a str,
}

impl MpesaClient {
    /// Asks for a transaction's status; the answer arrives at the ResultURL. Retried on
    /// transient failures (a query moves no money).
    pub async fn transaction_status(
        &self,
        request: &TransactionStatusRequest,
    ) -> Result<AcceptedResponse, MpesaError> {
        if let Some(id) = &request.transaction_id {
            validate::transaction_id("TransactionID", id)?;
        }
        match &request.original_conversation_id {
            Some(id) => validate::text("OriginalConversationID", id, 1, 64)?,
            None if request.transaction_id.is_none() => {
                return Err(validate::invalid(
                    "TransactionID",
                    "give the transaction id (receipt) or the OriginalConversationID of the transaction to ask about",
                ))
            }
            None => {}
        }
        validate::text("Remarks", &request.remarks, 2, 100)?;
        let occasion = request.occasion.as_deref().unwrap_or("");
        validate::text("Occasion", occasion, 0, 100)?;
        request.urls.check()?;
        let party_a = request.party_a.as_deref().unwrap_or(&self.settings().shortcode);
        validate::digits("PartyA", party_a)?;
        let (initiator, credential) = self.initiator(STATUS.name)?;
        let body = StatusBody {
            initiator,
            security_credential: credential.expose(),
            command_id: "TransactionStatusQuery",
            transaction_id: request.transaction_id.as_deref(),
            original_conversation_id: request.original_conversation_id.as_deref(),
            party_a,
            identifier_type: request.identifier_type.code(),
            result_url: request.urls.result_url.as_str(),
            queue_timeout_url: request.urls.queue_timeout_url.as_str(),
            remarks: &request.remarks,
            occasion,
        };
        let answer: AcceptedResponse = self.post(STATUS, &body, Retry::Safe).await?;
        check_accepted(STATUS.name, &answer.response_code, &answer.response_description)?;
        Ok(answer)
    }

    /// Asks for the account balance; the answer arrives at the ResultURL. Retried on transient
    /// failures.
    pub async fn account_balance(
        &self,
        request: &AccountBalanceRequest,
    ) -> Result<AcceptedResponse, MpesaError> {
        validate::text("Remarks", &request.remarks, 2, 100)?;
        request.urls.check()?;
        let party_a = request.party_a.as_deref().unwrap_or(&self.settings().shortcode);
        validate::digits("PartyA", party_a)?;
        let (initiator, credential) = self.initiator(BALANCE.name)?;
        let body = BalanceBody {
            initiator,
            security_credential: credential.expose(),
            command_id: "AccountBalance",
            party_a,
            identifier_type: request.identifier_type.code(),
            remarks: &request.remarks,
            queue_timeout_url: request.urls.queue_timeout_url.as_str(),
            result_url: request.urls.result_url.as_str(),
        };
        let answer: AcceptedResponse = self.post(BALANCE, &body, Retry::Safe).await?;
        check_accepted(BALANCE.name, &answer.response_code, &answer.response_description)?;
        Ok(answer)
    }

    /// Requests a reversal; the result arrives at the ResultURL. Sent once (it moves money).
    pub async fn reversal(&self, request: &ReversalRequest) -> Result<AcceptedResponse, MpesaError> {
        validate::transaction_id("TransactionID", &request.transaction_id)?;
        let amount = validate::whole_shillings("Amount", request.amount)?;
        validate::text("Remarks", &request.remarks, 2, 100)?;
        let occasion = request.occasion.as_deref().unwrap_or("");
        validate::text("Occasion", occasion, 0, 100)?;
        request.urls.check()?;
        let receiver = request
            .receiver_party
            .as_deref()
            .unwrap_or(&self.settings().shortcode);
        validate::digits("ReceiverParty", receiver)?;
        let (initiator, credential) = self.initiator(REVERSAL.name)?;
        let body = ReversalBody {
            initiator,
            security_credential: credential.expose(),
            command_id: "TransactionReversal",
            transaction_id: &request.transaction_id,
            amount,
            receiver_party: receiver,
            reciever_identifier_type: IdentifierType::ReversalOrganization.code(),
            result_url: request.urls.result_url.as_str(),
            queue_timeout_url: request.urls.queue_timeout_url.as_str(),
            remarks: &request.remarks,
            occasion,
        };
        let answer: AcceptedResponse = self.post(REVERSAL, &body, Retry::Once).await?;
        check_accepted(REVERSAL.name, &answer.response_code, &answer.response_description)?;
        Ok(answer)
    }
}
