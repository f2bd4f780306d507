//! The People API's rules: who a person is (one per email address, merged across sources), how
//! relevant they are to a mailbox (a documented, deterministic score over communication
//! signals), and how people-picker search matches names (prefixes, one typo, case and
//! diacritics folded). See docs/PEOPLE.md for the formula with worked examples.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// How long a signal takes to lose half its weight.
pub const HALF_LIFE_DAYS: f64 = 30.0;
/// Weights of the signals: mail sent to someone counts more than mail received from them, and a
/// shared meeting in between.
pub const SENT_WEIGHT: f64 = 4.0;
pub const RECEIVED_WEIGHT: f64 = 1.0;
pub const MEETING_WEIGHT: f64 = 3.0;
/// A saved contact, and a colleague in the directory, are relevant before any mail.
pub const CONTACT_BONUS: f64 = 2.0;
pub const COLLEAGUE_BONUS: f64 = 0.5;

/// Where a person was seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sources {
    pub contact: bool,
    pub directory: bool,
}

impl Sources {
    /// Graph's `personType.subclass`: a directory user is an `OrganizationUser`, a saved
    /// contact a `PersonalContact`, anyone else the mailbox exchanged mail or meetings with an
    /// `ImplicitContact`.
    pub fn subclass(self) -> &'static str {
        if self.directory {
            "OrganizationUser"
        } else if self.contact {
            "PersonalContact"
        } else {
            "ImplicitContact"
        }
    }
}

/// The communication signals between a mailbox and one address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    pub sent: i64,
    pub received: i64,
    pub meetings: i64,
    pub last_sent: Option<String>,
    pub last_received: Option<String>,
    pub last_meeting: Option<String>,
}

fn age_days(at: Option<&str>, now: OffsetDateTime) -> Option<f64> {
    let t = OffsetDateTime::parse(at?, &Rfc3339).ok()?;
    Some(((now - t).as_seconds_f64() / 86_400.0).max(0.0))
}

fn channel(weight: f64, count: i64, last: Option<&str>, now: OffsetDateTime) -> f64 {
    if count <= 0 {
        return 0.0;
    }
    let decay = age_days(last, now).map_or(0.0, |d| 0.5f64.powf(d / HALF_LIFE_DAYS));
    weight * (1.0 + count as f64).ln() * decay
}

/// The relevance score: per channel, `weight × ln(1 + count) × 0.5^(days since the last one /
/// 30)`, summed, plus the bonuses; rounded to two decimals so equal inputs compare equal.
pub fn score(sources: Sources, signals: &Signals, now: OffsetDateTime) -> f64 {
    let mut s = channel(SENT_WEIGHT, signals.sent, signals.last_sent.as_deref(), now)
        + channel(RECEIVED_WEIGHT, signals.received, signals.last_received.as_deref(), now)
        + channel(MEETING_WEIGHT, signals.meetings, signals.last_meeting.as_deref(), now);
    if sources.contact {
        s += CONTACT_BONUS;
    }
    if sources.directory {
        s += COLLEAGUE_BONUS;
    }
    (s * 100.0).round() / 100.0
}

/// Lower case with Latin diacritics removed (`Åsa Núñez` → `asa nunez`), for matching.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'à'..='å' | 'ā' | 'ă' | 'ą' => out.push('a'),
            'æ' => out.push_str("ae"),
            'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => out.push('c'),
            'ď' | 'đ' => out.push('d'),
            'è'..='ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => out.push('e'),
            'ĝ' | 'ğ' | 'ġ' | 'ģ' => out.push('g'),
            'ĥ' | 'ħ' => out.push('h'),
            'ì'..='ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => out.push('i'),
            'ĵ' => out.push('j'),
            'ķ' => out.push('k'),
            'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => out.push('l'),
            'ñ' | 'ń' | 'ņ' | 'ň' => out.push('n'),
            'ò'..='ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => out.push('o'),
            'œ' => out.push_str("oe"),
            'ŕ' | 'ŗ' | 'ř' => out.push('r'),
            'ś' | 'ŝ' | 'ş' | 'š' => out.push('s'),
            'ß' => out.push_str("ss"),
            'ţ' | 'ť' | 'ŧ' => out.push('t'),
            'ù'..='ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => out.push('u'),
            'ŵ' => out.push('w'),
            'ý' | 'ÿ' | 'ŷ' => out.push('y'),
            'ź' | 'ż' | 'ž' => out.push('z'),
            'þ' => out.push_str("th"),
            'ð' => out.push('d'),
            other => out.push(other),
        }
    }
    out
}

