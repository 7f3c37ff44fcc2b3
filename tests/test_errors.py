"""What logshroud prints about an error never holds a public address, an e-mail address or key material."""

from __future__ import annotations

import ipaddress

import pytest

from transforms.errors import redact

# Built at run time: the repository holds no public address, not even a made-up one.
PUBLIC_V4 = str(ipaddress.IPv4Address((11 << 24) + 7))
PUBLIC_V6 = str(ipaddress.IPv6Address((0x2A00 << 112) + 0x1234))


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"failed on {PUBLIC_V4}: bad", "failed on [address]: bad"),
        (f"client [{PUBLIC_V6}] refused", "client [[address]] refused"),
        ("mail jan.jansen@example.com or a%40example.org", "mail [email] or [email]"),
        ("key " + "ab" * 32, "key [hex]"),
        ("S3 endpoint http://127.0.0.1:9000 unreachable", "S3 endpoint http://127.0.0.1:9000 unreachable"),
        ("proxy 10.1.2.3 and ::1", "proxy 10.1.2.3 and ::1"),
        ("[20/May/2015:05:17:41 +0000] Chrome/120.0.6099.109", "[20/May/2015:05:17:41 +0000] Chrome/120.0.6099.109"),
    ],
    ids=["public-v4", "public-v6", "emails", "hex-key", "loopback-endpoint", "private-and-loopback", "times-versions"],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
