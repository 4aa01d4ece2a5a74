mod address;

pub use address::{ContactErr, RawAddress, check};

use regex::Regex;
use std::sync::{LazyLock, OnceLock};

const DATA: &str = include_str!("../../data/contact.tsv");

static DIRECTORY: LazyLock<Directory> = LazyLock::new(|| match Directory::parse(DATA) {
    Ok(d) => d,
    Err(line) => {
        // A unit test parses the embedded file, so this is a build that skipped it.
        tracing::error!(line, "the embedded contact data is malformed; contact lists are empty");
        Directory::default()
    }
});

pub fn directory() -> &'static Directory {
    &DIRECTORY
}

#[derive(Debug, Default)]
pub struct Directory {
    /// Sorted by code, for lookups.
    countries: Vec<Country>,
    /// Indexes into `countries`, sorted by name, for lists.
    by_name: Vec<usize>,
}

#[derive(Debug)]
pub struct Country {
    pub code: &'static str,
    pub name: &'static str,
    keys: MatchKeys,
    zip_pattern: Option<&'static str>,
    pub zip_example: Option<&'static str>,
    zip_regex: OnceLock<Option<Regex>>,
    /// Sorted by name.
    pub subdivisions: Vec<Subdivision>,
}

#[derive(Debug)]
pub struct Subdivision {
    /// The ISO 3166-2 code without the leading country code (`WA` of `US-WA`).
    pub code: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub parent: Option<&'static str>,
    keys: MatchKeys,
    /// Largest first.
    pub cities: Vec<City>,
}

#[derive(Debug)]
pub struct City {
    pub name: &'static str,
    pub population: u32,
    keys: MatchKeys,
}

/// The lower-cased name and, when it differs, the name without diacritics ("zur" finds Zürich).
#[derive(Debug)]
struct MatchKeys {
    lower: String,
    folded: Option<&'static str>,
}

impl MatchKeys {
    fn new(name: &str, folded: &'static str) -> Self {
        Self { lower: name.to_lowercase(), folded: Some(folded).filter(|f| !f.is_empty()) }
    }

    fn starts_with(&self, prefix: &str) -> bool {
        self.lower.starts_with(prefix) || self.folded.is_some_and(|f| f.starts_with(prefix))
    }
}

fn normalize_prefix(prefix: &str) -> String {
    prefix.trim().to_lowercase()
}

impl Directory {
    fn parse(text: &'static str) -> Result<Self, usize> {
        let mut countries: Vec<Country> = Vec::with_capacity(256);
        for (n, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let f: Vec<&'static str> = line.split('\t').collect();
            let bad = || n + 1;
            match f.as_slice() {
                ["C", code, name, folded, zip, example] => countries.push(Country {
                    code,
                    name,
                    keys: MatchKeys::new(name, folded),
                    zip_pattern: Some(*zip).filter(|z| !z.is_empty()),
                    zip_example: Some(*example).filter(|e| !e.is_empty()),
                    zip_regex: OnceLock::new(),
                    subdivisions: Vec::new(),
                }),
                ["S", code, name, folded, kind, parent] => {
                    let country = countries.last_mut().ok_or_else(bad)?;
                    country.subdivisions.push(Subdivision {
                        code,
                        name,
                        kind,
                        parent: Some(*parent).filter(|p| !p.is_empty()),
                        keys: MatchKeys::new(name, folded),
                        cities: Vec::new(),
                    });
                }
                ["T", name, folded, population] => {
                    let sub = countries.last_mut().and_then(|c| c.subdivisions.last_mut()).ok_or_else(bad)?;
                    let population = population.parse().map_err(|_| bad())?;
                    sub.cities.push(City { name, population, keys: MatchKeys::new(name, folded) });
                }
                _ => return Err(bad()),
            }
        }
        countries.sort_by(|a, b| a.code.cmp(b.code));
        let mut by_name: Vec<usize> = (0..countries.len()).collect();
        by_name.sort_by(|&a, &b| countries[a].keys.lower.cmp(&countries[b].keys.lower));
        Ok(Self { countries, by_name })
    }

