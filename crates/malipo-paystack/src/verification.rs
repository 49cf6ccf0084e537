//! Verification: resolve an account number to its holder's name, resolve a card BIN, validate
//! an account against its holder's documents (South Africa).

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::de;
use crate::error::Error;
use crate::transactions::non_empty;

/// Who holds an account, per `GET /bank/resolve`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ResolvedAccount {
    /// The account number.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub account_number: Option<String>,
    /// The holder's name as the bank knows it.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub account_name: Option<String>,
    /// Paystack's id of the bank.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub bank_id: Option<u64>,
}

/// What a card's first six digits say, per `GET /decision/bin/:bin`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct CardBin {
    /// The BIN asked about.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub bin: Option<String>,
    /// Card brand, such as `Mastercard`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub brand: Option<String>,
    /// Sub-brand, when there is one.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub sub_brand: Option<String>,
    /// Issuing country's two-letter code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub country_code: Option<String>,
    /// Issuing country's name.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub country_name: Option<String>,
    /// `DEBIT` or `CREDIT`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub card_type: Option<String>,
    /// Issuing bank.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub bank: Option<String>,
    /// Paystack's id of the issuing bank.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub linked_bank_id: Option<u64>,
}

/// What `POST /bank/validate` needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ValidateAccount {
    /// The holder's name.
    pub account_name: String,
    /// The account number.
    pub account_number: String,
    /// `personal` or `business`.
    pub account_type: String,
    /// Bank code from [`Client::list_banks`].
    pub bank_code: String,
    /// Two-letter country code, such as `ZA`.
    pub country_code: String,
    /// `identityNumber`, `passportNumber` or `businessRegistrationNumber`.
    pub document_type: String,
    /// The document's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_number: Option<String>,
}

impl ValidateAccount {
    /// A personal account validated against the holder's identity number.
    pub fn personal(
        account_name: impl Into<String>,
        account_number: impl Into<String>,
        bank_code: impl Into<String>,
        country_code: impl Into<String>,
        identity_number: impl Into<String>,
    ) -> Self {
        ValidateAccount {
            account_name: account_name.into(),
            account_number: account_number.into(),
            account_type: "personal".to_string(),
            bank_code: bank_code.into(),
            country_code: country_code.into(),
            document_type: "identityNumber".to_string(),
            document_number: Some(identity_number.into()),
        }
    }
}

/// What `POST /bank/validate` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct AccountValidation {
    /// Whether the account matches the details.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub verified: Option<bool>,
    /// Paystack's explanation.
    #[serde(default, rename = "verificationMessage", deserialize_with = "de::opt_string")]
    pub verification_message: Option<String>,
}

impl Client {
    /// The name on an account: `GET /bank/resolve`. Check it before creating a transfer
    /// recipient.
    pub async fn resolve_account_number(
        &self,
        account_number: &str,
        bank_code: &str,
    ) -> Result<ResolvedAccount, Error> {
        non_empty("account number", account_number)?;
        non_empty("bank code", bank_code)?;
        let request = self
            .http_request(Method::GET, &["bank", "resolve"])
            .query(&[("account_number", account_number), ("bank_code", bank_code)]);
        self.send("GET /bank/resolve", request).await
    }

    /// What a card's first six digits say: `GET /decision/bin/:bin`.
    pub async fn resolve_card_bin(&self, bin: &str) -> Result<CardBin, Error> {
        if bin.len() != 6 || !bin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidRequest(format!(
                "the BIN {bin:?} is not six digits: expected a card's first six digits, such as \"539983\""
            )));
        }
        let request = self.http_request(Method::GET, &["decision", "bin", bin]);
        self.send("GET /decision/bin/:bin", request).await
    }

    /// Checks an account against its holder's document: `POST /bank/validate`.
    pub async fn validate_account(&self, req: &ValidateAccount) -> Result<AccountValidation, Error> {
        non_empty("account number", &req.account_number)?;
        let request = self.http_request(Method::POST, &["bank", "validate"]).json(req);
        self.send("POST /bank/validate", request).await
    }
}
