//! The million scenario (issue #17 §3): one mailbox grown to `--million` contacts through the
//! bulk path (`rolo import --bulk` of generated vCard files, the way an operator loads a big
//! address book: each file one transaction, the contact indexes rebuilt once per file), then the per-request figures that must not grow with the mailbox: the first page, get
//! by id, `startswith` prefix searches, `$count`, delta, and the server's memory.
//!
//! Seeding is skipped when the mailbox already holds that many contacts, so a kept database
//! (`--database /path/big.sqlite`) is seeded once and measured many times.

use std::io::Write;
use std::sync::Arc;

use serde_json::Value;

use crate::load::{self, Pick};
use crate::report::{thousands, Row};
use crate::server::{self, Target};
use crate::{delta, versus_ceiling, Runs};

/// Cards per `rolo import --bulk` run: the import parses its whole file first, so this bounds its
/// memory; each run also rebuilds the contact indexes over the whole mailbox once.
const CHUNK: usize = 100_000;
/// Ids collected for get by id, spread over the mailbox with `$skip`.
const ID_SAMPLES: usize = 20;
const IDS_PER_SAMPLE: usize = 100;

const GIVEN: [&str; 16] = [
    "Ada",
    "Alan",
    "Barbara",
    "Charles",
    "Donald",
    "Edsger",
    "Frances",
    "Grace",
    "John",
    "Katherine",
    "Leslie",
    "Margaret",
    "Niklaus",
    "Radia",
    "Shafi",
    "Tim",
];
const SURNAME: [&str; 32] = [
    "Abbott",
    "Baker",
    "Carter",
    "Dalton",
    "Ellis",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lamport",
    "Liskov",
    "Lovelace",
    "Martin",
    "Nakamura",
    "Novak",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Silva",
    "Tanaka",
    "Turing",
    "Ueda",
    "Vogel",
    "Wagner",
    "Weber",
    "Xu",
    "Young",
    "Zimmermann",
];

/// Card `i`: names from the lists above (a `startswith` prefix of a given name or surname
/// selects 1 in 16 or 1 in 32 of the mailbox), a work email and a mobile number.
pub(crate) fn card(i: usize, out: &mut String) {
    use std::fmt::Write as _;
    let given = GIVEN[i % GIVEN.len()];
    let surname = SURNAME[(i / GIVEN.len()) % SURNAME.len()];
    let _ = write!(
        out,
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:million-{i}\r\nN:{surname} {i};{given};;;\r\nFN:{given} {surname} {i}\r\n\
         ORG:Company {}\r\nEMAIL;TYPE=INTERNET,WORK:{}.{i}@example.com\r\nTEL;TYPE=CELL:+1 555 {i:07}\r\nEND:VCARD\r\n",
        i % 500,
        given.to_ascii_lowercase(),
    );
}

/// The default folder's contact count (`$count`).
async fn count(runs: &mut Runs<'_>, base: &str) -> Result<usize, String> {
    let mut client = runs.pool.one().await?;
    let status = client.get(&format!("{base}/me/contacts/$count")).await.map_err(|e| format!("$count: {e}"));
    let body = String::from_utf8_lossy(client.body()).trim().to_owned();
    runs.pool.give_back(client);
    match status? {
        200 => body.parse().map_err(|_| format!("$count answered {body:?}")),
        s => Err(format!("$count: HTTP {s}: {body}")),
    }
}

/// Grows the default folder to `want` contacts with `rolo import`, `CHUNK` cards per run.
async fn seed(t: &Target, have: usize, want: usize, notes: &mut Vec<String>) -> Result<(), String> {
    let Some((rolo, db)) = t.cli.clone() else {
        return Err("million: seeding needs a server the bench started (not --external)".into());
    };
    let started = std::time::Instant::now();
    let mut next = have;
    while next < want {
        let end = (next + CHUNK).min(want);
        let (rolo, db) = (rolo.clone(), db.clone());
        let chunk_started = std::time::Instant::now();
        tokio::task::spawn_blocking(move || -> Result<(), String> {
            let mut text = String::with_capacity((end - next) * 230);
            (next..end).for_each(|i| card(i, &mut text));
            let path = std::env::temp_dir().join(format!("rolo-bench-million-{}-{next}.vcf", std::process::id()));
            let written = std::fs::File::create(&path).and_then(|mut f| f.write_all(text.as_bytes()));
            drop(text);
            let result = written.map_err(|e| format!("writing {}: {e}", path.display())).and_then(|()| {
                server::run_cli(&rolo, &["import", server::USER, &path.to_string_lossy(), "--bulk", "--database", &db])
            });
            let _ = std::fs::remove_file(&path);
            result.map(drop)
        })
        .await
        .map_err(|e| format!("import task: {e}"))??;
        eprintln!(
            "million: imported up to {} in {:.1} s",
            thousands(end as f64),
            chunk_started.elapsed().as_secs_f64()
        );
        next = end;
    }
    let secs = started.elapsed().as_secs_f64();
    notes.push(format!(
        "million: seeded {} contacts with `rolo import --bulk` ({} cards per run) in {secs:.0} s ({} contacts/s)",
        thousands((want - have) as f64),
        thousands(CHUNK as f64),
        thousands((want - have) as f64 / secs.max(0.001)),
    ));
    Ok(())
}

