//! Docker's `--format` Go templates.
//!
//! # Engine
//!
//! Templates are parsed and executed by [`gtmpl`] 0.7, a port of Go's
//! `text/template` (lexer, parser, pipelines, variables, `if`/`else if`/
//! `range`/`with`/`define`/`template`, `{{-`/`-}}` trim markers, comments,
//! `and`/`or`/`not`/`call`). It was chosen because it already implements
//! Go's template grammar and execution model, so only Go's *printing* and a
//! few built-ins have to be supplied; other Rust engines (Tera, Handlebars,
//! MiniJinja, ...) use a different syntax, and hand-writing an engine would
//! be more code to get right. Docker's functions (`json`, `split`, `join`,
//! `title`, `lower`, `upper`, `pad`, `truncate`) are registered on it, and
//! for table headers docker's `HeaderFunctions` (identity stubs of all of
//! them but `pad`).
//!
//! gtmpl falls short of Go in places; this module works around them without
//! touching gtmpl:
//!
//! * **Printing.** gtmpl prints values with Rust's `Debug` (`[String("a")]`),
//!   not Go's `%v` (`[a]`). Before gtmpl parses the text, every action that
//!   prints (not a keyword, not a variable declaration) gets a final
//!   `| __fmt` command, which renders the value as Go's fmt does: lists
//!   `[a b]`, maps `map[k:v]` with sorted keys, structs `{v1 v2}` in field
//!   order, floats like Go (`1e+06`), nil as `<no value>`. `print`,
//!   `println` and `printf` are replaced: gtmpl's `printf` mis-pads
//!   (`%03d`, `%5s`) and lacks `%g`, so `printf` is a Go `fmt.Sprintf`
//!   written here (flags, width, precision, `*`, `[n]`, `%!v(MISSING)`,
//!   `%!(EXTRA ...)`).
//! * **`range` over a map.** gtmpl walks a map in `HashMap` order; Go sorts
//!   the keys. `range` actions are rewritten to range over `__rv`, the values
//!   sorted by key; with a key variable (`$k, $v :=`) the map is first kept
//!   in a hidden variable and the key looked up per index with `__rk`.
//! * **Assignment.** gtmpl has no `$x = value`; it is rewritten to
//!   `$x := value` (see the deviations).
//! * **Built-ins.** `len` (maps), `index` (a missing key of a map of strings
//!   yields `""`, Go's zero value), `eq` (several operands; Go's type
//!   rules), `ne`/`lt`/`le`/`gt`/`ge`, and `urlquery` (`+` for spaces) are
//!   replaced; `slice`, `html` and `js`, which gtmpl lacks, are added.
//! * **Structs versus maps.** gtmpl values carry no field order, and gtmpl
//!   only errors on a missing field of an `Object`. Data is therefore not
//!   converted through `serde_json::Value` (which cannot tell a struct from
//!   a map) but by a small serde serializer producing gtmpl values directly:
//!   structs become [`Value::Object`], maps [`Value::Map`]. The field order
//!   (and Rust name) of each struct is recorded per set of field names in a
//!   thread-local registry that `json` and `%v` printing consult to keep
//!   declaration order, as Go does. A field left out by
//!   `skip_serializing_if` still exists (as `NoValue`, like Go where every
//!   field exists) and is left out of `json` (like `omitempty`).
//! * **Floats.** gtmpl_value turns integral floats into (saturated)
//!   integers and truncates negative ones, so such floats are carried as a
//!   tagged single-entry object that this module's printing, `json` and
//!   comparisons understand.
//! * **Errors.** Messages follow Go's: parse errors read
//!   `template: :LINE: msg` (unclosed actions are found here, gtmpl's line
//!   numbers are corrected), a missing struct field reads
//!   `can't evaluate field X in type T` (T is the Rust type name), a failing
//!   function `error calling F: ...`.
//!
//! Known deviations from Go: execution errors carry no position (`:1:5`)
//! or action text; the output written before an execution error is not
//! returned; `$x = v` inside a nested `range`/`if`/`with` declares a new
//! variable instead of changing the outer one; `break`/`continue` are not
//! supported; a nil value (`None`) prints `<no value>` where Go prints
//! `<nil>` for a nil pointer or `[]`/`map[]` for a nil slice or map; a
//! skipped field prints `<no value>` rather than its zero value; `len` of a
//! whole-number float is 1 instead of an error; a string literal ending in
//! an escaped backslash (`"a\\"`) is rejected by gtmpl's lexer; two
//! distinct structs with the same set of field names share one recorded
//! field order; `title`,
//! `upper` and `lower` use Rust's single-character case mappings, which may
//! differ from Go's for a few code points.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use gtmpl::error::ExecError;
use gtmpl::{Context, Func, FuncError, Value};
use gtmpl_value::Number;
use serde::Serialize;

/// An error parsing or executing a template; the message is Go-like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

/// A parsed Go template with docker's functions.
pub struct Template {
    /// The template text as given.
    text: String,
    /// The template with docker's functions, for rows.
    body: gtmpl::Template,
    /// The template with docker's header functions, for table headers.
    header: gtmpl::Template,
    /// When the template is only literal text and `{{.Field}}` actions (as
    /// docker's default table formats are), its pieces: rows whose fields
    /// are all strings are then rendered without running gtmpl.
    fields_only: Option<Vec<Piece>>,
}

/// A piece of a template made of literal text and `{{.Field}}` actions.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Literal text, printed as is.
    Text(String),
    /// `{{.Field}}`: the named field of the data.
    Field(String),
}

/// The pieces of `text` when it is made only of literal text and actions
/// of the exact form `{{.Name}}` (an identifier: no spaces, trim markers,
/// pipelines, functions, comments or nested fields); `None` otherwise.
fn fields_only(text: &str) -> Option<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Text(rest[..start].to_owned()));
        }
        let action = &rest[start + 2..];
        let end = action.find("}}")?;
        let name = action[..end].strip_prefix('.')?;
        let mut chars = name.chars();
        let identifier = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier {
            return None;
        }
        pieces.push(Piece::Field(name.to_owned()));
        rest = &action[end + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    Some(pieces)
}

/// Renders `pieces` on `data` when `data` is a struct and every field the
/// pieces name is a string there, which Go prints as it is; `None` when
/// gtmpl has to decide (a missing field is an error, other values have
/// their own printing).
fn render_fields(pieces: &[Piece], data: &Value) -> Option<String> {
    let Value::Object(fields) = data else {
        return None;
    };
    render_pieces(pieces, |name| match fields.get(name) {
        Some(Value::String(value)) => Some(value.as_str()),
        _ => None,
    })
}

/// Fills in `pieces` with the text `column` gives for each field; `None`
/// as soon as it gives none.
fn render_pieces<'a>(pieces: &[Piece], column: impl Fn(&str) -> Option<&'a str>) -> Option<String> {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Field(name) => out.push_str(column(name)?),
        }
    }
    Some(out)
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("text", &self.text)
            .finish_non_exhaustive()
    }
}

impl Template {
    /// Parses `text`; syntax errors (and unknown functions) are reported
    /// here, before anything runs.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        // The rewriting keeps lines and adds no syntax of its own that could
        // fail, so errors reported on the rewritten text fit the original.
        let rewritten = rewrite(text)?;
        let mut body = new_engine(docker_funcs());
        body.parse(rewritten.as_str())
            .map_err(|e| parse_error(&e))?;
        let mut header = new_engine(header_funcs());
        header
            .parse(rewritten.as_str())
            .map_err(|e| parse_error(&e))?;
        Ok(Template {
            text: text.to_owned(),
            body,
            header,
            fields_only: fields_only(text),
        })
    }

    /// Executes the template on `data` with docker's functions.
    pub fn render(&self, data: &impl Serialize) -> Result<String, TemplateError> {
        let Some(pieces) = &self.fields_only else {
            return execute(&self.body, data);
        };
        // A list of 1,000 images runs the table's template 1,000 times:
        // plain field substitution skips gtmpl's evaluation, which costs
        // more than the rest of `imgctl images` together.
        let value = to_value(data)?;
        match render_fields(pieces, &value) {
            Some(text) => Ok(text),
            None => self
                .body
                .render(&Context::from(value))
                .map_err(|e| exec_error(&e)),
        }
    }

    /// Executes the template on an engine's raw JSON the way docker's
    /// inspect fallback does (`missingkey=error` on data decoded into Go
    /// maps): objects print and iterate as maps with sorted keys, and a key
    /// that is missing from a non-empty object is an error naming the
    /// action and its position, `template: :1:2: executing "" at <.Nope>:
    /// map has no entry for key "Nope"`.
    pub fn render_raw(&self, data: &serde_json::Value) -> Result<String, TemplateError> {
        let value = raw_value(data)?;
        if let Some(pieces) = &self.fields_only {
            if let Some(text) = render_fields(pieces, &value) {
                return Ok(text);
            }
        }
        self.body
            .render(&Context::from(value))
            .map_err(|e| match &e {
                ExecError::NoFiledFor(field, Value::Object(map)) if is_raw_map(map) => {
                    missing_key_error(&self.text, field)
                }
                _ => exec_error(&e),
            })
    }

    /// Renders the template from the text of each field, without the
    /// template engine, when it is only literal text and `{{.Field}}`
    /// actions and `column` gives the text of every field it names (the
    /// text Go prints for that field, which for a string is the string);
    /// `None` otherwise, and then [`Template::render`] must run.
    pub fn render_columns<'a>(&self, column: impl Fn(&str) -> Option<&'a str>) -> Option<String> {
        render_pieces(self.fields_only.as_deref()?, column)
    }

    /// Executes the template on a table's header map (column name to
    /// header text) with docker's `HeaderFunctions`: `json`, `split`,
    /// `join`, `title`, `lower`, `upper` and `truncate` return their first
    /// argument unchanged; `pad` is not overridden.
    pub fn render_header(
        &self,
        headers: &BTreeMap<String, String>,
    ) -> Result<String, TemplateError> {
        execute(&self.header, headers)
    }
}

/// Runs `engine` on `data` converted to a gtmpl value.
fn execute(engine: &gtmpl::Template, data: &impl Serialize) -> Result<String, TemplateError> {
    let value = to_value(data)?;
    engine
        .render(&Context::from(value))
        .map_err(|e| exec_error(&e))
}

