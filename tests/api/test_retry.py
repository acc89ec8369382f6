"""Faults from the sandbox: 429 storms with Retry-After, 5xx, dropped connections; reads are
retried, writes only when the server provably did not process them."""

import random

import httpx
import pytest

from reconciler.api import ClientEvent, EventKind, RetryPolicy
from reconciler.api.retry import AdaptiveLimiter, parse_retry_after
from reconciler.errors import ApiError, OutcomeUnknownError, ThrottledError, TransportError
from reconciler.live import read_all
from reconciler.model import Region
from reconciler.sandbox import Faults, SandboxTransport, World
from tests.api.helpers import AMC, Intercept, invitation, sandbox_client


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
    with sandbox_client(sandbox_world, faults=faults) as client:
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
    def refuse(request: httpx.Request) -> httpx.Response:
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
