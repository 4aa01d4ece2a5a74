//! F5's published OpenAPI documents (`tests/fixtures/f5xc/`, kept
//! there unchanged) as the oracle of usher's F5 XC dialect: every operation
//! in them is either served or declined here with a reason; requests built
//! from F5's request schemas and their documented examples are accepted; and
//! usher's 200 answers validate against F5's response schemas.
//! docs/compatibility.md is the same list for people.

use crate::helpers::*;
use crate::on_each_backend;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use std::time::Duration;
use usher::domain::Cname;
use usher::flows::admin::{Role, create_token};

const AWS_ACCOUNT: &str = "0176.public.ves.io.schema.marketplace.aws_account.json";
const SIGNUP: &str = "0217.public.ves.io.schema.signup.json";
const USER: &str = "0251.public.ves.io.schema.user.json";
const XC_SAAS: &str = "0269.public.ves.io.schema.marketplace.xc_saas.json";
const DOCUMENTS: [&str; 4] = [AWS_ACCOUNT, SIGNUP, USER, XC_SAAS];

/// What usher does with one operation of F5's documents.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Usher {
    Serves,
    /// Its request body, at another path (the one named).
    ServesBodyAt(&'static str),
    Declines(&'static str),
}

/// Every operation of the four documents, as `(document, method, path,
/// operationId's last part, what usher does)`.
const OPERATIONS: &[(&str, &str, &str, &str, Usher)] = &[
    (
        XC_SAAS,
        "POST",
        "/no_auth/namespaces/system/f5xc-saas/signup",
        "SignupXCSaaS",
        Usher::Declines(
            "signs up with an Azure or F5 marketplace entitlement token; usher's signup at this path takes the account, company and user details of SignupAWSAccount",
        ),
    ),
    (XC_SAAS, "POST", "/no_auth/namespaces/system/f5xc-saas/signup/send_email", "SendSignupEmail", Usher::Serves),
    (XC_SAAS, "GET", "/no_auth/namespaces/system/f5xc-saas/signup/registration_details", "GetRegistrationDetails", Usher::Serves),
    (
        AWS_ACCOUNT,
        "POST",
        "/no_auth/namespaces/system/aws/f5xc-saas/signup",
        "SignupAWSAccount",
        Usher::ServesBodyAt("/no_auth/namespaces/system/f5xc-saas/signup"),
    ),
    (
        AWS_ACCOUNT,
        "POST",
        "/no_auth/namespaces/system/aws/f5xc-saas/register",
        "RegisterNewAWSAccount",
        Usher::Declines("AWS Marketplace registration (x-amzn-marketplace-token); usher sells nothing through a marketplace"),
    ),
    (SIGNUP, "POST", "/no_auth/login/validate_registration", "ValidateRegistration", Usher::Serves),
    (SIGNUP, "POST", "/no_auth/send_password_email", "SendPasswordEmail", Usher::Serves),
    (
        SIGNUP,
        "GET",
        "/no_auth/signup/{name}",
        "Get",
        Usher::Declines(
            "reads a signup object by name without authentication; usher's signups are reached only through their token, so they cannot be enumerated",
        ),
    ),
    (SIGNUP, "POST", "/no_auth/validate_contact", "ValidateContact", Usher::Serves),
    (SIGNUP, "GET", "/no_auth/countries/{prefix}", "ListCountries", Usher::Serves),
    (SIGNUP, "GET", "/no_auth/countries/{country_code}/states/{prefix}", "ListStates", Usher::Serves),
    (SIGNUP, "GET", "/no_auth/countries/{country_code}/states/{state_code}/cities/{prefix}", "ListCities", Usher::Serves),
    (
        SIGNUP,
        "GET",
        "/api/web/custom/countries/{prefix}",
        "ListCountries",
        Usher::Declines("the authenticated twin of the /no_auth/ list, which the signup form reads without a token"),
    ),
    (
        SIGNUP,
        "GET",
        "/api/web/custom/countries/{country_code}/states/{prefix}",
        "ListStates",
        Usher::Declines("the authenticated twin of the /no_auth/ list, which the signup form reads without a token"),
    ),
    (
        SIGNUP,
        "GET",
        "/api/web/custom/countries/{country_code}/states/{state_code}/cities/{prefix}",
        "ListCities",
        Usher::Declines("the authenticated twin of the /no_auth/ list, which the signup form reads without a token"),
    ),
    (USER, "POST", "/api/web/custom/namespaces/{namespace}/send_password_email", "SendPasswordEmail", Usher::Serves),
    (USER, "POST", "/api/web/custom/password/admin_reset", "ResetPasswordByAdmin", Usher::Serves),
    (
        USER,
        "POST",
        "/api/web/custom/password/reset",
        "ResetPassword",
        Usher::Declines("a signed-in user resetting their own password; usher has no console sessions, and its password links do this"),
    ),
    (USER, "POST", "/api/web/custom/idm/user/sync", "SyncUser", Usher::Declines("console identity management, not onboarding")),
    (
        USER,
        "PUT",
        "/api/web/custom/namespaces/system/users/group_add",
        "AddUserToGroup",
        Usher::Declines("console identity management, not onboarding"),
    ),
    (
        USER,
        "PUT",
        "/api/web/custom/namespaces/system/users/group_remove",
        "RemoveUserFromGroup",
        Usher::Declines("console identity management, not onboarding"),
    ),
    (
        USER,
        "POST",
        "/api/web/custom/namespaces/{namespace}/accept_tos",
        "AcceptTOS",
        Usher::Declines("terms are accepted at signup (tos_version, tos_accepted_at); later versions are the console's business"),
    ),
    (
        USER,
        "GET",
        "/api/web/custom/namespaces/{namespace}/tos",
        "GetTOS",
        Usher::Declines("terms are accepted at signup (tos_version, tos_accepted_at); later versions are the console's business"),
    ),
    (
        USER,
        "POST",
        "/api/web/custom/namespaces/{namespace}/role_users",
        "AssignRole",
        Usher::Declines("console roles; usher knows only its own API-token roles"),
    ),
    (
        USER,
        "GET",
        "/api/web/custom/namespaces/{namespace}/user_roles",
        "List",
        Usher::Declines("console roles; usher knows only its own API-token roles"),
    ),
    (
        USER,
        "POST",
        "/api/web/custom/namespaces/{namespace}/user_roles",
        "Create",
        Usher::Declines("console roles; usher knows only its own API-token roles"),
    ),
    (
        USER,
        "PUT",
        "/api/web/custom/namespaces/{namespace}/user_roles",
        "Replace",
        Usher::Declines("console roles; usher knows only its own API-token roles"),
    ),
    (
        USER,
        "POST",
        "/api/web/custom/namespaces/{namespace}/user_roles/{name}",
        "Replace",
        Usher::Declines("console roles; usher knows only its own API-token roles"),
    ),
    (
        USER,
        "POST",
        "/api/web/custom/namespaces/{namespace}/users/cascade_delete",
        "CascadeDelete",
        Usher::Declines("deleting users and what they own is the console's business"),
    ),
    (
        USER,
        "GET",
        "/api/web/custom/namespaces/{namespace}/whoami",
        "Get",
        Usher::Declines("console sessions; usher's callers are API tokens"),
    ),
];

fn document(name: &str) -> Value {
    let path = format!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/f5xc/{}"), name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("F5's document {path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// `schema`, or what its `$ref` (always `#/components/schemas/…` in F5's documents) names.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("a $ref outside the components: {r}"));
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method.to_ascii_lowercase()];
    assert!(op.is_object(), "{method} {path} is not in the document");
    op
}

