//! Submission rate limits, as token buckets:
//! - per signing key, its rate set per party (or one default for every key), taken after the signatures
//!   verified;
//! - per client (the TLS client certificate when one is presented, else the remote IP address), taken before
//!   any signature work, so a stranger cannot spend the server's CPU without bound.
//!
//! Over a limit a submission gets RESOURCE_EXHAUSTED with the time to wait. Bucket maps are bounded: at the cap,
//! buckets that refilled completely (which are the same as no bucket) are dropped first, then the one idle the
//! longest.
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use crate::error::{Error, Kind, Result};

/// Default cap on the buckets each map holds (per key, per client).
pub const DEFAULT_MAX_BUCKETS: usize = 65_536;

/// Rate-limit settings.
#[derive(Debug, Clone)]
pub struct RateSettings {
    /// Submissions per second per key; 0 = unlimited (unless the key's party has its own rate).
    pub per_key: u32,
    /// Bucket size; 0 = twice the rate.
    pub burst: u32,
    /// Per-party rates, for every key of the party.
    pub parties: BTreeMap<String, u32>,
    /// Envelopes per second per client (TLS client certificate or remote IP), checked before signature work;
    /// 0 = unlimited. Its burst is twice the rate.
    pub per_client: u32,
    /// Most buckets kept in each map.
    pub max_buckets: usize,
}

impl Default for RateSettings {
    fn default() -> Self {
        Self { per_key: 0, burst: 0, parties: BTreeMap::new(), per_client: 0, max_buckets: DEFAULT_MAX_BUCKETS }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
    burst: f64,
    rate: f64,
}

impl Bucket {
    fn level(&self, now: Instant) -> f64 {
        (self.tokens + now.saturating_duration_since(self.last).as_secs_f64() * self.rate).min(self.burst)
    }
}

/// A bounded map of token buckets.
#[derive(Debug)]
struct Buckets {
    map: HashMap<String, Bucket>,
    cap: usize,
}

impl Buckets {
    fn new(cap: usize) -> Self {
        Self { map: HashMap::new(), cap: cap.max(1) }
    }

    /// Tokens `key` would have at `now` (a missing bucket is full).
    fn level(&self, key: &str, burst: f64, now: Instant) -> f64 {
        self.map.get(key).map_or(burst, |b| b.level(now))
    }

    /// Set `key`'s bucket to `tokens` at `now`, making room first when the map is at its cap.
    fn set(&mut self, key: &str, rate: u32, burst: f64, tokens: f64, now: Instant) {
        if !self.map.contains_key(key) && self.map.len() >= self.cap {
            // Full buckets carry no state: dropping them changes nothing.
            self.map.retain(|_, b| b.level(now) < b.burst);
            if self.map.len() >= self.cap {
                let oldest = self.map.iter().min_by_key(|(_, b)| b.last).map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.map.remove(&k);
                }
            }
        }
        self.map.insert(key.to_string(), Bucket { tokens, last: now, burst, rate: f64::from(rate) });
    }
}

fn burst_of(burst: u32, rate: u32) -> f64 {
    f64::from(if burst > 0 { burst } else { rate.saturating_mul(2) })
}

fn wait_ms(needed: f64, tokens: f64, rate: u32) -> u64 {
    let ms = ((needed - tokens) / f64::from(rate.max(1)) * 1000.0).ceil();
    // Saturating float-to-int conversion; the value is small and non-negative here.
    if ms.is_finite() && ms > 0.0 {
        ms.min(u64::MAX as f64) as u64
    } else {
        0
    }
}

/// The limiter shared by the submission handlers.
#[derive(Debug)]
pub struct RateLimiter {
    settings: RateSettings,
    keys: Mutex<Buckets>,
    clients: Mutex<Buckets>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(RateSettings::default())
    }
}

impl RateLimiter {
    /// A limiter with `settings` and no buckets yet (every key and client starts full).
    pub fn new(settings: RateSettings) -> Self {
        let cap = settings.max_buckets;
        Self { settings, keys: Mutex::new(Buckets::new(cap)), clients: Mutex::new(Buckets::new(cap)) }
    }

    /// Whether per-key limits apply.
    pub fn enabled(&self) -> bool {
        self.settings.per_key > 0 || !self.settings.parties.is_empty()
    }

    /// Whether the per-client limit applies.
    pub fn client_enabled(&self) -> bool {
        self.settings.per_client > 0
    }

    /// Buckets held (per key, per client).
    pub fn bucket_counts(&self) -> (usize, usize) {
        let k = self.keys.lock().map(|b| b.map.len()).unwrap_or(0);
        let c = self.clients.lock().map(|b| b.map.len()).unwrap_or(0);
        (k, c)
    }

