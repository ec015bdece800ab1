//! `search_tools`: BM25 (k1 = 1.2, b = 0.75) over each tool's name, title, description and
//! parameter names. Names are split on `_`, `-`, `.`, `/` and camelCase humps and also kept
//! whole, so `get_current_time`, `current time` and `getCurrentTime` all find the same tool;
//! name tokens count twice (a match on the name beats one in a long description).

use std::collections::HashMap;

use serde_json::Value;

/// Splits text into lowercase search tokens.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        // camelCase humps
        let mut cur = String::new();
        let mut prev_lower = false;
        for c in word.chars() {
            if c.is_uppercase() && prev_lower && !cur.is_empty() {
                out.push(std::mem::take(&mut cur).to_lowercase());
            }
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
            cur.push(c);
        }
        if !cur.is_empty() {
            out.push(cur.to_lowercase());
        }
    }
    out
}

fn name_tokens(name: &str) -> Vec<String> {
    let mut t = tokenize(name);
    let whole = name.to_lowercase();
    if !t.contains(&whole) {
        t.push(whole);
    }
    t
}

/// One searchable document.
#[derive(Debug, Clone)]
pub struct Doc {
    terms: HashMap<String, f64>,
    len: f64,
}

impl Doc {
    /// Indexes a tool from its published name and its MCP JSON definition.
    pub fn new(name: &str, tool: &Value) -> Self {
        let mut terms: HashMap<String, f64> = HashMap::new();
        let mut len = 0.0;
        let mut add = |tokens: Vec<String>, weight: f64| {
            for t in tokens {
                *terms.entry(t).or_default() += weight;
                len += weight;
            }
        };
        add(name_tokens(name), 2.0);
        if let Some(upstream) = tool.get("name").and_then(Value::as_str)
            && upstream != name
        {
            add(name_tokens(upstream), 1.0);
        }
        if let Some(title) = tool.get("title").and_then(Value::as_str) {
            add(tokenize(title), 1.5);
        }
        if let Some(d) = tool.get("description").and_then(Value::as_str) {
            add(tokenize(d), 1.0);
        }
        if let Some(props) = tool
            .get("inputSchema")
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
        {
            for (param, schema) in props {
                add(name_tokens(param), 1.0);
                if let Some(d) = schema.get("description").and_then(Value::as_str) {
                    add(tokenize(d), 0.5);
                }
            }
        }
        Self { terms, len }
    }
}

/// BM25 scores of `query` against `docs`, best first, only documents that match at all.
pub fn rank(docs: &[Doc], query: &str, limit: usize) -> Vec<(usize, f64)> {
    const K1: f64 = 1.2;
    const B: f64 = 0.75;
    let mut q = tokenize(query);
    let whole = query.trim().to_lowercase();
    if !whole.is_empty() && !q.contains(&whole) {
        q.push(whole);
    }
    q.sort();
    q.dedup();
    if docs.is_empty() || q.is_empty() {
        return Vec::new();
    }
    let n = docs.len() as f64;
    let avg = docs.iter().map(|d| d.len).sum::<f64>() / n;
    let avg = if avg > 0.0 { avg } else { 1.0 };
    let idf: Vec<f64> = q
        .iter()
        .map(|t| {
            let df = docs.iter().filter(|d| d.terms.contains_key(t)).count() as f64;
            ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
        })
        .collect();
    let mut scored: Vec<(usize, f64)> = docs
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let mut s = 0.0;
            for (t, idf) in q.iter().zip(&idf) {
                if let Some(&tf) = d.terms.get(t) {
                    s += idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * d.len / avg));
                }
            }
            (s > 0.0).then_some((i, s))
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(limit);
    scored
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tokens_split_names_and_humps() {
        assert_eq!(tokenize("getCurrentTime"), ["get", "current", "time"]);
        assert_eq!(tokenize("get_current-time"), ["get", "current", "time"]);
        assert_eq!(tokenize("HTTPServer v2"), ["httpserver", "v2"]);
    }

    #[test]
    fn ranks_the_named_tool_first() {
        let mut docs = Vec::new();
        for i in 0..200 {
            docs.push(Doc::new(
                &format!("fx__tool_{i:03}"),
                &json!({"name": format!("tool_{i:03}"), "description": "Returns `text` unchanged.",
                        "inputSchema": {"properties": {"text": {}}}}),
            ));
        }
        docs.push(Doc::new(
            "time__get_current_time",
            &json!({"name": "get_current_time", "description": "Current time in a timezone",
                    "inputSchema": {"properties": {"timezone": {}}}}),
        ));
        assert_eq!(rank(&docs, "tool_137", 5)[0].0, 137);
        assert_eq!(rank(&docs, "what time is it", 5)[0].0, 200);
        assert_eq!(rank(&docs, "timezone", 5)[0].0, 200);
        assert!(rank(&docs, "zzzz", 5).is_empty());
    }
}
