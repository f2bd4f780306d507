//! The mailboxes scenario (issue #17 §3, second half): `--mailboxes` users of `--per-mailbox`
//! contacts each, and the per-request figures of the million scenario measured over requests
//! spread across random mailboxes, the way a multi-mailbox service calls Graph: one app-only
//! token (client credentials, application permission Contacts.ReadWrite) against
//! `/users/{id}/contacts`.
//!
//! Seeding goes through the organisation-loading commands, a round at a time: `rolo users add
//! --from` (a round's users in one transaction) and `rolo import --manifest` (a round's files in
//! one bulk transaction, the contact indexes rebuilt once per round). A round is all or nothing,
//! so a seeding stopped part-way leaves whole rounds, and the next run fills only the mailboxes
//! still empty. Seeding is skipped when every mailbox holds contacts, so a kept database is
//! seeded once and measured many times.

use std::io::Write;
use std::sync::Arc;

use serde_json::Value;

use crate::http::{self, Client};
use crate::load::{Pick, Pool};
use crate::report::thousands;
use crate::server::{self, Target};
use crate::{delta, Runs};

/// Contacts per seeding round: the files of a round are on disk at once (about 230 bytes a card),
/// and each round rebuilds the contact indexes over the whole table once.
const ROUND_CONTACTS: usize = 1_000_000;
/// Mailboxes whose contact ids are collected for get by id (ten each).
const ID_MAILBOXES: usize = 200;
/// Mailboxes given an initial delta round, whose links the no-change polls then spread over.
const DELTA_MAILBOXES: usize = 100;

/// The principal name of fleet mailbox `k`.
fn upn(k: usize) -> String {
    format!("fleet-{k:05}@rolo.test")
}

/// Deterministic picks (xorshift64*), so two runs measure the same mailboxes.
struct Picker(u64);

impl Picker {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize % n.max(1)
    }
}

/// `rolo users list`: the fleet's users as (index, object id), by index.
fn fleet_users(rolo: &std::path::Path, db: &str) -> Result<Vec<(usize, String)>, String> {
    let out = server::run_cli(rolo, &["users", "list", "--database", db])?;
    let mut users: Vec<(usize, String)> = out
        .lines()
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let (id, name) = (cols.next()?, cols.next()?);
            let k = name.strip_prefix("fleet-")?.strip_suffix("@rolo.test")?.parse().ok()?;
            Some((k, id.to_owned()))
        })
        .collect();
    users.sort();
    Ok(users)
}

/// Percent-encodes a form value (everything but unreserved characters).
fn form_value(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A registered app with Contacts.ReadWrite and its app-only token from the token endpoint.
async fn app_token(t: &Target, rolo: &std::path::Path, db: &str) -> Result<String, String> {
    let out =
        server::run_cli(rolo, &["apps", "add", "rolo-bench-fleet", "--roles", "Contacts.ReadWrite", "--database", db])?;
    let (id, secret) = out
        .trim()
        .split_once('\t')
        .ok_or_else(|| format!("`rolo apps add` printed {out:?}, expected ID<TAB>SECRET"))?;
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
        form_value(id),
        form_value(secret),
        form_value("https://graph.microsoft.com/.default")
    );
    let mut client = Client::new(&t.addr, &t.token);
    let status = client
        .dav("POST", "/common/oauth2/v2.0/token", None, "application/x-www-form-urlencoded", Some(form.as_bytes()))
        .await
        .map_err(|e| format!("token request: {e}"))?;
    let v: Value = serde_json::from_slice(client.body()).unwrap_or_default();
    match (status, v["access_token"].as_str()) {
        (200, Some(token)) => Ok(token.to_owned()),
        _ => Err(format!("client-credentials token: HTTP {status}: {}", http::snippet(client.body()))),
    }
}

/// A folder's `$count`.
async fn count(client: &mut Client, path: &str) -> Result<usize, String> {
    let status = client.get(path).await.map_err(|e| format!("GET {path}: {e}"))?;
    let body = String::from_utf8_lossy(client.body()).trim().to_owned();
    match status {
        200 => body.parse().map_err(|_| format!("GET {path} answered {body:?}")),
        s => Err(format!("GET {path}: HTTP {s}: {body}")),
    }
}

