//! `$search` on contacts: the words a contact is found by, and a search expression's terms.
//! Words are folded as the People picker folds names ([`people::fold`]: lower case, Latin
//! diacritics removed) and a term matches a word it is a prefix of, so `$search="ann"` finds
//! Ann, Anna and Ånnika, as the picker does.

use crate::people;
use crate::{ContactData, GraphError, GraphResult};

/// The fields a word comes from, by the Graph property a scoped term (`"surname:ann"`) names.
pub const FIELDS: &[&str] =
    &["displayName", "givenName", "surname", "middleName", "nickName", "companyName", "emailAddresses", "phones"];

/// Scoped property names that mean one of [`FIELDS`]: the phone properties of v1.0 all search
/// the one `phones` field.
fn field_of(name: &str) -> Option<&'static str> {
    let name = match name {
        n if n.eq_ignore_ascii_case("businessPhones")
            || n.eq_ignore_ascii_case("homePhones")
            || n.eq_ignore_ascii_case("mobilePhone") =>
        {
            "phones"
        }
        n => n,
    };
    FIELDS.iter().copied().find(|f| f.eq_ignore_ascii_case(name))
}

/// Longest word kept, in bytes (index rows stay small; a longer term still matches its prefix).
const MAX_WORD_BYTES: usize = 100;

fn clip(mut w: String) -> String {
    if w.len() > MAX_WORD_BYTES {
        let mut end = MAX_WORD_BYTES;
        while !w.is_char_boundary(end) {
            end -= 1;
        }
        w.truncate(end);
    }
    w
}

fn split_words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_owned)
}

/// The words of one e-mail address: the whole address, its local part's words (split on
/// anything not a letter or digit) and the domain's labels.
fn address_words(address: &str) -> Vec<String> {
    let folded = people::fold(address.trim());
    let mut out = vec![folded.clone()];
    match folded.split_once('@') {
        Some((local, domain)) => {
            out.push(local.to_owned());
            out.extend(split_words(local));
            out.push(domain.to_owned());
            out.extend(split_words(domain));
        }
        None => out.extend(split_words(&folded)),
    }
    out
}

/// The words of a phone number: its digits as one word and every ending of that word of four
/// digits or more (so a number typed without its country or area code, or only its last digits,
/// is found), and each run of digits as written.
fn phone_words(number: &str) -> Vec<String> {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let mut out: Vec<String> =
        (0..digits.len().saturating_sub(3)).filter_map(|i| digits.get(i..)).map(str::to_owned).collect();
    out.extend(number.split(|c: char| !c.is_ascii_digit()).filter(|t| !t.is_empty()).map(str::to_owned));
    out
}

/// Every (word, field) a contact is found by, deduplicated and sorted. Every search term is a
/// prefix, so a word that begins another word of the same field finds nothing the longer one
/// does not: it is left out (a phone number's digit runs begin its endings, an address's local
/// part begins the address), which keeps about a third of the rows out of the index.
pub fn contact_words(d: &ContactData) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    let names = [
        (&d.display_name, "displayName"),
        (&d.given_name, "givenName"),
        (&d.surname, "surname"),
        (&d.middle_name, "middleName"),
        (&d.nick_name, "nickName"),
        (&d.company_name, "companyName"),
    ];
    for (value, field) in names {
        if let Some(v) = value {
            out.extend(split_words(&people::fold(v)).map(|w| (w, field)));
        }
    }
    for e in &d.email_addresses {
        if let Some(a) = &e.address {
            out.extend(address_words(a).into_iter().map(|w| (w, "emailAddresses")));
        }
    }
    for p in &d.phones {
        if let Some(n) = &p.number {
            out.extend(phone_words(n).into_iter().map(|w| (w, "phones")));
        }
    }
    let mut out: Vec<(&'static str, String)> =
        out.into_iter().filter(|(w, _)| !w.is_empty()).map(|(w, f)| (f, clip(w))).collect();
    out.sort();
    out.dedup();
    // Sorted by field then word: a word that begins a longer one is followed at once by a word
    // that begins with it.
    let kept: Vec<bool> = (0..out.len())
        .map(|i| !out.get(i + 1).is_some_and(|(f, next)| *f == out[i].0 && next.starts_with(out[i].1.as_str())))
        .collect();
    let mut words: Vec<(String, &'static str)> =
        out.into_iter().zip(kept).filter(|(_, keep)| *keep).map(|((f, w), _)| (w, f)).collect();
    words.sort();
    words
}

/// One search term: a contact matches when one of its words in `field` (any field when `None`)
/// starts with `prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm {
    pub prefix: String,
    pub field: Option<&'static str>,
}

/// Most terms one `$search` may carry (each is one indexed sub-query).
pub const MAX_TERMS: usize = 16;

