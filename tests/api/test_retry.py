"""Faults from the sandbox: 429 storms with Retry-After, 5xx, dropped connections; reads are
retried, writes only when the server provably did not process them."""

import random
from collections import Counter

import httpx
import pytest

from reconciler.api import ClientEvent, EventKind, RetryPolicy
from reconciler.api.limiter import CLIENT, RateLimiter
from reconciler.api.retry import AdaptiveLimiter, is_throttle, parse_retry_after
from reconciler.errors import ApiError, OutcomeUnknownError, ThrottledError, TransportError
from reconciler.live.read import read_all
from reconciler.model import Region
from reconciler.sandbox import Faults, SandboxTransport, World
from reconciler.sandbox.faults import RetryAfter
from tests.api.helpers import AMC, Intercept, Sleeps, invitation, sandbox_client


def _clean_read(world: World) -> object:
    with sandbox_client(world) as client:
        return read_all(client.reader(), now=0.0)


def test_a_429_storm_is_ridden_out_honouring_retry_after(sandbox_world: World) -> None:
    expected = _clean_read(sandbox_world)
    events: list[ClientEvent] = []
    faults = Faults(p_429=0.5, seed=7)
    with sandbox_client(sandbox_world, faults=faults, on_event=events.append) as client:
        live = read_all(client.reader(), now=0.0)
        stats = client.stats
    assert live == expected
    assert stats.throttled == sandbox_world.stats.throttled > 5
    # The sandbox says `Retry-After: 1`: every throttled request waited at least that long
    # before it was re-sent (the limiter's own pacing comes on top, as WAIT events).
    retries = [e for e in events if e.kind is EventKind.RETRY]
    assert len(retries) == stats.throttled
    assert all(e.wait_s >= 1.0 for e in retries)


def test_5xx_and_dropped_connections_on_reads_are_retried(sandbox_world: World) -> None:
    expected = _clean_read(sandbox_world)
    faults = Faults(p_5xx=0.3, p_drop=0.3, seed=3)
    # About half the requests fail: with the default 6 attempts one of the ~30 reads gives up
    # now and then (the threads draw faults in no fixed order). This test is about retrying,
    # not the budget (the next test), so the budget is out of reach: 0.51**20 per request.
    patient = RetryPolicy(max_attempts=20, base_delay_s=0.0, max_delay_s=0.0)
    with sandbox_client(sandbox_world, faults=faults, retry=patient) as client:
        live = read_all(client.reader(), now=0.0)
        assert client.stats.retries > 3
    assert live == expected
    assert sandbox_world.stats.faults["5xx"] > 0
    assert sandbox_world.stats.faults["drop"] > 0


def test_reads_give_up_after_the_retry_budget(sandbox_world: World) -> None:
    policy = RetryPolicy(max_attempts=3, base_delay_s=0.0, max_delay_s=0.0)
    with (
        sandbox_client(sandbox_world, faults=Faults(p_5xx=1.0), retry=policy) as client,
        pytest.raises(ApiError) as info,
    ):
        client.list_manager_accounts(Region.NA)
    assert "gave up after 3 attempts" in str(info.value)
    assert sandbox_world.stats.requests["getManagerAccountsForUser"] == 3


def test_429_forever_raises_throttled_error(sandbox_world: World) -> None:
    policy = RetryPolicy(max_throttled_attempts=4, base_delay_s=0.0)
    with (
        sandbox_client(sandbox_world, faults=Faults(p_429=1.0), retry=policy) as client,
        pytest.raises(ThrottledError, match="still throttled after 4 attempts"),
    ):
        list(client.iter_amc_accounts())


def test_a_throttled_write_is_retried_and_applied_once(sandbox_world: World) -> None:
    with sandbox_client(sandbox_world, faults=Faults(p_429=0.6, seed=2)) as client:
        for i in range(5):
            assert client.create_invitations(
                AMC, [invitation(f"w{i}@example.com")], notify=False
            ).ok
        assert client.stats.throttled > 0
    emails = [i.email for i in sandbox_world.amc[AMC].invitations]
    assert sorted(e for e in emails if e.startswith("w")) == [f"w{i}@example.com" for i in range(5)]
    assert sandbox_world.stats.writes == 5


