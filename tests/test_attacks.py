"""Attack detection: every rule's examples, normalisation, literal derivation, the API, the bars.

Tables first: a row per example a rule must or must not match, per normalisation case, per
literal the prefilter derives. Then the detector as the pipeline calls it, and the bars of
the issue: on the OWASP CRS regression lines (recall and family accuracy, with the
per-family table printed), on the shared real sample (at most 1% of lines flagged) and on
generated ordinary traffic (nothing flagged).

Fixtures use documentation addresses only (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
2001:db8::/32) and example.com.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pipelines import ingest, query
from pipelines.generate import LogSpec, write_log
from pipelines.saved_queries import SAVED
from tests.conftest import SHARED
from transforms import attacks
from transforms.attack_rules import FAMILIES, QUERY_VALUE, REFERRER, RULES, TARGET, USER_AGENT, Rule
from transforms.attacks import AttackDetector, RememberedHits, normalise, required_literals
from transforms.config import log_format
from transforms.errors import LogshroudError
from transforms.parse import parse_lines

CRS_LOG = SHARED / "attacks" / "crs_shared.log"
CRS_LABELS = SHARED / "attacks" / "crs_shared.labels.tsv"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture(scope="module")
def detector() -> AttackDetector:
    return AttackDetector()


def detect(detector: AttackDetector, target=None, referrer=None, user_agent=None) -> tuple[list[str], list[str]]:
    """(families, rule ids) of one request."""
    families, rule_ids = detector.columns(*(pa.array([value], pa.string()) for value in (target, referrer, user_agent)))
    return families[0].as_py(), rule_ids[0].as_py()


def parsed(lines: list[str]):
    return parse_lines(pa.array(lines), log_format("combined"), 65536)


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


# --- every rule's examples ------------------------------------------------------------------------


@functools.cache
def alone(rule: Rule) -> AttackDetector:
    return AttackDetector([rule])


def examples():
    """Each example of each rule: a raw log value of the first place the rule applies to."""
    for rule in RULES:
        for n, text in enumerate(rule.must_match):
            yield pytest.param(rule, text, True, id=f"{rule.id}-must-{n}")
        for n, text in enumerate(rule.must_not_match):
            yield pytest.param(rule, text, False, id=f"{rule.id}-must-not-{n}")


FIELD_OF = {TARGET: "target", QUERY_VALUE: "target", REFERRER: "referrer", USER_AGENT: "user_agent"}


@pytest.mark.parametrize(("rule", "text", "fires"), list(examples()))
def test_rule_example(rule: Rule, text: str, fires: bool) -> None:
    _, rule_ids = detect(alone(rule), **{FIELD_OF[rule.where[0]]: text})
    assert (rule.id in rule_ids) is fires


def test_every_family_has_rules_and_every_rule_examples() -> None:
    assert {rule.family for rule in RULES} == set(FAMILIES)
    assert all(rule.must_match and rule.must_not_match for rule in RULES)


# --- normalisation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        pytest.param("/a?q=%253Cscript%253E", "/a?q=<script>", id="decoded-twice"),
        pytest.param("%25252e", "%2e", id="not-three-times"),
        pytest.param("a+b%2Bc", "a b+c", id="plus-is-space-in-first-round-only"),
        pytest.param("%u003cSVG%U003E", "<svg>", id="percent-u"),
        pytest.param("%uD800x", "\ufffdx", id="percent-u-surrogate"),
        pytest.param("%c0%ae%c0%ae/", "\ufffd\ufffd\ufffd\ufffd/", id="invalid-utf8"),
        pytest.param("&lt;svg&#x2F;onload&#61;1&gt;", "<svg/onload=1>", id="html-references"),
        pytest.param("&#60img", "<img", id="numeric-reference-without-semicolon"),
        pytest.param("?a=1&ltype=2", "?a=1&ltype=2", id="named-reference-needs-semicolon"),
        pytest.param("UNION\t\t SELECT%0b1", "union select 1", id="blanks-collapse"),
        pytest.param("a%0d%0aRCPT", "a\r\nrcpt", id="line-breaks-stay"),
        pytest.param("/Plain/Path", "/plain/path", id="lower-cased"),
    ],
)
def test_normalise(raw: str, normalised: str) -> None:
    assert normalise(raw) == normalised


def test_texts_without_escapes_are_normalised_alike(detector: AttackDetector) -> None:
    # Only texts with an escape reach Python; the rest are lower-cased by Arrow: same result.
    assert detect(detector, target="/GET/SYS/CLASS") == detect(detector, target="/get/%73ys/class")


# --- the literals that the prefilter looks for --------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        pytest.param(r"\bunion\s+select\b", {"select"}, id="longest-word"),
        pytest.param(r"\bsleep\s*\(", {"sleep"}, id="word-over-common-punctuation"),
        pytest.param(r"<\s*script", {"<"}, id="rare-character-over-word"),
        pytest.param(r"(?:nc|ncat|netcat) -e", {"nc -e", "ncat -e", "netcat -e"}, id="small-set-spelled-out"),
        pytest.param(r"[<>]\(", {"<(", ">("}, id="class-spelled-out"),
        pytest.param(r"\.(?:sql|bak)$", {".sql", ".bak"}, id="alternatives-spelled-out"),
        pytest.param(r"@+\{", {"@{"}, id="last-repetition-touches-what-follows"),
        pytest.param(r"x?or 1", {"or 1", "xor 1"}, id="optional-piece-spelled-out"),
    ],
)
def test_required_literals(pattern: str, literals: set[str]) -> None:
    assert required_literals(pattern) == literals


@pytest.mark.parametrize("pattern", [r"\w+", r"[a-z]+\s*\(?", r"(?:a|\d)"])
def test_pattern_without_literal_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="without any literal"):
        required_literals(pattern)


def test_prefilter_and_routing_change_no_result(detector: AttackDetector, sample_log: Path) -> None:
    # With the prefilter and the routing made to pass every text, every family and rule pattern
    # meets every text: the results must be the same, or a literal was wrongly required.
    exhaustive = AttackDetector()
    exhaustive._plans = {
        kind: dataclasses.replace(plan, prefilter="", routing="") for kind, plan in detector._plans.items()
    }
    lines = read_lines(CRS_LOG) + read_lines(sample_log)[:2000]
    fields = parsed(lines).fields
    columns = (fields["target"], fields["referrer"], fields["user_agent"])
    assert detector.columns(*columns) == exhaustive.columns(*columns)


@pytest.mark.parametrize("limit", [200_000, 50], ids=["remembered", "memory-starting-afresh"])
def test_remembered_hits_change_no_result(detector: AttackDetector, sample_log: Path, limit: int) -> None:
    """Chunk after chunk, a worker's memory of values seen gives what matching every value gives."""
    lines = read_lines(sample_log)[:1500] + read_lines(CRS_LOG) + read_lines(sample_log)[:1500]
    memory = RememberedHits(limit)
    for start in range(0, len(lines), 700):  # chunks that repeat values of chunks before them
        fields = parsed(lines[start : start + 700]).fields
        columns = (fields["target"], fields["referrer"], fields["user_agent"])
        assert detector.columns(*columns, memory) == detector.columns(*columns)
    assert 0 < len(memory.columns[0].texts) <= max(limit, 700)


