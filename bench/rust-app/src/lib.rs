//! The app `make bench` builds twice (bench/rust-app.mjs): once sending a request with `fetch` by hand, once with
//! the `authbridge` feature, signing in with `authbridge::web::Client` and sending it through the client's
//! authenticated fetch. The difference between the two downloads is what depending on authbridge costs a Rust app.
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

#[wasm_bindgen(start)]
pub fn main() {
    spawn_local(async {
        let request = web_sys::Request::new_with_str("/api/me").expect_throw("a valid URL");
        if let Err(e) = send(request).await {
            wasm_bindgen::throw_val(e);
        }
    });
}

#[cfg(not(feature = "authbridge"))]
async fn send(request: web_sys::Request) -> Result<web_sys::Response, JsValue> {
    use wasm_bindgen::JsCast;
    let window = web_sys::window().ok_or("no window")?;
    Ok(wasm_bindgen_futures::JsFuture::from(window.fetch_with_request(&request)).await?.unchecked_into())
}

#[cfg(feature = "authbridge")]
async fn send(request: web_sys::Request) -> Result<web_sys::Response, JsValue> {
    use authbridge::web::{Client, Options};
    let origin = web_sys::window().ok_or("no window")?.location().origin()?;
    let error = |e: authbridge::Error| JsValue::from_str(&e.message);
    let client =
        Client::new(&Options { token_url: "/auth/token".into(), api_origins: vec![origin], ..Options::default() })
            .map_err(error)?;
    client.start().await.map_err(error)?;
    client.fetch(request).await
}
