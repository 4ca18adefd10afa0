"""The card loader: real cards load; broken ones fail naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from agents.cards import CardError, load_card, load_cards
from youmeyou.settings import Settings

if TYPE_CHECKING:
    from youmeyou.app import Models

CARDS = Settings().cards_dir


def _good() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CARDS / "database.json").read_text())
    return data


def _write(tmp_path: Path, data: object, name: str = "broken.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_shipped_cards_load_and_have_four_to_eight_examples_per_skill() -> None:
    cards = load_cards(CARDS)
    assert set(cards) == {"orchestrator", "architecture", "database", "code", "validator"}
    for card_file in cards.values():
        card = card_file.card
        assert card.name and card.description and card.version
        assert card.capabilities.streaming
        assert card.default_input_modes and card.default_output_modes
        for skill in card.skills:
            assert skill.id and skill.name and skill.description and skill.tags
            assert 4 <= len(skill.examples) <= 8


def test_served_card_gets_jsonrpc_and_rest_interfaces_and_a_v03_one() -> None:
    card = load_cards(CARDS)["code"].served_at("http://example.test:9/agents/code")
    assert [(i.protocol_binding, i.url, i.protocol_version) for i in card.supported_interfaces] == [
        ("JSONRPC", "http://example.test:9/agents/code/", "1.0"),
        ("HTTP+JSON", "http://example.test:9/agents/code/rest", "1.0"),
        ("JSONRPC", "http://example.test:9/agents/code/", "0.3"),
    ]


def test_cards_served_on_an_ipv6_host_have_urls_a_client_can_use() -> None:
    settings = Settings(host="::1", port=8800, grpc_port=8801)
    assert settings.base_url == "http://[::1]:8800"
    assert settings.grpc_url == "[::1]:8801"  # gRPC's own target form
    card = load_cards(CARDS)["code"].served_at(f"{settings.base_url}/agents/code")
    assert card.supported_interfaces[0].url == "http://[::1]:8800/agents/code/"


def _mutate(**changes: Any) -> dict[str, Any]:
    data = _good()
    for dotted, value in changes.items():
        target: Any = data
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is ...:
            del target[last]
        else:
            target[last] = value
    return data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_mutate(description=...), "description"),
        (_mutate(skills__0__examples=["just one"]), "skills[0].examples"),
        (_mutate(skills__1__tags=[]), "skills[1].tags"),
        (_mutate(skills__0__exampels=["typo"]), "skills[0].exampels"),
        (_mutate(capabilities={"streaming": False}), "capabilities.streaming"),
        (_mutate(capabilities={"streaming": "yes"}), "capabilities.streaming"),
        (_mutate(skills__2__id="schema-design"), "skills[2].id"),
        (_mutate(skills=[]), "skills"),
        (_mutate(defaultInputModes=...), "default_input_modes"),
    ],
)
def test_broken_card_names_file_and_field(tmp_path: Path, data: dict[str, Any], field: str) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(CardError) as caught:
        load_card(path)
    assert caught.value.field == field
    assert str(path) in str(caught.value)


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "{ not json")
    with pytest.raises(CardError, match="not valid JSON") as caught:
        load_card(path)
    assert caught.value.path == path


def test_broken_card_stops_start_up(tmp_path: Path, models: Models) -> None:
    from youmeyou.app import build_app

    for name in ("architecture", "database", "code", "validator", "orchestrator"):
        (tmp_path / f"{name}.json").write_text((CARDS / f"{name}.json").read_text())
    _write(tmp_path, _mutate(skills__0__examples=[]), "database.json")
    with pytest.raises(CardError, match=r"database\.json.*skills\[0\]\.examples"):
        build_app(Settings(cards_dir=tmp_path, data_dir=tmp_path / "var"), models)


def test_empty_card_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="no"):
        load_cards(tmp_path)
