"""JWT bearer authentication: verify tokens, mint development tokens, guard the routes.

HS256 tokens are checked with a shared secret, RS256/ES256 tokens with a PEM public key or the
keys of a JWKS file. ``exp`` and ``sub`` are required; ``iss`` and ``aud`` are checked when
they are configured. ``sub`` is the user id, and a ``roles`` list gives roles (``admin``).

Nothing here puts a token or the secret into a message, a log line or a response: failures
are described by fixed sentences chosen from the kind of error, never from its text.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from starlette.types import ASGIApp, Receive, Scope, Send

from agents.kit import AUTH_USER_STATE, USER_HEADER, AuthenticatedUser
from youmeyou.middleware import send_error
from youmeyou.settings import Settings
from youmeyou.ui import PAGES_PREFIX

logger = logging.getLogger(__name__)

HS256 = "HS256"
ASYMMETRIC = frozenset({"RS256", "ES256"})
MAX_SUB_CHARS = 256
MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key is at least as long as the hash
# What stays reachable without a token: liveness and the agent cards (the cards say how to
# authenticate, so a client must be able to read them first).
PUBLIC_PATHS = frozenset({"/health"})
PUBLIC_SUFFIX = "/.well-known/agent-card.json"
_USER_HEADER = USER_HEADER.lower().encode("latin-1")


class AuthConfigError(ValueError):
    """Authentication is on but cannot work as configured; stops start-up."""


class InvalidToken(Exception):
    """A token that is refused; the message is safe to show (it never holds the token)."""


@dataclass(frozen=True)
class JwtVerifier:
    """Checks bearer tokens against the configured keys, issuer and audience."""

    secret: str | None = field(default=None, repr=False)
    public_keys: tuple[tuple[str | None, str, Any], ...] = ()  # (kid, algorithm, key)
    issuer: str | None = None
    audience: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> JwtVerifier:
        """The verifier ``settings`` describe; ``AuthConfigError`` says what is missing."""
        secret = hs256_secret(settings)
        keys: list[tuple[str | None, str, Any]] = []
        if settings.jwt_public_key:
            keys.append((None, *_pem_key(settings.jwt_public_key)))
        if settings.jwt_jwks_file is not None:
            keys.extend(_jwks_keys(settings.jwt_jwks_file))
        if secret is None and not keys:
            raise AuthConfigError(
                "Authentication is on (YMY_AUTH=jwt, the default when the server binds a "
                "non-loopback host) but no key is configured: set YMY_JWT_SECRET (HS256), "
                "YMY_JWT_PUBLIC_KEY or YMY_JWT_JWKS_FILE (RS256/ES256), or YMY_AUTH=off."
            )
        return cls(secret, tuple(keys), settings.jwt_issuer, settings.jwt_audience)

    def verify(self, token: str) -> AuthenticatedUser:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("The bearer token is not a well-formed JWT.") from None
        algorithm = header.get("alg")
        key = self._key(algorithm, header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[str(algorithm)],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "sub"], "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("The bearer token has expired.") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("The bearer token's issuer is not accepted.") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("The bearer token's audience is not accepted.") from None
        except jwt.MissingRequiredClaimError as error:
            raise InvalidToken(f"The bearer token has no '{error.claim}' claim.") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("The bearer token's signature does not verify.") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("The bearer token is not valid yet.") from None
        except jwt.PyJWTError:
            raise InvalidToken("The bearer token is not valid.") from None
        subject = claims.get("sub")
        if (
            not isinstance(subject, str)
            or not subject.strip()
            or len(subject) > MAX_SUB_CHARS
            or not subject.isprintable()
        ):
            raise InvalidToken(f"The token's 'sub' must be 1-{MAX_SUB_CHARS} printable characters.")
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidToken("The token's 'roles' claim must be a list of strings.")
        return AuthenticatedUser(subject.strip(), frozenset(roles), token)

    def _key(self, algorithm: object, kid: object) -> Any:
        if algorithm == HS256:
            if self.secret is None:
                raise InvalidToken("HS256 tokens are not accepted here.")
            return self.secret
        if algorithm not in ASYMMETRIC:
            raise InvalidToken("The token's algorithm is not accepted (HS256, RS256, ES256).")
        fitting = [(k, key) for k, alg, key in self.public_keys if alg == algorithm]
        if kid is not None:
            named = [key for k, key in fitting if k == kid]
            if named:
                return named[0]
            fitting = [(k, key) for k, key in fitting if k is None]
        if len(fitting) == 1:
            return fitting[0][1]
        if not fitting:
            raise InvalidToken(f"No key here verifies {algorithm} tokens of this key id.")
        raise InvalidToken("Several keys fit this token; it must name one with 'kid'.")


def hs256_secret(settings: Settings) -> str | None:
    """The configured HS256 secret, ``None`` without one; a too-short one is refused."""
    if settings.jwt_secret is None:
        return None
    secret = settings.jwt_secret.get_secret_value()
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise AuthConfigError(
            f"YMY_JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes; use a random one, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'."
        )
    return secret


def _pem_key(value: str) -> tuple[str, Any]:
    """``(algorithm, key)`` of a PEM public key given as text or as the path of a file."""
    text = value.strip()
    if not text.startswith("-----BEGIN"):
        try:
            text = Path(text).expanduser().read_text(encoding="utf-8")
        except OSError as error:
            raise AuthConfigError(
                f"YMY_JWT_PUBLIC_KEY is neither a PEM key nor a readable file: {error.strerror}"
            ) from None
    try:
        key = load_pem_public_key(text.encode())
    except ValueError:
        raise AuthConfigError("YMY_JWT_PUBLIC_KEY is not a PEM public key.") from None
    return _algorithm_of(key, "YMY_JWT_PUBLIC_KEY"), key


def _algorithm_of(key: object, where: str) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise AuthConfigError(f"{where}: only RSA (RS256) and P-256 (ES256) public keys are accepted.")


def _jwks_keys(path: Path) -> Iterable[tuple[str | None, str, Any]]:
    where = f"YMY_JWT_JWKS_FILE ({path})"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        keys = jwt.PyJWKSet.from_dict(data).keys
    except OSError as error:
        raise AuthConfigError(f"{where} cannot be read: {error.strerror}") from None
    except (ValueError, jwt.PyJWTError) as error:
        raise AuthConfigError(f"{where} is not a usable JWKS: {type(error).__name__}") from None
    found = []
    for jwk in keys:
        if getattr(jwk, "public_key_use", None) not in (None, "sig"):
            continue
        key = jwk.key
        algorithm = _algorithm_of(key, where)
        if jwk.algorithm_name not in (algorithm, "UNKNOWN", None):
            continue
        found.append((jwk.key_id, algorithm, key))
    if not found:
        raise AuthConfigError(f"{where} holds no RS256 or ES256 signing key.")
    return found


def mint_token(
    secret: str,
    subject: str,
    *,
    roles: Iterable[str] = (),
    ttl_s: int = 3600,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """An HS256 token for development and tests."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": subject, "iat": now, "exp": now + ttl_s}
    if roles:
        claims["roles"] = list(roles)
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=HS256)


