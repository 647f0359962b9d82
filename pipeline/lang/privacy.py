"""Personal data out: find it in a text and replace each datum with a typed placeholder.

Kinds, in the order they are looked for (an earlier kind claims its characters first):

- ``[EMAIL]`` e-mail addresses;
- ``[URL]`` web addresses with a personal path (a profile on a social network, ``/~user``,
  ``/in/…``, ``/user/…``, a ``firstname.lastname`` path segment, a query carrying an e-mail,
  a name or an id); a bare site (``lampovirta.fi/laskuri``) is no one's and stays;
- ``[IBAN]`` account numbers that pass the mod-97 check (ISO 13616), spaced or not;
- ``[CARD]`` card numbers of 13–19 digits that pass the Luhn check;
- ``[HETU]`` Finnish personal identity codes whose date is a real date and whose check
  character is right;
- ``[PHONE]`` Finnish (``040 123 4567``, ``09-123 4567``, ``+358 40 1234567``) and international
  (``+44 20 7946 0958``, ``+1 (555) 123-4567``, ``(555) 123-4567``) numbers;
- ``[ADDRESS]`` street addresses: Finnish (``Mannerheimintie 12 B 5``, inflected
  ``Hämeenkadulla 3``, with a postcode and town) and English (``221B Baker Street``,
  ``12 Oak Lane, Apt 4``);
- ``[NAME]`` person names: in Finnish, capitalised words Voikko knows as first or family names
  (``CLASS=etunimi/sukunimi``); in English, a compact committed list of first and family names
  (``pipeline/lang/data/names_en.txt``, built from Faker's name lists by ``bench/build_data.py``).
  A name next to a name, after a title (Mr, Dr, rouva) or in a signature line counts even where
  the word is also a common word.

``keep`` words (the workspace's company name, product and segment terms) are never replaced:
personal data is what goes, not the company's own words. The detectors never return the datum
in a message, only its kind; ``find`` gives spans for the caller that must replace them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import islice
from pathlib import Path

from pipeline.lang import lemma
from pipeline.lang.text import decide_language, detect_language, language_scores

KINDS = ("EMAIL", "URL", "IBAN", "CARD", "HETU", "PHONE", "ADDRESS", "NAME")
PLACEHOLDER = re.compile(r"\[(?:" + "|".join(KINDS) + r")\]")

_L = "A-Za-zÅÄÖåäöÉéÜü"
_UP = "A-ZÅÄÖÉÜ"
_LOW = "a-zåäöéü"


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    kind: str


# --- patterns with checks ---------------------------------------------------------------------

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+|\b(?:[a-z0-9-]+\.)+(?:fi|com|org|net|io|me|eu|uk|se)/[^\s<>\"')\]]+",
                 re.IGNORECASE)
SOCIAL = re.compile(r"(?:^|\.)(?:facebook|fb|instagram|linkedin|twitter|x|tiktok|github|gitlab|youtube|medium|"
                    r"threads|mastodon|vk|pinterest|snapchat|reddit|t)\.(?:com|me|net|social|fi)$", re.IGNORECASE)
PERSONAL_PATH = re.compile(r"(?:/~|/@|/in/|/u/|/users?/|/profiles?/|/people/|/member/|/henkilo|/asiakas/\d|"
                           r"[?&](?:e-?mail|name|nimi|user|uid|id|token|phone|puh)=|"
                           r"/[a-zåäö]+[._-][a-zåäö]+(?:/|$|\?))", re.IGNORECASE)
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
HETU = re.compile(r"\b(\d{2})(\d{2})(\d{2})([-+ABCDEFYXWVU])(\d{3})([0-9A-Y])\b")
HETU_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"
PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+\d{1,3}[ .-]?(?:\(0?\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"  # +358 40 123 4567, +44 20 7946 0958
    r"|00\d{2,3}[ .-]?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"  # 00358 40 1234567
    r"|\(0?\d{1,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4}"  # (09) 123 4567, (555) 123-4567
    r"|0\d{1,3}[ -]?\d{3,4}[ ]?\d{2,4}"  # 040 123 4567, 09-123 4567, 0401234567
    r"|0\d{1,3}[ -]\d{2,3} ?\d{2} ?\d{2,3}"  # 040 12 34 567
    r"|0\d{3,4}[ -]?\d{6}"  # 07951 748012, 0400 123456
    r"|\d{3}[-.]\d{3}[-.]\d{4}"  # 555-123-4567
    r")(?![\w])"
)

FI_STREET = re.compile(
    rf"\b[{_UP}][{_LOW}-]*(?:tie|tien|tiellä|tieltä|tielle|katu|kadu[nl]\w*|kadulla|kadulle|kuja|kujan|kujalla|"
    rf"polku|polun|polulla|kaari|kaaren|kaarella|väylä|väylän|väylällä|raitti|rinne|rinteen|rinteellä|aukio|"
    rf"aukion|aukiolla|puistikko|ranta|rannan|rannassa|bulevardi|esplanadi|kallio|mäki|mäen|mäellä|"
    rf"tanhua|kaarre|piha|pihan|penger|vägen|gatan|gränd)"
    rf"(?: \d{{1,4}}(?:[-–]\d{{1,4}})?(?: ?[A-K](?: ?\d{{1,3}})?)?(?: as\. ?\d{{1,3}})?)"
    rf"(?:,? \d{{5}}(?: [{_UP}][{_LOW}]+)?)?"
)
FI_POSTAL = re.compile(rf"\b\d{{5}} [{_UP}][{_LOW}]+\b")
EN_STREET = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?,? (?:[{_UP}][{_L}'-]+ ){{1,3}}"
    r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Place|Pl|Way|Terrace|Close|"
    r"Square|Sq|Crescent|Gardens|Row|Hill|Park|Parkway|Walk|Mews)\b\.?"
    rf"(?:,? (?:Apt|Apartment|Flat|Suite|Unit)\.? ?\w{{1,5}})?"
    rf"(?:,? [{_UP}][{_LOW}]+(?: [{_UP}][{_LOW}]+)?)?"
    r"(?:,? (?:[A-Z]{2} \d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}))?"
)

# Every match of these patterns begins at the first digit of a run of digits, or just before
# one (IBAN: its two letters; PHONE: a "+" or "("). ``_at_digits`` tries them there only.
RUN_START = re.compile(r"(?<!\d)\d")


def _starts(kind: str, text: str, digits: list[int]) -> list[int]:
    """Where a ``kind`` match may begin, given where the runs of digits begin (ascending)."""
    if kind == "IBAN":
        return [p - 2 for p in digits if p >= 2]
    if kind == "PHONE":
        return sorted({q for p in digits for q in ((p - 1, p) if p and text[p - 1] in "+(" else (p,))})
    return digits


def _at_digits(pattern: re.Pattern, kind: str, text: str, digits: list[int]) -> Iterator[re.Match]:
    """``pattern.finditer(text)`` for a ``kind`` pattern tried only where its match may begin:
    the same matches, without scanning every character."""
    end = 0
    for p in _starts(kind, text, digits):
        if p >= end and (m := pattern.match(text, p)) is not None:
            yield m
            end = max(m.end(), p + 1)


def iban_ok(s: str) -> bool:
    s = s.replace(" ", "").upper()
    if not 15 <= len(s) <= 34 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    if s[:2] == "FI" and len(s) != 18:
        return False
    digits = "".join(str(int(c, 36)) for c in s[4:] + s[:4])
    return int(digits) % 97 == 1


def luhn_ok(s: str) -> bool:
    digits = [int(c) for c in s if c.isdigit()]
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def hetu_ok(s: str) -> bool:
    m = HETU.fullmatch(s)
    if not m:
        return False
    dd, mm, yy, sep, nnn, check = m.groups()
    century = {"+": 1800, "-": 1900, "Y": 1900, "X": 1900, "W": 1900, "V": 1900, "U": 1900,
               "A": 2000, "B": 2000, "C": 2000, "D": 2000, "E": 2000, "F": 2000}[sep]
    try:
        date(century + int(yy), int(mm), int(dd))
    except ValueError:
        return False
    return HETU_CHECK[int(dd + mm + yy + nnn) % 31] == check


def _url_personal(url: str) -> bool:
    bare = re.sub(r"^(?:https?://)?(?:www\.)?", "", url, flags=re.IGNORECASE)
    host, _, rest = bare.partition("/")
    path = "/" + rest if rest else ""
    if not path.strip("/"):
        return "?" in host and bool(PERSONAL_PATH.search(host[host.index("?"):]))
    if SOCIAL.search(host.split("?")[0]):
        return True
    return bool(PERSONAL_PATH.search(path))


def _phone_ok(s: str) -> bool:
    digits = sum(c.isdigit() for c in s)
    if s.startswith(("+", "00")):
        return 8 <= digits <= 15
    if s.startswith("("):
        return 8 <= digits <= 12
    if s.startswith("0"):
        return 7 <= digits <= 11 and not re.fullmatch(r"0\d?[.,]\d+", s)
    return digits == 10


# --- names ------------------------------------------------------------------------------------

_DATA = Path(__file__).parent / "data"
TITLES = {"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam", "herra", "rouva", "neiti", "tohtori", "isännöitsijä"}
SIGN_OFF = re.compile(r"(?:regards|thanks|thank you|cheers|best|sincerely|terveisin|ystävällisin terveisin|t\.|"
                      r"kiittäen|yst\. terv\.|terv\.|br)[,.!]?\s*$", re.IGNORECASE)


@lru_cache(maxsize=1)
def english_names() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(first names, family names, the ones that are also common English words), lower case."""
    first, last, common = set(), set(), set()
    path = _DATA / "names_en.txt"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line or line.startswith("#"):
                continue
            kind, name = line.split("\t", 1)
            (first if "f" in kind else set()).add(name)
            (last if "l" in kind else set()).add(name)
            if "c" in kind:
                common.add(name)
    return frozenset(first), frozenset(last), frozenset(common)


