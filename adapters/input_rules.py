"""What a tenant may hand us as a credential, an account id or a display string.

One set of rules for every way in: the management API and `account import` (through
`models.connect_input.ConnectFields`) and `dravo-sync account connect` (`connection_problem`).
It lives in `adapters/` because the adapters put these values on the wire, and every layer above
may import it.

- Tokens (access and refresh tokens: anything that goes into a header) must be visible ASCII,
  %x21-7E (RFC 5234 VCHAR) with no space. That is a superset of RFC 6750's `b64token`
  (https://www.rfc-editor.org/rfc/rfc6750#section-2.1), chosen because real tokens step outside
  `b64token`: X's app bearer tokens are percent-encoded (`%2B`, `%3D`,
  https://developer.x.com/en/docs/authentication/oauth-2-0/bearer-tokens), and TikTok documents
  no character set for its tokens at all
  (https://developers.tiktok.com/doc/oauth-user-access-token-management), so the defensive reading
  is the widest one HTTP allows. What matters for safety is that every character is one HTTP allows in a field
  value and none ends or splits the header (RFC 9110 section 5.5): no CR, LF, NUL, other control
  characters, spaces, or non-ASCII (httpx refuses to encode those, and a refused header used to
  look like a platform outage).
- Account ids have the form the platform's registry entry states (`PlatformSpec.account_ids`:
  Graph API ids are digits only, LinkedIn's are URNs); any id must also be a display string.
- Handles and any other display string a tenant sends must hold no control or format character
  (Unicode categories Cc and Cf: NUL, ESC, CR/LF, bidi overrides, zero-width joiners), which
  could rewrite a terminal or reorder the text an operator reads.

Reasons never quote the value: a token could be one.
"""

from __future__ import annotations

import re
import unicodedata

from ops.foundation import platforms

HEADER_SAFE_RULE = (
    "must be visible ASCII characters (letters, digits, punctuation) with no spaces or control characters"
)
DISPLAY_RULE = "must not contain control or invisible formatting characters"
GRAPH_ID_RULE = platforms.GRAPH_IDS.rule

_TOKEN = re.compile(r"[\x21-\x7e]+")
# The same rules as JSON Schema patterns, for the API document. The display pattern lists the Cc
# and Cf characters of the Basic Multilingual Plane (Unicode 14); `display_problem` also refuses
# the few outside it (tag characters and such), which a portable pattern can't name.
HEADER_SAFE_PATTERN = r"^\s*[\x21-\x7e]+\s*$"
DISPLAY_CHARS = (
    r"\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2"
    r"\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
)


def token_problem(value: str) -> str | None:
    """Why `value` (surrounding whitespace aside, which is stripped) can't be a token, or None."""
    return None if _TOKEN.fullmatch(value.strip()) else HEADER_SAFE_RULE


def display_problem(value: str) -> str | None:
    """Why `value` can't be shown as a handle or a name, or None."""
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        return DISPLAY_RULE
    return None


def account_id_problem(platform: str, value: str) -> str | None:
    """Why `value` can't be `platform`'s account id (its registry entry's form), or None."""
    ids = platforms.account_ids(platform)
    problem = None if ids is None else ids.problem(value)
    return problem or display_problem(value)


def connection_problem(
    platform: str,
    platform_account_id: str,
    access_token: str,
    refresh_token: str | None = None,
    handle: str | None = None,
) -> tuple[str, str] | None:
    """(field, reason) of the first value of a connection these rules refuse, or None."""
    checks = (
        ("platform_account_id", account_id_problem(platform, platform_account_id)),
        ("access_token", token_problem(access_token)),
        ("refresh_token", None if refresh_token is None else token_problem(refresh_token)),
        ("handle", None if handle is None else display_problem(handle)),
    )
    return next(((name, reason) for name, reason in checks if reason is not None), None)
