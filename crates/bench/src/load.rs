//! Load generation: seeding contacts, timed closed-loop scenarios and the
//! nextLink walk for deep paging.
//!
//! Every worker owns one keep-alive connection and sends its next request as
//! soon as the previous response is read (closed loop), so `concurrency` is
//! the number of requests in flight.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::http::{encode_segment, snippet, strip_origin, Client};

/// A worker gives up once it has this many errors while no request anywhere
/// has succeeded: the scenario is broken, not slow.
const ABORT_AFTER_ERRORS: u64 = 20;

/// Raw outcome of one scenario run.
#[derive(Debug, Default)]
pub struct Outcome {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Microseconds per successful request.
    pub latencies_us: Vec<u32>,
    pub first_error: Option<String>,
    /// Stopped early because every request failed.
    pub aborted: bool,
}

impl Outcome {
    fn merge(&mut self, w: Worker) {
        self.requests += w.requests;
        self.errors += w.errors;
        self.latencies_us.extend_from_slice(&w.latencies_us);
        if self.first_error.is_none() {
            self.first_error = w.first_error;
        }
        self.aborted |= w.aborted;
    }
}

/// What one worker measured.
#[derive(Default)]
struct Worker {
    requests: u64,
    errors: u64,
    latencies_us: Vec<u32>,
    first_error: Option<String>,
    aborted: bool,
    /// Created ids, with when their 201 arrived.
    ids: Vec<(String, Instant)>,
}

impl Worker {
    fn error(&mut self, msg: impl FnOnce() -> String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(msg());
        }
    }

    fn ok(&mut self, started: Instant, shared_ok: &AtomicU64) {
        let us = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
        self.latencies_us.push(us);
        shared_ok.fetch_add(1, Ordering::Relaxed);
    }

    fn should_abort(&mut self, shared_ok: &AtomicU64) -> bool {
        if self.errors >= ABORT_AFTER_ERRORS && shared_ok.load(Ordering::Relaxed) == 0 {
            self.aborted = true;
        }
        self.aborted
    }
}

/// Reusable connections, so scenarios do not pay connection setup and do not
/// pile up sockets in TIME_WAIT.
pub struct Pool {
    addr: String,
    token: String,
    idle: Vec<Client>,
}

impl Pool {
    pub fn new(addr: &str, token: &str) -> Self {
        Pool { addr: addr.to_string(), token: token.to_string(), idle: Vec::new() }
    }

    async fn take(&mut self, n: usize) -> Result<Vec<Client>, String> {
        while self.idle.len() < n {
            let mut c = Client::new(&self.addr, &self.token);
            c.connect().await.map_err(|e| e.to_string())?;
            self.idle.push(c);
        }
        Ok(self.idle.split_off(self.idle.len() - n))
    }

    /// One connection for sequential work (walking pages).
    pub async fn one(&mut self) -> Result<Client, String> {
        Ok(self.take(1).await?.remove(0))
    }

    pub fn give_back(&mut self, c: Client) {
        self.idle.push(c);
    }
}

/// Which request a worker sends next.
pub enum Pick {
    /// Always the same target.
    One(String),
    /// A uniformly random target (GET by id).
    Random(Vec<String>),
    /// Alternates between a fixed target and a random one (list/get mix).
    Mix(String, Vec<String>),
}

impl Pick {
    fn next(&self, rng: &mut Rng, n: u64) -> &str {
        match self {
            Pick::One(p) => p,
            Pick::Random(ps) => &ps[rng.below(ps.len())],
            Pick::Mix(p, _) if n & 1 == 0 => p,
            Pick::Mix(_, ps) => &ps[rng.below(ps.len())],
        }
    }
}

/// Request targets for GET by id.
pub fn id_paths(base: &str, ids: &[String]) -> Vec<String> {
    ids.iter().map(|id| format!("{base}/me/contacts/{}", encode_segment(id))).collect()
}

/// xorshift64*: plenty for picking ids, and no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize % n.max(1)
    }
}