/// The words a name or address is matched on: folded, split on anything not a letter or digit
/// (an address's local part splits on `.`, `_` and `-`; its domain is left out).
pub fn tokens(s: &str) -> Vec<String> {
    let s = match s.split_once('@') {
        Some((local, _)) => local,
        None => s,
    };
    fold(s).split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

/// How well a query word matched a name word; better matches rank first among equals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Match {
    Fuzzy,
    Prefix,
    Exact,
}

/// Whether `a` and `b` are at most one edit apart (an insertion, a deletion, a substitution,
/// or a swap of two neighbours), over bytes for ASCII words and chars otherwise: a search
/// tests thousands of candidate words, and collecting each into a `Vec<char>` was most of its
/// instructions.
fn within_one_edit(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        one_edit(a.as_bytes(), b.as_bytes())
    } else {
        one_edit(&a.chars().collect::<Vec<_>>(), &b.chars().collect::<Vec<_>>())
    }
}

/// Levenshtein distance (with neighbour swaps) at most one, stopping at the second edit.
fn one_edit<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let (mut i, mut j, mut edits) = (0, 0, 0);
    while i < la && j < lb {
        if a[i] == b[j] {
            i += 1;
            j += 1;
            continue;
        }
        edits += 1;
        if edits > 1 {
            return false;
        }
        match la.cmp(&lb) {
            std::cmp::Ordering::Greater => i += 1,
            std::cmp::Ordering::Less => j += 1,
            std::cmp::Ordering::Equal => {
                // A swap of two neighbours counts as one edit too (`jonh` for `john`).
                if i + 1 < la && a[i] == b[j + 1] && a[i + 1] == b[j] {
                    i += 2;
                    j += 2;
                    continue;
                }
                i += 1;
                j += 1;
            }
        }
    }
    edits + (la - i) + (lb - j) <= 1
}

/// Matches one query word against one name word: exact, a prefix, or (for query words of four
/// characters or more) one edit away from the word or from its prefix of the same length.
pub fn match_word(query: &str, word: &str) -> Option<Match> {
    if query == word {
        return Some(Match::Exact);
    }
    if word.starts_with(query) {
        return Some(Match::Prefix);
    }
    let fuzzy = if query.is_ascii() && word.is_ascii() {
        let (q, w) = (query.as_bytes(), word.as_bytes());
        q.len() >= 4 && (one_edit(q, w) || one_edit(q, &w[..q.len().min(w.len())]))
    } else {
        let n = query.chars().count();
        n >= 4 && {
            let prefix: String = word.chars().take(n).collect();
            within_one_edit(query, word) || within_one_edit(query, &prefix)
        }
    };
    fuzzy.then_some(Match::Fuzzy)
}

