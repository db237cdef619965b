//! What `GET /v1/system/checks` (and so `neo doctor`) checks beyond the store,
//! bus and market: each enabled notification channel and, when LLM agents are
//! configured, each provider of the chain, each checked without sending a
//! message or spending a token.

use std::sync::Arc;

use futures::future::BoxFuture;
use neo_agents::provider::{ProviderConfig, check_provider};
use neo_api::server::checks::{Probe, ProbeError};
use neo_domain::contracts::Channel;
use neo_notify::NotifyConfig;
use neo_notify::check::check_channel;

use crate::config::Config;

/// A notification channel.
struct ChannelProbe {
    client: reqwest::Client,
    config: Arc<NotifyConfig>,
    channel: Channel,
}

impl Probe for ChannelProbe {
    fn name(&self) -> String {
        format!("notify.{}", self.channel)
    }

    fn check(&self) -> BoxFuture<'_, Result<String, ProbeError>> {
        Box::pin(async move { Ok(check_channel(&self.client, &self.config, self.channel).await?) })
    }
}

/// An LLM provider.
struct ProviderProbe {
    client: reqwest::Client,
    provider: ProviderConfig,
}

impl Probe for ProviderProbe {
    fn name(&self) -> String {
        format!("llm.{}", self.provider.name)
    }

    fn check(&self) -> BoxFuture<'_, Result<String, ProbeError>> {
        Box::pin(async move { Ok(check_provider(&self.client, &self.provider).await?) })
    }
}

/// The probes `config` calls for.
pub(crate) fn probes(config: &Config) -> Vec<Arc<dyn Probe>> {
    let client = reqwest::Client::new();
    let notify = Arc::new(config.notify.clone());
    let mut out: Vec<Arc<dyn Probe>> = Vec::new();
    for (enabled, channel) in [
        (config.notify.slack.enabled, Channel::Slack),
        (config.notify.telegram.enabled, Channel::Telegram),
        (config.notify.webhook.enabled, Channel::Webhook),
    ] {
        if enabled {
            out.push(Arc::new(ChannelProbe {
                client: client.clone(),
                config: notify.clone(),
                channel,
            }));
        }
    }
    if config.agents.llm_enabled() {
        for provider in &config.agents.llm.providers {
            out.push(Arc::new(ProviderProbe {
                client: client.clone(),
                provider: provider.clone(),
            }));
        }
    }
    out
}
