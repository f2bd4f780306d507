//! Loading a whole organisation into a database no server is using: `rolo users add --from`
//! (every user of a file in one transaction) and `rolo import --manifest` (every user's contact
//! file in one bulk transaction, the contact indexes rebuilt once at its end). One transaction
//! per user or per file would pay a commit, and for the files an index rebuild over the whole
//! table, ten thousand times over.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rolo_domain::vcard::{self, Format};
use rolo_domain::{FolderId, GraphError};
use rolo_store::prelude::*;
use rolo_store::{MailboxBatch, SqlStore, User};

/// The lines of a list file that say something: (line number, text), without blank lines and
/// `#` comments.
fn entries(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
}

/// `rolo users add --from FILE`: `UPN<TAB>DISPLAY NAME` lines, all added or none.
pub async fn add_users(store: &SqlStore, from: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    let mut users = Vec::new();
    for (line, entry) in entries(&text) {
        let (upn, name) = entry.split_once('\t').unwrap_or((entry, entry));
        let (upn, name) = (upn.trim(), name.trim());
        if upn.is_empty() || upn.contains(char::is_whitespace) {
            return Err(format!("{} line {line}: '{upn}' is not a user principal name", from.display()));
        }
        users.push((upn.to_owned(), if name.is_empty() { upn } else { name }.to_owned()));
    }
    let created = store.create_users(&users).await.map_err(|e| e.message)?;
    let mut out = String::new();
    for u in &created {
        out.push_str(&format!("{}\t{}\t{}\n", u.id, u.user_principal_name, u.display_name));
    }
    print!("{out}");
    Ok(())
}

/// One manifest line, resolved.
struct Planned {
    user: User,
    folder: FolderId,
    file: PathBuf,
}

/// `rolo import --manifest FILE`: `UPN<TAB>FILE` lines. Every user and file is checked before
/// anything is written; then the files are parsed one after another (off the async workers)
/// while the store writes the previous ones, all in one transaction.
pub async fn import_manifest(
    store: &SqlStore,
    manifest: &Path,
    folder_path: Option<&str>,
    format: Option<&str>,
) -> Result<(), String> {
    let text = std::fs::read_to_string(manifest).map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let format = crate::files::format_arg(format)?;
    let mut by_name = HashMap::new();
    for u in store.list_users().await.map_err(|e| e.message)? {
        by_name.insert(u.user_principal_name.to_lowercase(), u.clone());
        by_name.insert(u.id.clone(), u);
    }
    let mut plan = Vec::new();
    for (line, entry) in entries(&text) {
        let at = || format!("{} line {line}", manifest.display());
        let (upn, file) = entry.split_once('\t').ok_or_else(|| format!("{}: expected UPN<TAB>FILE", at()))?;
        let user =
            by_name.get(&upn.trim().to_lowercase()).cloned().ok_or_else(|| format!("{}: no such user: {upn}", at()))?;
        let file = dir.join(file.trim());
        if !file.is_file() {
            return Err(format!("{}: no such file: {}", at(), file.display()));
        }
        let folder = match folder_path {
            Some(_) => crate::files::folder(store, &user.mailbox, folder_path, true).await?,
            None => user.mailbox.default_folder_id.clone(),
        };
        plan.push(Planned { user, folder, file });
    }
    let total = plan.len();
    // Two files parsed ahead of the writer at most: memory stays a few files' worth.
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let key = vcard::uid_property();
    let mut skipped = Vec::new();
    let (written, read) =
        tokio::join!(store.import_mailboxes_bulk(&key, rx), read_files(plan, format, tx, &mut skipped));
    // A failed read rolled the load back (its error reached the store); say why it failed.
    read?;
    let counts = written.map_err(|e| e.message)?;
    let imported: usize = counts.iter().map(|c| c.created).sum();
    let merged: usize = counts.iter().map(|c| c.merged).sum();
    println!("imported {imported}, merged {merged}, skipped {} in {total} mailboxes", skipped.len());
    for s in &skipped {
        println!("skipped {s}");
    }
    Ok(())
}

/// Parses each planned file and hands it to the store; on a file that cannot be read, sends the
/// error (which rolls the load back) and returns it.
async fn read_files(
    plan: Vec<Planned>,
    format: Option<Format>,
    tx: tokio::sync::mpsc::Sender<rolo_domain::GraphResult<MailboxBatch>>,
    skipped: &mut Vec<String>,
) -> Result<(), String> {
    let total = plan.len();
    let mut last_tenth = 0;
    for (done, Planned { user, folder, file }) in plan.into_iter().enumerate() {
        let path = file.clone();
        let parsed = tokio::task::spawn_blocking(move || {
            let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let text = vcard::decode_bytes(&bytes);
            let format = format.or_else(|| Format::detect(&text)).ok_or_else(|| {
                format!(
                    "{}: not a vCard, and no Outlook or Google CSV header row; name it with --format",
                    path.display()
                )
            })?;
            Ok::<_, String>(rolo_server::vcard::prepare(vcard::read(&text, format), &vcard::uid_property()))
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        let (items, bad) = match parsed {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(Err(GraphError::bad_request("BadRequest", e.clone()))).await;
                return Err(e);
            }
        };
        skipped.extend(bad.into_iter().map(|b| format!("{} line {}: {}", file.display(), b.line, b.reason)));
        let batch = MailboxBatch { mailbox: user.mailbox, folder, items };
        if tx.send(Ok(batch)).await.is_err() {
            // The store stopped (its error is the one to report).
            return Ok(());
        }
        let tenth = (done + 1) * 10 / total;
        if tenth > last_tenth {
            last_tenth = tenth;
            eprintln!("progress: {}/{total} files", done + 1);
        }
    }
    Ok(())
}
