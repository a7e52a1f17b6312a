//! The request rules: which request gets the token, what each redirect hop carries, whether a redirect is
//! followed and how, which `401` refuses the token, and what a bridge call does with a redirect. Pure decisions
//! over plain facts (origins as the platform's URL parser gives them, statuses, methods, the caller's redirect
//! mode and the runtime); the executor (`js/fetch.js`) carries them out and decides nothing.
//!
//! The invariant, checked exhaustively in the tests: the token, and the caller's credentials once a request has
//! left its first origin, reach only the API origins.
//!
//! The executor's share is lookups: a URL string that starts with one of [`token_prefixes`] is an API origin's
//! without parsing, and a browser's fetch gets the redirect mode [`browser_follow`] chose for the token's header.

/// Fetch's `RequestRedirect`, as the caller passed it (`Follow` when absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectMode {
    Follow,
    Error,
    Manual,
}

impl RedirectMode {
    /// Fetch's name of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Follow => "follow",
            Self::Error => "error",
            Self::Manual => "manual",
        }
    }

    /// The mode named `name` (`Follow` for anything else, as fetch defaults).
    pub fn from_name(name: Option<&str>) -> Self {
        match name {
            Some("error") => Self::Error,
            Some("manual") => Self::Manual,
            _ => Self::Follow,
        }
    }
}

/// How a request with the token meets redirects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectPath {
    /// A browser's fetch follows them: it drops `Authorization` on a cross-origin redirect and hides the hops from
    /// scripts (the mode for other headers: [`browser_follow`]).
    Browser,
    /// Each hop is followed by hand, decided by [`next_hop`].
    ByHand,
    /// None is followed: the redirect is the answer. For a build without the by-hand code on a platform whose fetch
    /// would carry any header across origins.
    Unfollowed,
}

impl RedirectPath {
    /// The name js/fetch.js knows it by.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Browser => "browser",
            Self::ByHand => "by-hand",
            Self::Unfollowed => "unfollowed",
        }
    }
}

/// The path on this platform: a browser's fetch where the platform is one (see `browserPlatform` in
/// js/runtime.js); elsewhere (Node, Deno, workerd, whose fetch forwards any header to wherever a redirect points)
/// by hand where the build can (`by_hand`), else no redirect is followed at all.
pub fn redirect_path(browser: bool, by_hand: bool) -> RedirectPath {
    match (browser, by_hand) {
        (true, _) => RedirectPath::Browser,
        (false, true) => RedirectPath::ByHand,
        (false, false) => RedirectPath::Unfollowed,
    }
}

/// The header names a request never carries across origins: the caller's credentials (as browsers drop them,
/// Fetch's HTTP-redirect fetch), whatever header the token itself is in.
pub const CROSS_ORIGIN_DROPPED: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// Redirects followed by hand at most, as Fetch's limit.
pub const MAX_REDIRECTS: u32 = 20;

/// Whether a request to `origin` gets the token: exactly one of the API origins (scheme, host and port as the
/// platform's URL parser normalises them).
pub fn gets_token(origin: &str, api_origins: &[String]) -> bool {
    api_origins.iter().any(|o| o == origin)
}

/// The URL prefixes that give an API origin without parsing: each origin and `/`. A URL string that starts with
/// one has that origin (the authority ends at the first `/`, and the origins are as the URL parser normalises
/// them: a string in any other form, or with a userinfo, does not start with one and is parsed instead).
pub fn token_prefixes(api_origins: &[String]) -> Vec<String> {
    api_origins.iter().map(|o| format!("{o}/")).collect()
}

/// In a browser, the redirect mode of a request sent with the token in `header` that the caller lets follow
/// redirects: `Follow` only for `Authorization`, which browsers drop on a cross-origin redirect themselves (Fetch,
/// HTTP-redirect fetch); any other header would be forwarded to wherever the redirect points, so such a request
/// follows none (`Error`). A caller's own `error` or `manual` follows nothing and is kept.
pub fn browser_follow(header: &str) -> RedirectMode {
    if header.eq_ignore_ascii_case("authorization") {
        RedirectMode::Follow
    } else {
        RedirectMode::Error
    }
}

/// What to do with the answer to one hop followed by hand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hop {
    /// The answer is the response (not a redirect, or one the caller did not want followed).
    Done,
    /// Fail as fetch would, with this message.
    Fail(&'static str),
    /// Send the next hop: as a `GET` without a body when `to_get`, else the same method and body; attach the
    /// token when `token`; drop the headers in `drop`.
    Follow { to_get: bool, token: bool, drop: &'static [&'static str] },
}