/// Contact ids from `ID_SAMPLES` places spread over the mailbox (`$skip`; paid once, not timed).
async fn spread_ids(runs: &mut Runs<'_>, list: &str, total: usize) -> Result<Vec<String>, String> {
    let mut client = runs.pool.one().await?;
    let mut ids = Vec::with_capacity(ID_SAMPLES * IDS_PER_SAMPLE);
    let mut failure = None;
    for k in 0..ID_SAMPLES {
        let skip = total.saturating_sub(IDS_PER_SAMPLE) * k / ID_SAMPLES;
        let path = format!("{list}?$select=id&$top={IDS_PER_SAMPLE}&$skip={skip}");
        match client.get(&path).await {
            Ok(200) => {}
            other => {
                failure = Some(format!("GET {path}: {other:?}: {}", crate::http::snippet(client.body())));
                break;
            }
        }
        let v: Value = serde_json::from_slice(client.body()).map_err(|e| format!("ids page: {e}"))?;
        let values = v["value"].as_array().into_iter().flatten();
        ids.extend(values.filter_map(|c| c["id"].as_str().map(str::to_owned)));
    }
    runs.pool.give_back(client);
    match failure {
        Some(f) => Err(f),
        None => Ok(ids),
    }
}

/// Runs the million scenario; `get_before` is get by id's req/s at the highest level from the
/// earlier `get` scenario (a smaller mailbox), when it ran.
pub async fn run(
    runs: &mut Runs<'_>,
    t: &Target,
    want: usize,
    get_before: Option<f64>,
    ceiling: Option<f64>,
) -> Result<(), String> {
    let base = t.base.as_str();
    let list = format!("{base}/me/contacts");
    let have = count(runs, base).await?;
    if have < want {
        eprintln!(
            "million: the mailbox holds {} contacts; importing up to {}",
            thousands(have as f64),
            thousands(want as f64)
        );
        seed(t, have, want, &mut runs.report.notes).await?;
    }
    let total = count(runs, base).await?;
    let label = format!("{} contacts", thousands(total as f64));
    let ids = spread_ids(runs, &list, total).await?;
    if ids.is_empty() {
        return Err("million: no contact ids".into());
    }
    let max_c = runs.max_c;

    let first = Arc::new(Pick::One(list.clone()));
    let mut row = runs.one(&format!("first page @ {label}"), max_c, &first).await?;
    let p99 = row.p99_ms;
    row.target(format!("p99 < 2 ms @{max_c}"), p99 < 2.0);
    runs.report.rows.push(row);

    let gets = Arc::new(Pick::Random(load::id_paths(base, &ids)));
    let mut row = runs.one(&format!("get by id @ {label}"), max_c, &gets).await?;
    match get_before {
        // "Unchanged": within this machine's run-to-run noise (±15%) of the smaller mailbox.
        Some(before) => {
            let ratio = row.rps / before;
            row.target(format!("unchanged: ×{ratio:.2} of get by id before seeding (≥ 0.85)"), ratio >= 0.85);
        }
        None => {
            let (text, met) = versus_ceiling(row.rps, ceiling, 0.5, 15_000.0);
            row.target(text, met);
        }
    }
    runs.report.rows.push(row);

    for (name, query) in [
        ("prefix startswith(displayName,'Les')", "$filter=startswith(displayName,'Les')"),
        (
            "prefix startswith(surname,'Lam') orderby displayName",
            "$filter=startswith(surname,'Lam')&$orderby=displayName",
        ),
    ] {
        let pick = Arc::new(Pick::One(format!("{list}?{}", query.replace('\'', "%27"))));
        let mut row = runs.one(&format!("{name} @ {label}"), max_c, &pick).await?;
        let p99 = row.p99_ms;
        row.target(format!("p99 < 10 ms @{max_c}"), p99 < 10.0);
        runs.report.rows.push(row);
    }

    // One at a time: a count is a whole-folder read whose own latency is the target.
    let counts = Arc::new(Pick::One(format!("{list}/$count")));
    let mut row = runs.one(&format!("$count @ {label}"), 1, &counts).await?;
    let p99 = row.p99_ms;
    row.target(format!("p99 < 50 ms @1 ({p99:.1} ms)"), p99 < 50.0);
    runs.report.rows.push(row);

    delta(runs, &format!("million ({label}): delta"), &format!("{base}/me"), &ids, Some(1000)).await?;

    if let Some(spawned) = &t.spawned {
        let (rss, hwm) = server::memory_kib(spawned.pid())?;
        let mb = |kib: u64| kib as f64 * 1024.0 / 1e6;
        let mix = Arc::new(Pick::Mix(list.clone(), load::id_paths(base, &ids)));
        let mut row: Row = runs.one(&format!("list/get mix @ {label}"), max_c, &mix).await?;
        let (rss_after, _) = server::memory_kib(spawned.pid())?;
        let worst = rss.max(rss_after);
        row.target(format!("VmRSS < 150 MB ({:.1} MB; peak VmHWM {:.1} MB)", mb(worst), mb(hwm)), mb(worst) < 150.0);
        runs.report.rows.push(row);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_are_distinct_vcards() {
        let mut text = String::new();
        card(0, &mut text);
        card(26, &mut text);
        assert_eq!(text.matches("BEGIN:VCARD\r\n").count(), 2);
        assert!(text.contains("UID:million-0\r\nN:Abbott 0;Ada;;;\r\nFN:Ada Abbott 0\r\n"));
        assert!(text.contains("FN:Leslie Baker 26\r\n"));
        assert!(text.contains("EMAIL;TYPE=INTERNET,WORK:leslie.26@example.com\r\n"));
    }
}
