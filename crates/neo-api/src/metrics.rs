//! Prometheus metrics for NEO: every metric name in one place ([`names`]), one
//! process-wide recorder ([`Metrics::install`]), the `GET /metrics` scrape
//! endpoint ([`metrics_router`]) and per-route HTTP counters ([`track_http`]).
//!
//! Record from anywhere with the `metrics` macros and a name from [`names`], e.g.
//! `metrics::counter!(names::SIGNALS_ACCEPTED, "source" => "tradingview").increment(1)`.
//! Label values must come from small fixed sets (routes, reasons, stages), never from
//! user input, so the number of series stays bounded.

use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use governor::clock::{Clock, QuantaClock, Reference};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Every metric name NEO records, so dashboards and alerts have one list to match.
pub mod names {
    /// Counter, labels `route` (matched template) and `status`: HTTP requests answered.
    pub const HTTP_REQUESTS: &str = "neo_http_requests_total";
    /// Histogram (seconds), label `route`: time to answer an HTTP request.
    pub const HTTP_REQUEST_DURATION: &str = "neo_http_request_duration_seconds";
    /// Counter, label `source`: signals accepted (durable) at the gateway.
    pub const SIGNALS_ACCEPTED: &str = "neo_signals_accepted_total";
    /// Counter, label `source`: resent signals recognised and not processed again.
    pub const SIGNALS_DUPLICATE: &str = "neo_signals_duplicate_total";
    /// Counter, label `reason`: requests or signals refused (bad input, forbidden_ip, rate_limited...).
    pub const SIGNALS_REJECTED: &str = "neo_signals_rejected_total";
    /// Histogram (seconds), label `stage`: time a pipeline stage spends on one message.
    pub const STAGE_DURATION: &str = "neo_stage_duration_seconds";
    /// Counter, labels `stage` and `outcome`: messages handled by each pipeline stage.
    pub const STAGE_MESSAGES: &str = "neo_stage_messages_total";
    /// Counter, label `status`: orders by their resulting status.
    pub const ORDERS: &str = "neo_orders_total";
    /// Counter, label `instrument`: fills received.
    pub const FILLS: &str = "neo_fills_total";
    /// Counter, labels `channel` and `outcome`: notifications sent or failed.
    pub const NOTIFICATIONS: &str = "neo_notifications_total";
    /// Counter, label `reason`: orders the risk checks refused.
    pub const RISK_REFUSALS: &str = "neo_risk_refusals_total";
    /// Counter, label `stage`: messages parked in the dead-letter queue.
    pub const BUS_DEAD_LETTERS: &str = "neo_bus_dead_letters_total";
    /// Histogram (seconds), label `channel`: from webhook receipt to notification sent.
    pub const WEBHOOK_TO_NOTIFICATION: &str = "neo_webhook_to_notification_seconds";