    pub fn country(&self, code: &str) -> Option<&Country> {
        let code = code.trim().to_ascii_uppercase();
        self.countries.binary_search_by(|c| c.code.cmp(code.as_str())).ok().map(|i| &self.countries[i])
    }

    pub fn countries(&self, prefix: &str) -> Vec<&Country> {
        let p = normalize_prefix(prefix);
        self.by_name
            .iter()
            .map(|&i| &self.countries[i])
            .filter(|c| c.keys.starts_with(&p) || c.code.to_ascii_lowercase().starts_with(&p))
            .collect()
    }
}

impl Country {
    pub fn zip_regex(&self) -> Option<&Regex> {
        let pattern = self.zip_pattern?;
        // Compiled on first use: most of the 249 countries are never asked for.
        self.zip_regex.get_or_init(|| Regex::new(&format!("^(?:{pattern})$")).ok()).as_ref()
    }

    pub fn zip_pattern(&self) -> Option<String> {
        self.zip_pattern.map(|p| format!("^(?:{p})$"))
    }

    pub fn subdivision(&self, code: &str) -> Option<&Subdivision> {
        let code = code.trim().to_ascii_uppercase();
        let own = code.strip_prefix(self.code).and_then(|rest| rest.strip_prefix('-')).unwrap_or(&code);
        self.subdivisions.iter().find(|s| s.code == own)
    }

    pub fn states(&self, prefix: &str) -> Vec<&Subdivision> {
        let p = normalize_prefix(prefix);
        self.subdivisions.iter().filter(|s| s.keys.starts_with(&p) || s.code.to_ascii_lowercase().starts_with(&p)).collect()
    }
}

impl Subdivision {
    pub fn cities(&self, prefix: &str) -> Vec<&City> {
        let p = normalize_prefix(prefix);
        self.cities.iter().filter(|c| c.keys.starts_with(&p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_data_parses_whole() {
        let d = Directory::parse(DATA).expect("contact.tsv parses");
        assert_eq!(d.countries.len(), 249);
        assert!(d.countries.iter().filter_map(|c| c.zip_pattern).all(|p| Regex::new(p).is_ok()));
    }

    #[test]
    fn lookups_are_case_insensitive_and_accept_both_subdivision_spellings() {
        let us = directory().country("us").unwrap();
        assert_eq!(us.name, "United States");
        assert_eq!(us.subdivision("us-wa").unwrap().name, "Washington");
        assert_eq!(us.subdivision("WA").unwrap().code, "WA");
        assert!(us.subdivision("ZZ").is_none());
        assert!(directory().country("ZZ").is_none());
    }

    #[test]
    fn prefixes_match_names_codes_and_names_without_diacritics() {
        let names = |v: Vec<&Country>| v.iter().map(|c| c.code).collect::<Vec<_>>();
        assert!(names(directory().countries("ger")).contains(&"DE"));
        assert!(names(directory().countries("de")).contains(&"DE"));
        let ch = directory().country("CH").unwrap();
        let zurich = ch.subdivision("ZH").unwrap();
        assert!(zurich.cities("zur").iter().any(|c| c.name == "Zürich"));
    }

    /// Run with `cargo test --release --lib contact::tests::cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn cost() {
        fn rss_kib() -> u64 {
            let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0)
        }
        let before = rss_kib();
        let t = std::time::Instant::now();
        let d = Directory::parse(DATA).unwrap();
        let parse = t.elapsed();
        let after = rss_kib();
        let n = 10_000;
        let t = std::time::Instant::now();
        let mut found = 0;
        for _ in 0..n {
            let us = d.country("US").unwrap();
            found += us.states("wa").len() + us.subdivision("WA").unwrap().cities("sea").len() + d.countries("un").len();
            found += usize::from(us.zip_regex().unwrap().is_match("98101-1234"));
        }
        let lookup = t.elapsed() / n;
        println!("data {} bytes; parse {parse:?}; RSS +{} KiB; one round of lookups {lookup:?} ({found})", DATA.len(), after - before);
    }
}