/// Creates and fills the mailboxes `todo` (indexes) with `per` cards each, in rounds.
fn seed_round(
    rolo: &std::path::Path,
    db: &str,
    todo: &[usize],
    users_exist: &[bool],
    per: usize,
) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("rolo-bench-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let result = (|| {
        let mut users = String::new();
        let mut manifest = String::new();
        let mut text = String::with_capacity(per * 240);
        for (n, &k) in todo.iter().enumerate() {
            if !users_exist[n] {
                users.push_str(&format!("{}\tFleet {k:05}\n", upn(k)));
            }
            text.clear();
            (k * per..(k + 1) * per).for_each(|i| crate::million::card(i, &mut text));
            let file = format!("m{k:05}.vcf");
            std::fs::write(dir.join(&file), text.as_bytes()).map_err(|e| format!("writing {file}: {e}"))?;
            manifest.push_str(&format!("{}\t{file}\n", upn(k)));
        }
        if !users.is_empty() {
            let path = dir.join("users.tsv");
            std::fs::File::create(&path)
                .and_then(|mut f| f.write_all(users.as_bytes()))
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
            server::run_cli(rolo, &["users", "add", "--from", &path.to_string_lossy(), "--database", db])?;
        }
        let path = dir.join("manifest.tsv");
        std::fs::write(&path, manifest).map_err(|e| format!("writing {}: {e}", path.display()))?;
        server::run_cli(rolo, &["import", "--manifest", &path.to_string_lossy(), "--database", db]).map(drop)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Runs the scenario over mailboxes `0..mailboxes` of `per` contacts each.
/// `get_before`: get by id's req/s at the highest level from the `get` scenario of the same run
/// (one mailbox), when it ran: "unchanged" is judged against it.
pub async fn run(
    runs: &mut Runs<'_>,
    t: &Target,
    mailboxes: usize,
    per: usize,
    get_before: Option<f64>,
) -> Result<(), String> {
    let Some((rolo, db)) = t.cli.clone() else {
        return Err("mailboxes: needs a server the bench started (not --external)".into());
    };
    let token = app_token(t, &rolo, &db).await?;
    let mut pool = Pool::new(&t.addr, &token);
    let base = t.base.clone();

    // Which mailboxes need filling: missing users, or users whose folder is empty (a round
    // whose import failed after its users were added).
    let known: std::collections::HashMap<usize, String> = fleet_users(&rolo, &db)?.into_iter().collect();
    let mut todo = Vec::new();
    let mut client = pool.one().await?;
    for k in 0..mailboxes {
        match known.get(&k) {
            None => todo.push((k, false)),
            Some(id) => {
                if count(&mut client, &format!("{base}/users/{id}/contacts/$count")).await? == 0 {
                    todo.push((k, true));
                }
            }
        }
    }
    pool.give_back(client);
    if !todo.is_empty() {
        let started = std::time::Instant::now();
        let per_round = (ROUND_CONTACTS / per.max(1)).max(1);
        eprintln!("mailboxes: filling {} mailboxes of {per} contacts, {per_round} per round", todo.len());
        for round in todo.chunks(per_round) {
            let round_started = std::time::Instant::now();
            let (ks, exist): (Vec<usize>, Vec<bool>) = round.iter().copied().unzip();
            let (rolo, db) = (rolo.clone(), db.clone());
            tokio::task::spawn_blocking(move || seed_round(&rolo, &db, &ks, &exist, per))
                .await
                .map_err(|e| format!("seeding task: {e}"))??;
            eprintln!(
                "mailboxes: seeded mailboxes {}..={} in {:.1} s",
                round[0].0,
                round[round.len() - 1].0,
                round_started.elapsed().as_secs_f64()
            );
        }
        let secs = started.elapsed().as_secs_f64();
        runs.report.notes.push(format!(
            "mailboxes: seeded {} mailboxes of {per} contacts with `rolo users add --from` and `rolo import --manifest` \
             in {secs:.0} s ({} contacts/s)",
            thousands(todo.len() as f64),
            thousands((todo.len() * per) as f64 / secs.max(0.001)),
        ));
    }
    let ids: Vec<String> = {
        let users: std::collections::HashMap<usize, String> = fleet_users(&rolo, &db)?.into_iter().collect();
        (0..mailboxes)
            .map(|k| users.get(&k).cloned().ok_or_else(|| format!("no user {}", upn(k))))
            .collect::<Result<_, _>>()?
    };
    let pid = t.spawned.as_ref().map(server::Spawned::pid);
    measure(runs, &mut pool, &base, &ids, per, pid, get_before).await
}

/// The figures, over random mailboxes of `users` (object ids).
/// `pid`: the spawned server's, for its memory.
async fn measure(
    runs: &mut Runs<'_>,
    pool: &mut Pool,
    base: &str,
    users: &[String],
    per: usize,
    pid: Option<u32>,
    get_before: Option<f64>,
) -> Result<(), String> {
    let label = format!("{} mailboxes × {}", thousands(users.len() as f64), thousands(per as f64));
    let mut pick = Picker(0x9E37_79B9_7F4A_7C15);
    let lists: Vec<String> = users.iter().map(|u| format!("{base}/users/{u}/contacts")).collect();

    // Contact ids from random mailboxes, ten from a random place of each.
    let mut client = pool.one().await?;
    let mut gets = Vec::new();
    let mut one_mailbox = None;
    for _ in 0..ID_MAILBOXES.min(users.len()) {
        let list = &lists[pick.below(lists.len())];
        let path = format!("{list}?$select=id&$top=10&$skip={}", pick.below(per.saturating_sub(10).max(1)));
        let status = client.get(&path).await.map_err(|e| format!("GET {path}: {e}"))?;
        if status != 200 {
            return Err(format!("GET {path}: HTTP {status}: {}", http::snippet(client.body())));
        }
        let v: Value = serde_json::from_slice(client.body()).map_err(|e| format!("ids page: {e}"))?;
        let found: Vec<String> =
            v["value"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str().map(str::to_owned)).collect();
        gets.extend(found.iter().map(|id| format!("{list}/{}", http::encode_segment(id))));
        one_mailbox.get_or_insert_with(|| list.clone());
    }
    // Initial delta rounds: their links are what the no-change polls repeat.
    client.set_prefer(Some("odata.maxpagesize=1000"));
    let mut polls = Vec::new();
    for _ in 0..DELTA_MAILBOXES.min(users.len()) {
        let list = &lists[pick.below(lists.len())];
        let (link, _) = crate::delta_round(&mut client, &format!("{list}/delta")).await?;
        polls.push(http::strip_origin(&link).to_owned());
    }
    client.set_prefer(None);
    pool.give_back(client);
    if gets.is_empty() {
        return Err("mailboxes: no contact ids".into());
    }

    let max_c = runs.max_c;
    let random = |paths: Vec<String>| Arc::new(Pick::Random(paths));
    let prefix = |q: &str| lists.iter().map(|l| format!("{l}?{}", q.replace('\'', "%27"))).collect::<Vec<_>>();
    let cases: [(&str, Arc<Pick>, f64); 6] = [
        ("first page", random(lists.clone()), 2.0),
        ("get by id", random(gets.clone()), 2.0),
        ("prefix startswith(displayName,'Les')", random(prefix("$filter=startswith(displayName,'Les')")), 10.0),
        (
            "prefix startswith(surname,'Lam') orderby displayName",
            random(prefix("$filter=startswith(surname,'Lam')&$orderby=displayName")),
            10.0,
        ),
        ("$count", random(lists.iter().map(|l| format!("{l}/$count")).collect()), 50.0),
        ("delta no-change poll", random(polls), 2.0),
    ];
    // Runs swaps in the app's pool: the user's token cannot read other mailboxes.
    let mut app_runs = Runs { pool, report: &mut *runs.report, duration: runs.duration, max_c, levels: runs.levels };
    for (name, pick, ms) in cases {
        let mut row = app_runs.one(&format!("{name}, random mailbox @ {label}"), max_c, &pick).await?;
        let (p99, rps) = (row.p99_ms, row.rps);
        match get_before {
            // As in the million scenario: within the machine's run-to-run noise of one mailbox.
            Some(before) if name == "get by id" => {
                let ratio = rps / before;
                row.target(format!("unchanged: ×{ratio:.2} of get by id in one mailbox (≥ 0.85)"), ratio >= 0.85);
            }
            _ => row.target(format!("p99 < {ms} ms @{max_c}"), p99 < ms),
        }
        app_runs.report.rows.push(row);
    }
    // Delta after 100 changes, in one mailbox (PATCHes of its own contacts).
    if let Some(list) = one_mailbox {
        let ids = ids_of(app_runs.pool, &list).await?;
        let owner = list.trim_end_matches("/contacts").to_owned();
        delta(&mut app_runs, &format!("mailboxes ({label}): delta in one mailbox"), &owner, &ids, Some(1000)).await?;
    }
    if let Some(pid) = pid {
        let mix: Vec<String> = lists.iter().chain(&gets).cloned().collect();
        let mut row = app_runs.one(&format!("list/get mix, random mailbox @ {label}"), max_c, &random(mix)).await?;
        let (rss, hwm) = server::memory_kib(pid)?;
        let mb = |kib: u64| kib as f64 * 1024.0 / 1e6;
        row.target(format!("VmRSS < 150 MB ({:.1} MB; peak VmHWM {:.1} MB)", mb(rss), mb(hwm)), mb(rss) < 150.0);
        app_runs.report.rows.push(row);
    }
    Ok(())
}

/// Up to 1,000 contact ids of one folder's list.
async fn ids_of(pool: &mut Pool, list: &str) -> Result<Vec<String>, String> {
    let mut client = pool.one().await?;
    let path = format!("{list}?$select=id&$top=1000");
    let status = client.get(&path).await.map_err(|e| format!("GET {path}: {e}"));
    let body: Value = serde_json::from_slice(client.body()).unwrap_or_default();
    let snippet = http::snippet(client.body());
    pool.give_back(client);
    if status? != 200 {
        return Err(format!("GET {path}: {snippet}"));
    }
    Ok(body["value"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str().map(str::to_owned)).collect())
}
