//! Logging: one subscriber for the whole process, filtered by `RUST_LOG` (default `info`),
//! writing readable text or, with `LOG_FORMAT=json`, one JSON object a line.

use std::fmt;
use std::io::IsTerminal;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;

use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogFormat;

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTo {
    /// Standard output: the server's, where a container's logs are read.
    Stdout,
    /// Standard error: a one-shot command's, so that its standard output holds only its result
    /// (`send-reminders` prints one number) whatever `RUST_LOG` lets through.
    Stderr,
}

/// Installs the global text subscriber on standard output; later calls (as in tests) are
/// ignored, and so is a `RUST_LOG` that is not a filter.
pub fn init() {
    let _ = init_as(LogFormat::Text, LogTo::Stdout);
}

/// Installs the global subscriber in `format`, writing `to`; later calls are ignored. Log
/// records from libraries that use the `log` crate are captured too. A `RUST_LOG` that is set
/// but is not a filter is a mistake in configuration: the error names it (unset or empty:
/// `info`).
pub fn init_as(format: LogFormat, to: LogTo) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => {
            EnvFilter::try_new(&directives).map_err(|e| format!("RUST_LOG: {directives:?}: {e}"))?
        }
        _ => EnvFilter::new("info"),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // Colours only for a person at a terminal: in a file, a pipe or a log collector the escape
    // codes are noise around every level and field name.
    let colours = |terminal: bool| terminal && std::env::var_os("NO_COLOR").is_none();
    let _ = match (format, to) {
        (LogFormat::Text, LogTo::Stdout) => {
            builder.with_target(false).with_ansi(colours(std::io::stdout().is_terminal())).try_init()
        }
        (LogFormat::Text, LogTo::Stderr) => builder
            .with_target(false)
            .with_ansi(colours(std::io::stderr().is_terminal()))
            .with_writer(std::io::stderr)
            .try_init(),
        (LogFormat::Json, LogTo::Stdout) => builder.fmt_fields(JsonFields::new()).event_format(JsonLines).try_init(),
        (LogFormat::Json, LogTo::Stderr) => {
            builder.fmt_fields(JsonFields::new()).event_format(JsonLines).with_writer(std::io::stderr).try_init()
        }
    };
    Ok(())
}

/// Writes each event as one JSON object: `time` (RFC 3339, UTC), `level`, `target`, `message`,
/// `request_id` when the event happens inside a request's span, and `fields` (the event's
/// other fields, then those of its spans). A flat, fixed shape is what log collectors index
/// best; tracing-subscriber's own JSON nests the request id under `span`.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let metadata = event.metadata();
        let mut fields = FieldMap::default();
        event.record(&mut fields);
        let mut line = Map::new();
        line.insert("time".into(), chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true).into());
        line.insert("level".into(), metadata.level().as_str().into());
        // Records bridged from the `log` crate carry their real target as a field.
        let target = fields.0.remove("log.target").unwrap_or_else(|| metadata.target().into());
        line.insert("target".into(), target);
        line.insert("message".into(), fields.0.remove("message").unwrap_or_else(|| "".into()));
        fields.0.retain(|key, _| !key.starts_with("log."));
        // Span fields (innermost last), as JsonFields formatted them when the span was created.
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(formatted) = extensions.get::<FormattedFields<N>>() else { continue };
                let Ok(Value::Object(span_fields)) = serde_json::from_str::<Value>(formatted) else { continue };
                for (key, value) in span_fields {
                    if key == "request_id" {
                        line.insert(key, value);
                    } else {
                        fields.0.entry(key).or_insert(value);
                    }
                }
            }
        }
        line.insert("fields".into(), Value::Object(fields.0));
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// Collects an event's fields as JSON values.
#[derive(Default)]
struct FieldMap(Map<String, Value>);

impl Visit for FieldMap {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
}
