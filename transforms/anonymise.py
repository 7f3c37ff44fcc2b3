"""Client address anonymisation: truncation to a network prefix and keyed tokens.

Pure functions over Arrow arrays. Python code runs once per *distinct* value of a
chunk, never once per row, and the result is spread back to the rows with `take`.

    client_ip 2001:db8:ab12:cd34::1  ->  client_net 2001:db8:ab12::/48, ip_version 6,
                                         client_token 3f9c...(32 hex), key_id k20261123-3f9a0c
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.addresses import format_network, mask, network_of, parse_address
from transforms.config import Anonymise, Keys
from transforms.keyring import epoch_numbers, open_keyring
from transforms.proxies import without_port
from transforms.schema import ANONYMISED_REQUESTS, TS, Batch
from transforms.scrub import Scrubber

# A host name as HostnameLookups writes it: dotted, with a letter. A single label
# such as `unknown` (what proxies write for "no address") is no client identity.
_HOSTNAME = re.compile(r"^(?=.*[A-Za-z])(?=.*\.)[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
# 128 bits of HMAC output: far past any collision risk for the clients of one key
# epoch, and half the width of the full digest in every row analysts scan.
TOKEN_HEX_CHARS = 32


def client_identity(text: str) -> bytes | None:
    """What a client token is computed over: the packed address, or a lower-cased hostname.

    A tag byte keeps the three kinds apart, so no hostname can share a token with an address.
    """
    parsed = parse_address(text)
    if parsed is not None:
        return b"%d" % parsed[0] + parsed[1]
    if _HOSTNAME.match(text):
        return b"h" + text.lower().encode()
    return None


def _distinct(values: pa.Array) -> tuple[list, np.ndarray]:
    encoded = pc.dictionary_encode(values, null_encoding="encode")
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    return encoded.dictionary.to_pylist(), indices


def truncate_prefix(ips: pa.Array, v4_bits: int, v6_bits: int) -> pa.Array:
    """Each address truncated to its network (`client_net`); null for hostnames and junk."""
    return client_networks(ips, v4_bits, v6_bits)[0]


KeyLookup = Callable[[int], "tuple[str, bytes] | None"]
"""Epoch number -> (key id, 32-byte secret), or None when that epoch's key is destroyed."""


class ClientAnonymiser:
    """What each client becomes: network, IP version, token and key id.

    A worker keeps one for its whole life, and what it worked out for a client is
    remembered, so a client costs Python once per worker rather than once per
    chunk: the same few thousand clients fill chunk after chunk of a day's log.
    """

    # Remembered clients before the memory starts afresh: bounds a worker's memory
    # (some hundred MB at most) whatever the input holds.
    MAX_REMEMBERED = 1_000_000

    def __init__(self, v4_bits: int = 24, v6_bits: int = 48, key_for_epoch: KeyLookup | None = None):
        self.v4_bits, self.v6_bits = v4_bits, v6_bits
        self.key_for_epoch = key_for_epoch
        self._networks: dict[str | None, tuple[str | None, int | None]] = {}
        self._tokens: dict[tuple[str | None, int], tuple[str | None, str | None]] = {}
        self._keyed: dict[int, tuple[str, hmac.HMAC] | None] = {}  # epoch -> (key id, HMAC keyed once)

    def columns(self, ips: pa.Array, epochs: np.ndarray) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
        """(`client_net`, `ip_version`, `client_token`, `key_id`) per row, the clients encoded once."""
        distinct = _distinct(ips)
        return *self.networks(ips, distinct), *self.tokens(ips, epochs, distinct)

    def networks(self, ips: pa.Array, distinct: tuple[list, np.ndarray] | None = None) -> tuple[pa.Array, pa.Array]:
        """(`client_net`, `ip_version`) per row."""
        distinct, indices = distinct or _distinct(ips)
        found = [self._network(text) for text in distinct]
        take = pa.array(indices)
        return (
            pa.array([f[0] for f in found], pa.string()).take(take),
            pa.array([f[1] for f in found], pa.int8()).take(take),
        )

    def tokens(self, ips: pa.Array, epochs: np.ndarray, distinct: tuple[list, np.ndarray] | None = None
               ) -> tuple[pa.Array, pa.Array]:  # fmt: skip
        """(`client_token`, `key_id`) per row: HMAC-SHA-256 of the client under its epoch's key.

        One HMAC per distinct (client, epoch) pair, one key lookup per epoch, each key
        set up once (an HMAC object copied per client). Rows whose client is neither
        an address nor a host name, or whose epoch key is destroyed, get null token
        and key id.
        """
        distinct, indices = distinct or _distinct(ips)
        if len(indices) == 0:
            return pa.array([], pa.string()), pa.array([], pa.string())
        first_epoch = int(epochs.min())
        pair = (epochs.astype(np.int64) - first_epoch) * len(distinct) + indices
        pairs, row_to_pair = np.unique(pair, return_inverse=True)
        found = [self._token(distinct[client], first_epoch + epoch) for epoch, client in
                 (divmod(p, len(distinct)) for p in pairs.tolist())]  # fmt: skip
        take = pa.array(row_to_pair.reshape(-1))
        return (
            pa.array([f[0] for f in found], pa.string()).take(take),
            pa.array([f[1] for f in found], pa.string()).take(take),
        )

    def _network(self, text: str | None) -> tuple[str | None, int | None]:
        known = self._networks.get(text)
        if known is None:
            parsed = None if text is None else parse_address(text)
            if parsed is None:
                known = (None, None)
            else:
                version, packed = parsed
                bits = self.v4_bits if version == 4 else self.v6_bits
                known = (format_network(version, mask(packed, bits), bits), version)
            if len(self._networks) >= self.MAX_REMEMBERED:
                self._networks.clear()
            self._networks[text] = known
        return known

    def _token(self, text: str | None, epoch: int) -> tuple[str | None, str | None]:
        known = self._tokens.get((text, epoch))
        if known is None:
            identity = None if text is None else client_identity(text)
            key = None if identity is None else self._key(epoch)
            if key is None:
                known = (None, None)
            else:
                mac = key[1].copy()
                mac.update(identity)
                known = (mac.hexdigest()[:TOKEN_HEX_CHARS], key[0])
            if len(self._tokens) >= self.MAX_REMEMBERED:
                self._tokens.clear()
            self._tokens[(text, epoch)] = known
        return known

    def _key(self, epoch: int) -> tuple[str, hmac.HMAC] | None:
        if epoch not in self._keyed:
            key = self.key_for_epoch(epoch)
            self._keyed[epoch] = None if key is None else (key[0], hmac.new(key[1], digestmod=hashlib.sha256))
        return self._keyed[epoch]


