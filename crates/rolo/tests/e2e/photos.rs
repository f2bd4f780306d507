//! Photos over HTTP, on SQLite and PostgreSQL: contact photos (`.../contacts/{id}/photo`, and the
//! Rolo extension `.../contacts/{id}/photos/{size}`) and user profile photos (`/me/photo`,
//! `/users/{id}/photos/{size}`), with real images of every accepted format.

use crate::common::{present_str, BytesResp, Resp, TestServer};
use reqwest::Method;
use rolo_media::Format;
use serde_json::{json, Value};

const FORMATS: [(Format, &str); 4] =
    [(Format::Jpeg, "image/jpeg"), (Format::Png, "image/png"), (Format::Gif, "image/gif"), (Format::Bmp, "image/bmp")];

fn img(w: u32, h: u32, f: Format) -> Vec<u8> {
    rolo_media::sample(w, h, f)
}

/// The aspect-kept box fit of `w`x`h` into `size`x`size` (rounded to nearest), computed here
/// independently of the server.
fn fit(w: u32, h: u32, size: u32) -> (u32, u32) {
    let longest = w.max(h) as f64;
    let scale = |d: u32| ((d as f64 * size as f64 / longest).round() as u32).max(1);
    (scale(w), scale(h))
}

async fn put(s: &TestServer, path: &str, token: &str, bytes: Vec<u8>, ct: &str) -> Resp {
    s.send_raw(Method::PUT, path, Some(token), bytes, Some(ct), &[]).await
}

async fn put_ok(s: &TestServer, path: &str, token: &str, bytes: Vec<u8>, ct: &str) {
    let r = put(s, path, token, bytes, ct).await;
    assert_eq!(r.status, 200, "PUT {path}: {}", r.text);
}

/// Asserts a `$value` response: 200, this content type, these exact bytes, an ETag.
fn assert_media(r: &BytesResp, mime: &str, bytes: &[u8], what: &str) -> String {
    assert_eq!(r.status, 200, "{what}: {}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(r.header("content-type"), Some(mime), "{what}: content type");
    assert!(r.bytes == bytes, "{what}: body differs from the upload ({} vs {} bytes)", r.bytes.len(), bytes.len());
    let etag = r.header("etag").unwrap_or_else(|| panic!("{what}: no ETag")).to_owned();
    etag
}

/// Asserts a 404 ErrorItemNotFound on a `$value` URL (the body is a JSON error).
async fn assert_value_404(s: &TestServer, path: &str, token: &str) {
    s.send(Method::GET, path, Some(token), None, &[]).await.assert_error(404, "ErrorItemNotFound");
}

fn is_quoted(etag: &str) -> bool {
    etag.len() >= 3 && etag.starts_with('"') && etag.ends_with('"')
}

/// Checks a profilePhoto metadata object against the expected shape.
fn assert_metadata(m: &Value, mime: &str, id: &str, w: u32, h: u32, what: &str) -> String {
    assert_eq!(m["@odata.mediaContentType"], mime, "{what}: {m}");
    assert_eq!(m["id"], id, "{what}: {m}");
    assert_eq!(m["width"], w, "{what}: {m}");
    assert_eq!(m["height"], h, "{what}: {m}");
    let etag = m["@odata.mediaEtag"].as_str().unwrap_or_else(|| panic!("{what}: no mediaEtag: {m}")).to_owned();
    assert!(is_quoted(&etag), "{what}: mediaEtag not a quoted string: {etag}");
    etag
}

// ---------------------------------------------------------------------------------------------

/// 1. Every accepted format round-trips bit-exact; the real format decides the content type.
async fn every_format_round_trips(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let mut etags = Vec::new();
    for (format, mime) in FORMATS {
        let id = s.create_contact(&t, json!({"givenName": format!("{format:?}")})).await;
        let bytes = img(300, 200, format);
        // Always labelled image/jpeg: the server must sniff the real format.
        put_ok(&s, &format!("/me/contacts/{id}/photo/$value"), &t, bytes.clone(), "image/jpeg").await;

        let meta = s.get(&format!("/me/contacts/{id}/photo"), &t).await;
        assert_eq!(meta.status, 200, "{format:?} metadata: {}", meta.text);
        assert!(meta.header("content-type").unwrap_or("").starts_with("application/json"), "{format:?}");
        let etag = assert_metadata(&meta.body, mime, "300X200", 300, 200, &format!("{format:?} metadata"));
        assert_eq!(
            meta.body["@odata.context"],
            s.context_of(&user, &format!("contacts('{id}')/photo/$entity")),
            "{format:?}: {}",
            meta.text
        );

        let value = s.get_bytes(&format!("/me/contacts/{id}/photo/$value"), &t, &[]).await;
        let header_etag = assert_media(&value, mime, &bytes, &format!("{format:?} $value"));
        assert_eq!(header_etag, etag, "{format:?}: ETag header differs from @odata.mediaEtag");

        // Conditional GETs.
        for matching in [etag.clone(), format!("W/{etag}"), format!("\"nope\", {etag}"), "*".to_owned()] {
            let nm = s.get_bytes(&format!("/me/contacts/{id}/photo/$value"), &t, &[("If-None-Match", &matching)]).await;
            assert_eq!(nm.status, 304, "{format:?} If-None-Match {matching}");
            assert!(nm.bytes.is_empty(), "{format:?}: 304 with a body");
            assert_eq!(nm.header("etag"), Some(etag.as_str()), "{format:?}: 304 without the ETag");
        }
        let other =
            s.get_bytes(&format!("/me/contacts/{id}/photo/$value"), &t, &[("If-None-Match", "\"0BADBEEF\"")]).await;
        assert_media(&other, mime, &bytes, &format!("{format:?} other etag"));
        etags.push(etag);
    }
    // Different images have different etags.
    let mut unique = etags.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), etags.len(), "media etags collide: {etags:?}");

    // Re-uploading a different image replaces it, with a new etag; the same image keeps its etag.
    let id = s.create_contact(&t, json!({"givenName": "Replace"})).await;
    let first = img(300, 200, Format::Png);
    let second = img(320, 240, Format::Jpeg);
    put_ok(&s, &format!("/me/contacts/{id}/photo/$value"), &t, first.clone(), "image/png").await;
    let e1 = s.get(&format!("/me/contacts/{id}/photo"), &t).await.body["@odata.mediaEtag"].clone();
    put_ok(&s, &format!("/me/contacts/{id}/photo/$value"), &t, second.clone(), "image/jpeg").await;
    let m2 = s.get(&format!("/me/contacts/{id}/photo"), &t).await;
    let e2 = assert_metadata(&m2.body, "image/jpeg", "320X240", 320, 240, "replaced");
    assert_ne!(json!(e2), e1, "etag unchanged after replacing the image");
    let v = s.get_bytes(&format!("/me/contacts/{id}/photo/$value"), &t, &[]).await;
    assert_media(&v, "image/jpeg", &second, "replaced $value");
    // The old etag no longer short-circuits.
    let stale =
        s.get_bytes(&format!("/me/contacts/{id}/photo/$value"), &t, &[("If-None-Match", e1.as_str().unwrap())]).await;
    assert_media(&stale, "image/jpeg", &second, "stale If-None-Match");
    put_ok(&s, &format!("/me/contacts/{id}/photo/$value"), &t, second.clone(), "image/jpeg").await;
    let m3 = s.get(&format!("/me/contacts/{id}/photo"), &t).await;
    assert_eq!(m3.body["@odata.mediaEtag"], json!(e2), "same bytes, different etag");
}

