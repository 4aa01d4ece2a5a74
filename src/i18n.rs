//! The message catalogues: what mail and pages say in each language.
//!
//! Each language is a folder of Fluent (`.ftl`) files: the built-in ones under `locales/` in the
//! source (every folder there is embedded by build.rs), and an operator's under `messages_dir`,
//! which may add a language or override any message of a built-in one. English is the reference:
//! every message is defined there, an override must name one of its messages and use no variable
//! the English message is not given, and a language that lacks a message says it in English.
//! Everything is checked once, at start ([`Catalogue::load`]); templates call `t("id", arg=…)`
//! ([`add_to`]), which cannot then meet a broken catalogue.

use anyhow::Context as _;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use fluent_syntax::ast;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use unic_langid::LanguageIdentifier;

/// `(language, file name, text)` of every `locales/<language>/*.ftl`.
const BUILT_IN: &[(&str, &str, &str)] = include!(concat!(env!("OUT_DIR"), "/locales.rs"));

/// The reference language, and what every negotiation falls back to.
pub const ENGLISH: &str = "en";

/// The message the code itself formats dates with (`$day`, `$month` 1–12, `$year`, `$time`, `$zone`).
pub(crate) const DATE_TIME: &str = "date-time";

/// Messages whose id ends so hold markup: `t` escapes their arguments instead of their text, and
/// only HTML templates may use them.
const MARKUP_SUFFIX: &str = "-html";

/// The functions a message may call: Fluent's built-in `NUMBER`.
const FUNCTIONS: &[&str] = &["NUMBER"];

pub struct Catalogue {
    /// English first.
    languages: Vec<Language>,
    fallbacks: Vec<String>,
}

struct Language {
    id: LanguageIdentifier,
    tag: String,
    bundle: FluentBundle<Arc<FluentResource>>,
}

/// A language of the catalogue, as negotiation chose it.
#[derive(Clone, Copy)]
pub struct Chosen<'a> {
    catalogue: &'a Catalogue,
    index: usize,
}

/// Where a file came from, to name it in a report.
#[derive(Clone)]
enum Origin {
    BuiltIn(String),
    Operator(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BuiltIn(name) => write!(f, "the built-in locales/{name}"),
            Self::Operator(path) => write!(f, "{}", path.display()),
        }
    }
}

struct Source {
    origin: Origin,
    resource: Arc<FluentResource>,
}

/// What one message or term uses, read from its syntax tree.
#[derive(Default, Clone)]
struct Uses {
    variables: BTreeSet<String>,
    messages: BTreeSet<String>,
    terms: BTreeSet<String>,
    functions: BTreeSet<String>,
}

