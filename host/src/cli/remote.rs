//! Commands that talk to a running host over its HTTP API, with a token
//! from the environment (so it stays out of shell history and process
//! listings), and print for people or, with `--json`, for scripts.

use super::output::say;
use anyhow::{Context, bail};
use clap::Args;
use serde_json::Value;

#[derive(Args, Clone)]
pub struct HostArgs {
    /// The host's API.
    #[arg(
        long,
        global = true,
        env = "PROVISIO_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// The environment variable that holds the API token.
    #[arg(long = "token-env", global = true, default_value = "PROVISIO_TOKEN")]
    pub token_env: String,
    /// Print the API's JSON answer instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

pub struct Client {
    pub http: reqwest::Client,
    base: String,
    token: String,
    pub json: bool,
}

impl Client {
    pub fn new(args: &HostArgs) -> anyhow::Result<Client> {
        let token = std::env::var(&args.token_env)
            .with_context(|| format!("set {} to an API token", args.token_env))?;
        Ok(Client {
            http: reqwest::Client::new(),
            base: args.url.trim_end_matches('/').to_owned(),
            token,
            json: args.json,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    /// Sends with the token; a problem document becomes the error.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the host at {}", self.base))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            match body["detail"].as_str() {
                Some(detail) => bail!(
                    "{} ({}): {detail}",
                    status.as_u16(),
                    body["code"].as_str().unwrap_or("error")
                ),
                None => bail!("{}: {body}", status.as_u16()),
            }
        }
        Ok(body)
    }

    /// Prints `value` as JSON when asked, else as `people` does.
    pub fn show(&self, value: &Value, people: impl FnOnce(&Value)) -> anyhow::Result<()> {
        if self.json {
            say!("{}", serde_json::to_string_pretty(value)?);
        } else {
            people(value);
        }
        Ok(())
    }
}

/// A field as text: strings bare, absent as `-`, anything else as JSON.
pub fn field(value: &Value, key: &str) -> String {
    match &value[key] {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Rows under a header, each column as wide as its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        say!("{}", text.trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
