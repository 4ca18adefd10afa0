"""The canvas in a real headless Chromium: the seed's ecommerce journey as a user clicks it.

The page is the bundle ``make install`` builds from ``ui/``, served by the server itself; it
talks A2A (v1.0 JSON-RPC streaming, @a2a-js/sdk) to the orchestrator. A user types the
request, watches the plan and the system diagram arrive, builds three of the four
components, sees the validator's finding repaired, previews and cascades a change of the
planning step, rates the result, and reads it all again at a phone's width. Each check is
on what the page shows against what the server sent: the diagram's nodes are the
artifact's, a code pane's text is the file and parses, a finding names the flawed file.
"""

from __future__ import annotations

import ast
import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import (
    PHONE,
    By,
    WebDriver,
    as_phone,
    chromium,
    needs_chromium,
    pane_text,
    panes,
    screenshots_dir,
    task_id,
    task_state,
    type_into,
    wait_for,
)
from conftest import make_settings
from gemini_stub import GeminiStub
from support import LiveServer, free_port, serving
from test_progressive_e2e import JOURNEY, USER, model_reply

from youmeyou.app import Models, build_app

pytestmark = needs_chromium

COMPLETED, INPUT_REQUIRED = "TASK_STATE_COMPLETED", "TASK_STATE_INPUT_REQUIRED"


@pytest.fixture(scope="module")
def stub() -> Iterator[GeminiStub]:
    with GeminiStub(reply=model_reply) as running:
        yield running


@pytest.fixture(scope="module")
async def canvas_server(
    models: Models, stub: GeminiStub, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    port = free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("canvas-var"),
        port,
        gemini_api_key="platform-key-canvas",
        gemini_base_url=stub.base_url,
        enterprise_users=[USER],
    )
    async with serving(build_app(settings, models), port) as live:
        yield live


def task_of(url: str, task: str) -> dict[str, Any]:
    """The task as the server keeps it (JSON-RPC GetTask), to hold the page against."""
    reply = httpx.post(
        url,
        json={
            "jsonrpc": "2.0",
            "id": str(uuid.uuid4()),
            "method": "GetTask",
            "params": {"id": task},
        },
        headers={"X-User-Id": USER, "A2A-Version": "1.0"},
        timeout=30,
    )
    result: dict[str, Any] = reply.json()["result"]
    return result


