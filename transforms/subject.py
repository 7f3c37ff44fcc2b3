"""Data-subject requests: which rows of the zones are one person's, found by address or login name.

A person is known in the logs by a client address or an auth user name while the restricted
zone holds it, and by the tokens of that address while the keys that made them live:

    --ip 192.0.2.7   restricted: rows whose `client_ip` or `peer_ip` is that address, however it
                     is written (`::ffff:192.0.2.7`, `::FFFF:c000:207`), or whose `xff` chain holds
                     it; quarantined lines holding it anywhere (`[2001:db8::7]:443` for 2001:db8::7);
                     anonymised: rows whose `client_token` is the address's token under a living key
    --user jdoe      restricted: rows whose `auth_user` is jdoe; anonymised: the anonymised copy of
                     each restricted request row the subject's (equal in every column)
    raw logs         lines holding the address anywhere, and lines whose user (parsed in the log's
                     format) is jdoe

`Matcher` applies these rules by column name, so any dataset with those columns is covered.
Matching is vectorised: RE2 over text for every spelling of the address, `is_in` over tokens;
Python confirms only the values RE2 picked (once per distinct value) and the candidate copies.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import socket
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.addresses import parse_address
from transforms.anonymise import anonymised_table, client_tokens
from transforms.config import Keys
from transforms.errors import LogshroudError
from transforms.keyring import Key
from transforms.parse import LogFormat, parse_lines
from transforms.schema import ANONYMISED_REQUESTS
from transforms.scrub import Scrubber


class SubjectError(LogshroudError):
    pass


Address = tuple[int, bytes]  # (4 or 6, packed), an IPv4-mapped address as the IPv4 address it carries


@dataclass(frozen=True)
class Subject:
    """Who a request is about: addresses and user names, never printed or recorded as they are."""

    addresses: tuple[Address, ...]
    users: tuple[str, ...]

    @classmethod
    def of(cls, ips: Sequence[str], users: Sequence[str]) -> Subject:
        """The subject of `--ip` and `--user` values; a SubjectError that quotes no value when one is wrong."""
        if not ips and not users:
            raise SubjectError("give the subject's address (--ip), user name (--user), or both")
        addresses = []
        for number, text in enumerate(ips, start=1):
            parsed = parse_address(text.strip())
            if parsed is None:
                raise SubjectError(f"--ip (number {number}): not an IPv4 or IPv6 address")
            addresses.append(parsed)
        for number, name in enumerate(users, start=1):
            if not name.strip() or name == "-":  # `-` is how logs write "no user"
                raise SubjectError(f"--user (number {number}): empty, or `-`, which logs write for no user")
        return cls(tuple(dict.fromkeys(addresses)), tuple(dict.fromkeys(users)))

    def identifiers(self) -> list[tuple[str, str]]:
        """(kind, canonical text) of each identifier: `("ip", "2001:db8::7")`, `("user", "jdoe")`."""
        return [("ip", str(ipaddress.ip_address(packed))) for _, packed in self.addresses] + [
            ("user", name) for name in self.users
        ]

    def address_texts(self) -> list[str]:
        return [text for kind, text in self.identifiers() if kind == "ip"]


# --- an address in text -------------------------------------------------------------------------------------

# Borders: an address glued to a letter or digit, or part of a longer dotted or colon run, is
# another address (`192.0.2.70`, `2001:db8::7:1`); brackets, a port, a comma or a space end one.
_V4_BEFORE, _V4_AFTER = r"(?<![0-9A-Za-z])(?<![0-9]\.)", r"(?![0-9A-Za-z])(?!\.[0-9])"
_V6_BEFORE, _V6_AFTER = r"(?<![0-9A-Za-z:.%])", r"(?![0-9A-Za-z])(?![:.][0-9A-Fa-f])"
_V4_MAPPED = bytes(10) + b"\xff\xff"


def _hextet(value: int) -> str:
    """One group of 16 bits, with any leading zeros: `0{0,1}db8`, `0{1,4}` for zero."""
    if value == 0:
        return "0{1,4}"
    digits = f"{value:x}"
    return f"0{{0,{4 - len(digits)}}}{digits}" if len(digits) < 4 else digits


def _compressions(groups: list[str], zero: list[bool], tail: str | None = None) -> list[str]:
    """The groups joined by `:`, and with each run of zero groups written `::`."""
    end = [tail] if tail else []
    forms = [":".join(groups + end)]
    for start in range(len(groups)):
        for stop in range(start + 1, len(groups) + 1):
            if not all(zero[start:stop]):
                break
            forms.append(":".join(groups[:start]) + "::" + ":".join(groups[stop:] + end))
    return forms


def ipv6_spellings(packed: bytes, dotted_tail: bool = True) -> str:
    """A regex (RE2 and Python alike, to match case-blind) of every way to write an IPv6 address.

    `2001:db8::7` is also `2001:0db8:0:0:0:0:0:7`, `2001:db8:0::7`, `2001:DB8::0007`; with
    `dotted_tail`, its last 32 bits may be written as IPv4 too (`2001:db8::0.0.0.7`).
    """
    values = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, 16, 2)]
    groups, zero = [_hextet(v) for v in values], [v == 0 for v in values]
    forms = _compressions(groups, zero)
    if dotted_tail:
        quad = re.escape(socket.inet_ntop(socket.AF_INET, packed[12:]))
        forms += _compressions(groups[:6], zero[:6], quad)
    return "|".join(f"(?:{form})" for form in forms)


@dataclass(frozen=True)
class AddressText:
    """The subject's addresses as text: an RE2 prefilter without borders, a Python pattern with them."""

    prefilter: str
    exact: re.Pattern[str]
    wanted: frozenset[Address]

    @classmethod
    def of(cls, addresses: Sequence[Address]) -> AddressText:
        """For IPv4, the dotted quad (alone or in `::ffff:192.0.2.7`) and the hex-mapped `::ffff:c000:207`."""
        v4, v6 = [], []
        for version, packed in addresses:
            if version == 4:
                v4.append(re.escape(socket.inet_ntop(socket.AF_INET, packed)))
                v6.append(ipv6_spellings(_V4_MAPPED + packed, dotted_tail=False))
            else:
                v6.append(ipv6_spellings(packed))
        parts = [(_V4_BEFORE, "|".join(v4), _V4_AFTER), (_V6_BEFORE, "|".join(v6), _V6_AFTER)]
        parts = [part for part in parts if part[1]]
        return cls(
            prefilter="|".join(f"(?:{spellings})" for _, spellings, _ in parts),
            exact=re.compile("|".join(f"{b}(?:{spellings}){a}" for b, spellings, a in parts), re.IGNORECASE),
            wanted=frozenset(addresses),
        )

    def mentions(self, values: pa.Array) -> pa.Array:
        """Per value: whether the text holds one of the addresses anywhere (`xff`, a quarantined `line`)."""
        return self._confirmed(values, lambda text: self.exact.search(text) is not None)

    def names(self, values: pa.Array) -> pa.Array:
        """Per value: whether it is one of the addresses, however written (`client_ip`, `peer_ip`).

        A client sends many requests: the distinct values are matched, and the verdicts spread back.
        """
        encoded = pc.dictionary_encode(values)
        named = self._confirmed(encoded.dictionary, lambda text: parse_address(text.strip()) in self.wanted)
        return pc.fill_null(named.take(encoded.indices), False)

    def _confirmed(self, values: pa.Array, check: Callable[[str], bool]) -> pa.Array:
        """RE2 picks the values that could hold an address; `check` decides each distinct one."""
        if not self.wanted or len(values) == 0:
            return pa.array(np.zeros(len(values), dtype=bool))
        picked = pc.fill_null(pc.match_substring_regex(values, self.prefilter, ignore_case=True), False)
        if not pc.any(picked).as_py():
            return picked
        texts = values.filter(picked).to_pylist()
        verdicts = {text: check(text) for text in set(texts)}
        return pc.replace_with_mask(picked, picked, pa.array([verdicts[t] for t in texts], pa.bool_()))