def client_tokens(ips: pa.Array, epochs: np.ndarray, key_for_epoch: KeyLookup) -> tuple[pa.Array, pa.Array]:
    """(`client_token`, `key_id`) per row; see `ClientAnonymiser.tokens`."""
    return ClientAnonymiser(key_for_epoch=key_for_epoch).tokens(ips, epochs)


def client_networks(ips: pa.Array, v4_bits: int, v6_bits: int) -> tuple[pa.Array, pa.Array]:
    """(`client_net`, `ip_version`) per row; see `ClientAnonymiser.networks`."""
    return ClientAnonymiser(v4_bits, v6_bits).networks(ips)


def chain_networks(chains: pa.Array, v4_bits: int, v6_bits: int) -> pa.Array:
    """Each X-Forwarded-For chain as the networks of its hops, truncated like `client_net`.

    `203.0.113.50, [2001:db8::1]:443, unknown` -> [`203.0.113.0/24`, `2001:db8::/48`, null]:
    every address in the chain is anonymised as the client's is, ports dropped; a hop that
    is no address (a name, `unknown`) is null. No chain (`-` or not logged) is null.
    Python runs once per distinct chain.
    """
    encoded = pc.dictionary_encode(chains)
    networks = [
        [network_of(without_port(hop.strip()), v4_bits, v6_bits) for hop in chain.split(",") if hop.strip()] or None
        for chain in encoded.dictionary.to_pylist()
    ]
    return pa.array(networks, pa.list_(pa.string())).take(encoded.indices)


def anonymised_table(restricted: pa.Table, scrubber: Scrubber) -> pa.Table:
    """The anonymised zone's view of requests: no full address, scrubbed URLs and user agents."""
    columns = {
        "xff_nets": chain_networks(restricted["xff"].combine_chunks(), scrubber.v4_bits, scrubber.v6_bits),
        "path": scrubber.column(restricted["path"].combine_chunks(), "text"),
        "query": scrubber.column(restricted["query"].combine_chunks(), "query"),
        "referrer": scrubber.column(restricted["referrer"].combine_chunks(), "url"),
        "user_agent": scrubber.column(restricted["user_agent"].combine_chunks(), "text"),
        # Usually a name, but a Host header is whatever the client sent, an address included.
        "vhost": scrubber.column(restricted["vhost"].combine_chunks(), "text"),
    }
    return pa.table(
        [columns[f.name] if f.name in columns else restricted[f.name] for f in ANONYMISED_REQUESTS],
        schema=ANONYMISED_REQUESTS,
    )


class AnonymiseRequests(beam.DoFn):
    """Batch of parsed requests -> anonymised Batch (main output), restricted Batch, and clients Batch.

    Rows whose event is already older than the security window (a backfill) go to
    the anonymised output only. The clients output is every row with its client
    columns, full address included, for counting per-client behaviour.
    """

    RESTRICTED = "restricted"
    CLIENTS = "clients"

    def __init__(self, settings: Anonymise, keys: Keys, window_start: dt.datetime):
        self.settings = settings
        self.keys = keys
        self.window_start = pa.scalar(window_start, TS)

    def setup(self) -> None:
        keyring = open_keyring(self.keys)
        self.clients = ClientAnonymiser(self.settings.ipv4_prefix, self.settings.ipv6_prefix, keyring.key_for_epoch)
        self.scrubber = Scrubber(self.settings.ipv4_prefix, self.settings.ipv6_prefix, self.settings.secret_params)

    def process(self, batch: Batch):
        table = batch.table
        clients = table["client_ip"].combine_chunks()
        seconds = pc.cast(table["ts"], pa.int64()).to_numpy() // 1000
        nets, versions, tokens, key_ids = self.clients.columns(clients, epoch_numbers(seconds, self.keys.epoch_days))
        for name, column in (("ip_version", versions), ("client_net", nets), ("client_token", tokens),
                             ("key_id", key_ids)):  # fmt: skip
            table = table.set_column(table.schema.get_field_index(name), name, column)
        inside = pc.greater_equal(table["ts"], self.window_start)
        inside_window = table if pc.all(inside).as_py() else table.filter(inside)  # mostly all: no copy
        if inside_window.num_rows:
            yield beam.pvalue.TaggedOutput(self.RESTRICTED, Batch(batch.source_id, batch.part, inside_window))
        yield beam.pvalue.TaggedOutput(self.CLIENTS, Batch(batch.source_id, batch.part, table))
        yield Batch(batch.source_id, batch.part, anonymised_table(table, self.scrubber))