/// The schema of the operation's request body or 200 answer.
fn schema_of<'a>(doc: &'a Value, method: &str, path: &str, which: &str) -> &'a Value {
    let op = operation(doc, method, path);
    let content = if which == "request" { &op["requestBody"]["content"] } else { &op["responses"]["200"]["content"] };
    &content["application/json"]["schema"]
}

/// A validator for `schema`, whose `$ref`s are resolved inside the document
/// (OpenAPI 3.0 schemas are JSON Schema draft 4 with extensions).
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    jsonschema::options().with_draft(jsonschema::Draft::Draft4).build(&root).unwrap_or_else(|e| panic!("F5's schema {schema}: {e}"))
}

/// Panics, naming each violation, unless `instance` validates against the
/// operation's request or 200 schema; returns the instance's top-level
/// fields that the schema does not declare (F5's schemas allow them).
fn conforms(doc: &Value, method: &str, path: &str, which: &str, instance: &Value) -> Vec<String> {
    let schema = schema_of(doc, method, path, which);
    let errors: Vec<String> = validator(doc, schema).iter_errors(instance).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{method} {path}: {instance} is not F5's {which}: {errors:#?}");
    let declared = resolve(doc, schema)["properties"].as_object().cloned().unwrap_or_default();
    let mut extra: Vec<String> =
        instance.as_object().into_iter().flat_map(|o| o.keys()).filter(|k| !declared.contains_key(*k)).cloned().collect();
    extra.sort();
    extra
}