/// 2. PATCH uploads too; folder, `/users/{upn}` and OData-key paths; the wrong folder is 404.
async fn patch_folder_and_user_paths(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let upn = user.user_principal_name.clone();
    let folder = s.create_folder_at("/me/contactFolders", &t, "Friends").await;
    let other_folder = s.create_folder_at("/me/contactFolders", &t, "Work").await;
    let c = s.create_contact_at(&format!("/me/contactFolders/{folder}/contacts"), &t, json!({"givenName": "F"})).await;
    let id = c["id"].as_str().unwrap().to_owned();

    // PATCH through the folder path.
    let png = img(300, 200, Format::Png);
    let r = s
        .send_raw(
            Method::PATCH,
            &format!("/me/contactFolders/{folder}/contacts/{id}/photo/$value"),
            Some(&t),
            png.clone(),
            Some("image/png"),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "PATCH upload: {}", r.text);

    // Visible through every path to the same contact.
    for base in [
        format!("/me/contacts/{id}"),
        format!("/me/contactFolders/{folder}/contacts/{id}"),
        format!("/me/contactFolders('{folder}')/contacts('{id}')"),
        format!("/users/{upn}/contacts/{id}"),
        format!("/users/{}/contacts/{id}", user.id),
        format!("/users/{upn}/contactFolders/{folder}/contacts/{id}"),
        format!("/me/contacts('{id}')"),
        format!("/ME/Contacts/{id}"),
    ] {
        let m = s.get(&format!("{base}/photo"), &t).await;
        assert_eq!(m.status, 200, "{base}/photo: {}", m.text);
        assert_metadata(&m.body, "image/png", "300X200", 300, 200, &base);
        let v = s.get_bytes(&format!("{base}/photo/$value"), &t, &[]).await;
        assert_media(&v, "image/png", &png, &format!("{base}/photo/$value"));
        let sizes = s.get(&format!("{base}/photos"), &t).await;
        assert_eq!(sizes.status, 200, "{base}/photos: {}", sizes.text);
        assert_eq!(sizes.body["value"].as_array().map(Vec::len), Some(5), "{base}/photos: {}", sizes.text);
    }

    // PUT through /users/{upn}.
    let jpeg = img(280, 210, Format::Jpeg);
    put_ok(&s, &format!("/users/{upn}/contacts/{id}/photo/$value"), &t, jpeg.clone(), "image/jpeg").await;
    let v = s.get_bytes(&format!("/me/contactFolders/{folder}/contacts/{id}/photo/$value"), &t, &[]).await;
    assert_media(&v, "image/jpeg", &jpeg, "after PUT via /users");

    // The wrong folder: 404 for reads and writes, and the photo is untouched.
    let wrong = format!("/me/contactFolders/{other_folder}/contacts/{id}");
    s.get(&format!("{wrong}/photo"), &t).await.assert_error(404, "ErrorItemNotFound");
    assert_value_404(&s, &format!("{wrong}/photo/$value"), &t).await;
    put(&s, &format!("{wrong}/photo/$value"), &t, img(64, 64, Format::Png), "image/png")
        .await
        .assert_error(404, "ErrorItemNotFound");
    let r = s.get(&format!("{wrong}/photos"), &t).await;
    assert_eq!(r.status, 404, "GET {wrong}/photos (contact not in that folder): {}", r.text);
    assert_value_404(&s, &format!("{wrong}/photos/96x96/$value"), &t).await;
    // A contact of the default folder is not in a child folder either.
    let d = s.create_contact(&t, json!({"givenName": "D"})).await;
    put_ok(&s, &format!("/me/contacts/{d}/photo/$value"), &t, img(100, 100, Format::Gif), "image/gif").await;
    s.get(&format!("/me/contactFolders/{folder}/contacts/{d}/photo"), &t).await.assert_error(404, "ErrorItemNotFound");
    let v = s.get_bytes(&format!("/me/contactFolders/{folder}/contacts/{id}/photo/$value"), &t, &[]).await;
    assert_media(&v, "image/jpeg", &jpeg, "after the wrong-folder PUT");
}

