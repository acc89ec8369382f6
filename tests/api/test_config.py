import pytest

from reconciler.api import ApiConfig
from reconciler.api.config import DEFAULT_API_URLS, DEFAULT_TOKEN_URL
from reconciler.errors import ConfigError
from reconciler.model import Region
from reconciler.redact import redact

CREDS = {
    "AMAZON_ADS_CLIENT_ID": "amzn1.application-oa2-client.test",
    "AMAZON_ADS_CLIENT_SECRET": "config-test-secret",
    "AMAZON_ADS_REFRESH_TOKEN": "Atzr|config-test-refresh",
}


def test_missing_credentials_list_every_variable_and_suggest_sandbox() -> None:
    with pytest.raises(ConfigError) as info:
        ApiConfig.from_env({"AMAZON_ADS_CLIENT_ID": "x"})
    assert str(info.value) == (
        "Amazon Ads API credentials are missing. Set AMAZON_ADS_CLIENT_SECRET, "
        "AMAZON_ADS_REFRESH_TOKEN (a Login with Amazon client id, client secret and refresh "
        "token), or pass --sandbox to run against the built-in sandbox instead."
    )


def test_defaults_are_the_real_hosts() -> None:
    config = ApiConfig.from_env(CREDS)
    assert config.api_urls == dict(DEFAULT_API_URLS)
    assert config.token_url == DEFAULT_TOKEN_URL == "https://api.amazon.com/auth/o2/token"
    assert config.api_url(Region.EU) == "https://advertising-api-eu.amazon.com"


def test_urls_can_point_at_a_loopback_emulator() -> None:
    env = {
        **CREDS,
        "AMAZON_ADS_API_URL_NA": "http://127.0.0.1:8080/",
        "AMAZON_ADS_API_URL_EU": "http://localhost:8080",
        "AMAZON_ADS_API_URL_FE": "http://[::1]:8080",
        "AMAZON_ADS_TOKEN_URL": "http://127.0.0.1:8080/auth/o2/token",
    }
    config = ApiConfig.from_env(env)
    assert config.api_url(Region.NA) == "http://127.0.0.1:8080"
    assert config.api_url(Region.FE) == "http://[::1]:8080"


@pytest.mark.parametrize(
    "variable", ["AMAZON_ADS_API_URL_NA", "AMAZON_ADS_API_URL_FE", "AMAZON_ADS_TOKEN_URL"]
)
def test_plain_http_to_a_remote_host_is_refused(variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        ApiConfig.from_env({**CREDS, variable: "http://emulator.example.com:8080"})
    assert str(info.value) == (
        f"{variable}: 'http://emulator.example.com:8080' uses plain http to a remote host, "
        "which would send credentials unencrypted. Use https://, or http:// only for a "
        "loopback host (127.0.0.1, ::1, localhost) such as `reconciler sandbox serve`."
    )


@pytest.mark.parametrize(
    "host", ["sandbox.localhost", "advertising-api.amazon.com.localhost", "localhost.", "127.1"]
)
def test_plain_http_to_a_name_only_dns_can_place_is_refused(host: str) -> None:
    # A name under .localhost is looked up like any other where the resolver is `files dns`
    # (a network's DNS may place it anywhere), and `localhost.` or `127.1` are not the forms
    # the loopback check reads: credentials in clear text go to the literal forms alone.
    url = f"http://{host}:8080"
    with pytest.raises(ConfigError) as info:
        ApiConfig.from_env({**CREDS, "AMAZON_ADS_TOKEN_URL": f"{url}/auth/o2/token"})
    assert str(info.value) == (
        f"AMAZON_ADS_TOKEN_URL: '{url}/auth/o2/token' uses plain http to a remote host, "
        "which would send credentials unencrypted. Use https://, or http:// only for a "
        "loopback host (127.0.0.1, ::1, localhost) such as `reconciler sandbox serve`."
    )


def test_https_to_any_host_is_accepted() -> None:
    config = ApiConfig.from_env({**CREDS, "AMAZON_ADS_API_URL_EU": "https://emu.example.com"})
    assert config.api_url(Region.EU) == "https://emu.example.com"


def test_other_schemes_are_refused() -> None:
    with pytest.raises(ConfigError, match="is not an http"):
        ApiConfig.from_env({**CREDS, "AMAZON_ADS_API_URL_NA": "ftp://127.0.0.1"})


def test_secrets_are_registered_and_kept_out_of_repr() -> None:
    config = ApiConfig.from_env(CREDS)
    assert "config-test-secret" not in repr(config)
    assert "config-test-refresh" not in repr(config)
    text = "secret=config-test-secret token=Atzr%7Cconfig-test-refresh"
    assert "config-test" not in redact(text)
