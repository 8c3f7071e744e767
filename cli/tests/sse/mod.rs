//! A small server-sent-events client for tests: reads a `text/event-stream` response as the
//! browser's EventSource would (events split on blank lines; `id:`, `event:`, `data:` fields;
//! `:` comments are heartbeats).

#![allow(dead_code)]

use serde_json::Value;
use std::time::Duration;

/// One event as it arrived.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

/// What came off the stream next.
#[derive(Debug, Clone)]
pub enum Item {
    Event(SseEvent),
    /// A comment line: the server's heartbeat.
    Comment,
}

pub struct SseStream {
    resp: reqwest::Response,
    buf: String,
}

/// Open `url` as `token` (with `Last-Event-ID` when given); the answer's status and, on 200,
/// the stream.
pub async fn open(
    url: &str,
    token: Option<&str>,
    last_event_id: Option<&str>,
) -> (reqwest::StatusCode, Option<SseStream>, Value) {
    let mut req = reqwest::Client::new()
        .get(url)
        .header("accept", "text/event-stream");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id);
    }
    let resp = req.send().await.expect("the api answers");
    let status = resp.status();
    if status != reqwest::StatusCode::OK {
        let body = resp.json().await.unwrap_or(Value::Null);
        return (status, None, body);
    }
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(ct.starts_with("text/event-stream"), "content-type {ct}");
    (
        status,
        Some(SseStream {
            resp,
            buf: String::new(),
        }),
        Value::Null,
    )
}

impl SseStream {
    /// The next event or comment, or `None` if nothing came within `wait`.
    pub async fn next_item(&mut self, wait: Duration) -> Option<Item> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                if let Some(item) = parse(&block) {
                    return Some(item);
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) => panic!("the stream ended"),
                Ok(Err(e)) => panic!("the stream broke: {e}"),
                Err(_) => return None,
            }
        }
    }

    /// The next event (skipping heartbeats), or `None` within `wait`.
    pub async fn next_event(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_item(left).await? {
                Item::Event(e) => return Some(e),
                Item::Comment => {}
            }
        }
    }

    /// Events until one satisfies `pred` (which is returned), within `wait`; panics if none.
    pub async fn until(
        &mut self,
        wait: Duration,
        pred: impl Fn(&SseEvent) -> bool,
    ) -> (SseEvent, Vec<SseEvent>) {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event(left).await {
                Some(e) if pred(&e) => return (e, seen),
                Some(e) => seen.push(e),
                None => panic!("no matching event within {wait:?}; saw {seen:?}"),
            }
        }
    }
}

fn parse(block: &str) -> Option<Item> {
    let mut id = None;
    let mut event = String::from("message");
    let mut data = String::new();
    let mut comment = false;
    for line in block.lines() {
        if line.starts_with(':') {
            comment = true;
        } else if let Some(v) = line.strip_prefix("id:") {
            id = Some(v.trim_start().to_owned());
        } else if let Some(v) = line.strip_prefix("event:") {
            event = v.trim_start().to_owned();
        } else if let Some(v) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    if data.is_empty() {
        return comment.then_some(Item::Comment);
    }
    Some(Item::Event(SseEvent {
        id,
        event,
        data: serde_json::from_str(&data).unwrap_or(Value::String(data)),
    }))
}
