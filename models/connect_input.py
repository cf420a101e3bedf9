"""The fields of one account connection, as the management API and `account import` receive them.

One pydantic model validates both, so a body and an import line are judged the same way, and every
error names its field. Error messages never contain a value (a token could be one): callers report
`field` and `reason` only. Strings are refused when PostgreSQL text could not hold them (NUL, lone
surrogates), so a bad value is a 422 or a reported line, never a database error half-way.
Tokens, account ids and display strings follow `adapters.input_rules`, the rules every way in
shares (`dravo-sync account connect` too). What depends on the platform (the form of its account
ids, its logins) is its registry entry's (`PlatformSpec.account_ids`, `PlatformSpec.logins`): this
module states it for every platform of the registry, in validation and in the JSON Schema, and
names none.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from adapters.base import Credentials
from adapters.input_rules import (
    DISPLAY_CHARS,
    HEADER_SAFE_PATTERN,
    account_id_problem,
    display_problem,
    token_problem,
)
from models.admin import AdminError, ConnectRequest, normalise_platform_account_id, resolve_auth
from models.read_models import Platform
from ops.foundation import platforms

# Bounds well above what the platforms issue (Meta's long-lived tokens are ~200 characters,
# LinkedIn's ~350), low enough that a body can't make us encrypt and store megabytes.
MAX_TOKEN_CHARS = 4096
MAX_TEXT_CHARS = 512
MAX_SCOPES = 100
# Any zone offset keeps these in datetime's range once converted to UTC; older is no expiry at all.
MIN_EXPIRY_YEAR, MAX_EXPIRY_YEAR = 1970, 9998
EXPIRY_YEARS = r"^(?:19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9])-"


def _storable_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid UTF-8 text") from None
    return value


def _iso_8601(value: object) -> object:
    """ISO 8601 only (pydantic would read "1700000000" as a Unix time); no zone means UTC."""
    if value is None or isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be an ISO 8601 time, e.g. 2026-12-01T00:00:00Z") from None
    else:
        raise ValueError("must be an ISO 8601 time, e.g. 2026-12-01T00:00:00Z")
    if parsed is None:
        return None
    if not MIN_EXPIRY_YEAR <= parsed.year <= MAX_EXPIRY_YEAR:
        raise ValueError(f"must lie in the years {MIN_EXPIRY_YEAR} to {MAX_EXPIRY_YEAR}")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def split_scopes(value: str) -> list[str]:
    """One string of scopes separated by commas or spaces (a CSV cell)."""
    return [part for part in value.replace(",", " ").split() if part]


# The document states what validation checks, so a client (or schemathesis) can tell a body we
# accept from one we refuse: the patterns below say in JSON Schema what `_bounded` checks.
NON_BLANK = rf"^[^{DISPLAY_CHARS}]*[^\s{DISPLAY_CHARS}][^{DISPLAY_CHARS}]*$"
NO_NUL = rf"^[^{DISPLAY_CHARS}]*$"

# Every login a platform of the registry knows (`auth`; which one a platform takes: the anyOf).
if TYPE_CHECKING:
    LoginName = str
else:
    LoginName = Literal[tuple(dict.fromkeys(login.name for s in platforms.PLATFORMS for login in s.logins))]


def _bounded(max_chars: int, *, non_blank: bool, token: bool = False) -> AfterValidator:
    def check(value: str) -> str:
        _storable_text(value)
        if non_blank and not value.strip():
            raise ValueError("must not be empty")
        if len(value) > max_chars:
            raise ValueError(f"must be at most {max_chars} characters")
        problem = token_problem(value) if token else display_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


def _schema(max_chars: int, *, non_blank: bool, token: bool = False) -> Any:
    """The same rules as `_bounded`, in JSON Schema."""
    if token:
        return Field(
            json_schema_extra={"minLength": 1, "maxLength": max_chars, "pattern": HEADER_SAFE_PATTERN}
        )
    if non_blank:
        return Field(json_schema_extra={"minLength": 1, "maxLength": max_chars, "pattern": NON_BLANK})
    return Field(json_schema_extra={"maxLength": max_chars, "pattern": NO_NUL})


# Strings checked with our own messages (pydantic's speak of "items" for strings past a validator).
RequiredText = Annotated[
    str, _bounded(MAX_TEXT_CHARS, non_blank=True), _schema(MAX_TEXT_CHARS, non_blank=True)
]
Token = Annotated[
    str,
    _bounded(MAX_TOKEN_CHARS, non_blank=True, token=True),
    _schema(MAX_TOKEN_CHARS, non_blank=True, token=True),
]
OptionalText = Annotated[
    str, _bounded(MAX_TEXT_CHARS, non_blank=False), _schema(MAX_TEXT_CHARS, non_blank=False)
]


def _few_scopes(value: list[str]) -> list[str]:
    if len(value) > MAX_SCOPES:
        raise ValueError(f"must hold at most {MAX_SCOPES} scopes")
    return value


def platform_rules(spec: platforms.PlatformSpec) -> dict[str, Any]:
    """What a body for `spec`'s platform must hold beyond the common fields, as JSON Schema."""
    rules: dict[str, Any] = {"platform": {"const": spec.name}}
    if spec.account_ids is not None:
        rules["platform_account_id"] = {"pattern": spec.account_ids.json_pattern}
    rules["auth"] = {"enum": [*(login.name for login in spec.logins), None]}
    return {"properties": rules}


