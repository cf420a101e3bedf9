"""Every platform's classifier has one signature, and its status/code tables agree with it."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import pytest

from adapters import facebook, instagram, linkedin, tiktok, x
from adapters.classification import Classifier, from_table
from tests.unit.adapters.recorded_bodies import make_reply

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

# Typed as the Protocol: mypy --strict checks each module's classify against it.
CLASSIFIERS: dict[str, Classifier] = {
    "instagram": instagram.classify,
    "facebook": facebook.classify,
    "x": x.classify,
    "linkedin": linkedin.classify,
    "tiktok": tiktok.classify,
}


@pytest.mark.parametrize("platform", sorted(CLASSIFIERS))
def test_one_signature(platform: str) -> None:
    parameters = inspect.signature(CLASSIFIERS[platform]).parameters
    assert [(p.name, p.kind) for p in parameters.values()] == [
        ("reply", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("now", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("requested", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("edge", inspect.Parameter.KEYWORD_ONLY),
    ]


@pytest.mark.parametrize(
    ("classify", "status"),
    [(x.classify, s) for s in x.STATUS_ERRORS] + [(linkedin.classify, s) for s in linkedin.STATUS_ERRORS],
)
def test_a_status_in_the_table_decides_whatever_the_body(classify: Classifier, status: int) -> None:
    expected = from_table(x.STATUS_ERRORS if classify is x.classify else linkedin.STATUS_ERRORS, status)
    for body in ({}, {"message": "anything", "code": "ANY"}, b"not json"):
        error = classify(make_reply(status, body), NOW)
        assert type(error) is type(expected) and error is not None and expected is not None
        assert error.message == expected.message


@pytest.mark.parametrize("code", sorted(tiktok.CODE_ERRORS))
def test_a_tiktok_code_in_the_table_decides(code: str) -> None:
    body = {"data": {}, "error": {"code": code, "message": "", "log_id": "1"}}
    error = tiktok.classify(make_reply(401, body), NOW)
    expected = from_table(tiktok.CODE_ERRORS, code)
    assert type(error) is type(expected) and error is not None and expected is not None


def test_a_table_makes_a_fresh_error_each_time() -> None:
    # An error carries per-raise state (`calls`, a traceback): one instance must never be shared.
    assert from_table(x.STATUS_ERRORS, 401) is not from_table(x.STATUS_ERRORS, 401)
    assert from_table(x.STATUS_ERRORS, 404) is None
