//! Command line and environment. Every setting has a flag and an environment variable;
//! the README lists them all with their defaults.

pub mod monitoring;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// callvisor: dials calls within every limit, never twice, never lost.
#[derive(Parser, Debug)]
#[command(name = "callvisor", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings of `serve`, the default command.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Run the database migrations and exit.
    Migrate,
    /// Run the provider simulator on its own.
    Sim(SimArgs),
    /// Print a signed API token.
    Token(TokenArgs),
}

/// Which provider calls are placed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProviderKind {
    /// The built-in simulator, started in-process: no real calls.
    Sim,
    /// Twilio's Calls API.
    Twilio,
    /// Plivo's Call API.
    Plivo,
    /// Exotel's Voice API.
    Exotel,
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Settings of the server (and of the commands that share its database and secret).
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address the server binds.
    #[arg(
        long,
        env = "CALLVISOR_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,
    /// Base URL the provider calls back; signatures are checked against it.
    /// Default: http:// + the listen address.
    #[arg(long, env = "CALLVISOR_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// SQLite or PostgreSQL URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://./data/callvisor.db",
        global = true
    )]
    pub database_url: String,
    /// Where the server keeps its generated secret.
    #[arg(
        long,
        env = "CALLVISOR_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// HS256 secret for API tokens. Default: generated once and kept in the data directory.
    #[arg(
        long,
        env = "CALLVISOR_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub jwt_secret: Option<String>,
    /// Provider to dial through.
    #[arg(
        long,
        env = "CALLVISOR_PROVIDER",
        value_enum,
        default_value = "sim",
        global = true
    )]
    pub provider: ProviderKind,
    #[arg(long, env = "TWILIO_ACCOUNT_SID", global = true)]
    pub twilio_account_sid: Option<String>,
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true, global = true)]
    pub twilio_auth_token: Option<String>,
    #[arg(
        long,
        env = "TWILIO_API_BASE",
        default_value = "https://api.twilio.com",
        global = true
    )]
    pub twilio_api_base: String,
    /// Plivo auth id (the account).
    #[arg(long, env = "PLIVO_AUTH_ID", global = true)]
    pub plivo_auth_id: Option<String>,
    /// Plivo auth token; also verifies `X-Plivo-Signature-V3`.
    #[arg(long, env = "PLIVO_AUTH_TOKEN", hide_env_values = true, global = true)]
    pub plivo_auth_token: Option<String>,
    #[arg(
        long,
        env = "PLIVO_API_BASE",
        default_value = "https://api.plivo.com",
        global = true
    )]
    pub plivo_api_base: String,
    /// Exotel account sid.
    #[arg(long, env = "EXOTEL_SID", global = true)]
    pub exotel_sid: Option<String>,
    /// Exotel API key (the Basic auth user).
    #[arg(long, env = "EXOTEL_API_KEY", global = true)]
    pub exotel_api_key: Option<String>,
    /// Exotel API token (the Basic auth password).
    #[arg(long, env = "EXOTEL_API_TOKEN", hide_env_values = true, global = true)]
    pub exotel_api_token: Option<String>,
    /// The ExoPhone Exotel calls are placed from.
    #[arg(long, env = "EXOTEL_CALLER_ID", global = true)]
    pub exotel_caller_id: Option<String>,
    #[arg(
        long,
        env = "EXOTEL_API_BASE",
        default_value = "https://api.exotel.com",
        global = true
    )]
    pub exotel_api_base: String,
    /// Secret token Exotel's callback URLs carry. Default: generated once and kept in
    /// the data directory.
    #[arg(
        long,
        env = "EXOTEL_WEBHOOK_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub exotel_webhook_token: Option<String>,
    /// Caller id used when neither the request nor the agent names one.
    #[arg(long, env = "CALLVISOR_CALLER_ID", global = true)]
    pub caller_id: Option<String>,
    /// System-wide concurrent calls.
    #[arg(long, env = "GLOBAL_MAX_CALLS", default_value_t = 50, global = true)]
    pub global_max_calls: u32,
    /// A call that hears nothing this long ends as `timeout`, in minutes (decimals
    /// allowed: `0.5` is 30 s).
    #[arg(
        long,
        env = "CALL_TIMEOUT_MINUTES",
        default_value_t = 10.0,
        value_parser = positive_minutes,
        global = true
    )]
    pub call_timeout_minutes: f64,
    /// How long to let a phone ring before the provider gives up, in seconds.
    #[arg(
        long,
        env = "CALLVISOR_RING_TIMEOUT_SECONDS",
        default_value_t = 60,
        global = true
    )]
    pub ring_timeout_seconds: u64,
    /// Provider rate limits, retries and circuit breaker.
    #[command(flatten)]
    pub gateway: GatewayArgs,
    /// Longest wait for one bot warm-up attempt, in seconds.
    #[arg(
        long,
        env = "BOT_WARMUP_TIMEOUT",
        default_value_t = 60.0,
        global = true
    )]
    pub bot_warmup_timeout: f64,
    /// Warm-up attempts before a call fails with `bot_unavailable`.
    #[arg(long, env = "BOT_WARMUP_RETRIES", default_value_t = 3, global = true)]
    pub bot_warmup_retries: u32,
    /// Wait after the first failed warm-up attempt, in seconds; doubled after each further one.
    #[arg(
        long,
        env = "BOT_WARMUP_BACKOFF_SECONDS",
        default_value_t = 1.0,
        global = true
    )]
    pub bot_warmup_backoff_seconds: f64,
    /// How long a call waits before dialing again when the provider surely did not take
    /// it (rate limited or down after all retries), in seconds.
    #[arg(
        long,
        env = "CALLVISOR_REDIAL_DELAY_SECONDS",
        default_value_t = 30.0,
        global = true
    )]
    pub redial_delay_seconds: f64,
    /// How long a shutdown may take before the process exits anyway, in seconds.
    #[arg(
        long,
        env = "CALLVISOR_SHUTDOWN_TIMEOUT_SECONDS",
        default_value_t = 10,
        global = true
    )]
    pub shutdown_timeout_seconds: u64,
    /// `text` or `json` logs (the filter is `RUST_LOG`, default `info`).
    #[arg(
        long,
        env = "CALLVISOR_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// Behaviour of the embedded simulator (provider `sim`).
    #[command(flatten)]
    pub sim: SimBehaviour,
    /// Health checks, reconciliation, alerts, retention.
    #[command(flatten)]
    pub monitoring: monitoring::MonitoringArgs,
}

