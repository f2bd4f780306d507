//! Contact files over HTTP, a Rolo extension: `POST .../contactFolders/{id}/import`,
//! `GET .../contacts/{id}/$value` and `GET .../contacts/$value`, on SQLite and PostgreSQL.

use reqwest::Method;
use serde_json::json;

use super::samples;
use crate::common::{present_str, TestServer};

async fn import(s: &TestServer, t: &str, folder: &str, ct: &str, body: String) -> crate::common::Resp {
    s.send_raw(Method::POST, &format!("/me/contactFolders/{folder}/import"), Some(t), body.into_bytes(), Some(ct), &[])
        .await
}

pub async fn vcard_and_csv_import_export_over_http(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let folder = s.create_folder_at("/me/contactFolders", &t, "Imported").await;
    let all = [samples::apple(), samples::google(), samples::outlook(), samples::thunderbird()].concat();
    let r = import(&s, &t, &folder, "text/vcard", all.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"imported": 4, "merged": 0, "skipped": []}));

    let (list, _) = s.list_all(&format!("/me/contactFolders/{folder}/contacts?$orderby=displayName"), &t, &[]).await;
    let names: Vec<&str> = list.iter().map(|c| c["displayName"].as_str().unwrap()).collect();
    assert_eq!(names, ["Adele Vance", "Grady Archie", "Jürgen Müller", "Pavel Bansky"]);
    let pavel = &list[3];
    assert_eq!(pavel["title"], "Dr.");
    assert_eq!(pavel["companyName"], "Contoso Ltd.");
    assert_eq!(pavel["department"], "Sales");
    assert_eq!(pavel["mobilePhone"], "+47 555 01 00");
    assert_eq!(pavel["businessPhones"], json!(["+47 555 01 01"]));
    assert_eq!(pavel["homeAddress"]["city"], "Oslo");
    assert_eq!(pavel["birthday"], "1974-07-22T00:00:00Z");
    assert_eq!(pavel["categories"], json!(["Friends", "Golf"]));
    assert_eq!(
        pavel["personalNotes"],
        "A long note that goes on and on so that the writer has to fold it across more than one line, with an escaped comma."
    );
    let juergen = &list[2];
    assert_eq!(juergen["businessAddress"]["street"], "Straße 5");
    assert_eq!(juergen["personalNotes"], "Erste Zeile\r\nZweite Zeile mit einem sehr langen Text");
    assert_eq!(juergen["manager"], "Anna Schmidt");
    // The photos arrived, as uploads through .../photo/$value do.
    for c in [pavel, juergen, &list[1]] {
        let photo = s.get_bytes(&format!("/me/contacts/{}/photo/$value", c["id"].as_str().unwrap()), &t, &[]).await;
        assert_eq!(photo.status, 200);
        assert_eq!(photo.bytes, samples::photo_png());
    }

    // One contact as a vCard: the lines Graph has no property for come back as they went in.
    let id = pavel["id"].as_str().unwrap();
    let card = s.get_bytes(&format!("/me/contacts/{id}/$value"), &t, &[("Accept", "text/vcard")]).await;
    assert_eq!(card.status, 200);
    assert_eq!(card.header("content-type"), Some("text/vcard; charset=utf-8"));
    let text = String::from_utf8(card.bytes).unwrap();
    assert!(text.contains("\r\nUID:4A7E1F0C-APPLE-0001\r\n"), "{text}");
    assert!(text.contains("\r\nX-SOCIALPROFILE;type=twitter:https://twitter.com/pavel\r\n"), "{text}");
    assert!(text.contains("\r\nitem1.X-ABLabel:_$!<Other>!$_\r\n"), "{text}");
    assert!(text.contains("\r\nPHOTO;ENCODING=b;TYPE=PNG:"), "{text}");
    let v4 = s.get_bytes(&format!("/me/contacts/{id}/$value?format=vcard4"), &t, &[]).await;
    assert!(String::from_utf8(v4.bytes).unwrap().contains("\r\nVERSION:4.0\r\n"));

    // The whole folder, and a second import of it into another folder holds the same contacts.
    let file = s.get_bytes(&format!("/me/contactFolders/{folder}/contacts/$value"), &t, &[]).await;
    assert_eq!(file.status, 200);
    let exported = String::from_utf8(file.bytes).unwrap();
    assert_eq!(exported.matches("BEGIN:VCARD").count(), 4);
    let copy = s.create_folder_at("/me/contactFolders", &t, "Copy").await;
    let r = import(&s, &t, &copy, "text/vcard", exported.clone()).await;
    assert_eq!(r.body, json!({"imported": 4, "merged": 0, "skipped": []}));
    let again = s.get_bytes(&format!("/me/contactFolders/{copy}/contacts/$value"), &t, &[]).await;
    assert_eq!(String::from_utf8(again.bytes).unwrap(), exported);

    // Importing the same file again merges: nothing is duplicated, and what did not change
    // (photo included) keeps its change key.
    let r = import(&s, &t, &folder, "text/vcard", all.clone()).await;
    assert_eq!(r.body, json!({"imported": 0, "merged": 4, "skipped": []}));
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{folder}/contacts"), &t).await.len(), 4);
    let after = s.get(&format!("/me/contacts/{id}"), &t).await;
    assert_eq!(present_str(&after.body, "changeKey"), present_str(pavel, "changeKey"));
    // A changed card is merged into the same contact with a new change key.
    let changed = all.replace("TITLE:Regional Manager", "TITLE:Director");
    let r = import(&s, &t, &folder, "text/vcard", changed).await;
    assert_eq!(r.body, json!({"imported": 0, "merged": 4, "skipped": []}));
    let after = s.get(&format!("/me/contacts/{id}"), &t).await;
    assert_eq!(after.body["jobTitle"], "Director");
    assert_ne!(present_str(&after.body, "changeKey"), present_str(pavel, "changeKey"));

    // CSV in Outlook's columns: the good row is imported, the bad one named with its line.
    let r = import(&s, &t, &copy, "text/csv", samples::outlook_csv()).await;
    assert_eq!(
        r.body,
        json!({"imported": 1, "merged": 0, "skipped": [{"line": 3, "reason": "column 'Birthday': '31/31/1980' is not a date"}]})
    );
    let csv = s.get_bytes(&format!("/me/contactFolders/{copy}/contacts/$value?format=outlook-csv"), &t, &[]).await;
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let csv = String::from_utf8(csv.bytes).unwrap();
    assert!(csv.contains("\"Likes \"\"quotes\"\", and commas\""), "{csv}");
    assert!(csv.lines().next().unwrap().ends_with(",User 1"), "{csv}");
    let r = import(&s, &t, &copy, "text/csv", samples::google_csv()).await;
    assert_eq!(r.body, json!({"imported": 1, "merged": 0, "skipped": []}));
}

