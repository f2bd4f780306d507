//! The merge of runs: a list filtered by a prefix on one name and ordered by another
//! (`$filter=startswith(surname,'L')&$orderby=displayName`), which no single index serves.
//! Walking the display-name index and testing surnames reads every entry ahead of the first
//! match (some 15,000 per page at 710,000 contacts); reading every match and sorting is linear
//! in the matches. Instead: find the few distinct surnames under the prefix (one index probe
//! each), read each surname's run in display-name order from
//! `contacts_by_surname_display` `(mailbox_id, folder_id, surname_key, display_name_key,
//! created_seq)`, at most a page (plus `$skip`) from each, and merge them.
//!
//! Past [`MAX_RUNS`] distinct values (surnames that rarely repeat, `Lamport 123`), the prefix's
//! initial is one run instead: `contacts_by_surname_initial` `(mailbox_id, folder_id,
//! substr(surname_key, 1, 1), display_name_key, created_seq, surname_key)` holds each initial's
//! contacts in display-name order with the surname beside them, so the page is read by walking
//! the initial's entries only (a one-letter prefix, the A–Z jump of an address book, matches
//! every one of them) and testing the rest of the prefix on each entry. A longer prefix takes
//! that walk only when a bounded probe of the run finds the page within [`INITIAL_PROBE`]
//! entries; otherwise the planner's other plans take over.

use super::*;

/// The scope of a folder's contacts, as `list_contacts` writes it: the runs' index leads with it.
pub(super) const FOLDER_SCOPE: &str = "t.mailbox_id = ? AND t.folder_id = ?";

/// The most distinct values merged; more, and the merge would read more than a walk.
pub(super) const MAX_RUNS: usize = 24;

/// The (filter key, sort key) pairs an index serves as runs.
const RUN_INDEXES: &[(&str, &str)] = &[("t.surname_key", "t.display_name_key")];

/// The (filter key, sort key, initial expression) an index serves as one run per initial;
/// the expression is written as the index's (`contacts_by_surname_initial`), for the planners
/// to match it.
const INITIAL_INDEXES: &[(&str, &str, &str)] =
    &[("t.surname_key", "t.display_name_key", "substr(t.surname_key, 1, 1)")];

/// How many of an initial's entries the probe for a longer prefix reads at most.
pub(super) const INITIAL_PROBE: usize = 2000;

/// A list read as a merge of runs: the runs' values and the sort key.
pub(super) struct Runs {
    pub(super) column: String,
    pub(super) values: Vec<String>,
}

impl SqlStore {
    /// The runs for `query` when it is a prefix on one indexed name ordered by another over a
    /// folder's contacts (`folder_contacts`: the list reads `contacts` in [`FOLDER_SCOPE`]) and
    /// the prefix covers at most [`MAX_RUNS`] values; `None` otherwise.
    pub(super) async fn runs_for(
        &self,
        c: &Compiler,
        mailbox: &Mailbox,
        folder_contacts: bool,
        scope_params: &[Value],
        query: &ListQuery,
        sort: &[(String, bool)],
    ) -> GraphResult<Option<Runs>> {
        if !folder_contacts || !query.search.is_empty() {
            return Ok(None);
        }
        let Some((column, prefix)) = query.filter.as_ref().and_then(|f| c.key_prefix(f)) else { return Ok(None) };
        let [(sort_key, _)] = sort else { return Ok(None) };
        if !RUN_INDEXES.iter().any(|(f, s)| *f == column && s == sort_key) {
            return Ok(None);
        }
        let desc = sort.first().is_some_and(|(_, d)| *d);
        // A one-character prefix is its initial's whole run, which reads only the page's entries
        // however many values the prefix covers: counting the values first (up to 25 index
        // probes) cannot find a cheaper plan.
        if prefix.chars().count() == 1 {
            if let Some(runs) =
                self.initial_run(mailbox, scope_params, query, (sort_key, desc), &column, &prefix).await?
            {
                return Ok(Some(runs));
            }
        }
        // Whether the prefix's initial served it (or neither plan here does) is remembered for
        // a while, as the density probe's verdicts are: the loose scan and the probe below are
        // two statements ahead of the page's one (on PostgreSQL about 0.8 ms of planning and
        // running against the page's 0.15). A verdict goes stale only in time, never in rows:
        // the initial's run and the planner's other plans return the same pages. A list of
        // values is not remembered, since a write may add a value under the prefix.
        let mut verdict_params = scope_params.to_vec();
        verdict_params.push(prefix.as_str().into());
        let verdict = PlanVerdicts::key(
            &format!("initial run {column} {sort_key} {desc} {}", query.page_size as u64 + query.skip),
            &verdict_params,
        );
        if let Some(initial) = self.plan_verdicts.get(&verdict) {
            return Ok(if initial { initial_runs(&column, sort_key, &prefix) } else { None });
        }
        // A loose index scan: each step is one probe for the next value above the last, so
        // finding the values costs their number, not their rows.
        let bare = column.trim_start_matches("t.");
        let sql = format!(
            "WITH RECURSIVE v(k, n) AS (\
             SELECT (SELECT MIN({bare}) FROM contacts WHERE mailbox_id = ? AND folder_id = ? AND {bare} >= ? AND {bare} < ?), 1 \
             UNION ALL SELECT (SELECT MIN({bare}) FROM contacts WHERE mailbox_id = ? AND folder_id = ? AND {bare} > v.k AND {bare} < ?), v.n + 1 \
             FROM v WHERE v.k IS NOT NULL AND v.n <= {MAX_RUNS}) \
             SELECT k FROM v WHERE k IS NOT NULL"
        );
        let hi = format!("{prefix}\u{10FFFF}");
        let mut params = scope_params.to_vec();
        params.extend([prefix.as_str().into(), hi.clone().into()]);
        params.extend_from_slice(scope_params);
        params.push(hi.into());
        let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
        let rows = conn.query(&sql, &params).await?;
        drop(conn);
        if rows.len() > MAX_RUNS {
            let runs = self.initial_run(mailbox, scope_params, query, (sort_key, desc), &column, &prefix).await?;
            self.plan_verdicts.put(verdict, runs.is_some());
            return Ok(runs);
        }
        let values = rows.into_iter().map(|r| r.first().clone().into_string()).collect();
        Ok(Some(Runs { column, values }))
    }

