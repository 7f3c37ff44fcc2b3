"""Custom formats in the words of the web server's own config: Apache `LogFormat` and nginx `log_format`.

    apache: '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D'
    nginx:  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent $request_time'

Each is compiled once into an RE2 pattern with one named group per field that
logshroud keeps, and a note of how to read each group (a CLF time, microseconds,
seconds...). Lines are then matched and captured for a whole chunk at once with
`pyarrow.compute.extract_regex`.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from transforms.errors import LogshroudError
from transforms.parse.common import TYPES, dash_to_null, split_request, split_target, text_times
from transforms.parse.escapes import unescaped


class FormatError(LogshroudError):
    pass


# What a captured group becomes: the common field it fills, and how to read it.
#   text: as written; clf_time / iso_time / epoch_s: a timestamp;
#   int: an integer; duration_us / duration_ms / duration_s: a duration, stored in ms.
@dataclass(frozen=True)
class Capture:
    field: str
    kind: str = "text"


@dataclass
class CompiledFormat:
    pattern: str  # RE2, anchored, one named group per capture
    captures: dict[str, Capture] = field(default_factory=dict)  # group name -> what it fills
    source: str = ""

    @property
    def fields(self) -> set[str]:
        return {c.field for c in self.captures.values()}


_QUOTED_VALUE = r'(?:[^"\\]|\\.)*'  # inside double quotes, with Apache's and nginx's escapes
_TOKEN = r"\S+"
_CLF_TIME = r"[0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}"

# Apache directives: (field, kind, value pattern). `None` field: matched, not kept.
_APACHE = {
    "h": ("client", "text", _TOKEN),
    "a": ("client", "text", _TOKEN),
    "{c}a": ("client", "text", _TOKEN),
    "l": (None, "text", _TOKEN),
    "u": ("auth_user", "text", _TOKEN),
    "t": ("ts", "clf_time", r"\[" + _CLF_TIME + r"\]"),
    "r": ("request", "text", None),
    "m": ("method", "text", _TOKEN),
    "U": ("path", "text", r"[^?\s]*"),
    "q": ("query", "query", r"(?:\?\S*)?"),  # Apache writes the `?` too, and nothing for no query
    "H": ("protocol", "text", _TOKEN),
    ">s": ("status", "int", "[0-9]{3}"),
    "s": ("status", "int", "[0-9]{3}"),
    "b": ("bytes", "int", "[0-9]+|-"),
    "B": ("bytes", "int", "[0-9]+"),
    "O": ("bytes", "int", "[0-9]+|-"),
    "I": ("request_bytes", "int", "[0-9]+|-"),
    "D": ("duration_ms", "duration_us", "[0-9]+"),
    "T": ("duration_ms", "duration_s", "[0-9]+"),
    "v": ("vhost", "text", _TOKEN),
    "V": ("vhost", "text", _TOKEN),
    "p": ("server_port", "int", "[0-9]+"),
    "X": (None, "text", "[X+-]"),
    "L": (None, "text", _TOKEN),
    "k": (None, "int", "[0-9]+"),
    "{SSL_PROTOCOL}x": ("tls_protocol", "text", _TOKEN),  # mod_ssl
    "{SSL_CIPHER}x": ("tls_cipher", "text", _TOKEN),
}
_APACHE_HEADERS = {"referer": "referrer", "user-agent": "user_agent", "x-forwarded-for": "xff", "host": "vhost"}
_APACHE_DIRECTIVE = re.compile(r"%(?:!?[0-9,]+)?([<>]?)(?:\{([^}]*)\})?([a-zA-Z%])")

# nginx variables: (field, kind, value pattern).
_NGINX = {
    "remote_addr": ("client", "text", _TOKEN),
    "binary_remote_addr": (None, "text", _TOKEN),
    "realip_remote_addr": ("client", "text", _TOKEN),
    "remote_user": ("auth_user", "text", _TOKEN),
    "time_local": ("ts", "clf_time", _CLF_TIME),
    "time_iso8601": ("ts", "iso_time", r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(?:Z|[+-][0-9]{2}:?[0-9]{2})"),
    "msec": ("ts", "epoch_s", r"[0-9]+\.[0-9]{3}"),
    "request": ("request", "text", None),
    "request_method": ("method", "text", _TOKEN),
    "request_uri": ("target", "text", _TOKEN),
    "uri": ("path", "text", _TOKEN),
    "args": ("query", "text", r"\S*"),
    "query_string": ("query", "text", r"\S*"),
    "server_protocol": ("protocol", "text", _TOKEN),
    "status": ("status", "int", "[0-9]{3}"),
    "body_bytes_sent": ("bytes", "int", "[0-9]+|-"),  # nginx writes 0; `-` accepted for logs converted from Apache
    "bytes_sent": ("bytes", "int", "[0-9]+|-"),
    "request_length": ("request_bytes", "int", "[0-9]+"),
    "request_time": ("duration_ms", "duration_s", r"[0-9]+(?:\.[0-9]+)?"),
    "upstream_response_time": ("upstream_ms", "duration_s_sum", r"[0-9.,: -]+|-"),
    "upstream_status": ("upstream_status", "last_status", r"[0-9,: -]+|-"),
    "http_referer": ("referrer", "text", None),
    "http_user_agent": ("user_agent", "text", None),
    "http_x_forwarded_for": ("xff", "text", None),
    "host": ("vhost", "text", _TOKEN),
    "server_name": ("vhost", "text", _TOKEN),
    "http_host": ("vhost", "text", _TOKEN),
    "server_port": ("server_port", "int", "[0-9]+"),
    "connection": (None, "int", "[0-9]+"),
    "connection_requests": (None, "int", "[0-9]+"),
    "pipe": (None, "text", "[p.]"),
    "ssl_protocol": ("tls_protocol", "text", _TOKEN),
    "ssl_cipher": ("tls_cipher", "text", _TOKEN),
}
_NGINX_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def compile_apache(log_format: str) -> CompiledFormat:
    """`%h %l %u %t "%r" %>s %b` -> a pattern and its captures; an unknown directive is a FormatError."""
    pieces: list[tuple[str, str | None, str | None, str | None]] = []  # literal, or (field, kind, value)
    position = 0
    for match in _APACHE_DIRECTIVE.finditer(log_format):
        pieces.append(("literal", log_format[position : match.start()], None, None))
        position = match.end()
        final, argument, letter = match.groups()
        if letter == "%":
            pieces.append(("literal", "%", None, None))
            continue
        if letter in "io" and argument is not None:
            name = _APACHE_HEADERS.get(argument.lower()) if letter == "i" else None
            pieces.append(("value", name, "text", None))
            continue
        if letter == "t" and argument:
            raise FormatError(f"apache format: %{{{argument}}}t: only the default time format [%t] is supported")
        key = (f"{{{argument}}}" if argument else "") + (">" if final == ">" and letter == "s" else "") + letter
        if key not in _APACHE:
            shown = f"%{{{argument}}}{letter}" if argument else f"%{final}{letter}"
            raise FormatError(f"apache format: {shown}: directive not supported")
        name, kind, value = _APACHE[key]
        pieces.append(("value", name, kind, value))
    pieces.append(("literal", log_format[position:], None, None))
    return _assemble(pieces, f"apache: {log_format}")


def compile_nginx(log_format: str) -> CompiledFormat:
    """`$remote_addr - $remote_user [$time_local] "$request" ...` -> a pattern and its captures."""
    pieces: list[tuple[str, str | None, str | None, str | None]] = []
    position = 0
    for match in _NGINX_VARIABLE.finditer(log_format):
        pieces.append(("literal", log_format[position : match.start()], None, None))
        position = match.end()
        variable = match.group(1) or match.group(2)
        if variable in _NGINX:
            name, kind, value = _NGINX[variable]
        elif variable.startswith(("http_", "sent_http_", "upstream_", "cookie_", "arg_")):
            name, kind, value = None, "text", None  # kept out: headers and cookies we have no column for
        else:
            raise FormatError(f"nginx format: ${variable}: variable not supported")
        pieces.append(("value", name, kind, value))
    pieces.append(("literal", log_format[position:], None, None))
    return _assemble(pieces, f"nginx: {log_format}")


def _assemble(pieces, source: str) -> CompiledFormat:
    """Literals escaped, values as groups; a value's default pattern depends on whether it is quoted."""
    parts: list[str] = []
    captures: dict[str, Capture] = {}
    for index, (what, name, kind, value) in enumerate(pieces):
        if what == "literal":
            parts.append(re.escape(name))
            continue
        following = pieces[index + 1] if index + 1 < len(pieces) else ("literal", "", None, None)
        quoted = bool(parts) and parts[-1].endswith('"') and following[0] == "literal" and following[1].startswith('"')
        pattern = value if value is not None else (_QUOTED_VALUE if quoted else _TOKEN)
        if value is not None and quoted:
            pattern = f"{value}|{_QUOTED_VALUE}" if kind == "text" else value
        if name is None or name in {c.field for c in captures.values()}:
            parts.append(f"(?:{pattern})")
            continue
        group = f"g{len(captures)}"
        captures[group] = Capture(name, kind)
        parts.append(f"(?P<{group}>{pattern})")
    return CompiledFormat("^" + "".join(parts) + r"\r?\n?$", captures, source)


