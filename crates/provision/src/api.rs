//! The HTTP side: where each of Twilio's services lives, how requests are authenticated, and a
//! small [`Api`] trait (one method: send a request, get JSON or an error) that the rest of the
//! crate is written against, so the logic can be tested without a network.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// Twilio's services, each on its own host at Twilio and all on one host at Switchboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// TaskRouter (`/v1/Workspaces`).
    TaskRouter,
    /// The 2010-04-01 REST API (`/2010-04-01/Accounts/...`: applications).
    Api,
    /// Flex (`/v1/Configuration`).
    Flex,
}

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Twilio's own hosts.
    Twilio,
    /// A Switchboard server at this base URL (no trailing slash).
    Switchboard(String),
}

impl Target {
    /// A Switchboard server at `base`, or Twilio when `base` is `None`.
    pub fn from_base_url(base: Option<&str>) -> Target {
        match base {
            Some(b) => Target::Switchboard(b.trim_end_matches('/').to_string()),
            None => Target::Twilio,
        }
    }

    /// The base URL of a service (no trailing slash).
    pub fn base(&self, service: Service) -> &str {
        match self {
            Target::Switchboard(base) => base,
            Target::Twilio => match service {
                Service::TaskRouter => "https://taskrouter.twilio.com",
                Service::Api => "https://api.twilio.com",
                Service::Flex => "https://flex-api.twilio.com",
            },
        }
    }

    /// Whether this is a Switchboard server.
    pub fn is_switchboard(&self) -> bool {
        matches!(self, Target::Switchboard(_))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Twilio => f.write_str("Twilio"),
            Target::Switchboard(base) => write!(f, "Switchboard at {base}"),
        }
    }
}

/// Who we are: the account (for paths) and the Basic-auth pair (the account SID and auth token,
/// or an API key and its secret).
#[derive(Clone)]
pub struct Credentials {
    /// The account SID (`AC…`), used in `/2010-04-01/Accounts/{AC}` paths.
    pub account_sid: String,
    /// The Basic-auth user: the account SID or an API key SID (`SK…`).
    pub username: String,
    /// The auth token or the API key's secret.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("account_sid", &self.account_sid)
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// A request body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No body (GET).
    None,
    /// Form parameters (TaskRouter, 2010-04-01).
    Form(Vec<(String, String)>),
    /// A JSON document (Flex Configuration).
    Json(Value),
}

/// A failed request: the HTTP status (none when the server was not reached) and Twilio's error
/// message (or what else explains the failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// The HTTP status, if an answer came back.
    pub status: Option<u16>,
    /// Twilio's `message`, or the transport error.
    pub message: String,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "HTTP {status}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for HttpError {}

/// Sends requests. `url` is absolute; `query` is appended to it.
pub trait Api {
    /// Sends one request and returns the JSON answer (`Value::Null` for an empty body).
    fn send(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Body,
    ) -> Result<Value, HttpError>;
}

/// The methods this crate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Fetch or list.
    Get,
    /// Create or update.
    Post,
}

/// [`Api`] over reqwest's blocking client with HTTP Basic authentication.
pub struct HttpApi {
    client: reqwest::blocking::Client,
    credentials: Credentials,
}

impl HttpApi {
    /// A client authenticating with `credentials`.
    pub fn new(credentials: Credentials) -> Result<HttpApi, HttpError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("switchboard-provision/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError {
                status: None,
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(HttpApi {
            client,
            credentials,
        })
    }
}

