//! Handlers for the master category list: `/me/outlook/masterCategories[/{id}]`.

use axum::http::StatusCode;
use axum::response::Response;
use rolo_domain::category::{CategoryChanges, OutlookCategory};
use rolo_domain::{GraphError, GraphResult};
use serde_json::{json, Value};

use crate::ctx::Ctx;
use crate::response::{json_status, no_content};

fn to_json(c: &OutlookCategory, context: Option<&str>) -> Value {
    let mut v = json!({"id": c.id, "displayName": c.display_name, "color": c.color});
    if let (Some(ctx), Value::Object(m)) = (context, &mut v) {
        let mut with_context = serde_json::Map::new();
        with_context.insert("@odata.context".into(), json!(ctx));
        with_context.extend(std::mem::take(m));
        return Value::Object(with_context);
    }
    v
}

fn respond(status: StatusCode, v: &Value) -> GraphResult<Response> {
    Ok(json_status(status, serde_json::to_vec(v).map_err(GraphError::internal)?))
}

/// Category ids are GUIDs.
fn category_id(raw: &str) -> GraphResult<&str> {
    if raw.is_empty() {
        Err(GraphError::id_empty())
    } else if rolo_domain::ids::is_guid(raw) {
        Ok(raw)
    } else {
        Err(GraphError::id_malformed())
    }
}

/// `GET /outlook/masterCategories`
pub async fn list(ctx: &Ctx) -> GraphResult<Response> {
    let o = &ctx.options;
    if o.filter.is_some() || !o.orderby.is_empty() || o.top.is_some() || o.skip.is_some() || o.search.is_some() {
        return Err(GraphError::bad_request(
            "BadRequest",
            "Query options other than $select are not supported on masterCategories by this server.",
        ));
    }
    let value: Vec<Value> =
        ctx.state.store.list_categories(ctx.mailbox()).await?.iter().map(|c| to_json(c, None)).collect();
    respond(StatusCode::OK, &json!({"@odata.context": ctx.context("outlook/masterCategories"), "value": value}))
}

/// `GET /outlook/masterCategories/{id}`
pub async fn get(ctx: &Ctx, id: &str) -> GraphResult<Response> {
    let c =
        ctx.state.store.get_category(ctx.mailbox(), category_id(id)?).await?.ok_or_else(GraphError::item_not_found)?;
    respond(StatusCode::OK, &to_json(&c, Some(&ctx.context("outlook/masterCategories/$entity"))))
}

/// `POST /outlook/masterCategories`
pub async fn create(ctx: &Ctx, body: &Value) -> GraphResult<Response> {
    let changes = CategoryChanges::from_v1(body, true)?;
    let name = changes.display_name.as_deref().unwrap_or_default();
    let c = ctx.state.store.create_category(ctx.mailbox(), name, changes.color.as_deref().unwrap_or("none")).await?;
    respond(StatusCode::CREATED, &to_json(&c, Some(&ctx.context("outlook/masterCategories/$entity"))))
}

/// `PATCH /outlook/masterCategories/{id}`: only the colour may change, as on Graph.
pub async fn update(ctx: &Ctx, id: &str, body: &Value) -> GraphResult<Response> {
    let id = category_id(id)?;
    let changes = CategoryChanges::from_v1(body, false)?;
    let current = ctx.state.store.get_category(ctx.mailbox(), id).await?.ok_or_else(GraphError::item_not_found)?;
    if changes.display_name.as_ref().is_some_and(|n| *n != current.display_name) {
        return Err(GraphError::bad_request(
            "ErrorInvalidProperty",
            "A category's displayName cannot be changed once it is created.",
        ));
    }
    let c = match changes.color {
        Some(color) => ctx.state.store.update_category_color(ctx.mailbox(), id, &color).await?,
        None => current,
    };
    respond(StatusCode::OK, &to_json(&c, Some(&ctx.context("outlook/masterCategories/$entity"))))
}

/// `DELETE /outlook/masterCategories/{id}`: items keep the name in their `categories`.
pub async fn delete(ctx: &Ctx, id: &str) -> GraphResult<Response> {
    ctx.state.store.delete_category(ctx.mailbox(), category_id(id)?).await?;
    Ok(no_content())
}