impl Catalogue {
    /// The built-in catalogues with the operator's `dir` (`<language>/*.ftl`) over them. Every
    /// problem found is in the error, each naming its file; the languages that lack messages are
    /// in [`Catalogue::fallbacks`].
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Self> {
        let mut problems = Vec::new();
        let mut sources: BTreeMap<String, (LanguageIdentifier, Vec<Source>, Vec<Source>)> = BTreeMap::new();
        for &(language, name, text) in BUILT_IN {
            let origin = Origin::BuiltIn(format!("{language}/{name}"));
            let Some(id) = language_of(language, &origin, &mut problems) else { continue };
            if let Some(resource) = parse(text.to_owned(), &origin, &mut problems) {
                sources.entry(id.to_string()).or_insert_with(|| (id, Vec::new(), Vec::new())).1.push(Source { origin, resource });
            }
        }
        if let Some(dir) = dir {
            for (id, path) in operator_files(dir, &mut problems)? {
                let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                let origin = Origin::Operator(path);
                if let Some(resource) = parse(text, &origin, &mut problems) {
                    sources.entry(id.to_string()).or_insert_with(|| (id, Vec::new(), Vec::new())).2.push(Source { origin, resource });
                }
            }
        }
        let english_sources = match sources.get(ENGLISH) {
            Some((_, built_in, _)) => built_in.iter().map(|s| s.resource.clone()).collect::<Vec<_>>(),
            None => anyhow::bail!("the English catalogue is not built in"),
        };
        let reference = entries(english_sources.iter().map(|r| &**r));
        let mut languages = Vec::new();
        let mut fallbacks = Vec::new();
        // English first: it is the fallback of every negotiation.
        let order = sources.keys().filter(|k| *k == ENGLISH).chain(sources.keys().filter(|k| *k != ENGLISH)).cloned().collect::<Vec<_>>();
        for tag in order {
            let Some((id, built_in, operator)) = sources.remove(&tag) else { continue };
            let own = check_language(&tag, &built_in, &operator, &reference, &mut problems);
            let missing: Vec<&str> = reference.keys().filter(|k| !k.starts_with('-') && !own.contains(*k)).map(String::as_str).collect();
            if !missing.is_empty() {
                fallbacks.push(format!("{tag} lacks {}: those are written in English", missing.join(", ")));
            }
            let mut bundle = FluentBundle::new_concurrent(vec![id.clone()]);
            // Isolation marks (U+2068, U+2069) around each argument would land in subjects and text
            // parts as invisible characters; the built-in languages are all written left to right.
            bundle.set_use_isolating(false);
            bundle.add_builtins().map_err(|e| anyhow::anyhow!("adding Fluent's functions: {e:?}"))?;
            let layers = english_sources.iter().cloned().chain(built_in.iter().chain(&operator).map(|s| s.resource.clone()));
            for resource in layers {
                bundle.add_resource_overriding(resource);
            }
            languages.push(Language { id, tag, bundle });
        }
        if !problems.is_empty() {
            anyhow::bail!("the message catalogues are not usable:\n  {}", problems.join("\n  "));
        }
        Ok(Self { languages, fallbacks })
    }

    /// The built-in catalogues alone.
    pub fn built_in() -> anyhow::Result<Self> {
        Self::load(None)
    }

    /// One line per language that lacks messages English has (which it then says in English).
    pub fn fallbacks(&self) -> &[String] {
        &self.fallbacks
    }

    /// The language tags, English first.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.languages.iter().map(|l| l.tag.as_str())
    }

    /// The language for a stored locale (`de-AT` → `de`); English for an unknown or malformed one.
    pub fn negotiate(&self, locale: &str) -> Chosen<'_> {
        let requested: Vec<LanguageIdentifier> = locale.replace('_', "-").parse().into_iter().collect();
        self.best_of(&requested)
    }

    /// The language for an `Accept-Language` header: its tags by their `q`, the first the
    /// catalogue has (or a region of it) wins; English when none does or there is no header.
    pub fn from_accept_language(&self, header: Option<&str>) -> Chosen<'_> {
        self.best_of(&ranked(header))
    }

    /// [`Catalogue::from_accept_language`], with the tag of the header that chose the language
    /// (`de-AT` for German), or the language's own tag when none did: what a page stores as the
    /// locale of a signup, so that its mail is in the language of its pages and keeps the region.
    pub fn from_accept_language_with_tag(&self, header: Option<&str>) -> (Chosen<'_>, String) {
        let ranked = ranked(header);
        let chosen = self.best_of(&ranked);
        let asked = ranked.iter().find(|tag| {
            let available = [&self.languages[chosen.index].id];
            let one = std::slice::from_ref(*tag);
            !fluent_langneg::negotiate_languages(one, &available, None, fluent_langneg::NegotiationStrategy::Lookup).is_empty()
        });
        let tag = asked.map_or_else(|| chosen.tag().to_owned(), ToString::to_string);
        (chosen, tag)
    }

    fn best_of(&self, requested: &[LanguageIdentifier]) -> Chosen<'_> {
        let available: Vec<&LanguageIdentifier> = self.languages.iter().map(|l| &l.id).collect();
        let chosen = fluent_langneg::negotiate_languages(requested, &available, None, fluent_langneg::NegotiationStrategy::Lookup);
        let index = chosen.first().and_then(|c| available.iter().position(|a| a == *c)).unwrap_or(0);
        Chosen { catalogue: self, index }
    }

    fn by_tag(&self, tag: &str) -> Chosen<'_> {
        match self.languages.iter().position(|l| l.tag == tag) {
            Some(index) => Chosen { catalogue: self, index },
            None => self.negotiate(tag),
        }
    }
}

