use super::*;
use crate::contact::ContactData;

const APPLE: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//macOS 14.0//EN\r\nN:Bansky;Pavel;J.;Dr.;Jr.\r\nFN:Pavel Bansky\r\nORG:Contoso;Sales\r\nTITLE:Manager\r\nitem1.EMAIL;type=INTERNET;type=WORK;type=pref:pavel@contoso.test\r\nitem1.X-ABLabel:_$!<Work>!$_\r\nTEL;type=CELL;type=VOICE;type=pref:+1 555 0100\r\nTEL;type=WORK;type=FAX:+1 555 0101\r\nitem2.ADR;type=HOME;type=pref:;;1 Main St\\nApt 2;Oslo;;0150;Norway\r\nURL;type=WORK:https://contoso.test\r\nBDAY:1974-07-22\r\nNOTE:Met at the\\, conference\\; twice\\nSecond line\r\nX-PHONETIC-FIRST-NAME:Pa\r\n vel\r\nX-SOCIALPROFILE;type=twitter:x-apple:pavel\r\nCATEGORIES:Friends,VIP\r\nPHOTO;ENCODING=b;TYPE=JPEG:AAEC\r\n AwQ=\r\nUID:apple-1\r\nEND:VCARD\r\n";

#[test]
fn apple_card_maps_every_property() {
    let recs = read(APPLE, Format::VCard);
    assert_eq!(recs.len(), 1);
    let r = recs[0].as_ref().unwrap();
    let d = &r.data;
    assert_eq!(r.line, 1);
    assert_eq!(d.surname.as_deref(), Some("Bansky"));
    assert_eq!(d.given_name.as_deref(), Some("Pavel"));
    assert_eq!(d.middle_name.as_deref(), Some("J."));
    assert_eq!(d.title.as_deref(), Some("Dr."));
    assert_eq!(d.generation.as_deref(), Some("Jr."));
    assert_eq!(d.display_name.as_deref(), Some("Pavel Bansky"));
    assert_eq!(d.company_name.as_deref(), Some("Contoso"));
    assert_eq!(d.department.as_deref(), Some("Sales"));
    assert_eq!(d.email_addresses[0].address.as_deref(), Some("pavel@contoso.test"));
    assert_eq!(d.email_addresses[0].kind.as_deref(), Some("work"));
    assert_eq!(d.phones_of("mobile").collect::<Vec<_>>(), ["+1 555 0100"]);
    assert_eq!(d.phones_of("businessFax").collect::<Vec<_>>(), ["+1 555 0101"]);
    let home = d.address_of("home").unwrap();
    assert_eq!(home.street.as_deref(), Some("1 Main St\nApt 2"));
    assert_eq!(home.city.as_deref(), Some("Oslo"));
    assert_eq!(home.country_or_region.as_deref(), Some("Norway"));
    assert_eq!(d.business_home_page(), Some("https://contoso.test"));
    assert_eq!(d.birthday.as_deref(), Some("1974-07-22T00:00:00Z"));
    assert_eq!(d.personal_notes.as_deref(), Some("Met at the, conference; twice\nSecond line"));
    assert_eq!(d.yomi_given_name.as_deref(), Some("Pavel"));
    assert_eq!(d.categories, ["Friends", "VIP"]);
    assert_eq!(r.photo.as_deref(), Some(&[0u8, 1, 2, 3, 4][..]));
    assert_eq!(r.uid.as_deref(), Some("apple-1"));
    let extra = &d.multi_value_extended_properties[0];
    assert_eq!(extra.id, vcard_extra_property());
    assert_eq!(extra.value, ["item1.X-ABLabel:_$!<Work>!$_", "X-SOCIALPROFILE;type=twitter:x-apple:pavel"]);
}