# --- tokens and anonymised copies ---------------------------------------------------------------------------


def token_pairs(addresses: Sequence[str], keys: Sequence[Key]) -> frozenset[str]:
    """`key_id:client_token` of each address under each living key, made as ingest makes tokens.

    `client_tokens` asks its lookup for the key of each row's "epoch"; here a row's epoch is the
    position of its key in the list of living keys, so each address meets every living key once.
    """
    living = [key for key in keys if key.usable]
    if not addresses or not living:
        return frozenset()
    ips = pa.array([text for text in addresses for _ in living], pa.string())
    positions = np.tile(np.arange(len(living), dtype=np.int64), len(addresses))
    tokens, key_ids = client_tokens(ips, positions, lambda i: (living[i].id, living[i].secret))
    return frozenset(f"{k}:{t}" for k, t in zip(key_ids.to_pylist(), tokens.to_pylist(), strict=True) if t)


def _client_keys(table: pa.Table) -> pa.ChunkedArray:
    """`key_id:client_token` per row; null where either is."""
    return pc.binary_join_element_wise(table["key_id"], table["client_token"], ":")


def has_token(table: pa.Table, pairs: frozenset[str]) -> pa.Array:
    """Per row: whether its (`key_id`, `client_token`) is one of `pairs`."""
    return pc.fill_null(pc.is_in(_client_keys(table), value_set=pa.array(sorted(pairs), pa.string())), False)


