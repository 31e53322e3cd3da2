//! The `callvisor` command: `serve` (default), `migrate`, `sim`, `token`.

use callvisor::config::{Cli, Command, ServeArgs, SimArgs, TokenArgs};
use callvisor::http::auth::{Claims, JwtKeys, Role};
use callvisor::{secret, server, sim, store::SqlStore, telemetry};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init_logs(cli.serve.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("callvisor: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(&cli.serve).await,
            Command::Migrate => migrate(&cli.serve).await,
            Command::Sim(args) => run_sim(&cli.serve, &args).await,
            Command::Token(args) => token(&cli.serve, &args),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("callvisor: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: &ServeArgs) -> Result<(), server::StartError> {
    let running = server::start(args).await?;
    shutdown_signal().await;
    tracing::info!("shutdown requested: no new calls; stopping");
    running.stop().await;
    Ok(())
}

async fn migrate(args: &ServeArgs) -> Result<(), server::StartError> {
    let store = SqlStore::connect(&args.database_url).await?;
    store.migrate().await?;
    store.close().await;
    println!("migrations applied to {}", store.backend().as_str());
    Ok(())
}

async fn run_sim(serve: &ServeArgs, args: &SimArgs) -> Result<(), server::StartError> {
    let config = server::sim_config(serve)?;
    let listener = tokio::net::TcpListener::bind(args.sim_listen).await?;
    let handle = sim::serve(config.clone(), listener).await?;
    tracing::warn!(
        base_url = %handle.base_url(),
        account_sid = %config.account_sid,
        flavor = config.flavor.as_str(),
        "provider simulator running; no real phone will ring"
    );
    shutdown_signal().await;
    handle.shutdown().await;
    Ok(())
}

fn token(serve: &ServeArgs, args: &TokenArgs) -> Result<(), server::StartError> {
    if args.role != Role::SuperAdmin && args.client.is_none() {
        return Err(format!("--client is required for the {} role", args.role).into());
    }
    let secret = secret::load_or_create(serve.jwt_secret.as_deref(), &serve.data_dir)?;
    let ttl = chrono::Duration::from_std(args.ttl).map_err(|e| format!("--ttl: {e}"))?;
    let claims = Claims {
        sub: args.sub.clone(),
        role: args.role,
        client_id: if args.role == Role::SuperAdmin {
            None
        } else {
            args.client
        },
        exp: (chrono::Utc::now() + ttl).timestamp(),
    };
    println!("{}", JwtKeys::new(&secret).mint(&claims)?);
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
