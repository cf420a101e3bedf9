"""Per-platform facts live in the platform's registry entry or adapter class, nowhere else.

The adapter factory is `AdapterBase.build` unless the adapter needs more (Instagram), a read's
`FetchResult` is built in one place (`adapters.flow.fetch_result`), and the connect rules (the form
of account ids, the logins) are the entry's: the models that check a connect, and the JSON Schema
the API publishes, derive them and name no platform.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import httpx
import pytest

from adapters.base import PLATFORMS, PlatformConfig
from adapters.flow import AdapterBase, fetch_result
from adapters.input_rules import account_id_problem
from adapters.instagram import InstagramAdapter
from adapters.registry import adapter_factory, build_adapters
from adapters.values import Normalised
from models.admin import AdminError, normalise_platform_account_id, resolve_auth
from models.connect_input import ConnectFields, platform_rules
from ops.foundation import platforms
from ops.foundation.platforms import AccountIds, Login, Spelling

ROOT = Path(__file__).resolve().parents[3]
# A sixth platform with rules of its own: one spelling stored for two, and two logins.
SIXTH = dataclasses.replace(
    platforms.spec("tiktok"),
    name="mastodon",
    label="Mastodon",
    account_ids=AccountIds(
        rule="must be the numeric id or acct:ID",
        spellings=(Spelling(r"(?:acct:)?([0-9]+)", r"acct:\1"),),
    ),
    logins=(Login("oauth", "OAuth"), Login("app", "an app token")),
)


def test_only_instagram_overrides_the_default_factory() -> None:
    for spec in platforms.PLATFORMS:
        factory = adapter_factory(spec.name)
        default = getattr(factory, "__func__", None) is AdapterBase.build.__func__  # type: ignore[attr-defined]
        assert default == (spec.name != "instagram"), spec.name


def test_the_default_factory_gives_each_adapter_its_config() -> None:
    configs = {name: PlatformConfig(platform=name, api_base=f"https://{name}.test") for name in PLATFORMS}
    with httpx.Client() as client:
        adapters = build_adapters(configs, client)
    for name, adapter in adapters.items():
        assert adapter.platform == name
        assert isinstance(adapter, AdapterBase)
        assert adapter._config is configs[name]
    instagram = adapters["instagram"]
    assert isinstance(instagram, InstagramAdapter)
    assert instagram._facebook is configs["facebook"]


def test_fetch_result_is_complete_only_without_warnings() -> None:
    out = Normalised(metrics={"a": 1}, handle="h", platform_account_id="1")
    whole = fetch_result(out)
    assert (whole.metrics, whole.warnings, whole.complete, whole.handle) == ({"a": 1}, (), True, "h")
    assert whole.platform_account_id == "1"
    out.warnings.append("b unreadable")
    assert fetch_result(out).warnings == ("b unreadable",) and not fetch_result(out).complete
    noted = fetch_result(out, ["b unreadable", "c retired"], complete=True)
    assert noted.warnings == ("b unreadable", "c retired") and noted.complete


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2414183", "urn:li:organization:2414183"),
        (" urn:li:organization:7 ", "urn:li:organization:7"),
        ("urn:li:person:AbC-12_x", "urn:li:person:AbC-12_x"),
        ("acme-corp", None),
        ("urn:li:organization:", None),
        ("urn:li:share:1", None),
    ],
)
def test_linkedin_spellings_come_from_its_entry(given: str, stored: str | None) -> None:
    ids = platforms.spec("linkedin").account_ids
    assert ids is not None
    assert ids.stored(given) == stored
    # The ways in check the same form, and the document's pattern says it.
    assert (account_id_problem("linkedin", given) is None) == (stored is not None)
    assert bool(re.search(ids.json_pattern, given)) == (stored is not None)


def test_a_new_entrys_rules_reach_the_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(platforms._BY_NAME, "mastodon", SIXTH)
    assert normalise_platform_account_id("mastodon", " 109 ") == "acct:109"
    assert normalise_platform_account_id("mastodon", "acct:109") == "acct:109"
    with pytest.raises(AdminError, match="Mastodon account id must be the numeric id or acct:ID"):
        normalise_platform_account_id("mastodon", "@dravo")
    assert account_id_problem("mastodon", "@dravo") == "must be the numeric id or acct:ID"
    assert resolve_auth("mastodon", None) == "oauth"
    assert resolve_auth("mastodon", "app") == "app"
    with pytest.raises(AdminError, match=r"'oauth' \(OAuth\) or 'app' \(an app token\)"):
        resolve_auth("mastodon", "default")
    assert platform_rules(SIXTH) == {
        "properties": {
            "platform": {"const": "mastodon"},
            "platform_account_id": {"pattern": r"^\s*(?:(?:(?:acct:)?([0-9]+)))\s*$"},
            "auth": {"enum": ["oauth", "app", None]},
        }
    }


def test_the_connect_schema_has_one_branch_per_registry_entry() -> None:
    schema = ConnectFields.model_json_schema()
    assert schema["anyOf"] == [platform_rules(spec) for spec in platforms.PLATFORMS]
    assert [b["properties"]["platform"] for b in schema["anyOf"]] == [
        {"const": name} for name in platforms.PLATFORM_NAMES
    ]
    instagram = schema["anyOf"][platforms.PLATFORM_NAMES.index("instagram")]["properties"]
    assert instagram["auth"] == {"enum": ["instagram", "facebook", None]}


@pytest.mark.parametrize("module", ["models/admin.py", "models/connect_input.py"])
def test_the_connect_models_name_no_platform(module: str) -> None:
    tree = ast.parse((ROOT / module).read_text())
    named = sorted(
        f"{node.lineno}: {node.value}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in platforms.PLATFORM_NAMES
    )
    assert not named, f"{module} names platforms (their rules belong in the registry entry): {named}"