@lemma.cached(50_000)
def _fi_name_kind(word: str) -> str | None:
    """"name" when every analysis of a capitalised Finnish word is a person's name, "maybe"
    when some is, else None."""
    analyses = lemma.analyses(word)
    classes = {a.get("CLASS") for a in analyses}
    if not classes & {"etunimi", "sukunimi"}:
        return None
    return "name" if classes <= {"etunimi", "sukunimi"} else "maybe"


def _en_name_kind(word: str) -> str | None:
    first, last, common = english_names()
    w = word.lower()
    if w not in first and w not in last:
        return None
    return "maybe" if w in common else "name"


TOKEN = re.compile(rf"[{_L}][{_L}'’-]*")


COMPANY_SUFFIX = {"oy", "oyj", "ab", "ky", "ay", "tmi", "ry", "ltd", "inc", "llc", "plc", "gmbh", "group", "corp"}


def _names(text: str, language: str, keep: frozenset[str], taken: list[tuple[int, int]],
           unsure: bool = False) -> list[Hit]:
    toks = [(m.start(), m.end(), m.group()) for m in TOKEN.finditer(text)]
    if not toks:
        return []

    def free(a: int, b: int) -> bool:
        return all(b <= x or a >= y for x, y in taken)

    def sentence_initial(i: int) -> bool:
        if i == 0:
            return True
        between = text[toks[i - 1][1]:toks[i][0]]
        ends = r"[.!?:\n\"“”]" if language == "en" else r"[.!?\n\"“”]"
        return bool(re.search(ends, between) or re.fullmatch(r"\s*[-–—]\s*", between))

    kinds: list[str | None] = []
    for a, b, w in toks:
        base = w.rstrip("'’")
        if not base[0].isupper() or (base.isupper() and len(base) > 1) or w.lower() in keep or not free(a, b):
            kinds.append(None)
            continue
        if language == "fi":
            k = _fi_name_kind(base)
            if k is None and (en := _en_name_kind(base)) is not None:
                k = "maybe" if en == "name" else None  # a foreign name in a Finnish text
        else:
            k = _en_name_kind(re.sub(r"['’]s$", "", base))
            if k == "name" and unsure and _fi_common(base):
                k = "maybe"  # language unknown: "Anna" may be the Finnish verb
        kinds.append(k)
    hits = []
    n = len(toks)
    capital = [t[2][0].isupper() and t[2].lower() not in keep for t in toks]

    def proper(j: int, i: int) -> bool:
        """A capitalised neighbour of token i that is no common word (a family name the lists lack)."""
        if not 0 <= j < n or not capital[j] or kinds[j] is not None or toks[j][2].isupper():
            return False
        gap = text[min(toks[j][1], toks[i][1]):max(toks[j][0], toks[i][0])]
        return (gap == " " and toks[j][2].lower().rstrip(".") not in COMPANY_SUFFIX
                and _unknown_word(toks[j][2], language, 1e-5))
    for i, k in enumerate(kinds):
        if k is None:
            continue
        a, b, w = toks[i]
        if i + 1 < n and toks[i + 1][2].lower().rstrip(".") in COMPANY_SUFFIX:
            continue  # "Virtanen Oy" is a company
        adjacent = lambda j, i=i: 0 <= j < n and kinds[j] is not None and not re.search(  # noqa: E731
            r"[.,;:!?\n]", text[min(toks[i][1], toks[j][1]):max(toks[i][0], toks[j][0])])
        titled = i > 0 and toks[i - 1][2].lower().rstrip(".") in TITLES and not re.search(
            r"[,;:!?\n]", text[toks[i - 1][1]:a])
        line_start = text.rfind("\n", 0, a) + 1
        signed = bool(SIGN_OFF.search(text[max(0, line_start - 60):a].rstrip(" \t,-–—\n") + ",")) or bool(
            SIGN_OFF.search(text[line_start - 40 if line_start >= 40 else 0:line_start].strip()))
        if k == "name" and not (sentence_initial(i) and language == "en" and not adjacent(i + 1) and _common(w)) or adjacent(i - 1) or adjacent(i + 1) or titled or signed or proper(i - 1, i) or proper(i + 1, i):
            hits.append(Hit(a, b, "NAME"))
        elif k == "maybe" and not sentence_initial(i) and language == "fi":
            # mid-sentence capital in Finnish marks a proper noun: Kallio, Laine, Anna
            hits.append(Hit(a, b, "NAME"))
    # a capitalised word next to a name that is no common word is part of the name ("Mikko Xyzinen",
    # "Priya Donnelly"); in English, two such words side by side mid-sentence are a name ("Esme Carmichael")
    extra = []
    names_at = {h.start for h in hits}

    def joinable(i: int, j: int) -> bool:
        return (0 <= j < n and toks[j][0] not in names_at and capital[j] and kinds[j] is None
                and re.fullmatch(r" ", text[toks[min(i, j)][1]:toks[max(i, j)][0]]) is not None
                and free(toks[j][0], toks[j][1]) and not toks[j][2].isupper()
                and toks[j][2].lower().rstrip(".") not in COMPANY_SUFFIX
                # in Finnish a capital mid-sentence marks a proper noun: after a name, its family name
                and ((language == "fi" and j == i + 1) or _unknown_word(toks[j][2], language, 1e-5)))

    for i, (a, b, w) in enumerate(toks):
        if a in names_at:
            for j in (i - 1, i + 1):
                if joinable(i, j):
                    extra.append(Hit(toks[j][0], toks[j][1], "NAME"))
        elif (language == "en" and i + 1 < n and kinds[i] is None and capital[i] and not sentence_initial(i)
              and not w.isupper() and free(a, b) and _unknown_word(w, language) and joinable(i, i + 1)
              and not (i + 2 < n and toks[i + 2][2].lower().rstrip(".") in COMPANY_SUFFIX)):
            extra += [Hit(a, b, "NAME"), Hit(toks[i + 1][0], toks[i + 1][1], "NAME")]
    return hits + extra