#[test]
fn text_lines_come_from_the_property_table_and_a_second_one_is_kept() {
    let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana\r\nTITLE:Chef\r\nTITLE:Owner\r\nX-ASSISTANT:Bo\r\nSORT-STRING:Ana, B\r\nEND:VCARD\r\n";
    let recs = read(card, Format::VCard);
    let d = &recs[0].as_ref().unwrap().data;
    assert_eq!(d.job_title.as_deref(), Some("Chef"));
    assert_eq!(d.assistant_name.as_deref(), Some("Bo"));
    assert_eq!(d.file_as.as_deref(), Some("Ana, B"));
    assert_eq!(d.multi_value_extended_properties[0].value, ["TITLE:Owner"]);
    // Each table line is written under its first name, so the card reads back the same.
    let out = write_vcard(d, "u1", None, VCardVersion::V4);
    for line in ["TITLE:Chef\r\n", "X-MS-ASSISTANT:Bo\r\n", "X-FILE-AS:Ana\\, B\r\n", "TITLE:Owner\r\n"] {
        assert!(out.contains(line), "{line:?} missing from {out}");
    }
    let again = read(&out, Format::VCard);
    assert_eq!(&again[0].as_ref().unwrap().data.text("jobTitle"), &Some(&Some("Chef".to_owned())));
}

#[test]
fn quoted_printable_and_charsets_of_vcard_21_decode() {
    let card = "BEGIN:VCARD\nVERSION:2.1\nN;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:M=FCller;J=F6rg\nNOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:Zeile eins=0D=0AZeile =\nzwei =C3=A9\nTEL;WORK;VOICE:+49 30 1\nEND:VCARD\n";
    let d = read(card, Format::VCard).remove(0).unwrap().data;
    assert_eq!(d.surname.as_deref(), Some("Müller"));
    assert_eq!(d.given_name.as_deref(), Some("Jörg"));
    assert_eq!(d.personal_notes.as_deref(), Some("Zeile eins\r\nZeile zwei é"));
    assert_eq!(d.phones_of("business").collect::<Vec<_>>(), ["+49 30 1"]);
    assert_eq!(d.display_name.as_deref(), Some("Jörg Müller"));
}

#[test]
fn bad_cards_are_reported_with_their_line_and_good_ones_kept() {
    let text = "BEGIN:VCARD\nFN:Good\nEND:VCARD\nBEGIN:VCARD\nFN:No colon\nNOCOLON\nEND:VCARD\nstray\nBEGIN:VCARD\nFN:x\nEMAIL;TYPE=WORK:a@b\nBDAY:not a date at all\nEND:VCARD\nBEGIN:VCARD\nPHOTO;ENCODING=b:***\nEND:VCARD\nBEGIN:VCARD\nNOTE:a\u{0}b\nEND:VCARD\nBEGIN:VCARD\nFN:unclosed\n";
    let recs = read(text, Format::VCard);
    let lines: Vec<Result<usize, (usize, String)>> =
        recs.into_iter().map(|r| r.map(|i| i.line).map_err(|b| (b.line, b.reason))).collect();
    assert_eq!(lines[0], Ok(1));
    assert_eq!(lines[1].as_ref().unwrap_err().0, 4);
    assert!(lines[1].as_ref().unwrap_err().1.contains("line 6"), "{lines:?}");
    assert_eq!(lines[2].as_ref().unwrap_err().0, 8);
    // A BDAY that is not a date is kept verbatim, not refused.
    assert_eq!(lines[3], Ok(9));
    assert_eq!(lines[4].as_ref().unwrap_err(), &(14, "line 15: the PHOTO's base64 does not decode".to_owned()));
    assert!(lines[5].as_ref().unwrap_err().1.contains("NUL"), "{lines:?}");
    assert_eq!(lines[6].as_ref().unwrap_err(), &(20, "the card has no END:VCARD".to_owned()));
    assert_eq!(lines.len(), 7);
}

