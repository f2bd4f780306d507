//! `POST .../contacts/{id}/merge` (a Rolo extension): duplicates merged into one contact with
//! every value kept, the chosen values applied, the others deleted and reported as removed by
//! delta; `If-Match` on the kept contact; bad requests refused without changes.

use serde_json::json;

use crate::common::TestServer;

async fn merge_keeps_every_value(s: TestServer) {
    let (_, t) = s.login("merger@contoso.test").await;
    let a = s
        .create_contact(
            &t,
            json!({"givenName": "Ada", "surname": "Lovelace", "jobTitle": "Countess",
                   "emailAddresses": [{"address": "ada@engine.test"}], "businessPhones": ["+44 20 1234"],
                   "categories": ["Red"], "personalNotes": "Met in London."}),
        )
        .await;
    let b = s
        .create_contact(
            &t,
            json!({"givenName": "Ada", "surname": "Lovelace", "jobTitle": "Mathematician", "companyName": "Analytical",
                   "emailAddresses": [{"address": "ADA@engine.test"}, {"address": "lovelace@home.test"}],
                   "businessPhones": ["+44 20 1234", "+44 20 9999"], "categories": ["Blue"],
                   "personalNotes": "Likes engines."}),
        )
        .await;
    let c = s.create_contact(&t, json!({"givenName": "A.", "surname": "Lovelace", "nickName": "Enchantress"})).await;
    let round = s.get("/me/contacts/delta", &t).await;
    let delta = round.body["@odata.deltaLink"].as_str().unwrap().to_owned();

    // Refusals change nothing.
    s.post(&format!("/me/contacts/{a}/merge"), &t, json!({"contacts": [a]}))
        .await
        .assert_error(400, "ErrorInvalidRequest");
    s.post(&format!("/me/contacts/{a}/merge"), &t, json!({"contacts": []}))
        .await
        .assert_error(400, "ErrorInvalidRequest");
    s.post(&format!("/me/contacts/{a}/merge"), &t, json!({"contacts": [b], "other": 1}))
        .await
        .assert_error(400, "ErrorInvalidRequest");
    s.post(&format!("/me/contacts/{a}/merge"), &t, json!({"contacts": ["AAAAAAAAAAAAAAAAAAAAAA"]}))
        .await
        .assert_error(404, "ErrorItemNotFound");
    let stale = s
        .send(
            reqwest::Method::POST,
            &format!("/me/contacts/{a}/merge"),
            Some(&t),
            Some(json!({"contacts": [b]})),
            &[("If-Match", "W/\"stale\"")],
        )
        .await;
    assert_eq!(stale.status, 412, "{}", stale.text);
    assert_eq!(s.get(&format!("/me/contacts/{b}"), &t).await.status, 200, "nothing merged on a refusal");

    // The person chose the other contact's job title.
    let r = s
        .post(
            &format!("/me/contacts/{a}/merge"),
            &t,
            json!({"contacts": [b, c], "values": {"jobTitle": "Mathematician"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let m = &r.body;
    assert_eq!(m["id"], a.as_str());
    assert_eq!(m["jobTitle"], "Mathematician");
    assert_eq!(m["companyName"], "Analytical");
    assert_eq!(m["nickName"], "Enchantress");
    assert_eq!(m["givenName"], "Ada", "the kept contact's value where nobody chose");
    let emails: Vec<&str> =
        m["emailAddresses"].as_array().unwrap().iter().map(|e| e["address"].as_str().unwrap()).collect();
    assert_eq!(emails, ["ada@engine.test", "lovelace@home.test"]);
    assert_eq!(m["businessPhones"], json!(["+44 20 1234", "+44 20 9999"]));
    assert_eq!(m["categories"], json!(["Red", "Blue"]));
    assert_eq!(m["personalNotes"], "Met in London.\n\nLikes engines.");
    s.get(&format!("/me/contacts/{b}"), &t).await.assert_error(404, "ErrorItemNotFound");
    s.get(&format!("/me/contacts/{c}"), &t).await.assert_error(404, "ErrorItemNotFound");

    // Delta: the kept contact updated, the others removed.
    let next = s.get(&delta, &t).await;
    assert_eq!(next.status, 200, "{}", next.text);
    let items = next.body["value"].as_array().unwrap();
    let removed: Vec<&str> =
        items.iter().filter(|i| i.get("@removed").is_some()).map(|i| i["id"].as_str().unwrap()).collect();
    assert!(removed.contains(&b.as_str()) && removed.contains(&c.as_str()), "{items:?}");
    assert!(items.iter().any(|i| i["id"] == a.as_str() && i.get("@removed").is_none()), "{items:?}");
}

crate::both_backends!(merge_keeps_every_value);
