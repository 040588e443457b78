//! Python test tools (moto's S3 server, the Prometheus client's text parser) from a virtual
//! environment that `.ci/run` creates at `~/.cache/contacts-api/test-tools`, or from `PATH`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A program of the test tools' virtual environment when it exists, else the bare name (`PATH`).
pub(crate) fn program(name: &str) -> PathBuf {
    let venv = PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/contacts-api/test-tools/bin");
    let path = venv.join(name);
    if path.exists() { path } else { PathBuf::from(name) }
}

/// One sample of a Prometheus text exposition, as the reference parser read it.
#[derive(Debug, Clone, PartialEq)]
pub struct PromSample {
    /// The family (metric) it belongs to, as declared by `# TYPE` (counters without `_total`).
    pub family: String,
    /// The family's type: `counter`, `gauge`, `histogram`, …
    pub kind: String,
    /// The family's `# HELP` text.
    pub help: String,
    /// The sample's own name (`…_total`, `…_bucket`, `…_sum`, `…_count`).
    pub name: String,
    /// Its labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// The Prometheus client's reference parser, as a script reading the text on stdin.
const PARSER: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({"family": family.name, "kind": family.type, "doc": family.documentation,
                    "name": s.name, "labels": s.labels, "value": repr(float(s.value))})
print(json.dumps(out))
"#;

/// Parses `text` with `prometheus_client.parser` (the Prometheus project's Python client): a
/// strict parser of the text format, which handles label values holding `{` and `}` (route
/// patterns) that simpler Rust parsers get wrong. Panics on text it refuses.
pub fn parse_prometheus(text: &str) -> Vec<PromSample> {
    let mut child = Command::new(program("python3"))
        .args(["-c", PARSER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the parser refused the text: {}", String::from_utf8_lossy(&output.stderr));
    let parsed: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    parsed
        .into_iter()
        .map(|s| PromSample {
            family: s["family"].as_str().unwrap().to_owned(),
            kind: s["kind"].as_str().unwrap().to_owned(),
            help: s["doc"].as_str().unwrap().to_owned(),
            name: s["name"].as_str().unwrap().to_owned(),
            labels: serde_json::from_value(s["labels"].clone()).unwrap(),
            value: s["value"].as_str().unwrap().parse().unwrap(),
        })
        .collect()
}
