//! Fixture kinds: how an API creates, finds and deletes one type of entity.
//! Suites describe them as data (`[[kind]]`), so a suite for another API —
//! other paths, string ids, another id or tag field — needs no code.

use super::SuiteError;
use super::raw::Locator;
use super::template::{SharedIds, Template, check_json, json_vars, shared_kind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use toml::Spanned;

/// One entity type the suite creates as fixtures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixtureKind {
    /// The kind's name, as fixtures and `{shared.NAME.id}` refer to it (`cpus`).
    pub name: String,
    /// Create request method (`POST`).
    pub method: String,
    /// Create request path.
    pub create: Template,
    /// Create body template (scenario fixtures override its fields).
    pub body: Value,
    /// JSON pointer to the entity in a create answer (`""`: the answer itself;
    /// `/data` when the API wraps it).
    pub answer: String,
    /// JSON pointer to the id in the entity (create answer or list item; `/id`).
    pub id: String,
    /// JSON pointer to the entity's field that carries the run's tag (`/name`).
    pub tag: String,
    /// Delete path, with `{id}`.
    pub delete: Template,
    /// Lists the whole collection (`{offset}` pages it).
    pub list: Option<Template>,
    /// Lists the items whose tag field contains `{tag}` (a server-side filter).
    pub search: Option<Template>,
    /// JSON pointer to the array of items in a list answer (`""`: the answer itself).
    pub items: String,
    /// Entities of other kinds that reference this one.
    pub children: Vec<ChildSpec>,
}

impl FixtureKind {
    /// One of the kind in words, with its article: `an item`, `a cpu`,
    /// `a category` (kinds are named in the plural, as their collections).
    pub fn one(&self) -> String {
        let singular = singular(&self.name);
        let vowel = singular.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U']);
        format!("{} {singular}", if vowel { "an" } else { "a" })
    }
}

/// A collection's name in the singular: `items` → `item`, `categories` →
/// `category`, `address` stays.
pub(crate) fn singular(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("ies") {
        format!("{stem}y")
    } else if name.ends_with("ss") {
        name.to_owned()
    } else {
        name.strip_suffix('s').unwrap_or(name).to_owned()
    }
}

/// Children: entities of `kind` that reference a parent through `field`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildSpec {
    /// The child kind (`listings`).
    pub kind: String,
    /// The child's field that holds the parent's id (`cpu_id`).
    pub field: String,
    /// Lists a parent's children (`{id}` = the parent, `{offset}` pages).
    pub list: Option<Template>,
}

impl FixtureKind {
    /// The tag template in a create body, if the body has one at the tag pointer.
    pub fn tag_in<'a>(&self, body: &'a Value) -> Option<&'a str> {
        body.pointer(&self.tag).and_then(Value::as_str)
    }

    /// The kinds whose shared fixture this kind needs (`{shared.KIND.id}`
    /// in its create body or path, its delete path or its lists): a
    /// resource nested under another's id (`/owners/{shared.owners.id}/pets`).
    pub fn shared_uses(&self) -> Vec<String> {
        let templates = [Some(&self.create), Some(&self.delete)]
            .into_iter()
            .chain([self.list.as_ref(), self.search.as_ref()])
            .flatten();
        let mut out = shared_uses(&self.body);
        for v in templates.flat_map(Template::vars) {
            if let Some(k) = shared_kind(v)
                && !out.iter().any(|o| o == k)
            {
                out.push(k.to_owned());
            }
        }
        out
    }

    /// The shared kinds `template` needs whose id `shared` does not have.
    pub fn missing_shared<'t>(template: &'t Template, shared: &SharedIds) -> Option<&'t str> {
        template
            .vars()
            .filter_map(shared_kind)
            .find(|k| !shared.contains_key(*k))
    }

    /// The child spec for children of `kind` through `field` (any field when `None`).
    pub fn child(&self, kind: Option<&str>, field: Option<&str>) -> Option<&ChildSpec> {
        self.children
            .iter()
            .find(|c| kind.is_none_or(|k| c.kind == k) && field.is_none_or(|f| c.field == f))
    }
}