/// A gtmpl template with Go's built-ins, `funcs` and this module's
/// internal helpers registered.
fn new_engine(funcs: Vec<(&'static str, Func)>) -> gtmpl::Template {
    let mut engine = gtmpl::Template::default();
    let internal: [(&str, Func); 19] = [
        ("__fmt", f_fmt as Func),
        ("eq", f_eq),
        ("ne", f_ne),
        ("lt", f_lt),
        ("le", f_le),
        ("gt", f_gt),
        ("ge", f_ge),
        ("slice", f_slice),
        ("html", f_html),
        ("js", f_js),
        ("urlquery", f_urlquery),
        ("__rv", f_range_values),
        ("__rk", f_range_key),
        ("len", f_len),
        ("index", f_index),
        ("print", f_print),
        ("println", f_println),
        ("printf", f_printf),
        ("pad", f_pad),
    ];
    engine.add_funcs(&internal);
    engine.add_funcs(&funcs);
    engine
}

/// Docker's `basicFunctions`.
fn docker_funcs() -> Vec<(&'static str, Func)> {
    vec![
        ("json", f_json as Func),
        ("split", f_split),
        ("join", f_join),
        ("title", f_title),
        ("lower", f_lower),
        ("upper", f_upper),
        ("truncate", f_truncate),
    ]
}

/// Docker's `HeaderFunctions`: identity stubs (`pad` stays the real one).
fn header_funcs() -> Vec<(&'static str, Func)> {
    vec![
        ("json", h_json as Func),
        ("split", h_split),
        ("join", h_join),
        ("title", h_title),
        ("lower", h_lower),
        ("upper", h_upper),
        ("truncate", h_truncate),
    ]
}

/// Maps a gtmpl parse error to Go's `template: :LINE: message` form.
/// gtmpl counts lines from 2 (and by token); single-line templates, the
/// usual `--format`, get Go's `:1:`.
fn parse_error(err: &gtmpl::error::ParseError) -> TemplateError {
    match err {
        gtmpl::error::ParseError::WithContext(ctx, msg) => {
            let msg = match msg
                .strip_prefix("function ")
                .and_then(|m| m.strip_suffix(" not defined"))
            {
                Some(name) => format!("function \"{name}\" not defined"),
                None => msg.clone(),
            };
            TemplateError(format!(
                "template: :{}: {msg}",
                ctx.line.saturating_sub(1).max(1)
            ))
        }
        other => TemplateError(format!("template: :1: {other}")),
    }
}

/// Maps a gtmpl execution error to a Go-like message.
fn exec_error(err: &ExecError) -> TemplateError {
    match err {
        ExecError::NoFiledFor(field, receiver) => TemplateError(format!(
            "template: executing \"\" at <.{field}>: can't evaluate field {field} in type {}",
            go_type(receiver)
        )),
        other => TemplateError(format!("template: executing \"\": {other}")),
    }
}

// ---------------------------------------------------------------------------
// Rewriting of the template text (see the module documentation).
// ---------------------------------------------------------------------------

/// Keywords whose actions print nothing themselves.
const KEYWORDS: &[&str] = &[
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
];

/// One `{{...}}` action of the template text.
struct Action<'a> {
    /// `{{- ` trims the text before.
    left_trim: bool,
    /// The action's text between the delimiters and trim markers.
    body: &'a str,
    /// ` -}}` trims the text after.
    right_trim: bool,
}

