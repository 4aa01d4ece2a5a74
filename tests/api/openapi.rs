//! `/openapi.json`: generated from the handlers, it lists every route of
//! both dialects (docs/f5xc.md, docs/akana.md), the pages and the operational endpoints, declares the
//! admin token schemes, the error body and the `err` enums, and usher's
//! answers validate against it. (`scripts/schemathesis.sh`, in `.ci/run`,
//! fuzzes the same document; these tests pin what it must contain.)

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use usher::domain::Cname;
use usher::flows::admin::{Role, create_token};

const SIGNUP: &str = "/no_auth/namespaces/system/f5xc-saas/signup";

/// Every operation of both dialects, the pages and the operational endpoints, as `(method, path)` with the
/// parameter names of F5's documents.
const SPEC_OPERATIONS: &[(&str, &str)] = &[
    // The F5 XC dialect.
    ("post", SIGNUP),
    ("post", "/no_auth/namespaces/system/f5xc-saas/signup/send_email"),
    ("post", "/no_auth/login/validate_registration"),
    ("get", "/no_auth/namespaces/system/f5xc-saas/signup/registration_details"),
    ("post", "/no_auth/namespaces/system/f5xc-saas/signup/complete"),
    ("post", "/no_auth/send_password_email"),
    ("post", "/no_auth/password/set"),
    ("post", "/api/web/custom/namespaces/{namespace}/send_password_email"),
    ("post", "/api/web/custom/password/admin_reset"),
    ("post", "/api/web/custom/namespaces/{namespace}/reset_password_by_admin"),
    ("post", "/api/web/custom/namespaces/{namespace}/verify_password"),
    ("post", "/no_auth/validate_contact"),
    ("get", "/no_auth/countries"),
    ("get", "/no_auth/countries/{prefix}"),
    ("get", "/no_auth/countries/{country_code}/states"),
    ("get", "/no_auth/countries/{country_code}/states/{prefix}"),
    ("get", "/no_auth/countries/{country_code}/states/{state_code}/cities"),
    ("get", "/no_auth/countries/{country_code}/states/{state_code}/cities/{prefix}"),
    // The Akana dialect.
    ("post", "/api/users/signupUser"),
    ("post", "/api/users/verifySignup"),
    ("post", "/api/users/completeSignup"),
    ("post", "/api/users/resendActivation"),
    // The pages and their forms.
    ("get", "/"),
    ("get", "/signup/tenant"),
    ("post", "/signup/tenant"),
    ("get", "/signup/developer"),
    ("post", "/signup/developer"),
    ("get", "/signup"),
    ("post", "/signup"),
    ("post", "/signup/resend"),
    ("get", "/password"),
    ("post", "/password"),
    ("get", "/activate"),
    ("post", "/activate"),
    ("get", "/code"),
    ("post", "/code"),
    // The code every email with a link carries.
    ("post", "/no_auth/code"),
    // Operating it.
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

const ADMIN_OPERATIONS: &[&str] = &[
    "/api/web/custom/namespaces/{namespace}/send_password_email",
    "/api/web/custom/password/admin_reset",
    "/api/web/custom/namespaces/{namespace}/reset_password_by_admin",
    "/api/web/custom/namespaces/{namespace}/verify_password",
];

async fn document(app: &TestApp) -> Value {
    let r = app.get("/openapi.json").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    r.json().await.unwrap()
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not in the document");
    op
}

/// A validator for `schema` whose `$ref`s resolve inside the document
/// (OpenAPI 3.1 schemas are JSON Schema 2020-12).
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    jsonschema::options().with_draft(jsonschema::Draft::Draft202012).build(&root).unwrap_or_else(|e| panic!("schema {schema}: {e}"))
}

