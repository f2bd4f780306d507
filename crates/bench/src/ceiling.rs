//! The ceiling: a do-nothing HTTP/1.1 server (hyper 1, as Rolo's own stack) that answers any GET
//! with a fixed contact-sized JSON body. Measured with the same client in the same run, it gives
//! the most this machine's loopback, HTTP stack and load generator allow; every throughput row is
//! also reported as a fraction of it.
//!
//! It runs on its own multi-threaded runtime with as many workers as Rolo's (one per core), so
//! it competes with the load generator for the cores just as Rolo does.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A contact as Rolo renders one (about 1.6 KB).
const BODY: &str = concat!(
    r#"{"@odata.context":"http://127.0.0.1/v1.0/$metadata#users('bench%40rolo.test')/contacts/$en"#,
    r#"tity","@odata.etag":"W/\"EQAAABYAAACZz0A1Wmb1S4U1zS7gdx3lAAAAAB9p\"","id":"AAMkADk0ZDdhYjQ"#,
    r#"2LTYyNzctNDE0Ni1hNDgyLTc5MjBiNzk0NDk5ZQBGAAAAAAAbwLmVVJLnTKpq3ZlmAKYdBwCZz0A1Wmb1S4U1zS7gd"#,
    r#"x3lAAAAAAEOAACZz0A1Wmb1S4U1zS7gdx3lAAAAAB9pAAA=","createdDateTime":"2026-12-06T02:30:00Z","#,
    r#""lastModifiedDateTime":"2026-12-06T02:30:00Z","changeKey":"EQAAABYAAACZz0A1Wmb1S4U1zS7gdx3"#,
    r#"lAAAAAB9p","categories":["Teal"],"parentFolderId":"AAMkADk0ZDdhYjQ2LTYyNzctNDE0Ni1hNDgyLTc"#,
    r#"5MjBiNzk0NDk5ZQAuAAAAAAAbwLmVVJLnTKpq3ZlmAKYdAQCZz0A1Wmb1S4U1zS7gdx3lAAAAAAEOAAA=","birthd"#,
    r#"ay":null,"fileAs":"","displayName":"Ada Lovelace 1234","givenName":"Ada","initials":null,""#,
    r#"middleName":null,"nickName":null,"surname":"Lovelace 1234","title":null,"yomiGivenName":nu"#,
    r#"ll,"yomiSurname":null,"yomiCompanyName":null,"generation":null,"imAddresses":["ada1234@im."#,
    r#"example.com"],"jobTitle":"Mathematician","companyName":"Analytical Engines","department":""#,
    r#"Research","officeLocation":"Building 4, Room 12","profession":null,"businessHomePage":null"#,
    r#","assistantName":null,"manager":null,"homePhones":["+1 555 0100"],"mobilePhone":"+1 555 01"#,
    r#"99","businessPhones":["+1 555 1234"],"spouseName":null,"personalNotes":"Met at the Analyti"#,
    r#"cal Society; prefers email.","children":[],"emailAddresses":[{"name":"Ada","address":"ada1"#,
    r#"234@example.com"}],"homeAddress":{},"businessAddress":{"street":"12 Engine Row","city":"Lo"#,
    r#"ndon","state":"","countryOrRegion":"United Kingdom","postalCode":"N1 9GU"},"otherAddress":"#,
    r#"{}}"#,
);

pub fn body() -> Bytes {
    Bytes::from_static(BODY.as_bytes())
}

/// A running ceiling server; dropping it stops its runtime.
pub struct Ceiling {
    pub addr: SocketAddr,
    pub body_len: usize,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Ceiling {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn answer(req: Request<hyper::body::Incoming>, body: Bytes) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut resp = Response::new(Full::new(if req.method() == Method::GET { body } else { Bytes::new() }));
    if req.method() == Method::GET {
        resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    } else {
        *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    }
    Ok(resp)
}

/// Starts the server on a free loopback port, on its own runtime thread(s).
pub fn start() -> Result<Ceiling, String> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| format!("ceiling runtime: {e}"))?;
    // A std listener: this may be called from inside the bench's own runtime, which must not
    // block on another one. It becomes a tokio listener on the ceiling's thread.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("ceiling listener: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| format!("ceiling listener: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("ceiling address: {e}"))?;
    let body = body();
    let body_len = body.len();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("ceiling".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = TcpListener::from_std(listener) else { return };
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => {
                            let Ok((sock, _)) = accepted else { continue };
                            let _ = sock.set_nodelay(true);
                            let body = body.clone();
                            tokio::spawn(async move {
                                let service = service_fn(move |req| answer(req, body.clone()));
                                let _ = http1::Builder::new().serve_connection(TokioIo::new(sock), service).await;
                            });
                        }
                    }
                }
            });
            // Open connections end with the runtime.
            runtime.shutdown_background();
        })
        .map_err(|e| format!("ceiling thread: {e}"))?;
    Ok(Ceiling { addr, body_len, stop: Some(stop), thread: Some(thread) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Client;

    #[test]
    fn the_body_is_contact_sized() {
        let n = body().len();
        assert!((1400..=1800).contains(&n), "{n} bytes");
    }

    #[tokio::test]
    async fn answers_any_get_with_the_body() {
        let c = start().unwrap();
        let mut client = Client::new(&c.addr.to_string(), "t");
        assert_eq!(client.get("/anything?x=1").await.unwrap(), 200);
        assert_eq!(client.body(), &body()[..]);
        assert_eq!(client.post_json("/", b"{}").await.unwrap(), 405);
        drop(c);
    }
}
