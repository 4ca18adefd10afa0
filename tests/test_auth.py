"""JWT bearer authentication on a live server, and per-user isolation of everything a user owns.

One server per module holds every kind of key at once: an HS256 secret, an ES256 public key
(PEM) and an RS256 key in a JWKS file, with an issuer and an audience to check.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from a2a.client import ClientCallContext, ClientConfig, create_client
from a2a.types import SendMessageRequest, StreamResponse
from conftest import make_settings
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from support import COMPLETED, LiveServer, artifacts, final_state, free_port, serving, user_message
from typer.testing import CliRunner

from agents.cards import load_cards
from youmeyou.app import Models, build_app
from youmeyou.auth import AuthConfigError, JwtVerifier, mint_token
from youmeyou.cli import app as cli
from youmeyou.settings import Settings

SECRET = f"test-secret-{uuid.uuid4().hex}{uuid.uuid4().hex}"
ISSUER = "https://issuer.youmeyou.test"
AUDIENCE = "youmeyou-tests"
RSA_KID = "rsa-test-1"
VALIDATOR = "/agents/validator"
CHECK_JSON = 'Check this JSON: {"a": 1}'
TASK_NOT_FOUND = -32001

EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def token(sub: str, *, key: Any = SECRET, algorithm: str = "HS256", **claims: Any) -> str:
    """A token for ``sub``, valid for this server unless ``claims`` say otherwise."""
    now = int(time.time())
    body: dict[str, Any] = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now}
    body["exp"] = now + 600
    body.update(claims)
    body = {name: value for name, value in body.items() if value is not None}
    headers = {"kid": RSA_KID} if algorithm == "RS256" else None
    return jwt.encode(body, key, algorithm=algorithm, headers=headers)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def auth_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("auth-var")
    public_pem = EC_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    jwks = data_dir / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": RSA_KID, "use": "sig"}]}))
    return make_settings(
        data_dir,
        free_port(),
        auth="jwt",
        jwt_secret=SECRET,
        jwt_public_key=public_pem.decode(),
        jwt_jwks_file=jwks,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
    )


@pytest.fixture(scope="module")
async def auth_server(models: Models, auth_settings: Settings) -> AsyncIterator[LiveServer]:
    async with serving(build_app(auth_settings, models), auth_settings.port) as live:
        yield live


async def stream_as(
    url: str, text: str, headers: dict[str, str], metadata: dict[str, Any] | None = None
) -> list[StreamResponse]:
    async with httpx.AsyncClient(timeout=120) as http:
        client = await create_client(url, ClientConfig(streaming=True, httpx_client=http))
        context = ClientCallContext(service_parameters=headers)
        request = SendMessageRequest(message=user_message(text, metadata=metadata))
        return [event async for event in client.send_message(request, context=context)]


def rpc_body(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


# Who may call, and who they are.


async def test_hs256_token_streams_a_task_owned_by_its_subject(auth_server: LiveServer) -> None:
    alice, mallory = unique("alice"), unique("mallory")
    # The X-User-Id header claims someone else; with authentication on it counts for nothing.
    headers = {**bearer(token(alice)), "X-User-Id": mallory}
    events = await stream_as(f"{auth_server.url}{VALIDATOR}", CHECK_JSON, headers)
    assert final_state(events) == COMPLETED
    assert json.loads(artifacts(events)["validation.json"]["text"])["valid"] is True
    task_id = events[0].task.id
    async with httpx.AsyncClient(base_url=auth_server.url) as http:
        url = f"{VALIDATOR}/tasks/{task_id}"
        assert (await http.get(url, headers=bearer(token(alice)))).status_code == 200
        assert (await http.get(url, headers=bearer(token(mallory)))).status_code == 404
        usage = await http.get("/v1/usage", headers={**bearer(token(alice)), "X-User-Id": mallory})
    assert usage.status_code == 200
    assert usage.json()["user"] == alice


def _refused_tokens() -> dict[str, str | None]:
    other_ec = ec.generate_private_key(ec.SECP256R1())
    return {
        "missing": None,
        "garbage": "not-a-jwt",
        "expired": token("eve", exp=int(time.time()) - 120, iat=int(time.time()) - 720),
        "wrong-issuer": token("eve", iss="https://elsewhere.test"),
        "wrong-audience": token("eve", aud="someone-else"),
        "no-exp": token("eve", exp=None),
        "wrong-secret": token("eve", key=f"another-{SECRET}"),
        "unknown-ec-key": token("eve", key=other_ec, algorithm="ES256"),
        "alg-none": jwt.encode({"sub": "eve", "exp": int(time.time()) + 600}, None, "none"),
    }


REFUSED = _refused_tokens()
ENDPOINTS = [
    ("POST", "/", rpc_body("ListTasks", {})),  # JSON-RPC, the orchestrator
    ("POST", f"{VALIDATOR}/", rpc_body("GetTask", {"id": "x"})),  # JSON-RPC, a specialist
    ("GET", "/tasks", None),  # REST
    ("GET", f"{VALIDATOR}/rest/tasks/x", None),  # REST under /rest
    ("POST", "/message:send", {"message": {}}),
    ("GET", "/v1/usage", None),
    ("POST", "/v1/route", {"query": "design a system"}),
]


@pytest.mark.parametrize("kind", list(REFUSED))
async def test_missing_or_invalid_tokens_get_401(auth_server: LiveServer, kind: str) -> None:
    value = REFUSED[kind]
    headers = bearer(value) if value is not None else {}
    async with httpx.AsyncClient(base_url=auth_server.url) as http:
        for method, path, body in ENDPOINTS:
            response = await http.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (kind, path, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")
            error = response.json()["error"]
            assert error["code"] == 401 and error["message"]
            if value is not None:
                assert value not in response.text
                assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_other_schemes_are_refused(auth_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=auth_server.url) as http:
        basic = await http.get("/v1/usage", headers={"Authorization": "Basic YWxpY2U6cHc="})
        header_only = await http.get("/v1/usage", headers={"X-User-Id": "alice"})
    assert basic.status_code == header_only.status_code == 401


async def test_health_and_cards_are_public_and_cards_declare_bearer(
    auth_server: LiveServer, server: LiveServer
) -> None:
    async with httpx.AsyncClient(base_url=auth_server.url) as http:
        assert (await http.get("/health")).status_code == 200
        for base in ["", *(f"/agents/{a}" for a in ("architecture", "database", "code"))]:
            response = await http.get(f"{base}/.well-known/agent-card.json")
            assert response.status_code == 200
            card = response.json()
            scheme = card["securitySchemes"]["bearer"]["httpAuthSecurityScheme"]
            assert scheme["scheme"] == "Bearer" and scheme["bearerFormat"] == "JWT"
            assert card["securityRequirements"] == [{"schemes": {"bearer": {}}}]
    # With authentication off (the session server, on loopback) the cards are as written.
    async with httpx.AsyncClient(base_url=server.url) as http:
        card = (await http.get(f"{VALIDATOR}/.well-known/agent-card.json")).json()
    assert "securitySchemes" not in card and "securityRequirements" not in card


def test_cards_are_unchanged_without_auth() -> None:
    cards = load_cards(Settings().cards_dir)
    for card_file in cards.values():
        plain = card_file.served_at("http://x")
        assert not plain.security_schemes and not plain.security_requirements
        assert card_file.served_at("http://x", bearer_auth=True).security_requirements


async def test_es256_public_key_and_rs256_jwks(auth_server: LiveServer) -> None:
    ada, bob = unique("ada"), unique("bob")
    async with httpx.AsyncClient(base_url=auth_server.url) as http:
        es = await http.get("/v1/usage", headers=bearer(token(ada, key=EC_KEY, algorithm="ES256")))
        rs = await http.get("/v1/usage", headers=bearer(token(bob, key=RSA_KEY, algorithm="RS256")))
        unnamed_kid = jwt.encode(
            {"sub": bob, "exp": int(time.time()) + 60, "iss": ISSUER, "aud": AUDIENCE},
            RSA_KEY,
            algorithm="RS256",
            headers={"kid": "not-in-the-jwks"},
        )
        refused = await http.get("/v1/usage", headers=bearer(unnamed_kid))
    assert es.status_code == 200 and es.json()["user"] == ada
    assert rs.status_code == 200 and rs.json()["user"] == bob
    assert refused.status_code == 401


async def test_roles_claim_gives_admin() -> None:
    verifier = JwtVerifier(secret=SECRET, issuer=ISSUER, audience=AUDIENCE)
    admin = verifier.verify(token("root", roles=["admin", "ops"]))
    assert admin.is_authenticated and admin.is_admin and admin.roles == {"admin", "ops"}
    assert not verifier.verify(token("plain")).is_admin
    assert SECRET not in repr(verifier) and "eyJ" not in repr(admin)


async def test_delegation_forwards_the_callers_token(auth_server: LiveServer) -> None:
    carol = unique("carol")
    events = await stream_as(
        auth_server.url, CHECK_JSON, bearer(token(carol)), metadata={"agent": "validator"}
    )
    assert final_state(events) == COMPLETED, events[-1]
    assert "validation.json" in artifacts(events)
    # The specialist's task belongs to carol too: it saw her token, not an anonymous call.
    async with httpx.AsyncClient(base_url=auth_server.url) as http:
        listed = await http.get(f"{VALIDATOR}/tasks", headers=bearer(token(carol)))
    assert listed.status_code == 200 and len(listed.json()["tasks"]) == 1


async def test_logs_never_hold_the_secret_or_a_token(
    auth_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = token(unique("dave"))
    events = await stream_as(
        auth_server.url, CHECK_JSON, bearer(good), metadata={"agent": "validator"}
    )
    assert final_state(events) == COMPLETED
    async with httpx.AsyncClient(base_url=auth_server.url) as http:
        for refused in (REFUSED["expired"], REFUSED["wrong-secret"], REFUSED["garbage"]):
            assert (await http.get("/v1/usage", headers=bearer(refused))).status_code == 401
            assert refused not in caplog.text
    assert "Refused a bearer token" in caplog.text  # the refusals were logged, safely
    assert SECRET not in caplog.text and good not in caplog.text


# Settings and start-up.


def test_default_auth_follows_the_bind_address() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1"):
        assert Settings(host=host, auth=None).resolved_auth == "off", host
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.com"):
        assert Settings(host=host, auth=None).resolved_auth == "jwt", host
    assert Settings(host="0.0.0.0", auth="off").resolved_auth == "off"
    assert Settings(host="127.0.0.1", auth="jwt").resolved_auth == "jwt"


def test_auth_without_keys_stops_start_up(tmp_path: Path, models: Models) -> None:
    no_keys: dict[str, Any] = {"jwt_secret": None, "jwt_public_key": None, "jwt_jwks_file": None}
    settings = Settings(host="0.0.0.0", data_dir=tmp_path, auth=None, **no_keys)
    with pytest.raises(AuthConfigError, match="YMY_JWT_SECRET"):
        build_app(settings, models)
    env: dict[str, str | None] = {
        name: None
        for name in ("YMY_AUTH", "YMY_JWT_SECRET", "YMY_JWT_PUBLIC_KEY", "YMY_JWT_JWKS_FILE")
    }
    args = ["serve", "--host", "0.0.0.0", "--port", str(free_port()), "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 2
    assert "no key is configured" in " ".join(result.output.split())


def test_token_command_mints_a_token_the_server_accepts() -> None:
    env = {"YMY_JWT_SECRET": SECRET, "YMY_JWT_ISSUER": ISSUER, "YMY_JWT_AUDIENCE": AUDIENCE}
    result = CliRunner().invoke(
        cli, ["token", "--sub", "alice", "--roles", "admin", "--ttl", "60"], env=env
    )
    assert result.exit_code == 0, result.output
    minted = result.output.strip()
    user = JwtVerifier(secret=SECRET, issuer=ISSUER, audience=AUDIENCE).verify(minted)
    assert user.user_name == "alice" and user.is_admin
    claims = jwt.decode(minted, SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert claims["exp"] - claims["iat"] == 60

    missing = CliRunner().invoke(cli, ["token", "--sub", "alice"], env={"YMY_JWT_SECRET": None})
    assert missing.exit_code == 2
    assert "No YMY_JWT_SECRET" in missing.output
    short = CliRunner().invoke(cli, ["token", "--sub", "alice"], env={"YMY_JWT_SECRET": "abc"})
    assert short.exit_code == 2
    assert "shorter than 32 bytes" in short.output and "abc" not in short.output


def test_a_short_secret_stops_start_up(tmp_path: Path) -> None:
    settings = Settings(auth="jwt", jwt_secret="too-short", data_dir=tmp_path)
    with pytest.raises(AuthConfigError, match="shorter than 32 bytes") as refused:
        JwtVerifier.from_settings(settings)
    assert "too-short" not in str(refused.value)


async def test_cli_sends_the_token(auth_server: LiveServer) -> None:
    runner = CliRunner()
    good = mint_token(SECRET, unique("erin"), issuer=ISSUER, audience=AUDIENCE)

    def run(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str]:
        result = runner.invoke(cli, [*args, "--url", auth_server.url], env=env)
        return result.exit_code, result.output

    code, output = await asyncio.to_thread(run, "cards", env={"YMY_TOKEN": None})
    assert code == 1 and "401" in output
    code, output = await asyncio.to_thread(run, "cards", "--token", good)
    assert code == 0 and "validator" in output
    code, output = await asyncio.to_thread(
        run, "route", "Validate this SQL", env={"YMY_TOKEN": good}
    )
    assert code == 0 and "validator" in output


# Isolation: 5 users x 10 tasks; nobody can read, cancel, follow, list or rate another's.


async def test_users_cannot_see_or_touch_each_others_tasks(auth_server: LiveServer) -> None:
    users = [unique(f"iso{n}") for n in range(5)]
    tokens = {user: token(user) for user in users}
    limit = asyncio.Semaphore(10)

    async def run_task(user: str) -> str:
        async with limit:
            events = await stream_as(
                auth_server.url, CHECK_JSON, bearer(tokens[user]), metadata={"agent": "validator"}
            )
        assert final_state(events) == COMPLETED
        return events[0].task.id

    owned = {user: await asyncio.gather(*(run_task(user) for _ in range(10))) for user in users}
    assert len({task for tasks in owned.values() for task in tasks}) == 50

    async with httpx.AsyncClient(base_url=auth_server.url, timeout=60) as http:

        async def rpc(user: str, method: str, task_id: str) -> dict[str, Any]:
            async with limit:
                response = await http.post(
                    "/", json=rpc_body(method, {"id": task_id}), headers=bearer(tokens[user])
                )
            assert response.status_code == 200
            if method == "SubscribeToTask":  # an SSE stream of one error event
                assert response.headers["content-type"].startswith("text/event-stream")
                (line,) = [x for x in response.text.splitlines() if x.startswith("data:")]
                answer: dict[str, Any] = json.loads(line[5:])
                return answer
            answer = response.json()
            return answer

        async def rate(user: str, task_id: str) -> httpx.Response:
            async with limit:
                body = {"taskId": task_id, "rating": 4}
                return await http.post("/v1/feedback", json=body, headers=bearer(tokens[user]))

        def without_id(answer: dict[str, Any], task_id: str) -> str:
            return json.dumps(answer).replace(task_id, "<id>")

        unknown = str(uuid.uuid4())
        expected: dict[str, str] = {}
        for method in ("GetTask", "CancelTask", "SubscribeToTask"):
            answer = await rpc(users[0], method, unknown)
            assert answer["error"]["code"] == TASK_NOT_FOUND, answer
            expected[method] = without_id(answer, unknown)
        unknown_rating = await rate(users[0], unknown)
        assert unknown_rating.status_code == 404

        pairs = [
            (user, task_id)
            for user in users
            for other, tasks in owned.items()
            if other != user
            for task_id in tasks
        ]
        assert len(pairs) == 200
        for method in ("GetTask", "CancelTask", "SubscribeToTask"):
            answers = await asyncio.gather(*(rpc(u, method, t) for u, t in pairs))
            for (_, task_id), answer in zip(pairs, answers, strict=True):
                assert without_id(answer, task_id) == expected[method], (method, answer)
        ratings = await asyncio.gather(*(rate(u, t) for u, t in pairs))
        for (_, task_id), rating in zip(pairs, ratings, strict=True):
            assert rating.status_code == 404
            assert without_id(rating.json(), task_id) == without_id(unknown_rating.json(), unknown)

        for user, tasks in owned.items():
            # Every listing shows exactly the user's own tasks, on both bindings...
            listed = await http.post(
                "/", json=rpc_body("ListTasks", {"pageSize": 100}), headers=bearer(tokens[user])
            )
            assert {t["id"] for t in listed.json()["result"]["tasks"]} == set(tasks)
            rest = await http.get("/tasks", headers=bearer(tokens[user]))
            assert {t["id"] for t in rest.json()["tasks"]} == set(tasks)
            delegated = await http.get(f"{VALIDATOR}/tasks", headers=bearer(tokens[user]))
            assert len(delegated.json()["tasks"]) == 10
            # ...and the owner still reaches their own: the refusals above were not blanket ones.
            own = await rpc(user, "GetTask", tasks[0])
            assert own["result"]["id"] == tasks[0]
            assert (await rpc(user, "CancelTask", tasks[0]))["error"]["code"] != TASK_NOT_FOUND
            assert (await rate(user, tasks[0])).status_code == 200
