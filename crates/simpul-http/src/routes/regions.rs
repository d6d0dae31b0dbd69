//! `/regions/{code}`: Kemendagri codes for clients that build pickers.

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use simpul_domain::RegionCode;
use utoipa::ToSchema;

use super::ReadErrors;
use crate::error::ApiError;
use crate::extract::Auth;
use crate::state::AppState;

/// One region with its parents and children.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegionView {
    /// The code.
    pub code: String,
    /// The name as the edition spells it.
    pub name: String,
    /// Name with its kind, e.g. `Kabupaten Sleman`.
    pub display_name: String,
    /// `province`, `regency`, `district` or `village`.
    pub level: String,
    /// `provinsi`, `kabupaten`, `kota`, `kecamatan`, `desa` or `kelurahan`.
    pub kind: String,
    /// Enclosing regions, province first.
    pub parents: Vec<RegionSummary>,
    /// Regions one level down, by code.
    pub children: Vec<RegionSummary>,
    /// The edition of the codes.
    pub edition: &'static str,
}

/// A region in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegionSummary {
    /// The code.
    pub code: String,
    /// Name with its kind.
    pub name: String,
}

/// A region by code, with its parents and children (any valid token).
#[utoipa::path(get, path = "/regions/{code}", operation_id = "getRegion", tag = "regions",
    params(("code" = String, Path, description = "Kemendagri code, e.g. 34.04",
            pattern = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$", example = "34.04")),
    responses((status = 200, description = "The region, its parents and its children", body = RegionView), ReadErrors),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    Auth(_principal): Auth,
    Path(code): Path<String>,
) -> Result<Json<RegionView>, ApiError> {
    let code = RegionCode::parse(&code).map_err(|_| ApiError::NotFound)?;
    let region = state.regions.get(&code).ok_or(ApiError::NotFound)?;
    let summary = |r: simpul_regions::Region| RegionSummary {
        name: r.display_name(),
        code: r.code.to_string(),
    };
    Ok(Json(RegionView {
        code: code.to_string(),
        display_name: region.display_name(),
        name: region.name.clone(),
        level: serde_json::to_value(region.level)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        kind: region.kind.as_str().to_owned(),
        parents: state
            .regions
            .ancestors(&code)
            .into_iter()
            .map(summary)
            .collect(),
        children: state
            .regions
            .children(&code)
            .into_iter()
            .map(summary)
            .collect(),
        edition: simpul_regions::EDITION,
    }))
}
