"""The metering decision, with no I/O: cookies and the clock in, a decision out.

A visitor is a guest or holds a valid account cookie (registered). The meter cookie carries a
random visitor id, the tier, the account id it is bound to, the codes already opened and the
start of the meter period. Remaining views = the tier's limit - codes opened in this period;
re-opening a code costs nothing. Anything wrong with a cookie makes a new guest, never an error
and never more views. Adapters with a store (``store.MeterStore``) then settle the decision
against the store's record for the visitor or account (:func:`settle`), which is what stops a
restored old cookie or parallel requests on one cookie from getting views back.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .contract import GUEST_VIEWS, MAX_OPENED, PERIOD_DAYS, REGISTERED_VIEWS
from .cookies import Codec, Cookies, InvalidToken, Keys, cookie_name, only, set_cookie

GUEST, REGISTERED = "guest", "registered"
METER_SALT = "codesite.meter.v1"
ACCOUNT_SALT = "codesite.account.v1"
CSRF_SALT = "codesite.csrf.v1"
VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
CODE_KEY = re.compile(r"[a-z0-9]{1,20}:[A-Za-z0-9.-]{1,20}")
ACCOUNT_ID = re.compile(r"[A-Za-z0-9:._@-]{1,200}")
DAY = 86400
# request headers that say "not a visit": a browser prefetching or prerendering, a preview
# (Safari's Top Sites sends ``X-Purpose: preview``); any of these words in any of them
PURPOSE_HEADERS = ("sec-purpose", "purpose", "x-purpose", "x-moz")
NOT_A_VISIT = ("prefetch", "prerender", "preview")

Action = Literal["full", "teaser"]

# on every response of both adapters; the CSP leaves scripts and styles to the site's own files
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy", "frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'"),
)


@dataclass(frozen=True)
class Policy:
    """Meter limits (from site.yaml) and cookie settings."""

    guest_views: int = GUEST_VIEWS
    registered_views: int = REGISTERED_VIEWS
    period_days: int = PERIOD_DAYS
    secure: bool = True
    account_days: int = 30

    def __post_init__(self) -> None:
        if not 0 <= self.guest_views + self.registered_views <= MAX_OPENED or self.period_days < 1:
            raise ValueError(f"meter: views must total 0 to {MAX_OPENED}, period_days at least 1")

    @classmethod
    def from_config(cls, meter: Any, secure: bool) -> Policy:
        return cls(meter.guest_views, meter.registered_views, meter.period_days, secure)

    @property
    def period(self) -> int:
        return self.period_days * DAY

    @property
    def meter_cookie(self) -> str:
        return cookie_name("codesite-meter", self.secure)

    @property
    def account_cookie(self) -> str:
        return cookie_name("codesite-account", self.secure)

    def limit(self, tier: str) -> int:
        """Registered accounts read ``registered_views`` more than a guest."""
        return self.guest_views + (self.registered_views if tier == REGISTERED else 0)

    @property
    def meter_codec(self) -> Codec:
        return Codec(METER_SALT, self.period)

    @property
    def account_codec(self) -> Codec:
        return Codec(ACCOUNT_SALT, self.account_days * DAY)


@dataclass(frozen=True)
class MeterState:
    visitor: str
    tier: str
    account: str | None
    opened: frozenset[str]
    period_start: int

    @property
    def subject(self) -> str:
        """Whose meter this is in a store: the account when registered, else the visitor."""
        return f"a:{self.account}" if self.tier == REGISTERED and self.account else f"v:{self.visitor}"

    def payload(self) -> dict[str, Any]:
        return {
            "v": self.visitor,
            "t": self.tier[0],
            "a": self.account,
            "o": sorted(self.opened)[:MAX_OPENED],
            "p": self.period_start,
        }

    @classmethod
    def from_payload(cls, data: Any, now: int, period: int) -> MeterState:
        """Strict: exact keys and types, or InvalidToken."""
        if not isinstance(data, dict) or set(data) != {"v", "t", "a", "o", "p"}:
            raise InvalidToken("shape")
        v, t, a, o, p = data["v"], data["t"], data["a"], data["o"], data["p"]
        ok = (
            isinstance(v, str)
            and VISITOR_ID.fullmatch(v)
            and t in ("g", "r")
            and (a is None or (isinstance(a, str) and ACCOUNT_ID.fullmatch(a)))
            and (t == "g" or a is not None)
            and isinstance(o, list)
            and len(o) <= MAX_OPENED
            and len(set(map(str, o))) == len(o)
            and all(isinstance(c, str) and CODE_KEY.fullmatch(c) for c in o)
            and type(p) is int
            and 0 <= now - p <= period
        )
        if not ok:
            raise InvalidToken("fields")
        return cls(v, REGISTERED if t == "r" else GUEST, a, frozenset(o), p)


@dataclass(frozen=True)
class Request:
    """What the adapter knows about the request. ``code`` is the metered code of the page
    ("system:CODE"), or None for a page with no gated section (those never spend a view)."""

    method: str
    code: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names

    @property
    def may_spend(self) -> bool:
        """Only a plain GET may open a code: HEAD, Range, prefetches and previews get the teaser."""
        h = self.headers
        purpose = " ".join(h.get(k, "") for k in PURPOSE_HEADERS).lower()
        return self.method == "GET" and "range" not in h and not any(w in purpose for w in NOT_A_VISIT)


@dataclass(frozen=True)
class Decision:
    action: Action
    state: MeterState
    limit: int
    charge: str | None  # a code to open (new to this meter) if the store agrees
    set_cookies: tuple[str, ...]
    resign: bool  # the meter cookie must be (re)issued
    fresh: bool = False  # no valid meter cookie came with the request: a new guest
    # the store subject the request's meter cookie was issued for (None: no valid cookie); when
    # it differs from ``state.subject`` the visitor signed in, out, or changed account
    origin: str | None = None

    @property
    def remaining(self) -> int:
        return max(0, self.limit - len(self.state.opened))

    @property
    def registered(self) -> bool:
        return self.state.tier == REGISTERED


def code_key(system: str, code: str) -> str:
    """The meter's name for a code page: "system:CODE", or a short hash when that does not fit
    the cookie's strict pattern (so every metered page has a key the cookie can carry)."""
    key = f"{system}:{code}"
    return key if CODE_KEY.fullmatch(key) else "h:" + hashlib.sha256(key.encode()).hexdigest()[:18]


