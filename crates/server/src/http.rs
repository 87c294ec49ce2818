//! The wire, shared by every route: Twilio's error body, form parameters, paging and list
//! answers, the request context (the URLs to render with). Nothing here knows a route.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use switchboard_routing::EngineError;
use switchboard_sid::{Account, Sid, SidKind};

use crate::render::Urls;

/// Twilio's error code for an HTTP status: its own where it has one (20001 bad request, 20003
/// authentication, 20004 method not allowed, 20413 body too large, ...), else the status itself,
/// as Twilio's error dictionary does for plain HTTP errors (400, 403, 404, 410, 503).
pub fn twilio_code(status: StatusCode) -> u32 {
    match status.as_u16() {
        400 => 20001,
        401 => 20003,
        403 => 20403,
        404 => 20404,
        405 => 20004,
        409 => 20409,
        410 => 20410,
        412 => 20412,
        413 => 20413,
        422 => 20422,
        429 => 20429,
        500 => 20500,
        503 => 20503,
        other => u32::from(other),
    }
}

/// An error in Twilio's shape: `{code, message, more_info, status}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Twilio's error code.
    pub code: u32,
    /// What went wrong.
    pub message: String,
}

/// What handlers return.
pub type ApiResult = Result<Response, ApiError>;

impl ApiError {
    /// 400, 20001: a parameter is wrong.
    pub fn invalid(param: &str, message: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: 20001,
            message: format!("{param} {message}"),
        }
    }
    /// 400, 20001: a required parameter is missing.
    pub fn missing(param: &str) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: 20001,
            message: format!("Required parameter {param} missing."),
        }
    }
    /// 404, 20404.
    pub fn not_found(what: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: 20404,
            message: format!("The requested resource {what} was not found"),
        }
    }
    /// 500, 20500.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: 20500,
            message: message.into(),
        }
    }
    /// 500, 20500, for a failed read of stored data: the detail goes to the log, not the client.
    pub fn store(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "reading stored data failed");
        ApiError::internal("reading stored data failed")
    }

    /// 503, 20503.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: 20503,
            message: message.into(),
        }
    }
}

impl From<switchboard_center::CenterError> for ApiError {
    fn from(e: switchboard_center::CenterError) -> ApiError {
        use switchboard_center::ErrorKind;
        let status = match e.kind {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Gone => StatusCode::GONE,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            code: e.code,
            message: e.message,
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let (status, code) = match &e {
            EngineError::NotFound { .. } => (StatusCode::NOT_FOUND, 20404),
            EngineError::Gone { .. } => (StatusCode::GONE, 20410),
            EngineError::AlreadyExists { .. } => (StatusCode::CONFLICT, 20409),
            EngineError::Invalid { .. }
            | EngineError::Conflict(_)
            | EngineError::NoMatchingFilter { .. }
            | EngineError::LimitExceeded(_) => (StatusCode::BAD_REQUEST, 20001),
        };
        let message = match &e {
            EngineError::NotFound { kind, sid } => {
                format!("The requested resource {kind} {sid} was not found")
            }
            other => other.to_string(),
        };
        ApiError {
            status,
            code,
            message,
        }
    }
}

impl ApiError {
    /// The answer, without logging (for errors already reported where they were made).
    pub fn into_body(self) -> Response {
        let body = json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status.as_u16(),
        });
        (self.status, Json(body)).into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        self.into_body()
    }
}

/// The URLs to render, from the configured public URL or the request's Host header.
pub struct Ctx {
    /// Where resources live.
    pub urls: Urls,
    /// The request path (for list `meta`).
    pub path: String,
    /// The request query.
    pub query: Form,
}

/// What a server tells [`Ctx`] about itself: its account and, when configured, its public URL.
pub trait Site {
    /// The URL clients reach the server at, when configured.
    fn public_url(&self) -> Option<&str>;
    /// The account.
    fn account(&self) -> Sid<Account>;
}

