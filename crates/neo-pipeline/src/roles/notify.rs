//! The notify role: the channel workers and the stage that feeds them from the
//! shared durable consumer (several processes may run it; each notification is
//! delivered once, as its outcome commit is keyed by the inbox).

use neo_bus::{Bus, ConsumerSpec};
use neo_domain::subject::patterns;
use neo_notify::Notifier;

use super::{Context, Tasks};
use crate::PipelineError;
use crate::notify_stage::{NOTIFY_CONSUMER, NotifyStage, run_notify_stage};

/// Starts the channel workers and the notification stage.
pub(crate) fn build<B: Bus>(ctx: &Context<B>, tasks: &mut Tasks) -> Result<(), PipelineError> {
    let (notifier, workers) =
        Notifier::start(&ctx.config.notify).map_err(|e| PipelineError::Setup(e.to_string()))?;
    let stage = NotifyStage {
        bus: ctx.bus.clone(),
        store: ctx.store.clone(),
        writer: ctx.writer.clone(),
        notifier,
        consumer: ConsumerSpec::new(NOTIFY_CONSUMER, patterns::notifications()),
        max_in_flight: 1024,
        clock: ctx.clock.clone(),
        flags: Some(ctx.flags.clone()),
        slo: ctx.slo.clone(),
    };
    let shutdown = ctx.shutdown.clone();
    tasks.spawn("notify", async move {
        let r = run_notify_stage(stage, shutdown).await;
        workers.join().await;
        r
    });
    Ok(())
}
