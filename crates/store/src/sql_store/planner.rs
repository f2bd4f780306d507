//! The list planner: a paged list over a table, with the query's filter, order, skip, keyset
//! cursor and count, the merge of runs for a name prefix ordered by another name (`runs.rs`),
//! and the SQLite density probe that picks between the filter's index and the sort's.

use super::*;
use crate::sql::planned_each_time;

/// How many rows, in list order, the SQLite density probe looks at (see `list_rows`).
pub(super) const DENSE_PROBE_WINDOW: usize = 2000;

/// How long a probe's verdict is reused, and how many verdicts are kept.
const VERDICT_TTL: std::time::Duration = std::time::Duration::from_secs(30);
const MAX_VERDICTS: usize = 1024;

/// The planner's recent verdicts, by statement and parameters: the density probe's (walk the
/// list order, or lead with the filter's index) and a surname prefix's (read its initial's run
/// or not, `runs.rs`). The next page of a list, or the same list asked again, plans without
/// probing again. A stale verdict costs time, never rows: either plan returns the same pages.
#[derive(Default)]
pub(super) struct PlanVerdicts(std::sync::Mutex<std::collections::HashMap<String, (bool, std::time::Instant)>>);

impl PlanVerdicts {
    pub(super) fn key(sql: &str, params: &[Value]) -> String {
        format!("{sql}\u{0}{params:?}")
    }

    pub(super) fn get(&self, key: &str) -> Option<bool> {
        let map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(key).filter(|(_, at)| at.elapsed() < VERDICT_TTL).map(|(walk, _)| *walk)
    }

    pub(super) fn put(&self, key: String, walk: bool) {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_VERDICTS {
            map.retain(|_, (_, at)| at.elapsed() < VERDICT_TTL);
            if map.len() >= MAX_VERDICTS {
                map.clear();
            }
        }
        map.insert(key, (walk, std::time::Instant::now()));
    }
}

/// What a list reads: columns of a table (aliased `t`) within a scope condition.
pub(super) struct ListSource<'a> {
    pub(super) columns: &'a str,
    pub(super) table: &'a str,
    pub(super) scope_sql: &'a str,
    pub(super) scope_params: Vec<Value>,
}

