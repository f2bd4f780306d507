//! Contact folders over HTTP, on SQLite and PostgreSQL: the folder tree, contacts filed in
//! folders, moves, deletes and the URL forms Graph accepts.

use crate::common::{enc, present_str, sorted, TestServer};
use reqwest::Method;
use serde_json::json;

/// Create, list (without the default folder), get and rename a top-level folder; duplicates clash.
async fn top_level_folder_lifecycle(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let default_id = user.mailbox.default_folder_id.as_str().to_owned();

    let created = s.post("/me/contactFolders", &t, json!({"displayName": "Work"})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let f = &created.body;
    let id = f["id"].as_str().unwrap().to_owned();
    assert!(!id.is_empty());
    assert_ne!(id, default_id);
    assert_eq!(f["displayName"], "Work");
    assert_eq!(f["parentFolderId"], default_id.as_str());
    assert_eq!(f["@odata.context"], s.context_of(&user, "contactFolders/$entity"));
    assert!(f["@odata.context"].as_str().unwrap().ends_with("/contactFolders/$entity"));
    // Folders carry no etag on Graph.
    assert!(f.get("@odata.etag").is_none(), "{}", created.text);

    // The list holds the new folder and not the default folder.
    let list = s.get("/me/contactFolders", &t).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["@odata.context"], s.context_of(&user, "contactFolders"));
    assert_eq!(list.body["value"], json!([{"id": id, "displayName": "Work", "parentFolderId": default_id}]));

    let got = s.get(&format!("/me/contactFolders/{id}"), &t).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.body["id"], id.as_str());
    assert_eq!(got.body["displayName"], "Work");
    assert_eq!(got.body["parentFolderId"], default_id.as_str());
    assert_eq!(got.body["@odata.context"], s.context_of(&user, "contactFolders/$entity"));

    // Also by UPN.
    let by_upn = s.get(&format!("/users/{}/contactFolders/{id}", user.user_principal_name), &t).await;
    assert_eq!(by_upn.status, 200, "{}", by_upn.text);
    assert_eq!(by_upn.body["displayName"], "Work");

    // Rename.
    let renamed = s.patch(&format!("/me/contactFolders/{id}"), &t, json!({"displayName": "Office"})).await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.body["id"], id.as_str());
    assert_eq!(renamed.body["displayName"], "Office");
    assert_eq!(renamed.body["parentFolderId"], default_id.as_str());
    let got = s.get(&format!("/me/contactFolders/{id}"), &t).await;
    assert_eq!(got.body["displayName"], "Office");

    // A second folder with the same name under the same parent is refused, also case-insensitively.
    s.post("/me/contactFolders", &t, json!({"displayName": "Office"})).await.assert_error(409, "ErrorFolderExists");
    s.post("/me/contactFolders", &t, json!({"displayName": "OFFICE"})).await.assert_error(409, "ErrorFolderExists");
    // Renaming another folder onto an existing name is refused too.
    let other = s.create_folder_at("/me/contactFolders", &t, "Home").await;
    s.patch(&format!("/me/contactFolders/{other}"), &t, json!({"displayName": "Office"}))
        .await
        .assert_error(409, "ErrorFolderExists");
    assert_eq!(s.get(&format!("/me/contactFolders/{other}"), &t).await.body["displayName"], "Home");
    // Nothing was created by the refused requests.
    assert_eq!(sorted(s.ids_at("/me/contactFolders", &t).await), sorted(vec![id.clone(), other.clone()]));
    // The same name under a different parent is fine.
    let nested = s.create_folder_at(&format!("/me/contactFolders/{other}/childFolders"), &t, "Office").await;
    assert_ne!(nested, id);
}

/// Bodies that cannot make a folder.
async fn folder_body_validation(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    s.post("/me/contactFolders", &t, json!({})).await.assert_error(400, "ErrorInvalidRequest");
    s.post("/me/contactFolders", &t, json!({"displayName": ""})).await.assert_error(400, "ErrorInvalidRequest");
    s.post("/me/contactFolders", &t, json!({"displayName": "A", "color": "red"}))
        .await
        .assert_error(400, "RequestBodyRead");
    s.post("/me/contactFolders", &t, json!({"displayName": 7})).await.assert_error(400, "RequestBodyRead");
    s.post("/me/contactFolders", &t, json!({"displayName": "A", "id": "x"}))
        .await
        .assert_error(400, "ErrorInvalidProperty");
    assert_eq!(s.ids_at("/me/contactFolders", &t).await, Vec::<String>::new());
    // GET of an unknown but well-formed folder id is 404; a malformed one is 400.
    s.get("/me/contactFolders/AAAAAAAAAAAAAAAAAAAAAA", &t).await.assert_error(404, "ErrorItemNotFound");
    s.get("/me/contactFolders/nope", &t).await.assert_error(400, "ErrorInvalidIdMalformed");
}