class Copies:
    """The anonymised copies of restricted request rows, each to be found once.

    Ingest writes every request row to both zones; the anonymised row is `anonymised_table` of the
    restricted one, column for column. A row of the anonymised zone equal to such a copy in every
    column is that request: two equal rows are indistinguishable, so taking either is exact.
    """

    COLUMNS = tuple(ANONYMISED_REQUESTS.names)

    def __init__(self, restricted_rows: pa.Table, scrubber: Scrubber):
        copies = anonymised_table(restricted_rows, scrubber)
        self.moments = pc.unique(copies["ts"].combine_chunks())
        self.clients = pc.unique(_client_keys(copies).combine_chunks())  # null for a row without token
        self.wanted = Counter(_row_key(row) for row in copies.to_pylist())

    @property
    def missing(self) -> int:
        """Copies not found (yet)."""
        return sum(self.wanted.values())

    def candidates(self, table: pa.Table) -> pa.Array:
        """Per row: whether it could be a copy (its `ts`, key and token are a copy's), without taking any."""
        moment = pc.is_in(table["ts"], value_set=self.moments)
        client = pc.is_in(_client_keys(table), value_set=self.clients)  # null matches null
        return pc.fill_null(pc.and_(moment, client), False).combine_chunks()

    def take(self, table: pa.Table) -> pa.Array:
        """Per row: whether it is a copy still wanted; each copy found is taken, so it matches once."""
        picked = self.candidates(table)
        if not pc.any(picked).as_py():
            return picked
        hits = []
        for row in table.select(list(self.COLUMNS)).filter(picked).to_pylist():
            key = _row_key(row)
            hits.append(self.wanted[key] > 0)
            self.wanted[key] -= hits[-1]
        return pc.replace_with_mask(picked, picked, pa.array(hits, pa.bool_()))


def _row_key(row: dict) -> tuple:
    """A row's values as one hashable key (list columns, such as `attack_families`, as tuples)."""
    return tuple(tuple(v) if isinstance(v, list) else v for v in row.values())


# --- the rules, by column -----------------------------------------------------------------------------------