impl<S: Site + Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, site: &S) -> Result<Ctx, ApiError> {
        Ok(Ctx {
            urls: Urls {
                base: base_url(site.public_url(), &parts.headers),
                account: site.account(),
            },
            path: parts.uri.path().to_owned(),
            query: Form::parse(parts.uri.query().unwrap_or("").as_bytes())?,
        })
    }
}

/// `http://host[:port]` from the configured public URL or the Host header.
pub fn base_url(public: Option<&str>, headers: &HeaderMap) -> String {
    if let Some(p) = public {
        return p.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// Form-encoded parameters (a body or a query string), in order, repeated names kept.
#[derive(Debug, Clone, Default)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Parses `a=1&b=2` (`application/x-www-form-urlencoded`: `+` is a space, `%XX` a byte).
    /// Names and values must be UTF-8 once decoded; a parameter that is not is refused by name
    /// rather than stored with replacement characters.
    pub fn parse(bytes: &[u8]) -> Result<Form, ApiError> {
        fn decode(raw: &[u8]) -> Option<String> {
            let spaced: Vec<u8> = raw
                .iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect();
            String::from_utf8(percent_encoding::percent_decode(&spaced).collect()).ok()
        }
        let mut pairs = Vec::new();
        for piece in bytes.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match piece.iter().position(|&b| b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &[][..]),
            };
            let Some(name) = decode(name) else {
                let shown = String::from_utf8_lossy(name).into_owned();
                return Err(ApiError::invalid(
                    &format!("The parameter name {shown:?}"),
                    "is not valid UTF-8",
                ));
            };
            let Some(value) = decode(value) else {
                return Err(ApiError::invalid(&name, "is not valid UTF-8"));
            };
            pairs.push((name, value));
        }
        Ok(Form { pairs })
    }

    /// All pairs.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value given for `name`, also splitting comma-separated lists.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// An owned value.
    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    /// A value that must be present and not empty.
    pub fn required(&self, name: &str) -> Result<String, ApiError> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Ok(v.to_owned()),
            _ => Err(ApiError::missing(name)),
        }
    }

    /// A boolean: `true`, `1` and `yes` (any case) are true, anything else is false.
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name)
            .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
    }

    /// A non-negative integer.
    pub fn uint<T: TryFrom<u64>>(&self, name: &str) -> Result<Option<T>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        v.trim()
            .parse::<u64>()
            .ok()
            .and_then(|n| T::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid(name, format!("must be a non-negative integer, got {v:?}"))
            })
    }

    /// A URL we are to call (a webhook, a callback, TwiML): `None` when not given, `Some(None)`
    /// when given empty (which clears it), else the URL. It must be absolute `http` or `https`
    /// with a host, and hold no whitespace or control characters (which URL parsers would
    /// silently drop, and which must never reach a request line or a header).
    pub fn callback_url(&self, name: &str) -> Result<Option<Option<String>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some("") => Ok(Some(None)),
            Some(v) if is_callback_url(v) => Ok(Some(Some(v.to_owned()))),
            Some(v) => Err(ApiError::invalid(
                name,
                format!(
                    "must be an absolute http or https URL with a host and no spaces or control \
                     characters, got {v:?}"
                ),
            )),
        }
    }

    /// Checks each of these URL parameters that is given (for those stored but not called yet).
    pub fn check_callback_urls(&self, names: &[&str]) -> Result<(), ApiError> {
        names
            .iter()
            .try_for_each(|name| self.callback_url(name).map(drop))
    }

    /// A SID of kind `K`.
    pub fn sid<K: SidKind>(&self, name: &str) -> Result<Option<Sid<K>>, ApiError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<Sid<K>>()
                    .map_err(|e| ApiError::invalid(name, format!("is invalid: {e}")))
            })
            .transpose()
    }
}

/// Whether `v` is a URL we may call: absolute `http`/`https` with a host, no whitespace or control
/// characters anywhere.
pub fn is_callback_url(v: &str) -> bool {
    if v.chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return false;
    }
    // The URL standard forgives `http:host` and `http:///host`; a URL we store and sign must
    // say what it means, so the authority comes right after `//`.
    let Some(rest) = ["https://", "http://"].iter().find_map(|p| {
        v.get(..p.len())
            .filter(|head| head.eq_ignore_ascii_case(p))
            .map(|_| &v[p.len()..])
    }) else {
        return false;
    };
    if rest.is_empty() || rest.starts_with('/') {
        return false;
    }
    reqwest::Url::parse(v).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// A SID from a path segment; anything else is a 404, as Twilio answers.