/// Runs `concurrency` workers sending GETs chosen by `pick` for `duration`.
pub async fn timed(
    pool: &mut Pool,
    concurrency: usize,
    pick: Arc<Pick>,
    duration: Duration,
) -> Result<Outcome, String> {
    timed_requests(pool, concurrency, pick, "GET", None, duration).await
}

/// Like [`timed`], with any method and an optional body sent with every request.
pub async fn timed_requests(
    pool: &mut Pool,
    concurrency: usize,
    pick: Arc<Pick>,
    method: &'static str,
    body: Option<Arc<Vec<u8>>>,
    duration: Duration,
) -> Result<Outcome, String> {
    let clients = pool.take(concurrency).await?;
    let shared_ok = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut set = JoinSet::new();
    for (i, mut client) in clients.into_iter().enumerate() {
        let pick = Arc::clone(&pick);
        let shared_ok = Arc::clone(&shared_ok);
        let body = body.clone();
        set.spawn(async move {
            let mut w = Worker::default();
            let mut rng = Rng::new(i as u64 + 1);
            loop {
                let started = Instant::now();
                if started >= deadline || w.should_abort(&shared_ok) {
                    break;
                }
                let path = pick.next(&mut rng, w.requests);
                w.requests += 1;
                match client.request(method, path, body.as_deref().map(Vec::as_slice)).await {
                    Ok(s) if (200..300).contains(&s) => w.ok(started, &shared_ok),
                    Ok(s) => w.error(|| format!("{method} {path}: HTTP {s}: {}", snippet(client.body()))),
                    Err(e) => w.error(|| format!("{method} {path}: {e}")),
                }
            }
            (client, w)
        });
    }
    collect(pool, set, start).await
}

/// Creates `count` contacts (numbered from `first`) with `concurrency`
/// workers; returns the outcome and the new ids. Progress goes to stderr.
pub async fn create(
    pool: &mut Pool,
    base: &str,
    first: usize,
    count: usize,
    concurrency: usize,
) -> Result<(Outcome, Vec<String>), String> {
    let (o, ids) = create_stamped(pool, base, first, count, concurrency).await?;
    Ok((o, ids.into_iter().map(|(id, _)| id).collect()))
}

/// Like [`create`], with the moment each 201 was read (when the client learns of the commit).
pub async fn create_stamped(
    pool: &mut Pool,
    base: &str,
    first: usize,
    count: usize,
    concurrency: usize,
) -> Result<(Outcome, Vec<(String, Instant)>), String> {
    let clients = pool.take(concurrency.min(count.max(1))).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let shared_ok = Arc::new(AtomicU64::new(0));
    let path: Arc<str> = format!("{base}/me/contacts").into();
    let start = Instant::now();
    let mut set = JoinSet::new();
    for mut client in clients {
        let (next, shared_ok, path) = (next.clone(), shared_ok.clone(), path.clone());
        set.spawn(async move {
            let mut w = Worker::default();
            w.ids.reserve(count / concurrency + 1);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || w.should_abort(&shared_ok) {
                    break;
                }
                let body = contact_json(first + i);
                w.requests += 1;
                let started = Instant::now();
                let sent = client.post_json(&path, &body).await;
                let acked = Instant::now();
                match sent {
                    Ok(s) if (200..300).contains(&s) => match created_id(client.body()) {
                        Some(id) => {
                            w.ok(started, &shared_ok);
                            w.ids.push((id, acked));
                        }
                        None => {
                            w.error(|| format!("POST {path}: HTTP {s} without an \"id\": {}", snippet(client.body())))
                        }
                    },
                    Ok(s) => w.error(|| format!("POST {path}: HTTP {s}: {}", snippet(client.body()))),
                    Err(e) => w.error(|| format!("POST {path}: {e}")),
                }
            }
            (client, w)
        });
    }
    let progress = tokio::spawn(report_progress(shared_ok.clone(), first, count));
    let result = collect_with_ids(pool, set, start).await;
    progress.abort();
    eprintln!();
    result
}

/// Graph's limit on the requests in one `$batch`.
pub const BATCH_SIZE: usize = 20;