@pytest.mark.parametrize(
    ("faults", "applied"),
    [
        (Faults(p_5xx_after_write=1.0), 1),
        (Faults(p_drop_after_write=1.0), 1),
        (Faults(p_5xx=1.0), 0),  # the client cannot tell this 500 from one after the write
        (Faults(p_drop=1.0), 0),
    ],
)
def test_an_ambiguous_write_is_never_resent(
    sandbox_world: World, faults: Faults, applied: int
) -> None:
    with (
        sandbox_client(sandbox_world, faults=faults) as client,
        pytest.raises(OutcomeUnknownError) as info,
    ):
        client.create_invitations(AMC, [invitation("x@example.com")], notify=False)
    assert info.value.operation == "CreateUserInvitations"
    assert "may or may not have been made" in str(info.value)
    assert sandbox_world.stats.requests["CreateUserInvitations"] == 1
    assert sandbox_world.stats.writes == applied


def test_a_write_that_could_not_connect_is_retried(sandbox_world: World) -> None:
    failures = [2]

    def refuse_twice(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/user-invitations" and failures[0] > 0:
            failures[0] -= 1
            raise httpx.ConnectError("connection refused", request=request)
        return None

    transport = Intercept(SandboxTransport(sandbox_world), refuse_twice)
    with sandbox_client(sandbox_world, transport=transport) as client:
        assert client.create_invitations(AMC, [invitation("y@example.com")], notify=False).ok
        assert client.stats.retries == 2
    assert sandbox_world.stats.writes == 1


def test_unreachable_host_gives_transport_error_naming_the_settings(sandbox_world: World) -> None:
    def refuse(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/auth/o2/token":
            return None  # Login with Amazon answers; the API host does not
        raise httpx.ConnectError("connection refused", request=request)

    transport = Intercept(SandboxTransport(sandbox_world), refuse)
    with (
        sandbox_client(sandbox_world, transport=transport) as client,
        pytest.raises(TransportError, match="AMAZON_ADS_\\*_URL"),
    ):
        client.list_manager_accounts(Region.FE)


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


class _Sim:
    """A single-threaded simulation of the limiter against a token-bucket server."""

    def __init__(self, server_rps: float, latency_s: float) -> None:
        self.t = 0.0
        self.rps = server_rps
        self.latency = latency_s
        self.tokens = server_rps
        self.updated = 0.0

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds

    def request(self) -> bool:
        self.t += self.latency
        self.tokens = min(self.rps, self.tokens + (self.t - self.updated) * self.rps)
        self.updated = self.t
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def test_the_limiter_settles_just_under_the_servers_rate() -> None:
    sim = _Sim(server_rps=40.0, latency_s=0.005)  # the client alone could do 200 rps
    limiter = AdaptiveLimiter(RetryPolicy(), clock=sim.clock, sleep=sim.sleep)
    admitted = throttled = 0
    while sim.t < 120.0:
        limiter.acquire()
        if sim.request():
            admitted += 1
            limiter.admitted()
        else:
            throttled += 1
            limiter.throttled()
    # Steady state within 10% of the server's limit, with few 429s along the way.
    assert admitted / sim.t > 0.9 * 40.0
    assert throttled < 0.05 * admitted
    assert limiter.rate is not None and 30.0 < limiter.rate < 44.0


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=5.0)
    rng = random.Random(0)
    delays = [policy.backoff(n, rng) for n in (1, 2, 3, 4, 5)]
    assert 0.5 <= delays[0] <= 1.0
    assert 1.0 <= delays[1] <= 2.0
    assert 2.0 <= delays[2] <= 4.0
    assert all(2.5 <= d <= 5.0 for d in delays[3:])


def test_default_policy_is_immutable() -> None:
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_attempts = 1  # type: ignore[misc]


def test_random_429s_do_not_drag_the_rate_to_the_floor() -> None:
    """A storm: 20% of requests get 429 whatever the pace, and no rate limit at all."""
    sim = _Sim(server_rps=1e9, latency_s=0.01)  # the client alone does 100 rps
    rng = random.Random(4)
    limiter = AdaptiveLimiter(RetryPolicy(), clock=sim.clock, sleep=sim.sleep)
    admitted = 0
    while sim.t < 60.0:
        limiter.acquire()
        sim.request()
        if rng.random() < 0.2:
            limiter.throttled()
        else:
            admitted += 1
            limiter.admitted()
    # The first 429 sets a rate (none was known); the scattered ones after it do not cut
    # further, so the pace stays near half the demand instead of sinking to the floor.
    assert limiter.rate is not None and limiter.rate > 40.0
    assert admitted / sim.t > 30.0


# ---- a pace per operation family, whatever the 429 signalling --------------------
class _Server:
    """Token buckets as the sandbox keeps them: one for the client, one per limited operation;
    a request needs a token from each and a refused one takes none."""

    def __init__(
        self,
        client_rps: float,
        op_rps: dict[str, float],
        latency_s: float,
        buckets: dict[str, str] | None = None,  # operation -> the bucket it draws from
    ) -> None:
        self.buckets = buckets or {}
        self.t = 0.0
        self.latency = latency_s
        self.rps = {"*": client_rps, **op_rps}
        self.tokens = dict(self.rps)
        self.updated = 0.0

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds

    def request(self, operation: str) -> bool:
        self.t += self.latency
        for key, rps in self.rps.items():
            self.tokens[key] = min(rps, self.tokens[key] + (self.t - self.updated) * rps)
        self.updated = self.t
        bucket = self.buckets.get(operation, operation)
        keys = [k for k in ("*", bucket) if k in self.rps]
        if all(self.tokens[k] >= 1 for k in keys):
            for k in keys:
                self.tokens[k] -= 1
            return True
        return False


def _drive(
    limiter: RateLimiter, server: _Server, cycle: list[str], seconds: float
) -> tuple[Counter[str], int]:
    admitted: Counter[str] = Counter()
    throttled = 0
    i = 0
    while server.t < seconds:
        operation = cycle[i % len(cycle)]
        i += 1
        ticket = limiter.acquire(operation)
        if server.request(operation):
            admitted[operation] += 1
            limiter.admitted(operation, ticket)
        else:
            throttled += 1
            limiter.throttled(operation, ticket)
    return admitted, throttled


def test_a_tighter_limit_on_one_operation_is_learnt_by_its_own_pace() -> None:
    """The issue's shape: 200/s for the client, 120/s on QueryUserRoles, which makes most of
    the traffic; the client alone could send 500/s."""
    server = _Server(200.0, {"QueryUserRoles": 120.0}, latency_s=0.002)
    limiter = RateLimiter(RetryPolicy(), clock=server.clock, sleep=server.sleep)
    cycle = ["QueryUserRoles"] * 25 + ["ListUsers"]
    admitted, throttled = _drive(limiter, server, cycle, seconds=60.0)
    assert admitted["QueryUserRoles"] / server.t > 0.9 * 120.0
    total = sum(admitted.values()) + throttled
    assert throttled <= 0.05 * total
    rates = limiter.rates
    assert rates["QueryUserRoles"] is not None and 100.0 < rates["QueryUserRoles"] < 135.0
    # The other operation and the client were never blamed: they stay unlimited.
    assert rates["ListUsers"] is None and rates[CLIENT] is None


def test_a_client_wide_limit_is_blamed_on_the_client_pace() -> None:
    """Two operations, both throttled in the same moments: the client's limit, not theirs."""
    server = _Server(100.0, {}, latency_s=0.002)
    limiter = RateLimiter(RetryPolicy(), clock=server.clock, sleep=server.sleep)
    admitted, throttled = _drive(limiter, server, ["ListUsers", "QueryUserRoles"], seconds=60.0)
    assert sum(admitted.values()) / server.t > 0.9 * 100.0
    assert throttled <= 0.05 * (sum(admitted.values()) + throttled)
    assert limiter.rates[CLIENT] is not None


def test_operations_of_one_family_share_its_pace() -> None:
    """The server limits two operations together (60/s); so does the client, told so."""
    together = {"ListUsers": "users", "QueryUserRoles": "users"}
    policy = RetryPolicy(families=tuple(together.items()))
    server = _Server(1e9, {"users": 60.0}, latency_s=0.002, buckets=together)
    limiter = RateLimiter(policy, clock=server.clock, sleep=server.sleep)
    assert limiter.family("ListUsers") == limiter.family("QueryUserRoles") == "users"
    assert limiter.family("ListUserInvitations") == "ListUserInvitations"
    admitted, throttled = _drive(limiter, server, ["QueryUserRoles", "ListUsers"], seconds=60.0)
    assert sum(admitted.values()) / server.t > 0.9 * 60.0
    assert throttled <= 0.05 * (sum(admitted.values()) + throttled)
    rate = limiter.rates["users"]
    assert rate is not None and 50.0 < rate < 70.0
    assert "QueryUserRoles" not in limiter.rates


def test_a_429_on_a_request_sent_before_the_cut_does_not_cut_again() -> None:
    server = _Server(1e9, {}, latency_s=0.0)
    limiter = RateLimiter(RetryPolicy(), clock=server.clock, sleep=server.sleep)
    early = [limiter.acquire("ListUsers") for _ in range(2)]
    for _ in range(50):
        server.t += 0.01
        limiter.admitted("ListUsers", limiter.acquire("ListUsers"))
    limiter.throttled("ListUsers", early[0])
    cut = limiter.rates["ListUsers"]
    assert cut is not None and 90.0 < cut < 100.0  # 0.95 x the 100/s admitted
    server.t += 0.3
    limiter.throttled("ListUsers", early[1])
    assert limiter.rates["ListUsers"] == cut


def test_a_rate_limiter_that_is_not_adaptive_never_waits() -> None:
    server = _Server(1.0, {}, latency_s=0.0)
    limiter = RateLimiter(RetryPolicy(adaptive=False), clock=server.clock, sleep=server.sleep)
    for _ in range(100):
        limiter.throttled("ListUsers", limiter.acquire("ListUsers"))
    assert limiter.acquire("ListUsers").waited == 0.0 and server.t == 0.0


@pytest.mark.parametrize(
    "faults",
    [
        Faults(p_429=0.5, seed=7, retry_after=RetryAfter.NONE),
        Faults(p_429=0.5, seed=7, retry_after=RetryAfter.NONE, throttled_header=True),
        Faults(p_429=0.5, seed=7, retry_after=RetryAfter.NONE, html_429=True),
        Faults(p_429=0.5, seed=7, retry_after=RetryAfter.DATE, throttled_header=True),
    ],
    ids=["no-retry-after", "throttled-header", "html", "date"],
)
def test_a_read_rides_out_429s_however_they_are_signalled(
    sandbox_world: World, faults: Faults
) -> None:
    expected = _clean_read(sandbox_world)
    events: list[ClientEvent] = []
    sleeps = Sleeps()
    policy = RetryPolicy(base_delay_s=0.25, max_delay_s=1.0)
    with sandbox_client(
        sandbox_world, faults=faults, retry=policy, sleep=sleeps, on_event=events.append
    ) as client:
        live = read_all(client.reader(), now=0.0)
        stats = client.stats
    assert live == expected
    assert stats.throttled == sandbox_world.stats.throttled > 3
    waits = [e.wait_s for e in events if e.kind is EventKind.RETRY]
    assert len(waits) == stats.throttled
    if faults.retry_after is RetryAfter.DATE:
        # `Retry-After: <now + 1 s, rounded up to the second>`, plus up to 10% jitter.
        assert all(0.5 <= w <= 2.2 for w in waits), waits
    else:
        assert all(0.125 <= w <= 1.0 for w in waits), waits  # the policy's backoff


def test_throttled_for_good_behind_an_html_gateway_says_so_without_the_markup(
    sandbox_world: World,
) -> None:
    faults = Faults(p_429=1.0, retry_after=RetryAfter.NONE, html_429=True)
    policy = RetryPolicy(max_throttled_attempts=3, base_delay_s=0.0)
    with (
        sandbox_client(sandbox_world, faults=faults, retry=policy) as client,
        pytest.raises(ThrottledError) as info,
    ):
        list(client.iter_amc_accounts())
    message = str(info.value)
    assert "HTTP 429" in message and "429 Too Many Requests" in message
    assert "<" not in message and "still throttled after 3 attempts" in message


def test_an_error_marked_throttled_is_a_throttle_and_a_write_is_resent(
    sandbox_world: World,
) -> None:
    """`amazon-advertising-api-throttled: true` on a 503: refused, not processed."""
    refused = [1]

    def throttle_once(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/user-invitations" and refused[0] > 0:
            refused[0] -= 1
            return httpx.Response(503, headers={"amazon-advertising-api-throttled": "true"})
        return None

    transport = Intercept(SandboxTransport(sandbox_world), throttle_once)
    with sandbox_client(sandbox_world, transport=transport) as client:
        assert client.create_invitations(AMC, [invitation("z@example.com")], notify=False).ok
        assert client.stats.throttled == 1
    assert sandbox_world.stats.writes == 1


def test_is_throttle() -> None:
    request = httpx.Request("GET", "https://advertising-api.amazon.com/amc/accounts")
    flagged = {"amazon-advertising-api-throttled": "True"}
    assert is_throttle(httpx.Response(429, request=request))
    assert is_throttle(httpx.Response(503, headers=flagged, request=request))
    assert not is_throttle(httpx.Response(503, request=request))
    assert not is_throttle(httpx.Response(200, headers=flagged, request=request))
