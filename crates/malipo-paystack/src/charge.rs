//! The charge API: charge a card, bank account, mobile-money wallet or saved authorization
//! directly, then answer what Paystack asks for next (PIN, OTP, phone, birthday, address), and
//! check a pending charge.

use malipo_core::{Money, Secret};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::Client;
use crate::de;
use crate::error::Error;
use crate::model::{money, Authorization, Customer};
use crate::transactions::non_empty;

/// A card's details. The number and CVV are [`Secret`]s: no `Debug` or log shows them. Sending
/// raw card details needs PCI DSS compliance.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Card {
    /// The card number.
    pub number: Secret<String>,
    /// The CVV.
    pub cvv: Secret<String>,
    /// Expiry month, `MM`.
    pub expiry_month: String,
    /// Expiry year, `YY` or `YYYY`.
    pub expiry_year: String,
}

impl Card {
    /// A card.
    pub fn new(
        number: Secret<String>,
        cvv: Secret<String>,
        expiry_month: impl Into<String>,
        expiry_year: impl Into<String>,
    ) -> Self {
        Card {
            number,
            cvv,
            expiry_month: expiry_month.into(),
            expiry_year: expiry_year.into(),
        }
    }
}

/// What is charged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PaymentSource {
    /// A card.
    Card(Card),
    /// A bank account, by bank code and account number.
    Bank {
        /// Bank code from [`Client::list_banks`].
        code: String,
        /// The account number.
        account_number: String,
    },
    /// A mobile-money wallet: `provider` is `mpesa`, `mtn`, `atl` (AirtelTigo), `vod`, …
    MobileMoney {
        /// The wallet's phone number.
        phone: String,
        /// The operator.
        provider: String,
    },
    /// A saved reusable authorization (`AUTH_…`).
    Authorization(String),
}

/// What `POST /charge` needs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CreateCharge {
    /// The customer's email.
    pub email: String,
    /// The amount.
    pub amount: Money,
    /// What is charged.
    pub source: PaymentSource,
    /// Your unique reference.
    pub reference: Option<String>,
    /// The card's PIN, when known up front (else Paystack may ask: [`ChargeStep::Pin`]).
    pub pin: Option<Secret<String>>,
    /// The account holder's birthday (`YYYY-MM-DD`), which some banks ask for.
    pub birthday: Option<String>,
    /// Anything to get back in the webhook and on verify.
    pub metadata: Option<Value>,
}

impl CreateCharge {
    /// Charges `amount` from `source` for `email`.
    pub fn new(email: impl Into<String>, amount: Money, source: PaymentSource) -> Self {
        CreateCharge {
            email: email.into(),
            amount,
            source,
            reference: None,
            pin: None,
            birthday: None,
            metadata: None,
        }
    }

    /// Sets your own unique reference.
    pub fn reference(mut self, reference: impl Into<String>) -> Self {
        self.reference = Some(reference.into());
        self
    }

    /// Gives the card's PIN up front.
    pub fn pin(mut self, pin: Secret<String>) -> Self {
        self.pin = Some(pin);
        self
    }

    /// Gives the account holder's birthday up front.
    pub fn birthday(mut self, birthday: impl Into<String>) -> Self {
        self.birthday = Some(birthday.into());
        self
    }

    /// Attaches metadata.
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

#[derive(Serialize)]
struct CardWire<'a> {
    number: &'a str,
    cvv: &'a str,
    expiry_month: &'a str,
    expiry_year: &'a str,
}

#[derive(Serialize)]
struct BankWire<'a> {
    code: &'a str,
    account_number: &'a str,
}

#[derive(Serialize)]
struct MobileWire<'a> {
    phone: &'a str,
    provider: &'a str,
}

#[derive(Serialize)]
struct ChargeWire<'a> {
    email: &'a str,
    amount: u64,
    currency: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    card: Option<CardWire<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bank: Option<BankWire<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mobile_money: Option<MobileWire<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorization_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pin: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    birthday: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a Value>,
}