# --- the detector as the pipeline calls it --------------------------------------------------------


def test_families_in_canonical_order_and_rule_ids_sorted(detector: AttackDetector) -> None:
    families, rule_ids = detect(
        detector,
        target="/api/v1/reports/hours?file=../../../../etc/passwd&id=1%27%20OR%201=1--",
        user_agent="sqlmap/1.8.11#stable (https://sqlmap.org)",
    )
    assert families == ["sqli", "traversal", "scanner"]
    assert rule_ids == sorted(rule_ids)
    assert {"scanner-attack-tool", "sqli-quote-boolean", "traversal-dot-dot", "traversal-system-file"} <= set(rule_ids)


@pytest.mark.parametrize(
    ("target", "referrer", "user_agent"),
    [
        pytest.param("/api/v1/timesheets?week=2026-W48", "https://app.example.com/app/timesheets", CHROME, id="app"),
        pytest.param("/api/v1/users?email=alice%40example.com", None, "python-requests/2.32.3", id="e-mail-query"),
        pytest.param("/api/v1/admin/audit?ip=2001:db8:4a1f:7c::3e1", None, "curl/8.5.0", id="address-query"),
        pytest.param(None, None, None, id="all-null"),
        pytest.param("", "", "", id="all-empty"),
    ],
)
def test_ordinary_requests_get_empty_lists(detector: AttackDetector, target, referrer, user_agent) -> None:
    assert detect(detector, target, referrer, user_agent) == ([], [])


