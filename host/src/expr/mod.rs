//! Policy expressions: what computes an account's attributes, who gets an
//! account and which roles a person holds by birthright.
//!
//! The language is Jinja as minijinja implements it, in two forms:
//! *templates* (`"{{ first | lower }}.{{ last | lower }}"`) give text, and
//! *expressions* (`department == "Sales"`, `[first, last] | join(" ")`)
//! give any value. minijinja was chosen over CEL (the `cel-interpreter`
//! crate) because it has a per-evaluation instruction budget (`fuel`), a
//! recursion limit, string slicing (`last[:19]`) and templates in one
//! engine, which is what attribute mappings are written in; CEL has no
//! budget of its own and no templates. No evaluation reads the wall clock,
//! the environment or files: `now` is the plan's reference time, passed in.
//!
//! Every evaluation runs with [`FUEL`] instructions; one that runs out, or
//! fails, is an [`ExprError`] naming the expression and why. Sources are
//! compiled when the configuration loads, so a syntax error stops the load
//! naming the key, the line and the column.

mod dates;
mod functions;

pub use functions::normalize_diacritics;

use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Instructions one evaluation may execute (a mapping of a few filters
/// takes tens; a loop over a thousand roles a few thousand).
pub const FUEL: u64 = 50_000;

/// Nesting one evaluation may reach.
const RECURSION_LIMIT: usize = 64;

/// Bytes one evaluated value may have.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// The two forms a source takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Form {
    /// Text with `{{ … }}` in it; evaluates to a string.
    Template,
    /// One expression; evaluates to any value.
    Expression,
}

/// Why a source could not be compiled or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    pub message: String,
    /// 1-based line and column in the source, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The evaluation ran out of fuel.
    pub out_of_fuel: bool,
}

impl ExprError {
    fn from_minijinja(error: &minijinja::Error, source: &str) -> ExprError {
        ExprError::shifted(error, source, 0)
    }

    /// An error of an expression evaluated through its template
    /// ([`expression_template`]): positions on the first line count from
    /// the expression's start.
    fn from_wrapped(error: &minijinja::Error, text: &str) -> ExprError {
        ExprError::shifted(error, &expression_template(text), EXPRESSION_PREFIX)
    }

    /// The error, its position in `source` with `shift` characters taken
    /// off the first line's columns.
    fn shifted(error: &minijinja::Error, source: &str, shift: usize) -> ExprError {
        let (line, column) = match error.range() {
            Some(range) => {
                let (line, column) = position(source, range.start);
                let column = match line {
                    1 => column.saturating_sub(shift).max(1),
                    _ => column,
                };
                (Some(line), Some(column))
            }
            None => (error.line(), None),
        };
        let out_of_fuel = error.kind() == ErrorKind::OutOfFuel;
        let mut message = match error.detail() {
            Some(detail) => format!("{}: {detail}", error.kind()),
            None => error.kind().to_string(),
        };
        if out_of_fuel {
            message = format!("{message} (an evaluation may take {FUEL} instructions)");
        }
        if let (Some(line), Some(column)) = (line, column) {
            message = format!("{message} (line {line}, column {column})");
        } else if let Some(line) = line {
            message = format!("{message} (line {line})");
        }
        ExprError {
            message,
            line,
            column,
            out_of_fuel,
        }
    }

    pub fn from_message(message: impl Into<String>) -> ExprError {
        ExprError {
            message: message.into(),
            line: None,
            column: None,
            out_of_fuel: false,
        }
    }
}

