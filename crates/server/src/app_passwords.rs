//! CardDAV app passwords over HTTP, a Rolo extension (the HTTP form of `rolo users app-password`):
//! `GET|POST /me/appPasswords`, `DELETE /me/appPasswords/{id}` (and the same under
//! `/users/{id}`). The password is in the `201` answer only: it is stored hashed.
//!
//! Who may: the user, through Rolo People only (a password outlives any token, so a third-party
//! app holding a user's token must not mint one to keep its access after consent is withdrawn);
//! an administrator (`User.ReadWrite.All` or `Directory.ReadWrite.All`) lists and revokes
//! anyone's, but never creates one for somebody else, whose password it would then know.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use rolo_domain::{GraphError, GraphResult, Principal};
use rolo_store::AppPassword;
use serde_json::{json, Value};

use crate::delegation::{denied, has_any, owner, ADMIN};
use crate::paths::Owner;
use crate::response::{json_value, no_content};
use crate::AppState;

fn to_json(p: &AppPassword) -> Value {
    json!({"id": p.id, "displayName": p.name, "createdDateTime": p.created_at})
}

pub async fn serve(
    state: &AppState,
    principal: &Principal,
    method: &Method,
    (path_owner, id): (Owner, Option<String>),
    base: &str,
    body: &Value,
) -> GraphResult<Response> {
    let admin = has_any(principal, ADMIN);
    let through_webapp = !principal.is_app()
        && principal.app_id.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(crate::webapp::WEBAPP_CLIENT_ID));
    if !admin && !through_webapp {
        return Err(denied());
    }
    let user = owner(state, principal, &path_owner).await?;
    let own = through_webapp && principal.user_id.as_deref() == Some(user.id.as_str());
    let context = format!("{base}/$metadata#users('{}')/appPasswords", user.id);
    match (method.clone(), id) {
        (Method::GET, None) if own || admin => {
            let value: Vec<Value> = state.store.app_passwords(&user.id).await?.iter().map(to_json).collect();
            json_value(StatusCode::OK, &json!({"@odata.context": context, "value": value}))
        }
        (Method::POST, None) if own => {
            let name = body.get("displayName").and_then(Value::as_str).unwrap_or_default();
            let secret = crate::dav::auth::add_app_password(state.store.as_ref(), &user, name).await?;
            let made = state.store.app_passwords(&user.id).await?;
            let p = made
                .iter()
                .find(|p| p.name == name.trim())
                .ok_or_else(|| GraphError::internal("app password not stored"))?;
            let mut v = to_json(p);
            v["@odata.context"] = json!(format!("{context}/$entity"));
            v["secretText"] = json!(secret);
            json_value(StatusCode::CREATED, &v)
        }
        (Method::DELETE, Some(id)) if own || admin => {
            let list = state.store.app_passwords(&user.id).await?;
            let p = list.iter().find(|p| p.id.eq_ignore_ascii_case(&id)).ok_or_else(GraphError::item_not_found)?;
            state.store.remove_app_password(&user.id, &p.name).await?;
            Ok(no_content())
        }
        (Method::GET | Method::POST, None) | (Method::DELETE, Some(_)) => Err(denied()),
        (m, None) => Err(crate::methods::method_not_allowed(&m, crate::methods::GET_POST)),
        (m, Some(_)) => Err(crate::methods::method_not_allowed(&m, "DELETE")),
    }
}