# --- parsing with a compiled format ------------------------------------------------------------------------


def matches(lines: pa.Array, compiled: CompiledFormat) -> pa.Array:
    return pc.match_substring_regex(lines, compiled.pattern)


def parse(lines: pa.Array, compiled: CompiledFormat) -> dict[str, pa.Array]:
    """Fields of lines that all match the compiled format: one RE2 capture pass, then typed columns."""
    captured = pc.extract_regex(lines, compiled.pattern)
    raw = {c.field: (captured.field(group), c.kind) for group, c in compiled.captures.items()}
    return typed_fields(raw, len(lines))


def typed_fields(raw: dict[str, tuple[pa.Array, str]], n: int) -> dict[str, pa.Array]:
    """Captured text, {field: (values, kind)}, to the typed fields every format parses into.

    The request line is split when the format has no method of its own, the target
    when it has no path, and the target put together from path and query when it
    has none; what no format field gives is null. Fields named `_...` are a
    format's own helpers, passed on as read.
    """
    fields: dict[str, pa.Array] = {name: _typed(_text(values, kind), kind) for name, (values, kind) in raw.items()}
    if "request" in fields and "method" not in fields:
        fields.update(split_request(fields["request"]))
    elif "target" in fields and "path" not in fields:
        fields.update(split_target(fields["target"]))
    if "target" not in fields and "path" in fields:
        query = fields.get("query", pa.nulls(n, pa.string()))
        with_query = pc.binary_join_element_wise(fields["path"], query, "?")  # null where the query is
        fields["target"] = pc.if_else(pc.is_valid(query), with_query, fields["path"])
    if "bytes" in fields:  # `-` is no body, so 0 bytes; a size that is no number stays unknown (null)
        written = raw["bytes"][0]
        if pa.types.is_string(written.type):
            no_body = pc.fill_null(pc.equal(written, "-"), False)
            fields["bytes"] = pc.if_else(no_body, pa.scalar(0, fields["bytes"].type), fields["bytes"])
        else:  # read by position, where a field's pattern lets only digits or `-` through
            fields["bytes"] = pc.fill_null(fields["bytes"], 0)
    typed = {name: _cast_fitting(fields[name], kind) if name in fields else pa.nulls(n, kind)
             for name, kind in TYPES.items()}  # fmt: skip
    return typed | {name: values for name, values in fields.items() if name.startswith("_")}