/// Folders three deep: create and list through `childFolders` chains; wrong chains are 404.
async fn child_folders_at_depth_three(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let a = s.create_folder_at("/me/contactFolders", &t, "A").await;
    let b_resp = s.post(&format!("/me/contactFolders/{a}/childFolders"), &t, json!({"displayName": "B"})).await;
    assert_eq!(b_resp.status, 201, "{}", b_resp.text);
    let b = b_resp.body["id"].as_str().unwrap().to_owned();
    assert_eq!(b_resp.body["parentFolderId"], a.as_str());
    assert_eq!(b_resp.body["displayName"], "B");

    let c_resp =
        s.post(&format!("/me/contactFolders/{a}/childFolders/{b}/childFolders"), &t, json!({"displayName": "C"})).await;
    assert_eq!(c_resp.status, 201, "{}", c_resp.text);
    let c = c_resp.body["id"].as_str().unwrap().to_owned();
    assert_eq!(c_resp.body["parentFolderId"], b.as_str());

    // Each level lists exactly its own children.
    let top = s.get("/me/contactFolders", &t).await;
    assert_eq!(
        top.body["value"],
        json!([{"id": a, "displayName": "A", "parentFolderId": user.mailbox.default_folder_id.as_str()}])
    );
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{a}/childFolders"), &t).await, vec![b.clone()]);
    let level3 = s.get(&format!("/me/contactFolders/{a}/childFolders/{b}/childFolders"), &t).await;
    assert_eq!(level3.status, 200, "{}", level3.text);
    assert_eq!(level3.body["value"], json!([{"id": c, "displayName": "C", "parentFolderId": b}]));
    assert_eq!(level3.body["@odata.context"], s.context_of(&user, &format!("contactFolders('{b}')/childFolders")));
    assert_eq!(
        s.ids_at(&format!("/me/contactFolders/{a}/childFolders/{b}/childFolders/{c}/childFolders"), &t).await,
        Vec::<String>::new()
    );

    // Get through the full chain, and directly by id (ids are mailbox-wide).
    let got = s.get(&format!("/me/contactFolders/{a}/childFolders/{b}/childFolders/{c}"), &t).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.body["id"], c.as_str());
    assert_eq!(got.body["parentFolderId"], b.as_str());
    let direct = s.get(&format!("/me/contactFolders/{c}"), &t).await;
    assert_eq!(direct.status, 200, "{}", direct.text);
    assert_eq!(direct.body["displayName"], "C");

    // A chain whose links are not parent and child is 404, for reads and writes.
    let x = s.create_folder_at("/me/contactFolders", &t, "X").await;
    s.get(&format!("/me/contactFolders/{a}/childFolders/{x}"), &t).await.assert_error(404, "ErrorItemNotFound");
    s.get(&format!("/me/contactFolders/{a}/childFolders/{c}"), &t).await.assert_error(404, "ErrorItemNotFound");
    s.get(&format!("/me/contactFolders/{x}/childFolders/{b}/childFolders"), &t)
        .await
        .assert_error(404, "ErrorItemNotFound");
    s.post(&format!("/me/contactFolders/{x}/childFolders/{b}/childFolders"), &t, json!({"displayName": "Y"}))
        .await
        .assert_error(404, "ErrorItemNotFound");
    s.post(&format!("/me/contactFolders/{x}/childFolders/{b}/contacts"), &t, json!({"givenName": "Y"}))
        .await
        .assert_error(404, "ErrorItemNotFound");
    s.delete(&format!("/me/contactFolders/{x}/childFolders/{b}"), &t).await.assert_error(404, "ErrorItemNotFound");
    // ...and nothing happened.
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{b}/childFolders"), &t).await, vec![c.clone()]);
    assert_eq!(s.get(&format!("/me/contactFolders/{b}"), &t).await.status, 200);
}

