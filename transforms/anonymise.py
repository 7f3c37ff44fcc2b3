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

from transforms import dictionaries
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


def _distinct(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(the distinct values, null one of them; each row's index into them)."""
    row_codes, distinct = dictionaries.codes(values)
    return distinct, row_codes


def truncate_prefix(ips: pa.Array, v4_bits: int, v6_bits: int) -> pa.Array:
    """Each address truncated to its network (`client_net`); null for hostnames and junk."""
    return client_networks(ips, v4_bits, v6_bits)[0]


KeyLookup = Callable[[int], "tuple[str, bytes] | None"]
"""Epoch number -> (key id, 32-byte secret), or None when that epoch's key is destroyed."""


class _Remembered:
    """What Python worked out for each text seen so far, held as Arrow arrays.

    A chunk's distinct texts are looked up in one call; Python runs only for texts
    never seen before, and the arrays are taken from rather than built from Python
    objects. Past `limit` texts the memory starts afresh, which bounds it.
    """

    def __init__(self, work_out: Callable[[str | None], tuple], types: tuple[pa.DataType, ...], limit: int):
        self.work_out, self.types, self.limit = work_out, types, limit
        self.texts = pa.array([], pa.string())
        self.values = tuple(pa.array([], kind) for kind in types)

    def lookup(self, texts: pa.Array) -> tuple[pa.Array, ...]:
        """The values worked out for each of these distinct texts (null one of them)."""
        if len(self.texts) + len(texts) > self.limit:
            self.__init__(self.work_out, self.types, self.limit)
        positions = pc.fill_null(pc.index_in(texts, value_set=self.texts), -1).to_numpy(zero_copy_only=False)
        new = np.flatnonzero(positions < 0)
        if len(new):
            new_texts = texts.take(pa.array(new))
            found = [self.work_out(text) for text in new_texts.to_pylist()]
            positions = positions.astype(np.int64)
            positions[new] = len(self.texts) + np.arange(len(new))
            self.texts = pa.concat_arrays([self.texts, new_texts])
            self.values = tuple(
                pa.concat_arrays([known, pa.array([f[i] for f in found], kind)])
                for i, (known, kind) in enumerate(zip(self.values, self.types, strict=True))
            )
        take = pa.array(positions)
        return tuple(values.take(take) for values in self.values)


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
        self._networks = _Remembered(self._network, (pa.string(), pa.int8()), self.MAX_REMEMBERED)
        self._tokens: dict[int, _Remembered] = {}  # per key epoch: client -> token
        self._keyed: dict[int, tuple[str, hmac.HMAC] | None] = {}  # epoch -> (key id, HMAC keyed once)

    def columns(self, ips: pa.Array, epochs: np.ndarray) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
        """(`client_net`, `ip_version`, `client_token`, `key_id`) per row, the clients encoded once."""
        distinct = _distinct(ips)
        return *self.networks(ips, distinct), *self.tokens(ips, epochs, distinct)

    def networks(self, ips: pa.Array, distinct: tuple[pa.Array, np.ndarray] | None = None
                 ) -> tuple[pa.Array, pa.Array]:  # fmt: skip
        """(`client_net`, `ip_version`) per row."""
        values, indices = distinct or _distinct(ips)
        networks, versions = self._networks.lookup(values)
        return dictionaries.spread(networks, indices), versions.take(pa.array(indices))

    def tokens(self, ips: pa.Array, epochs: np.ndarray, distinct: tuple[pa.Array, np.ndarray] | None = None
               ) -> tuple[pa.Array, pa.Array]:  # fmt: skip
        """(`client_token`, `key_id`) per row: HMAC-SHA-256 of the client under its epoch's key.

        One HMAC per distinct (client, epoch) pair a worker meets, one key lookup per
        epoch, each key set up once (an HMAC object copied per client). Rows whose
        client is neither an address nor a host name, or whose epoch key is destroyed,
        get null token and key id.
        """
        values, indices = distinct or _distinct(ips)
        if len(indices) == 0:
            return pa.array([], pa.string()), pa.array([], pa.string())
        epochs = np.asarray(epochs, dtype=np.int64)
        first_epoch = int(epochs.min())
        # (client, epoch) pairs, ordered by epoch: most chunks hold one epoch, so one pair per client
        pairs, row_to_pair = np.unique((epochs - first_epoch) * len(values) + indices, return_inverse=True)
        pair_epochs, pair_clients = np.divmod(pairs, len(values))
        tokens, key_ids = [], []
        for epoch in np.unique(pair_epochs).tolist():
            mine = pa.array(pair_clients[pair_epochs == epoch])
            token = self._tokens_of(first_epoch + epoch).lookup(values.take(mine))[0]
            key = self._key(first_epoch + epoch) if token.null_count < len(token) else None  # no key made for junk
            tokens.append(token)
            key_ids.append(pc.if_else(pc.is_valid(token), key[0] if key else None, pa.scalar(None, pa.string())))
        row_to_pair = row_to_pair.reshape(-1)
        return dictionaries.spread(pa.concat_arrays(tokens), row_to_pair), dictionaries.spread(
            pa.concat_arrays(key_ids), row_to_pair
        )

    def _network(self, text: str | None) -> tuple[str | None, int | None]:
        parsed = None if text is None else parse_address(text)
        if parsed is None:
            return None, None
        version, packed = parsed
        bits = self.v4_bits if version == 4 else self.v6_bits
        return format_network(version, mask(packed, bits), bits), version

    def _tokens_of(self, epoch: int) -> _Remembered:
        if epoch not in self._tokens:
            if sum(len(known.texts) for known in self._tokens.values()) >= self.MAX_REMEMBERED:
                self._tokens.clear()
            self._tokens[epoch] = _Remembered(lambda text: (self._token(text, epoch),), (pa.string(),),
                                              self.MAX_REMEMBERED)  # fmt: skip
        return self._tokens[epoch]

    def _token(self, text: str | None, epoch: int) -> str | None:
        identity = None if text is None else client_identity(text)
        key = None if identity is None else self._key(epoch)
        if key is None:
            return None
        mac = key[1].copy()
        mac.update(identity)
        return mac.hexdigest()[:TOKEN_HEX_CHARS]

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
        names=ANONYMISED_REQUESTS.names,
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
