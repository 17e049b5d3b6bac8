//! Python literals (`repr` of dicts, lists, tuples, strings, numbers, `True`, `False`, `None`) as
//! JSON values: what `ast.literal_eval` accepts for pymatgen's `Structure.as_dict()` output.

use chem_graph::error::shown;
use serde_json::{Map, Number, Value};

/// Nesting deeper than this is refused (a structure dict needs 5 levels).
const MAX_DEPTH: usize = 32;

/// Parses `text` as one Python literal; the error names the 0-based character offset.
pub(crate) fn parse_python_literal(text: &str) -> Result<Value, String> {
    let mut p = Parser { chars: text.char_indices().collect(), pos: 0, depth: 0 };
    let value = p.value()?;
    p.skip_space();
    if p.pos < p.chars.len() {
        return Err(p.error("unexpected text after the literal"));
    }
    Ok(value)
}

struct Parser {
    chars: Vec<(usize, char)>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn error(&self, what: &str) -> String {
        let offset = self.chars.get(self.pos).map_or(self.chars.len(), |&(i, _)| i);
        format!("{what} at character {offset} of the Python literal")
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).map(|&(_, c)| c)
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.skip_space();
        match self.peek() {
            None => Err(self.error("expected a value, found the end")),
            Some('{') => self.nested(|p| p.dict()),
            Some('[') => self.nested(|p| p.sequence(']')),
            Some('(') => self.nested(|p| p.sequence(')')),
            Some('\'' | '"') => self.string().map(Value::String),
            Some('u' | 'U') if matches!(self.chars.get(self.pos + 1), Some((_, '\'' | '"'))) => {
                self.pos += 1;
                self.string().map(Value::String)
            }
            Some(c) if c.is_ascii_digit() || matches!(c, '-' | '+' | '.') => self.number(),
            Some(c) if c.is_alphabetic() => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().map(|&(_, c)| c).collect();
                match word.as_str() {
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    "None" => Ok(Value::Null),
                    _ => {
                        self.pos = start;
                        Err(self.error(&format!("unsupported name \"{word}\" (only True, False and None)")))
                    }
                }
            }
            Some(c) => Err(self.error(&format!("unexpected character '{c}'"))),
        }
    }

    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Result<Value, String>) -> Result<Value, String> {
        if self.depth == MAX_DEPTH {
            return Err(self.error(&format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        self.pos += 1;
        let v = f(self);
        self.depth -= 1;
        v
    }

    /// After `{`: `key: value` pairs with string keys, an optional trailing comma, `}`.
    fn dict(&mut self) -> Result<Value, String> {
        let mut map = Map::new();
        loop {
            self.skip_space();
            if self.peek() == Some('}') {
                self.pos += 1;
                return Ok(Value::Object(map));
            }
            let key = match self.value()? {
                Value::String(s) => s,
                _ => return Err(self.error("dict keys must be strings")),
            };
            self.skip_space();
            if self.peek() != Some(':') {
                return Err(self.error("expected ':' after a dict key"));
            }
            self.pos += 1;
            let value = self.value()?;
            map.insert(key, value);
            if !self.separator('}')? {
                self.pos += 1;
                return Ok(Value::Object(map));
            }
        }
    }

    /// After `[` or `(`: values, an optional trailing comma, `close`.
    fn sequence(&mut self, close: char) -> Result<Value, String> {
        let mut items = Vec::new();
        loop {
            self.skip_space();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value()?);
            if !self.separator(close)? {
                self.pos += 1;
                return Ok(Value::Array(items));
            }
        }
    }

    /// After an item: true after a comma (more may follow), false before `close` (not consumed).
    fn separator(&mut self, close: char) -> Result<bool, String> {
        self.skip_space();
        match self.peek() {
            Some(',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(c) if c == close => Ok(false),
            _ => Err(self.error(&format!("expected ',' or '{close}'"))),
        }
    }

    /// A single- or double-quoted string with Python's common escapes.
    fn string(&mut self) -> Result<String, String> {
        let quote = self.peek().unwrap_or('\'');
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            self.pos += 1;
            match c {
                _ if c == quote => return Ok(out),
                '\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.error("unterminated string"));
                    };
                    self.pos += 1;
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        '\\' | '\'' | '"' => out.push(e),
                        '\n' => {}
                        'x' | 'u' | 'U' => {
                            let width = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let digits: String =
                                self.chars.iter().skip(self.pos).take(width).map(|&(_, c)| c).collect();
                            let code = u32::from_str_radix(&digits, 16)
                                .ok()
                                .filter(|_| digits.len() == width)
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.error(&format!("bad \\{e} escape")))?;
                            self.pos += width;
                            out.push(code);
                        }
                        _ => {
                            out.push('\\');
                            out.push(e);
                        }
                    }
                }
                _ => out.push(c),
            }
        }
    }

    /// An integer or a finite float (`inf` and `nan` are not literals Python writes as numbers).
    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.' | '_')) {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().map(|&(_, c)| c).collect();
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        let digits_only = text.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
        match text.parse::<f64>().ok().filter(|x| digits_only && x.is_finite()).and_then(Number::from_f64) {
            Some(n) => Ok(Value::Number(n)),
            None => {
                let offset = self.chars.get(start).map_or(0, |&(i, _)| i);
                Err(format!("\"{}\" is not a number at character {offset} of the Python literal", shown(&text)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_pymatgen_reprs() {
        let v = parse_python_literal(
            "{'a': [1, -2.5e-3, (3, 4,)], u'b': True, \"c\": None, 'd': False, 'e': 'it\\'s', 'f': {}}",
        )
        .unwrap();
        assert_eq!(v, json!({"a": [1, -0.0025, [3, 4]], "b": true, "c": null, "d": false, "e": "it's", "f": {}}));
        assert_eq!(parse_python_literal("  'x\\n\\u00e9'  ").unwrap(), json!("x\né"));
    }

    #[test]
    fn refuses_malformed_literals_with_an_offset() {
        for (text, want) in [
            ("{'a': 1", "expected ',' or '}' at character 7"),
            ("{'a' 1}", "expected ':' after a dict key at character 5"),
            ("{1: 2}", "dict keys must be strings"),
            ("[1, 2] x", "unexpected text after the literal at character 7"),
            ("'abc", "unterminated string"),
            ("[nan]", "unsupported name \"nan\""),
            ("[1e999]", "\"1e999\" is not a number at character 1"),
            ("[1.2.3]", "\"1.2.3\" is not a number"),
            ("{'a': array([1])}", "unsupported name \"array\""),
            ("", "expected a value, found the end"),
        ] {
            let err = parse_python_literal(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(parse_python_literal(&deep).unwrap_err().contains("nesting deeper than 32"));
    }
}
