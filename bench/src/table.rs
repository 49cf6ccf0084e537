//! The results table (Markdown, so it goes into bench/README.md as printed) and the targets.

use std::fmt::Write as _;

use crate::load::{Load, LoadReport};

/// Which server a row measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// `malipo serve` with embedded SQLite, under Paystack webhooks.
    Malipo,
    /// `malipo serve` with embedded SQLite, under M-Pesa STK callbacks for tracked payments.
    MalipoStk,
    /// `malipo serve` on PostgreSQL, under Paystack webhooks.
    MalipoPostgres,
    /// The bare axum handler.
    Ceiling,
    /// paystack-django under gunicorn.
    Django,
}

impl ServerKind {
    /// Whether it is malipo (whose stored rows must equal its 2xx answers).
    pub fn is_malipo(self) -> bool {
        matches!(
            self,
            ServerKind::Malipo | ServerKind::MalipoStk | ServerKind::MalipoPostgres
        )
    }
}

/// One server under one load.
#[derive(Debug)]
pub struct Row {
    /// What ran, as shown in the table.
    pub name: String,
    /// Which server it was.
    pub kind: ServerKind,
    /// The load's outcome.
    pub report: LoadReport,
    /// Peak resident memory of the server in KiB.
    pub peak_rss_kib: Option<u64>,
    /// Rows the server stored, when it stores any.
    pub stored: Option<u64>,
    /// CPU seconds the server used over the whole run (warm-up included).
    pub server_cpu_s: Option<f64>,
    /// CPU seconds the load generator used over the whole run.
    pub client_cpu_s: Option<f64>,
    /// The machine's 1-minute load average when the run started (other work on the box).
    pub load_before: Option<f64>,
    /// STK rows: payments the worker settled as succeeded (each acknowledged callback must
    /// settle its own payment), and how long the worker took to drain after the load stopped
    /// (`None`: it had not drained when the wait ended).
    pub settled: Option<Settled>,
    /// malipo rows: the processing jobs still queued the moment the load stopped (read from
    /// `/metrics`), so the table's ingest rate can be read beside what the worker kept up with.
    pub queued_at_end: Option<u64>,
}

/// What the worker made of an STK row's callbacks, counted after the queue drained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settled {
    /// Payments in state succeeded.
    pub succeeded: u64,
    /// Events failed or suspicious (a callback that disagreed with its payment).
    pub refused: u64,
    /// Seconds from the end of the load until the queue was empty; `None` if it never was.
    pub drained_after_s: Option<f64>,
}

impl Row {
    /// Whether the stored rows must equal the 2xx answers (and do not), or, for STK rows, an
    /// acknowledged callback did not settle its payment.
    pub fn lost_or_extra(&self) -> bool {
        let stores = self.kind.is_malipo();
        let unsettled = self.settled.is_some_and(|s| {
            s.drained_after_s.is_some() && (s.succeeded != self.report.total_2xx || s.refused > 0)
        });
        (stores && self.stored != Some(self.report.total_2xx)) || unsettled
    }
}

/// One line per STK row: payments succeeded against callbacks acknowledged.
pub fn settled_lines(rows: &[Row]) -> String {
    let mut out = String::new();
    for row in rows {
        let Some(s) = row.settled else { continue };
        let drained = match s.drained_after_s {
            Some(secs) => format!("the worker drained its queue {secs:.1} s after the load stopped"),
            None => "the worker had **not** drained its queue when the wait ended".to_owned(),
        };
        let verdict = match (
            s.drained_after_s,
            s.succeeded == row.report.total_2xx && s.refused == 0,
        ) {
            (None, _) => "not checked",
            (Some(_), true) => "pass",
            (Some(_), false) => "**FAIL**",
        };
        let _ = writeln!(
            out,
            "- {} ({}): {} payments succeeded for {} callbacks acknowledged, {} events failed or suspicious; {drained}: {verdict}",
            row.name, row.report.load, s.succeeded, row.report.total_2xx, s.refused
        );
    }
    out
}

/// One line per malipo row whose queue was read: how much of what was acknowledged the worker
/// had processed by the time the load stopped. A closed loop measures ingest; a worker that
/// yields more to it raises that rate and leaves more queued, so the two are read together.
pub fn backlog_lines(rows: &[Row]) -> String {
    let mut out = String::new();
    for row in rows {
        let Some(queued) = row.queued_at_end else { continue };
        let acknowledged = row.report.total_2xx;
        let processed = acknowledged.saturating_sub(queued);
        let share = if acknowledged == 0 {
            0.0
        } else {
            processed as f64 * 100.0 / acknowledged as f64
        };
        let _ = writeln!(
            out,
            "- {} ({}): the worker had processed {processed} of {acknowledged} acknowledged events ({share:.0} %) when the load stopped; {queued} were queued",
            row.name, row.report.load
        );
    }
    out
}

