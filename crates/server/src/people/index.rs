//! The People word index: names and addresses by word, for people-picker search without
//! scanning everyone.

use std::collections::{BTreeMap, HashMap};

use rolo_domain::people::{self, Match};

/// Names and addresses by word, for people-picker search without scanning everyone: exact
/// words in a sorted map (prefix ranges), and each word under its first and second letters (so
/// a typo anywhere, the first letter included, finds it).
#[derive(Default)]
pub(super) struct WordIndex {
    words: BTreeMap<String, Vec<u32>>,
    by_letter: HashMap<(usize, char), Vec<String>>,
    /// Each person's words, computed once.
    person_words: Vec<Vec<String>>,
}

impl WordIndex {
    pub(super) fn build(words_of: impl Iterator<Item = Vec<String>>) -> WordIndex {
        let mut index = WordIndex::default();
        for (i, words) in words_of.enumerate() {
            for w in &words {
                index.words.entry(w.clone()).or_default().push(i as u32);
            }
            index.person_words.push(words);
        }
        for w in index.words.keys() {
            for (pos, c) in w.chars().take(2).enumerate() {
                index.by_letter.entry((pos, c)).or_default().push(w.clone());
            }
        }
        index
    }

    /// The persons with a word matching `q` (exact, prefix, or one typo for 4+ characters), in
    /// person order, each with their best word's match: for a one-word query that is the
    /// person's match (every exact and prefix word is in the prefix range, so only a fuzzy
    /// match can come from the letter buckets).
    fn lookup(&self, q: &str) -> Vec<(u32, Match)> {
        // The best match per person, by position: marking and then reading everyone once costs
        // less than sorting the hits (thousands of ids for a short prefix) and removing repeats.
        let mut best: Vec<Option<Match>> = vec![None; self.person_words.len()];
        let mut mark = |ids: &[u32], m: Match| {
            for &i in ids {
                let b = &mut best[i as usize];
                if b.is_none_or(|b| m > b) {
                    *b = Some(m);
                }
            }
        };
        for (w, ids) in self.words.range(q.to_owned()..) {
            if !w.starts_with(q) {
                break;
            }
            mark(ids, if w == q { Match::Exact } else { Match::Prefix });
        }
        let mut letters = q.chars();
        if let (Some(first), Some(second), true) = (letters.next(), letters.next(), q.chars().count() >= 4) {
            // A word is under both its first and its second letter: under the second, the words
            // that also begin with the query's first letter were already taken from the first.
            // (That test replaces a set of the words taken, whose hashing of each of thousands of
            // bucket words cost more than matching them.)
            let under = |pos: usize, c: char| self.by_letter.get(&(pos, c)).into_iter().flatten();
            let firsts = under(0, first);
            let seconds = under(1, second).filter(|w| !w.starts_with(first));
            // An ASCII word two or more letters longer than an ASCII query matches it only through
            // its first `q.len()` letters, which a bucket's neighbours often share (`partner1`,
            // `partner10`, ...: the bucket is in word order): one test per distinct head.
            let mut last_head: Option<(&[u8], bool)> = None;
            for w in firsts.chain(seconds) {
                if w.starts_with(q) {
                    continue;
                }
                let fuzzy = if q.is_ascii() && w.len() >= q.len() + 2 && w.is_ascii() {
                    let head = &w.as_bytes()[..q.len()];
                    match last_head {
                        Some((h, hit)) if h == head => hit,
                        _ => {
                            let hit = people::match_word(q, w).is_some();
                            last_head = Some((head, hit));
                            hit
                        }
                    }
                } else {
                    people::match_word(q, w).is_some()
                };
                if fuzzy {
                    mark(&self.words[w], Match::Fuzzy);
                }
            }
        }
        best.into_iter().enumerate().filter_map(|(i, m)| m.map(|m| (i as u32, m))).collect()
    }

    /// The persons matching every query word (each on a different word of theirs), best match
    /// quality kept.
    pub(super) fn search(&self, query: &[String]) -> Vec<(Match, u32)> {
        if let [q] = query {
            return self.lookup(q).into_iter().map(|(i, m)| (m, i)).collect();
        }
        let mut candidates: Option<Vec<u32>> = None;
        for q in query {
            let hits: Vec<u32> = self.lookup(q).into_iter().map(|(i, _)| i).collect();
            candidates = Some(match candidates {
                None => hits,
                Some(c) => c.into_iter().filter(|i| hits.binary_search(i).is_ok()).collect(),
            });
        }
        candidates
            .unwrap_or_default()
            .into_iter()
            .filter_map(|i| people::match_query(query, &self.person_words[i as usize]).map(|m| (m, i)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIVEN: [&str; 8] = ["Ada", "Barbara", "Donald", "Edsger", "Grace", "Leslie", "Margaret", "Niklaus"];
    const SURNAME: [&str; 8] = ["Lovelace", "Turing", "Liskov", "Knuth", "Dijkstra", "Hopper", "Lamport", "Wirth"];
    /// Prefixes, whole names, two words and typos, as a people picker sends them.
    const QUERIES: [&str; 12] = [
        "ada",
        "lov",
        "tur",
        "grace hop",
        "dijk",
        "lamport",
        "knth",
        "hoppr",
        "margaret",
        "wirth n",
        "nik",
        "liskov b",
    ];

    /// The index finds exactly the people a scan of everyone with `match_query` finds, with the
    /// same match quality: its lookups narrow the candidates and never lose one. (For callgrind,
    /// raise `PEOPLE` to the bench's 60,000 and count `--toggle-collect='*WordIndex*search*'`.)
    #[test]
    fn search_finds_what_a_scan_finds() {
        const PEOPLE: usize = 3_000;
        let words: Vec<Vec<String>> = (0..PEOPLE)
            .map(|i| {
                let (g, s) = (GIVEN[i % 8], SURNAME[(i / 8) % 8]);
                let mut w = people::tokens(&format!("{g} {s} {i}"));
                w.extend(people::tokens(&format!("{}.{}{i}@example.com", g.to_lowercase(), s.to_lowercase())));
                w.sort();
                w.dedup();
                w
            })
            .collect();
        let index = WordIndex::build(words.clone().into_iter());
        for q in QUERIES {
            let query = people::tokens(q);
            let mut found = index.search(&query);
            found.sort_by_key(|(_, i)| *i);
            let scanned: Vec<(Match, u32)> =
                (0..PEOPLE).filter_map(|i| people::match_query(&query, &words[i]).map(|m| (m, i as u32))).collect();
            assert!(!scanned.is_empty(), "{q:?} matches someone");
            assert_eq!(found, scanned, "{q:?}");
        }
    }
}