def _text(values: pa.Array, kind: str) -> pa.Array:
    """Captured text as the log means it: `-` is no value, escapes and encodings decoded."""
    if kind == "query":  # `?a=1` -> `a=1`, `?` -> empty, nothing -> null
        return unescaped(pc.if_else(pc.starts_with(values, "?"), pc.utf8_slice_codeunits(values, 1), None))
    if kind not in _TEXT_KINDS:
        return values
    values = dash_to_null(values)
    if kind == "text":  # Apache's and nginx's escapes
        return unescaped(values)
    if kind == "plus_spaces":  # IIS writes a space in a user agent as `+`
        return pc.replace_substring(values, "+", " ")
    if kind == "url_encoded":  # CloudFront's own encoding of field values, one layer
        return _per_distinct(values, "%", urllib.parse.unquote)
    if kind == "address_port":  # `192.0.2.1:51234`, `[2001:db8::1]:443`, `2001:db8::1:443` (AWS)
        # The port is always there where this is used (load balancers' client:port): the last `:digits`.
        parts = pc.list_slice(pc.split_pattern(values, ":", max_splits=1, reverse=True), 0, 2,
                              return_fixed_size_list=True)  # fmt: skip
        has_port = pc.fill_null(pc.match_substring_regex(pc.list_element(parts, 1), r"^[0-9]{1,5}$"), False)
        return pc.if_else(has_port, pc.utf8_trim(pc.list_element(parts, 0), "[]"), values)
    return values  # plain: as written


