"""IP addresses as access logs write them: parsing, masking to a prefix, CIDR text.

>>> network_of("203.0.113.77", 24, 48)
'203.0.113.0/24'
>>> network_of("::ffff:192.0.2.7", 24, 48)     # IPv4-mapped: shown as IPv4
'192.0.2.0/24'
>>> network_of("2001:db8:ab12:cd34::1", 24, 48)
'2001:db8:ab12::/48'
"""

from __future__ import annotations

import ipaddress
import socket

_V4_MAPPED_PREFIX = bytes(10) + b"\xff\xff"


def parse_address(text: str) -> tuple[int, bytes] | None:
    """(4 or 6, packed bytes) for an IP address as logs write it, else None.

    Brackets (`[2001:db8::1]`) and a zone id (`fe80::1%eth0`) are accepted; an
    IPv4-mapped IPv6 address is returned as the IPv4 address it carries.
    """
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if "%" in text:
        text = text.split("%", 1)[0]
    try:
        return 4, socket.inet_pton(socket.AF_INET, text)
    except OSError:
        pass
    try:
        packed = socket.inet_pton(socket.AF_INET6, text)
    except OSError:
        return None
    if packed.startswith(_V4_MAPPED_PREFIX):
        return 4, packed[12:]
    return 6, packed


def mask(packed: bytes, bits: int) -> bytes:
    width = len(packed) * 8
    value = int.from_bytes(packed, "big") >> (width - bits) << (width - bits) if bits else 0
    return value.to_bytes(len(packed), "big")


def format_network(version: int, packed: bytes, bits: int) -> str:
    if version == 4:
        return f"{socket.inet_ntop(socket.AF_INET, packed)}/{bits}"
    text = socket.inet_ntop(socket.AF_INET6, packed)
    if "." in text:  # the C library writes some prefixes in dotted form; Python's canonical form does not
        text = str(ipaddress.IPv6Address(packed))
    return f"{text}/{bits}"


def network_of(text: str, v4_bits: int, v6_bits: int) -> str | None:
    """The address truncated to its network, as CIDR text; None if `text` is no IP address."""
    parsed = parse_address(text)
    if parsed is None:
        return None
    version, packed = parsed
    bits = v4_bits if version == 4 else v6_bits
    return format_network(version, mask(packed, bits), bits)
