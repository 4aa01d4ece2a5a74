//! The contact directory: `validate_contact` and the country, state and city lists, every
//! answer checked against F5's published OpenAPI schemas; and signup
//! refusing an address that fails the same rules.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::LazyLock;

const VALIDATE: &str = "/no_auth/validate_contact";
const SIGNUP: &str = "/no_auth/namespaces/system/f5xc-saas/signup";

/// F5's signup schemas, with every object closed (`additionalProperties:
/// false`), so that a field F5 does not name fails too, not only a wrong type.
static F5_SCHEMAS: LazyLock<Value> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/f5xc/0217.public.ves.io.schema.signup.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("F5's signup OpenAPI document")).unwrap();
    let mut schemas = doc["components"]["schemas"].clone();
    for schema in schemas.as_object_mut().unwrap().values_mut() {
        if schema.get("properties").is_some() {
            schema["additionalProperties"] = json!(false);
        }
    }
    schemas
});

/// Panics unless `answer` is an instance of F5's `components/schemas/{name}`.
pub fn assert_f5_shape(name: &str, answer: &Value) {
    let root = json!({ "$ref": format!("#/components/schemas/{name}"), "components": { "schemas": &*F5_SCHEMAS } });
    let validator = jsonschema::validator_for(&root).unwrap();
    let problems: Vec<String> = validator.iter_errors(answer).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(problems.is_empty(), "not a {name}: {problems:?}\n{answer:#}");
}

async fn validate(app: &TestApp, body: Value) -> Value {
    let (status, answer) = crate::helpers::body(app.post_json(VALIDATE, &body).await).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_f5_shape("signupValidateContactResponse", &answer);
    answer
}

async fn list(app: &TestApp, path: &str, schema: &str) -> Value {
    let (status, answer) = body(app.get(path).await).await;
    assert_eq!(status, StatusCode::OK, "{path}: {answer}");
    assert_f5_shape(schema, &answer);
    answer
}

/// A country, the ISO 3166-2 subdivision its largest city is in, the city and a prefix that finds it.
const CAPITALS: [(&str, &str, &str, &str); 5] = [
    ("DE", "BE", "Berlin", "ber"),
    ("CA", "ON", "Toronto", "TOR"),
    ("AU", "NSW", "Sydney", "Syd"),
    ("IN", "MH", "Mumbai", "mum"),
    ("FR", "IDF", "Paris", "par"),
];

fn names<'a>(answer: &'a Value, list: &str, key: &str) -> Vec<&'a str> {
    answer[list].as_array().unwrap().iter().map(|i| i[key].as_str().unwrap()).collect()
}

#[test]
fn the_schema_check_refuses_what_f5_does_not_define() {
    let bad = std::panic::catch_unwind(|| assert_f5_shape("signupValidateContactResponse", &json!({ "err": "ECONTACT_FINE" })));
    assert!(bad.is_err(), "an err outside F5's enum");
    let extra = std::panic::catch_unwind(|| assert_f5_shape("signupListStatesResponse", &json!({ "error_code": "EOK", "state": [] })));
    assert!(extra.is_err(), "a field F5 does not name");
}

