"""The compliance report as one self-contained HTML page: what report.json holds, for people to read and sign.

`render(report, json_sha256)` takes the dict `pipelines.report.build` makes and the SHA-256 of
report.json as written, and returns the page: inline CSS, inline SVG charts, no script, no web font,
no link to anything outside it. On screen it reads as one long page; printed (or by Chromium to
PDF) each section starts on a new A4 page, tables repeat their headers across pages, and every
verdict is a word as well as a colour.
"""

from __future__ import annotations

from html import escape

from pipelines.report_charts import columns, hbars

SECTIONS = (
    ("summary", "Summary"),
    ("policy", "Policy in force"),
    ("processing", "Processing"),
    ("retention", "Retention evidence"),
    ("verification", "Verification"),
    ("anonymity", "Anonymity assessment"),
    ("security", "Security use"),
    ("subject-requests", "Data-subject requests"),
    ("sign-off", "Sign-off"),
)
VERDICTS = {"pass": "PASS", "fail": "FAIL", "not_applicable": "NOT APPLICABLE"}

CSS = """
:root { --ink: #1b1f24; --muted: #5b6570; --rule: #d5dae0; --pass: #1d7a3a; --fail: #b3261e; --na: #6b7280; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink);
       max-width: 62rem; margin: 2rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.7rem; margin: 0 0 .2rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid var(--ink); padding-bottom: .2rem; margin-top: 2.5rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
.subtitle, .note, .legend, figcaption { color: var(--muted); }
.note { font-size: .9rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .88rem; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--rule); vertical-align: top; }
th { background: #f1f3f5; }
td:first-child { white-space: nowrap; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) td { background: #fafbfc; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: .5rem 0 1rem; }
dt { font-weight: 600; }
dd { margin: 0; }
code { font: .85em ui-monospace, "DejaVu Sans Mono", monospace; word-break: break-all; }
.badge { display: inline-block; padding: .05rem .45rem; border-radius: .25rem; font-weight: 700; font-size: .8rem;
         color: #fff; white-space: nowrap; }
.badge.pass { background: var(--pass); }
.badge.fail { background: var(--fail); }
.badge.not_applicable { background: var(--na); }
.finding { border-left: 4px solid #c77700; background: #fff8e6; padding: .4rem .8rem; margin: .4rem 0; }
figure { margin: .5rem 0 1rem; }
svg.chart { width: 100%; height: auto; font-size: 11px; fill: var(--ink); }
svg.chart .grid { stroke: var(--rule); stroke-width: 1; }
svg.chart .limit { stroke: #c00000; stroke-width: 2.5; }
.legend { font-size: .85rem; margin: .2rem 0 0; }
.key { display: inline-block; width: .9rem; height: .9rem; margin: 0 .3rem 0 .8rem; vertical-align: -.1rem;
       background: var(--colour); }
.key.line { height: .2rem; vertical-align: .2rem; }
.signatures td, .signatures th { height: 3.2rem; vertical-align: bottom; background: none !important; }
.signatures td.line { border-bottom: 1px solid var(--ink); min-width: 10rem; }
@page { size: A4; margin: 16mm 14mm; }
@media print {
  body { margin: 0; max-width: none; padding: 0; font-size: 10.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  section + section { break-before: page; }
  h2, h3 { break-after: avoid; }
  tr, figure, .finding, dl { break-inside: avoid; }
  thead { display: table-header-group; }
}
"""


class Html(str):
    """Markup already safe to place in the page: `cell` leaves it as it is."""


def cell(value) -> str:
    if isinstance(value, Html):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return escape("—" if value is None else str(value))


