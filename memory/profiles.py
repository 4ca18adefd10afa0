"""User profiles and per-user routing outcomes, in SQL (SQLite, PostgreSQL) or MongoDB.

A profile holds what the orchestrator may tailor answers to: the user's skill level, preferred
languages, frameworks and databases, and their projects. Beside it each store counts, per user,
agent and skill, how often the user rated an answer well (4 or 5) or badly (1 to 3), so routing
can learn from the ratings. Every input is validated with clear limits; a bad one raises a
:class:`ProfileError` naming the field, and nothing is stored.

The SQL tables join the shared :data:`memory.sql.metadata`: import this module before calling
:func:`memory.sql.create_tables`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError
from sqlalchemy import Column, DateTime, Integer, String, Table, Text, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.sql import metadata, upsert_for

SkillLevel = Literal["beginner", "intermediate", "expert"]

MAX_TAG_CHARS = 40
MAX_TAGS = 20
MAX_PROJECTS = 20
MAX_PROJECT_ID_CHARS = 64
MAX_PROJECT_NAME_CHARS = 64
MAX_DESCRIPTION_CHARS = 2000
MAX_USER_ID_CHARS = 128
MAX_NAME_CHARS = 64  # agent and skill names
PROJECT_ID_PATTERN = r"^[A-Za-z0-9._-]+$"
SUCCESS_RATING = 4  # a rating at or above this counts as a success, below as a failure


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=MAX_TAG_CHARS),
]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_dedupe)]
ProjectId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_PROJECT_ID_CHARS, pattern=PROJECT_ID_PATTERN),
]
UserId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_USER_ID_CHARS)]


class Preferences(BaseModel):
    """Technologies the user prefers; lower-cased, deduplicated, order kept."""

    model_config = ConfigDict(extra="forbid")

    languages: Tags = Field(default_factory=list)
    frameworks: Tags = Field(default_factory=list)
    databases: Tags = Field(default_factory=list)


class Project(BaseModel):
    """One of the user's projects."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_PROJECT_NAME_CHARS),
    ]
    description: Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION_CHARS)] = ""
    tech_stack: Tags = Field(default_factory=list)


Projects = Annotated[dict[ProjectId, Project], Field(max_length=MAX_PROJECTS)]


class ProfileUpdate(BaseModel):
    """A ``PUT /v1/profile`` body: each field given replaces the stored one."""

    model_config = ConfigDict(extra="forbid")

    skill_level: SkillLevel | None = None
    preferences: Preferences | None = None
    projects: Projects | None = None


class Profile(BaseModel):
    """What is known about one user."""

    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    skill_level: SkillLevel = "intermediate"
    preferences: Preferences = Field(default_factory=Preferences)
    projects: Projects = Field(default_factory=dict)
    updated_at: dt.datetime | None = None

    def updated(self, update: ProfileUpdate) -> Profile:
        """A copy with every field the update gives replaced."""
        changes = {
            name: getattr(update, name)
            for name in ProfileUpdate.model_fields
            if getattr(update, name) is not None
        }
        return self.model_copy(update=changes, deep=True)


@dataclass(frozen=True)
class Outcome:
    """How often answers from ``agent`` for ``skill`` were rated a success or a failure."""

    agent: str
    skill: str
    successes: int
    failures: int


class ProfileError(ValueError):
    """Invalid profile input; ``field`` names the first bad field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


_Model = TypeVar("_Model", bound=BaseModel)


def parse_update(raw: object) -> ProfileUpdate:
    """Validate a request body (parsed JSON, or the raw JSON text) into a :class:`ProfileUpdate`."""
    return _validate(ProfileUpdate, raw, root="body")


def _validate(model: type[_Model], raw: object, root: str) -> _Model:
    try:
        if isinstance(raw, str | bytes | bytearray):
            return model.model_validate_json(raw)
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        raise _profile_error(first["loc"], first["type"], first.get("ctx") or {}, root) from None


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_ECHOED_KEY = 64


def _profile_error(
    loc: Sequence[int | str], kind: str, ctx: Mapping[str, Any], root: str
) -> ProfileError:
    is_key = bool(loc) and loc[-1] == "[key]"
    path = ""
    for part in loc[:-1] if is_key else loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif len(part) <= _MAX_ECHOED_KEY and _IDENTIFIER.fullmatch(part):
            path += f".{part}" if path else part
        else:
            clipped = part if len(part) <= _MAX_ECHOED_KEY else part[:_MAX_ECHOED_KEY] + "..."
            path += f"[{json.dumps(clipped)}]"
    message = _message(kind, ctx)
    return ProfileError(path or root, f"key: {message}" if is_key else message)


def _message(kind: str, ctx: Mapping[str, Any]) -> str:
    limit = ctx.get("max_length")
    least = ctx.get("min_length")
    messages = {
        "string_too_long": f"at most {limit} characters",
        "string_too_short": "must not be empty" if least == 1 else f"at least {least} characters",
        "too_long": f"at most {limit} items",
        "string_pattern_mismatch": "only letters, digits, '.', '_' and '-'",
        "literal_error": f"must be {ctx.get('expected')}",
        "extra_forbidden": "unknown field",
        "missing": "required",
        "string_type": "must be a string",
        "list_type": "must be a list",
        "dict_type": "must be an object",
        "model_type": "must be an object",
        "model_attributes_type": "must be an object",
        "json_invalid": "not valid JSON",
        "json_type": "not valid JSON",
        "datetime_type": "must be a date and time",
        "datetime_parsing": "must be an ISO 8601 date and time",
        "datetime_from_date_parsing": "must be an ISO 8601 date and time",
    }
    return messages.get(kind, kind.replace("_", " "))


def _checked_profile(profile: Profile) -> Profile:
    """Validate again: a caller may have changed the profile's lists or dicts in place."""
    return _validate(Profile, profile.model_dump(warnings=False), root="profile")


