use super::AppState;
use super::pages::{Lang, Page};
use crate::clock;
use crate::error::HttpError;
use crate::flows::Context;
use crate::store;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use minijinja::context;

/// `this_host_only`: on the public listener, the mailbox answers this host alone.
pub fn router(this_host_only: bool) -> Router<AppState> {
    let router = Router::new().route("/dev/mail", get(html)).route("/dev/mail.json", get(json));
    if this_host_only { router.route_layer(axum::middleware::from_fn(super::security::this_host_only)) } else { router }
}

async fn messages(state: &AppState) -> Result<Vec<store::devmail::DevMessage>, HttpError> {
    let mut conn = state.ctx.store.acquire().await.context("taking a read connection")?;
    Ok(store::devmail::list(&mut conn, 200).await.context("listing the dev mailbox")?)
}

async fn json(State(state): State<AppState>) -> Result<Json<Vec<store::devmail::DevMessage>>, HttpError> {
    messages(&state).await.map(Json)
}

async fn html(State(state): State<AppState>, lang: Lang) -> Response {
    let page = Page::new(&state, &lang);
    let list: Vec<_> = match messages(&state).await {
        Ok(list) => list
            .into_iter()
            .map(|m| {
                let link = m.text.split_whitespace().find(|w| w.starts_with("http://") || w.starts_with("https://")).map(str::to_owned);
                let (sent_at, sent) = (clock::rfc3339(m.created_at), page.language().date_time(m.created_at));
                context! { subject => m.subject, to => m.to, message_id => m.message_id, text => m.text, link, sent_at, sent }
            })
            .collect(),
        Err(e) => return page.error(e),
    };
    // Relative: the page is served at `/dev/mail`, under `base_path` and on the management listener alike.
    let json_url = "mail.json";
    page.render(StatusCode::OK, "devmail.html", context! { messages => list, json_url }, None)
}