    /// Counter, label `kind` (`tick`, `candle`): market data the desk never saw
    /// (a tick superseded by a newer one, a candle past the queue bound).
    pub const MARKET_DROPPED: &str = "neo_market_dropped_total";
    /// Gauge, label `instrument`: the strategy ensemble's mean Brier score (lower is better).
    pub const STRATEGY_BRIER: &str = "neo_strategy_brier";
    /// Gauge, label `instrument`: share of the ensemble's committed forecasts on the right side.
    pub const STRATEGY_ACCURACY: &str = "neo_strategy_accuracy_ratio";
    /// Gauge, label `instrument`: 1 minus the mean change of the model weights per forecast.
    pub const STRATEGY_WEIGHT_STABILITY: &str = "neo_strategy_weight_stability";
    /// Gauge, labels `instrument` and `model`: each model's weight in the ensemble.
    pub const STRATEGY_MODEL_WEIGHT: &str = "neo_strategy_model_weight";
    /// Gauge, labels `instrument` and `regime`: 1 for the regime the detector sees, else 0.
    pub const STRATEGY_REGIME: &str = "neo_strategy_regime";
    /// Gauge: expected calibration error of the desk's bracket probabilities (0 = perfect).
    pub const DESK_CALIBRATION_ECE: &str = "neo_desk_calibration_ece";
    /// Gauge: round trips the calibrator has learned from.
    pub const DESK_CALIBRATION_OUTCOMES: &str = "neo_desk_calibration_outcomes";
    /// Gauge: the Kelly drawdown scale now (1 = full size, `floor_scale` at the drawdown limit).
    pub const DESK_KELLY_SCALE: &str = "neo_desk_kelly_scale";
    /// Gauge: the deepest drawdown from a day's peak so far, as a fraction.
    pub const DESK_MAX_DRAWDOWN: &str = "neo_desk_max_drawdown_ratio";
    /// Gauge: take-profit exits over all bracket exits.
    pub const DESK_BRACKET_SUCCESS: &str = "neo_desk_bracket_success_ratio";
    /// Gauge: bracket exits counted (the success ratio's sample).
    pub const DESK_BRACKET_EXITS: &str = "neo_desk_bracket_exits";
    /// Gauge: mean R-multiple of closed round trips (PnL over the risk at the stop).
    pub const DESK_R_MULTIPLE_MEAN: &str = "neo_desk_r_multiple_mean";
    /// Gauge: standard deviation of those R-multiples.
    pub const DESK_R_MULTIPLE_STD: &str = "neo_desk_r_multiple_stddev";
    /// Gauge: share of bars whose true range fell within [ATR/2, 2 ATR] of the ATR before them.
    pub const DESK_ATR_ACCURACY: &str = "neo_desk_atr_accuracy_ratio";

    /// Counter, label `reason` (`unauthorized`, `key_expired`, `forbidden`, `misdirected_host`,
    /// `forbidden_origin`, `rate_limited`): REST API requests refused before any handler ran.
    pub const API_REFUSALS: &str = "neo_api_refusals_total";
    /// Gauge, label `name`: seconds until the API key expires (negative once it has).
    pub const API_KEY_EXPIRY: &str = "neo_api_key_expiry_seconds";
    /// Gauge, label `name`: 1 while the API key expires within 7 days or has expired, else 0.
    pub const API_KEY_EXPIRING: &str = "neo_api_key_expiring";
    /// Gauge, label `flag`: the share of units the flag is on for (0 to 1), -1 in rollback.
    pub const FLAG_STATE: &str = "neo_flag_state";
    /// Counter, labels `flag` and `rule`: automatic rollbacks by a tripped guard rule.
    pub const FLAG_ROLLBACKS: &str = "neo_flag_rollbacks_total";
    /// Gauge, label `slo`: the SLO's live value (a latency in seconds, or a share of good events).
    pub const SLO_VALUE: &str = "neo_slo_value";
    /// Gauge, label `slo`: the share of the SLO's error budget left (negative when overspent).
    pub const SLO_BUDGET: &str = "neo_slo_budget_remaining";
    /// Gauge, label `slo`: 1 while the SLO is met, else 0.
    pub const SLO_MET: &str = "neo_slo_met";
    /// Histogram, label `agent`: how long each agent took on a signal.
    pub const AGENT_LATENCY: &str = "neo_agent_latency_seconds";
    /// Counter, labels `agent`, `outcome` (answered, late, failed, invalid, budget_exhausted, disabled, not_asked).
    pub const AGENT_OUTCOMES: &str = "neo_agent_outcomes_total";
    /// Counter, labels `provider`, `kind` (input, output): LLM tokens spent.
    pub const LLM_TOKENS: &str = "neo_llm_tokens_total";
    /// Gauge, label `provider`: USD spent on the LLM since start (fractional, so a gauge).
    pub const LLM_COST: &str = "neo_llm_cost_usd_total";
    /// Gauge, label `period` (day, month): USD left under each configured cap.
    pub const LLM_BUDGET_REMAINING: &str = "neo_llm_budget_remaining_usd";
    /// Gauge, label `provider`: seconds the managed local model last took to load.
    pub const OLLAMA_LOAD: &str = "neo_ollama_load_seconds";
    /// Gauge, label `provider`: 1 while the managed local model is in memory.
    pub const OLLAMA_LOADED: &str = "neo_ollama_loaded";
    /// Gauge, label `provider`: the share of the machine's memory the local model holds.
    pub const OLLAMA_MEMORY: &str = "neo_ollama_memory_share";
    /// Gauge, label `provider`: seconds the local model took for its last answer.
    pub const OLLAMA_LATENCY: &str = "neo_ollama_inference_seconds";

