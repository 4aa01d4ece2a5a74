//! Flow 6 in F5's shapes: `validate_contact` and the lists of countries,
//! states and cities that a signup form chooses from (F5's
//! `signupValidateContactResponse`, `signupListCountriesResponse`,
//! `signupListStatesResponse`, `signupListCitiesResponse`).
//!
//! Each list is served with a trailing `{prefix}` (a type-ahead) and without
//! it (the whole list). `additional_info` is F5's map of strings.

use super::AppState;
use super::extract::AppJson;
use crate::contact::{self, City, Country, RawAddress, Subdivision};
use crate::error::Error;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    // matchit wants one parameter name per position, whatever it holds.
    Router::new()
        .route("/no_auth/validate_contact", post(validate_contact))
        .route("/no_auth/countries", get(all_countries))
        .route("/no_auth/countries/{a}", get(countries))
        .route("/no_auth/countries/{a}/states", get(all_states))
        .route("/no_auth/countries/{a}/states/{b}", get(states))
        .route("/no_auth/countries/{a}/states/{b}/cities", get(all_cities))
        .route("/no_auth/countries/{a}/states/{b}/cities/{c}", get(cities))
}

/// F5's `contact.GlobalSpecType`; the fields without rules are accepted and
/// not checked.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContactSpec {
    pub country: Option<String>,
    pub state_code: Option<String>,
    pub zip_code: Option<String>,
}

/// F5's `signupValidateContactRequest` (`name` and `namespace` are "not used
/// for now" there, and here). `mailing_address` is SPEC's alias of `spec`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ValidateContactRequest {
    spec: Option<ContactSpec>,
    mailing_address: Option<ContactSpec>,
}

#[derive(Serialize)]
struct ValidationErrorField {
    error_field: &'static str,
    error_message: String,
}

#[derive(Serialize)]
struct ValidateContactResponse {
    err: contact::ContactErr,
    is_valid: bool,
    validation_errors: Vec<ValidationErrorField>,
}

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
enum ListErr {
    EOK,
    ENO_STATES,
    ENO_CITIES,
}

type Info = BTreeMap<&'static str, String>;

#[derive(Serialize)]
struct CountryItem {
    country_code: &'static str,
    country_name: &'static str,
    additional_info: Info,
}

#[derive(Serialize)]
struct ListCountriesResponse {
    countries: Vec<CountryItem>,
}

#[derive(Serialize)]
struct StateItem {
    state_code: &'static str,
    state_name: &'static str,
    additional_info: Info,
}

#[derive(Serialize)]
struct ListStatesResponse {
    error_code: ListErr,
    states: Vec<StateItem>,
}

#[derive(Serialize)]
struct CityItem {
    city_name: &'static str,
    additional_info: Info,
}

#[derive(Serialize)]
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

fn city_item(c: &'static City) -> CityItem {
    CityItem { city_name: c.name, additional_info: Info::from([("population", c.population.to_string())]) }
}

fn known_country(code: &str) -> Result<&'static Country, Error> {
    contact::directory().country(code).ok_or_else(|| Error::NotFound("No country has that ISO 3166-1 alpha-2 code.".into()))
}

fn known_state(country: &'static Country, code: &str) -> Result<&'static Subdivision, Error> {
    country.subdivision(code).ok_or_else(|| Error::NotFound("The country has no subdivision with that ISO 3166-2 code.".into()))
}

fn list_countries(prefix: &str) -> Json<ListCountriesResponse> {
    Json(ListCountriesResponse { countries: contact::directory().countries(prefix).into_iter().map(country_item).collect() })
}

fn list_states(country: &str, prefix: &str) -> Result<Json<ListStatesResponse>, Error> {
    let states: Vec<StateItem> = known_country(country)?.states(prefix).into_iter().map(state_item).collect();
    let error_code = if states.is_empty() { ListErr::ENO_STATES } else { ListErr::EOK };
    Ok(Json(ListStatesResponse { error_code, states }))
}

fn list_cities(country: &str, state: &str, prefix: &str) -> Result<Json<ListCitiesResponse>, Error> {
    let cities: Vec<CityItem> = known_state(known_country(country)?, state)?.cities(prefix).into_iter().map(city_item).collect();
    let error_code = if cities.is_empty() { ListErr::ENO_CITIES } else { ListErr::EOK };
    Ok(Json(ListCitiesResponse { error_code, cities }))
}

/// The path's segments; one that is not UTF-8 once decoded is 400 in usher's format.
fn segments<T>(path: Result<Path<T>, PathRejection>) -> Result<T, Error> {
    path.map(|Path(p)| p).map_err(|_| Error::invalid("path", "must be percent-encoded UTF-8"))
}

async fn all_countries() -> Json<ListCountriesResponse> {
    list_countries("")
}

async fn countries(path: Result<Path<String>, PathRejection>) -> Result<Json<ListCountriesResponse>, Error> {
    Ok(list_countries(&segments(path)?))
}

async fn all_states(path: Result<Path<String>, PathRejection>) -> Result<Json<ListStatesResponse>, Error> {
    list_states(&segments(path)?, "")
}

async fn states(path: Result<Path<(String, String)>, PathRejection>) -> Result<Json<ListStatesResponse>, Error> {
    let (country, prefix) = segments(path)?;
    list_states(&country, &prefix)
}

async fn all_cities(path: Result<Path<(String, String)>, PathRejection>) -> Result<Json<ListCitiesResponse>, Error> {
    let (country, state) = segments(path)?;
    list_cities(&country, &state, "")
}

async fn cities(path: Result<Path<(String, String, String)>, PathRejection>) -> Result<Json<ListCitiesResponse>, Error> {
    let (country, state, prefix) = segments(path)?;
    list_cities(&country, &state, &prefix)
}