/// The example F5 documents for a schema: `x-ves-example`, else the example
/// in its description, else its default or first enum value; objects are
/// built field by field. `None` where F5 documents nothing.
fn example(doc: &Value, schema: &Value, depth: usize) -> Option<Value> {
    let schema = resolve(doc, schema);
    if depth > 8 {
        return None;
    }
    if let Some(properties) = schema["properties"].as_object() {
        let fields: Map<String, Value> =
            properties.iter().filter_map(|(name, s)| example(doc, s, depth + 1).map(|e| (name.clone(), e))).collect();
        return Some(Value::Object(fields));
    }
    if schema["type"] == "object" {
        return Some(json!({}));
    }
    let text = schema["x-ves-example"].as_str().map(str::to_owned).or_else(|| described_example(schema["description"].as_str()?));
    match (text, schema["type"].as_str()) {
        (Some(t), Some("boolean")) => Some(Value::Bool(t == "true")),
        (Some(t), _) => Some(Value::String(t)),
        (None, _) => schema.get("default").or_else(|| schema["enum"].get(0)).cloned(),
    }
}

/// F5 writes some examples only into the description: ``Example: ` "x"` ``.
fn described_example(description: &str) -> Option<String> {
    let rest = description.split("Example: `").nth(1)?;
    Some(rest.split('`').next()?.trim().trim_matches('"').to_owned())
}

/// A path or query parameter's example, from its description's `x-example: "…"`.
fn parameter_example(op: &Value, name: &str) -> String {
    let param =
        op["parameters"].as_array().into_iter().flatten().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no parameter {name}"));
    let description = param["description"].as_str().unwrap_or_default();
    let quoted = description.split("x-example: \"").nth(1).unwrap_or_else(|| panic!("no x-example for {name}"));
    quoted.split('"').next().unwrap().to_owned()
}

/// F5's example request body for an operation, checked against its own schema.
fn example_body(doc: &Value, method: &str, path: &str) -> Value {
    let body = example(doc, schema_of(doc, method, path, "request"), 0).unwrap();
    conforms(doc, method, path, "request", &body);
    body
}

async fn post(app: &TestApp, path: &str, auth: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let mut req = app.client.post(app.url(path)).json(body);
    if let Some(secret) = auth {
        req = req.header("authorization", format!("APIToken {secret}"));
    }
    crate::helpers::body(req.send().await.unwrap()).await
}

async fn admin_token(app: &TestApp, cname: &str) -> String {
    create_token(&app.ctx.store, app.clock.now_ms(), &Cname::parse("t", cname).unwrap(), Role::Admin).await.unwrap().1
}

const SIGNUP_PATH: &str = "/no_auth/namespaces/system/f5xc-saas/signup";
const AWS_SIGNUP: &str = "/no_auth/namespaces/system/aws/f5xc-saas/signup";

/// A field of one of F5's schemas.
fn field<'a>(doc: &'a Value, schema: &str, name: &str) -> &'a Value {
    let field = &doc["components"]["schemas"][schema]["properties"][name];
    assert!(field.is_object(), "{schema}.{name} is not in the document");
    field
}

fn max_length(doc: &Value, schema: &str, name: &str) -> usize {
    let max = field(doc, schema, name)["maxLength"].as_u64().unwrap_or_else(|| panic!("{schema}.{name} states no maxLength"));
    usize::try_from(max).unwrap()
}

/// The names a field's `ves.io.schema.rules.string.not_in` rule lists, written `[\"ves\",\"volterra\"]`.
fn not_in(doc: &Value, schema: &str, name: &str) -> Vec<String> {
    let rule = field(doc, schema, name)["x-ves-validation-rules"]["ves.io.schema.rules.string.not_in"].as_str().unwrap();
    rule.trim_matches(['[', ']']).split(',').map(|n| n.trim_matches(['\\', '"']).to_owned()).collect()
}

