//! CardDAV's access matrix: who may list, read, write and delete the owner's cards, and who may
//! copy a card into, or move one out of, another user's address book (only those Graph lets
//! write there: owner, write delegate, folder grantee for writing), with exact statuses, and
//! refused requests changing nothing.

use rolo_domain::{FolderId, Grant};

use crate::carddav::{basic, dav, dav_user, default_book};
use crate::common::TestServer;

/// The owner of a book with one card (`keep.vcf`) and a folder shared for writing, and one
/// caller of each kind the matrices try.
struct Cast {
    owner_auth: String,
    /// The owner's default book.
    book: String,
    /// The owner's Graph token.
    t: String,
    /// The shared folder's id.
    shared: String,
    reader_auth: String,
    writer_auth: String,
    grantee_auth: String,
    stranger_auth: String,
    revoked_auth: String,
    mail_only: String,
    bad_password: String,
}

const HOME: &str = "/dav/addressbooks/dav-owner@contoso.test/";

fn card(fn_: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{fn_}\r\nFN:{fn_}\r\nN:{fn_};;;;\r\nEND:VCARD\r\n")
}

async fn cast(s: &TestServer) -> Cast {
    let (owner, owner_auth) = dav_user(s, "dav-owner@contoso.test").await;
    let book = default_book(s, "dav-owner@contoso.test", &owner_auth).await;
    let t = s.token(&owner, "Contacts.ReadWrite");
    let shared = s.create_folder_at("/me/contactFolders", &t, "Shared").await;
    assert_eq!(dav(s, "PUT", &format!("{book}keep.vcf"), Some(&owner_auth), &[], &card("Keep")).await.status, 201);
    let (reader, reader_auth) = dav_user(s, "dav-reader@contoso.test").await;
    s.store.set_mailbox_grant(&owner.mailbox, &reader.id, Some(Grant::Read)).await.unwrap();
    let (grantee, grantee_auth) = dav_user(s, "dav-grantee@contoso.test").await;
    s.store
        .add_folder_permission(&owner.mailbox, &FolderId::from_stored(shared.clone()), &grantee, Grant::Write)
        .await
        .unwrap();
    let (stranger, stranger_auth) = dav_user(s, "dav-stranger@contoso.test").await;
    let (writer, writer_auth) = dav_user(s, "dav-writer@contoso.test").await;
    s.store.set_mailbox_grant(&owner.mailbox, &writer.id, Some(Grant::Write)).await.unwrap();
    let (revoked, revoked_auth) = dav_user(s, "dav-revoked@contoso.test").await;
    s.store.set_mailbox_grant(&owner.mailbox, &revoked.id, Some(Grant::Write)).await.unwrap();
    assert!(s.store.remove_app_password(&revoked.id, "test").await.unwrap());
    Cast {
        owner_auth,
        book,
        mail_only: format!("Bearer {}", s.token(&stranger, "Mail.Read")),
        t,
        shared,
        reader_auth,
        writer_auth,
        grantee_auth,
        stranger_auth,
        revoked_auth,
        bad_password: basic("dav-owner@contoso.test", "not-the-password"),
    }
}

