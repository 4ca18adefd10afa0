"""The kinds of system people ask for, and the parts each one has whether or not they list them.

"An uber clone" names no capability, yet anyone reading its diagram looks for drivers, trips,
location tracking and payments. Each kind here is recognised from the words (and product
names) people use for it, only in the part of the request that names the system, and brings
its core capabilities (as phrases the design turns into services, like the user's own) and
the infrastructure pieces it always has (keys of ``agents.design.technology``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

__all__ = ["KINDS", "SystemKind", "is_brand", "kinds_named", "lead"]


@dataclass(frozen=True, slots=True)
class SystemKind:
    name: str  # "ride sharing"
    words: re.Pattern[str]  # how people name it: "ride-hailing", "taxi", "uber clone"
    brands: tuple[str, ...]  # product names, matched with a typo's tolerance
    core: tuple[str, ...]  # its core capabilities: "trip matching/dispatch" (a synonym)
    pieces: tuple[str, ...] = ()  # infrastructure it always has: "cdn", "websocket"


def _kind(name: str, words: str, brands: str, core: str, pieces: str = "") -> SystemKind:
    return SystemKind(
        name,
        re.compile(words),
        tuple(brands.split()),
        tuple(p.strip() for p in core.split(",")),
        tuple(pieces.split()),
    )


# Ordered from the specific to the general: a "food delivery" app is not an online shop.
KINDS: tuple[SystemKind, ...] = (
    _kind(
        "ride sharing",
        r"ride[- ]?(?:shar|hail)|rideshar|\btaxi|\bcabs?\b|carpool|car[- ]pool",
        "uber lyft didi",
        "rider, driver, trip matching/dispatch, location tracking/gps, pricing/fare, payment",
    ),
    _kind(
        "food delivery",
        r"food[- ]?deliver|meal[- ]?deliver|food order|uber ?eats|just ?eat|grocery deliver",
        "doordash deliveroo grubhub swiggy zomato postmates instacart",
        "restaurant, menu, order, courier dispatch/driver, delivery tracking/location, payment",
    ),
    _kind(
        "marketplace",
        r"marketplace|\bp2p\b|peer[- ]to[- ]peer|classifieds",
        "etsy ebay craigslist fiverr upwork",
        "seller, listing, search, order, payment, review",
    ),
    _kind(
        "e-commerce",
        r"e-?comm?erce|e-?shop|web ?shop|online (?:shop|store|retail)|shopping|storefront|"
        r"\bsells?\b|\bselling\b|retail",
        "amazon shopify woocommerce",
        "product catalog, cart, checkout, inventory, payment",
    ),
    _kind(
        "dating",
        r"\bdating\b|matchmaker",
        "tinder bumble hinge okcupid",
        "profile, matching, chat, notification",
        "websocket",
    ),
    _kind(
        "chat",
        r"\bchat|messeng|messaging|instant messag|\bim app",
        "whatsapp telegram slack discord wechat",
        "messaging, presence, notification",
        "websocket",
    ),
    _kind(
        "news feed",
        r"news ?feed|\bfeed\b|timeline",
        "",
        "post, follow, feed",
        "fanout",
    ),
    _kind(
        "social network",
        r"social (?:network|media|app|platform|site)|microblog",
        "facebook instagram twitter tiktok linkedin mastodon snapchat pinterest",
        "profile, post, follow, feed, notification",
        "fanout",
    ),
    _kind(
        "video streaming",
        r"video|\bvod\b|\bott\b|streaming (?:site|platform|service|app)|live[- ]?stream",
        "youtube netflix twitch vimeo hulu disney",
        "video upload, video catalog, playback, recommendation",
        "transcoding cdn",
    ),
    _kind(
        "music streaming",
        r"music|podcast|audio stream|\bsongs?\b",
        "spotify soundcloud deezer",
        "music catalog, playlist, audio streaming, search, recommendation",
        "cdn",
    ),
    _kind(
        "multiplayer game",
        r"multiplayer|\bgam(?:e|es|ing)\b|\bmmo|battle royale|esport|game lobby",
        "fortnite roblox minecraft",
        "matchmaking, leaderboard, player profile",
        "gameserver",
    ),
    _kind(
        "lodging",
        r"vacation rental|hotel|lodging|short[- ]term rental|homestay",
        "airbnb vrbo expedia booking.com",
        "listing, search, availability, booking, payment, review",
    ),
    _kind(
        "restaurant reservations",
        r"table reserv|restaurant reserv|table booking",
        "opentable resy",
        "restaurant, table availability, reservation, notification",
    ),
    _kind(
        "appointments",
        r"appointment|scheduling (?:app|system|tool)|salon|barber",
        "calendly zocdoc",
        "availability, appointment booking, notification",
    ),
    _kind(
        "event ticketing",
        r"event ticket|concert|ticketing|\btickets? (?:sales|platform|app)|box office",
        "ticketmaster eventbrite stubhub",
        "event listing, seat reservation, ticket, payment",
    ),
    _kind(
        "booking",
        r"\bbook(?:ing)?s?\b|reservation",
        "",
        "availability, reservation, payment, notification",
    ),
    _kind(
        "trading",
        r"stock trading|trading (?:app|platform|system)|brokerage|crypto exchange|stock exchange",
        "robinhood coinbase binance etrade",
        "order matching, portfolio, market data, ledger, payment",
    ),
    _kind(
        "banking",
        r"\bbank|fintech|neobank|\bwallet|money transfer|remittance|payments? (?:gateway|app|"
        r"platform|processor|system)",
        "stripe paypal venmo revolut monzo adyen",
        "account, ledger, transfer, payment, fraud detection",
    ),
    _kind(
        "learning",
        r"\blms\b|learning management|e-?learning|online (?:course|class|school|learning)|"
        r"\bmooc|edtech|tutoring",
        "coursera udemy moodle khan duolingo edx",
        "course, enrollment, lesson, quiz, grading, progress",
    ),
    _kind(
        "crm",
        r"\bcrm\b|customer relationship|sales pipeline",
        "salesforce hubspot pipedrive zoho",
        "contact, deal pipeline, activity, email campaign, reporting",
    ),
    _kind(
        "helpdesk",
        r"help ?desk|support ticket|customer support|service desk|issue tracker",
        "zendesk freshdesk intercom",
        "ticket, agent assignment, knowledge base, notification",
    ),
    _kind(
        "iot",
        r"\biot\b|internet of things|telemetry|\bsensors?\b|smart home|connected devices",
        "",
        "device registry, telemetry ingestion, alerting, dashboard",
        "timeseries",
    ),
    _kind(
        "analytics",
        r"analytics (?:platform|system|tool|service|pipeline)|business intelligence|\bbi tool|"
        r"clickstream|product analytics|metrics platform",
        "mixpanel amplitude",
        "event ingestion, reporting, dashboard",
        "warehouse",
    ),
    _kind(
        "url shortener",
        r"\b(?:url|link)s? short|\bshort(?:e)?n(?:e)?r|\bshorten|short links?",
        "bitly bit.ly tinyurl",
        "url shortener, redirect, click analytics",
    ),
    _kind(
        "search engine",
        r"search engine|web search|web crawl",
        "google bing duckduckgo",
        "search query, ranking",
        "crawler",
    ),
    _kind(
        "healthcare",
        r"health|hospital|clinic|patient|medical|telemedicine|telehealth|\behr\b|\bemr\b|"
        r"pharmacy|doctor",
        "teladoc",
        "patient record, appointment scheduling, billing, notification",
    ),
    _kind(
        "logistics",
        r"logistic|freight|fleet management|supply chain|warehouse|parcel|"
        r"shipping (?:platform|system)",
        "fedex dhl flexport",
        "shipment, route planning, tracking, warehouse",
    ),
    _kind(
        "file storage",
        r"file (?:storage|sharing|sync|hosting)|cloud storage|cloud drive",
        "dropbox gdrive onedrive",
        "file upload, folder, sharing, sync",
    ),
    _kind(
        "collaborative editing",
        r"collaborative (?:edit|doc|whiteboard)|real-?time collaborat|shared documents?",
        "notion figma miro",
        "document, collaborative editing, presence, comment",
        "websocket",
    ),
    _kind(
        "job board",
        r"job (?:board|portal|site)|recruit|hiring (?:platform|app)|applicant tracking",
        "glassdoor",
        "job posting, application, resume upload, search",
    ),
    _kind(
        "forum",
        r"\bforum|q ?& ?a|question[- ]and[- ]answer|discussion board|community site",
        "stackoverflow quora reddit discourse",
        "question, answer, vote, search",
    ),
    _kind(
        "blog",
        r"\bblog|\bcms\b|content management|publishing platform|newsletter",
        "wordpress substack",
        "post, comment, media upload",
    ),
    _kind(
        "project management",
        r"project management|task (?:tracker|manager|management)|kanban|\btodo|to-do",
        "jira trello asana clickup basecamp",
        "project, task, comment, notification",
    ),
    _kind(
        "saas",
        r"\bsaas\b|multi-?tenant|\bb2b\b",
        "",
        "subscription billing",
    ),
)

# Where the system is named: before the first list of features.
_LEAD_END = re.compile(
    r"\s(?:with|w/|where|that|which|including|featuring|using|so that|having)\s|[:;(]|"
    r"\s[-\u2013\u2014]\s"
)


def lead(request: str) -> str:
    """The part of a request that names the system: 'an uber clone' of 'an uber clone with ...'."""
    text = request.lower()
    match = _LEAD_END.search(text)
    return text[: match.start()] if match else text


def kinds_named(request: str, limit: int = 2) -> tuple[SystemKind, ...]:
    """The kinds of system the request names (at most ``limit``, the most specific first)."""
    text = lead(request)
    tokens = re.findall(r"[a-z0-9.]+", text)
    found = [k for k in KINDS if k.words.search(text) or _brand_named(k.brands, tokens)]
    return tuple(found[:limit])


def _brand_named(brands: tuple[str, ...], tokens: list[str]) -> bool:
    """A product name among the words, a typo allowed in names of five letters or more."""
    for token in tokens:
        word = token.strip(".")
        if word in brands:
            return True
        if len(word) >= 5 and any(
            abs(len(word) - len(brand)) <= 1 and word[0] == brand[0]
            for brand in difflib.get_close_matches(word, brands, n=3, cutoff=0.84)
        ):
            return True
    return False


_BRANDS = tuple(brand for kind in KINDS for brand in kind.brands)


def is_brand(word: str) -> bool:
    """A product name ('netflix', 'uber'): it names what the system is like, not a part of it."""
    return _brand_named(_BRANDS, [word])
