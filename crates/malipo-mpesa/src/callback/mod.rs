//! Typed Daraja callbacks, one entry point: [`parse_callback`].

mod c2b;
mod outcome;
mod result;
mod stk;
mod values;

pub use c2b::{callback_ack, C2bPayment, C2bRejection, C2bValidationResponse, CALLBACK_ACK};
pub use outcome::{is_receipt, stk_claim, RECEIPT_LEN};
pub use result::{KeyValue, QueueTimeout, ReferenceData, ResultCallback, ResultKind, ResultParameters};
pub use stk::{CallbackMetadata, MetadataItem, ResultCode, StkCallback};
pub use values::OneOrMany;

use serde::de::DeserializeOwned;

/// Which callback an endpoint receives (each callback URL receives one kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackKind {
    /// STK push result (`{"Body":{"stkCallback":…}}`).
    Stk,
    /// C2B validation request.
    C2bValidation,
    /// C2B confirmation.
    C2bConfirmation,
    /// Result of B2C, B2B, transaction status, account balance or reversal.
    Result,
    /// Queue timeout notification.
    Timeout,
}

impl CallbackKind {
    /// A short stable name, used as the dedup key prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackKind::Stk => "stk",
            CallbackKind::C2bValidation => "c2b_validation",
            CallbackKind::C2bConfirmation => "c2b_confirmation",
            CallbackKind::Result => "result",
            CallbackKind::Timeout => "timeout",
        }
    }
}

/// A parsed callback.
#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    /// STK push result.
    Stk(StkCallback),
    /// C2B validation request (answer with [`C2bValidationResponse`]).
    C2bValidation(C2bPayment),
    /// C2B confirmation.
    C2bConfirmation(C2bPayment),
    /// Result of an initiator operation.
    Result(ResultCallback),
    /// Queue timeout.
    Timeout(QueueTimeout),
}

/// Why a callback body was refused. Never panics, whatever the bytes.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// Not JSON, truncated, or not the shape Daraja sends for this kind.
    #[error("the {kind} callback is not in Daraja's shape at `{path}`: {source}")]
    Malformed {
        /// The callback kind expected.
        kind: &'static str,
        /// Where in the document the problem is (`Body.stkCallback.ResultCode`).
        path: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The body is JSON but not an object.
    #[error("the {kind} callback is not a JSON object")]
    NotAnObject {
        /// The callback kind expected.
        kind: &'static str,
    },
    /// The body parsed but lacks the id it must be deduplicated on.
    #[error("the {kind} callback has no {field}: it cannot be matched or deduplicated")]
    MissingId {
        /// The callback kind expected.
        kind: &'static str,
        /// The missing field.
        field: &'static str,
    },
}

impl CallbackError {
    /// True when the body is not even complete JSON (truncated or not JSON at all).
    pub fn is_syntax(&self) -> bool {
        matches!(self, CallbackError::Malformed { source, .. }
            if matches!(source.classify(), serde_json::error::Category::Syntax | serde_json::error::Category::Eof))
    }
}

fn decode<T: DeserializeOwned>(kind: CallbackKind, body: &[u8]) -> Result<T, CallbackError> {
    let malformed = |path: String, source| CallbackError::Malformed {
        kind: kind.as_str(),
        path,
        source,
    };
    // Serde would read a struct from a JSON array too; Daraja only ever sends an object.
    if body.trim_ascii_start().first().is_some_and(|b| *b != b'{') {
        return Err(CallbackError::NotAnObject { kind: kind.as_str() });
    }
    // Tracking the path costs about as much as the parse itself, and only an error needs it:
    // a body that parses is read once, one that does not is read again to say where.
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        malformed(path, e.into_inner())
    })?;
    de.end().map_err(|e| malformed(".".to_string(), e))?;
    Ok(value)
}

/// A callback body read as a JSON object, for the parsers that look keys up themselves (any
/// case, strings or numbers): malformed JSON and anything but an object are errors of `kind`.
pub(crate) fn json_object(kind: &'static str, body: &[u8]) -> Result<serde_json::Value, CallbackError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|source| CallbackError::Malformed {
            kind,
            path: ".".into(),
            source,
        })?;
    if !value.is_object() {
        return Err(CallbackError::NotAnObject { kind });
    }
    Ok(value)
}

fn require(kind: CallbackKind, field: &'static str, value: &str) -> Result<(), CallbackError> {
    if value.trim().is_empty() {
        Err(CallbackError::MissingId {
            kind: kind.as_str(),
            field,
        })
    } else {
        Ok(())
    }
}

