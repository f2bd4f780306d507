//! Minimal webhook receiver for the notify scenario: answers Rolo's validation handshake and
//! records when each contact's `created` notification arrives.
//!
//! Like the client in `http.rs`, it does only what the benchmark needs: HTTP/1.1 requests with a
//! `Content-Length` (or chunked) body, several per keep-alive connection. It runs on the bench's
//! own runtime, so no extra threads compete with the server for the cores.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::http::{has_token, read_chunked, trim_crlf};

/// Upper bound on a request head.
const MAX_HEAD: usize = 64 * 1024;
/// Upper bound on a `Content-Length` body; a batch of 256 notifications is about 150 KiB.
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
                            conns.spawn(serve(sock, Arc::clone(&shared), Arc::clone(&client_state)));
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

/// One connection: requests in order until the peer closes it or asks to.
async fn serve(sock: TcpStream, seen: Arc<Mutex<Seen>>, client_state: Arc<str>) {
    let mut r = BufReader::new(sock);
    let (mut line, mut out) = (Vec::with_capacity(256), Vec::with_capacity(256));
    loop {
        let req = match read_request(&mut r, &mut line).await {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(_) => {
                let _ = r
                    .get_mut()
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
                return;
            }
        };
        // The delivery time: the whole notification has been read.
        let arrived = Instant::now();
        respond(&req, arrived, &client_state, &seen, &mut out);
        if r.get_mut().write_all(&out).await.is_err() || !req.keep_alive {
            return;
        }
    }
}

/// One parsed request.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The request target as sent, e.g. `/hook?validationToken=...`.
    pub target: String,
    pub keep_alive: bool,
    pub body: Vec<u8>,
}

