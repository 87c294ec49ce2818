//! REST helpers over the server's TaskRouter API, and load loops that measure it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::server::{ACCOUNT, TOKEN};

/// An authenticated client of one server.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    /// The server's base URL.
    pub base: String,
    account: String,
    token: String,
}

impl Api {
    /// A client of the server at `base`, with the credentials the benchmarks start it with.
    pub fn new(base: &str) -> anyhow::Result<Api> {
        Api::with_credentials(base, ACCOUNT, TOKEN)
    }

    /// A client of the server at `base` authenticating as `account` with `token`.
    pub fn with_credentials(base: &str, account: &str, token: &str) -> anyhow::Result<Api> {
        Ok(Api {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .timeout(Duration::from_secs(60))
                .build()?,
            base: base.trim_end_matches('/').to_owned(),
            account: account.to_owned(),
            token: token.to_owned(),
        })
    }

    /// `DELETE`; an error naming the status unless it succeeded.
    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        let r = self
            .http
            .delete(format!("{}{path}", self.base))
            .basic_auth(&self.account, Some(&self.token))
            .send()
            .await
            .with_context(|| format!("DELETE {}{path}", self.base))?;
        let status = r.status();
        if !status.is_success() {
            let body = r.text().await.unwrap_or_default();
            bail!("DELETE {}{path}: {status} {body}", self.base);
        }
        Ok(())
    }

    /// `POST` a form; the JSON answer, or an error naming the status.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<Value> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth(&self.account, Some(&self.token))
            .form(form)
            .send()
            .await
            .with_context(|| format!("POST {}{path}", self.base))?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            bail!("POST {}{path}: {status} {text}", self.base);
        }
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(body)
    }

    /// `GET`; the JSON answer.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .basic_auth(&self.account, Some(&self.token))
            .send()
            .await
            .with_context(|| format!("GET {}{path}", self.base))?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            bail!("GET {}{path}: {status} {text}", self.base);
        }
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(body)
    }

    /// A desktop access token for `worker` of `workspace`, valid for a day.
    pub async fn access_token(&self, workspace: &str, worker: &str) -> anyhow::Result<String> {
        let v = self
            .post(
                "/v1/AccessTokens",
                &[
                    ("WorkspaceSid", workspace),
                    ("WorkerSid", worker),
                    ("Ttl", "86400"),
                ],
            )
            .await?;
        v["token"].as_str().map(str::to_owned).context("no token")
    }

    /// `GET` answered with a success status, timed.
    pub async fn timed_get(&self, path: &str) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .basic_auth(&self.account, Some(&self.token))
            .send()
            .await?;
        let ok = r.status().is_success();
        let _ = r.bytes().await?;
        if !ok {
            bail!("GET {path} failed");
        }
        Ok(start.elapsed())
    }

    /// A `POST` answered with a success status, timed.
    pub async fn timed_post(&self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<Duration> {
        let start = Instant::now();
        self.post(path, form).await?;
        Ok(start.elapsed())
    }
}

/// The `sid` of a JSON answer.
pub fn sid(v: &Value) -> anyhow::Result<String> {
    v["sid"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no sid in {v}"))
}

/// `clients` loops GET `path` for `seconds`; requests answered per second.
pub async fn get_throughput(
    api: &Api,
    path: &str,
    clients: usize,
    seconds: f64,
) -> anyhow::Result<f64> {
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let api = api.clone();
        let path = path.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < until {
                api.timed_get(&path).await?;
                n += 1;
            }
            anyhow::Ok(n)
        }));
    }
    let start = Instant::now();
    let mut total = 0u64;
    for t in tasks {
        total += t.await??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// Percentiles of a set of durations.
pub fn latency(mut samples: Vec<Duration>) -> Latency {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Latency {
        p50: at(0.5),
        p99: at(0.99),
    }
}

/// Runs `items` as tasks, at most `limit` at once; their results in order, or the first error.
pub async fn bounded<F, T>(limit: usize, items: Vec<F>) -> anyhow::Result<Vec<T>>
where
    F: std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limit.max(1)));
    let mut handles = Vec::new();
    for f in items {
        let p = permits.clone().acquire_owned().await?;
        handles.push(tokio::spawn(async move {
            let _p = p;
            f.await
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await??);
    }
    Ok(out)
}
