"""The one config model of logshroud: YAML in, validated frozen dataclasses out.

Every mistake is reported as one `ConfigError` line that names the file and the key:

    configs/prod.yaml: anonymise.ipv4_prefix: expected an integer from 0 to 32, got '24 bits'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from transforms.errors import LogshroudError
from transforms.parse import LogFormat
from transforms.parse.aws import LAYOUTS as AWS_LAYOUTS
from transforms.parse.jsonlines import PRESETS as JSON_PRESETS
from transforms.parse.jsonlines import compile_json
from transforms.parse.logformat import FormatError, compile_apache, compile_nginx
from transforms.parse.w3c import FORMATS as W3C_FORMATS
from transforms.proxies import check_networks
from transforms.scrub import DEFAULT_SECRET_PARAMS
from transforms.storage import S3Settings

FORMATS = ("combined", "common", "vhost_combined", "combined_xff", "caddy_json", "nginx_json", "aws_alb",
           "aws_elb_classic", "cloudfront", "w3c", "auto")  # fmt: skip
# Presets that are a mapping of JSON fields, parsed like any custom one.
PRESET_LOG_FORMATS = {name: {"json": mapping} for name, mapping in JSON_PRESETS.items()}
_COMPILERS = {"apache": compile_apache, "nginx": compile_nginx, "json": compile_json}


class ConfigError(LogshroudError):
    pass


@dataclass(frozen=True)
class Zones:
    raw: str = "./data/raw"
    restricted: str = "./data/restricted"
    anonymised: str = "./data/anonymised"
    audit: str = "./data/audit"


@dataclass(frozen=True)
class Input:
    # A preset name (FORMATS), or the web server's own words: {apache: '<LogFormat>'}, {nginx: '<log_format>'},
    # or {json: {field: dotted.path, ...}}.
    format: str | dict = "combined"
    # A request line longer than this is no web server's doing; it is quarantined whole
    # (cut to this length) rather than parsed, so one hostile line cannot balloon a chunk.
    max_line_bytes: int = 65536
    # Lines per Arrow table: large enough that per-element runner costs vanish,
    # small enough that a chunk and its outputs stay far below a worker's memory.
    chunk_lines: int = 100_000
    # Bytes per range of a plain file: enough lines (~250,000) that a range's fixed
    # costs vanish, small enough that a 1 GB log keeps several workers busy.
    range_bytes: int = 64 * 1024 * 1024
    # Networks of your own proxies and load balancers: behind them, the client is the
    # right-most X-Forwarded-For address outside these (the format must log the header).
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Anonymise:
    ipv4_prefix: int = 24
    ipv6_prefix: int = 48
    secret_params: tuple[str, ...] = DEFAULT_SECRET_PARAMS
    # What `client_net` and scrubbed addresses widen to once a partition's token key is
    # destroyed: with the token gone, a /24 would be the finest trace left of a client.
    long_term_ipv4_prefix: int = 16
    long_term_ipv6_prefix: int = 32


@dataclass(frozen=True)
class Keys:
    path: str = "./keys/keyring.json"  # the file backend's keyring
    epoch_days: int = 7
    retention_days: int = 90  # counted from the first day of a key's epoch
    backend: str = "file"  # file | aws_secrets_manager
    secrets_prefix: str = "logshroud/keys/"  # aws_secrets_manager: one secret per epoch under this name prefix
    region: str | None = None  # aws_secrets_manager: default boto3's
    endpoint_url: str | None = None  # aws_secrets_manager: default AWS_ENDPOINT_URL_SECRETS_MANAGER, then AWS


@dataclass(frozen=True)
class Daily:
    # Input globs of `logshroud daily`; `{date:%Y/%m/%d}` becomes the day being ingested.
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Signals:
    # Paths where a 401 or 403 answer counts as a failed login; `*` matches within one path segment.
    login_paths: tuple[str, ...] = ("/login", "/api/*/auth*", "/wp-login.php")
    # Alerts: one client in one window (5 minutes unless said) reaching these counts.
    brute_force_auth_failures: int = 10
    scanning_not_found: int = 30
    scanning_distinct_paths: int = 100
    flood_requests: int = 300  # in 1 minute
    attack_burst_hits: int = 5
    # The service as a whole: at least this share of 5xx among at least this many requests in 5 minutes.
    error_burst_share: float = 0.02
    error_burst_min_requests: int = 100


@dataclass(frozen=True)
class Report:
    # A published network shared by fewer distinct clients than this on a day is a finding of
    # the compliance report: its rows come from so few people that they nearly single one out.
    # Five is a common floor for the smallest group published statistics may show.
    min_anonymity_set: int = 5
    prepared_by: str | None = None  # names printed on the sign-off lines; blank lines to fill in by hand when unset
    reviewed_by: str | None = None


@dataclass(frozen=True)
class Storage:
    s3: S3Settings = field(default_factory=S3Settings)  # connection settings; credentials never live here


@dataclass(frozen=True)
class Config:
    zones: Zones = field(default_factory=Zones)
    storage: Storage = field(default_factory=Storage)
    security_window_days: int = 7
    input: Input = field(default_factory=Input)
    anonymise: Anonymise = field(default_factory=Anonymise)
    keys: Keys = field(default_factory=Keys)
    signals: Signals = field(default_factory=Signals)
    raw_retention: str = "keep"  # keep | delete: the sweep deletes raw logs once their newest line is past the window
    anonymised_retention_days: int | None = None  # None: anonymised data is kept (coarsened once keys are destroyed)
    daily: Daily = field(default_factory=Daily)
    report: Report = field(default_factory=Report)
    source: str = field(default="<defaults>", compare=False)

    def digest(self) -> str:
        """SHA-256 over the settings (not the file name): the same policy gives the same digest."""
        settings = dataclasses.asdict(self)
        settings.pop("source")
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        settings = dataclasses.asdict(self)
        settings.pop("source")
        return settings


# Bounds checked after types: (section path, key) -> (low, high).
_RANGES = {
    ("anonymise", "ipv4_prefix"): (0, 32),
    ("anonymise", "ipv6_prefix"): (0, 128),
    ("", "security_window_days"): (0, 3650),
    ("keys", "epoch_days"): (1, 366),
    ("keys", "retention_days"): (1, 36500),
    ("anonymise", "long_term_ipv4_prefix"): (0, 32),
    ("anonymise", "long_term_ipv6_prefix"): (0, 128),
    ("", "anonymised_retention_days"): (1, 36500),
    ("input", "max_line_bytes"): (256, 16 * 1024 * 1024),
    ("input", "chunk_lines"): (1, 10_000_000),
    ("input", "range_bytes"): (1, 2**40),
    ("storage.s3", "max_attempts"): (1, 20),
    **{
        ("signals", name): (1, 10**9)
        for name in (
            "brute_force_auth_failures",
            "scanning_not_found",
            "scanning_distinct_paths",
            "flood_requests",
            "attack_burst_hits",
            "error_burst_min_requests",
        )
    },  # fmt: skip
    ("signals", "error_burst_share"): (0.0, 1.0),
    ("storage.s3", "connect_timeout"): (0.1, 300),
}
_CHOICES = {
    ("storage.s3", "addressing_style"): ("auto", "path", "virtual"),
    ("keys", "backend"): ("file", "aws_secrets_manager"),
    ("", "raw_retention"): ("keep", "delete"),
}


def default_config_path() -> Path:
    return Path(str(resources.files("logshroud_configs") / "default.yaml"))


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate a config file; None means the embedded default."""
    path = Path(path) if path is not None else default_config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    return parse_config(document or {}, str(path))


