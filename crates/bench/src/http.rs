//! The load client: one persistent HTTP/1.1 keep-alive connection per worker, over hyper 1.
//!
//! hyper does the protocol (framing, chunked bodies, keep-alive); this wrapper keeps the bench's
//! small API: send a request with `Authorization: Bearer`, get the status back and the body in a
//! buffer that is reused across requests. No connection pool: each `Client` owns one connection,
//! so a worker's requests never queue behind another's.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Upper bound on a response body (a page of contacts is a few KiB).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// A request that takes this long is reported as an error instead of hanging the run.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A failed exchange. `stale` marks failures that happened before any byte of
/// a response arrived: on a reused connection that usually means the server
/// closed it while idle, and the request is safe to send again.
#[derive(Debug)]
pub struct HttpError {
    msg: String,
    stale: bool,
}

impl HttpError {
    fn new(msg: impl Into<String>) -> Self {
        HttpError { msg: msg.into(), stale: false }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for HttpError {}

/// One keep-alive connection to `addr` that sends `Authorization: Bearer`.
pub struct Client {
    addr: String,
    host: HeaderValue,
    auth: HeaderValue,
    conn: Option<SendRequest<Full<Bytes>>>,
    body: Vec<u8>,
    /// `Depth` and the body's type for the next request; the CardDAV scenarios set them, JSON
    /// requests leave them as they are.
    depth: Option<HeaderValue>,
    body_type: &'static str,
    /// `Prefer` on every request while set (the million scenario's initial delta round asks
    /// for `odata.maxpagesize=1000`).
    prefer: Option<HeaderValue>,
}

impl Client {
    /// `addr` is `host:port`; it is also sent as the `Host` header.
    pub fn new(addr: &str, token: &str) -> Self {
        Client {
            addr: addr.to_string(),
            host: HeaderValue::from_str(addr).unwrap_or_else(|_| HeaderValue::from_static("localhost")),
            auth: HeaderValue::from_str(&format!("Bearer {token}"))
                .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid")),
            conn: None,
            body: Vec::with_capacity(16 * 1024),
            depth: None,
            body_type: "application/json",
            prefer: None,
        }
    }

    /// Sends `Prefer: value` on the following requests, or stops sending it (`None`).
    pub fn set_prefer(&mut self, value: Option<&str>) {
        self.prefer = value.and_then(|v| HeaderValue::from_str(v).ok());
    }

    /// A WebDAV request: `Depth` when given, the body as `content_type`.
    pub async fn dav(
        &mut self,
        method: &str,
        path: &str,
        depth: Option<&str>,
        content_type: &'static str,
        body: Option<&[u8]>,
    ) -> Result<u16, HttpError> {
        self.depth = depth.and_then(|d| HeaderValue::from_str(d).ok());
        self.body_type = content_type;
        let r = self.request(method, path, body).await;
        self.depth = None;
        self.body_type = "application/json";
        r
    }

    /// Opens the connection now, so that connection setup is not timed as
    /// part of the first request.
    pub async fn connect(&mut self) -> Result<(), HttpError> {
        if self.conn.as_ref().is_none_or(SendRequest::is_closed) {
            self.conn = Some(open(&self.addr).await?);
        }
        Ok(())
    }

    /// Body of the last response (empty after an error).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub async fn get(&mut self, path: &str) -> Result<u16, HttpError> {
        self.request("GET", path, None).await
    }

    pub async fn post_json(&mut self, path: &str, json: &[u8]) -> Result<u16, HttpError> {
        self.request("POST", path, Some(json)).await
    }

    /// Sends one request and reads the whole response; returns the status.
    pub async fn request(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Result<u16, HttpError> {
        let method = Method::from_bytes(method.as_bytes()).map_err(|e| HttpError::new(format!("method: {e}")))?;
        let body = body.map(Bytes::copy_from_slice);
        // A connection the server closed while idle is replaced before sending.
        let reused = self.conn.as_ref().is_some_and(|c| !c.is_closed());
        match self.attempt(&method, path, body.clone()).await {
            // The server may have closed an idle keep-alive connection just as we sent; one
            // retry on a fresh connection distinguishes that from a real fault.
            Err(e) if reused && e.stale => self.attempt(&method, path, body).await,
            other => other,
        }
    }

    async fn attempt(&mut self, method: &Method, path: &str, body: Option<Bytes>) -> Result<u16, HttpError> {
        self.body.clear();
        let result = match tokio::time::timeout(TIMEOUT, self.exchange(method, path, body)).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::new(format!("no response within {} s", TIMEOUT.as_secs()))),
        };
        if result.is_err() {
            // The connection is in an unknown state: never reuse it.
            self.conn = None;
            self.body.clear();
        }
        result
    }

    async fn exchange(&mut self, method: &Method, path: &str, body: Option<Bytes>) -> Result<u16, HttpError> {
        self.connect().await?;
        let Some(conn) = self.conn.as_mut() else {
            return Err(HttpError::new("not connected"));
        };
        let mut req = Request::builder().method(method.clone()).uri(path);
        if let Some(h) = req.headers_mut() {
            h.insert(HOST, self.host.clone());
            h.insert(AUTHORIZATION, self.auth.clone());
            h.insert(ACCEPT, HeaderValue::from_static("application/json"));
            if body.is_some() {
                h.insert(CONTENT_TYPE, HeaderValue::from_static(self.body_type));
            }
            if let Some(depth) = &self.depth {
                h.insert("depth", depth.clone());
            }
            if let Some(prefer) = &self.prefer {
                h.insert("prefer", prefer.clone());
            }
        }
        let req = req
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| HttpError::new(format!("building request for {path}: {e}")))?;
        conn.ready().await.map_err(|e| HttpError { msg: format!("connection not ready: {e}"), stale: true })?;
        let resp = conn.send_request(req).await.map_err(|e| HttpError {
            stale: e.is_canceled() || e.is_closed() || e.is_incomplete_message(),
            msg: format!("sending request: {e}"),
        })?;
        let status = resp.status().as_u16();
        let mut incoming = resp.into_body();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| HttpError::new(format!("reading body: {e}")))?;
            if let Some(data) = frame.data_ref() {
                if self.body.len() + data.len() > MAX_BODY {
                    return Err(HttpError::new("response body larger than 64 MiB"));
                }
                self.body.extend_from_slice(data);
            }
        }
        Ok(status)
    }
}