impl Api for HttpApi {
    fn send(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Body,
    ) -> Result<Value, HttpError> {
        let mut request = match method {
            Method::Get => self.client.get(url),
            Method::Post => self.client.post(url),
        }
        .basic_auth(&self.credentials.username, Some(&self.credentials.password))
        .header(reqwest::header::ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        request = match body {
            Body::None => request,
            Body::Form(params) => request.form(&params),
            Body::Json(doc) => request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(doc.to_string()),
        };
        let response = request.send().map_err(|e| HttpError {
            status: None,
            message: format!("cannot reach {url}: {}", error_chain(&e)),
        })?;
        let status = response.status();
        let text = response.text().map_err(|e| HttpError {
            status: Some(status.as_u16()),
            message: format!("cannot read the answer: {}", error_chain(&e)),
        })?;
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        if !status.is_success() {
            return Err(HttpError {
                status: Some(status.as_u16()),
                message: error_message(parsed.as_ref(), &text, status),
            });
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        parsed.ok_or_else(|| HttpError {
            status: Some(status.as_u16()),
            message: format!("the answer is not JSON: {}", truncate(&text)),
        })
    }
}

/// Twilio's `message` from an error body, else the body's text, else the status's reason.
fn error_message(parsed: Option<&Value>, text: &str, status: reqwest::StatusCode) -> String {
    if let Some(message) = parsed
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
    {
        return message.to_string();
    }
    if !text.trim().is_empty() {
        return truncate(text.trim());
    }
    status
        .canonical_reason()
        .unwrap_or("no message")
        .to_string()
}

fn truncate(text: &str) -> String {
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// The Twilio resources this crate reads and writes, over an [`Api`].
pub struct Client<'a> {
    api: &'a dyn Api,
    target: Target,
    account_sid: String,
}

/// The largest page TaskRouter and the 2010 API serve.
const PAGE_SIZE: &str = "1000";

impl<'a> Client<'a> {
    /// Resources at `target` for `account_sid`, through `api`.
    pub fn new(api: &'a dyn Api, target: Target, account_sid: impl Into<String>) -> Client<'a> {
        Client {
            api,
            target,
            account_sid: account_sid.into(),
        }
    }

    /// Where requests go.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The account SID.
    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    fn url(&self, service: Service, path: &str) -> String {
        format!("{}{path}", self.target.base(service))
    }

    /// `GET` a TaskRouter list, following `meta.next_page_url`.
    fn taskrouter_list(
        &self,
        path: &str,
        key: &str,
        filters: &[(&str, &str)],
    ) -> Result<Vec<Value>, HttpError> {
        let mut query: Vec<(&str, &str)> = filters.to_vec();
        query.push(("PageSize", PAGE_SIZE));
        let mut page = self.api.send(
            Method::Get,
            &self.url(Service::TaskRouter, path),
            &query,
            Body::None,
        )?;
        let mut items = Vec::new();
        // Bounded, in case a server keeps answering with a next page.
        for _ in 0..1000 {
            items.extend(take_items(&mut page, key));
            let next = page
                .pointer("/meta/next_page_url")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
                .map(str::to_string);
            let Some(next) = next else { break };
            page = self.api.send(Method::Get, &next, &[], Body::None)?;
        }
        Ok(items)
    }

    /// `GET` a 2010-04-01 list, following `next_page_uri` (relative to the API's host).
    fn api2010_list(
        &self,
        path: &str,
        key: &str,
        filters: &[(&str, &str)],
    ) -> Result<Vec<Value>, HttpError> {
        let mut query: Vec<(&str, &str)> = filters.to_vec();
        query.push(("PageSize", PAGE_SIZE));
        let mut page = self.api.send(
            Method::Get,
            &self.url(Service::Api, path),
            &query,
            Body::None,
        )?;
        let mut items = Vec::new();
        for _ in 0..1000 {
            items.extend(take_items(&mut page, key));
            let next = page
                .get("next_page_uri")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
                .map(str::to_string);
            let Some(next) = next else { break };
            page = self
                .api
                .send(Method::Get, &self.url(Service::Api, &next), &[], Body::None)?;
        }
        Ok(items)
    }

    /// Workspaces, optionally only those with this friendly name.
    pub fn workspaces(&self, friendly_name: Option<&str>) -> Result<Vec<Value>, HttpError> {
        let filters: Vec<(&str, &str)> = friendly_name
            .map(|n| vec![("FriendlyName", n)])
            .unwrap_or_default();
        self.taskrouter_list("/v1/Workspaces", "workspaces", &filters)
    }

    /// Creates a workspace (TaskRouter adds its default activities and task channels).
    pub fn create_workspace(&self, friendly_name: &str) -> Result<Value, HttpError> {
        self.api.send(
            Method::Post,
            &self.url(Service::TaskRouter, "/v1/Workspaces"),
            &[],
            form(&[("FriendlyName", friendly_name)]),
        )
    }

    /// A workspace's task queues.
    pub fn task_queues(&self, workspace: &str) -> Result<Vec<Value>, HttpError> {
        self.taskrouter_list(
            &format!("/v1/Workspaces/{workspace}/TaskQueues"),
            "task_queues",
            &[],
        )
    }

    /// Creates (`sid` = `None`) or updates a task queue.
    pub fn save_task_queue(
        &self,
        workspace: &str,
        sid: Option<&str>,
        params: &[(&str, &str)],
    ) -> Result<Value, HttpError> {
        let path = match sid {
            Some(sid) => format!("/v1/Workspaces/{workspace}/TaskQueues/{sid}"),
            None => format!("/v1/Workspaces/{workspace}/TaskQueues"),
        };
        self.api.send(
            Method::Post,
            &self.url(Service::TaskRouter, &path),
            &[],
            form(params),
        )
    }

    /// A workspace's workflows.
    pub fn workflows(&self, workspace: &str) -> Result<Vec<Value>, HttpError> {
        self.taskrouter_list(
            &format!("/v1/Workspaces/{workspace}/Workflows"),
            "workflows",
            &[],
        )
    }

    /// Creates (`sid` = `None`) or updates a workflow.
    pub fn save_workflow(
        &self,
        workspace: &str,
        sid: Option<&str>,
        params: &[(&str, &str)],
    ) -> Result<Value, HttpError> {
        let path = match sid {
            Some(sid) => format!("/v1/Workspaces/{workspace}/Workflows/{sid}"),
            None => format!("/v1/Workspaces/{workspace}/Workflows"),
        };
        self.api.send(
            Method::Post,
            &self.url(Service::TaskRouter, &path),
            &[],
            form(params),
        )
    }

    /// TwiML applications, optionally only those with this friendly name.
    pub fn applications(&self, friendly_name: Option<&str>) -> Result<Vec<Value>, HttpError> {
        let filters: Vec<(&str, &str)> = friendly_name
            .map(|n| vec![("FriendlyName", n)])
            .unwrap_or_default();
        self.api2010_list(
            &format!(
                "/2010-04-01/Accounts/{}/Applications.json",
                self.account_sid
            ),
            "applications",
            &filters,
        )
    }

    /// Creates (`sid` = `None`) or updates a TwiML application.
    pub fn save_application(
        &self,
        sid: Option<&str>,
        params: &[(&str, &str)],
    ) -> Result<Value, HttpError> {
        let path = match sid {
            Some(sid) => format!(
                "/2010-04-01/Accounts/{}/Applications/{sid}.json",
                self.account_sid
            ),
            None => format!(
                "/2010-04-01/Accounts/{}/Applications.json",
                self.account_sid
            ),
        };
        self.api.send(
            Method::Post,
            &self.url(Service::Api, &path),
            &[],
            form(params),
        )
    }

    /// The Flex Configuration.
    pub fn flex_configuration(&self) -> Result<Value, HttpError> {
        self.api.send(
            Method::Get,
            &self.url(Service::Flex, "/v1/Configuration"),
            &[],
            Body::None,
        )
    }

    /// Replaces the top-level keys of the Flex Configuration named in `changes`.
    pub fn update_flex_configuration(
        &self,
        changes: serde_json::Map<String, Value>,
    ) -> Result<Value, HttpError> {
        let mut body = changes;
        body.insert(
            "account_sid".into(),
            Value::String(self.account_sid.clone()),
        );
        self.api.send(
            Method::Post,
            &self.url(Service::Flex, "/v1/Configuration"),
            &[],
            Body::Json(Value::Object(body)),
        )
    }
}

fn form(params: &[(&str, &str)]) -> Body {
    Body::Form(
        params
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
    )
}

fn take_items(page: &mut Value, key: &str) -> Vec<Value> {
    match page.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

/// A string field of a resource, or `""`.
pub fn field<'v>(resource: &'v Value, key: &str) -> &'v str {
    resource.get(key).and_then(Value::as_str).unwrap_or("")
}
