//! sqlx storage.