    /// The prefix's initial as one run (see the module doc), when an index serves it and the
    /// walk is known to be short: always for a one-character prefix, else when the first
    /// [`INITIAL_PROBE`] entries of the run hold the page.
    async fn initial_run(
        &self,
        mailbox: &Mailbox,
        scope_params: &[Value],
        query: &ListQuery,
        (sort_key, desc): (&str, bool),
        column: &str,
        prefix: &str,
    ) -> GraphResult<Option<Runs>> {
        let Some(runs) = initial_runs(column, sort_key, prefix) else { return Ok(None) };
        if prefix.chars().nth(1).is_none() {
            return Ok(Some(runs));
        }
        let initial_expr = &runs.column;
        // Whether the walk fills the first page soon: the run's first entries, tested against
        // the whole prefix on the index entry alone.
        let mut probe = Compiler::new(self.backend.dialect(), Entity::Contact, &mailbox.id);
        probe.version = query.version;
        probe.filter_without_indexes = true;
        let Some(filter) = &query.filter else { return Ok(None) };
        let test = probe.filter(filter)?;
        let want = query.page_size as u64 + query.skip + 1;
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM (SELECT ({test}) AS hit FROM contacts t \
             WHERE t.mailbox_id = ? AND t.folder_id = ? AND {initial_expr} = ? ORDER BY {sort_key}{dir} LIMIT {INITIAL_PROBE}) p WHERE hit LIMIT {want}) q",
            dir = if desc { " DESC" } else { "" }
        );
        let mut params = probe.params;
        params.extend_from_slice(scope_params);
        params.push(runs.values[0].as_str().into());
        let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
        let found = conn.query_opt(&sql, &params).await?.map(|r| r.first().clone()).and_then(|v| v.as_i64());
        Ok((found.unwrap_or(0) as u64 >= want).then_some(runs))
    }
}

/// The prefix's initial as one run, when an index serves the (filter key, sort key) pair so.
fn initial_runs(column: &str, sort_key: &str, prefix: &str) -> Option<Runs> {
    let (_, _, initial_expr) = INITIAL_INDEXES.iter().find(|(f, s, _)| *f == column && *s == sort_key)?;
    let initial = prefix.chars().next()?;
    Some(Runs { column: (*initial_expr).to_owned(), values: vec![initial.to_string()] })
}

/// The page statement over runs: each run ordered and cut at `?` rows (bound after its own
/// parameters), then merged in the list's order. Columns after `columns` are aliased so the
/// merge can order by them; `sort_cols` are the sort expressions.
pub(super) fn merge_sql(
    runs: &Runs,
    table: &str,
    columns: &str,
    wheres: &[String],
    sort: &[(String, bool)],
    order: &[String],
) -> String {
    let tail: String = sort.iter().enumerate().map(|(i, (e, _))| format!(", {e} AS run_k{i}")).collect();
    // The cursor condition is an OR the index cannot seek on; its first key's bound can.
    let mut wheres = wheres.to_vec();
    wheres.push(format!("{} = ?", runs.column));
    let one = format!(
        "SELECT {columns}, t.created_seq AS run_seq{tail} FROM {table} t WHERE {} ORDER BY {} LIMIT ?",
        wheres.join(" AND "),
        order.join(", ")
    );
    let merged: Vec<String> = (0..runs.values.len()).map(|i| format!("SELECT * FROM ({one}) r{i}")).collect();
    let mut outer: Vec<String> =
        sort.iter().enumerate().map(|(i, (_, desc))| format!("run_k{i}{}", if *desc { " DESC" } else { "" })).collect();
    outer.push("run_seq".into());
    format!("{} ORDER BY {} LIMIT ? OFFSET ?", merged.join(" UNION ALL "), outer.join(", "))
}

/// The parameters of [`merge_sql`]: each run's (the shared ones, its value, its cut), then the
/// merge's limit and offset.
pub(super) fn merge_params(runs: &Runs, shared: &[Value], limit: usize, offset: u64) -> Vec<Value> {
    let mut params = Vec::with_capacity((shared.len() + 2) * runs.values.len() + 2);
    for v in &runs.values {
        params.extend_from_slice(shared);
        params.push(v.as_str().into());
        params.push((limit as i64 + offset as i64).into());
    }
    params.push((limit as i64).into());
    params.push((offset as i64).into());
    params
}
