"""Reading a request: the capabilities the user named, the system they named, what they require.

spaCy's small parser is good at tags and lemmas but unreliable on the long noun lists people
write ("with trip matching, live location tracking and payments": it attaches "payments" to
the verb). So a request is first cut into segments at the marks people use between features
(commas, "and", "+", "with", "including", a colon, prepositions); each segment is then read
with the parser's tags: a noun phrase ("trip matching") or a clause ("drivers reserve spots"),
whose verb and object name the capability ("Spot Reservation").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from spacy.tokens import Doc, Token

from inference.language import parse, singular

__all__ = ["Capability", "Reading", "Requirement", "read_request", "title"]


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


@dataclass(frozen=True, slots=True)
class Capability:
    """One thing the user asked the system to do, in their words."""

    phrase: str  # "trip matching", "spot reservation": lower case, head last
    head: str  # the phrase's last word, singular: "matching", "reservation"
    actor: str = ""  # who does it, when the user said so: "drivers"
    clause: str = ""  # the user's clause it came from, when it was a clause
    qualifiers: tuple[str, ...] = ()  # the words dropped from the name: "live", "real-time"


@dataclass(frozen=True, slots=True)
class Requirement:
    """A constraint stated in the request: a figure, a latency, a security word."""

    kind: str  # scale | latency | availability | security | compliance
    text: str  # as the user wrote it: "100M links/day"


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the request between list marks, and the word before it ('with')."""

    intro: str
    tokens: tuple[Token, ...]


@dataclass(frozen=True, slots=True)
class Reading:
    """What a request says: the system it is, what it must do, and the constraints."""

    request: str
    domain: str  # the system the user named, without the system noun: "ride sharing"
    capabilities: tuple[Capability, ...]
    requirements: tuple[Requirement, ...]
    actors: tuple[str, ...]  # who uses it: "drivers", "creators"


