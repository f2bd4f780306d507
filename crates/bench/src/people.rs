//! The people scenario (issue #7): a mailbox with many contacts, a large directory and a long
//! mail history; then `GET /me/people` (the first page) and people-picker `$search` queries.
//!
//! The directory is seeded through the emulator's `/rolo/admin/seed` (so the server runs with
//! `--emulator`), the history as received messages spread over two years, posted at
//! concurrency 16.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::http::snippet;
use crate::load::{self, Pick, Pool};
use crate::report::{thousands, Report, Row};

const GIVEN: [&str; 20] = [
    "Ada",
    "Alan",
    "Barbara",
    "Charles",
    "Donald",
    "Edsger",
    "Frances",
    "Grace",
    "Hedy",
    "John",
    "Katherine",
    "Leslie",
    "Margaret",
    "Niklaus",
    "Radia",
    "Shafi",
    "Tim",
    "Vint",
    "Whitfield",
    "Yukihiro",
];
const SURNAME: [&str; 20] = [
    "Lovelace",
    "Turing",
    "Liskov",
    "Babbage",
    "Knuth",
    "Dijkstra",
    "Allen",
    "Hopper",
    "Lamarr",
    "McCarthy",
    "Johnson",
    "Lamport",
    "Hamilton",
    "Wirth",
    "Perlman",
    "Goldwasser",
    "Berners-Lee",
    "Cerf",
    "Diffie",
    "Matsumoto",
];
/// Messages per import request (about 250 KB of JSON): a 4,000-message request once took over
/// the client's 30 s on a loaded machine.
const IMPORT_CHUNK: usize = 1000;
/// The queries: prefixes, whole names, two words, and one-typo words.
const QUERIES: [&str; 12] =
    ["ada", "lov", "tur", "grace hop", "dijk", "lamport", "knth", "hoppr", "margaret", "wirth n", "cer", "liskov b"];

fn name(i: usize) -> (String, String) {
    (GIVEN[i % GIVEN.len()].to_owned(), format!("{} {}", SURNAME[(i / GIVEN.len()) % SURNAME.len()], i))
}

/// What the scenario seeds and how it measures.
pub struct Params<'a> {
    pub base: &'a str,
    /// The emulator's admin root, e.g. `/rolo/admin`.
    pub admin: &'a str,
    /// The benchmarked mailbox's principal name.
    pub me: &'a str,
    pub directory: usize,
    pub messages: usize,
    pub levels: &'a [usize],
    pub duration: Duration,
}

/// Seeds the directory users and the received messages (from a pool of correspondents, half of
/// them colleagues), then measures.
pub async fn run(pool: &mut Pool, report: &mut Report, p: &Params<'_>) -> Result<(), String> {
    let mut client = pool.one().await?;
    // A kept database (`--database FILE`) that an earlier run seeded to the end is measured as it
    // is: seeding a million messages takes minutes, measuring takes seconds, and a measurement
    // wants an idle machine. The marker user is seeded last, so a run stopped half-way seeds again.
    let seeded = client.get(&format!("{}/users/{}", p.base, marker(p))).await;
    pool.give_back(client);
    if matches!(seeded, Ok(200)) {
        report.notes.push(format!(
            "people corpus: found complete in the kept database ({} directory users, {} messages); not seeded again",
            thousands(p.directory as f64),
            thousands(p.messages as f64)
        ));
    } else {
        seed(pool, report, p).await?;
    }
    measure(pool, report, p).await
}

/// The directory user seeded after everything else: its presence says a run finished seeding
/// this corpus (its sizes are in the name, so a kept file seeded with other sizes seeds again).
fn marker(p: &Params<'_>) -> String {
    format!("bench-corpus-{}-{}@contoso.test", p.directory, p.messages)
}

