"""The input rules every way in shares (adapters.input_rules), and their JSON Schema twins."""

from __future__ import annotations

import re
import unicodedata

import pytest

from adapters.input_rules import (
    DISPLAY_CHARS,
    HEADER_SAFE_PATTERN,
    account_id_problem,
    connection_problem,
    display_problem,
    token_problem,
)

SECRET = "act.secret-value"


@pytest.mark.parametrize(
    "token",
    [
        "EAAGm0PX4ZCpsBAKZAabc123",  # Meta
        "act.1a2B3c4d!5925.va",  # TikTok's carry `!`
        "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI%3DEUifiRBkKG5E2Xz",  # X app
        "AQV-abc_def.ghi~jkl+mno/pqr==",  # RFC 6750 b64token
        "  padded-by-a-csv-cell\n",  # surrounding whitespace is stripped, as before
    ],
)
def test_real_tokens_pass(token: str) -> None:
    assert token_problem(token) is None
    assert re.fullmatch(HEADER_SAFE_PATTERN, token)


@pytest.mark.parametrize(
    "token",
    [f"{SECRET}\nX: 1", f"{SECRET}\rX", f"{SECRET} more", f"{SECRET}\tX", f"{SECRET}\u00e9", "\u200b", ""],
)
def test_unsendable_tokens_are_refused_without_quoting_them(token: str) -> None:
    problem = token_problem(token)
    assert problem is not None and SECRET not in problem
    assert not re.fullmatch(HEADER_SAFE_PATTERN, token)


@pytest.mark.parametrize(
    "text", ["a\x00b", "esc\x1b[2J", "bidi\u202eevil", "zw\u200bj", "tag\U000e0041", "x\n"]
)
def test_control_and_format_characters_are_refused_in_display_strings(text: str) -> None:
    assert display_problem(text) is not None


@pytest.mark.parametrize("text", ["Dravo", "dravo.official", "Café 😀", "日本語", "  spaced  "])
def test_ordinary_display_strings_pass(text: str) -> None:
    assert display_problem(text) is None


def test_the_schema_pattern_names_exactly_the_bmp_control_and_format_characters() -> None:
    pattern = re.compile(f"[{DISPLAY_CHARS}]")
    for code in range(0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        assert bool(pattern.match(char)) == (unicodedata.category(char) in ("Cc", "Cf")), hex(code)


def test_graph_ids_are_numeric_other_ids_only_printable() -> None:
    assert account_id_problem("instagram", "17841400000000001") is None
    assert account_id_problem("facebook", " 1122334455 ") is None
    for bad in ("123/../../me", "1e5", "١٢٣", "me"):  # Arabic-Indic digits are digits, not Graph ids
        assert account_id_problem("facebook", bad) is not None
    assert account_id_problem("tiktok", "-000OaFmLt_x") is None
    assert account_id_problem("x", "12\x1b3") is not None


def test_connection_problem_names_the_first_bad_field() -> None:
    assert connection_problem("x", "1", SECRET) is None
    refused = connection_problem("x", "1", SECRET, f"{SECRET}\nX: 1")
    assert refused is not None and refused[0] == "refresh_token" and SECRET not in refused[1]
    refused = connection_problem("facebook", "me", f"{SECRET}\nX: 1")
    assert refused is not None and refused[0] == "platform_account_id"
    assert connection_problem("x", "1", SECRET, None, "a\u202eb") == ("handle", display_problem("\u202e"))