# Nouns that name the system itself ("a chat app"), not one of its capabilities.
SYSTEM_NOUNS = _wordset(
    "app application system platform service site website web tool backend back-end clone "
    "portal software solution thing server microservice microservices architecture design "
    "stack"
)
# Words about the asking, never part of a capability's name.
_META = _wordset(
    "design designing architecture arch architect build building create make need needs "
    "want wants require requires requirement requirements support supports supporting "
    "include includes including feature features featuring offer offers provide provides "
    "have has let lets allow allows enable enables help how what which should would could "
    "must can will i we you me us my our it its they them their basically also etc please "
    "like style structure setup set up plan good best simple basic proper system-design "
    "thing stuff write code schema implement explain style alternative similar inspired "
    "copy version"
)
# Qualifiers: they say how a capability behaves (and so which patterns apply), not what it is.
QUALIFIERS = _wordset(
    "live real-time realtime instant online secure fast scalable reliable simple basic full "
    "new free multiple various different own global distributed automated automatic"
)
# Words ending one capability and starting the next.
_BOUNDARY_WORDS = _wordset(
    "and or with w/ plus between among including include includes where that which who so to "
    "at for by in on per from via through into across over using while when then also as "
    "e.g. i.e. need needs require requires support supports has have having featuring "
    "feature features like such"
)
_BOUNDARY_MARKS = frozenset(",;:+&/()[]{}.!?-|\u2013\u2014")
# People: who uses a capability ("share albums with friends"), not a capability.
PEOPLE = _wordset(
    "user friend customer people person member admin employee staff student teacher visitor "
    "client team colleague everyone others"
)
# Segments these introduce say what the system is for, not what it does.
_DOMAIN_INTROS = _wordset("for like such between among")
_HOW_BUILT = frozenset(("based", "backed", "powered", "driven"))
_MODALS = _wordset("can could should must will may might shall")
# The verbs a user writes to name what people do with the system, and the noun for each.
_VERB_NOUNS = {
    "upload": "upload",
    "reserve": "reservation",
    "book": "booking",
    "pay": "payment",
    "track": "tracking",
    "match": "matching",
    "search": "search",
    "post": "posting",
    "apply": "application",
    "browse": "browsing",
    "follow": "follow",
    "like": "like",
    "share": "sharing",
    "rate": "rating",
    "review": "review",
    "comment": "comment",
    "order": "order",
    "buy": "purchase",
    "purchase": "purchase",
    "sell": "listing",
    "list": "listing",
    "chat": "chat",
    "message": "messaging",
    "stream": "streaming",
    "watch": "viewing",
    "view": "viewing",
    "subscribe": "subscription",
    "register": "registration",
    "report": "reporting",
    "send": "sending",
    "receive": "receiving",
    "schedule": "scheduling",
    "join": "joining",
    "invite": "invitation",
    "pledge": "pledge",
    "donate": "donation",
    "bid": "bidding",
    "rent": "rental",
    "request": "request",
    "hail": "hailing",
    "vote": "voting",
    "ask": "question",
    "answer": "answer",
    "submit": "submission",
    "download": "download",
    "scan": "scanning",
    "ship": "shipping",
    "deliver": "delivery",
    "cancel": "cancellation",
    "transfer": "transfer",
    "withdraw": "withdrawal",
    "deposit": "deposit",
    "borrow": "loan",
    "lend": "loan",
    "publish": "publishing",
    "record": "recording",
    "monitor": "monitoring",
    "edit": "editing",
    "manage": "management",
    "create": "creation",
    "get": "",  # light verbs: the object alone names the capability
    "see": "",
    "find": "",
    "use": "",
    "add": "",
}
_ABBREVIATIONS = {
    "mgmt": "management",
    "msg": "message",
    "msgs": "messages",
    "notif": "notification",
}
_UPPER = _wordset("url gps api sms iot sso jwt pdf csv cdn ai ml qr sql crm erp lms cms kyc")
_SCALE = re.compile(
    r"\b\d[\d,.]*\s*(?:k|m|b|mm|bn|million|billion|thousand|hundred|x)?\+?\s*"
    r"(?:[a-z]+(?:\s*(?:/|per|a|an|each)\s*(?:second|sec|s|minute|min|hour|hr|day|month|year)s?)?)?",
    re.IGNORECASE,
)
_LATENCY = re.compile(
    r"\b(?:under|below|within|<)\s*\d+\s*(?:ms|milliseconds?|s|seconds?)\b|\bp9\d\b"
)
_AVAILABILITY = re.compile(r"\b99\.9+\s*%|\bhigh(?:ly)?[ -]availab\w*|\bzero[ -]downtime\b")
_SECURITY = re.compile(
    r"\b(?:secure|security|encrypt\w*|gdpr|hipaa|pci|sox|compliance|compliant|audit\w*|"
    r"fraud|privacy|2fa|mfa|sso|kyc)\b",
    re.IGNORECASE,
)


def read_request(request: str) -> Reading:
    """The capabilities, domain, requirements and actors of one request."""
    doc = parse(request)
    segments = _segments(doc, _masked(request))
    domain, rest = _domain(segments, doc)
    capabilities: list[Capability] = []
    actors: list[str] = []
    for segment, verbal in _moods(rest):
        if segment.intro in _DOMAIN_INTROS:
            continue  # "for hotels", "like Twitter": who or what the system is for
        tokens = _without_how_built(segment.tokens)
        if not tokens:
            continue  # "redis based": what it is built on, not a part
        capability, actor = _capability(tokens, verbal)
        if actor and actor not in actors:
            actors.append(actor)
        if capability and all(c.phrase != capability.phrase for c in capabilities):
            capabilities.append(capability)
    return Reading(request, domain, tuple(capabilities), _requirements(request), tuple(actors))