/// What the issue asks of malipo.
pub mod targets {
    /// Verified, stored and acknowledged webhooks per second, closed loop.
    pub const THROUGHPUT: f64 = 35_000.0;
    /// Share of the bare-axum ceiling.
    pub const SHARE_OF_CEILING: f64 = 0.40;
    /// p99 in milliseconds at the steady open-loop rate.
    pub const P99_MS: f64 = 5.0;
    /// Peak resident memory in MiB.
    pub const RSS_MIB: f64 = 60.0;
}

fn ms(r: &LoadReport, q: f64) -> String {
    if r.answered_in_window == 0 {
        "–".into()
    } else {
        format!("{:.2}", r.latency_ms(q))
    }
}

/// A share as a percentage, with decimals only where whole percents would read 0.
fn percent(share: f64) -> String {
    let p = 100.0 * share;
    if p < 10.0 {
        format!("{p:.2} %")
    } else {
        format!("{p:.0} %")
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn closed(r: &Row) -> bool {
    matches!(r.report.load, Load::Closed { .. })
}

fn ceiling_rate(rows: &[Row]) -> Option<f64> {
    rows.iter()
        .find(|r| r.kind == ServerKind::Ceiling && closed(r))
        .map(|r| r.report.ok_per_sec())
        .filter(|&v| v > 0.0)
}

/// The table with one line per row, ratios to the ceiling's closed-loop 2xx rate.
pub fn render(rows: &[Row]) -> String {
    let ceiling = ceiling_rate(rows);
    let mut out = String::new();
    out.push_str(
        "| server | load | req/s | 2xx/s | vs ceiling | p50 ms | p99 ms | p99.9 ms | non-2xx | transport errors | stored rows / 2xx | peak RSS MiB | server CPU µs/req | client CPU µs/req |\n\
         |---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for row in rows {
        let r = &row.report;
        let share = match (ceiling, closed(row)) {
            (Some(c), true) => percent(r.ok_per_sec() / c),
            _ => "–".into(),
        };
        let non_2xx = if r.total_non_2xx.is_empty() {
            "0".to_owned()
        } else {
            let by_status: Vec<String> = r.total_non_2xx.iter().map(|(s, n)| format!("{n}×{s}")).collect();
            by_status.join(", ")
        };
        let stored = match row.stored {
            Some(n) if row.lost_or_extra() => format!("**{n} / {} MISMATCH**", r.total_2xx),
            Some(n) => format!("{n} / {}", r.total_2xx),
            None => format!("– / {}", r.total_2xx),
        };
        let mut load = r.load.to_string();
        if r.pool_exhausted {
            load.push_str(" (pool ran out)");
        }
        if r.unsent > 0 {
            let _ = write!(load, " ({} unsent)", r.unsent);
        }
        let answered = r.total_2xx + r.non_2xx();
        let per_req = |cpu: Option<f64>| match cpu {
            Some(s) if answered > 0 => format!("{:.0}", s * 1e6 / answered as f64),
            _ => "?".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.name,
            load,
            r.answered_per_sec(),
            r.ok_per_sec(),
            share,
            ms(r, 0.50),
            ms(r, 0.99),
            ms(r, 0.999),
            non_2xx,
            r.total_transport,
            stored,
            mib(row.peak_rss_kib),
            per_req(row.server_cpu_s),
            per_req(row.client_cpu_s),
        );
    }
    out
}

/// One line with the 1-minute load average at the start of each run: on a shared machine the
/// rates mean little without it.
pub fn load_line(rows: &[Row]) -> String {
    let parts: Vec<String> = rows
        .iter()
        .map(|r| {
            let load = r.load_before.map_or("?".into(), |l| format!("{l:.2}"));
            format!("{} ({}) {load}", r.name, r.report.load)
        })
        .collect();
    format!(
        "1-minute load average when each run started: {}",
        parts.join("; ")
    )
}

/// malipo's closed-loop 2xx rate against each paystack-django row's.
pub fn peer_ratios(rows: &[Row]) -> String {
    let Some(malipo) = rows.iter().find(|r| r.kind == ServerKind::Malipo && closed(r)) else {
        return String::new();
    };
    let mut out = String::new();
    for peer in rows.iter().filter(|r| r.kind == ServerKind::Django) {
        let theirs = peer.report.ok_per_sec();
        if theirs > 0.0 {
            let _ = writeln!(
                out,
                "- malipo handles {:.0}× the webhooks per second of {}",
                malipo.report.ok_per_sec() / theirs,
                peer.name
            );
        } else {
            let _ = writeln!(out, "- {} handled no webhook in the window", peer.name);
        }
    }
    out
}

/// Each target with its measured value and met/missed; the stored-rows check last.
pub fn target_verdicts(rows: &[Row]) -> String {
    let mut out = String::new();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let malipo_closed = rows.iter().find(|r| r.kind == ServerKind::Malipo && closed(r));
    let malipo_open = rows.iter().find(|r| r.kind == ServerKind::Malipo && !closed(r));
    if let Some(m) = malipo_closed {
        let rate = m.report.ok_per_sec();
        let _ = writeln!(
            out,
            "- ≥ {:.0} webhooks/s: {rate:.0}/s, {}",
            targets::THROUGHPUT,
            verdict(rate >= targets::THROUGHPUT)
        );
        if let Some(c) = ceiling_rate(rows) {
            let share = rate / c;
            let _ = writeln!(
                out,
                "- ≥ {:.0} % of the ceiling: {:.0} %, {}",
                100.0 * targets::SHARE_OF_CEILING,
                100.0 * share,
                verdict(share >= targets::SHARE_OF_CEILING)
            );
        }
    }
    if let Some(m) = malipo_open {
        let p99 = m.report.latency_ms(0.99);
        let _ = writeln!(
            out,
            "- p99 ≤ {:.0} ms at a steady {}: {p99:.2} ms, {}",
            targets::P99_MS,
            m.report.load,
            verdict(p99 <= targets::P99_MS && m.report.answered_in_window > 0)
        );
    }
    let peak = rows
        .iter()
        .filter(|r| r.kind.is_malipo())
        .filter_map(|r| r.peak_rss_kib)
        .max();
    if let Some(kib) = peak {
        let mib = kib as f64 / 1024.0;
        let _ = writeln!(
            out,
            "- peak RSS ≤ {:.0} MiB: {mib:.1} MiB, {}",
            targets::RSS_MIB,
            verdict(mib <= targets::RSS_MIB)
        );
    }
    let malipo: Vec<&Row> = rows.iter().filter(|r| r.kind.is_malipo()).collect();
    if !malipo.is_empty() {
        let bad = malipo.iter().filter(|r| r.lost_or_extra()).count();
        let _ = writeln!(
            out,
            "- stored rows == 2xx answers (every acknowledged webhook is in the database): {}",
            if bad == 0 { "pass" } else { "FAIL" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: ServerKind, ok: u64, stored: Option<u64>) -> Row {
        let mut report = LoadReport::empty(
            Load::Closed { connections: 32 },
            std::time::Duration::from_secs(1),
        );
        report.ok_in_window = ok;
        report.answered_in_window = ok;
        report.total_2xx = ok;
        let _ = report.latency_us.record(1000);
        Row {
            name: format!("{kind:?}"),
            kind,
            report,
            peak_rss_kib: Some(30 * 1024),
            stored,
            server_cpu_s: Some(0.5),
            client_cpu_s: Some(0.1),
            load_before: Some(1.0),
            settled: None,
            queued_at_end: None,
        }
    }

    #[test]
    fn ratios_and_verdicts() {
        let rows = [
            row(ServerKind::Ceiling, 1000, None),
            row(ServerKind::Malipo, 500, Some(500)),
            row(ServerKind::Django, 2, Some(2)),
        ];
        let table = render(&rows);
        assert!(table.contains("| 50 % |"), "{table}");
        assert!(table.contains("| 0.20 % |"), "{table}");
        assert!(peer_ratios(&rows).contains("250×"));
        let verdicts = target_verdicts(&rows);
        assert!(
            verdicts.contains("≥ 40 % of the ceiling: 50 %, met"),
            "{verdicts}"
        );
        assert!(verdicts
            .contains("stored rows == 2xx answers (every acknowledged webhook is in the database): pass"));
    }

    #[test]
    fn a_lost_webhook_fails_the_check() {
        let rows = [row(ServerKind::Malipo, 500, Some(499))];
        assert!(rows[0].lost_or_extra());
        assert!(render(&rows).contains("MISMATCH"));
        assert!(target_verdicts(&rows).contains("FAIL"));
    }

    #[test]
    fn the_backlog_line_says_what_the_worker_had_processed() {
        let mut r = row(ServerKind::Malipo, 1000, Some(1000));
        assert_eq!(
            backlog_lines(std::slice::from_ref(&r)),
            "",
            "no line without a reading"
        );
        r.queued_at_end = Some(250);
        let line = backlog_lines(&[r]);
        assert!(
            line.contains("processed 750 of 1000 acknowledged events (75 %)"),
            "{line}"
        );
        assert!(line.contains("250 were queued"), "{line}");
    }

    #[test]
    fn an_unsettled_stk_callback_fails_the_check() {
        let mut r = row(ServerKind::MalipoStk, 500, Some(500));
        let settled = |succeeded, drained: Option<f64>| Settled {
            succeeded,
            refused: 0,
            drained_after_s: drained,
        };
        r.settled = Some(settled(500, Some(1.0)));
        assert!(!r.lost_or_extra());
        assert!(settled_lines(std::slice::from_ref(&r)).contains(": pass"));
        r.settled = Some(settled(499, Some(1.0)));
        assert!(r.lost_or_extra());
        r.settled = Some(settled(499, None));
        assert!(!r.lost_or_extra());
        assert!(settled_lines(&[r]).contains("not checked"));
    }
}
