//! Minimal HTTP/1.1 client: one persistent keep-alive connection per worker.
//!
//! The load generator shares the machine's cores with the server under test,
//! so instead of a general-purpose client it does only what the benchmark
//! needs: write a request, read the head, then read a `Content-Length` or
//! chunked body. All buffers are reused across requests, so a steady-state
//! request costs one `write` and usually one `read` syscall.

use std::fmt;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Upper bound on a response head, so a broken server cannot make us buffer forever.
const MAX_HEAD: usize = 64 * 1024;
/// Upper bound on a response body (a page of contacts is a few KiB).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// A request that takes this long is reported as an error instead of hanging the run.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Read buffer size: large enough that a typical page arrives in one read.
const READ_BUF: usize = 64 * 1024;

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

    fn stale(msg: impl Into<String>) -> Self {
        HttpError { msg: msg.into(), stale: true }
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
    token: String,
    conn: Option<BufReader<TcpStream>>,
    req: Vec<u8>,
    line: Vec<u8>,
    body: Vec<u8>,
    /// Header lines (each ending in CRLF) and the body's type for the next request; the CardDAV
    /// scenarios set them, JSON requests leave them empty.
    extra: String,
    body_type: &'static str,
}

impl Client {
    /// `addr` is `host:port`; it is also sent as the `Host` header.
    pub fn new(addr: &str, token: &str) -> Self {
        Client {
            addr: addr.to_string(),
            token: token.to_string(),
            conn: None,
            req: Vec::with_capacity(1024),
            line: Vec::with_capacity(256),
            body: Vec::with_capacity(16 * 1024),
            extra: String::new(),
            body_type: "application/json",
        }
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
        self.extra = depth.map(|d| format!("Depth: {d}\r\n")).unwrap_or_default();
        self.body_type = content_type;
        let r = self.request(method, path, body).await;
        self.extra.clear();
        self.body_type = "application/json";
        r
    }

    /// Opens the connection now, so that connection setup is not timed as
    /// part of the first request.
    pub async fn connect(&mut self) -> Result<(), HttpError> {
        if self.conn.is_none() {
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
        build_request(&mut self.req, method, &self.addr, &self.token, path, body);
        if !self.extra.is_empty() || self.body_type != "application/json" {
            decorate(&mut self.req, &self.extra, self.body_type);
        }
        let reused = self.conn.is_some();
        match self.attempt().await {
            // The server may have closed an idle keep-alive connection; one
            // retry on a fresh connection distinguishes that from a real fault.
            Err(e) if reused && e.stale => self.attempt().await,
            other => other,
        }
    }

    async fn attempt(&mut self) -> Result<u16, HttpError> {
        self.body.clear();
        let result = match tokio::time::timeout(TIMEOUT, self.exchange()).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::new(format!("no response within {} s", TIMEOUT.as_secs()))),
        };
        match result {
            Ok((status, keep_alive)) => {
                if !keep_alive {
                    self.conn = None;
                }
                Ok(status)
            }
            Err(e) => {
                // The connection is in an unknown state: never reuse it.
                self.conn = None;
                Err(e)
            }
        }
    }

    async fn exchange(&mut self) -> Result<(u16, bool), HttpError> {
        if self.conn.is_none() {
            self.conn = Some(open(&self.addr).await?);
        }
        let Client { conn, req, line, body, .. } = self;
        let Some(conn) = conn.as_mut() else {
            return Err(HttpError::new("not connected"));
        };
        conn.get_mut().write_all(req).await.map_err(|e| HttpError::stale(format!("sending request: {e}")))?;
        read_response(conn, line, body).await
    }
}

async fn open(addr: &str) -> Result<BufReader<TcpStream>, HttpError> {
    let stream = TcpStream::connect(addr).await.map_err(|e| HttpError::new(format!("connecting to {addr}: {e}")))?;
    // Requests are written in one piece; Nagle would only add latency.
    stream.set_nodelay(true).map_err(|e| HttpError::new(format!("setting TCP_NODELAY: {e}")))?;
    Ok(BufReader::with_capacity(READ_BUF, stream))
}