def _checked_user_id(user_id: str) -> str:
    if not isinstance(user_id, str) or not 1 <= len(user_id) <= MAX_USER_ID_CHARS:
        raise ProfileError("user_id", f"must be 1 to {MAX_USER_ID_CHARS} characters")
    return user_id


def _checked_name(field: str, value: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME_CHARS:
        raise ProfileError(field, f"must be 1 to {MAX_NAME_CHARS} characters")
    return value


def _counts(rating: int) -> tuple[int, int]:
    """``(successes, failures)`` to add for a rating from 1 to 5."""
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ProfileError("rating", "must be an integer from 1 to 5")
    return (1, 0) if rating >= SUCCESS_RATING else (0, 1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ProfileStore(Protocol):
    """Where profiles and routing outcomes are kept."""

    async def get(self, user_id: str) -> Profile:
        """The stored profile, or a default (not stored) one for an unknown user."""
        ...

    async def put(self, profile: Profile) -> None:
        """Insert or replace the profile, stamped with the current ``updated_at``."""
        ...

    async def record_rating(self, user_id: str, agent: str, skill: str, rating: int) -> None:
        """Count a rating from 1 to 5 (4 and 5 succeed); atomic under concurrency."""
        ...

    async def outcomes(self, user_id: str) -> list[Outcome]:
        """This user's counts per agent and skill, sorted."""
        ...

    async def population(self) -> list[Outcome]:
        """Counts per agent and skill summed over all users, sorted."""
        ...

    async def close(self) -> None:
        """Release what the store opened."""
        ...


profiles_table = Table(
    "profiles",
    metadata,
    Column("user_id", String(MAX_USER_ID_CHARS), primary_key=True),
    Column("document", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

outcomes_table = Table(
    "routing_outcomes",
    metadata,
    Column("user_id", String(MAX_USER_ID_CHARS), primary_key=True),
    Column("agent", String(MAX_NAME_CHARS), primary_key=True),
    Column("skill", String(MAX_NAME_CHARS), primary_key=True),
    Column("successes", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
)


class SqlProfileStore:
    """Profiles in SQLite or PostgreSQL; the tables come from :func:`memory.sql.create_tables`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = upsert_for(engine)

    async def get(self, user_id: str) -> Profile:
        query = select(profiles_table.c.document).where(
            profiles_table.c.user_id == _checked_user_id(user_id)
        )
        async with self._engine.connect() as connection:
            document = (await connection.execute(query)).scalar_one_or_none()
        if document is None:
            return Profile(user_id=user_id)
        return Profile.model_validate_json(document)

    async def put(self, profile: Profile) -> None:
        stored = _checked_profile(profile).model_copy(update={"updated_at": _now()})
        statement = self._insert(profiles_table).values(
            user_id=stored.user_id,
            document=stored.model_dump_json(),
            updated_at=stored.updated_at,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["user_id"],
            set_={
                "document": statement.excluded.document,
                "updated_at": statement.excluded.updated_at,
            },
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def record_rating(self, user_id: str, agent: str, skill: str, rating: int) -> None:
        successes, failures = _counts(rating)
        statement = self._insert(outcomes_table).values(
            user_id=_checked_user_id(user_id),
            agent=_checked_name("agent", agent),
            skill=_checked_name("skill", skill),
            successes=successes,
            failures=failures,
        )
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["user_id", "agent", "skill"],
            set_={
                "successes": outcomes_table.c.successes + excluded.successes,
                "failures": outcomes_table.c.failures + excluded.failures,
            },
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def outcomes(self, user_id: str) -> list[Outcome]:
        table = outcomes_table
        query = (
            select(table.c.agent, table.c.skill, table.c.successes, table.c.failures)
            .where(table.c.user_id == _checked_user_id(user_id))
            .order_by(table.c.agent, table.c.skill)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [Outcome(row[0], row[1], int(row[2]), int(row[3])) for row in rows]

    async def population(self) -> list[Outcome]:
        table = outcomes_table
        query = (
            select(
                table.c.agent,
                table.c.skill,
                func.sum(table.c.successes),
                func.sum(table.c.failures),
            )
            .group_by(table.c.agent, table.c.skill)
            .order_by(table.c.agent, table.c.skill)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [Outcome(row[0], row[1], int(row[2]), int(row[3])) for row in rows]

    async def close(self) -> None:
        """Nothing to release: the engine belongs to the caller, who disposes of it."""


Document = dict[str, Any]


class MongoProfileStore:
    """Profiles in MongoDB through PyMongo's async client."""

    def __init__(self, url: str, database: str = "youmeyou") -> None:
        self._client: AsyncMongoClient[Document] = AsyncMongoClient(url, tz_aware=True)
        db = self._client[database]
        self._profiles = db["profiles"]
        self._outcomes = db["routing_outcomes"]
        self._indexed = False
        self._index_lock = asyncio.Lock()

    async def _ensure_indexes(self) -> None:
        if self._indexed:
            return
        async with self._index_lock:
            if not self._indexed:
                await self._outcomes.create_index(
                    [("user_id", ASCENDING), ("agent", ASCENDING), ("skill", ASCENDING)],
                    unique=True,
                )
                self._indexed = True

    async def get(self, user_id: str) -> Profile:
        document = await self._profiles.find_one({"_id": _checked_user_id(user_id)})
        if document is None:
            return Profile(user_id=user_id)
        return _from_document(document)

    async def put(self, profile: Profile) -> None:
        stored = _checked_profile(profile).model_copy(update={"updated_at": _now()})
        await self._profiles.replace_one({"_id": stored.user_id}, _to_document(stored), upsert=True)

    async def record_rating(self, user_id: str, agent: str, skill: str, rating: int) -> None:
        successes, failures = _counts(rating)
        key = {
            "user_id": _checked_user_id(user_id),
            "agent": _checked_name("agent", agent),
            "skill": _checked_name("skill", skill),
        }
        await self._ensure_indexes()
        increment = {"$inc": {"successes": successes, "failures": failures}}
        try:
            await self._outcomes.update_one(key, increment, upsert=True)
        except DuplicateKeyError:  # two first upserts raced; the row exists now
            await self._outcomes.update_one(key, increment, upsert=True)

    async def outcomes(self, user_id: str) -> list[Outcome]:
        cursor = self._outcomes.find({"user_id": _checked_user_id(user_id)}).sort(
            [("agent", ASCENDING), ("skill", ASCENDING)]
        )
        return [
            Outcome(row["agent"], row["skill"], int(row["successes"]), int(row["failures"]))
            async for row in cursor
        ]

    async def population(self) -> list[Outcome]:
        pipeline: list[Document] = [
            {
                "$group": {
                    "_id": {"agent": "$agent", "skill": "$skill"},
                    "successes": {"$sum": "$successes"},
                    "failures": {"$sum": "$failures"},
                }
            },
            {"$sort": {"_id.agent": 1, "_id.skill": 1}},
        ]
        cursor = await self._outcomes.aggregate(pipeline)
        return [
            Outcome(
                row["_id"]["agent"],
                row["_id"]["skill"],
                int(row["successes"]),
                int(row["failures"]),
            )
            async for row in cursor
        ]

    async def close(self) -> None:
        await self._client.close()


def _to_document(profile: Profile) -> Document:
    """Projects become a list: project ids may hold dots, which MongoDB keys should not."""
    data = profile.model_dump(mode="json", exclude={"user_id"})
    data["projects"] = [{"id": key, **value} for key, value in data["projects"].items()]
    return {"_id": profile.user_id, **data}


def _from_document(document: Document) -> Profile:
    data = {key: value for key, value in document.items() if key != "_id"}
    data["projects"] = {
        project["id"]: {key: value for key, value in project.items() if key != "id"}
        for project in data.get("projects", [])
    }
    return Profile.model_validate({"user_id": document["_id"], **data})
