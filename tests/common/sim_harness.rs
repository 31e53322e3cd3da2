//! What every adapter-against-simulator suite needs: a simulator on a free loopback
//! port, a dial request, and a list query around now.

use callvisor::sim::{self, SimConfig, SimHandle};
use callvisor_actors::domain::PhoneNumber;
use callvisor_actors::ports::{CallListQuery, DialRequest};
use chrono::{Duration as ChronoDuration, Utc};
use std::time::Duration;
use tokio::net::TcpListener;

/// Starts a simulator with `config` on a free loopback port.
pub async fn start_sim(config: SimConfig) -> SimHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    sim::serve(config, listener).await.unwrap()
}

/// A dial to `to` whose call flow is at `answer_url`.
pub fn dial_with(to: &str, answer_url: &str, status_callback_url: String) -> DialRequest {
    DialRequest {
        to: PhoneNumber::from_trusted(to.into()),
        from: PhoneNumber::from_trusted("+14155550000".into()),
        answer_url: answer_url.into(),
        status_callback_url,
        ring_timeout: Duration::from_secs(30),
        gate: None,
    }
}

/// A dial to `to` with a generic bot answer URL.
pub fn dial(to: &str, status_callback_url: String) -> DialRequest {
    dial_with(to, "https://bot.example/answer", status_callback_url)
}

/// Calls started within a minute of now.
pub fn around_now() -> CallListQuery {
    CallListQuery {
        started_after: Utc::now() - ChronoDuration::minutes(1),
        started_before: Utc::now() + ChronoDuration::minutes(1),
        to: None,
    }
}
