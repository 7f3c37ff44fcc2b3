"""The config model: the embedded default, one ConfigError line per mistake naming file and key, the digest."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from transforms.config import Config, ConfigError, default_config_path, load_config, parse_config

KNOWN_TOP_LEVEL = f"(known here: {', '.join(sorted(f.name for f in dataclasses.fields(Config) if f.name != 'source'))})"


def written(tmp_path: Path, text: str | bytes, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def defaults_with(section: str, **changes) -> Config:
    """The model default with some settings of one section (`""` for the top level) changed."""
    if not section:
        return dataclasses.replace(Config(), **changes)
    return dataclasses.replace(Config(), **{section: dataclasses.replace(getattr(Config(), section), **changes)})


def test_embedded_default() -> None:
    config = load_config()
    assert config.security_window_days == 7
    assert config.input.format == "combined"
    assert (config.anonymise.ipv4_prefix, config.anonymise.ipv6_prefix) == (24, 48)
    assert config.keys.epoch_days == 7
    assert config.source == str(default_config_path())


def test_embedded_default_is_the_model_default() -> None:
    assert load_config() == Config()
    assert load_config().digest() == Config().digest()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", Config()),
        ("# only a comment\n", Config()),
        ("security_window_days: 0\n", defaults_with("", security_window_days=0)),
        ("input:\n  format: vhost_combined\n", defaults_with("input", format="vhost_combined")),
        ("anonymise: {ipv4_prefix: 32, ipv6_prefix: 0}\n", defaults_with("anonymise", ipv4_prefix=32, ipv6_prefix=0)),
        ("anonymise:\n  secret_params: [token, sid]\n", defaults_with("anonymise", secret_params=("token", "sid"))),
        ("keys:\n  epoch_days: 1\n", defaults_with("keys", epoch_days=1)),
        ("keys:\n", Config()),
        ("keys:\n  # epoch_days: 1\nsecurity_window_days: 3\n", defaults_with("", security_window_days=3)),
    ],
    ids=["empty file is the defaults", "comments only", "zero security window", "other format",
         "prefix bounds", "secret parameters as a tuple", "daily keys", "null section is its defaults",
         "commented-out section is its defaults"],
)  # fmt: skip
def test_valid_documents(tmp_path: Path, text: str, expected: Config) -> None:
    path = written(tmp_path, text)
    config = load_config(path)
    assert config == expected
    assert config.source == str(path)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("bogus: 1\n", "bogus: unknown key"),
        ("anonymise:\n  ipv4_prefx: 24\n", "anonymise.ipv4_prefx: unknown key"),
        ("keys:\n  path: ./k.json\n  rotate: weekly\n", "keys.rotate: unknown key"),
        ('security_window_days: "7"\n', "security_window_days: expected an integer from 0 to 3650, got '7'"),
        ("security_window_days: 7.0\n", "security_window_days: expected an integer from 0 to 3650, got 7.0"),
        ("anonymise:\n  ipv4_prefix: 33\n", "anonymise.ipv4_prefix: expected an integer from 0 to 32, got 33"),
        ("anonymise:\n  ipv6_prefix: 129\n", "anonymise.ipv6_prefix: expected an integer from 0 to 128, got 129"),
        ("anonymise:\n  ipv4_prefix: -1\n", "anonymise.ipv4_prefix: expected an integer from 0 to 32, got -1"),
        ("keys:\n  epoch_days: 0\n", "keys.epoch_days: expected an integer from 1 to 366, got 0"),
        ("security_window_days: true\n", "security_window_days: expected an integer from 0 to 3650, got True"),
        ("anonymise:\n  ipv4_prefix: yes\n", "anonymise.ipv4_prefix: expected an integer from 0 to 32, got True"),
        ("input:\n  format: xml\n", "input.format: expected one of combined, common, vhost_combined, combined_xff, caddy_json, nginx_json, aws_alb, aws_elb_classic, cloudfront, w3c, auto, or apache: / nginx: / json: with a format; got 'xml'"),
        ("input:\n  format: 3\n", "input.format: expected a format name or a mapping, got 3"),
        ("input:\n  format:\n    apache: '%h %Z'\n", "input.format: apache format: %Z: directive not supported"),
        ("input:\n  format:\n    nginx: '$remote_addr $geoip_country'\n", "input.format: nginx format: $geoip_country: variable not supported"),
        ("input:\n  format:\n    iis: 'x'\n", "input.format: expected apache: '<LogFormat>', nginx: '<log_format>' or json: {mapping}"),
        ('zones:\n  raw: ""\n', "zones.raw: expected a non-empty string, got ''"),
        ("anonymise:\n  secret_params: token\n", "anonymise.secret_params: expected a list of strings, got 'token'"),
        ("anonymise:\n  secret_params: [token, 1]\n", "anonymise.secret_params: expected a list of strings"),
        ("anonymise: [ipv4_prefix, 24]\n", "anonymise: expected a mapping, got list"),
        ("zones: ./data\n", "zones: expected a mapping, got str"),
        ("- security_window_days\n- 7\n", "top level: expected a mapping, got list"),
        ("zones: {raw: [unclosed\n", "not valid YAML at line"),
        ("security_window_days: 7\n\tinput: {}\n", "not valid YAML at line 2"),
        ("a: 1\n---\nb: 2\n", "not valid YAML"),
        ("1: numeric\nbogus: text\n", f"1: unknown key {KNOWN_TOP_LEVEL}"),
        ('"bad\\nkey": 1\n', f"bad\\nkey: unknown key {KNOWN_TOP_LEVEL}"),
        (b"# caf\xe9 (Latin-1)\nsecurity_window_days: 7\n", "not UTF-8 text (byte 5)"),
    ],
    ids=[
        "unknown top-level key", "unknown nested key", "unknown key among known ones", "string where int",
        "float where int", "above range", "above v6 range", "below range", "epoch of zero days", "bool where int",
        "YAML 1.1 yes where int", "unknown format", "number where format", "unknown apache directive", "unknown nginx variable",
        "unknown web server", "empty string", "string where list",
        "number in list of strings", "list where mapping", "string where mapping", "top level is a list",
        "unclosed flow", "tab indentation", "two documents", "keys of mixed types", "newline in unknown key",
        "not UTF-8",
    ],
)  # fmt: skip
def test_bad_document_is_one_config_error_line(tmp_path: Path, text: str | bytes, expected: str) -> None:
    path = written(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert f"{path}: {expected}" in message
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    # No chained exception either: the traceback a user sees ends in this one line.
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None or raised.value.__suppress_context__


@pytest.mark.parametrize(
    "name, expected",
    [("missing.yaml", "cannot read config: No such file or directory"), (".", "cannot read config: Is a directory")],
    ids=["missing file", "a directory"],
)
def test_unreadable_file_is_one_config_error_line(tmp_path: Path, name: str, expected: str) -> None:
    path = tmp_path / name
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value) == f"{path}: {expected}"


def test_parse_config_names_its_source() -> None:
    with pytest.raises(ConfigError, match=r"^inline: keys\.epoch_days: expected an integer from 1 to 366, got 400$"):
        parse_config({"keys": {"epoch_days": 400}}, "inline")


# --- digest -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first, second, same",
    [
        ("security_window_days: 7\n", "security_window_days: 7\n", True),
        ("", "security_window_days: 7\ninput:\n  format: combined\n", True),
        ("keys:\n  epoch_days: 7\nzones:\n  raw: ./r\n", "zones:\n  raw: ./r\nkeys:\n  epoch_days: 7\n", True),
        ("security_window_days: 7\n", "security_window_days: 8\n", False),
        ("anonymise:\n  ipv4_prefix: 24\n", "anonymise:\n  ipv4_prefix: 16\n", False),
        ("anonymise:\n  secret_params: [token, sid]\n", "anonymise:\n  secret_params: [sid, token]\n", False),
        ("zones:\n  raw: ./data/raw\n", "zones:\n  raw: ./data/raw2\n", False),
        ("input:\n  format: combined\n", "input:\n  format: common\n", False),
    ],
    ids=["same text", "defaults spelled out", "key order", "security window", "prefix", "secret parameter order",
         "zone path", "format"],
)  # fmt: skip
def test_digest(tmp_path: Path, first: str, second: str, same: bool) -> None:
    a = load_config(written(tmp_path, first, "a.yaml"))
    b = load_config(written(tmp_path, second, "b.yaml"))
    assert (a.digest() == b.digest()) is same
    assert (a == b) is same
    assert len(a.digest()) == 64


def test_digest_does_not_depend_on_the_file_name(tmp_path: Path) -> None:
    text = "security_window_days: 3\nanonymise:\n  ipv4_prefix: 16\n"
    here = load_config(written(tmp_path, text, "prod.yaml"))
    (tmp_path / "elsewhere").mkdir()
    there = load_config(written(tmp_path / "elsewhere", text, "staging.yaml"))
    assert here.source != there.source
    assert here.digest() == there.digest()
    assert "source" not in here.to_dict()


def test_digest_is_stable_across_loads() -> None:
    assert load_config().digest() == load_config().digest() == load_config(default_config_path()).digest()


def test_shipped_example_configs_load() -> None:
    for path in sorted(Path(__file__).resolve().parents[1].glob("configs/*.yaml")):
        load_config(path)