impl ServeArgs {
    pub fn call_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.call_timeout_minutes * 60.0)
    }
}

/// How the ProviderGateway treats the provider.
#[derive(Args, Debug, Clone)]
pub struct GatewayArgs {
    /// Twilio create-call requests per second.
    #[arg(
        long,
        env = "TWILIO_CALLS_PER_SECOND",
        default_value_t = 1,
        global = true
    )]
    pub twilio_calls_per_second: u32,
    /// Twilio requests per second other than create-call (fetch, hang up, list).
    #[arg(
        long,
        env = "TWILIO_API_REQUESTS_PER_SECOND",
        default_value_t = 10,
        global = true
    )]
    pub twilio_api_requests_per_second: u32,
    /// Plivo create-call requests per second.
    #[arg(
        long,
        env = "PLIVO_CALLS_PER_SECOND",
        default_value_t = 2,
        global = true
    )]
    pub plivo_calls_per_second: u32,
    /// Plivo requests per second other than create-call (Plivo allows 300 per 5 s).
    #[arg(
        long,
        env = "PLIVO_API_REQUESTS_PER_SECOND",
        default_value_t = 50,
        global = true
    )]
    pub plivo_api_requests_per_second: u32,
    /// Exotel voice API requests per minute, create-call and all others together.
    #[arg(
        long,
        env = "EXOTEL_CALLS_PER_MINUTE",
        default_value_t = 200,
        global = true
    )]
    pub exotel_calls_per_minute: u32,
    /// Twilio messages sent per second (a long-code number sends about one per second).
    #[arg(
        long,
        env = "TWILIO_SMS_PER_SECOND",
        default_value_t = 1,
        global = true
    )]
    pub twilio_sms_per_second: u32,
    /// Plivo messages sent per second.
    #[arg(long, env = "PLIVO_SMS_PER_SECOND", default_value_t = 5, global = true)]
    pub plivo_sms_per_second: u32,
    /// Exotel messages sent per minute (apart from the voice APIs' budget).
    #[arg(
        long,
        env = "EXOTEL_SMS_PER_MINUTE",
        default_value_t = 120,
        global = true
    )]
    pub exotel_sms_per_minute: u32,
    /// Longest wait for one provider request; a create-call that times out is looked up
    /// at the provider, never re-sent blindly.
    #[arg(
        long,
        env = "PROVIDER_REQUEST_TIMEOUT_SECONDS",
        default_value_t = 30.0,
        global = true
    )]
    pub provider_request_timeout_seconds: f64,
    /// Retries of a failed provider request (429, 503, connection errors).
    #[arg(long, env = "PROVIDER_MAX_RETRIES", default_value_t = 3, global = true)]
    pub provider_max_retries: u32,
    /// Wait before the first retry, in seconds; doubled for each further retry.
    #[arg(
        long,
        env = "PROVIDER_RETRY_BASE_SECONDS",
        default_value_t = 2.0,
        global = true
    )]
    pub provider_retry_base_seconds: f64,
    /// Consecutive provider failures that open the circuit.
    #[arg(
        long,
        env = "CIRCUIT_FAILURE_THRESHOLD",
        default_value_t = 5,
        global = true
    )]
    pub circuit_failure_threshold: u32,
    /// How long the circuit stays open before one probe is let through, in seconds.
    #[arg(
        long,
        env = "CIRCUIT_COOL_DOWN_SECONDS",
        default_value_t = 60,
        global = true
    )]
    pub circuit_cool_down_seconds: u64,
}