_TEXT_KINDS = ("text", "plain", "plus_spaces", "url_encoded", "address_port")


def _per_distinct(values: pa.Array, marker: str, decode) -> pa.Array:
    """`decode` applied once per distinct value holding `marker`; the others as they are."""
    if not pc.any(pc.match_substring(values, marker)).as_py():
        return values
    encoded = pc.dictionary_encode(values)
    distinct = encoded.dictionary
    holding = pc.fill_null(pc.match_substring(distinct, marker), False)
    decoded = pa.array([decode(v) for v in distinct.filter(holding).to_pylist()], pa.string())
    return pc.replace_with_mask(distinct, holding, decoded).take(encoded.indices)


_INTEGER = r"^[0-9]{1,18}$"  # 18 digits: what any int64 holds; longer numbers are null
_LAST_STATUS = r"(?P<status>[0-9]{3})$"
_NUMBER = r"^-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$"


def _cast_fitting(values: pa.Array, kind: pa.DataType) -> pa.Array:
    """`values` as `kind`; an integer it cannot hold is null (a status of 99999 is no status)."""
    if pa.types.is_integer(kind) and pa.types.is_integer(values.type) and kind.bit_width < values.type.bit_width:
        bound = 2 ** (kind.bit_width - 1)
        fits = pc.and_(pc.greater_equal(values, -bound), pc.less(values, bound))
        values = pc.if_else(fits, values, pa.scalar(None, values.type))
    return pc.cast(values, kind)


def _summed(listed: str) -> str:
    """`0.012, 0.004 : 0.001` -> `0.017`; `-` where any part is no number."""
    parts = [p.strip() for p in listed.replace(":", ",").split(",")]
    try:
        return repr(sum(float(p) for p in parts))
    except ValueError:
        return "-"


def _numbers(values: pa.Array, pattern: str, to: pa.DataType) -> pa.Array:
    """Text to numbers; what is no number (`-`, junk in a JSON field) becomes null."""
    return pc.cast(pc.if_else(pc.fill_null(pc.match_substring_regex(values, pattern), False), values, None), to)


def _typed(values: pa.Array, kind: str) -> pa.Array:
    if kind in _TEXT_KINDS or kind in ("query", "typed"):  # typed: read by position already
        return values
    if kind == "int":
        return _numbers(values, _INTEGER, pa.int64())
    if kind == "last_status":  # nginx's `$upstream_status` of several tries: `502, 200`
        return _numbers(pc.struct_field(pc.extract_regex(values, _LAST_STATUS), "status"), _INTEGER, pa.int64())
    if kind == "duration_s_sum":  # nginx's `$upstream_response_time` of several tries: `0.012, 0.004`
        values = _per_distinct(values, ",", _summed).cast(pa.string())
        kind = "duration_s"
    if kind.startswith("duration"):
        seconds = _numbers(values, _NUMBER, pa.float64())
        seconds = pc.if_else(pc.less(seconds, 0), None, seconds)  # -1: not measured (AWS)
        return pc.multiply(seconds, {"duration_us": 0.001, "duration_ms": 1.0, "duration_s": 1000.0}[kind])
    if kind in ("clf_time", "iso_time"):
        return text_times(values, kind.removesuffix("_time"))
    if kind in ("epoch_s", "epoch_ms"):  # seconds (or milliseconds) since 1970, maybe with a fraction
        scale = 1000.0 if kind == "epoch_s" else 1.0
        milliseconds = pc.cast(pc.multiply(_numbers(values, _NUMBER, pa.float64()), scale), pa.int64(), safe=False)
        return milliseconds.cast(TYPES["ts"])
    raise AssertionError(kind)