def _fi_common(word: str) -> bool:
    return any(a.get("CLASS") not in ("etunimi", "sukunimi") for a in lemma.analyses(word.lower()))


def _common(word: str) -> bool:
    return word.lower() in english_names()[2]


@lemma.cached(50_000)
def _unknown_word(word: str, language: str, rare: float = 2e-6) -> bool:
    """A word that is no common word of the language (so, after a first name, a family name)."""
    if language == "fi":
        classes = {a.get("CLASS") for a in lemma.analyses(word)}
        return not classes or bool(classes & {"etunimi", "sukunimi", "paikannimi"})
    from pipeline.lang.frequency import background

    return background("en").get(word.lower(), 0.0) < rare


# --- the scrubber -----------------------------------------------------------------------------


def find(text: str, language: str | None = None, keep: Iterable[str] = (), names: bool = True) -> list[Hit]:
    """Every personal datum in ``text``, as non-overlapping spans with their kind.

    Read line by line, each line's answer cached: no pattern crosses a line break, and what the
    name finder sees beyond a line (a sign-off in the 60 characters before it, a company suffix
    in the two words after it) is part of the cache key, so the answer is the whole text's
    (``find_whole``, the definition; a test holds them equal). A run's prompts share most of
    their lines, and each is read once."""
    if not text:
        return []
    keep_words = frozenset(w.lower() for k in keep for w in TOKEN.findall(k))
    lines = text.split("\n")
    mode = language
    if names and language is None:
        en_score = fi_score = 0.0
        words = 0
        for line in lines:
            e, f, n = _line_scores(line) if len(line) <= CACHED_LINE else language_scores(line)
            en_score, fi_score, words = en_score + e, fi_score + f, words + n
        guess, confidence = decide_language(en_score, fi_score, words)
        mode = guess if confidence >= 0.6 else None
    hits: list[Hit] = []
    after: list[tuple[str, ...]] = [()] * len(lines)  # the first two words after each line
    if names:
        following: tuple[str, ...] = ()
        for i in range(len(lines) - 1, 0, -1):
            after[i - 1] = following = (_first_words(lines[i]) + following)[:2]
    start = 0
    for i, line in enumerate(lines):
        end = start + len(line)
        if line:
            before = text[max(0, start - 60):start] if names else ""
            read = _line_hits if len(line) <= CACHED_LINE else _hits
            hits += [Hit(start + h.start, start + h.end, h.kind)
                     for h in read(before, line, after[i], language, mode, keep_words, names)]
        start = end + 1
    return _merge(text, hits)


