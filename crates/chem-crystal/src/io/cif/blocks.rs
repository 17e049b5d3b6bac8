//! CIF data blocks: the tokens grouped into `data_` blocks of single items and `loop_` tables.
//!
//! Tags are compared in lower case with `.` read as `_`, so the DDLm spellings
//! (`_atom_site.fract_x`) find the same columns as the CIF 1.1 ones (`_atom_site_fract_x`).
//! `global_` blocks and `save_` frames are read and ignored.
//!
//! Three quirks pymatgen's `CifBlock` accepts are read as it reads them, with a warning: a tag
//! given twice in one block (the last value wins, a whole loop column included), values without a
//! tag (ignored; e.g. the rest of an unterminated quoted string, see `tokens`), and a tag without a
//! value at the end of a block (ignored; e.g. Crystallographica's `_eof`).

use std::collections::HashMap;

use super::tokens::{Kind, Token};
use super::Warning;

/// A data block: its name, line, and where each tag's values are.
#[derive(Debug, Default)]
pub(super) struct Block<'a> {
    /// The name after `data_`.
    pub name: &'a str,
    /// Line of the `data_` header.
    pub line: usize,
    /// Values: every single item and every loop's values, in file order.
    values: Vec<Token<'a>>,
    /// Per normalised tag: its values' place in `values`, and the tag's line.
    index: HashMap<String, Column>,
    /// True for a `global_` block.
    global: bool,
}

/// Where a tag's values are: `count` values starting at `start`, every `stride`-th.
#[derive(Debug, Clone, Copy)]
struct Column {
    start: usize,
    stride: usize,
    count: usize,
    /// Line of the tag.
    line: usize,
    /// Which loop (1-based), or 0 for a single item.
    table: usize,
}

/// The values of one tag: one for a single item, one per row for a loop column.
#[derive(Debug, Clone)]
pub(super) struct Values<'b, 'a> {
    block: &'b Block<'a>,
    column: Column,
}

impl<'b, 'a> Values<'b, 'a> {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.column.count
    }

    /// The `k`-th value.
    pub fn get(&self, k: usize) -> &'b Token<'a> {
        &self.block.values[self.column.start + k * self.column.stride]
    }

    /// The values in order.
    pub fn iter(&self) -> impl Iterator<Item = &'b Token<'a>> + '_ {
        (0..self.len()).map(|k| self.get(k))
    }

    /// Line of the tag.
    pub fn tag_line(&self) -> usize {
        self.column.line
    }

    /// Which table the values come from (0: a single item, k: the k-th loop).
    pub fn table(&self) -> usize {
        self.column.table
    }
}

impl<'a> Block<'a> {
    /// The values of `tag` (any spelling, see the module docs), if the block has it.
    pub fn get<'b>(&'b self, tag: &str) -> Option<Values<'b, 'a>> {
        self.index.get(&normalize(tag)).map(|&column| Values { block: self, column })
    }

    /// True when some tag starts with `prefix` (normalised).
    pub fn has_prefix(&self, prefix: &str) -> bool {
        let prefix = normalize(prefix);
        self.index.keys().any(|k| k.starts_with(&prefix))
    }

    /// Adds `tag`'s column; a tag the block already has is replaced, with a warning.
    fn insert(&mut self, tag: &Token<'a>, column: Column, warnings: &mut Vec<Warning>) {
        if let Some(old) = self.index.insert(normalize(tag.text), column) {
            warnings.push((
                tag.line,
                format!(
                    "tag {} appears twice in data block '{}' (lines {} and {}): the last value is used, as pymatgen \
                     does",
                    tag.text, self.name, old.line, tag.line
                ),
            ));
        }
    }
}

/// `_Atom_Site.Fract_X` → `_atom_site_fract_x`.
fn normalize(tag: &str) -> String {
    tag.to_ascii_lowercase().replace('.', "_")
}