/// Serialises a request into `buf` (head and body together, so it goes out in
/// one write).
fn build_request(buf: &mut Vec<u8>, method: &str, host: &str, token: &str, path: &str, body: Option<&[u8]>) {
    buf.clear();
    for part in [
        method,
        " ",
        path,
        " HTTP/1.1\r\nHost: ",
        host,
        "\r\nAuthorization: Bearer ",
        token,
        "\r\nAccept: application/json\r\n",
    ] {
        buf.extend_from_slice(part.as_bytes());
    }
    if let Some(body) = body {
        buf.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
        buf.extend_from_slice(body.len().to_string().as_bytes());
        buf.extend_from_slice(b"\r\n\r\n");
        buf.extend_from_slice(body);
    } else {
        buf.extend_from_slice(b"\r\n");
    }
}

/// Adds header lines to a built request and replaces its body's JSON content type.
fn decorate(buf: &mut Vec<u8>, extra: &str, body_type: &str) {
    let text = std::mem::take(buf);
    let Some(at) = text.windows(4).position(|w| w == b"\r\n\r\n") else {
        *buf = text;
        return;
    };
    let (head, rest) = text.split_at(at + 2);
    let head =
        String::from_utf8_lossy(head).replace("Content-Type: application/json", &format!("Content-Type: {body_type}"));
    buf.extend_from_slice(head.as_bytes());
    buf.extend_from_slice(extra.as_bytes());
    buf.extend_from_slice(rest);
}