/// Panics unless the answer's status is declared for the operation and its
/// JSON body validates against the declared schema.
fn assert_conforms(doc: &Value, method: &str, path: &str, status: StatusCode, content_type: &str, answer: &Value) {
    let declared = &operation(doc, method, path)["responses"][status.as_str()];
    assert!(declared.is_object(), "{method} {path} answered {status}, which the document does not declare: {answer}");
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    let schema = &declared["content"][media_type]["schema"];
    assert!(schema.is_object(), "{method} {path} {status}: {media_type} is not declared");
    let errors: Vec<String> = validator(doc, schema).iter_errors(answer).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{method} {path} {status}: {answer} does not conform: {errors:#?}");
}

/// Sends a request and checks its answer against the document.
async fn conforming(doc: &Value, request: reqwest::RequestBuilder, method: &str, path: &str) -> (StatusCode, Value) {
    let r = request.send().await.unwrap();
    let status = r.status();
    let content_type = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let answer: Value = r.json().await.unwrap_or(Value::Null);
    assert_conforms(doc, method, path, status, &content_type, &answer);
    (status, answer)
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_lists_every_spec_operation_at_the_root() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    for (method, path) in SPEC_OPERATIONS {
        let op = operation(&doc, method, path);
        assert!(op["operationId"].is_string(), "{method} {path} has no operationId");
        assert!(op["responses"]["200"].is_object() || op["responses"]["303"].is_object(), "{method} {path} declares no success");
    }
    let servers = doc["servers"].as_array().unwrap();
    assert_eq!(servers.iter().map(|s| s["url"].as_str().unwrap()).collect::<Vec<_>>(), ["/"]);
    assert!(doc["info"]["description"].as_str().unwrap().contains("base_path"), "the description tells where base_path puts the paths");
}

#[tokio::test]
async fn operations_that_f5_documents_keep_f5s_operation_ids_and_schema_names() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = document(&app).await;
    let op = operation(&doc, "post", "/no_auth/login/validate_registration");
    assert_eq!(op["operationId"], "ves.io.schema.signup.CustomAPI.ValidateRegistration");
    assert_eq!(
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/signupValidateRegistrationRequest"
    );
    let ok = &op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(ok, "#/components/schemas/signupValidateRegistrationResponse");
    let op = operation(&doc, "get", "/no_auth/countries/{country_code}/states/{prefix}");
    assert_eq!(op["operationId"], "ves.io.schema.signup.CustomAPI.ListStates");
    let names: Vec<&str> = op["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["country_code", "prefix"]);
}

#[tokio::test]
async fn admin_operations_take_an_api_token_or_a_bearer_token() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = document(&app).await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["APIToken"]["type"], "apiKey");
    assert_eq!(schemes["APIToken"]["in"], "header");
    assert_eq!(schemes["APIToken"]["name"], "Authorization");
    assert!(schemes["APIToken"]["description"].as_str().unwrap().contains("APIToken <secret>"));
    assert_eq!(schemes["Bearer"]["type"], "http");
    assert_eq!(schemes["Bearer"]["scheme"], "bearer");
    for path in ADMIN_OPERATIONS {
        let op = operation(&doc, "post", path);
        assert_eq!(op["security"], json!([{ "APIToken": [] }, { "Bearer": [] }]), "{path}");
        for status in ["401", "403", "404"] {
            assert!(op["responses"][status].is_object(), "{path} does not declare {status}");
        }
    }
    assert_eq!(operation(&doc, "post", ADMIN_OPERATIONS[0])["deprecated"], true, "the admin SendPasswordEmail is deprecated");
}