/// Groups `tokens` into data blocks (`global_` blocks left out); `Err((line, message))` for items
/// before the first block, tags without values, and loops whose value count is not a multiple of
/// their tag count. The quirks of the module docs add to `warnings`.
pub(super) fn blocks<'a>(tokens: &[Token<'a>], warnings: &mut Vec<Warning>) -> Result<Vec<Block<'a>>, (usize, String)> {
    let mut out: Vec<Block<'a>> = Vec::new();
    let mut current: Option<Block<'a>> = None;
    let mut save: Option<Block<'a>> = None;
    let mut loops = 0;
    let mut k = 0;
    while k < tokens.len() {
        let t = tokens[k];
        k += 1;
        match t.kind {
            Kind::Data | Kind::Global => {
                if let Some(b) = current.take() {
                    out.push(b);
                }
                if t.kind == Kind::Data && t.text.is_empty() {
                    return Err((t.line, "data_ without a block name".into()));
                }
                current =
                    Some(Block { name: t.text, line: t.line, global: t.kind == Kind::Global, ..Default::default() });
                save = None;
            }
            Kind::Save => {
                save = (!t.text.is_empty()).then(|| Block { name: t.text, line: t.line, ..Default::default() });
            }
            Kind::Stop => {}
            Kind::Value => {
                // In a block pymatgen warns ("Possible issue in CIF file at line") and reads on.
                if current.is_none() {
                    return Err((t.line, format!("value '{}' before the first data_ block", super::shown(t.text))));
                }
                let stray: Vec<&str> = std::iter::once(t.text)
                    .chain(tokens[k..].iter().take_while(|t| t.kind == Kind::Value).map(|t| t.text))
                    .collect();
                k += stray.len() - 1;
                warnings.push((t.line, stray_message(&stray)));
            }
            Kind::Tag | Kind::Loop => {
                let block = match (save.as_mut(), current.as_mut()) {
                    (Some(frame), _) => frame,
                    (None, Some(block)) => block,
                    (None, None) => {
                        return Err((t.line, format!("{} before the first data_ block", t.text)));
                    }
                };
                if t.kind == Kind::Tag {
                    let value = match tokens.get(k) {
                        Some(v) if v.kind == Kind::Value => *v,
                        // The block's last token (e.g. Crystallographica's `_eof`): pymatgen gives it
                        // an empty value.
                        None | Some(Token { kind: Kind::Data | Kind::Global, .. }) => {
                            let m = format!(
                                "tag {} ends the data block without a value: ignored, as pymatgen does",
                                t.text
                            );
                            warnings.push((t.line, m));
                            continue;
                        }
                        _ => return Err((t.line, format!("tag {} has no value", t.text))),
                    };
                    k += 1;
                    let column = Column { start: block.values.len(), stride: 1, count: 1, line: t.line, table: 0 };
                    block.values.push(value);
                    block.insert(&t, column, warnings);
                } else {
                    loops += 1;
                    let tags: Vec<Token<'a>> =
                        tokens[k..].iter().take_while(|t| t.kind == Kind::Tag).copied().collect();
                    k += tags.len();
                    if tags.is_empty() {
                        return Err((t.line, "loop_ without tags".into()));
                    }
                    let values: Vec<Token<'a>> =
                        tokens[k..].iter().take_while(|t| t.kind == Kind::Value).copied().collect();
                    k += values.len();
                    if !values.len().is_multiple_of(tags.len()) {
                        let last = values.last().map_or(t.line, |v| v.line);
                        return Err((
                            t.line,
                            format!(
                                "loop_ with {} tags ({} …) has {} values (up to line {last}), not a multiple of {}",
                                tags.len(),
                                tags[0].text,
                                values.len(),
                                tags.len()
                            ),
                        ));
                    }
                    let start = block.values.len();
                    let rows = values.len() / tags.len();
                    block.values.extend(values);
                    for (c, tag) in tags.iter().enumerate() {
                        let column =
                            Column { start: start + c, stride: tags.len(), count: rows, line: tag.line, table: loops };
                        block.insert(tag, column, warnings);
                    }
                }
            }
        }
    }
    out.extend(current);
    Ok(out.into_iter().filter(|b| !b.global).collect())
}

/// The warning for values without a tag: the first few, quoted.
fn stray_message(values: &[&str]) -> String {
    const SHOWN: usize = 6;
    let mut quoted: Vec<String> = values.iter().take(SHOWN).map(|v| format!("'{}'", super::shown(v))).collect();
    if values.len() > SHOWN {
        quoted.push(format!("… ({} in all)", values.len()));
    }
    format!("values without a tag ignored, as pymatgen does: {}", quoted.join(" "))
}