/// Contacts filed in a nested folder: listed there only, found mailbox-wide by id, not through
/// another folder.
async fn contacts_in_nested_folder(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let a = s.create_folder_at("/me/contactFolders", &t, "A").await;
    let b = s.create_folder_at(&format!("/me/contactFolders/{a}/childFolders"), &t, "B").await;
    let other = s.create_folder_at("/me/contactFolders", &t, "Other").await;
    let in_default = s.create_contact(&t, json!({"givenName": "Default"})).await;

    let nested_path = format!("/me/contactFolders/{a}/childFolders/{b}/contacts");
    let created = s.post(&nested_path, &t, json!({"givenName": "Nested", "surname": "One"})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["parentFolderId"], b.as_str());
    assert_eq!(created.body["displayName"], "Nested One");
    assert_eq!(created.body["@odata.context"], s.context_of(&user, &format!("contactFolders('{b}')/contacts/$entity")));

    // Listed in the nested folder (through the chain and directly), not in /me/contacts.
    let listed = s.get(&nested_path, &t).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body["@odata.context"], s.context_of(&user, &format!("contactFolders('{b}')/contacts")));
    assert_eq!(s.ids_at(&nested_path, &t).await, vec![id.clone()]);
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{b}/contacts"), &t).await, vec![id.clone()]);
    assert_eq!(s.ids_at("/me/contacts", &t).await, vec![in_default.clone()]);
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{a}/contacts"), &t).await, Vec::<String>::new());

    // The id is mailbox-wide: /me/contacts/{id} finds it.
    let got = s.get(&format!("/me/contacts/{id}"), &t).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.body["parentFolderId"], b.as_str());
    assert_eq!(got.body["givenName"], "Nested");
    let got = s.get(&format!("{nested_path}/{id}"), &t).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.body["id"], id.as_str());

    // Through a folder that does not hold it: 404 for get, patch and delete.
    let wrong = format!("/me/contactFolders/{other}/contacts/{id}");
    s.get(&wrong, &t).await.assert_error(404, "ErrorItemNotFound");
    s.patch(&wrong, &t, json!({"jobTitle": "x"})).await.assert_error(404, "ErrorItemNotFound");
    s.delete(&wrong, &t).await.assert_error(404, "ErrorItemNotFound");
    s.get(&format!("/me/contactFolders/{a}/contacts/{id}"), &t).await.assert_error(404, "ErrorItemNotFound");
    // The default-folder contact is not reachable through another folder either.
    s.get(&format!("/me/contactFolders/{b}/contacts/{in_default}"), &t).await.assert_error(404, "ErrorItemNotFound");
    // Still intact after the refused writes.
    let got = s.get(&format!("/me/contacts/{id}"), &t).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["jobTitle"], serde_json::Value::Null);

    // Update through the nested path.
    let patched = s.patch(&format!("{nested_path}/{id}"), &t, json!({"jobTitle": "Engineer"})).await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["jobTitle"], "Engineer");
    assert_eq!(patched.body["parentFolderId"], b.as_str());
}

/// PATCH parentFolderId moves a contact: same id, listed in the new folder only.
async fn move_contact_between_folders(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let default_id = user.mailbox.default_folder_id.as_str().to_owned();
    let a = s.create_folder_at("/me/contactFolders", &t, "A").await;
    let b = s.create_folder_at(&format!("/me/contactFolders/{a}/childFolders"), &t, "B").await;
    let created = s.create_contact_at("/me/contacts", &t, json!({"givenName": "Mover"})).await;
    let id = created["id"].as_str().unwrap().to_owned();

    let moved = s.patch(&format!("/me/contacts/{id}"), &t, json!({"parentFolderId": a})).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["id"], id.as_str());
    assert_eq!(moved.body["parentFolderId"], a.as_str());
    assert_eq!(moved.body["givenName"], "Mover");
    assert_ne!(present_str(&moved.body, "changeKey"), present_str(&created, "changeKey"));
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{a}/contacts"), &t).await, vec![id.clone()]);
    assert_eq!(s.ids_at("/me/contacts", &t).await, Vec::<String>::new());

    // Move again, into the nested folder, addressing it through its current folder.
    let moved = s.patch(&format!("/me/contactFolders/{a}/contacts/{id}"), &t, json!({"parentFolderId": b})).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["parentFolderId"], b.as_str());
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{a}/childFolders/{b}/contacts"), &t).await, vec![id.clone()]);
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{a}/contacts"), &t).await, Vec::<String>::new());
    let got = s.get(&format!("/me/contacts/{id}"), &t).await;
    assert_eq!(got.body["parentFolderId"], b.as_str());

    // Back to the default folder by its well-known name... no: parentFolderId takes ids; use the id.
    let back = s.patch(&format!("/me/contacts/{id}"), &t, json!({"parentFolderId": default_id})).await;
    assert_eq!(back.status, 200, "{}", back.text);
    assert_eq!(back.body["parentFolderId"], default_id.as_str());
    assert_eq!(s.ids_at("/me/contacts", &t).await, vec![id.clone()]);

    // A move to a folder that does not exist is 404 and changes nothing.
    s.patch(&format!("/me/contacts/{id}"), &t, json!({"parentFolderId": "AAAAAAAAAAAAAAAAAAAAAA", "jobTitle": "x"}))
        .await
        .assert_error(404, "ErrorItemNotFound");
    let got = s.get(&format!("/me/contacts/{id}"), &t).await;
    assert_eq!(got.body["parentFolderId"], default_id.as_str());
    assert_eq!(got.body["jobTitle"], serde_json::Value::Null);
    assert_eq!(got.body["changeKey"], back.body["changeKey"]);
}