/// How the simulator behaves.
#[derive(Args, Debug, Clone)]
pub struct SimBehaviour {
    /// Which provider the simulator speaks like: `twilio`, `plivo` or `exotel`.
    #[arg(
        long = "sim-flavor",
        visible_alias = "flavor",
        env = "SIM_FLAVOR",
        value_enum,
        default_value = "twilio",
        global = true
    )]
    pub sim_flavor: crate::sim::Flavor,
    /// Share of calls answered (0..1).
    #[arg(long, env = "SIM_ANSWER_RATE", default_value_t = 0.8, global = true)]
    pub sim_answer_rate: f64,
    /// Share of calls busy (0..1).
    #[arg(long, env = "SIM_BUSY_RATE", default_value_t = 0.1, global = true)]
    pub sim_busy_rate: f64,
    /// Share of calls failed (0..1); the rest ring out unanswered.
    #[arg(long, env = "SIM_FAIL_RATE", default_value_t = 0.05, global = true)]
    pub sim_fail_rate: f64,
    /// Ring time range in seconds, `MIN-MAX`.
    #[arg(long, env = "SIM_RING_SECONDS", default_value = "1-3", global = true)]
    pub sim_ring_seconds: SecondsRange,
    /// Talk time range in seconds, `MIN-MAX`.
    #[arg(long, env = "SIM_TALK_SECONDS", default_value = "2-6", global = true)]
    pub sim_talk_seconds: SecondsRange,
    /// Provider API requests per second above which the simulator answers 429.
    #[arg(long, env = "SIM_RATE_LIMIT_PER_SECOND", global = true)]
    pub sim_rate_limit_per_second: Option<u32>,
    /// Outage windows answering 503, `START+LENGTH` seconds after start, comma-separated.
    #[arg(long, env = "SIM_OUTAGES", default_value = "", global = true)]
    pub sim_outages: String,
    /// Delay added to the simulator's answers to write requests (after they took
    /// effect), in seconds, `MIN-MAX`.
    #[arg(long, env = "SIM_LATENCY_SECONDS", default_value = "0", global = true)]
    pub sim_latency_seconds: SecondsRange,
    /// Share of status callbacks the simulator never sends (0..1).
    #[arg(long, env = "SIM_CALLBACK_LOSS", default_value_t = 0.0, global = true)]
    pub sim_callback_loss: f64,
    /// Share of status callbacks sent twice (0..1).
    #[arg(
        long,
        env = "SIM_CALLBACK_DUPLICATION",
        default_value_t = 0.0,
        global = true
    )]
    pub sim_callback_duplication: f64,
    /// Share of status callbacks sent after the call's next one (0..1).
    #[arg(
        long,
        env = "SIM_CALLBACK_REORDERING",
        default_value_t = 0.0,
        global = true
    )]
    pub sim_callback_reordering: f64,
    /// Account the simulator accepts (Twilio account sid, Plivo auth id, Exotel sid).
    #[arg(
        long,
        env = "SIM_ACCOUNT_SID",
        default_value = crate::sim::DEFAULT_ACCOUNT_SID,
        global = true
    )]
    pub sim_account_sid: String,
    /// API key the Exotel flavor accepts.
    #[arg(
        long,
        env = "SIM_API_KEY",
        default_value = crate::sim::DEFAULT_API_KEY,
        global = true
    )]
    pub sim_api_key: String,
    /// Auth token the simulator accepts and signs callbacks with.
    #[arg(
        long,
        env = "SIM_AUTH_TOKEN",
        default_value = "sim-auth-token",
        global = true
    )]
    pub sim_auth_token: String,
}