class Matcher:
    """Which rows of a table are the subject's, by the columns it has.

    `client_ip`, `peer_ip`: the address; `xff`, `line`: the address in the text; `auth_user`: the
    user name; `key_id` with `client_token`: a token of the address under a living key; and, given
    `copies`, the anonymised copies of the subject's restricted request rows.
    """

    def __init__(self, subject: Subject, pairs: frozenset[str], copies: Copies | None = None):
        self.subject = subject
        self.text = AddressText.of(subject.addresses)
        self.pairs = pairs
        self.copies = copies

    def columns(self, schema: pa.Schema) -> list[str]:
        """The columns that decide, of those the schema has."""
        names = [n for n in ("client_ip", "peer_ip", "xff", "line", "auth_user") if n in schema.names]
        if self.pairs and {"key_id", "client_token"} <= set(schema.names):
            names += ["key_id", "client_token"]
        if self.copies is not None and set(Copies.COLUMNS) <= set(schema.names):
            names += ["ts", *(n for n in ("key_id", "client_token") if n not in names)]
        return names

    def may_hold(self, table: pa.Table) -> bool:
        """Whether any row could be the subject's, from a table of the `columns` alone (no copy taken)."""
        found = self._mask(table, set(table.column_names), lambda copies: copies.candidates(table))
        return bool(pc.any(found).as_py())

    def rows(self, table: pa.Table) -> pa.Array:
        """Per row of a whole table: whether it is the subject's (copies found are taken)."""
        return self._mask(table, set(self.columns(table.schema)), lambda copies: copies.take(table))

    def lines(self, lines: pa.Array, fmt: LogFormat, max_line_bytes: int, damaged_tail: bool = False) -> np.ndarray:
        """Indices of the subject's lines of a raw log: holding an address anywhere, or parsed (in the
        log's format) with a user name of the subject as `auth_user`."""
        hits = np.array(self.text.mentions(lines).to_numpy(zero_copy_only=False), dtype=bool)
        if self.subject.users:
            parsed = parse_lines(lines, fmt, max_line_bytes, damaged_tail)
            users = pa.array(self.subject.users, pa.string())
            named = pc.fill_null(pc.is_in(parsed.fields["auth_user"], value_set=users), False)
            hits[parsed.rows[named.to_numpy(zero_copy_only=False)]] = True
        return np.flatnonzero(hits)

    def _mask(self, table: pa.Table, names: set[str], copies_rule: Callable[[Copies], pa.Array]) -> pa.Array:
        masks = [self.text.names(table[n].combine_chunks()) for n in ("client_ip", "peer_ip") if n in names]
        masks += [self.text.mentions(table[n].combine_chunks()) for n in ("xff", "line") if n in names]
        if "auth_user" in names and self.subject.users:
            users = pa.array(self.subject.users, pa.string())
            masks.append(pc.fill_null(pc.is_in(table["auth_user"], value_set=users), False))
        if "client_token" in names:
            masks.append(has_token(table, self.pairs))
        if "ts" in names and self.copies is not None:
            masks.append(copies_rule(self.copies))
        mask = pa.array(np.zeros(table.num_rows, dtype=bool))
        for found in masks:
            mask = pc.or_(mask, pc.fill_null(found, False))
        return mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask


# --- identifiers in the audit zone --------------------------------------------------------------------------

PEPPER_FILE = "subject-requests.key"
_PEPPER_BYTES = 32  # as long as a token key: HMAC-SHA-256 takes no more


def identifier_hmacs(subject: Subject, pepper: bytes) -> list[dict]:
    """`{"kind": "ip", "hmac": <64 hex>}` per identifier: the same person hashes the same in every record,
    however the address is written, and no one without the pepper can test a guess against it."""
    return [
        {"kind": kind, "hmac": hmac.new(pepper, f"{kind}:{text}".encode(), hashlib.sha256).hexdigest()}
        for kind, text in subject.identifiers()
    ]


def identifier_pepper(keys: Keys) -> bytes:
    """The secret that keys identifier hashes, made on first use and never destroyed: kept beside the keys.

    File keyring: `subject-requests.key` (mode 0600) in the keyring's folder. AWS Secrets Manager:
    the secret `pepper_secret_name(keys.secrets_prefix)`. Unlike a token key, it must outlive every
    epoch, or a record could no longer be checked against the person it is about.
    """
    if keys.backend == "aws_secrets_manager":
        return _secrets_manager_pepper(keys)
    return _file_pepper(Path(keys.path).with_name(PEPPER_FILE))


def _file_pepper(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_hex(_PEPPER_BYTES))
        try:
            os.link(temporary, path)  # appears whole or not at all; a pepper another process made first stays
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as error:
        raise SubjectError(f"{path}: identifier pepper unreadable: {type(error).__name__}") from None


def pepper_secret_name(prefix: str) -> str:
    """`logshroud/keys/` -> `logshroud/keys.subject-requests`: beside the keys, outside their prefix
    (the keyring reads every secret under it as a key)."""
    return prefix[:-1] + ("." if prefix[-1:] != "." else "-") + "subject-requests"


def _secrets_manager_pepper(keys: Keys) -> bytes:
    from transforms.secrets_keyring import SecretsManagerKeyring

    # The keyring's own client and one-line errors; creating is atomic, so concurrent requests agree.
    store = SecretsManagerKeyring(keys.secrets_prefix, keys.epoch_days, keys.region, keys.endpoint_url)
    name = pepper_secret_name(keys.secrets_prefix)
    store._create(name, {"pepper": secrets.token_hex(_PEPPER_BYTES)})
    found = store._call(name, "read", lambda client: client.get_secret_value(SecretId=name))
    try:
        return bytes.fromhex(json.loads(found["SecretString"])["pepper"])
    except (KeyError, TypeError, ValueError) as error:
        raise SubjectError(f"secretsmanager:{name}: identifier pepper malformed: {type(error).__name__}") from None
