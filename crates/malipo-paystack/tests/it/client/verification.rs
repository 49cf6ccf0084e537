//! Verification (account number, card BIN, account validation) and the miscellaneous lists.

use futures::TryStreamExt;
use malipo_paystack::{Error, ListBanks, ValidateAccount};
use malipo_sim::paystack::{SimConfig, FAILING_ACCOUNT_NUMBER};

use super::sim;

#[tokio::test]
async fn accounts_and_bins_resolve_and_accounts_validate() {
    let (_sim, client) = sim(SimConfig::default()).await;
    let account = client.resolve_account_number("0123456789", "01").await.unwrap();
    assert_eq!(account.account_number.as_deref(), Some("0123456789"));
    assert!(account.account_name.is_some());
    assert_eq!(account.bank_id, Some(3));
    let err = client
        .resolve_account_number(FAILING_ACCOUNT_NUMBER, "01")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert!(matches!(
        client.resolve_account_number("", "01").await,
        Err(Error::InvalidRequest(_))
    ));

    let bin = client.resolve_card_bin("539983").await.unwrap();
    assert_eq!(bin.bin.as_deref(), Some("539983"));
    assert_eq!(bin.brand.as_deref(), Some("Mastercard"));
    for bad in ["53998", "5399831", "53998x", "../../x"] {
        let err = client.resolve_card_bin(bad).await.unwrap_err();
        assert!(err.to_string().contains("six digits"), "{bad}: {err}");
    }

    let ok = ValidateAccount::personal("Ann Bee", "0123456789", "632005", "ZA", "1234567890123");
    let validated = client.validate_account(&ok).await.unwrap();
    assert_eq!(validated.verified, Some(true));
    assert!(validated.verification_message.is_some());
    let bad = ValidateAccount::personal("Ann Bee", FAILING_ACCOUNT_NUMBER, "632005", "ZA", "1");
    assert_eq!(client.validate_account(&bad).await.unwrap().verified, Some(false));
}

#[tokio::test]
async fn banks_page_by_cursor_and_countries_and_states_list() {
    let (sim, client) = sim(SimConfig::default()).await;
    let kenya = ListBanks::country("kenya").per_page(3);
    let banks: Vec<_> = client.list_banks(&kenya).try_collect().await.unwrap();
    assert_eq!(banks.len(), 4);
    assert!(banks.iter().all(|b| b.country.as_deref() == Some("Kenya")));
    assert!(banks.iter().any(|b| b.code.as_deref() == Some("MPESA")));
    // Two pages: the second asked for by the first's `next` cursor.
    let asked: Vec<_> = sim
        .api_calls()
        .into_iter()
        .filter(|c| c.path == "/bank")
        .collect();
    assert_eq!(asked.len(), 2, "{asked:?}");

    let mobile = ListBanks::new().bank_type("mobile_money");
    let operators: Vec<_> = client.list_banks(&mobile).try_collect().await.unwrap();
    assert!(operators
        .iter()
        .all(|b| b.bank_type.as_deref() == Some("mobile_money")));

    let countries = client.list_countries().await.unwrap();
    let kenya = countries
        .iter()
        .find(|c| c.iso_code.as_deref() == Some("KE"))
        .expect("Kenya");
    assert_eq!(kenya.default_currency_code.as_deref(), Some("KES"));

    let states = client.list_states("CA").await.unwrap();
    assert!(states.iter().any(|s| s.abbreviation.as_deref() == Some("AB")));
    assert!(client.list_states("").await.is_err());
}
