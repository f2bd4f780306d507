//! The beta endpoint and follow-up flags, extended properties and schema extensions, over HTTP
//! on SQLite and PostgreSQL.

use crate::common::{enc, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

const GUID: &str = "{66f5a359-4659-4830-9070-00047ec6ac6e}";

fn beta(s: &TestServer, path: &str) -> String {
    format!("{}{path}", s.base.replace("/v1.0", "/beta"))
}

async fn send(s: &TestServer, method: Method, url: &str, token: &str, body: Option<Value>) -> crate::common::Resp {
    s.send(method, url, Some(token), body, &[]).await
}

/// A contact written through beta reads back through v1.0 mapped as Exchange maps it, and the
/// reverse.
async fn beta_and_v1_share_one_contact(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let created = send(
        &s,
        Method::POST,
        &beta(&s, "/me/contacts"),
        &t,
        Some(json!({
            "givenName": "Pavel", "surname": "Bansky", "gender": "male", "weddingAnniversary": "2010-06-12",
            "emailAddresses": [{"type": "work", "address": "pavel@contoso.test", "name": "Pavel"},
                               {"type": "other", "otherLabel": "Volunteer", "address": "pb@club.test"}],
            "phones": [{"type": "business", "number": "+1 1"}, {"type": "mobile", "number": "+1 2"},
                       {"type": "homeFax", "number": "+1 3"}],
            "postalAddresses": [{"type": "home", "city": "Oslo", "postOfficeBox": "PB 7"},
                                {"type": "business", "street": "1 Main St"}],
            "websites": [{"type": "work", "address": "https://contoso.test"}, {"type": "blog", "address": "https://b.test"}]
        })),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["flag"], json!({"flagStatus": "notFlagged"}));
    assert_eq!(created.body["weddingAnniversary"], "2010-06-12");
    assert_eq!(
        created.body["emailAddresses"][1],
        json!({"type": "other", "otherLabel": "Volunteer", "name": null, "address": "pb@club.test"})
    );
    assert!(created.body.get("businessPhones").is_none());
    assert!(created.body["@odata.context"].as_str().unwrap().contains("/beta/$metadata#users('"));

    let v1 = s.get(&format!("/me/contacts/{id}"), &t).await;
    assert_eq!(v1.status, 200);
    assert_eq!(v1.body["businessPhones"], json!(["+1 1"]));
    assert_eq!(v1.body["mobilePhone"], "+1 2");
    assert_eq!(v1.body["homePhones"], json!([]));
    assert_eq!(v1.body["homeAddress"], json!({"city": "Oslo"}));
    assert_eq!(v1.body["businessAddress"], json!({"street": "1 Main St"}));
    assert_eq!(v1.body["businessHomePage"], "https://contoso.test");
    assert_eq!(v1.body["emailAddresses"][0], json!({"name": "Pavel", "address": "pavel@contoso.test"}));
    assert!(v1.body.get("flag").is_none() && v1.body.get("phones").is_none() && v1.body.get("gender").is_none());

    // v1.0 writes its slots; beta sees them typed, and keeps what v1.0 cannot see (the fax).
    let r = s.patch(&format!("/me/contacts/{id}"), &t, json!({"homePhones": ["+1 9"], "mobilePhone": null})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = send(&s, Method::GET, &beta(&s, &format!("/me/contacts/{id}")), &t, None).await;
    assert_eq!(
        b.body["phones"],
        json!([{"type": "business", "number": "+1 1"}, {"type": "homeFax", "number": "+1 3"}, {"type": "home", "number": "+1 9"}])
    );
    assert_eq!(b.body["postalAddresses"][0], json!({"type": "home", "postOfficeBox": "PB 7", "city": "Oslo"}));

    // Each version refuses the other's shape.
    s.patch(&format!("/me/contacts/{id}"), &t, json!({"phones": []})).await.assert_error(400, "RequestBodyRead");
    s.patch(&format!("/me/contacts/{id}"), &t, json!({"flag": {"flagStatus": "flagged"}}))
        .await
        .assert_error(400, "RequestBodyRead");
    let r = send(&s, Method::PATCH, &beta(&s, &format!("/me/contacts/{id}")), &t, Some(json!({"businessPhones": []})))
        .await;
    r.assert_error(400, "RequestBodyRead");
    let r = send(
        &s,
        Method::PATCH,
        &beta(&s, &format!("/me/contacts/{id}")),
        &t,
        Some(json!({"phones": [{"type": "satellite", "number": "1"}]})),
    )
    .await;
    r.assert_error(400, "RequestBodyRead");
    let r = send(&s, Method::GET, &beta(&s, "/me/contacts?$select=businessPhones"), &t, None).await;
    r.assert_error(400, "BadRequest");
    let r = send(&s, Method::GET, &beta(&s, "/me/contacts?$select=phones,flag"), &t, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let keys: Vec<&String> = r.body["value"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["@odata.etag", "id", "phones", "flag"]);
}

/// Beta's `/me/contacts` spans the whole mailbox; v1.0's is the default folder.
async fn beta_lists_the_whole_mailbox(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let folder = s.create_folder_at("/me/contactFolders", &t, "Work").await;
    s.create_contact(&t, json!({"givenName": "InDefault"})).await;
    s.create_contact_at(&format!("/me/contactFolders/{folder}/contacts"), &t, json!({"givenName": "InWork"})).await;
    let v1 = s.get("/me/contacts?$select=givenName", &t).await;
    assert_eq!(v1.body["value"].as_array().unwrap().len(), 1);
    let b = send(&s, Method::GET, &beta(&s, "/me/contacts?$select=givenName&$orderby=givenName"), &t, None).await;
    let names: Vec<&str> =
        b.body["value"].as_array().unwrap().iter().map(|c| c["givenName"].as_str().unwrap()).collect();
    assert_eq!(names, ["InDefault", "InWork"]);
    let b = send(&s, Method::GET, &beta(&s, &format!("/me/contactFolders/{folder}/contacts")), &t, None).await;
    assert_eq!(b.body["value"].as_array().unwrap().len(), 1);
    let f = send(&s, Method::GET, &beta(&s, &format!("/me/contactFolders/{folder}")), &t, None).await;
    assert_eq!(f.body["wellKnownName"], Value::Null);
    let f = send(&s, Method::GET, &beta(&s, "/me/contactFolders/contacts"), &t, None).await;
    assert_eq!(f.body["wellKnownName"], "contacts");
    let f = s.get(&format!("/me/contactFolders/{folder}"), &t).await;
    assert!(f.body.get("wellKnownName").is_none());
}

fn dt(s: &str) -> Value {
    json!({"dateTime": s, "timeZone": "UTC"})
}

/// Follow-up flags on beta: Graph's and Exchange's rules, and `flag/flagStatus` filters.
async fn flags_follow_exchange_rules(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let url = |id: &str| beta(&s, &format!("/me/contacts/{id}"));
    let a = s.create_contact(&t, json!({"givenName": "A"})).await;
    let b = s.create_contact(&t, json!({"givenName": "B"})).await;
    s.create_contact(&t, json!({"givenName": "C"})).await;
    let r = send(
        &s,
        Method::PATCH,
        &url(&a),
        &t,
        Some(json!({"flag": {"flagStatus": "flagged",
        "startDateTime": {"dateTime": "2024-05-01T08:00:00", "timeZone": "Etc/GMT-2"},
        "dueDateTime": dt("2024-05-03T17:00:00")}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["flag"],
        json!({"flagStatus": "flagged", "startDateTime": dt("2024-05-01T06:00:00.0000000"),
               "dueDateTime": dt("2024-05-03T17:00:00.0000000")})
    );
    let r = send(
        &s,
        Method::PATCH,
        &url(&b),
        &t,
        Some(json!({"flag": {"flagStatus": "complete",
        "completedDateTime": dt("2024-05-02T10:00:00")}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // A due date without a start date, dates a status may not carry, unknown statuses.
    for (flag, code) in [
        (json!({"flagStatus": "flagged", "dueDateTime": dt("2024-05-03T17:00:00")}), "ErrorInvalidArgument"),
        (json!({"flagStatus": "notFlagged", "completedDateTime": dt("2024-05-03T17:00:00")}), "ErrorInvalidArgument"),
        (
            json!({"flagStatus": "complete", "startDateTime": dt("2024-05-03T17:00:00"), "dueDateTime": dt("2024-05-04T17:00:00")}),
            "ErrorInvalidArgument",
        ),
        (json!({"flagStatus": "someday"}), "RequestBodyRead"),
        (
            json!({"flagStatus": "flagged", "startDateTime": {"dateTime": "soon"}, "dueDateTime": dt("2024-05-04T17:00:00")}),
            "ErrorInvalidArgument",
        ),
    ] {
        send(&s, Method::PATCH, &url(&a), &t, Some(json!({"flag": flag}))).await.assert_error(400, code);
    }
    let still = send(&s, Method::GET, &url(&a), &t, None).await;
    assert_eq!(still.body["flag"]["flagStatus"], "flagged", "a refused write changes nothing");

    let names = |r: &crate::common::Resp| -> Vec<String> {
        r.body["value"].as_array().unwrap().iter().map(|c| c["givenName"].as_str().unwrap().to_owned()).collect()
    };
    let q = |f: &str| beta(&s, &format!("/me/contacts?$select=givenName&$orderby=givenName&$filter={}", enc(f)));
    assert_eq!(names(&send(&s, Method::GET, &q("flag/flagStatus eq 'flagged'"), &t, None).await), ["A"]);
    assert_eq!(names(&send(&s, Method::GET, &q("flag/flagStatus eq 'notFlagged'"), &t, None).await), ["C"]);
    assert_eq!(names(&send(&s, Method::GET, &q("flag/flagStatus ne 'notFlagged'"), &t, None).await), ["A", "B"]);
    s.get(&format!("/me/contacts?$filter={}", enc("flag/flagStatus eq 'flagged'")), &t)
        .await
        .assert_error(400, "BadRequest");

    // Clearing the flag.
    let r = send(&s, Method::PATCH, &url(&a), &t, Some(json!({"flag": {"flagStatus": "notFlagged"}}))).await;
    assert_eq!(r.body["flag"], json!({"flagStatus": "notFlagged"}));
}

/// Single- and multi-value extended properties: set on create and PATCH, read only through
/// `$expand` by id, filtered with `any()`, ids validated as Graph does.
async fn extended_properties(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let color = format!("String {GUID} Name Color");
    let tags = format!("StringArray {GUID} Name Tags");
    let created = s
        .post(
            "/me/contacts",
            &t,
            json!({"givenName": "Green", "singleValueExtendedProperties": [{"id": color, "value": "Green"}],
                   "multiValueExtendedProperties": [{"id": tags, "value": ["a", "b"]}]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(created.body.get("singleValueExtendedProperties").is_none(), "not returned on create, as on Graph");
    let green = created.body["id"].as_str().unwrap().to_owned();
    let red = s.create_contact(&t, json!({"givenName": "Red"})).await;
    let r = s
        .patch(
            &format!("/me/contacts/{red}"),
            &t,
            json!({"singleValueExtendedProperties": [{"id": color, "value": "RED"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("singleValueExtendedProperties").is_none());
    s.create_contact(&t, json!({"givenName": "None"})).await;

    // Read back by id, in another spelling of the same id.
    let upper = color.replace("66f5a359", "66F5A359").replace("String", "string");
    let expand = format!("singleValueExtendedProperties($filter=id eq '{upper}')");
    let r = s.get(&format!("/me/contacts/{green}?$expand={}", enc(&expand)), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["singleValueExtendedProperties"], json!([{"id": color, "value": "Green"}]));
    assert!(r.body["singleValueExtendedProperties@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("/singleValueExtendedProperties"));
    let expand = format!("multiValueExtendedProperties($filter=id eq '{tags}')");
    let r = s.get(&format!("/me/contacts/{green}?$expand={}", enc(&expand)), &t).await;
    assert_eq!(r.body["multiValueExtendedProperties"], json!([{"id": tags, "value": ["a", "b"]}]));
    // Not set: the property is absent. The Name part is case-sensitive.
    let expand = format!("singleValueExtendedProperties($filter=id eq 'String {GUID} Name color')");
    let r = s.get(&format!("/me/contacts/{green}?$expand={}", enc(&expand)), &t).await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("singleValueExtendedProperties").is_none());

    // Filters: value matching ignores case; the id may be given in any casing of type and GUID.
    let names = |r: &crate::common::Resp| -> Vec<String> {
        let mut v: Vec<String> =
            r.body["value"].as_array().unwrap().iter().map(|c| c["givenName"].as_str().unwrap().to_owned()).collect();
        v.sort();
        v
    };
    let filter = |f: String| format!("/me/contacts?$select=givenName&$filter={}", enc(&f));
    let r = s
        .get(&filter(format!("singleValueExtendedProperties/any(ep: ep/id eq '{upper}' and ep/value eq 'red')")), &t)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(names(&r), ["Red"]);
    assert!(r.body["value"][0].get("singleValueExtendedProperties").is_none());
    let r = s.get(&filter(format!("singleValueExtendedProperties/any(ep: ep/id eq '{color}')")), &t).await;
    assert_eq!(names(&r), ["Green", "Red"]);
    let r = s
        .get(
            &filter(format!(
                "singleValueExtendedProperties/any(ep: ep/id eq '{color}' and startswith(ep/value, 'gr'))"
            )),
            &t,
        )
        .await;
    assert_eq!(names(&r), ["Green"]);

    // Removing one by setting it to null.
    let r = s
        .patch(
            &format!("/me/contacts/{red}"),
            &t,
            json!({"singleValueExtendedProperties": [{"id": color, "value": null}]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = s.get(&filter(format!("singleValueExtendedProperties/any(ep: ep/id eq '{color}')")), &t).await;
    assert_eq!(names(&r), ["Green"]);

    // Graph's errors for malformed ids, wrong combinations and values of the wrong type.
    let bad = |id: &str, value: Value| json!({"singleValueExtendedProperties": [{"id": id, "value": value}]});
    for (body, code) in [
        (bad("Color", json!("x")), "ErrorInvalidProperty"),
        (bad(&format!("Text {GUID} Name X"), json!("x")), "ErrorInvalidProperty"),
        (bad(&tags, json!("x")), "ErrorInvalidExtendedProperty"),
        (bad(&format!("Integer {GUID} Name N"), json!("twelve")), "ErrorInvalidExtendedPropertyValue"),
    ] {
        s.patch(&format!("/me/contacts/{green}"), &t, body).await.assert_error(400, code);
    }
    let expand = "singleValueExtendedProperties($filter=id eq 'Test')";
    s.get(&format!("/me/contacts/{green}?$expand={}", enc(expand)), &t).await.assert_error(400, "ErrorInvalidProperty");
    s.get(&format!("/me/contacts/{green}?$expand=singleValueExtendedProperties"), &t)
        .await
        .assert_error(400, "ErrorInvalidRequest");
    let too_many: Vec<Value> =
        (0..101).map(|i| json!({"id": format!("String {GUID} Name P{i}"), "value": "v"})).collect();
    s.patch(&format!("/me/contacts/{green}"), &t, json!({"singleValueExtendedProperties": too_many}))
        .await
        .assert_error(400, "ErrorPropertyLimitExceeded");
}

/// Schema extension definitions (lifecycle, owner, limits) and their values on contacts,
/// including the `$filter` Rolo adds.
async fn schema_extensions(s: TestServer) {
    let user = s.user("admin@contoso.test").await;
    let admin = s.token(&user, "Contacts.ReadWrite Application.ReadWrite.All");
    let reader = s.token(&user, "Contacts.ReadWrite User.Read");
    let def = json!({"id": "contoso_course", "description": "Courses", "targetTypes": ["contact"],
        "properties": [{"name": "courseId", "type": "Integer"}, {"name": "courseName", "type": "String"},
                       {"name": "starts", "type": "DateTime"}]});
    s.post("/schemaExtensions", &reader, def.clone()).await.assert_error(403, "Authorization_RequestDenied");
    let created = s.post("/schemaExtensions", &admin, def.clone()).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["status"], "InDevelopment");
    assert_eq!(created.body["owner"], "7a0c6f2e-6b1e-4c3a-9f6e-526f6c6f0001");
    s.post("/schemaExtensions", &admin, def.clone()).await.assert_error(409, "Conflict");
    let generated = s
        .post(
            "/schemaExtensions",
            &admin,
            json!({"id": "tags", "targetTypes": ["Contact"], "properties": [{"name": "t", "type": "String"}]}),
        )
        .await;
    let generated_id = generated.body["id"].as_str().unwrap().to_owned();
    assert!(generated_id.starts_with("ext") && generated_id.ends_with("_tags"), "{generated_id}");

    let r = s.get(&format!("/schemaExtensions?$filter={}", enc("id eq 'contoso_course'")), &reader).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["value"][0]["properties"][0], json!({"name": "courseId", "type": "Integer"}));
    let r = s.get(&format!("/schemaExtensions?$filter={}", enc("Id eq 'contoso_course'")), &reader).await;
    assert_eq!(r.body["value"].as_array().map(Vec::len), Some(1), "{}", r.text);
    s.get("/schemaExtensions/nope_nope", &reader).await.assert_error(404, "Request_ResourceNotFound");

    // Values: set by PATCH, merged, typed, returned on GET and by $select.
    let t = admin.clone();
    let c = s.create_contact(&t, json!({"givenName": "Student"})).await;
    let other = s.create_contact(&t, json!({"givenName": "Other"})).await;
    let r = s
        .patch(&format!("/me/contacts/{c}"), &t, json!({"contoso_course": {"courseId": 7, "courseName": "Rust"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["contoso_course"],
        json!({"@odata.type": "#microsoft.graph.ComplexExtensionValue", "courseId": 7, "courseName": "Rust"})
    );
    s.patch(&format!("/me/contacts/{other}"), &t, json!({"contoso_course": {"courseId": 8}})).await;
    let r = s
        .patch(
            &format!("/me/contacts/{c}"),
            &t,
            json!({"contoso_course": {"courseName": null, "starts": "2024-09-01T09:00:00+02:00"}}),
        )
        .await;
    assert_eq!(r.body["contoso_course"]["courseId"], 7);
    assert_eq!(r.body["contoso_course"]["starts"], "2024-09-01T07:00:00Z");
    assert!(r.body["contoso_course"].get("courseName").is_none());
    let r = s.get(&format!("/me/contacts/{c}?$select=displayName,contoso_course"), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["contoso_course"]["courseId"], 7);
    assert!(r.body.get("givenName").is_none());
    let r = s.get(&format!("/me/contacts/{c}?$select=displayName"), &t).await;
    assert!(r.body.get("contoso_course").is_none());
    s.get(&format!("/me/contacts/{c}?$select=contoso_nothing"), &t).await.assert_error(400, "BadRequest");
    for (body, code) in [
        (json!({"contoso_course": {"courseId": "seven"}}), "RequestBodyRead"),
        (json!({"contoso_course": {"room": 1}}), "RequestBodyRead"),
        (json!({"contoso_course": {"courseName": "x".repeat(257)}}), "BadRequest"),
        (json!({"contoso_unknown": {"a": 1}}), "RequestBodyRead"),
    ] {
        s.patch(&format!("/me/contacts/{c}"), &t, body).await.assert_error(400, code);
    }

    // A Rolo extension: filtering on schema-extension values.
    let r = s.get(&format!("/me/contacts?$select=givenName&$filter={}", enc("contoso_course/courseId eq 8")), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let names: Vec<&str> =
        r.body["value"].as_array().unwrap().iter().map(|c| c["givenName"].as_str().unwrap()).collect();
    assert_eq!(names, ["Other"]);
    let r = s.get(&format!("/me/contacts?$select=givenName&$filter={}", enc("contoso_course/courseId ge 7")), &t).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 2);

    // Clearing the whole value.
    let r = s.patch(&format!("/me/contacts/{c}"), &t, json!({"contoso_course": null})).await;
    assert!(r.body.get("contoso_course").is_none());

    // Lifecycle: forward only; only the owner app; no delete once Available.
    let r = s.patch("/schemaExtensions/contoso_course", &admin, json!({"status": "Deprecated"})).await;
    r.assert_error(400, "BadRequest");
    let r = s
        .patch("/schemaExtensions/contoso_course", &admin, json!({"status": "Available", "description": "Live"}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = s.get("/schemaExtensions/contoso_course", &reader).await;
    assert_eq!((r.body["status"].as_str(), r.body["description"].as_str()), (Some("Available"), Some("Live")));
    s.patch(
        "/schemaExtensions/contoso_course",
        &admin,
        json!({"properties": [{"name": "courseId", "type": "Integer"}]}),
    )
    .await
    .assert_error(400, "BadRequest");
    s.delete("/schemaExtensions/contoso_course", &admin).await.assert_error(400, "BadRequest");
    let r = s.delete(&format!("/schemaExtensions/{generated_id}"), &admin).await;
    assert_eq!(r.status, 204);
    s.get(&format!("/schemaExtensions/{generated_id}"), &admin).await.assert_error(404, "Request_ResourceNotFound");

    // At most five definitions per owner app.
    for i in 0..4 {
        let r = s.post("/schemaExtensions", &admin, json!({"id": format!("contoso_s{i}"), "targetTypes": ["contact"], "properties": [{"name": "a", "type": "String"}]})).await;
        assert_eq!(r.status, 201, "{i}: {}", r.text);
    }
    let r = s
        .post(
            "/schemaExtensions",
            &admin,
            json!({"id": "contoso_s9", "targetTypes": ["contact"], "properties": [{"name": "a", "type": "String"}]}),
        )
        .await;
    r.assert_error(400, "BadRequest");
}

both_backends!(
    beta_and_v1_share_one_contact,
    beta_lists_the_whole_mailbox,
    flags_follow_exchange_rules,
    extended_properties,
    schema_extensions,
);