def test_list_columns_never_null(detector: AttackDetector) -> None:
    targets = pa.array([None, "/.env", "/index.html", None], pa.string())
    families, rule_ids = detector.columns(targets, pa.nulls(4, pa.string()), pa.nulls(4, pa.string()))
    assert families.type == rule_ids.type == pa.list_(pa.string())
    assert families.null_count == rule_ids.null_count == 0
    assert families.to_pylist() == [[], ["probe"], [], []]
    assert rule_ids.to_pylist() == [[], ["probe-dotfile"], [], []]


def test_empty_chunk_and_chunked_input(detector: AttackDetector) -> None:
    empty = pa.array([], pa.string())
    assert [len(column) for column in detector.columns(empty, empty, empty)] == [0, 0]
    chunked = pa.chunked_array([["/index.html"], ["/wp-login.php"]], pa.large_string())
    nulls = pa.chunked_array([pa.nulls(1, pa.string()), pa.nulls(1, pa.string())])
    assert detector.columns(chunked, nulls, nulls)[0].to_pylist() == [[], ["probe"]]


def test_columns_of_different_length_are_refused(detector: AttackDetector) -> None:
    with pytest.raises(ValueError, match="differ in length"):
        detector.columns(pa.array(["/"]), pa.array(["/", "/"]), pa.array(["x"]))


def test_a_row_gets_the_same_result_in_any_chunk(detector: AttackDetector) -> None:
    lines = read_lines(CRS_LOG)
    fields = parsed(lines).fields
    columns = [fields["target"], fields["referrer"], fields["user_agent"]]
    whole = detector.columns(*columns)
    backwards = detector.columns(*(column[::-1] for column in columns))
    assert [list(reversed(result.to_pylist())) for result in backwards] == [result.to_pylist() for result in whole]
    half = len(lines) // 2
    for part in (slice(0, half), slice(half, None)):
        alone_part = detector.columns(*(column[part] for column in columns))
        assert [result.to_pylist() for result in alone_part] == [result[part].to_pylist() for result in whole]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"family": "csrf"}, "unknown family", id="family"),
        pytest.param({"id": "xss-example"}, "starts with its family", id="id-prefix"),
        pytest.param({"where": ("header",)}, "where must name", id="where"),
        pytest.param({"patterns": (r"\bUNION\b",)}, "lower case", id="upper-case"),
        pytest.param({"must_match": ()}, "examples", id="no-examples"),
    ],
)
def test_malformed_rules_are_refused(change: dict, message: str) -> None:
    fields = {"id": "sqli-example", "family": "sqli", "description": "x", "patterns": (r"\bunion\b",),
              "where": (TARGET,), "must_match": ("/?q=union",)}  # fmt: skip
    with pytest.raises(ValueError, match=message):
        Rule(**{**fields, **change})


def test_duplicate_rule_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        AttackDetector([RULES[0], RULES[0]])


# --- the bars -----------------------------------------------------------------------------------