/// The kinds whose shared fixture a body template needs (`{shared.KIND.id}`).
pub fn shared_uses(body: &Value) -> Vec<String> {
    json_vars(body)
        .iter()
        .filter_map(|v| shared_kind(v).map(str::to_owned))
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKind {
    name: Spanned<String>,
    create: Spanned<RawCreate>,
    answer: Option<Spanned<String>>,
    id: Option<Spanned<String>>,
    tag: Spanned<String>,
    delete: Spanned<String>,
    list: Option<Spanned<String>>,
    search: Option<Spanned<String>>,
    items: Option<Spanned<String>>,
    #[serde(default)]
    children: Vec<Spanned<RawChild>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCreate {
    method: Option<Spanned<String>>,
    path: Spanned<String>,
    body: Spanned<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChild {
    kind: Spanned<String>,
    field: Spanned<String>,
    list: Option<Spanned<String>>,
}

/// Which placeholders a template may use where; `shared` allows `{shared.KIND.id}`.
pub(super) struct Allowed {
    pub names: &'static [&'static str],
    pub shared: bool,
    /// `{capture.NAME}` (a measured step's; the suite checks that an earlier step captures NAME).
    pub captures: bool,
}

/// Create paths and bodies.
pub(super) const IN_CREATE: Allowed = Allowed {
    names: &["run_id", "n", "parent.id"],
    shared: true,
    captures: false,
};

/// Checks that a template's placeholders are allowed here.
pub(super) fn check_vars<'v>(
    vars: impl IntoIterator<Item = &'v str>,
    allowed: &Allowed,
    what: &str,
) -> Result<(), BodyError> {
    for v in vars {
        let ok = allowed.names.contains(&v)
            || (allowed.shared && shared_kind(v).is_some())
            || (allowed.captures && super::template::capture_name(v).is_some());
        if !ok {
            let mut known: Vec<String> = allowed.names.iter().map(|n| format!("{{{n}}}")).collect();
            if allowed.shared {
                known.push("{shared.KIND.id}".into());
            }
            return Err(BodyError::Placeholder {
                var: v.to_owned(),
                what: what.to_owned(),
                known: known.join(", "),
            });
        }
    }
    Ok(())
}

fn template(
    at: &Locator<'_>,
    text: &Spanned<String>,
    allowed: &Allowed,
    required: Option<&str>,
    what: &str,
) -> Result<Template, SuiteError> {
    let t = Template::parse(text.get_ref()).map_err(|e| at.err(text.span(), e))?;
    if !t.to_string().starts_with('/') {
        return Err(at.err(text.span(), format!("{what} must start with /")));
    }
    check_vars(t.vars(), allowed, what).map_err(|e| at.err(text.span(), e))?;
    if let Some(r) = required.filter(|r| !t.uses(r)) {
        return Err(at.err(text.span(), format!("{what} must use {{{r}}}")));
    }
    Ok(t)
}

fn pointer(
    at: &Locator<'_>,
    p: Option<&Spanned<String>>,
    default: &str,
) -> Result<String, SuiteError> {
    let Some(p) = p else {
        return Ok(default.to_owned());
    };
    let text = p.get_ref();
    if !(text.is_empty() || text.starts_with('/')) {
        return Err(at.err(
            p.span(),
            format!("{text:?} is not a JSON pointer (e.g. \"/id\", \"/data/uuid\")"),
        ));
    }
    Ok(text.clone())
}

/// A TOML table as a JSON body template, its placeholders checked.
pub(super) fn body(
    at: &Locator<'_>,
    body: &Spanned<toml::Value>,
    allowed: &Allowed,
    what: &str,
) -> Result<Value, SuiteError> {
    let json = serde_json::to_value(body.get_ref())
        .map_err(|e| at.err(body.span(), format!("{what}: {e}")))?;
    check_json(&json).map_err(|e| at.err(body.span(), e))?;
    check_vars(json_vars(&json).iter().map(String::as_str), allowed, what)
        .map_err(|e| at.err(body.span(), e))?;
    Ok(json)
}

/// Checks that `body` carries the run's tag where `kind` says it does.
pub(super) fn check_tag(kind: &FixtureKind, body: &Value, many: bool) -> Result<(), BodyError> {
    let field = || (kind.name.clone(), kind.tag.clone());
    let Some(tag) = kind.tag_in(body) else {
        let (kind, field) = field();
        return Err(BodyError::NoTag { kind, field });
    };
    let t = Template::parse(tag)?;
    let missing = |placeholder| {
        let (kind, field) = field();
        BodyError::TagLacks {
            kind,
            field,
            tag: tag.to_owned(),
            placeholder,
        }
    };
    if !t.uses("run_id") {
        return Err(missing(TagNeeds::RunId));
    }
    if many && !t.uses("n") {
        return Err(missing(TagNeeds::N));
    }
    Ok(())
}

/// What is wrong with a create body or a template's placeholders.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BodyError {
    /// A placeholder not allowed where it is.
    #[error("{{{var}}} cannot be used in {what} (here: {known})")]
    Placeholder {
        /// The placeholder.
        var: String,
        /// Where it was used.
        what: String,
        /// The placeholders allowed there.
        known: String,
    },
    /// No string where the kind keeps its tag.
    #[error(
        "the {kind} create body has no string at the tag field {field} (tracesplit finds its fixtures by it)"
    )]
    NoTag {
        /// The kind.
        kind: String,
        /// Its tag field (a JSON pointer).
        field: String,
    },
    /// A tag without a placeholder it needs.
    #[error("the tag field {field} of {kind} ({tag:?}) must contain {placeholder}")]
    TagLacks {
        /// The kind.
        kind: String,
        /// Its tag field.
        field: String,
        /// The tag found.
        tag: String,
        /// What it lacks, and why it needs it.
        placeholder: TagNeeds,
    },
    /// A placeholder that is not one.
    #[error(transparent)]
    Template(#[from] super::template::TemplateError),
}

