//! The mechanical half of docs/SCALING.md: every mailbox-scoped table (one with a `mailbox_id`
//! column) has `mailbox_id` leading its primary key, and every statement the store writes on one
//! filters by a single mailbox (`mailbox_id = ?`, or an INSERT naming the column), so a
//! distributed PostgreSQL (Citus) can shard by mailbox and route each statement to one shard.
//! The exceptions are listed below with their reasons.
//!
//! The statements are found by reading the string literals of the store's source files, so a
//! table named through a `format!` placeholder (`FROM {table}`) is not seen: the query compiler
//! (query.rs) builds its sub-selects that way, always joined on the outer row's `mailbox_id`.

use std::collections::BTreeMap;

use crate::migrations::MIGRATIONS;

/// Tables with a `mailbox_id` column that are not distributed by it, and why.
const NOT_BY_MAILBOX: &[(&str, &str)] = &[
    (
        "subscriptions",
        "addressed by id (`/subscriptions/{id}`) and swept across mailboxes by expiry: distributed by id",
    ),
    (
        "outbox",
        "a fleet-wide queue claimed by due time across mailboxes (SKIP LOCKED): distributed by id; its \
         rows are written in the mailbox's transaction (a two-shard transaction on Citus)",
    ),
];

/// Statements on mailbox-distributed tables that touch many mailboxes on purpose: (file, the
/// statement's start, why).
const MULTI_MAILBOX_STATEMENTS: &[(&str, &str, &str)] = &[
    (
        "sql_store/changes.rs",
        "DELETE FROM tombstones WHERE removed_at < ?",
        "hourly compaction of every mailbox's change log: a maintenance fan-out to all shards",
    ),
    (
        "sql_store/dav.rs",
        "SELECT mailbox_id FROM mailbox_grants WHERE grantee_id = ? UNION SELECT mailbox_id FROM folder_grants WHERE grantee_id = ? ORDER BY mailbox_id",
        "which mailboxes share something with a CardDAV user (its address book homes): a lookup by grantee, \
         across shards, made once per PROPFIND of the principal",
    ),
    (
        "sql_store/fleet.rs",
        "DELETE FROM throttle_counts WHERE window_start <= ?",
        "each process's once-a-minute sweep of request counts whose windows are over: a maintenance \
         fan-out to all shards",
    ),
    (
        "migrations.rs",
        "{sqlite}CREATE TRIGGER contacts_count_insert",
        "the trigger's upsert counts the inserted row in its own mailbox (`NEW.mailbox_id`): one mailbox, \
         the row's shard",
    ),
    (
        "sql_store/emulator.rs",
        "UPDATE mailboxes SET change_seq = change_seq + 1",
        "the emulator's whole-state reset; never runs in a deployment",
    ),
];

/// A `CREATE TABLE`'s name, columns and primary key's columns.
struct Table {
    name: String,
    columns: Vec<String>,
    primary_key: Vec<String>,
}

