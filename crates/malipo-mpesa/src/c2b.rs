//! Customer to business: register the confirmation/validation URLs, and the sandbox simulation.

use malipo_core::{Money, Msisdn};
use serde::Serialize;
use url::Url;

use crate::client::{check_accepted, Endpoint, Retry};
use crate::{validate, AcceptedResponse, MpesaClient, MpesaError};

const REGISTER_V1: Endpoint = Endpoint {
    name: "C2B register URL",
    path: "/mpesa/c2b/v1/registerurl",
};
const REGISTER_V2: Endpoint = Endpoint {
    name: "C2B register URL",
    path: "/mpesa/c2b/v2/registerurl",
};
const SIMULATE: Endpoint = Endpoint {
    name: "C2B simulate",
    path: "/mpesa/c2b/v1/simulate",
};

/// What Daraja does when the validation URL does not answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum C2bResponseType {
    /// Complete the payment.
    #[default]
    Completed,
    /// Cancel the payment.
    Cancelled,
}

/// Which register-URL API: v2 confirmations mask the customer's MSISDN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum C2bVersion {
    /// `/mpesa/c2b/v1/registerurl`.
    #[default]
    V1,
    /// `/mpesa/c2b/v2/registerurl`.
    V2,
}

/// Registers where Daraja sends C2B validation requests and confirmations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterUrlsRequest {
    /// The shortcode; `None` uses the settings' shortcode.
    pub shortcode: Option<String>,
    /// What happens when validation times out.
    pub response_type: C2bResponseType,
    /// Receives confirmations.
    pub confirmation_url: Url,
    /// Receives validation requests.
    pub validation_url: Url,
    /// API version.
    pub version: C2bVersion,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RegisterBody<'a> {
    short_code: &'a str,
    response_type: &'a str,
    #[serde(rename = "ConfirmationURL")]
    confirmation_url: &'a str,
    #[serde(rename = "ValidationURL")]
    validation_url: &'a str,
}

/// A C2B payment command for the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum C2bCommand {
    /// Paybill with an account number.
    #[default]
    CustomerPayBillOnline,
    /// Till (buy goods).
    CustomerBuyGoodsOnline,
}

/// A simulated customer payment (sandbox only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C2bSimulateRequest {
    /// The shortcode paid; `None` uses the settings' shortcode.
    pub shortcode: Option<String>,
    /// Paybill or till.
    pub command: C2bCommand,
    /// Whole shillings.
    pub amount: Money,
    /// The paying phone.
    pub phone: Msisdn,
    /// The account number (paybill).
    pub bill_ref_number: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SimulateBody<'a> {
    short_code: &'a str,
    #[serde(rename = "CommandID")]
    command_id: &'a str,
    amount: u64,
    msisdn: &'a str,
    bill_ref_number: &'a str,
}

impl MpesaClient {
    /// Registers the C2B confirmation and validation URLs (retried on transient failures:
    /// registering twice is harmless).
    pub async fn register_c2b_urls(
        &self,
        request: &RegisterUrlsRequest,
    ) -> Result<AcceptedResponse, MpesaError> {
        let shortcode = request.shortcode.as_deref().unwrap_or(&self.settings().shortcode);
        validate::digits("ShortCode", shortcode)?;
        validate::c2b_url("ConfirmationURL", &request.confirmation_url)?;
        validate::c2b_url("ValidationURL", &request.validation_url)?;
        let body = RegisterBody {
            short_code: shortcode,
            response_type: match request.response_type {
                C2bResponseType::Completed => "Completed",
                C2bResponseType::Cancelled => "Cancelled",
            },
            confirmation_url: request.confirmation_url.as_str(),
            validation_url: request.validation_url.as_str(),
        };
        let endpoint = match request.version {
            C2bVersion::V1 => REGISTER_V1,
            C2bVersion::V2 => REGISTER_V2,
        };
        let answer: AcceptedResponse = self.post(endpoint, &body, Retry::Safe).await?;
        check_accepted(endpoint.name, &answer.response_code, &answer.response_description)?;
        Ok(answer)
    }

    /// Simulates a customer paying the shortcode (Daraja's sandbox only). Sent once.
    pub async fn simulate_c2b(&self, request: &C2bSimulateRequest) -> Result<AcceptedResponse, MpesaError> {
        let amount = validate::whole_shillings("Amount", request.amount)?;
        let shortcode = request.shortcode.as_deref().unwrap_or(&self.settings().shortcode);
        validate::digits("ShortCode", shortcode)?;
        let bill_ref = request.bill_ref_number.as_deref().unwrap_or("");
        validate::text("BillRefNumber", bill_ref, 0, 20)?;
        let body = SimulateBody {
            short_code: shortcode,
            command_id: match request.command {
                C2bCommand::CustomerPayBillOnline => "CustomerPayBillOnline",
                C2bCommand::CustomerBuyGoodsOnline => "CustomerBuyGoodsOnline",
            },
            amount,
            msisdn: request.phone.as_str(),
            bill_ref_number: bill_ref,
        };
        let answer: AcceptedResponse = self.post(SIMULATE, &body, Retry::Once).await?;
        check_accepted(SIMULATE.name, &answer.response_code, &answer.response_description)?;
        Ok(answer)
    }
}
