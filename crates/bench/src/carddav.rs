//! The CardDAV scenario: a fresh address book (extended MKCOL) filled with N cards by PUT, a full
//! listing as clients do it (PROPFIND Depth 1 for the ETags, then multiget in batches of 100),
//! sync-collection with no change and after 100 changes, and addressbook-query prefix searches.
//! Targets (issue 14): 10,000 PUTs < 10 s, sync after 100 changes < 20 ms, no-change sync
//! < 2 ms, prefix query p99 < 10 ms.

use std::time::Instant;

use crate::http::{self, Client};
use crate::load::Pool;
use crate::report::Report;
use crate::server::USER;

const VCARD: &str = "text/vcard; charset=utf-8";
const XML: &str = "application/xml; charset=utf-8";

fn card(i: usize, tag: &str) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-{i}\r\nFN:Person{i:06} Bench\r\nN:Bench;Person{i:06};;;\r\n\
         EMAIL;TYPE=work:p{i}@example.com\r\nTEL;TYPE=cell:+1 555 {i:06}\r\nNOTE:{tag}\r\nEND:VCARD\r\n"
    )
}

fn sync_body(token: &str) -> String {
    format!(
        "<d:sync-collection xmlns:d=\"DAV:\"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level>\
         <d:prop><d:getetag/></d:prop></d:sync-collection>"
    )
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    text.split(open).nth(1)?.split(close).next()
}

async fn expect(
    client: &mut Client,
    what: &str,
    status: Result<u16, http::HttpError>,
    want: u16,
) -> Result<(), String> {
    match status {
        Ok(s) if s == want => Ok(()),
        Ok(s) => Err(format!("{what}: HTTP {s}: {}", http::snippet(client.body()))),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// One sync round; returns the new token, the responses seen and the milliseconds taken.
async fn sync(client: &mut Client, book: &str, token: &str) -> Result<(String, usize, f64), String> {
    let body = sync_body(token);
    let t0 = Instant::now();
    let s = client.dav("REPORT", book, Some("1"), XML, Some(body.as_bytes())).await;
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    expect(client, "sync-collection", s, 207).await?;
    let text = String::from_utf8_lossy(client.body()).into_owned();
    let next = between(&text, "<D:sync-token>", "</D:sync-token>").ok_or("no sync-token")?.to_owned();
    Ok((next, text.matches("<D:response>").count(), ms))
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0)
}

/// Connections the bulk PUT uses (a client uploading an address book pipelines its requests;
/// SQLite still commits one write at a time).
const PUT_CONNECTIONS: usize = 4;

pub async fn run(pool: &mut Pool, report: &mut Report, n: usize) -> Result<(), String> {
    let mut client = pool.one().await?;
    let mut uploaders = Vec::new();
    for _ in 0..PUT_CONNECTIONS {
        uploaders.push(pool.one().await?);
    }
    let result = scenario(&mut client, &mut uploaders, report, n).await;
    pool.give_back(client);
    for c in uploaders {
        pool.give_back(c);
    }
    result
}

/// PUTs cards `0..n` into `book`, striped over the connections.
async fn bulk_put(uploaders: &mut Vec<Client>, book: &str, n: usize) -> Result<(), String> {
    let stripes = uploaders.len().max(1);
    let mut tasks = Vec::new();
    for (k, mut c) in uploaders.drain(..).enumerate() {
        let book = book.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut result = Ok(());
            for i in (k..n).step_by(stripes) {
                let body = card(i, "v1");
                let s = c.dav("PUT", &format!("{book}card-{i}.vcf"), None, VCARD, Some(body.as_bytes())).await;
                if let Err(e) = expect(&mut c, "PUT", s, 201).await {
                    result = Err(e);
                    break;
                }
            }
            (c, result)
        }));
    }
    let mut outcome = Ok(());
    for t in tasks {
        let (c, r) = t.await.map_err(|e| format!("PUT task: {e}"))?;
        uploaders.push(c);
        outcome = outcome.and(r);
    }
    outcome
}