/// 1-based line and column of a byte offset.
fn position(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Operator tables `lookup` reads: `[tables.<name>]` of key → value.
pub type Tables = BTreeMap<String, BTreeMap<String, String>>;

/// The compiled sources and the function library. Cheap to clone.
#[derive(Clone)]
pub struct Expressions {
    env: Arc<Environment<'static>>,
    /// Template sources compiled into `env`, by their text.
    templates: Arc<BTreeSet<String>>,
    /// Expression sources compiled into `env` (as the template that sets
    /// [`VALUE`] to them), by their text.
    expressions: Arc<BTreeSet<String>>,
    /// What each compiled source reads (see [`Expressions::inputs`]).
    inputs: Arc<HashMap<(Form, String), Vec<String>>>,
}

/// The variable an expression's template sets to its value.
const VALUE: &str = "__provisio_value__";

/// The name under which an expression's template is compiled: not a
/// template source anyone writes.
fn expression_name(text: &str) -> String {
    format!("\u{0}expression\u{0}{text}")
}

/// The template that evaluates expression `text` once compiled, so that a
/// planner evaluating it for every identity does not parse it each time;
/// [`EXPRESSION_PREFIX`] characters come before the expression.
fn expression_template(text: &str) -> String {
    format!("{{% set {VALUE} = ({text}) %}}")
}

const EXPRESSION_PREFIX: usize = "{% set ".len() + VALUE.len() + " = (".len();

/// What evaluations read, converted once for the expression engine: the
/// planner evaluates several sources over one identity.
pub struct Context {
    json: Json,
    value: minijinja::Value,
}

impl Context {
    pub fn new(json: Json) -> Context {
        let value = minijinja::Value::from_serialize(&json);
        Context { json, value }
    }

    /// The values as JSON (what an explanation shows of an input).
    pub fn json(&self) -> &Json {
        &self.json
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.json.fmt(f)
    }
}

impl std::fmt::Debug for Expressions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expressions")
            .field("templates", &self.templates.len())
            .finish()
    }
}

impl Expressions {
    /// An environment with the function library and these tables, the
    /// templates among `sources` compiled into it. Fails on the first
    /// source that does not compile, with its index.
    pub fn new<'a>(
        tables: &Tables,
        sources: impl IntoIterator<Item = (Form, &'a str)>,
    ) -> Result<Expressions, (usize, ExprError)> {
        let mut env = environment(tables);
        let mut templates = BTreeSet::new();
        let mut expressions = BTreeSet::new();
        for (i, (form, text)) in sources.into_iter().enumerate() {
            match form {
                Form::Template => {
                    if templates.insert(text.to_owned()) {
                        env.add_template_owned(text.to_owned(), text.to_owned())
                            .map_err(|e| (i, ExprError::from_minijinja(&e, text)))?;
                    }
                }
                Form::Expression => {
                    // Compiled on its own first, so that a syntax error
                    // names the line and column the operator wrote.
                    env.compile_expression(text)
                        .map_err(|e| (i, ExprError::from_minijinja(&e, text)))?;
                    if expressions.insert(text.to_owned()) {
                        env.add_template_owned(expression_name(text), expression_template(text))
                            .map_err(|e| (i, ExprError::from_minijinja(&e, text)))?;
                    }
                }
            }
        }
        let mut compiled = Expressions {
            env: Arc::new(env),
            templates: Arc::new(templates),
            expressions: Arc::new(expressions),
            inputs: Arc::new(HashMap::new()),
        };
        let mut inputs = HashMap::new();
        let sources = (compiled.templates.iter().map(|t| (Form::Template, t)))
            .chain(compiled.expressions.iter().map(|e| (Form::Expression, e)));
        for (form, text) in sources {
            inputs.insert((form, text.clone()), compiled.read_inputs(form, text));
        }
        compiled.inputs = Arc::new(inputs);
        Ok(compiled)
    }

    /// Evaluates `text` in `context`: a template gives a string, an
    /// expression any JSON value (an undefined result is `null`).
    pub fn evaluate(&self, form: Form, text: &str, context: &Json) -> Result<Json, ExprError> {
        self.evaluate_value(form, text, &minijinja::Value::from_serialize(context))
    }

    /// [`evaluate`](Self::evaluate) over a context converted once.
    pub fn evaluate_in(
        &self,
        form: Form,
        text: &str,
        context: &Context,
    ) -> Result<Json, ExprError> {
        self.evaluate_value(form, text, &context.value)
    }