async fn carddav_copy_move_matrix(s: TestServer) {
    let Cast {
        owner_auth,
        book,
        t,
        shared,
        reader_auth,
        writer_auth,
        grantee_auth,
        stranger_auth,
        revoked_auth,
        mail_only,
        bad_password,
    } = cast(&s).await;
    let home = HOME;
    let sbook = format!("{home}{shared}/");

    // COPY of the caller's own card into the owner's default book, and MOVE of the owner's
    // card into the caller's own book: only writers of both ends may.
    let mut own_books = std::collections::HashMap::new();
    for (who, upn, auth) in [
        ("owner", "dav-owner@contoso.test", &owner_auth),
        ("read delegate", "dav-reader@contoso.test", &reader_auth),
        ("write delegate", "dav-writer@contoso.test", &writer_auth),
        ("folder grantee", "dav-grantee@contoso.test", &grantee_auth),
        ("stranger", "dav-stranger@contoso.test", &stranger_auth),
    ] {
        let own = if who == "owner" { sbook.clone() } else { default_book(&s, upn, auth).await };
        let mine = card(&format!("Mine {who}"));
        assert_eq!(dav(&s, "PUT", &format!("{own}mine.vcf"), Some(auth), &[], &mine).await.status, 201);
        own_books.insert(who, own);
    }
    own_books.insert("token without contacts scopes", own_books["stranger"].clone());
    // (who, Authorization, [COPY own card -> owner's book, MOVE owner's card -> own book])
    let rows: Vec<(&str, Option<&str>, [u16; 2])> = vec![
        ("read delegate", Some(&reader_auth), [403, 403]),
        ("write delegate", Some(&writer_auth), [201, 201]),
        ("folder grantee", Some(&grantee_auth), [409, 404]),
        ("stranger", Some(&stranger_auth), [403, 403]),
        ("token without contacts scopes", Some(&mail_only), [403, 403]),
        ("bad password", Some(&bad_password), [401, 401]),
        ("revoked app password", Some(&revoked_auth), [401, 401]),
        ("no credentials", None, [401, 401]),
        ("owner", Some(&owner_auth), [201, 201]),
    ];
    for (who, auth, want) in rows {
        let own = own_books.get(who).cloned().unwrap_or_else(|| sbook.clone());
        let copy_to = format!("{book}copied-{}.vcf", who.replace(' ', "-"));
        let move_to = format!("{own}moved.vcf");
        let got = [
            dav(&s, "COPY", &format!("{own}mine.vcf"), auth, &[("Destination", &copy_to)], "").await.status.as_u16(),
            dav(&s, "MOVE", &format!("{book}keep.vcf"), auth, &[("Destination", &move_to)], "").await.status.as_u16(),
        ];
        assert_eq!(got, want, "{who}");
        if who == "write delegate" {
            // Its MOVE took keep.vcf to its own book: put it back for the next rows.
            let r = dav(&s, "PUT", &format!("{book}keep.vcf"), Some(&owner_auth), &[], &card("Keep")).await;
            assert_eq!(r.status, 201);
        }
    }
    // The refused ones changed nothing: the owner's default book holds the writers' copies;
    // keep.vcf left it by the owner's MOVE.
    let default_names: Vec<String> = s
        .list_all("/me/contactFolders/contacts/contacts", &t, &[])
        .await
        .0
        .iter()
        .map(|c| c["displayName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(crate::common::sorted(default_names), vec!["Mine owner".to_owned(), "Mine write delegate".to_owned()]);
    assert_eq!(dav(&s, "GET", &format!("{sbook}moved.vcf"), Some(&owner_auth), &[], "").await.status, 200);
    // The grantee may copy into the folder shared with it for writing.
    let r = dav(
        &s,
        "COPY",
        &format!("{}mine.vcf", own_books["folder grantee"]),
        Some(&grantee_auth),
        &[("Destination", &format!("{sbook}from-grantee.vcf"))],
        "",
    )
    .await;
    assert_eq!(r.status, 201);
}

/// `/dav`: who may list, read, write and delete the owner's cards, with exact statuses, and
/// refused writes changing nothing.
async fn carddav_matrix(s: TestServer) {
    let Cast {
        owner_auth,
        book,
        t,
        shared,
        reader_auth,
        writer_auth: _,
        grantee_auth,
        stranger_auth,
        revoked_auth,
        mail_only,
        bad_password,
    } = cast(&s).await;
    let home = HOME;

    // (who, Authorization, [PROPFIND home, GET card, PUT new card, DELETE card])
    let rows: Vec<(&str, Option<&str>, [u16; 4])> = vec![
        ("owner", Some(&owner_auth), [207, 200, 201, 204]),
        ("read delegate", Some(&reader_auth), [207, 200, 403, 403]),
        ("folder grantee", Some(&grantee_auth), [207, 404, 404, 404]),
        ("stranger", Some(&stranger_auth), [403, 403, 403, 403]),
        ("token without contacts scopes", Some(&mail_only), [403, 403, 403, 403]),
        ("bad password", Some(&bad_password), [401, 401, 401, 401]),
        ("revoked app password", Some(&revoked_auth), [401, 401, 401, 401]),
        ("no credentials", None, [401, 401, 401, 401]),
    ];
    for (who, auth, want) in rows {
        let got = [
            dav(&s, "PROPFIND", home, auth, &[("Depth", "1")], "").await.status.as_u16(),
            dav(&s, "GET", &format!("{book}keep.vcf"), auth, &[], "").await.status.as_u16(),
            dav(&s, "PUT", &format!("{book}new-{}.vcf", who.replace(' ', "-")), auth, &[], &card("New"))
                .await
                .status
                .as_u16(),
            dav(&s, "DELETE", &format!("{book}keep.vcf"), auth, &[], "").await.status.as_u16(),
        ];
        assert_eq!(got, want, "{who}");
        if who == "owner" {
            // Put the deleted card back for the next rows.
            assert_eq!(
                dav(&s, "PUT", &format!("{book}keep.vcf"), Some(&owner_auth), &[], &card("Keep")).await.status,
                201
            );
        }
    }
    // Only the owner's writes happened.
    let names: Vec<String> = s
        .list_all("/me/contacts", &t, &[])
        .await
        .0
        .iter()
        .map(|c| c["displayName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(crate::common::sorted(names), vec!["Keep".to_owned(), "New".to_owned()]);
    // The grantee writes in the shared folder's book.
    let sbook = format!("{home}{shared}/");
    assert_eq!(dav(&s, "PUT", &format!("{sbook}g.vcf"), Some(&grantee_auth), &[], &card("G")).await.status, 201);
}

both_backends!(carddav_matrix, carddav_copy_move_matrix);