#[test]
fn vcard_round_trip_keeps_mapped_and_unmapped_lines() {
    for version in [VCardVersion::V3, VCardVersion::V4] {
        let first = read(APPLE, Format::VCard).remove(0).unwrap();
        let photo = write::PhotoRef { content_type: "image/jpeg", bytes: first.photo.as_deref().unwrap() };
        let text = write_vcard(&first.data, "apple-1", Some(photo), version);
        assert!(text.lines().all(|l| l.len() <= 76), "{text}");
        let second = read(&text, Format::VCard).remove(0).unwrap();
        assert_eq!(second.data, first.data, "{text}");
        assert_eq!(second.photo, first.photo);
        assert_eq!(second.uid.as_deref(), Some("apple-1"));
    }
}

const OUTLOOK_CSV: &str = "\u{feff}First Name,Middle Name,Last Name,Company,E-mail Address,Business Phone,Mobile Phone,Home Street,Home City,Birthday,Categories,Notes,Custom Field 1\r\nAdele,,Vance,Contoso,adele@contoso.test,+1 1,+1 2,\"1 Main St\nFloor 2\",Oslo,7/22/1974,Friends;VIP,\"She said \"\"hi\"\", twice\",kept\r\nBad,,Row,,,,,,,13/45/1974x,,,\r\n";

#[test]
fn outlook_csv_maps_columns_and_keeps_unknown_ones() {
    assert_eq!(Format::detect(OUTLOOK_CSV), Some(Format::OutlookCsv));
    let recs = read(OUTLOOK_CSV, Format::OutlookCsv);
    let d = &recs[0].as_ref().unwrap().data;
    assert_eq!(d.display_name.as_deref(), Some("Adele Vance"));
    assert_eq!(d.email_addresses[0].address.as_deref(), Some("adele@contoso.test"));
    assert_eq!(d.phones_of("business").collect::<Vec<_>>(), ["+1 1"]);
    assert_eq!(d.address_of("home").unwrap().street.as_deref(), Some("1 Main St\nFloor 2"));
    assert_eq!(d.birthday.as_deref(), Some("1974-07-22T00:00:00Z"));
    assert_eq!(d.categories, ["Friends", "VIP"]);
    assert_eq!(d.personal_notes.as_deref(), Some("She said \"hi\", twice"));
    assert_eq!(d.multi_value_extended_properties[0].value, ["Custom Field 1=kept"]);
    let bad = recs[1].as_ref().unwrap_err();
    assert_eq!(bad.line, 4);
    assert!(bad.reason.contains("Birthday"), "{bad:?}");
    // Round trip through Outlook's column set.
    let out = csv::write(&[d], Format::OutlookCsv);
    let again = read(&out, Format::OutlookCsv).remove(0).unwrap().data;
    assert_eq!(&again, d);
}

#[test]
fn google_csv_maps_numbered_columns() {
    let text = "Name,Given Name,First Name,Last Name,Organization Name,Labels,E-mail 1 - Label,E-mail 1 - Value,Phone 1 - Label,Phone 1 - Value,Address 1 - Label,Address 1 - City,Relation 1 - Label,Relation 1 - Value\nx,,Grady,Archie,Fabrikam,* myContacts ::: Golf,* Work,g@f.test ::: g2@f.test,Mobile,+1 9,Home,Seattle,Spouse,Ann\n";
    assert_eq!(Format::detect(text), Some(Format::GoogleCsv));
    let d = read(text, Format::GoogleCsv).remove(0).unwrap().data;
    assert_eq!(d.given_name.as_deref(), Some("Grady"));
    assert_eq!(d.company_name.as_deref(), Some("Fabrikam"));
    assert_eq!(d.categories, ["Golf"]);
    assert_eq!(d.email_addresses.len(), 2);
    assert_eq!(d.email_addresses[1].kind.as_deref(), Some("work"));
    assert_eq!(d.phones_of("mobile").collect::<Vec<_>>(), ["+1 9"]);
    assert_eq!(d.address_of("home").unwrap().city.as_deref(), Some("Seattle"));
    assert_eq!(d.spouse_name.as_deref(), Some("Ann"));
    let out = csv::write(&[&d], Format::GoogleCsv);
    let again = read(&out, Format::GoogleCsv).remove(0).unwrap().data;
    assert_eq!(again, d, "{out}");
}