    fn evaluate_value(
        &self,
        form: Form,
        text: &str,
        context: &minijinja::Value,
    ) -> Result<Json, ExprError> {
        let value = match form {
            Form::Template => {
                let rendered = if self.templates.contains(text) {
                    let template = self
                        .env
                        .get_template(text)
                        .map_err(|e| ExprError::from_minijinja(&e, text))?;
                    template.render(context)
                } else {
                    self.env.render_str(text, context)
                };
                Json::String(rendered.map_err(|e| ExprError::from_minijinja(&e, text))?)
            }
            Form::Expression => {
                let value = if self.expressions.contains(text) {
                    let template = self
                        .env
                        .get_template(&expression_name(text))
                        .map_err(|e| ExprError::from_minijinja(&e, text))?;
                    let captured = template
                        .render_captured(context)
                        .map_err(|e| ExprError::from_wrapped(&e, text))?;
                    captured.state().lookup(VALUE).unwrap_or_default()
                } else {
                    self.env
                        .compile_expression(text)
                        .map_err(|e| ExprError::from_minijinja(&e, text))?
                        .eval(context)
                        .map_err(|e| ExprError::from_minijinja(&e, text))?
                };
                if value.is_undefined() || value.is_none() {
                    Json::Null
                } else {
                    serde_json::to_value(&value).map_err(|e| {
                        ExprError::from_message(format!("the value is not data: {e}"))
                    })?
                }
            }
        };
        let size = match &value {
            Json::String(text) => text.len() + 2,
            other => serde_json::to_string(other).map_or(usize::MAX, |s| s.len()),
        };
        if size > MAX_VALUE_BYTES {
            return Err(ExprError::from_message(format!(
                "the value is {size} bytes, more than the {MAX_VALUE_BYTES} one may have"
            )));
        }
        Ok(value)
    }

    /// Whether an expression holds (a truthy result) in `context`.
    pub fn holds(&self, text: &str, context: &Json) -> Result<bool, ExprError> {
        Ok(truthy(&self.evaluate(Form::Expression, text, context)?))
    }

    /// [`holds`](Self::holds) over a context converted once.
    pub fn holds_in(&self, text: &str, context: &Context) -> Result<bool, ExprError> {
        Ok(truthy(&self.evaluate_in(
            Form::Expression,
            text,
            context,
        )?))
    }

    /// The variables a source reads (`profile.first`, `department`), for
    /// explaining a value by its inputs.
    pub fn inputs(&self, form: Form, text: &str) -> Vec<String> {
        match self.inputs.get(&(form, text.to_owned())) {
            Some(known) => known.clone(),
            None => self.read_inputs(form, text),
        }
    }

    fn read_inputs(&self, form: Form, text: &str) -> Vec<String> {
        let mut names: Vec<String> = match form {
            Form::Template => match self.env.template_from_str(text) {
                Ok(template) => template.undeclared_variables(true).into_iter().collect(),
                Err(_) => Vec::new(),
            },
            Form::Expression => match self.env.compile_expression(text) {
                Ok(expression) => expression.undeclared_variables(true).into_iter().collect(),
                Err(_) => Vec::new(),
            },
        };
        names.retain(|n| !functions::NAMES.contains(&n.split('.').next().unwrap_or(n)));
        names.sort();
        names
    }
}

/// A date (RFC 3339 or a calendar date) as the canonical text dates
/// compare by: RFC 3339 in UTC, whole seconds.
pub fn canonical_date(value: &str) -> Result<String, String> {
    dates::read(value, None)
        .map(dates::canonical)
        .map_err(|e| e.detail().unwrap_or("is not a date").to_owned())
}

/// A moment (Unix milliseconds) as canonical date text.
pub fn date_of_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .map(dates::canonical)
        .unwrap_or_default()
}

/// Canonical date text as Unix milliseconds.
pub fn ms_of_date(date: &str) -> Option<i64> {
    dates::read(date, None)
        .ok()
        .map(|at| (at.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Jinja's truth: false, none, 0, "" and empty lists and maps are false.
pub fn truthy(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
    }
}

fn environment(tables: &Tables) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    // A missing profile attribute is undefined (and renders as nothing),
    // so `is_present` and `coalesce` can test for it; reading through it
    // (`manager.name`) is undefined too rather than an error.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_keep_trailing_newline(false);
    // Nothing a policy writes is HTML.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    functions::register(&mut env, tables);
    env
}

#[cfg(test)]
mod tests;
