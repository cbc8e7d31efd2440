"""Where the system test runs: chosen from two environment variables, bad values named."""

from __future__ import annotations

import pytest

from tests.system.target import ACCOUNT_ENV, TARGET_ENV, runs_on_real_aws, system_test_target


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TARGET_ENV, raising=False)
    monkeypatch.delenv(ACCOUNT_ENV, raising=False)


def test_nothing_set_means_not_requested() -> None:
    assert system_test_target() is None
    assert not runs_on_real_aws()


def test_local_needs_no_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TARGET_ENV, "local")
    assert system_test_target() == "local"
    monkeypatch.setenv(ACCOUNT_ENV, "123456789012")
    assert system_test_target() == "local"
    assert not runs_on_real_aws()


def test_an_account_alone_means_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ACCOUNT_ENV, "123456789012")
    assert system_test_target() == "aws"
    monkeypatch.setenv(TARGET_ENV, "aws")
    assert system_test_target() == "aws"
    assert runs_on_real_aws()


def test_target_aws_without_an_account_is_not_requested(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TARGET_ENV, "aws")
    assert system_test_target() is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (TARGET_ENV, "moto", "choose 'local' or 'aws'"),
        (ACCOUNT_ENV, "12345", "12 digits"),
        (ACCOUNT_ENV, "\uff11" * 12, "12 digits"),  # fullwidth digits are not an account id
    ],
)
def test_bad_values_are_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message) as raised:
        system_test_target()
    assert name in str(raised.value)
    assert not runs_on_real_aws()  # a bad setting never keeps real credentials
