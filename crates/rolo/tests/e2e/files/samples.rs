//! Contact files in the shapes Apple Contacts, Google Contacts, Outlook and Thunderbird export,
//! generated here: folded lines, charsets, quoted-printable, base64 photos, grouped properties
//! and X- properties.

use base64::Engine;

pub fn photo_png() -> Vec<u8> {
    rolo_media::sample(40, 30, rolo_media::Format::Png)
}

/// Base64 folded as vCard 3.0 writers do: 74 characters a line, continuation lines indented.
fn folded_base64(bytes: &[u8], first: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = first.to_owned();
    let chunks: Vec<String> = b64.as_bytes().chunks(74).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    out.push_str(&chunks.join("\r\n "));
    out.push_str("\r\n");
    out
}

/// Apple Contacts (macOS): vCard 3.0, grouped properties with X-ABLabel, an inline photo.
pub fn apple() -> String {
    let mut s = String::from("BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//macOS 14.4//EN\r\n");
    s.push_str("N:Bansky;Pavel;;Dr.;\r\nFN:Pavel Bansky\r\nORG:Contoso Ltd.;Sales\r\nTITLE:Regional Manager\r\n");
    s.push_str("item1.EMAIL;type=INTERNET;type=pref:pavel@contoso.test\r\nitem1.X-ABLabel:_$!<Other>!$_\r\n");
    s.push_str("EMAIL;type=INTERNET;type=HOME:pavel@home.test\r\n");
    s.push_str("TEL;type=CELL;type=VOICE;type=pref:+47 555 01 00\r\nTEL;type=WORK;type=VOICE:+47 555 01 01\r\n");
    s.push_str("item2.ADR;type=HOME;type=pref:;;Storgata 1;Oslo;;0150;Norway\r\nitem2.X-ABADR:no\r\n");
    s.push_str("NOTE:A long note that goes on and on so that the writer has to fold it across mo\r\n re than one line\\, with an escaped comma.\r\n");
    s.push_str("BDAY:1974-07-22\r\nX-SOCIALPROFILE;type=twitter:https://twitter.com/pavel\r\n");
    s.push_str("X-PHONETIC-LAST-NAME:BANSUKI\r\nCATEGORIES:Friends,Golf\r\nUID:4A7E1F0C-APPLE-0001\r\n");
    s.push_str(&folded_base64(&photo_png(), "PHOTO;ENCODING=b;TYPE=PNG:"));
    s.push_str("END:VCARD\r\n");
    s
}

/// Google Contacts' vCard export: 3.0, labelled URLs in groups, Google's category names.
pub fn google() -> String {
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Adele Vance\r\nN:Vance;Adele;;;\r\nNICKNAME:Del\r\n\
     EMAIL;TYPE=INTERNET;TYPE=WORK:adele@contoso.test\r\nTEL;TYPE=CELL:+1 425 555 0109\r\n\
     ADR;TYPE=WORK:;;1 Microsoft Way;Redmond;WA;98052;United States\r\n\
     item1.URL:https\\://adele.example.test\r\nitem1.X-ABLabel:PROFILE\r\n\
     CATEGORIES:myContacts,Colleagues\r\nEND:VCARD\r\n"
        .to_owned()
}

/// Outlook for Windows: vCard 2.1, quoted-printable text in Windows-1252, bare TYPE parameters,
/// a base64 photo ended by a blank line.
pub fn outlook() -> String {
    let mut s = String::from("BEGIN:VCARD\r\nVERSION:2.1\r\nN;LANGUAGE=de-de:M=FCller;J=FCrgen\r\n");
    // (A bare QP value without ENCODING is not decoded: Outlook always names the encoding.)
    s = s.replace(
        "N;LANGUAGE=de-de:M=FCller;J=FCrgen",
        "N;LANGUAGE=de-de;CHARSET=Windows-1252;ENCODING=QUOTED-PRINTABLE:M=FCller;J=FCrgen",
    );
    s.push_str("FN;CHARSET=Windows-1252;ENCODING=QUOTED-PRINTABLE:J=FCrgen M=FCller\r\n");
    s.push_str("ORG:Fabrikam AG\r\nTEL;WORK;VOICE:+49 30 1234\r\nTEL;WORK;FAX:+49 30 1235\r\n");
    s.push_str(
        "ADR;WORK;PREF;CHARSET=Windows-1252;ENCODING=QUOTED-PRINTABLE:;;Stra=DFe 5;Berlin;;10115;Deutschland\r\n",
    );
    s.push_str("NOTE;CHARSET=Windows-1252;ENCODING=QUOTED-PRINTABLE:Erste Zeile=0D=0AZweite Zeile mit einem sehr langen Te=\r\nxt=\r\n\r\n");
    s.push_str("EMAIL;PREF;INTERNET:juergen@fabrikam.test\r\nX-MS-OL-DEFAULT-POSTAL-ADDRESS:2\r\n");
    s.push_str("X-MS-MANAGER:Anna Schmidt\r\n");
    s.push_str(&folded_base64(&photo_png(), "PHOTO;TYPE=PNG;ENCODING=BASE64:\r\n "));
    s.push_str("\r\nX-MS-OL-DESIGN;CHARSET=utf-8:<card xmlns=\"http://schemas.microsoft.com/office/outlook/12/electronicbusinesscards\"/>\r\n");
    s.push_str("REV:20240101T120000Z\r\nEND:VCARD\r\n");
    s
}

/// Thunderbird: vCard 4.0, PREF parameters, VALUE=TEXT, a data: URI photo, X-MOZILLA properties.
pub fn thunderbird() -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(photo_png());
    format!(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nPRODID:-//Thunderbird//EN\r\nN:Archie;Grady;;;\r\nFN:Grady Archie\r\n\
         EMAIL;PREF=1:grady@fabrikam.test\r\nTEL;TYPE=cell;VALUE=TEXT:+1 206 555 0100\r\n\
         ANNIVERSARY:20100612\r\nGENDER:M\r\nX-MOZILLA-HTML:TRUE\r\nUID:tb-0001\r\n\
         PHOTO:data:image/png;base64,{b64}\r\nEND:VCARD\r\n"
    )
}

pub fn outlook_csv() -> String {
    "First Name,Middle Name,Last Name,Company,Job Title,E-mail Address,Business Phone,Mobile Phone,Home City,Birthday,Categories,Notes,User 1\r\n\
     Lidia,,Holloway,Contoso,CFO,lidia@contoso.test,+1 1,+1 2,Bellevue,3/4/1980,Board;VIP,\"Likes \"\"quotes\"\", and commas\",custom\r\n\
     Broken,,Date,,,,,,,31/31/1980,,,\r\n"
        .to_owned()
}

pub fn google_csv() -> String {
    "First Name,Middle Name,Last Name,Organization Name,Labels,E-mail 1 - Label,E-mail 1 - Value,Phone 1 - Label,Phone 1 - Value,Relation 1 - Label,Relation 1 - Value\n\
     Isaiah,,Langer,Tailspin,* myContacts ::: Pilots,* Home,isaiah@tailspin.test,Mobile,+1 3,Spouse,Ruth\n"
        .to_owned()
}
