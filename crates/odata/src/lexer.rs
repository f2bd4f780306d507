//! Tokenizer shared by `$filter`, `$orderby`, `$select` and `$expand` paths.
//!
//! Works on a `&[char]` so that positions are character offsets and no input can make it slice
//! through a UTF-8 sequence.

use crate::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    Comma,
    Colon,
    Slash,
    Star,
    Ident(String),
    Str(String),
    Int(i64),
    Decimal(f64),
    Date(String),
    DateTime(String),
    Guid(String),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Character offsets of the token in the source: `start..end`.
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// Whether this token is the identifier `word`, ignoring ASCII case.
    pub fn is_word(&self, word: &str) -> bool {
        matches!(&self.tok, Tok::Ident(w) if w.eq_ignore_ascii_case(word))
    }
}

pub(crate) fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

pub(crate) fn is_ident_continue(c: char) -> bool {
    c.is_alphabetic() || c.is_ascii_digit() || c == '_'
}

/// Source text of `src[start..end]`, shortened for error messages.
pub(crate) fn snippet(src: &[char], start: usize, end: usize) -> String {
    const MAX: usize = 40;
    let end = end.min(src.len());
    let start = start.min(end);
    let text = &src[start..end];
    if text.len() > MAX {
        let mut s: String = text[..MAX].iter().collect();
        s.push('…');
        s
    } else {
        text.iter().collect()
    }
}

pub(crate) fn tokenize(src: &[char], option: &'static str) -> Result<Vec<Token>, ParseError> {
    Lexer { src, pos: 0, option }.run()
}