async fn seed(pool: &mut Pool, report: &mut Report, p: &Params<'_>) -> Result<(), String> {
    let (admin, me, directory, messages) = (p.admin, p.me, p.directory, p.messages);
    let mut client = pool.one().await?;
    eprintln!("people: seeding {} directory users", thousands(directory as f64));
    for chunk in (0..directory).collect::<Vec<_>>().chunks(5_000) {
        let users: Vec<_> = chunk
            .iter()
            .map(|i| {
                let (g, s) = name(*i);
                json!({"userPrincipalName": format!("user{i}@contoso.test"), "displayName": format!("{g} {s}")})
            })
            .collect();
        let body = json!({"users": users}).to_string().into_bytes();
        let status = client.request("POST", &format!("{admin}/seed"), Some(&body)).await;
        if !matches!(status, Ok(200)) {
            let why = format!("seeding the directory failed: {status:?}: {}", snippet(client.body()));
            pool.give_back(client);
            return Err(why);
        }
    }
    pool.give_back(client);

    eprintln!("people: importing {} received messages over two years", thousands(messages as f64));
    let correspondents = (directory / 5).max(100);
    let started = std::time::Instant::now();
    let mut client = pool.one().await?;
    let mut done = 0;
    while done < messages {
        let n = IMPORT_CHUNK.min(messages - done);
        let batch: Vec<_> = (done..done + n)
            .map(|i| {
                let c = (i * 7919) % correspondents;
                let from = if c.is_multiple_of(2) {
                    format!("user{c}@contoso.test")
                } else {
                    format!("partner{c}@example.com")
                };
                let (g, s) = name(c);
                let days = (i * 37) % 730;
                json!({"subject": format!("Update {i}"),
                       "from": {"emailAddress": {"address": from, "name": format!("{g} {s}")}},
                       "toRecipients": [{"emailAddress": {"address": me}}],
                       "receivedDateTime": crate::report::rfc3339_ago(days as u64 * 86_400)})
            })
            .collect();
        let body = json!({"userPrincipalName": me, "messages": batch}).to_string().into_bytes();
        let status = client.request("POST", &format!("{admin}/import"), Some(&body)).await;
        if !matches!(status, Ok(200)) {
            let why = format!("importing messages failed: {status:?}: {}", snippet(client.body()));
            pool.give_back(client);
            return Err(why);
        }
        done += n;
        eprint!("\r  imported {done}/{messages}   ");
    }
    eprintln!();
    pool.give_back(client);
    report.notes.push(format!(
        "people corpus: {} directory users, {} received messages from {} correspondents over two years \
         (imported through /rolo/admin/import in {:.1} s), plus the mailbox's contacts",
        thousands(directory as f64),
        thousands(messages as f64),
        thousands(correspondents as f64),
        started.elapsed().as_secs_f64()
    ));
    let mut client = pool.one().await?;
    let body = json!({"users": [{"userPrincipalName": marker(p), "displayName": "Bench Corpus"}]}).to_string();
    let status = client.request("POST", &format!("{admin}/seed"), Some(body.as_bytes())).await;
    pool.give_back(client);
    if !matches!(status, Ok(200)) {
        return Err(format!("seeding the corpus marker failed: {status:?}"));
    }
    Ok(())
}

/// The first page of /me/people and people-picker `$search`, at each concurrency.
async fn measure(pool: &mut Pool, report: &mut Report, p: &Params<'_>) -> Result<(), String> {
    let base = p.base;
    let first = Arc::new(Pick::One(format!("{base}/me/people")));
    let searches = Arc::new(Pick::Random(
        QUERIES.iter().map(|q| format!("{base}/me/people?$search=%22{}%22", q.replace(' ', "%20"))).collect(),
    ));
    let lowest = p.levels.iter().copied().min().unwrap_or(1);
    let highest = p.levels.iter().copied().max().unwrap_or(1);
    // The first page's target (issue #7) is a single client's; `$search`'s (issue #17 §2) is
    // the p99 at the highest concurrency.
    let targets = [("people: first page", first, 5.0, lowest), ("people: $search", searches, 10.0, highest)];
    for (label, pick, target_ms, at) in targets {
        for &c in p.levels {
            let o = load::timed(pool, c, Arc::clone(&pick), p.duration).await?;
            let mut row = Row::new(label, c, o);
            eprintln!(
                "  {label} @{c}: {} req/s, p50 {:.2} ms, p99 {:.2} ms",
                thousands(row.rps),
                row.p50_ms,
                row.p99_ms
            );
            if c == at {
                let p99 = row.p99_ms;
                row.target(format!("p99 < {target_ms} ms ({p99:.2} ms @{c})"), p99 < target_ms);
            }
            report.rows.push(row);
        }
    }
    Ok(())
}