/// PATCH parentFolderId moves a folder with its subtree; a move below itself is refused.
async fn move_folder_and_refuse_cycles(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let a = s.create_folder_at("/me/contactFolders", &t, "A").await;
    let b = s.create_folder_at(&format!("/me/contactFolders/{a}/childFolders"), &t, "B").await;
    let c = s.create_folder_at(&format!("/me/contactFolders/{b}/childFolders"), &t, "C").await;
    let d = s.create_folder_at("/me/contactFolders", &t, "D").await;
    let in_b = s.create_contact_at(&format!("/me/contactFolders/{b}/contacts"), &t, json!({"givenName": "InB"})).await;
    let in_b = in_b["id"].as_str().unwrap().to_owned();

    // Move B (with C below it) under D.
    let moved = s.patch(&format!("/me/contactFolders/{b}"), &t, json!({"parentFolderId": d})).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["id"], b.as_str());
    assert_eq!(moved.body["parentFolderId"], d.as_str());
    assert_eq!(moved.body["displayName"], "B");
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{d}/childFolders"), &t).await, vec![b.clone()]);
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{a}/childFolders"), &t).await, Vec::<String>::new());
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{d}/childFolders/{b}/childFolders"), &t).await, vec![c.clone()]);
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{d}/childFolders/{b}/contacts"), &t).await, vec![in_b.clone()]);
    s.get(&format!("/me/contactFolders/{a}/childFolders/{b}"), &t).await.assert_error(404, "ErrorItemNotFound");

    // Move and rename in one PATCH, to the top level.
    let moved = s
        .patch(
            &format!("/me/contactFolders/{c}"),
            &t,
            json!({"parentFolderId": user.mailbox.default_folder_id.as_str(), "displayName": "C2"}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["parentFolderId"], user.mailbox.default_folder_id.as_str());
    assert_eq!(moved.body["displayName"], "C2");
    assert_eq!(sorted(s.ids_at("/me/contactFolders", &t).await), sorted(vec![a.clone(), c.clone(), d.clone()]));
    // Move C back below B for the cycle checks.
    assert_eq!(s.patch(&format!("/me/contactFolders/{c}"), &t, json!({"parentFolderId": b})).await.status, 200);

    // D > B > C: moving D under C, under B, or under itself is refused.
    for target in [&c, &b, &d] {
        s.patch(&format!("/me/contactFolders/{d}"), &t, json!({"parentFolderId": target}))
            .await
            .assert_error(400, "ErrorMoveCopyFailed");
    }
    // The tree is unchanged.
    let got = s.get(&format!("/me/contactFolders/{d}"), &t).await;
    assert_eq!(got.body["parentFolderId"], user.mailbox.default_folder_id.as_str());
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{d}/childFolders"), &t).await, vec![b.clone()]);

    // A move onto a sibling of the same name clashes.
    let _b2 = s.create_folder_at(&format!("/me/contactFolders/{a}/childFolders"), &t, "B").await;
    s.patch(&format!("/me/contactFolders/{b}"), &t, json!({"parentFolderId": a}))
        .await
        .assert_error(409, "ErrorFolderExists");
    // Moving to a folder that does not exist is 404.
    s.patch(&format!("/me/contactFolders/{b}"), &t, json!({"parentFolderId": "AAAAAAAAAAAAAAAAAAAAAA"}))
        .await
        .assert_error(404, "ErrorItemNotFound");
    assert_eq!(s.get(&format!("/me/contactFolders/{b}"), &t).await.body["parentFolderId"], d.as_str());
}

