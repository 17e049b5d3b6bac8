//! The CIF 1.1 tokenizer: comments, bare words, `'…'`/`"…"` strings, `;`-delimited text fields and
//! the reserved words `data_`, `loop_`, `global_`, `save_`, `stop_`.
//!
//! A quote that no quote followed by whitespace closes on its line is not CIF 1.1; pymatgen's
//! tokenizer skips the quote and reads the rest of the line as bare words, and so does this one,
//! with a warning.

use super::Warning;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `_name`: a data name (tag).
    Tag,
    /// A value: a bare word, a quoted string or a text field.
    Value,
    /// `loop_`.
    Loop,
    /// `data_NAME`: the text is NAME.
    Data,
    /// `global_`.
    Global,
    /// `save_NAME` (opens a save frame) or `save_` (closes it): the text is NAME.
    Save,
    /// `stop_`.
    Stop,
}

/// One token and the 1-based line it starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token<'a> {
    /// What it is.
    pub kind: Kind,
    /// The text: a value without its quotes or text-field delimiters, a tag as written, a block name.
    pub text: &'a str,
    /// Line of its first character.
    pub line: usize,
    /// True for a quoted string or a text field (so `'?'` is the text `?`, not a missing value).
    pub quoted: bool,
}

impl Token<'_> {
    /// True for the bare values `?` (unknown) and `.` (inapplicable).
    pub fn is_missing(&self) -> bool {
        self.kind == Kind::Value && !self.quoted && (self.text == "?" || self.text == ".")
    }
}

/// Splits `text` into tokens; `Err((line, message))` for an unterminated text field. An
/// unterminated quoted string adds a warning to `warnings` (see the module docs).
pub(super) fn tokenize<'a>(text: &'a str, warnings: &mut Vec<Warning>) -> Result<Vec<Token<'a>>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    let mut line = 1;
    while pos < bytes.len() {
        let c = bytes[pos];
        match c {
            b'\n' => {
                line += 1;
                pos += 1;
            }
            // Every ASCII whitespace byte separates tokens (also form feeds, which ended bare words
            // without being skipped here: an endless loop found by fuzzing).
            c if c.is_ascii_whitespace() => pos += 1,
            b'#' => {
                while pos < bytes.len() && bytes[pos] != b'\n' {
                    pos += 1;
                }
            }
            b';' if pos == 0 || bytes[pos - 1] == b'\n' => {
                let start = pos + 1;
                let Some(end) = text[start..].find("\n;").map(|k| start + k) else {
                    return Err((line, "unterminated text field: no line starting with ';' closes it".into()));
                };
                let body = &text[start..end];
                tokens.push(Token {
                    kind: Kind::Value,
                    text: body.strip_suffix('\r').unwrap_or(body),
                    line,
                    quoted: true,
                });
                line += text[start..end + 1].matches('\n').count();
                pos = end + 2;
            }
            b'\'' | b'"' => {
                // A quote closes the string only when followed by whitespace or the end of the text.
                let start = pos + 1;
                let mut end = start;
                let closed = loop {
                    match bytes.get(end) {
                        None | Some(b'\n') => break false,
                        Some(&b) if b == c && bytes.get(end + 1).is_none_or(|n| n.is_ascii_whitespace()) => break true,
                        Some(_) => end += 1,
                    }
                };
                if closed {
                    tokens.push(Token { kind: Kind::Value, text: &text[start..end], line, quoted: true });
                    pos = end + 1;
                } else {
                    let q = c as char;
                    warnings.push((
                        line,
                        format!(
                            "unterminated {q}…{q} string (a closing quote must be followed by a space or the end of \
                             the line): the quote is ignored and the rest of the line read as bare words, as pymatgen \
                             does"
                        ),
                    ));
                    pos = start;
                }
            }
            _ => {
                let start = pos;
                while pos < bytes.len() && !bytes[pos].is_ascii_whitespace() {
                    pos += 1;
                }
                let word = &text[start..pos];
                tokens.push(classify(word, line));
            }
        }
    }
    Ok(tokens)
}