#[tokio::test]
async fn the_error_body_and_the_err_enums_are_declared() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = document(&app).await;
    let schemas = &doc["components"]["schemas"];
    let error = &schemas["ErrorBody"];
    assert_eq!(error["required"], json!(["code", "message"]));
    assert!(error["properties"]["field"].is_object());
    let values = |name: &str| schemas[name]["enum"].as_array().unwrap_or_else(|| panic!("{name} is no enum")).clone();
    assert_eq!(
        values("signupValidateRegistrationErr"),
        json!(["ETOKEN_OK", "ETOKEN_FAILED", "ETOKEN_NOTFOUND", "ETOKEN_USED", "ETOKEN_EXPIRED", "EUSER_EXISTS"])
            .as_array()
            .unwrap()
            .clone()
    );
    let registration = &schemas["signupValidateRegistrationResponse"]["properties"]["err"]["$ref"];
    assert_eq!(registration, "#/components/schemas/signupValidateRegistrationErr");
    assert_eq!(values("signupValidateContactErr").len(), 5);
    assert_eq!(values("signupListErrorCode"), json!(["EOK", "ENO_STATES", "ENO_CITIES"]).as_array().unwrap().clone());
    assert_eq!(values("schemaTenantType"), json!(["UNKNOWN", "FREEMIUM", "ENTERPRISE"]).as_array().unwrap().clone());
    // Every JSON error answer a route declares is that body.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    if let Some(schema) = response["content"].get("application/json") {
                        assert_eq!(schema["schema"]["$ref"], "#/components/schemas/ErrorBody", "{method} {path} {status}");
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn the_signups_domain_and_tos_version_state_f5s_maximum_lengths() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = document(&app).await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/f5xc/0176.public.ves.io.schema.marketplace.aws_account.json");
    let f5: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (ours, theirs) =
        (&doc["components"]["schemas"]["signupAccountMeta"]["properties"], &f5["components"]["schemas"]["signupAccountMeta"]["properties"]);
    for field in ["domain", "tos_version"] {
        assert!(theirs[field]["maxLength"].is_u64(), "{field}");
        assert_eq!(ours[field]["maxLength"], theirs[field]["maxLength"], "{field}");
    }
    // The pattern says no more than maxLength does.
    let pattern = regex::Regex::new(ours["domain"]["pattern"].as_str().unwrap()).unwrap();
    assert!(pattern.is_match(&"a".repeat(17)) && !pattern.is_match(&"a".repeat(18)));
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = document(&app).await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete =
            path.replace("{namespace}", "system").replace("{country_code}", "US").replace("{state_code}", "WA").replace("{prefix}", "W");
        for method in item.as_object().unwrap().keys() {
            let r =
                app.client.request(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(), app.url(&concrete)).send().await.unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            assert!(
                status != StatusCode::METHOD_NOT_ALLOWED && !text.contains("No such endpoint"),
                "{method} {path} is documented but not routed: {status} {text}"
            );
        }
    }
}

#[tokio::test]
async fn under_a_base_path_the_document_is_served_there_and_names_it_as_a_server() {
    const BASE: &str = "/api/v1/api/production/us-east-1/namespaces/default";
    let app = TestApp::spawn_with(Backend::Sqlite, &[("base_path", BASE)]).await;
    let r = app.get(&format!("{BASE}/openapi.json")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["servers"][0]["url"], BASE);
    assert_eq!(doc["servers"][1]["url"], "/");
    assert_eq!(document(&app).await, doc, "the same document at the root");
}