/// Appends `| __fmt` to printing actions and rewrites `range` actions and
/// `$x = ...` assignments (which gtmpl lacks; they become declarations).
/// Reports unclosed actions and comments the way Go does.
fn rewrite(text: &str) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    let mut counter = 0usize;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match split_action(after) {
            Some((Some(action), consumed)) => {
                out.push_str(&rewrite_action(&action, &mut counter));
                rest = &after[consumed..];
            }
            Some((None, consumed)) => {
                // A comment: keep it verbatim.
                out.push_str(&rest[start..start + 2 + consumed]);
                rest = &after[consumed..];
            }
            None => {
                let line = 1 + text[..text.len() - rest.len() + start]
                    .matches('\n')
                    .count();
                let what = if after
                    .trim_start_matches('-')
                    .trim_start_matches(is_trim_space)
                    .starts_with("/*")
                {
                    "unclosed comment"
                } else {
                    "unclosed action"
                };
                return Err(TemplateError(format!("template: :{line}: {what}")));
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether `c` is a trim-marker space (Go's `isSpace`).
fn is_trim_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Splits the action starting right after `{{`. Returns the action (`None`
/// for a comment) and the number of bytes up to and including `}}`.
fn split_action(after: &str) -> Option<(Option<Action<'_>>, usize)> {
    let mut chars = after.chars();
    let left_trim = chars.next() == Some('-') && chars.next().is_some_and(is_trim_space);
    let inner_start = if left_trim { 1 } else { 0 };
    let inner = &after[inner_start..];
    if inner.trim_start_matches(is_trim_space).starts_with("/*") {
        let close = inner.find("*/")?;
        let end = inner[close..].find("}}")? + close;
        return Some((None, inner_start + end + 2));
    }
    let bytes = inner.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => {
                let content = &inner[..i];
                let right_trim =
                    content.ends_with('-') && content[..content.len() - 1].ends_with(is_trim_space);
                let body = if right_trim {
                    &content[..content.len() - 1]
                } else {
                    content
                };
                let action = Action {
                    left_trim,
                    body,
                    right_trim,
                };
                return Some((Some(action), inner_start + i + 2));
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The leading identifier of `s` (letters, digits, `_`).
fn leading_word(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Splits a leading `$variable` off `s`.
fn leading_variable(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix('$')?;
    let name_len = 1 + leading_word(rest).len();
    Some((&s[..name_len], &s[name_len..]))
}

/// Splits a leading `:=` or `=` (not `==`) off `s`.
fn leading_assign(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if let Some(rest) = s.strip_prefix(":=") {
        Some((":=", rest))
    } else if s.starts_with('=') && !s.starts_with("==") {
        Some(("=", &s[1..]))
    } else {
        None
    }
}

/// Rewrites one action.
fn rewrite_action(action: &Action<'_>, counter: &mut usize) -> String {
    let lt = if action.left_trim { "- " } else { "" };
    let rt = if action.right_trim { " -" } else { "" };
    let body = action.body.trim();
    let word = leading_word(body);
    if word == "range" {
        return rewrite_range(lt, &body[word.len()..], rt, counter);
    }
    let prints = if body.is_empty() || KEYWORDS.contains(&word) {
        false
    } else if let Some((var, rest)) = leading_variable(body) {
        match leading_assign(rest) {
            Some(("=", pipe)) => return format!("{{{{{lt}{var} :={pipe}{rt}}}}}"),
            Some(_) => false,
            None => true,
        }
    } else {
        true
    };
    if prints {
        format!("{{{{{lt}{body} | __fmt{rt}}}}}")
    } else {
        format!("{{{{{lt}{}{rt}}}}}", action.body)
    }
}

/// Rewrites a `range` action so that maps are walked in key order.
fn rewrite_range(lt: &str, rest: &str, rt: &str, counter: &mut usize) -> String {
    let trimmed = rest.trim_start();
    if let Some((first, after_first)) = leading_variable(trimmed) {
        let after_first = after_first.trim_start();
        if let Some(after_comma) = after_first.strip_prefix(',') {
            if let Some((second, after_second)) = leading_variable(after_comma.trim_start()) {
                if let Some((_, pipe)) = leading_assign(after_second) {
                    let op = ":=";
                    let n = *counter;
                    *counter += 1;
                    return format!(
                        "{{{{{lt}$__rm{n} := {pipe}}}}}\
                         {{{{range $__ri{n}, {second} {op} __rv $__rm{n}}}}}\
                         {{{{{first} {op} __rk $__rm{n} $__ri{n}{rt}}}}}"
                    );
                }
            }
        } else if let Some((_, pipe)) = leading_assign(after_first) {
            return format!("{{{{{lt}range {first} := {pipe} | __rv{rt}}}}}");
        }
    }
    if trimmed.is_empty() {
        return format!("{{{{{lt}range{rest}{rt}}}}}");
    }
    format!("{{{{{lt}range {trimmed} | __rv{rt}}}}}")
}

// ---------------------------------------------------------------------------
// Go-like printing.
// ---------------------------------------------------------------------------

/// Field order and Rust name of a serialized struct.
struct StructInfo {
    /// The Rust type name.
    name: &'static str,
    /// The serialized field names in declaration order.
    fields: Vec<String>,
}

thread_local! {
    /// Struct layouts seen by the serializer, by sorted field names.
    static STRUCTS: RefCell<HashMap<Vec<String>, StructInfo>> = RefCell::new(HashMap::new());
}

/// The sorted keys of a map, the registry's lookup key.
fn sorted_keys(map: &HashMap<String, Value>) -> Vec<String> {
    let mut keys: Vec<String> = map.keys().cloned().collect();
    keys.sort();
    keys
}

/// Records the layout of a struct.
fn register_struct(name: &'static str, fields: Vec<String>) {
    if fields.is_empty() {
        return;
    }
    let mut key = fields.clone();
    key.sort();
    STRUCTS.with(|s| {
        s.borrow_mut().insert(key, StructInfo { name, fields });
    });
}

/// The entries of an object in struct field order (sorted if unknown).
fn object_entries(map: &HashMap<String, Value>) -> Vec<(&String, &Value)> {
    if is_raw_map(map) {
        return map_entries(map);
    }
    let keys = sorted_keys(map);
    let order = STRUCTS.with(|s| s.borrow().get(&keys).map(|info| info.fields.clone()));
    let order = order.unwrap_or(keys);
    order
        .iter()
        .filter_map(|k| map.get_key_value(k.as_str()))
        .collect()
}

/// The entries of a map sorted by key, as Go prints and walks maps.
fn map_entries(map: &HashMap<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> =
        map.iter().filter(|(k, _)| *k != RAW_MAP_TAG).collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// Go's name for the type of a value, for error messages.
fn go_type(value: &Value) -> String {
    match value {
        Value::NoValue | Value::Nil => "<nil>".to_owned(),
        Value::Bool(_) => "bool".to_owned(),
        Value::String(_) => "string".to_owned(),
        Value::Number(n) if n.as_f64().is_some() => "float64".to_owned(),
        Value::Number(_) => "int".to_owned(),
        Value::Object(_) if as_float(value).is_some() => "float64".to_owned(),
        Value::Array(_) => "[]interface {}".to_owned(),
        Value::Map(_) => "map[string]interface {}".to_owned(),
        Value::Object(o) if is_raw_map(o) => "map[string]interface {}".to_owned(),
        Value::Object(o) => {
            let keys = sorted_keys(o);
            STRUCTS
                .with(|s| s.borrow().get(&keys).map(|info| info.name.to_owned()))
                .unwrap_or_else(|| "struct".to_owned())
        }
        Value::Function(_) => "func".to_owned(),
    }
}

/// The key of the single-entry object standing for a float that gtmpl's
/// `Number` cannot hold (see [`float_value`]).
const FLOAT_TAG: &str = "\u{0}float64";

/// The key that marks an [`Value::Object`] as one of the engine's raw JSON
/// objects (a Go `map[string]interface{}`): gtmpl errors on a missing field
/// of an object, which is `missingkey=error`, while printing, `len`,
/// `range` and `json` treat it as a map without this key.
const RAW_MAP_TAG: &str = "\u{0}map";

/// Whether `map` is a raw JSON object (see [`RAW_MAP_TAG`]).
fn is_raw_map(map: &HashMap<String, Value>) -> bool {
    map.contains_key(RAW_MAP_TAG)
}

/// Converts an engine's raw JSON to a gtmpl value: a non-empty object
/// becomes an [`Value::Object`] marked as a map, an empty one a
/// [`Value::Map`] (which is false in `if`, as Go's empty map).
fn raw_value(json: &serde_json::Value) -> Result<Value, TemplateError> {
    Ok(match json {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(_) => to_value(json)?,
        serde_json::Value::String(text) => Value::String(text.clone()),
        serde_json::Value::Array(items) => {
            Value::Array(items.iter().map(raw_value).collect::<Result<_, _>>()?)
        }
        serde_json::Value::Object(object) if object.is_empty() => Value::Map(HashMap::new()),
        serde_json::Value::Object(object) => {
            let mut map = HashMap::with_capacity(object.len() + 1);
            for (key, value) in object {
                map.insert(key.clone(), raw_value(value)?);
            }
            map.insert(RAW_MAP_TAG.to_owned(), Value::Bool(true));
            Value::Object(map)
        }
    })
}

/// Go's error for a missing key under `missingkey=error`: the first field
/// chain of `text` (`.A.B`, `$.A`, `$x.A`) that has `field` as a segment,
/// at the position Go's parser gives the chain.
fn missing_key_error(text: &str, field: &str) -> TemplateError {
    let mut found = None;
    let mut search = 0;
    while let Some(open) = text[search..].find("{{").map(|i| i + search) {
        let close = text[open..].find("}}").map_or(text.len(), |i| i + open);
        if let Some(chain) = field_chains(&text[open..close])
            .into_iter()
            .find(|(_, chain)| chain.split('.').skip(1).any(|segment| segment == field))
        {
            found = Some((open + chain.0, chain.1));
            break;
        }
        search = close;
    }
    let Some((start, chain)) = found else {
        return TemplateError(format!(
            "template: executing \"\": map has no entry for key {field:?}"
        ));
    };
    // Go's parser puts a chain at its first field after the head (`.B` of
    // `.A.B.C`, `.A` of `$.A`), a lone field at itself.
    let dots: Vec<usize> = chain.match_indices('.').map(|(i, _)| i).collect();
    let offset = match (chain.starts_with('$'), dots.as_slice()) {
        (true, [first, ..]) | (false, [first]) | (false, [_, first, ..]) => *first,
        _ => 0,
    };
    let last = start + offset;
    let line_start = text[..last].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..last].matches('\n').count() + 1;
    TemplateError(format!(
        "template: :{line}:{}: executing \"\" at <{chain}>: map has no entry for key {field:?}",
        last - line_start
    ))
}

/// The field chains of an action's text with their offsets: runs of
/// `.Name` segments, with the `$` or `$var` they start from.
fn field_chains(action: &str) -> Vec<(usize, String)> {
    let bytes = action.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut chains = Vec::new();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if b == b'\\' {
                i += 1;
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        let starts_chain = (b == b'.' || b == b'$') && (i == 0 || !is_ident(bytes[i - 1]));
        if !starts_chain {
            i += 1;
            continue;
        }
        let start = i;
        if b == b'$' {
            i += 1;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
        }
        let mut segments = 0;
        while i + 1 < bytes.len() && bytes[i] == b'.' && is_ident(bytes[i + 1]) {
            i += 1;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            segments += 1;
        }
        if segments > 0 {
            chains.push((start, action[start..i].to_owned()));
        } else {
            i = start + 1;
        }
    }
    chains
}

/// A gtmpl value for a float. gtmpl_value turns integral floats into
/// integers (saturating) and truncates negative ones, so those are kept as
/// a tagged single-entry object holding the float's text; zero becomes the
/// integer 0 so that it stays false in `if`.
fn float_value(f: f64) -> Value {
    if f == 0.0 {
        Value::from(0u64)
    } else if !f.is_finite() || f.fract() >= f64::EPSILON {
        Value::from(f)
    } else {
        Value::Object(HashMap::from([(
            FLOAT_TAG.to_owned(),
            Value::String(format!("{f:?}")),
        )]))
    }
}

/// The float in `value`, if it holds one (plain or tagged).
fn as_float(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Object(o) if o.len() == 1 => match o.get(FLOAT_TAG) {
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

/// Formats a float like Go's `%v`.
fn go_float(f: f64) -> String {
    fmt_float(f, 'v', &Spec::default()).unwrap_or_default()
}

/// Formats a number like Go's `%v`.
fn go_number(n: &Number) -> String {
    match n.as_f64() {
        Some(f) => go_float(f),
        None => n.to_string(),
    }
}

/// Formats a value like Go's `%v`. `top` is the value of an action itself,
/// where nil prints `<no value>`; nested nils print `<nil>`.
fn go_fmt(value: &Value, top: bool) -> String {
    let mut out = String::new();
    write_go(&mut out, value, top);
    out
}

/// Writes `value` like Go's `%v` to `out`.
fn write_go(out: &mut String, value: &Value, top: bool) {
    if let Value::Object(map) = value
        && is_raw_map(map)
    {
        return write_go(out, &Value::Map(map.clone()), top);
    }
    match value {
        Value::NoValue => out.push_str("<no value>"),
        Value::Nil => out.push_str(if top { "<no value>" } else { "<nil>" }),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) => out.push_str(s),
        Value::Number(n) => out.push_str(&go_number(n)),
        Value::Object(_) if as_float(value).is_some() => {
            out.push_str(&go_float(as_float(value).unwrap_or_default()));
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_go(out, item, false);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push_str("map[");
            for (i, (k, v)) in map_entries(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_go(out, v, false);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (_, v)) in object_entries(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_go(out, v, false);
            }
            out.push('}');
        }
        Value::Function(_) => out.push_str("<func>"),
    }
}

// ---------------------------------------------------------------------------
// JSON encoding like Go's encoding/json with SetEscapeHTML(false).
// ---------------------------------------------------------------------------

/// Writes `s` as a JSON string the way Go does without HTML escaping.
fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Formats a float like Go's encoding/json.
fn json_float(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err(format!("json: unsupported value: {}", go_float(f)));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let sci = format!("{f:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        Ok(format!("{mantissa}e{sign}{}", exp.abs()))
    } else {
        Ok(format!("{f}"))
    }
}

/// Writes `value` as JSON: maps with sorted keys, structs in field order.
fn write_json(out: &mut String, value: &Value) -> Result<(), String> {
    match value {
        Value::NoValue | Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) => write_json_string(out, s),
        Value::Number(n) => match n.as_f64() {
            Some(f) => out.push_str(&json_float(f)?),
            None => out.push_str(&n.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item)?;
            }
            out.push(']');
        }
        Value::Object(_) if as_float(value).is_some() => {
            out.push_str(&json_float(as_float(value).unwrap_or_default())?);
        }
        Value::Map(map) | Value::Object(map) => {
            let entries = if matches!(value, Value::Object(_)) {
                object_entries(map)
            } else {
                map_entries(map)
            };
            out.push('{');
            // Fields skipped by serde (`skip_serializing_if`) hold `NoValue`.
            let entries = entries
                .into_iter()
                .filter(|(_, v)| !matches!(v, Value::NoValue));
            for (i, (k, v)) in entries.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                write_json(out, v)?;
            }
            out.push('}');
        }
        Value::Function(_) => return Err("json: unsupported type: func".to_owned()),
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Template functions.
// ---------------------------------------------------------------------------

/// A function error with Go's `error calling NAME: ` prefix.
fn call_error(name: &str, msg: impl fmt::Display) -> FuncError {
    FuncError::Generic(format!("error calling {name}: {msg}"))
}

/// Checks the number of arguments like Go does.
fn want_args(name: &str, args: &[Value], want: usize) -> Result<(), FuncError> {
    if args.len() == want {
        Ok(())
    } else {
        Err(FuncError::Generic(format!(
            "wrong number of args for {name}: want {want} got {}",
            args.len()
        )))
    }
}

/// The string argument `value`, or Go's type error.
fn want_str(value: &Value) -> Result<&str, FuncError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(FuncError::Generic(format!(
            "wrong type for value; expected string; got {}",
            go_type(other)
        ))),
    }
}

/// The integer argument `value`, or Go's type error.
fn want_int(value: &Value) -> Result<i64, FuncError> {
    match value {
        Value::Number(n) if n.as_i64().is_some() => Ok(n.as_i64().unwrap_or(0)),
        other => Err(FuncError::Generic(format!(
            "wrong type for value; expected int; got {}",
            go_type(other)
        ))),
    }
}

/// Internal: prints a value like Go (appended to printing actions).
fn f_fmt(args: &[Value]) -> Result<Value, FuncError> {
    want_args("__fmt", args, 1)?;
    match &args[0] {
        Value::String(_) => Ok(args[0].clone()),
        other => Ok(Value::String(go_fmt(other, true))),
    }
}

/// Internal: what `range` walks: a list as is, a map's values by key.
fn f_range_values(args: &[Value]) -> Result<Value, FuncError> {
    want_args("range", args, 1)?;
    match &args[0] {
        Value::Array(_) => Ok(args[0].clone()),
        Value::Map(map) => Ok(Value::Array(
            map_entries(map)
                .into_iter()
                .map(|(_, v)| v.clone())
                .collect(),
        )),
        Value::Object(map) => Ok(Value::Array(
            object_entries(map)
                .into_iter()
                .map(|(_, v)| v.clone())
                .collect(),
        )),
        Value::Nil | Value::NoValue => Ok(Value::Array(Vec::new())),
        Value::Number(n) if n.as_i64().is_some() => {
            let count = n.as_i64().unwrap_or(0).max(0);
            Ok(Value::Array((0..count).map(Value::from).collect()))
        }
        other => Err(FuncError::Generic(format!(
            "range can't iterate over {}",
            go_fmt(other, false)
        ))),
    }
}

/// Internal: the key of `range` step `i` over `collection`.
fn f_range_key(args: &[Value]) -> Result<Value, FuncError> {
    want_args("range", args, 2)?;
    let i = want_int(&args[1])?;
    let pos = usize::try_from(i).unwrap_or(usize::MAX);
    let key = match &args[0] {
        Value::Map(map) => map_entries(map).get(pos).map(|(k, _)| (*k).clone()),
        Value::Object(map) => object_entries(map).get(pos).map(|(k, _)| (*k).clone()),
        _ => return Ok(args[1].clone()),
    };
    Ok(key.map_or(Value::NoValue, Value::String))
}

/// `json`: Go's `json.Marshal` without HTML escaping.
fn f_json(args: &[Value]) -> Result<Value, FuncError> {
    want_args("json", args, 1)?;
    let mut out = String::new();
    write_json(&mut out, &args[0]).map_err(|e| call_error("json", e))?;
    Ok(Value::String(out))
}

/// `split`: Go's `strings.Split`.
fn f_split(args: &[Value]) -> Result<Value, FuncError> {
    want_args("split", args, 2)?;
    let s = want_str(&args[0])?;
    let sep = want_str(&args[1])?;
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep).map(|p| Value::String(p.to_owned())).collect()
    };
    Ok(Value::Array(parts))
}

/// `join`: docker's `joinElements`; a map joins its values sorted as
/// strings, nil joins to the empty string.
fn f_join(args: &[Value]) -> Result<Value, FuncError> {
    want_args("join", args, 2)?;
    let sep = want_str(&args[1])?;
    let joined = match &args[0] {
        Value::Nil | Value::NoValue => String::new(),
        Value::Array(items) => items
            .iter()
            .map(|v| go_fmt(v, false))
            .collect::<Vec<_>>()
            .join(sep),
        Value::Map(map) | Value::Object(map) => {
            let mut values: Vec<String> = map
                .iter()
                .filter(|(k, _)| *k != RAW_MAP_TAG)
                .map(|(_, v)| go_fmt(v, false))
                .collect();
            values.sort();
            values.join(sep)
        }
        other => {
            return Err(call_error(
                "join",
                format!("expected slice, got {}", go_type(other)),
            ));
        }
    };
    Ok(Value::String(joined))
}

/// Maps each character with a case mapping, keeping characters whose
/// mapping is not a single character (Go's simple case mapping).
fn map_case<I: Iterator<Item = char>>(c: char, mapped: impl Fn(char) -> I) -> char {
    let mut it = mapped(c);
    match (it.next(), it.next()) {
        (Some(m), None) => m,
        _ => c,
    }
}

/// Go's `strings.Title` word separator test.
fn is_title_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphanumeric() {
        return false;
    }
    c.is_whitespace()
}

/// `title`: Go's `strings.Title`.
fn f_title(args: &[Value]) -> Result<Value, FuncError> {
    want_args("title", args, 1)?;
    let s = want_str(&args[0])?;
    let mut prev = ' ';
    let out: String = s
        .chars()
        .map(|c| {
            let mapped = if is_title_separator(prev) {
                map_case(c, char::to_uppercase)
            } else {
                c
            };
            prev = c;
            mapped
        })
        .collect();
    Ok(Value::String(out))
}

/// `lower`: Go's `strings.ToLower`.
fn f_lower(args: &[Value]) -> Result<Value, FuncError> {
    want_args("lower", args, 1)?;
    let s = want_str(&args[0])?;
    Ok(Value::String(
        s.chars().map(|c| map_case(c, char::to_lowercase)).collect(),
    ))
}

/// `upper`: Go's `strings.ToUpper`.
fn f_upper(args: &[Value]) -> Result<Value, FuncError> {
    want_args("upper", args, 1)?;
    let s = want_str(&args[0])?;
    Ok(Value::String(
        s.chars().map(|c| map_case(c, char::to_uppercase)).collect(),
    ))
}

/// `pad`: spaces before and after a non-empty string.
fn f_pad(args: &[Value]) -> Result<Value, FuncError> {
    want_args("pad", args, 3)?;
    let s = want_str(&args[0])?;
    let prefix = want_int(&args[1])?;
    let suffix = want_int(&args[2])?;
    if s.is_empty() {
        return Ok(Value::String(String::new()));
    }
    let (Ok(prefix), Ok(suffix)) = (usize::try_from(prefix), usize::try_from(suffix)) else {
        return Err(call_error("pad", "strings: negative Repeat count"));
    };
    Ok(Value::String(format!(
        "{}{s}{}",
        " ".repeat(prefix),
        " ".repeat(suffix)
    )))
}

/// `truncate`: the first `n` characters of a longer string.
fn f_truncate(args: &[Value]) -> Result<Value, FuncError> {
    want_args("truncate", args, 2)?;
    let s = want_str(&args[0])?;
    let n = usize::try_from(want_int(&args[1])?).unwrap_or(0);
    Ok(Value::String(s.chars().take(n).collect()))
}

/// `len`: Go's built-in, including maps.
fn f_len(args: &[Value]) -> Result<Value, FuncError> {
    want_args("len", args, 1)?;
    let n = match &args[0] {
        Value::String(s) => s.len(),
        Value::Array(a) => a.len(),
        Value::Map(m) | Value::Object(m) => m.len() - usize::from(is_raw_map(m)),
        Value::Nil | Value::NoValue => return Err(call_error("len", "len of nil pointer")),
        other => return Err(call_error("len", format!("len of type {}", go_type(other)))),
    };
    Ok(Value::from(n))
}

/// `index`: Go's built-in; a missing key of a map of strings yields `""`.
fn f_index(args: &[Value]) -> Result<Value, FuncError> {
    let Some((first, keys)) = args.split_first() else {
        return Err(FuncError::Generic(
            "wrong number of args for index: want at least 1 got 0".to_owned(),
        ));
    };
    let mut item = first.clone();
    for key in keys {
        item = match (&item, key) {
            (Value::Array(items), Value::Number(_)) => {
                let i = want_int(key)?;
                usize::try_from(i)
                    .ok()
                    .and_then(|i| items.get(i))
                    .cloned()
                    .ok_or_else(|| call_error("index", format!("index out of range: {i}")))?
            }
            (Value::String(s), Value::Number(_)) => {
                let i = want_int(key)?;
                usize::try_from(i)
                    .ok()
                    .and_then(|i| s.as_bytes().get(i))
                    .map(|b| Value::from(u64::from(*b)))
                    .ok_or_else(|| call_error("index", format!("index out of range: {i}")))?
            }
            (Value::Map(map) | Value::Object(map), Value::String(k)) => match map.get(k) {
                Some(v) => v.clone(),
                None if map.values().all(|v| matches!(v, Value::String(_))) => {
                    Value::String(String::new())
                }
                None => Value::NoValue,
            },
            (Value::Map(_) | Value::Object(_), other) => {
                return Err(call_error(
                    "index",
                    format!("value has type {}; should be string", go_type(other)),
                ));
            }
            (Value::Nil | Value::NoValue, _) => {
                return Err(call_error("index", "index of untyped nil"));
            }
            (Value::Array(_) | Value::String(_), other) => {
                return Err(call_error(
                    "index",
                    format!("cannot index slice/array with type {}", go_type(other)),
                ));
            }
            (other, _) => {
                return Err(call_error(
                    "index",
                    format!("can't index item of type {}", go_type(other)),
                ));
            }
        };
    }
    Ok(item)
}

/// A value reduced to the basic kinds Go's comparison functions accept.
#[derive(PartialEq, PartialOrd)]
enum Basic {
    /// nil.
    Nil,
    /// A bool.
    Bool(bool),
    /// Any integer.
    Int(i128),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
}

/// `value` as a [`Basic`], or Go's error for lists, maps and structs.
fn basic(name: &str, value: &Value) -> Result<Basic, FuncError> {
    if let Some(f) = as_float(value) {
        return Ok(Basic::Float(f));
    }
    match value {
        Value::Nil | Value::NoValue => Ok(Basic::Nil),
        Value::Bool(b) => Ok(Basic::Bool(*b)),
        Value::String(s) => Ok(Basic::Str(s.clone())),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Ok(Basic::Int(i128::from(i))),
            (None, Some(u)) => Ok(Basic::Int(i128::from(u))),
            (None, None) => Ok(Basic::Nil),
        },
        other => Err(call_error(
            name,
            format!("non-comparable type {}", go_type(other)),
        )),
    }
}

/// Compares two values like Go's `eq`/`lt` helpers.
fn compare(name: &str, a: &Value, b: &Value) -> Result<std::cmp::Ordering, FuncError> {
    let (a, b) = (basic(name, a)?, basic(name, b)?);
    let same_kind = std::mem::discriminant(&a) == std::mem::discriminant(&b);
    if !same_kind {
        return Err(call_error(name, "incompatible types for comparison"));
    }
    if name != "eq" && name != "ne" && matches!(a, Basic::Bool(_) | Basic::Nil) {
        return Err(call_error(name, "invalid type for comparison"));
    }
    a.partial_cmp(&b)
        .ok_or_else(|| call_error(name, "invalid type for comparison"))
}

/// `eq`: whether the first argument equals any of the others.
fn f_eq(args: &[Value]) -> Result<Value, FuncError> {
    let Some((first, rest)) = args.split_first().filter(|(_, r)| !r.is_empty()) else {
        return Err(call_error("eq", "missing argument for comparison"));
    };
    for other in rest {
        if compare("eq", first, other)? == std::cmp::Ordering::Equal {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

/// `ne`: whether the two arguments differ.
fn f_ne(args: &[Value]) -> Result<Value, FuncError> {
    want_args("ne", args, 2)?;
    Ok(Value::Bool(
        compare("ne", &args[0], &args[1])? != std::cmp::Ordering::Equal,
    ))
}

/// Runs an ordering comparison `name` accepting `ok` orderings.
fn ordered(name: &str, args: &[Value], ok: &[std::cmp::Ordering]) -> Result<Value, FuncError> {
    want_args(name, args, 2)?;
    Ok(Value::Bool(
        ok.contains(&compare(name, &args[0], &args[1])?),
    ))
}

/// `lt`.
fn f_lt(args: &[Value]) -> Result<Value, FuncError> {
    ordered("lt", args, &[std::cmp::Ordering::Less])
}

/// `le`.
fn f_le(args: &[Value]) -> Result<Value, FuncError> {
    ordered(
        "le",
        args,
        &[std::cmp::Ordering::Less, std::cmp::Ordering::Equal],
    )
}

/// `gt`.
fn f_gt(args: &[Value]) -> Result<Value, FuncError> {
    ordered("gt", args, &[std::cmp::Ordering::Greater])
}

/// `ge`.
fn f_ge(args: &[Value]) -> Result<Value, FuncError> {
    ordered(
        "ge",
        args,
        &[std::cmp::Ordering::Greater, std::cmp::Ordering::Equal],
    )
}

/// `slice`: Go's built-in on strings and lists (`slice x 1 2` is
/// `x[1:2]`).
fn f_slice(args: &[Value]) -> Result<Value, FuncError> {
    let Some((item, indexes)) = args.split_first() else {
        return Err(FuncError::Generic(
            "wrong number of args for slice: want at least 1 got 0".to_owned(),
        ));
    };
    let len = match item {
        Value::String(s) => s.len(),
        Value::Array(a) => a.len(),
        other => {
            return Err(call_error(
                "slice",
                format!("can't slice item of type {}", go_type(other)),
            ));
        }
    };
    if indexes.len() > 2 {
        return Err(call_error("slice", "too many slice indexes"));
    }
    let mut bounds = [0, len];
    for (i, index) in indexes.iter().enumerate() {
        let n = want_int(index)?;
        bounds[i] = usize::try_from(n)
            .ok()
            .filter(|n| *n <= len)
            .ok_or_else(|| call_error("slice", format!("index out of range: {n}")))?;
    }
    if bounds[0] > bounds[1] {
        return Err(call_error(
            "slice",
            format!("invalid slice index: {} > {}", bounds[0], bounds[1]),
        ));
    }
    Ok(match item {
        Value::String(s) => {
            Value::String(String::from_utf8_lossy(&s.as_bytes()[bounds[0]..bounds[1]]).into_owned())
        }
        Value::Array(a) => Value::Array(a[bounds[0]..bounds[1]].to_vec()),
        _ => Value::NoValue,
    })
}

/// The text the escaping functions work on: a single string argument, or
/// `fmt.Sprint` of the arguments.
fn escaper_text(args: &[Value]) -> String {
    match args {
        [Value::String(s)] => s.clone(),
        _ => match f_print(args) {
            Ok(Value::String(s)) => s,
            _ => String::new(),
        },
    }
}

/// `html`: Go's `template.HTMLEscapeString`.
fn f_html(args: &[Value]) -> Result<Value, FuncError> {
    let mut out = String::new();
    for c in escaper_text(args).chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    Ok(Value::String(out))
}

/// `js`: Go's `template.JSEscapeString`.
fn f_js(args: &[Value]) -> Result<Value, FuncError> {
    let mut out = String::new();
    for c in escaper_text(args).chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 || c.is_control() => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    Ok(Value::String(out))
}

/// `urlquery`: Go's `url.QueryEscape`.
fn f_urlquery(args: &[Value]) -> Result<Value, FuncError> {
    let mut out = String::new();
    for b in escaper_text(args).bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    Ok(Value::String(out))
}

/// `print`: Go's `fmt.Sprint`.
fn f_print(args: &[Value]) -> Result<Value, FuncError> {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_));
        if i > 0 && !is_string && !matches!(args[i - 1], Value::String(_)) {
            out.push(' ');
        }
        write_go(&mut out, arg, false);
    }
    Ok(Value::String(out))
}

/// `println`: Go's `fmt.Sprintln`.
fn f_println(args: &[Value]) -> Result<Value, FuncError> {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_go(&mut out, arg, false);
    }
    out.push('\n');
    Ok(Value::String(out))
}

