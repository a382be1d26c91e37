//! The credential session: authenticate, renew, and know when credentials expire.

use std::time::{Duration, Instant};

use crate::event::{Note, RenewReason, StepResult};
use crate::exchange::Exchange;
use crate::model::{Expiry, Role};

use super::Runner;

/// Renew a little before expiry: a tenth of the lifetime, at most 30 s.
pub(super) fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(30))
}

/// How long the credentials from this response live.
pub(super) fn lifetime(expiry: &Expiry, ex: &Exchange) -> Option<Duration> {
    match expiry {
        Expiry::Fixed(d) => Some(*d),
        Expiry::JsonPath(p) => {
            let doc = ex.json()?;
            let v = p.compiled.query(doc).exactly_one().ok()?;
            let secs = v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))?;
            (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
        }
    }
}

/// Renewing credentials failed at this auth step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RenewFailed {
    /// The auth step's name.
    pub step: String,
}

impl Runner<'_, '_, '_, '_> {
    /// Runs every auth step again (reusing `once` results), from a clean expiry.
    pub(super) async fn authenticate(&mut self, why: RenewReason) -> Result<(), RenewFailed> {
        self.refresh_at = None;
        let plan = self.plan;
        for ps in plan.sequence().filter(|ps| ps.step.role == Role::Auth) {
            let mut outcome = self.attempt(ps.index, false).await;
            outcome.notes.insert(0, Note::Again(why));
            let ok = matches!(outcome.result, StepResult::Passed | StepResult::Reused(_));
            self.finish(ps.index, outcome);
            if !ok {
                return Err(RenewFailed { step: ps.step.name.clone() });
            }
        }
        Ok(())
    }

    /// Renews credentials: the refresh-only step when a refresh token is at hand, else full
    /// authentication.
    pub(super) async fn renew(&mut self, why: RenewReason) -> Result<(), RenewFailed> {
        let plan = self.plan;
        let refresh = plan.steps.iter().find(|ps| {
            ps.step.lifecycle.refresh_only && ps.needs.iter().all(|n| self.scope.contains(&n.name))
        });
        if let Some(ps) = refresh {
            let mut outcome = self.attempt(ps.index, false).await;
            outcome.notes.insert(0, Note::Refresh(why));
            let ok = matches!(outcome.result, StepResult::Passed);
            self.finish(ps.index, outcome);
            if ok {
                return Ok(());
            }
        }
        self.authenticate(why).await
    }

    /// Credentials valid for `lifetime` from now: renew them a little before.
    pub(super) fn track_expiry(&mut self, lifetime: Duration) {
        let at = Instant::now() + lifetime.saturating_sub(refresh_margin(lifetime));
        self.refresh_at = Some(self.refresh_at.map_or(at, |t| t.min(at)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_margin_is_a_tenth_of_the_lifetime_capped_at_thirty_seconds() {
        assert_eq!(refresh_margin(Duration::from_secs(100)), Duration::from_secs(10));
        assert_eq!(refresh_margin(Duration::from_secs(3600)), Duration::from_secs(30));
        assert_eq!(refresh_margin(Duration::from_millis(200)), Duration::from_millis(20));
    }
}