/// The statuses fetch follows.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Decides a redirect answered to a hop followed by hand: `status` and whether there is a `Location`, the
/// request's `method`, the caller's `mode`, how many hops were followed, the hop's origin and the target's
/// (`None` for a target that is not http(s)).
#[allow(clippy::too_many_arguments)]
pub fn next_hop(
    status: u16,
    has_location: bool,
    method: &str,
    mode: RedirectMode,
    hops: u32,
    from: &str,
    to: Option<&str>,
    api_origins: &[String],
) -> Hop {
    if !is_redirect(status) || mode == RedirectMode::Manual || !has_location {
        return Hop::Done;
    }
    if mode == RedirectMode::Error {
        return Hop::Fail("fetch failed: redirect mode is \"error\"");
    }
    if hops >= MAX_REDIRECTS {
        return Hop::Fail("fetch failed: too many redirects");
    }
    let Some(to) = to else { return Hop::Fail("fetch failed: redirect to a non-HTTP URL") };
    // Fetch's method rules: a 303 becomes a GET (but HEAD stays), a 301/302 turns a POST into a GET.
    let to_get = (status == 303 && method != "HEAD") || (status <= 302 && method == "POST");
    let drop: &'static [&'static str] = if to == from { &[] } else { &CROSS_ORIGIN_DROPPED };
    Hop::Follow { to_get, token: gets_token(to, api_origins), drop }
}

/// The status by which an API refuses a token (RFC 6750 §3.1, `invalid_token`).
pub const REFUSAL: u16 = 401;

/// Whether an answer refuses the token: a [`REFUSAL`] from an API origin that received it. A `401` from a host an
/// API redirected to never saw the token, and must not cost a refresh (nor one per request).
pub fn refuses_token(status: u16, carried: bool) -> bool {
    status == REFUSAL && carried
}

/// In a browser, whether a response to a request sent with the token for `sent_to` (an API origin) came from
/// where the token went: the browser hides the hops, so the response's own origin (`from`, `None` when it has
/// no URL) must be the one the token was sent to. A redirect that leaves the origin and comes back is not told
/// apart; it would make one refresh, which single flight bounds.
pub fn browser_carried(sent_to: &str, from: Option<&str>, api_origins: &[String]) -> bool {
    let from = from.unwrap_or(sent_to);
    from == sent_to && gets_token(from, api_origins)
}

/// Whether the response to a request sent with the token for `sent_to` came from an origin that received the
/// token: in a browser, see [`browser_carried`]; where redirects are followed by hand, each hop to an API origin
/// carries the token ([`next_hop`]), so a response from one (`from`, `None`: `sent_to`) had it; unfollowed, the
/// answer is the first hop's.
pub fn token_reached(path: RedirectPath, sent_to: &str, from: Option<&str>, api_origins: &[String]) -> bool {
    match path {
        RedirectPath::Browser => browser_carried(sent_to, from, api_origins),
        RedirectPath::ByHand | RedirectPath::Unfollowed => gets_token(from.unwrap_or(sent_to), api_origins),
    }
}