on_each_backend! {
    async fn answers_conform_to_the_document(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let doc = document(&app).await;
        let post = |path: &str| app.client.post(app.url(path));

        // 200s of the F5 dialect, on a real signup.
        conforming(&doc, post(SIGNUP).json(&signup_body("acme", "jane@example.com")), "post", SIGNUP).await;
        let token = app.signup_token("acme2", "june@example.com").await;
        let validate = "/no_auth/login/validate_registration";
        let body = json!({ "email": "june@example.com", "tenant_type": "FREEMIUM", "token": token });
        let (status, answer) = conforming(&doc, post(validate).json(&body), "post", validate).await;
        assert_eq!((status, answer["err"].as_str()), (StatusCode::OK, Some("ETOKEN_OK")));
        let details = "/no_auth/namespaces/system/f5xc-saas/signup/registration_details";
        let request = app.client.get(app.url(details)).query(&[("token", &token)]);
        assert_eq!(conforming(&doc, request, "get", details).await.0, StatusCode::OK);
        let complete = "/no_auth/namespaces/system/f5xc-saas/signup/complete";
        let request = post(complete).json(&json!({ "token": token, "password": "correct horse battery staple 1" }));
        assert_eq!(conforming(&doc, request, "post", complete).await.0, StatusCode::OK);
        let (status, answer) = conforming(&doc, post(complete).json(&json!({ "token": token })), "post", complete).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::CONFLICT, Some("SIGNUP_COMPLETED")));
        let (status, _) = conforming(&doc, app.client.get(app.url(details)).query(&[("token", &token)]), "get", details).await;
        assert_eq!(status, StatusCode::OK, "a completed signup's details carry console_url and error_message");

        // The contact directory.
        let contact = "/no_auth/validate_contact";
        let body = json!({ "spec": { "country": "US", "zip_code": "nope" } });
        assert_eq!(conforming(&doc, post(contact).json(&body), "post", contact).await.0, StatusCode::OK);
        for (concrete, path) in [
            ("/no_auth/countries/Un", "/no_auth/countries/{prefix}"),
            ("/no_auth/countries/US/states", "/no_auth/countries/{country_code}/states"),
            ("/no_auth/countries/US/states/WA/cities/Se", "/no_auth/countries/{country_code}/states/{state_code}/cities/{prefix}"),
            ("/no_auth/countries/ZZ/states/x", "/no_auth/countries/{country_code}/states/{prefix}"),
        ] {
            conforming(&doc, app.client.get(app.url(concrete)), "get", path).await;
        }

        // Refusals: each in the error body its operation declares.
        let r = post("/no_auth/send_password_email").header("content-type", "text/plain").body("{}");
        assert_eq!(conforming(&doc, r, "post", "/no_auth/send_password_email").await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let r = post("/no_auth/send_password_email").json(&json!({ "cname": "acme", "email": "nope" }));
        assert_eq!(conforming(&doc, r, "post", "/no_auth/send_password_email").await.0, StatusCode::BAD_REQUEST);
        let r = post("/no_auth/password/set").header("content-type", "application/json").body(vec![b' '; 70 * 1024]);
        assert_eq!(conforming(&doc, r, "post", "/no_auth/password/set").await.0, StatusCode::PAYLOAD_TOO_LARGE);
        let r = app.client.get(app.url(details)).query(&[("token", "a"), ("token", "b")]);
        assert_eq!(conforming(&doc, r, "get", details).await.0, StatusCode::BAD_REQUEST, "a query twice is usher's 400");
        let r = post("/api/users/verifySignup").header("accept", "text/html").form(&[("signupCode", "x")]);
        assert_eq!(conforming(&doc, r, "post", "/api/users/verifySignup").await.0, StatusCode::NOT_ACCEPTABLE);
        let r = post("/api/users/verifySignup").form(&[("signupCode", "x")]);
        assert_eq!(conforming(&doc, r, "post", "/api/users/verifySignup").await.0, StatusCode::BAD_REQUEST);

        // The admin endpoints, without and with a token.
        let reset = "/api/web/custom/password/admin_reset";
        assert_eq!(conforming(&doc, post(reset).json(&json!({ "email": "jane@example.com" })), "post", reset).await.0, StatusCode::UNAUTHORIZED);
        let (_, secret) = create_token(&app.ctx.store, app.clock.now_ms(), &Cname::parse("t", "acme2").unwrap(), Role::Admin).await.unwrap();
        let verify = "/api/web/custom/namespaces/{namespace}/verify_password";
        let concrete = verify.replace("{namespace}", "system");
        let body = json!({ "email": "june@example.com", "password": "wrong" });
        let (status, answer) = conforming(&doc, post(&concrete).bearer_auth(&secret).json(&body), "post", verify).await;
        assert_eq!((status, &answer["valid"]), (StatusCode::OK, &json!(false)));
        let r = post(&verify.replace("{namespace}", "other")).header("authorization", format!("APIToken {secret}")).json(&body);
        assert_eq!(conforming(&doc, r, "post", verify).await.0, StatusCode::FORBIDDEN);
        let r = post(reset).bearer_auth(&secret).json(&json!({ "email": "nobody@example.com" }));
        assert_eq!(conforming(&doc, r, "post", reset).await.0, StatusCode::NOT_FOUND);

        // Operations.
        for path in ["/healthz", "/readyz"] {
            assert_eq!(conforming(&doc, app.client.get(app.url(path)), "get", path).await.0, StatusCode::OK);
        }
    }
}
