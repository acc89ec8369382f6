"""open_client and the shared CLI options, end to end through click, on the sandbox."""

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from reconciler.cli.options import ApiOptions, api_options
from reconciler.errors import ConfigError
from reconciler.live.read import read_all
from reconciler.live.session import open_client
from reconciler.model import Region, ScopeKind
from reconciler.sandbox import SANDBOX_CLIENT_SECRET, SANDBOX_REFRESH_TOKEN, open_state


def test_sandbox_client_reads_and_writes_the_state_file(tmp_path: Path) -> None:
    state = str(tmp_path / "sandbox.json")
    with open_client(sandbox=True, sandbox_state=state, env={}, debug=False) as client:
        client.associate(
            Region.EU,
            "amzn1.ads1.ma1.acme00000001",
            [{"id": "ENTITY2EURO0001", "type": "ACCOUNT_ID"}],
        )
    with open_state(state) as world:
        links = {x.account_id for x in world.managers["amzn1.ads1.ma1.acme00000001"].links}
    assert "ENTITY2EURO0001" in links


def test_without_sandbox_the_environment_must_hold_credentials() -> None:
    with (
        pytest.raises(ConfigError, match="or pass --sandbox"),
        open_client(sandbox=False, sandbox_state=None, env={}, debug=False),
    ):
        pass


@click.command()
@api_options
def probe(api: ApiOptions) -> None:
    """A command like `plan`: it reads everything and prints a summary."""
    with api.open_client() as client:
        live = read_all(client.reader(), progress=api.progress)
    if api.progress is not None:
        api.progress.finish()
    amc = sum(1 for a in live.accounts if a.kind is ScopeKind.AMC)
    click.echo(f"{len(live.manager_accounts)} manager accounts, {amc} AMC")


def test_debug_output_of_a_command_holds_no_secret(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    result = CliRunner().invoke(
        probe, ["--sandbox-state", str(state), "--debug", "--progress"], catch_exceptions=False
    )
    assert result.exit_code == 0
    assert result.stdout == "1 manager accounts, 1 AMC\n"
    assert "request GET https://advertising-api.amazon.com/managerAccounts" in result.stderr
    # Listings (three hosts twice, the AMC one) and the people of the AMC, manager,
    # sponsored-ads and DSP accounts.
    assert "reading live state: 10/10 accounts" in result.stderr
    for secret in (SANDBOX_CLIENT_SECRET, SANDBOX_REFRESH_TOKEN, "Atzr%7Csandbox", "Atza|sandbox-"):
        assert secret not in result.output
    assert "Atza|" not in state.read_text()  # tokens never land in the state file


def test_options_default_to_quiet_and_real_api(tmp_path: Path) -> None:
    seen: list[ApiOptions] = []

    @click.command()
    @api_options
    def capture(api: ApiOptions) -> None:
        seen.append(api)

    assert CliRunner().invoke(capture, []).exit_code == 0
    assert seen[0] == ApiOptions(sandbox=False, sandbox_state=None, debug=False, show_progress=None)
    assert seen[0].progress is None  # CliRunner's stderr is not a terminal
