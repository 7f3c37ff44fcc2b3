"""Attack detection on request targets, referrers and user agents: which families, which rules.

An `AttackDetector` runs the rules of `transforms.attack_rules` over the three text columns
of a parsed chunk and says, per row, which attack families and which of our rules fired:

    >>> detector = AttackDetector()
    >>> families, rule_ids = detector.columns(
    ...     pa.array(["/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--"]),
    ...     pa.array([None], pa.string()),
    ...     pa.array(["sqlmap/1.8.11#stable (https://sqlmap.org)"]),
    ... )
    >>> families.to_pylist(), rule_ids.to_pylist()
    ([['sqli', 'scanner']], [['scanner-attack-tool', 'sqli-union-select']])

What a rule reads is normalised the way the application behind the server reads it (see
`normalise`): percent-decoded twice, HTML character references resolved, blanks collapsed,
lower-cased. It reads some of four kinds of text:

- `target`: the whole request target (path and query) as one text;
- `query_value`: each query value (or bare query item) on its own, of the target and of
  the referrer, so that a pattern can anchor where a value starts (`^if exist`);
- `referrer` and `user_agent`: the whole header.

Work is vectorised over the *distinct* texts of a chunk, and each text goes on only while
it may still match, in four RE2 passes per kind of text (`pyarrow.compute`):

1. the prefilter: one alternation of the literals that the rules' matches must contain
   (`union`, `<`, `/etc/`; derived from the patterns by `required_literals`). Ordinary
   traffic stops here;
2. routing: one pass that tells, for each text left, which families' literals it holds;
3. per family with texts routed to it, the family's rules as one combined pattern;
4. per rule of a family that matched, the rule's own patterns, for its id.

Python runs only to decode the distinct texts that hold an escape. A row's result depends on
its own values alone, never on the rest of its chunk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import html
import json
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import unquote, unquote_plus

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms import dictionaries
from transforms.attack_rules import FAMILIES, QUERY_VALUE, REFERRER, RULES, TARGET, USER_AGENT, WHERE, Rule
from transforms.errors import LogshroudError
from transforms.schema import Batch

try:
    from re import _parser as _regex_parser  # Python 3.11 and later
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _regex_parser

# --- normalisation --------------------------------------------------------------------------------

# What normalisation changes besides case; other texts are only lower-cased, without Python.
_NEEDS_DECODING = r"%|\+|&(?:#|[a-z][a-z0-9]*;)|[\t\x0b\x0c\x{a0}]|  "
_PERCENT_U = re.compile(r"%[uU]([0-9a-fA-F]{4})")
# Numeric references with or without `;`, as browsers read them; named ones only with
# `;`, so that a query item such as `&ltype=2` is not read as `<ype=2`.
_ENTITY = re.compile(r"&(?:#[xX][0-9a-fA-F]{1,6};?|#[0-9]{1,7};?|[a-zA-Z][a-zA-Z0-9]{1,31};)")
_BLANKS = re.compile(r"[ \t\x0b\x0c\xa0]+")
_SURROGATES = range(0xD800, 0xE000)


def normalise(text: str) -> str:
    """`/a?q=%253CScript%253E+x` -> `/a?q=<script> x`: the text as the application reads it.

    Percent escapes are decoded twice, as by a server and then by an application that
    decodes again (a payload encoded twice slips past a filter that decodes once); `+` is a
    space in the first round only (a `%2B` decoded there is a plus sign); `%uXXXX` is the
    character it names; invalid UTF-8 becomes U+FFFD. Then HTML character references are
    resolved, every run of blanks (spaces, tabs, vertical tabs, form feeds, no-break
    spaces) becomes one space, so that a rule can spell `sh -c` with a plain space, and all
    is lower-cased (case folding). Line breaks stay.
    """
    text = unquote_plus(_PERCENT_U.sub(_percent_u, text), errors="replace")
    if "%" in text:
        text = unquote(_PERCENT_U.sub(_percent_u, text), errors="replace")
    if "&" in text:
        text = _ENTITY.sub(lambda entity: html.unescape(entity.group(0)), text)
    return _BLANKS.sub(" ", text).lower()


def _percent_u(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    return "\ufffd" if code in _SURROGATES else chr(code)


def _normalised(values: pa.Array) -> pa.Array:
    """`normalise` over an array: Python only for the distinct values that hold something to decode."""
    lowered = pc.utf8_lower(values)
    picked = _matches(lowered, _NEEDS_DECODING)
    if not picked.any():
        return lowered
    encoded = pc.dictionary_encode(values.filter(pa.array(picked)))
    decoded = pa.array([normalise(value) for value in encoded.dictionary.to_pylist()], pa.string())
    return pc.replace_with_mask(lowered, pa.array(picked), decoded.take(encoded.indices))


def _matches(texts: pa.Array, pattern: str) -> np.ndarray:
    """Whether each text (none null, all normalised, so lower-case) holds a match of the RE2 `pattern`."""
    return pc.match_substring_regex(texts, pattern).to_numpy(zero_copy_only=False)


# --- the literals every match of a pattern contains ---------------------------------------------

_ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyz0123456789"
# How often each kind of text holds a character: ordinary ones (weight 1) fill it, common
# punctuation (3) turns up now and then, anything else (8: `<`, `$`, a backtick) hardly
# ever. A literal's weight is the sum over its characters: the higher, the fewer texts hold
# it (`<` against `script`, `sleep` against `(`). `;` and `()` are in every user agent but
# rare in a request target; `:` is in every referrer.
_ORDINARY, _COMMON, _RARE = 1, 3, 8
_CHARACTERS = {
    TARGET: (_ALPHANUMERIC + "/.?=&-_,@ ", "()!*'~:;+%#[]"),
    QUERY_VALUE: (_ALPHANUMERIC + "/.-_,:@ ", "()!*'~;?=&#[]+%"),
    REFERRER: (_ALPHANUMERIC + "/.?=&-_,:#@ ", "()!*'~;+%[]"),
    USER_AGENT: (_ALPHANUMERIC + "/.;()-_,:+ ", "!*'=?&[]@#~"),
}
_WEIGHTS = {
    kind: {**dict.fromkeys(common, _COMMON), **dict.fromkeys(ordinary, _ORDINARY)}
    for kind, (ordinary, common) in _CHARACTERS.items()
}
# A character class of at most this many characters counts as a set of literals, and a set
# of literals (`\.(?:sql|bak|old)`) is spelled out while it has at most this many members:
# more literals make a longer prefilter, which RE2 compiles and builds a DFA for per call.
_CLASS_LITERALS = 8
_SPELLED_OUT = 256
# Stands for the start of the text at the head of a literal (`^;` as `_START + ";"`): a
# Unicode noncharacter, so that it is never taken for a character a pattern names.
_START = "\uffff"


@cache  # a detector per worker, and per rule in the tests: patterns repeat
def required_literals(pattern: str, where: str = TARGET) -> frozenset[str]:
    """Literals one of which every match of `pattern` contains: `\\bunion\\s+select` -> {'select'}.

    The pattern is read with Python's regex parser (rule patterns use the syntax RE2 and
    Python share). Each piece of a sequence that must match gives a set of literals: a
    literal character, a run of them, a small set of exact strings (`(?:nc|ncat)`, `[<>]\\(`,
    spelled out in full), an anchor `^` before them (`^or `). Of these sets the most telling
    one is kept: the one whose weakest literal is rarest in the `where` kind of text.
    Raises ValueError for a pattern that can match without any literal (`\\w+\\s*`): it
    would let every text through the prefilter.
    """
    literals = _Literals(_WEIGHTS[where]).sequence(_parsed(pattern))
    if not literals:
        raise ValueError(f"pattern matches without any literal, so no prefilter can select for it: {pattern}")
    return literals


@cache  # a pattern is read for each kind of text it applies to
def _parsed(pattern: str) -> list:
    return _regex_parser.parse(pattern).data


@dataclass(frozen=True)
class _Literals:
    weights: dict[str, int]  # of characters; those not named are rare

    def sequence(self, items: Sequence) -> frozenset[str] | None:
        """The most telling literal set of a parsed sequence, or None when no piece requires one."""
        found: list[frozenset[str] | None] = []
        spelled = {""}  # the exact strings the pieces since the last gap can be
        for op, argument in items:
            exact = _exact(op, argument)
            if exact is not None and len(spelled) * len(exact) <= _SPELLED_OUT:
                spelled = {head + tail for head in spelled for tail in exact}
                continue
            found.append(frozenset(spelled))
            literal = _repeated_literal(op, argument)
            if literal is not None:  # `\.\.+/`: the last repetition touches what follows
                found.append(frozenset(head + literal * argument[0] for head in spelled))
                spelled = {literal}
            else:
                found.append(self._piece(op, argument))
                spelled = exact if exact is not None else {""}
        found.append(frozenset(spelled))
        telling = [s for s in found if s and not s & {"", _START}]
        return max(telling, key=self._strength, default=None)

    def _piece(self, op, argument) -> frozenset[str] | None:
        if op is _regex_parser.SUBPATTERN:
            return self.sequence(argument[-1])
        if op is _regex_parser.BRANCH:
            branches = [self.sequence(branch) for branch in argument[1]]
            return None if not all(branches) else frozenset().union(*branches)
        if op in (_regex_parser.MAX_REPEAT, _regex_parser.MIN_REPEAT) and argument[0] >= 1:
            return self.sequence(argument[2])
        return None  # `.`, `\s` and wide classes, optional pieces: no literal required

    def _strength(self, literals: frozenset[str]) -> tuple[int, int]:
        weakest = min(sum(self.weights.get(c, _RARE) for c in literal) for literal in literals)
        return weakest, -len(literals)


def _exact(op, argument) -> set[str] | None:
    """The few strings a piece can match, when it can match only literal strings (`^`: `_START`)."""
    if op is _regex_parser.AT:
        return {_START} if argument is _regex_parser.AT_BEGINNING else None
    if op is _regex_parser.LITERAL:
        return {chr(argument)}
    if (
        op is _regex_parser.IN
        and len(argument) <= _CLASS_LITERALS
        and all(k is _regex_parser.LITERAL for k, _ in argument)
    ):
        return {chr(code) for _, code in argument}
    if op is _regex_parser.SUBPATTERN:
        return _exact_sequence(argument[-1])
    if op is _regex_parser.BRANCH:
        branches = [_exact_sequence(branch) for branch in argument[1]]
        return None if any(b is None for b in branches) else set().union(*branches)
    if op is _regex_parser.MAX_REPEAT and argument[:2] == (0, 1):  # `x?`: x or nothing
        optional = _exact_sequence(argument[2])
        return None if optional is None else optional | {""}
    return None


def _exact_sequence(items: Sequence) -> set[str] | None:
    spelled = {""}
    for op, argument in items:
        exact = _exact(op, argument)
        if exact is None or len(spelled) * len(exact) > _SPELLED_OUT:
            return None
        spelled = {head + tail for head in spelled for tail in exact}
    return spelled


def _repeated_literal(op, argument) -> str | None:
    """`c` of a `c+` or `c{2,}`: one character repeated at least once."""
    if op in (_regex_parser.MAX_REPEAT, _regex_parser.MIN_REPEAT) and argument[0] >= 1:
        (item_op, item_argument), *rest = argument[2]
        if not rest and item_op is _regex_parser.LITERAL:
            return chr(item_argument)
    return None


def _literal_alternation(literals: Iterable[str], prefix: str = "") -> str:
    """One RE2 pattern that finds any of `literals` (one led by `_START` only at the start).

    A literal that holds another is left out: that one finds it anyway. With `prefix`, the
    text must start with it, and the literals are looked for after it.
    """
    innermost = _innermost(literals)
    anchored = [_re2_literal(lit[1:]) for lit in innermost if lit.startswith(_START)]
    floating = [_re2_literal(lit) for lit in innermost if not lit.startswith(_START)]
    if not prefix:
        return "|".join([f"^{lit}" for lit in anchored] + floating)
    after = [f"(?s:.)*?(?:{'|'.join(floating)})"] if floating else []
    at_start = [f"(?:{'|'.join(anchored)})"] if anchored else []
    return f"^{_re2_literal(prefix)}(?:{'|'.join(after + at_start)})"


def _innermost(literals: Iterable[str]) -> list[str]:
    """The literals that hold no other one, sorted."""
    found = set(literals)
    return sorted(lit for lit in found if _proper_substrings(lit).isdisjoint(found))


@cache  # a literal is looked at once per family and once for its kind's prefilter
def _proper_substrings(text: str) -> frozenset[str]:
    return frozenset(text[i:j] for i in range(len(text)) for j in range(i + 1, len(text) + 1) if j - i < len(text))


def _re2_literal(text: str) -> str:
    """`text` as an RE2 pattern that matches exactly it."""
    return "".join(f"\\{c}" if c in r"\.^$|?*+()[]{}" else c if c.isprintable() else f"\\x{{{ord(c):x}}}" for c in text)


def _alternation(patterns: Iterable[str]) -> str:
    return "|".join(f"(?:{pattern})" for pattern in patterns)


# --- the patterns of each kind of text ------------------------------------------------------------

# Put before a prefiltered text for routing, followed by the family's position as a
# character: a private-use character, and the pattern anchors at it, so what the text
# itself holds cannot pass for a tag.
_ROUTING_TAG = "\ue000"


@dataclass(frozen=True)
class _Family:
    """One family's rules for one kind of text."""

    pattern: str  # all its rules' patterns as one RE2 alternation
    rules: tuple[tuple[int, str], ...]  # (index of a rule, its patterns as one alternation)