/// Matches a whole query: every query word must match a different name word; the result is the
/// worst of the words' matches (so "exact on all words" ranks first).
pub fn match_query(query: &[String], words: &[String]) -> Option<Match> {
    if query.is_empty() {
        return None;
    }
    // The name words taken: a bit each (a person has a handful, and a search tests thousands of
    // persons, so no allocation per person), a vector only past 64 words.
    let mut used_bits = 0u64;
    let mut used_more = if words.len() > 64 { vec![false; words.len()] } else { Vec::new() };
    let mut worst = Match::Exact;
    for q in query {
        let mut best: Option<(usize, Match)> = None;
        for (i, w) in words.iter().enumerate() {
            let used = if i < 64 { used_bits & (1 << i) != 0 } else { used_more[i] };
            if used {
                continue;
            }
            if let Some(m) = match_word(q, w) {
                if best.is_none_or(|(_, b)| m > b) {
                    best = Some((i, m));
                }
            }
        }
        let (i, m) = best?;
        if i < 64 {
            used_bits |= 1 << i;
        } else {
            used_more[i] = true;
        }
        worst = worst.min(m);
    }
    Some(worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> OffsetDateTime {
        OffsetDateTime::parse(s, &Rfc3339).unwrap()
    }

    #[test]
    fn scores_follow_the_documented_formula() {
        let now = at("2024-03-01T00:00:00Z");
        let fresh = Signals { sent: 3, last_sent: Some("2024-03-01T00:00:00Z".into()), ..Signals::default() };
        // 4 × ln 4 = 5.545...
        assert_eq!(score(Sources::default(), &fresh, now), 5.55);
        let month_old = Signals { sent: 3, last_sent: Some("2024-01-31T00:00:00Z".into()), ..Signals::default() };
        // Thirty days later the same mail weighs half as much.
        assert_eq!(score(Sources::default(), &month_old, now), 2.77);
        let received =
            Signals { received: 3, last_received: Some("2024-03-01T00:00:00Z".into()), ..Signals::default() };
        assert!(score(Sources::default(), &received, now) < score(Sources::default(), &fresh, now));
        let contact = Sources { contact: true, directory: false };
        assert_eq!(score(contact, &Signals::default(), now), 2.0);
        assert_eq!(Sources { contact: true, directory: true }.subclass(), "OrganizationUser");
        assert_eq!(Sources::default().subclass(), "ImplicitContact");
    }

    #[test]
    fn names_fold_and_match_with_one_typo() {
        assert_eq!(fold("Åsa Núñez-Øster"), "asa nunez-oster");
        assert_eq!(tokens("jean-luc.picard@starfleet.test"), ["jean", "luc", "picard"]);
        assert_eq!(match_word("pic", "picard"), Some(Match::Prefix));
        assert_eq!(match_word("picard", "picard"), Some(Match::Exact));
        assert_eq!(match_word("pikard", "picard"), Some(Match::Fuzzy));
        assert_eq!(match_word("picr", "picard"), Some(Match::Fuzzy), "a typo in a prefix");
        assert_eq!(match_word("jonh", "john"), Some(Match::Fuzzy), "a swap");
        assert_eq!(match_word("pik", "picard"), None, "no typo tolerance under four characters");
        assert_eq!(match_word("pxxard", "picard"), None);
        let words = tokens("Jean-Luc Picard");
        assert_eq!(match_query(&tokens("picard jean"), &words), Some(Match::Exact));
        assert_eq!(match_query(&tokens("jean pic"), &words), Some(Match::Prefix));
        assert_eq!(match_query(&tokens("jean jean"), &words), None, "each query word needs its own name word");
        assert_eq!(match_query(&tokens("Núñez"), &tokens("Nunez")), Some(Match::Exact));
    }

    /// Words left outside ASCII by folding (other scripts) match by characters, not bytes: one
    /// Cyrillic letter is two bytes, and a typo in it is still one edit.
    #[test]
    fn words_outside_ascii_match_by_characters() {
        assert_eq!(match_word("иванов", "иванов"), Some(Match::Exact));
        assert_eq!(match_word("ивaнов", "иванов"), Some(Match::Fuzzy), "a Latin a for a Cyrillic one");
        assert_eq!(match_word("ивнов", "иванов"), Some(Match::Fuzzy), "a letter left out");
        assert_eq!(match_word("иванво", "иванов"), Some(Match::Fuzzy), "a swap");
        assert_eq!(match_word("ивоно", "ивановский"), Some(Match::Fuzzy), "a typo in a prefix");
        assert_eq!(match_word("ивоно", "ив"), None);
        assert_eq!(match_word("ивx", "иванов"), None, "no typo tolerance under four characters");
        assert_eq!(match_word("ахмед", "иванов"), None);
        // Many words: the words taken past the 64th still count once each.
        let many: Vec<String> = (0..70).map(|i| format!("w{i}")).chain(["ada".to_owned()]).collect();
        assert_eq!(match_query(&tokens("ada w69"), &many), Some(Match::Exact));
        assert_eq!(match_query(&tokens("w69 w69"), &many), None);
        assert_eq!(match_query(&tokens("w6 w6"), &many), Some(Match::Prefix));
    }
}