/// Parses a callback body of the given kind. Unknown fields are ignored; missing optional parts
/// (CallbackMetadata, ResultParameters) are `None`; malformed input is an error, never a panic.
pub fn parse_callback(kind: CallbackKind, body: &[u8]) -> Result<Callback, CallbackError> {
    match kind {
        CallbackKind::Stk => {
            let envelope: stk::StkEnvelope = decode(kind, body)?;
            let cb = envelope.body.stk_callback;
            require(kind, "CheckoutRequestID", &cb.checkout_request_id)?;
            Ok(Callback::Stk(cb))
        }
        CallbackKind::C2bValidation | CallbackKind::C2bConfirmation => {
            let payment: C2bPayment = decode(kind, body)?;
            require(kind, "TransID", &payment.trans_id)?;
            Ok(if kind == CallbackKind::C2bValidation {
                Callback::C2bValidation(payment)
            } else {
                Callback::C2bConfirmation(payment)
            })
        }
        CallbackKind::Result => {
            let envelope: result::ResultEnvelope = decode(kind, body)?;
            let r = envelope.result;
            if r.conversation_key().is_none() {
                return Err(CallbackError::MissingId {
                    kind: kind.as_str(),
                    field: "ConversationID or OriginatorConversationID",
                });
            }
            Ok(Callback::Result(r))
        }
        CallbackKind::Timeout => {
            let timeout = match decode(kind, body)? {
                result::TimeoutEnvelope::Wrapped { result } => result,
                result::TimeoutEnvelope::Flat(t) => t,
            };
            if timeout.conversation_key().is_none() {
                return Err(CallbackError::MissingId {
                    kind: kind.as_str(),
                    field: "ConversationID or OriginatorConversationID",
                });
            }
            Ok(Callback::Timeout(timeout))
        }
    }
}

impl Callback {
    /// The kind it was parsed as.
    pub fn kind(&self) -> CallbackKind {
        match self {
            Callback::Stk(_) => CallbackKind::Stk,
            Callback::C2bValidation(_) => CallbackKind::C2bValidation,
            Callback::C2bConfirmation(_) => CallbackKind::C2bConfirmation,
            Callback::Result(_) => CallbackKind::Result,
            Callback::Timeout(_) => CallbackKind::Timeout,
        }
    }

    /// The unique key of this provider event, prefixed by its kind so keys of different kinds
    /// never collide: `stk:<CheckoutRequestID>`, `c2b_confirmation:<TransID>`,
    /// `result:<ConversationID>`, `timeout:<ConversationID>`.
    pub fn dedup_key(&self) -> String {
        let id = match self {
            Callback::Stk(cb) => cb.checkout_request_id.as_str(),
            Callback::C2bValidation(p) | Callback::C2bConfirmation(p) => p.trans_id.as_str(),
            // parse_callback refuses results and timeouts without an id.
            Callback::Result(r) => r.conversation_key().unwrap_or_default(),
            Callback::Timeout(t) => t.conversation_key().unwrap_or_default(),
        };
        format!("{}:{}", self.kind().as_str(), id.trim())
    }

    /// A descriptive event name: `stk_callback`, `c2b_validation`, `c2b_confirmation`,
    /// `b2c_result`, `b2b_result`, `transaction_status_result`, `account_balance_result`,
    /// `reversal_result`, `result` (unrecognised result) or `queue_timeout`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Callback::Stk(_) => "stk_callback",
            Callback::C2bValidation(_) => "c2b_validation",
            Callback::C2bConfirmation(_) => "c2b_confirmation",
            Callback::Result(r) => match r.kind() {
                ResultKind::B2c => "b2c_result",
                ResultKind::B2b => "b2b_result",
                ResultKind::TransactionStatus => "transaction_status_result",
                ResultKind::AccountBalance => "account_balance_result",
                ResultKind::Reversal => "reversal_result",
                ResultKind::Unknown => "result",
            },
            Callback::Timeout(_) => "queue_timeout",
        }
    }

    /// The result code as text, where the callback has one (STK, results, some timeouts).
    pub fn result_code(&self) -> Option<String> {
        match self {
            Callback::Stk(cb) => Some(cb.result_code.to_string()),
            Callback::Result(r) => Some(r.result_code.clone()),
            Callback::Timeout(t) => t.result_code.clone(),
            _ => None,
        }
    }

    /// True when the callback reports money moved (STK paid, result success, any C2B
    /// confirmation).
    pub fn is_success(&self) -> bool {
        match self {
            Callback::Stk(cb) => cb.is_paid(),
            Callback::Result(r) => r.is_success(),
            Callback::C2bConfirmation(_) => true,
            Callback::C2bValidation(_) | Callback::Timeout(_) => false,
        }
    }

    /// The body Daraja expects in answer (validation requests are accepted; answer with
    /// [`C2bValidationResponse::Reject`] yourself to refuse one).
    pub fn acknowledgement(&self) -> serde_json::Value {
        match self {
            Callback::C2bValidation(_) => C2bValidationResponse::Accept.to_json(),
            _ => callback_ack(),
        }
    }

    /// The callback back in Daraja's JSON shape (for fixtures, the simulator and round trips).
    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            Callback::Stk(cb) => serde_json::to_value(stk::StkEnvelope {
                body: stk::StkBody {
                    stk_callback: cb.clone(),
                },
            }),
            Callback::C2bValidation(p) | Callback::C2bConfirmation(p) => serde_json::to_value(p),
            Callback::Result(r) => serde_json::to_value(result::ResultEnvelope { result: r.clone() }),
            Callback::Timeout(t) => serde_json::to_value(serde_json::json!({ "Result": t })),
        };
        // Plain data with string keys: serialisation cannot fail.
        value.unwrap_or(serde_json::Value::Null)
    }
}
