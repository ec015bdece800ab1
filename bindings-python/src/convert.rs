//! JSON ⇄ Python objects. JSON crosses the boundary as dict/list/str/int/float/bool/None, never
//! as text to re-parse.

use pyo3::{
    prelude::*,
    types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyMapping, PySequence, PyString, PyTuple},
};
use serde_json::{Map, Number, Value};

use crate::errors;

/// Nesting deeper than this is refused (it is almost certainly a cycle).
const MAX_DEPTH: usize = 256;

/// A Python object as JSON. `None` is `null`; mappings need string keys; floats must be finite.
pub fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    to_json_at(obj, 0, "")
}

/// Like [`to_json`], with `None` for an absent argument.
pub fn opt_to_json(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Value> {
    obj.map_or(Ok(Value::Null), to_json)
}

fn to_json_at(obj: &Bound<'_, PyAny>, depth: usize, path: &str) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(errors::invalid_argument(format!(
            "value{path}: nested more than {MAX_DEPTH} levels deep"
        )));
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
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(errors::invalid_argument(format!(
            "value{path}: integer too large for JSON"
        )));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| {
                errors::invalid_argument(format!("value{path}: {} is not valid JSON", f.value()))
            });
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key = key_of(&k, path)?;
            let value = to_json_at(&v, depth + 1, &format!("{path}.{key}"))?;
            map.insert(key, value);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .enumerate()
            .map(|(i, v)| to_json_at(&v, depth + 1, &format!("{path}[{i}]")))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .enumerate()
            .map(|(i, v)| to_json_at(&v, depth + 1, &format!("{path}[{i}]")))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if let Ok(m) = obj.cast::<PyMapping>() {
        let mut map = Map::new();
        for item in m.items()?.iter() {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            let key = key_of(&k, path)?;
            let value = to_json_at(&v, depth + 1, &format!("{path}.{key}"))?;
            map.insert(key, value);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(s) = obj.cast::<PySequence>()
        && !obj.is_instance_of::<pyo3::types::PyBytes>()
    {
        let len = s.len()?;
        let mut out = Vec::with_capacity(len);
        for i in 0..len {
            out.push(to_json_at(
                &s.get_item(i)?,
                depth + 1,
                &format!("{path}[{i}]"),
            )?);
        }
        return Ok(Value::Array(out));
    }
    let type_name = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    Err(errors::invalid_argument(format!(
        "value{path}: a {type_name} is not JSON (use dict, list, str, int, float, bool or None)"
    )))
}

fn key_of(k: &Bound<'_, PyAny>, path: &str) -> PyResult<String> {
    k.cast::<PyString>()
        .map_err(|_| errors::invalid_argument(format!("value{path}: object keys must be strings")))?
        .to_str()
        .map(str::to_owned)
}

/// JSON as Python objects.
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// JSON as an owned Python object (`None` for an absent value).
pub fn opt_to_py(py: Python<'_>, value: Option<&Value>) -> PyResult<Py<PyAny>> {
    match value {
        Some(v) => Ok(to_py(py, v)?.unbind()),
        None => Ok(py.None()),
    }
}
