//! JSON ⇄ Python objects. Out: `pythonize` of a value's canonical serde form. In: one strict
//! walk, so that only JSON gets through (no sets, bytes, non-finite floats, non-string keys or
//! cycles) and the error names where the bad value is.

use pyo3::{
    prelude::*,
    types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyMapping, PySequence, PyString},
};
use serde_json::{Map, Number, Value};

use crate::errors;

/// Nesting deeper than this is refused (it is almost certainly a cycle).
const MAX_DEPTH: usize = 256;

/// A value's canonical serde form as Python objects (dict, list, str, int, float, bool, None).
pub fn to_py<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    Ok(pythonize::pythonize(py, value)?)
}

/// A Python object as JSON. `None` is `null`; mappings need string keys; floats must be finite.
pub fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    walk(obj, 0, "")
}

/// Like [`to_json`], with `null` for an absent argument.
pub fn opt_to_json(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Value> {
    obj.map_or(Ok(Value::Null), to_json)
}

fn walk(obj: &Bound<'_, PyAny>, depth: usize, path: &str) -> PyResult<Value> {
    let bad = |what: &str| Err(errors::invalid_argument(format!("value{path}: {what}")));
    if depth > MAX_DEPTH {
        return bad(&format!("nested more than {MAX_DEPTH} levels deep"));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_owned()));
    }
    if obj.cast::<PyInt>().is_ok() {
        return match (obj.extract::<i64>(), obj.extract::<u64>()) {
            (Ok(i), _) => Ok(i.into()),
            (_, Ok(u)) => Ok(u.into()),
            _ => bad("integer too large for JSON"),
        };
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Number::from_f64(f.value()).map_or_else(
            || bad(&format!("{} is not valid JSON", f.value())),
            |n| Ok(n.into()),
        );
    }
    let items = if let Ok(d) = obj.cast::<PyDict>() {
        Some(d.items())
    } else if let Ok(m) = obj.cast::<PyMapping>() {
        Some(m.items()?)
    } else {
        None
    };
    if let Some(items) = items {
        let mut map = Map::with_capacity(items.len());
        for item in items.iter() {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            let Ok(key) = k.cast::<PyString>() else {
                return bad("object keys must be strings");
            };
            let key = key.to_str()?.to_owned();
            let value = walk(&v, depth + 1, &format!("{path}.{key}"))?;
            map.insert(key, value);
        }
        return Ok(Value::Object(map));
    }
    if obj.cast::<PySequence>().is_ok() && !obj.is_instance_of::<PyBytes>() {
        return obj
            .try_iter()?
            .enumerate()
            .map(|(i, v)| walk(&v?, depth + 1, &format!("{path}[{i}]")))
            .collect::<PyResult<_>>()
            .map(Value::Array);
    }
    let type_name = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    bad(&format!(
        "a {type_name} is not JSON (use dict, list, str, int, float, bool or None)"
    ))
}

/// The JSON object of the keyword arguments that were given (not `None`).
pub fn kwargs(fields: &[(&str, Option<&Bound<'_, PyAny>>)]) -> PyResult<Value> {
    let mut form = Map::new();
    for (key, value) in fields {
        if let Some(v) = value.filter(|v| !v.is_none()) {
            form.insert((*key).into(), to_json(v)?);
        }
    }
    Ok(Value::Object(form))
}