def test_crs_regression_lines(detector: AttackDetector) -> None:
    """Recall >= 0.90 and the family right for >= 0.80 of the attack lines; the table is printed.

    A line is found when any family is flagged; its family is right when the label's family is
    among those flagged. CRS's `generic` family (Node.js, SSRF, prototype pollution, template
    injection ... in CRS's generic-attack rules) has no family of ours: any family counts as
    right for it. The 'attack' = 0 lines are CRS's false-positive probes: their rate of
    being flagged is reported, not held to a bar (many are attacks by our rules' standards).
    Lines the parser quarantines count as missed (none are, today; line 165's request holds
    an escaped line break, so the parser gives it no target and it is missed).
    """
    lines = read_lines(CRS_LOG)
    with CRS_LABELS.open(newline="") as labels_file:
        labels = list(csv.DictReader(labels_file, delimiter="\t"))
    assert len(labels) == len(lines)
    result = parsed(lines)
    families, _ = detector.columns(result.fields["target"], result.fields["referrer"], result.fields["user_agent"])
    flagged = dict(zip(result.rows.tolist(), families.to_pylist(), strict=True))

    counts: dict[str, Counter] = {}
    for number, label in enumerate(labels):
        got = flagged.get(number, [])
        count = counts.setdefault(label["family"], Counter())
        if label["attack"] == "1":
            count["attacks"] += 1
            count["found"] += bool(got)
            count["right"] += bool(got) and (label["family"] == "generic" or label["family"] in got)
        else:
            count["probes"] += 1
            count["flagged"] += bool(got)
    total = sum(counts.values(), Counter())

    print(f"\n{'CRS family':<10} {'attacks':>7} {'recall':>7} {'family':>7} {'probes':>7} {'FP rate':>7}")
    for family, count in [*sorted(counts.items()), ("all", total)]:
        attacks, probes = count["attacks"], count["probes"]
        recall = count["found"] / attacks if attacks else float("nan")
        right = count["right"] / attacks if attacks else float("nan")
        false_positives = count["flagged"] / probes if probes else float("nan")
        print(f"{family:<10} {attacks:>7} {recall:>7.3f} {right:>7.3f} {probes:>7} {false_positives:>7.3f}")

    assert total["found"] / total["attacks"] >= 0.90
    assert total["right"] / total["attacks"] >= 0.80


def test_real_sample_has_at_most_one_percent_flagged(detector: AttackDetector, sample_log: Path) -> None:
    lines = read_lines(sample_log)
    result = parsed(lines)
    families, _ = detector.columns(result.fields["target"], result.fields["referrer"], result.fields["user_agent"])
    flagged = [f for f in families.to_pylist() if f]
    print(f"\nsample: {len(flagged)} of {len(lines)} lines flagged: {Counter(f for fs in flagged for f in fs)}")
    assert len(flagged) <= 0.01 * len(lines)


def test_generated_ordinary_traffic_flags_nothing(detector: AttackDetector, tmp_path: Path) -> None:
    log = write_log(tmp_path / "access.log", LogSpec(lines=20_000, attack_share=0.0, broken_share=0.0))
    result = parsed(read_lines(Path(log.path)))
    families, rule_ids = detector.columns(
        result.fields["target"], result.fields["referrer"], result.fields["user_agent"]
    )
    assert [ids for ids in rule_ids.to_pylist() if ids] == []


def test_ingest_carries_the_signals_into_both_zones_and_the_saved_query(workspace, detector: AttackDetector) -> None:
    """The CRS log through the real pipeline: every row has the detector's verdict, in both zones."""
    manifest = ingest.run(workspace.config, [str(CRS_LOG)], dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc))
    assert manifest["totals"]["quarantined"] == 0
    fields = parsed(read_lines(CRS_LOG)).fields
    expected = detector.columns(fields["target"], fields["referrer"], fields["user_agent"])[0].to_pylist()
    for zone in ("restricted", "anonymised"):
        rows = duckdb.sql(f"SELECT attack_families FROM read_parquet('{workspace.zone(zone)}/requests/*/*.parquet')")
        assert Counter(tuple(r[0]) for r in rows.fetchall()) == Counter(tuple(f) for f in expected), zone
    by_family = {
        r["family"]: r["requests"] for r in query.run(workspace.config, SAVED["attacks-by-family"].sql).to_pylist()
    }
    assert by_family == dict(Counter(family for families in expected for family in families))