impl<'a> Chosen<'a> {
    pub fn tag(&self) -> &'a str {
        &self.catalogue.languages[self.index].tag
    }

    /// The message `id` with `args`; an unknown id or an argument it lacks is an error.
    pub fn message(&self, id: &str, args: &FluentArgs) -> Result<String, String> {
        let bundle = &self.catalogue.languages[self.index].bundle;
        let pattern = bundle.get_message(id).and_then(|m| m.value()).ok_or_else(|| format!("no message `{id}` in the catalogues"))?;
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(args), &mut errors);
        match errors.first() {
            None => Ok(text.into_owned()),
            Some(e) => Err(format!("message `{id}` ({}): {e}", self.tag())),
        }
    }

    /// A moment for people, in this language: "8 December 2026, 00:49 UTC". UTC, since nothing
    /// usher receives names a person's time zone.
    pub fn date_time(&self, at_ms: i64) -> String {
        let at = jiff::Timestamp::from_millisecond(at_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let at = jiff::tz::TimeZone::UTC.to_datetime(at);
        let mut args = FluentArgs::new();
        args.set("day", at.day().to_string());
        args.set("month", i64::from(at.month()));
        args.set("year", at.year().to_string());
        args.set("time", format!("{:02}:{:02}", at.hour(), at.minute()));
        args.set("zone", "UTC");
        // Checked at start: the message exists and takes these arguments.
        self.message(DATE_TIME, &args).unwrap_or_else(|_| at.strftime("%Y-%m-%d %H:%M UTC").to_string())
    }
}

/// Makes `t("id", name=value, …)` callable in `env`'s templates. The language is the template's
/// `lang` variable (a tag of the catalogue, or any tag, negotiated), English without one. The
/// message is text, escaped like any value in an HTML template; a message whose id ends in `-html`
/// holds markup, so its arguments are escaped instead and only an HTML template may use it.
pub fn add_to(env: &mut minijinja::Environment<'_>, catalogue: Arc<Catalogue>) {
    use minijinja::value::{Kwargs, ValueKind};
    use minijinja::{Error, ErrorKind, State, Value};
    env.add_function("t", move |state: &State, id: &str, kwargs: Kwargs| -> Result<Value, Error> {
        let fail = |why: String| Error::new(ErrorKind::InvalidOperation, why);
        let lang = state.lookup("lang");
        let chosen = catalogue.by_tag(lang.as_ref().and_then(Value::as_str).unwrap_or(ENGLISH));
        let markup = id.ends_with(MARKUP_SUFFIX);
        let html = matches!(state.auto_escape(), minijinja::AutoEscape::Html);
        if markup && !html {
            return Err(fail(format!("`{id}` holds markup: only an HTML template may use it")));
        }
        let mut args = FluentArgs::new();
        for name in kwargs.args() {
            let value: Value = kwargs.get(name)?;
            let value: FluentValue<'_> = match value.kind() {
                ValueKind::Number => match i64::try_from(value.clone()) {
                    Ok(n) => n.into(),
                    Err(_) => f64::try_from(value).map_err(|e| fail(e.to_string()))?.into(),
                },
                ValueKind::Undefined | ValueKind::None => return Err(fail(format!("`{id}`: the argument `{name}` has no value"))),
                // Markup already (a macro's output): escaped once, where it was made.
                _ if markup && value.is_safe() => value.to_string().into(),
                _ if markup => minijinja::HtmlEscape(&value.to_string()).to_string().into(),
                _ => value.to_string().into(),
            };
            args.set(name.to_owned(), value);
        }
        let text = chosen.message(id, &args).map_err(fail)?;
        Ok(if markup { Value::from_safe_string(text) } else { Value::from(text) })
    });
}