def parse_config(document: Any, source: str) -> Config:
    config = _build(Config, document, source, "")
    try:
        compiled = log_format(config.input.format)
    except FormatError as error:
        raise ConfigError(f"{source}: input.format: {error}") from None
    try:
        check_networks(config.input.trusted_proxies)
    except LogshroudError as error:
        raise ConfigError(f"{source}: input.trusted_proxies: {error}") from None
    if config.input.trusted_proxies and compiled != "auto" and not logs_xff(compiled):
        raise ConfigError(f"{source}: input.trusted_proxies: the format logs no X-Forwarded-For header to read")
    if config.keys.retention_days < config.keys.epoch_days:
        # A key's age counts from its epoch's first day: it would be destroyed while still in use.
        raise ConfigError(
            f"{source}: keys.retention_days: {config.keys.retention_days} is shorter than keys.epoch_days "
            f"({config.keys.epoch_days})"
        )
    return dataclasses.replace(config, source=source)


def logs_xff(fmt: LogFormat) -> bool:
    """Does the format log the X-Forwarded-For header (which trusted proxies need)?

    A W3C extended log may, depending on the columns its `#Fields:` names.
    """
    return fmt == "combined_xff" if isinstance(fmt, str) else "xff" in fmt.fields


def log_format(spec: str | dict) -> LogFormat:
    """`combined` -> `combined`; {apache: '%h ...'} -> its CompiledFormat. A FormatError says what is wrong."""
    if isinstance(spec, str):
        if spec not in FORMATS:
            raise FormatError(
                f"expected one of {', '.join(FORMATS)}, or apache: / nginx: / json: with a format; got {spec!r}"
            )
        if spec in PRESET_LOG_FORMATS:
            return log_format(PRESET_LOG_FORMATS[spec])
        return AWS_LAYOUTS.get(spec) or W3C_FORMATS.get(spec) or spec
    if len(spec) != 1 or next(iter(spec)) not in _COMPILERS:
        raise FormatError(f"expected apache: '<LogFormat>', nginx: '<log_format>' or json: {{mapping}}, got {spec!r}")
    if next(iter(spec)) != "json" and not isinstance(next(iter(spec.values())), str):
        raise FormatError(f"expected apache: '<LogFormat>' or nginx: '<log_format>' as text, got {spec!r}")
    ((server, text),) = spec.items()
    return _COMPILERS[server](text)


