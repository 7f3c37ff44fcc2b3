"""W3C extended logs, whose columns the file names itself: IIS (`w3c`) and CloudFront standard logs (`cloudfront`).

    #Software: Microsoft Internet Information Services 10.0
    #Version: 1.0
    #Date: 2026-11-24 10:00:00
    #Fields: date time cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status time-taken
    2026-11-24 10:00:01 GET /api/v1/me - 443 - 2001:db8::7 Mozilla/5.0+(X11;+Linux) 200 15

The last line becomes client `2001:db8::7`, ts `2026-11-24 10:00:01Z` (W3C times are
UTC), method `GET`, path and target `/api/v1/me`, server_port 443, user_agent
`Mozilla/5.0 (X11; Linux)`, status 200 and duration_ms 15. Lines starting `#Name:` are
directives, counted apart from requests; a `#Fields:` directive sets the columns of the
lines after it (IIS writes a new one when it restarts, maybe with other columns). A
chunk that starts mid-file is handed the `#Fields:` in force where it starts (see
`transforms.read`); a file without any is read with its preset's default columns.

Each `#Fields:` list is compiled once into a `delimited.Layout`, so lines are cut by
position like every other separated format. IIS writes `+` for a space in the user
agent and `-` for no value; CloudFront separates fields by tabs and URL-encodes
values once more than the client sent them (`%2520` for a `%20`), decoded here once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.parse.delimited import Field, Layout
from transforms.read import FIELDS_DIRECTIVE

DIRECTIVE = r"^#[A-Za-z][A-Za-z-]*:"  # #Software:, #Version:, #Date:, #Fields:, #Remark:, ...

# W3C field (lower case) -> (the field it fills, how it is read, its value's pattern). Where several
# fill one field, the earlier one present wins (CloudFront's x-host-header is the Host the viewer sent,
# its cs(Host) the distribution's own name).
_COLUMNS = {
    "date": ("_date", "w3c_date", r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
    "time": ("_time", "w3c_time", r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"),
    "c-ip": ("client", "plain", None),
    "cs-username": ("auth_user", "plain", None),
    "cs-method": ("method", "plain", None),
    "cs-uri-stem": ("path", "plain", None),
    "cs-uri-query": ("query", "plain", None),
    "cs-uri": ("target", "plain", None),
    "cs-version": ("protocol", "plain", None),
    "cs-protocol-version": ("protocol", "plain", None),
    "sc-status": ("status", "int", r"[0-9]{3}"),
    "sc-bytes": ("bytes", "int", r"[0-9]+|-"),
    "cs-bytes": ("request_bytes", "int", r"[0-9]+|-"),
    "time-taken": ("duration_ms", "duration_ms", r"[0-9]+(?:\.[0-9]+)?|-"),
    "cs(user-agent)": ("user_agent", "plain", None),
    "cs(referer)": ("referrer", "plain", None),
    "x-host-header": ("vhost", "plain", None),
    "cs-host": ("vhost", "plain", None),
    "cs(host)": ("vhost", "plain", None),
    "s-port": ("server_port", "int", r"[0-9]+|-"),
    "x-forwarded-for": ("xff", "plain", None),
    "cs(x-forwarded-for)": ("xff", "plain", None),
    "ssl-protocol": ("tls_protocol", "plain", None),
    "ssl-cipher": ("tls_cipher", "plain", None),
    "x-edge-result-type": ("edge_result", "plain", None),
}
_STRICT = ("date", "time")  # a bad value here is a bad timestamp, not a foreign line


@dataclass(frozen=True)
class W3cFormat:
    name: str
    separator: str
    kinds: tuple[tuple[str, str], ...]  # W3C fields read otherwise than `_COLUMNS` says: (field, kind)
    default_fields: str  # the `#Fields:` in force in a file that has none

    @property
    def fields(self) -> set[str]:
        """Every field a line may fill, depending on its `#Fields:`."""
        return {name for name, _, _ in _COLUMNS.values() if not name.startswith("_")}


W3C = W3cFormat(
    "w3c",
    " ",
    (("cs(user-agent)", "plus_spaces"), ("x-forwarded-for", "plus_spaces"), ("cs(x-forwarded-for)", "plus_spaces")),
    # What IIS logs unless told otherwise.
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) "
    "sc-status sc-substatus sc-win32-status time-taken",
)
_ENCODED = ("cs-uri-stem", "cs-uri-query", "cs(referer)", "cs(user-agent)", "x-forwarded-for")
CLOUDFRONT = W3cFormat(
    "cloudfront",
    "\t",
    (("time-taken", "duration_s"), *((name, "url_encoded") for name in _ENCODED)),
    # The 33 fields of CloudFront's standard (legacy) log.
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
    "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol "
    "cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type "
    "cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type "
    "sc-content-type sc-content-len sc-range-start sc-range-end",
)
FORMATS = {fmt.name: fmt for fmt in (W3C, CLOUDFRONT)}


@functools.lru_cache(maxsize=64)
def layout(fmt: W3cFormat, fields: str | None) -> Layout | None:
    """The layout a `#Fields:` directive (None: the default) sets; None if no line can be read (no date or time)."""
    names = (fields or fmt.default_fields).strip().removeprefix(FIELDS_DIRECTIVE).split()
    lowered = [name.lower() for name in names]
    if "date" not in lowered or "time" not in lowered:
        return None
    kinds = dict(fmt.kinds)
    preference = list(_COLUMNS)
    filled: dict[str, str] = {}  # field -> the W3C field that fills it
    for name in sorted((n for n in lowered if n in _COLUMNS), key=preference.index):
        filled.setdefault(_COLUMNS[name][0], name)
    chosen = set(filled.values())
    columns = []
    for name in lowered:
        field, kind, pattern = _COLUMNS.get(name, (None, "plain", None))
        columns.append(
            Field(field, kinds.get(name, kind), pattern, strict=name in _STRICT)
            if name in chosen
            else Field(None, pattern=pattern if name in _COLUMNS else None)
        )
    return Layout(f"{fmt.name}: {' '.join(names)}", tuple(columns), separator=fmt.separator)


def directives(lines: pa.Array) -> np.ndarray:
    """Which lines are directives (`#Fields: ...`), as a boolean per line."""
    return pc.match_substring_regex(lines, DIRECTIVE).to_numpy(zero_copy_only=False)


def segments(lines: pa.Array, fmt: W3cFormat, fields_in_force: str | None,
             directive: np.ndarray) -> list[tuple[int, int, Layout | None]]:  # fmt: skip
    """(first line, line after the last, layout) of each run of lines under one `#Fields:` directive."""
    fields_lines = np.flatnonzero(directive & pc.starts_with(lines, FIELDS_DIRECTIVE).to_numpy(zero_copy_only=False))
    runs, start, fields = [], 0, fields_in_force
    for line in fields_lines.tolist():
        runs.append((start, line + 1, layout(fmt, fields)))  # the directive itself closes its run
        start, fields = line + 1, lines[line].as_py().rstrip("\r\n")
    runs.append((start, len(lines), layout(fmt, fields)))
    return [run for run in runs if run[1] > run[0]]
