//! Every group in `API_GROUPS` has a typed method answered by the simulator: each group below is
//! exercised through the client, and the simulator's log must show a successful request under
//! each of the group's paths. A group added to the list without an exercise here fails.

use futures::TryStreamExt;
use malipo_core::Currency;
use malipo_paystack::{
    ApiGroup, BulkChargeItem, Client, CreateCharge, CreateCustomer, CreateDedicatedAccount,
    CreatePaymentPage, CreatePaymentRequest, CreatePlan, CreateProduct, CreateRefund, CreateSplit,
    CreateSubaccount, CreateSubscription, CreateTransferRecipient, InitiateTransfer, Interval, ListBanks,
    ListDedicatedAccounts, ListPlans, ListQuery, ListSubscriptions, PaymentSource, SplitShare, SplitType,
    ValidateAccount, API_GROUPS,
};
use malipo_sim::paystack::{ApiCall, PaystackSimHandle, SimConfig};

use super::{kes, paid, sim};

async fn exercise(group: &ApiGroup, sim: &PaystackSimHandle, client: &Client) {
    let everything = ListQuery::default();
    match group.name {
        "transactions" => {
            paid(sim, client, "cov-tx", kes(9_000)).await;
        }
        "refunds" => {
            client
                .create_refund(&CreateRefund::partial("cov-tx", kes(100)))
                .await
                .unwrap();
        }
        "transfers" => {
            let recipient = CreateTransferRecipient::new("mobile_money", "A", "0711000009", "MPESA");
            let code = client
                .create_transfer_recipient(&recipient)
                .await
                .unwrap()
                .recipient_code
                .unwrap();
            client
                .initiate_transfer(&InitiateTransfer::new(kes(100), code))
                .await
                .unwrap();
        }
        "customers" => {
            client
                .create_customer(&CreateCustomer::new("wanjiru@example.com"))
                .await
                .unwrap();
        }
        "plans" => {
            let plan = CreatePlan::new("Cov", kes(1_000), Interval::Weekly);
            client.create_plan(&plan).await.unwrap();
            client
                .list_plans(&ListPlans::default())
                .try_collect::<Vec<_>>()
                .await
                .unwrap();
        }
        "subscriptions" => {
            let plans: Vec<_> = client
                .list_plans(&ListPlans::default())
                .try_collect()
                .await
                .unwrap();
            let plan = plans[0].plan_code.clone().unwrap();
            let created = CreateSubscription::new("wanjiru@example.com", plan);
            client.create_subscription(&created).await.unwrap();
            client
                .list_subscriptions(&ListSubscriptions::default())
                .try_collect::<Vec<_>>()
                .await
                .unwrap();
        }
        "transfer recipients" => {
            client
                .list_transfer_recipients(&everything)
                .try_collect::<Vec<_>>()
                .await
                .unwrap();
        }
        "transfer control" => {
            client.balance().await.unwrap();
            client
                .balance_ledger(&everything)
                .try_collect::<Vec<_>>()
                .await
                .unwrap();
        }
        "verification" => {
            client.resolve_account_number("0123456789", "01").await.unwrap();
            client.resolve_card_bin("408408").await.unwrap();
            let account = ValidateAccount::personal("A B", "0123456789", "632005", "ZA", "1");
            client.validate_account(&account).await.unwrap();
        }
        "miscellaneous" => {
            client
                .list_banks(&ListBanks::country("kenya"))
                .try_collect::<Vec<_>>()
                .await
                .unwrap();
            client.list_countries().await.unwrap();
            client.list_states("US").await.unwrap();
        }
        "dedicated virtual accounts" => {
            let account = CreateDedicatedAccount::new("wanjiru@example.com");
            client.create_dedicated_account(&account).await.unwrap();
            client
                .list_dedicated_accounts(&ListDedicatedAccounts::default())
                .try_collect::<Vec<_>>()
                .await
                .unwrap();
        }
        "subaccounts" => {
            let shop = CreateSubaccount::new("Cov", "01", "0123456789", 10.0);
            client.create_subaccount(&shop).await.unwrap();
        }
        "transaction splits" => {
            let subaccounts: Vec<_> = client.list_subaccounts(&everything).try_collect().await.unwrap();
            let code = subaccounts[0].subaccount_code.clone().unwrap();
            let shares = vec![SplitShare::new(code, 50)];
            let split = CreateSplit::new("Cov", SplitType::Percentage, Currency::Kes, shares);
            client.create_split(&split).await.unwrap();
        }
        "settlements" => {
            sim.settle();
            let settlements: Vec<_> = client.list_settlements(&everything).try_collect().await.unwrap();
            let id = settlements[0].id.unwrap();
            client
                .settlement_transactions(id, &everything)
                .try_collect::<Vec<_>>()
                .await
                .unwrap();
        }
        "disputes" => {
            let id = sim.open_dispute("cov-tx").unwrap()["id"].as_u64().unwrap();
            client.fetch_dispute(id).await.unwrap();
            client
                .list_disputes(&everything)
                .try_collect::<Vec<_>>()
                .await
                .unwrap();
        }
        "products" => {
            let product = CreateProduct::new("Cov", "Coverage", kes(100));
            client.create_product(&product).await.unwrap();
        }
        "payment pages" => {
            client
                .create_payment_page(&CreatePaymentPage::new("Cov"))
                .await
                .unwrap();
        }
        "payment requests" => {
            let request = CreatePaymentRequest::new("wanjiru@example.com", kes(100));
            client.create_payment_request(&request).await.unwrap();
        }
        "charge" => {
            let wallet = PaymentSource::MobileMoney {
                phone: "+254710000000".to_string(),
                provider: "mpesa".to_string(),
            };
            let charge = CreateCharge::new("wanjiru@example.com", kes(100), wallet).reference("cov-charge");
            client.create_charge(&charge).await.unwrap();
            client.check_pending_charge("cov-charge").await.unwrap();
        }
        "bulk charges" => {
            let batch = [BulkChargeItem::new("AUTH_any", kes(100), "cov-bulk")];
            client.initiate_bulk_charge(&batch).await.unwrap();
        }
        "apple pay" => {
            client.register_apple_pay_domain("cov.example.com").await.unwrap();
        }
        "terminals" => {
            client.commission_terminal("SN-COV").await.unwrap();
            client.list_terminals(None).try_collect::<Vec<_>>().await.unwrap();
        }
        other => panic!("API group {other:?} is listed in API_GROUPS but has no exercise here"),
    }
}

/// Whether `call` succeeded under `path` (`customer` covers `/customer` and `/customer/…`).
fn under(call: &ApiCall, path: &str) -> bool {
    let prefix = format!("/{path}");
    (200..300).contains(&call.status) && (call.path == prefix || call.path.starts_with(&format!("{prefix}/")))
}

#[tokio::test]
async fn every_listed_group_is_exercised_against_the_simulator() {
    let (sim, client) = sim(SimConfig::default()).await;
    let mut names: Vec<&str> = API_GROUPS.iter().map(|g| g.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), API_GROUPS.len(), "group names are unique");
    for group in API_GROUPS {
        let before = sim.api_calls().len();
        exercise(group, &sim, &client).await;
        let calls = sim.api_calls().split_off(before);
        for path in group.paths {
            assert!(
                calls.iter().any(|c| under(c, path)),
                "group {:?}: no successful request under /{path} in {calls:?}",
                group.name
            );
        }
    }
}