/// `printf`: Go's `fmt.Sprintf` (gtmpl's mis-pads, e.g. `%03d`, `%5s`).
fn f_printf(args: &[Value]) -> Result<Value, FuncError> {
    let Some((format, rest)) = args.split_first() else {
        return Err(FuncError::Generic(
            "wrong number of args for printf: want at least 1 got 0".to_owned(),
        ));
    };
    Ok(Value::String(go_sprintf(want_str(format)?, rest)))
}

/// The flags, width and precision of one printf directive.
#[derive(Default, Clone, Copy)]
struct Spec {
    /// `+`: always print a sign.
    plus: bool,
    /// `-`: pad on the right.
    minus: bool,
    /// `#`: alternate format.
    sharp: bool,
    /// ` `: leave a space for the sign.
    space: bool,
    /// `0`: pad with leading zeros.
    zero: bool,
    /// The minimum width in characters.
    width: Option<usize>,
    /// The precision.
    prec: Option<usize>,
}

impl Spec {
    /// Pads `s` to the width with spaces (or zeros for `0`).
    fn pad(&self, s: &str) -> String {
        let len = s.chars().count();
        let Some(width) = self.width.filter(|w| *w > len) else {
            return s.to_owned();
        };
        let fill = width - len;
        if self.minus {
            format!("{s}{}", " ".repeat(fill))
        } else if self.zero {
            format!("{}{s}", "0".repeat(fill))
        } else {
            format!("{}{s}", " ".repeat(fill))
        }
    }

    /// Pads a number: zeros go between the sign and the digits.
    fn pad_number(&self, sign: &str, digits: &str) -> String {
        let len = sign.chars().count() + digits.chars().count();
        match self.width {
            Some(width) if self.zero && !self.minus && width > len => {
                format!("{sign}{}{digits}", "0".repeat(width - len))
            }
            _ => Spec {
                zero: false,
                ..*self
            }
            .pad(&format!("{sign}{digits}")),
        }
    }