/// An `Accept-Language` header's tags, best first (equal weights in the order the client sent).
fn ranked(header: Option<&str>) -> Vec<LanguageIdentifier> {
    let mut ranked: Vec<(u16, LanguageIdentifier)> = Vec::new();
    for item in header.unwrap_or_default().split(',') {
        let mut parts = item.split(';').map(str::trim);
        let Some(Ok(tag)) = parts.next().map(str::parse::<LanguageIdentifier>) else { continue };
        let quality = parts.find_map(|p| p.strip_prefix("q=")).map_or(1000, quality);
        if quality > 0 {
            ranked.push((quality, tag));
        }
    }
    ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
    ranked.into_iter().map(|(_, tag)| tag).collect()
}

/// `q=0.8` in thousandths; a malformed weight counts as 1.
fn quality(raw: &str) -> u16 {
    match raw.parse::<f32>() {
        Ok(q) if (0.0..=1.0).contains(&q) => (q * 1000.0).round() as u16,
        _ => 1000,
    }
}

fn language_of(name: &str, origin: &Origin, problems: &mut Vec<String>) -> Option<LanguageIdentifier> {
    match name.parse::<LanguageIdentifier>() {
        Ok(id) => Some(id),
        Err(_) => {
            problems.push(format!("{origin}: `{name}` is no language tag (a folder is named for its language: de, pt-BR)"));
            None
        }
    }
}

fn parse(text: String, origin: &Origin, problems: &mut Vec<String>) -> Option<Arc<FluentResource>> {
    match FluentResource::try_new(text) {
        Ok(resource) => Some(Arc::new(resource)),
        Err((resource, errors)) => {
            for e in errors {
                // The line where the broken entry starts: where the parser noticed may be far below.
                let at = e.slice.as_ref().map_or(e.pos.start, |s| s.start).min(resource.source().len());
                let line = resource.source()[..at].matches('\n').count() + 1;
                problems.push(format!("{origin}, line {line}: {e}"));
            }
            None
        }
    }
}

/// `<dir>/<language>/*.ftl`, in path order.
fn operator_files(dir: &Path, problems: &mut Vec<String>) -> anyhow::Result<Vec<(LanguageIdentifier, PathBuf)>> {
    let read = |d: &Path| -> anyhow::Result<Vec<PathBuf>> {
        let mut paths = std::fs::read_dir(d)
            .with_context(|| format!("messages_dir: reading {}", d.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("messages_dir: reading {}", d.display()))?;
        paths.sort();
        Ok(paths)
    };
    let mut files = Vec::new();
    for folder in read(dir)? {
        if !folder.is_dir() {
            if folder.extension().is_some_and(|e| e == "ftl") {
                problems.push(format!("{}: a catalogue belongs in a folder named for its language, e.g. de/", folder.display()));
            }
            continue;
        }
        let name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let Some(id) = language_of(&name, &Origin::Operator(folder.clone()), problems) else { continue };
        for path in read(&folder)? {
            if path.extension().is_some_and(|e| e == "ftl") && path.is_file() {
                files.push((id.clone(), path));
            }
        }
    }
    Ok(files)
}

/// The messages (`id`) and terms (`-id`) of `resources`, with what each uses; a later one wins.
fn entries<'r>(resources: impl Iterator<Item = &'r FluentResource>) -> BTreeMap<String, Uses> {
    let mut found = BTreeMap::new();
    for resource in resources {
        for (id, uses) in resource.entries().filter_map(entry_uses) {
            found.insert(id, uses);
        }
    }
    found
}

fn entry_uses(entry: &ast::Entry<&str>) -> Option<(String, Uses)> {
    let mut uses = Uses::default();
    let (id, value, attributes) = match entry {
        ast::Entry::Message(m) => (m.id.name.to_owned(), m.value.as_ref(), &m.attributes),
        ast::Entry::Term(t) => (format!("-{}", t.id.name), Some(&t.value), &t.attributes),
        _ => return None,
    };
    for pattern in value.into_iter().chain(attributes.iter().map(|a| &a.value)) {
        pattern_uses(pattern, &mut uses);
    }
    Some((id, uses))
}

fn pattern_uses(pattern: &ast::Pattern<&str>, uses: &mut Uses) {
    for element in &pattern.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            expression_uses(expression, uses);
        }
    }
}