/// Reads one response from `r` into `body`; returns the status and whether the
/// connection may be reused.
pub(crate) async fn read_response<R: AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut Vec<u8>,
    body: &mut Vec<u8>,
) -> Result<(u16, bool), HttpError> {
    loop {
        line.clear();
        let n = r.read_until(b'\n', line).await.map_err(|e| HttpError::stale(format!("reading response: {e}")))?;
        if n == 0 {
            return Err(HttpError::stale("connection closed before a response"));
        }
        let (http11, status) = parse_status_line(trim_crlf(line))?;
        let mut head_len = n;
        let mut content_length = None;
        let mut chunked = false;
        // HTTP/1.1 defaults to keep-alive, HTTP/1.0 to close.
        let mut keep_alive = http11;
        loop {
            line.clear();
            let n = r.read_until(b'\n', line).await.map_err(|e| HttpError::new(format!("reading headers: {e}")))?;
            if n == 0 {
                return Err(HttpError::new("connection closed inside response headers"));
            }
            head_len += n;
            if head_len > MAX_HEAD {
                return Err(HttpError::new("response head larger than 64 KiB"));
            }
            let l = trim_crlf(line);
            if l.is_empty() {
                break;
            }
            let Some(colon) = l.iter().position(|&b| b == b':') else {
                return Err(HttpError::new(format!("malformed header line {:?}", String::from_utf8_lossy(l))));
            };
            let (name, value) = (&l[..colon], l[colon + 1..].trim_ascii());
            if name.eq_ignore_ascii_case(b"content-length") {
                content_length = Some(parse_decimal(value)?);
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
        if (100..200).contains(&status) {
            // Interim response (e.g. 100 Continue): the real one follows.
            continue;
        }
        body.clear();
        if status == 204 || status == 304 {
            return Ok((status, keep_alive));
        }
        if chunked {
            read_chunked(r, line, body).await?;
        } else if let Some(len) = content_length {
            if len > MAX_BODY {
                return Err(HttpError::new(format!("response body of {len} bytes")));
            }
            body.resize(len, 0);
            r.read_exact(body).await.map_err(|e| HttpError::new(format!("reading {len}-byte body: {e}")))?;
        } else {
            // No framing: the body ends when the server closes the connection.
            (&mut *r)
                .take(MAX_BODY as u64)
                .read_to_end(body)
                .await
                .map_err(|e| HttpError::new(format!("reading body: {e}")))?;
            keep_alive = false;
        }
        return Ok((status, keep_alive));
    }
}

pub(crate) async fn read_chunked<R: AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut Vec<u8>,
    body: &mut Vec<u8>,
) -> Result<(), HttpError> {
    let io = |e: std::io::Error| HttpError::new(format!("reading chunked body: {e}"));
    loop {
        line.clear();
        if r.read_until(b'\n', line).await.map_err(io)? == 0 {
            return Err(HttpError::new("connection closed inside chunked body"));
        }
        // Chunk extensions (";name=value") are allowed and ignored.
        let size_field = trim_crlf(line).split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
        let size = std::str::from_utf8(size_field)
            .ok()
            .and_then(|s| usize::from_str_radix(s, 16).ok())
            .ok_or_else(|| HttpError::new(format!("bad chunk size {:?}", String::from_utf8_lossy(size_field))))?;
        if size == 0 {
            // Skip trailers up to the empty line that ends the message.
            loop {
                line.clear();
                let n = r.read_until(b'\n', line).await.map_err(io)?;
                if n == 0 || trim_crlf(line).is_empty() {
                    return Ok(());
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(HttpError::new("chunked body larger than 64 MiB"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..]).await.map_err(io)?;
        // The CRLF that terminates the chunk data.
        line.clear();
        r.read_until(b'\n', line).await.map_err(io)?;
    }
}

fn parse_status_line(l: &[u8]) -> Result<(bool, u16), HttpError> {
    let bad = || HttpError::new(format!("bad status line {:?}", String::from_utf8_lossy(l)));
    let mut parts = l.splitn(3, |&b| b == b' ');
    let version = parts.next().ok_or_else(bad)?;
    if !version.starts_with(b"HTTP/1.") {
        return Err(bad());
    }
    let code = parts.next().ok_or_else(bad)?;
    let status = std::str::from_utf8(code).ok().and_then(|s| s.parse::<u16>().ok()).ok_or_else(bad)?;
    Ok((version != b"HTTP/1.0", status))
}

fn parse_decimal(v: &[u8]) -> Result<usize, HttpError> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| HttpError::new(format!("bad Content-Length {:?}", String::from_utf8_lossy(v))))
}

pub(crate) fn has_token(value: &[u8], token: &[u8]) -> bool {
    value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

pub(crate) fn trim_crlf(l: &[u8]) -> &[u8] {
    let l = l.strip_suffix(b"\n").unwrap_or(l);
    l.strip_suffix(b"\r").unwrap_or(l)
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
    use tokio::io::AsyncWriteExt;
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
        assert!(seen[0].0.starts_with("POST /v1.0/me/contacts HTTP/1.1\r\n"));
        assert!(seen[0].0.contains("Authorization: Bearer tok\r\n"));
        assert!(seen[0].0.contains("Content-Type: application/json\r\n"));
        assert_eq!(seen[0].1, b"{\"a\":1}");
        assert!(seen[1].0.starts_with("GET /v1.0/me/contacts HTTP/1.1\r\n"));
        assert!(seen[2].0.starts_with("GET /v1.0/me/contacts/x HTTP/1.1\r\n"));
    }

    #[tokio::test]
    async fn parses_framing_variants() {
        let mut line = Vec::new();
        let mut body = Vec::new();

        let mut r: &[u8] =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc";
        let (status, keep) = read_response(&mut r, &mut line, &mut body).await.unwrap();
        assert_eq!((status, keep, body.as_slice()), (200, false, &b"abc"[..]));

        let mut r: &[u8] = b"HTTP/1.0 200 OK\r\n\r\nuntil eof";
        let (status, keep) = read_response(&mut r, &mut line, &mut body).await.unwrap();
        assert_eq!((status, keep, body.as_slice()), (200, false, &b"until eof"[..]));

        let mut r: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
        let (status, keep) = read_response(&mut r, &mut line, &mut body).await.unwrap();
        assert_eq!((status, keep, body.len()), (204, true, 0));

        let mut r: &[u8] = b"garbage\r\n\r\n";
        assert!(read_response(&mut r, &mut line, &mut body).await.is_err());

        let mut r: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
        assert!(read_response(&mut r, &mut line, &mut body).await.is_err());

        let mut r: &[u8] = b"";
        let e = read_response(&mut r, &mut line, &mut body).await.unwrap_err();
        assert!(e.stale);
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
