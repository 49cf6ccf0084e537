//! One module per command group; each exports its clap arguments and a `run`.

pub mod api_key;
pub mod config;
pub mod credential;
pub mod deliveries;
pub mod demo;
pub mod endpoints;
pub mod events;
pub mod migrate_data;
pub mod mpesa;
pub mod payments;
pub mod paystack;
pub mod paystack_records;
pub mod serve;
pub mod sim;
pub mod test_webhook;

use std::process::ExitCode;

use chrono::{DateTime, Utc};

use crate::{Cli, Command};

/// A `--since` value: an age (`90m`, `2h`, `7d`) or an RFC 3339 time. An age reaching back
/// before the calendar's start is an error, not a panic.
pub(crate) fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(ago) = malipo_config::parse_duration(s) {
        let too_long = || format!("{s:?} is too long ago");
        let ago = chrono::Duration::from_std(ago).map_err(|_| too_long())?;
        return Utc::now().checked_sub_signed(ago).ok_or_else(too_long);
    }
    parse_time(s).map_err(|_| {
        format!("{s:?} is neither an age (90m, 2h, 7d) nor an RFC 3339 time like 2026-12-04T08:00:00Z")
    })
}

/// An RFC 3339 time (`--until`, and `--since` when it is not an age).
pub(crate) fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{s:?} is not an RFC 3339 time like 2026-12-04T08:00:00Z"))
}

/// Runs the chosen command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config.as_deref();
    let log = cli.log.clone();
    match cli.command {
        Command::Init(args) => config::init(args, config),
        Command::CheckConfig(args) => config::check(args, config).await,
        Command::SecurityCredential(args) => credential::run(args),
        Command::Mpesa(args) => mpesa::run(args, config).await,
        Command::Paystack(args) => paystack::run(args, config).await,
        Command::Sim(args) => sim::run(args).await,
        Command::Serve(args) => serve::serve(args, config, log.as_deref()).await,
        Command::Migrate(args) => serve::migrate(args, config).await,
        Command::MigrateData(args) => migrate_data::run(args, config).await,
        Command::Events(args) => events::run(args, config).await,
        Command::Replay(args) => events::replay(args, config).await,
        Command::SendTestWebhook(args) => test_webhook::run(args, config).await,
        Command::Demo(args) => demo::run(args, config).await,
        Command::Payments(args) => payments::run(args, config).await,
        Command::ApiKey(args) => api_key::run(args, config).await,
        Command::Deliveries(args) => deliveries::run(args, config).await,
        Command::Endpoints(args) => endpoints::run(args, config).await,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn since_takes_an_age_or_a_time_and_refuses_what_no_calendar_holds() {
        let before = chrono::Utc::now();
        let two_hours = parse_since("2h").unwrap();
        let ago = before - two_hours;
        assert!(
            ago >= chrono::Duration::hours(2) - chrono::Duration::seconds(5)
                && ago <= chrono::Duration::hours(2),
            "{ago}"
        );
        assert_eq!(
            parse_since("2026-12-04T08:00:00Z").unwrap().to_rfc3339(),
            "2026-12-04T08:00:00+00:00"
        );
        // Regression: an age before the calendar's start panicked.
        assert_eq!(
            parse_since("99999999999d").unwrap_err(),
            "\"99999999999d\" is too long ago"
        );
        assert!(parse_since("yesterday").unwrap_err().contains("neither an age"));
        assert!(parse_since("1w").is_err(), "no week unit");
    }
}
