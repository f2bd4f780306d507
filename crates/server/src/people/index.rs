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

    /// The persons with a word matching `q` (exact, prefix, or one typo for 4+ characters).
    fn lookup(&self, q: &str) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for (w, ids) in self.words.range(q.to_owned()..) {
            if !w.starts_with(q) {
                break;
            }
            out.extend(ids);
        }
        if q.chars().count() >= 4 {
            let mut seen: Vec<&String> = Vec::new();
            for (pos, c) in q.chars().take(2).enumerate() {
                for w in self.by_letter.get(&(pos, c)).into_iter().flatten() {
                    if !w.starts_with(q) && !seen.contains(&w) && people::match_word(q, w).is_some() {
                        seen.push(w);
                        out.extend(&self.words[w]);
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The persons matching every query word (each on a different word of theirs), best match
    /// quality kept.
    pub(super) fn search(&self, query: &[String]) -> Vec<(Match, u32)> {
        let mut candidates: Option<Vec<u32>> = None;
        for q in query {
            let hits = self.lookup(q);
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
