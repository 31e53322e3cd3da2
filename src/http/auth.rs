//! Who is asking: the bearer JWT of each API request, its role, and the tenant it may
//! see. Another client's data answers 404, never 403, so ids do not leak.

use super::error::ApiError;
use super::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use callvisor_actors::domain::ClientId;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a principal may do, from least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read its own client's data.
    Viewer,
    /// Operate its own client's calls and campaigns.
    Manager,
    /// Everything within its own client.
    Admin,
    /// Everything, every client.
    SuperAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Manager => "manager",
            Role::Admin => "admin",
            Role::SuperAdmin => "super_admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "manager" => Ok(Role::Manager),
            "admin" => Ok(Role::Admin),
            "super_admin" => Ok(Role::SuperAdmin),
            other => Err(format!(
                "unknown role '{other}' (expected super_admin, admin, manager or viewer)"
            )),
        }
    }
}

/// The claims of a callvisor token.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    /// The tenant; absent for super_admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<ClientId>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
}

/// HS256 keys made from the configured secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// Signs a token.
    pub fn mint(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// Checks signature and expiry, and that non-super-admins name their client.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        let data = decode::<Claims>(token, &self.decoding, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::unauthorized("token expired"),
                ErrorKind::InvalidSignature => ApiError::unauthorized("token signature is invalid"),
                _ => ApiError::unauthorized(format!("token is invalid: {e}")),
            }
        })?;
        let claims = data.claims;
        if claims.role != Role::SuperAdmin && claims.client_id.is_none() {
            return Err(ApiError::unauthorized(
                "token has no clientId; only super_admin tokens may omit it",
            ));
        }
        Ok(claims)
    }
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Principal {
    pub subject: String,
    pub role: Role,
    pub client_id: Option<ClientId>,
}

impl Principal {
    /// Whether the principal may see data of `client`.
    pub fn sees(&self, client: ClientId) -> bool {
        self.role == Role::SuperAdmin || self.client_id == Some(client)
    }

    /// Requires at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {role} role or higher; the token has {}",
                self.role
            )))
        }
    }

    /// The client a request acts for: the principal's own, or for super_admin the one
    /// it names.
    pub fn acting_client(&self, named: Option<ClientId>) -> Result<ClientId, ApiError> {
        match (self.role, self.client_id, named) {
            (Role::SuperAdmin, _, Some(c)) => Ok(c),
            (Role::SuperAdmin, _, None) => Err(ApiError::invalid_field(
                "clientId",
                "is required for super_admin requests",
            )),
            (_, Some(own), Some(c)) if c != own => Err(ApiError::not_found("client")),
            (_, Some(own), _) => Ok(own),
            (_, None, _) => Err(ApiError::unauthorized("token has no clientId")),
        }
    }

    /// The client filter of a listing: own client, or for super_admin the one it names
    /// (or all).
    pub fn listing_scope(&self, named: Option<ClientId>) -> Result<Option<ClientId>, ApiError> {
        if self.role == Role::SuperAdmin {
            Ok(named)
        } else {
            self.acting_client(named).map(Some)
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("Authorization must be 'Bearer <token>'"))?;
        let claims = state.jwt.verify(token.trim())?;
        Ok(Principal {
            subject: claims.sub,
            role: claims.role,
            client_id: claims.client_id,
        })
    }
}