/// A placeholder a tag must carry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TagNeeds {
    /// `{run_id}`: the run's fixtures are found by it.
    RunId,
    /// `{n}`: each of many creates needs its own tag.
    N,
}

impl std::fmt::Display for TagNeeds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::RunId => "{run_id}, so the run's fixtures can be found and removed",
            Self::N => "{n}: the kind is created many times per run and each needs its own tag",
        })
    }
}

fn kind(at: &Locator<'_>, k: RawKind) -> Result<FixtureKind, SuiteError> {
    let name = k.name.get_ref().trim().to_owned();
    if name.is_empty() || name.contains(char::is_whitespace) || name.contains('.') {
        return Err(at.err(
            k.name.span(),
            "a kind name must be one word without dots (e.g. \"cpus\")",
        ));
    }
    let create = k.create.get_ref();
    let method = create
        .method
        .as_ref()
        .map_or("POST".to_owned(), |m| m.get_ref().to_ascii_uppercase());
    if !matches!(method.as_str(), "POST" | "PUT") {
        let span = create
            .method
            .as_ref()
            .map_or(k.create.span(), Spanned::span);
        return Err(at.err(
            span,
            format!("a create request is POST or PUT, not {method}"),
        ));
    }
    let create_path = template(at, &create.path, &IN_CREATE, None, "a create path")?;
    let body_json = body(at, &create.body, &IN_CREATE, "a create body")?;
    if !body_json.is_object() {
        return Err(at.err(create.body.span(), "a create body must be a table"));
    }
    let list_vars = Allowed {
        names: &["run_id", "offset"],
        shared: true,
        captures: false,
    };
    let search_vars = Allowed {
        names: &["run_id", "offset", "tag"],
        shared: true,
        captures: false,
    };
    let child_vars = Allowed {
        names: &["run_id", "offset", "id"],
        shared: false,
        captures: false,
    };
    let delete_vars = Allowed {
        names: &["run_id", "id"],
        shared: true,
        captures: false,
    };
    let children = k
        .children
        .iter()
        .map(|c| {
            let c = c.get_ref();
            Ok(ChildSpec {
                kind: c.kind.get_ref().clone(),
                field: c.field.get_ref().clone(),
                list: c
                    .list
                    .as_ref()
                    .map(|l| template(at, l, &child_vars, Some("id"), "a children list path"))
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>, SuiteError>>()?;
    let kind = FixtureKind {
        name,
        method,
        create: create_path,
        body: body_json,
        answer: pointer(at, k.answer.as_ref(), "")?,
        id: pointer(at, k.id.as_ref(), "/id")?,
        tag: pointer(at, Some(&k.tag), "")?,
        delete: template(at, &k.delete, &delete_vars, Some("id"), "a delete path")?,
        list: k
            .list
            .as_ref()
            .map(|l| template(at, l, &list_vars, None, "a list path"))
            .transpose()?,
        search: k
            .search
            .as_ref()
            .map(|s| template(at, s, &search_vars, Some("tag"), "a search path"))
            .transpose()?,
        items: pointer(at, k.items.as_ref(), "")?,
        children,
    };
    check_tag(&kind, &kind.body, false).map_err(|e| at.err(k.tag.span(), e))?;
    Ok(kind)
}

/// Validates the suite's `[[kind]]`s: names unique, references declared, no
/// shared-fixture cycle, child kinds tagged per entity.
pub(super) fn kinds(
    at: &Locator<'_>,
    raw: Vec<Spanned<RawKind>>,
) -> Result<Vec<FixtureKind>, SuiteError> {
    let mut out: Vec<FixtureKind> = Vec::new();
    let mut spans = Vec::new();
    for k in raw {
        let span = k.span();
        let k = kind(at, k.into_inner())?;
        if out.iter().any(|o| o.name == k.name) {
            return Err(at.err(span, format!("kind {} is declared twice", k.name)));
        }
        out.push(k);
        spans.push(span);
    }
    let names: HashSet<&str> = out.iter().map(|k| k.name.as_str()).collect();
    for (k, span) in out.iter().zip(&spans) {
        for c in &k.children {
            let Some(child) = out.iter().find(|o| o.name == c.kind) else {
                return Err(at.err(
                    span.clone(),
                    format!("kind {}: children of unknown kind {}", k.name, c.kind),
                ));
            };
            check_tag(child, &child.body, true).map_err(|e| at.err(span.clone(), e))?;
        }
        for s in k.shared_uses() {
            if !names.contains(s.as_str()) {
                return Err(at.err(
                    span.clone(),
                    format!("kind {}: {{shared.{s}.id}} names no declared kind", k.name),
                ));
            }
        }
    }
    if let Some(cycle) = shared_cycle(&out) {
        return Err(at.err(
            0..0,
            format!("shared fixtures need each other in a cycle: {cycle}"),
        ));
    }
    Ok(out)
}

/// A cycle of `{shared.KIND.id}` references between kinds' bodies, if any.
fn shared_cycle(kinds: &[FixtureKind]) -> Option<String> {
    let uses: HashMap<&str, Vec<String>> = kinds
        .iter()
        .map(|k| (k.name.as_str(), k.shared_uses()))
        .collect();
    fn visit<'a>(
        k: &'a str,
        uses: &'a HashMap<&str, Vec<String>>,
        path: &mut Vec<&'a str>,
    ) -> Option<String> {
        if path.contains(&k) {
            path.push(k);
            return Some(path.join(" → "));
        }
        path.push(k);
        for next in uses.get(k).into_iter().flatten() {
            if let Some(c) = visit(next, uses, path) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    kinds
        .iter()
        .find_map(|k| visit(&k.name, &uses, &mut Vec::new()))
}