/// 3. Sized renditions: the standard sizes up to the image, aspect kept, real JPEGs.
async fn sized_renditions(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let id = s.create_contact(&t, json!({"givenName": "Sized"})).await;
    let base = format!("/me/contacts/{id}");
    put_ok(&s, &format!("{base}/photo/$value"), &t, img(300, 200, Format::Png), "image/png").await;

    let list = s.get(&format!("{base}/photos"), &t).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["@odata.context"], s.context_of(&user, &format!("contacts('{id}')/photos")), "{}", list.text);
    let items = list.body["value"].as_array().expect("value").clone();
    let ids: Vec<&str> = items.iter().map(|m| m["id"].as_str().unwrap_or("")).collect();
    assert_eq!(ids, ["48X48", "64X64", "96X96", "120X120", "240X240"], "{}", list.text);
    for (m, size) in items.iter().zip([48u32, 64, 96, 120, 240]) {
        let (w, h) = fit(300, 200, size);
        let etag = assert_metadata(m, "image/jpeg", &format!("{size}X{size}"), w, h, &format!("size {size}"));
        assert!(m.get("@odata.context").is_none(), "list item with a context: {m}");
        // Each rendition: a real JPEG of the stated size, with the stated etag.
        let v = s.get_bytes(&format!("{base}/photos/{size}x{size}/$value"), &t, &[]).await;
        assert_eq!(v.status, 200, "size {size} $value");
        assert_eq!(v.header("content-type"), Some("image/jpeg"), "size {size}");
        assert_eq!(v.header("etag"), Some(etag.as_str()), "size {size}: ETag vs mediaEtag");
        let up = rolo_media::decode(v.bytes.clone()).unwrap_or_else(|e| panic!("size {size} not an image: {e}"));
        assert_eq!(up.original.content_type, "image/jpeg", "size {size}");
        assert_eq!((up.original.width, up.original.height), (w, h), "size {size} decoded dimensions");
        let nm = s.get_bytes(&format!("{base}/photos/{size}x{size}/$value"), &t, &[("If-None-Match", &etag)]).await;
        assert_eq!(nm.status, 304, "size {size} If-None-Match");
        // Metadata of one size.
        let one = s.get(&format!("{base}/photos/{size}x{size}"), &t).await;
        assert_eq!(one.status, 200, "size {size} metadata: {}", one.text);
        assert_metadata(&one.body, "image/jpeg", &format!("{size}X{size}"), w, h, &format!("size {size} one"));
    }
    assert_eq!((items[2]["width"].clone(), items[2]["height"].clone()), (json!(96), json!(64)));
    assert_eq!((items[4]["width"].clone(), items[4]["height"].clone()), (json!(240), json!(160)));

    // Other spellings of a size.
    for p in [
        format!("{base}/photos/96X96/$value"),
        format!("{base}/photos('96x96')/$value"),
        format!("{base}/photos('96X96')/$value"),
    ] {
        let v = s.get_bytes(&p, &t, &[]).await;
        assert_eq!(v.status, 200, "{p}");
        let up = rolo_media::decode(v.bytes).expect("decodes");
        assert_eq!((up.original.width, up.original.height), (96, 64), "{p}");
    }
    let one = s.get(&format!("{base}/photos('96x96')"), &t).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.body["id"], "96X96");

    // Sizes larger than the image, and sizes that are not standard: 404.
    for size in ["360x360", "648x648", "50x50", "96x64", "abc", "0x0", "x", "96x", "-48x-48", "48x48x48"] {
        s.get(&format!("{base}/photos/{size}"), &t).await.assert_error(404, "ErrorItemNotFound");
        assert_value_404(&s, &format!("{base}/photos/{size}/$value"), &t).await;
    }

    // A 700x500 upload fills every standard size, 648 included.
    let big = s.create_contact(&t, json!({"givenName": "Big"})).await;
    put_ok(&s, &format!("/me/contacts/{big}/photo/$value"), &t, img(700, 500, Format::Jpeg), "image/jpeg").await;
    let list = s.get(&format!("/me/contacts/{big}/photos"), &t).await;
    let items = list.body["value"].as_array().expect("value");
    let got: Vec<(String, u64, u64)> = items
        .iter()
        .map(|m| (m["id"].as_str().unwrap().to_owned(), m["width"].as_u64().unwrap(), m["height"].as_u64().unwrap()))
        .collect();
    let want: Vec<(String, u64, u64)> = rolo_media::STANDARD_SIZES
        .iter()
        .map(|&sz| {
            let (w, h) = fit(700, 500, sz);
            (format!("{sz}X{sz}"), w as u64, h as u64)
        })
        .collect();
    assert_eq!(got, want, "{}", list.text);
    let v = s.get_bytes(&format!("/me/contacts/{big}/photos/648x648/$value"), &t, &[]).await;
    assert_eq!(v.status, 200);
    let up = rolo_media::decode(v.bytes).expect("648 decodes");
    assert_eq!((up.original.content_type, up.original.width, up.original.height), ("image/jpeg", 648, 463));

    // A tall image: the height is the long side.
    let tall = s.create_contact(&t, json!({"givenName": "Tall"})).await;
    put_ok(&s, &format!("/me/contacts/{tall}/photo/$value"), &t, img(100, 250, Format::Bmp), "image/bmp").await;
    let list = s.get(&format!("/me/contacts/{tall}/photos"), &t).await;
    let dims: Vec<(u64, u64)> = list.body["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|m| (m["width"].as_u64().unwrap(), m["height"].as_u64().unwrap()))
        .collect();
    assert_eq!(dims, vec![(19, 48), (26, 64), (38, 96), (48, 120), (96, 240)], "{}", list.text);
}

