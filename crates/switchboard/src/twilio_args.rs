//! What `provision` and `generate-env` share: where to connect and as whom.

use anyhow::{bail, Context as _};
use switchboard_provision::{Credentials, HttpApi, Target, DEFAULT_WORKSPACE};

/// Where to connect, and which workspace.
#[derive(clap::Args, Debug)]
pub struct ConnectionArgs {
    /// A Switchboard server's base URL (e.g. http://127.0.0.1:3000). Without it, Twilio's own
    /// hosts (taskrouter.twilio.com, api.twilio.com, flex-api.twilio.com).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// The TaskRouter workspace's friendly name.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_WORKSPACE)]
    pub workspace: String,
}

impl ConnectionArgs {
    /// Where requests go.
    pub fn target(&self) -> anyhow::Result<Target> {
        if let Some(base) = &self.base_url {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                bail!("--base-url \"{base}\" must start with http:// or https://");
            }
        }
        Ok(Target::from_base_url(self.base_url.as_deref()))
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The credentials from the environment: TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN, or with
/// TWILIO_API_KEY and TWILIO_API_SECRET.
pub fn credentials_from_env() -> anyhow::Result<Credentials> {
    let Some(account_sid) = env("TWILIO_ACCOUNT_SID") else {
        bail!(
            "TWILIO_ACCOUNT_SID is not set: set it with TWILIO_AUTH_TOKEN, or with TWILIO_API_KEY \
             and TWILIO_API_SECRET"
        );
    };
    let (username, password) = match (env("TWILIO_API_KEY"), env("TWILIO_API_SECRET")) {
        (Some(key), Some(secret)) => (key, secret),
        (Some(_), None) => bail!("TWILIO_API_KEY is set but TWILIO_API_SECRET is not"),
        (None, Some(_)) => bail!("TWILIO_API_SECRET is set but TWILIO_API_KEY is not"),
        (None, None) => match env("TWILIO_AUTH_TOKEN") {
            Some(token) => (account_sid.clone(), token),
            None => {
                bail!("TWILIO_AUTH_TOKEN is not set (or set TWILIO_API_KEY and TWILIO_API_SECRET)")
            }
        },
    };
    Ok(Credentials {
        account_sid,
        username,
        password,
    })
}

/// An HTTP client with the environment's credentials.
pub fn http_api(credentials: Credentials) -> anyhow::Result<HttpApi> {
    HttpApi::new(credentials).context("setting up HTTP")
}