def new_visitor_id() -> str:
    return secrets.token_urlsafe(16)


def read_account_claim(cookies: Cookies, now: int, keys: Keys, policy: Policy) -> tuple[str, str] | None:
    """(account id, session id) of a valid account cookie, else None. Whether the session is
    still open (not logged out) is for an adapter with a store to check."""
    try:
        data, _ = policy.account_codec.loads(only(cookies, policy.account_cookie), keys, now)
    except Exception:  # noqa: BLE001 - InvalidToken or a hostile payload: no account
        return None
    if not isinstance(data, dict) or set(data) != {"a", "s"}:
        return None
    a, sid = data["a"], data["s"]
    if isinstance(a, str) and ACCOUNT_ID.fullmatch(a) and isinstance(sid, str) and VISITOR_ID.fullmatch(sid):
        return a, sid
    return None


def read_account(cookies: Cookies, now: int, keys: Keys, policy: Policy) -> str | None:
    """The account id of a valid account cookie, else None."""
    claim = read_account_claim(cookies, now, keys, policy)
    return claim[0] if claim else None


def account_cookie(account: str, session: str, keys: Keys, now: int, policy: Policy) -> str:
    """The account cookie for ``account``'s log-in ``session`` (a random id, see the store)."""
    value = policy.account_codec.dumps({"a": account, "s": session}, keys, now)
    return set_cookie(policy.account_cookie, value, policy.account_days * DAY, policy.secure)


def clear_cookie(name: str, secure: bool) -> str:
    return set_cookie(name, "", 0, secure)


def read_meter(cookies: Cookies, now: int, keys: Keys, policy: Policy) -> tuple[MeterState | None, bool]:
    try:
        data, resign = policy.meter_codec.loads(only(cookies, policy.meter_cookie), keys, now)
        return MeterState.from_payload(data, now, policy.period), resign
    except InvalidToken:
        return None, True
    except Exception:  # noqa: BLE001 - whatever a hostile value does, it is a new guest
        return None, True