on_each_backend! {
    async fn validate_contact_answers_each_err_code_in_order(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let cases = [
            (json!({}), "ECONTACT_EMPTY_COUNTRY", vec!["country"]),
            (json!({ "spec": { "country": " ", "zip_code": "98101" } }), "ECONTACT_EMPTY_COUNTRY", vec!["country"]),
            (json!({ "spec": { "country": "ZZ", "zip_code": "98101" } }), "ECONTACT_UNKNOWN_COUNTRY", vec!["country"]),
            (json!({ "spec": { "country": "USA", "zip_code": "98101" } }), "ECONTACT_UNKNOWN_COUNTRY", vec!["country"]),
            (json!({ "spec": { "country": "US" } }), "ECONTACT_EMPTY_ZIP_CODE", vec!["zip_code"]),
            (json!({ "spec": { "country": "US", "zip_code": "9810" } }), "ECONTACT_INVALID_ZIP", vec!["zip_code"]),
            (json!({ "spec": { "country": "US", "zip_code": "98101" } }), "ECONTACT_VALIDATE_OK", vec![]),
            (json!({ "spec": { "country": "us", "zip_code": "98101-1234", "state_code": "WA" } }), "ECONTACT_VALIDATE_OK", vec![]),
            (json!({ "spec": { "country": "GB", "zip_code": "SW1A 1AA", "city": "London" } }), "ECONTACT_VALIDATE_OK", vec![]),
            (json!({ "spec": { "country": "DE", "zip_code": "10115", "state_code": "DE-BE" } }), "ECONTACT_VALIDATE_OK", vec![]),
            (json!({ "spec": { "country": "AE", "city": "Dubai" } }), "ECONTACT_VALIDATE_OK", vec![]),
            (json!({ "name": "x", "namespace": "system", "mailing_address": { "country": "US", "zip_code": "9810" } }), "ECONTACT_INVALID_ZIP", vec!["zip_code"]),
        ];
        for (request, err, fields) in cases {
            let answer = validate(&app, request.clone()).await;
            assert_eq!(answer["err"], err, "{request}: {answer}");
            assert_eq!(answer["is_valid"], fields.is_empty(), "{request}: {answer}");
            assert_eq!(names(&answer, "validation_errors", "error_field"), fields, "{request}: {answer}");
            for e in answer["validation_errors"].as_array().unwrap() {
                assert!(e["error_message"].as_str().is_some_and(|m| m.len() > 10), "{answer}");
            }
        }
    }

    async fn a_state_code_that_is_not_the_countrys_is_named_as_invalid(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let answer = validate(&app, json!({ "spec": { "country": "DE", "zip_code": "10115", "state_code": "WA" } })).await;
        assert_eq!(answer["is_valid"], false);
        assert_eq!(names(&answer, "validation_errors", "error_field"), ["state_code"]);
        // F5's codes name no subdivision check, so err speaks of country and zip only.
        assert_eq!(answer["err"], "ECONTACT_VALIDATE_OK");
    }

    async fn countries_are_listed_whole_and_narrowed_by_a_prefix_of_name_or_code(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let all = list(&app, "/no_auth/countries", "signupListCountriesResponse").await;
        assert_eq!(all["countries"].as_array().unwrap().len(), 249);
        let us = all["countries"].as_array().unwrap().iter().find(|c| c["country_code"] == "US").unwrap();
        assert_eq!(us["country_name"], "United States");
        assert!(us["additional_info"]["zip_code_validation"].as_str().unwrap().starts_with('^'));

        let ger = list(&app, "/no_auth/countries/GER", "signupListCountriesResponse").await;
        assert_eq!(names(&ger, "countries", "country_code"), ["DE"]);
        let de = list(&app, "/no_auth/countries/de", "signupListCountriesResponse").await;
        assert!(names(&de, "countries", "country_code").contains(&"DE"));
        assert!(!names(&de, "countries", "country_code").contains(&"US"));
    }

    async fn states_of_the_us_include_washington_and_a_prefix_narrows_them(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let all = list(&app, "/no_auth/countries/US/states", "signupListStatesResponse").await;
        assert_eq!(all["error_code"], "EOK");
        let wa = all["states"].as_array().unwrap().iter().find(|s| s["state_code"] == "WA").unwrap();
        assert_eq!(wa["state_name"], "Washington");
        assert!(names(&all, "states", "state_name").contains(&"Texas"));

        let narrowed = list(&app, "/no_auth/countries/us/states/wa", "signupListStatesResponse").await;
        assert_eq!(narrowed["error_code"], "EOK");
        let found = names(&narrowed, "states", "state_name");
        assert!(found.contains(&"Washington") && !found.contains(&"Texas"), "{found:?}");
    }

    async fn a_country_without_subdivisions_answers_eno_states(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let hk = list(&app, "/no_auth/countries/HK/states", "signupListStatesResponse").await;
        assert_eq!(hk, json!({ "error_code": "ENO_STATES", "states": [] }));
        let none = list(&app, "/no_auth/countries/US/states/zzz", "signupListStatesResponse").await;
        assert_eq!(none["error_code"], "ENO_STATES");
    }

    async fn cities_of_washington_include_seattle_and_a_prefix_narrows_them(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let all = list(&app, "/no_auth/countries/US/states/WA/cities", "signupListCitiesResponse").await;
        assert_eq!(all["error_code"], "EOK");
        let found = names(&all, "cities", "city_name");
        assert_eq!(found[0], "Seattle", "largest first");
        assert!(found.contains(&"Spokane"));

        let sea = list(&app, "/no_auth/countries/us/states/US-WA/cities/sea", "signupListCitiesResponse").await;
        let found = names(&sea, "cities", "city_name");
        assert!(found.contains(&"Seattle") && !found.contains(&"Spokane"), "{found:?}");
    }

    async fn the_largest_cities_of_germany_canada_australia_india_and_france_are_listed_under_their_iso_subdivisions(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        // GeoNames files them under its own codes (DE.16, CA.08, AU.02, IN.16, FR.11).
        // France's cities are under its regions, the level GeoNames' first-level codes are.
        for (country, state, city, prefix) in CAPITALS {
            let all = list(&app, &format!("/no_auth/countries/{country}/states/{state}/cities"), "signupListCitiesResponse").await;
            assert_eq!(all["error_code"], "EOK", "{state}");
            assert_eq!(names(&all, "cities", "city_name")[0], city, "{state}: largest first");
            assert!(all["cities"][0]["additional_info"]["population"].as_str().unwrap().parse::<u32>().unwrap() > 1_000_000);

            let spelled = format!("{}-{}", country.to_lowercase(), state.to_lowercase());
            let found = list(&app, &format!("/no_auth/countries/{country}/states/{spelled}/cities/{prefix}"), "signupListCitiesResponse").await;
            assert!(names(&found, "cities", "city_name").contains(&city), "{spelled}/{prefix}: {found}");
            assert!(names(&found, "cities", "city_name").iter().all(|n| n.to_lowercase().starts_with(&prefix.to_lowercase())), "{found}");
        }
    }

    async fn a_french_department_answers_eno_cities_while_its_region_lists_them(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let paris = list(&app, "/no_auth/countries/FR/states/75/cities", "signupListCitiesResponse").await;
        assert_eq!(paris, json!({ "error_code": "ENO_CITIES", "cities": [] }));
        let states = list(&app, "/no_auth/countries/FR/states/75", "signupListStatesResponse").await;
        assert_eq!(states["states"][0]["additional_info"]["parent"], "IDF", "the department says which region lists its cities");
    }

    async fn a_country_whose_subdivisions_geonames_cannot_match_still_answers_eno_cities(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        // ISO 3166-2 lists Madagascar's six provinces; GeoNames files its towns under the 23 regions that replaced them.
        let states = list(&app, "/no_auth/countries/MG/states", "signupListStatesResponse").await;
        assert!(names(&states, "states", "state_code").contains(&"T"), "{states}");
        for path in ["/no_auth/countries/MG/states/T/cities", "/no_auth/countries/MG/states/MG-T/cities/an"] {
            let cities = list(&app, path, "signupListCitiesResponse").await;
            assert_eq!(cities, json!({ "error_code": "ENO_CITIES", "cities": [] }), "{path}");
        }
    }

    async fn the_address_check_takes_the_five_cities_with_their_iso_subdivisions(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for ((country, state, city, _), zip) in CAPITALS.into_iter().zip(["10115", "M5V 2T6", "2000", "400001", "75001"]) {
            let address = json!({ "country": country, "state_code": format!("{country}-{state}"), "city": city, "zip_code": zip });
            let answer = validate(&app, json!({ "spec": address })).await;
            assert_eq!((answer["err"].as_str(), &answer["is_valid"]), (Some("ECONTACT_VALIDATE_OK"), &json!(true)), "{address}: {answer}");

            let email = format!("jane@{}.example", country.to_lowercase());
            let mut req = signup_body(&format!("acme-{}", country.to_lowercase()), &email);
            req["company_details"]["mailing_address"] = address.clone();
            let (status, answer) = body(app.post_json(SIGNUP, &req).await).await;
            assert_eq!(status, StatusCode::OK, "{address}: {answer}");
        }
        app.drain_outbox().await;
        let mut conn = app.ctx.store.acquire().await.unwrap();
        let rows: Vec<(String, String)> = conn.fetch_all("SELECT cname, details FROM signups ORDER BY cname", &[]).await.unwrap();
        let stored: Vec<(String, Value)> = rows.into_iter().map(|(c, d)| (c, serde_json::from_str::<Value>(&d).unwrap()["mailing_address"].clone())).collect();
        let state = |cname: &str| stored.iter().find(|(c, _)| c == cname).map(|(_, a)| (a["state_code"].clone(), a["state"].clone(), a["city"].clone()));
        assert_eq!(state("acme-de"), Some((json!("BE"), json!("Berlin"), json!("Berlin"))));
        assert_eq!(state("acme-ca"), Some((json!("ON"), json!("Ontario"), json!("Toronto"))));
        assert_eq!(state("acme-au"), Some((json!("NSW"), json!("New South Wales"), json!("Sydney"))));
        assert_eq!(state("acme-in"), Some((json!("MH"), json!("Mahārāshtra"), json!("Mumbai"))));
        assert_eq!(state("acme-fr"), Some((json!("IDF"), json!("Île-de-France"), json!("Paris"))));
    }

    async fn lists_of_an_unknown_country_or_subdivision_are_404_in_ushers_error_format(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for path in ["/no_auth/countries/ZZ/states", "/no_auth/countries/ZZ/states/WA/cities", "/no_auth/countries/DE/states/WA/cities/s"] {
            let (status, answer) = body(app.get(path).await).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(answer["code"], "NOT_FOUND");
            assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
    }

    async fn a_path_segment_that_is_not_utf8_is_400_in_ushers_error_format(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (status, answer) = body(app.get("/no_auth/countries/US/states/%FF").await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!((answer["code"].as_str(), answer["field"].as_str()), (Some("INVALID_INPUT"), Some("path")));
    }

    async fn contact_endpoints_are_served_under_the_base_path_too(backend: Backend) {
        let base = "/api/v1/api/production/us-east-1/namespaces/default";
        let app = TestApp::spawn_with(backend, &[("base_path", base)]).await;
        list(&app, &format!("{base}/no_auth/countries/US/states/WA/cities/sea"), "signupListCitiesResponse").await;
        let r = app.post_json(&format!("{base}{VALIDATE}"), &json!({ "spec": { "country": "US", "zip_code": "98101" } })).await;
        assert_eq!(body(r).await.1["err"], "ECONTACT_VALIDATE_OK");
    }

    async fn a_signup_with_a_bad_address_is_400_naming_the_field_and_stores_nothing(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let cases = [
            ("zip_code", json!("9810"), "company_details.mailing_address.zip_code"),
            ("zip_code", json!(""), "company_details.mailing_address.zip_code"),
            ("country", json!("ZZ"), "company_details.mailing_address.country"),
            ("state_code", json!("BY"), "company_details.mailing_address.state_code"),
        ];
        for (key, value, field) in cases {
            let mut req = signup_body("acme", "jane@example.com");
            req["company_details"]["mailing_address"][key] = value.clone();
            let (status, answer) = body(app.post_json(SIGNUP, &req).await).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{key} = {value}: {answer}");
            assert_eq!(answer["code"], "INVALID_INPUT");
            assert_eq!(answer["field"], field);
        }
        let mut conn = app.ctx.store.acquire().await.unwrap();
        let (signups,): (i64,) = conn.fetch_one("SELECT COUNT(*) FROM signups", &[]).await.unwrap();
        assert_eq!(signups, 0);
        assert!(app.outbox().await.is_empty(), "nothing is queued for a refused address");

        let mut req = signup_body("acme", "jane@example.com");
        req["company_details"]["mailing_address"] = json!({ "country": "us", "state_code": "us-wa", "zip_code": "98101-1234" });
        assert_eq!(app.post_json(SIGNUP, &req).await.status(), StatusCode::OK);
        app.drain_outbox().await;
        let (details,): (String,) = conn.fetch_one("SELECT details FROM signups", &[]).await.unwrap();
        let stored: Value = serde_json::from_str(&details).unwrap();
        assert_eq!(stored["mailing_address"], json!({ "country": "US", "state_code": "WA", "state": "Washington", "zip_code": "98101-1234" }));
    }
}