fn expression_uses(expression: &ast::Expression<&str>, uses: &mut Uses) {
    match expression {
        ast::Expression::Select { selector, variants } => {
            inline_uses(selector, uses);
            for variant in variants {
                pattern_uses(&variant.value, uses);
            }
        }
        ast::Expression::Inline(inline) => inline_uses(inline, uses),
    }
}

fn inline_uses(inline: &ast::InlineExpression<&str>, uses: &mut Uses) {
    let arguments = |arguments: &ast::CallArguments<&str>, uses: &mut Uses| {
        for argument in arguments.positional.iter().chain(arguments.named.iter().map(|n| &n.value)) {
            inline_uses(argument, uses);
        }
    };
    match inline {
        ast::InlineExpression::StringLiteral { .. } | ast::InlineExpression::NumberLiteral { .. } => {}
        ast::InlineExpression::FunctionReference { id, arguments: args } => {
            uses.functions.insert(id.name.to_owned());
            arguments(args, uses);
        }
        ast::InlineExpression::MessageReference { id, .. } => {
            uses.messages.insert(id.name.to_owned());
        }
        ast::InlineExpression::TermReference { id, arguments: args, .. } => {
            uses.terms.insert(format!("-{}", id.name));
            if let Some(args) = args {
                arguments(args, uses);
            }
        }
        ast::InlineExpression::VariableReference { id } => {
            uses.variables.insert(id.name.to_owned());
        }
        ast::InlineExpression::Placeable { expression } => expression_uses(expression, uses),
    }
}

/// The variables `id` uses, through the messages it refers to.
fn variables_of(id: &str, all: &BTreeMap<String, Uses>, seen: &mut BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    if !seen.insert(id.to_owned()) {
        return found;
    }
    if let Some(uses) = all.get(id) {
        found.extend(uses.variables.iter().cloned());
        for referred in &uses.messages {
            found.extend(variables_of(referred, all, seen));
        }
    }
    found
}

