"""What every route's parameters share: text free of control characters, and one check that
refuses a query parameter the route does not take.

PostgreSQL text cannot hold NUL, and no id or URL of ours holds a control character, so such a
value is a 422 naming the parameter, not a database error. A misspelt query parameter
(`?account_id=` for `?accountId=`) would otherwise be ignored and widen the answer silently, so it
is a 422 naming it too, with the close known name when there is one.
"""

# No `from __future__ import annotations`: FastAPI reads the annotation of the dependency that
# `known_query_only` builds, which names a local variable, so it must be evaluated at definition.
import difflib
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from api.errors import InvalidParameter

# C0 controls and DEL; as a JSON Schema pattern too (ECMA-262 and Python read `\x` alike).
NO_CONTROL_PATTERN = r"^[^\x00-\x1f\x7f]*$"
NO_CONTROL_SCHEMA: dict[str, Any] = {"pattern": NO_CONTROL_PATTERN}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise PydanticCustomError(
            "control_character", "must not contain control characters (U+0000 to U+001F, U+007F)"
        )
    return value


# A string parameter or field that may not hold a control character (the schema says so too,
# through NO_CONTROL_SCHEMA on the parameter or field).
PlainText = Annotated[str, AfterValidator(_no_control_characters)]


def _fold(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def _shown(name: str) -> str:
    """A name as the message quotes it: control characters escaped, never echoed raw."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", name)[:100]


def unknown_parameter_message(name: str, known: list[str]) -> str:
    """ "did you mean" names the known parameter equal up to case and `_`/`-`, or a close one."""
    message = f"Unknown query parameter '{_shown(name)}'"
    folded = {_fold(k): k for k in known}
    close = difflib.get_close_matches(_fold(name), list(folded), n=1, cutoff=0.75)
    if close:
        return f"{message}; did you mean '{folded[close[0]]}'?"
    if known:
        return f"{message}; this route takes {', '.join(known)}."
    return f"{message}; this route takes no query parameters."


def _query_names(dependant: Dependant) -> list[str]:
    """The query parameters of a route and of every dependency it has, as clients spell them."""
    names = [param.alias for param in dependant.query_params]
    for sub in dependant.dependencies:
        names += [name for name in _query_names(sub) if name not in names]
    return names


_NAMES_ATTRIBUTE = "_dravo_query_names"


def _known_names(route: APIRoute) -> list[str]:
    """Computed once per route and kept on it (a route is as long-lived as its app)."""
    names: list[str] | None = getattr(route, _NAMES_ATTRIBUTE, None)
    if names is None:
        names = _query_names(route.dependant)
        setattr(route, _NAMES_ATTRIBUTE, names)
    return names


async def reject_unknown_query(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    known = _known_names(route)
    for name in request.query_params:
        if name not in known:
            raise InvalidParameter(unknown_parameter_message(name, known), param=_shown(name))


def known_query_only(*, after: Callable[..., Any] | None = None) -> list[Any]:
    """For `APIRouter(dependencies=...)`: every route of the router checks its query string.
    `after`: the routers' authentication dependency, run first (FastAPI runs it once per request),
    so that without valid credentials the answer is 401 or 403 whatever the query, as it is for a
    bad parameter value."""
    if after is None:
        return [Depends(reject_unknown_query)]

    async def authenticated_then_checked(request: Request, _: Annotated[object, Depends(after)]) -> None:
        await reject_unknown_query(request)

    return [Depends(authenticated_then_checked)]
