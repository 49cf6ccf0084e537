//! `malipo events list|show` and `malipo replay`: what came in, and putting it through again.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use malipo_core::{EventId, EventStatus, Provider};
use malipo_store::{EventFilter, EventSummary, Replayed, Store};

use malipo_gateway::api::{mask_personal, mask_text};

use super::serve::load_config;
use crate::Format;

/// Arguments of `malipo events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// List stored events, newest first.
    List(ListArgs),
    /// Show one event with its body (phone numbers masked).
    Show(ShowArgs),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only this provider's events: mpesa or paystack.
    #[arg(long)]
    provider: Option<Provider>,
    /// Only events in this status: received, processed, failed, rejected_authentic or suspicious
    /// (processed, but disagreeing with its payment; the reason is its last error).
    #[arg(long)]
    status: Option<EventStatus>,
    /// Only events received since: an RFC 3339 time (2026-11-28T07:00:00Z) or an age (30m, 2h, 7d).
    #[arg(long, value_parser = super::parse_since)]
    since: Option<DateTime<Utc>>,
    /// At most this many (any number: they are read a page at a time). When more match, a line
    /// on standard error says how to get the next ones.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Only events older than this one (evt_…): the last id of the previous listing.
    #[arg(long, value_name = "ID")]
    before: Option<EventId>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The event's id (evt_…).
    id: EventId,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Arguments of `malipo replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The event to process again (evt_…), for example a failed one.
    id: EventId,
}

async fn open(config_path: Option<&Path>) -> anyhow::Result<Arc<dyn Store>> {
    let config = load_config(config_path)?;
    malipo_gateway::open_store(&config)
        .await
        .context("cannot open the database")
}

/// Runs `malipo events`.
pub async fn run(args: EventsArgs, config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let store = open(config_path).await?;
    let code = match args.action {
        Action::List(a) => list(&*store, a).await?,
        Action::Show(a) => show(&*store, a).await?,
    };
    store.close().await?;
    Ok(code)
}

async fn list(store: &dyn Store, args: ListArgs) -> anyhow::Result<ExitCode> {
    let events = collect(store, &args).await?;
    print_list(events, args.format)
}

/// The events `args` ask for, up to `--limit`, however many pages that takes; says on standard
/// error how to get the next ones when more match.
async fn collect(store: &dyn Store, args: &ListArgs) -> anyhow::Result<Vec<EventSummary>> {
    // The store answers at most a page at a time: read pages until the limit, one more row
    // telling whether anything was left out (never a silent cut).
    let mut events = Vec::new();
    let mut before = args.before;
    let wanted = args.limit.saturating_add(1);
    loop {
        let filter = EventFilter {
            provider: args.provider,
            status: args.status,
            since: args.since,
            before,
            limit: (wanted - events.len()).min(EventFilter::MAX_LIMIT),
            payment_id: None,
        };
        let page = store.list_events(&filter).await?;
        let full = page.len() == filter.limit;
        before = page.last().map(|e| e.id);
        events.extend(page);
        if !full || events.len() >= wanted {
            break;
        }
    }
    let more = events.len() > args.limit;
    events.truncate(args.limit);
    if more {
        if let Some(last) = events.last() {
            eprintln!(
                "more events match than --limit {}: list the next ones with --before {}",
                args.limit, last.id
            );
        }
    }
    Ok(events)
}

fn print_list(events: Vec<EventSummary>, format: Format) -> anyhow::Result<ExitCode> {
    match format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(&events)?),
        Format::Text => {
            if events.is_empty() {
                outln!("no events match");
            } else {
                outln!(
                    "{:<30}  {:<8}  {:<24}  {:<18}  {:<20}  ERROR",
                    "ID",
                    "PROVIDER",
                    "KIND",
                    "STATUS",
                    "RECEIVED"
                );
                for e in &events {
                    outln!(
                        "{:<30}  {:<8}  {:<24}  {:<18}  {:<20}  {}",
                        e.id.to_string(),
                        e.provider.as_str(),
                        e.kind,
                        e.status.as_str(),
                        e.received_at.format("%Y-%m-%d %H:%M:%S"),
                        e.last_error.as_deref().unwrap_or("")
                    );
                }
                outln!("\n{} event(s)", events.len());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(store: &dyn Store, args: ShowArgs) -> anyhow::Result<ExitCode> {
    let Some(event) = store.get_event(args.id).await? else {
        anyhow::bail!("no event {} (list them with `malipo events list`)", args.id);
    };
    let body = match serde_json::from_slice::<serde_json::Value>(&event.raw_body) {
        Ok(mut v) => {
            mask_personal(&mut v);
            v
        }
        Err(_) => serde_json::Value::String(mask_text(&String::from_utf8_lossy(&event.raw_body))),
    };
    match args.format {
        Format::Json => {
            let mut doc = serde_json::to_value(&event.summary)?;
            doc["body"] = body;
            outln!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Format::Text => {
            let e = &event.summary;
            outln!("id:          {}", e.id);
            outln!("provider:    {}", e.provider);
            outln!("kind:        {}", e.kind);
            outln!("dedup key:   {}", e.dedup_key);
            outln!("status:      {}", e.status);
            outln!("received:    {}", e.received_at.to_rfc3339());
            outln!(
                "source ip:   {}",
                e.source_ip.map(|i| i.to_string()).unwrap_or_else(|| "-".into())
            );
            outln!("attempts:    {}", e.attempts);
            outln!(
                "payment:     {}",
                e.payment_id.map(|p| p.to_string()).unwrap_or_else(|| "-".into())
            );
            if let Some(err) = &e.last_error {
                outln!("last error:  {err}");
            }
            outln!("body ({} bytes, phone numbers and emails masked):", e.body_len);
            outln!("{}", serde_json::to_string_pretty(&body)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `malipo replay`.
pub async fn replay(args: ReplayArgs, config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    use malipo_gateway::api::ReplayError;

    let store = open(config_path).await?;
    let result = match malipo_gateway::api::replay_checked(&*store, args.id).await {
        Ok(result) => result,
        Err(e) => {
            store.close().await?;
            return Err(match e {
                ReplayError::NotFound => anyhow::anyhow!("there is no event {}", args.id),
                ReplayError::Refused(why) => anyhow::anyhow!("cannot replay: {why}"),
                ReplayError::Store(e) => anyhow::Error::new(e).context(format!("cannot replay {}", args.id)),
            });
        }
    };
    match result {
        Replayed::Queued => outln!(
            "{}: queued for processing again (a running `malipo serve` picks it up)",
            args.id
        ),
        Replayed::AlreadyQueued => outln!("{}: already waiting for processing; nothing changed", args.id),
    }
    store.close().await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use malipo_store::EventStore as _;

    fn args(limit: usize, before: Option<EventId>) -> ListArgs {
        ListArgs {
            provider: None,
            status: None,
            since: None,
            limit,
            before,
            format: Format::Json,
        }
    }

    /// Regression: a listing stopped at 1,000 rows whatever `--limit` said, without saying so.
    #[tokio::test]
    async fn a_listing_is_never_cut_at_the_page_size() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            malipo_store::SqliteStore::open(dir.path().join("e.db"), malipo_store::SqliteOptions::default())
                .unwrap();
        let n = EventFilter::MAX_LIMIT + 205;
        for i in 0..n {
            let event = malipo_store::NewEvent::received(
                Provider::Paystack,
                "charge.success",
                format!("charge.success:{i}"),
                &b"{}"[..],
            );
            store.ingest(event).await.unwrap();
        }
        let all = collect(&store, &args(5_000, None)).await.unwrap();
        assert_eq!(all.len(), n, "every event, over several pages");
        let mut ids: Vec<_> = all.iter().map(|e| e.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), n, "no event twice");
        // A limit below the total gives that many, and the next listing picks up after it.
        let first = collect(&store, &args(700, None)).await.unwrap();
        let rest = collect(&store, &args(5_000, first.last().map(|e| e.id)))
            .await
            .unwrap();
        assert_eq!(first.len() + rest.len(), n);
        assert_eq!(first[0].id, all[0].id);
        assert_eq!(rest[0].id, all[700].id);
    }
}