pub async fn file_routes_refuse_bad_input_and_follow_access(s: TestServer) {
    let (owner, t) = s.login("ada@contoso.test").await;
    let folder = s.create_folder_at("/me/contactFolders", &t, "Shared").await;
    // Bad files change nothing.
    let r = import(&s, &t, &folder, "application/json", "{}".into()).await;
    r.assert_error(415, "ErrorInvalidRequest");
    let r = import(&s, &t, &folder, "text/csv", "Foo,Bar\n1,2\n".into()).await;
    r.assert_error(400, "ErrorInvalidRequest");
    let r = import(
        &s,
        &t,
        &folder,
        "text/vcard",
        "BEGIN:VCARD\r\nFN:x\r\nNOCOLON\r\nEND:VCARD\r\nBEGIN:VCARD\r\nFN:y\r\n".into(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({"imported": 0, "merged": 0, "skipped": [
            {"line": 1, "reason": "line 3: the line has no ':' between a property name and its value: NOCOLON"},
            {"line": 5, "reason": "the card has no END:VCARD"}]})
    );
    assert!(s.ids_at(&format!("/me/contactFolders/{folder}/contacts"), &t).await.is_empty());
    let r = s.get(&format!("/me/contactFolders/{folder}/contacts/$value?format=xml"), &t).await;
    r.assert_error(400, "ErrorInvalidRequest");
    // The routes serve one method each.
    let r = s.get(&format!("/me/contactFolders/{folder}/import"), &t).await;
    r.assert_error(405, "ErrorInvalidRequest");

    // Reading needs Contacts.Read; importing needs Contacts.ReadWrite.
    let read_only = s.token(&owner, "Contacts.Read");
    let r = import(&s, &read_only, &folder, "text/vcard", samples::google()).await;
    r.assert_error(403, "ErrorAccessDenied");
    let r = s.get(&format!("/me/contactFolders/{folder}/contacts/$value"), &read_only).await;
    assert_eq!(r.status, 200);

    // A folder shared for reading: its file can be read, not written; other folders stay closed.
    let bob = s.user("bob@contoso.test").await;
    let share = s
        .post(
            &format!("/me/contactFolders/{folder}/permissions"),
            &t,
            json!({"emailAddress": {"address": bob.user_principal_name}, "role": "read"}),
        )
        .await;
    assert_eq!(share.status, 201, "{}", share.text);
    let upn = &owner.user_principal_name;
    let bt_shared = s.token(&bob, "Contacts.ReadWrite.Shared");
    let r = s.get(&format!("/users/{upn}/contactFolders/{folder}/contacts/$value"), &bt_shared).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s
        .send_raw(
            Method::POST,
            &format!("/users/{upn}/contactFolders/{folder}/import"),
            Some(&bt_shared),
            samples::google().into_bytes(),
            Some("text/vcard"),
            &[],
        )
        .await;
    r.assert_error(403, "ErrorAccessDenied");
    let r = s.get(&format!("/users/{upn}/contacts/$value"), &bt_shared).await;
    r.assert_error(403, "ErrorAccessDenied");
}
