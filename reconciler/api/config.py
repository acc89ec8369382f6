"""Where the client connects and with which credentials: `ApiConfig`.

Rules enforced here, once, so nothing downstream has to think about them:
- plain `http://` only for loopback hosts (127.0.0.0/8, ::1, `localhost`); anything else must
  be `https://` (certificate verification is never turned off, see `client.py`);
- every secret is registered with `reconciler.redact` the moment it is read;
- missing credentials give one error that lists every variable to set, or `--sandbox`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from reconciler.errors import ConfigError
from reconciler.model import Region
from reconciler.redact import register

# Reference §1.1 (regional API hosts) and §1.3 (LWA token endpoint, NA; tokens are global).
DEFAULT_API_URLS: Mapping[Region, str] = {
    Region.NA: "https://advertising-api.amazon.com",
    Region.EU: "https://advertising-api-eu.amazon.com",
    Region.FE: "https://advertising-api-fe.amazon.com",
}
DEFAULT_TOKEN_URL = "https://api.amazon.com/auth/o2/token"

# The sandbox's well-known credentials (not secrets: the built-in emulator accepts only these,
# and `ApiConfig.sandbox()` sends them to the in-process sandbox only).
SANDBOX_CLIENT_ID: Final = "amzn1.application-oa2-client.sandbox"
SANDBOX_CLIENT_SECRET: Final = "sandbox-secret"
SANDBOX_REFRESH_TOKEN: Final = "Atzr|sandbox-refresh"

ENV_CLIENT_ID = "AMAZON_ADS_CLIENT_ID"
ENV_CLIENT_SECRET = "AMAZON_ADS_CLIENT_SECRET"
ENV_REFRESH_TOKEN = "AMAZON_ADS_REFRESH_TOKEN"
ENV_TOKEN_URL = "AMAZON_ADS_TOKEN_URL"
ENV_API_URL = {region: f"AMAZON_ADS_API_URL_{region.value}" for region in Region}

# AMC administration, invitations and user permissions "work globally" on any host
# (reference §1.1, AMC); we send them to the NA host. [INF] Change here if that proves wrong.
GLOBAL_REGION = Region.NA


def is_loopback(host: str) -> bool:
    """`host` is this machine without asking DNS: `localhost` (the hosts file's) or a
    loopback IP literal. A name under `.localhost` is not: where the resolver is `files dns`
    it is looked up on the network, whose DNS may place it anywhere."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def shown_url(url: str) -> str:
    """`url` fit for an error message: user info (`user:password@`) is never echoed, and
    control characters are escaped."""
    scheme, sep, rest = url.partition("://")
    if sep:
        authority, slash, tail = rest.partition("/")
        if "@" in authority:
            authority = "***@" + authority.rsplit("@", 1)[1]
        url = f"{scheme}{sep}{authority}{slash}{tail}"
    elif "@" in url:
        url = "***@" + url.rsplit("@", 1)[1]
    return repr(url)


def check_url(url: str, *, what: str) -> str:
    """`url` without a trailing slash, or ConfigError naming `what` (the variable), what is
    wrong and the fix. The message never repeats a password the URL carried."""
    url = url.strip()
    shown = shown_url(url)
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ConfigError(
            f"{what}: {shown} contains a space or control character; set it to a URL such as "
            "https://host[:port]"
        )
    if "://" not in url:
        raise ConfigError(
            f"{what}: {shown} has no scheme; write it as https://{url.split('/')[0] or 'host'} "
            "(or http:// for a loopback host such as `reconciler sandbox serve`)"
        )
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise ConfigError(
            f"{what}: {shown} is not a valid URL ({exc}); e.g. https://host[:port]"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what}: {shown} is not an http(s) URL, e.g. https://host[:port]")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"{what}: {shown} must not carry user info (user:password@): remove it; "
            "credentials go in AMAZON_ADS_CLIENT_ID, AMAZON_ADS_CLIENT_SECRET and "
            "AMAZON_ADS_REFRESH_TOKEN"
        )
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        port = parts.netloc.rsplit(":", 1)[-1]
        raise ConfigError(
            f"{what}: {shown} has port {port!r}, which is not a number from 1 to 65535; "
            "fix the port, or leave it out for the scheme's default"
        ) from None
    if parts.port == 0:
        raise ConfigError(
            f"{what}: {shown} has port 0, which is not a number from 1 to 65535; fix the port, "
            "or leave it out for the scheme's default"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"{what}: {shown} uses plain http to a remote host, which would send credentials "
            "unencrypted. Use https://, or http:// only for a loopback host (127.0.0.1, ::1, "
            "localhost) such as `reconciler sandbox serve`."
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{what}: {shown} must not carry a query or fragment: remove it")
    return url.rstrip("/")


def check_credential(value: str, *, what: str) -> None:
    """A credential is one printable ASCII token: anything else (a pasted line break, a
    quote character, non-ASCII) would be sent wrong or break the request headers. The
    message names the variable, never the value."""
    bad = next((ch for ch in value if not (" " < ch < "\x7f")), None)
    if bad is not None:
        kind = (
            "a space"
            if bad == " "
            else "a control character"
            if bad < " " or bad == "\x7f"
            else "a non-ASCII character"
        )
        raise ConfigError(
            f"{what} contains {kind}; copy the value again without it (it is a single token "
            "of printable ASCII characters)"
        )


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Credentials and endpoints. Secrets are excluded from `repr`."""

    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    token_url: str = DEFAULT_TOKEN_URL
    api_url_na: str = DEFAULT_API_URLS[Region.NA]
    api_url_eu: str = DEFAULT_API_URLS[Region.EU]
    api_url_fe: str = DEFAULT_API_URLS[Region.FE]
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        register(self.client_secret)
        register(self.refresh_token)
        object.__setattr__(self, "token_url", check_url(self.token_url, what=ENV_TOKEN_URL))
        for region in Region:
            name = f"api_url_{region.value.lower()}"
            object.__setattr__(self, name, check_url(getattr(self, name), what=ENV_API_URL[region]))

    def api_url(self, region: Region) -> str:
        url: str = getattr(self, f"api_url_{region.value.lower()}")
        return url

    @property
    def api_urls(self) -> dict[Region, str]:
        return {region: self.api_url(region) for region in Region}

    @property
    def hosts(self) -> frozenset[str]:
        """Every origin (scheme://host:port) credentials may be sent to."""
        return frozenset(_origin(url) for url in (*self.api_urls.values(), self.token_url))

    def api_origins(self) -> frozenset[str]:
        return frozenset(_origin(url) for url in self.api_urls.values())

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiConfig:
        """Read the configuration from environment variables (see the README, "Configuration").

        Raises ConfigError listing every missing credential variable at once."""
        values = {
            key: env.get(key, "").strip()
            for key in (ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_REFRESH_TOKEN)
        }
        # Register before anything can fail and print them.
        register(values[ENV_CLIENT_SECRET])
        register(values[ENV_REFRESH_TOKEN])
        missing = [key for key, value in values.items() if not value]
        if not missing:
            for key, value in values.items():
                check_credential(value, what=key)
        if missing:
            raise ConfigError(
                "Amazon Ads API credentials are missing. Set "
                + ", ".join(missing)
                + " (a Login with Amazon client id, client secret and refresh token), "
                "or pass --sandbox to run against the built-in sandbox instead."
            )

        def url(region: Region) -> str:
            return env.get(ENV_API_URL[region], "").strip() or DEFAULT_API_URLS[region]

        return cls(
            client_id=values[ENV_CLIENT_ID],
            client_secret=values[ENV_CLIENT_SECRET],
            refresh_token=values[ENV_REFRESH_TOKEN],
            token_url=env.get(ENV_TOKEN_URL, "").strip() or DEFAULT_TOKEN_URL,
            api_url_na=url(Region.NA),
            api_url_eu=url(Region.EU),
            api_url_fe=url(Region.FE),
        )

    @classmethod
    def sandbox(cls) -> ApiConfig:
        """The sandbox's well-known credentials with the real Amazon URLs: the in-process
        `SandboxTransport` answers for those hosts, so nothing leaves the process."""
        return cls(
            client_id=SANDBOX_CLIENT_ID,
            client_secret=SANDBOX_CLIENT_SECRET,
            refresh_token=SANDBOX_REFRESH_TOKEN,
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def origin_of(url: str) -> str:
    return _origin(url)