/// 4. No photo, unknown contacts, and DELETE of a contact photo.
async fn no_photo_and_unknown_contact(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let id = s.create_contact(&t, json!({"givenName": "Bare"})).await;
    let base = format!("/me/contacts/{id}");
    s.get(&format!("{base}/photo"), &t).await.assert_error(404, "ErrorItemNotFound");
    assert_value_404(&s, &format!("{base}/photo/$value"), &t).await;
    assert_value_404(&s, &format!("{base}/photos/48x48/$value"), &t).await;
    s.get(&format!("{base}/photos/48x48"), &t).await.assert_error(404, "ErrorItemNotFound");
    let sizes = s.get(&format!("{base}/photos"), &t).await;
    assert_eq!(sizes.status, 200, "{}", sizes.text);
    assert_eq!(sizes.body["value"], json!([]), "{}", sizes.text);

    // DELETE is not supported on a contact's photo, with or without one.
    for p in [format!("{base}/photo"), format!("{base}/photo/$value")] {
        s.delete(&p, &t).await.assert_error(405, "ErrorInvalidRequest");
    }
    let png = img(120, 90, Format::Png);
    put_ok(&s, &format!("{base}/photo/$value"), &t, png.clone(), "image/png").await;
    for p in [format!("{base}/photo"), format!("{base}/photo/$value")] {
        s.delete(&p, &t).await.assert_error(405, "ErrorInvalidRequest");
    }
    let v = s.get_bytes(&format!("{base}/photo/$value"), &t, &[]).await;
    assert_media(&v, "image/png", &png, "after refused DELETE");

    // An id that was never a contact / one that no longer is.
    let gone = s.create_contact(&t, json!({"givenName": "Gone"})).await;
    assert_eq!(s.delete(&format!("/me/contacts/{gone}"), &t).await.status, 204);
    let gone_base = format!("/me/contacts/{gone}");
    s.get(&format!("{gone_base}/photo"), &t).await.assert_error(404, "ErrorItemNotFound");
    assert_value_404(&s, &format!("{gone_base}/photo/$value"), &t).await;
    put(&s, &format!("{gone_base}/photo/$value"), &t, png.clone(), "image/png")
        .await
        .assert_error(404, "ErrorItemNotFound");
    let r = s.get(&format!("{gone_base}/photos"), &t).await;
    assert_eq!(r.status, 404, "GET /photos of a contact that does not exist: {}", r.text);
    // The refused PUT must not have left an orphan photo behind.
    assert_value_404(&s, &format!("{gone_base}/photo/$value"), &t).await;
    s.get("/me/contacts/not-an-id/photo", &t).await.assert_error(400, "ErrorInvalidIdMalformed");

    // Writes to sizes or the size list are not allowed.
    let r = put(&s, &format!("{base}/photos/48x48/$value"), &t, png.clone(), "image/png").await;
    assert_eq!(r.status, 405, "PUT a rendition: {}", r.text);
    let r = put(&s, &format!("{base}/photo"), &t, png.clone(), "image/png").await;
    assert_eq!(r.status, 405, "PUT photo metadata: {}", r.text);
}

/// 5. Invalid uploads are refused and leave the previous photo unchanged.
async fn invalid_uploads_are_refused(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let id = s.create_contact(&t, json!({"givenName": "Keep"})).await;
    let path = format!("/me/contacts/{id}/photo/$value");
    let good = img(300, 200, Format::Jpeg);
    put_ok(&s, &path, &t, good.clone(), "image/jpeg").await;
    let before = s.get(&format!("/me/contacts/{id}"), &t).await.body["changeKey"].clone();
    let etag = s.get(&format!("/me/contacts/{id}/photo"), &t).await.body["@odata.mediaEtag"].clone();

    let jpeg = img(200, 200, Format::Jpeg);
    let png = img(200, 200, Format::Png);
    let gif = img(200, 200, Format::Gif);
    let bmp = img(200, 200, Format::Bmp);
    let mut bomb = img(1, 1, Format::Png);
    bomb[16..20].copy_from_slice(&50_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&50_000u32.to_be_bytes());
    // A decompression bomb with a valid IHDR checksum, so only the dimensions are wrong.
    let mut bomb_crc = bomb.clone();
    let crc = crc32(&bomb_crc[12..29]);
    bomb_crc[29..33].copy_from_slice(&crc.to_be_bytes());
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend(std::iter::repeat_n(0xA5u8, 200));
    let mut tiff_be = b"MM\0*\0\0\0\x08".to_vec();
    tiff_be.extend(std::iter::repeat_n(0x5Au8, 200));
    let mut webp = b"RIFF\xC8\0\0\0WEBPVP8 ".to_vec();
    webp.extend(std::iter::repeat_n(0x11u8, 200));
    let mut garbage_rand = vec![0u8; 4096];
    for (i, b) in garbage_rand.iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(2654435761).to_be_bytes()[0];
    }

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("text", b"hello, this is not an image".to_vec(), "image/jpeg"),
        ("pseudo-random bytes", garbage_rand, "image/png"),
        ("json", br#"{"photo": "base64..."}"#.to_vec(), "application/json"),
        ("truncated jpeg", jpeg[..jpeg.len() / 2].to_vec(), "image/jpeg"),
        ("truncated png", png[..png.len() / 2].to_vec(), "image/png"),
        ("truncated gif", gif[..gif.len() / 2].to_vec(), "image/gif"),
        ("truncated bmp", bmp[..bmp.len() / 2].to_vec(), "image/bmp"),
        ("jpeg magic only", vec![0xFF, 0xD8, 0xFF], "image/jpeg"),
        ("png signature only", png[..8].to_vec(), "image/png"),
        ("png bomb", bomb, "image/png"),
        ("png bomb with valid crc", bomb_crc, "image/png"),
        ("tiff little-endian", tiff, "image/tiff"),
        ("tiff big-endian", tiff_be, "image/jpeg"),
        ("webp", webp, "image/webp"),
    ];
    for (what, bytes, ct) in cases {
        let r = put(&s, &path, &t, bytes, ct).await;
        r.assert_error(400, "ErrorInvalidImage");
        let message = r.body["error"]["message"].as_str().unwrap_or("").to_lowercase();
        assert!(!message.is_empty(), "{what}: empty message");
        // The message says why, where the reason is specific.
        let expect = match what {
            "png bomb with valid crc" => Some("50000"),
            "tiff little-endian" | "tiff big-endian" => Some("tiff"),
            "webp" => Some("webp"),
            _ => None,
        };
        if let Some(e) = expect {
            assert!(message.contains(e), "{what}: message does not mention {e}: {message}");
        }
    }
    // An empty body.
    put(&s, &path, &t, Vec::new(), "image/jpeg").await.assert_error(400, "ErrorInvalidRequest");
    let r = s.send_raw(Method::PATCH, &path, Some(&t), Vec::new(), Some("image/png"), &[]).await;
    r.assert_error(400, "ErrorInvalidRequest");
    // Over 4 MB.
    let huge = vec![0x42u8; 4 * 1024 * 1024 + 512 * 1024];
    put(&s, &path, &t, huge, "image/bmp").await.assert_error(413, "RequestEntityTooLarge");
    let mut just_over = img(16, 16, Format::Bmp);
    just_over.resize(4 * 1024 * 1024 + 1, 0);
    put(&s, &path, &t, just_over, "image/bmp").await.assert_error(413, "RequestEntityTooLarge");

    // The previous photo is still served unchanged, and the contact did not change.
    let v = s.get_bytes(&path, &t, &[]).await;
    let header_etag = assert_media(&v, "image/jpeg", &good, "after the failed uploads");
    assert_eq!(json!(header_etag), etag);
    let m = s.get(&format!("/me/contacts/{id}/photo"), &t).await;
    assert_metadata(&m.body, "image/jpeg", "300X200", 300, 200, "after the failed uploads");
    assert_eq!(m.body["@odata.mediaEtag"], etag);
    let sizes = s.get(&format!("/me/contacts/{id}/photos"), &t).await;
    assert_eq!(sizes.body["value"].as_array().map(Vec::len), Some(5), "{}", sizes.text);
    let after = s.get(&format!("/me/contacts/{id}"), &t).await.body["changeKey"].clone();
    assert_eq!(after, before, "a refused upload changed the contact's changeKey");

    // A contact without a photo stays without one after a refused upload.
    let bare = s.create_contact(&t, json!({"givenName": "Bare"})).await;
    put(&s, &format!("/me/contacts/{bare}/photo/$value"), &t, b"nope".to_vec(), "image/png")
        .await
        .assert_error(400, "ErrorInvalidImage");
    s.get(&format!("/me/contacts/{bare}/photo"), &t).await.assert_error(404, "ErrorItemNotFound");
}

