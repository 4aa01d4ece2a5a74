use super::AppState;
use super::extract::AppJson;
use super::openapi::{BadParameter, BodyErrors, NotFound, Throttled, routes_positionally};
use crate::contact::{self, City, Country, RawAddress, Subdivision};
use crate::error::HttpError;
use axum::Json;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::new().routes(routes!(validate_contact)).routes(routes!(all_countries));
    // F5 names the same position `{prefix}` in one path and
    // `{country_code}` in the next, which matchit cannot route as such.
    [routes!(countries), routes!(all_states), routes!(states), routes!(all_cities), routes!(cities)]
        .into_iter()
        .fold(router, routes_positionally)
}

#[derive(Debug, Default, Deserialize)]
pub struct ContactSpec {
    pub country: Option<String>,
    pub state_code: Option<String>,
    pub zip_code: Option<String>,
}

/// F5's `schemacontactGlobalSpecType`: signup's mailing address and F5's contact type.
#[derive(ToSchema, Deserialize)]
#[schema(as = schemacontactGlobalSpecType)]
#[allow(dead_code)]
struct ContactSpecDoc {
    #[serde(flatten)]
    address: super::f5xc::MailingAddress,
    /// F5's `contactContactType`; not read.
    contact_type: Option<String>,
}

/// F5's `signupValidateContactRequest` (`name` and `namespace` ignored); `mailing_address` is usher's alias of `spec`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = signupValidateContactRequest)]
struct ValidateContactRequest {
    #[schema(value_type = Option<ContactSpecDoc>)]
    spec: Option<ContactSpec>,
    /// usher's alias of `spec`, read when `spec` is absent.
    #[schema(value_type = Option<ContactSpecDoc>)]
    mailing_address: Option<ContactSpec>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = signupValidationErrorField)]
struct ValidationErrorField {
    #[schema(example = "zip_code")]
    error_field: &'static str,
    error_message: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = signupValidateContactResponse)]
struct ValidateContactResponse {
    err: contact::ContactErr,
    is_valid: bool,
    validation_errors: Vec<ValidationErrorField>,
}

#[utoipa::path(
    post,
    path = "/no_auth/validate_contact",
    operation_id = "ves.io.schema.signup.CustomAPI.ValidateContact",
    tag = "F5 XC contact",
    request_body = ValidateContactRequest,
    responses((status = 200, description = "The verdict: `err` for F5's checks, `validation_errors` for every rule broken.", body = ValidateContactResponse), BodyErrors, Throttled)
)]
async fn validate_contact(AppJson(req): AppJson<ValidateContactRequest>) -> Json<ValidateContactResponse> {
    let spec = req.spec.or(req.mailing_address).unwrap_or_default();
    let verdict = contact::check(RawAddress {
        country: spec.country.as_deref(),
        state_code: spec.state_code.as_deref(),
        zip_code: spec.zip_code.as_deref(),
    });
    Json(ValidateContactResponse {
        err: verdict.err,
        is_valid: verdict.is_valid(),
        validation_errors: verdict
            .errors
            .into_iter()
            .map(|e| ValidationErrorField { error_field: e.field.name(), error_message: format!("{} {}", e.field.name(), e.message) })
            .collect(),
    })
}

/// F5's `ErrorCode` values of the lists: `ENO_*` whenever the list answered is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[schema(as = signupListErrorCode)]
enum ListErr {
    EOK,
    ENO_STATES,
    ENO_CITIES,
}

type Info = BTreeMap<&'static str, String>;

#[derive(Serialize, ToSchema)]
#[schema(as = signupCountryItem)]
struct CountryItem {
    country_code: &'static str,
    country_name: &'static str,
    /// `zip_code_validation` (the anchored pattern) and `zip_code_example`, when the country has postal codes.
    #[schema(value_type = BTreeMap<String, String>)]
    additional_info: Info,
}

#[derive(Serialize, ToSchema)]
#[schema(as = signupListCountriesResponse)]
struct ListCountriesResponse {
    countries: Vec<CountryItem>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = signupStateItem)]
struct StateItem {
    state_code: &'static str,
    state_name: &'static str,
    /// `type` and, for a subdivision of a subdivision, `parent`.
    #[schema(value_type = BTreeMap<String, String>)]
    additional_info: Info,
}

#[derive(Serialize, ToSchema)]
#[schema(as = signupListStatesResponse)]
struct ListStatesResponse {
    error_code: ListErr,
    states: Vec<StateItem>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = signupCityItem)]
struct CityItem {
    city_name: &'static str,
    /// `population`.
    #[schema(value_type = BTreeMap<String, String>)]
    additional_info: Info,
}

#[derive(Serialize, ToSchema)]
#[schema(as = signupListCitiesResponse)]
struct ListCitiesResponse {
    error_code: ListErr,
    cities: Vec<CityItem>,
}

fn country_item(c: &'static Country) -> CountryItem {
    let mut info = Info::new();
    // F5's own example of this map: "[zip_code_validation:^.{2,}$]".
    if let Some(p) = c.zip_pattern() {
        info.insert("zip_code_validation", p);
    }
    if let Some(e) = c.zip_example {
        info.insert("zip_code_example", e.to_owned());
    }
    CountryItem { country_code: c.code, country_name: c.name, additional_info: info }
}

fn state_item(s: &'static Subdivision) -> StateItem {
    let mut info = Info::from([("type", s.kind.to_owned())]);
    if let Some(p) = s.parent {
        info.insert("parent", p.to_owned());
    }
    StateItem { state_code: s.code, state_name: s.name, additional_info: info }
}

fn city_item(c: City) -> CityItem {
    CityItem { city_name: c.name, additional_info: Info::from([("population", c.population.to_string())]) }
}

