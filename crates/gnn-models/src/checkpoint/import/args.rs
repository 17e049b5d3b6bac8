//! Python constructor keyword arguments (`ARGS.json`), read strictly: wrong types and unknown names
//! are errors naming the argument.

use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The keyword arguments of one constructor call.
pub struct Arguments<'a> {
    map: &'a Map<String, Value>,
    origin: &'a str,
    used: BTreeSet<&'static str>,
}

impl<'a> Arguments<'a> {
    /// Wraps a JSON object from `origin`.
    pub fn new(value: &'a Value, origin: &'a str) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Self { map, origin, used: BTreeSet::new() }),
            _ => Err(Error::config(origin, "constructor arguments must be a JSON object")),
        }
    }

    fn error(&self, name: &str, expected: &str) -> Error {
        Error::config(self.origin, format!("argument `{name}` must be {expected}, found {}", self.map[name]))
    }

    fn get(&mut self, name: &'static str) -> Option<&'a Value> {
        self.used.insert(name);
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// Whether the argument is given (and not `null`).
    pub fn has(&mut self, name: &'static str) -> bool {
        self.get(name).is_some()
    }

    /// A configuration error about these arguments.
    pub fn invalid(&self, message: impl Into<String>) -> Error {
        Error::config(self.origin, message)
    }

    /// A non-negative integer, or `default` when absent or `null`.
    pub fn usize(&mut self, name: &'static str, default: usize) -> Result<usize> {
        Ok(self.opt_usize(name)?.unwrap_or(default))
    }

    /// A non-negative integer, or `None` when absent or `null`.
    pub fn opt_usize(&mut self, name: &'static str) -> Result<Option<usize>> {
        self.get(name)
            .map(|v| v.as_u64().map(|u| u as usize).ok_or_else(|| self.error(name, "a non-negative integer")))
            .transpose()
    }

    /// A number, or `None` when absent or `null`.
    pub fn opt_f64(&mut self, name: &'static str) -> Result<Option<f64>> {
        self.get(name).map(|v| v.as_f64().ok_or_else(|| self.error(name, "a number"))).transpose()
    }

    /// A number, or `default`.
    pub fn f64(&mut self, name: &'static str, default: f64) -> Result<f64> {
        Ok(self.opt_f64(name)?.unwrap_or(default))
    }

    /// A boolean, or `default`.
    pub fn bool(&mut self, name: &'static str, default: bool) -> Result<bool> {
        self.get(name)
            .map(|v| v.as_bool().ok_or_else(|| self.error(name, "true or false")))
            .transpose()
            .map(|b| b.unwrap_or(default))
    }

    /// A string, or `default`.
    pub fn str(&mut self, name: &'static str, default: &'a str) -> Result<&'a str> {
        self.get(name)
            .map(|v| v.as_str().ok_or_else(|| self.error(name, "a string")))
            .transpose()
            .map(|s| s.unwrap_or(default))
    }

    /// A list of numbers, flattened (`[1, 2]` and `[[1], [2]]` both give `[1, 2]`), or `None`.
    pub fn opt_numbers(&mut self, name: &'static str) -> Result<Option<Vec<f64>>> {
        fn flatten(v: &Value, out: &mut Vec<f64>) -> bool {
            match v {
                Value::Number(n) => n.as_f64().map(|x| out.push(x)).is_some(),
                Value::Array(items) => items.iter().all(|i| flatten(i, out)),
                _ => false,
            }
        }
        let Some(v) = self.get(name) else { return Ok(None) };
        let mut out = Vec::new();
        if !v.is_array() || !flatten(v, &mut out) {
            return Err(self.error(name, "a list of numbers"));
        }
        Ok(Some(out))
    }

    /// Errors when the call has an argument no accessor asked for (listing all of them).
    pub fn finish(self) -> Result<()> {
        let unknown: Vec<&str> = self.map.keys().map(String::as_str).filter(|k| !self.used.contains(k)).collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let known: Vec<&str> = self.used.iter().copied().collect();
        Err(Error::config(
            self.origin,
            format!("unknown argument(s) {}; this model takes {}", unknown.join(", "), known.join(", ")),
        ))
    }
}
