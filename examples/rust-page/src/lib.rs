//! A page written in Rust, without a framework: it signs in through the bridge with `authbridge::web::Client`,
//! shows who is signed in and calls the API with the authenticated fetch. Leptos, Yew and Dioxus apps use the
//! client the same way (keep one `Client` in a context or signal; call `on_notice` to re-render).
use authbridge::web::{Client, Notice, Options, Status};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};

fn show(id: &str, text: &str) {
    let element = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id(id));
    if let Some(e) = element {
        e.set_text_content(Some(text));
    }
}

/// The value of the bridge's CSRF cookie (the bridge sets it on every page it serves): the bridge wants it back
/// in `X-CSRF-Token` on each token call, which a cross-site page cannot do.
fn csrf() -> Option<String> {
    let document: web_sys::HtmlDocument = web_sys::window()?.document()?.dyn_into().ok()?;
    let cookies = document.cookie().ok()?;
    cookies.split("; ").find_map(|c| c.strip_prefix("authbridge_csrf=")).map(str::to_owned)
}

#[wasm_bindgen(start)]
pub fn main() -> Result<(), JsValue> {
    let origin = web_sys::window().ok_or("no window")?.location().origin()?;
    let auth = Client::new(&Options {
        // The reference bridge's pointservices provider (OAuth 2 shaped: access_token, expires_in); the refresh
        // token stays in the bridge.
        token_url: "/auth/pointservices/token".into(),
        api_origins: vec![origin.clone()],
        bridge_headers: csrf().map(|c| ("X-CSRF-Token".to_owned(), c)).into_iter().collect(),
        ..Options::default()
    })
    .map_err(|e| JsValue::from_str(&e.message))?;
    let status = auth.clone();
    auth.on_notice(move |notice| match notice {
        Notice::Token { expires_at, .. } => show("status", &format!("signed in; token expires at {expires_at:?}")),
        Notice::SignedOut { reason } => show("status", &format!("signed out ({reason})")),
        Notice::Error(e) => show("error", &e.message),
        Notice::Changed => show("state", &format!("{:?}", status.status())),
    });
    spawn_local(async move {
        match auth.start().await {
            Ok(true) => {
                let request = web_sys::Request::new_with_str(&format!("{origin}/api/pointservices/me")).unwrap();
                match auth.fetch(request).await {
                    Ok(response) => {
                        let response: web_sys::Response = response;
                        let text = JsFuture::from(response.text().unwrap()).await.unwrap_or_default();
                        show("me", &text.as_string().unwrap_or_default());
                    }
                    Err(e) => show("error", &format!("{e:?}")),
                }
            }
            Ok(false) => show("status", "no session: sign in"),
            Err(e) => show("error", &format!("{}: {}", e.code.as_str(), e.message)),
        }
        debug_assert!(auth.status() != Status::Starting);
    });
    Ok(())
}