async fn open(addr: &str) -> Result<SendRequest<Full<Bytes>>, HttpError> {
    let stream = TcpStream::connect(addr).await.map_err(|e| HttpError::new(format!("connecting to {addr}: {e}")))?;
    // Requests are written in one piece; Nagle would only add latency.
    stream.set_nodelay(true).map_err(|e| HttpError::new(format!("setting TCP_NODELAY: {e}")))?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| HttpError::new(format!("HTTP handshake with {addr}: {e}")))?;
    // The connection's I/O runs as its own task; it ends when the sender is dropped or the
    // server closes the connection (a later request then reconnects).
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Turns an absolute `@odata.nextLink` into a request target for our own
/// connection (the host in the link may differ from the address we dial).
pub fn strip_origin(link: &str) -> &str {
    match link.find("://") {
        Some(i) => {
            let rest = link.get(i + 3..).unwrap_or_default();
            rest.find('/').and_then(|j| rest.get(j..)).unwrap_or("/")
        }
        None => link,
    }
}

/// Percent-encodes a path segment (ids are opaque; keep them intact).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// First bytes of a body, for error messages.
pub fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(500)]);
    if body.len() > 500 {
        format!("{s}…")
    } else {
        s.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    /// Reads one request (head plus Content-Length body) from a test server socket.
    async fn read_request(r: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
        let mut head = String::new();
        let mut len = 0;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().ok()?;
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).await.ok()?;
        Some((head, body))
    }

    /// A keep-alive server that answers each request with the next canned
    /// response and closes a connection after `close_after` responses on it
    /// (as an idle timeout would). Returns its address and the requests seen.
    async fn spawn_server(
        responses: Vec<&'static str>,
        close_after: usize,
    ) -> (String, tokio::task::JoinHandle<Vec<(String, Vec<u8>)>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let handle = tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut next = responses.into_iter();
            'accept: while let Ok((sock, _)) = listener.accept().await {
                let mut r = BufReader::new(sock);
                for _ in 0..close_after {
                    let Some(req) = read_request(&mut r).await else {
                        continue 'accept;
                    };
                    seen.push(req);
                    let Some(resp) = next.next() else {
                        break 'accept;
                    };
                    r.get_mut().write_all(resp.as_bytes()).await.unwrap();
                    if next.len() == 0 {
                        break 'accept;
                    }
                }
            }
            seen
        });
        (addr, handle)
    }

    #[tokio::test]
    async fn keep_alive_chunked_and_reconnect() {
        let responses = vec![
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"id\":\"a\"}\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\n{\"va\r\n8\r\nlue\":[]}\r\n0\r\nTrailer: 1\r\n\r\n",
            // Served on a new connection: the server closed the first one.
            "HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\nno",
        ];
        let (addr, server) = spawn_server(responses, 2).await;

        let mut c = Client::new(&addr, "tok");
        c.connect().await.unwrap();
        let status = c.post_json("/v1.0/me/contacts", b"{\"a\":1}").await.unwrap();
        assert_eq!(status, 201);
        assert_eq!(c.body(), b"{\"id\":\"a\"}\n");

        assert_eq!(c.get("/v1.0/me/contacts").await.unwrap(), 200);
        assert_eq!(c.body(), b"{\"value\":[]}");

        // The server has closed the connection; the client must retry transparently.
        assert_eq!(c.get("/v1.0/me/contacts/x").await.unwrap(), 404);
        assert_eq!(c.body(), b"no");

        let seen = server.await.unwrap();
        assert_eq!(seen.len(), 3);
        let head = seen[0].0.to_ascii_lowercase();
        assert!(head.starts_with("post /v1.0/me/contacts http/1.1\r\n"), "{head}");
        assert!(head.contains("authorization: bearer tok\r\n"), "{head}");
        assert!(head.contains("content-type: application/json\r\n"), "{head}");
        assert_eq!(seen[0].1, b"{\"a\":1}");
        assert!(seen[1].0.starts_with("GET /v1.0/me/contacts HTTP/1.1\r\n"));
        assert!(seen[2].0.starts_with("GET /v1.0/me/contacts/x HTTP/1.1\r\n"));
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let mut c = Client::new(&addr, "tok");
        assert!(c.get("/").await.is_err());
        assert!(c.body().is_empty());
    }

    #[test]
    fn next_link_and_ids() {
        assert_eq!(
            strip_origin("http://127.0.0.1:8080/v1.0/me/contacts?$skiptoken=abc"),
            "/v1.0/me/contacts?$skiptoken=abc"
        );
        assert_eq!(strip_origin("https://example.com"), "/");
        assert_eq!(strip_origin("/v1.0/me/contacts"), "/v1.0/me/contacts");
        assert_eq!(encode_segment("AAMk-_=+/é"), "AAMk-_=+%2F%C3%A9");
    }
}