def identify(
    cookies: Cookies,
    now: int,
    keys: Keys,
    policy: Policy,
    account: str | None = None,
    new_id: Callable[[], str] = new_visitor_id,
) -> tuple[MeterState, bool]:
    """The visitor's meter state and whether its cookie must be (re)issued.

    The registered tier needs a valid account cookie naming the same account as the meter
    (``account`` overrides the cookie: an identity provider's verified subject). A meter for
    another account, or a registered meter without its account cookie, falls back to guest rules
    keeping the codes it opened (so it cannot come back with a fresh guest allowance).
    """
    state, resign, _ = _identify(cookies, now, keys, policy, account, new_id)
    return state, resign


def _identify(
    cookies: Cookies,
    now: int,
    keys: Keys,
    policy: Policy,
    account: str | None,
    new_id: Callable[[], str],
) -> tuple[MeterState, bool, str | None]:
    """(state, resign, origin): ``origin`` is the subject of a valid meter cookie, else None."""
    if account is None:
        account = read_account(cookies, now, keys, policy)
    state, resign = read_meter(cookies, now, keys, policy)
    origin = state.subject if state is not None else None
    if state is None:
        state = MeterState(new_id(), GUEST, None, frozenset(), now)
    elif now - state.period_start >= policy.period:  # the period ended (as the store says): a new one
        state = replace(state, opened=frozenset(), period_start=now)
        resign = True
    if account is not None and (state.tier != REGISTERED or state.account != account):
        state = replace(state, tier=REGISTERED, account=account)
        resign = True
    elif account is None and state.tier == REGISTERED:
        state = replace(state, tier=GUEST, account=None)
        resign = True
    return state, resign, origin


def decide(
    request: Request,
    cookies: Cookies,
    now: int,
    keys: Keys,
    policy: Policy | None = None,
    *,
    account: str | None = None,
    new_id: Callable[[], str] = new_visitor_id,
) -> Decision:
    """Full page or teaser for a metered page, from the cookies alone."""
    policy = policy or Policy()
    state, resign, origin = _identify(cookies, now, keys, policy, account, new_id)
    limit = policy.limit(state.tier)
    code = request.code
    action: Action = "teaser"
    charge = None
    if code is not None and request.may_spend:
        if code in state.opened:
            action = "full"
        elif len(state.opened) < limit:
            action, charge = "full", code
            state = replace(state, opened=state.opened | {code})
            resign = True
    d = Decision(action, state, limit, charge, (), resign, origin is None, origin)
    return _finish(d, keys, now, policy)


def settle(
    decision: Decision,
    recorded: Iterable[str],
    granted: bool,
    period_start: int,
    keys: Keys,
    now: int,
    policy: Policy,
) -> Decision:
    """Apply a store's answer: ``recorded`` is every code the subject opened this period (the
    store's record, which a restored cookie cannot shrink), ``granted`` whether this page may be
    shown in full."""
    opened = frozenset(recorded)
    state = replace(decision.state, opened=opened, period_start=period_start)
    action: Action = "full" if granted and decision.action == "full" else "teaser"
    d = replace(
        decision,
        action=action,
        state=state,
        resign=decision.resign or opened != decision.state.opened,
    )
    return _finish(d, keys, now, policy)


def issue_meter(state: MeterState, keys: Keys, now: int, policy: Policy) -> str:
    """The Set-Cookie header value carrying ``state``, signed with the newest key."""
    value = policy.meter_codec.dumps(state.payload(), keys, now)
    return set_cookie(policy.meter_cookie, value, policy.period, policy.secure)


def _finish(d: Decision, keys: Keys, now: int, policy: Policy) -> Decision:
    return replace(d, set_cookies=(issue_meter(d.state, keys, now, policy),) if d.resign else ())


def csrf_token(visitor: str, keys: Keys, now: int) -> str:
    return Codec(CSRF_SALT, 2 * 3600).dumps({"v": visitor}, keys, now)


def csrf_ok(token: str | None, visitor: str, keys: Keys, now: int) -> bool:
    """A CSRF token is valid for two hours and only for the visitor it was issued to."""
    try:
        data, _ = Codec(CSRF_SALT, 2 * 3600).loads(token, keys, now)
    except (InvalidToken, Exception):  # noqa: BLE001
        return False
    return isinstance(data, dict) and data.get("v") == visitor
