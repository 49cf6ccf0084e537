//! The dashboard's pages, rendered on the server. Customer phone numbers and emails are masked
//! everywhere, as in the command line's output.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use malipo_core::{EventId, EventStatus, PaymentId, PaymentState, Provider};
use malipo_store::{DeliveryFilter, DeliveryStatus, EventFilter, PaymentFilter, PaymentRecord};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::session::Session;
use super::{DeliveryQuery, EventQuery, PaymentQuery};
use crate::api::{mask_email_text, mask_personal, mask_text};
use crate::AppState;

/// The one stylesheet, served from the binary.
pub(crate) const STYLE: &str = r#"
:root { --fg: #1b1f24; --muted: #5b6470; --line: #d8dde3; --bg: #f6f8fa; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --accent: #0b5cad; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { background: #10243e; color: #fff; padding: .6rem 1rem; display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; align-items: center; }
header a { color: #fff; text-decoration: none; }
header strong { margin-right: 1rem; }
header form { margin-left: auto; }
main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
h1 { font-size: 1.3rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 .5rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: .6rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; }
.card b { display: block; font-size: 1.4rem; }
.card span { color: var(--muted); font-size: .85rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; font-size: .9rem; }
th { background: #eef1f4; font-weight: 600; }
td.wrap { white-space: normal; word-break: break-word; }
a { color: var(--accent); }
.state-succeeded, .status-processed, .status-delivered { color: var(--ok); font-weight: 600; }
.state-failed, .state-cancelled, .state-expired, .status-failed, .status-suspicious, .status-dead_letter, .status-rejected_authentic { color: var(--bad); font-weight: 600; }
.state-pending, .status-received, .status-pending { color: var(--warn); font-weight: 600; }
form.inline { display: inline; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-bottom: .8rem; }
label { display: flex; flex-direction: column; font-size: .8rem; color: var(--muted); }
input, select, button { font: inherit; padding: .3rem .5rem; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
header button { background: transparent; border-color: #6c7f96; }
.flash { background: #fff8c5; border: 1px solid #d4a72c; padding: .5rem .8rem; border-radius: 6px; margin-bottom: 1rem; }
.error { background: #ffebe9; border-color: var(--bad); }
pre { background: #fff; border: 1px solid var(--line); padding: .8rem; overflow-x: auto; font-size: .85rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; background: #fff; border: 1px solid var(--line); padding: .8rem; }
dt { color: var(--muted); }
dd { margin: 0; word-break: break-word; }
.login { max-width: 360px; margin: 12vh auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1.2rem; }
.login input { width: 100%; margin: .4rem 0 .8rem; }
svg.chart { width: 100%; height: 120px; background: #fff; border: 1px solid var(--line); }
.muted { color: var(--muted); }
"#;

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn page(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · malipo" }
                link rel="stylesheet" href="/admin/style.css";
            }
            body {
                header {
                    strong { "malipo" }
                    @if let Some(session) = session {
                        a href="/admin" { "Overview" }
                        a href="/admin/payments" { "Payments" }
                        a href="/admin/events" { "Events" }
                        a href="/admin/deliveries" { "Deliveries" }
                        a href="/admin/keys" { "API keys" }
                        form.inline method="post" action="/admin/logout" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

fn respond(markup: Markup) -> Response {
    Html(markup.into_string()).into_response()
}

fn flash(said: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = said {
            p.flash role="status" { (text) }
        }
    }
}

fn trouble(what: &str, e: impl std::fmt::Display, session: &Session) -> Response {
    tracing::warn!(error = %e, "dashboard: {what}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(
            page(
                "Unavailable",
                Some(session),
                html! { p.flash.error { "The database did not answer (" (what) "). Try again in a moment." } },
            )
            .into_string(),
        ),
    )
        .into_response()
}

/// The login page, with what went wrong at the last try.
pub(crate) fn login(error: Option<&str>) -> Markup {
    page(
        "Log in",
        None,
        html! {
            form.login method="post" action="/admin/login" {
                h1 { "Operator login" }
                @if let Some(e) = error { p.flash.error { (e) } }
                label for="token" { "Admin token" }
                input id="token" name="token" type="password" autocomplete="current-password" required autofocus;
                button type="submit" { "Log in" }
                p.muted { "The token is the deployment's [ops] admin_token." }
            }
        },
    )
}

/// A page with one message.
pub(crate) fn message(title: &str, text: &str) -> Markup {
    page(title, None, html! { h1 { (title) } p.flash.error { (text) } })
}

/// 404 for an id that names nothing.
pub(crate) fn not_found(what: &str, session: &Session) -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(
            page(
                "Not found",
                Some(session),
                html! { h1 { "Not found" } p { "No such " (what) "." } },
            )
            .into_string(),
        ),
    )
        .into_response()
}

fn state_cell(state: PaymentState) -> Markup {
    html! { span class=(format!("state-{}", state.as_str())) { (state.as_str()) } }
}

fn status_cell(status: &str) -> Markup {
    html! { span class=(format!("status-{status}")) { (status) } }
}

fn customer(p: &PaymentRecord) -> String {
    match (&p.msisdn, &p.email) {
        (Some(m), _) => m.masked(),
        (None, Some(e)) => mask_email_text(e),
        (None, None) => "-".into(),
    }
}

fn payments_table(list: &[PaymentRecord]) -> Markup {
    html! {
        div.scroll { table {
            thead { tr { th { "Payment" } th { "Created" } th { "Provider" } th { "Account" } th { "Kind" } th { "State" } th { "Amount" } th { "Customer" } th { "Reference" } th { "Receipt" } } }
            tbody {
                @for p in list {
                    tr {
                        td { a href=(format!("/admin/payments/{}", p.id)) { (p.id) } }
                        td { (when(p.created_at)) }
                        td { (p.provider) }
                        td { (p.account) }
                        td { (p.kind) }
                        td { (state_cell(p.state)) }
                        td { (p.amount) }
                        td { (customer(p)) }
                        td { (p.merchant_reference.as_deref().unwrap_or("-")) }
                        td { (p.receipt.as_deref().unwrap_or("-")) }
                    }
                }
                @if list.is_empty() { tr { td colspan="10" .muted { "None." } } }
            }
        } }
    }
}

/// An inline bar chart of events per minute over the last hour, newest on the right.
fn chart(per_minute: &[u64]) -> Markup {
    let max = per_minute.iter().copied().max().unwrap_or(0).max(1);
    let width = 600.0_f64;
    let height = 100.0_f64;
    let bar = width / per_minute.len().max(1) as f64;
    let mut bars = String::new();
    for (i, n) in per_minute.iter().enumerate() {
        let h = (*n as f64 / max as f64) * height;
        bars.push_str(&format!(
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#0b5cad"><title>{n}</title></rect>"##,
            i as f64 * bar,
            height - h + 10.0,
            (bar - 1.0).max(1.0),
            h
        ));
    }
    html! {
        svg.chart viewBox="0 0 600 120" preserveAspectRatio="none" role="img" aria-label="Inbound requests per minute, last hour" {
            (PreEscaped(bars))
        }
        @if per_minute.iter().all(|n| *n == 0) {
            p.muted { "No inbound request in the last hour (this process)." }
        } @else {
            p.muted { "Inbound requests per minute over the last hour (this process); peak " (max) "/min." }
        }
    }
}

/// Counts by state of the payments created since midnight (UTC), from at most 1,000.
async fn today(state: &AppState) -> Result<(Vec<(PaymentState, usize)>, bool), malipo_store::StoreError> {
    let midnight = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_else(Utc::now);
    let list = state
        .store
        .list_payments(&PaymentFilter {
            since: Some(midnight),
            limit: 1000,
            ..PaymentFilter::default()
        })
        .await?;
    let counts = PaymentState::ALL
        .iter()
        .map(|s| (*s, list.iter().filter(|p| p.state == *s).count()))
        .collect();
    Ok((counts, list.len() == 1000))
}

/// The overview: what happened today and what needs a person.
pub(crate) async fn overview(state: &AppState, session: &Session) -> Response {
    let stats = match state.store.stats().await {
        Ok(s) => s,
        Err(e) => return trouble("statistics", e, session),
    };
    let (today, capped) = match today(state).await {
        Ok(t) => t,
        Err(e) => return trouble("today's payments", e, session),
    };
    let failing = match state
        .store
        .list_deliveries(&DeliveryFilter {
            status: Some(DeliveryStatus::DeadLetter),
            limit: 10,
            ..DeliveryFilter::default()
        })
        .await
    {
        Ok(d) => d,
        Err(e) => return trouble("deliveries", e, session),
    };
    let rejections = state.guards.metrics().rejections();
    let per_minute = state.metrics.per_minute();
    let attention = stats.events_in(EventStatus::Failed) + stats.events_in(EventStatus::Suspicious);
    respond(page(
        "Overview",
        Some(session),
        html! {
            h1 { "Overview" }
            div.cards {
                @for (s, n) in &today {
                    div.card { b { (n) @if capped { "+" } } span { "payments " (s.as_str()) " today" } }
                }
            }
            div.cards style="margin-top:.6rem" {
                div.card { b { (stats.jobs_queued) } span { "events waiting for the worker" } }
                div.card { b { (stats.payments_pending) } span { "payments pending" } }
                div.card { b { a href="/admin/events" { (attention) } } span { "events failed or suspicious" } }
                div.card { b { (stats.deliveries_pending) } span { "deliveries pending" } }
                div.card { b { a href="/admin/deliveries?status=dead_letter" { (stats.deliveries_dead) } } span { "deliveries dead" } }
            }
            h2 { "Inbound requests" }
            (chart(&per_minute))
            h2 { "Refused by the guard (since start)" }
            @if rejections.is_empty() { p.muted { "Nothing refused." } } @else {
                div.scroll { table {
                    thead { tr { th { "Provider" } th { "Reason" } th { "HTTP" } th { "Count" } } }
                    tbody { @for (p, r, n) in &rejections { tr { td { (p) } td { (r.code()) } td { (r.status().as_u16()) } td { (n) } } } }
                } }
            }
            h2 { "Failing deliveries" }
            @if failing.is_empty() { p.muted { "No dead deliveries." } } @else {
                div.scroll { table {
                    thead { tr { th { "Delivery" } th { "Type" } th { "Payment" } th { "Attempts" } th { "Last error" } } }
                    tbody { @for d in &failing { tr {
                        td { (d.id) } td { (d.event_type) }
                        td { @if let Some(p) = d.payment_id { a href=(format!("/admin/payments/{p}")) { (p) } } @else { "-" } }
                        td { (d.attempts) } td.wrap { (d.last_error.as_deref().unwrap_or("-")) }
                    } } }
                } }
            }
        },
    ))
}

/// The payments list, filtered and paged.
pub(crate) async fn payments(state: &AppState, session: &Session, query: PaymentQuery) -> Response {
    let non_empty = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut problems = Vec::new();
    let filter = PaymentFilter {
        state: non_empty(&query.state).and_then(|s| {
            let parsed = PaymentState::ALL.iter().copied().find(|x| x.as_str() == s);
            if parsed.is_none() {
                problems.push(format!("unknown state {s:?}"));
            }
            parsed
        }),
        provider: non_empty(&query.provider).and_then(|p| match p.as_str() {
            "mpesa" => Some(Provider::Mpesa),
            "paystack" => Some(Provider::Paystack),
            other => {
                problems.push(format!("unknown provider {other:?}"));
                None
            }
        }),
        account: non_empty(&query.account).and_then(|a| match a.parse() {
            Ok(a) => Some(a),
            Err(e) => {
                problems.push(format!("{e}"));
                None
            }
        }),
        since: non_empty(&query.since).and_then(|d| {
            match chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d") {
                Ok(day) => day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
                Err(_) => {
                    problems.push(format!("{d:?} is not a date (YYYY-MM-DD)"));
                    None
                }
            }
        }),
        search: non_empty(&query.q),
        before: non_empty(&query.before).and_then(|b| b.parse().ok()),
        limit: 51,
        ..PaymentFilter::default()
    };
    let mut list = match state.store.list_payments(&filter).await {
        Ok(l) => l,
        Err(e) => return trouble("payments", e, session),
    };
    let more = list.len() > 50;
    list.truncate(50);
    let next = more.then(|| list.last().map(|p| p.id)).flatten();
    let keep = |name: &str, v: &Option<String>| {
        non_empty(v)
            .map(|v| format!("&{name}={}", url_escape(&v)))
            .unwrap_or_default()
    };
    let carried = format!(
        "{}{}{}{}{}",
        keep("state", &query.state),
        keep("provider", &query.provider),
        keep("account", &query.account),
        keep("q", &query.q),
        keep("since", &query.since)
    );
    let selected = |v: &Option<String>, x: &str| non_empty(v).as_deref() == Some(x);
    respond(page(
        "Payments",
        Some(session),
        html! {
            h1 { "Payments" }
            @for p in &problems { p.flash.error { (p) } }
            form.filters method="get" action="/admin/payments" {
                label { "Search" input name="q" value=(non_empty(&query.q).unwrap_or_default()) placeholder="reference, receipt, phone's last digits"; }
                label { "State" select name="state" {
                    option value="" { "any" }
                    @for s in PaymentState::ALL { option value=(s.as_str()) selected[selected(&query.state, s.as_str())] { (s.as_str()) } }
                } }
                label { "Provider" select name="provider" {
                    option value="" { "any" }
                    @for p in ["mpesa", "paystack"] { option value=(p) selected[selected(&query.provider, p)] { (p) } }
                } }
                label { "Account" input name="account" value=(non_empty(&query.account).unwrap_or_default()) placeholder="default"; }
                label { "Since" input name="since" type="date" value=(non_empty(&query.since).unwrap_or_default()); }
                button type="submit" { "Filter" }
            }
            (payments_table(&list))
            @if let Some(id) = next {
                p { a href=(format!("/admin/payments?before={id}{carried}")) { "Older payments →" } }
            }
        },
    ))
}

/// Percent-encodes a query value.
fn url_escape(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One payment: its details, the events about it and the deliveries announcing it.
pub(crate) async fn payment(
    state: &AppState,
    session: &Session,
    id: PaymentId,
    said: Option<String>,
) -> Response {
    let p = match state.store.get_payment(id).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found("payment", session),
        Err(e) => return trouble("the payment", e, session),
    };
    let events = match state
        .store
        .list_events(&EventFilter {
            payment_id: Some(id),
            limit: 200,
            ..EventFilter::default()
        })
        .await
    {
        Ok(e) => e,
        Err(e) => return trouble("the payment's events", e, session),
    };
    let deliveries = match state
        .store
        .list_deliveries(&DeliveryFilter {
            payment_id: Some(id),
            limit: 200,
            ..DeliveryFilter::default()
        })
        .await
    {
        Ok(d) => d,
        Err(e) => return trouble("the payment's deliveries", e, session),
    };
    respond(page(
        &p.id.to_string(),
        Some(session),
        html! {
            h1 { "Payment " (p.id) }
            (flash(said.as_deref()))
            dl {
                dt { "State" } dd { (state_cell(p.state)) @if let Some(by) = p.settled_by { " (settled by " (by.as_str()) ")" } }
                dt { "Amount" } dd { (p.amount) @if p.refunded.minor() > 0 { ", refunded " (p.refunded) } }
                dt { "Provider" } dd { (p.provider) " " (p.kind) ", account " (p.account) }
                dt { "Customer" } dd { (customer(&p)) }
                dt { "Merchant reference" } dd { (p.merchant_reference.as_deref().unwrap_or("-")) }
                dt { "Provider reference" } dd { (p.provider_reference.as_deref().unwrap_or("-")) }
                dt { "Receipt" } dd { (p.receipt.as_deref().unwrap_or("-")) }
                dt { "Result" } dd { (p.result_code.as_deref().unwrap_or("-")) " " (mask_text(p.result_desc.as_deref().unwrap_or(""))) }
                dt { "Created" } dd { (when(p.created_at)) }
                dt { "Updated" } dd { (when(p.updated_at)) }
                @if let Some(parent) = p.parent_id { dt { "Refund of" } dd { a href=(format!("/admin/payments/{parent}")) { (parent) } } }
                @if let Some(note) = &p.check.note { dt { "Reconciliation" } dd { (mask_text(note)) @if p.check.held { " (held for a person)" } } }
            }
            @if p.state == PaymentState::Pending {
                form.inline method="post" action=(format!("/admin/payments/{}/reconcile", p.id)) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    p { button type="submit" { "Reconcile now" } " asks the provider and settles from its answer." }
                }
            }
            h2 { "Events about it" }
            div.scroll { table {
                thead { tr { th { "Event" } th { "Received" } th { "Kind" } th { "Status" } th { "Note" } } }
                tbody {
                    @for e in &events { tr {
                        td { a href=(format!("/admin/events/{}", e.id)) { (e.id) } }
                        td { (when(e.received_at)) } td { (e.kind) } td { (status_cell(e.status.as_str())) }
                        td.wrap { (mask_text(e.last_error.as_deref().unwrap_or(""))) }
                    } }
                    @if events.is_empty() { tr { td colspan="5" .muted { "No callback or webhook names it yet." } } }
                }
            } }
            h2 { "Deliveries announcing it" }
            (deliveries_table(&deliveries, session))
        },
    ))
}

fn deliveries_table(list: &[malipo_store::DeliveryRecord], session: &Session) -> Markup {
    html! {
        div.scroll { table {
            thead { tr { th { "Delivery" } th { "Type" } th { "Status" } th { "Attempts" } th { "Last answer" } th { "Next attempt" } th { "" } } }
            tbody {
                @for d in list { tr {
                    td { (d.id) } td { (d.event_type) } td { (status_cell(d.status.as_str())) } td { (d.attempts) }
                    td.wrap { @if let Some(s) = d.last_status { (s) " " } (d.last_error.as_deref().unwrap_or("")) }
                    td { @if d.status == DeliveryStatus::Pending { (when(d.next_attempt_at)) } @else { "-" } }
                    td { @if d.status != DeliveryStatus::Pending {
                        form.inline method="post" action=(format!("/admin/deliveries/{}/retry", d.id)) {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { "Retry" }
                        }
                    } }
                } }
                @if list.is_empty() { tr { td colspan="7" .muted { "None." } } }
            }
        } }
    }
}

/// Events: those that need a person first, then everything, newest first.
pub(crate) async fn events(state: &AppState, session: &Session, query: EventQuery) -> Response {
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| EventStatus::ALL.iter().copied().find(|x| x.as_str() == s));
    let before: Option<EventId> = query.before.as_deref().and_then(|b| b.parse().ok());
    let mut attention = Vec::new();
    if status.is_none() && before.is_none() {
        for s in [
            EventStatus::Failed,
            EventStatus::Suspicious,
            EventStatus::RejectedAuthentic,
        ] {
            match state
                .store
                .list_events(&EventFilter {
                    status: Some(s),
                    limit: 20,
                    ..EventFilter::default()
                })
                .await
            {
                Ok(list) => attention.extend(list),
                Err(e) => return trouble("events", e, session),
            }
        }
    }
    let mut list = match state
        .store
        .list_events(&EventFilter {
            status,
            before,
            limit: 51,
            ..EventFilter::default()
        })
        .await
    {
        Ok(l) => l,
        Err(e) => return trouble("events", e, session),
    };
    let more = list.len() > 50;
    list.truncate(50);
    let next = more.then(|| list.last().map(|e| e.id)).flatten();
    let table = |list: &[malipo_store::EventSummary]| {
        html! {
            div.scroll { table {
                thead { tr { th { "Event" } th { "Received" } th { "Provider" } th { "Kind" } th { "Status" } th { "Payment" } th { "Note" } } }
                tbody {
                    @for e in list { tr {
                        td { a href=(format!("/admin/events/{}", e.id)) { (e.id) } }
                        td { (when(e.received_at)) } td { (e.provider) } td { (e.kind) } td { (status_cell(e.status.as_str())) }
                        td { @if let Some(p) = e.payment_id { a href=(format!("/admin/payments/{p}")) { (p) } } @else { "-" } }
                        td.wrap { (mask_text(e.last_error.as_deref().unwrap_or(""))) }
                    } }
                    @if list.is_empty() { tr { td colspan="7" .muted { "None." } } }
                }
            } }
        }
    };
    respond(page(
        "Events",
        Some(session),
        html! {
            h1 { "Events" }
            @if !attention.is_empty() {
                h2 { "Need a person (failed, suspicious, refused)" }
                (table(&attention))
            }
            form.filters method="get" action="/admin/events" {
                label { "Status" select name="status" {
                    option value="" { "any" }
                    @for s in EventStatus::ALL { option value=(s.as_str()) selected[status == Some(s)] { (s.as_str()) } }
                } }
                button type="submit" { "Filter" }
            }
            h2 { "All events, newest first" }
            (table(&list))
            @if let Some(id) = next {
                p { a href=(format!("/admin/events?before={id}{}", status.map(|s| format!("&status={}", s.as_str())).unwrap_or_default())) { "Older events →" } }
            }
        },
    ))
}

/// One event, its body masked, with the replay button.
pub(crate) async fn event(
    state: &AppState,
    session: &Session,
    id: EventId,
    said: Option<String>,
) -> Response {
    let e = match state.store.get_event(id).await {
        Ok(Some(e)) => e,
        Ok(None) => return not_found("event", session),
        Err(e) => return trouble("the event", e, session),
    };
    let body = match serde_json::from_slice::<serde_json::Value>(&e.raw_body) {
        Ok(mut v) => {
            mask_personal(&mut v);
            serde_json::to_string_pretty(&v).unwrap_or_default()
        }
        Err(_) => mask_text(&String::from_utf8_lossy(&e.raw_body)),
    };
    let s = &e.summary;
    respond(page(
        &s.id.to_string(),
        Some(session),
        html! {
            h1 { "Event " (s.id) }
            (flash(said.as_deref()))
            dl {
                dt { "Status" } dd { (status_cell(s.status.as_str())) }
                dt { "Provider" } dd { (s.provider) @if let Some(a) = &s.account { ", account " (a) } }
                dt { "Kind" } dd { (s.kind) }
                dt { "Received" } dd { (when(s.received_at)) }
                dt { "From" } dd { (s.source_ip.map(|ip| ip.to_string()).unwrap_or_else(|| "-".into())) }
                dt { "Attempts" } dd { (s.attempts) }
                dt { "Payment" } dd { @if let Some(p) = s.payment_id { a href=(format!("/admin/payments/{p}")) { (p) } } @else { "-" } }
                dt { "Note" } dd { (mask_text(s.last_error.as_deref().unwrap_or("-"))) }
            }
            form.inline method="post" action=(format!("/admin/events/{}/replay", s.id)) {
                input type="hidden" name="csrf" value=(session.csrf);
                p { button type="submit" { "Replay" } " processes it again (a payment it already moved is not moved twice)." }
            }
            h2 { "Body (" (s.body_len) " bytes; phone numbers and emails masked)" }
            pre { (body) }
        },
    ))
}

/// Endpoints and deliveries, with the retry button.
pub(crate) async fn deliveries(
    state: &AppState,
    session: &Session,
    query: DeliveryQuery,
    said: Option<String>,
) -> Response {
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse().ok());
    let endpoints = match crate::delivery::list_endpoints(state).await {
        Ok(e) => e,
        Err(e) => return trouble("endpoints", e, session),
    };
    let list = match state
        .store
        .list_deliveries(&DeliveryFilter {
            status,
            limit: 100,
            ..DeliveryFilter::default()
        })
        .await
    {
        Ok(l) => l,
        Err(e) => return trouble("deliveries", e, session),
    };
    respond(page(
        "Deliveries",
        Some(session),
        html! {
            h1 { "Deliveries" }
            (flash(said.as_deref()))
            h2 { "Endpoints" }
            div.scroll { table {
                thead { tr { th { "Name" } th { "URL" } th { "Events" } th { "Enabled" } th { "Secret rotating until" } } }
                tbody {
                    @for e in &endpoints { tr {
                        td { (e.name) } td.wrap { (e.url) }
                        td { @if e.event_types.is_empty() { "every payment, payout and refund event" } @else { (e.event_types.join(", ")) } }
                        td { (if e.enabled { "yes" } else { "no" }) }
                        td { (e.previous_secret_until.map(when).unwrap_or_else(|| "-".into())) }
                    } }
                    @if endpoints.is_empty() { tr { td colspan="5" .muted { "No endpoint: set [merchant] or run `malipo endpoints add`." } } }
                }
            } }
            form.filters method="get" action="/admin/deliveries" {
                label { "Status" select name="status" {
                    option value="" { "any" }
                    @for s in ["pending", "delivered", "dead_letter"] { option value=(s) selected[query.status.as_deref() == Some(s)] { (s) } }
                } }
                button type="submit" { "Filter" }
            }
            h2 { "Deliveries, newest first" }
            (deliveries_table(&list, session))
        },
    ))
}

/// The merchant API's keys (never the keys themselves: they are stored hashed).
pub(crate) async fn keys(state: &AppState, session: &Session) -> Response {
    let keys = match state.store.list_api_keys().await {
        Ok(k) => k,
        Err(e) => return trouble("API keys", e, session),
    };
    respond(page(
        "API keys",
        Some(session),
        html! {
            h1 { "API keys" }
            p.muted { "Create and revoke keys with `malipo api-key create|revoke`; a key is shown once, when made." }
            div.scroll { table {
                thead { tr { th { "Id" } th { "Name" } th { "Starts with" } th { "Environment" } th { "Created" } th { "Revoked" } } }
                tbody {
                    @for k in &keys { tr {
                        td { (k.id) } td { (k.name.as_deref().unwrap_or("-")) } td { (k.prefix) "…" } td { (k.environment) }
                        td { (when(k.created_at)) } td { (k.revoked_at.map(when).unwrap_or_else(|| "-".into())) }
                    } }
                    @if keys.is_empty() { tr { td colspan="6" .muted { "No key yet." } } }
                }
            } }
        },
    ))
}