def find_whole(text: str, language: str | None = None, keep: Iterable[str] = (), names: bool = True) -> list[Hit]:
    """``find`` reading the text as one piece: what ``find`` must equal."""
    if not text:
        return []
    keep_words = frozenset(w.lower() for k in keep for w in TOKEN.findall(k))
    mode = language
    if names and language is None:
        guess, confidence = detect_language(text)
        mode = guess if confidence >= 0.6 else None
    return _merge(text, list(_hits("", text, (), language, mode, keep_words, names)))


CACHED_LINE = 2000  # longer lines (a document on one line) are read each time, not kept in memory


@lru_cache(maxsize=4096)  # holds lines of unscrubbed prompts in this process's memory only
def _first_words(line: str) -> tuple[str, ...]:
    return tuple(m.group() for m in islice(TOKEN.finditer(line), 2))


@lru_cache(maxsize=4096)  # holds lines of unscrubbed prompts in this process's memory only
def _line_scores(line: str) -> tuple[float, float, int]:
    return language_scores(line)


@lemma.cached(4096)  # holds lines of unscrubbed prompts in this process's memory only
def _line_hits(before: str, line: str, after: tuple[str, ...], language: str | None, mode: str | None,
               keep_words: frozenset[str], names: bool) -> tuple[Hit, ...]:
    return _hits(before, line, after, language, mode, keep_words, names)


