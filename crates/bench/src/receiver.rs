//! Webhook receiver for the notify scenario: answers Rolo's validation handshake and records
//! when each contact's `created` notification arrives.
//!
//! A hyper 1 HTTP/1.1 server on the bench's own runtime, so no extra threads compete with the
//! server for the cores.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// Upper bound on a request body; a batch of 256 notifications is about 150 KiB.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// What the receiver has seen so far.
#[derive(Debug, Default)]
pub struct Seen {
    /// When each contact's first `created` notification arrived, by contact id.
    pub created: HashMap<String, Instant>,
    /// POSTs that carried notifications.
    pub batches: u64,
    /// Repeated notifications for an id already seen (delivery is at least once).
    pub duplicates: u64,
    /// Notifications that are not `created` with our clientState, and bodies that are not JSON.
    pub unexpected: u64,
    /// Validation handshakes answered.
    pub validations: u64,
}

/// A running receiver; dropping it stops it and closes its connections.
pub struct Receiver {
    /// The notificationUrl to subscribe with.
    pub url: String,
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Listens on a free loopback port (Rolo allows plain http to loopback hosts only). Only
    /// notifications carrying `client_state` count as ours.
    pub async fn start(client_state: &str) -> Result<Receiver, String> {
        let listener =
            TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("starting the webhook receiver: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("webhook receiver address: {e}"))?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (shared, client_state) = (Arc::clone(&seen), Arc::<str>::from(client_state));
        let task = tokio::spawn(async move {
            // Owned here, so aborting this task drops (and closes) every connection.
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((sock, _)) => {
                            let _ = sock.set_nodelay(true);
                            let (seen, state) = (Arc::clone(&shared), Arc::clone(&client_state));
                            let service = service_fn(move |req| handle(req, Arc::clone(&seen), Arc::clone(&state)));
                            conns.spawn(async move {
                                let _ = http1::Builder::new().serve_connection(TokioIo::new(sock), service).await;
                            });
                        }
                        // E.g. out of file descriptors: back off instead of spinning.
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    },
                    // Reap finished connections so the set does not grow.
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Ok(Receiver { url: format!("http://{addr}/hook"), seen, task })
    }

    pub fn seen(&self) -> MutexGuard<'_, Seen> {
        lock(&self.seen)
    }
}

fn lock(m: &Mutex<Seen>) -> MutexGuard<'_, Seen> {
    // Counters stay meaningful even if a holder panicked.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One request: its body is read whole, then answered by `respond`.
async fn handle(
    req: hyper::Request<Incoming>,
    seen: Arc<Mutex<Seen>>,
    client_state: Arc<str>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let method = req.method().as_str().to_owned();
    let target = req.uri().path_and_query().map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => return Ok(answer(Answer { status: 400, content_type: None, body: Vec::new() })),
    };
    // The delivery time: the whole notification has been read.
    let arrived = Instant::now();
    let req = Request { method, target, body };
    Ok(answer(respond(&req, arrived, &client_state, &seen)))
}

fn answer(a: Answer) -> hyper::Response<Full<Bytes>> {
    let mut resp = hyper::Response::new(Full::new(Bytes::from(a.body)));
    *resp.status_mut() = hyper::StatusCode::from_u16(a.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(t) = a.content_type {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(t));
    }
    resp
}

/// One received request.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The request target as sent, e.g. `/hook?validationToken=...`.
    pub target: String,
    pub body: Vec<u8>,
}

/// What to answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
}

/// The answer to `req`, recording notifications that `arrived` in `seen`.
fn respond(req: &Request, arrived: Instant, client_state: &str, seen: &Mutex<Seen>) -> Answer {
    let plain = |status: u16| Answer { status, content_type: None, body: Vec::new() };
    // The handshake: 200 with the decoded token as plain text.
    if let Some(token) = query_param(&req.target, "validationToken") {
        lock(seen).validations += 1;
        return Answer { status: 200, content_type: Some("text/plain; charset=utf-8"), body: token.into_bytes() };
    }
    if req.method != "POST" {
        return plain(405);
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(batch) => {
            record(&batch, arrived, client_state, &mut lock(seen));
            plain(202)
        }
        Err(_) => {
            lock(seen).unexpected += 1;
            plain(400)
        }
    }
}