/// F5's example signup body with one field changed, and F5's schema's verdict on it.
fn f5_signup(aws: &Value, pointer: &str, value: &str, email: &str) -> (Value, bool) {
    let mut body = example_body(aws, "POST", AWS_SIGNUP);
    *body.pointer_mut(pointer).unwrap() = json!(value);
    body["user_details"]["email"] = json!(email);
    let valid = validator(aws, schema_of(aws, "POST", AWS_SIGNUP, "request")).is_valid(&body);
    (body, valid)
}

#[test]
fn every_operation_in_f5s_documents_is_either_served_or_declined_for_a_stated_reason() {
    let mut listed: Vec<(&str, String, &str)> = OPERATIONS.iter().map(|(d, m, p, _, _)| (*d, m.to_string(), *p)).collect();
    for name in DOCUMENTS {
        let doc = document(name);
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap().iter().filter(|(_, op)| op.get("operationId").is_some()) {
                let method = method.to_ascii_uppercase();
                let id = op["operationId"].as_str().unwrap();
                let entry = OPERATIONS.iter().find(|(d, m, p, _, _)| *d == name && *m == method && *p == path.as_str());
                let (_, _, _, short, usher) =
                    entry.unwrap_or_else(|| panic!("{name}: {method} {path} ({id}) is neither served nor declined"));
                assert!(id.ends_with(&format!(".{short}")), "{method} {path} is {id}");
                if let Usher::Declines(why) = usher {
                    assert!(why.len() > 20, "{id} is declined without a reason");
                }
                if matches!(usher, Usher::Serves | Usher::ServesBodyAt(_)) {
                    // A known difference: F5 declares every error answer a bare
                    // string; usher's are JSON {code, message} (docs/f5xc.md, "Error answers").
                    for (status, answer) in op["responses"].as_object().unwrap().iter().filter(|(s, _)| *s != "200") {
                        assert_eq!(answer["content"]["application/json"]["schema"], json!({ "format": "string" }), "{id} {status}");
                    }
                }
                listed.retain(|l| !(l.0 == name && l.1 == method && l.2 == path.as_str()));
            }
        }
    }
    assert!(listed.is_empty(), "listed but not in F5's documents: {listed:?}");
}

/// The oracle has teeth: `$ref`s resolve, enums and types are checked.
#[test]
fn the_oracle_refuses_answers_that_f5s_schemas_do_not_allow() {
    let signup = document(SIGNUP);
    let schema = schema_of(&signup, "POST", "/no_auth/login/validate_registration", "response");
    let oracle = validator(&signup, schema);
    assert!(oracle.is_valid(&json!({ "err": "ETOKEN_OK", "valid_registration": true })));
    assert!(!oracle.is_valid(&json!({ "err": "ETOKEN_GOOD", "valid_registration": true })), "an err outside F5's enum");
    assert!(!oracle.is_valid(&json!({ "err": "ETOKEN_OK", "valid_registration": "true" })), "a string for a boolean");
    let saas = document(XC_SAAS);
    let details = validator(&saas, schema_of(&saas, "GET", "/no_auth/namespaces/system/f5xc-saas/signup/registration_details", "response"));
    assert!(!details.is_valid(&json!({ "email": "jane@example.com", "error_message": 1 })));
}

