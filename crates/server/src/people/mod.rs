//! `GET /me/people` and `/users/{id}/people`: the people most relevant to a mailbox, drawn from
//! its contacts, the people it exchanged mail and meetings with, and (when asked) the directory;
//! one person per email address; ranked by `rolo_domain::people::score`; searchable by name
//! (people picker) or by `topic:` over message and event subjects. The handler reads the query
//! options and pages; `service.rs` builds, caches and searches the people.

use axum::http::StatusCode;
use axum::response::Response;
use rolo_domain::people::{self, Match};
use rolo_domain::text::strip_prefix_ignore_ascii_case;
use rolo_domain::{GraphError, GraphResult};
use rolo_odata::{CompareOp, Expr, Literal};
use serde_json::{json, Map, Value};

use crate::ctx::Ctx;
use crate::response::json_status;
use service::{rank, topic, Person};

mod index;
mod service;

pub(crate) use service::PeopleCache;

/// The words after `topic:` in a `$search`, when that is what it asks.
fn topic_term(search: &str) -> Option<&str> {
    strip_prefix_ignore_ascii_case(search, "topic:").filter(|t| !t.is_empty())
}

const DEFAULT_TOP: usize = 10;
const MAX_TOP: usize = 1000;

/// Which sources the request asks for: `X-PeopleQuery-QuerySources: Mailbox,Directory`; the
/// mailbox alone by default.
fn wants_directory(ctx: &Ctx) -> bool {
    ctx.headers
        .get("x-peoplequery-querysources")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|s| s.trim().eq_ignore_ascii_case("directory")))
}

/// `$filter` on people: `personType/class` and `personType/subclass` compared with `eq`/`ne`,
/// combined with `and`, `or`, `not`.
fn keep(e: &Expr, p: &Person) -> GraphResult<bool> {
    let unsupported =
        || GraphError::invalid_filter("Only personType/class and personType/subclass can be filtered on people.");
    Ok(match e {
        Expr::And(a, b) => keep(a, p)? && keep(b, p)?,
        Expr::Or(a, b) => keep(a, p)? || keep(b, p)?,
        Expr::Not(a) => !keep(a, p)?,
        Expr::Compare(l, op @ (CompareOp::Eq | CompareOp::Ne), r) => {
            let (path, lit) = match (l.as_ref(), r.as_ref()) {
                (Expr::Path(path), Expr::Literal(Literal::String(s)))
                | (Expr::Literal(Literal::String(s)), Expr::Path(path)) => (path, s),
                _ => return Err(unsupported()),
            };
            // Property names match case-insensitively, as on Graph.
            let name = path.join("/");
            let actual = if name.eq_ignore_ascii_case("personType/class") {
                "Person"
            } else if name.eq_ignore_ascii_case("personType/subclass") {
                p.sources.subclass()
            } else {
                return Err(unsupported());
            };
            actual.eq_ignore_ascii_case(lit) == (*op == CompareOp::Eq)
        }
        _ => return Err(unsupported()),
    })
}

