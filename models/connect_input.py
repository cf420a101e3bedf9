"""The fields of one account connection, as the management API and `account import` receive them.

One pydantic model validates both, so a body and an import line are judged the same way, and every
error names its field. Error messages never contain a value (a token could be one): callers report
`field` and `reason` only. Strings are refused when PostgreSQL text could not hold them (NUL, lone
surrogates), so a bad value is a 422 or a reported line, never a database error half-way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from adapters.base import Credentials
from models.admin import AdminError, ConnectRequest, normalise_platform_account_id, resolve_auth
from models.read_models import Platform

# Bounds well above what the platforms issue (Meta's long-lived tokens are ~200 characters,
# LinkedIn's ~350), low enough that a body can't make us encrypt and store megabytes.
MAX_TOKEN_CHARS = 4096
MAX_TEXT_CHARS = 512
MAX_SCOPES = 100


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
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("is out of range") from None


def _scope_list(value: object) -> object:
    """A list, or one string of scopes separated by commas or spaces (a CSV cell)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    return value


Text = Annotated[str, AfterValidator(_storable_text)]


def _token_text(value: object) -> object:
    # Checked before SecretStr wraps it; the value itself never reaches an error.
    return _storable_text(value) if isinstance(value, str) else value


Token = Annotated[SecretStr, BeforeValidator(_token_text), Field(min_length=1, max_length=MAX_TOKEN_CHARS)]
ScopeName = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_storable_text)]


class ConnectFields(BaseModel):
    """Connect or reconnect one account: the same fields as `dravo-sync account connect`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)

    platform: Platform = Field(description="instagram, facebook, x, linkedin or tiktok.")
    platform_account_id: Annotated[Text, Field(min_length=1, max_length=MAX_TEXT_CHARS)] = Field(
        description="The account's id on the platform (LinkedIn: urn:li:organization:ID or its number, "
        "or urn:li:person:ID).",
        examples=["17841400000000000"],
    )
    handle: Annotated[Text, Field(max_length=MAX_TEXT_CHARS)] | None = Field(
        None, description="Handle to show until the first sync."
    )
    auth: Literal["instagram", "facebook", "default"] | None = Field(
        None, description="Instagram only: instagram (Instagram Login, the default) or facebook."
    )
    access_token: Token = Field(description="The platform access token. Stored encrypted, never echoed.")
    refresh_token: Token | None = Field(None, description="The refresh token, if the platform issued one.")
    token_expires_at: Annotated[datetime | None, BeforeValidator(_iso_8601)] = Field(
        None, description="When the access token expires (ISO 8601; without a zone: UTC)."
    )
    scopes: Annotated[list[ScopeName], BeforeValidator(_scope_list), Field(max_length=MAX_SCOPES)] = Field(
        default_factory=list, description="The scopes the user granted."
    )

    @field_validator("platform_account_id")
    @classmethod
    def _platform_account_id(cls, value: str, info: ValidationInfo) -> str:
        # The same rule `account connect` applies; it needs the platform, validated before.
        platform = info.data.get("platform")
        if platform is not None:
            try:
                normalise_platform_account_id(platform, value)
            except AdminError as exc:
                raise ValueError(str(exc)) from None
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
            access_token=self.access_token.get_secret_value().strip(),
            refresh_token=self.refresh_token.get_secret_value().strip() if self.refresh_token else None,
            expires_at=self.token_expires_at,
            scopes=tuple(self.scopes),
        )

    def request(self, workspace_id: str) -> ConnectRequest:
        return ConnectRequest(
            workspace_id=workspace_id,
            platform=self.platform,
            platform_account_id=self.platform_account_id,
            credentials=self.credentials(),
            handle=self.handle or None,
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