#[cfg(test)]
mod tests {
    use super::super::tokens::tokenize;
    use super::*;

    type Blocks<'a> = Result<Vec<Block<'a>>, (usize, String)>;

    /// The blocks of `text` and the warnings.
    fn read(text: &str) -> (Blocks<'_>, Vec<Warning>) {
        let mut warnings = vec![];
        let tokens = tokenize(text, &mut warnings).unwrap();
        (blocks(&tokens, &mut warnings), warnings)
    }

    #[test]
    fn items_and_loops() {
        let text = "data_a\n_cell.length_a 5.0\nloop_\n_x _Y\n1 2\n3 4\ndata_b\n_z ?\n";
        let (b, warnings) = read(text);
        let b = b.unwrap();
        assert!(warnings.is_empty());
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].get("_cell_length_a").unwrap().get(0).text, "5.0");
        let y = b[0].get("_y").unwrap();
        assert_eq!(y.iter().map(|t| t.text).collect::<Vec<_>>(), vec!["2", "4"]);
        assert_eq!((y.tag_line(), y.table(), y.get(1).line), (4, 1, 6));
        assert!(b[1].get("_z").unwrap().get(0).is_missing());
        assert!(b[0].has_prefix("_cell_"));
    }

    #[test]
    fn save_frames_and_global_blocks_are_ignored() {
        let b = read("global_\n_g 1\ndata_a\nsave_frame\n_s 1\nsave_\n_t 2\n").0.unwrap();
        assert_eq!(b.len(), 1);
        assert!(b[0].get("_s").is_none());
        assert!(b[0].get("_t").is_some());
    }

    #[test]
    fn repeated_tags_keep_the_last_value_with_a_warning() {
        let (b, warnings) = read("data_x\n_a 1\n_A 2\nloop_\n_b\n3\nloop_\n_c _b\n4 5\n6 7\n");
        let b = b.unwrap();
        assert_eq!(b[0].get("_a").unwrap().get(0).text, "2");
        let column = b[0].get("_b").unwrap();
        assert_eq!(column.iter().map(|t| t.text).collect::<Vec<_>>(), ["5", "7"]);
        assert_eq!(warnings.iter().map(|w| w.0).collect::<Vec<_>>(), [3, 8]);
        assert!(warnings[0].1.contains("tag _A appears twice in data block 'x' (lines 2 and 3)"), "{}", warnings[0].1);
    }

    #[test]
    fn values_without_tags_are_ignored_with_a_warning() {
        let (b, warnings) = read("data_x\n_a 1 2\n3\n_b 4\n");
        let b = b.unwrap();
        assert_eq!((b[0].get("_a").unwrap().get(0).text, b[0].get("_b").unwrap().get(0).text), ("1", "4"));
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].0, 2);
        assert!(
            warnings[0].1.ends_with("values without a tag ignored, as pymatgen does: '2' '3'"),
            "{}",
            warnings[0].1
        );
        let many = read("data_x\n_a 1 2 3 4 5 6 7 8\n").1;
        assert!(many[0].1.ends_with("'2' '3' '4' '5' '6' '7' … (7 in all)"), "{}", many[0].1);
    }

    #[test]
    fn malformed_structure_is_located() {
        let err = |t: &str| read(t).0.unwrap_err();
        assert_eq!(err("_a 1\n").0, 1);
        assert!(err("1\ndata_x\n").1.contains("value '1' before the first data_ block"));
        assert!(err("data_x\n_a\n_b 2").1.contains("tag _a has no value"));
        let (b, warnings) = read("data_x\n_a 1\n_eof\ndata_y\n_b 2\n_c\n");
        assert_eq!(b.unwrap().len(), 2);
        assert_eq!(warnings.iter().map(|w| w.0).collect::<Vec<_>>(), [3, 6]);
        assert!(warnings[0].1.contains("tag _eof ends the data block without a value"), "{}", warnings[0].1);
        let (line, m) = err("data_x\nloop_\n_a _b\n1 2\n3\n");
        assert_eq!(line, 2);
        assert!(m.contains("2 tags (_a …) has 3 values (up to line 5)"), "{m}");
        assert!(err("data_x\nloop_\n1\n").1.contains("loop_ without tags"));
    }
}