@dataclass(frozen=True)
class _Plan:
    """The patterns for one kind of text.

    `prefilter` finds a literal of any rule. `routing` reads a text led by `_ROUTING_TAG`
    and the character `chr(i)` and finds a literal of the rules of `families[i]`.
    """

    prefilter: str
    routing: str
    families: tuple[_Family, ...]


def _families(rules: tuple[Rule, ...], where: str) -> tuple[_Family, ...]:
    """The families whose rules read `where`, each with its rules' patterns (in `FAMILIES` order)."""
    families = []
    for family in FAMILIES:
        by_rule = tuple((i, _alternation(rule.patterns)) for i, rule in enumerate(rules)
                        if rule.family == family and where in rule.where)  # fmt: skip
        if by_rule:
            families.append(_Family(_alternation(pattern for _, pattern in by_rule), by_rule))
    return tuple(families)


def _plan(rules: tuple[Rule, ...], where: str) -> _Plan | None:
    """The plan of the rules that apply to `where` (None when none does)."""
    families = _families(rules, where)
    routes: list[str] = []
    every_literal: set[str] = set()
    for position, family in enumerate(families):
        patterns = [pattern for i, _ in family.rules for pattern in rules[i].patterns]
        literals = {literal for pattern in patterns for literal in required_literals(pattern, where)}
        every_literal |= literals
        routes.append(_literal_alternation(literals, prefix=_ROUTING_TAG + chr(position)))
    return _Plan(_literal_alternation(every_literal), _alternation(routes), families) if families else None


