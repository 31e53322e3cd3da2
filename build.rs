//! Rebuilds the crate when a migration is added or changed: `sqlx::migrate!` embeds the
//! files under `migrations/` at compile time, and Cargo would not notice them otherwise.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