/// Creates `count` contacts (numbered from `first`) through `POST $batch`, [`BATCH_SIZE`] creates
/// per batch, with `concurrency` workers. Requests and latencies count batches; the ids count
/// the creates that answered 201.
pub async fn create_batched(
    pool: &mut Pool,
    base: &str,
    first: usize,
    count: usize,
    concurrency: usize,
) -> Result<(Outcome, Vec<String>), String> {
    let clients = pool.take(concurrency.min(count.div_ceil(BATCH_SIZE).max(1))).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let shared_ok = Arc::new(AtomicU64::new(0));
    let path: Arc<str> = format!("{base}/$batch").into();
    let start = Instant::now();
    let mut set = JoinSet::new();
    for mut client in clients {
        let (next, shared_ok, path) = (next.clone(), shared_ok.clone(), path.clone());
        set.spawn(async move {
            let mut w = Worker::default();
            loop {
                let from = next.fetch_add(BATCH_SIZE, Ordering::Relaxed);
                if from >= count || w.should_abort(&shared_ok) {
                    break;
                }
                let requests: Vec<Value> = (from..count.min(from + BATCH_SIZE))
                    .map(|i| {
                        let body: Value = serde_json::from_slice(&contact_json(first + i)).unwrap_or_default();
                        json!({"id": (i - from + 1).to_string(), "method": "POST", "url": "/me/contacts",
                               "headers": {"Content-Type": "application/json"}, "body": body})
                    })
                    .collect();
                let body = json!({ "requests": requests }).to_string();
                w.requests += 1;
                let started = Instant::now();
                match client.post_json(&path, body.as_bytes()).await {
                    Ok(200) => {
                        let v: Value = serde_json::from_slice(client.body()).unwrap_or_default();
                        let responses = v["responses"].as_array().cloned().unwrap_or_default();
                        let created: Vec<String> = responses
                            .iter()
                            .filter(|r| r["status"] == 201)
                            .filter_map(|r| r["body"]["id"].as_str().map(str::to_owned))
                            .collect();
                        if created.len() == requests.len() {
                            w.ok(started, &shared_ok);
                        } else {
                            let bad = responses.iter().find(|r| r["status"] != 201).cloned().unwrap_or_default();
                            w.error(|| {
                                format!("POST {path}: {} of {} created; e.g. {bad}", created.len(), requests.len())
                            });
                        }
                        let acked = Instant::now();
                        w.ids.extend(created.into_iter().map(|id| (id, acked)));
                    }
                    Ok(s) => w.error(|| format!("POST {path}: HTTP {s}: {}", snippet(client.body()))),
                    Err(e) => w.error(|| format!("POST {path}: {e}")),
                }
            }
            (client, w)
        });
    }
    let (o, ids) = collect_with_ids(pool, set, start).await?;
    Ok((o, ids.into_iter().map(|(id, _)| id).collect()))
}

/// Prints "created n/total" about once a second.
async fn report_progress(done: Arc<AtomicU64>, first: usize, count: usize) {
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let n = done.load(Ordering::Relaxed);
        let rate = n as f64 / start.elapsed().as_secs_f64();
        eprint!("\r  created {}/{} contacts ({:.0}/s)   ", first as u64 + n, first + count, rate);
    }
}

async fn collect(pool: &mut Pool, set: JoinSet<(Client, Worker)>, start: Instant) -> Result<Outcome, String> {
    collect_with_ids(pool, set, start).await.map(|(o, _)| o)
}

async fn collect_with_ids(
    pool: &mut Pool,
    mut set: JoinSet<(Client, Worker)>,
    start: Instant,
) -> Result<(Outcome, Vec<(String, Instant)>), String> {
    let mut out = Outcome::default();
    let mut ids = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (client, mut w) = joined.map_err(|e| format!("worker failed: {e}"))?;
        pool.give_back(client);
        ids.append(&mut w.ids);
        out.merge(w);
    }
    out.elapsed = start.elapsed();
    Ok((out, ids))
}

