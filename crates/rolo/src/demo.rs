//! `rolo demo`: a throwaway embedded database seeded with users, nested folders and realistic
//! contacts, served at once, with ready-made tokens printed for each user.

use std::sync::Arc;

use rolo_domain::{ContactData, FolderId};
use rolo_store::{Mailbox, OpenOptions, SqlStore, Store};
use serde_json::{json, Value};

/// Enough for every demo path: contacts, master categories and the user's own photo.
const DEMO_SCOPES: [&str; 3] = ["Contacts.ReadWrite", "MailboxSettings.ReadWrite", "User.ReadWrite"];

fn fail(e: rolo_domain::GraphError) -> ! {
    eprintln!("rolo demo: {}", e.cause.unwrap_or(e.message));
    std::process::exit(1)
}

async fn contact(store: &SqlStore, mb: &Mailbox, folder: &FolderId, body: Value) {
    let mut data = ContactData::default();
    data.apply_v1(&body, true).unwrap_or_else(|e| fail(e));
    store.create_contact(mb, folder, data).await.unwrap_or_else(|e| fail(e));
}

async fn seed(store: &SqlStore) -> Vec<(String, String)> {
    let users = [
        ("megan.bowen@contoso.com", "Megan Bowen"),
        ("alex.wilber@contoso.com", "Alex Wilber"),
        ("lee.gu@contoso.com", "Lee Gu"),
    ];
    let mut created = Vec::new();
    for (upn, name) in users {
        let user = store.create_user(upn, name).await.unwrap_or_else(|e| fail(e));
        created.push((user.user_principal_name.clone(), user.id.clone()));
        let mb = &user.mailbox;
        let default = mb.default_folder_id.clone();
        contact(store, mb, &default, json!({
            "givenName": "Pavel", "surname": "Bansky", "companyName": "Fabrikam", "jobTitle": "Product Manager",
            "emailAddresses": [{"address": "pavelb@fabrikam.onmicrosoft.com", "name": "Pavel Bansky"}],
            "businessPhones": ["+1 732 555 0102"], "categories": ["Blue category"],
            "businessAddress": {"street": "1 Microsoft Way", "city": "Redmond", "state": "WA", "postalCode": "98052", "countryOrRegion": "United States"}
        })).await;
        contact(store, mb, &default, json!({
            "givenName": "Garth", "surname": "Fort", "fileAs": "Fort, Garth", "companyName": "Contoso",
            "emailAddresses": [{"address": "garth@contoso.com", "name": "Garth Fort"}], "mobilePhone": "+1 425 555 0109",
            "birthday": "1974-07-22"
        })).await;
        contact(store, mb, &default, json!({
            "givenName": "Isaiah", "surname": "Langer", "nickName": "Zay", "companyName": "Litware",
            "emailAddresses": [{"address": "isaiahl@litware.com", "name": "Isaiah Langer"}, {"address": "zay@example.org"}],
            "homePhones": ["+44 20 7946 0958"], "homeAddress": {"city": "London", "countryOrRegion": "United Kingdom"}
        })).await;
        let family = store.create_folder(mb, &default, "Family").await.unwrap_or_else(|e| fail(e));
        contact(
            store,
            mb,
            &family.id,
            json!({
                "givenName": "Nestor", "surname": "Wilke", "spouseName": "Irvin", "children": ["Ada", "Tom"],
                "homePhones": ["+1 206 555 0110"], "personalNotes": "Brings the good coffee."
            }),
        )
        .await;
        let cousins = store.create_folder(mb, &family.id, "Cousins").await.unwrap_or_else(|e| fail(e));
        contact(
            store,
            mb,
            &cousins.id,
            json!({
                "givenName": "Diego", "surname": "Siciliani", "emailAddresses": [{"address": "diego@example.com"}]
            }),
        )
        .await;
        let work = store.create_folder(mb, &default, "Vendors").await.unwrap_or_else(|e| fail(e));
        for (i, (given, surname, company)) in [
            ("Johanna", "Lorenz", "Tailspin Toys"),
            ("Lynne", "Robbins", "Wingtip Toys"),
            ("Patti", "Fernandez", "Northwind Traders"),
            ("Henrietta", "Mueller", "Adventure Works"),
        ]
        .into_iter()
        .enumerate()
        {
            contact(store, mb, &work.id, json!({
                "givenName": given, "surname": surname, "companyName": company,
                "emailAddresses": [{"address": format!("{}.{}@{}.example", given.to_lowercase(), surname.to_lowercase(), i)}],
                "businessPhones": [format!("+1 555 010{i}")]
            })).await;
        }
    }
    created
}

pub async fn run(listen: &str) {
    let dir = std::env::temp_dir().join(format!("rolo-demo-{}", std::process::id()));
    let db = dir.join("demo.db");
    let store = rolo_store::open(&db.to_string_lossy(), &OpenOptions::default()).await.unwrap_or_else(|e| fail(e));
    let users = seed(&store).await;
    let authority = rolo_server::auth::Authority::load(&store).await.unwrap_or_else(|e| fail(e));
    let mut banner = format!(
        "\nRolo demo: Microsoft Graph contacts at http://{listen}/v1.0 (database {}, removed on exit)\n",
        db.display()
    );
    let mut first_token = String::new();
    for (upn, _) in &users {
        let user = store
            .find_user(upn)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| fail(rolo_domain::GraphError::internal("seeded user vanished")));
        let token =
            authority.issue_delegated(&user, &DEMO_SCOPES.map(str::to_owned), 12 * 3600).unwrap_or_else(|e| fail(e));
        banner.push_str(&format!("\nToken for {upn} ({}, 12 h):\n{token}\n", DEMO_SCOPES.join(" ")));
        if first_token.is_empty() {
            first_token = token;
        }
    }
    banner.push_str(&format!(
        "\nTry:\n  curl -s -H 'Authorization: Bearer {first_token}' 'http://{listen}/v1.0/me/contacts?$select=displayName,emailAddresses'\n"
    ));
    let store: Arc<dyn Store> = Arc::new(store);
    crate::run_server(listen, store, crate::ServeOptions { banner: Some(banner), ..Default::default() }).await;
    let _ = std::fs::remove_dir_all(&dir);
}