#[test]
fn unclosed_csv_quote_is_one_clear_error() {
    let recs = read("First Name,Last Name\n\"Adele,Vance\n", Format::OutlookCsv);
    assert_eq!(
        recs,
        vec![Err(BadRecord { line: 2, reason: "a quoted field is not closed before the end of the file".into() })]
    );
}

mod props {
    use super::*;
    use crate::contact::{EmailAddress, Phone, PostalAddress, Website};
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(
            "[a-zA-Z0-9 ,;:\\\\\"\n=éß漢-]{1,20}"
                .prop_map(|s| s.trim().to_owned())
                .prop_filter("non-empty", |s| !s.is_empty()),
        )
    }

    prop_compose! {
        fn contact()(given in text(), surname in text(), company in text(), dept in text(), notes in text(),
                     job in text(), nick in text(), manager in text(),
                     email in proptest::option::of("[a-z]{1,8}@[a-z]{1,8}\\.test"),
                     ekind in proptest::sample::select(vec![None, Some("work"), Some("personal"), Some("other")]),
                     phone in proptest::option::of("\\+[0-9 ]{3,12}"),
                     pkind in proptest::sample::select(crate::contact::PHONE_TYPES.to_vec()),
                     street in text(), city in text(),
                     akind in proptest::sample::select(vec!["home", "business", "other"]),
                     web in proptest::option::of("https://[a-z]{1,8}\\.test/[a-z]{0,5}"),
                     cats in proptest::collection::vec("[A-Za-z ]{1,10}".prop_map(|s| s.trim().to_owned()).prop_filter("x", |s| !s.is_empty()), 0..3),
                     bday in proptest::option::of((1900u32..2100, 1u32..13, 1u32..29))) -> ContactData {
            let mut d = ContactData { given_name: given, surname, company_name: company, department: dept,
                personal_notes: notes, job_title: job, nick_name: nick, manager, categories: cats, ..Default::default() };
            if let Some(e) = email {
                let name = d.personal_notes.clone().map(|n| format!("{n} ^\"x"));
                let other_label = d.job_title.clone();
                d.email_addresses.push(EmailAddress { address: Some(e), kind: ekind.map(str::to_owned), name, other_label });
            }
            if let Some(p) = phone { d.phones.push(Phone { kind: pkind.to_owned(), number: Some(p.trim().to_owned()) }); }
            if street.is_some() || city.is_some() { d.postal_addresses.push(PostalAddress { kind: akind.into(), street, city, ..Default::default() }); }
            if let Some(w) = web { d.websites.push(Website { kind: "work".into(), address: Some(w), display_name: None }); }
            d.birthday = bday.map(|(y, m, dd)| format!("{y:04}-{m:02}-{dd:02}T00:00:00Z"));
            // What the API itself stores for such a body: the composed display name.
            finish(d, Vec::new(), Vec::new(), None, None).unwrap()
        }
    }

    prop_compose! {
        /// The rest of Graph's contact properties, on top of `contact()`.
        fn full_contact()(base in contact(), middle in text(), title in text(), generation in text(),
                          yomi in (text(), text(), text()), more in (text(), text(), text(), text(), text(), text()),
                          gender in proptest::option::of(proptest::sample::select(vec!["male", "female", "nonbinary x"])),
                          children in proptest::collection::vec("[a-z]{1,6}", 0..3),
                          ims in proptest::collection::vec("[a-z]{1,6}@im\\.test", 0..2),
                          anniversary in proptest::option::of((1950u32..2030, 1u32..13, 1u32..29)),
                          extra_phone in proptest::option::of((proptest::sample::select(crate::contact::PHONE_TYPES.to_vec()), "[0-9]{3,8}")),
                          web_kind in proptest::sample::select(crate::contact::WEBSITE_TYPES.to_vec())) -> ContactData {
            let mut d = base;
            let middle_copy = middle.clone();
            d.middle_name = middle;
            d.title = title;
            d.generation = generation;
            (d.yomi_given_name, d.yomi_surname, d.yomi_company_name) = yomi;
            (d.file_as, d.initials, d.office_location, d.profession, d.assistant_name, d.spouse_name) = more;
            d.gender = gender.map(str::to_owned);
            d.children = children;
            d.im_addresses = ims;
            d.wedding_anniversary = anniversary.map(|(y, m, dd)| format!("{y:04}-{m:02}-{dd:02}"));
            if let Some((kind, n)) = extra_phone {
                d.phones.push(Phone { kind: kind.to_owned(), number: Some(n) });
            }
            d.websites.push(Website { kind: web_kind.to_owned(), address: Some("https://x.test/w".into()), display_name: middle_copy });
            d.display_name = None;
            finish(d, Vec::new(), Vec::new(), None, None).unwrap()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn every_graph_property_survives_a_vcard(d in full_contact(), v4 in any::<bool>()) {
            let version = if v4 { VCardVersion::V4 } else { VCardVersion::V3 };
            let text = write_vcard(&d, "u1", None, version);
            let mut back = read(&text, Format::VCard).remove(0).unwrap().data;
            back.single_value_extended_properties.clear();
            prop_assert_eq!(back, d, "{}", text);
        }

        #[test]
        fn vcard_export_then_import_keeps_every_field(d in contact(), v4 in any::<bool>()) {
            let version = if v4 { VCardVersion::V4 } else { VCardVersion::V3 };
            let text = write_vcard(&d, "u1", None, version);
            let mut back = read(&text, Format::VCard).remove(0).unwrap().data;
            back.single_value_extended_properties.clear();
            prop_assert_eq!(back, d);
        }

        #[test]
        fn outlook_csv_keeps_what_its_columns_hold(d in contact()) {
            // Outlook's columns carry no email types or labels and no phone of unknown type.
            let mut d = d;
            for e in &mut d.email_addresses {
                e.kind = None;
                e.other_label = None;
            }
            d.phones.retain(|p| p.kind != "unknown");
            let d = finish(d, Vec::new(), Vec::new(), None, None).unwrap();
            let text = csv::write(&[&d], Format::OutlookCsv);
            let back = read(&text, Format::OutlookCsv).remove(0).unwrap().data;
            prop_assert_eq!(back, d, "{}", text);
        }

        #[test]
        fn google_csv_keeps_what_its_columns_hold(d in contact()) {
            // Google's columns carry email and phone labels, not names, other labels or every
            // phone type.
            let mut d = d;
            for e in &mut d.email_addresses {
                e.name = None;
                e.other_label = None;
            }
            let google_phones = ["mobile", "business", "home", "businessFax", "homeFax", "otherFax", "pager", "primary", "other"];
            d.phones.retain(|p| google_phones.contains(&p.kind.as_str()));
            let d = finish(d, Vec::new(), Vec::new(), None, None).unwrap();
            let text = csv::write(&[&d], Format::GoogleCsv);
            let back = read(&text, Format::GoogleCsv).remove(0).unwrap().data;
            prop_assert_eq!(back, d, "{}", text);
        }

        #[test]
        fn vcard_reader_never_panics(s in "\\PC{0,300}") {
            let _ = read(&format!("BEGIN:VCARD\n{s}\nEND:VCARD\n"), Format::VCard);
            let _ = read(&s, Format::VCard);
        }

        #[test]
        fn csv_reader_never_panics(s in "[a-zA-Z\",\n\r ]{0,200}") {
            let _ = read(&format!("First Name,Last Name\n{s}"), Format::OutlookCsv);
            let _ = read(&format!("First Name,E-mail 1 - Value,E-mail 1 - Label\n{s}"), Format::GoogleCsv);
        }
    }
}
