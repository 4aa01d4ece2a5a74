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
    /// Its cities' lines of the embedded text, largest first: checked when the file is
    /// parsed, read again on each list. Tens of thousands of cities kept as parsed values
    /// would cost megabytes for lists of a few hundred lines at most.
    city_lines: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct City {
    pub name: &'static str,
    pub population: u32,
    keys: MatchKeys,
}

/// The name and, when it differs from the lower-cased name, the name lower-cased without
/// diacritics ("zur" finds Zürich). Both borrow the embedded text: no entry allocates.
#[derive(Debug, Clone, Copy)]
struct MatchKeys {
    name: &'static str,
    folded: Option<&'static str>,
}

impl MatchKeys {
    fn new(name: &'static str, folded: &'static str) -> Self {
        Self { name, folded: Some(folded).filter(|f| !f.is_empty()) }
    }

    /// `prefix` is lower-cased already.
    fn starts_with(&self, prefix: &str) -> bool {
        let mut lower = self.name.chars().flat_map(char::to_lowercase);
        prefix.chars().all(|p| lower.next() == Some(p)) || self.folded.is_some_and(|f| f.starts_with(prefix))
    }
}

fn normalize_prefix(prefix: &str) -> String {
    prefix.trim().to_lowercase()
}

fn code_starts_with(code: &str, prefix: &str) -> bool {
    code.get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

impl City {
    fn parse(line: &'static str) -> Option<Self> {
        let mut f = line.split('\t');
        let (Some("T"), Some(name), Some(folded), Some(population), None) = (f.next(), f.next(), f.next(), f.next(), f.next()) else {
            return None;
        };
        Some(Self { name, population: population.parse().ok()?, keys: MatchKeys::new(name, folded) })
    }
}

impl Directory {
    fn parse(text: &'static str) -> Result<Self, usize> {
        let mut countries: Vec<Country> = Vec::with_capacity(256);
        // Where the current subdivision's city lines start.
        let mut cities_from = None;
        let mut offset = 0;
        for (n, raw) in text.split_inclusive('\n').enumerate() {
            let start = offset;
            offset += raw.len();
            let line = raw.strip_suffix('\n').map_or(raw, |l| l.strip_suffix('\r').unwrap_or(l));
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || n + 1;
            if line.starts_with("T\t") {
                City::parse(line).ok_or_else(bad)?;
                let sub = countries.last_mut().and_then(|c| c.subdivisions.last_mut()).ok_or_else(bad)?;
                let from = *cities_from.get_or_insert(start);
                sub.city_lines = &text[from..start + line.len()];
                continue;
            }
            cities_from = None;
            match line.split('\t').collect::<Vec<_>>().as_slice() {
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
                        city_lines: "",
                    });
                }
                _ => return Err(bad()),
            }
        }
        countries.iter_mut().for_each(|c| c.subdivisions.shrink_to_fit());
        countries.shrink_to_fit();
        countries.sort_by(|a, b| a.code.cmp(b.code));
        let mut by_name: Vec<usize> = (0..countries.len()).collect();
        by_name.sort_by_cached_key(|&i| countries[i].name.to_lowercase());
        Ok(Self { countries, by_name })
    }

    pub fn country(&self, code: &str) -> Option<&Country> {
        let code = code.trim().to_ascii_uppercase();
        self.countries.binary_search_by(|c| c.code.cmp(code.as_str())).ok().map(|i| &self.countries[i])
    }

    pub fn countries(&self, prefix: &str) -> Vec<&Country> {
        let p = normalize_prefix(prefix);
        self.by_name.iter().map(|&i| &self.countries[i]).filter(|c| c.keys.starts_with(&p) || code_starts_with(c.code, &p)).collect()
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
        self.subdivisions.iter().filter(|s| s.keys.starts_with(&p) || code_starts_with(s.code, &p)).collect()
    }
}

impl Subdivision {
    /// Largest first.
    pub fn cities(&self, prefix: &str) -> Vec<City> {
        let p = normalize_prefix(prefix);
        self.city_lines.lines().filter_map(City::parse).filter(|c| c.keys.starts_with(&p)).collect()
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
        let cities: usize = d.countries.iter().flat_map(|c| &c.subdivisions).map(|s| s.cities("").len()).sum();
        assert_eq!(cities, DATA.lines().filter(|l| l.starts_with("T\t")).count(), "every city line is some subdivision's");
    }

    #[test]
    fn a_subdivisions_cities_are_the_lines_right_after_it() {
        let text = "C\tXA\tA\t\t\t\nS\tB\tBee\t\tState\t\nT\tBig\t\t900\nT\tÉtoile\tetoile\t50\nS\tC\tSee\t\tState\t\nC\tXB\tB\t\t\t\nS\tD\tDee\t\tState\t\nT\tDot\t\t7\n";
        let d = Directory::parse(text).unwrap();
        let names =
            |cc: &str, s: &str| d.country(cc).unwrap().subdivision(s).unwrap().cities("").iter().map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(names("XA", "B"), ["Big", "Étoile"]);
        assert!(names("XA", "C").is_empty());
        assert_eq!(names("XB", "D"), ["Dot"]);
        assert_eq!(d.country("XA").unwrap().subdivision("B").unwrap().cities("eto")[0].population, 50);
        assert_eq!(Directory::parse("C\tXA\tA\t\t\t\nT\tOrphan\t\t1\n").err(), Some(2), "a city before any subdivision");
        assert_eq!(Directory::parse("C\tXA\tA\t\t\t\nS\tB\tBee\t\tState\t\nT\tBig\t\tmany\n").err(), Some(3));
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
        assert!(names(directory().countries("ÅL")).contains(&"AX"), "{:?}", directory().countries("ål"));
        let ch = directory().country("CH").unwrap();
        let zurich = ch.subdivision("ZH").unwrap();
        assert!(zurich.cities("zur").iter().any(|c| c.name == "Zürich"));
        assert!(zurich.cities("ZÜR").iter().any(|c| c.name == "Zürich"));
    }

    /// Run with `cargo test --release --lib contact::tests::cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn cost() {
        fn rss_kib() -> u64 {
            let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0)
        }
        // glibc's count of the bytes malloc has handed out and not taken back.
        let heap_in_use = || unsafe { libc::mallinfo2() }.uordblks;
        let (rss_before, heap_before) = (rss_kib(), heap_in_use());
        let t = std::time::Instant::now();
        let d = Directory::parse(DATA).unwrap();
        let parse = t.elapsed();
        let (rss_after, heap) = (rss_kib(), heap_in_use() - heap_before);
        let n = 10_000;
        let t = std::time::Instant::now();
        let mut found = 0;
        for _ in 0..n {
            let us = d.country("US").unwrap();
            found += us.states("wa").len() + us.subdivision("WA").unwrap().cities("sea").len() + d.countries("un").len();
            found += usize::from(us.zip_regex().unwrap().is_match("98101-1234"));
        }
        let lookup = t.elapsed() / n;
        let t = std::time::Instant::now();
        let largest = d.countries.iter().flat_map(|c| &c.subdivisions).max_by_key(|s| s.city_lines.len()).unwrap();
        let all = largest.cities("").len();
        let widest = t.elapsed();
        println!(
            "data {} bytes; parse {parse:?}; heap {heap} bytes; RSS +{} KiB; one round of lookups {lookup:?} ({found}); \
             the largest list ({all} cities) {widest:?}",
            DATA.len(),
            rss_after - rss_before
        );
    }
}
