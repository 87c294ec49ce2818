//! The TwiML fetcher: requests the voice layer's webhooks, signed like Twilio's, off the core
//! thread, and hands the answers back to the center. Failures become Twilio's error codes: 11205
//! for a connection failure or timeout, 11200 for an HTTP error status or an oversized answer.

use std::time::Duration;

use switchboard_center::Input;

use switchboard_twiml::Method;

use crate::driver::{CoreHandle, FetchJob};

/// How many TwiML webhook requests may be in flight at once.
pub const FETCHES_IN_FLIGHT: usize = 64;

/// Requests webhooks for the voice layer, signed like Twilio's, and hands the answers back to the
/// core. Failures become Twilio's error codes: 11205 for a connection failure or timeout, 11200
/// for an HTTP error status.
pub async fn fetcher(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<FetchJob>,
    core: CoreHandle,
    auth_token: String,
    timeout: Duration,
) {
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client; TwiML applications will fail");
            return;
        }
    };
    // At most FETCHES_IN_FLIGHT webhook requests at once; the others wait their turn.
    let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(FETCHES_IN_FLIGHT));
    while let Some(job) = rx.recv().await {
        let client = client.clone();
        let core = core.clone();
        let token = auth_token.clone();
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        tokio::spawn(async move {
            let _permit = permit;
            let result = fetch_one(&client, &token, &job).await;
            let _ = core
                .run(move |d| {
                    let _ = d.handle(Input::Fetched { id: job.id, result });
                })
                .await;
        });
    }
}

async fn fetch_one(
    client: &reqwest::Client,
    auth_token: &str,
    job: &FetchJob,
) -> Result<switchboard_voice::FetchResponse, switchboard_voice::FetchFailure> {
    let request = match job.method {
        Method::Post => {
            let signature = crate::signature::compute(auth_token, &job.url, &job.params);
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&job.params)
                .finish();
            client
                .post(&job.url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("X-Twilio-Signature", signature)
                .body(body)
        }
        Method::Get => {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&job.params)
                .finish();
            let sep = if job.url.contains('?') { '&' } else { '?' };
            let url = format!("{}{sep}{query}", job.url);
            let signature = crate::signature::compute(auth_token, &url, &[]);
            client.get(url).header("X-Twilio-Signature", signature)
        }
    };
    let response = request
        .header("User-Agent", "TwilioProxy/1.1")
        .header("Accept", "text/xml, application/xml")
        .send()
        .await
        .map_err(|e| switchboard_voice::FetchFailure {
            code: 11205,
            message: if e.is_timeout() {
                format!(
                    "HTTP connection failure: {} did not answer in time",
                    job.url
                )
            } else {
                format!("HTTP connection failure: {}: {e}", job.url)
            },
        })?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    // Read at most what a TwiML document may be (and one byte more, to tell it was too long):
    // a voice URL must not make us buffer whatever it sends.
    let limit = switchboard_twiml::MAX_DOCUMENT_BYTES + 1;
    let mut bytes: Vec<u8> = Vec::new();
    let mut response = response;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit.saturating_sub(bytes.len());
                bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if bytes.len() >= limit {
                    return Err(switchboard_voice::FetchFailure {
                        code: 11200,
                        message: format!(
                            "HTTP retrieval failure: {} answered more than {} bytes, the most a TwiML document may have",
                            job.url,
                            switchboard_twiml::MAX_DOCUMENT_BYTES
                        ),
                    });
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Err(switchboard_voice::FetchFailure {
                    code: 11200,
                    message: format!("HTTP retrieval failure: {}: {e}", job.url),
                })
            }
        }
    }
    let body = String::from_utf8_lossy(&bytes).into_owned();
    Ok(switchboard_voice::FetchResponse {
        status,
        content_type,
        body,
    })
}
