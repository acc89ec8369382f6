"""Login with Amazon: the refresh-token grant (reference §1.3) as an `httpx.Auth` flow.

The access token is fetched once, cached for the process, renewed shortly before it expires
and once more when an API host answers 401 (its clock and ours may disagree). Credentials are
attached only to requests for the configured API hosts, never to any other host.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import httpx

from reconciler.api.config import DEFAULT_TOKEN_URL, ApiConfig, origin_of
from reconciler.api.retry import NotSentError
from reconciler.api.translate import api_error, json_body, read_bounded
from reconciler.errors import ApiError, AuthError, ConfigError
from reconciler.redact import redact, register

# Renew this long before the announced expiry, so a token never expires in flight.
RENEW_MARGIN_S = 120.0
DEFAULT_LIFETIME_S = 3600.0  # reference §1.3: access tokens last 60 minutes
OPERATION = "lwaRefreshToken"


class TokenUnavailableError(NotSentError):
    """Login with Amazon could not be reached or failed (5xx, 429): the API request was not
    sent, so the caller may retry it."""


class TokenSource:
    """A cached LWA access token, shared by every thread of one client."""

    def __init__(
        self,
        config: ApiConfig,
        http: httpx.Client,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_fetch: Callable[[], None] = lambda: None,
    ) -> None:
        self._config = config
        self._http = http
        self._clock = clock
        self._on_fetch = on_fetch
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def get(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._token, lifetime = self._fetch()
                self._renew_at = self._clock() + max(0.0, lifetime - RENEW_MARGIN_S)
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget `token` if it is still the current one (another thread may have renewed)."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> tuple[str, float]:
        self._on_fetch()
        request = self._http.build_request(
            "POST",
            self._config.token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": self._config.refresh_token,
                "client_id": self._config.client_id,
                "client_secret": self._config.client_secret,
            },
            headers={"Accept": "application/json"},
        )
        try:
            response = self._http.send(request, stream=True)
            try:
                read_bounded(response, operation=OPERATION)
            except ApiError as exc:  # too large: not a token endpoint we can use
                raise AuthError(
                    f"Login with Amazon ({self._config.token_url}): {exc}",
                    operation=OPERATION,
                    status=response.status_code,
                ) from None
            finally:
                response.close()
        except httpx.TransportError as exc:
            raise TokenUnavailableError(
                redact(f"Login with Amazon ({self._config.token_url}): {type(exc).__name__}")
            ) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TokenUnavailableError(
                f"Login with Amazon ({self._config.token_url}) answered HTTP {response.status_code}"
            )
        if response.status_code in (404, 405):
            # Not a refusal of the credentials: the URL is not a token endpoint at all.
            raise api_error(
                response,
                operation=OPERATION,
                cls=AuthError,
                hint=f"{self._config.token_url} is not a Login with Amazon token endpoint: "
                f"check AMAZON_ADS_TOKEN_URL (default {DEFAULT_TOKEN_URL}; for `reconciler "
                "sandbox serve`, the AMAZON_ADS_TOKEN_URL line it prints)",
            )
        if response.status_code != 200:
            raise api_error(
                response,
                operation=OPERATION,
                cls=AuthError,
                hint="Login with Amazon refused the credentials: check AMAZON_ADS_CLIENT_ID, "
                "AMAZON_ADS_CLIENT_SECRET and AMAZON_ADS_REFRESH_TOKEN (the refresh token "
                "may have been revoked)",
            )
        try:
            body: Any = json_body(response.content)
            token = body["access_token"]
            lifetime = float(body.get("expires_in") or DEFAULT_LIFETIME_S)
        except (ValueError, KeyError, TypeError):
            raise AuthError(
                f"Login with Amazon ({self._config.token_url}) answered 200 without an "
                "access_token",
                operation=OPERATION,
                status=200,
            ) from None
        if not isinstance(token, str) or not token:
            raise AuthError("Login with Amazon returned an empty access token", operation=OPERATION)
        register(token)
        return token, lifetime


class LwaAuth(httpx.Auth):
    """Adds `Authorization: Bearer` and `Amazon-Advertising-API-ClientId` (reference §1.4)."""

    def __init__(self, tokens: TokenSource, config: ApiConfig) -> None:
        self._tokens = tokens
        self._client_id = config.client_id
        self._origins = config.api_origins()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        origin = origin_of(str(request.url))
        if origin not in self._origins:
            # Redirects are not followed (client.py); this is the second lock on the door.
            raise ConfigError(
                f"refusing to send Amazon Ads credentials to {origin}: it is not one of the "
                "configured API hosts (AMAZON_ADS_API_URL_NA/EU/FE)"
            )
        token = self._tokens.get()
        request.headers["Authorization"] = f"Bearer {token}"
        request.headers["Amazon-Advertising-API-ClientId"] = self._client_id
        response = yield request
        if response.status_code == 401:
            # The token may have expired early or been revoked: renew once and resend. A 401
            # means the request was not processed, so resending a write is safe.
            self._tokens.invalidate(token)
            request.headers["Authorization"] = f"Bearer {self._tokens.get()}"
            yield request