/// Reads one request; `None` when the peer closed the connection between requests.
pub async fn read_request<R: AsyncBufRead + Unpin>(r: &mut R, line: &mut Vec<u8>) -> Result<Option<Request>, String> {
    // Empty lines before a request line are allowed (RFC 9112 §2.2).
    let request_line = loop {
        line.clear();
        if r.read_until(b'\n', line).await.map_err(|e| format!("reading request: {e}"))? == 0 {
            return Ok(None);
        }
        if line.len() > MAX_HEAD {
            return Err("request line larger than 64 KiB".into());
        }
        let l = trim_crlf(line);
        if !l.is_empty() {
            break String::from_utf8_lossy(l).into_owned();
        }
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("bad request line {request_line:?}"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(format!("unsupported version in {request_line:?}"));
    }
    // HTTP/1.1 defaults to keep-alive, HTTP/1.0 to close.
    let mut keep_alive = version != "HTTP/1.0";
    let (mut content_length, mut chunked, mut head_len) = (0, false, request_line.len());
    loop {
        line.clear();
        let n = r.read_until(b'\n', line).await.map_err(|e| format!("reading headers: {e}"))?;
        if n == 0 {
            return Err("connection closed inside request headers".into());
        }
        head_len += n;
        if head_len > MAX_HEAD {
            return Err("request head larger than 64 KiB".into());
        }
        let l = trim_crlf(line);
        if l.is_empty() {
            break;
        }
        let Some(colon) = l.iter().position(|&b| b == b':') else {
            return Err(format!("malformed header line {:?}", String::from_utf8_lossy(l)));
        };
        let (name, value) = (&l[..colon], l[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            content_length = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or_else(|| format!("bad Content-Length {:?}", String::from_utf8_lossy(value)))?;
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = has_token(value, b"chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            if has_token(value, b"close") {
                keep_alive = false;
            } else if has_token(value, b"keep-alive") {
                keep_alive = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        read_chunked(r, line, &mut body).await.map_err(|e| e.to_string())?;
    } else if content_length > MAX_BODY {
        return Err(format!("request body of {content_length} bytes"));
    } else {
        body.resize(content_length, 0);
        r.read_exact(&mut body).await.map_err(|e| format!("reading {content_length}-byte body: {e}"))?;
    }
    Ok(Some(Request { method: method.to_owned(), target: target.to_owned(), keep_alive, body }))
}

/// Writes the answer to `req` into `out`, recording notifications that `arrived` in `seen`.
fn respond(req: &Request, arrived: Instant, client_state: &str, seen: &Mutex<Seen>, out: &mut Vec<u8>) {
    out.clear();
    // The handshake: 200 with the decoded token as plain text.
    if let Some(token) = query_param(&req.target, "validationToken") {
        lock(seen).validations += 1;
        return head(out, "200 OK", Some("text/plain; charset=utf-8"), token.as_bytes(), req.keep_alive);
    }
    if req.method != "POST" {
        return head(out, "405 Method Not Allowed", None, b"", req.keep_alive);
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(batch) => {
            record(&batch, arrived, client_state, &mut lock(seen));
            head(out, "202 Accepted", None, b"", req.keep_alive);
        }
        Err(_) => {
            lock(seen).unexpected += 1;
            head(out, "400 Bad Request", None, b"", req.keep_alive);
        }
    }
}

fn head(out: &mut Vec<u8>, status: &str, content_type: Option<&str>, body: &[u8], keep_alive: bool) {
    out.extend_from_slice(format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len()).as_bytes());
    if let Some(t) = content_type {
        out.extend_from_slice(format!("Content-Type: {t}\r\n").as_bytes());
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
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
    use crate::http::read_response;

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

    #[tokio::test]
    async fn parses_pipelined_requests() {
        let mut r: &[u8] = b"POST /hook?validationToken=Validation%3A+abc HTTP/1.1\r\nhost: x\r\n\
            content-type: text/plain; charset=utf-8\r\ncontent-length: 0\r\n\r\n\
            \r\nPOST /hook HTTP/1.1\r\nContent-Length: 11\r\nConnection: keep-alive\r\n\r\n{\"value\":1}\
            POST /hook HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
            GET / HTTP/1.0\r\n\r\n";
        let mut line = Vec::new();
        let a = read_request(&mut r, &mut line).await.unwrap().unwrap();
        assert_eq!(
            (a.method.as_str(), a.target.as_str(), a.keep_alive),
            ("POST", "/hook?validationToken=Validation%3A+abc", true)
        );
        assert!(a.body.is_empty());
        let b = read_request(&mut r, &mut line).await.unwrap().unwrap();
        assert_eq!((b.target.as_str(), b.body.as_slice(), b.keep_alive), ("/hook", &b"{\"value\":1}"[..], true));
        let c = read_request(&mut r, &mut line).await.unwrap().unwrap();
        assert_eq!((c.body.as_slice(), c.keep_alive), (&b"abc"[..], false));
        let d = read_request(&mut r, &mut line).await.unwrap().unwrap();
        assert_eq!((d.method.as_str(), d.keep_alive), ("GET", false));
        assert!(read_request(&mut r, &mut line).await.unwrap().is_none());

        for bad in [
            &b"garbage\r\n\r\n"[..],
            b"POST / SPDY/3\r\n\r\n",
            b"POST / HTTP/1.1\r\nno colon\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nshort",
        ] {
            let mut r = bad;
            assert!(read_request(&mut r, &mut line).await.is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    fn notification(id: &str, change: &str, state: &str) -> Value {
        serde_json::json!({"changeType": change, "clientState": state, "resource": format!("Users/u/Contacts/{id}"),
                           "resourceData": {"id": id}})
    }

    #[test]
    fn answers_and_records() {
        let seen = Mutex::new(Seen::default());
        let mut out = Vec::new();
        let req = |target: &str, body: Vec<u8>| Request {
            method: "POST".into(),
            target: target.into(),
            keep_alive: true,
            body,
        };

        respond(&req("/hook?validationToken=Validation%3A+t-1", Vec::new()), Instant::now(), "s", &seen, &mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nContent-Length: 15\r\n"), "{text}");
        assert!(text.contains("Content-Type: text/plain") && text.ends_with("\r\n\r\nValidation: t-1"), "{text}");

        let batch = serde_json::json!({"value": [notification("a", "created", "s"), notification("b", "created", "s"),
            notification("a", "created", "s"), notification("c", "updated", "s"), notification("d", "created", "other")]});
        let t0 = Instant::now();
        respond(&req("/hook", batch.to_string().into_bytes()), t0, "s", &seen, &mut out);
        assert_eq!(out, b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
        respond(&req("/hook", b"not json".to_vec()), Instant::now(), "s", &seen, &mut out);
        assert!(out.starts_with(b"HTTP/1.1 400 "));

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
        let mut conn = BufReader::new(TcpStream::connect(&addr).await.unwrap());
        let (mut line, mut body) = (Vec::new(), Vec::new());

        conn.get_mut()
            .write_all(b"POST /hook?validationToken=a%20b+c HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        let (status, keep_alive) = read_response(&mut conn, &mut line, &mut body).await.unwrap();
        assert_eq!((status, keep_alive, body.as_slice()), (200, true, &b"a b c"[..]));

        let json = serde_json::json!({"value": [notification("id-1", "created", "bench")]}).to_string();
        let req = format!(
            "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
            json.len()
        );
        conn.get_mut().write_all(req.as_bytes()).await.unwrap();
        let (status, keep_alive) = read_response(&mut conn, &mut line, &mut body).await.unwrap();
        assert_eq!((status, keep_alive, body.len()), (202, true, 0));
        assert!(receiver.seen().created.contains_key("id-1"));
        assert_eq!(receiver.seen().validations, 1);
    }
}