impl SqlStore {
    /// Runs a paged list over a source, honouring the query's filter, order, skip, keyset cursor
    /// and count.
    pub(super) async fn list_rows(
        &self,
        entity: Entity,
        mailbox: &Mailbox,
        source: ListSource<'_>,
        query: &ListQuery,
    ) -> GraphResult<(Vec<Row>, Option<Cursor>, Option<u64>)> {
        let ListSource { columns, table, scope_sql, scope_params } = source;
        let dialect = self.backend.dialect();
        let mut c = Compiler::new(dialect, entity, &mailbox.id);
        c.version = query.version;
        c.params = scope_params.clone();
        let mut wheres = vec![scope_sql.to_owned()];
        // A prefix on one name ordered by another merges the prefix's runs (runs.rs); an
        // invalid `$orderby` is left for its own error below.
        let folder_contacts = table == "contacts" && scope_sql == FOLDER_SCOPE;
        let runs = match (&query.filter, c.order(&query.orderby)) {
            (Some(_), Ok(sort)) => self.runs_for(&c, mailbox, folder_contacts, &scope_params, query, &sort).await?,
            _ => None,
        };
        if runs.is_some() {
            // Each run is one value of the filter's key: that equality must pick the index, not
            // the prefix's range (with both, SQLite read the whole range and sorted it).
            c.filter_without_indexes = true;
        }
        // A default-ordered list filtered on one extended property's id and value reads the
        // page's entries from `contact_xprops`' list-order index and seeks only their contacts
        // (query/seek.rs): no walk, no probe, and the same rows in the same order.
        let default_order = c.order(&query.orderby).is_ok_and(|s| s.is_empty());
        let seek = match &query.filter {
            Some(f) if runs.is_none() && table == "contacts" && query.search.is_empty() && default_order => {
                c.xprop_seek(f)?
            }
            _ => None,
        };
        let (from, seq_column) = match &seek {
            Some(_) => (format!("contact_xprops x {}", dialect.contact_of_entry()), "x.created_seq"),
            None => (format!("{table} t"), "t.created_seq"),
        };
        if let Some(s) = &seek {
            // The side table's index leads, in list order; each entry's contact is a primary-key
            // seek (`Dialect::contact_of_entry`), tested against the list's scope.
            wheres.push("x.mailbox_id = ? AND x.prop_id = ? AND x.value_key = ? AND t.id = x.contact_id".into());
            c.params.extend([mailbox.id.as_str().into(), s.prop_id.as_str().into(), s.value_key.as_str().into()]);
        }
        // What a count reads when the page walks: the filter's own indexes (a walk tests every
        // row of the folder; PostgreSQL's join over the matches counts them sooner).
        let mut count_by_index = None;
        if let (Some(f), None) = (&query.filter, &seek) {
            let filter = c.filter(f)?;
            wheres.push(filter.clone());
            // SQLite has no statistics to weigh a filter's index against the sort's index, and
            // PostgreSQL may have none yet (a new database before its first ANALYZE) for an
            // `any()` over a side table, which it then joined in an order that read the matches
            // times the folder. A bounded probe tells: when the first rows in list order
            // already hold a page of matches, walking the sort order and testing each row fills
            // a page sooner than collecting and sorting every match; otherwise the filter's own
            // index leads. On PostgreSQL the probe runs only when the walk's SQL differs.
            if runs.is_none() {
                let mut walk = Compiler::new(dialect, entity, &mailbox.id);
                walk.version = query.version;
                let scope_len = scope_params.len();
                walk.params = scope_params.clone();
                walk.filter_without_indexes = true;
                let walk_filter = walk.filter(f)?;
                let worth_probing = dialect.plans_without_statistics() || walk_filter != filter;
                // The window's rows yield only the filter's verdict: selecting `*` there made
                // SQLite copy every column of each row, documents included, before the filter
                // ran (most of the probe's cost when matches are sparse). The filter now comes
                // before the scope in the text, so its parameters are bound first.
                let probe = format!(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM (SELECT ({walk_filter}) AS hit FROM {table} t \
                     WHERE {scope_sql} ORDER BY t.created_seq LIMIT {DENSE_PROBE_WINDOW}) w WHERE hit LIMIT {}) p",
                    query.page_size + 1
                );
                let walks = if !worth_probing {
                    false
                } else {
                    let mut probe_params = walk.params[scope_len..].to_vec();
                    probe_params.extend_from_slice(&walk.params[..scope_len]);
                    let key = PlanVerdicts::key(&probe, &probe_params);
                    match self.plan_verdicts.get(&key) {
                        Some(walks) => walks,
                        None => {
                            let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
                            let n = conn.query_opt(&probe, &probe_params).await?;
                            drop(conn);
                            let n = n.map(|r| r.first().clone()).and_then(|v| v.as_i64());
                            let walks = n.unwrap_or(0) > query.page_size as i64;
                            self.plan_verdicts.put(key, walks);
                            walks
                        }
                    }
                };
                if walks {
                    if !dialect.plans_without_statistics() {
                        count_by_index = Some((wheres.clone(), c.params.clone()));
                    }
                    c = walk;
                    wheres = vec![scope_sql.to_owned(), walk_filter];
                }
            }
        }
        if !query.search.is_empty() {
            if entity != Entity::Contact {
                return Err(GraphError::bad_request(
                    "BadRequest",
                    "The query parameter '$search' is not supported on this resource.",
                ));
            }
            let from = c.params.len();
            let search = crate::search_index::conditions(&query.search, &mailbox.id, &mut c.params);
            if let Some((w, p)) = &mut count_by_index {
                w.extend(search.iter().cloned());
                p.extend_from_slice(&c.params[from..]);
            }
            wheres.extend(search);
        }
        let count = if query.count {
            let (count_wheres, count_params) = count_by_index.as_ref().map_or((&wheres, &c.params), |(w, p)| (w, p));
            let sql = format!("SELECT COUNT(*) FROM {from} WHERE {}", count_wheres.join(" AND "));
            let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
            let row = conn.query_opt(&sql, count_params).await?;
            Some(row.map(|r| r.first().clone()).and_then(|v| v.as_i64()).unwrap_or(0) as u64)
        } else {
            None
        };
        // Search results come by display name when no order is asked for (Rolo's stand-in for
        // Graph's relevance order; see COMPATIBILITY), which keyset paging keeps stable.
        let by_name = [rolo_odata::OrderItem { path: vec!["displayName".into()], descending: false }];
        let orderby = if query.search.is_empty() || !query.orderby.is_empty() { &query.orderby[..] } else { &by_name };
        let sort = c.order(orderby)?;
        let mut fetch = crate::paging::Fetch::new(query.page_size, query.max_bytes);
        let mut after = query.after.clone();
        let mut offset = if query.after.is_none() { query.skip } else { 0 };
        let base_params = c.params.clone();
        let prefix_planned_each_time = c.binds_prefix && !dialect.plans_without_statistics();
        let mut order: Vec<String> =
            sort.iter().map(|(e, desc)| format!("{e}{}", if *desc { " DESC" } else { "" })).collect();
        order.push(seq_column.into());
        let sort_cols: String = sort.iter().map(|(e, _)| format!(", {e}")).collect();
        // Split off the trailing created_seq and sort-key columns; a row's tail makes its cursor.
        let extra = 1 + sort.len();
        let cursor_of = |tail: Vec<Value>| {
            let mut tail = tail.into_iter();
            let seq = tail.next().and_then(|v| v.as_i64()).unwrap_or_default();
            Cursor { keys: tail.map(Value::into_opt_string).collect(), seq }
        };
        let mut out = Vec::new();
        let mut first_batch = true;
        // A byte-bounded page is read in batches, so rows past the bound are never loaded;
        // an ordinary page is one batch.
        while let Some(batch) = fetch.next_batch() {
            c.params = base_params.clone();
            let mut wheres = wheres.clone();
            if let Some(cursor) = &after {
                wheres.push(c.after_seq(&sort, cursor, seq_column)?);
                if let (Some(_), Some((first, desc)), Some(Some(key))) = (&runs, sort.first(), cursor.keys.first()) {
                    // The cursor's OR is no index range; its first key's bound is (same rows).
                    wheres.push(format!("{first} {} ?", if *desc { "<=" } else { ">=" }));
                    c.params.push(key.as_str().into());
                }
            }
            let params = std::mem::take(&mut c.params);
            let (sql, params) = match &runs {
                Some(runs) if runs.values.is_empty() => break,
                Some(runs) => (
                    merge_sql(runs, table, columns, &wheres, &sort, &order),
                    merge_params(runs, &params, batch + 1, offset),
                ),
                None => {
                    // LIMIT and OFFSET are bound, so a query's shape (and its cached statement)
                    // does not change with the page size or offset; on PostgreSQL a first batch's
                    // limit is written out (see `Dialect::page_limit`).
                    let mut params = params;
                    let limit = dialect.page_limit(batch + 1, offset, first_batch, &mut params);
                    let sql = format!(
                        "SELECT {columns}, t.created_seq{sort_cols} FROM {from} WHERE {} ORDER BY {}{limit}",
                        wheres.join(" AND "),
                        order.join(", "),
                    );
                    // A prefix's bound `LIKE` pattern is an index range only in a plan made with
                    // its value: a cached generic plan walks the list order and tests every row
                    // (3.4 ms at 10,000 contacts for a CardDAV name prefix, 0.1 ms planned so).
                    let sql = if prefix_planned_each_time { planned_each_time(&sql) } else { sql };
                    (sql, params)
                }
            };
            offset = 0;
            first_batch = false;
            let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
            let mut rows = conn.query(&sql, &params).await?;
            drop(conn);
            let more = rows.len() > batch;
            rows.truncate(batch);
            let total = rows.len();
            let mut last = None;
            for (i, mut row) in rows.into_iter().enumerate() {
                let tail = row.split_off(row.len() - extra);
                let full = fetch.take(crate::paging::row_bytes(&row));
                out.push(row);
                let rows_follow = more || i + 1 < total;
                if full {
                    return Ok((out, rows_follow.then(|| cursor_of(tail)), count));
                }
                if i + 1 == total {
                    last = Some(tail);
                }
            }
            match (more, last) {
                (true, Some(tail)) => after = Some(cursor_of(tail)),
                _ => break,
            }
        }
        Ok((out, None, count))
    }
}
