//! The credential session: authenticate, renew, and know when credentials expire.

use std::time::{Duration, Instant};

use crate::event::{Note, RenewReason, StepResult};
use crate::exchange::Exchange;
use crate::model::{Expiry, MAX_LIFETIME, Role};

use super::Runner;
use super::persist::FileLock;
use crate::template::Scope;

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
            let Some(v) = ex.json_at().and_then(|doc| p.compiled.query(doc).exactly_one().ok()) else {
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

/// When credentials valid for `lifetime` from now are due for renewal.
pub(super) fn renew_at(lifetime: Duration) -> Instant {
    let lifetime = lifetime.min(MAX_LIFETIME);
    let now = Instant::now();
    now.checked_add(lifetime.saturating_sub(refresh_margin(lifetime))).unwrap_or(now)
}

/// Renewing credentials failed at this auth step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RenewFailed {
    /// The auth step's name.
    pub step: String,
}

/// The state of one credential profile in a collection run.
#[derive(Debug, Clone, Default)]
pub(super) struct Session {
    /// When its credentials should be renewed (expiry minus a safety margin).
    pub refresh_at: Option<Instant>,
    /// The shared credentials it holds, when they have a key.
    pub cred: Option<Cred>,
    /// Set when fresh credentials from a re-authentication were refused too: no more
    /// re-authentication after a 401 for this profile.
    pub reauth_refused: bool,
}

impl Session {
    /// Whether its credentials are due for renewal.
    pub fn due(&self) -> bool {
        self.refresh_at.is_some_and(|t| Instant::now() >= t)
    }
}

/// The kept credentials a collection holds: an OAuth2 token or a `cache:` step's result.
#[derive(Debug, Clone)]
pub(super) struct Cred {
    /// The token step (run position).
    pub step: usize,
    /// Its key in the vault.
    pub key: String,
    /// The generation of the entry this collection holds.
    pub generation: u64,
}

impl Runner<'_, '_, '_, '_> {
    /// Runs every auth step of `profile` again (reusing `once` results) from a clean
    /// expiry, with the variables the auth steps saw the first time (a request's capture
    /// of the same name does not leak into them). `first_note` goes on the first auth
    /// step's outcome.
    pub(super) async fn authenticate(
        &mut self,
        profile: usize,
        why: RenewReason,
        first_note: Option<Note>,
    ) -> Result<(), RenewFailed> {
        self.sessions[profile].refresh_at = None;
        let plan = self.plan;
        let main = std::mem::replace(&mut self.scope, self.auth_scope.clone());
        let mut result = Ok(());
        let mut first_note = first_note;
        for ps in
            plan.sequence().filter(|ps| ps.step.role == Role::Auth && plan.profile_of(ps.index) == profile)
        {
            let mut outcome = self.attempt(ps.index, false).await;
            outcome.notes.insert(0, Note::Again(why));
            outcome.notes.extend(first_note.take());
            let ok = matches!(outcome.result, StepResult::Passed | StepResult::Reused(_));
            self.finish(ps.index, outcome);
            if !ok {
                result = Err(RenewFailed { step: ps.step.name.clone() });
                break;
            }
        }
        self.leave_auth_scope(main);
        result
    }

    /// Back to the requests' scope after running auth steps in theirs: what the auth steps
    /// captured joins the requests' scope.
    fn leave_auth_scope(&mut self, main: Scope) {
        let auth = std::mem::replace(&mut self.scope, main);
        for ps in self.plan.steps.iter().filter(|ps| ps.step.role == Role::Auth) {
            for cap in &ps.step.captures {
                if let Some(value) = auth.get(&cap.name.name) {
                    self.scope.set(&cap.name.name, value.clone());
                }
            }
        }
        self.auth_scope = auth;
    }

    /// Renews the credentials of `profile`: takes those another file of the run renewed
    /// meanwhile, else runs the refresh-only step when a refresh token is at hand, else
    /// authenticates again.
    pub(super) async fn renew(&mut self, profile: usize, why: RenewReason) -> Result<(), RenewFailed> {
        // The renewed credentials set the next renewal; the old time has passed.
        self.sessions[profile].refresh_at = None;
        if self.adopt_newer(profile) {
            return Ok(());
        }
        let plan = self.plan;
        let refresh = plan.steps.iter().find(|ps| {
            ps.step.lifecycle.refresh_only
                && plan.profile_of(ps.index) == profile
                && ps.needs.iter().all(|n| self.auth_scope.contains(&n.name))
        });
        let mut refused = None;
        if let Some(ps) = refresh {
            // Hold the credentials' key, so two files never refresh the same token at once
            // (a server that rotates refresh tokens would refuse the second).
            let cred = self.sessions[profile].cred.clone();
            let held = match &cred {
                Some(c) => {
                    let file = if plan.step(c.step).lifecycle.cache {
                        FileLock::PerOperation
                    } else {
                        FileLock::None
                    };
                    self.vault.hold(&c.key, file).await.ok()
                }
                None => None,
            };
            if self.adopt_newer(profile) {
                return Ok(());
            }
            let main = std::mem::replace(&mut self.scope, self.auth_scope.clone());
            let mut outcome = self.attempt(ps.index, false).await;
            self.leave_auth_scope(main);
            if matches!(outcome.result, StepResult::Passed) {
                outcome.notes.insert(0, Note::Refresh(why));
                if let (Some(c), Some(held)) = (&cred, &held)
                    && let Err(message) = self.keep_credentials(c.step, held, &c.key).await
                {
                    outcome.notes.push(Note::NotSaved { why: message });
                }
                self.finish(ps.index, outcome);
                return Ok(());
            }
            // The refused refresh is not a failed step: the auth steps run again, and the
            // first one says why.
            refused = Some(Note::RefreshRefused { status: outcome.status });
        }
        self.authenticate(profile, why, refused).await
    }

    /// Takes credentials of `profile` another file of the run obtained after the ones
    /// this collection holds; true when it did.
    fn adopt_newer(&mut self, profile: usize) -> bool {
        let Some(cred) = self.sessions[profile].cred.clone() else { return false };
        let Some(found) = self.vault.newer(&cred.key, cred.generation) else { return false };
        let mut outcome = super::blank(self.plan.step(cred.step));
        outcome.result = self.reuse(cred.step, &cred.key, &found);
        self.finish(cred.step, outcome);
        true
    }

    /// Credentials of `profile` valid for `lifetime` from now: renew them a little before.
    pub(super) fn track_expiry(&mut self, profile: usize, lifetime: Duration) {
        self.renew_by(profile, renew_at(lifetime));
    }

    /// Renews the credentials of `profile` at `at` at the latest.
    pub(super) fn renew_by(&mut self, profile: usize, at: Instant) {
        let s = &mut self.sessions[profile];
        s.refresh_at = Some(s.refresh_at.map_or(at, |t| t.min(at)));
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
