//! Pending STK payments the gateway tracks, written through the store before the server starts,
//! and the callback URLs that settle them, minted with the key the server will use.

use std::sync::Arc;

use anyhow::Context as _;
use malipo_core::{Currency, Money, PaymentId, Provider};
use malipo_guard::{CallbackRoute, CallbackTokens};
use malipo_store::{NewPayment, Store};

use crate::body::{RequestPool, StkIds, StkPool, STK_AMOUNT_MINOR};

/// Concurrent inserts while seeding (they share group commits).
const LANES: usize = 64;

/// The pending payment the `n`-th callback settles, as `start_stk_push` records one once
/// Daraja has accepted the push: provider mpesa, kind `stk_push`, the amount and phone, and
/// both ids Daraja gave (CheckoutRequestID as the provider reference, MerchantRequestID as the
/// request id), on the default account.
pub fn stk_payment(id: PaymentId, n: u64) -> anyhow::Result<NewPayment> {
    let ids = StkIds::of(n);
    let phone = ids
        .phone
        .parse()
        .map_err(|e| anyhow::anyhow!("bad bench phone {}: {e}", ids.phone))?;
    Ok(NewPayment {
        id,
        msisdn: Some(phone),
        merchant_reference: Some(format!("bench-order-{n}")),
        description: Some("bench".into()),
        provider_reference: Some(ids.checkout_request_id),
        provider_request_id: Some(ids.merchant_request_id),
        ..NewPayment::pending(
            Provider::Mpesa,
            "stk_push",
            Money::from_minor(STK_AMOUNT_MINOR, Currency::Kes),
        )
    })
}

/// Stores payments `pool.size()..count` (pending, as [`stk_payment`]) and adds each one's STK
/// callback token to `pool`, so that request `n` of the pool settles payment `n`.
pub async fn seed_stk_payments(
    store: &Arc<dyn Store>,
    tokens: &CallbackTokens,
    pool: &mut StkPool,
    count: usize,
) -> anyhow::Result<()> {
    let first = pool.size();
    if count <= first {
        return Ok(());
    }
    let ids: Arc<Vec<PaymentId>> = Arc::new((first..count).map(|_| PaymentId::new()).collect());
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..LANES {
        let (store, ids) = (store.clone(), ids.clone());
        tasks.spawn(async move {
            for i in (lane..ids.len()).step_by(LANES) {
                store
                    .insert_payment(stk_payment(ids[i], (first + i) as u64)?)
                    .await
                    .with_context(|| format!("cannot store bench payment {}", first + i))?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    for id in ids.iter() {
        pool.push_token(&tokens.issue_for(CallbackRoute::Stk, *id))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}