    /// Counter, labels `venue`, `outcome` (ok, not_json, unknown, malformed, venue_error):
    /// messages read from a venue's feed.
    pub const MARKET_MESSAGES: &str = "neo_market_messages_total";
    /// Gauge, label `venue`: 1 while the feed is connected and subscribed.
    pub const MARKET_CONNECTED: &str = "neo_market_connected";
    /// Counter, labels `venue`, `phase` (connecting, streaming): connections that
    /// failed or were lost (each followed by a reconnection).
    pub const MARKET_DISCONNECTS: &str = "neo_market_disconnects_total";
    /// Counter, label `venue`: gaps in the venue's sequence numbers.
    pub const MARKET_GAPS: &str = "neo_market_sequence_gaps_total";
    /// Counter, label `venue`: closed candles fetched over REST after a (re)connection or a gap.
    pub const MARKET_BACKFILLED: &str = "neo_market_backfilled_candles_total";
    /// Counter, labels `venue`, `outcome` (throttled, failed): REST backfill trouble.
    pub const MARKET_REST: &str = "neo_market_rest_problems_total";
    /// Gauge, label `instrument`: seconds since the instrument's newest tick.
    pub const MARKET_AGE: &str = "neo_market_data_age_seconds";
    /// Gauge, label `instrument`: 1 while its data is older than risk's `max_data_age_secs`.
    pub const MARKET_STALE: &str = "neo_market_stale";

    /// Counter, label `outcome` (agreed, mismatch, skipped): position reconciliations.
    pub const RECONCILIATIONS: &str = "neo_position_reconciliations_total";
    /// Gauge, label `instrument`: 1 while its fills, stored position and desk disagree.
    pub const POSITION_MISMATCH: &str = "neo_position_mismatch";
    /// Counter, label `kind` (`inbox`, `outbox`, `audit`, `orders`): rows removed by retention.
    pub const STORE_PRUNED: &str = "neo_store_pruned_total";

    /// All names above, for checks that every one is described and exported.
    pub const ALL: [&str; 56] = [
        HTTP_REQUESTS,
        HTTP_REQUEST_DURATION,
        SIGNALS_ACCEPTED,
        SIGNALS_DUPLICATE,
        SIGNALS_REJECTED,
        STAGE_DURATION,
        STAGE_MESSAGES,
        ORDERS,
        FILLS,
        NOTIFICATIONS,
        RISK_REFUSALS,
        BUS_DEAD_LETTERS,
        WEBHOOK_TO_NOTIFICATION,
        MARKET_DROPPED,
        STRATEGY_BRIER,
        STRATEGY_ACCURACY,
        STRATEGY_WEIGHT_STABILITY,
        STRATEGY_MODEL_WEIGHT,
        STRATEGY_REGIME,
        DESK_CALIBRATION_ECE,
        DESK_CALIBRATION_OUTCOMES,
        DESK_KELLY_SCALE,
        DESK_MAX_DRAWDOWN,
        DESK_BRACKET_SUCCESS,
        DESK_BRACKET_EXITS,
        DESK_R_MULTIPLE_MEAN,
        DESK_R_MULTIPLE_STD,
        DESK_ATR_ACCURACY,
        API_REFUSALS,
        API_KEY_EXPIRY,
        API_KEY_EXPIRING,
        FLAG_STATE,
        FLAG_ROLLBACKS,
        SLO_VALUE,
        SLO_BUDGET,
        SLO_MET,
        AGENT_LATENCY,
        AGENT_OUTCOMES,
        LLM_TOKENS,
        LLM_COST,
        LLM_BUDGET_REMAINING,
        OLLAMA_LOAD,
        OLLAMA_LOADED,
        OLLAMA_MEMORY,
        OLLAMA_LATENCY,
        MARKET_MESSAGES,
        MARKET_CONNECTED,
        MARKET_DISCONNECTS,
        MARKET_GAPS,
        MARKET_BACKFILLED,
        MARKET_REST,
        MARKET_AGE,
        MARKET_STALE,
        RECONCILIATIONS,
        POSITION_MISMATCH,
        STORE_PRUNED,
    ];
}

