//! The charge API against the simulator: each source walks through the steps it needs.

use malipo_core::Secret;
use malipo_paystack::{BillingAddress, Card, ChargeStep, CreateCharge, Event, PaymentSource};
use malipo_sim::paystack::{SimConfig, ADDRESS_CHECK_CARD, TEST_OTP};

use super::{kes, paid, sim};

fn card(number: &str) -> PaymentSource {
    PaymentSource::Card(Card::new(
        Secret::new(number.to_string()),
        Secret::new("408".to_string()),
        "12",
        "2030",
    ))
}

#[tokio::test]
async fn a_card_asks_for_pin_then_otp_and_the_address_check_card_for_more() {
    let (sim, client) = sim(SimConfig::default()).await;
    let charge =
        CreateCharge::new("wanjiru@example.com", kes(5_000), card("4084084084084081")).reference("card-1");
    let first = client.create_charge(&charge).await.unwrap();
    assert_eq!(first.next_step(), Some(ChargeStep::Pin));
    assert!(first.display_text.is_some());
    let pin = Secret::new("1234".to_string());
    let otp = client.submit_charge_pin("card-1", &pin).await.unwrap();
    assert_eq!(otp.next_step(), Some(ChargeStep::Otp));
    let err = client.submit_charge_otp("card-1", "000000").await.unwrap_err();
    assert_eq!(err.message(), Some("Invalid OTP"));
    let done = client.submit_charge_otp("card-1", TEST_OTP).await.unwrap();
    assert!(done.is_successful());
    assert_eq!(done.next_step(), None);
    assert_eq!(done.amount(), Some(kes(5_000)));
    assert!(client.verify_transaction("card-1").await.unwrap().is_successful());

    // The PIN given up front skips that step; this card then asks for phone and address.
    let checked = CreateCharge::new("wanjiru@example.com", kes(7_000), card(ADDRESS_CHECK_CARD))
        .reference("card-2")
        .pin(pin);
    assert_eq!(
        client.create_charge(&checked).await.unwrap().next_step(),
        Some(ChargeStep::Otp)
    );
    let err = client
        .submit_charge_phone("card-2", "+254700000000")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "a step out of turn is refused");
    let phone = client.submit_charge_otp("card-2", TEST_OTP).await.unwrap();
    assert_eq!(phone.next_step(), Some(ChargeStep::Phone));
    let address = client
        .submit_charge_phone("card-2", "+254700000000")
        .await
        .unwrap();
    assert_eq!(address.next_step(), Some(ChargeStep::Address));
    let billing = BillingAddress::new("1 Moi Avenue", "Nairobi", "Nairobi", "00100");
    assert!(client
        .submit_charge_address("card-2", &billing)
        .await
        .unwrap()
        .is_successful());

    let names: Vec<String> = sim
        .deliveries()
        .iter()
        .map(|d| Event::from_slice(d.body.as_bytes()).unwrap().name().to_string())
        .collect();
    assert_eq!(names, ["charge.success", "charge.success"]);
}

#[tokio::test]
async fn bank_mobile_money_and_saved_authorizations() {
    let (sim, client) = sim(SimConfig::default()).await;
    let bank = PaymentSource::Bank {
        code: "057".to_string(),
        account_number: "0000000000".to_string(),
    };
    let charge = CreateCharge::new("a@example.com", kes(1_000), bank).reference("bank-1");
    let birthday = client.create_charge(&charge).await.unwrap();
    assert_eq!(birthday.next_step(), Some(ChargeStep::Birthday));
    let otp = client
        .submit_charge_birthday("bank-1", "1990-01-31")
        .await
        .unwrap();
    assert_eq!(otp.next_step(), Some(ChargeStep::Otp));
    assert!(client
        .submit_charge_otp("bank-1", TEST_OTP)
        .await
        .unwrap()
        .is_successful());

    let wallet = PaymentSource::MobileMoney {
        phone: "+254710000000".to_string(),
        provider: "mpesa".to_string(),
    };
    let charge = CreateCharge::new("b@example.com", kes(2_000), wallet).reference("mpesa-1");
    let waiting = client.create_charge(&charge).await.unwrap();
    assert_eq!(waiting.next_step(), Some(ChargeStep::Offline));
    let still = client.check_pending_charge("mpesa-1").await.unwrap();
    assert_eq!(still.status.as_deref(), Some("pay_offline"));
    sim.authorize("mpesa-1").unwrap(); // the customer approves on the phone
    assert!(client
        .check_pending_charge("mpesa-1")
        .await
        .unwrap()
        .is_successful());

    paid(&sim, &client, "first", kes(500)).await;
    let code = client
        .verify_transaction("first")
        .await
        .unwrap()
        .authorization
        .and_then(|a| a.authorization_code)
        .unwrap();
    let saved = PaymentSource::Authorization(code);
    let again = CreateCharge::new("wanjiru@example.com", kes(900), saved).reference("again");
    assert!(client.create_charge(&again).await.unwrap().is_successful());
    let stranger = CreateCharge::new(
        "wanjiru@example.com",
        kes(900),
        PaymentSource::Authorization("AUTH_nope".to_string()),
    );
    assert_eq!(
        client.create_charge(&stranger).await.unwrap_err().status(),
        Some(400)
    );
}

#[test]
fn card_secrets_stay_out_of_debug() {
    let charge = CreateCharge::new("a@example.com", kes(1), card("4084084084084081"))
        .pin(Secret::new("9876".to_string()));
    let shown = format!("{charge:?}");
    assert!(
        !shown.contains("4084084084084081") && !shown.contains("9876"),
        "{shown}"
    );
}
