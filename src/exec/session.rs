//! The credential session: authenticate, renew, and know when credentials expire.

use std::time::{Duration, Instant};

use crate::event::{Note, RenewReason, StepResult};
use crate::exchange::Exchange;
use crate::model::{Expiry, MAX_LIFETIME, Role};

use super::Runner;

/// Renew a little before expiry: a tenth of the lifetime, at most 30 s.
pub(super) fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(30))
}

/// How long the credentials from this response live: `Ok(None)` when the response does
/// not say, an error (the value as sent) when what it says is not a lifetime from zero to
/// [`MAX_LIFETIME`].
pub(super) fn lifetime(expiry: &Expiry, ex: &Exchange) -> Result<Option<Duration>, String> {
    let secs = match expiry {
        Expiry::Fixed(d) => return Ok(Some(*d)),
        Expiry::JsonPath(p) => {
            let Some(v) = ex.json().and_then(|doc| p.compiled.query(doc).exactly_one().ok()) else {
                return Ok(None);
            };
            match v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())) {
                Some(secs) => (secs, v.to_string()),
                None => return Ok(None),
            }
        }
    };
    match Duration::try_from_secs_f64(secs.0) {
        Ok(d) if d <= MAX_LIFETIME => Ok(Some(d)),
        _ => Err(secs.1),
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
        let lifetime = lifetime.min(MAX_LIFETIME);
        let now = Instant::now();
        let at = now.checked_add(lifetime.saturating_sub(refresh_margin(lifetime))).unwrap_or(now);
        self.refresh_at = Some(self.refresh_at.map_or(at, |t| t.min(at)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(body: &str) -> Exchange {
        Exchange::new(200, vec![("content-type".into(), "application/json".into())], body.as_bytes().to_vec())
    }

    fn from_json(body: &str) -> Result<Option<Duration>, String> {
        let f =
            crate::testing::Fixture::new("auth:\n  - url: x\n    expires_in: $.expires_in\nrequests: []\n");
        let expiry = f.collection.auth[0].lifecycle.expires_in.clone().expect("expiry");
        lifetime(&expiry, &token(body))
    }

    #[test]
    fn token_lifetimes_out_of_range_are_errors_not_panics() {
        assert_eq!(from_json(r#"{"expires_in": 3600}"#), Ok(Some(Duration::from_secs(3600))));
        assert_eq!(from_json(r#"{"expires_in": "0.25"}"#), Ok(Some(Duration::from_millis(250))));
        assert_eq!(from_json(r#"{"access_token": "t"}"#), Ok(None), "no lifetime given");
        for huge in ["1e19", "1e300", "18446744073709551615", "-1", "315360001"] {
            let body = format!(r#"{{"expires_in": {huge}}}"#);
            assert!(from_json(&body).is_err(), "{huge}");
        }
    }

    #[test]
    fn renewal_margin_is_a_tenth_of_the_lifetime_capped_at_thirty_seconds() {
        assert_eq!(refresh_margin(Duration::from_secs(100)), Duration::from_secs(10));
        assert_eq!(refresh_margin(Duration::from_secs(3600)), Duration::from_secs(30));
        assert_eq!(refresh_margin(Duration::from_millis(200)), Duration::from_millis(20));
    }
}
