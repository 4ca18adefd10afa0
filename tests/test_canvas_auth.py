"""The canvas and the operations view with authentication on, in a real headless Chromium.

The pages load without a token (they hold no data); the canvas asks for one because the
card declares bearer auth, and every A2A and ``/v1`` call then carries it. A one-agent
question shows the routing decision with its score breakdown and a schema that has the
tables the user named. The operations view refuses a user's token and draws an admin's
figures from the same usage the server recorded.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlglot
from browser import (
    By,
    WebDriver,
    WebElement,
    chromium,
    needs_chromium,
    pane_text,
    panes,
    screenshots_dir,
    task_state,
    type_into,
    wait_for,
)
from conftest import make_settings
from gemini_stub import GeminiStub
from sqlglot import exp
from support import LiveServer, free_port, serving

from youmeyou.app import Models, build_app
from youmeyou.auth import mint_token

pytestmark = needs_chromium

SECRET = f"canvas-secret-{uuid.uuid4().hex}{uuid.uuid4().hex}"
USER = f"reader-{uuid.uuid4().hex[:6]}"
QUESTION = "postgres schema for a lending library: books, members and loans"
CODE_QUESTION = "python func slugify(title) -> str, lowercase words joined by dashes"


@pytest.fixture(scope="module")
def stub() -> Iterator[GeminiStub]:
    with GeminiStub() as running:
        yield running


@pytest.fixture(scope="module")
async def locked_server(
    models: Models, stub: GeminiStub, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    port = free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("canvas-auth-var"),
        port,
        auth="jwt",
        jwt_secret=SECRET,
        gemini_api_key="platform-key-ops",
        gemini_base_url=stub.base_url,
        enterprise_users=[USER],
    )
    async with serving(build_app(settings, models), port) as live:
        yield live


def tables_of(schema: str) -> set[str]:
    parsed = sqlglot.parse(schema, read="postgres")
    return {
        table.name.lower()
        for statement in parsed
        if isinstance(statement, exp.Create) and statement.kind == "TABLE"
        for table in [statement.find(exp.Table)]
        if table is not None
    }


def ask_with_a_token(driver: WebDriver, url: str, shots: Path) -> None:
    driver.get(f"{url}/ui")
    token = wait_for(driver, lambda d: d.find_elements(By.ID, "token"))[0]
    assert not driver.find_elements(By.ID, "user")  # with auth on, nobody names themselves
    token.send_keys(mint_token(SECRET, USER) + "\t")
    type_into(driver, "#prompt", QUESTION)
    wait_for(driver, lambda d: d.find_element(By.ID, "send").is_enabled())
    driver.find_element(By.ID, "send").click()
    wait_for(driver, lambda d: task_state(d) == "TASK_STATE_COMPLETED", 180)
    table = driver.find_element(By.CSS_SELECTOR, "#status-log table.routing")
    assert table.get_attribute("data-agent") == "database"
    chosen = table.find_element(By.CSS_SELECTOR, "tr.chosen").text
    assert chosen.startswith("database"), chosen
    headers = [th.text for th in table.find_elements(By.TAG_NAME, "th")]
    assert {"semantic", "history", "total"} <= set(headers), headers
    schema = pane_text(panes(driver)["schema.sql"])
    named = tables_of(schema)
    for wanted in ("book", "member", "loan"):
        assert any(wanted in name for name in named), (wanted, named)
    driver.save_screenshot(str(shots / "canvas-schema.png"))
    # A second question, one the code agent writes with the (hosted) model.
    type_into(driver, "#prompt", CODE_QUESTION)
    wait_for(driver, lambda d: d.find_element(By.ID, "send").is_enabled())
    driver.find_element(By.ID, "send").click()
    wait_for(
        driver, lambda d: "src/" in " ".join(panes(d)) and task_state(d).endswith("COMPLETED"), 180
    )
    # The list is drawn again once the stream ends: wait for that, not its first drawing.
    listed = wait_for(driver, lambda d: tasks_listed(d, at_least=2))
    assert len(listed) == 2 and QUESTION[:40] in listed[-1].text, [i.text for i in listed]


def usage_of(url: str, token: str) -> dict[str, Any]:
    reply = httpx.get(f"{url}/v1/usage", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert reply.status_code == 200, reply.text
    totals: dict[str, Any] = reply.json()["totals"]
    return totals


def bars(driver: WebDriver, chart: str) -> dict[str, tuple[float, str]]:
    """label -> (value, the text drawn) of each bar of one chart of the operations view."""
    found = driver.find_elements(By.CSS_SELECTOR, f"#{chart} g[data-label]")
    return {
        str(g.get_attribute("data-label")): (float(g.get_attribute("data-value") or "nan"), g.text)
        for g in found
    }


def operations(driver: WebDriver, url: str, shots: Path) -> None:
    driver.get(f"{url}/ui/ops")
    type_into(driver, "#token", mint_token(SECRET, USER) + "\t")
    refused = wait_for(driver, lambda d: d.find_elements(By.ID, "error"))[0]
    assert "admin" in refused.text, refused.text
    type_into(driver, "#token", mint_token(SECRET, "operator", roles=["admin"]) + "\t")
    wait_for(driver, lambda d: d.find_element(By.ID, "ops").get_attribute("data-loaded") == "true")
    spent = usage_of(url, mint_token(SECRET, USER))
    usd, drawn = bars(driver, "cost-by-user")[USER]
    assert spent["calls"] >= 1 and usd == pytest.approx(spent["usd"]), (usd, spent)
    assert f"{spent['tokens_in']} in / {spent['tokens_out']} out" in drawn, (drawn, spent)
    states = bars(driver, "tasks-by-state")
    assert states["completed"][0] >= 2, states
    routed = bars(driver, "routing-margins")
    assert any(label.startswith("database") for label in routed), routed
    driver.save_screenshot(str(shots / "ops.png"))


def with_browser(steps: Callable[[WebDriver, str, Path], None], url: str, shots: Path) -> None:
    with chromium() as driver:
        steps(driver, url, shots)


async def test_the_canvas_with_a_token(locked_server: LiveServer, tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=locked_server.url) as http:
        assert (await http.get("/ui")).status_code == 200  # the page itself is public
        assert (await http.get("/v1/usage")).status_code == 401  # its data is not
    await asyncio.to_thread(
        with_browser, ask_with_a_token, locked_server.url, screenshots_dir(tmp_path)
    )


async def test_the_operations_view_is_for_admins(locked_server: LiveServer, tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=locked_server.url) as http:
        assert (await http.get("/ui/ops")).status_code == 200
        assert (await http.get("/v1/ops")).status_code == 401
    # After the question above (the module's tests run in order): its usage is there to draw.
    await asyncio.to_thread(with_browser, operations, locked_server.url, screenshots_dir(tmp_path))


def tasks_listed(driver: WebDriver, *, at_least: int) -> list[WebElement] | None:
    listed = driver.find_elements(By.CSS_SELECTOR, "#conversations [data-task-id]")
    return listed if len(listed) >= at_least else None