on_each_backend! {
    async fn f5s_own_example_requests_are_answered_200_or_with_the_documented_refusal_of_their_placeholders(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        // ResetPasswordByAdmin's example names john@example.com: give him a tenant.
        let token = app.signup_token("example", "john@example.com").await;
        assert_eq!(app.complete(&token, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        let admin = admin_token(&app, "example").await;
        let (aws, saas, signup, user) = (document(AWS_ACCOUNT), document(XC_SAAS), document(SIGNUP), document(USER));

        // SignupAWSAccount's body, at usher's signup path.
        let path = "/no_auth/namespaces/system/aws/f5xc-saas/signup";
        let (status, answer) = post(&app, "/no_auth/namespaces/system/f5xc-saas/signup", None, &example_body(&aws, "POST", path)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(conforms(&aws, "POST", path, "response", &answer), ["message", "success"], "usher's signup answer, beyond F5's empty object");
        conforms(&saas, "POST", "/no_auth/namespaces/system/f5xc-saas/signup", "response", &answer);
        assert_eq!(app.wait_for_mail("jane.doe@gmail.com", 1).await[0]["subject"].as_str().map(|s| s.contains("john-deer")), Some(true));

        // SignupXCSaaS's entitlement-token body is declined: it names no person to mail.
        let (status, answer) = post(&app, "/no_auth/namespaces/system/f5xc-saas/signup", None, &example_body(&saas, "POST", "/no_auth/namespaces/system/f5xc-saas/signup")).await;
        assert_eq!((status, answer["code"].as_str(), answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_INPUT"), Some("domain")), "{answer}");

        // The placeholder tokens (F5's own token format) are refused as invalid links.
        let path = "/no_auth/namespaces/system/f5xc-saas/signup/send_email";
        let (status, answer) = post(&app, path, None, &example_body(&saas, "POST", path)).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::BAD_REQUEST, Some("TOKEN_INVALID")), "{answer}");
        let path = "/no_auth/namespaces/system/f5xc-saas/signup/registration_details";
        let placeholder = parameter_example(operation(&saas, "GET", path), "token");
        let (status, answer) = body(app.get(&format!("{path}?token={placeholder}")).await).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::BAD_REQUEST, Some("TOKEN_INVALID")), "{answer}");

        // validate_registration answers a placeholder token with 200 and ETOKEN_FAILED, as F5's Validate Registration page says.
        let path = "/no_auth/login/validate_registration";
        let (status, answer) = post(&app, path, None, &example_body(&signup, "POST", path)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(conforms(&signup, "POST", path, "response", &answer).is_empty());
        assert_eq!(answer, json!({ "err": "ETOKEN_FAILED", "valid_registration": false }));

        let path = "/no_auth/send_password_email";
        let (status, answer) = post(&app, path, None, &example_body(&signup, "POST", path)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(conforms(&signup, "POST", path, "response", &answer).is_empty());

        // F5's example of the admin SendPasswordEmail puts "value" where the namespace goes; it is always "system".
        let path = "/api/web/custom/namespaces/{namespace}/send_password_email";
        let namespace = parameter_example(operation(&user, "POST", path), "namespace");
        let (status, answer) = post(&app, &path.replace("{namespace}", &namespace), Some(&admin), &example_body(&user, "POST", path)).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::FORBIDDEN, Some("PERMISSION_DENIED")), "{answer}");

        let path = "/api/web/custom/password/admin_reset";
        let request = example_body(&user, "POST", path);
        assert_eq!(request, json!({ "email": "john@example.com" }));
        let (status, answer) = post(&app, path, Some(&admin), &request).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(conforms(&user, "POST", path, "response", &answer).is_empty());
        assert!(link_in(&app.wait_for_mail("john@example.com", 2).await[1]["text"]).contains("/password?token="));
    }

    async fn on_a_real_signup_every_200_answer_validates_against_f5s_response_schema(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (aws, saas, signup, user) = (document(AWS_ACCOUNT), document(XC_SAAS), document(SIGNUP), document(USER));
        const DETAILS: &str = "/no_auth/namespaces/system/f5xc-saas/signup/registration_details";
        const RESEND: &str = "/no_auth/namespaces/system/f5xc-saas/signup/send_email";
        const VALIDATE: &str = "/no_auth/login/validate_registration";
        let details = |token: String| {
            let app = &app;
            async move { body(app.get(&format!("{DETAILS}?token={token}")).await).await }
        };

        let request = example_body(&aws, "POST", "/no_auth/namespaces/system/aws/f5xc-saas/signup");
        let (cname, email) = (request["account_details"]["domain"].as_str().unwrap(), request["user_details"]["email"].as_str().unwrap());
        assert_eq!(post(&app, "/no_auth/namespaces/system/f5xc-saas/signup", None, &request).await.0, StatusCode::OK);
        let first = token_in(&app.wait_for_mail(email, 1).await[0]["text"]);

        let (status, answer) = details(first.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(conforms(&saas, "GET", DETAILS, "response", &answer), ["tenant_type"], "usher's one field beyond F5's: {answer}");
        assert_eq!((answer["email"].as_str(), answer["domain"].as_str()), (Some(email), Some(cname)));

        let mut validate = example_body(&signup, "POST", VALIDATE);
        validate["token"] = json!(first);
        let (status, answer) = post(&app, VALIDATE, None, &validate).await;
        assert_eq!((status, &answer), (StatusCode::OK, &json!({ "err": "ETOKEN_FAILED", "valid_registration": false })), "F5's example email is not the signup's");
        validate["email"] = json!(email);
        let (_, answer) = post(&app, VALIDATE, None, &validate).await;
        assert!(conforms(&signup, "POST", VALIDATE, "response", &answer).is_empty());
        assert_eq!(answer, json!({ "err": "ETOKEN_OK", "valid_registration": true }));

        app.clock.advance(Duration::from_secs(61));
        let mut resend = example_body(&saas, "POST", RESEND);
        resend["token"] = json!(first);
        let (status, answer) = post(&app, RESEND, None, &resend).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(conforms(&saas, "POST", RESEND, "response", &answer).is_empty());
        let second = token_in(&app.wait_for_mail(email, 2).await[1]["text"]);
        validate["token"] = json!(first);
        let (_, answer) = post(&app, VALIDATE, None, &validate).await;
        assert!(conforms(&signup, "POST", VALIDATE, "response", &answer).is_empty());
        assert_eq!(answer["err"], "ETOKEN_EXPIRED", "superseded");
        let (_, answer) = details(first.clone()).await;
        assert_eq!(conforms(&saas, "GET", DETAILS, "response", &answer), ["tenant_type"]);
        assert!(answer["error_message"].is_string());

        // usher's own completion step (F5 documents none), then what the page shows.
        assert_eq!(app.complete(&second, Some(STRONG_PASSWORD)).await.status(), StatusCode::OK);
        let (_, answer) = details(second.clone()).await;
        assert_eq!(conforms(&saas, "GET", DETAILS, "response", &answer), ["tenant_type"]);
        assert_eq!(answer["error_message"], "Your account is already active. Please log in to continue.");
        assert!(answer["console_url"].as_str().unwrap().ends_with(&format!("/console/{cname}")));

        let mut onboarding = example_body(&signup, "POST", "/no_auth/send_password_email");
        onboarding["cname"] = json!(cname);
        onboarding["email"] = json!(email);
        let (status, answer) = post(&app, "/no_auth/send_password_email", None, &onboarding).await;
        assert_eq!(status, StatusCode::OK);
        assert!(conforms(&signup, "POST", "/no_auth/send_password_email", "response", &answer).is_empty());
        app.wait_for_mail(email, 3).await;

        // The admin SendPasswordEmail: deprecated, and its Link names the successor F5's document has.
        let admin = admin_token(&app, cname).await;
        app.clock.advance(Duration::from_secs(61));
        let path = "/api/web/custom/namespaces/{namespace}/send_password_email";
        let mut deprecated = example_body(&user, "POST", path);
        deprecated["email"] = json!(email);
        deprecated["namespace"] = json!("system");
        let r = app.client.post(app.url(&path.replace("{namespace}", "system"))).header("authorization", format!("APIToken {admin}")).json(&deprecated).send().await.unwrap();
        assert_eq!((r.status(), r.headers()["deprecation"].to_str().unwrap()), (StatusCode::OK, "true"));
        let link = r.headers()["link"].to_str().unwrap().to_owned();
        let successor = link.strip_prefix('<').and_then(|l| l.split_once(">; rel=\"successor-version\"")).map(|(p, _)| p.to_owned()).unwrap();
        assert!(operation(&user, "POST", path)["description"].as_str().unwrap().contains("use ResetPasswordByAdmin"));
        assert!(operation(&user, "POST", &successor)["operationId"].as_str().unwrap().ends_with(".ResetPasswordByAdmin"), "{link}");
        let answer = body(r).await.1;
        assert!(conforms(&user, "POST", path, "response", &answer).is_empty());
        app.wait_for_mail(email, 4).await;

        app.clock.advance(Duration::from_secs(61));
        let mut reset = example_body(&user, "POST", &successor);
        reset["email"] = json!(email);
        let (status, answer) = post(&app, &successor, Some(&admin), &reset).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(conforms(&user, "POST", &successor, "response", &answer).is_empty());
        let verify = json!({ "email": email, "password": STRONG_PASSWORD });
        assert_eq!(post(&app, "/api/web/custom/namespaces/system/verify_password", Some(&admin), &verify).await.1, json!({ "valid": false }));
        let link = token_in(&app.wait_for_mail(email, 5).await[4]["text"]);
        let set = json!({ "token": link, "password": "another-Lantern-quarry-44" });
        assert_eq!(app.post_json("/no_auth/password/set", &set).await.status(), StatusCode::OK);
    }
}

on_each_backend! {
    async fn a_signup_domain_of_17_characters_is_taken_and_one_of_18_refused_as_f5s_documents_say(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (aws, saas) = (document(AWS_ACCOUNT), document(XC_SAAS));
        let max = max_length(&aws, "signupAccountMeta", "domain");
        assert_eq!((max, max_length(&saas, "xc_saasXCSaaSSignupRequest", "domain")), (17, 17));
        let (longest, refused) = (format!("a{}", "b".repeat(max - 1)), format!("c{}", "d".repeat(max)));

        let (body, f5_takes_it) = f5_signup(&aws, "/account_details/domain", &longest, "longest@example.com");
        assert!(f5_takes_it);
        let (status, answer) = post(&app, SIGNUP_PATH, None, &body).await;
        assert_eq!(status, StatusCode::OK, "{longest}: {answer}");

        let (body, f5_takes_it) = f5_signup(&aws, "/account_details/domain", &refused, "refused@example.com");
        assert!(!f5_takes_it);
        let (status, answer) = post(&app, SIGNUP_PATH, None, &body).await;
        assert_eq!((status, answer["code"].as_str(), answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_INPUT"), Some("domain")), "{refused}: {answer}");
        assert_eq!(answer["message"], "domain must be at most 17 characters");

        app.drain_outbox().await;
        assert_eq!(app.outbox().await.len(), 1, "only the 17-character signup is mailed");
    }

    async fn a_signup_tos_version_of_12_characters_is_taken_and_one_of_13_refused_as_f5s_document_says(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let aws = document(AWS_ACCOUNT);
        let max = max_length(&aws, "signupAccountMeta", "tos_version");
        assert_eq!(max, 12);
        // F5's own example, "v2022.3.14", padded to the edge: a character counts once, whatever its bytes.
        let (longest, refused) = ("v2022.3.14-é".to_owned(), "v2022.03.14-é".to_owned());
        assert_eq!((longest.chars().count(), refused.chars().count()), (max, max + 1));

        let (body, f5_takes_it) = f5_signup(&aws, "/account_details/tos_version", &longest, "longest@example.com");
        assert!(f5_takes_it);
        let (status, answer) = post(&app, SIGNUP_PATH, None, &body).await;
        assert_eq!(status, StatusCode::OK, "{longest}: {answer}");

        let (body, f5_takes_it) = f5_signup(&aws, "/account_details/tos_version", &refused, "refused@example.com");
        assert!(!f5_takes_it);
        let (status, answer) = post(&app, SIGNUP_PATH, None, &body).await;
        assert_eq!((status, answer["code"].as_str(), answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_INPUT"), Some("tos_version")), "{refused}: {answer}");
        assert_eq!(answer["message"], "tos_version must be at most 12 characters");
    }

    async fn the_names_f5s_documents_reserve_are_refused_as_a_signup_domain_in_any_case(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (aws, saas) = (document(AWS_ACCOUNT), document(XC_SAAS));
        let mut reserved = not_in(&aws, "signupAccountMeta", "domain");
        reserved.extend(not_in(&saas, "xc_saasXCSaaSSignupRequest", "domain"));
        reserved.sort();
        reserved.dedup();
        assert_eq!(reserved, ["f5", "ves", "volterra"]);
        // F5's names are lower-case (`ves_object_name`), so another case is no way around the list.
        let spellings = |name: &str| [name.to_owned(), name.to_uppercase(), format!("{}{}", name[..1].to_uppercase(), &name[1..]), format!(" {name} ")];
        for name in reserved.iter().flat_map(|n| spellings(n)) {
            let (body, _) = f5_signup(&aws, "/account_details/domain", &name, "jane@example.com");
            let (status, answer) = post(&app, SIGNUP_PATH, None, &body).await;
            assert_eq!((status, answer["code"].as_str(), answer["field"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_INPUT"), Some("domain")), "{name:?}: {answer}");
        }
        let (status, answer) = post(&app, SIGNUP_PATH, None, &f5_signup(&aws, "/account_details/domain", "f5-labs", "jane@example.com").0).await;
        assert_eq!(status, StatusCode::OK, "only the names themselves are reserved: {answer}");
        app.drain_outbox().await;
        assert_eq!(app.outbox().await.len(), 1, "nothing is queued for a reserved name");
    }
}