/// Records a `{"value":[...]}` batch: the first `created` notification per contact id counts.
fn record(batch: &Value, arrived: Instant, client_state: &str, seen: &mut Seen) {
    seen.batches += 1;
    let Some(items) = batch["value"].as_array() else {
        seen.unexpected += 1;
        return;
    };
    for n in items {
        let ours = n["changeType"] == "created" && n["clientState"] == client_state;
        match n["resourceData"]["id"].as_str().filter(|_| ours) {
            Some(id) => match seen.created.entry(id.to_owned()) {
                Entry::Occupied(_) => seen.duplicates += 1,
                Entry::Vacant(e) => {
                    e.insert(arrived);
                }
            },
            None => seen.unexpected += 1,
        }
    }
}

/// The decoded value of query parameter `name` in a request target.
pub fn query_param(target: &str, name: &str) -> Option<String> {
    let (_, query) = target.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

/// Decodes `%XX` escapes and `+` (a space in a query string, as Rolo's form encoding sends the
/// token's space); a `%` without two hex digits after it stays as it is.
pub fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match b.get(i + 1..i + 3).and_then(|h| Some(hex(h[0])? << 4 | hex(h[1])?)) {
                Some(byte) => {
                    out.push(byte);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Client;

    #[test]
    fn decodes_percent_and_plus() {
        assert_eq!(percent_decode("Validation%3A+1b2c-3d"), "Validation: 1b2c-3d");
        assert_eq!(percent_decode("a%2Bb%2fc"), "a+b/c");
        assert_eq!(percent_decode("%C3%A9t%C3%A9"), "été");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode(""), "");
        assert_eq!(
            query_param("/hook?a=1&validationToken=Validation%3A+x%26y&b", "validationToken").unwrap(),
            "Validation: x&y"
        );
        assert_eq!(query_param("/hook?validation%54oken=t", "validationToken").unwrap(), "t");
        assert_eq!(query_param("/hook?b", "b").unwrap(), "");
        assert_eq!(query_param("/hook", "validationToken"), None);
        assert_eq!(query_param("/hook?validationTokens=x", "validationToken"), None);
    }

    fn notification(id: &str, change: &str, state: &str) -> Value {
        serde_json::json!({"changeType": change, "clientState": state, "resource": format!("Users/u/Contacts/{id}"),
                           "resourceData": {"id": id}})
    }

    #[test]
    fn answers_and_records() {
        let seen = Mutex::new(Seen::default());
        let req = |target: &str, body: Vec<u8>| Request { method: "POST".into(), target: target.into(), body };

        let a = respond(&req("/hook?validationToken=Validation%3A+t-1", Vec::new()), Instant::now(), "s", &seen);
        assert_eq!(
            a,
            Answer { status: 200, content_type: Some("text/plain; charset=utf-8"), body: b"Validation: t-1".to_vec() }
        );

        let batch = serde_json::json!({"value": [notification("a", "created", "s"), notification("b", "created", "s"),
            notification("a", "created", "s"), notification("c", "updated", "s"), notification("d", "created", "other")]});
        let t0 = Instant::now();
        assert_eq!(respond(&req("/hook", batch.to_string().into_bytes()), t0, "s", &seen).status, 202);
        assert_eq!(respond(&req("/hook", b"not json".to_vec()), Instant::now(), "s", &seen).status, 400);
        let get = Request { method: "GET".into(), target: "/hook".into(), body: Vec::new() };
        assert_eq!(respond(&get, Instant::now(), "s", &seen).status, 405);

        let s = lock(&seen);
        assert_eq!((s.validations, s.batches, s.duplicates, s.unexpected), (1, 1, 1, 3));
        assert_eq!(s.created.len(), 2);
        assert_eq!(s.created["a"], t0);
    }

    /// Over a real socket: the handshake and a notification on one keep-alive connection.
    #[tokio::test]
    async fn serves_keep_alive_connections() {
        let receiver = Receiver::start("bench").await.unwrap();
        let addr = receiver.url.trim_start_matches("http://").trim_end_matches("/hook").to_owned();
        let mut c = Client::new(&addr, "unused");

        assert_eq!(c.request("POST", "/hook?validationToken=a%20b+c", Some(b"")).await.unwrap(), 200);
        assert_eq!(c.body(), b"a b c");

        let json = serde_json::json!({"value": [notification("id-1", "created", "bench")]}).to_string();
        assert_eq!(c.post_json("/hook", json.as_bytes()).await.unwrap(), 202);
        assert!(c.body().is_empty());
        assert!(receiver.seen().created.contains_key("id-1"));
        assert_eq!(receiver.seen().validations, 1);
    }
}