def attack_plans(rules: Iterable[Rule] = RULES) -> dict[str, _Plan]:
    """Each kind of text's plan (kinds no rule reads left out), kept between runs.

    Making the plans takes a fifth of a second of Python. They depend on nothing but the
    rules, this module and Python's regex parser, so they are kept in the user's cache
    folder (`$XDG_CACHE_HOME/logshroud`, else `~/.cache/logshroud`) under a digest of the
    three. A kept file is used only when it is the user's own and no one else can write
    it, holds that digest, and has the families and rules these rules give (its prefilters
    are what only making them again would check); otherwise, and when the cache cannot be
    read or written, the plans are made again.
    """
    rules = tuple(sorted(rules, key=lambda rule: rule.id))
    described = [(rule.id, rule.family, rule.patterns, rule.where) for rule in rules]
    digest = hashlib.sha256(repr((sys.version_info[:2], Path(__file__).read_bytes(), described)).encode()).hexdigest()
    folder = _cache_folder()
    path = folder / f"attack-plans-{digest[:32]}.json" if folder else None
    kept = _kept_plans(path, digest, rules) if path else None
    if kept is not None:
        return kept
    plans = {where: plan for where in WHERE if (plan := _plan(rules, where))}
    if path:
        _keep(path, {"digest": digest, "plans": {where: dataclasses.asdict(plan) for where, plan in plans.items()}})
    return plans


