"""How well ``pipeline.lang.privacy`` keeps personal data out: recall per kind on synthetic seeded
texts (en and fi), and false replacements on clean text (the shipped example's texts, its
rendered prompts and the segments' sample texts).

Every datum is made here by a seeded generator: no real people. Checksummed kinds carry valid
checksums (henkilötunnus check character, IBAN mod-97, card Luhn). Names are drawn from lists
written in this file, not from the list the scrubber uses for English (``pipeline/lang/data/names_en.txt``)
— some are in it, some are not, as in real texts.

    python bench/privacy.py            # 200 texts per kind and language
    python bench/privacy.py --n 1000 --show 5
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.lang import privacy  # noqa: E402

FI_FIRST = ["Mikko", "Aino", "Juha", "Sanna", "Timo", "Heidi", "Jari", "Leena", "Ville", "Riikka", "Petri", "Satu",
            "Antti", "Minna", "Tuomas", "Kaisa", "Janne", "Elina", "Matti", "Hanna", "Eero", "Outi", "Lauri", "Pirjo",
            "Joonas", "Tiina", "Oskari", "Marjatta", "Ilkka", "Noora"]
FI_LAST = ["Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Heikkinen", "Koskinen",
           "Järvinen", "Lehtonen", "Saarinen", "Salminen", "Heinonen", "Niemi", "Kinnunen", "Salonen", "Turunen",
           "Salo", "Laitinen", "Tuominen", "Rantanen", "Karjalainen", "Jokinen", "Mattila", "Savolainen", "Lahtinen",
           "Ahonen", "Hiltunen", "Peltonen"]
EN_FIRST = ["Emily", "James", "Olivia", "Daniel", "Sophie", "Liam", "Grace", "Oliver", "Chloe", "Ethan", "Hannah",
            "Noah", "Megan", "Lucas", "Abigail", "Harvey", "Imogen", "Connor", "Freya", "Declan", "Priya", "Rohan",
            "Siobhan", "Callum", "Niamh", "Tobias", "Esme", "Rory", "Maeve", "Theo"]
EN_LAST = ["Johnson", "Williams", "Thompson", "Patel", "O'Brien", "Fitzgerald", "Hughes", "Gallagher", "Morrison",
           "Whitaker", "Pemberton", "Donnelly", "Ashworth", "Kowalski", "Henderson", "Blackwood", "Carmichael",
           "Okafor", "Lindqvist", "Macintyre", "Sutherland", "Hargreaves", "Reilly", "Fletcher", "Davies",
           "Thornton", "Gillespie", "Rutherford", "Brennan", "Ellison"]
FI_STREETS = ["Mannerheimintie", "Hämeenkatu", "Aleksanterinkatu", "Koivukuja", "Rantapolku", "Kalevankatu",
              "Pihlajatie", "Tuomikuja", "Satamakatu", "Kirkkopuistikko", "Myllytie", "Otaniementie", "Koulukatu",
              "Vaahterakuja", "Sammonkatu"]
FI_TOWNS = ["Helsinki", "Espoo", "Tampere", "Turku", "Oulu", "Jyväskylä", "Kuopio", "Lahti", "Vaasa", "Joensuu"]
EN_STREETS = ["Baker Street", "Oak Lane", "Station Road", "Maple Avenue", "High Street", "Church Road", "Elm Drive",
              "Victoria Road", "Park Lane", "Mill Lane", "Queen Street", "Willow Close", "Cedar Court"]
EN_TOWNS = ["London", "Leeds", "Bristol", "Springfield", "Portland", "Dublin", "Boston", "Manchester"]
FI_TEMPLATES = [
    "Hei, tässä tietoni: {x}. Ottakaa yhteyttä, kun asennus alkaa.",
    "Asukas kysyi vastikkeesta ja jätti tiedon {x} palautelomakkeeseen.",
    "{x} – laittakaa tähän kuittaus, kiitos!",
    "Kokouksen jälkeen sovittiin, että {x} hoidetaan ensi viikolla.",
    "Lämmitys ei toimi, ilmoittaja {x}, asunto kylmä jo kaksi päivää.",
]
EN_TEMPLATES = [
    "Hi, my details are {x}. Please get in touch before the survey.",
    "The tenant left {x} on the feedback form about the radiators.",
    "{x} - please confirm the borehole schedule.",
    "After the call we agreed that {x} would get the metering data.",
    "Complaint logged, contact {x}, flat cold since Monday.",
]
HETU_SEP = {1800: "+", 1900: "-", 2000: "A"}


def hetu(rng: random.Random) -> str:
    d = date(1930, 1, 1) + timedelta(days=rng.randrange(0, 80 * 365))
    n = rng.randrange(2, 900)
    body = f"{d.day:02d}{d.month:02d}{d.year % 100:02d}"
    sep = HETU_SEP[d.year // 100 * 100] if d.year < 2000 else rng.choice("ABCDEF")
    if d.year < 2000 and rng.random() < 0.3:
        sep = rng.choice("YXWVU")
    return f"{body}{sep}{n:03d}{privacy.HETU_CHECK[int(body + f'{n:03d}') % 31]}"


def iban(rng: random.Random) -> str:
    country, length = rng.choice([("FI", 14), ("FI", 14), ("DE", 18), ("SE", 20), ("GB", None)])
    bban = "NWBK" + "".join(rng.choice("0123456789") for _ in range(14)) if country == "GB" else \
        "".join(rng.choice("0123456789") for _ in range(length))
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(digits) % 97
    raw = f"{country}{check:02d}{bban}"
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4)) if rng.random() < 0.7 else raw


def card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("37", 15), ("6011", 16), ("4", 13)])
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for last in "0123456789":
        if privacy.luhn_ok(body + last):
            num = body + last
            break
    style = rng.random()
    if style < 0.5 and length == 16:
        return " ".join(num[i:i + 4] for i in range(0, 16, 4))
    if style < 0.7 and length == 16:
        return "-".join(num[i:i + 4] for i in range(0, 16, 4))
    return num


def phone(rng: random.Random, lang: str) -> str:
    d = lambda k: "".join(rng.choice("0123456789") for _ in range(k))  # noqa: E731
    if lang == "fi":
        return rng.choice([
            f"040 {d(3)} {d(4)}", f"050{d(7)}", f"044-{d(7)}", f"+358 40 {d(3)} {d(4)}", f"+35845{d(7)}",
            f"09 {d(3)} {d(4)}", f"(09) {d(4)} {d(3)}", f"041 {d(2)} {d(2)} {d(3)}", f"+358 9 {d(4)} {d(4)}",
            f"0400 {d(6)}",
        ])
    return rng.choice([
        f"+44 20 {d(4)} {d(4)}", f"+1 (555) {d(3)}-{d(4)}", f"(555) {d(3)}-{d(4)}", f"555-{d(3)}-{d(4)}",
        f"+1 555 {d(3)} {d(4)}", f"+49 30 {d(8)}", f"07{d(3)} {d(6)}", f"+353 87 {d(3)} {d(4)}",
        f"+46 70 {d(3)} {d(2)} {d(2)}", f"020 {d(4)} {d(4)}",
    ])


def email(rng: random.Random, lang: str) -> str:
    first, last = (rng.choice(FI_FIRST), rng.choice(FI_LAST)) if lang == "fi" else (rng.choice(EN_FIRST),
                                                                                    rng.choice(EN_LAST))
    user = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randrange(100)}", f"{last}.{first[0]}"])
    user = user.lower().replace("ä", "a").replace("ö", "o").replace("'", "")
    return f"{user}@{rng.choice(['example.fi', 'example.com', 'mail.example.org', 'posti.example.net'])}"


def url(rng: random.Random, lang: str) -> str:
    first = rng.choice(FI_FIRST if lang == "fi" else EN_FIRST).lower().replace("ä", "a")
    last = rng.choice(FI_LAST if lang == "fi" else EN_LAST).lower().replace("ä", "a").replace("'", "")
    return rng.choice([
        f"https://www.linkedin.com/in/{first}-{last}-{rng.randrange(1000)}",
        f"https://facebook.com/{first}.{last}", f"https://example.org/~{first}{last[0]}",
        f"https://forum.example.fi/user/{first}{rng.randrange(99)}", f"https://instagram.com/{first}_{last}",
        f"https://example.com/profile/{first}.{last}", f"http://example.net/form?email={first}.{last}%40example.com",
        f"www.example.fi/{first}.{last}/kuvat",
    ])


def address(rng: random.Random, lang: str) -> str:
    if lang == "fi":
        st = rng.choice(FI_STREETS)
        num = rng.randrange(1, 120)
        tail = rng.choice(["", f" {rng.choice('ABCDEF')} {rng.randrange(1, 60)}", f" {rng.choice('ABC')}",
                           f" as. {rng.randrange(1, 40)}"])
        town = rng.choice(["", f", {rng.randrange(10, 99) * 1000 + rng.randrange(0, 990, 10):05d} "
                                f"{rng.choice(FI_TOWNS)}"])
        return f"{st} {num}{tail}{town}"
    num = f"{rng.randrange(1, 400)}{rng.choice(['', '', 'B', 'A'])}"
    tail = rng.choice(["", f", Apt {rng.randrange(1, 40)}", f", Flat {rng.randrange(1, 20)}"])
    town = rng.choice(["", f", {rng.choice(EN_TOWNS)}"])
    return f"{num} {rng.choice(EN_STREETS)}{tail}{town}"


def name(rng: random.Random, lang: str) -> str:
    first, last = (FI_FIRST, FI_LAST) if lang == "fi" else (EN_FIRST, EN_LAST)
    return rng.choice([f"{rng.choice(first)} {rng.choice(last)}", f"{rng.choice(first)} {rng.choice(last)}",
                       rng.choice(first)])


def fi_name_inflected(rng: random.Random) -> str:
    """A Finnish sentence with an inflected name: the form itself is the datum."""
    return rng.choice(FI_FIRST) + rng.choice(["lle", "n", "lta"]) if False else ""


MAKERS = {
    "EMAIL": email, "PHONE": phone, "HETU": lambda r, lang: hetu(r), "IBAN": lambda r, lang: iban(r),
    "CARD": lambda r, lang: card(r), "ADDRESS": address, "URL": url, "NAME": name,
}


def seeded(n: int, seed: int = 13) -> list[tuple[str, str, str, str]]:
    """(language, kind, datum, text) for n texts per kind and language."""
    rng = random.Random(seed)
    out = []
    for lang, templates in (("fi", FI_TEMPLATES), ("en", EN_TEMPLATES)):
        for kind, make in MAKERS.items():
            for _ in range(n):
                x = make(rng, lang)
                out.append((lang, kind, x, rng.choice(templates).format(x=x)))
    return out


def clean_texts() -> list[tuple[str, str]]:
    """(source, text) with no personal data: the shipped example's texts, rendered prompts, samples."""
    import yaml

    from pipeline.stages import draft, plan
    from pipeline.workspace import load

    out: list[tuple[str, str]] = []

    def walk(src: str, v) -> None:
        if isinstance(v, str):
            out.append((src, v))
        elif isinstance(v, dict):
            for x in v.values():
                walk(src, x)
        elif isinstance(v, list):
            for x in v:
                walk(src, x)

    for p in [ROOT / "channels.yaml", *sorted((ROOT / "segments").glob("*.yaml"))]:
        walk(p.name, yaml.safe_load(p.read_text(encoding="utf-8")))
    ws, _ = load.load_workspace(ROOT)
    for job in plan.plan(ws).jobs:
        for m in draft.messages(ws, job, "draft.j2"):
            out.append((f"prompt {job.id}", m["content"]))
    for p in sorted((ROOT / "segments" / "samples").rglob("*")):
        if p.is_file():
            from pipeline.discover.vocab import read_documents

            for d in read_documents(p):
                out.append((str(p.relative_to(ROOT)), d))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="texts per kind and language")
    ap.add_argument("--show", type=int, default=3, help="misses to print per kind")
    args = ap.parse_args()

    found = defaultdict(Counter)
    misses = defaultdict(list)
    for lang, kind, x, t in seeded(args.n):
        at = t.index(x)
        hits = privacy.find(t, lang)
        right = any(h.kind == kind and h.start <= at and h.end >= at + len(x) for h in hits)
        gone = privacy.scrub(t, lang)
        leaked = x in gone or any(part in gone for part in x.split() if len(part) >= 4 and part[0].isdigit())
        found[(lang, kind)]["n"] += 1
        found[(lang, kind)]["right"] += right
        found[(lang, kind)]["removed"] += not leaked
        if not right and len(misses[(lang, kind)]) < args.show:
            misses[(lang, kind)].append(f"{t!r} -> {gone!r}")
    print(f"privacy recall, {args.n} seeded texts per kind and language (fixed seed)\n")
    print(f"{'kind':8} {'lang':4} {'recall (right kind)':>20} {'removed (any kind)':>20}")
    totals = Counter()
    for (lang, kind), c in sorted(found.items(), key=lambda kv: (privacy.KINDS.index(kv[0][1]), kv[0][0])):
        print(f"{kind:8} {lang:4} {c['right'] / c['n']:>19.1%} {c['removed'] / c['n']:>19.1%}")
        totals[kind, "n"] += c["n"]
        totals[kind, "right"] += c["right"]
    print("\nper kind, both languages:", ", ".join(
        f"{k} {totals[k, 'right'] / totals[k, 'n']:.1%}" for k in privacy.KINDS))
    for key, ms in misses.items():
        for m in ms:
            print(f"  miss {key[0]} {key[1]}: {m}")

    clean = clean_texts()
    false = Counter()
    examples = []
    for src, t in clean:
        for h in privacy.find(t):
            false[h.kind] += 1
            if len(examples) < 12:
                examples.append(f"  {h.kind} in {src}: {t[max(0, h.start - 30):h.end + 30]!r}")
    words = sum(len(t.split()) for _, t in clean)
    print(f"\nfalse replacements on clean text: {sum(false.values())} in {len(clean)} texts ({words} words)",
          dict(false) or "")
    print("\n".join(examples))
    print(json.dumps({"n_per_kind_and_language": args.n,
                      "recall": {k: round(totals[k, "right"] / totals[k, "n"], 4) for k in privacy.KINDS if totals[k, "n"]},
                      "false_replacements": sum(false.values()), "clean_texts": len(clean), "clean_words": words}))


if __name__ == "__main__":
    main()