pub async fn list(ctx: &Ctx) -> GraphResult<Response> {
    let o = &ctx.options;
    let search = o.search.as_deref().map(|s| s.trim().trim_matches('"').trim().to_owned()).filter(|s| !s.is_empty());
    if search.is_some() && o.skip.is_some() {
        return Err(GraphError::bad_request("BadRequest", "$skip is not supported together with $search on people."));
    }
    if !o.orderby.is_empty() {
        return Err(GraphError::bad_request(
            "BadRequest",
            "$orderby is not supported on people: they come ranked by relevance.",
        ));
    }
    let top = match o.top {
        Some(0) => return Err(GraphError::bad_request("BadRequest", "$top must be at least 1.")),
        Some(n) => (n as usize).min(MAX_TOP),
        None => DEFAULT_TOP,
    };
    let skip = o.skip.unwrap_or(0) as usize;
    let cache = &ctx.state.people;
    let directory = cache.directory(ctx).await?;
    let mine = cache.mailbox(ctx, &directory).await?;
    let owner = ctx.user.user_principal_name.to_lowercase();
    // Directory users the mailbox does not know yet, when the directory is asked for.
    let from_directory = wants_directory(ctx);
    let extra = |p: &&Person| {
        let a = p.addresses[0].to_lowercase();
        from_directory && !mine.addresses.contains(&a) && a != owner
    };
    let keep_person = |p: &Person| -> GraphResult<bool> {
        match &o.filter {
            Some(f) => keep(f, p),
            None => Ok(true),
        }
    };
    let mut ranked: Vec<(Match, &Person)> = Vec::new();
    match &search {
        Some(s) if topic_term(s).is_some() => {
            let on_topic = topic(ctx, topic_term(s).unwrap_or_default()).await?;
            for p in mine.persons.iter().chain(directory.persons.iter().filter(extra)) {
                if p.addresses.iter().any(|a| on_topic.contains(&a.to_lowercase())) && keep_person(p)? {
                    ranked.push((Match::Exact, p));
                }
            }
        }
        Some(s) => {
            let q = people::tokens(s);
            for (m, p) in mine.search(&q) {
                if keep_person(p)? {
                    ranked.push((m, p));
                }
            }
            if from_directory {
                for (m, p) in directory.search(&q) {
                    if extra(&p) && keep_person(p)? {
                        ranked.push((m, p));
                    }
                }
            }
            // Only the page is ordered (`$skip` is refused with `$search`): a selection of the
            // best `top`, then a sort of those, instead of sorting every hit (a prefix such as
            // `ada` hits thousands).
            let order = |(ma, a): &(Match, &Person), (mb, b): &(Match, &Person)| {
                b.score.total_cmp(&a.score).then(mb.cmp(ma)).then_with(|| rank(a, b))
            };
            if ranked.len() > top {
                ranked.select_nth_unstable_by(top - 1, order);
                ranked.truncate(top);
            }
            ranked.sort_by(order);
        }
        None => {
            // Already ranked: the mailbox's people by score, then the rest of the directory by name.
            // Only as many as the page needs are filtered.
            let wanted = skip + top + 1;
            for p in mine.persons.iter().chain(directory.persons.iter().filter(extra)) {
                if keep_person(p)? {
                    ranked.push((Match::Exact, p));
                    if ranked.len() >= wanted && o.filter.is_none() {
                        break;
                    }
                }
            }
        }
    }
    let total = ranked.len();
    let page: Vec<Value> = ranked.into_iter().skip(skip).take(top).map(|(_, p)| select(ctx, p.to_json())).collect();
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(ctx.context("people")));
    body.insert("value".into(), Value::Array(page));
    if search.is_none() && skip + top < total {
        // Paging by $skip, as Graph's People API pages.
        let mut params: Vec<String> = ctx
            .raw_query
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|p| {
                !p.is_empty()
                    && !p.to_ascii_lowercase().starts_with("%24skip")
                    && !p.to_ascii_lowercase().starts_with("$skip")
            })
            .map(str::to_owned)
            .collect();
        params.push(format!("$skip={}", skip + top));
        body.insert("@odata.nextLink".into(), json!(format!("{}{}?{}", ctx.base, ctx.path, params.join("&"))));
    }
    Ok(json_status(StatusCode::OK, serde_json::to_vec(&Value::Object(body)).map_err(GraphError::internal)?))
}

/// `$select` on a person: `id` always, then the named properties.
fn select(ctx: &Ctx, v: Value) -> Value {
    let Some(items) = &ctx.options.select else { return v };
    let names: Vec<String> = items.iter().map(|i| i.to_string()).collect();
    if names.iter().any(|n| n == "*") {
        return v;
    }
    let Value::Object(m) = v else { return v };
    Value::Object(m.into_iter().filter(|(k, _)| k == "id" || names.iter().any(|n| n.eq_ignore_ascii_case(k))).collect())
}
