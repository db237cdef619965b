//! `[telemetry] otlp_endpoint`: a real `neo run` exports its spans to a local
//! collector as OTLP/HTTP JSON; an alert's spans (the desk's handling, the
//! Slack delivery) share one trace whose id is the signal's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use neo_testkit::mock::MockHttp;
use serde_json::json;

mod common;

use common::{post_alert, run_dir, spawn_logging, wait_healthy};

const PASS: &str = "otlp-passphrase";

/// Every span the collector received: (trace id, name, attributes as key=value).
fn spans(collector: &MockHttp) -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    for r in collector.requests() {
        assert_eq!(r.path, "/v1/traces");
        for rs in r.body["resourceSpans"].as_array().into_iter().flatten() {
            assert_eq!(
                rs["resource"]["attributes"][0]["value"]["stringValue"],
                "neo-test"
            );
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                for s in ss["spans"].as_array().into_iter().flatten() {
                    let attrs = s["attributes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| {
                            format!(
                                "{}={}",
                                a["key"].as_str().unwrap(),
                                a["value"]["stringValue"].as_str().unwrap()
                            )
                        })
                        .collect();
                    assert!(
                        s["endTimeUnixNano"]
                            .as_str()
                            .unwrap()
                            .parse::<u64>()
                            .unwrap()
                            >= s["startTimeUnixNano"]
                                .as_str()
                                .unwrap()
                                .parse::<u64>()
                                .unwrap()
                    );
                    assert_eq!(s["spanId"].as_str().unwrap().len(), 16);
                    out.push((
                        s["traceId"].as_str().unwrap().to_owned(),
                        s["name"].as_str().unwrap().to_owned(),
                        attrs,
                    ));
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alerts_spans_reach_the_collector_in_one_trace() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let collector = MockHttp::start().await.unwrap();
    let slack = MockHttp::start().await.unwrap();
    let run = run_dir(
        "otlp",
        PASS,
        &format!(
            "[telemetry]\notlp_endpoint = \"{}\"\nservice_name = \"neo-test\"\n\
             [notify.slack]\nenabled = true\nwebhook_url = \"{}\"\n",
            collector.url(""),
            slack.url("/hook")
        ),
    );
    let child = spawn_logging(
        &run,
        "info",
        std::fs::File::create(run.dir.join("neo.log")).unwrap(),
    );
    let http = reqwest::Client::new();
    wait_healthy(&http, &run.base).await;
    let alert = json!({"ticker": "BTCUSDT", "action": "buy", "passphrase": PASS, "id": "otlp-1"});
    let answer = post_alert(&http, &run.base, &alert).await;
    let id = answer["signal_id"].as_str().unwrap().to_owned();
    let trace = id.replace('-', "");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let of_trace: Vec<_> = spans(&collector)
            .into_iter()
            .filter(|(t, _, _)| *t == trace)
            .collect();
        let desk = of_trace
            .iter()
            .any(|(_, n, a)| n == "message" && a.contains(&"stage=desk".to_owned()));
        let told = of_trace
            .iter()
            .any(|(_, n, a)| n == "notification" && a.contains(&"channel=slack".to_owned()));
        if desk && told {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{of_trace:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = &collector.requests()[0];
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("application/json"))
    );
    drop(child);
    let _ = std::fs::remove_dir_all(&run.dir);
}
