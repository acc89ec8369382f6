"""The Amazon Ads API client: one method per operation, raw JSON in and out.

`AdsReader` has the read methods only; `AdsClient` adds the writes, and `client.reader()`
hands out the read-only view that `reconciler.live.read` takes, so the read path cannot send a
write. Each write method sends exactly one request (retried only when the
server provably did not process it, see `retry.py`).

Layers, outermost first: Retrier (limiter + retries) -> concurrency bound -> httpx.Client
(LWA auth flow, debug-log hooks, no redirects) -> transport (network or the sandbox).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

from reconciler.api import debuglog
from reconciler.api import operations as ops
from reconciler.api.auth import LwaAuth, TokenSource
from reconciler.api.config import GLOBAL_REGION, ApiConfig
from reconciler.api.events import ClientEvent, ClientStats, EventKind, StatsRecorder
from reconciler.api.pagination import paginate
from reconciler.api.retry import Retrier, RetryPolicy
from reconciler.api.translate import BodyError, api_error, json_body, read_bounded
from reconciler.errors import ApiError, AuthError, PermissionDeniedError
from reconciler.model import KINDS, ManagerAccountType, Region, Scope, amc_scope
from reconciler.redact import redact

_OPERATION_KEY = "reconciler.operation"

# The account an invitation or user-permission call is about: its typed address, or a bare id
# meaning an AMC account (what these methods took before other kinds were served).
AccountRef = Scope | str


def account_header(account: AccountRef) -> tuple[str, str]:
    """(header, value) naming the account, the header per kind from `KINDS` (reference
    §4.1): `Amazon-Ads-ManagerAccountId` for a manager account, `Amazon-Ads-AccountId` for
    the others. ValueError for the wildcard address (`Scope.wildcard`: every account of a kind),
    which names no one account. Any other id is sent as it is: an id is data, and the API
    answers for it."""
    scope = account if isinstance(account, Scope) else amc_scope(account)
    if scope.key == "*":
        raise ValueError(f"{scope}: not the id of one account")
    return KINDS[scope.kind].header, scope.key


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class FailedItem:
    item: dict[str, Any]
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class BatchResult:
    """A partial-success batch: each item succeeded or failed on its own (reference §2.4,
    §4.2, §5)."""

    succeeded: tuple[dict[str, Any], ...] = ()
    failed: tuple[FailedItem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed


class _Core:
    """What readers and writers share: config, HTTP clients, retrier, stats."""

    def __init__(
        self,
        config: ApiConfig,
        *,
        transport: httpx.BaseTransport | None,
        retry: RetryPolicy,
        max_concurrency: int,
        on_event: Callable[[ClientEvent], None] | None,
        sleep: Callable[[float], None],
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.config = config
        self.max_concurrency = max_concurrency
        self.stats = StatsRecorder()
        self._on_event = on_event
        # Certificate verification stays on: the one transport we build verifies, and the
        # https-only rule for remote hosts lives in ApiConfig.
        self._transport = transport or httpx.HTTPTransport(verify=True, retries=0)
        common: dict[str, Any] = {
            "transport": self._transport,
            "follow_redirects": False,  # never carry credentials to a host we did not choose
            "timeout": httpx.Timeout(config.timeout_s, connect=min(10.0, config.timeout_s)),
            "trust_env": False,
        }
        self._token_http = httpx.Client(
            event_hooks={"request": [debuglog.log_request], "response": [debuglog.log_response]},
            **common,
        )
        self.tokens = TokenSource(config, self._token_http, on_fetch=self.stats.token_request)
        self.http = httpx.Client(
            auth=LwaAuth(self.tokens, config),
            event_hooks={
                "request": [self._count, debuglog.log_request],
                "response": [debuglog.log_response],
            },
            **common,
        )
        self.retrier = Retrier(retry, stats=self.stats, emit=self.emit, sleep=sleep)
        self._slots = threading.BoundedSemaphore(max_concurrency)

    def emit(self, event: ClientEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def _count(self, request: httpx.Request) -> None:
        operation = str(request.extensions.get(_OPERATION_KEY, "unknown"))
        self.stats.request(operation)
        self.emit(ClientEvent(EventKind.REQUEST, operation))

    def close(self) -> None:
        self.http.close()
        self._token_http.close()

    def call(
        self,
        op: ops.Operation,
        *,
        region: Region = GLOBAL_REGION,
        path: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        account: AccountRef | None = None,
    ) -> dict[str, Any]:
        """Send `op` and return its JSON body (a dict), or raise from `reconciler.errors`."""
        data = self.call_any(
            op, region=region, path=path, params=params, body=body, account=account
        )
        assert isinstance(data, dict)  # `_decode` checked it against `op.array`
        return data

    def call_any(
        self,
        op: ops.Operation,
        *,
        region: Region = GLOBAL_REGION,
        path: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        account: AccountRef | None = None,
    ) -> dict[str, Any] | list[Any]:
        """Send `op` and return its JSON body: a list when `op.array`, else a dict."""
        url = self.config.api_url(region) + op.path.format(**(path or {}))
        headers = {"Accept": op.accept}
        if account is not None:
            header, value = account_header(account)
            headers[header] = value
        content: bytes | None = None
        if body is not None:
            headers["Content-Type"] = op.content_type or "application/json"
            content = json.dumps(body, separators=(",", ":")).encode()

        def attempt() -> httpx.Response:
            request = self.http.build_request(
                op.method,
                url,
                params=dict(params) if params else None,
                headers=headers,
                content=content,
                extensions={_OPERATION_KEY: op.name},
            )
            with self._slots:
                response = self.http.send(request, stream=True)
                try:
                    read_bounded(response, operation=op.name)
                finally:
                    response.close()
                return response

        response = self.retrier.send(op.name, attempt, write=op.write)
        return _decode(op, response)


def _decode(op: ops.Operation, response: httpx.Response) -> dict[str, Any] | list[Any]:
    status = response.status_code
    if 300 <= status < 400:
        location = response.headers.get("Location", "?")
        raise ApiError(
            redact(
                f"{op.name}: the server redirected to {location}; refusing to follow a redirect "
                "with Amazon Ads credentials. Check the AMAZON_ADS_API_URL_* settings."
            ),
            operation=op.name,
            status=status,
        )
    if status == 401 and op.write:
        raise api_error(
            response,
            operation=op.name,
            cls=PermissionDeniedError,
            hint="the API refused this write with 401 although the access token was just "
            "renewed, so the credentials work but lack a permission on this account: it "
            "likely grants Viewer permission only, and this change needs Editor (for AMC "
            "users, AMC_ADMIN). Ask an admin of the account to grant it, then apply again",
        )
    if status == 401:
        raise api_error(
            response,
            operation=op.name,
            cls=AuthError,
            hint="the API refused the access token even after renewing it; check that the "
            "refresh token belongs to a user with access, and AMAZON_ADS_CLIENT_ID",
        )
    if status == 403:
        raise api_error(
            response,
            operation=op.name,
            # Reference §5.1: what each kind asks of the caller. One header names three
            # kinds of account, so the hint names them all.
            hint="the user behind the refresh token lacks permission on this account: to "
            "change people it needs AMC_ADMIN on an AMC account, MasterAccount_Manager on a "
            "manager account, user_edit or manage_users on a sponsored-ads or DSP account "
            "(to list them, those or their view permissions)",
        )
    if status >= 400:
        raise api_error(response, operation=op.name)
    if not response.content.strip():
        return [] if op.array else {}
    try:
        data: Any = json_body(response.content)
    except BodyError as exc:
        raise ApiError(
            f"{op.name}: HTTP {status} with {exc}",
            operation=op.name,
            status=status,
        ) from None
    if op.array and isinstance(data, list):
        return data
    if op.array or not isinstance(data, dict):
        want = "array" if op.array else "object"
        raise ApiError(
            f"{op.name}: expected a JSON {want}, got {type(data).__name__}",
            operation=op.name,
            status=status,
        )
    return data


class AdsReader:
    """Read-only access to the API. It has no write methods at all."""

    def __init__(self, core: _Core) -> None:
        self._core = core

    @property
    def stats(self) -> ClientStats:
        return self._core.stats.snapshot()

    @property
    def max_concurrency(self) -> int:
        return self._core.max_concurrency

    def list_manager_accounts(self, region: Region) -> list[dict[str, Any]]:
        """`getManagerAccountsForUser` on one regional host: each account with the links
        of that region only, at most 50 (reference §1.1, §2.2). Not paginated."""
        body = self._core.call(ops.LIST_MANAGER_ACCOUNTS, region=region)
        accounts = body.get("managerAccounts") or []
        return [a for a in accounts if isinstance(a, dict)]

    def list_profiles(self, region: Region) -> list[Any]:
        """`listProfiles` (`GET /v2/profiles`) on one regional host: the profiles of that
        region only (reference §1.1, §1.7), with `PROFILES_QUERY`. Not paginated; at most
        `PROFILES_CAP` items: an answer that long may be cut short, so it is an ApiError
        (the reader records the read as incomplete), never taken as the whole list. Items
        are returned as sent, objects or not: one that is not may be an account, which
        `live.discover` says it cannot read rather than drop."""
        body = self._core.call_any(ops.LIST_PROFILES, region=region, params=ops.PROFILES_QUERY)
        if len(body) >= ops.PROFILES_CAP:
            raise ApiError(
                f"{ops.LIST_PROFILES.name}: {len(body)} profiles on the {region.value} host, "
                f"the most Amazon returns ({ops.PROFILES_CAP}), so more may exist",
                operation=ops.LIST_PROFILES.name,
            )
        return list(body)

    def iter_amc_accounts(self) -> Iterator[dict[str, Any]]:
        """`AmcpLinkListAmcAccounts`, all pages (reference §3.1)."""

        def page(token: str | None) -> dict[str, Any]:
            params = {"nextToken": token} if token else None
            return self._core.call(ops.LIST_AMC_ACCOUNTS, params=params)

        return paginate(page, items="amcAccounts", operation=ops.LIST_AMC_ACCOUNTS.name)

    def _paged_post(
        self, op: ops.Operation, account: AccountRef, body: Mapping[str, Any], items: str
    ) -> Iterator[dict[str, Any]]:
        account_header(account)  # a bad address fails here, not at the first page

        def page(token: str | None) -> dict[str, Any]:
            payload = dict(body)
            if token:
                payload["nextToken"] = token
            return self._core.call(op, body=payload, account=account)

        return paginate(page, items=items, operation=op.name)

    def iter_invitations(self, account: AccountRef) -> Iterator[dict[str, Any]]:
        """`ListUserInvitations` on an account of any kind: pending invitations, full emails
        (reference §4.4)."""
        return self._paged_post(
            ops.LIST_INVITATIONS,
            account,
            {"maxResults": ops.PAGE_INVITATIONS},
            "invitations",
        )

    def iter_users(self, account: AccountRef) -> Iterator[dict[str, Any]]:
        """`ListUsers` on an account of any kind: active users, masked emails (reference §5).
        [UNK] which `accessScopeFilter` suits each kind; we send none and take the server's
        default."""
        return self._paged_post(ops.LIST_USERS, account, {"maxResults": ops.PAGE_USERS}, "users")

    def list_user_roles(self, account: AccountRef, user_id: str) -> list[dict[str, Any]]:
        """`QueryUserRoles` for one user, all pages: a role or custom set per country
        (reference §5, §5.1)."""
        return list(
            self._paged_post(
                ops.LIST_USER_ROLES,
                account,
                {"userId": user_id, "maxResults": ops.PAGE_ROLES},
                "roles",
            )
        )


def _check_size(what: str, items: Sequence[Any], limit: int) -> None:
    if not 1 <= len(items) <= limit:
        raise ValueError(f"{what}: send between 1 and {limit} items per call, got {len(items)}")


def _failed(
    errors: Any, requests: Sequence[Mapping[str, Any]], key: Callable[[Mapping[str, Any]], Any]
) -> tuple[FailedItem, ...]:
    """Pair each error of a batch response with the request item it names, when it does."""
    by_key = {key(item): dict(item) for item in requests}
    out: list[FailedItem] = []
    for error in errors or []:
        if not isinstance(error, dict):
            continue
        identifier = error.get("identifier") or error.get("userId") or error.get("invitationId")
        item = by_key.get(identifier) or {k: v for k, v in error.items() if k != "account"}
        if "account" in error and isinstance(error["account"], dict):
            item = error["account"]
        nested = error.get("error")
        detail: dict[str, Any] = nested if isinstance(nested, dict) else error
        code = detail.get("code") or detail.get("errorCode") or "UNKNOWN"
        message = detail.get("message") or detail.get("errorMessage") or ""
        if detail.get("errorDetail"):
            message = f"{message} ({detail['errorDetail']})" if message else detail["errorDetail"]
        out.append(FailedItem(item=item, code=str(code), message=redact(str(message))))
    return tuple(out)


def _succeeded(items: Any) -> tuple[dict[str, Any], ...]:
    return tuple(item for item in items or [] if isinstance(item, dict))


class AdsClient(AdsReader):
    """Reads and writes. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        config: ApiConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        max_concurrency: int = 8,
        on_event: Callable[[ClientEvent], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`sleep` is how the client waits (backoff, Retry-After, the limiter); tests pass
        one that records the waits instead of sleeping. `clock` is the time of the world
        this client talks to (UTC epoch seconds): the machine's for Amazon, the sandbox's
        own clock for the in-process sandbox (`sandbox advance-clock`), so that `expires:`
        and invitation expiry are judged by the world's time."""
        self._clock = clock
        super().__init__(
            _Core(
                config,
                transport=transport,
                retry=retry,
                max_concurrency=max_concurrency,
                on_event=on_event,
                sleep=sleep,
            )
        )

    def reader(self) -> AdsReader:
        return AdsReader(self._core)

    def now(self) -> float:
        """The time of the world this client talks to (see `__init__`)."""
        return self._clock()

    def close(self) -> None:
        self._core.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def create_manager_account(self, name: str, account_type: ManagerAccountType) -> dict[str, Any]:
        """`createManagerAccount` (reference §2.3). Manager accounts are global; we create
        them through the NA host [INF]."""
        return self._core.call(
            ops.CREATE_MANAGER_ACCOUNT,
            body={"managerAccountName": name, "managerAccountType": account_type.value},
        )

    def _links(
        self,
        op: ops.Operation,
        region: Region,
        manager_account_id: str,
        accounts: Sequence[Mapping[str, Any]],
    ) -> BatchResult:
        _check_size(op.name, accounts, ops.MAX_LINKS_PER_CALL)
        body = self._core.call(
            op,
            region=region,
            path={"managerAccountId": manager_account_id},
            body={"accounts": [dict(a) for a in accounts]},
        )
        # 207 Multi-Status; [UNK] whether 200 ever comes: any 2xx is read the same way (§2.4).
        return BatchResult(
            succeeded=_succeeded(body.get("succeedAccounts")),
            failed=_failed(body.get("failedAccounts"), accounts, lambda a: a.get("id")),
        )

    def associate(
        self, region: Region, manager_account_id: str, accounts: Sequence[Mapping[str, Any]]
    ) -> BatchResult:
        """`LinkAdvertisingAccountsToManagerAccountPublicAPI`, <= 20 accounts, on the host of
        the accounts' region (reference §1.1, §2.4)."""
        return self._links(ops.ASSOCIATE, region, manager_account_id, accounts)

    def disassociate(
        self, region: Region, manager_account_id: str, accounts: Sequence[Mapping[str, Any]]
    ) -> BatchResult:
        """`UnlinkAdvertisingAccountsToManagerAccountPublicAPI`, <= 20 accounts (§2.5)."""
        return self._links(ops.DISASSOCIATE, region, manager_account_id, accounts)

    def create_invitations(
        self, account: AccountRef, requests: Sequence[Mapping[str, Any]], *, notify: bool
    ) -> BatchResult:
        """`CreateUserInvitations`, <= 50 (reference §4.2). Partial success comes as 200.
        Build each request with `reconciler.api.grants.invitation_request`."""
        _check_size(ops.CREATE_INVITATIONS.name, requests, ops.MAX_INVITATIONS_PER_CALL)
        body = self._core.call(
            ops.CREATE_INVITATIONS,
            account=account,
            body={
                "userInvitationRequests": [dict(r) for r in requests],
                "notifyInvitedUsers": notify,
            },
        )
        return BatchResult(
            succeeded=_succeeded(body.get("successes")),
            failed=_failed(
                body.get("errors"), requests, lambda r: (r.get("user") or {}).get("emailAddress")
            ),
        )

    def update_invitations(
        self, account: AccountRef, updates: Sequence[Mapping[str, Any]], *, notify: bool = False
    ) -> BatchResult:
        """`UpdateUserInvitations`: state REVOKED or RESENT, <= 50 (reference §4.3)."""
        _check_size(ops.UPDATE_INVITATIONS.name, updates, ops.MAX_INVITATIONS_PER_CALL)
        body = self._core.call(
            ops.UPDATE_INVITATIONS,
            account=account,
            body={"updates": [dict(u) for u in updates], "notifyInvitedUsers": notify},
        )
        return BatchResult(
            succeeded=_succeeded(body.get("successes")),
            failed=_failed(body.get("errors"), updates, lambda u: u.get("invitationId")),
        )

    def update_user_permissions(
        self, account: AccountRef, permissions: Sequence[Mapping[str, Any]]
    ) -> BatchResult:
        """`UpdateUserPermissions` (`PUT /userPermissions`, reference §5): each item sets one
        user's role or custom set (and countries); build it with
        `reconciler.api.grants.permission_update`."""
        _check_size(
            ops.UPDATE_USER_PERMISSIONS.name, permissions, ops.MAX_PERMISSION_UPDATES_PER_CALL
        )
        body = self._core.call(
            ops.UPDATE_USER_PERMISSIONS,
            account=account,
            body={"userPermissions": [dict(p) for p in permissions]},
        )
        return BatchResult(
            succeeded=_succeeded(body.get("successes")),
            failed=_failed(body.get("errors"), permissions, lambda p: p.get("userId")),
        )

    def delete_user_permissions(self, account: AccountRef, user_ids: Sequence[str]) -> BatchResult:
        """`DeleteUserPermissions`, <= 200 users (reference §5)."""
        _check_size(ops.DELETE_USER_PERMISSIONS.name, user_ids, ops.MAX_DELETES_PER_CALL)
        users = [{"userId": user_id} for user_id in user_ids]
        body = self._core.call(ops.DELETE_USER_PERMISSIONS, account=account, body={"users": users})
        return BatchResult(
            succeeded=_succeeded(body.get("successes")),
            failed=_failed(body.get("errors"), users, lambda u: u.get("userId")),
        )