/// Histogram bucket upper bounds in seconds, 50µs to 10s: every NEO histogram is a latency,
/// from an in-memory stage step to a slow notification channel.
pub const LATENCY_BUCKETS: [f64; 17] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// The Prometheus text exposition content type that scrapers expect.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The route label for requests no route matched, so stray paths share one series.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Why the recorder could not be installed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// Building the recorder failed or another recorder already owns the process.
    #[error("could not install the Prometheus recorder: {0}")]
    Install(String),
}

/// The installed recorder's handle: clone it into whatever serves `/metrics`.
#[derive(Debug, Clone)]
pub struct Metrics {
    handle: Arc<PrometheusHandle>,
}

static INSTALLED: OnceLock<Result<Metrics, MetricsError>> = OnceLock::new();

impl Metrics {
    /// Installs the process-wide recorder once, describing every metric; later calls
    /// return the same handle. Call [`Metrics::spawn_upkeep`] from the runtime afterwards.
    pub fn install() -> Result<Metrics, MetricsError> {
        INSTALLED.get_or_init(install_once).clone()
    }

    /// The current values in the Prometheus text format.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains histogram samples on a timer, which a recorder without its own HTTP
    /// listener needs to keep memory bounded between scrapes. Abort the handle to stop it.
    pub fn spawn_upkeep(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let handle = Arc::clone(&self.handle);
        let period = interval.max(Duration::from_millis(1));
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                handle.run_upkeep();
            }
        })
    }
}

fn install_once() -> Result<Metrics, MetricsError> {
    let handle = PrometheusBuilder::new()
        .set_buckets(&LATENCY_BUCKETS)
        .map_err(|e| MetricsError::Install(e.to_string()))?
        .install_recorder()
        .map_err(|e| MetricsError::Install(e.to_string()))?;
    describe_all();
    Ok(Metrics {
        handle: Arc::new(handle),
    })
}

