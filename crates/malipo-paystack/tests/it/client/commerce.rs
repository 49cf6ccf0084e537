//! Products, payment pages and payment requests against the simulator.

use futures::TryStreamExt;
use malipo_paystack::{
    CreateCustomer, CreatePaymentPage, CreatePaymentRequest, CreateProduct, Error, Event, Expandable,
    LineItem, ListQuery, UpdatePaymentPage,
};
use malipo_sim::paystack::SimConfig;

use super::{kes, sim};

#[tokio::test]
async fn products_are_sold_on_payment_pages() {
    let (_sim, client) = sim(SimConfig::default()).await;
    let shoes = client
        .create_product(&CreateProduct::new("Shoes", "Leather, size 42", kes(450_000)).quantity(10))
        .await
        .unwrap();
    let id = shoes.id.expect("an id");
    assert_eq!(shoes.price(), Some(kes(450_000)));
    assert_eq!(shoes.unlimited, Some(false));
    assert_eq!(shoes.quantity, Some(10));
    let cheaper = client
        .update_product(id, &CreateProduct::new("Shoes", "Leather, size 42", kes(400_000)))
        .await
        .unwrap();
    assert_eq!(cheaper.price(), Some(kes(400_000)));
    assert_eq!(cheaper.unlimited, Some(true));
    assert_eq!(
        client.fetch_product(id).await.unwrap().name.as_deref(),
        Some("Shoes")
    );
    let products: Vec<_> = client
        .list_products(&ListQuery::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(products.len(), 1);

    assert!(client.payment_page_slug_available("duka").await.unwrap());
    let page = client
        .create_payment_page(
            &CreatePaymentPage::new("Duka")
                .slug("duka")
                .amount(kes(100_000))
                .description("Our shop"),
        )
        .await
        .unwrap();
    let page_id = page.id.expect("an id");
    assert_eq!(page.amount(), Some(kes(100_000)));
    assert!(!client.payment_page_slug_available("duka").await.unwrap());
    let taken = client
        .create_payment_page(&CreatePaymentPage::new("Again").slug("duka"))
        .await
        .unwrap_err();
    assert_eq!(taken.status(), Some(400));

    assert_eq!(client.fetch_payment_page("duka").await.unwrap().id, Some(page_id));
    let closed = client
        .update_payment_page("duka", &UpdatePaymentPage::new().name("Duka Kuu").active(false))
        .await
        .unwrap();
    assert_eq!(closed.name.as_deref(), Some("Duka Kuu"));
    assert_eq!(closed.active, Some(false));
    let stocked = client.add_payment_page_products(page_id, &[id]).await.unwrap();
    assert_eq!(
        stocked.products.as_ref().and_then(|p| p.as_array()).map(Vec::len),
        Some(1)
    );
    assert!(matches!(
        client.add_payment_page_products(page_id, &[]).await,
        Err(Error::InvalidRequest(_))
    ));
    let pages: Vec<_> = client
        .list_payment_pages(&ListQuery::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 1);
}

#[tokio::test]
async fn a_payment_request_is_drafted_sent_paid_and_totalled() {
    let (sim, client) = sim(SimConfig::default()).await;
    let customer = client
        .create_customer(&CreateCustomer::new("wanjiru@example.com"))
        .await
        .unwrap();
    let code = customer.customer_code.clone().unwrap();

    let itemized = CreatePaymentRequest::itemized(
        &code,
        vec![
            LineItem::new("Rent", kes(2_000_000), 1),
            LineItem::new("Water", kes(50_000), 2),
        ],
    )
    .description("January")
    .due_date("2024-01-31")
    .draft();
    let draft = client.create_payment_request(&itemized).await.unwrap();
    let draft_code = draft.request_code.clone().expect("a request code");
    assert_eq!(draft.amount(), Some(kes(2_100_000)), "the line items add up");
    assert_eq!(draft.customer, Some(Expandable::Id(customer.id.unwrap())));
    let sent = client.finalize_payment_request(&draft_code).await.unwrap();
    assert_eq!(sent.status.as_deref(), Some("pending"));

    let simple = client
        .create_payment_request(&CreatePaymentRequest::new(&code, kes(10_000)))
        .await
        .unwrap();
    let simple_code = simple.request_code.clone().unwrap();
    assert_eq!(
        client.notify_payment_request(&simple_code).await.unwrap(),
        "Notification sent"
    );
    sim.pay_payment_request(&simple_code).unwrap();
    let verified = client.verify_payment_request(&simple_code).await.unwrap();
    assert_eq!(verified.paid, Some(true));
    assert!(
        matches!(&verified.customer, Some(Expandable::Object(c)) if c.email.as_deref() == Some("wanjiru@example.com"))
    );
    assert_eq!(
        client
            .fetch_payment_request(&simple_code)
            .await
            .unwrap()
            .status
            .as_deref(),
        Some("success")
    );

    let totals = client.payment_request_totals().await.unwrap();
    assert_eq!(totals.pending[0].amount(), Some(kes(2_100_000)));
    assert_eq!(totals.successful[0].amount(), Some(kes(10_000)));
    assert_eq!(totals.total[0].amount(), Some(kes(2_110_000)));

    let paid = ListQuery {
        status: Some("success".to_string()),
        ..ListQuery::default()
    };
    let listed: Vec<_> = client.list_payment_requests(&paid).try_collect().await.unwrap();
    assert_eq!(listed.len(), 1);
    client.archive_payment_request(&draft_code).await.unwrap();
    let left: Vec<_> = client
        .list_payment_requests(&ListQuery::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "archived requests are not listed");

    let mixed = CreatePaymentRequest::itemized(
        &code,
        vec![
            LineItem::new("A", kes(1), 1),
            LineItem::new(
                "B",
                malipo_core::Money::from_minor(1, malipo_core::Currency::Ngn),
                1,
            ),
        ],
    );
    assert!(matches!(
        client.create_payment_request(&mixed).await,
        Err(Error::InvalidRequest(_))
    ));

    let names: Vec<String> = sim
        .deliveries()
        .iter()
        .map(|d| Event::from_slice(d.body.as_bytes()).unwrap().name().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "paymentrequest.pending",
            "paymentrequest.pending",
            "paymentrequest.success"
        ]
    );
}