/// The extended property every seeded contact carries (value `v{i % 100}`).
pub const TIER_PROPERTY: &str = "String {0f9a3b7c-52e1-4c8e-9d6a-3f2b1c0d4e5a} Name Tier";
/// Category names; seeded contact `i` gets `CATEGORIES[i % 10]`.
pub const CATEGORIES: [&str; 10] =
    ["Red", "Orange", "Yellow", "Green", "Blue", "Purple", "Teal", "Olive", "Gray", "Black"];

/// A contact like the brief's example; surnames vary so that the
/// startswith(surname,'L') filter selects a subset (3 of 8). Each also carries a category (one
/// in ten share it) and an extended property (one in a hundred share its value), for the
/// organize scenario's filters.
pub fn contact_json(i: usize) -> Vec<u8> {
    const GIVEN: [&str; 8] = ["Ada", "Charles", "Grace", "Alan", "Barbara", "Leslie", "Donald", "Edsger"];
    const SURNAME: [&str; 8] = ["Lovelace", "Babbage", "Hopper", "Turing", "Liskov", "Lamport", "Knuth", "Dijkstra"];
    let given = GIVEN[i % GIVEN.len()];
    let surname = SURNAME[(i / GIVEN.len()) % SURNAME.len()];
    json!({
        "givenName": given,
        "surname": format!("{surname} {i}"),
        "emailAddresses": [{
            "address": format!("{}{i}@example.com", given.to_ascii_lowercase()),
            "name": given,
        }],
        "businessPhones": [format!("+1 555 {:04}", i % 10_000)],
        "companyName": "Analytical Engines",
        "categories": [CATEGORIES[i % CATEGORIES.len()]],
        "singleValueExtendedProperties": [{"id": TIER_PROPERTY, "value": format!("v{}", i % 100)}],
    })
    .to_string()
    .into_bytes()
}

fn created_id(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("id")?.as_str().map(str::to_string)
}

/// Follows `@odata.nextLink` from `first` until page `want` or the last page.
/// Returns the page reached and the request target that fetches it; ids seen
/// on the way are appended to `ids` while it holds fewer than `max_ids`.
pub async fn walk(
    client: &mut Client,
    first: &str,
    want: usize,
    ids: &mut Vec<String>,
    max_ids: usize,
) -> Result<(usize, String), String> {
    let mut path = first.to_string();
    let mut page = 1;
    loop {
        let status = client.get(&path).await.map_err(|e| format!("GET {path}: {e}"))?;
        if !(200..300).contains(&status) {
            return Err(format!("GET {path}: HTTP {status}: {}", snippet(client.body())));
        }
        let v: Value = serde_json::from_slice(client.body())
            .map_err(|e| format!("GET {path}: response is not JSON ({e}): {}", snippet(client.body())))?;
        if ids.len() < max_ids {
            let values = v.get("value").and_then(Value::as_array).into_iter().flatten();
            ids.extend(values.filter_map(|c| c.get("id")?.as_str().map(str::to_string)).take(max_ids - ids.len()));
        }
        if page >= want {
            return Ok((page, path));
        }
        match v.get("@odata.nextLink").and_then(Value::as_str) {
            Some(link) => {
                path = strip_origin(link).to_string();
                page += 1;
            }
            None => return Ok((page, path)),
        }
        if page % 100 == 0 {
            eprint!("\r  following nextLink: page {page}   ");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_valid_json_and_vary() {
        let a: Value = serde_json::from_slice(&contact_json(0)).unwrap();
        let b: Value = serde_json::from_slice(&contact_json(8)).unwrap();
        assert_eq!(a["surname"], "Lovelace 0");
        assert_eq!(b["surname"], "Babbage 8");
        assert_eq!(a["emailAddresses"][0]["address"], "ada0@example.com");
        assert_eq!(created_id(br#"{"id":"AAMk1","x":1}"#).as_deref(), Some("AAMk1"));
        assert_eq!(created_id(b"not json"), None);
    }

    #[test]
    fn rng_stays_in_range() {
        let mut r = Rng::new(7);
        assert!((0..10_000).all(|_| r.below(10) < 10));
    }
}