/// CRC-32 (IEEE), for hand-patched PNG chunks.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// An image just under the 4 MB limit is accepted (a 24-bit BMP of 1180x1180 is ~3.98 MB).
async fn just_under_the_limit_is_accepted(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let id = s.create_contact(&t, json!({"givenName": "Large"})).await;
    let bmp = img(1180, 1180, Format::Bmp);
    assert!(bmp.len() < 4 * 1024 * 1024 && bmp.len() > 4 * 1000 * 1000, "{}", bmp.len());
    put_ok(&s, &format!("/me/contacts/{id}/photo/$value"), &t, bmp.clone(), "image/bmp").await;
    let v = s.get_bytes(&format!("/me/contacts/{id}/photo/$value"), &t, &[]).await;
    assert_media(&v, "image/bmp", &bmp, "large bmp");
    let list = s.get(&format!("/me/contacts/{id}/photos"), &t).await;
    assert_eq!(list.body["value"].as_array().map(Vec::len), Some(9), "{}", list.text);
}

/// 6. A photo upload is a new version of the contact; lists carry no photo data.
async fn upload_changes_the_contact_version(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let id = s.create_contact(&t, json!({"givenName": "Versioned", "surname": "Contact"})).await;
    let other = s.create_contact(&t, json!({"givenName": "Other"})).await;
    let c1 = s.get(&format!("/me/contacts/{id}"), &t).await;
    let o1 = s.get(&format!("/me/contacts/{other}"), &t).await;
    let ck1 = c1.body["changeKey"].as_str().expect("changeKey").to_owned();
    let etag1 = c1.body["@odata.etag"].as_str().expect("etag").to_owned();

    put_ok(&s, &format!("/me/contacts/{id}/photo/$value"), &t, img(300, 200, Format::Png), "image/png").await;
    let c2 = s.get(&format!("/me/contacts/{id}"), &t).await;
    let ck2 = c2.body["changeKey"].as_str().expect("changeKey").to_owned();
    assert_ne!(ck2, ck1, "photo upload did not change the changeKey");
    assert_ne!(present_str(&c2.body, "@odata.etag"), etag1);
    assert_eq!(c2.body["@odata.etag"], format!("W/\"{ck2}\""));
    assert!(
        c2.body["lastModifiedDateTime"].as_str() >= c1.body["lastModifiedDateTime"].as_str(),
        "lastModifiedDateTime went back"
    );
    // Other fields are untouched, and other contacts are unaffected.
    assert_eq!(c2.body["displayName"], c1.body["displayName"]);
    assert_eq!(s.get(&format!("/me/contacts/{other}"), &t).await.body["changeKey"], o1.body["changeKey"]);

    // The pre-upload etag is now stale for conditional writes.
    let stale = s
        .send(
            Method::PATCH,
            &format!("/me/contacts/{id}"),
            Some(&t),
            Some(json!({"jobTitle": "x"})),
            &[("If-Match", &etag1)],
        )
        .await;
    stale.assert_error(412, "ErrorIrresolvableConflict");

    // Each upload is a new version.
    put_ok(&s, &format!("/me/contacts/{id}/photo/$value"), &t, img(200, 200, Format::Gif), "image/gif").await;
    let ck3 = s.get(&format!("/me/contacts/{id}"), &t).await.body["changeKey"].as_str().unwrap().to_owned();
    assert_ne!(ck3, ck2);

    // No photo data in the contact or in lists.
    let has_photo_key = |v: &Value| v.as_object().is_some_and(|o| o.keys().any(|k| k.to_lowercase().contains("photo")));
    let one = s.get(&format!("/me/contacts/{id}"), &t).await;
    assert!(!has_photo_key(&one.body), "contact carries photo data: {}", one.text);
    let list = s.get("/me/contacts", &t).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let items = list.body["value"].as_array().expect("value");
    assert_eq!(items.len(), 2);
    for item in items {
        assert!(!has_photo_key(item), "list item carries photo data: {item}");
    }
    assert!(list.text.len() < 8 * 1024, "list response suspiciously large: {} bytes", list.text.len());
}