pub fn path_sid<K: SidKind>(segment: &str, what: &str) -> Result<Sid<K>, ApiError> {
    segment
        .parse()
        .map_err(|_| ApiError::not_found(format!("{what} {segment}")))
}

/// Page selection: `PageSize` (default 50, at most 1,000) and `Page` (or our `PageToken`).
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// 0-based page.
    pub page: usize,
    /// Items per page.
    pub size: usize,
}

impl Paging {
    /// From a query.
    pub fn from(q: &Form) -> Result<Paging, ApiError> {
        let size = q.uint::<usize>("PageSize")?.unwrap_or(50);
        if size == 0 || size > 1000 {
            return Err(ApiError::invalid("PageSize", "must be between 1 and 1000"));
        }
        let page = match q.uint::<usize>("Page")? {
            Some(p) => p,
            None => q
                .get("PageToken")
                .and_then(|t| t.strip_prefix("PT"))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
        };
        Ok(Paging { page, size })
    }

    /// The offset of the first item.
    pub fn offset(&self) -> usize {
        self.page.saturating_mul(self.size)
    }
}

/// A list answer: one page of `items` (already cut), under `key`, with Twilio's `meta`.
pub fn list(ctx: &Ctx, key: &str, paging: Paging, items: Vec<Value>, has_more: bool) -> Response {
    let keep: Vec<(String, String)> = ctx
        .query
        .pairs()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "Page" | "PageSize" | "PageToken"))
        .cloned()
        .collect();
    let page_url = |page: usize| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.extend_pairs(&keep);
        s.append_pair("PageSize", &paging.size.to_string());
        s.append_pair("Page", &page.to_string());
        if page > 0 {
            s.append_pair("PageToken", &format!("PT{page}"));
        }
        format!("{}{}?{}", ctx.urls.base, ctx.path, s.finish())
    };
    let body = json!({
        key: items,
        "meta": {
            "page": paging.page,
            "page_size": paging.size,
            "first_page_url": page_url(0),
            "previous_page_url": (paging.page > 0).then(|| page_url(paging.page - 1)),
            "next_page_url": has_more.then(|| page_url(paging.page + 1)),
            "url": page_url(paging.page),
            "key": key,
        },
    });
    Json(body).into_response()
}

/// Cuts one page out of a full list.
pub fn page_of<T>(all: Vec<T>, paging: Paging) -> (Vec<T>, bool) {
    let total = all.len();
    let start = paging.offset().min(total);
    let end = start.saturating_add(paging.size).min(total);
    let has_more = end < total;
    let items = all.into_iter().skip(start).take(end - start).collect();
    (items, has_more)
}

/// `201 Created` with a JSON body.
pub fn created(v: Value) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

/// `200 OK` with a JSON body.
pub fn ok(v: Value) -> Response {
    Json(v).into_response()
}

