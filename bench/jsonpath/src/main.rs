//! Times the JSONPath crates baton could use on the same queries over a ~20 MB document.
//! Each query is parsed once and run many times, as baton does (parse at validation,
//! query per response).

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn document() -> Value {
    let items: Vec<Value> = (0..100_000)
        .map(|i| {
            json!({"id": i, "name": format!("item-{i}"), "price": i as f64 * 0.5,
                   "tags": ["a", "b", if i % 7 == 0 { "lucky" } else { "plain" }],
                   "owner": {"id": i % 97, "email": format!("u{}@example.test", i % 97)}})
        })
        .collect();
    json!({"data": {"access_token": "tok", "items": items}, "meta": {"count": 100_000}})
}

fn time(label: &str, runs: u32, mut f: impl FnMut() -> usize) -> Duration {
    let _ = f();
    let start = Instant::now();
    let mut hits = 0;
    for _ in 0..runs {
        hits += black_box(f());
    }
    let per = start.elapsed() / runs;
    println!("  {label:<16} {per:>12.3?} per query ({} hits)", hits / runs as usize);
    per
}

fn main() {
    let doc = document();
    let bytes = serde_json::to_vec(&doc).map(|v| v.len()).unwrap_or(0);
    println!("document: {:.1} MB", bytes as f64 / 1e6);
    let queries = [
        ("token", "$.data.access_token", 20_000),
        ("index", "$.data.items[500].name", 20_000),
        ("wildcard", "$.data.items[*].id", 20),
        ("filter", "$.data.items[?@.price > 49000].name", 20),
        ("descendant", "$..email", 5),
    ];
    for (name, q, runs) in queries {
        println!("{name}: {q}");
        let compiled = serde_json_path::JsonPath::parse(q).expect("serde_json_path parses");
        let a = time("serde_json_path", runs, || compiled.query(&doc).all().len());
        // Parsed once too, so only the query engines are compared.
        let parsed = jsonpath_rust::parser::parse_json_path(q).expect("jsonpath-rust parses");
        let b = time("jsonpath-rust", runs, || {
            jsonpath_rust::query::js_path_process(&parsed, &doc).map(|v| v.len()).unwrap_or(0)
        });
        println!("  ratio            {:.2}x", b.as_secs_f64() / a.as_secs_f64());
    }
}
