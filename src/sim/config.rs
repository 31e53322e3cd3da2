//! What the simulator's calls do: the outcome mix and the timings, and the per-call plan
//! drawn from them.
//!
//! The whole plan of a call is drawn when it is created, always with the same number of
//! draws, so a seeded simulator gives the N-th call the same fate on every run.

use rand::Rng;
use std::time::Duration;

/// The account sid the simulator accepts unless told otherwise (Twilio's `AC` + 32 hex).
pub const DEFAULT_ACCOUNT_SID: &str = "AC5100000000000000000000000000000a";

/// The auth token the simulator accepts unless told otherwise.
pub const DEFAULT_AUTH_TOKEN: &str = "sim-auth-token";

/// The API key the Exotel flavor accepts unless told otherwise.
pub const DEFAULT_API_KEY: &str = "sim-api-key";

/// Which provider's wire format the simulator speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Flavor {
    /// Twilio's Calls API 2010-04-01, `X-Twilio-Signature` on callbacks.
    #[default]
    Twilio,
    /// Plivo's Call API v1, `X-Plivo-Signature-V3` on callbacks.
    Plivo,
    /// Exotel's Voice API v1; callbacks are authenticated by the URL they go to.
    Exotel,
}

impl Flavor {
    /// The flavor's name, as the command line takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Twilio => "twilio",
            Self::Plivo => "plivo",
            Self::Exotel => "exotel",
        }
    }
}

/// How the simulated provider behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Which provider it speaks like.
    pub flavor: Flavor,
    /// The account expected in request paths (Twilio's account sid, Plivo's auth id,
    /// Exotel's account sid); also the Basic auth user of Twilio and Plivo.
    pub account_sid: String,
    /// The Basic auth password (Exotel's API token); also the key Twilio and Plivo
    /// callbacks are signed with.
    pub auth_token: String,
    /// The Basic auth user of the Exotel flavor (its API key).
    pub api_key: String,
    /// Share of calls the callee answers (0..=1).
    pub answer_rate: f64,
    /// Share of calls that find the line busy.
    pub busy_rate: f64,
    /// Share of calls that fail (half as an unknown number, SIP 404; half as a network
    /// failure, SIP 503). The rest of the calls ring out unanswered.
    pub fail_rate: f64,
    /// Shortest and longest ring before the callee answers, rejects or gives up. A ring
    /// longer than the call's `Timeout` ends as no-answer when the timeout expires.
    pub ring: (Duration, Duration),
    /// Shortest and longest conversation of an answered call.
    pub talk: (Duration, Duration),
    /// Delay between a call event and its callback leaving, as a provider's queue adds.
    pub callback_delay: Duration,
    /// Seed for the outcome draws, for runs that repeat exactly; random when `None`.
    pub seed: Option<u64>,
    /// Misbehaviour to inject: 429s above a rate, outages, latency.
    pub faults: super::faults::FaultConfig,
}

impl Default for SimConfig {
    /// A plausible mix with short timings, so a demo call is over within seconds.
    fn default() -> Self {
        Self {
            flavor: Flavor::default(),
            account_sid: DEFAULT_ACCOUNT_SID.to_string(),
            auth_token: DEFAULT_AUTH_TOKEN.to_string(),
            api_key: DEFAULT_API_KEY.to_string(),
            answer_rate: 0.8,
            busy_rate: 0.1,
            fail_rate: 0.05,
            ring: (Duration::from_secs(1), Duration::from_secs(3)),
            talk: (Duration::from_secs(2), Duration::from_secs(6)),
            callback_delay: Duration::from_millis(50),
            seed: None,
            faults: super::faults::FaultConfig::default(),
        }
    }
}

/// How a call ends, before any hang-up request changes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Answered,
    Busy,
    Failed,
    NoAnswer,
}

/// One call's fate, drawn at creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CallPlan {
    pub outcome: Outcome,
    /// How long the phone rings (or, for a failure, how long until the network says so).
    pub ring: Duration,
    /// How long an answered call lasts.
    pub talk: Duration,
    /// The SIP code a failure reports.
    pub failure_sip: u16,
}