    /// The sign to print for a number.
    fn sign(&self, negative: bool) -> &'static str {
        if negative {
            "-"
        } else if self.plus {
            "+"
        } else if self.space {
            " "
        } else {
            ""
        }
    }
}

/// Reads digits at `chars[*i..]`.
fn read_number(chars: &[char], i: &mut usize) -> Option<usize> {
    let start = *i;
    let mut n: usize = 0;
    while let Some(d) = chars.get(*i).and_then(|c| c.to_digit(10)) {
        n = n.saturating_mul(10).saturating_add(d as usize);
        *i += 1;
    }
    (*i > start).then_some(n)
}

/// Reads an explicit argument index `[n]` at `chars[*i..]`: `Some(Ok(n-1))`
/// when valid, `Some(Err(()))` when malformed.
fn read_arg_index(chars: &[char], i: &mut usize) -> Option<Result<usize, ()>> {
    if chars.get(*i) != Some(&'[') {
        return None;
    }
    *i += 1;
    let n = read_number(chars, i);
    if chars.get(*i) != Some(&']') {
        while *i < chars.len() && chars[*i] != ']' {
            *i += 1;
        }
        *i += 1;
        return Some(Err(()));
    }
    *i += 1;
    Some(n.filter(|n| *n > 0).map(|n| n - 1).ok_or(()))
}

/// Go's `fmt.Sprintf` on gtmpl values.
fn go_sprintf(format: &str, args: &[Value]) -> String {
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut arg = 0usize;
    let mut reordered = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.get(i) {
            match f {
                '+' => spec.plus = true,
                '-' => spec.minus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        let mut bad_index = false;
        let mut take_index = |i: &mut usize, arg: &mut usize, reordered: &mut bool| {
            match read_arg_index(&chars, i) {
                Some(Ok(n)) => {
                    *arg = n;
                    *reordered = true;
                }
                Some(Err(())) => bad_index = true,
                None => {}
            }
        };
        take_index(&mut i, &mut arg, &mut reordered);
        if chars.get(i) == Some(&'*') {
            i += 1;
            match args.get(arg).and_then(value_int) {
                Some(w) => {
                    spec.minus |= w < 0;
                    spec.width = usize::try_from(w.unsigned_abs()).ok();
                }
                None => out.push_str("%!(BADWIDTH)"),
            }
            arg += 1;
        } else {
            spec.width = read_number(&chars, &mut i);
        }
        if chars.get(i) == Some(&'.') {
            i += 1;
            take_index(&mut i, &mut arg, &mut reordered);
            if chars.get(i) == Some(&'*') {
                i += 1;
                match args.get(arg).and_then(value_int) {
                    Some(p) if p >= 0 => spec.prec = usize::try_from(p).ok(),
                    _ => out.push_str("%!(BADPREC)"),
                }
                arg += 1;
            } else {
                spec.prec = Some(read_number(&chars, &mut i).unwrap_or(0));
            }
        }
        take_index(&mut i, &mut arg, &mut reordered);
        let Some(&verb) = chars.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
        } else if bad_index {
            out.push_str(&format!("%!{verb}(BADINDEX)"));
        } else if let Some(value) = args.get(arg) {
            fmt_verb(&mut out, value, verb, &spec);
            arg += 1;
        } else {
            out.push_str(&format!("%!{verb}(MISSING)"));
        }
    }
    if !reordered && arg < args.len() {
        let extra: Vec<String> = args[arg..]
            .iter()
            .map(|v| match v {
                Value::Nil | Value::NoValue => "<nil>".to_owned(),
                v => format!("{}={}", go_type(v), go_fmt(v, false)),
            })
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

/// The integer in `value`, if it is one that fits an `i64`.
fn value_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Writes Go's `%!verb(type=value)` for a verb that does not fit.
fn bad_verb(out: &mut String, value: &Value, verb: char) {
    match value {
        Value::Nil | Value::NoValue => out.push_str(&format!("%!{verb}(<nil>)")),
        v => out.push_str(&format!("%!{verb}({}={})", go_type(v), go_fmt(v, false))),
    }
}

/// Formats one printf operand.
fn fmt_verb(out: &mut String, value: &Value, verb: char, spec: &Spec) {
    if let Value::Object(map) = value
        && is_raw_map(map)
    {
        return fmt_verb(out, &Value::Map(map.clone()), verb, spec);
    }
    if verb == 'T' {
        out.push_str(&spec.pad(&go_type(value)));
        return;
    }
    if let Some(f) = as_float(value) {
        match fmt_float(f, verb, spec) {
            Some(s) => out.push_str(&s),
            None => bad_verb(out, value, verb),
        }
        return;
    }
    match value {
        Value::Nil | Value::NoValue if verb == 'v' => out.push_str(&spec.pad("<nil>")),
        Value::Bool(b) if matches!(verb, 'v' | 't') => {
            out.push_str(&spec.pad(if *b { "true" } else { "false" }));
        }
        Value::Number(n) => {
            let (negative, magnitude) = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => (false, u),
                (None, Some(i)) => (true, i.unsigned_abs()),
                (None, None) => (false, 0),
            };
            match fmt_int(negative, magnitude, verb, spec) {
                Some(s) => out.push_str(&s),
                None => bad_verb(out, value, verb),
            }
        }
        Value::String(s) => match verb {
            'v' | 's' => {
                let s: String = match spec.prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.clone(),
                };
                out.push_str(&spec.pad(&s));
            }
            'q' => out.push_str(&spec.pad(&go_quote(s))),
            'x' => out.push_str(&spec.pad(&hex_bytes(s.as_bytes(), false))),
            'X' => out.push_str(&spec.pad(&hex_bytes(s.as_bytes(), true))),
            _ => bad_verb(out, value, verb),
        },
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                fmt_verb(out, item, verb, spec);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push_str("map[");
            for (i, (k, v)) in map_entries(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                fmt_verb(out, &Value::String(k.clone()), verb, spec);
                out.push(':');
                fmt_verb(out, v, verb, spec);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (_, v)) in object_entries(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                fmt_verb(out, v, verb, spec);
            }
            out.push('}');
        }
        _ => bad_verb(out, value, verb),
    }
}

/// Lower- or upper-case hex of bytes.
fn hex_bytes(bytes: &[u8], upper: bool) -> String {
    bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

/// Go's `strconv.Quote`.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Formats an integer for an integer verb; `None` for other verbs.
fn fmt_int(negative: bool, magnitude: u64, verb: char, spec: &Spec) -> Option<String> {
    let (mut digits, prefix) = match verb {
        'v' | 'd' => (magnitude.to_string(), ""),
        'b' => (format!("{magnitude:b}"), if spec.sharp { "0b" } else { "" }),
        'o' => (format!("{magnitude:o}"), if spec.sharp { "0" } else { "" }),
        'O' => (format!("{magnitude:o}"), "0o"),
        'x' => (format!("{magnitude:x}"), if spec.sharp { "0x" } else { "" }),
        'X' => (format!("{magnitude:X}"), if spec.sharp { "0X" } else { "" }),
        'c' => {
            let c = u32::try_from(magnitude)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            return Some(spec.pad(&c.to_string()));
        }
        'q' => {
            let c = u32::try_from(magnitude)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}');
            let quoted = go_quote(&c.to_string());
            let inner = &quoted[1..quoted.len() - 1];
            let inner = if c == '"' { "\"" } else { inner };
            let inner = if c == '\'' { "\\'" } else { inner };
            return Some(spec.pad(&format!("'{inner}'")));
        }
        'U' => return Some(spec.pad(&format!("U+{magnitude:04X}"))),
        _ => return None,
    };
    if let Some(p) = spec.prec {
        if p == 0 && magnitude == 0 {
            digits.clear();
        } else if digits.len() < p {
            digits = format!("{}{digits}", "0".repeat(p - digits.len()));
        }
        let spec = Spec {
            zero: false,
            ..*spec
        };
        return Some(spec.pad_number(spec.sign(negative), &format!("{prefix}{digits}")));
    }
    let sign = format!("{}{prefix}", spec.sign(negative));
    Some(spec.pad_number(&sign, &digits))
}

/// The decimal digits (without trailing zeros) and exponent of `f`,
/// rounded to `sig` significant digits or shortest when `None`.
fn float_digits(f: f64, sig: Option<usize>) -> (String, i32) {
    let sci = match sig {
        Some(p) => format!("{:.*e}", p.max(1) - 1, f.abs()),
        None => format!("{:e}", f.abs()),
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    (digits.to_owned(), exp.parse().unwrap_or(0))
}

/// Go's `%e` exponent suffix: a sign and at least two digits.
fn exp_suffix(e: char, exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{e}{sign}{:02}", exp.abs())
}

/// Formats `f` for a float verb; `None` for other verbs.
fn fmt_float(f: f64, verb: char, spec: &Spec) -> Option<String> {
    if !matches!(verb, 'v' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G') {
        return None;
    }
    if !f.is_finite() {
        let text = if f.is_nan() {
            if spec.plus { "+NaN" } else { "NaN" }
        } else if f < 0.0 {
            "-Inf"
        } else if spec.plus || verb == 'v' {
            "+Inf"
        } else {
            "Inf"
        };
        return Some(
            Spec {
                zero: false,
                ..*spec
            }
            .pad(text),
        );
    }
    let negative = f.is_sign_negative();
    let body = match verb {
        'e' | 'E' => {
            let p = spec.prec.unwrap_or(6);
            let sci = format!("{:.*e}", p, f.abs());
            let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
            let e = if verb == 'E' { 'E' } else { 'e' };
            format!("{mantissa}{}", exp_suffix(e, exp.parse().unwrap_or(0)))
        }
        'f' | 'F' => format!("{:.*}", spec.prec.unwrap_or(6), f.abs()),
        _ => {
            let upper = verb == 'G';
            let shortest = spec.prec.is_none();
            let (digits, exp) = float_digits(f, spec.prec);
            let nd = digits.len();
            let dp = exp + 1;
            let eprec = if shortest {
                6
            } else {
                let p = spec.prec.unwrap_or(6).max(1);
                let nd_i = i32::try_from(nd).unwrap_or(i32::MAX);
                let p_i = i32::try_from(p).unwrap_or(i32::MAX);
                if p_i > nd_i && nd_i >= dp { nd_i } else { p_i }
            };
            if exp < -4 || exp >= eprec {
                let mantissa = if nd > 1 {
                    format!("{}.{}", &digits[..1], &digits[1..])
                } else {
                    digits.clone()
                };
                let e = if upper { 'E' } else { 'e' };
                format!("{mantissa}{}", exp_suffix(e, exp))
            } else {
                let decimals = usize::try_from((i32::try_from(nd).unwrap_or(i32::MAX) - dp).max(0))
                    .unwrap_or(0);
                format!("{:.*}", decimals, f.abs())
            }
        }
    };
    Some(spec.pad_number(spec.sign(negative), &body))
}

/// The first argument unchanged, after checking the argument count.
fn identity(name: &str, args: &[Value], want: usize) -> Result<Value, FuncError> {
    want_args(name, args, want)?;
    Ok(args[0].clone())
}

/// Header `json`: identity.
fn h_json(args: &[Value]) -> Result<Value, FuncError> {
    identity("json", args, 1)
}

/// Header `split`: identity.
fn h_split(args: &[Value]) -> Result<Value, FuncError> {
    identity("split", args, 2)
}

/// Header `join`: identity.
fn h_join(args: &[Value]) -> Result<Value, FuncError> {
    identity("join", args, 2)
}

/// Header `title`: identity.
fn h_title(args: &[Value]) -> Result<Value, FuncError> {
    identity("title", args, 1)
}

/// Header `lower`: identity.
fn h_lower(args: &[Value]) -> Result<Value, FuncError> {
    identity("lower", args, 1)
}

/// Header `upper`: identity.
fn h_upper(args: &[Value]) -> Result<Value, FuncError> {
    identity("upper", args, 1)
}

/// Header `truncate`: identity.
fn h_truncate(args: &[Value]) -> Result<Value, FuncError> {
    identity("truncate", args, 2)
}

// ---------------------------------------------------------------------------
// serde → gtmpl values.
// ---------------------------------------------------------------------------

/// Converts serializable data to a gtmpl value (structs to objects, maps to
/// maps), recording struct layouts.
fn to_value(data: &impl Serialize) -> Result<Value, TemplateError> {
    data.serialize(ValueSerializer)
        .map_err(|e| TemplateError(format!("template: cannot convert data: {e}")))
}

/// A serialization error.
#[derive(Debug)]
struct SerError(String);

impl fmt::Display for SerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SerError {}

impl serde::ser::Error for SerError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SerError(msg.to_string())
    }
}