async fn scenario(
    client: &mut Client,
    uploaders: &mut Vec<Client>,
    report: &mut Report,
    n: usize,
) -> Result<(), String> {
    let home = format!("/dav/addressbooks/{}/", http::encode_segment(USER));
    let book = format!("{home}bench-{}/", std::process::id());
    let mkcol = "<D:mkcol xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:set><D:prop><D:resourcetype>\
                 <D:collection/><C:addressbook/></D:resourcetype><D:displayname>Bench</D:displayname></D:prop></D:set></D:mkcol>";
    let s = client.dav("MKCOL", &book, None, XML, Some(mkcol.as_bytes())).await;
    expect(client, "MKCOL", s, 201).await?;

    eprintln!("carddav: PUT {n} cards");
    let t0 = Instant::now();
    bulk_put(uploaders, &book, n).await?;
    let put_secs = t0.elapsed().as_secs_f64();
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    let put_ok = n < 10_000 || put_secs * 10_000.0 / n as f64 <= 10.0;
    report.notes.push(format!(
        "carddav: {n} PUTs ({PUT_CONNECTIONS} connections) in {put_secs:.2} s, {:.0}/s (target 10,000 < 10 s: {})",
        n as f64 / put_secs,
        verdict(put_ok)
    ));

    // Full listing: ETags by PROPFIND, then the cards by multiget, 100 hrefs a request.
    let t0 = Instant::now();
    let propfind = "<d:propfind xmlns:d=\"DAV:\"><d:prop><d:getetag/><d:getcontenttype/></d:prop></d:propfind>";
    let s = client.dav("PROPFIND", &book, Some("1"), XML, Some(propfind.as_bytes())).await;
    expect(client, "PROPFIND", s, 207).await?;
    let listing = String::from_utf8_lossy(client.body()).into_owned();
    let hrefs: Vec<String> =
        listing.split("<D:href>").skip(2).filter_map(|p| p.split("</D:href>").next()).map(str::to_owned).collect();
    let mut fetched = 0;
    for chunk in hrefs.chunks(100) {
        let mut body = String::from(
            "<C:addressbook-multiget xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:prop><D:getetag/><C:address-data/></D:prop>",
        );
        for h in chunk {
            body.push_str(&format!("<D:href>{h}</D:href>"));
        }
        body.push_str("</C:addressbook-multiget>");
        let s = client.dav("REPORT", &book, Some("1"), XML, Some(body.as_bytes())).await;
        expect(client, "multiget", s, 207).await?;
        fetched += String::from_utf8_lossy(client.body()).matches("BEGIN:VCARD").count();
    }
    if fetched != n || hrefs.len() != n {
        return Err(format!("listing found {} hrefs and {fetched} cards, not {n}", hrefs.len()));
    }
    report.notes.push(format!(
        "carddav: full listing of {n} cards (PROPFIND Depth 1 + {} multigets of 100) in {:.2} s",
        n.div_ceil(100),
        t0.elapsed().as_secs_f64()
    ));

    // Sync: the initial round, no-change rounds, then rounds after 100 changes.
    let (mut token, seen, initial_ms) = sync(client, &book, "").await?;
    if seen != n {
        return Err(format!("initial sync listed {seen} cards, not {n}"));
    }
    let mut idle = Vec::new();
    for _ in 0..200 {
        let (next, seen, ms) = sync(client, &book, &token).await?;
        if seen != 0 {
            return Err(format!("a no-change sync returned {seen} responses"));
        }
        idle.push(ms);
        token = next;
    }
    idle.sort_by(f64::total_cmp);
    let mut rounds = Vec::new();
    for r in 0..5 {
        for k in 0..100 {
            let i = (r * 7919 + k * 104_729) % n;
            let body = card(i, &format!("round {r}"));
            let s = client.dav("PUT", &format!("{book}card-{i}.vcf"), None, VCARD, Some(body.as_bytes())).await;
            expect(client, "PUT (change)", s, 204).await?;
        }
        let (next, seen, ms) = sync(client, &book, &token).await?;
        rounds.push((ms, seen));
        token = next;
    }
    let worst = rounds.iter().map(|(ms, _)| *ms).fold(0.0, f64::max);
    report.notes.push(format!(
        "carddav: sync-collection over {n} cards: initial {initial_ms:.0} ms; no-change p50 {:.2} ms, p99 {:.2} ms \
         (target < 2 ms: {}); after 100 changes: {} ms (target < 20 ms: {})",
        pct(&idle, 0.5),
        pct(&idle, 0.99),
        verdict(pct(&idle, 0.99) < 2.0),
        rounds.iter().map(|(ms, k)| format!("{ms:.2} ({k} cards)")).collect::<Vec<_>>().join(", "),
        verdict(worst < 20.0)
    ));

    // Prefix queries on FN, each matching at most ten cards.
    let mut lat = Vec::new();
    for q in 0..200 {
        let prefix = format!("person{:05}", (q * 37) % (n / 10).max(1));
        let body = format!(
            "<C:addressbook-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\"><D:prop><D:getetag/></D:prop>\
             <C:filter><C:prop-filter name=\"FN\"><C:text-match match-type=\"starts-with\">{prefix}</C:text-match>\
             </C:prop-filter></C:filter></C:addressbook-query>"
        );
        let t0 = Instant::now();
        let s = client.dav("REPORT", &book, Some("1"), XML, Some(body.as_bytes())).await;
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
        expect(client, "addressbook-query", s, 207).await?;
    }
    lat.sort_by(f64::total_cmp);
    report.notes.push(format!(
        "carddav: addressbook-query FN prefix (≤ 10 matches) over {n} cards: p50 {:.2} ms, p99 {:.2} ms (target p99 < 10 ms: {})",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        verdict(pct(&lat, 0.99) < 10.0)
    ));
    Ok(())
}