/// Deleting a folder removes its subfolders and every contact in them; the default folder stays.
async fn delete_folder_cascades(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let a = s.create_folder_at("/me/contactFolders", &t, "A").await;
    let b = s.create_folder_at(&format!("/me/contactFolders/{a}/childFolders"), &t, "B").await;
    let c = s.create_folder_at(&format!("/me/contactFolders/{a}/childFolders/{b}/childFolders"), &t, "C").await;
    let keep = s.create_folder_at("/me/contactFolders", &t, "Keep").await;
    let in_a = s
        .create_contact_at(
            &format!("/me/contactFolders/{a}/contacts"),
            &t,
            json!({"givenName": "InA", "categories": ["Red"], "emailAddresses": [{"address": "a@x.test"}]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let in_c = s
        .create_contact_at(
            &format!("/me/contactFolders/{c}/contacts"),
            &t,
            json!({"givenName": "InC", "emailAddresses": [{"address": "c@x.test"}]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let in_keep = s
        .create_contact_at(&format!("/me/contactFolders/{keep}/contacts"), &t, json!({"givenName": "InKeep"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let in_default =
        s.create_contact(&t, json!({"givenName": "InDefault", "emailAddresses": [{"address": "a@x.test"}]})).await;

    let del = s.delete(&format!("/me/contactFolders/{a}"), &t).await;
    assert_eq!(del.status, 204, "{}", del.text);
    assert_eq!(del.text, "");
    for f in [&a, &b, &c] {
        s.get(&format!("/me/contactFolders/{f}"), &t).await.assert_error(404, "ErrorItemNotFound");
        s.get(&format!("/me/contactFolders/{f}/contacts"), &t).await.assert_error(404, "ErrorItemNotFound");
    }
    for id in [&in_a, &in_c] {
        s.get(&format!("/me/contacts/{id}"), &t).await.assert_error(404, "ErrorItemNotFound");
    }
    // The rest is untouched.
    assert_eq!(s.ids_at("/me/contactFolders", &t).await, vec![keep.clone()]);
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{keep}/contacts"), &t).await, vec![in_keep.clone()]);
    assert_eq!(s.ids_at("/me/contacts", &t).await, vec![in_default.clone()]);
    // The deleted contacts' email rows are gone too: a filter on the shared address finds only the survivor.
    let r = s.get("/me/contacts?$filter=emailAddresses/any(a:a/address%20eq%20'a@x.test')", &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    // Deleting again is 404; a folder of the same name can be created again.
    s.delete(&format!("/me/contactFolders/{a}"), &t).await.assert_error(404, "ErrorItemNotFound");
    s.create_folder_at("/me/contactFolders", &t, "A").await;

    // The default folder cannot be deleted, by id or by its well-known name.
    let default_id = user.mailbox.default_folder_id.as_str();
    s.delete(&format!("/me/contactFolders/{default_id}"), &t).await.assert_error(400, "ErrorDeleteDistinguishedFolder");
    s.delete("/me/contactFolders/contacts", &t).await.assert_error(400, "ErrorDeleteDistinguishedFolder");
    s.send(Method::POST, "/me/contactFolders/contacts/permanentDelete", Some(&t), None, &[])
        .await
        .assert_error(400, "ErrorDeleteDistinguishedFolder");
    assert_eq!(s.ids_at("/me/contacts", &t).await, vec![in_default]);
}

/// `permanentDelete` on contacts and folders: POST, 204, gone.
async fn permanent_delete_actions(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let id = s.create_contact(&t, json!({"givenName": "Gone"})).await;
    let r = s.send(Method::POST, &format!("/me/contacts/{id}/permanentDelete"), Some(&t), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(r.text, "");
    s.get(&format!("/me/contacts/{id}"), &t).await.assert_error(404, "ErrorItemNotFound");
    // Twice is 404.
    s.send(Method::POST, &format!("/me/contacts/{id}/permanentDelete"), Some(&t), None, &[])
        .await
        .assert_error(404, "ErrorItemNotFound");

    // Through a folder path, with the qualified action name and an empty JSON body.
    let f = s.create_folder_at("/me/contactFolders", &t, "F").await;
    let in_f = s.create_contact_at(&format!("/me/contactFolders/{f}/contacts"), &t, json!({"givenName": "InF"})).await
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let keep = s.create_contact_at(&format!("/me/contactFolders/{f}/contacts"), &t, json!({"givenName": "Keep"})).await
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .send(
            Method::POST,
            &format!("/me/contactFolders/{f}/contacts/{in_f}/microsoft.graph.permanentDelete"),
            Some(&t),
            Some(json!({})),
            &[],
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{f}/contacts"), &t).await, vec![keep.clone()]);

    // GET on the action is not allowed.
    let r = s.get(&format!("/me/contacts/{keep}/permanentDelete"), &t).await;
    r.assert_error(405, "ErrorInvalidRequest");

    // Folder permanentDelete, with a child folder.
    let child = s.create_folder_at(&format!("/me/contactFolders/{f}/childFolders"), &t, "Child").await;
    let r = s
        .send(
            Method::POST,
            &format!("/users/ada@contoso.test/contactFolders/{f}/childFolders/{child}/permanentDelete"),
            Some(&t),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    s.get(&format!("/me/contactFolders/{child}"), &t).await.assert_error(404, "ErrorItemNotFound");
    let r = s.send(Method::POST, &format!("/me/contactFolders/{f}/permanentDelete"), Some(&t), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    s.get(&format!("/me/contactFolders/{f}"), &t).await.assert_error(404, "ErrorItemNotFound");
    s.get(&format!("/me/contacts/{keep}"), &t).await.assert_error(404, "ErrorItemNotFound");
    assert_eq!(s.ids_at("/me/contactFolders", &t).await, Vec::<String>::new());
}

/// The well-known name `contacts` stands for the default folder.
async fn well_known_default_folder_alias(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let default_id = user.mailbox.default_folder_id.as_str().to_owned();
    let r = s.get("/me/contactFolders/contacts", &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], default_id.as_str());
    assert_eq!(r.body["displayName"], "Contacts");
    assert_eq!(r.body["parentFolderId"], user.mailbox.root_folder_id.as_str());
    // Same through key syntax and by id.
    let r2 = s.get("/me/contactFolders('contacts')", &t).await;
    assert_eq!(r2.status, 200, "{}", r2.text);
    assert_eq!(r2.body["id"], default_id.as_str());
    let r3 = s.get(&format!("/me/contactFolders/{default_id}"), &t).await;
    assert_eq!(r3.status, 200, "{}", r3.text);
    assert_eq!(r3.body["displayName"], "Contacts");

    // Contacts created through the alias land in the default folder.
    let created =
        s.create_contact_at("/me/contactFolders/contacts/contacts", &t, json!({"givenName": "ViaAlias"})).await;
    assert_eq!(created["parentFolderId"], default_id.as_str());
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(s.ids_at("/me/contacts", &t).await, vec![id.clone()]);
    assert_eq!(s.ids_at("/me/contactFolders/contacts/contacts", &t).await, vec![id.clone()]);
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{default_id}/contacts"), &t).await, vec![id.clone()]);
    assert_eq!(s.get(&format!("/me/contactFolders/contacts/contacts/{id}"), &t).await.status, 200);

    // Child folders of the alias are the top-level folders.
    let f = s.create_folder_at("/me/contactFolders/contacts/childFolders", &t, "ViaAlias").await;
    let got = s.get(&format!("/me/contactFolders/{f}"), &t).await;
    assert_eq!(got.body["parentFolderId"], default_id.as_str());
    assert_eq!(s.ids_at("/me/contactFolders", &t).await, vec![f.clone()]);
    assert_eq!(s.ids_at("/me/contactFolders/contacts/childFolders", &t).await, vec![f]);
}

/// `$filter=displayName eq '...'` and other query options on folder collections.
async fn folder_filter_and_paging(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let mut ids = Vec::new();
    for name in ["Family", "Friends", "Work", "Clubs", "Neighbours", "O'Brien's"] {
        ids.push(s.create_folder_at("/me/contactFolders", &t, name).await);
    }
    let r = s.get(&format!("/me/contactFolders?$filter={}", enc("displayName eq 'Work'")), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1, "{}", r.text);
    assert_eq!(r.body["value"][0]["id"], ids[2].as_str());
    // Case-insensitive, as Exchange compares names.
    assert_eq!(
        s.ids_at(&format!("/me/contactFolders?$filter={}", enc("displayName eq 'work'")), &t).await,
        vec![ids[2].clone()]
    );
    // Quotes escaped by doubling.
    assert_eq!(
        s.ids_at(&format!("/me/contactFolders?$filter={}", enc("displayName eq 'O''Brien''s'")), &t).await,
        vec![ids[5].clone()]
    );
    assert_eq!(
        sorted(s.ids_at(&format!("/me/contactFolders?$filter={}", enc("startswith(displayName,'F')")), &t).await),
        sorted(vec![ids[0].clone(), ids[1].clone()])
    );
    assert_eq!(
        s.ids_at(&format!("/me/contactFolders?$filter={}", enc("displayName eq 'Nope'")), &t).await,
        Vec::<String>::new()
    );
    // Unknown property in a folder filter.
    s.get(&format!("/me/contactFolders?$filter={}", enc("givenName eq 'x'")), &t).await.assert_error(400, "BadRequest");

    // $top, $count and nextLink paging over folders, ordered by name.
    let (items, sizes) = s.list_all("/me/contactFolders?$top=4&$count=true&$orderby=displayName", &t, &[]).await;
    assert_eq!(sizes, vec![4, 2]);
    let names: Vec<&str> = items.iter().map(|f| f["displayName"].as_str().unwrap()).collect();
    assert_eq!(names, ["Clubs", "Family", "Friends", "Neighbours", "O'Brien's", "Work"]);
    let r = s.get("/me/contactFolders?$count=true&$top=1", &t).await;
    assert_eq!(r.body["@odata.count"], 6);
    // $select on folders.
    let r = s.get("/me/contactFolders?$select=displayName&$top=1&$orderby=displayName", &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["value"], json!([{"id": ids[3], "displayName": "Clubs"}]));
}

/// Segments match case-insensitively, and OData key syntax works for folders and contacts.
async fn case_insensitive_segments_and_key_syntax(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let a = s.create_folder_at("/me/contactFolders", &t, "A").await;
    let b = s.create_folder_at(&format!("/ME/CONTACTFOLDERS/{a}/CHILDFOLDERS"), &t, "B").await;
    let id = s
        .create_contact_at(&format!("/Me/ContactFolders/{a}/ChildFolders/{b}/Contacts"), &t, json!({"givenName": "K"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    assert_eq!(s.ids_at("/ME/CONTACTFOLDERS", &t).await, vec![a.clone()]);
    assert_eq!(s.ids_at("/me/contactfolders", &t).await, vec![a.clone()]);
    assert_eq!(s.ids_at(&format!("/me/contactfolders/{a}/childfolders"), &t).await, vec![b.clone()]);
    assert_eq!(s.ids_at(&format!("/ME/CONTACTFOLDERS/{a}/CHILDFOLDERS/{b}/CONTACTS"), &t).await, vec![id.clone()]);
    let r = s.get(&format!("/ME/CONTACTS/{id}"), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The version segment too.
    let r = s.get(&format!("{}/me/contacts/{id}", s.base.replace("/v1.0", "/V1.0")), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Ids themselves are case-sensitive: a case-flipped id does not match.
    let flipped: String = id
        .chars()
        .map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
        .collect();
    assert_ne!(flipped, id, "an id with letters to flip");
    s.get(&format!("/me/contacts/{flipped}"), &t).await.assert_error(404, "ErrorItemNotFound");

    // OData key syntax.
    let r = s.get(&format!("/me/contactFolders('{a}')"), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], a.as_str());
    let r = s.get(&format!("/me/contactFolders('{a}')/childFolders('{b}')"), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], b.as_str());
    assert_eq!(
        s.ids_at(&format!("/me/contactFolders('{a}')/childFolders('{b}')/contacts"), &t).await,
        vec![id.clone()]
    );
    let r = s.get(&format!("/me/contactFolders('{b}')/contacts('{id}')"), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["givenName"], "K");
    let r = s.get(&format!("/users('{}')/contacts('{id}')", user.id), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.patch(&format!("/me/contactFolders('{a}')"), &t, json!({"displayName": "A2"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["displayName"], "A2");
    s.get(&format!("/me/contactFolders('{a}')/childFolders('{a}')"), &t).await.assert_error(404, "ErrorItemNotFound");
    // Empty key.
    s.get("/me/contactFolders('')", &t).await.assert_error(400, "ErrorInvalidIdEmpty");
}

/// One user's folders and contacts are invisible through another user's /me.
async fn mailboxes_are_isolated(s: TestServer) {
    let (_, ta) = s.login("ada@contoso.test").await;
    let (_, tb) = s.login("bob@contoso.test").await;
    let fa = s.create_folder_at("/me/contactFolders", &ta, "Private").await;
    let ca = s
        .create_contact_at(&format!("/me/contactFolders/{fa}/contacts"), &ta, json!({"givenName": "Secret"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let da = s.create_contact(&ta, json!({"givenName": "Secret2"})).await;

    s.get(&format!("/me/contactFolders/{fa}"), &tb).await.assert_error(404, "ErrorItemNotFound");
    s.get(&format!("/me/contactFolders/{fa}/contacts"), &tb).await.assert_error(404, "ErrorItemNotFound");
    s.get(&format!("/me/contacts/{ca}"), &tb).await.assert_error(404, "ErrorItemNotFound");
    s.get(&format!("/me/contacts/{da}"), &tb).await.assert_error(404, "ErrorItemNotFound");
    s.patch(&format!("/me/contacts/{da}"), &tb, json!({"givenName": "Hacked"}))
        .await
        .assert_error(404, "ErrorItemNotFound");
    s.delete(&format!("/me/contacts/{da}"), &tb).await.assert_error(404, "ErrorItemNotFound");
    s.delete(&format!("/me/contactFolders/{fa}"), &tb).await.assert_error(404, "ErrorItemNotFound");
    s.post(&format!("/me/contactFolders/{fa}/contacts"), &tb, json!({"givenName": "Planted"}))
        .await
        .assert_error(404, "ErrorItemNotFound");
    // Bob cannot move his own contact into Ada's folder.
    let cb = s.create_contact(&tb, json!({"givenName": "Bobs"})).await;
    s.patch(&format!("/me/contacts/{cb}"), &tb, json!({"parentFolderId": fa}))
        .await
        .assert_error(404, "ErrorItemNotFound");
    // Nor his folder under hers.
    s.post("/me/contactFolders", &tb, json!({"displayName": "Mine", "parentFolderId": fa}))
        .await
        .assert_error(404, "ErrorItemNotFound");
    assert_eq!(s.ids_at("/me/contactFolders", &tb).await, Vec::<String>::new());
    assert_eq!(s.ids_at("/me/contacts", &tb).await, vec![cb]);
    // Ada's data is intact.
    assert_eq!(s.get(&format!("/me/contacts/{da}"), &ta).await.body["givenName"], "Secret2");
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{fa}/contacts"), &ta).await, vec![ca]);
}

/// The default folder cannot be moved; a folder body may name its parent on POST /contactFolders.
async fn default_folder_is_fixed_and_parent_in_body(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let a = s.create_folder_at("/me/contactFolders", &t, "A").await;
    s.patch("/me/contactFolders/contacts", &t, json!({"parentFolderId": a}))
        .await
        .assert_error(400, "ErrorMoveDistinguishedFolder");
    let got = s.get("/me/contactFolders/contacts", &t).await;
    assert_eq!(got.body["parentFolderId"], user.mailbox.root_folder_id.as_str());
    // POST /me/contactFolders with parentFolderId files the new folder there.
    let r = s.post("/me/contactFolders", &t, json!({"displayName": "Under A", "parentFolderId": a})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["parentFolderId"], a.as_str());
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{a}/childFolders"), &t).await, vec![id]);
    assert_eq!(s.ids_at("/me/contactFolders", &t).await, vec![a.clone()]);
    s.post("/me/contactFolders", &t, json!({"displayName": "Nowhere", "parentFolderId": "AAAAAAAAAAAAAAAAAAAAAA"}))
        .await
        .assert_error(404, "ErrorItemNotFound");
}

/// Ten concurrent creates of the same folder name: exactly one succeeds, nine get 409.
async fn concurrent_duplicate_folder_creates(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let s = std::sync::Arc::new(s);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (s, t) = (s.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let r = s.post("/me/contactFolders", &t, json!({"displayName": "Dup"})).await;
            (r.status.as_u16(), r.body)
        }));
    }
    let mut created = 0;
    let mut clashes = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            201 => created += 1,
            409 => {
                assert_eq!(body["error"]["code"], "ErrorFolderExists");
                clashes += 1
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((created, clashes), (1, 9));
    assert_eq!(s.ids_at("/me/contactFolders", &t).await.len(), 1);
}

both_backends!(
    default_folder_is_fixed_and_parent_in_body,
    concurrent_duplicate_folder_creates,
    top_level_folder_lifecycle,
    folder_body_validation,
    child_folders_at_depth_three,
    contacts_in_nested_folder,
    move_contact_between_folders,
    move_folder_and_refuse_cycles,
    delete_folder_cascades,
    permanent_delete_actions,
    well_known_default_folder_alias,
    folder_filter_and_paging,
    case_insensitive_segments_and_key_syntax,
    mailboxes_are_isolated,
);