def _build(cls: type, document: Any, source: str, prefix: str) -> Any:
    where = prefix.rstrip(".") or "top level"
    if document is None and prefix:  # a section left empty or commented out: its defaults
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: {where}: expected a mapping, got {type(document).__name__}")
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    unknown = sorted(str(key) for key in set(document) - known)
    if unknown:
        name = unknown[0].encode("unicode_escape").decode()  # one line, whatever the key holds
        raise ConfigError(f"{source}: {prefix}{name}: unknown key (known here: {', '.join(sorted(known))})")
    values = {}
    for name, raw in document.items():
        values[name] = _value(hints[name], raw, source, prefix, name)
    return cls(**values)


def _value(kind: Any, raw: Any, source: str, prefix: str, name: str) -> Any:
    key = f"{prefix}{name}"
    if dataclasses.is_dataclass(kind):
        return _build(kind, raw, source, key + ".")
    if kind == (int | None) and raw is None:
        return None
    if kind in (int, int | None):
        low, high = _RANGES.get((prefix.rstrip("."), name), (None, None))
        if isinstance(raw, bool) or not isinstance(raw, int) or (low is not None and not low <= raw <= high):
            span = f" from {low} to {high}" if low is not None else ""
            raise ConfigError(f"{source}: {key}: expected an integer{span}, got {raw!r}")
        return raw
    if kind is float:
        low, high = _RANGES[(prefix.rstrip("."), name)]
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not low <= raw <= high:
            raise ConfigError(f"{source}: {key}: expected a number from {low} to {high}, got {raw!r}")
        return float(raw)
    if kind is bool:
        if not isinstance(raw, bool):
            raise ConfigError(f"{source}: {key}: expected true or false, got {raw!r}")
        return raw
    if kind == (str | None) and raw is None:
        return None
    if kind == (str | dict):  # input.format: checked whole by log_format
        if not isinstance(raw, (str, dict)):
            raise ConfigError(f"{source}: {key}: expected a format name or a mapping, got {raw!r}")
        return raw
    if kind in (str, str | None):
        if not isinstance(raw, str) or not raw:
            raise ConfigError(f"{source}: {key}: expected a non-empty string, got {raw!r}")
        choices = _CHOICES.get((prefix.rstrip("."), name))
        if choices and raw not in choices:
            raise ConfigError(f"{source}: {key}: expected one of {', '.join(choices)}, got {raw!r}")
        return raw
    if kind == tuple[str, ...]:
        if not isinstance(raw, list) or not all(isinstance(item, str) and item for item in raw):
            raise ConfigError(f"{source}: {key}: expected a list of strings, got {raw!r}")
        return tuple(raw)
    raise TypeError(f"no config parser for {kind}")
