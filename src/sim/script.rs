//! A simulated call's life: one tokio task per call playing out its plan.
//!
//! `initiated`, then `ringing`, then after the ring either `in-progress` and, after the
//! talk time, `completed`; or `busy`, `no-answer` or `failed` (a failure comes straight
//! from `initiated`, as a network refusal does). Waiting uses tokio's timers, so a test
//! on paused time controls it exactly. A hang-up aborts the task; every step also checks
//! through [`SimState::advance`] that the call is still live.

use super::config::{CallPlan, Outcome};
use super::state::{Phase, SimState};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::AbortHandle;
use tokio::time::sleep;

/// Starts the script of call `sid`.
pub(crate) fn spawn(
    state: Arc<SimState>,
    sid: String,
    plan: CallPlan,
    ring_timeout: Duration,
) -> AbortHandle {
    tokio::spawn(async move { run(&state, &sid, plan, ring_timeout).await }).abort_handle()
}

async fn run(state: &SimState, sid: &str, plan: CallPlan, ring_timeout: Duration) {
    if !state.advance(sid, Phase::Initiated) {
        return;
    }
    if plan.outcome == Outcome::Failed {
        sleep(plan.ring).await;
        state.advance(sid, Phase::Failed);
        return;
    }
    if !state.advance(sid, Phase::Ringing) {
        return;
    }
    // Nobody picks up after the call's own ring timeout, whatever the plan says.
    let picks_up_in_time = plan.ring <= ring_timeout;
    match plan.outcome {
        Outcome::Answered if picks_up_in_time => {
            sleep(plan.ring).await;
            if state.advance(sid, Phase::InProgress) {
                sleep(plan.talk).await;
                state.advance(sid, Phase::Completed);
            }
        }
        Outcome::Busy => {
            sleep(plan.ring).await;
            state.advance(sid, Phase::Busy);
        }
        _ => {
            sleep(plan.ring.min(ring_timeout)).await;
            state.advance(sid, Phase::NoAnswer);
        }
    }
}
