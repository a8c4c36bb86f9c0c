//! Per-key submission rate limits: a token bucket per signing key, its rate set per party (or one default
//! for every key). Over the limit a submission gets RESOURCE_EXHAUSTED with the time to wait.
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use crate::error::{Error, Kind, Result};

/// Rate-limit settings.
#[derive(Debug, Clone, Default)]
pub struct RateSettings {
    /// Submissions per second per key; 0 = unlimited (unless the key's party has its own rate).
    pub per_key: u32,
    /// Bucket size; 0 = twice the rate.
    pub burst: u32,
    /// Per-party rates, for every key of the party.
    pub parties: BTreeMap<String, u32>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The limiter shared by the submission handlers.
#[derive(Debug, Default)]
pub struct RateLimiter {
    settings: RateSettings,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(settings: RateSettings) -> Self {
        Self { settings, buckets: Mutex::new(HashMap::new()) }
    }

    pub fn enabled(&self) -> bool {
        self.settings.per_key > 0 || !self.settings.parties.is_empty()
    }

    /// Take `n` tokens from the bucket of every signing key (`party` tells the party of a keyid). All or
    /// nothing: when one key is over its limit nothing is taken.
    pub fn check(&self, signers: &[(String, Option<String>)], n: usize, now: Instant) -> Result<()> {
        let mut buckets = crate::sync::lock(&self.buckets);
        let mut plan = Vec::new();
        for (i, (keyid, party)) in signers.iter().enumerate() {
            let rate =
                party.as_ref().and_then(|p| self.settings.parties.get(p)).copied().unwrap_or(self.settings.per_key);
            if rate == 0 {
                continue;
            }
            let burst = if self.settings.burst > 0 { self.settings.burst } else { rate.saturating_mul(2) } as f64;
            let b = buckets.entry(keyid.clone()).or_insert(Bucket { tokens: burst, last: now });
            let tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * f64::from(rate)).min(burst);
            if tokens < n as f64 {
                let wait_ms = (((n as f64 - tokens) / f64::from(rate)) * 1000.0).ceil() as u64;
                return Err(Error::new(
                    Kind::ResourceExhausted,
                    format!("envelope.signatures[{i}].keyid"),
                    format!(
                        "key {keyid}{} may submit {rate} statements/s (burst {burst}); retry in {wait_ms} ms",
                        party.as_ref().map(|p| format!(" of {p}")).unwrap_or_default()
                    ),
                ));
            }
            plan.push((keyid.clone(), tokens - n as f64));
        }
        for (k, t) in plan {
            if let Some(b) = buckets.get_mut(&k) {
                b.tokens = t;
                b.last = now;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refills_at_the_rate_and_names_the_wait() {
        let l = RateLimiter::new(RateSettings { per_key: 10, burst: 5, parties: [("BIG".to_string(), 1000)].into() });
        let t0 = Instant::now();
        let k = vec![("k1".to_string(), Some("P".to_string()))];
        for _ in 0..5 {
            l.check(&k, 1, t0).unwrap();
        }
        let e = l.check(&k, 1, t0).unwrap_err();
        assert_eq!(e.kind, Kind::ResourceExhausted);
        assert!(e.message.contains("retry in 100 ms"), "{e}");
        l.check(&k, 1, t0 + std::time::Duration::from_millis(100)).unwrap();
        // A party with its own rate.
        let big = vec![("k2".to_string(), Some("BIG".to_string()))];
        l.check(&big, 5, t0).unwrap();
    }
}