def _hits(before: str, line: str, after: tuple[str, ...], language: str | None, mode: str | None,
          keep_words: frozenset[str], names: bool) -> tuple[Hit, ...]:
    """The personal data in ``line`` (offsets in it): the patterns (the street patterns of
    ``language``, both when None), then names in ``mode``'s language (both when None), read
    with ``before`` and ``after`` beside the line as the name finder's context."""
    hits: list[Hit] = []
    taken: list[tuple[int, int]] = []

    def add(a: int, b: int, kind: str) -> None:
        if all(b <= x or a >= y for x, y in taken):
            hits.append(Hit(a, b, kind))
            taken.append((a, b))

    # each pattern scans the whole text (~30 ns a character); skip those that cannot match
    for m in EMAIL.finditer(line) if "@" in line else ():
        add(m.start(), m.end(), "EMAIL")
    for m in URL.finditer(line) if "/" in line or "www." in line.lower() else ():
        url = m.group().rstrip(".,;:!?")
        if _url_personal(url):
            add(m.start(), m.start() + len(url), "URL")
    digits = [m.start() for m in RUN_START.finditer(line)]
    for m in _at_digits(IBAN, "IBAN", line, digits):
        if iban_ok(m.group()):
            add(m.start(), m.end(), "IBAN")
    for m in _at_digits(CARD, "CARD", line, digits):
        if luhn_ok(m.group()) and not m.group().startswith("0"):
            add(m.start(), m.end(), "CARD")
    for m in _at_digits(HETU, "HETU", line, digits):
        if hetu_ok(m.group()):
            add(m.start(), m.end(), "HETU")
    for m in _at_digits(PHONE, "PHONE", line, digits):
        if _phone_ok(m.group()):
            add(m.start(), m.end(), "PHONE")
    if language in (None, "fi"):
        for m in FI_STREET.finditer(line):
            if m.group().split()[0].lower() not in keep_words and re.search(r"\d", m.group()):
                add(m.start(), m.end(), "ADDRESS")
        for m in _at_digits(FI_POSTAL, "ADDRESS", line, digits):
            add(m.start(), m.end(), "ADDRESS")
    if language in (None, "en"):
        for m in _at_digits(EN_STREET, "ADDRESS", line, digits):
            add(m.start(), m.end(), "ADDRESS")
    if names:
        context = before + line + ("\n" + " ".join(after) if after else "")
        off = len(before)
        for lang in ([mode] if mode else ["fi", "en"]):
            found = _names(context, lang, keep_words, [(a + off, b + off) for a, b in taken], unsure=mode is None)
            for h in found:
                if off <= h.start and h.end <= off + len(line):
                    add(h.start - off, h.end - off, h.kind)
    return tuple(sorted(set(hits), key=lambda h: h.start))