def _without_how_built(tokens: tuple[Token, ...]) -> list[Token]:
    """The tokens without what the system is built on: 'kafka-backed', 'redis based'."""
    dropped: set[int] = set()
    for n, token in enumerate(tokens):
        if token.lower_ in _HOW_BUILT and n > 0:
            start = n - 2 if tokens[n - 1].text == "-" and n > 1 else n - 1
            dropped |= set(range(start, n + 1))
    return [t for n, t in enumerate(tokens) if n not in dropped]


def title(phrase: str) -> str:
    """'url shortener' -> 'URL Shortener'; 'iot telemetry' -> 'IoT Telemetry'."""
    words = []
    for word in phrase.split():
        if word == "iot":
            words.append("IoT")
        elif word in _UPPER:
            words.append(word.upper())
        else:
            words.append("-".join(part[:1].upper() + part[1:] for part in word.split("-")))
    return " ".join(words)


def _masked(request: str) -> list[tuple[int, int]]:
    """The character spans of figures ('100M links/day'): requirements, not capabilities."""
    spans = [m.span() for m in _SCALE.finditer(request) if any(ch.isdigit() for ch in m.group())]
    return spans + [m.span() for m in _LATENCY.finditer(request)]


def _segments(doc: Doc, masked: list[tuple[int, int]]) -> list[Segment]:
    """The request cut at list marks, each segment with the word that introduced it."""
    segments: list[Segment] = []
    intro, tokens = "", list[Token]()
    for token in doc:
        text = token.lower_
        inside = any(start <= token.idx < end for start, end in masked)
        joined = text == "-" and token.i > 0 and not doc[token.i - 1].whitespace_
        cut = inside or text in _BOUNDARY_WORDS or (text in _BOUNDARY_MARKS and not joined)
        if cut or (token.is_sent_start and tokens):
            if tokens:
                segments.append(Segment(intro, tuple(tokens)))
            # A figure keeps the word before it: "for 10 million users" is still "for".
            intro = intro if inside and not tokens else text
            tokens = []
            if cut:
                continue
        tokens.append(token)
    if tokens:
        segments.append(Segment(intro, tuple(tokens)))
    return segments


def _domain(segments: list[Segment], doc: Doc) -> tuple[str, list[Segment]]:
    """The system the user named ("a ride-sharing app" -> "ride-sharing") and the rest."""
    for index, segment in enumerate(segments[:3]):
        words = _words(segment.tokens)
        if words and any(_singular(w) in SYSTEM_NOUNS for w in words):
            kept = [w for w in words if _singular(w) not in SYSTEM_NOUNS and w not in QUALIFIERS]
            return " ".join(kept), segments[:index] + segments[index + 1 :]
    # "X: a, b and c" names the system first, then its capabilities.
    colon = next((t.i for t in doc if t.text in (":", "-", "—") and t.whitespace_), None)
    if colon is not None and segments and segments[0].tokens[-1].i < colon <= 6:
        words = [w for w in _words(segments[0].tokens) if w not in QUALIFIERS]
        return " ".join(words), segments[1:]
    return "", segments


def _moods(segments: list[Segment]) -> list[tuple[Segment, bool]]:
    """Each segment with whether it is a clause ("drivers reserve spots") or a noun phrase.

    A segment is a clause when a subject or a modal comes before a known verb in it, or when
    it starts with a known verb after a clause of the same sentence ("browse events, reserve
    seats and pay").
    """
    moods: list[tuple[Segment, bool]] = []
    sentence = -1
    verbal_sentence = False
    for segment in segments:
        tokens = list(segment.tokens)
        start = tokens[0].sent.start
        if start != sentence:
            sentence, verbal_sentence = start, False
        verb = _verb_at(tokens)
        starts_verbal = verb is not None and verb == tokens[0] and verbal_sentence
        subject = verb is not None and verb.i > tokens[0].i and _has_subject(tokens, verb)
        verbal = subject or starts_verbal
        verbal_sentence = verbal_sentence or verbal
        moods.append((segment, verbal))
    return moods


