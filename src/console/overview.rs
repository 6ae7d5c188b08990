//! The overview: counts for a period (7, 30 or 90 days): the queue and its oldest case, decisions awaiting
//! confirmation, submissions per day by automatic decision (stacked bars), the most frequent reason codes
//! and refusals by code (horizontal bars). Charts are SVG drawn here with presentation attributes only (the
//! CSP allows no inline style), each with a title, a description and the same numbers as a table.
//! Aggregates only: any signed-in role may see it.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Duration, NaiveDate, Utc};
use serde::Deserialize;

use super::queue::{age, utc};
use super::session::{self, Role};
use super::{ConsoleError, Nav, page};
use crate::api::AppState;
use crate::api::reads::with_db;
use crate::store::console::queue_size;
use crate::store::overview::{self, DayCount};

/// Mounts the overview.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/overview", web::get().to(show));
}

/// The decisions in stacking order (bottom first), with their fill and legend.
const DECISIONS: [(&str, &str, &str); 3] = [
    ("approved", "#166534", "Approved"),
    ("pending_review", "#92400E", "Pending review"),
    ("rejected", "#991B1B", "Rejected"),
];

/// Reason codes shown in the bar chart.
const TOP_REASONS: usize = 10;

/// Chart geometry (SVG user units).
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 16.0;

#[derive(Deserialize)]
struct OverviewQuery {
    range: Option<String>,
}

/// One rectangle of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    fill: &'static str,
    /// What a screen reader and a hover show.
    title: String,
}

/// A text label placed on a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    x: f64,
    y: f64,
    text: String,
    anchor: &'static str,
}

/// A stacked column chart of counts per day.
#[derive(Debug, Default)]
pub struct DayChart {
    bars: Vec<Bar>,
    labels: Vec<Label>,
    /// Rows of the data table: day, then one count per decision, then the total.
    rows: Vec<(String, Vec<i64>, i64)>,
    max: i64,
}

/// A horizontal bar chart of counts per code.
#[derive(Debug, Default)]
pub struct CodeChart {
    bars: Vec<Bar>,
    labels: Vec<Label>,
    rows: Vec<(String, i64)>,
    height: f64,
}

#[derive(Template)]
#[template(path = "overview.html", config = "src/console/askama.toml")]
struct OverviewPage {
    nav: Option<Nav>,
    range: i64,
    ranges: [i64; 3],
    since: String,
    since_iso: String,
    pending: i64,
    oldest_age: Option<String>,
    queue_link: &'static str,
    awaiting: i64,
    received: i64,
    refused: i64,
    decisions: [(&'static str, &'static str, &'static str); 3],
    width: f64,
    height: f64,
    days: DayChart,
    reasons: CodeChart,
    refusals: CodeChart,
}

/// Lays out `counts` as one stacked column per day from `first` for `days` days (days without a record
/// get an empty column, so the time axis stays true).
pub fn day_chart(counts: &[DayCount], first: NaiveDate, days: i64) -> DayChart {
    let mut per_day: BTreeMap<String, [i64; 3]> = (0..days)
        .map(|i| ((first + Duration::days(i)).to_string(), [0; 3]))
        .collect();
    for c in counts {
        if let (Some(slot), Some(i)) = (
            per_day.get_mut(&c.day),
            DECISIONS.iter().position(|(d, _, _)| *d == c.decision),
        ) {
            slot[i] += c.n;
        }
    }
    let max = per_day
        .values()
        .map(|v| v.iter().sum::<i64>())
        .max()
        .unwrap_or(0);
    let scale = if max > 0 {
        (HEIGHT - TOP - BOTTOM) / max as f64
    } else {
        0.0
    };
    let slot = (WIDTH - LEFT) / days.max(1) as f64;
    let bar_w = (slot * 0.8).max(1.0);
    let mut chart = DayChart {
        max,
        ..DayChart::default()
    };
    let label_every = (days / 10).max(1) as usize;
    for (i, (day, values)) in per_day.iter().enumerate() {
        let x = LEFT + i as f64 * slot + (slot - bar_w) / 2.0;
        let mut y = HEIGHT - BOTTOM;
        for (j, (_, fill, name)) in DECISIONS.iter().enumerate() {
            if values[j] == 0 {
                continue;
            }
            let h = values[j] as f64 * scale;
            y -= h;
            chart.bars.push(Bar {
                x,
                y,
                w: bar_w,
                h,
                fill,
                title: format!("{day}: {} {name}", values[j]),
            });
        }
        let total: i64 = values.iter().sum();
        if total > 0 && days <= 31 {
            chart.labels.push(Label {
                x: x + bar_w / 2.0,
                y: y - 3.0,
                text: total.to_string(),
                anchor: "middle",
            });
        }
        if i % label_every == 0 {
            chart.labels.push(Label {
                x: x + bar_w / 2.0,
                y: HEIGHT - 8.0,
                text: day.get(5..).unwrap_or(day).to_string(),
                anchor: "middle",
            });
        }
        chart.rows.push((day.clone(), values.to_vec(), total));
    }
    chart
}

/// Lays out the `top` largest counts as horizontal bars, largest first.
pub fn code_chart(counts: BTreeMap<String, i64>, top: usize) -> CodeChart {
    let mut rows: Vec<(String, i64)> = counts.into_iter().filter(|(_, n)| *n > 0).collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(top);
    let max = rows.first().map(|r| r.1).unwrap_or(0);
    let (label_w, row_h) = (220.0, 24.0);
    let scale = if max > 0 {
        (WIDTH - label_w - 60.0) / max as f64
    } else {
        0.0
    };
    let mut chart = CodeChart {
        height: (rows.len() as f64 * row_h + 8.0).max(32.0),
        ..CodeChart::default()
    };
    for (i, (code, n)) in rows.iter().enumerate() {
        let y = 4.0 + i as f64 * row_h;
        let w = (*n as f64 * scale).max(1.0);
        chart.labels.push(Label {
            x: label_w - 8.0,
            y: y + 15.0,
            text: code.clone(),
            anchor: "end",
        });
        chart.bars.push(Bar {
            x: label_w,
            y: y + 3.0,
            w,
            h: row_h - 6.0,
            fill: "#1D4ED8",
            title: format!("{code}: {n}"),
        });
        chart.labels.push(Label {
            x: label_w + w + 6.0,
            y: y + 15.0,
            text: n.to_string(),
            anchor: "start",
        });
    }
    chart.rows = rows;
    chart
}

/// Counts each reason code across stored reason lists (`["a","b"]` with its count).
pub fn reason_counts(lists: &[(String, i64)]) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for (list, n) in lists {
        for code in serde_json::from_str::<Vec<String>>(list).unwrap_or_default() {
            *counts.entry(code).or_insert(0) += n;
        }
    }
    counts
}

/// Counts refusals per error code (details `{"code": …, "status": …}` with their count).
pub fn refusal_counts(details: &[(String, i64)]) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for (text, n) in details {
        let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let code = value["code"].as_str().unwrap_or("unknown").to_string();
        *counts.entry(code).or_insert(0) += n;
    }
    counts
}