/// Serializes into a gtmpl [`Value`].
struct ValueSerializer;

/// Collects a sequence.
struct SeqSerializer {
    /// The elements so far.
    items: Vec<Value>,
    /// For a tuple variant, the variant name to wrap the list in.
    variant: Option<&'static str>,
}

/// Collects a map.
struct MapSerializer {
    /// The entries so far.
    map: HashMap<String, Value>,
    /// The key waiting for its value.
    key: Option<String>,
}

/// Collects a struct.
struct StructSerializer {
    /// The Rust type name.
    name: &'static str,
    /// The fields so far.
    map: HashMap<String, Value>,
    /// The field names in order.
    fields: Vec<String>,
    /// For a struct variant, the variant name to wrap the object in.
    variant: Option<&'static str>,
}

/// A map with a single entry, how serde represents enum variants.
fn single(key: &str, value: Value) -> Value {
    Value::Map(HashMap::from([(key.to_owned(), value)]))
}

impl serde::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = SerError;
    type SerializeSeq = SeqSerializer;
    type SerializeTuple = SeqSerializer;
    type SerializeTupleStruct = SeqSerializer;
    type SerializeTupleVariant = SeqSerializer;
    type SerializeMap = MapSerializer;
    type SerializeStruct = StructSerializer;
    type SerializeStructVariant = StructSerializer;

    fn serialize_bool(self, v: bool) -> Result<Value, SerError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, SerError> {
        Ok(Value::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, SerError> {
        Ok(Value::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, SerError> {
        Ok(Value::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, SerError> {
        Ok(Value::from(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, SerError> {
        match (i64::try_from(v), u64::try_from(v)) {
            (Ok(i), _) => Ok(Value::from(i)),
            (_, Ok(u)) => Ok(Value::from(u)),
            _ => Err(SerError(format!("integer {v} out of range"))),
        }
    }
    fn serialize_u8(self, v: u8) -> Result<Value, SerError> {
        Ok(Value::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, SerError> {
        Ok(Value::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, SerError> {
        Ok(Value::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, SerError> {
        Ok(Value::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, SerError> {
        u64::try_from(v)
            .map(Value::from)
            .map_err(|_| SerError(format!("integer {v} out of range")))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, SerError> {
        Ok(float_value(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, SerError> {
        Ok(float_value(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, SerError> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, SerError> {
        Ok(Value::String(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, SerError> {
        Ok(Value::Array(v.iter().map(|b| Value::from(*b)).collect()))
    }
    fn serialize_none(self) -> Result<Value, SerError> {
        Ok(Value::Nil)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<Value, SerError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, SerError> {
        Ok(Value::Nil)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, SerError> {
        Ok(Value::Nil)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, SerError> {
        Ok(Value::String(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, SerError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, SerError> {
        Ok(single(variant, value.serialize(ValueSerializer)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSerializer, SerError> {
        Ok(SeqSerializer {
            items: Vec::with_capacity(len.unwrap_or(0)),
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSerializer, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqSerializer, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqSerializer, SerError> {
        Ok(SeqSerializer {
            items: Vec::with_capacity(len),
            variant: Some(variant),
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapSerializer, SerError> {
        Ok(MapSerializer {
            map: HashMap::new(),
            key: None,
        })
    }
    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<StructSerializer, SerError> {
        Ok(StructSerializer {
            name,
            map: HashMap::with_capacity(len),
            fields: Vec::with_capacity(len),
            variant: None,
        })
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<StructSerializer, SerError> {
        Ok(StructSerializer {
            name,
            map: HashMap::with_capacity(len),
            fields: Vec::with_capacity(len),
            variant: Some(variant),
        })
    }
}

impl SeqSerializer {
    /// Adds an element.
    fn push<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), SerError> {
        self.items.push(value.serialize(ValueSerializer)?);
        Ok(())
    }
    /// The finished list, wrapped for a tuple variant.
    fn finish(self) -> Value {
        let list = Value::Array(self.items);
        match self.variant {
            Some(variant) => single(variant, list),
            None => list,
        }
    }
}

impl serde::ser::SerializeSeq for SeqSerializer {
    type Ok = Value;
    type Error = SerError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

impl serde::ser::SerializeTuple for SeqSerializer {
    type Ok = Value;
    type Error = SerError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

impl serde::ser::SerializeTupleStruct for SeqSerializer {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

impl serde::ser::SerializeTupleVariant for SeqSerializer {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), SerError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

/// The string form of a map key.
fn key_string(key: Value) -> Result<String, SerError> {
    match key {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(SerError(format!(
            "map key must be a string, got {}",
            go_type(&other)
        ))),
    }
}

impl serde::ser::SerializeMap for MapSerializer {
    type Ok = Value;
    type Error = SerError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), SerError> {
        self.key = Some(key_string(key.serialize(ValueSerializer)?)?);
        Ok(())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), SerError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| SerError("map value without a key".to_owned()))?;
        self.map.insert(key, value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(Value::Map(self.map))
    }
}

impl StructSerializer {
    /// Adds a field.
    fn push<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        let value = value.serialize(ValueSerializer)?;
        if self.map.insert(key.to_owned(), value).is_none() {
            self.fields.push(key.to_owned());
        }
        Ok(())
    }
    /// Records a field skipped by `skip_serializing_if` as `NoValue`, so
    /// that the field exists as in Go (where every field does) but prints
    /// `<no value>` and is left out of `json`.
    fn skip(&mut self, key: &'static str) {
        if self.map.insert(key.to_owned(), Value::NoValue).is_none() {
            self.fields.push(key.to_owned());
        }
    }
    /// The finished object, wrapped for a struct variant.
    fn finish(self) -> Value {
        register_struct(self.name, self.fields);
        let object = Value::Object(self.map);
        match self.variant {
            Some(variant) => single(variant, object),
            None => object,
        }
    }
}

impl serde::ser::SerializeStruct for StructSerializer {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.push(key, value)
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), SerError> {
        self.skip(key);
        Ok(())
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

impl serde::ser::SerializeStructVariant for StructSerializer {
    type Ok = Value;
    type Error = SerError;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.push(key, value)
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), SerError> {
        self.skip(key);
        Ok(())
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(self.finish())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Renders `text` on `data`, panicking on errors.
    fn render(text: &str, data: &impl Serialize) -> String {
        Template::parse(text).unwrap().render(data).unwrap()
    }

    /// Renders `text` on `data`, returning the error.
    fn render_err(text: &str, data: &impl Serialize) -> TemplateError {
        Template::parse(text).unwrap().render(data).unwrap_err()
    }

    #[test]
    fn field_only_templates_render_as_gtmpl_does() {
        #[derive(Serialize)]
        struct Row {
            #[serde(rename = "ID")]
            id: String,
            #[serde(rename = "Repository")]
            repository: String,
            #[serde(rename = "Count")]
            count: u32,
            #[serde(rename = "Missing", skip_serializing_if = "Option::is_none")]
            missing: Option<String>,
        }
        let row = Row {
            id: "sha256:0123 <&> %d {{x}} \u{e9}\u{1f600}".to_string(),
            repository: "<none>".to_string(),
            count: 7,
            missing: None,
        };
        assert_eq!(
            fields_only("a\t{{.ID}}}{{.Repository}}"),
            Some(vec![
                Piece::Text("a\t".into()),
                Piece::Field("ID".into()),
                Piece::Text("}".into()),
                Piece::Field("Repository".into()),
            ])
        );
        for text in [
            "{{ .ID}}",
            "{{.ID -}}",
            "{{- .ID}}",
            "{{.ID.X}}",
            "{{/* c */}}",
            "{{.ID",
            "{{json .}}",
        ] {
            assert_eq!(fields_only(text), None, "{text}");
        }
        for text in [
            "{{.ID}}",
            "{{.ID}}\t{{.Repository}}\n",
            "x {{.Repository}}}} {{.ID}}y",
            "no actions",
            "",
        ] {
            let template = Template::parse(text).unwrap();
            assert!(template.fields_only.is_some(), "{text}");
            let engine = execute(&template.body, &row).unwrap();
            assert_eq!(template.render(&row).unwrap(), engine, "{text}");
        }
        // Fields that are not strings, or missing, go through gtmpl.
        assert_eq!(render("{{.Count}}/{{.ID}}", &row), format!("7/{}", row.id));
        assert_eq!(render("{{.Missing}}", &row), "<no value>");
        assert_eq!(
            render_err("{{.Nope}}", &row).0,
            render_err("{{ .Nope }}", &row).0
        );
    }

    /// An image as `docker image inspect` shows it.
    fn details() -> image_core::ImageDetails {
        serde_json::from_value(serde_json::json!({
            "Id": "sha256:0123456789abcdef",
            "RepoTags": ["busybox:latest", "busybox:1.36"],
            "RepoDigests": ["busybox@sha256:feed"],
            "Parent": "",
            "Comment": "",
            "Created": "2024-01-02T03:04:05Z",
            "Author": "",
            "Architecture": "amd64",
            "Os": "linux",
            "Size": 4261550,
            "Config": {
                "User": "",
                "Env": ["A=1", "B=2"],
                "Cmd": ["sh"],
                "Labels": {"k": "v", "a": "<b>&"}
            },
            "RootFS": {"Type": "layers", "Layers": ["sha256:l1", "sha256:l2"]}
        }))
        .unwrap()
    }

    #[test]
    fn image_details() {
        let d = details();
        assert_eq!(render("{{.Id}}", &d), "sha256:0123456789abcdef");
        assert_eq!(render("{{.Config.Env}}", &d), "[A=1 B=2]");
        assert_eq!(
            render("{{json .Config.Labels}}", &d),
            r#"{"a":"<b>&","k":"v"}"#
        );
        assert_eq!(
            render("{{range .RootFS.Layers}}{{println .}}{{end}}", &d),
            "sha256:l1\nsha256:l2\n"
        );
        assert_eq!(render(r#"{{index .Config.Labels "k"}}"#, &d), "v");
        assert_eq!(render(r#"[{{index .Config.Labels "nope"}}]"#, &d), "[]");
        assert_eq!(render("{{len .RepoTags}}", &d), "2");
        assert_eq!(render("{{len .Config.Labels}}", &d), "2");
        assert_eq!(render("{{.Size}}", &d), "4261550");
        assert_eq!(render("{{.Config.Labels}}", &d), "map[a:<b>& k:v]");
        assert_eq!(
            render("{{json .RootFS}}", &d),
            r#"{"Type":"layers","Layers":["sha256:l1","sha256:l2"]}"#
        );
        assert_eq!(render("{{.RootFS}}", &d), "{layers [sha256:l1 sha256:l2]}");
        assert_eq!(
            render(
                "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
                &d
            ),
            "a=<b>&;k=v;"
        );
        assert_eq!(
            render("{{range $t := .RepoTags}}{{$t}},{{end}}", &d),
            "busybox:latest,busybox:1.36,"
        );
        assert_eq!(
            render("{{range $i, $t := .RepoTags}}{{$i}}:{{$t}} {{end}}", &d),
            "0:busybox:latest 1:busybox:1.36 "
        );
        assert_eq!(render("{{.Os}}/{{.Architecture}}", &d), "linux/amd64");
        // json keeps the struct's field order.
        let json = render("{{json .}}", &d);
        assert!(json.starts_with(r#"{"Id":"sha256:0123456789abcdef","RepoTags":"#));
        assert!(
            json.ends_with(r#""RootFS":{"Type":"layers","Layers":["sha256:l1","sha256:l2"]}}"#)
        );
    }

    #[test]
    fn raw_json_is_read_as_go_maps_with_missingkey_error() {
        let raw = serde_json::json!({
            "Id": "sha256:1",
            "Config": {"Env": ["A=1"], "Labels": {"b": "2", "a": "1"}, "Cmd": null},
            "ExposedPorts": {},
            "Size": 12
        });
        let raw_render = |text: &str| Template::parse(text).unwrap().render_raw(&raw);
        assert_eq!(raw_render("{{.Id}} {{.Size}}").unwrap(), "sha256:1 12");
        assert_eq!(
            raw_render("{{.Config}}").unwrap(),
            "map[Cmd:<nil> Env:[A=1] Labels:map[a:1 b:2]]"
        );
        assert_eq!(raw_render("{{len .Config}}").unwrap(), "3");
        assert_eq!(
            raw_render("{{json .Config}}").unwrap(),
            r#"{"Cmd":null,"Env":["A=1"],"Labels":{"a":"1","b":"2"}}"#
        );
        assert_eq!(
            raw_render("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}").unwrap(),
            "a=1;b=2;"
        );
        assert_eq!(raw_render("{{join .Config.Labels \",\"}}").unwrap(), "1,2");
        assert_eq!(
            raw_render("{{if .ExposedPorts}}y{{else}}n{{end}}").unwrap(),
            "n"
        );
        assert_eq!(
            raw_render("{{printf \"%v\" .Config.Labels}}").unwrap(),
            "map[a:1 b:2]"
        );
        // Errors as docker prints them (after `template parsing error: `).
        let error = |text: &str| raw_render(text).unwrap_err().0;
        assert_eq!(
            error("{{.Nope}}"),
            r#"template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope""#
        );
        assert_eq!(
            error("x{{.Config.Nope}}"),
            r#"template: :1:10: executing "" at <.Config.Nope>: map has no entry for key "Nope""#
        );
        assert_eq!(
            error("{{.Id}} {{.Nope.Deeper}}"),
            r#"template: :1:15: executing "" at <.Nope.Deeper>: map has no entry for key "Nope""#
        );
        assert_eq!(
            error("{{if .Nope}}a{{end}}"),
            r#"template: :1:5: executing "" at <.Nope>: map has no entry for key "Nope""#
        );
        assert_eq!(
            error("a\n{{ $x := \".Nope\" }}{{$.Nope}}"),
            r#"template: :2:22: executing "" at <$.Nope>: map has no entry for key "Nope""#
        );
    }

    #[test]
    fn missing_field_is_an_execution_error() {
        let err = render_err("{{.Nope}}", &details());
        assert!(
            err.0
                .contains("can't evaluate field Nope in type ImageDetails"),
            "{err}"
        );
        let err = render_err("{{.Config.Nope}}", &details());
        assert!(
            err.0
                .contains("can't evaluate field Nope in type ImageConfig"),
            "{err}"
        );
        // A missing map key is not an error in Go.
        assert_eq!(render("{{.Config.Labels.nope}}", &details()), "<no value>");
    }

    #[test]
    fn parse_errors_are_reported_by_parse() {
        let err = Template::parse("{{.Id").unwrap_err();
        assert!(err.0.starts_with("template: "), "{err}");
        assert!(Template::parse("{{nosuchfunc .}}").is_err());
        assert!(Template::parse("{{if .}}x").is_err());
        assert!(Template::parse("{{end}}").is_err());
        assert_eq!(err.to_string(), err.0);
    }

    #[test]
    fn go_printing() {
        assert_eq!(render("{{.}}", &vec!["a", "b", "c"]), "[a b c]");
        let map = BTreeMap::from([("k2", "v2"), ("k1", "v1")]);
        assert_eq!(render("{{.}}", &map), "map[k1:v1 k2:v2]");
        assert_eq!(render("{{.}}", &()), "<no value>");
        assert_eq!(render("{{.}}", &Option::<String>::None), "<no value>");
        assert_eq!(render("{{.}}", &true), "true");
        assert_eq!(render("{{.}}", &-42), "-42");
        assert_eq!(render("{{.}}", &u64::MAX), "18446744073709551615");
        assert_eq!(render("{{.}}", &1.5), "1.5");
        assert_eq!(render("{{.}}", &3.0), "3");
        assert_eq!(render("{{.}}", &1e21), "1e+21");
        assert_eq!(render("{{.}}", &1e20), "1e+20");
        assert_eq!(render("{{.}}", &123456.0), "123456");
        assert_eq!(render("{{.}}", &1234567.8), "1.2345678e+06");
        assert_eq!(render("{{.}}", &-1.5), "-1.5");
        assert_eq!(render("{{json .}}", &-1.5), "-1.5");
        assert_eq!(render("{{.}}", &f64::INFINITY), "+Inf");
        assert_eq!(render("{{.}}", &0.00001), "1e-05");
        assert_eq!(render("{{.}}", &0.0001), "0.0001");
        assert_eq!(render("{{.}}", &vec![Some(1), None]), "[1 <nil>]");
        let nested = serde_json::json!({"a": [1, 2], "b": {"c": true}});
        assert_eq!(render("{{.}}", &nested), "map[a:[1 2] b:map[c:true]]");
        assert_eq!(render("{{.missing}}", &nested), "<no value>");
        assert_eq!(render("{{print .a 3 \"x\" 4}}", &nested), "[1 2] 3x4");
        assert_eq!(render("{{println .a .b}}", &nested), "[1 2] map[c:true]\n");
        assert_eq!(
            render(r#"{{printf "%v|%s|%d" .a .b 7}}"#, &nested),
            "[1 2]|map[c:%!s(bool=true)]|7"
        );
        assert_eq!(render(r#"{{printf "%5.1f" 2.25}}"#, &()), "  2.2");
    }

    /// Go's `fmt.Sprintf` on serialized `args`.
    fn sprintf(format: &str, args: &[serde_json::Value]) -> String {
        let args: Vec<Value> = args.iter().map(|a| to_value(a).unwrap()).collect();
        go_sprintf(format, &args)
    }

    #[test]
    fn printf_matches_go() {
        use serde_json::json;
        // Expected outputs come from Go 1.x's fmt.Sprintf.
        assert_eq!(
            sprintf(
                "%.3g|%.3g|%g|%.2e|%8.3f|%-8.2f|%08.3f|%+.1f|%x|%X|%#x|%o|%#o|%b|%c|%q|%U|%5t|%.2s|%q",
                &[
                    json!(1.0),
                    json!(123456.0),
                    json!(0.00001234),
                    json!(123.456),
                    json!(3.14259),
                    json!(2.5),
                    json!(-3.14259),
                    json!(2.0),
                    json!(255),
                    json!(255),
                    json!(255),
                    json!(8),
                    json!(8),
                    json!(5),
                    json!(65),
                    json!(65),
                    json!(65),
                    json!(true),
                    json!("héllo"),
                    json!("a\tb\u{1}é"),
                ]
            ),
            r#"1|1.23e+05|1.234e-05|1.23e+02|   3.143|2.50    |-003.143|+2.0|ff|FF|0xff|10|010|101|A|'A'|U+0041| true|hé|"a\tb\x01é""#
        );
        assert_eq!(
            sprintf(
                "%5d|%-5d|%05d|%+05d|%.3d|%.0d|%x|% d|%T|%T|%T",
                &[
                    json!(-42),
                    json!(-42),
                    json!(-42),
                    json!(42),
                    json!(7),
                    json!(0),
                    json!("hi"),
                    json!(5),
                    json!(1),
                    json!("s"),
                    json!(1.5),
                ]
            ),
            "  -42|-42  |-0042|+0042|007||6869| 5|int|string|float64"
        );
        assert_eq!(
            sprintf(
                "%d|%s|%5v|%f",
                &[json!([1, 2]), json!({"a": 1}), json!(["a", "b"]), json!(1)]
            ),
            "[1 2]|map[a:%!s(int=1)]|[    a     b]|%!f(int=1)"
        );
        assert_eq!(
            sprintf(
                "%[2]d %[1]d|%*d|%-*d|%.*f|%[5]d",
                &[json!(1), json!(2), json!(5), json!(3), json!(4)]
            ),
            "2 1| 5|4  |%!(BADPREC)%!f(MISSING)|4"
        );
        assert_eq!(
            sprintf("%d %!|%d", &[json!("s")]),
            "%!d(string=s) %!!(MISSING)|%!d(MISSING)"
        );
        assert_eq!(sprintf("%d", &[json!(1), json!(2)]), "1%!(EXTRA int=2)");
        assert_eq!(
            sprintf("%v %s %d %%", &[json!(null), json!(null), json!(null)]),
            "<nil> %!s(<nil>) %!d(<nil>) %"
        );
        #[derive(Serialize)]
        struct S {
            b: i32,
            a: &'static str,
        }
        assert_eq!(render("{{printf \"%v\" .}}", &S { b: 1, a: "x" }), "{1 x}");
        assert_eq!(render("{{.}}", &S { b: 1, a: "x" }), "{1 x}");
        assert_eq!(
            render("{{json .}}", &S { b: 1, a: "x" }),
            r#"{"b":1,"a":"x"}"#
        );
        assert_eq!(
            render("{{printf \"%5s|%-3d|\" .a .b}}", &S { b: 1, a: "x" }),
            "    x|1  |"
        );
    }

    #[test]
    fn skipped_fields_exist_but_are_not_in_json() {
        #[derive(Serialize)]
        struct S {
            a: i32,
            #[serde(skip_serializing_if = "Option::is_none")]
            v: Option<String>,
        }
        let s = S { a: 1, v: None };
        assert_eq!(render("{{.v}}", &s), "<no value>");
        assert_eq!(render("{{if .v}}y{{else}}n{{end}}", &s), "n");
        assert_eq!(render("{{json .}}", &s), r#"{"a":1}"#);
    }

    #[test]
    fn json_function() {
        let data = serde_json::json!({"b": "<&>\"\n\u{1}", "a": [1, 2.5, null, true]});
        assert_eq!(
            render("{{json .}}", &data),
            r#"{"a":[1,2.5,null,true],"b":"<&>\"\n\u0001"}"#
        );
        assert_eq!(render("{{json .a}}", &data), "[1,2.5,null,true]");
        assert_eq!(render("{{json \"x\"}}", &()), r#""x""#);
        assert_eq!(render("{{json .}}", &1e21), "1e+21");
        assert_eq!(render("{{json .}}", &0.0000001), "1e-7");
    }

    #[test]
    fn string_functions() {
        assert_eq!(render(r#"{{split . ","}}"#, &"a,b,,c"), "[a b  c]");
        assert_eq!(render(r#"{{len (split . "")}}"#, &"héllo"), "5");
        assert_eq!(render(r#"{{join . "-"}}"#, &vec![1, 2, 3]), "1-2-3");
        assert_eq!(render(r#"{{join . "-"}}"#, &()), "");
        assert_eq!(
            render("{{title .}}", &"hello wOrld-foo_bar"),
            "Hello WOrld-Foo_bar"
        );
        assert_eq!(render("{{lower .}}", &"HeLLo"), "hello");
        assert_eq!(render("{{upper .}}", &"HeLLo"), "HELLO");
        assert_eq!(render("{{truncate . 3}}", &"héllo"), "hél");
        assert_eq!(render("{{truncate . 30}}", &"héllo"), "héllo");
        assert_eq!(render("{{truncate . 3}}", &""), "");
        assert_eq!(render("[{{pad . 1 2}}]", &"x"), "[ x  ]");
        assert_eq!(render("{{. | upper | printf \"%s!\"}}", &"a"), "A!");
        let err = render_err("{{upper .}}", &1);
        assert!(err.0.contains("expected string; got int"), "{err}");
    }

    #[test]
    fn builtins_and_control_flow() {
        let data = serde_json::json!({"n": 2, "s": "x", "l": [], "m": {"b": 2, "a": 1}});
        assert_eq!(render("{{if .l}}yes{{else}}no{{end}}", &data), "no");
        assert_eq!(
            render(
                "{{if eq .s \"y\"}}1{{else if eq .s \"x\"}}2{{else}}3{{end}}",
                &data
            ),
            "2"
        );
        assert_eq!(render("{{if ne .n 3}}ne{{end}}", &data), "ne");
        assert_eq!(
            render("{{and .s .n}} {{or .l .s}} {{not .l}}", &data),
            "2 x true"
        );
        assert_eq!(render("{{$x := .s}}{{$x}}{{$x}}", &data), "xx");
        assert_eq!(render("{{with .m}}{{.a}}{{end}}", &data), "1");
        assert_eq!(render("{{range .m}}{{.}}{{end}}", &data), "12");
        assert_eq!(render("{{range .l}}x{{else}}empty{{end}}", &data), "empty");
        assert_eq!(
            render("{{range $k, $v := .m}}{{$k}}{{$v}}{{$.s}}{{end}}", &data),
            "a1xb2x"
        );
        assert_eq!(
            render("{{range $k, $v := .m -}}\n {{$k}} {{- end}}", &data),
            "ab"
        );
        assert_eq!(
            render(
                "{{range $i, $m := .}}{{range $k, $v := $m}}{{$i}}{{$k}}{{$v}} {{end}}{{end}}",
                &vec![BTreeMap::from([("y", 1), ("x", 2)])]
            ),
            "0x2 0y1 "
        );
        assert_eq!(render("a {{- /* comment }} */ -}} b", &data), "ab");
        assert_eq!(render("{{ \"}}\" }}", &data), "}}");
        assert_eq!(
            render("{{len .m}} {{len .s}} {{index .m \"b\"}}", &data),
            "2 1 2"
        );
        assert_eq!(render("{{- .s -}}  \n", &data), "x");
        assert_eq!(render("{{.n | printf \"%03d\"}}", &data), "002");
    }

    #[test]
    fn execution_errors() {
        let err = render_err(r#"{{join . ","}}"#, &"s");
        assert!(
            err.0
                .contains("error calling join: expected slice, got string"),
            "{err}"
        );
        let err = render_err("{{index . 5}}", &vec![1]);
        assert!(
            err.0.contains("error calling index: index out of range: 5"),
            "{err}"
        );
        let err = render_err("{{len .}}", &1);
        assert!(err.0.contains("error calling len"), "{err}");
    }

    #[test]
    fn headers() {
        let template = Template::parse(
            "table {{.Repository}}\t{{upper .Tag}}\t{{truncate .ID 3}}\t[{{pad .Size 1 1}}]",
        )
        .unwrap();
        let headers = BTreeMap::from([
            ("Repository".to_owned(), "REPOSITORY".to_owned()),
            ("Tag".to_owned(), "tag".to_owned()),
            ("ID".to_owned(), "IMAGE ID".to_owned()),
            ("Size".to_owned(), "SIZE".to_owned()),
        ]);
        assert_eq!(
            template.render_header(&headers).unwrap(),
            "table REPOSITORY\ttag\tIMAGE ID\t[ SIZE ]"
        );
        let json = Template::parse("{{json .Repository}} {{split .Tag \":\"}} {{join .Tag \",\"}}")
            .unwrap();
        assert_eq!(json.render_header(&headers).unwrap(), "REPOSITORY tag tag");
        // The same template renders rows with the real functions.
        let row = serde_json::json!({"Repository": "r", "Tag": "t", "ID": "abcdef", "Size": "1MB"});
        assert_eq!(template.render(&row).unwrap(), "table r\tT\tabc\t[ 1MB ]");
        assert!(format!("{template:?}").contains("Repository"));
    }

    #[test]
    fn vectors() {
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../../tests/data/templates.json")).unwrap();
        let mut passed = 0;
        for case in &cases {
            let mode = case["mode"].as_str().unwrap();
            if mode == "image_list" {
                continue;
            }
            let text = case["template"].as_str().unwrap();
            let template = Template::parse(text).unwrap();
            let data = &case["data"];
            let result = match mode {
                "template" => template.render(data),
                "header" => execute(&template.header, data),
                other => panic!("unknown mode {other}"),
            };
            if let Some(want) = case["expected_error_contains"].as_str() {
                let err = result.unwrap_err();
                assert!(err.0.contains(want), "{text}: {err} lacks {want}");
            } else {
                let want = case["expected"].as_str().unwrap();
                assert_eq!(result.unwrap(), want, "{text} on {data}");
            }
            passed += 1;
        }
        assert_eq!(passed, 8);
    }

    /// Expected outputs below were produced by Go's text/template.
    #[test]
    fn matches_go_text_template() {
        use serde_json::json;
        let cases = [
            (
                "{{range $k, $v := .m}}{{$k}}={{$v}} {{end}}",
                json!({"m": {"b": "2", "a": "1", "c": "3"}}),
                "a=1 b=2 c=3 ",
            ),
            (
                "{{range .m}}{{.}}{{end}}|{{range $v := .m}}{{$v}}{{end}}|{{len .m}}",
                json!({"m": {"b": "2", "a": "1", "c": "3"}}),
                "123|123|3",
            ),
            (
                "{{title .s}}|{{upper .s}}|{{lower .s}}",
                json!({"s": "hello wOrld-foo_bar héllo ñandú ß 3rd x.y"}),
                "Hello WOrld-Foo_bar Héllo Ñandú ß 3rd X.Y|HELLO WORLD-FOO_BAR HÉLLO ÑANDÚ ß 3RD X.Y|hello world-foo_bar héllo ñandú ß 3rd x.y",
            ),
            (
                "{{.l}}|{{print .l}}|{{println .l .m}}|{{printf \"%v\" .m}}",
                json!({"l": [1, "a", null, true, [2, 3], {"z": 1, "y": [1]}], "m": {"k": null}}),
                "[1 a <nil> true [2 3] map[y:[1] z:1]]|[1 a <nil> true [2 3] map[y:[1] z:1]]|[1 a <nil> true [2 3] map[y:[1] z:1]] map[k:<nil>]\n|map[k:<nil>]",
            ),
            (
                "{{join .l \",\"}}|{{json .m}}|{{split \"a:b::c\" \":\"}}|{{len (split \"\" \":\")}}",
                json!({"l": ["a", "b"], "m": {"b": [1, "x"], "a": {"d": null, "c": "<>&"}}}),
                r#"a,b|{"a":{"c":"<>&","d":null},"b":[1,"x"]}|[a b  c]|1"#,
            ),
            (
                "{{.m.missing}}|{{$x := 1}}{{$x = 2}}{{$x}}",
                json!({"m": {}}),
                "<no value>|2",
            ),
            (
                "{{define \"x\"}}[{{.}}]{{end}}{{template \"x\" .s}}",
                json!({"s": "v"}),
                "[v]",
            ),
            (
                "{{with $x := .s}}{{$x}}{{end}}|{{with .none}}y{{else}}n{{end}}|{{range .e}}{{.}}{{else}}none{{end}}",
                json!({"s": "v", "e": []}),
                "v|n|none",
            ),
            (
                "{{`a\"b`}}|{{'a'}}|{{1}}|{{-1}}|{{1.5}}|{{true}}|{{\"x\" -}} | {{- \"y\"}}",
                json!({}),
                "a\"b|97|1|-1|1.5|true|x|y",
            ),
            (
                "{{range $i, $v := .l}}{{$i}}:{{$v}}{{if $i}},{{end}}{{end}}|{{range $i, $v := .l}}{{$.s}}{{end}}",
                json!({"l": ["a", "b"], "s": "S"}),
                "0:a1:b,|SS",
            ),
            (
                "{{if eq .s \"a\" \"b\"}}yes{{end}}|{{if ne .s \"a\"}}ne{{else if .s}}elif{{end}}",
                json!({"s": "b"}),
                "yes|ne",
            ),
            (
                "{{range $k, $v := .m}}{{range $k2, $v2 := $v}}{{$k}}.{{$k2}}={{$v2}} {{end}}{{end}}",
                json!({"m": {"b": {"y": 1, "x": 2}, "a": {"z": 3}}}),
                "a.z=3 b.x=2 b.y=1 ",
            ),
            (
                "{{pad .s 2 1}}|{{truncate .s 2}}|{{json .s}}|{{json .n}}|{{json .l}}",
                json!({"s": "héllo", "n": 1.5, "l": []}),
                "  héllo |hé|\"héllo\"|1.5|[]",
            ),
            ("{{.}}", json!(null), "<no value>"),
            (
                "{{.x.y}}",
                json!({"x": {"y": {"z": [1, {"a": "b"}]}}}),
                "map[z:[1 map[a:b]]]",
            ),
            (
                "{{ .a }} {{- .b -}} {{ .c }}",
                json!({"a": 1, "b": 2, "c": 3}),
                "123",
            ),
            ("{{/* c */}}a{{- /* c2 */ -}} b", json!({}), "ab"),
            (
                "{{range $i, $e := .}}{{$i}}{{$e}}{{end}}",
                json!(["x", "y"]),
                "0x1y",
            ),
            ("{{index . 1}}|{{index .  0}}", json!(["x", "y"]), "y|x"),
            (
                "{{slice \"abc\" 1 2}}|{{slice .l 1}}|{{slice \"abc\"}}",
                json!({"l": ["x", "y"]}),
                "b|[y]|abc",
            ),
            (
                "{{html \"<a href='x'>&\"}}|{{js \"'a<>=\"}}|{{urlquery \"a b&c/é\"}}|{{html 1 2}}",
                json!({}),
                r"&lt;a href=&#39;x&#39;&gt;&amp;|\'a\u003C\u003E\u003D|a+b%26c%2F%C3%A9|1 2",
            ),
            (
                "{{range $k, $v := .m}}{{$k}}{{else}}empty{{end}}",
                json!({"m": {}}),
                "empty",
            ),
            (
                "{{- range $k, $v := .m -}}\n  {{$k}}: {{$v}}\n{{- end}}",
                json!({"m": {"b": 1, "a": 2}}),
                "a: 2b: 1",
            ),
            (
                "{{with .m}}{{range $k, $v := .}}{{$k}}{{.}}{{end}}{{end}}",
                json!({"m": {"b": 1, "a": 2}}),
                "a2b1",
            ),
            (
                "{{range $v := .m}}{{$v}}{{end}}{{range $k, $v := .l}}{{$k}}{{$v}}{{end}}",
                json!({"m": {"b": 1, "a": 2}, "l": ["p", "q"]}),
                "210p1q",
            ),
        ];
        for (text, data, want) in cases {
            assert_eq!(render(text, &data), want, "{text}");
        }
        let err = render_err("{{eq .a .b}}", &json!({"a": "x", "b": 1}));
        assert!(
            err.0
                .contains("error calling eq: incompatible types for comparison"),
            "{err}"
        );
    }

    #[test]
    fn parse_errors_match_go() {
        for (text, want) in [
            ("{{.Id", "template: :1: unclosed action"),
            ("a\nb{{.Id", "template: :2: unclosed action"),
            ("{{/* x", "template: :1: unclosed comment"),
            ("{{end}}", "template: :1: unexpected {{end}}"),
            (
                "{{nosuch .}}",
                "template: :1: function \"nosuch\" not defined",
            ),
            ("{{(.a}}", "template: :1: unclosed left paren"),
            ("{{}}", "template: :1: missing value for command"),
            ("{{range}}{{end}}", "template: :1: missing value for range"),
        ] {
            assert_eq!(Template::parse(text).unwrap_err().0, want, "{text}");
        }
        assert!(Template::parse("{{if .}}x").is_err());
    }
}