/// A bare word: a tag, a reserved word or a value.
fn classify(word: &str, line: usize) -> Token<'_> {
    let lower_prefix = |p: &str| word.len() >= p.len() && word.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    let (kind, text) = if word.starts_with('_') {
        (Kind::Tag, word)
    } else if word.eq_ignore_ascii_case("loop_") {
        (Kind::Loop, word)
    } else if word.eq_ignore_ascii_case("global_") {
        (Kind::Global, word)
    } else if word.eq_ignore_ascii_case("stop_") {
        (Kind::Stop, word)
    } else if lower_prefix("data_") {
        (Kind::Data, &word[5..])
    } else if lower_prefix("save_") {
        (Kind::Save, &word[5..])
    } else {
        (Kind::Value, word)
    };
    Token { kind, text, line, quoted: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_every_kind() {
        let text = "#c\ndata_x # note\n_a 'it''s ok' _b \"q\"\nloop_ _c\n;line 1\nline 2\n;\n? . 5.0(1)\nsave_f save_ stop_ global_";
        let t = tokenize(text, &mut vec![]).unwrap();
        let kinds: Vec<(Kind, &str, usize)> = t.iter().map(|t| (t.kind, t.text, t.line)).collect();
        assert_eq!(
            kinds,
            vec![
                (Kind::Data, "x", 2),
                (Kind::Tag, "_a", 3),
                (Kind::Value, "it''s ok", 3),
                (Kind::Tag, "_b", 3),
                (Kind::Value, "q", 3),
                (Kind::Loop, "loop_", 4),
                (Kind::Tag, "_c", 4),
                (Kind::Value, "line 1\nline 2", 5),
                (Kind::Value, "?", 8),
                (Kind::Value, ".", 8),
                (Kind::Value, "5.0(1)", 8),
                (Kind::Save, "f", 9),
                (Kind::Save, "", 9),
                (Kind::Stop, "stop_", 9),
                (Kind::Global, "global_", 9),
            ]
        );
        assert!(t[8].is_missing() && t[9].is_missing() && !t[10].is_missing());
        assert!(!tokenize("_a '?'", &mut vec![]).unwrap()[1].is_missing());
    }

    #[test]
    fn form_feeds_separate_tokens() {
        // Fuzzing regression: a form feed after a word used to stop the tokenizer from advancing.
        let t = tokenize("data_x\n_a Na\x0c1+ 2\x0c", &mut vec![]).unwrap();
        assert_eq!(t.iter().map(|t| t.text).collect::<Vec<_>>(), vec!["x", "_a", "Na", "1+", "2"]);
    }

    #[test]
    fn unterminated_text_fields_name_their_line() {
        assert_eq!(tokenize("data_x\n\n_a\n;text\n", &mut vec![]).unwrap_err().0, 4);
    }

    #[test]
    fn unterminated_quotes_are_dropped_with_a_warning_as_pymatgen_does() {
        fn words(text: &str) -> (Vec<(&str, usize, bool)>, Vec<Warning>) {
            let mut warnings = vec![];
            let t = tokenize(text, &mut warnings).unwrap();
            (t.iter().map(|t| (t.text, t.line, t.quoted)).collect(), warnings)
        }
        // The quote is skipped; the rest of the line is bare words (quotes inside words kept).
        let (t, w) = words("data_x\n_a 'O'Brien, J.\n_b 'ok'\n");
        assert_eq!(t[2..5], [("O'Brien,", 2, false), ("J.", 2, false), ("_b", 3, false)]);
        assert_eq!(t[5], ("ok", 3, true));
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].0, 2);
        assert!(w[0].1.contains("unterminated '…' string") && w[0].1.contains("pymatgen"), "{}", w[0].1);
        // A string running over two lines: its second line is bare words, a lone quote nothing.
        let (t, w) = words("_a \"two\nlines\n\"\n");
        assert_eq!(t.iter().map(|t| t.0).collect::<Vec<_>>(), ["_a", "two", "lines"]);
        assert_eq!(w.iter().map(|w| w.0).collect::<Vec<_>>(), [1, 3]);
        // A quote inside a word does not close the string; one followed by a space does.
        assert_eq!(words("_a 'O'Brien'").0[1], ("O'Brien", 1, true));
        assert_eq!(words("_a 'it's' x").0[1], ("it's", 1, true));
    }
}