/// Settings of `callvisor sim`.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// Address the standalone simulator binds.
    #[arg(long, env = "SIM_LISTEN", default_value = "127.0.0.1:8090")]
    pub sim_listen: SocketAddr,
}

/// Settings of `callvisor token`.
#[derive(Args, Debug)]
pub struct TokenArgs {
    /// `super_admin`, `admin`, `manager` or `viewer`.
    #[arg(long)]
    pub role: crate::http::auth::Role,
    /// The client (tenant) id; required for every role but super_admin.
    #[arg(long)]
    pub client: Option<callvisor_actors::domain::ClientId>,
    /// Lifetime, e.g. `1h`, `30d`.
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
    /// Subject (who the token is for).
    #[arg(long, default_value = "cli")]
    pub sub: String,
}

/// A number of minutes above zero that fits a [`Duration`] (decimals allowed).
fn positive_minutes(raw: &str) -> Result<f64, String> {
    raw.trim()
        .parse::<f64>()
        .ok()
        .filter(|m| *m > 0.0 && Duration::try_from_secs_f64(m * 60.0).is_ok())
        .ok_or_else(|| format!("'{raw}' is not a positive number of minutes"))
}

/// A `MIN-MAX` range of seconds (or one number for a fixed time).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SecondsRange(pub Duration, pub Duration);

impl std::str::FromStr for SecondsRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parse = |v: &str| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("'{v}' is not a number of seconds"))
        };
        let (min, max) = match s.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => (parse(s)?, parse(s)?),
        };
        if min > max {
            return Err(format!("range '{s}' has its minimum above its maximum"));
        }
        Ok(Self(min, max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Flavor;

    #[test]
    fn the_simulator_flavor_is_a_flag_of_sim_and_of_the_server() {
        let cli = Cli::try_parse_from(["callvisor", "sim", "--flavor", "plivo"]).unwrap();
        assert_eq!(cli.serve.sim.sim_flavor, Flavor::Plivo);
        assert!(matches!(cli.command, Some(Command::Sim(_))));
        let cli = Cli::try_parse_from(["callvisor", "--sim-flavor", "exotel"]).unwrap();
        assert_eq!(cli.serve.sim.sim_flavor, Flavor::Exotel);
        let cli = Cli::try_parse_from(["callvisor", "--provider", "plivo"]).unwrap();
        assert_eq!(cli.serve.provider, ProviderKind::Plivo);
        assert_eq!(cli.serve.plivo_api_base, "https://api.plivo.com");
        assert_eq!(cli.serve.exotel_api_base, "https://api.exotel.com");
        assert!(Cli::try_parse_from(["callvisor", "sim", "--flavor", "vonage"]).is_err());
    }

    #[test]
    fn the_call_timeout_takes_decimal_minutes_and_refuses_what_is_not_a_positive_time() {
        let cli = Cli::try_parse_from(["callvisor"]).unwrap();
        assert_eq!(cli.serve.call_timeout(), Duration::from_secs(600));
        let cli = Cli::try_parse_from(["callvisor", "--call-timeout-minutes", "0.05"]).unwrap();
        assert_eq!(cli.serve.call_timeout(), Duration::from_secs(3));
        for bad in ["0", "-1", "NaN", "inf", "1e300", "ten"] {
            let flag = format!("--call-timeout-minutes={bad}");
            let error = Cli::try_parse_from(["callvisor", flag.as_str()])
                .expect_err(bad)
                .to_string();
            assert!(
                error.contains("is not a positive number of minutes"),
                "{bad}: {error}"
            );
        }
    }
}
