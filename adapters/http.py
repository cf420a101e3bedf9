"""HTTP plumbing shared by the adapters.

`build_http_client` makes the pooled client a process shares (the composition root calls it).
`Caller` makes one sync's platform calls: it builds and checks the request first (a request
that can't be sent, e.g. a token with a line break or a non-ASCII character, is `RequestNotSent`:
no budget spent, no retry), then asks the rate budget, retries transient failures (connect
errors, timeouts, 5xx) a few times with short jittered waits, caps the body it reads, parses JSON,
and counts every call that went out. Classifying the reply is the platform module's job.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import structlog
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

from adapters.base import AccountRef, RateBudget
from adapters.errors import PlatformBroken, PlatformUnavailable, RequestNotSent
from ops.foundation import json_codec

log = structlog.get_logger()

MAX_BODY_BYTES = 5 * 1024 * 1024
# A field value h11 would send (RFC 9110 section 5.5): no control character but HTAB, so no CR,
# LF or NUL that could end or split the header. Checked before the budget is asked.
_FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
_FIELD_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Errors that mean the request never left this process: not the platform's doing, never retried.
_URL_ERRORS = (httpx.UnsupportedProtocol, httpx.InvalidURL)
_LOCAL_ERRORS = (httpx.LocalProtocolError, UnicodeError, *_URL_ERRORS)


def path_segment(value: str) -> str:
    """`value` as one URL path segment: every reserved character percent-encoded (a `/`, `?` or
    `#` can't start another segment, a query or a fragment), and a segment of dots encoded too, so
    httpx's dot-segment removal (RFC 3986 section 5.2.4) can't walk up (`123/../../x`)."""
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if quoted.strip(".") == "" else quoted


def build_http_client(
    timeout_seconds: float, connect_timeout_seconds: float, max_connections: int
) -> httpx.Client:
    """The pooled client for one process; adapters take it, they never build their own."""
    # httpx logs every request URL at INFO, and Instagram's refresh call carries the token in the
    # query string: keep those lines out of our logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return httpx.Client(
        timeout=httpx.Timeout(timeout_seconds, connect=connect_timeout_seconds),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        follow_redirects=False,
        headers={"User-Agent": "dravo-sync"},
    )


@dataclass(frozen=True)
class RetryPolicy:
    """Short in-request retries; longer waits belong to the scheduler, not to a sleeping worker."""

    attempts: int = 3
    wait_initial: float = 0.3
    wait_max: float = 2.0
    jitter: float = 0.3
    max_total_seconds: float = 15.0
    max_body_bytes: int = MAX_BODY_BYTES


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes
    data: Any  # parsed JSON, or None when `is_json` is False
    is_json: bool
    endpoint: str

    @property
    def json_object(self) -> Mapping[str, Any] | None:
        return self.data if self.is_json and isinstance(self.data, dict) else None


class _TransientStatus(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(f"HTTP {reply.status}")
        self.reply = reply


def parse_json(body: bytes) -> tuple[Any, bool]:
    try:
        return json_codec.loads(body), True
    # ValueError covers bad JSON, bad UTF-8 and over-long integer literals; deep nesting recurses.
    except (ValueError, RecursionError):
        return None, False


class Caller:
    """One sync's calls to one platform, counted in `calls`."""

    def __init__(
        self,
        client: httpx.Client,
        account: AccountRef,
        budget: RateBudget,
        policy: RetryPolicy,
        label: str,
    ) -> None:
        self.client = client
        self.account = account
        self.budget = budget
        self.policy = policy
        self.label = label
        self.calls = 0

    def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        idempotent: bool = True,
    ) -> Reply:
        """Send with short retries; a 5xx that persists is returned for the caller to classify.

        A token refresh is not idempotent (the platform may have rotated the refresh token before
        failing), so it is only retried when the request never left: a connect error.
        """
        transient: tuple[type[BaseException], ...] = (
            (_TransientStatus, httpx.TransportError) if idempotent else (httpx.ConnectError,)
        )
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.attempts) | stop_after_delay(self.policy.max_total_seconds),
            wait=wait_exponential(multiplier=self.policy.wait_initial, max=self.policy.wait_max)
            + wait_random(0, self.policy.jitter),
            retry=retry_if_exception_type(transient) & retry_if_not_exception_type(_LOCAL_ERRORS),
            reraise=True,
            before_sleep=self._log_retry(endpoint),
        )
        try:
            for attempt in retrying:
                with attempt:
                    reply = self._once(method, url, endpoint, params, headers, data, auth)
                    if reply.status >= 500 and idempotent:
                        raise _TransientStatus(reply)
        except _TransientStatus as exc:
            return exc.reply
        except _LOCAL_ERRORS as exc:
            # Refused by httpx or h11 while sending (the checks below let it through): still ours.
            raise self._not_sent(endpoint, url=isinstance(exc, _URL_ERRORS)) from exc
        except httpx.TimeoutException as exc:
            raise PlatformUnavailable(f"{self.label} did not answer in time ({endpoint})") from exc
        except httpx.DecodingError as exc:
            raise PlatformBroken(f"{self.label} sent an undecodable reply ({endpoint})") from exc
        except httpx.TransportError as exc:
            # The exception text is not used: it can carry the URL, and Meta URLs can carry tokens.
            raise PlatformUnavailable(
                f"could not reach {self.label} ({endpoint}: {type(exc).__name__})"
            ) from exc
        return reply

    def _log_retry(self, endpoint: str) -> Any:
        def before_sleep(state: RetryCallState) -> None:
            outcome = state.outcome
            error = outcome.exception() if outcome is not None else None
            log.info(
                "adapter.http.retry",
                platform=self.label,
                endpoint=endpoint,
                account_id=self.account.account_id,
                attempt=state.attempt_number,
                reason=str(error) if isinstance(error, _TransientStatus) else type(error).__name__,
            )

        return before_sleep

    def _not_sent(self, endpoint: str, *, url: bool = False) -> RequestNotSent:
        # The exception's text is not used: it can quote the header, i.e. the token.
        if url:  # the configured API base, or an id no quoting could save
            return RequestNotSent(
                f"the request to {self.label} could not be sent ({endpoint}): its URL is not valid; "
                "nothing was sent, the operators have been alerted"
            )
        return RequestNotSent(
            f"the request to {self.label} could not be sent ({endpoint}): the account's token holds "
            "characters HTTP can't carry; nothing was sent, reconnect the account with a valid token"
        )

    def _build(
        self,
        method: str,
        url: str,
        endpoint: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | None,
    ) -> httpx.Request:
        """The request as it would go out, or `RequestNotSent` if it can't (before any budget)."""
        try:
            request = self.client.build_request(method, url, params=params, headers=headers, data=data)
        except _URL_ERRORS as exc:
            raise self._not_sent(endpoint, url=True) from exc
        except (*_LOCAL_ERRORS, ValueError, TypeError) as exc:
            raise self._not_sent(endpoint) from exc
        if request.url.scheme not in ("http", "https") or not request.url.host:
            raise self._not_sent(endpoint, url=True)
        if not all(
            _FIELD_NAME.fullmatch(name) and _FIELD_VALUE.fullmatch(value)
            for name, value in request.headers.raw
        ):
            raise self._not_sent(endpoint)
        return request

    def _once(
        self,
        method: str,
        url: str,
        endpoint: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
    ) -> Reply:
        request = self._build(method, url, endpoint, params, headers, data)
        self.budget.acquire(self.account)
        self.calls += 1
        response = self.client.send(request, auth=auth, stream=True)
        try:
            body = self._read_capped(response, endpoint)
            status, reply_headers = response.status_code, response.headers
        finally:
            response.close()
        parsed, is_json = parse_json(body)
        log.debug(
            "adapter.http.reply",
            platform=self.label,
            endpoint=endpoint,
            account_id=self.account.account_id,
            status=status,
        )
        return Reply(status, reply_headers, body, parsed, is_json, endpoint)

    def _read_capped(self, response: httpx.Response, endpoint: str) -> bytes:
        limit = self.policy.max_body_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise PlatformBroken(f"{self.label} sent an oversized reply ({endpoint})")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise PlatformBroken(f"{self.label} sent an oversized reply ({endpoint})")
            chunks.append(chunk)
        return b"".join(chunks)