/// `204 No Content`.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A list in the 2010-04-01 shape: the items under `key`, then `first_page_uri`,
/// `next_page_uri`, `previous_page_uri`, `page`, `page_size`, `start`, `end` and `uri`, the URIs
/// relative to the host as Twilio writes them (the library makes them absolute).
pub fn list2010(
    ctx: &Ctx,
    key: &str,
    paging: Paging,
    items: Vec<Value>,
    has_more: bool,
) -> Response {
    let keep: Vec<(String, String)> = ctx
        .query
        .pairs()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "Page" | "PageSize" | "PageToken"))
        .cloned()
        .collect();
    let page_uri = |page: usize| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.extend_pairs(&keep);
        s.append_pair("PageSize", &paging.size.to_string());
        s.append_pair("Page", &page.to_string());
        if page > 0 {
            s.append_pair("PageToken", &format!("PT{page}"));
        }
        format!("{}?{}", ctx.path, s.finish())
    };
    let start = paging.offset();
    let end = (start + items.len()).saturating_sub(1).max(start);
    let body = json!({
        key: items,
        "first_page_uri": page_uri(0),
        "next_page_uri": has_more.then(|| page_uri(paging.page + 1)),
        "previous_page_uri": (paging.page > 0).then(|| page_uri(paging.page - 1)),
        "page": paging.page,
        "page_size": paging.size,
        "start": start,
        "end": end,
        "uri": page_uri(paging.page),
    });
    Json(body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_as_urlencoded_and_refuse_invalid_utf8() {
        let f = Form::parse(b"A=1&B=x+y%2Bz&A=2&C&&D=caf%C3%A9&=e").unwrap();
        assert_eq!(
            f.pairs(),
            [
                ("A".to_owned(), "1".to_owned()),
                ("B".to_owned(), "x y+z".to_owned()),
                ("A".to_owned(), "2".to_owned()),
                ("C".to_owned(), String::new()),
                ("D".to_owned(), "café".to_owned()),
                (String::new(), "e".to_owned()),
            ]
        );
        assert_eq!(f.get("A"), Some("2"));
        // A stray `%` is kept, as browsers and form_urlencoded do.
        assert_eq!(Form::parse(b"P=100%").unwrap().get("P"), Some("100%"));
        for (input, message) in [
            (&b"FriendlyName=%FF"[..], "FriendlyName is not valid UTF-8"),
            (b"A=1&FriendlyName=ok%C3", "FriendlyName is not valid UTF-8"),
            (b"FriendlyName=\xff", "FriendlyName is not valid UTF-8"),
            (
                b"Na%FFme=x",
                "The parameter name \"Na%FFme\" is not valid UTF-8",
            ),
        ] {
            let e = Form::parse(input).unwrap_err();
            assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, 20001));
            assert_eq!(e.message, message, "{input:?}");
        }
    }

    #[test]
    fn callback_urls_are_absolute_http_without_control_characters() {
        for good in [
            "https://example.com/x?y=1",
            "http://127.0.0.1:8080",
            "HTTPS://Example.com/Path",
            "http://user:pass@hooks.example.com/a%20b",
            "http://[::1]:3000/events",
        ] {
            assert!(is_callback_url(good), "{good}");
        }
        for bad in [
            "ftp://example.com",
            "/relative",
            "https://",
            "https:///nohost",
            "http:example.com",
            "http:\\\\example.com",
            "https://exa mple.com",
            "http://example.com/x\r\nX-Injected: 1",
            "http://example.com/\t",
            "http://example.com/\u{7f}",
            " http://example.com",
            "javascript:alert(1)",
            "not a url",
            "http://:80/x",
        ] {
            assert!(!is_callback_url(bad), "{bad:?}");
        }
        let form = Form::parse(b"Url=&Good=http%3A%2F%2Fx.test%2F&Bad=javascript%3Ax").unwrap();
        assert_eq!(form.callback_url("Missing").unwrap(), None);
        assert_eq!(form.callback_url("Url").unwrap(), Some(None));
        assert_eq!(
            form.callback_url("Good").unwrap(),
            Some(Some("http://x.test/".to_owned()))
        );
        let e = form.callback_url("Bad").unwrap_err();
        assert_eq!(e.code, 20001);
        assert!(e.message.starts_with("Bad must be"), "{}", e.message);
        assert!(form.check_callback_urls(&["Good", "Missing"]).is_ok());
        assert!(form.check_callback_urls(&["Good", "Bad"]).is_err());
    }

    #[test]
    fn statuses_map_to_twilio_codes() {
        for (status, code) in [
            (400, 20001),
            (401, 20003),
            (404, 20404),
            (405, 20004),
            (408, 408),
            (413, 20413),
            (414, 414),
            (431, 431),
            (500, 20500),
            (503, 20503),
        ] {
            assert_eq!(
                twilio_code(StatusCode::from_u16(status).unwrap()),
                code,
                "{status}"
            );
        }
    }
}