def _verb_at(segment: list[Token]) -> Token | None:
    """The first known verb of a segment not used as a noun modifier ('read receipts')."""
    for token in segment:
        if token.lemma_.lower() in _VERB_NOUNS and token.tag_ in ("VB", "VBP", "VBZ", "VBD", "NN"):
            if token.tag_ == "NN" and token.dep_ != "compound" and token != segment[0]:
                continue
            return token
    return None


def _has_subject(segment: list[Token], verb: Token) -> bool:
    before = segment[: segment.index(verb)]
    return any(t.lower_ in _MODALS for t in before) or any(
        t.pos_ in ("NOUN", "PROPN", "PRON") for t in before
    )


def _capability(segment: list[Token], verbal: bool) -> tuple[Capability | None, str]:
    """The capability a segment names, and the actor of a clause."""
    if not verbal:
        return _noun_capability(segment), ""
    verb = _verb_at(segment)
    assert verb is not None  # a clause has its verb
    cut = segment.index(verb)
    actor = " ".join(w for w in _words(segment[:cut]) if w not in _MODALS)
    objects = [w for w in _words(segment[cut + 1 :]) if w not in QUALIFIERS]
    noun = _VERB_NOUNS[verb.lemma_.lower()]
    words = [_singular(w) for w in objects] + ([noun] if noun else [])
    if not words:
        return None, actor
    clause = " ".join(t.text for t in segment)
    return _made(words, actor=actor, clause=clause, dropped=()), actor


def _noun_capability(segment: list[Token]) -> Capability | None:
    words = _words(segment)
    dropped = tuple(w for w in words if w in QUALIFIERS)
    words = [w for w in words if w not in QUALIFIERS and _singular(w) not in SYSTEM_NOUNS]
    if not words or all(_singular(w) in PEOPLE for w in words):
        return None
    return _made(words, actor="", clause="", dropped=dropped)


def _made(words: list[str], *, actor: str, clause: str, dropped: tuple[str, ...]) -> Capability:
    words = words[-4:]  # a name, not a sentence
    head = _singular(words[-1])
    phrase = " ".join([*words[:-1], head])
    return Capability(phrase, head, actor=actor, clause=clause, qualifiers=dropped)


def _words(segment: Sequence[Token]) -> list[str]:
    """The content words of a segment, lower case, hyphenated words kept whole."""
    words: list[str] = []
    glue = False
    for token in segment:
        text = token.lower_
        if text == "-" and not token.whitespace_ and words:
            glue = True  # "ride-sharing": spaCy splits it, the user wrote one word
            continue
        if glue:
            words[-1], glue = f"{words[-1]}-{text}", False
            continue
        if token.is_punct or token.like_num or text in _META or token.tag_ in ("DT", "PRP$"):
            continue
        if token.is_stop and text not in _VERB_NOUNS and text not in ("back", "front", "top"):
            continue
        words.append(_ABBREVIATIONS.get(text, text).strip("'\""))
    return [w for w in words if w and re.fullmatch(r"[a-z0-9][a-z0-9'-]*", w)]


# Names that end in an s and are not plurals.
_KEPT = _wordset("postgres series news ios aws kubernetes jenkins mongodb")


@functools.lru_cache(maxsize=4096)
def _singular(word: str) -> str:
    """singular(), but 'sms', 'analytics' and 'status' stay as they are."""
    if word in _UPPER or word in _KEPT or word.endswith(("ics", "ss", "us", "is")):
        return word
    return singular(word)


def _requirements(request: str) -> tuple[Requirement, ...]:
    found: list[Requirement] = []
    for match in _SCALE.finditer(request):
        text = match.group().strip(" ,.")
        if any(ch.isdigit() for ch in text) and len(text) > 1:
            found.append(Requirement("scale", text))
    found += [Requirement("latency", m.group()) for m in _LATENCY.finditer(request)]
    found += [Requirement("availability", m.group()) for m in _AVAILABILITY.finditer(request)]
    words = {m.group().lower() for m in _SECURITY.finditer(request)}
    found += [Requirement("security", w) for w in sorted(words)]
    return tuple(found)