def table(headers: list[str], rows: list[list], numeric: set[int] = frozenset()) -> Html:
    """A table; the columns in `numeric` right-aligned."""
    klass = [' class="n"' if i in numeric else "" for i in range(len(headers))]
    head = "".join(f"<th{k}>{escape(h)}</th>" for h, k in zip(headers, klass, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{k}>{cell(v)}</td>" for v, k in zip(row, klass, strict=True)) + "</tr>" for row in rows
    )
    return Html(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def definitions(pairs: list[tuple[str, object]]) -> Html:
    return Html("<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{cell(v)}</dd>" for k, v in pairs) + "</dl>")


def badge(status: str) -> Html:
    return Html(f'<span class="badge {escape(status)}">{VERDICTS[status]}</span>')


def figure(chart: str, caption: str) -> Html:
    return Html(f"<figure>{chart}<figcaption>{escape(caption)}</figcaption></figure>")


def chart_or_none(series: list[tuple[str, list[float]]], chart, caption: str, nothing: str) -> Html:
    """The chart of the series, or the sentence `nothing` when every value is zero: an empty plot says less."""
    if any(any(values) for _, values in series):
        return figure(chart(series), caption)
    return Html(f"<p>{escape(nothing)}</p>")


def percent(share: float) -> str:
    return f"{share:.2%}"


def days_label(days: int | None) -> str:
    return "no limit" if days is None else f"{days} days"


def short_day(day: str) -> str:
    return day[5:]  # 2026-11-24 -> 11-24: the period's year is in the title


# --- sections ----------------------------------------------------------------------------------------------


def summary(report: dict) -> str:
    s = report["summary"]
    volume = s["volume"]
    findings = "".join(f'<p class="finding">{escape(f)}</p>' for f in s["findings"]) or "<p>No findings.</p>"
    controls = [[badge(c["status"]), c["title"], Html(f"<code>{escape(c['name'])}</code>")] for c in s["controls"]]
    return (
        definitions(
            [
                (
                    "Period",
                    f"{report['period']['from']} to {report['period']['to']} ({report['period']['days']} days, UTC)",
                ),
                ("As of", report["as_of"]),
                ("Config", report["config"]["source"]),
                ("Config SHA-256", Html(f"<code>{report['config']['sha256']}</code>")),
                (
                    "Processed in the period",
                    f"{volume['runs']:,} run(s), {volume['input_files']:,} input file(s), "
                    f"{volume['lines_read']:,} lines read, {volume['rows']:,} rows, "
                    f"{volume['quarantined']:,} quarantined",
                ),
            ]
        )
        + "<h3>Controls</h3>"
        + table(["Verdict", "Control", "Name"], controls)
        + "<h3>Findings</h3>"
        + findings
    )


def policy(report: dict) -> str:
    p = report["policy"]
    token = p["token"]
    facts = definitions(
        [
            (
                "Security window",
                f"{p['security_window_days']} days: full client addresses are held in the restricted "
                "zone no longer than this",
            ),
            (
                "Truncation",
                f"IPv4 /{p['truncation']['ipv4_prefix']}, IPv6 /{p['truncation']['ipv6_prefix']} "
                "(the published client_net)",
            ),
            ("Token scheme", token["scheme"]),
            ("Key epoch", f"{token['epoch_days']} days, one key each, epochs starting on Mondays"),
            (
                "Key retention",
                f"{token['key_retention_days']} days from the epoch's first day, then the key is destroyed "
                "and its tokens link to no one",
            ),
            ("Long-term coarsening", coarsening(p["long_term_coarsening"])),
            ("Raw logs", raw_retention(p)),
            (
                "Anonymised data",
                f"kept {p['anonymised_retention_days']} days, then deleted"
                if p["anonymised_retention_days"] is not None
                else "kept without limit (anonymised_retention_days not set)",
            ),
            ("Minimum anonymity set", f"{p['min_anonymity_set']} distinct clients per published network and day"),
        ]
    )
    zones = table(
        ["Zone", "Location", "Retention"],
        [
            [z["zone"], Html(f"<code>{escape(z['location'])}</code>"), days_label(z["retention_days"])]
            for z in p["zones"]
        ],
    )
    classes = ("personal", "pseudonymous", "anonymous")
    datasets = table(
        ["Dataset", "Retention", *(c.capitalize() for c in classes)],
        [
            [
                f"{d['zone']}/{d['dataset']}",
                days_label(d["retention_days"]),
                *(", ".join(c["column"] for c in d["columns"] if c["class"] == klass) or None for klass in classes),
            ]
            for d in p["datasets"]
        ],
    )
    return (
        facts
        + "<h3>Zones</h3>"
        + zones
        + "<h3>Datasets and the personal-data class of each column</h3>"
        + '<p class="note">Personal: names or nearly names a person. Pseudonymous: ties one client\'s rows '
        "together while the key that made it exists. Anonymous: tied to no one.</p>" + datasets
    )


def coarsening(c: dict) -> str:
    return (
        f"{c['after_days']} days from its epoch's first day a key is destroyed; its rows then lose client_token "
        f"and key_id, and every network in them widens to IPv4 /{c['ipv4_prefix']}, IPv6 /{c['ipv6_prefix']}"
    )


def raw_retention(p: dict) -> str:
    if p["raw_retention"] == "delete":
        return f"deleted once their newest line is past the {p['security_window_days']}-day security window"
    return f"kept (raw_retention: {p['raw_retention']})"


def processing(report: dict) -> str:
    p = report["processing"]
    days = p["days"]
    chart = chart_or_none(
        [("lines read", [d["lines_read"] for d in days])],
        lambda series: columns(
            [short_day(d["day"]) for d in days],
            series,
            title="Lines read and quarantined per day",
            line=(
                "quarantined, % of lines read",
                [100 * d["quarantine_rate"] if d["lines_read"] else None for d in days],
            ),
        ),
        "Lines read per day (columns) and the share quarantined (line, right axis).",
        "No lines were read in the period.",
    )
    per_day = table(
        ["Day", "Runs", "Input files", "Lines read", "Rows", "Quarantined", "Rate", "Reasons"],
        [
            [
                d["day"],
                len(d["runs"]),
                d["input_files"],
                d["lines_read"],
                d["rows"],
                d["quarantined"],
                percent(d["quarantine_rate"]),
                ", ".join(f"{k} {v:,}" for k, v in d["quarantine_reasons"].items()) or None,
            ]
            for d in days
        ],
        numeric={1, 2, 3, 4, 5, 6},
    )
    current = report["config"]["sha256"]
    runs = table(
        ["Run", "As of", "Input files", "Lines read", "Rows", "Quarantined", "Balanced", "Config"],
        [
            [
                Html(f"<code>{escape(r['run_id'])}</code>"),
                r["as_of"],
                r["input_files"],
                r["lines_read"],
                r["rows"],
                r["quarantined"],
                r["balanced"],
                "this one" if r["config_sha256"] == current else "another",
            ]
            for r in p["runs"]
        ],
        numeric={2, 3, 4, 5},
    )
    return (
        '<p class="note">From the run manifests. An input file counts on the UTC day most of its rows fall on.</p>'
        + chart
        + per_day
        + "<h3>Runs</h3>"
        + (runs if p["runs"] else "<p>No run in the period.</p>")
    )


def retention(report: dict) -> str:
    r = report["retention"]
    dated = [h for h in r["holdings"] if h["oldest_age_days"] is not None]
    bars = [(f"{h['zone']}/{h['dataset']}", h["oldest_age_days"], h["retention_days"]) for h in dated]
    chart = (
        figure(
            hbars(bars, "days", "Age of the oldest record held, against its limit"),
            "Age of the oldest partition of each dataset at the as-of time; the red mark is its limit.",
        )
        if bars
        else "<p>The zones hold no partition.</p>"
    )
    held = table(
        ["Dataset", "Partitions", "Files", "Bytes", "Oldest day", "Age (days)", "Limit", "Within limit"],
        [
            [
                f"{h['zone']}/{h['dataset']}",
                h["partitions"],
                h["files"],
                h["bytes"],
                h["oldest_day"],
                h["oldest_age_days"],
                days_label(h["retention_days"]),
                h["within_limit"],
            ]
            for h in r["holdings"]
        ],
        numeric={1, 2, 3, 5},
    )
    unknown = next((h["of_unknown_age"] for h in r["holdings"] if h["zone"] == "raw"), 0)
    raw_note = (
        '<p class="note">A raw log ages by its newest line, as its ingest recorded it.'
        + (f" {unknown:,} raw log(s) were not ingested as they are now: their age is unknown." if unknown else "")
        + "</p>"
    )
    per_day = table(
        ["As of", "Action", "Records", "Objects", "Rows", "Bytes"],
        [
            [d["day"], action, n["records"], n["objects"], n["rows"], n["bytes"]]
            for d in r["deletions_by_day"]
            for action, n in d["actions"].items()
        ],
        numeric={2, 3, 4, 5},
    )
    deletions = table(
        ["As of", "Action", "What", "Objects", "Rows", "Bytes", "Reason"],
        [
            [
                d["as_of"],
                d["action"],
                d["key_id"]
                or f"{d['zone']}/{d['dataset'] or ''}" + (f"/dt={d['partition']}" if d["partition"] else ""),
                d["objects"],
                d["rows"],
                d["bytes"],
                d["reason"],
            ]
            for d in r["deletions"]
        ],
        numeric={3, 4, 5},
    )
    keys = table(
        ["Key", "Epoch", "Created", "Due for destruction", "State"],
        [
            [
                Html(f"<code>{escape(k['id'])}</code>"),
                f"{k['epoch_from']} to {k['epoch_to']}",
                k["created"],
                k["due"],
                ("destroyed" + (f" {k['destroyed_on']}" if k["destroyed_on"] else "")) if k["destroyed"] else "in use",
            ]
            for k in r["keys"]
        ],
    )
    return (
        chart
        + held
        + raw_note
        + "<h3>Deletions performed in the period</h3>"
        + (
            per_day + "<h3>Each deletion record</h3>" + deletions
            if r["deletions"]
            else "<p>No deletion records in the period.</p>"
        )
        + "<h3>Keys created, in use and destroyed</h3>"
        + (keys if r["keys"] else "<p>No key was in use in the period.</p>")
    )


def verification(report: dict) -> str:
    parts = [
        f'<p class="note">The controls of <code>logshroud verify</code>, checked at {escape(report["as_of"])} '
        "against the zones as they are, and whether the period's runs balance.</p>"
    ]
    for c in report["verification"]["controls"]:
        evidence = ", ".join(f"{k.replace('_', ' ')}: {cell(v)}" for k, v in c["evidence"].items())
        failures = "".join(f"<li>{escape(f)}</li>" for f in c["failures"])
        why = f"<p>Not applicable: {escape(c['not_applicable'])}.</p>" if c["not_applicable"] else ""
        parts.append(
            f"<h3>{badge(c['status'])} {escape(c['title'])} <code>{escape(c['name'])}</code></h3>"
            f"{why}<p>Evidence: {evidence}</p>" + (f"<ul>{failures}</ul>" if failures else "")
        )
    return "".join(parts)


def set_size_labels(edges: list[int]) -> list[str]:
    """[1, 2, 3, 5] -> ["1", "2", "3-4", "5+"]"""
    labels = [str(a) if b == a + 1 else f"{a}-{b - 1}" for a, b in zip(edges, edges[1:], strict=False)]
    return [*labels, f"{edges[-1]}+"]


def anonymity(report: dict) -> str:
    a = report["anonymity"]
    k, edges, days = a["min_anonymity_set"], a["set_size_edges"], a["days"]
    labels = set_size_labels(edges)
    counts = a["networks_by_set_size"]
    histogram = chart_or_none(
        [
            (
                f"networks with {k} or more clients",
                [0 if edge < k else n for n, edge in zip(counts, edges, strict=True)],
            ),
            (f"networks with fewer than {k}", [n if edge < k else 0 for n, edge in zip(counts, edges, strict=True)]),
        ],
        lambda series: columns(labels, series, title="Networks by distinct clients, over the period"),
        "Published networks by the number of distinct clients behind them (network-days).",
        "No anonymity sets were counted in the period.",
    )
    shares = chart_or_none(
        [("% of rows", [100 * d["share_below_min"] for d in days])],
        lambda series: columns(
            [short_day(d["day"]) for d in days],
            series,
            title=f"Share of rows from networks with fewer than {k} clients, per day",
        ),
        f"Per day, the share of rows whose network holds fewer than {k} distinct clients.",
        f"No row came from a network with fewer than {k} distinct clients.",
    )
    per_day = table(
        ["Day", "Networks", "Rows", f"Networks < {k}", f"Rows < {k}", "Share"],
        [
            [
                d["day"],
                d["networks"],
                d["rows"],
                d["networks_below_min"],
                d["rows_below_min"],
                percent(d["share_below_min"]),
            ]
            for d in days
        ],
        numeric={1, 2, 3, 4, 5},
    )
    distribution = table(
        ["Day", *labels], [[d["day"], *d["networks_by_set_size"]] for d in days], numeric=set(range(1, len(labels) + 1))
    )
    finding = (
        f'<p class="finding">Finding: {percent(a["share_below_min"])} of rows ({a["rows_below_min"]:,} of '
        f"{a['rows']:,}) come from networks shared by fewer than {k} distinct clients on their day.</p>"
        if a["rows_below_min"]
        else f"<p>Every row comes from a network shared by at least {k} clients.</p>"
        if a["rows"]
        else ""
    )
    return (
        '<p class="note">How many distinct clients stand behind each published network on a day, counted at ingest '
        "while the addresses existed and kept as counts only. A network with few clients nearly singles them "
        "out.</p>"
        + finding
        + histogram
        + shares
        + per_day
        + "<h3>Networks by distinct clients, per day</h3>"
        + distribution
    )


def security(report: dict) -> str:
    s = report["security"]
    days = s["days"]
    labels = [short_day(d["day"]) for d in days]
    errors = chart_or_none(
        [
            ("server errors (5xx)", [d["server_errors"] for d in days]),
            ("client errors (4xx)", [d["client_errors"] for d in days]),
        ],
        lambda series: columns(labels, series, title="Error answers per day"),
        "Answers with status 400-499 and 500 and up, per day.",
        "No request was answered with an error.",
    )
    attacks = chart_or_none(
        [(f, [d["attacks_by_family"][f] for d in days]) for f in s["families"]],
        lambda series: columns(labels, series, title="Requests matching attack rules per day, by family"),
        "Requests whose attack rules matched, per day and family.",
        "No request matched an attack rule.",
    )
    alerts = chart_or_none(
        [(a, [d["alerts_by_kind"][a] for d in days]) for a in s["alert_kinds"]],
        lambda series: columns(labels, series, title="Alerts per day, by kind"),
        "Alerts raised per day, by kind.",
        "No alert was raised.",
    )
    per_day = table(
        ["Day", "Requests", "4xx", "5xx", "Attack requests", "Alerts"],
        [
            [
                d["day"],
                d["requests"],
                d["client_errors"],
                d["server_errors"],
                d["attack_requests"],
                sum(d["alerts_by_kind"].values()),
            ]
            for d in days
        ],
        numeric={1, 2, 3, 4, 5},
    )
    totals = s["totals"]
    without_rules = s["rows_without_attack_rules"]
    return (
        "<p>The logs are kept to find system errors and security problems. In the period they showed "
        f"{totals['server_errors']:,} server errors, {totals['client_errors']:,} client errors, "
        f"{totals['attack_requests']:,} requests matching attack rules and {totals['alerts']:,} alerts, "
        f"among {totals['requests']:,} requests.</p>"
        + (
            f'<p class="note">{without_rules:,} rows were written before the attack rules existed and carry no '
            "attack families.</p>"
            if without_rules
            else ""
        )
        + errors
        + attacks
        + alerts
        + per_day
    )


def subject_requests(report: dict) -> str:
    s = report["subject_requests"]
    if not s["recorded"]:
        return "<p>None recorded.</p>"
    by_kind = table(
        ["Kind", "Requests", "Rows", "Partitions", "Dry runs"],
        [[kind, n["requests"], n["rows"], n["partitions"], n["dry_runs"]] for kind, n in s["by_kind"].items()],
        numeric={1, 2, 3, 4},
    )
    each = table(
        ["Recorded", "Kind", "Dry run", "Rows", "Partitions", "Rows per dataset"],
        [
            [
                r["recorded"],
                r["kind"],
                r["dry_run"],
                r["rows"],
                r["partitions"],
                ", ".join(f"{dataset} {n:,}" for dataset, n in r["rows_by_dataset"].items()) or None,
            ]
            for r in s["recorded"]
        ],
        numeric={3, 4},
    )
    return (
        '<p class="note">From the records of <code>logshroud subject</code>: what each request exported or erased, '
        "as counts; never whom it was about. A dry run changed nothing.</p>" + by_kind + "<h3>Each request</h3>" + each
    )


def sign_off(report: dict, json_sha256: str) -> str:
    s = report["sign_off"]
    rows = "".join(
        f'<tr><th>{role}</th><td>{cell(name) if name else ""}</td><td class="line"></td><td class="line"></td></tr>'
        for role, name in (("Prepared by", s["prepared_by"]), ("Reviewed by", s["reviewed_by"]))
    )
    return (
        "<p>By signing, I confirm that I have reviewed this report and that log retention in the period "
        f"{escape(report['period']['from'])} to {escape(report['period']['to'])} follows the privacy statement, "
        "subject to the findings and failed controls above.</p>"
        '<table class="signatures"><thead><tr><th></th><th>Name</th><th>Signature</th><th>Date</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
        f"<p>SHA-256 of report.json: <code>{escape(json_sha256)}</code></p>"
        '<p class="note">The signed paper holds the same figures as report.json when the SHA-256 of that file '
        "(<code>sha256sum report.json</code>) is the one printed here.</p>"
    )


# --- the page ----------------------------------------------------------------------------------------------


def render(report: dict, json_sha256: str) -> str:
    """The whole page for a report built by `pipelines.report.build`."""
    bodies = {
        "summary": summary(report),
        "policy": policy(report),
        "processing": processing(report),
        "retention": retention(report),
        "verification": verification(report),
        "anonymity": anonymity(report),
        "security": security(report),
        "subject-requests": subject_requests(report),
        "sign-off": sign_off(report, json_sha256),
    }
    sections = "".join(
        f'<section id="{anchor}"><h2>{number}. {escape(title)}</h2>{bodies[anchor]}</section>'
        for number, (anchor, title) in enumerate(SECTIONS, start=1)
    )
    period = f"{report['period']['from']} to {report['period']['to']}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>logshroud compliance report {escape(period)}</title><style>{CSS}</style></head><body>"
        "<header><h1>Compliance report: web access logs</h1>"
        f'<p class="subtitle">{escape(period)}, as of {escape(report["as_of"])}. Built by logshroud from the '
        "zones and the audit evidence alone.</p></header>"
        f"{sections}</body></html>"
    )