/// 7. Deleting a contact (or its folder) deletes its photo.
async fn deleting_the_contact_removes_its_photo(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let id = s.create_contact(&t, json!({"givenName": "Doomed"})).await;
    put_ok(&s, &format!("/me/contacts/{id}/photo/$value"), &t, img(300, 200, Format::Png), "image/png").await;
    assert_eq!(s.delete(&format!("/me/contacts/{id}"), &t).await.status, 204);
    s.get(&format!("/me/contacts/{id}/photo"), &t).await.assert_error(404, "ErrorItemNotFound");
    assert_value_404(&s, &format!("/me/contacts/{id}/photo/$value"), &t).await;
    assert_value_404(&s, &format!("/me/contacts/{id}/photos/48x48/$value"), &t).await;

    // New contacts never see it.
    let fresh = s.create_contact(&t, json!({"givenName": "Fresh"})).await;
    s.get(&format!("/me/contacts/{fresh}/photo"), &t).await.assert_error(404, "ErrorItemNotFound");
    assert_value_404(&s, &format!("/me/contacts/{fresh}/photo/$value"), &t).await;

    // permanentDelete too.
    let perm = s.create_contact(&t, json!({"givenName": "Perm"})).await;
    put_ok(&s, &format!("/me/contacts/{perm}/photo/$value"), &t, img(64, 64, Format::Bmp), "image/bmp").await;
    let r = s.post(&format!("/me/contacts/{perm}/permanentDelete"), &t, json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    s.get(&format!("/me/contacts/{perm}/photo"), &t).await.assert_error(404, "ErrorItemNotFound");

    // Deleting a folder deletes the photos of the contacts in it (and in its subfolders).
    let folder = s.create_folder_at("/me/contactFolders", &t, "Gone").await;
    let child = s.create_folder_at(&format!("/me/contactFolders/{folder}/childFolders"), &t, "Child").await;
    let a = s.create_contact_at(&format!("/me/contactFolders/{folder}/contacts"), &t, json!({"givenName": "A"})).await;
    let b = s
        .create_contact_at(
            &format!("/me/contactFolders/{folder}/childFolders/{child}/contacts"),
            &t,
            json!({"givenName": "B"}),
        )
        .await;
    let (a, b) = (a["id"].as_str().unwrap().to_owned(), b["id"].as_str().unwrap().to_owned());
    put_ok(&s, &format!("/me/contacts/{a}/photo/$value"), &t, img(80, 60, Format::Jpeg), "image/jpeg").await;
    put_ok(&s, &format!("/me/contacts/{b}/photo/$value"), &t, img(60, 80, Format::Gif), "image/gif").await;
    assert_eq!(s.delete(&format!("/me/contactFolders/{folder}"), &t).await.status, 204);
    for c in [&a, &b] {
        s.get(&format!("/me/contacts/{c}/photo"), &t).await.assert_error(404, "ErrorItemNotFound");
        assert_value_404(&s, &format!("/me/contacts/{c}/photo/$value"), &t).await;
    }
    // Nothing orphaned in the store either.
    for c in [&id, &perm, &a, &b] {
        let owner =
            rolo_store::PhotoOwner::Contact(rolo_domain::ContactId::parse(c).unwrap(), rolo_store::Scope::Mailbox);
        let left = s.store.photo_metadata(&user.mailbox, &owner).await.unwrap();
        assert!(left.is_empty(), "orphaned photo rows for deleted contact {c}: {left:?}");
    }
}

/// 8. The signed-in user's own profile photo.
async fn user_photo_round_trip(s: TestServer) {
    let user = s.user("ada@contoso.test").await;
    let t = s.token(&user, "User.ReadWrite");
    s.get("/me/photo", &t).await.assert_error(404, "ErrorItemNotFound");
    assert_value_404(&s, "/me/photo/$value", &t).await;

    let png = img(300, 200, Format::Png);
    put_ok(&s, "/me/photo/$value", &t, png.clone(), "image/jpeg").await;
    let m = s.get("/me/photo", &t).await;
    assert_eq!(m.status, 200, "{}", m.text);
    let etag = assert_metadata(&m.body, "image/png", "300X200", 300, 200, "/me/photo");
    assert_eq!(m.body["@odata.context"], s.context_of(&user, "photo/$entity"), "{}", m.text);
    // The entity names itself, as in Graph's example; sizes by their canonical id.
    assert_eq!(m.body["@odata.id"], format!("{}/users('{}')/photo", s.base, user.id), "{}", m.text);
    let by_upn = s.get(&format!("/users/{}/photo", user.user_principal_name), &t).await;
    assert_eq!(by_upn.body["@odata.id"], m.body["@odata.id"], "{}", by_upn.text);
    let v = s.get_bytes("/me/photo/$value", &t, &[]).await;
    let header_etag = assert_media(&v, "image/png", &png, "/me/photo/$value");
    assert_eq!(header_etag, etag);
    let nm = s.get_bytes("/me/photo/$value", &t, &[("If-None-Match", &etag)]).await;
    assert_eq!(nm.status, 304);
    assert!(nm.bytes.is_empty());
    // The same through /users/{upn} and /users/{id}.
    for p in [format!("/users/{}/photo/$value", user.user_principal_name), format!("/users/{}/photo/$value", user.id)] {
        let v = s.get_bytes(&p, &t, &[]).await;
        assert_media(&v, "image/png", &png, &p);
    }

    let sizes = s.get("/me/photos", &t).await;
    assert_eq!(sizes.status, 200, "{}", sizes.text);
    let ids: Vec<&str> =
        sizes.body["value"].as_array().expect("value").iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["48X48", "64X64", "96X96", "120X120", "240X240"], "{}", sizes.text);
    let v = s.get_bytes("/me/photos/48x48/$value", &t, &[]).await;
    assert_eq!(v.status, 200);
    assert_eq!(v.header("content-type"), Some("image/jpeg"));
    let up = rolo_media::decode(v.bytes).expect("48 decodes");
    assert_eq!((up.original.width, up.original.height), (48, 32));
    let one = s.get("/me/photos/240x240", &t).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_metadata(&one.body, "image/jpeg", "240X240", 240, 160, "/me/photos/240x240");
    assert_eq!(one.body["@odata.id"], format!("{}/users('{}')/photos('240X240')", s.base, user.id));
    s.get("/me/photos/648x648", &t).await.assert_error(404, "ErrorItemNotFound");
    assert_value_404(&s, "/me/photos/50x50/$value", &t).await;

    // PATCH replaces it.
    let gif = img(120, 120, Format::Gif);
    let r = s.send_raw(Method::PATCH, "/me/photo/$value", Some(&t), gif.clone(), Some("image/gif"), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = s.get_bytes("/me/photo/$value", &t, &[]).await;
    assert_media(&v, "image/gif", &gif, "after PATCH");

    // The user photo is not a contact photo, and another user has none.
    let cid = s.create_contact(&s.token(&user, "Contacts.ReadWrite"), json!({"givenName": "C"})).await;
    s.get(&format!("/me/contacts/{cid}/photo"), &s.token(&user, "Contacts.Read"))
        .await
        .assert_error(404, "ErrorItemNotFound");
    let bob = s.user("bob@contoso.test").await;
    s.get("/me/photo", &s.token(&bob, "User.ReadWrite")).await.assert_error(404, "ErrorItemNotFound");

    // Invalid uploads are refused here too.
    put(&s, "/me/photo/$value", &t, b"not an image".to_vec(), "image/jpeg")
        .await
        .assert_error(400, "ErrorInvalidImage");
    put(&s, "/me/photo/$value", &t, Vec::new(), "image/jpeg").await.assert_error(400, "ErrorInvalidRequest");
    put(&s, "/me/photo/$value", &t, vec![0u8; 4 * 1024 * 1024 + 100_000], "image/jpeg")
        .await
        .assert_error(413, "RequestEntityTooLarge");
    assert_media(&s.get_bytes("/me/photo/$value", &t, &[]).await, "image/gif", &gif, "after refused uploads");

    // DELETE.
    let d = s.delete("/me/photo", &t).await;
    assert_eq!(d.status, 204, "{}", d.text);
    assert!(d.text.is_empty());
    s.get("/me/photo", &t).await.assert_error(404, "ErrorItemNotFound");
    assert_value_404(&s, "/me/photo/$value", &t).await;
    assert_value_404(&s, "/me/photos/48x48/$value", &t).await;
    let sizes = s.get("/me/photos", &t).await;
    assert_eq!(sizes.status, 200, "{}", sizes.text);
    assert_eq!(sizes.body["value"], json!([]));
    s.delete("/me/photo", &t).await.assert_error(404, "ErrorItemNotFound");
    // DELETE .../photo/$value works too.
    put_ok(&s, "/me/photo/$value", &t, png.clone(), "image/png").await;
    assert_eq!(s.delete("/me/photo/$value", &t).await.status, 204);
    s.get("/me/photo", &t).await.assert_error(404, "ErrorItemNotFound");
}

/// 8b. Scopes for user photos.
async fn user_photo_scopes(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let bob = s.user("bob@contoso.test").await;
    let png = img(300, 200, Format::Png);
    let jpeg = img(200, 150, Format::Jpeg);

    // Contacts scopes do not reach profile photos.
    let contacts_only = s.token(&ada, "Contacts.ReadWrite");
    s.get("/me/photo", &contacts_only).await.assert_error(403, "ErrorAccessDenied");
    put(&s, "/me/photo/$value", &contacts_only, png.clone(), "image/png").await.assert_error(403, "ErrorAccessDenied");
    s.delete("/me/photo", &contacts_only).await.assert_error(403, "ErrorAccessDenied");

    // User.Read: read own, not write.
    let ada_rw = s.token(&ada, "User.ReadWrite");
    put_ok(&s, "/me/photo/$value", &ada_rw, png.clone(), "image/png").await;
    let ada_r = s.token(&ada, "User.Read");
    assert_media(&s.get_bytes("/me/photo/$value", &ada_r, &[]).await, "image/png", &png, "User.Read own");
    assert_eq!(s.get("/me/photo", &ada_r).await.status, 200);
    assert_eq!(s.get("/me/photos", &ada_r).await.status, 200);
    put(&s, "/me/photo/$value", &ada_r, jpeg.clone(), "image/jpeg").await.assert_error(403, "ErrorAccessDenied");
    s.send_raw(Method::PATCH, "/me/photo/$value", Some(&ada_r), jpeg.clone(), Some("image/jpeg"), &[])
        .await
        .assert_error(403, "ErrorAccessDenied");
    s.delete("/me/photo", &ada_r).await.assert_error(403, "ErrorAccessDenied");
    assert_media(&s.get_bytes("/me/photo/$value", &ada_r, &[]).await, "image/png", &png, "after refused writes");

    // Another user's photo: User.Read no, User.ReadBasic.All yes.
    let bob_r = s.token(&bob, "User.Read");
    let ada_photo = format!("/users/{}/photo/$value", ada.user_principal_name);
    s.send(Method::GET, &ada_photo, Some(&bob_r), None, &[]).await.assert_error(403, "ErrorAccessDenied");
    s.get(&format!("/users/{}/photo", ada.id), &bob_r).await.assert_error(403, "ErrorAccessDenied");
    let bob_basic = s.token(&bob, "User.ReadBasic.All");
    assert_media(&s.get_bytes(&ada_photo, &bob_basic, &[]).await, "image/png", &png, "User.ReadBasic.All");
    let m = s.get(&format!("/users/{}/photo", ada.id), &bob_basic).await;
    assert_eq!(m.status, 200, "{}", m.text);
    assert_metadata(&m.body, "image/png", "300X200", 300, 200, "other's metadata");
    let sized = s.get_bytes(&format!("/users/{}/photos/48x48/$value", ada.id), &bob_basic, &[]).await;
    assert_eq!(sized.status, 200);
    // ... but a read scope does not write.
    put(&s, &format!("/users/{}/photo/$value", ada.id), &bob_basic, jpeg.clone(), "image/jpeg")
        .await
        .assert_error(403, "ErrorAccessDenied");

    // Writing another user's photo: User.ReadWrite no, User.ReadWrite.All yes.
    let bob_rw = s.token(&bob, "User.ReadWrite");
    put(&s, &format!("/users/{}/photo/$value", ada.id), &bob_rw, jpeg.clone(), "image/jpeg")
        .await
        .assert_error(403, "ErrorAccessDenied");
    s.delete(&format!("/users/{}/photo", ada.id), &bob_rw).await.assert_error(403, "ErrorAccessDenied");
    assert_media(&s.get_bytes("/me/photo/$value", &ada_r, &[]).await, "image/png", &png, "after bob's refused PUT");
    let bob_all = s.token(&bob, "User.ReadWrite.All");
    put_ok(&s, &format!("/users/{}/photo/$value", ada.user_principal_name), &bob_all, jpeg.clone(), "image/jpeg").await;
    // It landed on Ada, not on Bob.
    assert_media(&s.get_bytes("/me/photo/$value", &ada_r, &[]).await, "image/jpeg", &jpeg, "written by admin");
    s.get("/me/photo", &bob_rw).await.assert_error(404, "ErrorItemNotFound");
    let d = s.delete(&format!("/users/{}/photo", ada.id), &bob_all).await;
    assert_eq!(d.status, 204, "{}", d.text);
    s.get("/me/photo", &ada_r).await.assert_error(404, "ErrorItemNotFound");

    // An unknown user.
    s.get("/users/nobody@contoso.test/photo", &bob_basic).await.assert_error(404, "ErrorInvalidUser");
}

/// 9. Scopes for contact photos.
async fn contact_photo_scopes(s: TestServer) {
    let (ada, t) = s.login("ada@contoso.test").await;
    let id = s.create_contact(&t, json!({"givenName": "Scoped"})).await;
    let png = img(300, 200, Format::Png);
    put_ok(&s, &format!("/me/contacts/{id}/photo/$value"), &t, png.clone(), "image/png").await;

    let read = s.token(&ada, "Contacts.Read");
    assert_eq!(s.get(&format!("/me/contacts/{id}/photo"), &read).await.status, 200);
    assert_media(&s.get_bytes(&format!("/me/contacts/{id}/photo/$value"), &read, &[]).await, "image/png", &png, "read");
    assert_eq!(s.get(&format!("/me/contacts/{id}/photos"), &read).await.status, 200);
    assert_eq!(s.get_bytes(&format!("/me/contacts/{id}/photos/96x96/$value"), &read, &[]).await.status, 200);
    let jpeg = img(100, 100, Format::Jpeg);
    put(&s, &format!("/me/contacts/{id}/photo/$value"), &read, jpeg.clone(), "image/jpeg")
        .await
        .assert_error(403, "ErrorAccessDenied");
    s.send_raw(
        Method::PATCH,
        &format!("/me/contacts/{id}/photo/$value"),
        Some(&read),
        jpeg.clone(),
        Some("image/jpeg"),
        &[],
    )
    .await
    .assert_error(403, "ErrorAccessDenied");

    // User scopes do not reach contact photos.
    let user_rw = s.token(&ada, "User.ReadWrite.All");
    s.get(&format!("/me/contacts/{id}/photo"), &user_rw).await.assert_error(403, "ErrorAccessDenied");
    put(&s, &format!("/me/contacts/{id}/photo/$value"), &user_rw, jpeg.clone(), "image/jpeg")
        .await
        .assert_error(403, "ErrorAccessDenied");

    // Another user's contacts are out of reach.
    let (_, bob_t) = s.login("bob@contoso.test").await;
    s.get(&format!("/users/{}/contacts/{id}/photo", ada.user_principal_name), &bob_t)
        .await
        .assert_error(403, "ErrorAccessDenied");
    put(&s, &format!("/users/{}/contacts/{id}/photo/$value", ada.id), &bob_t, jpeg.clone(), "image/jpeg")
        .await
        .assert_error(403, "ErrorAccessDenied");
    // Bob's own mailbox does not hold Ada's contact.
    s.get(&format!("/me/contacts/{id}/photo"), &bob_t).await.assert_error(404, "ErrorItemNotFound");
    put(&s, &format!("/me/contacts/{id}/photo/$value"), &bob_t, jpeg.clone(), "image/jpeg")
        .await
        .assert_error(404, "ErrorItemNotFound");

    // No token at all.
    let r = s.send(Method::GET, &format!("/me/contacts/{id}/photo/$value"), None, None, &[]).await;
    assert_eq!(r.status, 401, "{}", r.text);

    // Nothing changed.
    assert_media(&s.get_bytes(&format!("/me/contacts/{id}/photo/$value"), &t, &[]).await, "image/png", &png, "end");
}

both_backends!(
    every_format_round_trips,
    patch_folder_and_user_paths,
    sized_renditions,
    no_photo_and_unknown_contact,
    invalid_uploads_are_refused,
    just_under_the_limit_is_accepted,
    upload_changes_the_contact_version,
    deleting_the_contact_removes_its_photo,
    user_photo_round_trip,
    user_photo_scopes,
    contact_photo_scopes,
);