/// Where a charge stands, per `POST /charge` and the `submit_*` endpoints.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ChargeAttempt {
    /// The transaction's reference: give it to the `submit_*` methods.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub reference: Option<String>,
    /// `success`, `failed`, `send_pin`, `send_otp`, `send_phone`, `send_birthday`,
    /// `send_address`, `open_url`, `pay_offline`, `pending`, …
    #[serde(default, deserialize_with = "de::opt_string")]
    pub status: Option<String>,
    /// What to show the customer (such as "Please enter the OTP sent to 080******10").
    #[serde(default, deserialize_with = "de::opt_string")]
    pub display_text: Option<String>,
    /// The page to send the customer to, for `open_url`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub url: Option<String>,
    /// Amount in minor units.
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub amount: Option<u64>,
    /// ISO currency code.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub currency: Option<String>,
    /// The processor's answer.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub gateway_response: Option<String>,
    /// The paying customer.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub customer: Option<Customer>,
    /// The authorization, once the charge succeeded.
    #[serde(default, deserialize_with = "de::opt_object")]
    pub authorization: Option<Authorization>,
}

/// What Paystack needs before a charge can go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChargeStep {
    /// The card's PIN: [`Client::submit_charge_pin`].
    Pin,
    /// The OTP the customer received: [`Client::submit_charge_otp`].
    Otp,
    /// The customer's phone: [`Client::submit_charge_phone`].
    Phone,
    /// The account holder's birthday: [`Client::submit_charge_birthday`].
    Birthday,
    /// The card's billing address: [`Client::submit_charge_address`].
    Address,
    /// The customer must visit [`ChargeAttempt::url`].
    OpenUrl,
    /// The customer approves elsewhere (a phone prompt, a USSD code): wait for the webhook, or
    /// ask with [`Client::check_pending_charge`].
    Offline,
}

impl ChargeAttempt {
    /// What Paystack needs next; `None` when the charge is settled either way (or in a state
    /// this crate does not know).
    pub fn next_step(&self) -> Option<ChargeStep> {
        Some(match self.status.as_deref()? {
            "send_pin" => ChargeStep::Pin,
            "send_otp" => ChargeStep::Otp,
            "send_phone" => ChargeStep::Phone,
            "send_birthday" => ChargeStep::Birthday,
            "send_address" => ChargeStep::Address,
            "open_url" => ChargeStep::OpenUrl,
            "pay_offline" | "pending" => ChargeStep::Offline,
            _ => return None,
        })
    }

    /// Whether the charge succeeded.
    pub fn is_successful(&self) -> bool {
        self.status.as_deref() == Some("success")
    }

    /// The amount as [`Money`].
    pub fn amount(&self) -> Option<Money> {
        money(self.amount, self.currency.as_deref())
    }
}

/// A card's billing address, for [`ChargeStep::Address`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BillingAddress {
    /// Street address.
    pub address: String,
    /// City.
    pub city: String,
    /// State or county.
    pub state: String,
    /// Postal code.
    pub zipcode: String,
}

impl BillingAddress {
    /// An address.
    pub fn new(
        address: impl Into<String>,
        city: impl Into<String>,
        state: impl Into<String>,
        zipcode: impl Into<String>,
    ) -> Self {
        BillingAddress {
            address: address.into(),
            city: city.into(),
            state: state.into(),
            zipcode: zipcode.into(),
        }
    }
}

