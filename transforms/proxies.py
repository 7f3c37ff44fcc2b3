"""The client behind proxies: the right-most X-Forwarded-For address that is not a trusted proxy.

    peer 10.0.0.5, X-Forwarded-For "203.0.113.50, 10.0.0.7", trusted 10.0.0.0/8  ->  client 203.0.113.50

Only proxies you run are trusted (`input.trusted_proxies`, CIDR networks): every
address to the left of the first untrusted one could be forged by the client, so
the walk from the right stops there. Ports (`192.0.2.1:8080`, `[2001:db8::1]:443`)
are dropped. The chain itself stays in the restricted zone (`xff`).
"""

from __future__ import annotations

import re

import netaddr
import pyarrow as pa
import pyarrow.compute as pc

from transforms.addresses import parse_address
from transforms.dictionaries import spread
from transforms.errors import LogshroudError

_WITH_PORT = re.compile(r"^\[([0-9A-Fa-f:.]+)\](?::[0-9]+)?$|^([0-9.]+):[0-9]+$")


def check_networks(cidrs: tuple[str, ...]) -> netaddr.IPSet:
    """The trusted networks as a set; the first that is no network is a LogshroudError naming it."""
    networks = []
    for cidr in cidrs:
        try:
            networks.append(netaddr.IPNetwork(cidr))
        except (netaddr.AddrFormatError, ValueError, TypeError):
            raise LogshroudError(f"not a network: {cidr!r}") from None
    return netaddr.IPSet(networks)


def without_port(hop: str) -> str:
    """`192.0.2.1:8080` -> `192.0.2.1`, `[2001:db8::1]:443` -> `2001:db8::1`; anything else as it is."""
    match = _WITH_PORT.match(hop)
    return (match.group(1) or match.group(2)) if match else hop


class TrustedProxies:
    def __init__(self, cidrs: tuple[str, ...]):
        self.networks = check_networks(cidrs)
        self._trusted: dict[str, bool] = {}

    def trusted(self, hop: str) -> bool:
        known = self._trusted.get(hop)
        if known is None:
            parsed = parse_address(hop)
            known = (
                parsed is not None and netaddr.IPAddress(int.from_bytes(parsed[1], "big"), parsed[0]) in self.networks
            )
            self._trusted[hop] = known
        return known

    def client(self, peer: str, xff: str | None) -> str:
        """The client of one request, from the address that connected and the X-Forwarded-For chain."""
        hops = [without_port(h.strip()) for h in (xff or "").split(",") if h.strip() not in ("", "-", "unknown")]
        hops.append(without_port(peer))
        for hop in reversed(hops):
            if not self.trusted(hop):
                return hop
        return hops[0]

    def clients(self, peers: pa.Array, xffs: pa.Array) -> pa.Array:
        """`client` per row, computed once per distinct (peer, chain) pair."""
        pairs = pc.binary_join_element_wise(peers, pc.fill_null(xffs, ""), "\n")
        encoded = pc.dictionary_encode(pairs)
        distinct = [self.client(*pair.split("\n", 1)) for pair in encoded.dictionary.to_pylist()]
        return spread(pa.array(distinct, pa.string()), encoded.indices)
