//! The provider simulator: a local HTTP server that speaks Twilio's, Plivo's or
//! Exotel's voice API (its [`Flavor`]).
//!
//! It exists so callvisor can be run, demonstrated and tested end to end without a
//! telephony account: the real adapters (`crate::providers`) dial it unchanged (point
//! their `api_base` at [`SimHandle::base_url`]) and it answers and calls back as the
//! provider would — Basic auth, the provider's bodies, JSON and error shapes, signed
//! status callbacks in event order, hang-up and list semantics, SMS and call recordings
//! (an answered call is recorded; one nobody answered is not).
//!
//! ## Layout
//!
//! What does not depend on the flavor is shared:
//!
//! - [`config`]: [`SimConfig`], the flavor, the outcome mix and timings, and the
//!   per-call plan.
//! - `state`: the stored calls and the one place they change.
//! - `script`: one task per call playing out its plan on tokio's clock.
//! - `callbacks`: the per-call queue and the one function every callback leaves through.
//! - `routes`: the router, built in one place; `/health`, `/sim/dials`, `/sim/messages`
//!   (every SMS accepted) and `/sim/recordings/{file}` (the audio of answered calls).
//! - `http`: credential, number and URL checks.
//!
//! Each flavor only adds its wire module: routes, request validation, response and
//! error bodies, and how a callback is encoded and signed (`twilio`, `plivo`, `exotel`).
//!
//! Timers use tokio time, so a test on paused time can drive the scripts; the HTTP
//! traffic itself (requests in, callbacks out) needs a real clock, since paused time
//! would fire the network timeouts as soon as everything waits on a socket.

pub mod config;
pub mod faults;

mod callbacks;
mod exotel;
mod http;
mod plivo;
mod routes;
mod script;
mod state;
mod twilio;

pub use config::{Flavor, SimConfig, DEFAULT_ACCOUNT_SID, DEFAULT_API_KEY, DEFAULT_AUTH_TOKEN};
pub use state::{DialRecord, MessageRecord};

use state::SimState;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long [`SimHandle::shutdown`] waits for open requests before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running simulator. Dropping the handle leaves it running until the runtime stops;
/// [`SimHandle::shutdown`] stops it.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    state: Arc<SimState>,
    faults: Arc<faults::Faults>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

/// Starts the simulator on `listener` in a background task.
///
/// Rates are taken as probabilities (clamped to 0..=1; see [`SimConfig`]). Fails only if
/// the listener has no local address or the callback HTTP client cannot be built.
pub async fn serve(config: SimConfig, listener: TcpListener) -> std::io::Result<SimHandle> {
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        // Bound to every interface: loopback is the address that surely reaches it.
        addr.set_ip(Ipv4Addr::LOCALHOST.into());
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(std::io::Error::other)?;
    let state = Arc::new(SimState::new(config, format!("http://{addr}"), http));
    let faults = Arc::clone(&state.faults);
    let counts = Arc::clone(&faults);
    let app = routes::router(Arc::clone(&state))
        .route(
            "/sim/faults",
            axum::routing::get(move || async move { axum::Json(counts.counts()) }),
        )
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&faults),
            faults::inject,
        ));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "provider simulator stopped");
        }
    });
    tracing::info!(%addr, flavor = state.config.flavor.as_str(), "provider simulator listening");
    Ok(SimHandle {
        addr,
        state,
        faults,
        stop: Some(stop),
        server,
    })
}

impl SimHandle {
    /// Where the simulator listens, e.g. `http://127.0.0.1:40123`: the `api_base` for the
    /// flavor's client.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address the simulator listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration it runs with (account sid and token to give the client).
    pub fn config(&self) -> &SimConfig {
        &self.state.config
    }

    /// Every create-call request accepted so far, oldest first.
    pub fn dials(&self) -> Vec<DialRecord> {
        self.state.dials()
    }

    /// Every text message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<MessageRecord> {
        self.state.messages()
    }

    /// How many requests the fault injection refused so far.
    pub fn fault_counts(&self) -> faults::FaultCounts {
        self.faults.counts()
    }

    /// Stops accepting requests, lets open ones finish (up to a few seconds), and stops
    /// every call script and pending callback.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut self.server)
            .await
            .is_err()
        {
            self.server.abort();
        }
        self.state.stop_all();
    }
}