fn tables() -> Vec<Table> {
    let mut tables: Vec<Table> = Vec::new();
    for statement in MIGRATIONS.iter().flat_map(|m| m.iter()) {
        let s = statement.trim();
        // Unlogged or not, a table is laid out the same.
        let s = s.strip_prefix("{unlogged}").unwrap_or(s);
        if let Some(rest) = s.strip_prefix("CREATE TABLE ") {
            let (name, body) = rest.split_once('(').expect("a column list");
            // `{clustered}` (SQLite's WITHOUT ROWID) may follow the column list.
            let body = body.trim_end().trim_end_matches("{clustered}");
            let body = body.strip_suffix(')').expect("a closing parenthesis");
            let mut table = Table { name: name.trim().to_owned(), columns: Vec::new(), primary_key: Vec::new() };
            let mut parts = Vec::new();
            let (mut depth, mut start) = (0, 0);
            for (i, c) in body.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    ',' if depth == 0 => {
                        parts.push(body.get(start..i).unwrap_or_default().trim());
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            parts.push(body.get(start..).unwrap_or_default().trim());
            for part in parts {
                if let Some(keys) = part.strip_prefix("PRIMARY KEY (") {
                    let keys = keys.trim_end_matches(')');
                    table.primary_key = keys.split(',').map(|k| k.trim().to_owned()).collect();
                } else if let Some(column) = part.split_whitespace().next() {
                    if part.contains("PRIMARY KEY") {
                        table.primary_key = vec![column.to_owned()];
                    }
                    table.columns.push(column.to_owned());
                }
            }
            tables.push(table);
        } else if let Some(rest) = s.strip_prefix("ALTER TABLE ") {
            let mut words = rest.split_whitespace();
            let (name, column) = (words.next().unwrap_or_default(), words.nth(2).unwrap_or_default());
            if let Some(t) = tables.iter_mut().find(|t| t.name == name) {
                t.columns.push(column.to_owned());
            }
        }
    }
    tables
}

/// The string literals of Rust source (ordinary and raw), with `\` line continuations joined,
/// each with its line; the `#[cfg(test)]` module and comments are left out.
fn string_literals(src: &str) -> Vec<(usize, String)> {
    let src = src.split("#[cfg(test)]").next().unwrap_or(src);
    let b = src.as_bytes();
    let (mut out, mut i, mut line) = (Vec::new(), 0, 1);
    while i < b.len() {
        match b[i] {
            b'\n' => line += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\'' => {
                // A char literal ('"', '\'', 'x'), or a lifetime.
                if b.get(i + 1) == Some(&b'\\') {
                    i += 3;
                    while i < b.len() && b[i] != b'\'' {
                        i += 1;
                    }
                } else if b.get(i + 2) == Some(&b'\'') {
                    i += 2;
                }
            }
            b'r' if (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#'))
                && !b.get(i.wrapping_sub(1)).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') =>
            {
                let hashes = b[i + 1..].iter().take_while(|c| **c == b'#').count();
                if b.get(i + 1 + hashes) == Some(&b'"') {
                    let start = i + 2 + hashes;
                    let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
                    let end = (start..b.len()).find(|&j| b[j..].starts_with(&close)).unwrap_or(b.len());
                    let text = String::from_utf8_lossy(&b[start..end]).into_owned();
                    out.push((line, text.clone()));
                    line += text.matches('\n').count();
                    i = end + close.len();
                    continue;
                }
            }
            b'"' => {
                let (start_line, mut text) = (line, Vec::new());
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && b.get(i + 1) == Some(&b'\n') {
                        // A line continuation: the newline and the next line's indentation go.
                        i += 1;
                        while i < b.len() && b[i].is_ascii_whitespace() {
                            line += usize::from(b[i] == b'\n');
                            i += 1;
                        }
                        continue;
                    }
                    if b[i] == b'\\' {
                        text.push(b[i]);
                        i += 1;
                    }
                    line += usize::from(b.get(i) == Some(&b'\n'));
                    if let Some(&c) = b.get(i) {
                        text.push(c);
                    }
                    i += 1;
                }
                out.push((start_line, String::from_utf8_lossy(&text).into_owned()));
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The tables a statement names after FROM, JOIN, UPDATE or INTO.
fn tables_named(sql: &str) -> Vec<String> {
    let words: Vec<&str> =
        sql.split(|c: char| c.is_whitespace() || c == '(' || c == ',').filter(|w| !w.is_empty()).collect();
    words
        .windows(2)
        .filter(|w| matches!(w[0], "FROM" | "JOIN" | "UPDATE" | "INTO"))
        .map(|w| w[1].trim_end_matches(';').to_owned())
        .collect()
}

/// A statement filters by one mailbox: `mailbox_id = ...`, or an INSERT that names the column.
fn filters_one_mailbox(sql: &str) -> bool {
    let squeezed: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    squeezed.contains("mailbox_id = ")
        || squeezed.contains("mailbox_id=")
        || (squeezed.trim_start().starts_with("INSERT") && squeezed.contains("mailbox_id"))
        || inserts_only_with_mailbox(&squeezed)
}

/// A `WITH` of INSERTs only (a new contact's side tables on PostgreSQL), each naming
/// `mailbox_id` among its columns.
fn inserts_only_with_mailbox(squeezed: &str) -> bool {
    let parts: Vec<&str> = squeezed.split("INSERT INTO ").skip(1).collect();
    squeezed.starts_with("WITH ")
        && !parts.is_empty()
        && !squeezed.contains("UPDATE ")
        && !squeezed.contains("DELETE ")
        && parts.iter().all(|p| p.split(')').next().is_some_and(|columns| columns.contains("(mailbox_id")))
}

#[test]
fn every_mailbox_table_leads_its_primary_key_with_mailbox_id() {
    let tables = tables();
    assert!(tables.len() > 30, "the migrations' tables were not read: {}", tables.len());
    let scoped: Vec<&Table> = tables.iter().filter(|t| t.columns.iter().any(|c| c == "mailbox_id")).collect();
    assert!(scoped.len() > 20, "{}", scoped.len());
    for t in &scoped {
        let exempt = NOT_BY_MAILBOX.iter().any(|(name, _)| *name == t.name);
        let leads = t.primary_key.first().is_some_and(|k| k == "mailbox_id");
        assert!(
            leads || exempt,
            "{}: primary key ({}) does not start with mailbox_id",
            t.name,
            t.primary_key.join(", ")
        );
        assert!(!(leads && exempt), "{} is listed in NOT_BY_MAILBOX but is keyed by mailbox: drop it", t.name);
    }
    for (name, _) in NOT_BY_MAILBOX {
        assert!(scoped.iter().any(|t| t.name == *name), "NOT_BY_MAILBOX names {name}, which has no mailbox_id");
    }
}

#[test]
fn every_statement_on_a_mailbox_table_names_one_mailbox() {
    let tables = tables();
    let distributed: Vec<&str> = tables
        .iter()
        .filter(|t| t.columns.iter().any(|c| c == "mailbox_id"))
        .map(|t| t.name.as_str())
        .filter(|name| !NOT_BY_MAILBOX.iter().any(|(n, _)| n == name))
        .collect();
    // File names relative to src/: `sql_store/changes.rs`, `lifecycle.rs`.
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for sub in ["sql_store/", ""] {
        let dir = format!("{}/src/{sub}", env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(&dir).expect("the store's sources") {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name.ends_with(".rs") && name != "sharding.rs" {
                files.insert(format!("{sub}{name}"), std::fs::read_to_string(&path).expect("readable source"));
            }
        }
    }
    let (mut checked, mut used, mut violations) = (0, vec![false; MULTI_MAILBOX_STATEMENTS.len()], Vec::new());
    for (file, src) in &files {
        for (line, sql) in string_literals(src) {
            let named: Vec<String> =
                tables_named(&sql).into_iter().filter(|t| distributed.contains(&t.as_str())).collect();
            if named.is_empty() || !["SELECT", "UPDATE", "DELETE", "INSERT"].iter().any(|k| sql.contains(k)) {
                continue;
            }
            checked += 1;
            if filters_one_mailbox(&sql) {
                continue;
            }
            let squeezed: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
            match MULTI_MAILBOX_STATEMENTS.iter().position(|(f, start, _)| f == file && squeezed.starts_with(start)) {
                Some(i) => used[i] = true,
                None => violations.push(format!("{file}:{line}: {squeezed}")),
            }
        }
    }
    eprintln!("{checked} statements on mailbox tables checked in {} files", files.len());
    assert!(checked > 60, "too few statements found ({checked}): is the literal scan broken?");
    assert!(violations.is_empty(), "statements on mailbox tables without `mailbox_id = ?`:\n{}", violations.join("\n"));
    for (i, (file, start, _)) in MULTI_MAILBOX_STATEMENTS.iter().enumerate() {
        assert!(used[i], "the exception {file}: {start} matches no statement any more: drop it");
    }
}

#[test]
fn the_literal_scan_reads_continuations_raw_strings_and_skips_tests() {
    let src = "let a = \"SELECT x \\\n    FROM contacts WHERE mailbox_id = ?\";\n// \"FROM folders\"\nlet c = '\"';\n\
               let b = r#\"DELETE FROM tags\"#;\n#[cfg(test)]\nmod tests { \"FROM hidden\" }";
    let lits = string_literals(src);
    let texts: Vec<&str> = lits.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(texts, ["SELECT x FROM contacts WHERE mailbox_id = ?", "DELETE FROM tags"]);
    assert_eq!(lits[1].0, 5);
    assert_eq!(
        tables_named("SELECT a FROM contacts c JOIN folders f ON x INSERT INTO photos(a)"),
        ["contacts", "folders", "photos"]
    );
    assert!(filters_one_mailbox("UPDATE t SET a = 1 WHERE mailbox_id\n = ?"));
    assert!(!filters_one_mailbox("DELETE FROM t WHERE mailbox_id IN (SELECT 1)"));
}