/// Whether a bridge answer is a redirect, which a bridge call never follows (its headers and cookies are for the
/// bridge's origin alone): a 3xx, or the opaque response a browser gives for `manual`.
pub fn bridge_redirect(status: u16, opaque_redirect: bool) -> bool {
    opaque_redirect || (300..400).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &str = "https://api.example";
    const EVIL: &str = "https://evil.example";
    const OTHER_API: &str = "https://api2.example";

    fn apis() -> Vec<String> {
        vec![API.to_owned(), OTHER_API.to_owned()]
    }

    #[test]
    fn the_token_goes_to_exact_api_origins_only() {
        let apis = apis();
        assert!(gets_token(API, &apis));
        assert!(gets_token(OTHER_API, &apis));
        for origin in [EVIL, "https://api.example:8443", "http://api.example", "https://api.example.evil", "null", ""] {
            assert!(!gets_token(origin, &apis), "{origin}");
        }
    }

    #[test]
    fn each_hop_by_hand() {
        use RedirectMode::*;
        let apis = apis();
        let cases = [
            // status, location, method, mode, hops, to → decision
            (200, true, "GET", Follow, 0, Some(EVIL), Hop::Done),
            (302, false, "GET", Follow, 0, Some(EVIL), Hop::Done),
            (302, true, "GET", Manual, 0, Some(EVIL), Hop::Done),
            (304, true, "GET", Follow, 0, Some(API), Hop::Done),
            (302, true, "GET", Error, 0, Some(API), Hop::Fail("fetch failed: redirect mode is \"error\"")),
            (302, true, "GET", Follow, 20, Some(API), Hop::Fail("fetch failed: too many redirects")),
            (302, true, "GET", Follow, 0, None, Hop::Fail("fetch failed: redirect to a non-HTTP URL")),
            (302, true, "GET", Follow, 19, Some(API), Hop::Follow { to_get: false, token: true, drop: &[] }),
            (302, true, "POST", Follow, 0, Some(API), Hop::Follow { to_get: true, token: true, drop: &[] }),
            (
                301,
                true,
                "POST",
                Follow,
                0,
                Some(EVIL),
                Hop::Follow { to_get: true, token: false, drop: &CROSS_ORIGIN_DROPPED },
            ),
            (
                307,
                true,
                "POST",
                Follow,
                0,
                Some(EVIL),
                Hop::Follow { to_get: false, token: false, drop: &CROSS_ORIGIN_DROPPED },
            ),
            (
                308,
                true,
                "PUT",
                Follow,
                0,
                Some(OTHER_API),
                Hop::Follow { to_get: false, token: true, drop: &CROSS_ORIGIN_DROPPED },
            ),
            (303, true, "PUT", Follow, 0, Some(API), Hop::Follow { to_get: true, token: true, drop: &[] }),
            (303, true, "HEAD", Follow, 0, Some(API), Hop::Follow { to_get: false, token: true, drop: &[] }),
        ];
        for (status, location, method, mode, hops, to, expected) in cases {
            assert_eq!(
                next_hop(status, location, method, mode, hops, API, to, &apis),
                expected,
                "{status} {method} {mode:?} {to:?}"
            );
        }
    }

    #[test]
    fn which_401_refuses_the_token() {
        let apis = apis();
        assert!(refuses_token(401, true));
        assert!(!refuses_token(401, false), "a 401 from a host that never saw the token");
        assert!(!refuses_token(403, true));
        assert!(browser_carried(API, Some(API), &apis));
        assert!(browser_carried(API, None, &apis));
        assert!(!browser_carried(API, Some(EVIL), &apis), "redirected elsewhere: the browser dropped the token");
        assert!(
            !browser_carried(API, Some(OTHER_API), &apis),
            "another API origin, reached by a redirect, got no token"
        );
        // Followed by hand, a hop to any API origin carries the token; a hop elsewhere does not.
        use RedirectPath::*;
        assert!(token_reached(ByHand, API, Some(OTHER_API), &apis));
        assert!(token_reached(ByHand, API, None, &apis));
        assert!(!token_reached(ByHand, API, Some(EVIL), &apis));
        assert!(!token_reached(Browser, API, Some(OTHER_API), &apis));
        assert!(token_reached(Browser, API, Some(API), &apis));
        // Unfollowed, the answer is the API origin's own (a redirect returned as it came).
        assert!(token_reached(Unfollowed, API, Some(API), &apis));
        assert!(!token_reached(Unfollowed, API, Some(EVIL), &apis));
    }

    #[test]
    fn only_a_browser_or_a_by_hand_build_follows_redirects() {
        use RedirectPath::*;
        assert_eq!(redirect_path(true, true), Browser);
        assert_eq!(redirect_path(true, false), Browser, "a browser build in a browser");
        assert_eq!(redirect_path(false, true), ByHand);
        assert_eq!(redirect_path(false, false), Unfollowed, "a browser build on a server follows none");
        assert_eq!([Browser, ByHand, Unfollowed].map(RedirectPath::as_str), ["browser", "by-hand", "unfollowed"]);
    }

    #[test]
    fn bridge_calls_follow_no_redirect() {
        for status in [300, 301, 302, 303, 307, 308, 399] {
            assert!(bridge_redirect(status, false), "{status}");
        }
        assert!(bridge_redirect(0, true), "a browser's opaque redirect");
        for status in [200, 204, 401, 403, 429, 500, 503] {
            assert!(!bridge_redirect(status, false), "{status}");
        }
    }

    /// The invariant over every chain of up to three hops among four origins, every method, mode and status: the
    /// token is attached only to API origins, and once a chain has left its first origin neither the token's
    /// header nor the caller's credentials are carried to a non-API origin. (The executor builds each hop's
    /// headers from the previous hop's minus `drop`, and attaches the token only when `token`.)
    #[test]
    fn no_token_or_credential_reaches_an_origin_the_rules_do_not_allow() {
        let apis = apis();
        // A look-alike whose name starts with an API origin catches a prefix comparison.
        let origins = [API, OTHER_API, EVIL, "https://api.example.evil"];
        let statuses = [200, 301, 302, 303, 307, 308, 401];
        let methods = ["GET", "POST", "HEAD", "PUT"];
        let modes = [RedirectMode::Follow, RedirectMode::Error, RedirectMode::Manual];
        let mut chains = 0;
        for first in origins {
            for method in methods {
                for mode in modes {
                    // Each chain: a sequence of (status, target) answers.
                    let mut stack: Vec<Vec<(u16, &str)>> = vec![vec![]];
                    while let Some(chain) = stack.pop() {
                        // Replay the chain: what the executor would send at each hop.
                        let mut at = first;
                        let mut credentials = true; // the caller's own credentials still on the request
                        let mut token = gets_token(first, &apis);
                        let mut hops = 0;
                        let mut done = false;
                        assert!(!token || gets_token(at, &apis));
                        for &(status, to) in &chain {
                            match next_hop(status, true, method, mode, hops, at, Some(to), &apis) {
                                Hop::Follow { token: t, drop, .. } => {
                                    if drop.contains(&"cookie") && drop.contains(&"authorization") {
                                        credentials = false;
                                    }
                                    token = t;
                                    at = to;
                                    hops += 1;
                                }
                                _ => {
                                    done = true;
                                    break;
                                }
                            }
                            assert!(!token || gets_token(at, &apis), "the token at {at} after {chain:?}");
                            if at != first {
                                assert!(!credentials, "the caller's credentials followed to {at}: {chain:?}");
                            }
                        }
                        chains += 1;
                        if !done && chain.len() < 3 {
                            for status in statuses {
                                for to in origins {
                                    let mut next = chain.clone();
                                    next.push((status, to));
                                    stack.push(next);
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(chains > 100_000, "{chains} chains");
    }

    #[test]
    #[cfg(not(target_arch = "wasm32"))] // the `url` crate is a native dev-dependency
    fn a_url_that_starts_with_a_token_prefix_has_that_origin() {
        // Every string built from these parts that starts with a prefix must parse (WHATWG) to that prefix's
        // origin: the executor sends such a string with the token without parsing it.
        let apis = vec![
            "https://api.example".to_owned(),
            "http://127.0.0.1:8080".to_owned(),
            "https://xn--bcher-kva.example".to_owned(),
        ];
        let prefixes = token_prefixes(&apis);
        assert_eq!(prefixes, ["https://api.example/", "http://127.0.0.1:8080/", "https://xn--bcher-kva.example/"]);
        let starts = [
            "https://api.example",
            "https://API.example",
            "https://api.example.",
            "https://api.example:443",
            "https://api.example:8443",
            "https://u:p@api.example",
            "https://api.example@evil.example",
            "http://127.0.0.1:8080",
            "http://127.0.0.1:80800",
            "http://127.1:8080",
            "https://xn--bcher-kva.example",
            "https://bücher.example",
            "https://evil.example",
            " https://api.example",
            "https:api.example",
            "https:\\api.example",
        ];
        let rests = [
            "/",
            "//evil.example",
            "/\\evil.example",
            "/@evil.example",
            "/%2e%2e/",
            "/\t",
            "/?q",
            "/#h",
            "\\evil",
            "?x",
            "#/",
            "/../..//evil.example/",
        ];
        let mut checked = 0;
        for start in starts {
            for rest in rests {
                let url = format!("{start}{rest}");
                let Some(prefix) = prefixes.iter().find(|p| url.starts_with(p.as_str())) else { continue };
                let origin = url::Url::parse(&url).expect("a URL").origin().ascii_serialization();
                assert_eq!(format!("{origin}/"), *prefix, "{url}");
                checked += 1;
            }
        }
        assert!(checked >= 20, "{checked}");
    }

    #[test]
    fn a_browser_lets_only_an_authorization_token_follow_redirects() {
        for header in ["Authorization", "authorization", "AUTHORIZATION"] {
            assert_eq!(browser_follow(header), RedirectMode::Follow, "{header}");
        }
        for header in ["X-Api-Key", "X-Token", "Proxy-Authorization", "Authorization2"] {
            assert_eq!(browser_follow(header), RedirectMode::Error, "{header}");
        }
        assert_eq!(
            [RedirectMode::Follow, RedirectMode::Error, RedirectMode::Manual].map(RedirectMode::as_str),
            ["follow", "error", "manual"]
        );
    }
}
