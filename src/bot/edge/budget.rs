//! Slack's 3 seconds: whatever a click, a modal submission or a command still has to do when
//! 2.5 s have passed since it arrived goes on without the person waiting.
//!
//! The work runs as its own task; the route waits for it at most [`ANSWER_BUDGET`]. What is
//! decided is decided first (the lock, the decision, the record), so an answer given at the
//! budget never hides a decision that did not happen; what is left is drawing: the card, the
//! thread note, the ephemeral answer. A route that answers at the budget marks the gate's card
//! stale, and the sweep redraws it within a minute if the task does not finish (on Lambda, the
//! environment is frozen once the answer is sent, and a task resumes only when it thaws).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::error::BotError;

/// How long after a request arrived it is answered, whatever is still running: Slack shows the
/// person a timeout at 3 s.
pub const ANSWER_BUDGET: Duration = Duration::from_millis(2500);

/// What came of waiting for the work within the budget.
pub enum Answered<T> {
    /// The work finished in time, with this.
    InTime(T),
    /// The budget ran out; the work goes on by itself.
    Late,
}

/// Runs `work` as a task and waits for it until `ANSWER_BUDGET` after `arrived`. When the budget
/// runs out first, the task goes on and hands what it comes to to `when_late` (the command posts
/// it as an ephemeral message; a click has nothing left to say). The answer travels through a
/// one-shot channel, so it is used exactly once: by the route, or by `when_late`.
pub async fn within_budget<T, W, L, F>(
    arrived: Instant,
    work: W,
    when_late: L,
) -> Result<Answered<T>, BotError>
where
    T: Send + 'static,
    W: Future<Output = T> + Send + 'static,
    L: FnOnce(T) -> F + Send + 'static,
    F: Future<Output = ()> + Send,
{
    let (answer_tx, mut answer_rx) = tokio::sync::oneshot::channel::<T>();
    tokio::spawn(async move {
        let answer = work.await;
        if let Err(answer) = answer_tx.send(answer) {
            when_late(answer).await;
        }
    });
    match tokio::time::timeout_at(arrived + ANSWER_BUDGET, &mut answer_rx).await {
        Ok(Ok(answer)) => Ok(Answered::InTime(answer)),
        // A panic in the work dropped the sender: the request failed, and says so (the process
        // serves on).
        Ok(Err(_)) => Err(BotError::Unavailable(
            "the request failed inside greenlight; try again".to_owned(),
        )),
        // Closing first, then a last look: an answer sent in between is still the route's.
        Err(_) => {
            answer_rx.close();
            Ok(match answer_rx.try_recv() {
                Ok(answer) => Answered::InTime(answer),
                Err(_) => Answered::Late,
            })
        }
    }
}