/// Checks one language's files against English; answers the ids the language defines itself.
fn check_language(
    tag: &str,
    built_in: &[Source],
    operator: &[Source],
    reference: &BTreeMap<String, Uses>,
    problems: &mut Vec<String>,
) -> BTreeSet<String> {
    let is_reference = tag == ENGLISH;
    let mut own = BTreeSet::new();
    // What the language's bundle ends up holding: English under its own files.
    let mut merged = reference.clone();
    for (layer, is_operator) in [(built_in, false), (operator, true)] {
        let mut in_layer: BTreeMap<String, Origin> = BTreeMap::new();
        for source in layer {
            for (id, uses) in source.resource.entries().filter_map(entry_uses) {
                if let Some(first) = in_layer.insert(id.clone(), source.origin.clone()) {
                    problems.push(format!("{}: `{id}` is defined again (first in {first})", source.origin));
                }
                let checked_against_english = !is_reference || is_operator;
                if checked_against_english && !reference.contains_key(&id) {
                    problems.push(format!(
                        "{}: `{id}` is no message of the English catalogue; a catalogue can only word the messages usher has (a typo?)",
                        source.origin
                    ));
                    continue;
                }
                own.insert(id.clone());
                merged.insert(id, uses);
            }
        }
    }
    let mut sources_of: BTreeMap<String, Origin> = BTreeMap::new();
    for source in built_in.iter().chain(operator) {
        for (id, _) in source.resource.entries().filter_map(entry_uses) {
            sources_of.insert(id, source.origin.clone());
        }
    }
    for (id, origin) in &sources_of {
        let Some(uses) = merged.get(id) else { continue };
        for referred in uses.messages.iter().chain(&uses.terms) {
            if !merged.contains_key(referred) {
                problems.push(format!("{origin}: `{id}` refers to `{referred}`, which no catalogue defines"));
            }
        }
        for function in &uses.functions {
            if !FUNCTIONS.contains(&function.as_str()) {
                problems.push(format!("{origin}: `{id}` calls `{function}`, which is no function (there is {})", FUNCTIONS.join(", ")));
            }
        }
        if id.starts_with('-') || (is_reference && matches!(origin, Origin::BuiltIn(_))) {
            continue;
        }
        let given = variables_of(id, reference, &mut BTreeSet::new());
        let used = variables_of(id, &merged, &mut BTreeSet::new());
        for variable in used.difference(&given) {
            problems.push(format!(
                "{origin}: `{id}` uses `${variable}`, which the English `{id}` does not have, so it is never given{}",
                if given.is_empty() {
                    String::new()
                } else {
                    format!(" (it is given {})", given.iter().map(|v| format!("${v}")).collect::<Vec<_>>().join(", "))
                }
            ));
        }
    }
    own
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue_with(files: &[(&str, &str)]) -> anyhow::Result<(Catalogue, tempfile::TempDir)> {
        let dir = tempfile::tempdir()?;
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap())?;
            std::fs::write(path, text)?;
        }
        Ok((Catalogue::load(Some(dir.path()))?, dir))
    }

    fn ids(language: &str) -> BTreeSet<String> {
        let resources: Vec<FluentResource> = BUILT_IN
            .iter()
            .filter(|(l, _, _)| *l == language)
            .map(|(_, _, text)| FluentResource::try_new((*text).to_owned()).unwrap())
            .collect();
        entries(resources.iter()).into_keys().collect()
    }

    #[test]
    fn english_and_german_have_the_same_messages() {
        let (en, de) = (ids("en"), ids("de"));
        assert!(en.contains("mail-signup-subject") && en.contains("home-title"), "both the mail's and the pages' catalogues: {en:?}");
        assert_eq!(en.difference(&de).collect::<Vec<_>>(), Vec::<&String>::new(), "in English, not in German");
        assert_eq!(de.difference(&en).collect::<Vec<_>>(), Vec::<&String>::new(), "in German, not in English");
        let catalogue = Catalogue::built_in().unwrap();
        assert_eq!(catalogue.fallbacks(), &[] as &[String], "no built-in language falls back");
        assert_eq!(catalogue.languages().collect::<Vec<_>>(), ["en", "de"]);
    }

    /// The ids in `t("…")` calls of `templates/<folder>/*`.
    fn used_by_templates(folder: &str) -> BTreeSet<String> {
        let mut used = BTreeSet::new();
        for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("templates").join(folder)).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for (at, _) in text.match_indices("t(\"") {
                if text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &text[at + 3..];
                used.insert(rest[..rest.find('"').unwrap()].to_owned());
            }
        }
        used
    }

    /// The message ids the pages' code names (the words of a field's problem): `"rule-…"`.
    fn used_by_page_code() -> BTreeSet<String> {
        let mut used = BTreeSet::new();
        for file in ["src/http/pages.rs", "src/http/pages/forms.rs"] {
            let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
            for (at, _) in text.match_indices("\"rule-") {
                let rest = &text[at + 1..];
                used.insert(rest[..rest.find('"').unwrap()].to_owned());
            }
        }
        used
    }

    #[test]
    fn every_message_the_templates_and_the_code_use_is_in_every_catalogue() {
        let mail = used_by_templates("mail");
        let pages = used_by_templates("pages");
        let code = used_by_page_code();
        assert!(mail.contains("mail-signup-subject") && pages.contains("home-welcome"), "the templates were read: {mail:?} {pages:?}");
        assert!(code.contains("rule-required") && code.contains("rule-taken"), "the pages' code was read: {code:?}");
        let used: BTreeSet<String> = mail.iter().chain(&pages).chain(&code).cloned().chain([DATE_TIME.to_owned()]).collect();
        for language in ["en", "de"] {
            let defined = ids(language);
            let missing: Vec<_> = used.difference(&defined).collect();
            assert!(missing.is_empty(), "{language} lacks {missing:?}");
        }
        let unused: Vec<_> = ids("en").into_iter().filter(|id| !id.starts_with('-') && !used.contains(id)).collect();
        assert!(unused.is_empty(), "no template and no code uses {unused:?}");
    }

    #[test]
    fn a_locale_is_negotiated_to_its_language_and_anything_else_to_english() {
        let catalogue = Catalogue::built_in().unwrap();
        for (locale, chosen) in
            [("de", "de"), ("de-AT", "de"), ("de_CH", "de"), ("en-US", "en"), ("fr", "en"), ("", "en"), ("not a tag!", "en")]
        {
            assert_eq!(catalogue.negotiate(locale).tag(), chosen, "{locale:?}");
        }
    }

    #[test]
    fn accept_language_is_read_by_weight_and_falls_back_to_english() {
        let catalogue = Catalogue::built_in().unwrap();
        for (header, chosen) in [
            (Some("de-AT,de;q=0.9,en;q=0.8"), "de"),
            (Some("fr-FR, fr;q=0.9, de;q=0.5, en;q=0.4"), "de"),
            (Some("en;q=0.2, de;q=0.7"), "de"),
            (Some("de;q=0, en"), "en"),
            (Some("fr, it"), "en"),
            (Some("*"), "en"),
            (Some(""), "en"),
            (None, "en"),
        ] {
            assert_eq!(catalogue.from_accept_language(header).tag(), chosen, "{header:?}");
        }
    }

    #[test]
    fn the_tag_that_chose_a_language_is_kept_with_its_region_and_a_language_chosen_by_default_is_its_own() {
        let catalogue = Catalogue::built_in().unwrap();
        for (header, chosen, tag) in [
            (Some("fr-FR, de-AT;q=0.8, en;q=0.5"), "de", "de-AT"),
            (Some("en-US,en;q=0.9"), "en", "en-US"),
            (Some("fr"), "en", "en"),
            (None, "en", "en"),
        ] {
            let (language, asked) = catalogue.from_accept_language_with_tag(header);
            assert_eq!((language.tag(), asked.as_str()), (chosen, tag), "{header:?}");
        }
    }

    #[test]
    fn dates_are_written_for_people_in_each_language() {
        let catalogue = Catalogue::built_in().unwrap();
        let at = 1_796_690_945_000; // 2026-12-08T00:49:05Z
        assert_eq!(catalogue.negotiate("en").date_time(at), "8 December 2026, 00:49 UTC");
        assert_eq!(catalogue.negotiate("de-DE").date_time(at), "8. Dezember 2026, 00:49 UTC");
        assert_eq!(catalogue.negotiate("de").date_time(1_777_777_777_000), "3. Mai 2026, 03:09 UTC");
    }

    #[test]
    fn a_template_calls_t_in_the_language_of_its_lang_and_escapes_as_html_needs() {
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(
            |name| if name.ends_with(".html") { minijinja::AutoEscape::Html } else { minijinja::AutoEscape::None },
        );
        add_to(&mut env, Arc::new(Catalogue::built_in().unwrap()));
        env.add_template("hello.txt", r#"{{ t("mail-hello", name=name) }} {{ t("mail-signup-intro", cname=cname) }}"#).unwrap();
        env.add_template("hello.html", r#"{{ t("mail-hello", name=name) }} {{ t("mail-signup-intro-html", cname=cname) }}"#).unwrap();
        env.add_template("markup.txt", r#"{{ t("mail-signup-intro-html", cname="acme") }}"#).unwrap();
        env.add_template("unknown.txt", r#"{{ t("mail-nope") }}"#).unwrap();
        env.add_template("missing.txt", r#"{{ t("mail-hello") }}"#).unwrap();

        let ctx = |lang: Option<&str>| minijinja::context! { lang, name => "<Jo>", cname => "a&b" };
        let text = env.get_template("hello.txt").unwrap().render(ctx(Some("de"))).unwrap();
        assert_eq!(
            text,
            "Hallo <Jo>, Vielen Dank für Ihre Registrierung. Um den Mandanten „a&b“ anzulegen und Ihr Passwort festzulegen, öffnen Sie diesen Link:"
        );
        let html = env.get_template("hello.html").unwrap().render(ctx(None)).unwrap();
        assert!(
            html.starts_with("Hello &lt;Jo&gt;, Thank you for signing up. To create the tenant <strong>a&amp;b</strong> and"),
            "{html}"
        );
        assert!(env.get_template("hello.txt").unwrap().render(ctx(Some("de-AT"))).unwrap().starts_with("Hallo"), "a tag is negotiated");
        for (name, why) in [("markup.txt", "holds markup"), ("unknown.txt", "no message `mail-nope`"), ("missing.txt", "name")] {
            let e = env.get_template(name).unwrap().render(ctx(Some("en"))).unwrap_err();
            assert!(format!("{e:#}").contains(why), "{name}: {e:#}");
        }
    }

    #[test]
    fn an_operator_folder_adds_a_language_and_its_missing_messages_fall_back_to_english_and_are_reported() {
        let (catalogue, _dir) = catalogue_with(&[("fr/mail.ftl", "mail-hello = Bonjour { $name },\n")]).unwrap();
        assert_eq!(catalogue.languages().collect::<Vec<_>>(), ["en", "de", "fr"]);
        let fr = catalogue.negotiate("fr-CA");
        assert_eq!(fr.tag(), "fr");
        let mut args = FluentArgs::new();
        args.set("name", "Jo");
        assert_eq!(fr.message("mail-hello", &args).unwrap(), "Bonjour Jo,");
        args.set("cname", "acme");
        assert_eq!(fr.message("mail-signup-subject", &args).unwrap(), "Confirm your signup for acme");
        let reported = catalogue.fallbacks().join("\n");
        assert!(
            reported.starts_with("fr lacks ") && reported.contains("mail-signup-subject") && !reported.contains("mail-hello,"),
            "{reported}"
        );
    }

    #[test]
    fn an_operator_file_overrides_one_message_and_keeps_the_others() {
        let (catalogue, _dir) = catalogue_with(&[("de/ours.ftl", "mail-hello = Guten Tag { $name },\n")]).unwrap();
        let de = catalogue.negotiate("de");
        let mut args = FluentArgs::new();
        args.set("name", "Jo");
        args.set("cname", "acme");
        assert_eq!(de.message("mail-hello", &args).unwrap(), "Guten Tag Jo,");
        assert_eq!(de.message("mail-signup-subject", &args).unwrap(), "Bestätigen Sie Ihre Registrierung für acme");
        assert_eq!(catalogue.negotiate("en").message("mail-hello", &args).unwrap(), "Hello Jo,", "other languages keep theirs");
        assert!(catalogue.fallbacks().is_empty());
    }

    #[test]
    fn a_broken_catalogue_stops_the_start_naming_its_file_and_line() {
        for (files, expected) in [
            (&[("de/x.ftl", "mail-hello = Hallo,\n\nmail-bad = { $name\n")][..], &["de/x.ftl, line 3"][..]),
            (&[("de/x.ftl", "mail-helo = Hallo,\n")], &["`mail-helo` is no message of the English catalogue"]),
            (&[("en/x.ftl", "mail-hello = Hi { $nmae },\n")], &["`mail-hello` uses `$nmae`", "(it is given $name)"]),
            (&[("de/x.ftl", "mail-hello = Hallo { -brand },\n")], &["refers to `-brand`, which no catalogue defines"]),
            (&[("de/x.ftl", "mail-hello = { UPPER($name) }\n")], &["calls `UPPER`"]),
            (&[("de/x.ftl", "mail-hello = A\n"), ("de/y.ftl", "mail-hello = B\n")], &["de/y.ftl: `mail-hello` is defined again"]),
            (&[("deutsch!/x.ftl", "mail-hello = A\n")], &["`deutsch!` is no language tag"]),
            (&[("x.ftl", "mail-hello = A\n")], &["x.ftl: a catalogue belongs in a folder"]),
        ] {
            let e = format!("{:#}", catalogue_with(files).err().unwrap_or_else(|| panic!("{files:?} loads")));
            for part in expected {
                assert!(e.contains(part), "{files:?}: {e}");
            }
        }
        let e = Catalogue::load(Some(Path::new("/nonexistent/messages"))).err().unwrap();
        assert!(format!("{e:#}").contains("messages_dir: reading /nonexistent/messages"), "{e:#}");
    }
}
