"""The pure core: cookies in, decision out. Every hostile cookie is a new guest."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer

from edge.cookies import Codec, Keys, parse_cookies
from edge.core import (
    ACCOUNT_SALT,
    METER_SALT,
    MeterState,
    Policy,
    Request,
    account_cookie,
    decide,
    issue_meter,
)

NOW = 1_800_000_000
POLICY = Policy(secure=True)
KEYS = Keys.of("core-test-key-0123456789abcdef")
GUEST_ID = "visitor-original-0001"


def value_of(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


def meter_value(
    opened: set[str],
    tier: str = "guest",
    account: str | None = None,
    keys: Keys = KEYS,
    at: int = NOW,
) -> str:
    state = MeterState(GUEST_ID, tier, account, frozenset(opened), at)
    return value_of(issue_meter(state, keys, at, POLICY))


def cookies(meter: str | None = None, account: str | None = None) -> dict[str, list[str]]:
    out = {}
    if meter is not None:
        out[POLICY.meter_cookie] = [meter]
    if account is not None:
        out[POLICY.account_cookie] = [account]
    return out


def get(code: str, **headers: str) -> Request:
    return Request("GET", code, {k.replace("_", "-"): v for k, v in headers.items()})


SESSION = "session-id-000000001"
FRESH = "fresh-visitor-000001"


def assert_new_guest(code: str, jar: dict[str, list[str]], now: int = NOW, keys: Keys = KEYS) -> None:
    """What a new guest gets: a new visitor id, guest rules, exactly the guest allowance (one
    view, spent on this code), nothing carried from the cookie it sent."""
    d = decide(get(code), jar, now, keys, POLICY, new_id=lambda: FRESH)
    assert d.fresh and d.state.visitor == FRESH and d.state.tier == "guest" and d.state.account is None
    assert d.limit == POLICY.guest_views == 1
    assert d.action == "full" and d.state.opened == {code} and d.remaining == 0 and d.set_cookies
SPENT = meter_value({"demo:D101"})  # a guest with no views left


def test_new_guest_gets_one_view_then_teaser() -> None:
    d = decide(get("demo:D101"), {}, NOW, KEYS, POLICY)
    assert d.action == "full" and d.remaining == 0 and d.set_cookies
    jar = cookies(value_of(d.set_cookies[0]))
    assert decide(get("demo:D102"), jar, NOW, KEYS, POLICY).action == "teaser"
    again = decide(get("demo:D101"), jar, NOW + 60, KEYS, POLICY)
    assert again.action == "full" and again.remaining == 0


def test_cookie_attributes() -> None:
    d = decide(get("demo:D101"), {}, NOW, KEYS, POLICY)
    header = d.set_cookies[0]
    assert header.startswith("__Host-codesite-meter=")
    for attr in ("Path=/", "HttpOnly", "SameSite=Lax", "Secure", f"Max-Age={30 * 86400}"):
        assert attr in header
    assert "Domain" not in header
    local = decide(get("demo:D101"), {}, NOW, KEYS, Policy(secure=False)).set_cookies[0]
    assert local.startswith("codesite-meter=") and "Secure" not in local


def flip(i: int) -> Callable[[str], str]:
    def f(v: str) -> str:
        i2 = i % len(v)
        c = "A" if v[i2] != "A" else "B"
        return v[:i2] + c + v[i2 + 1 :]

    return f


MUTATIONS: dict[str, Callable[[str], str]] = {
    "flip-payload-first": flip(0),
    "flip-payload-middle": lambda v: flip(len(v.split(".")[0]) // 2)(v),
    "flip-timestamp": lambda v: flip(len(v.split(".")[0]) + 2)(v),
    "flip-signature-last": flip(-1),
    "flip-signature-middle": flip(-20),
    "truncate-one": lambda v: v[:-1],
    "truncate-half": lambda v: v[: len(v) // 2],
    "drop-signature": lambda v: v.rsplit(".", 1)[0],
    "append-garbage": lambda v: v + "x",
    "append-dot-garbage": lambda v: v + ".abc",
    "trailing-equals": lambda v: v + "=",
    "trailing-double-equals": lambda v: v + "==",
    "padded-payload": lambda v: v.replace(".", "=.", 1),
    "empty": lambda v: "",
    "dot": lambda v: ".",
    "dots": lambda v: "..",
    "non-base64": lambda v: "!!!.@@@.###",
    "unicode": lambda v: v[:-1] + "é",
    "5kb": lambda v: "A" * 5000,
    "just-over-1kb": lambda v: ("A" * 1000) + "." + v.split(".", 1)[1],
    "whitespace-inside": lambda v: v[:10] + " " + v[10:],
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_tampered_meter_cookie_is_a_new_guest(name: str) -> None:
    bad = MUTATIONS[name](SPENT)
    d = decide(get("demo:D102"), cookies(bad), NOW, KEYS, POLICY, new_id=lambda: "fresh-visitor-000001")
    assert d.state.visitor == "fresh-visitor-000001"
    assert d.state.opened == frozenset({"demo:D102"}) and d.state.tier == "guest"
    assert d.remaining == 0  # a new guest's single view, never more


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_tampered_account_cookie_is_not_registered(name: str) -> None:
    good = value_of(account_cookie("7", SESSION, KEYS, NOW, POLICY))
    d = decide(get("demo:D103"), cookies(SPENT, MUTATIONS[name](good)), NOW, KEYS, POLICY)
    assert d.state.tier == "guest" and d.action == "teaser" and d.remaining == 0


def test_wrong_key() -> None:
    other = Keys.of("someone-elses-key-0123456789")
    assert_new_guest("demo:D102", cookies(meter_value({"demo:D101"}, keys=other)))


def test_rotation_old_key_accepted_and_resigned_then_rejected_once_removed() -> None:
    old = Keys.of("old-key-0123456789abcdefghij")
    rotated = Keys.of("old-key-0123456789abcdefghij", "new-key-0123456789abcdefghij")
    value = meter_value({"demo:D101"}, keys=old)
    d = decide(get("demo:D101"), cookies(value), NOW, rotated, POLICY)
    assert d.state.visitor == GUEST_ID and d.action == "full" and d.set_cookies
    resigned = value_of(d.set_cookies[0])
    newest_only = Keys.of("new-key-0123456789abcdefghij")
    assert decide(get("demo:D101"), cookies(resigned), NOW, newest_only, POLICY).state.visitor == GUEST_ID
    assert_new_guest("demo:D101", cookies(value), NOW, newest_only)


def test_wrong_salt_account_token_as_meter() -> None:
    token = Codec(ACCOUNT_SALT, POLICY.period).dumps(
        MeterState(GUEST_ID, "guest", None, frozenset(), NOW).payload(), KEYS, NOW
    )
    assert_new_guest("demo:D102", cookies(token), NOW, KEYS)
    meter_as_account = Codec(METER_SALT, POLICY.period).dumps({"a": "7"}, KEYS, NOW)
    d = decide(get("demo:D102"), cookies(SPENT, meter_as_account), NOW, KEYS, POLICY)
    assert d.state.tier == "guest"


def test_plain_itsdangerous_default_salt_rejected() -> None:
    plain = URLSafeTimedSerializer(KEY_TEXT := "core-test-key-0123456789abcdef").dumps({"v": GUEST_ID})
    assert KEY_TEXT
    assert_new_guest("demo:D102", cookies(plain), NOW, KEYS)


@pytest.mark.parametrize("age, valid", [(POLICY.period, True), (POLICY.period + 1, False)])
def test_expiry_boundary(age: int, valid: bool) -> None:
    value = meter_value({"demo:D101"}, at=NOW - age)
    if valid:  # signed exactly a period ago: the same visitor, in a new period (as the store has it)
        d = decide(get("demo:D102"), cookies(value), NOW, KEYS, POLICY)
        assert d.state.visitor == GUEST_ID and d.state.period_start == NOW
        assert d.action == "full" and d.state.opened == {"demo:D102"} and d.remaining == 0
        last = decide(get("demo:D102"), cookies(meter_value({"demo:D101"}, at=NOW - age + 1)), NOW, KEYS, POLICY)
        assert last.state.visitor == GUEST_ID and last.action == "teaser"  # its last second: spent
    else:
        assert_new_guest("demo:D102", cookies(value))


@pytest.mark.parametrize("ahead", [1, 3600])
def test_future_timestamp_rejected(ahead: int) -> None:
    value = meter_value({"demo:D101"}, at=NOW + ahead)
    assert_new_guest("demo:D102", cookies(value), NOW, KEYS)


@pytest.mark.parametrize(
    "payload",
    [
        {"v": GUEST_ID, "t": "r", "a": None, "o": [], "p": NOW},  # registered without account
        {"v": GUEST_ID, "t": "g", "a": None, "o": [], "p": NOW + 5},  # period from the future
        {"v": GUEST_ID, "t": "g", "a": None, "o": "demo:D101", "p": NOW},
        {"v": GUEST_ID, "t": "g", "a": None, "o": ["demo:D101", "demo:D101"], "p": NOW},
        {"v": GUEST_ID, "t": "g", "a": None, "o": [], "p": NOW, "extra": 1},
        {"v": "short", "t": "g", "a": None, "o": [], "p": NOW},
        {"v": GUEST_ID, "t": "g", "a": None, "o": [], "p": True},
        [GUEST_ID],
    ],
)
def test_signed_but_malformed_payload_is_a_new_guest(payload: object) -> None:
    value = POLICY.meter_codec.dumps(payload, KEYS, NOW)
    assert_new_guest("demo:D102", cookies(value), NOW, KEYS)


def test_duplicate_meter_cookies_are_a_new_guest() -> None:
    jar = {POLICY.meter_cookie: [SPENT, SPENT]}
    assert_new_guest("demo:D102", jar, NOW, KEYS)


def test_malformed_pairs_before_ours_and_several_headers() -> None:
    name = POLICY.meter_cookie
    jar = parse_cookies(["junk; =novalue; noequals; a=b;;", f' x="y" , {name}={SPENT}'])
    d = decide(get("demo:D102"), jar, NOW, KEYS, POLICY)
    assert d.state.visitor == GUEST_ID and d.action == "teaser"
    twice = parse_cookies([f"{name}={SPENT}", f"{name}={meter_value(set())}"])
    assert_new_guest("demo:D102", twice, NOW, KEYS)


def test_lookalike_names_are_not_ours() -> None:
    jar = parse_cookies([f"codesite-meter={SPENT}; __host-codesite-meter={SPENT}"])
    assert_new_guest("demo:D102", jar, NOW, KEYS)


@pytest.mark.parametrize(
    "method, headers",
    [
        ("HEAD", {}),
        ("GET", {"range": "bytes=0-100"}),
        ("GET", {"sec-purpose": "prefetch"}),
        ("GET", {"sec-purpose": "prefetch;prerender"}),
        ("GET", {"purpose": "prefetch"}),
        ("POST", {}),
    ],
)
def test_no_spend_requests_get_teaser_and_spend_nothing(method: str, headers: dict[str, str]) -> None:
    fresh = meter_value(set())
    d = decide(Request(method, "demo:D101", headers), cookies(fresh), NOW, KEYS, POLICY)
    assert d.action == "teaser" and d.state.opened == frozenset() and d.remaining == 1
    opened = meter_value({"demo:D101"})
    assert decide(Request(method, "demo:D101", headers), cookies(opened), NOW, KEYS, POLICY).action == "teaser"


def test_registered_limits_and_binding() -> None:
    acct = value_of(account_cookie("42", SESSION, KEYS, NOW, POLICY))
    jar = cookies(SPENT, acct)
    codes = [f"demo:D10{i}" for i in range(2, 7)]
    for code in codes:
        d = decide(get(code), jar, NOW, KEYS, POLICY)
        assert d.action == "full" and d.state.account == "42"
        jar = cookies(value_of(d.set_cookies[0]), acct)
    assert d.remaining == 0
    assert decide(get("demo:D107"), jar, NOW, KEYS, POLICY).action == "teaser"
    # the registered meter without its account cookie: guest rules, no fresh allowance
    no_account = decide(get("demo:D108"), cookies(jar[POLICY.meter_cookie][0]), NOW, KEYS, POLICY)
    assert no_account.state.tier == "guest" and no_account.action == "teaser"
    # another account's cookie does not inherit this meter's tier for free views beyond its limit
    other = value_of(account_cookie("43", SESSION, KEYS, NOW, POLICY))
    d = decide(get("demo:D108"), cookies(jar[POLICY.meter_cookie][0], other), NOW, KEYS, POLICY)
    assert d.state.account == "43" and d.action == "teaser"


def test_cookie_stays_small() -> None:
    state = MeterState(GUEST_ID, "registered", "1234567", frozenset(f"icd10cm:S72.00{i}A" for i in range(6)), NOW)
    assert len(issue_meter(state, KEYS, NOW, POLICY)) < 400
    assert json.dumps(state.payload())


def test_account_cookie_attributes() -> None:
    header = account_cookie("7", SESSION, KEYS, NOW, POLICY)
    assert header.startswith("__Host-codesite-account=")
    for attr in ("Path=/", "HttpOnly", "SameSite=Lax", "Secure", f"Max-Age={30 * 86400}"):
        assert attr in header


FUZZ = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.lists(st.text(max_size=300), max_size=4))
def test_any_cookie_headers_make_at_most_a_new_guest(headers: list[str]) -> None:
    jar = parse_cookies(headers)
    d = decide(get("demo:D102"), jar, NOW, KEYS, POLICY)
    assert d.state.tier == "guest" and len(d.state.opened) <= POLICY.guest_views


@FUZZ
@given(st.integers(min_value=0, max_value=len(SPENT) - 1), st.text(max_size=8), st.integers(0, 8))
def test_any_edit_of_a_spent_cookie_gives_no_more_views(at: int, insert: str, cut: int) -> None:
    edited = SPENT[:at] + insert + SPENT[at + cut :]
    d = decide(get("demo:D102"), cookies(edited), NOW, KEYS, POLICY, new_id=lambda: "fresh-visitor-000001")
    if edited == SPENT:
        assert d.action == "teaser"
    else:
        # either still this guest (no views left) or a brand-new guest with exactly one view
        assert d.action == "teaser" or (d.state.visitor == "fresh-visitor-000001" and d.remaining == 0)


def test_fullest_cookie_fits_in_1kb_and_limits_are_checked() -> None:
    from edge.core import MAX_OPENED

    policy = Policy(guest_views=4, registered_views=MAX_OPENED - 4)
    opened = frozenset(f"icd10cm:S72.{i:03d}A" for i in range(MAX_OPENED + 5))  # more than fit
    value = value_of(issue_meter(MeterState(GUEST_ID, "registered", "1234567890", opened, NOW), KEYS, NOW, policy))
    assert len(value) <= 1024
    acct = value_of(account_cookie("1234567890", SESSION, KEYS, NOW, policy))
    d = decide(get("icd10cm:S73.0"), cookies(value, acct), NOW, KEYS, policy)
    assert d.state.visitor == GUEST_ID and len(d.state.opened) == MAX_OPENED and d.action == "teaser"
    with pytest.raises(ValueError):
        Policy(guest_views=1, registered_views=MAX_OPENED)


def test_code_keys_always_fit_the_cookie() -> None:
    from edge.core import CODE_KEY, code_key

    assert code_key("icd10cm", "S72.001A") == "icd10cm:S72.001A"
    odd = code_key("cpt", "A_B C/very-long-code-name-beyond-twenty")
    assert CODE_KEY.fullmatch(odd) and odd == code_key("cpt", "A_B C/very-long-code-name-beyond-twenty")
    d = decide(get(odd), {}, NOW, KEYS, POLICY)
    again = decide(get(odd), cookies(value_of(d.set_cookies[0])), NOW, KEYS, POLICY)
    assert again.state.visitor == d.state.visitor and again.action == "full"


def test_a_token_read_again_is_checked_again() -> None:
    """Verified tokens are remembered (the HMAC is not recomputed), their age and keys are not."""
    value = meter_value({"demo:D101"}, at=NOW)
    period = POLICY.period
    for now, valid in [(NOW, True), (NOW + period, True), (NOW + period + 1, False), (NOW - 1, False)]:
        if valid:
            assert decide(get("demo:D102"), cookies(value), now, KEYS, POLICY).state.visitor == GUEST_ID
        else:
            assert_new_guest("demo:D102", cookies(value), now)
    new = Keys.of("core-test-key-0123456789abcdef", "core-test-key-rotated-0123456789")
    rotated = decide(get("demo:D102"), cookies(value), NOW, new, POLICY)
    assert rotated.state.visitor == GUEST_ID and rotated.set_cookies  # old key: accepted, re-signed
    assert decide(get("demo:D102"), cookies(value), NOW, new, POLICY).set_cookies
    retired = Keys.of("core-test-key-rotated-0123456789")
    assert_new_guest("demo:D102", cookies(value), NOW, retired)
    data = Codec(METER_SALT, period).loads(value, KEYS, NOW)[0]
    data["o"].append("demo:D999")  # a caller changing what it got changes nothing remembered
    assert Codec(METER_SALT, period).loads(value, KEYS, NOW)[0]["o"] == ["demo:D101"]