def _merge(text: str, hits: list[Hit]) -> list[Hit]:
    """Adjacent names become one ("Mikko Virtanen" → one [NAME])."""
    out: list[Hit] = []
    for h in hits:
        if out and out[-1].kind == h.kind == "NAME" and re.fullmatch(r"[ \t]+", text[out[-1].end:h.start] or "x"):
            out[-1] = Hit(out[-1].start, h.end, "NAME")
        else:
            out.append(h)
    return out


def scrub(text: str, language: str | None = None, keep: Iterable[str] = (), names: bool = True) -> str:
    """``text`` with each personal datum replaced by its kind's placeholder (``[EMAIL]`` …)."""
    hits = find(text, language, keep, names)
    if not hits:
        return text
    out, pos = [], 0
    for h in hits:
        out.append(text[pos:h.start])
        out.append(f"[{h.kind}]")
        pos = h.end
    out.append(text[pos:])
    return "".join(out)


def kinds(text: str, language: str | None = None, keep: Iterable[str] = (), names: bool = True) -> Counter:
    """How many of each kind ``text`` holds: what a check may say (never the data itself)."""
    return Counter(h.kind for h in find(text, language, keep, names))


def scrub_messages(messages: list[dict[str, str]], keep: Iterable[str] = ()) -> list[dict[str, str]]:
    """Chat messages with personal data replaced; the same list when none has any."""
    keep = tuple(keep)
    out, changed = [], False
    for m in messages:
        content = m.get("content")
        if isinstance(content, str) and content:
            clean = _scrub_message(content, keep)
            if clean != content:
                m, changed = {**m, "content": clean}, True
        out.append(m)
    return out if changed else messages


@lemma.cached(256)  # holds unscrubbed prompts in this process's memory only, 256 at most
def _scrub_message(content: str, keep: tuple[str, ...]) -> str:
    """``scrub`` for a message: a run sends the same system prompt, and a re-ask the same
    messages again, with every call, so each text is scrubbed once."""
    return scrub(content, None, keep)