def test_plans_are_kept_between_runs_and_made_again_when_the_cache_fails(tmp_path: Path, monkeypatch) -> None:
    """The plans come back from the user's cache as they were made. A cache that is damaged, holds
    other plans, could have been written by someone else, or cannot be read or written only means
    they are made again; other rules get plans of their own."""
    import json
    import os

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    made = attacks.attack_plans()
    (kept,) = (tmp_path / "cache" / "logshroud").glob("attack-plans-*.json")
    with monkeypatch.context() as m:  # read from the cache: nothing is made
        m.setattr(attacks, "_plan", lambda *_: pytest.fail("plans made again although kept"))
        assert attacks.attack_plans() == made
    written = json.loads(kept.read_text())
    other_families = json.loads(kept.read_text())
    other_families["plans"]["target"]["families"] = other_families["plans"]["target"]["families"][:1]
    no_prefilter = json.loads(kept.read_text())
    no_prefilter["plans"]["target"]["prefilter"] = ""
    damaged = ["{not json", "{}", json.dumps(["a list"]), json.dumps({**written, "digest": "0" * 64}),
               json.dumps({**written, "plans": {}}), json.dumps(other_families), json.dumps(no_prefilter)]  # fmt: skip
    for damage in damaged:
        kept.write_text(damage)
        assert attacks.attack_plans() == made, damage[:80]
        assert json.loads(kept.read_text()) == written  # made again, and kept again
    kept.chmod(0o666)  # anyone could have written it: not trusted
    with monkeypatch.context() as m:
        m.setattr(attacks, "_plan", lambda *_: None)  # what "made again" gives here, to tell it apart
        assert attacks.attack_plans() == {}
    kept.chmod(0o644)
    assert attacks.attack_plans(RULES[:3]) != made
    assert len(list(kept.parent.glob("attack-plans-*.json"))) == 2
    if os.geteuid() != 0:  # root reads any folder
        kept.parent.chmod(0o000)  # a cache folder that cannot be read
        try:
            assert attacks.attack_plans() == made
        finally:
            kept.parent.chmod(0o700)
    monkeypatch.setenv("XDG_CACHE_HOME", str(kept))  # a file where the folder should be: nothing can be kept
    assert attacks.attack_plans() == made
    assert not list(kept.parent.glob("*.json.*"))  # no half-written file left behind
    found = AttackDetector(plans=made).columns(pa.array(["/index.php?id=1 UNION SELECT password FROM users"]),
                                                pa.array([None], pa.string()), pa.array([CHROME]))  # fmt: skip
    assert found[0].to_pylist() == [["sqli"]]


def test_the_step_carries_its_rules_digest_and_a_worker_with_other_rules_stops(monkeypatch) -> None:
    """Workers detect with the rules the pipeline was built with, or not at all; the step pickles small."""
    import pickle

    from transforms.attacks import DetectAttacks

    packed = pickle.dumps(DetectAttacks())
    assert len(packed) < 1_000  # Beam pickles a step several times a run: no rules or plans inside
    step = pickle.loads(packed)
    step.setup()
    assert step.detector.rules == tuple(sorted(RULES, key=lambda rule: rule.id))
    found = step.detector.columns(pa.array(["/index.php?id=1 UNION SELECT password FROM users"]),
                                  pa.array([None], pa.string()), pa.array([CHROME]))  # fmt: skip
    assert found[0].to_pylist() == [["sqli"]]
    monkeypatch.setattr(attacks, "RULES", RULES[:-1])  # a worker of another version
    with pytest.raises(LogshroudError, match="attack rules on this worker differ"):
        pickle.loads(packed).setup()