fn describe_all() {
    describe_market();
    use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        names::HTTP_REQUESTS,
        Unit::Count,
        "HTTP requests answered, by matched route and status."
    );
    describe_histogram!(
        names::HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request, by matched route."
    );
    describe_counter!(
        names::SIGNALS_ACCEPTED,
        Unit::Count,
        "Signals accepted (durable) at the gateway, by source."
    );
    describe_counter!(
        names::SIGNALS_DUPLICATE,
        Unit::Count,
        "Resent signals recognised and not processed again, by source."
    );
    describe_counter!(
        names::SIGNALS_REJECTED,
        Unit::Count,
        "Requests or signals refused, by reason."
    );
    describe_histogram!(
        names::STAGE_DURATION,
        Unit::Seconds,
        "Time a pipeline stage spends on one message, by stage."
    );
    describe_counter!(
        names::STAGE_MESSAGES,
        Unit::Count,
        "Messages handled by each pipeline stage, by stage and outcome."
    );
    describe_counter!(names::ORDERS, Unit::Count, "Orders, by resulting status.");
    describe_counter!(names::FILLS, Unit::Count, "Fills received, by instrument.");
    describe_counter!(
        names::NOTIFICATIONS,
        Unit::Count,
        "Notifications, by channel and outcome."
    );
    describe_counter!(
        names::RISK_REFUSALS,
        Unit::Count,
        "Orders refused by risk checks, by reason."
    );
    describe_counter!(
        names::BUS_DEAD_LETTERS,
        Unit::Count,
        "Messages parked in the dead-letter queue, by stage."
    );
    describe_counter!(
        names::MARKET_DROPPED,
        Unit::Count,
        "Market data the desk never saw (superseded ticks, candles past the queue bound), by kind."
    );
    describe_histogram!(
        names::WEBHOOK_TO_NOTIFICATION,
        Unit::Seconds,
        "Time from webhook receipt to notification sent, by channel."
    );
    describe_gauge!(
        names::STRATEGY_BRIER,
        "The strategy ensemble's mean Brier score over matured forecasts, by instrument."
    );
    describe_gauge!(
        names::STRATEGY_ACCURACY,
        "Share of the ensemble's committed forecasts on the right side, by instrument."
    );
    describe_gauge!(
        names::STRATEGY_WEIGHT_STABILITY,
        "1 minus the mean total-variation change of the model weights per forecast, by instrument."
    );
    describe_gauge!(
        names::STRATEGY_MODEL_WEIGHT,
        "Each forecasting model's weight in the ensemble, by instrument and model."
    );
    describe_gauge!(
        names::STRATEGY_REGIME,
        "1 for the regime the detector currently sees, 0 for the others, by instrument."
    );
    describe_gauge!(
        names::DESK_CALIBRATION_ECE,
        "Expected calibration error of the desk's bracket win probabilities over every learned round trip."
    );
    describe_gauge!(
        names::DESK_CALIBRATION_OUTCOMES,
        "Round trips the desk's calibrator has learned from."
    );
    describe_gauge!(
        names::DESK_KELLY_SCALE,
        "The Kelly drawdown scale applied to new entries now (1 = full size)."
    );
    describe_gauge!(
        names::DESK_MAX_DRAWDOWN,
        "The deepest drawdown from a day's peak equity so far, as a fraction."
    );
    describe_gauge!(
        names::DESK_BRACKET_SUCCESS,
        "Take-profit exits over all bracket (stop-loss or take-profit) exits."
    );
    describe_gauge!(names::DESK_BRACKET_EXITS, "Bracket exits counted so far.");
    describe_gauge!(
        names::DESK_R_MULTIPLE_MEAN,
        "Mean R-multiple of closed round trips (PnL over the entry's risk at its stop)."
    );
    describe_gauge!(
        names::DESK_R_MULTIPLE_STD,
        "Standard deviation of the closed round trips' R-multiples."
    );
    describe_counter!(
        names::API_REFUSALS,
        Unit::Count,
        "REST API requests refused before any handler ran (no or unknown key, expired key, role too low, foreign host or origin, rate limit), by reason."
    );
    describe_gauge!(
        names::API_KEY_EXPIRY,
        Unit::Seconds,
        "Seconds until each API key with an expiry expires (negative once it has), by key name."
    );
    describe_gauge!(
        names::API_KEY_EXPIRING,
        "1 while an API key expires within 7 days or has expired (rotate it), else 0, by key name."
    );
    describe_gauge!(
        names::FLAG_STATE,
        "Share of units each feature flag is on for (0 to 1); -1 while it is in rollback."
    );
    describe_gauge!(
        names::SLO_VALUE,
        "Each SLO's live value: the p-target latency over the last hour (seconds) or the share of good events."
    );
    describe_gauge!(
        names::SLO_BUDGET,
        "Share of each SLO's error budget left over its period (1 untouched, negative overspent)."
    );
    describe_gauge!(names::SLO_MET, "1 while the SLO is met, else 0.");
    describe_histogram!(
        names::AGENT_LATENCY,
        Unit::Seconds,
        "How long each agent took on a signal (the LLM's up to the deadline)."
    );
    describe_counter!(
        names::AGENT_OUTCOMES,
        Unit::Count,
        "Agent consultations by outcome: answered, late, failed, invalid, budget_exhausted, disabled, not_asked."
    );
    describe_counter!(
        names::LLM_TOKENS,
        Unit::Count,
        "LLM tokens spent, by provider and kind (input, output)."
    );
    describe_gauge!(
        names::LLM_COST,
        "USD spent on LLM calls since start, by provider, at the configured prices."
    );
    describe_gauge!(
        names::OLLAMA_LOAD,
        "Seconds the managed local model last took to load (target under 30)."
    );
    describe_gauge!(
        names::OLLAMA_LOADED,
        "1 while the managed local model is in memory."
    );
    describe_gauge!(
        names::OLLAMA_MEMORY,
        "Share of the machine's memory the managed local model holds (target under 0.8)."
    );
    describe_gauge!(
        names::OLLAMA_LATENCY,
        "Seconds the local model took for its last answer (target under 2)."
    );
    describe_gauge!(
        names::LLM_BUDGET_REMAINING,
        "USD left under each configured LLM budget cap (period day or month)."
    );
    describe_counter!(
        names::FLAG_ROLLBACKS,
        "Automatic rollbacks of a feature flag, by flag and the guard rule that tripped."
    );
    describe_gauge!(
        names::DESK_ATR_ACCURACY,
        "Share of closed bars whose true range fell within half to twice the ATR before them."
    );
}

