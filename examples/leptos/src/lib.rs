//! A Leptos app (client-side rendering) signed in through authbridge's Rust API: it signs in at the reference
//! bridge, gets its access token from authbridge, calls the API with the authenticated fetch, shows the token's
//! claims and signs out.
//!
//! One `authbridge::web::Client` serves the whole app. It holds an `Rc` (it is not `Send`), so it is kept with
//! `StoredValue::new_local` and handed down through context (`provide_context`/`expect_context`): components
//! copy the `StoredValue` handle, never the client. The client's notices (`on_notice`) set ordinary signals,
//! which is all the view reads.
use authbridge::web::{Client, Notice, Options, Status};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The app's one client, as the components reach it.
type Auth = StoredValue<Client, LocalStorage>;

/// What the view shows: every field is a plain `Send` value set from the client's notices and calls.
#[derive(Clone, Copy)]
struct Shown {
    status: RwSignal<String>,
    claims: RwSignal<String>,
    me: RwSignal<String>,
    error: RwSignal<String>,
}

/// The value of the bridge's CSRF cookie (the bridge sets it on every page it serves): the bridge wants it back
/// in `X-CSRF-Token` on each session and token call.
fn csrf() -> String {
    let document: Option<web_sys::HtmlDocument> = document().dyn_into().ok();
    let cookies = document.and_then(|d| d.cookie().ok()).unwrap_or_default();
    cookies.split("; ").find_map(|c| c.strip_prefix("authbridge_csrf=")).unwrap_or_default().to_owned()
}

/// Shows the token's claims and the API's answer to an authenticated call.
async fn load(auth: Auth, shown: Shown) {
    let client = auth.get_value();
    let claims = client.claims().and_then(|c| js_sys::JSON::stringify(&c).ok()).and_then(|s| s.as_string());
    shown.claims.set(claims.unwrap_or_default());
    let origin = window().location().origin().unwrap_or_default();
    let request = web_sys::Request::new_with_str(&format!("{origin}/api/pointservices/me")).expect_throw("a valid URL");
    match client.fetch(request).await {
        Ok(response) => {
            let text = match response.text() {
                Ok(promise) => JsFuture::from(promise).await.ok().and_then(|t| t.as_string()),
                Err(_) => None,
            };
            shown.me.set(text.unwrap_or_default());
        }
        Err(e) => shown.error.set(format!("{e:?}")),
    }
}

/// Signs in at the bridge (the demo's sign-in, not authbridge's part: the password goes to the bridge, which
/// keeps the provider's refresh token), then reloads: the new page's client starts with the session.
async fn sign_in(username: String, password: String) -> Result<(), String> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let headers = web_sys::Headers::new().map_err(|_| "headers")?;
    headers.set("content-type", "application/json").map_err(|_| "headers")?;
    headers.set("x-csrf-token", &csrf()).map_err(|_| "headers")?;
    init.set_headers(&headers);
    let body = js_sys::Object::new();
    for (k, v) in [("username", username), ("password", password), ("provider", "pointservices".to_owned())] {
        js_sys::Reflect::set(&body, &k.into(), &v.into()).map_err(|_| "body")?;
    }
    let text = js_sys::JSON::stringify(&body).map_err(|_| "body")?;
    init.set_body(&text);
    let request = web_sys::Request::new_with_str_and_init("/session", &init).map_err(|_| "request")?;
    let response: web_sys::Response =
        JsFuture::from(window().fetch_with_request(&request)).await.map_err(|_| "network")?.unchecked_into();
    if !response.ok() {
        return Err(format!("sign-in: {}", response.status()));
    }
    window().location().reload().map_err(|_| "reload".to_owned())
}

#[component]
fn SignIn() -> impl IntoView {
    let shown = expect_context::<Shown>();
    let username = RwSignal::new(String::from("ada"));
    let password = RwSignal::new(String::from("lovelace"));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        spawn_local(async move {
            if let Err(e) = sign_in(username.get_untracked(), password.get_untracked()).await {
                shown.error.set(e);
            }
        });
    };
    view! {
        <form id="signin" on:submit=submit>
            <input name="username" autocomplete="username" bind:value=username />
            " "
            <input name="password" type="password" autocomplete="current-password" bind:value=password />
            " "
            <button>"Sign in at the bridge"</button>
        </form>
    }
}

#[component]
fn SignedIn() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let shown = expect_context::<Shown>();
    let sign_out = move |_| {
        spawn_local(async move {
            // The local session ends either way; an error says the bridge did not confirm.
            if let Err(e) = auth.get_value().sign_out().await {
                shown.error.set(format!("{}: {}", e.code.as_str(), e.message));
            }
        });
    };
    view! {
        <h2>"Claims"</h2>
        <pre id="claims">{move || shown.claims.get()}</pre>
        <h2>"The API's answer"</h2>
        <pre id="me">{move || shown.me.get()}</pre>
        <button id="signout" on:click=sign_out>"Sign out"</button>
    }
}

#[component]
fn App() -> impl IntoView {
    let origin = window().location().origin().unwrap_or_default();
    let client = Client::new(&Options {
        // The reference bridge's pointservices provider (OAuth 2 shaped: access_token, expires_in); the refresh
        // token stays in the bridge.
        token_url: "/auth/pointservices/token".into(),
        api_origins: vec![origin],
        bridge_headers: [("X-CSRF-Token".to_owned(), csrf())].into_iter().collect(),
        ..Options::default()
    })
    .expect_throw("valid options");
    let auth: Auth = StoredValue::new_local(client);
    let shown = Shown {
        status: RwSignal::new(String::from("Starting")),
        claims: RwSignal::new(String::new()),
        me: RwSignal::new(String::new()),
        error: RwSignal::new(String::new()),
    };
    provide_context(auth);
    provide_context(shown);

    // The listener reaches the client through the `StoredValue` (a copy of the client here would keep it alive
    // from inside itself).
    auth.with_value(|client| {
        client.on_notice(move |notice| match notice {
            Notice::Changed => shown.status.set(format!("{:?}", auth.with_value(Client::status))),
            Notice::SignedOut { .. } => {
                shown.claims.set(String::new());
                shown.me.set(String::new());
            }
            Notice::Error(e) => shown.error.set(format!("{}: {}", e.code.as_str(), e.message)),
            _ => {}
        });
    });
    spawn_local(async move {
        match auth.get_value().start().await {
            Ok(true) => load(auth, shown).await,
            Ok(false) => {}
            Err(e) => shown.error.set(format!("{}: {}", e.code.as_str(), e.message)),
        }
    });
    // The client ends with the app.
    on_cleanup(move || auth.with_value(Client::free));

    let signed_in = move || shown.status.get() == format!("{:?}", Status::SignedIn);
    view! {
        <h1>"authbridge in a Leptos app"</h1>
        <p>"State: " <b id="state">{move || shown.status.get()}</b></p>
        <p id="error">{move || shown.error.get()}</p>
        <Show when=signed_in fallback=|| view! { <SignIn /> }>
            <SignedIn />
        </Show>
    }
}

#[wasm_bindgen(start)]
pub fn main() {
    leptos::mount::mount_to_body(App);
}
