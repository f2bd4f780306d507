//! How much of a list one page reads: a count, and optionally a byte budget. A byte-bounded
//! page is read in small batches, sized from the rows seen so far, so a folder of very large
//! contacts costs the server one page's worth of memory, not `$top` contacts' worth.

use crate::sql::{Row, Value};

/// The first batch of a byte-bounded page: small enough that even rows of the largest size a
/// body may have (4 MB) stay well within a server's memory; large enough that a default page of
/// ordinary contacts (10) is one query.
const FIRST_BATCH: usize = 10;

/// The bytes a row holds (its text and binary values), standing for its serialized size.
pub fn row_bytes(row: &Row) -> usize {
    row.values()
        .iter()
        .map(|v| match v {
            Value::Text(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::Int(_) | Value::Null => 8,
        })
        .sum()
}

/// The progress of one page: rows and bytes taken so far against the limits.
pub struct Fetch {
    page_size: usize,
    max_bytes: Option<usize>,
    rows: usize,
    bytes: usize,
}

impl Fetch {
    pub fn new(page_size: usize, max_bytes: Option<usize>) -> Fetch {
        Fetch { page_size: page_size.max(1), max_bytes, rows: 0, bytes: 0 }
    }

    /// How many rows the next query should read, or `None` when the page is complete.
    pub fn next_batch(&self) -> Option<usize> {
        let wanted = self.page_size.checked_sub(self.rows).filter(|n| *n > 0)?;
        let Some(max) = self.max_bytes else { return Some(wanted) };
        if self.rows > 0 && self.bytes >= max {
            return None;
        }
        if self.rows == 0 {
            return Some(wanted.min(FIRST_BATCH));
        }
        // As many rows as the remaining budget holds at the average size seen, plus one so a
        // batch always ends past the bound or at the page's end.
        let average = (self.bytes / self.rows).max(1);
        Some(wanted.min((max - self.bytes) / average + 1))
    }

    /// Whether the rows taken have reached the byte budget.
    pub fn over_bytes(&self) -> bool {
        self.max_bytes.is_some_and(|max| self.bytes >= max)
    }

    /// Counts a row into the page; true when the page is now complete (by count, or by bytes:
    /// the row that passes the bound is the page's last, so a page always has at least one row).
    pub fn take(&mut self, bytes: usize) -> bool {
        self.rows += 1;
        self.bytes += bytes;
        self.rows >= self.page_size || self.max_bytes.is_some_and(|max| self.bytes >= max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_only_pages_are_one_batch() {
        let mut f = Fetch::new(100, None);
        assert_eq!(f.next_batch(), Some(100));
        for _ in 0..99 {
            assert!(!f.take(1_000_000));
        }
        assert!(f.take(1));
        assert_eq!(f.next_batch(), None);
    }

    #[test]
    fn byte_bounded_pages_stop_at_the_row_that_passes_the_bound() {
        let mut f = Fetch::new(40, Some(2_000_000));
        assert_eq!(f.next_batch(), Some(10));
        assert!(!f.take(900_000));
        assert!(!f.take(900_000));
        assert!(f.take(900_000), "the third row passes 2 MB and ends the page");
        // A first row larger than the bound is a page of its own.
        let mut f = Fetch::new(40, Some(1_000));
        assert!(f.take(5_000));
        // Small rows: the next batch is sized from the average seen.
        let mut f = Fetch::new(1000, Some(500_000));
        for _ in 0..16 {
            f.take(1_000);
        }
        assert_eq!(f.next_batch(), Some(485));
    }
}