/// Parses a contact `$search` expression: clauses separated by white space (an `AND` between
/// them is allowed and changes nothing), each optionally in double quotes and optionally
/// scoped as `property:words`. Every word of every clause must match (AND). A word holding `@`
/// matches whole addresses; a word of digits and phone punctuation is one term of its digits;
/// any other word splits into its letter-and-digit runs, each a term.
pub fn parse(text: &str) -> GraphResult<Vec<SearchTerm>> {
    let bad = |m: &str| GraphError::bad_request("BadRequest", format!("Syntax error in $search: {m}"));
    let mut clauses: Vec<String> = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if let Some(q) = rest.strip_prefix('"') {
            let (clause, after) = q.split_once('"').ok_or_else(|| bad("an unclosed quote."))?;
            clauses.push(clause.to_owned());
            rest = after.trim_start();
        } else {
            let (word, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            if word == "OR" || word == "NOT" {
                return Err(bad("OR and NOT are not supported on contacts; clauses are joined by AND."));
            }
            if word != "AND" {
                clauses.push(word.to_owned());
            }
            rest = after.trim_start();
        }
    }
    let mut terms = Vec::new();
    for clause in clauses {
        let (field, words) = match clause.split_once(':') {
            Some((p, w)) if !p.is_empty() && p.chars().all(|c| c.is_ascii_alphabetic()) => {
                let f = field_of(p)
                    .ok_or_else(|| bad(&format!("'{p}' is not searchable; use one of {}.", FIELDS.join(", "))))?;
                (Some(f), w)
            }
            _ => (None, clause.as_str()),
        };
        for word in words.split_whitespace() {
            // Control characters match no stored word, and PostgreSQL text cannot hold NUL.
            let folded: String = people::fold(word).chars().filter(|c| !c.is_control()).collect();
            let phone_like = folded.chars().any(|c| c.is_ascii_digit())
                && folded.chars().all(|c| c.is_ascii_digit() || "+-(). ".contains(c));
            let prefixes: Vec<String> = if folded.contains('@') {
                vec![folded]
            } else if phone_like {
                vec![folded.chars().filter(char::is_ascii_digit).collect()]
            } else {
                split_words(&folded).collect()
            };
            terms.extend(prefixes.into_iter().map(|p| SearchTerm { prefix: clip(p), field }));
        }
    }
    if terms.is_empty() {
        return Err(bad("no words to search for."));
    }
    if terms.len() > MAX_TERMS {
        return Err(bad(&format!("at most {MAX_TERMS} words.")));
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::{EmailAddress, Phone};

    fn words_of(d: &ContactData) -> Vec<String> {
        contact_words(d).into_iter().map(|(w, f)| format!("{f}:{w}")).collect()
    }

    #[test]
    fn words_cover_names_addresses_and_phones() {
        let d = ContactData {
            given_name: Some("Åsa".into()),
            surname: Some("Núñez-Lind".into()),
            display_name: Some("Åsa Núñez-Lind".into()),
            company_name: Some("Contoso Ltd.".into()),
            email_addresses: vec![EmailAddress {
                address: Some("Asa.Nunez@mail.Contoso.com".into()),
                ..Default::default()
            }],
            phones: vec![Phone { kind: "mobile".into(), number: Some("+1 (425) 555-0100".into()) }],
            ..Default::default()
        };
        let w = words_of(&d);
        for expected in [
            "givenName:asa",
            "surname:nunez",
            "surname:lind",
            "displayName:asa",
            "companyName:contoso",
            "companyName:ltd",
            "emailAddresses:asa.nunez@mail.contoso.com",
            "emailAddresses:nunez",
            "emailAddresses:mail.contoso.com",
            "emailAddresses:contoso",
            "emailAddresses:com",
            "phones:14255550100",
            "phones:4255550100",
            "phones:0100",
        ] {
            assert!(w.contains(&expected.to_owned()), "{expected} missing from {w:?}");
        }
        // Words that begin a longer word of their field are left out, and still found through it.
        for pruned in ["emailAddresses:asa.nunez", "emailAddresses:asa", "phones:425", "phones:1"] {
            assert!(!w.contains(&pruned.to_owned()), "{pruned} is redundant in {w:?}");
            assert!(w.iter().any(|x| x.starts_with(pruned)), "{pruned} is not covered by {w:?}");
        }
        assert!(w.contains(&"displayName:asa".to_owned()) && w.contains(&"givenName:asa".to_owned()), "per field");
        let mut sorted = w.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), w.len(), "words are deduplicated");
    }

    #[test]
    fn empty_contact_has_no_words() {
        assert!(contact_words(&ContactData::default()).is_empty());
        let d = ContactData {
            phones: vec![Phone { kind: "home".into(), number: Some("n/a".into()) }],
            ..Default::default()
        };
        assert!(contact_words(&d).is_empty());
    }

    #[test]
    fn parses_plain_quoted_and_scoped_terms() {
        let t = |p: &str, f: Option<&'static str>| SearchTerm { prefix: p.into(), field: f };
        assert_eq!(parse("ann").unwrap(), vec![t("ann", None)]);
        assert_eq!(parse("Ann Smith").unwrap(), vec![t("ann", None), t("smith", None)]);
        assert_eq!(parse("\"ann smith\" AND Ñu").unwrap(), vec![t("ann", None), t("smith", None), t("nu", None)]);
        assert_eq!(parse("emailAddresses:pavel").unwrap(), vec![t("pavel", Some("emailAddresses"))]);
        assert_eq!(parse("\"mobilePhone:+1 425\"").unwrap(), vec![t("1", Some("phones")), t("425", Some("phones"))]);
        assert_eq!(parse("(425) 555-0100").unwrap(), vec![t("425", None), t("5550100", None)]);
        assert_eq!(parse("pavel@contoso.com").unwrap(), vec![t("pavel@contoso.com", None)]);
        assert_eq!(parse("o'brien").unwrap(), vec![t("o", None), t("brien", None)]);
    }

    #[test]
    fn refuses_what_it_cannot_run() {
        assert!(parse("").is_err());
        assert!(parse("\"\"").is_err());
        assert!(parse("\"ann").is_err());
        assert!(parse("ann OR bob").is_err());
        assert!(parse("jobTitle:boss").is_err());
        assert!(parse("\u{0}").is_err());
        assert_eq!(parse("a\u{0}@b").unwrap(), vec![SearchTerm { prefix: "a@b".into(), field: None }]);
        assert!(parse(&"a ".repeat(MAX_TERMS + 1)).is_err());
    }
}