struct Lexer<'a> {
    src: &'a [char],
    pos: usize,
    option: &'static str,
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.src.get(i).copied()
    }

    fn run(mut self) -> Result<Vec<Token>, ParseError> {
        let mut tokens = Vec::new();
        loop {
            while matches!(self.at(self.pos), Some(' ' | '\t' | '\r' | '\n')) {
                self.pos += 1;
            }
            let start = self.pos;
            let Some(c) = self.at(start) else {
                tokens.push(Token { tok: Tok::Eof, start, end: start });
                return Ok(tokens);
            };
            let tok = match c {
                '(' => self.single(Tok::LParen),
                ')' => self.single(Tok::RParen),
                ',' => self.single(Tok::Comma),
                ':' => self.single(Tok::Colon),
                '/' => self.single(Tok::Slash),
                '*' => self.single(Tok::Star),
                '\'' => self.string()?,
                _ => {
                    if let Some(guid) = self.guid() {
                        guid
                    } else if c.is_ascii_digit() && self.looks_like_date() {
                        self.date_or_datetime()?
                    } else if c.is_ascii_digit() || (c == '-' && self.at(start + 1).is_some_and(|d| d.is_ascii_digit()))
                    {
                        self.number()?
                    } else if is_ident_start(c) {
                        self.ident()
                    } else {
                        return Err(ParseError::syntax(self.option, start, format_args!("unexpected character '{c}'")));
                    }
                }
            };
            tokens.push(Token { tok, start, end: self.pos });
        }
    }

    fn single(&mut self, tok: Tok) -> Tok {
        self.pos += 1;
        tok
    }

    fn string(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        loop {
            match self.at(self.pos) {
                None => return Err(ParseError::new(format!("Unterminated string literal in {}", self.option), start)),
                Some('\'') if self.at(self.pos + 1) == Some('\'') => {
                    value.push('\'');
                    self.pos += 2;
                }
                Some('\'') => {
                    self.pos += 1;
                    return Ok(Tok::Str(value));
                }
                Some(c) => {
                    value.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn ident(&mut self) -> Tok {
        let start = self.pos;
        while self.at(self.pos).is_some_and(is_ident_continue) {
            self.pos += 1;
        }
        Tok::Ident(self.src[start..self.pos].iter().collect())
    }

    /// Whether `n` ASCII digits start at `i`.
    fn digits_at(&self, i: usize, n: usize) -> bool {
        (i..i + n).all(|j| self.at(j).is_some_and(|c| c.is_ascii_digit()))
    }

    /// Value of the `n` ASCII digits at `i`; callers check `digits_at` first.
    fn number_at(&self, i: usize, n: usize) -> u32 {
        (i..i + n).fold(0, |acc, j| acc * 10 + self.at(j).and_then(|c| c.to_digit(10)).unwrap_or(0))
    }

    /// A GUID `8-4-4-4-12` hex digits not followed by an identifier character.
    fn guid(&mut self) -> Option<Tok> {
        const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
        let mut i = self.pos;
        for (n, len) in GROUPS.into_iter().enumerate() {
            if n > 0 {
                if self.at(i) != Some('-') {
                    return None;
                }
                i += 1;
            }
            if !(i..i + len).all(|j| self.at(j).is_some_and(|c| c.is_ascii_hexdigit())) {
                return None;
            }
            i += len;
        }
        if self.at(i).is_some_and(is_ident_continue) {
            return None;
        }
        let text: String = self.src[self.pos..i].iter().collect();
        self.pos = i;
        Some(Tok::Guid(text.to_ascii_lowercase()))
    }

    fn looks_like_date(&self) -> bool {
        let p = self.pos;
        self.digits_at(p, 4)
            && self.at(p + 4) == Some('-')
            && self.digits_at(p + 5, 2)
            && self.at(p + 7) == Some('-')
            && self.digits_at(p + 8, 2)
    }

    /// `YYYY-MM-DD`, optionally followed by `Thh:mm[:ss[.fff]]` and `Z` or `±hh:mm`.
    fn date_or_datetime(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        let year = self.number_at(start, 4);
        let month = self.number_at(start + 5, 2);
        let day = self.number_at(start + 8, 2);
        self.pos = start + 10;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(self.invalid_literal("date", start));
        }
        if !matches!(self.at(self.pos), Some('T' | 't')) {
            return Ok(Tok::Date(self.text_from(start)));
        }
        if self.time_of_day_with_offset() {
            Ok(Tok::DateTime(self.text_from(start)))
        } else {
            // Report everything that plausibly belongs to the literal.
            while self.at(self.pos).is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '+' | '-')) {
                self.pos += 1;
            }
            Err(self.invalid_literal("date-time", start))
        }
    }

    /// Consumes `Thh:mm[:ss[.fff]](Z|±hh:mm)` if valid; on failure `pos` is somewhere inside.
    fn time_of_day_with_offset(&mut self) -> bool {
        self.pos += 1; // 'T'
        if !self.hour_minute(23) {
            return false;
        }
        if self.at(self.pos) == Some(':') {
            if !self.digits_at(self.pos + 1, 2) || self.number_at(self.pos + 1, 2) > 59 {
                return false;
            }
            self.pos += 3;
            if self.at(self.pos) == Some('.') {
                self.pos += 1;
                let frac_start = self.pos;
                while self.at(self.pos).is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
                if !(1..=12).contains(&(self.pos - frac_start)) {
                    return false;
                }
            }
        }
        match self.at(self.pos) {
            Some('Z' | 'z') => {
                self.pos += 1;
            }
            Some('+' | '-') => {
                self.pos += 1;
                if !self.hour_minute(23) {
                    return false;
                }
            }
            _ => return false,
        }
        !self.at(self.pos).is_some_and(is_ident_continue)
    }

    /// Consumes `hh:mm` with `hh <= max_hour`.
    fn hour_minute(&mut self, max_hour: u32) -> bool {
        let p = self.pos;
        let ok = self.digits_at(p, 2)
            && self.at(p + 2) == Some(':')
            && self.digits_at(p + 3, 2)
            && self.number_at(p, 2) <= max_hour
            && self.number_at(p + 3, 2) <= 59;
        if ok {
            self.pos += 5;
        }
        ok
    }

    fn number(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        if self.at(self.pos) == Some('-') {
            self.pos += 1;
        }
        self.skip_digits();
        let mut is_decimal = false;
        if self.at(self.pos) == Some('.') && self.digits_at(self.pos + 1, 1) {
            is_decimal = true;
            self.pos += 1;
            self.skip_digits();
        }
        if matches!(self.at(self.pos), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.at(self.pos + 1), Some('+' | '-')));
            if self.digits_at(self.pos + 1 + sign, 1) {
                is_decimal = true;
                self.pos += 1 + sign;
                self.skip_digits();
            }
        }
        let text = self.text_from(start);
        if is_decimal {
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Tok::Decimal(v)),
                _ => Err(self.out_of_range("Decimal", start)),
            }
        } else {
            text.parse::<i64>().map(Tok::Int).map_err(|_| self.out_of_range("Integer", start))
        }
    }

    fn skip_digits(&mut self) {
        while self.at(self.pos).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    fn text_from(&self, start: usize) -> String {
        self.src[start..self.pos].iter().collect()
    }

    fn invalid_literal(&self, kind: &str, start: usize) -> ParseError {
        ParseError::new(
            format!("Invalid {kind} literal '{}' in {}", snippet(self.src, start, self.pos), self.option),
            start,
        )
    }

    fn out_of_range(&self, kind: &str, start: usize) -> ParseError {
        ParseError::new(
            format!("{kind} literal '{}' is out of range in {}", snippet(self.src, start, self.pos), self.option),
            start,
        )
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(s: &str) -> Result<Vec<Tok>, ParseError> {
        let chars: Vec<char> = s.chars().collect();
        tokenize(&chars, "$filter").map(|ts| ts.into_iter().map(|t| t.tok).collect())
    }

    #[test]
    fn literals() {
        assert_eq!(
            lex("12 -3 1.5 -2.0e10 2E3 'it''s'").unwrap(),
            vec![
                Tok::Int(12),
                Tok::Int(-3),
                Tok::Decimal(1.5),
                Tok::Decimal(-2.0e10),
                Tok::Decimal(2000.0),
                Tok::Str("it's".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn dates_and_guids() {
        assert_eq!(
            lex("2024-02-29 2024-01-01T10:00:00.123+01:00 2024-01-01T10:00Z").unwrap(),
            vec![
                Tok::Date("2024-02-29".into()),
                Tok::DateTime("2024-01-01T10:00:00.123+01:00".into()),
                Tok::DateTime("2024-01-01T10:00Z".into()),
                Tok::Eof
            ]
        );
        assert_eq!(
            lex("66F5A359-4659-4830-9070-00047EC6AC6E").unwrap(),
            vec![Tok::Guid("66f5a359-4659-4830-9070-00047ec6ac6e".into()), Tok::Eof]
        );
    }

    #[test]
    fn invalid_dates() {
        assert_eq!(lex("2023-02-29").unwrap_err().message, "Invalid date literal '2023-02-29' in $filter");
        assert_eq!(
            lex("a eq 2024-01-01T25:00:00Z").unwrap_err(),
            ParseError::new("Invalid date-time literal '2024-01-01T25:00:00Z' in $filter", 5)
        );
        assert_eq!(
            lex("2024-01-01T10:00:00").unwrap_err().message,
            "Invalid date-time literal '2024-01-01T10:00:00' in $filter"
        );
    }

    #[test]
    fn number_limits() {
        assert_eq!(lex("-9223372036854775808").unwrap(), vec![Tok::Int(i64::MIN), Tok::Eof]);
        assert_eq!(
            lex("9223372036854775808").unwrap_err().message,
            "Integer literal '9223372036854775808' is out of range in $filter"
        );
        assert_eq!(lex("1e999").unwrap_err().message, "Decimal literal '1e999' is out of range in $filter");
    }

    #[test]
    fn errors() {
        assert_eq!(lex("a eq 'abc").unwrap_err(), ParseError::new("Unterminated string literal in $filter", 5));
        assert_eq!(
            lex("a % b").unwrap_err().message,
            "Syntax error at position 2 in '$filter': unexpected character '%'"
        );
    }
}
