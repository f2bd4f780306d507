//! `rolo import` and `rolo export`: contact files (vCard, Outlook and Google CSV) in and out of
//! a user's folders, named by path (`Work/Clients`) under the default Contacts folder. The work
//! itself is `rolo_server::vcard`'s, shared with the HTTP routes.

use std::io::{IsTerminal, Write};
use std::path::Path;

use rolo_domain::vcard::{Format, VCardVersion};
use rolo_domain::FolderId;
use rolo_store::prelude::*;
use rolo_store::{ListQuery, Mailbox, SqlStore};

/// Finds (or, when `create`, makes) the folder at `path`: names separated by `/`, from the
/// default Contacts folder; no path is the default folder itself.
pub(crate) async fn folder(
    store: &SqlStore,
    mailbox: &Mailbox,
    path: Option<&str>,
    create: bool,
) -> Result<FolderId, String> {
    let mut current = mailbox.default_folder_id.clone();
    for name in path.unwrap_or_default().split('/').map(str::trim).filter(|n| !n.is_empty()) {
        let query = ListQuery { page_size: 1000, ..Default::default() };
        let children = store.list_folders(mailbox, &current, &query).await.map_err(|e| e.message)?;
        current = match children.items.into_iter().find(|f| f.display_name.eq_ignore_ascii_case(name)) {
            Some(f) => f.id,
            None if create => store.create_folder(mailbox, &current, name).await.map_err(|e| e.message)?.id,
            None => return Err(format!("no folder named '{name}' in {}", path.unwrap_or_default())),
        };
    }
    Ok(current)
}

pub(crate) fn format_arg(raw: Option<&str>) -> Result<Option<Format>, String> {
    raw.map(|f| Format::parse(f).ok_or_else(|| format!("the format is vcard, outlook-csv or google-csv, not '{f}'")))
        .transpose()
}

/// A bar on a terminal; plain progress lines (every 10%) otherwise.
fn progress_reporter() -> Box<dyn FnMut(usize, usize) + Send> {
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} records ({eta} left)")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Box::new(move |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            if done >= total {
                bar.finish_and_clear();
            }
        })
    } else {
        let mut last_tenth = 0;
        Box::new(move |done, total| {
            let tenth = (done * 10).checked_div(total).unwrap_or(10);
            if tenth > last_tenth || done == total {
                last_tenth = tenth;
                eprintln!("progress: {done}/{total} records");
            }
        })
    }
}

pub async fn import(
    store: &SqlStore,
    upn: &str,
    file: &Path,
    folder_path: Option<&str>,
    format: Option<&str>,
    bulk: bool,
) -> Result<(), String> {
    let user = store.find_user(upn).await.map_err(|e| e.message)?.ok_or_else(|| format!("no such user: {upn}"))?;
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let text = rolo_domain::vcard::decode_bytes(&bytes);
    let format = match format_arg(format)? {
        Some(f) => f,
        None => Format::detect(&text).ok_or_else(|| {
            format!("{}: not a vCard, and no Outlook or Google CSV header row; name it with --format", file.display())
        })?,
    };
    let folder = folder(store, &user.mailbox, folder_path, true).await?;
    let mut progress = progress_reporter();
    let summary = rolo_server::vcard::import_text(
        store,
        &user.mailbox,
        &folder,
        &text,
        format,
        // A bulk batch rebuilds the contact indexes once: the whole file is one batch.
        if bulk { usize::MAX } else { rolo_server::vcard::BULK_BATCH },
        bulk,
        &mut *progress,
    )
    .await
    .map_err(|e| e.message)?;
    let mut out = std::io::stdout().lock();
    let _ =
        writeln!(out, "imported {}, merged {}, skipped {}", summary.imported, summary.merged, summary.skipped.len());
    for bad in &summary.skipped {
        let _ = writeln!(out, "skipped line {}: {}", bad.line, bad.reason);
    }
    Ok(())
}

pub async fn export(
    store: &SqlStore,
    upn: &str,
    folder_path: Option<&str>,
    format: &str,
    output: Option<&Path>,
) -> Result<(), String> {
    let user = store.find_user(upn).await.map_err(|e| e.message)?.ok_or_else(|| format!("no such user: {upn}"))?;
    let (format, version) = match format {
        "vcard4" => (Format::VCard, VCardVersion::V4),
        f => (format_arg(Some(f))?.unwrap_or(Format::VCard), VCardVersion::V3),
    };
    let folder = folder(store, &user.mailbox, folder_path, false).await?;
    let text = rolo_server::vcard::export_folder(store, &user.mailbox, &folder, format, version)
        .await
        .map_err(|e| e.message)?;
    match output {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| e.to_string()),
    }
}