def _platform_rules(schema: dict[str, Any]) -> None:
    """Rules that depend on the platform, one branch per registry entry (validation: the field
    validators, from the same entries)."""
    schema["anyOf"] = [platform_rules(spec) for spec in platforms.PLATFORMS]


def _descriptions() -> tuple[str, str, str]:
    """(platform, platform_account_id, auth) field descriptions, from the registry."""
    names = platforms.PLATFORM_NAMES
    platform = f"{', '.join(names[:-1])} or {names[-1]}." if len(names) > 1 else f"{names[0]}."
    forms = "; ".join(
        f"{spec.label}: {spec.account_ids.rule.removeprefix('must be ')}"
        for spec in platforms.PLATFORMS
        if spec.account_ids is not None
    )
    account = "The account's id on the platform" + (f" ({forms})." if forms else ".")
    choices = "; ".join(
        f"{spec.label}: "
        + " or ".join(
            f"{login.name} ({login.label}{', the default' if n == 0 else ''})"
            for n, login in enumerate(spec.logins)
        )
        for spec in platforms.PLATFORMS
        if len(spec.logins) > 1
    )
    auth = f"{choices}; other platforms: default or null." if choices else "default or null."
    return platform, account, auth


PLATFORM_DESCRIPTION, ACCOUNT_ID_DESCRIPTION, AUTH_DESCRIPTION = _descriptions()


class ConnectFields(BaseModel):
    """Connect or reconnect one account: the same fields as `dravo-sync account connect`."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, json_schema_extra=_platform_rules)

    platform: Platform = Field(description=PLATFORM_DESCRIPTION)
    platform_account_id: RequiredText = Field(
        description=ACCOUNT_ID_DESCRIPTION,
        examples=["17841400000000000"],
    )
    handle: OptionalText | None = Field(None, description="Handle to show until the first sync.")
    auth: LoginName | None = Field(None, description=AUTH_DESCRIPTION)
    # Plain strings, not SecretStr: the schema must carry their pattern. They are never logged,
    # never in an error (hide_input_in_errors), and the repr leaves them out.
    access_token: Token = Field(
        repr=False, description="The platform access token. Stored encrypted, never echoed."
    )
    refresh_token: Token | None = Field(
        None, repr=False, description="The refresh token, if the platform issued one."
    )
    token_expires_at: Annotated[datetime | None, BeforeValidator(_iso_8601)] = Field(
        None,
        description="When the access token expires (ISO 8601; without a zone: UTC).",
        json_schema_extra={"format": "date-time", "pattern": EXPIRY_YEARS},
    )
    scopes: Annotated[list[RequiredText], AfterValidator(_few_scopes)] = Field(
        default_factory=list,
        description="The scopes the user granted.",
        json_schema_extra={"maxItems": MAX_SCOPES},
    )

    @field_validator("platform_account_id")
    @classmethod
    def _platform_account_id(cls, value: str, info: ValidationInfo) -> str:
        # The same rules `account connect` applies (the platform's registry entry); they need
        # the platform, validated before.
        platform = info.data.get("platform")
        if platform is not None:
            try:
                normalise_platform_account_id(platform, value)
            except AdminError as exc:
                raise ValueError(str(exc)) from None
            problem = account_id_problem(platform, value)
            if problem is not None:
                raise ValueError(problem)
        return value

    @field_validator("auth")
    @classmethod
    def _auth(cls, value: str | None, info: ValidationInfo) -> str | None:
        platform = info.data.get("platform")
        if platform is not None:
            try:
                resolve_auth(platform, value)
            except AdminError as exc:
                raise ValueError(str(exc)) from None
        return value

    def credentials(self) -> Credentials:
        return Credentials(
            access_token=self.access_token.strip(),
            refresh_token=self.refresh_token.strip() if self.refresh_token else None,
            expires_at=self.token_expires_at,
            scopes=tuple(scope.strip() for scope in self.scopes),
        )

    def request(self, workspace_id: str) -> ConnectRequest:
        return ConnectRequest(
            workspace_id=workspace_id,
            platform=self.platform,
            platform_account_id=self.platform_account_id,
            credentials=self.credentials(),
            handle=(self.handle or "").strip() or None,
            auth=self.auth,
        )


def first_error(exc: ValidationError) -> tuple[str, str]:
    """(field, reason) of the first error; never the offending value."""
    errors = exc.errors(include_input=False, include_url=False)
    if not errors:
        return "line", "invalid"
    error: Any = errors[0]
    loc = [str(part) for part in error.get("loc", ())]
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return (".".join(loc) or "line"), message