def artifact_texts(task: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """name -> (artifactId, text) of a task's artifacts."""
    return {
        a["name"]: (a["artifactId"], "".join(p.get("text", "") for p in a["parts"]))
        for a in task.get("artifacts", [])
    }


def plan_and_diagram(driver: WebDriver, url: str, shots: Path) -> str:
    driver.get(f"{url}/ui")
    type_into(driver, "#user", USER + "\t")
    wait_for(driver, lambda d: d.find_element(By.ID, "send") is not None)
    type_into(driver, "#prompt", JOURNEY)
    driver.find_element(By.ID, "send").click()
    wait_for(driver, lambda d: task_state(d) == INPUT_REQUIRED, 180)
    planned = task_of(url, task_id(driver))
    sent = artifact_texts(planned)
    diagram = json.loads(sent["architecture.canvas.json"][1])
    drawn = {
        n.get_attribute("data-node-id")
        for n in driver.find_elements(By.CSS_SELECTOR, "svg.diagram [data-node-id]")
    }
    assert drawn == {node["id"] for node in diagram["nodes"]}, drawn
    assert len(drawn) >= 4
    shown = panes(driver)
    assert shown["plan.md"].get_attribute("data-artifact-id") == sent["plan.md"][0]
    assert pane_text(shown["plan.md"]) == sent["plan.md"][1]
    for component in ("auth", "catalog", "cart", "payment"):
        assert f"`{component}`" in pane_text(shown["plan.md"])
    offered = [
        box.get_attribute("value")
        for box in driver.find_elements(By.CSS_SELECTOR, "#approval input[name=component]")
    ]
    assert {"auth", "catalog", "cart", "payment"} <= set(offered), offered
    steps = driver.find_elements(By.CSS_SELECTOR, ".steps [data-step-id]")
    assert {"analysis", "planning", "validation"} <= {
        s.get_attribute("data-step-id") for s in steps
    }
    driver.save_screenshot(str(shots / "canvas-plan.png"))
    return task_id(driver)


def build_three(driver: WebDriver, url: str, shots: Path, planned: str) -> dict[str, Any]:
    driver.find_element(By.CSS_SELECTOR, "#approval input[value=catalog]").click()
    driver.find_element(By.ID, "approve-selected").click()
    wait_for(driver, lambda d: task_state(d) == COMPLETED, 300)
    assert task_id(driver) == planned  # the approval continued the same task
    built = task_of(url, planned)
    sent = artifact_texts(built)
    shown = panes(driver)
    for module in ("auth", "cart", "payment"):
        name = f"src/{module}/service.py"
        assert pane_text(shown[name]) == sent[name][1], name
        ast.parse(pane_text(shown[name]))  # what the user reads is Python that parses
    assert not any("catalog" in name for name in shown)
    # The validator's finding on the flawed payment code, then its repair, drawn in place.
    payment = shown["src/payment/service.py"]
    assert "md5" not in pane_text(payment)
    assert "v2" in payment.find_element(By.CSS_SELECTOR, ".badges").text
    findings = driver.find_element(By.CSS_SELECTOR, ".findings")
    assert findings.get_attribute("data-passed") == "true"
    report = json.loads(sent["validation.json"][1])
    assert report["passed"] is True
    statuses = [
        s.get_attribute("data-status")
        for s in driver.find_elements(By.CSS_SELECTOR, ".steps [data-step-id]")
    ]
    assert "running" not in statuses and statuses.count("done") >= 8, statuses
    cost = driver.find_element(By.CSS_SELECTOR, "#cost [data-usd]")
    assert float(cost.get_attribute("data-usd") or "0") > 0
    assert "## Objective" in pane_text(shown["summary.md"])
    driver.save_screenshot(str(shots / "canvas-completed.png"))
    return built


def change_the_plan(driver: WebDriver, url: str, built: dict[str, Any]) -> None:
    before = artifact_texts(built)
    driver.find_element(By.CSS_SELECTOR, "#step-select option[value=planning]").click()
    type_into(driver, "#step-stack", "Go, PostgreSQL")
    type_into(driver, "#step-instructions", "Use gRPC between services.")
    driver.find_element(By.CSS_SELECTOR, "#step-change input[value=preview]").click()
    driver.find_element(By.ID, "step-send").click()
    wait_for(
        driver,
        lambda d: "modification-preview.json" in panes(d) and task_state(d) == COMPLETED,
        120,
    )
    impact = json.loads(pane_text(panes(driver)["modification-preview.json"]))
    assert impact["affected"][0]["id"] == "planning"
    assert "catalog-code" not in [s["id"] for s in impact["affected"]]
    assert pane_text(panes(driver)["plan.md"]) == before["plan.md"][1]  # a preview changes nothing
    previewed = task_id(driver)
    driver.find_element(By.CSS_SELECTOR, "#step-select option[value=planning]").click()
    type_into(driver, "#step-stack", "Go, PostgreSQL")
    type_into(driver, "#step-instructions", "Use gRPC between services.")
    driver.find_element(By.CSS_SELECTOR, "#step-change input[value=cascade]").click()
    driver.find_element(By.ID, "step-send").click()
    wait_for(driver, lambda d: task_id(d) != previewed and task_state(d) == COMPLETED, 300)
    shown = panes(driver)
    assert "Go, PostgreSQL" in pane_text(shown["plan.md"])
    for name in ("plan.md", "src/auth/service.py", "db/cart.sql"):
        # Replaced in place: the same artifact id, its pane now on a later version.
        assert shown[name].get_attribute("data-artifact-id") == before[name][0], name
    driver.find_element(By.CSS_SELECTOR, "#step-select option[value=planning]").click()
    versions = driver.find_elements(By.CSS_SELECTOR, ".versions[data-step-id=planning] figure")
    numbers = {v.get_attribute("data-version") for v in versions}
    assert {"1", "2"} <= numbers, numbers
    texts = [v.find_element(By.TAG_NAME, "pre").text for v in versions]
    assert any("Go, PostgreSQL" in t for t in texts) and not all(
        "Go, PostgreSQL" in t for t in texts
    )


def rate_and_reopen(driver: WebDriver, shots: Path, planned: str) -> None:
    driver.find_element(By.CSS_SELECTOR, "#rating [data-rating='5']").click()
    rated = wait_for(driver, lambda d: d.find_elements(By.ID, "rated"), 30)
    assert "Rated 5/5" in rated[0].text, rated[0].text
    listed = wait_for(
        driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#conversations [data-task-id]")
    )
    ids = [item.get_attribute("data-task-id") for item in listed]
    assert planned in ids and len(ids) >= 3, ids
    driver.find_element(
        By.CSS_SELECTOR, f"#conversations [data-task-id='{planned}'] button"
    ).click()
    wait_for(driver, lambda d: task_id(d) == planned)
    as_phone(driver)
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE[0] + 16, width  # nothing wider than the phone but a pane's own scroll
    assert driver.find_element(By.ID, "prompt").is_displayed()
    driver.save_screenshot(str(shots / "canvas-phone.png"))
    as_phone(driver, on=False)


def journey(url: str, shots: Path) -> None:
    with chromium() as driver:
        planned = plan_and_diagram(driver, url, shots)
        built = build_three(driver, url, shots, planned)
        change_the_plan(driver, url, built)
        rate_and_reopen(driver, shots, planned)


async def test_the_ecommerce_journey_on_the_canvas(
    canvas_server: LiveServer, tmp_path: Path
) -> None:
    await asyncio.to_thread(journey, canvas_server.url, screenshots_dir(tmp_path))


async def test_the_pages_are_public_and_locked_down(canvas_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=canvas_server.url) as http:
        page = await http.get("/ui")
        assert page.status_code == 200 and '<div id="app">' in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        script = await http.get("/ui/assets/canvas.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert (await http.get("/ui/ops")).status_code == 200
        for escape in ("/ui/assets/..%2F..%2Fpyproject.toml", "/ui/assets/%2E%2E/%2E%2E/ui.py"):
            outside = await http.get(escape)
            assert outside.status_code == 404, (escape, outside.status_code)