fn known_country(code: &str) -> Result<&'static Country, HttpError> {
    contact::directory().country(code).ok_or_else(|| HttpError::NotFound("No country has that ISO 3166-1 alpha-2 code.".into()))
}

fn known_state(country: &'static Country, code: &str) -> Result<&'static Subdivision, HttpError> {
    country.subdivision(code).ok_or_else(|| HttpError::NotFound("The country has no subdivision with that ISO 3166-2 code.".into()))
}

fn list_countries(prefix: &str) -> Json<ListCountriesResponse> {
    Json(ListCountriesResponse { countries: contact::directory().countries(prefix).into_iter().map(country_item).collect() })
}

fn list_states(country: &str, prefix: &str) -> Result<Json<ListStatesResponse>, HttpError> {
    let states: Vec<StateItem> = known_country(country)?.states(prefix).into_iter().map(state_item).collect();
    let error_code = if states.is_empty() { ListErr::ENO_STATES } else { ListErr::EOK };
    Ok(Json(ListStatesResponse { error_code, states }))
}

fn list_cities(country: &str, state: &str, prefix: &str) -> Result<Json<ListCitiesResponse>, HttpError> {
    let cities: Vec<CityItem> = known_state(known_country(country)?, state)?.cities(prefix).into_iter().map(city_item).collect();
    let error_code = if cities.is_empty() { ListErr::ENO_CITIES } else { ListErr::EOK };
    Ok(Json(ListCitiesResponse { error_code, cities }))
}

fn segments<T>(path: Result<Path<T>, PathRejection>) -> Result<T, HttpError> {
    path.map(|Path(p)| p).map_err(|_| HttpError::invalid("path", "must be percent-encoded UTF-8"))
}

#[utoipa::path(get, path = "/no_auth/countries", operation_id = "usher.ListAllCountries", tag = "F5 XC contact",
    summary = "Every country, in name order.",
    responses((status = 200, description = "The countries.", body = ListCountriesResponse), Throttled))]
async fn all_countries() -> Json<ListCountriesResponse> {
    list_countries("")
}

#[utoipa::path(get, path = "/no_auth/countries/{prefix}", operation_id = "ves.io.schema.signup.CustomAPI.ListCountries", tag = "F5 XC contact",
    summary = "The countries whose name or code starts with `prefix`, in any case.",
    params(("prefix" = String, Path, example = "Un")),
    responses((status = 200, description = "The countries.", body = ListCountriesResponse), BadParameter, Throttled))]
async fn countries(path: Result<Path<String>, PathRejection>) -> Result<Json<ListCountriesResponse>, HttpError> {
    Ok(list_countries(&segments(path)?))
}

#[utoipa::path(get, path = "/no_auth/countries/{country_code}/states", operation_id = "usher.ListAllStates", tag = "F5 XC contact",
    summary = "Every subdivision of a country; `ENO_STATES` when it has none.",
    params(("country_code" = String, Path, description = "ISO 3166-1 alpha-2.", example = "US")),
    responses((status = 200, description = "The subdivisions.", body = ListStatesResponse), BadParameter, NotFound, Throttled))]
async fn all_states(path: Result<Path<String>, PathRejection>) -> Result<Json<ListStatesResponse>, HttpError> {
    list_states(&segments(path)?, "")
}

#[utoipa::path(get, path = "/no_auth/countries/{country_code}/states/{prefix}", operation_id = "ves.io.schema.signup.CustomAPI.ListStates", tag = "F5 XC contact",
    summary = "The subdivisions of a country whose name or code starts with `prefix`; `ENO_STATES` when none does.",
    params(("country_code" = String, Path, description = "ISO 3166-1 alpha-2.", example = "US"), ("prefix" = String, Path, example = "Wa")),
    responses((status = 200, description = "The subdivisions.", body = ListStatesResponse), BadParameter, NotFound, Throttled))]
async fn states(path: Result<Path<(String, String)>, PathRejection>) -> Result<Json<ListStatesResponse>, HttpError> {
    let (country, prefix) = segments(path)?;
    list_states(&country, &prefix)
}

#[utoipa::path(get, path = "/no_auth/countries/{country_code}/states/{state_code}/cities", operation_id = "usher.ListAllCities", tag = "F5 XC contact",
    summary = "The cities of a subdivision, largest first; `ENO_CITIES` when none is known.",
    params(("country_code" = String, Path, description = "ISO 3166-1 alpha-2.", example = "US"), ("state_code" = String, Path, description = "ISO 3166-2, with or without the country.", example = "WA")),
    responses((status = 200, description = "The cities.", body = ListCitiesResponse), BadParameter, NotFound, Throttled))]
async fn all_cities(path: Result<Path<(String, String)>, PathRejection>) -> Result<Json<ListCitiesResponse>, HttpError> {
    let (country, state) = segments(path)?;
    list_cities(&country, &state, "")
}

#[utoipa::path(get, path = "/no_auth/countries/{country_code}/states/{state_code}/cities/{prefix}", operation_id = "ves.io.schema.signup.CustomAPI.ListCities", tag = "F5 XC contact",
    summary = "The cities of a subdivision whose name starts with `prefix`, largest first; `ENO_CITIES` when none does.",
    params(("country_code" = String, Path, description = "ISO 3166-1 alpha-2.", example = "US"), ("state_code" = String, Path, description = "ISO 3166-2, with or without the country.", example = "WA"), ("prefix" = String, Path, example = "Se")),
    responses((status = 200, description = "The cities.", body = ListCitiesResponse), BadParameter, NotFound, Throttled))]
async fn cities(path: Result<Path<(String, String, String)>, PathRejection>) -> Result<Json<ListCitiesResponse>, HttpError> {
    let (country, state, prefix) = segments(path)?;
    list_cities(&country, &state, &prefix)
}
