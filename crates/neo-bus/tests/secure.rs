//! Production NATS against a real `nats-server`: TLS with client
//! certificates (a server that verifies clients refuses one without), a
//! `.creds` file in operator (decentralized JWT) mode (refused without it),
//! and a cluster's several URLs (a dead server in the list is passed over).
//! Certificates come from `openssl`, the operator, account and user from
//! freshly made nkeys, so nothing secret is committed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::Path;
use std::process::Command;

use data_encoding::{BASE32_NOPAD, BASE64URL_NOPAD};
use neo_bus::{JetStreamBus, NatsConfig};
use neo_testkit::nats::{Missing, NatsServer};
use nkeys::KeyPair;
use serde_json::{Value, json};

fn openssl(dir: &Path, args: &[&str]) -> Result<(), Missing> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| Missing(format!("openssl: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Missing(format!(
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`.
fn pki(dir: &Path) -> Result<(), Missing> {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=neo-test-ca"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(dir, &ca)?;
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), ext).map_err(|e| Missing(e.to_string()))?;
        let mut req = vec!["req", "-subj"];
        let subject = format!("/CN=neo-{name}");
        req.push(&subject);
        req.extend(ec);
        let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
        req.extend(["-keyout", &key, "-out", &csr]);
        openssl(dir, &req)?;
        let (pem, ext_file) = (format!("{name}.pem"), format!("{name}.ext"));
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &pem,
                "-extfile",
                &ext_file,
            ],
        )?;
    }
    Ok(())
}

fn tls_server() -> Option<NatsServer> {
    let configured = NatsServer::start_configured(true, &|dir| {
        pki(dir)?;
        let p = |f: &str| dir.join(f).display().to_string();
        Ok(format!(
            "tls {{\n  cert_file: {:?}\n  key_file: {:?}\n  ca_file: {:?}\n  verify: true\n  timeout: 2\n}}",
            p("server.pem"),
            p("server.key"),
            p("ca.pem")
        ))
    });
    or_skip(configured)
}

/// The server, or (outside CI) a loud skip when nats-server or openssl is missing.
fn or_skip(started: Result<NatsServer, Missing>) -> Option<NatsServer> {
    match started {
        Ok(server) => Some(server),
        Err(missing) => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{missing}");
            eprintln!("SKIPPED: {missing}");
            None
        }
    }
}

#[tokio::test]
async fn tls_with_a_client_certificate() {
    let Some(server) = tls_server() else { return };
    let dir = server.dir().to_owned();
    let config = |client: bool| NatsConfig {
        url: format!("tls://127.0.0.1:{}", server.port()),
        tls: true,
        root_ca: Some(dir.join("ca.pem")),
        client_cert: client.then(|| dir.join("client.pem")),
        client_key: client.then(|| dir.join("client.key")),
        timeout_ms: 3_000,
        ..NatsConfig::default()
    };
    connects_and_sets_up_streams(config(true)).await;
    // The server verifies clients: without a certificate there is no connection.
    assert!(JetStreamBus::connect(config(false)).await.is_err());
}

/// Connects (the streams are created or updated on connect) and reads them back.
async fn connects_and_sets_up_streams(config: NatsConfig) {
    let bus = JetStreamBus::connect(config).await.unwrap();
    let streams = bus.stream_stats().await.unwrap();
    assert!(
        streams.iter().any(|s| s.name == "NEO_SIGNALS"),
        "{streams:?}"
    );
}

/// A JWT as NATS's tools make them: `ed25519-nkey` signed by `issuer`.
fn jwt(issuer: &KeyPair, subject: &str, name: &str, nats: Value) -> String {
    let header = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let mut claims = json!({
        "iat": 1_700_000_000,
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let digest = ring::digest::digest(&ring::digest::SHA256, claims.to_string().as_bytes());
    claims["jti"] = json!(BASE32_NOPAD.encode(digest.as_ref()));
    let body = BASE64URL_NOPAD.encode(claims.to_string().as_bytes());
    let signed = format!("{header}.{body}");
    let signature = issuer.sign(signed.as_bytes()).unwrap();
    format!("{signed}.{}", BASE64URL_NOPAD.encode(&signature))
}

#[tokio::test]
async fn a_creds_file_in_operator_mode() {
    let operator = KeyPair::new_operator();
    let account = KeyPair::new_account();
    // nats-server 2.15 will not start JetStream in operator mode without a system account.
    let system = KeyPair::new_account();
    let user = KeyPair::new_user();
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        "neo-test",
        json!({"type": "operator", "version": 2}),
    );
    let account_jwt = jwt(
        &operator,
        &account.public_key(),
        "neo",
        json!({"limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
            "wildcards": true, "conn": -1, "leaf": -1, "mem_storage": -1, "disk_storage": -1,
            "streams": -1, "consumer": -1}, "type": "account", "version": 2}),
    );
    let system_jwt = jwt(
        &operator,
        &system.public_key(),
        "SYS",
        json!({"limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
            "wildcards": true, "conn": -1, "leaf": -1}, "type": "account", "version": 2}),
    );
    let user_jwt = jwt(
        &account,
        &user.public_key(),
        "neo-user",
        json!({"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2}),
    );
    let extra = format!(
        "operator: {operator_jwt:?}\nsystem_account: {sys}\nresolver: MEMORY\n\
         resolver_preload: {{\n  {acc}: {account_jwt:?}\n  {sys}: {system_jwt:?}\n}}",
        acc = account.public_key(),
        sys = system.public_key(),
    );
    let Some(server) = or_skip(NatsServer::start_configured(true, &|_| Ok(extra.clone()))) else {
        return;
    };
    let creds = std::env::temp_dir().join(format!("neo-test-{}.creds", std::process::id()));
    std::fs::write(
        &creds,
        format!(
            "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\n\
             -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
            user.seed().unwrap()
        ),
    )
    .unwrap();
    let config = |with: bool| NatsConfig {
        url: server.url(),
        credentials_file: with.then(|| creds.clone()),
        timeout_ms: 3_000,
        ..NatsConfig::default()
    };
    connects_and_sets_up_streams(config(true)).await;
    assert!(JetStreamBus::connect(config(false)).await.is_err());
    // A missing creds file is named.
    let mut missing = config(true);
    missing.credentials_file = Some(creds.with_extension("nope"));
    let err = JetStreamBus::connect(missing)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("credentials_file"), "{err}");
    let _ = std::fs::remove_file(&creds);
}

#[tokio::test]
async fn a_dead_server_in_the_list_is_passed_over() {
    let Some(server) = neo_testkit::nats::require_nats("cluster urls") else {
        return;
    };
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = NatsConfig {
        url: format!("nats://127.0.0.1:{dead}, {}", server.url()),
        timeout_ms: 3_000,
        ..NatsConfig::default()
    };
    assert_eq!(config.urls().len(), 2);
    let bus = JetStreamBus::connect(config).await.unwrap();
    assert!(!bus.stream_stats().await.unwrap().is_empty());
    let bad = NatsConfig {
        url: "http://127.0.0.1:4222".to_owned(),
        ..NatsConfig::default()
    };
    assert!(bad.validate()[0].contains("nats:// or tls://"));
}
