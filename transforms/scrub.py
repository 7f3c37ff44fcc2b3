"""Scrubbing of request text for the anonymised zone: no client address, e-mail or secret.

`path`, `query`, `referrer` and `user_agent` carry whatever clients and links put
there: an address in an admin path, an e-mail address in a query, a reset token in a
referrer. A `Scrubber` rewrites exactly those pieces and leaves every other byte as
it was, so analysts still group by path and parse user agents:

    >>> scrubber = Scrubber()
    >>> scrubber.text("/admin/192.0.2.55/edit")
    '/admin/192.0.2.0/24/edit'
    >>> scrubber.query("email=alice%40example.com&ip=2001:db8:ab12::7&page=2")
    'email=[redacted]&ip=2001:db8:ab12::/48&page=2'
    >>> scrubber.url("https://www.example.com/search?q=x&access_token=abc#frag")
    'https://www.example.com/search?q=x&access_token=[redacted]#frag'

`Scrubber.column` does the same for an Arrow array: an RE2 prefilter picks the values
that could hold anything to scrub, Python runs once per *distinct* such value, and the
results go back into place with `replace_with_mask`. Typical traffic never reaches Python.

What is scrubbed, and why the edges are where they are:

- IPv4 and IPv6 addresses (compressed, bracketed, with an embedded or mapped IPv4) become
  their network as `network_of` writes it: `192.0.2.0/24`, `2001:db8:ab12::/48`. A candidate
  glued to a letter or digit (`v192.0.2.1`, `ip2001:db8::1`), or part of a longer dotted
  run (`192.0.2.1.5`), is no address; a dot, colon, slash, underscore or space is a border
  (`192.0.2.55.example.com`, `host_192.0.2.55:8080`). Leading zeros read as decimal.
  Kept as written: text that already is the truncated network (`192.0.2.0/24`), so
  scrubbing twice changes nothing, and `N.0.0.0` when `v4_bits >= 8`: that is every
  Chromium user agent since 2022 (`Chrome/131.0.0.0`), and as an address it shows no more
  than its own truncation does.
- E-mail addresses, `alice@example.com` or `alice%40example.com`, become `[email]`. The
  domain needs a dot and a last label that starts with a letter, so a package version
  (`react@18.2.0`) is none; trailing image, font, style and script suffixes are no part
  of a domain (no TLD is named so): `logo@2x.png` stays, `alice@example.com.png` becomes
  `[email].png`.
- Credentials in a URL, `//user:password@host`, become `//[redacted]@host`.
- Secret parameters (see `Scrubber.is_secret` for the name rule) get `[redacted]` as value,
  in a query string and as path parameters (`/cart;jsessionid=1A2B`).
- Percent-encoding hides nothing: the decoded form (up to three rounds, for URLs that went
  through redirects) is scrubbed too. If it held something, the result is the scrubbed
  decoded text, re-quoted; if not, the original bytes.
- A query value that decodes to a URL or a query (`next=%2Fcb%3Ftoken%3Dabc`, a
  `redirect_uri`) is scrubbed as one, nested up to three deep; deeper still, a value with
  anything that looks like a secret name is redacted whole.

Nothing here raises on bad input: invalid escapes stay as they are, and should Python's
codecs still refuse a value, the whole value becomes `[redacted]`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate
from typing import Literal, cast
from urllib.parse import quote, unquote, unquote_plus

import pyarrow as pa
import pyarrow.compute as pc

from transforms import dictionaries

# From transforms.addresses, where it is defined: transforms.anonymise imports this
# module, so taking it from there would make the import circular.
from transforms.addresses import network_of

DEFAULT_SECRET_PARAMS = ("token", "password", "passwd", "secret", "key", "api_key", "session", "sid", "auth", "email")
EMAIL_PLACEHOLDER = "[email]"
SECRET_PLACEHOLDER = "[redacted]"

Kind = Literal["text", "query", "url"]
KINDS: tuple[Kind, ...] = ("text", "query", "url")

# A URL that went through a redirect or two arrives double or triple encoded; nothing
# legitimate encodes deeper, and every round is a pass over the value.
_MAX_DECODE_ROUNDS = 3
# redirect_uri inside next inside return_to is the deepest nesting seen in real OAuth
# and SSO flows; the bound also caps the work one hostile value can cause.
_MAX_NESTING = 3
# Secret names this long are in no everyday word, so they may appear anywhere in a
# parameter name (`accesstoken`); shorter ones are (`keyword`, `inside`, `author`) and
# must end a word of the name.
_LONG_SECRET_CHARS = 5

# Characters left unescaped when scrubbed decoded text is re-quoted: the RFC 3986 path
# characters (so `/`, `:` and CIDR text read as before) and the placeholders' brackets.
_PATH_SAFE = "/:@!$&'()*+,;=[]"
# The same inside a query value, minus what would split or end it (`& = + ; #`).
_QUERY_SAFE = "/:@!$'()*,[]"

_IPV4 = re.compile(r"(?<![0-9A-Za-z])(?<![0-9]\.)[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9A-Za-z])(?!\.[0-9])")
# A maximal run of hex digits, colons and dots with at least two colons; `network_of` then
# decides whether it is an address, so `12:30:45` and `00:1a:2b:3c:4d:5e` stay. Not right
# after `%`, where hex digits are an escape (`%3A::`). The run starts only at its first
# character and is matched possessively: linear on any input.
_IPV6_RUN = re.compile(r"(?<![0-9A-Za-z:.%])(?=[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:)[0-9A-Fa-f:.]++(?![0-9A-Za-z])")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++(?:@|%40)([\w-]+(?:\.[\w-]+)+)")
_FILE_SUFFIXES = frozenset(
    ("png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico", "bmp", "css", "js", "mjs", "woff", "woff2", "ttf")
)
_USERINFO = re.compile(r"(?<=//)[^/?#\s]+(?=@)")
_PATH_PARAM = re.compile(r";([^;/?#=\s]*)=([^;/?#&\s)]*)")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[a-z]+|[0-9]+")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_DIGITS = frozenset(string.digits)

# RE2 pieces of the prefilter. Each must match wherever the Python rules above could change
# something, or a value with personal data would skip scrubbing; `test_prefilter_never_misses`
# holds them to that.
_OCTET = "[0-9]{1,3}"
_NONZERO_OCTET = "(?:[1-9][0-9]{0,2}|0[1-9][0-9]?|00[1-9])"  # 1 to 3 digits, not all zero
_ANY_QUAD = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"
_QUAD_NOT_N000 = (
    rf"{_OCTET}\.(?:{_NONZERO_OCTET}\.{_OCTET}\.{_OCTET}|{_OCTET}\.{_NONZERO_OCTET}\.{_OCTET}"
    rf"|{_OCTET}\.{_OCTET}\.{_NONZERO_OCTET})"
)
_TEXT_HINTS = (
    ":[0-9A-Fa-f.]*:",  # IPv6
    "@",  # e-mail, credentials
    "%[0-9A-Fa-f]{2}",  # anything percent-encoded
    ";[^;=]*=",  # path parameter
)
_NAME_SEPARATORS = "[^A-Za-z0-9]*"


def _words(name: str) -> list[str]:
    """`X-Api-Key` -> ['x', 'api', 'key']: ASCII letters and digits, split at case and digit changes."""
    return _WORD.findall(_CAMEL_BOUNDARY.sub(" ", name).translate(_ASCII_LOWER))


def _decode_fully(text: str, decode: Callable[[str], str]) -> str:
    for _ in range(_MAX_DECODE_ROUNDS):
        decoded = decode(text)
        if decoded == text:
            break
        text = decoded
    return text


def _secret_pattern(compact: str) -> str:
    """RE2 for a compacted secret name with any separators between its letters: `t[^A-Za-z0-9]*o...`."""
    return _NAME_SEPARATORS.join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in compact)


@dataclass(frozen=True)
class Scrubber:
    """Scrubs request text; `v4_bits`/`v6_bits` as for `client_net`, `secret_params` as in the config."""

    v4_bits: int = 24
    v6_bits: int = 48
    secret_params: tuple[str, ...] = DEFAULT_SECRET_PARAMS

    def __post_init__(self) -> None:
        # Checked here: a bad prefix would otherwise surface as a failure on every address.
        if not 0 <= self.v4_bits <= 32 or not 0 <= self.v6_bits <= 128:
            raise ValueError(f"prefix lengths out of range: v4_bits={self.v4_bits}, v6_bits={self.v6_bits}")
        if isinstance(self.secret_params, str):
            raise TypeError("secret_params must be a tuple of names, not one string")

    # --- public API ------------------------------------------------------------------------------

    def text(self, value: str) -> str:
        """Free text (a path, a user agent): `/u/alice%40example.com/` -> `/u/[email]/`."""
        return self._fail_closed(self._text, value)

    def query(self, value: str) -> str:
        """A query string without `?`: `q=x&token=abc` -> `q=x&token=[redacted]`.

        Split on `&` only (a `;` stays inside its value). Secret parameters keep their
        name and an empty value stays empty; every other name and value is percent-decoded
        (`+` as space), scrubbed, and re-quoted only if scrubbing changed it.
        """
        return self._fail_closed(self._whole_query, value)

    def url(self, value: str) -> str:
        """A referrer, or a path with `?query`: the part before `?` as text, query and fragment as queries.

        The fragment is read as a query because OAuth puts tokens there
        (`#access_token=...`); any other fragment comes out as `text` would leave it.
        """
        return self._fail_closed(self._whole_url, value)

    def column(self, values: pa.Array, kind: Kind) -> pa.Array:
        """`values` scrubbed as `kind` ("text", "query" or "url"); nulls stay null, type is kept.

        The prefilter runs once per distinct value, Python only on the distinct values
        it picks; when it picks none, the input is returned as it is, without a copy. A
        ChunkedArray is scrubbed chunk by chunk.
        """
        if isinstance(values, pa.ChunkedArray):
            return pa.chunked_array([self.column(chunk, kind) for chunk in values.chunks], type=values.type)
        scrub = {"text": self._text, "query": self._whole_query, "url": self._whole_url}[_checked(kind)]
        # Logs repeat themselves (a few hundred user agents in a day's million lines), so
        # the prefilter runs over the distinct values: hashing is cheaper than the regex.
        encoded = dictionaries.encoded(values)
        picked = self.candidates(encoded.dictionary, kind)
        if not pc.any(picked).as_py():
            return values
        distinct = encoded.dictionary
        scrubbed = [self._fail_closed(scrub, v) for v in distinct.filter(picked).to_pylist()]
        dictionary = pc.replace_with_mask(distinct, picked, pa.array(scrubbed, type=distinct.type))
        if pa.types.is_dictionary(values.type):  # values scrubbed alike become one entry
            return dictionaries.spread(dictionary, encoded.indices)
        return dictionary.take(encoded.indices)

    def candidates(self, values: pa.Array, kind: Kind) -> pa.Array:
        """Boolean mask of the values that could hold something to scrub as `kind`; False for nulls."""
        return pc.fill_null(pc.match_substring_regex(values, self._prefilter[_checked(kind)]), False)

    def is_secret(self, name: str) -> bool:
        """Whether a parameter of this name has its value redacted.

        The name is percent-decoded and cut into lower-case ASCII words at anything not a
        letter or digit and at case and digit changes (`X-Api-Key`, `apiKey`, `user[password]`,
        `PHPSESSID`, `token2`). It is secret when, with the separators taken out,

        - it contains a secret name of five or more characters anywhere (`token` in
          `access_token`, `csrftoken`; `api_key` in `x-api-key`, `apikey`; `password` in
          `password_confirmation`, `new_password2`; `session` in `jsessionid`, `session_id`), or
        - a shorter secret name ends where one of its words ends (`key` in `sort_key`,
          `publicKey`, `key_id`, and so `monkey` too; `sid` in `PHPSESSID`; `auth` in
          `oauth`, `x-auth`), but not `keyword`, `sidebar` or `author`.

        A demanding reading on purpose: a redacted harmless value costs little, a leaked
        token costs a lot. Names outside ASCII letters and digits never match.
        """
        words = _words(_decode_fully(name, unquote_plus))
        compact = "".join(words)
        if not compact:
            return False
        word_ends = [compact[:end] for end in accumulate(map(len, words))]
        for secret in self._secret_names:
            if len(secret) >= _LONG_SECRET_CHARS:
                if secret in compact:
                    return True
            elif any(prefix.endswith(secret) for prefix in word_ends):
                return True
        return False

    # --- configuration derived once per scrubber -------------------------------------------------

    @cached_property
    def _secret_names(self) -> tuple[str, ...]:
        names = ("".join(_words(name)) for name in self.secret_params)
        return tuple(dict.fromkeys(name for name in names if name))

    @cached_property
    def _secret_hint(self) -> re.Pattern[str]:
        """Python twin of the prefilter's secret-name part: used where nesting runs too deep."""
        return re.compile("|".join(_secret_pattern(name) for name in self._secret_names) or "(?!)")

    @cached_property
    def _prefilter(self) -> dict[Kind, str]:
        # With v4_bits >= 8 an `N.0.0.0` quad is kept (see the module docstring), so
        # Chromium user agents need not reach Python at all.
        quad = _QUAD_NOT_N000 if self.v4_bits >= 8 else _ANY_QUAD
        text = "|".join((quad, *_TEXT_HINTS))
        secrets = "|".join(_secret_pattern(name) for name in self._secret_names)
        with_secrets = f"{text}|{secrets}" if secrets else text
        return {"text": text, "query": with_secrets, "url": with_secrets}

    # --- the rules ------------------------------------------------------------------------------

    @staticmethod
    def _fail_closed(scrub: Callable[[str], str], value: str) -> str:
        try:
            return scrub(value)
        except ValueError:  # UnicodeError included: a lone surrogate cannot be re-quoted
            return SECRET_PLACEHOLDER

    def _text(self, value: str) -> str:
        return self._encoded(value, unquote, self._plain, _PATH_SAFE)

    def _whole_query(self, value: str) -> str:
        return self._query(value, 0)

    def _whole_url(self, value: str) -> str:
        return self._url(value, 0)

    def _encoded(self, raw: str, decode: Callable[[str], str], scrub: Callable[[str], str], safe: str) -> str:
        """`scrub` applied to what `raw` means once its percent-escapes are decoded.

        When decoding reveals something, the answer is the scrubbed decoded text re-quoted;
        otherwise the raw text with only its literal findings replaced, so that an
        address followed by an escape (`192.0.2.1%41`) is still caught.
        """
        decoded = _decode_fully(raw, decode)
        if decoded == raw:
            return scrub(raw)
        scrubbed = scrub(decoded)
        if scrubbed != decoded:
            return quote(scrubbed, safe=safe)
        return self._plain(raw)

    def _plain(self, text: str) -> str:
        """Addresses, e-mail addresses, credentials and secret path parameters in already decoded text."""
        if "@" in text and "//" in text:
            text = _USERINFO.sub(SECRET_PLACEHOLDER, text)
        if ";" in text and "=" in text:
            text = _PATH_PARAM.sub(self._path_param, text)
        if "@" in text or "%40" in text:
            text = _EMAIL.sub(_email, text)
        if ":" in text:
            text = _IPV6_RUN.sub(self._ipv6, text)
        if "." in text:
            text = _IPV4.sub(self._ipv4, text)
        return text

    def _path_param(self, match: re.Match[str]) -> str:
        name, value = match.groups()
        return f";{name}={SECRET_PLACEHOLDER}" if value and self.is_secret(name) else match.group()

    def _ipv4(self, match: re.Match[str]) -> str:
        octets = [int(part) for part in match.group().split(".")]
        if max(octets) > 255 or (self.v4_bits >= 8 and octets[1:] == [0, 0, 0]):
            return match.group()
        return self._replacement(match, ".".join(map(str, octets)), match.group()) or match.group()

    def _ipv6(self, match: re.Match[str]) -> str:
        run = match.group()
        # A sentence or a port can follow an address: `2001:db8::1.` or `2001:db8::1::`.
        for candidate in dict.fromkeys((run, run.rstrip("."), run.rstrip(".:"))):
            if not any(c in string.hexdigits for c in candidate):  # `::` is no one's address
                continue
            replaced = self._replacement(match, candidate, candidate)
            if replaced is not None:
                return replaced + run[len(candidate) :]
        return run

    def _replacement(self, match: re.Match[str], address: str, written: str) -> str | None:
        """The network for `address` (written as `written` at `match`), None if it is no address.

        Text that already reads as that network (`192.0.2.0/24`, `::ffff:192.0.2.0/24`)
        is kept as written, so that a second scrub changes nothing.
        """
        network = network_of(address, self.v4_bits, self.v6_bits)
        if network is None:
            return None
        unmasked = network_of(address, 32, 128) or ""
        host_bits_zero = unmasked.partition("/")[0] == network.partition("/")[0]
        after = match.string[match.start() + len(written) :]
        suffix = "/" + network.partition("/")[2]
        if host_bits_zero and after.startswith(suffix) and after[len(suffix) : len(suffix) + 1] not in _DIGITS:
            return written
        return network

    def _query(self, value: str, depth: int) -> str:
        pieces = []
        for piece in value.split("&"):
            name, equals, raw = piece.partition("=")
            if not equals:
                pieces.append(self._encoded(name, unquote_plus, lambda d: self._nested(d, depth), _QUERY_SAFE))
                continue
            scrubbed_name = self._encoded(name, unquote_plus, self._plain, _QUERY_SAFE)
            if raw and self.is_secret(name):
                pieces.append(f"{scrubbed_name}={SECRET_PLACEHOLDER}")
            else:
                scrubbed = self._encoded(raw, unquote_plus, lambda d: self._nested(d, depth), _QUERY_SAFE)
                pieces.append(f"{scrubbed_name}={scrubbed}")
        return "&".join(pieces)

    def _url(self, value: str, depth: int) -> str:
        before_fragment, hash_mark, fragment = value.partition("#")
        path, question_mark, query = before_fragment.partition("?")
        scrubbed = self._text(path)
        if question_mark:
            scrubbed += "?" + self._query(query, depth)
        if hash_mark:
            scrubbed += "#" + self._query(fragment, depth)
        return scrubbed

    def _nested(self, decoded: str, depth: int) -> str:
        """A decoded query value: a URL or query inside is scrubbed as one (`next=/cb?token=x`)."""
        nested = "?" in decoded or "#" in decoded or "=" in decoded
        if not nested:
            return self._plain(decoded)
        if depth >= _MAX_NESTING:
            return SECRET_PLACEHOLDER if self._secret_hint.search(decoded) else self._plain(decoded)
        if "?" in decoded or "#" in decoded:
            return self._url(decoded, depth + 1)
        return self._query(decoded, depth + 1)


def _checked(kind: str) -> Kind:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return cast(Kind, kind)


def _email(match: re.Match[str]) -> str:
    labels = match.group(1).split(".")
    suffixes = []
    while len(labels) > 2 and labels[-1].lower() in _FILE_SUFFIXES:
        suffixes.insert(0, labels.pop())
    if labels[-1].lower() in _FILE_SUFFIXES or not labels[-1][:1].isalpha():
        return match.group()
    return ".".join((EMAIL_PLACEHOLDER, *suffixes))