def _kept_plans(path: Path, digest: str, rules: tuple[Rule, ...]) -> dict[str, _Plan] | None:
    """The plans kept at `path` for these rules, or None when there are none to trust."""
    try:
        with open(path, "rb") as kept:
            status = os.fstat(kept.fileno())
            if hasattr(os, "getuid") and (status.st_uid != os.getuid() or status.st_mode & 0o022):
                return None  # someone else could have written it
            document = json.loads(kept.read())
        if document["digest"] != digest:
            return None
        plans = {where: _kept_plan(plan) for where, plan in document["plans"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    expected = {where: families for where in WHERE if (families := _families(rules, where))}
    if {where: plan.families for where, plan in plans.items()} != expected:
        return None
    if not all(isinstance(p.prefilter, str) and p.prefilter and isinstance(p.routing, str) for p in plans.values()):
        return None
    return plans


def _kept_plan(kept: dict) -> _Plan:
    """A plan as the cache keeps it (`dataclasses.asdict` in JSON) -> the plan."""
    families = tuple(_Family(f["pattern"], tuple((i, rule) for i, rule in f["rules"])) for f in kept["families"])
    return _Plan(kept["prefilter"], kept["routing"], families)


def _keep(path: Path, document: dict) -> None:
    """Write the document whole or not at all (runs side by side may write it too); never fail."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary.write_text(json.dumps(document))
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()


def _cache_folder() -> Path | None:
    """The user's cache folder for logshroud; None when there is no home to put it in."""
    home = os.path.expanduser("~")
    base = os.environ.get("XDG_CACHE_HOME") or (os.path.join(home, ".cache") if home != "~" else None)
    return Path(base) / "logshroud" if base else None


# --- the texts of a chunk ---------------------------------------------------------------------------

_COLUMNS = ("target", "referrer", "user_agent")


@dataclass(frozen=True)
class _Texts:
    """The normalised texts of one kind, each with the column it comes from (its index in
    `_COLUMNS`) and the distinct value of that column it was cut from."""

    text: pa.Array
    column: np.ndarray
    value: np.ndarray


def _texts_by_kind(distinct: list[pa.Array]) -> dict[str, _Texts]:
    """The texts of each kind, cut from the distinct targets, referrers and user agents.

    All are normalised in one pass, so that Python decodes in one loop.
    """
    target, referrer, user_agent = distinct
    pieces = [
        (TARGET, 0, target, np.arange(len(target))),
        (REFERRER, 1, referrer, np.arange(len(referrer))),
        (USER_AGENT, 2, user_agent, np.arange(len(user_agent))),
        (QUERY_VALUE, 0, *_query_values(target)),
        (QUERY_VALUE, 1, *_query_values(referrer)),
    ]
    normalised = _normalised(pa.concat_arrays([text for _, _, text, _ in pieces]))
    starts = np.cumsum([0] + [len(text) for _, _, text, _ in pieces])
    by_kind: dict[str, _Texts] = {}
    for (kind, column, text, value), start in zip(pieces, starts, strict=False):
        texts = _Texts(normalised.slice(start, len(text)), np.full(len(text), column), value)
        if kind in by_kind:
            before = by_kind[kind]
            texts = _Texts(
                pa.concat_arrays([before.text, texts.text]),
                np.concatenate([before.column, texts.column]),
                np.concatenate([before.value, texts.value]),
            )
        by_kind[kind] = texts
    return by_kind


def _query_values(urls: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Each query value of each URL (a bare item counts as a value), and the index of its URL.

    Split as a server splits them, on the raw text: at the first `?`, then at `&`, then
    at the first `=` of each item. Empty values are left out.
    """
    with_query = np.flatnonzero(pc.match_substring(urls, "?").to_numpy(zero_copy_only=False))
    queries = pc.replace_substring_regex(urls.take(pa.array(with_query)), r"^[^?]*\?", "", max_replacements=1)
    items = pc.split_pattern(queries, "&")
    values = pc.replace_substring_regex(pc.list_flatten(items), r"^[^=]*=", "", max_replacements=1)
    owners = with_query[pc.list_parent_indices(items).to_numpy()]
    kept = pc.not_equal(values, "").to_numpy(zero_copy_only=False)
    return values.filter(pa.array(kept)), owners[kept]


# --- the detector -----------------------------------------------------------------------------------


class AttackDetector:
    """The rules, and each kind of text's patterns and prefilter: made once per worker (in DoFn.setup)."""

    def __init__(self, rules: Iterable[Rule] = RULES, plans: dict[str, _Plan] | None = None):
        """Rules in id order; `plans` as `attack_plans` makes them for these rules (made here without).

        Raises ValueError for duplicate rule ids, or for a pattern without a literal that
        every match contains (see `required_literals`).
        """
        self.rules = tuple(sorted(rules, key=lambda rule: rule.id))
        ids = [rule.id for rule in self.rules]
        if len(set(ids)) != len(ids):
            raise ValueError(f"rule ids must be unique: {sorted({i for i in ids if ids.count(i) > 1})}")
        self._ids = pa.array(ids, pa.string())
        self._families = pa.array(FAMILIES, pa.string())
        self._family_of_rule = np.array([FAMILIES.index(rule.family) for rule in self.rules], dtype=np.int64)
        self._plans = attack_plans(self.rules) if plans is None else plans

    def columns(self, target: pa.Array, referrer: pa.Array, user_agent: pa.Array,
                memory: RememberedHits | None = None) -> tuple[pa.Array, pa.Array]:  # fmt: skip
        """(attack_families, rule_ids) per row, both list<string> (empty list when nothing fired, never null).

        Families come in the order of `FAMILIES`, rule ids sorted. Null values read as empty.
        With a `memory`, only values it has not seen are matched.
        """
        rows = len(target)
        if not len(referrer) == len(user_agent) == rows:
            raise ValueError(f"columns differ in length: {rows}, {len(referrer)}, {len(user_agent)}")
        encoded = [_string_dictionary(column) for column in (target, referrer, user_agent)]
        distinct = [column.dictionary for column in encoded]
        hits = memory.value_hits(self, distinct) if memory else self.value_hits(distinct)
        hit_rows, fired = [], []
        for encoded_column, (hit_value, hit_rules) in zip(encoded, hits, strict=True):
            column_rows, column_fired = self._rows(encoded_column, hit_value, hit_rules)
            hit_rows.append(column_rows)
            fired.append(column_fired)
        return self._lists(rows, np.concatenate(hit_rows), np.concatenate(fired))

    def value_hits(self, distinct: list[pa.Array]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per column (target, referrer, user agent) of distinct values: (values that fired a rule, rules fired)."""
        texts = _texts_by_kind(distinct)
        nothing = (np.zeros(0, dtype=np.int64),) * 2 + (np.zeros((0, len(self.rules)), dtype=bool),)
        hits = [nothing] + [self._fired(texts[kind], plan) for kind, plan in self._plans.items()]
        hit_column, hit_value, hit_rules = (np.concatenate(parts) for parts in zip(*hits, strict=True))
        return [
            _merged(hit_value[hit_column == column], hit_rules[hit_column == column]) for column in range(len(distinct))
        ]

    def _fired(self, texts: _Texts, plan: _Plan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(column, distinct value, rules fired) of each text of one kind that may have fired a rule."""
        fired = np.zeros((0, len(self.rules)), dtype=bool)
        suspect = np.flatnonzero(_matches(texts.text, plan.prefilter))
        if len(suspect):
            fired = self._rules_fired(texts.text.take(pa.array(suspect)), plan)
        return texts.column[suspect], texts.value[suspect], fired

    def _rules_fired(self, suspects: pa.Array, plan: _Plan) -> np.ndarray:
        """Rules fired per prefiltered text (texts x rules): routed, then per family, then per rule."""
        fired = np.zeros((len(suspects), len(self.rules)), dtype=bool)
        tagged = [pc.utf8_replace_slice(suspects, 0, 0, _ROUTING_TAG + chr(i)) for i in range(len(plan.families))]
        routes = _matches(pa.concat_arrays(tagged), plan.routing).reshape(len(plan.families), len(suspects))
        for family, route in zip(plan.families, routes, strict=True):
            routed = np.flatnonzero(route)
            matched = routed[_matches(suspects.take(pa.array(routed)), family.pattern)] if len(routed) else routed
            if len(matched):
                texts = suspects.take(pa.array(matched))
                for rule, pattern in family.rules:
                    fired[matched, rule] = _matches(texts, pattern)
        return fired

    def _rows(self, encoded: pa.DictionaryArray, hit: np.ndarray, by_value: np.ndarray) -> tuple[np.ndarray, ...]:
        """(rows, rules fired in each) of one column, from the rules fired per distinct value (each value once)."""
        position = np.full(len(encoded.dictionary) + 1, -1, dtype=np.int64)  # the last slot is for nulls
        position[hit] = np.arange(len(hit))
        row_position = position[pc.fill_null(encoded.indices, len(encoded.dictionary)).to_numpy(zero_copy_only=False)]
        rows = np.flatnonzero(row_position >= 0)
        return rows, by_value[row_position[rows]]

    def _lists(self, rows: int, hit_rows: np.ndarray, fired: np.ndarray) -> tuple[pa.Array, pa.Array]:
        """The two list columns, from the rules fired in each (row, column) that had a hit."""
        rows_hit, which = np.unique(hit_rows, return_inverse=True)
        by_row = np.zeros((len(rows_hit), len(self.rules)), dtype=bool)
        np.logical_or.at(by_row, which, fired)
        by_family = np.stack([by_row[:, self._family_of_rule == f].any(axis=1) for f in range(len(FAMILIES))], axis=1)
        return _list_array(rows, rows_hit, by_family, self._families), _list_array(rows, rows_hit, by_row, self._ids)


def _merged(values: np.ndarray, fired: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hits of the same value (from its texts of several kinds) as one: (distinct values, rules fired by any)."""
    distinct, which = np.unique(values, return_inverse=True)
    merged = np.zeros((len(distinct), fired.shape[1]), dtype=bool)
    np.logical_or.at(merged, which, fired)
    return distinct, merged


class RememberedHits:
    """The rules each value of a column fired, remembered across chunks: only new values are matched.

    A day's log repeats its user agents, referrers and most targets chunk after chunk, so
    a worker matches each once. Hits are the same with or without memory: a value's result
    depends on the value alone. Held per worker thread (not shared); past `limit` values
    of a column its memory starts afresh, which bounds memory and lookup time.
    """

    def __init__(self, limit: int = 200_000):
        self.limit = limit
        self.detector: AttackDetector | None = None  # whose hits are remembered
        self.columns: list[_Seen] = []

    def value_hits(self, detector: AttackDetector, distinct: list[pa.Array]) -> list[tuple[np.ndarray, np.ndarray]]:
        """As `AttackDetector.value_hits`, matching only the values not seen before."""
        if detector is not self.detector:  # another detector's hits say nothing of this one's
            self.detector, self.columns = detector, [_Seen(len(detector.rules)) for _ in distinct]
        for k, values in enumerate(distinct):
            if len(self.columns[k].texts) + len(values) > self.limit:
                self.columns[k] = _Seen(len(detector.rules))
        positions = [seen.positions(values) for seen, values in zip(self.columns, distinct, strict=True)]
        new = [np.flatnonzero(at < 0) for at in positions]
        if any(len(rows) for rows in new):
            new_values = [values.take(pa.array(rows)) for values, rows in zip(distinct, new, strict=True)]
            hits = detector.value_hits(new_values)
            for seen, at, rows, values, (hit, fired) in zip(
                self.columns, positions, new, new_values, hits, strict=True
            ):
                at[rows] = seen.add(values, hit, fired)
        return [seen.hits_at(at) for seen, at in zip(self.columns, positions, strict=True)]


class _Seen:
    """Values seen in one column, and for each the row of its rules fired (-1: none fired)."""

    def __init__(self, rules: int):
        self.texts = pa.array([], pa.string())
        self.hit_row = np.zeros(0, dtype=np.int64)
        self.fired = np.zeros((0, rules), dtype=bool)

    def positions(self, values: pa.Array) -> np.ndarray:
        """Where each value is among those seen; -1 for a new one."""
        found = pc.index_in(values, value_set=self.texts) if len(self.texts) else pa.nulls(len(values), pa.int32())
        return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)

    def add(self, values: pa.Array, hit_value: np.ndarray, fired: np.ndarray) -> np.ndarray:
        """Remember new values and their hits; returns where the values now are among those seen."""
        hit_row = np.full(len(values), -1, dtype=np.int64)
        hit_row[hit_value] = len(self.fired) + np.arange(len(hit_value))
        at = len(self.texts) + np.arange(len(values))
        self.texts = pa.concat_arrays([self.texts, values])
        self.hit_row = np.concatenate([self.hit_row, hit_row])
        self.fired = np.concatenate([self.fired, fired])
        return at

    def hits_at(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the values at these positions that fired a rule, their rules fired)."""
        rows = self.hit_row[positions]
        hit = np.flatnonzero(rows >= 0)
        return hit, self.fired[rows[hit]]


def _string_dictionary(column: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    """The column dictionary-encoded (as it is if it already is), its values as `string`."""
    column = dictionaries.encoded(column)
    if column.type.value_type == pa.string():
        return column
    return pa.DictionaryArray.from_arrays(column.indices, column.dictionary.cast(pa.string()))


def _list_array(rows: int, rows_hit: np.ndarray, flags: np.ndarray, names: pa.Array) -> pa.Array:
    """Per row, the names whose flag is set in its row of `flags` (rows not in `rows_hit`: none)."""
    counts = np.zeros(rows, dtype=np.int32)
    counts[rows_hit] = flags.sum(axis=1)
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    _, columns = np.nonzero(flags)
    return pa.ListArray.from_arrays(pa.array(offsets), names.take(pa.array(columns, pa.int64())))


def rules_digest(rules: Iterable[Rule]) -> str:
    """What tells one set of rules from another (their ids, families, patterns and places)."""
    described = sorted((rule.id, rule.family, rule.patterns, rule.where) for rule in rules)
    return hashlib.sha256(repr(described).encode()).hexdigest()


@cache
def shared_plans(rules: tuple[Rule, ...]) -> dict[str, _Plan]:
    """`attack_plans` of the rules, made (or read from the cache) once per process; its threads share them."""
    return attack_plans(rules)


class DetectAttacks(beam.DoFn):
    """Batch of parsed requests -> the same rows with `attack_families` and `rule_ids` filled in.

    The plans are made (or read from the cache) once per process: where the pipeline is
    built, and so for the in-process runner, whose workers are threads of that process; a
    cluster's worker process makes or reads its own. The step carries only its rules'
    digest, and a worker whose rules differ (another version of logshroud) stops rather
    than detect with rules other than the run's. Beam pickles a step, compressed with bz2,
    each time it builds, translates and sets it up: carrying the rules and plans (175 KB)
    cost some 15 ms each time, 0.16 s of every run.
    """

    def __init__(self) -> None:
        self.rules_digest = rules_digest(RULES)
        shared_plans(RULES)  # made here, before the workers start, rather than by each of them

    def setup(self) -> None:
        if rules_digest(RULES) != self.rules_digest:
            raise LogshroudError(
                "attack rules on this worker differ from those the pipeline was built with: "
                "run the same version of logshroud where the pipeline is built and on the workers"
            )
        self.detector = AttackDetector(RULES, shared_plans(RULES))
        self.memory = RememberedHits()  # this worker's own

    def process(self, batch: Batch) -> Iterator[Batch]:
        table = batch.table
        found = self.detector.columns(table["target"], table["referrer"], table["user_agent"], self.memory)
        for name, column in zip(("attack_families", "rule_ids"), found, strict=True):
            table = table.set_column(table.schema.get_field_index(name), name, column)
        yield Batch(batch.source_id, batch.part, table)