impl Client {
    /// Starts a charge: `POST /charge`. Follow [`ChargeAttempt::next_step`] until it is `None`.
    pub async fn create_charge(&self, req: &CreateCharge) -> Result<ChargeAttempt, Error> {
        non_empty("email", &req.email)?;
        let mut body = ChargeWire {
            email: &req.email,
            amount: req.amount.minor(),
            currency: req.amount.currency().code(),
            card: None,
            bank: None,
            mobile_money: None,
            authorization_code: None,
            reference: req.reference.as_deref(),
            pin: req.pin.as_ref().map(|p| p.expose().as_str()),
            birthday: req.birthday.as_deref(),
            metadata: req.metadata.as_ref(),
        };
        match &req.source {
            PaymentSource::Card(card) => {
                body.card = Some(CardWire {
                    number: card.number.expose(),
                    cvv: card.cvv.expose(),
                    expiry_month: &card.expiry_month,
                    expiry_year: &card.expiry_year,
                })
            }
            PaymentSource::Bank { code, account_number } => {
                body.bank = Some(BankWire { code, account_number })
            }
            PaymentSource::MobileMoney { phone, provider } => {
                non_empty("phone", phone)?;
                body.mobile_money = Some(MobileWire { phone, provider })
            }
            PaymentSource::Authorization(code) => {
                non_empty("authorization code", code)?;
                body.authorization_code = Some(code)
            }
        }
        let request = self.http_request(Method::POST, &["charge"]).json(&body);
        self.send("POST /charge", request).await
    }

    /// Gives the card's PIN: `POST /charge/submit_pin`.
    pub async fn submit_charge_pin(
        &self,
        reference: &str,
        pin: &Secret<String>,
    ) -> Result<ChargeAttempt, Error> {
        let body = serde_json::json!({ "reference": reference, "pin": pin.expose() });
        self.submit(reference, "submit_pin", "POST /charge/submit_pin", body)
            .await
    }

    /// Gives the OTP: `POST /charge/submit_otp`.
    pub async fn submit_charge_otp(&self, reference: &str, otp: &str) -> Result<ChargeAttempt, Error> {
        non_empty("OTP", otp)?;
        let body = serde_json::json!({ "reference": reference, "otp": otp });
        self.submit(reference, "submit_otp", "POST /charge/submit_otp", body)
            .await
    }

    /// Gives the customer's phone: `POST /charge/submit_phone`.
    pub async fn submit_charge_phone(&self, reference: &str, phone: &str) -> Result<ChargeAttempt, Error> {
        non_empty("phone", phone)?;
        let body = serde_json::json!({ "reference": reference, "phone": phone });
        self.submit(reference, "submit_phone", "POST /charge/submit_phone", body)
            .await
    }

    /// Gives the account holder's birthday (`YYYY-MM-DD`): `POST /charge/submit_birthday`.
    pub async fn submit_charge_birthday(
        &self,
        reference: &str,
        birthday: &str,
    ) -> Result<ChargeAttempt, Error> {
        non_empty("birthday", birthday)?;
        let body = serde_json::json!({ "reference": reference, "birthday": birthday });
        self.submit(reference, "submit_birthday", "POST /charge/submit_birthday", body)
            .await
    }

    /// Gives the card's billing address: `POST /charge/submit_address`.
    pub async fn submit_charge_address(
        &self,
        reference: &str,
        address: &BillingAddress,
    ) -> Result<ChargeAttempt, Error> {
        let mut body = serde_json::to_value(address).map_err(|e| Error::InvalidRequest(e.to_string()))?;
        body["reference"] = Value::from(reference);
        self.submit(reference, "submit_address", "POST /charge/submit_address", body)
            .await
    }

    async fn submit(
        &self,
        reference: &str,
        step: &str,
        endpoint: &'static str,
        body: Value,
    ) -> Result<ChargeAttempt, Error> {
        non_empty("reference", reference)?;
        let request = self.http_request(Method::POST, &["charge", step]).json(&body);
        self.send(endpoint, request).await
    }

    /// A pending charge's state: `GET /charge/:reference`. Paystack asks to wait at least ten
    /// seconds after the charge before checking.
    pub async fn check_pending_charge(&self, reference: &str) -> Result<ChargeAttempt, Error> {
        non_empty("reference", reference)?;
        let request = self.http_request(Method::GET, &["charge", reference]);
        self.send("GET /charge/:reference", request).await
    }
}