/// `GET /metrics`: the scrape endpoint, in the text format Prometheus expects.
pub async fn metrics_handler(State(m): State<Metrics>) -> impl IntoResponse {
    ([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], m.render())
}

/// A stateless router serving `GET /metrics`, to `merge` into the application's router.
pub fn metrics_router(m: Metrics) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .with_state(m)
}

/// A monotonic clock for latencies: quanta's (via governor), since the workspace bans reading
/// `std::time::Instant` outside an injected clock and a latency decides nothing.
static LATENCY_CLOCK: LazyLock<QuantaClock> = LazyLock::new(QuantaClock::default);

/// HTTP middleware (`axum::middleware::from_fn(track_http)`, added with `Router::layer`):
/// counts requests and times them by matched route template, never the raw path.
pub async fn track_http(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let route = matched.map_or_else(|| UNMATCHED_ROUTE.to_owned(), |m| m.as_str().to_owned());
    let start = LATENCY_CLOCK.now();
    let response = next.run(req).await;
    let elapsed: Duration = LATENCY_CLOCK.now().duration_since(start).into();
    let status = response.status().as_u16().to_string();
    ::metrics::counter!(names::HTTP_REQUESTS, "route" => route.clone(), "status" => status)
        .increment(1);
    ::metrics::histogram!(names::HTTP_REQUEST_DURATION, "route" => route)
        .record(elapsed.as_secs_f64());
    response
}

/// The live market feed's metrics.
fn describe_market() {
    use ::metrics::{Unit, describe_counter, describe_gauge};
    describe_counter!(
        names::MARKET_MESSAGES,
        Unit::Count,
        "Messages read from a venue's feed, by venue and outcome (ok, or why it was skipped)."
    );
    describe_gauge!(
        names::MARKET_CONNECTED,
        "1 while the venue's feed is connected and subscribed."
    );
    describe_counter!(
        names::MARKET_DISCONNECTS,
        Unit::Count,
        "Venue connections that failed (phase connecting) or were lost (phase streaming), each followed by a reconnection."
    );
    describe_counter!(
        names::MARKET_GAPS,
        Unit::Count,
        "Gaps in a venue's sequence numbers (each backfills candles), by venue."
    );
    describe_counter!(
        names::MARKET_BACKFILLED,
        Unit::Count,
        "Closed candles fetched over REST after a reconnection or a gap, by venue."
    );
    describe_counter!(
        names::MARKET_REST,
        Unit::Count,
        "REST backfill trouble by venue and outcome (throttled, failed)."
    );
    describe_gauge!(
        names::MARKET_AGE,
        "Seconds since the instrument's newest tick."
    );
    describe_counter!(
        names::RECONCILIATIONS,
        Unit::Count,
        "Position reconciliations (stored fills vs stored position vs desk), by outcome."
    );
    describe_gauge!(
        names::POSITION_MISMATCH,
        "1 while an instrument's stored fills, stored position and desk disagree."
    );
    describe_counter!(
        names::STORE_PRUNED,
        Unit::Count,
        "Store rows removed by retention ([store] retention_days), by kind."
    );
    describe_gauge!(
        names::MARKET_STALE,
        "1 while the instrument's data is older than risk allows (entries refused)."
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