/// A rate usable as a probability: NaN and negatives as 0, above 1 as 1.
fn rate(r: f64) -> f64 {
    if r.is_finite() {
        r.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// A uniformly drawn duration in `range` (in either order).
fn between(rng: &mut impl Rng, range: (Duration, Duration)) -> Duration {
    let (lo, hi) = if range.0 <= range.1 {
        range
    } else {
        (range.1, range.0)
    };
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(nanos(lo)..=nanos(hi)))
}

impl SimConfig {
    /// The HTTP Basic user its API accepts.
    pub fn basic_user(&self) -> &str {
        match self.flavor {
            Flavor::Exotel => &self.api_key,
            Flavor::Twilio | Flavor::Plivo => &self.account_sid,
        }
    }

    /// Draws the fate of the next call. Rates are applied in order (answer, busy, fail)
    /// and whatever share they leave rings out unanswered; if they add up to more than
    /// 1 the later ones get what is left.
    pub(crate) fn draw_plan(&self, rng: &mut impl Rng) -> CallPlan {
        let roll: f64 = rng.random();
        let ring = between(rng, self.ring);
        let talk = between(rng, self.talk);
        let unknown_number = rng.random_bool(0.5);
        let answered = rate(self.answer_rate);
        let busy = answered + rate(self.busy_rate);
        let failed = busy + rate(self.fail_rate);
        let outcome = if roll < answered {
            Outcome::Answered
        } else if roll < busy {
            Outcome::Busy
        } else if roll < failed {
            Outcome::Failed
        } else {
            Outcome::NoAnswer
        };
        CallPlan {
            outcome,
            ring,
            talk,
            failure_sip: if unknown_number { 404 } else { 503 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn plans(config: &SimConfig, seed: u64, n: usize) -> Vec<CallPlan> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n).map(|_| config.draw_plan(&mut rng)).collect()
    }

    #[test]
    fn a_seed_repeats_the_same_calls() {
        let c = SimConfig::default();
        assert_eq!(plans(&c, 7, 50), plans(&c, 7, 50));
        assert_ne!(plans(&c, 7, 50), plans(&c, 8, 50));
    }

    #[test]
    fn certain_rates_give_certain_outcomes() {
        let only = |answer, busy, fail| SimConfig {
            answer_rate: answer,
            busy_rate: busy,
            fail_rate: fail,
            ..SimConfig::default()
        };
        let all = |c: &SimConfig, o| plans(c, 1, 200).iter().all(|p| p.outcome == o);
        assert!(all(&only(1.0, 0.0, 0.0), Outcome::Answered));
        assert!(all(&only(0.0, 1.0, 0.0), Outcome::Busy));
        assert!(all(&only(0.0, 0.0, 1.0), Outcome::Failed));
        assert!(all(&only(0.0, 0.0, 0.0), Outcome::NoAnswer));
        assert!(all(&only(f64::NAN, 2.0, 0.0), Outcome::Busy));
    }

    #[test]
    fn the_mix_follows_the_rates() {
        let c = SimConfig::default();
        let drawn = plans(&c, 3, 10_000);
        let share = |o| drawn.iter().filter(|p| p.outcome == o).count() as f64 / 10_000.0;
        assert!((share(Outcome::Answered) - 0.80).abs() < 0.02);
        assert!((share(Outcome::Busy) - 0.10).abs() < 0.02);
        assert!((share(Outcome::Failed) - 0.05).abs() < 0.02);
        assert!((share(Outcome::NoAnswer) - 0.05).abs() < 0.02);
    }

    #[test]
    fn durations_stay_in_range_whichever_way_it_is_given() {
        let c = SimConfig {
            ring: (Duration::from_millis(300), Duration::from_millis(100)),
            talk: (Duration::from_millis(5), Duration::from_millis(5)),
            ..SimConfig::default()
        };
        for p in plans(&c, 9, 500) {
            assert!(p.ring >= Duration::from_millis(100) && p.ring <= Duration::from_millis(300));
            assert_eq!(p.talk, Duration::from_millis(5));
            assert!(matches!(p.failure_sip, 404 | 503));
        }
    }
}
