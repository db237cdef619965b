//! The HTML report of a backtest: the figures, the equity curve and the
//! drawdown as inline SVG, and the trades. One self-contained file (no scripts,
//! nothing fetched), identical for identical runs.

use std::fmt::Write as _;

use neo_engine::backtest::{CurvePoint, Outcome};

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 260.0;
/// Trades listed in the report; the CSV export has them all.
const MAX_TRADE_ROWS: usize = 500;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An SVG polyline of `value` over the curve, scaled into the box.
fn chart(
    curve: &[CurvePoint],
    value: impl Fn(&CurvePoint) -> f64,
    colour: &str,
    label: &str,
) -> String {
    let values: Vec<f64> = curve.iter().map(&value).filter(|v| v.is_finite()).collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    #[allow(clippy::cast_precision_loss)]
    let step = WIDTH / (curve.len().max(2) - 1) as f64;
    let mut points = String::new();
    for (i, p) in curve.iter().enumerate() {
        let v = value(p);
        if !v.is_finite() {
            continue;
        }
        #[allow(clippy::cast_precision_loss)]
        let x = i as f64 * step;
        let y = HEIGHT - (v - lo) / span * (HEIGHT - 20.0) - 10.0;
        let _ = write!(points, "{x:.1},{y:.1} ");
    }
    format!(
        "<figure><figcaption>{label} (low {lo:.2}, high {hi:.2})</figcaption>\
         <svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"100%\" role=\"img\" aria-label=\"{label}\">\
         <rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#fafafa\" stroke=\"#ddd\"/>\
         <polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/></svg></figure>",
        points.trim_end()
    )
}

/// One figure per row; undefined figures read "n/a".
fn figures_table(figures: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut out = String::from("<table>");
    for (k, v) in figures {
        let text = match v {
            serde_json::Value::Number(n) if n.is_f64() => n
                .as_f64()
                .map_or_else(|| n.to_string(), |f| format!("{f:.4}")),
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "n/a".to_owned(),
            other => other.to_string(),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(k),
            escape(&text)
        );
    }
    out.push_str("</table>");
    out
}

/// The whole report; `decisions` adds the ensemble's figures (the desk's
/// per-feature figures, the forecasts, the regime detector).
pub(crate) fn html(
    title: &str,
    outcome: &Outcome,
    decisions: Option<&serde_json::Map<String, serde_json::Value>>,
) -> String {
    let s = &outcome.summary;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1000px}}\
         table{{border-collapse:collapse}}td,th{{padding:2px 10px;border-bottom:1px solid #eee;text-align:right}}\
         th:first-child,td:first-child{{text-align:left}}figcaption{{color:#555}}</style></head><body>\
         <h1>{t}</h1>",
        t = escape(title)
    );
    out.push_str("<h2>Summary</h2>");
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(s) {
        out.push_str(&figures_table(&map));
    }
    if let Some(map) = decisions {
        out.push_str("<h2>Decisions</h2>");
        out.push_str(&figures_table(map));
    }
    out.push_str("<h2>Equity</h2>");
    out.push_str(&chart(&outcome.curve, |p| p.equity, "#1f6feb", "Equity"));
    out.push_str(&chart(
        &outcome.curve,
        |p| -p.drawdown * 100.0,
        "#d1242f",
        "Drawdown (%)",
    ));
    let _ = write!(
        out,
        "<h2>Trades</h2><p>{} closed trade(s){}.</p><table><tr><th>#</th><th>side</th><th>entry</th>\
         <th>exit</th><th>size</th><th>entry price</th><th>exit price</th><th>PnL</th><th>return %</th></tr>",
        outcome.trades.len(),
        if outcome.trades.len() > MAX_TRADE_ROWS {
            format!(", the first {MAX_TRADE_ROWS} shown (use --trades for all)")
        } else {
            String::new()
        }
    );
    for (i, t) in outcome.trades.iter().take(MAX_TRADE_ROWS).enumerate() {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td></tr>",
            i + 1,
            t.side,
            t.entry_time,
            t.exit_time,
            t.size,
            t.entry_price,
            t.exit_price,
            t.pnl,
            t.return_pct
        );
    }
    out.push_str("</table></body></html>\n");
    out
}
