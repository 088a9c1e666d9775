"""PII in kept text: e-mail addresses, IP addresses and phone numbers -> fixed placeholders.

Following datatrove's ``PIIFormatter`` (the FineWeb pipeline): e-mail addresses and public
IP addresses are replaced by look-alike placeholders rather than deleted, so sentences stay
well formed. Differences, each on purpose:

* **stable placeholders**: datatrove cycles through several replacements per worker, so a
  document's text depends on which worker saw it first; here every e-mail becomes
  ``email@example.com`` (RFC 2606's reserved domain), every IP ``192.0.2.1`` (RFC 5737's
  documentation block: never routed, and not "global") and every phone number ``555-0100``
  (the NANP range reserved for fiction); a placeholder is never counted as PII, so a
  second pass finds nothing;
* **IP look-alikes are left alone**: datatrove replaces every dotted quad that
  ``ipaddress`` calls global, which includes version strings such as ``1.2.3.4``. Here a
  quad must stand alone (not part of ``1.2.3.4.5``, ``v1.2.3.4`` or ``x1.2.3.4``), must be
  global (private, loopback and documentation addresses are not personal data, as in
  datatrove), must not be all single digits (``1.2.3.4``: much likelier a version, the rule
  of the FineWeb-2 fork of the formatter) and must not follow a version word
  (``version``, ``ver``, ``release``, ``build``, ``v``);
* **phone numbers without a model or a library**: numbers in international form (``+``,
  country code, 8-15 digits in all, E.164's limit) or North American form
  (``(415) 555-2671``, ``415-555-2671``, ``415.555.2671``, optional ``1-`` prefix; area code
  and exchange start with 2-9 as the NANP requires). Dates (``2024-12-01``), ISBNs
  (``978-3-16-148410-0``), prices and version strings do not have these shapes; national
  formats of other countries without ``+`` are not recognised (a documented miss, not a
  guess).

Counts per kind (``email``, ``ip``, ``phone``) go to the funnel as ``pii_replaced`` events.

Speed: each pattern starts with a lookbehind or a character class, so ``re`` tries it at
every position of the text (~0.4 ms for a 6,000-character page, all four patterns). A
pattern only scans a text that passes its gate (``_may_have_*``): a necessary condition of a
match checked with a literal search (``str.find``, or a pattern that starts with a literal),
so the replacements are those of the full scans (``tests/safety/test_pii.py`` compares them
on real pages and on fuzzed texts).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

EMAIL = "email"
IP = "ip"
PHONE = "phone"
KINDS = (EMAIL, IP, PHONE)

# datatrove's e-mail pattern (RFC 5322 local part, dotted domain or bracketed address)
_EMAIL = re.compile(
    r"\b[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
    r"(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"|\[(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?|[A-Za-z0-9-]*[A-Za-z0-9]:)\])"
)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# alone: no word character or dot before, no word character or ".digit" after
_IP = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)")
_VERSION_WORD = re.compile(r"(?:\b(?:version|ver|release|build|rev)\.?|\bv)\s*$", re.I)
_SINGLE_DIGITS = re.compile(r"\d\.\d\.\d\.\d")
_PHONE_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,6}(?![\w]|[.-]\d)")
_PHONE_NANP = re.compile(
    r"(?<![\w.+-])(?:1[ .-])?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}(?![\w-]|\.\d)"
)


# Gates: what every match of a pattern contains, found without a scan from every position.
#: The character before an e-mail's ``@`` (the last of its local part) and the one after it.
_LOCAL_LAST = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-"
)
_DOMAIN_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789[")
#: An IP's last three octets with their dots (``_OCTET`` is ASCII digits only).
_IP_GATE = re.compile(r"\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]")
_INTL_GATE = re.compile(r"\+\d")
#: A North American number ends with ``[2-9]\d{2}[ .-]\d{4}``: the separator and the line
#: number, one literal-prefixed pattern per separator; the three characters before it are
#: checked in Python (``\d`` is ``str.isdecimal``).
_NANP_TAILS = tuple(re.compile(re.escape(sep) + r"\d{4}") for sep in " .-")


def _may_have_email(text: str) -> bool:
    n = len(text)
    at = text.find("@")
    while at != -1:
        if 0 < at < n - 1 and text[at - 1] in _LOCAL_LAST and text[at + 1] in _DOMAIN_FIRST:
            return True
        at = text.find("@", at + 1)
    return False


def _may_have_ip(text: str) -> bool:
    return _IP_GATE.search(text) is not None


def _may_have_intl_phone(text: str) -> bool:
    return _INTL_GATE.search(text) is not None


def _may_have_nanp_phone(text: str) -> bool:
    for tail in _NANP_TAILS:
        # A tail starts with a non-digit, so its matches never overlap: none is skipped.
        for m in tail.finditer(text):
            p = m.start()
            if p >= 3 and text[p - 3] in "23456789" and text[p - 2 : p].isdecimal():
                return True
    return False


@dataclass(frozen=True, slots=True)
class PiiConfig:
    """Which kinds are replaced (all by default) and by what."""

    enabled: bool = True
    emails: bool = True
    ips: bool = True
    phones: bool = True
    email_placeholder: str = "email@example.com"
    ip_placeholder: str = "192.0.2.1"
    phone_placeholder: str = "555-0100"

    def __post_init__(self) -> None:
        for name in ("email_placeholder", "ip_placeholder", "phone_placeholder"):
            v = getattr(self, name)
            if not isinstance(v, str) or not v or "\n" in v:
                raise ValueError(f"PiiConfig.{name} must be a non-empty one-line string, got {v!r}")


def _is_personal_ip(m: re.Match, text: str) -> bool:
    s = m.group(0)
    if _SINGLE_DIGITS.fullmatch(s) or _VERSION_WORD.search(
        text[max(0, m.start() - 12) : m.start()]
    ):
        return False
    try:
        return ipaddress.ip_address(s).is_global
    except ValueError:
        return False


def _digits(s: str) -> int:
    return sum(c.isdigit() for c in s)


def redact(text: str, config: PiiConfig = PiiConfig()) -> tuple[str, dict[str, int]]:
    """``text`` with PII replaced, and the number of replacements per kind."""
    counts = dict.fromkeys(KINDS, 0)
    if not config.enabled or not text:
        return text, counts

    def sub(pattern: re.Pattern, kind: str, placeholder: str, ok, s: str) -> str:
        def repl(m: re.Match) -> str:
            if m.group(0) == placeholder or not ok(m, s):  # a placeholder is not PII
                return m.group(0)
            counts[kind] += 1
            return placeholder

        return pattern.sub(repl, s)

    # Each gate is checked on the text as the previous replacements left it.
    if config.emails and _may_have_email(text):
        text = sub(_EMAIL, EMAIL, config.email_placeholder, lambda m, s: True, text)
    if config.ips and _may_have_ip(text):
        text = sub(_IP, IP, config.ip_placeholder, _is_personal_ip, text)
    if config.phones:
        if _may_have_intl_phone(text):
            text = sub(
                _PHONE_INTL, PHONE, config.phone_placeholder,
                lambda m, s: 8 <= _digits(m.group(0)) <= 15, text,
            )  # fmt: skip
        if _may_have_nanp_phone(text):
            text = sub(_PHONE_NANP, PHONE, config.phone_placeholder, lambda m, s: True, text)
    return text, counts