    /// Take `n` tokens from the bucket of client `client` (before any signature work).
    pub fn check_client(&self, client: &str, n: usize, now: Instant) -> Result<()> {
        let rate = self.settings.per_client;
        if rate == 0 {
            return Ok(());
        }
        let burst = burst_of(0, rate);
        let need = n as f64;
        let mut buckets = crate::sync::lock(&self.clients);
        let tokens = buckets.level(client, burst, now);
        if tokens < need {
            let wait = wait_ms(need, tokens, rate);
            return Err(Error::new(
                Kind::ResourceExhausted,
                "client",
                format!("client {client} may submit {rate} envelopes/s (burst {burst}); retry in {wait} ms"),
            ));
        }
        buckets.set(client, rate, burst, tokens - need, now);
        Ok(())
    }

    /// Take `n` tokens from the bucket of every signing key (`party` tells the party of a keyid). All or
    /// nothing: when one key is over its limit nothing is taken.
    pub fn check(&self, signers: &[(String, Option<String>)], n: usize, now: Instant) -> Result<()> {
        let mut buckets = crate::sync::lock(&self.keys);
        let need = n as f64;
        let mut plan = Vec::new();
        for (i, (keyid, party)) in signers.iter().enumerate() {
            let rate =
                party.as_ref().and_then(|p| self.settings.parties.get(p)).copied().unwrap_or(self.settings.per_key);
            if rate == 0 {
                continue;
            }
            let burst = burst_of(self.settings.burst, rate);
            let tokens = buckets.level(keyid, burst, now);
            if tokens < need {
                let wait = wait_ms(need, tokens, rate);
                return Err(Error::new(
                    Kind::ResourceExhausted,
                    format!("envelope.signatures[{i}].keyid"),
                    format!(
                        "key {keyid}{} may submit {rate} statements/s (burst {burst}); retry in {wait} ms",
                        party.as_ref().map(|p| format!(" of {p}")).unwrap_or_default()
                    ),
                ));
            }
            plan.push((keyid.as_str(), rate, burst, tokens - need));
        }
        for (k, rate, burst, t) in plan {
            buckets.set(k, rate, burst, t, now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_refills_at_the_rate_and_names_the_wait() {
        let l = RateLimiter::new(RateSettings {
            per_key: 10,
            burst: 5,
            parties: [("BIG".to_string(), 1000)].into(),
            ..Default::default()
        });
        let t0 = Instant::now();
        let k = vec![("k1".to_string(), Some("P".to_string()))];
        for _ in 0..5 {
            l.check(&k, 1, t0).unwrap();
        }
        let e = l.check(&k, 1, t0).unwrap_err();
        assert_eq!(e.kind, Kind::ResourceExhausted);
        assert!(e.message.contains("retry in 100 ms"), "{e}");
        l.check(&k, 1, t0 + Duration::from_millis(100)).unwrap();
        // A party with its own rate.
        let big = vec![("k2".to_string(), Some("BIG".to_string()))];
        l.check(&big, 5, t0).unwrap();
    }

    #[test]
    fn bucket_maps_stay_within_their_cap() {
        let l = RateLimiter::new(RateSettings { per_key: 1, per_client: 1, max_buckets: 100, ..Default::default() });
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            let now = t0 + Duration::from_millis(u64::from(i));
            l.check(&[(format!("key-{i}"), None)], 1, now).unwrap();
            l.check_client(&format!("10.0.{}.{}", i / 256, i % 256), 1, now).unwrap();
            let (k, c) = l.bucket_counts();
            assert!(k <= 100 && c <= 100, "{k} key buckets, {c} client buckets after {i} inserts");
        }
        // A bucket still draining is kept while full ones are evicted first.
        let l = RateLimiter::new(RateSettings { per_key: 1, burst: 1, max_buckets: 2, ..Default::default() });
        l.check(&[("busy".into(), None)], 1, t0).unwrap();
        l.check(&[("idle".into(), None)], 1, t0).unwrap();
        // 5 s later "idle" and "busy" refilled; take "busy" again so that only "idle" is full.
        let t1 = t0 + Duration::from_secs(5);
        l.check(&[("busy".into(), None)], 1, t1).unwrap();
        l.check(&[("new".into(), None)], 1, t1).unwrap();
        assert!(l.check(&[("busy".into(), None)], 1, t1).is_err(), "the drained bucket survived eviction");
    }

    #[test]
    fn client_limit_counts_envelopes() {
        let l = RateLimiter::new(RateSettings { per_client: 2, ..Default::default() });
        let t0 = Instant::now();
        l.check_client("127.0.0.1", 4, t0).unwrap();
        let e = l.check_client("127.0.0.1", 1, t0).unwrap_err();
        assert_eq!((e.kind, e.field.to_string().as_str()), (Kind::ResourceExhausted, "client"));
        assert!(e.message.contains("retry in 500 ms"), "{e}");
        l.check_client("127.0.0.2", 1, t0).unwrap();
    }
}
