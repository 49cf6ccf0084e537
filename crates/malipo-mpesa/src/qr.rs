//! Dynamic QR: a QR code the customer scans in the M-PESA or My Safaricom app to pay a till,
//! paybill, agent or phone an amount with a reference.

use base64::Engine as _;
use malipo_core::{Money, Msisdn};
use serde::{Deserialize, Serialize};

use crate::client::{Endpoint, Retry};
use crate::de::{opt_string_or_number, string_or_number_default};
use crate::{validate, MpesaClient, MpesaError};

const GENERATE: Endpoint = Endpoint {
    name: "dynamic QR",
    path: "/mpesa/qrcode/v1/generate",
};

/// The largest image size accepted, in pixels (the answer carries the whole PNG).
pub const QR_MAX_SIZE: u32 = 1000;

/// What the QR code pays (Daraja's `TrxCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QrTransaction {
    /// `BG`: pay a merchant's till (Buy Goods).
    BuyGoods,
    /// `WA`: withdraw cash at an agent till.
    WithdrawAtAgent,
    /// `PB`: pay a paybill or business number.
    Paybill,
    /// `SM`: send money to a phone number.
    SendMoney,
    /// `SB`: send to a business (its number in MSISDN form).
    SendToBusiness,
}

impl QrTransaction {
    /// Daraja's code.
    pub fn code(self) -> &'static str {
        match self {
            QrTransaction::BuyGoods => "BG",
            QrTransaction::WithdrawAtAgent => "WA",
            QrTransaction::Paybill => "PB",
            QrTransaction::SendMoney => "SM",
            QrTransaction::SendToBusiness => "SB",
        }
    }
}

/// A Dynamic QR to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicQrRequest {
    /// The merchant's name shown to the customer (1 to 100 characters).
    pub merchant_name: String,
    /// The transaction reference (1 to 100 characters).
    pub reference: String,
    /// How much, whole shillings.
    pub amount: Money,
    /// What the code pays.
    pub transaction: QrTransaction,
    /// Who is paid (Daraja's `CPI`): a till, paybill or agent number, or for
    /// [`QrTransaction::SendMoney`] and [`QrTransaction::SendToBusiness`] a phone number (sent
    /// normalised, `2547XXXXXXXX`).
    pub credit_party: String,
    /// The square image's side in pixels (1 to [`QR_MAX_SIZE`]).
    pub size: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateBody<'a> {
    merchant_name: &'a str,
    ref_no: &'a str,
    amount: u64,
    trx_code: &'a str,
    #[serde(rename = "CPI")]
    cpi: &'a str,
    size: String,
}

/// Daraja's answer: the QR code as a base64 PNG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DynamicQr {
    /// Daraja's `ResponseCode`.
    #[serde(
        rename = "ResponseCode",
        default,
        deserialize_with = "string_or_number_default"
    )]
    pub response_code: String,
    /// Daraja's `RequestID`.
    #[serde(rename = "RequestID", default, deserialize_with = "opt_string_or_number")]
    pub request_id: Option<String>,
    /// Daraja's description ("QR Code Successfully Generated").
    #[serde(rename = "ResponseDescription", default)]
    pub response_description: String,
    /// The image, base64 PNG.
    #[serde(rename = "QRCode", default)]
    pub qr_code: String,
}

impl DynamicQr {
    /// The PNG image's bytes.
    pub fn png(&self) -> Result<Vec<u8>, MpesaError> {
        // Daraja's own example ends the base64 with a stray full stop.
        let text: String = self
            .qr_code
            .trim()
            .trim_end_matches('.')
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| MpesaError::Decode {
                operation: GENERATE.name,
                status: 200,
                detail: format!("QRCode is not base64: {e}"),
                source: None,
            })
    }
}

impl MpesaClient {
    /// Generates a Dynamic QR code (retried on transient failures: a code moves no money until
    /// a customer scans it and pays). An answer without an image is [`MpesaError::Rejected`].
    pub async fn dynamic_qr(&self, request: &DynamicQrRequest) -> Result<DynamicQr, MpesaError> {
        validate::text("MerchantName", &request.merchant_name, 1, 100)?;
        validate::text("RefNo", &request.reference, 1, 100)?;
        let amount = validate::whole_shillings("Amount", request.amount)?;
        let cpi = match request.transaction {
            QrTransaction::SendMoney | QrTransaction::SendToBusiness => request
                .credit_party
                .parse::<Msisdn>()
                .map_err(|e| validate::invalid("CPI", format!("{e}; this transaction pays a phone number")))?
                .as_str()
                .to_string(),
            _ => {
                validate::digits("CPI", request.credit_party.trim())?;
                request.credit_party.trim().to_string()
            }
        };
        if request.size == 0 || request.size > QR_MAX_SIZE {
            return Err(validate::invalid(
                "Size",
                format!("{} pixels; give 1 to {QR_MAX_SIZE}", request.size),
            ));
        }
        let body = GenerateBody {
            merchant_name: &request.merchant_name,
            ref_no: &request.reference,
            amount,
            trx_code: request.transaction.code(),
            cpi: &cpi,
            size: request.size.to_string(),
        };
        let answer: DynamicQr = self.post(GENERATE, &body, Retry::Safe).await?;
        if answer.qr_code.trim().is_empty() {
            return Err(MpesaError::Rejected {
                operation: GENERATE.name,
                response_code: answer.response_code,
                description: answer.response_description,
            });
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_decodes_despite_the_stray_full_stop_of_darajas_example() {
        let qr = DynamicQr {
            response_code: "00".into(),
            request_id: None,
            response_description: "QR Code Successfully Generated.".into(),
            qr_code: "iVBORw0KGgo=.".into(),
        };
        assert_eq!(qr.png().unwrap(), b"\x89PNG\r\n\x1a\n");
        let broken = DynamicQr {
            qr_code: "not base64!".into(),
            ..qr
        };
        assert!(matches!(broken.png(), Err(MpesaError::Decode { .. })));
    }
}
