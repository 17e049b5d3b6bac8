//! Reads a file written by `torch.save` (the zip format of PyTorch ≥ 1.6: `archive/data.pkl` plus
//! one entry per tensor storage) without Python: the pickled object tree, its nested dictionaries as
//! JSON (configurations), and the tensors of a state dict. The unpickler is Candle's
//! (`candle_core::pickle`); this module adds navigation by key path, tensors at any depth and
//! errors that name the file and the key.

use crate::error::{Error, Result};
use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};
use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// A `torch.save` file held in memory: its object tree and the raw bytes of its storages.
pub struct TorchPickle {
    path: PathBuf,
    root: Object,
    /// The archive's folder prefix (`archive/` or the file stem PyTorch wrote).
    prefix: String,
    storages: BTreeMap<String, Vec<u8>>,
}

impl TorchPickle {
    /// Reads `path`; a file that is not a complete `torch.save` zip is an error naming it.
    pub fn open(path: &Path) -> Result<Self> {
        let bad = |m: String| Error::Input(format!("{}: not a readable PyTorch checkpoint: {m}", path.display()));
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut zip = zip::ZipArchive::new(BufReader::new(file))
            .map_err(|e| bad(format!("{e} (a truncated download, or not a torch.save zip file)")))?;
        let names: Vec<String> = zip
            .file_names()
            .map(|n| n.map(|n| n.into_owned()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let pkl = names.iter().find(|n| n.ends_with("data.pkl")).ok_or_else(|| bad("no data.pkl inside".into()))?;
        let prefix = pkl.trim_end_matches("data.pkl").to_owned();
        let mut storages = BTreeMap::new();
        let mut root = None;
        for name in &names {
            let mut entry = zip.by_name(name).map_err(|e| bad(format!("{name}: {e}")))?;
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes).map_err(|e| bad(format!("{name}: {e}")))?;
            if name == pkl {
                let mut stack = Stack::empty();
                stack.read_loop(&mut bytes.as_slice()).map_err(|e| bad(format!("{name}: {e}")))?;
                root = Some(stack.finalize().map_err(|e| bad(format!("{name}: {e}")))?);
            } else if let Some(key) = name.strip_prefix(&format!("{prefix}data/")) {
                storages.insert(key.to_owned(), bytes);
            }
        }
        let root = root.ok_or_else(|| bad("no data.pkl inside".into()))?;
        Ok(Self { path: path.to_path_buf(), root, prefix, storages })
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole pickled object.
    pub fn root(&self) -> &Object {
        &self.root
    }

    /// The object at `keys` (string keys of nested dictionaries), or an error naming the path.
    pub fn get(&self, keys: &[&str]) -> Result<&Object> {
        let mut object = &self.root;
        for (depth, key) in keys.iter().enumerate() {
            object = dict_get(object, key).ok_or_else(|| {
                Error::Input(format!(
                    "{}: no key `{}` in the checkpoint (keys there: {})",
                    self.path.display(),
                    keys[..=depth].join("."),
                    dict_keys(object).join(", ")
                ))
            })?;
        }
        Ok(object)
    }

    /// The object at `keys` as JSON ([`to_json`]).
    pub fn json(&self, keys: &[&str]) -> Result<serde_json::Value> {
        Ok(to_json(self.get(keys)?))
    }

    /// The tensors of the dictionary at `keys` (a state dict), by name, in their stored dtype;
    /// entries that are not tensors (`_metadata`, numbers) are skipped.
    pub fn tensors(&self, keys: &[&str]) -> Result<BTreeMap<String, Tensor>> {
        let Object::Dict(entries) = self.get(keys)? else {
            return Err(Error::Input(format!("{}: `{}` is not a dictionary", self.path.display(), keys.join("."))));
        };
        let mut out = BTreeMap::new();
        for (name, value) in entries {
            let Object::Unicode(name) = name else { continue };
            let info = value
                .clone()
                .into_tensor_info(Object::Unicode(name.clone()), Path::new(""))
                .map_err(|e| Error::Input(format!("{}: tensor `{name}`: {e}", self.path.display())))?;
            if let Some(info) = info {
                out.insert(
                    name.clone(),
                    self.load(&info)
                        .map_err(|e| Error::Input(format!("{}: tensor `{name}`: {e}", self.path.display())))?,
                );
            }
        }
        Ok(out)
    }

    fn load(&self, info: &candle_core::pickle::TensorInfo) -> std::result::Result<Tensor, String> {
        // `into_tensor_info` was given an empty folder: its path is `/<storage key>`.
        let key = info.path.trim_start_matches('/');
        let bytes = self
            .storages
            .get(key)
            .ok_or_else(|| format!("storage `{}data/{key}` missing from the archive", self.prefix))?;
        let size = info.dtype.size_in_bytes();
        let layout = &info.layout;
        let dims = layout.dims();
        let (start, stride) = (layout.start_offset(), layout.stride());
        // Any strides (e3nn keeps permuted Wigner 3j buffers): copy element by element, in
        // row-major order of the logical shape.
        let count: usize = dims.iter().product();
        let mut data = Vec::with_capacity(count * size);
        let mut index = vec![0usize; dims.len()];
        for _ in 0..count {
            let element = start + size * index.iter().zip(stride).map(|(i, s)| i * s).sum::<usize>();
            let bytes = bytes
                .get(element..element + size)
                .ok_or_else(|| format!("storage of {} bytes is too short for the tensor {dims:?}", bytes.len()))?;
            data.extend_from_slice(bytes);
            for d in (0..dims.len()).rev() {
                index[d] += 1;
                if index[d] < dims[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        Tensor::from_raw_buffer(&data, info.dtype, dims, &Device::Cpu).map_err(|e| e.to_string())
    }
}

/// The value under the string `key` of a pickled dictionary.
pub fn dict_get<'a>(object: &'a Object, key: &str) -> Option<&'a Object> {
    match object {
        Object::Dict(entries) => {
            entries.iter().find(|(k, _)| matches!(k, Object::Unicode(s) if s == key)).map(|(_, v)| v)
        }
        _ => None,
    }
}

fn dict_keys(object: &Object) -> Vec<String> {
    match object {
        Object::Dict(entries) => entries
            .iter()
            .filter_map(|(k, _)| match k {
                Object::Unicode(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => vec!["(not a dictionary)".into()],
    }
}

/// A pickled object as JSON: numbers, strings, booleans, `None` (null), lists and tuples (arrays),
/// dictionaries (objects; non-string keys written as JSON text). A class is `"module.name"`; a
/// constructed object (`REDUCE`/`BUILD`, e.g. a tensor) is `{"__object__": "module.name", "args":
/// …}`.
pub fn to_json(object: &Object) -> serde_json::Value {
    use serde_json::Value;
    match object {
        Object::Int(i) => Value::from(*i),
        Object::Long(i) => Value::from(*i),
        Object::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number).unwrap_or(Value::Null),
        Object::Unicode(s) => Value::String(s.clone()),
        Object::Bool(b) => Value::Bool(*b),
        Object::None | Object::Mark => Value::Null,
        Object::Tuple(items) | Object::List(items) => Value::Array(items.iter().map(to_json).collect()),
        Object::Dict(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Object::Unicode(s) => s.clone(),
                        other => to_json(other).to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Object::Class { module_name, class_name } => Value::String(format!("{module_name}.{class_name}")),
        Object::Reduce { callable, args } | Object::Build { callable, args } => {
            serde_json::json!({ "__object__": to_json(callable), "args": to_json(args) })
        }
        Object::PersistentLoad(inner) => serde_json::json!({ "__persistent__": to_json(inner) }),
    }
}

/// Converts every tensor to `dtype` (checkpoints store fp32; chemgnn stores what the model runs).
pub fn to_dtype(tensors: BTreeMap<String, Tensor>, dtype: DType) -> Result<BTreeMap<String, Tensor>> {
    tensors.into_iter().map(|(k, t)| Ok((k, t.to_dtype(dtype)?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_zip_names_itself() {
        let dir = std::env::temp_dir().join(format!("chemgnn-torch-pickle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("broken.pth");
        std::fs::write(&path, b"PK\x03\x04 truncated").unwrap();
        let err = TorchPickle::open(&path).err().unwrap().to_string();
        assert!(err.contains("broken.pth") && err.contains("not a readable PyTorch checkpoint"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
