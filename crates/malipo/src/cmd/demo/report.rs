//! What the demo prints: progress lines, then the summary as aligned text or as JSON.

use std::path::Path;

use anyhow::Context as _;
use malipo_core::EventStatus;
use malipo_gateway::{Endpoint, Outcome};
use serde::Serialize;

use super::env::DemoEnv;
use super::scenario::{email_of, outcome_text, phone_of, Played};
use crate::Format;

/// Prints progress for a person; silent when the output is JSON.
pub struct Printer {
    text: bool,
}

impl Printer {
    pub fn new(format: Format) -> Self {
        Printer {
            text: format == Format::Text,
        }
    }

    pub fn line(&self, line: &str) {
        if self.text {
            emit(line);
        }
    }

    pub fn field(&self, name: &str, value: &str) {
        self.line(&format!("  {name:<10} {value}"));
    }

    pub fn section(&self, title: &str) {
        self.line("");
        self.line(title);
    }
}

/// Writes a line to standard output. A reader that went away (`malipo demo | head`) must not
/// stop the demo half-way, so a write error is ignored rather than a panic as with `println!`.
fn emit(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// One expected outcome of the story.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

impl Check {
    pub fn new(name: &str, passed: bool, detail: String) -> Self {
        Check {
            name: name.to_string(),
            passed,
            detail,
        }
    }
}

/// A payment as the summary shows it: customer details masked.
#[derive(Debug, Serialize)]
struct PaymentRow {
    id: String,
    provider: String,
    kind: String,
    state: String,
    amount: String,
    amount_minor: u64,
    currency: String,
    customer: String,
    provider_reference: Option<String>,
    outcome: String,
    settled_by: Option<String>,
}

#[derive(Debug, Serialize)]
struct EventCount {
    status: String,
    count: u64,
}

#[derive(Debug, Serialize)]
struct Rejection {
    provider: String,
    reason: String,
    http_status: u16,
    count: u64,
}

/// The end state, read back from the gateway's store and counters.
#[derive(Debug, Serialize)]
pub struct Summary {
    passed: bool,
    payments: Vec<PaymentRow>,
    events_by_status: Vec<EventCount>,
    events_stored: u64,
    duplicates_acknowledged: u64,
    guard_rejections: Vec<Rejection>,
    checks: Vec<Check>,
    workspace: Option<String>,
}

impl Summary {
    /// Reads the payments, events and counters after the story.
    pub async fn collect(demo: &DemoEnv, played: Played) -> anyhow::Result<Summary> {
        let store = &demo.state.store;
        let mut payments = Vec::new();
        for id in &played.payments {
            let p = store
                .get_payment(*id)
                .await
                .context("reading the demo's payments")?
                .with_context(|| format!("payment {id} vanished"))?;
            payments.push(PaymentRow {
                id: p.id.to_string(),
                provider: p.provider.to_string(),
                kind: p.kind.clone(),
                state: p.state.to_string(),
                amount: p.amount.to_string(),
                amount_minor: p.amount.minor(),
                currency: p.amount.currency().code().to_string(),
                customer: if p.msisdn.is_some() {
                    phone_of(&p)
                } else {
                    email_of(&p)
                },
                provider_reference: p.provider_reference.clone(),
                outcome: outcome_text(&p),
                settled_by: p.settled_by.map(|s| s.as_str().to_string()),
            });
        }
        let stats = store.stats().await.context("reading the demo's event counts")?;
        let events_by_status: Vec<EventCount> = EventStatus::ALL
            .iter()
            .map(|s| EventCount {
                status: s.to_string(),
                count: stats.events_in(*s),
            })
            .collect();
        let guard_rejections = demo
            .state
            .guards
            .metrics()
            .rejections()
            .into_iter()
            .map(|(provider, reason, count)| Rejection {
                provider: provider.to_string(),
                reason: reason.code().to_string(),
                http_status: reason.status().as_u16(),
                count,
            })
            .collect();
        Ok(Summary {
            passed: played.checks.iter().all(|c| c.passed) && !played.checks.is_empty(),
            payments,
            events_stored: events_by_status.iter().map(|e| e.count).sum(),
            events_by_status,
            duplicates_acknowledged: [Endpoint::Paystack, Endpoint::MpesaStk]
                .iter()
                .map(|e| demo.state.metrics.requests(*e, Outcome::Duplicate))
                .sum(),
            guard_rejections,
            checks: played.checks,
            workspace: None,
        })
    }

    /// Whether every expected outcome happened.
    pub fn passed(&self) -> bool {
        self.passed
    }

    /// Prints the summary in the chosen format (JSON goes to standard output as one document).
    pub fn print(&mut self, out: &Printer, dir: &Path, keep: bool) -> anyhow::Result<()> {
        if keep {
            self.workspace = Some(dir.display().to_string());
        }
        if !out.text {
            emit(&serde_json::to_string_pretty(&*self).context("rendering the summary")?);
            return Ok(());
        }
        out.section("Payments");
        let rows: Vec<[String; 6]> = self
            .payments
            .iter()
            .map(|p| {
                [
                    p.id.clone(),
                    p.provider.clone(),
                    p.state.clone(),
                    p.amount.clone(),
                    p.customer.clone(),
                    p.outcome.clone(),
                ]
            })
            .collect();
        table(
            out,
            ["id", "provider", "state", "amount", "customer", "outcome"],
            &rows,
        );

        out.section("Events stored, by status (each provider event once, whatever the redeliveries)");
        for e in &self.events_by_status {
            out.line(&format!("  {:<20} {:>3}", e.status, e.count));
        }
        out.line(&format!(
            "  {:<20} {:>3}",
            "duplicates answered", self.duplicates_acknowledged
        ));

        out.section("Refused by the guard (nothing stored)");
        if self.guard_rejections.is_empty() {
            out.line("  none");
        }
        for r in &self.guard_rejections {
            out.line(&format!(
                "  {:<9} {:<24} HTTP {}  {:>3}",
                r.provider, r.reason, r.http_status, r.count
            ));
        }

        out.section("Checks");
        for c in &self.checks {
            let mark = if c.passed { "PASS" } else { "FAIL" };
            out.line(&format!("  [{mark}] {}  ({})", c.name, c.detail));
        }
        out.line("");
        let refused: u64 = self.guard_rejections.iter().map(|r| r.count).sum();
        if self.passed {
            out.line(&format!(
                "demo passed: {} payments, {} events stored, {refused} forgeries refused",
                self.payments.len(),
                self.events_stored
            ));
        } else {
            let failed = self.checks.iter().filter(|c| !c.passed).count();
            out.line(&format!(
                "demo FAILED: {failed} of {} checks failed (see above)",
                self.checks.len()
            ));
        }
        if keep {
            out.line(&format!(
                "kept in {0}; look around with: malipo events list --config {0}/malipo.toml",
                dir.display()
            ));
        }
        Ok(())
    }
}

/// Prints rows under a header, each column as wide as its widest cell.
fn table<const N: usize>(out: &Printer, header: [&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let render = |cells: Vec<&str>| {
        let mut line = String::from(" ");
        for (cell, w) in cells.iter().zip(widths) {
            line.push_str(&format!(" {cell:<w$}"));
        }
        line.trim_end().to_string()
    };
    out.line(&render(header.to_vec()));
    for row in rows {
        out.line(&render(row.iter().map(String::as_str).collect()));
    }
}