async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    let q = web::Query::<OverviewQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|_| {
            ConsoleError::BadRequest("the overview's parameters could not be read".into())
        })?;
    let range = match q.range.as_deref().unwrap_or("30d") {
        "7d" => 7,
        "30d" => 30,
        "90d" => 90,
        _ => {
            return Err(ConsoleError::BadRequest(
                "`range` is one of 7d, 30d and 90d".into(),
            ));
        }
    };
    let now = Utc::now().naive_utc();
    let first = now.date() - Duration::days(range - 1);
    let since = first.and_time(chrono::NaiveTime::MIN);
    let (days, lists, refused, (pending, oldest), awaiting) = with_db(&state, move |conn| {
        Ok((
            overview::per_day(conn, since)?,
            overview::reason_lists(conn, since)?,
            overview::refusals(conn, since)?,
            queue_size(conn)?,
            overview::awaiting_confirmation(conn)?,
        ))
    })
    .await?;
    let received = days.iter().map(|d| d.n).sum();
    let refusals = refusal_counts(&refused);
    page(&OverviewPage {
        nav: Some(Nav::of(&person, "overview")),
        range,
        ranges: [7, 30, 90],
        since: utc(since),
        since_iso: super::queue::iso(since),
        pending,
        oldest_age: oldest.map(|o| age(o, now)),
        queue_link: if person.has(Role::Reviewer) {
            "/console/queue"
        } else {
            "/console/search?status=pending_review"
        },
        awaiting,
        received,
        refused: refusals.values().sum(),
        decisions: DECISIONS,
        width: WIDTH,
        height: HEIGHT,
        days: day_chart(&days, first, range),
        reasons: code_chart(reason_counts(&lists), TOP_REASONS),
        refusals: code_chart(refusals, TOP_REASONS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(day: &str, decision: &str, n: i64) -> DayCount {
        DayCount {
            day: day.into(),
            decision: decision.into(),
            n,
        }
    }

    #[test]
    fn days_stack_by_decision_and_empty_days_keep_their_place() {
        let first: NaiveDate = "2026-11-28".parse().expect("date");
        let chart = day_chart(
            &[
                count("2026-11-28", "approved", 6),
                count("2026-11-28", "rejected", 2),
                count("2026-11-30", "pending_review", 4),
                count("2026-10-01", "approved", 99),
            ],
            first,
            3,
        );
        assert_eq!(chart.max, 8);
        assert_eq!(chart.rows.len(), 3);
        assert_eq!(chart.rows[0], ("2026-11-28".into(), vec![6, 0, 2], 8));
        assert_eq!(chart.rows[1].2, 0);
        assert_eq!(chart.bars.len(), 3);
        // The tallest column reaches the top margin; the rejected segment sits on the approved one.
        let (approved, rejected) = (&chart.bars[0], &chart.bars[1]);
        assert!((rejected.y - TOP).abs() < 1e-9);
        assert!((rejected.y + rejected.h - approved.y).abs() < 1e-9);
        assert!(chart.bars[2].x > approved.x);
    }

    #[test]
    fn codes_are_counted_across_lists_and_the_largest_come_first() {
        let counts = reason_counts(&[
            (r#"["face_mismatch","liveness_low"]"#.into(), 3),
            (r#"["face_mismatch"]"#.into(), 2),
            ("[]".into(), 40),
        ]);
        assert_eq!(counts.get("face_mismatch"), Some(&5));
        let chart = code_chart(counts, 1);
        assert_eq!(chart.rows, vec![("face_mismatch".to_string(), 5)]);
        let refusals = refusal_counts(&[
            (r#"{"code":"invalid_token","status":401}"#.into(), 7),
            (r#"{"code":"invalid_token","status":401,"x":1}"#.into(), 1),
        ]);
        assert_eq!(refusals.get("invalid_token"), Some(&8));
    }
}