def is_public(path: str) -> bool:
    """``/health``, the agent cards, and the pages of ``/ui`` (which hold no data)."""
    if path == PAGES_PREFIX or path.startswith(PAGES_PREFIX + "/"):
        return True
    return path in PUBLIC_PATHS or path.endswith(PUBLIC_SUFFIX)


class BearerAuth:
    """Requires a valid bearer token on every route but ``/health`` and the agent cards.

    The verified caller goes to ``scope["state"]["auth_user"]``, where ``request_user`` and
    the A2A context builder read it. An ``X-User-Id`` header is dropped: with authentication
    on, nobody names themselves. A refused request gets 401 with ``WWW-Authenticate: Bearer``
    and a JSON error, before its body is read.
    """

    def __init__(self, app: ASGIApp, *, verifier: JwtVerifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != _USER_HEADER]
        scope = {**scope, "headers": headers}
        if is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        credentials = next((v for k, v in headers if k.lower() == b"authorization"), None)
        scheme, _, token = (credentials or b"").decode("latin-1").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            await _unauthorized(send, "A bearer token is required: Authorization: Bearer <JWT>.")
            return
        try:
            user = self.verifier.verify(token)
        except InvalidToken as refused:
            logger.info("Refused a bearer token on %s: %s", scope["path"], refused)
            await _unauthorized(send, str(refused), invalid=True)
            return
        state = dict(scope.get("state") or {})
        state[AUTH_USER_STATE] = user
        await self.app({**scope, "state": state}, receive, send)


async def _unauthorized(send: Send, message: str, *, invalid: bool = False) -> None:
    challenge = 'Bearer realm="youmeyou"'
    if invalid:
        challenge += ', error="invalid_token"'
    await send_error(send, 401, message, headers=[(b"www-authenticate", challenge.encode())])
