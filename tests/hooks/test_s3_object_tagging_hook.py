"""The direct-path hook: one client sized for its threads, merged over the connection's config."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from airflow_s3_batch_tagging.hooks.s3_object_tagging import STATIC_USER_AGENT, S3ObjectTaggingHook
from airflow_s3_batch_tagging.objects import ObjectRef, S3Location
from airflow_s3_batch_tagging.tags import TagSet
from airflow_s3_batch_tagging.undo import UndoLogWriter


def test_client_pool_and_retries_fit_the_concurrency_and_keep_the_connection_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra = {"config_kwargs": {"connect_timeout": 7}, "region_name": "eu-west-1"}
    monkeypatch.setenv("AIRFLOW_CONN_TAGGING_AWS", json.dumps({"conn_type": "aws", "extra": extra}))
    hook = S3ObjectTaggingHook(
        aws_conn_id="tagging_aws", concurrency=50, max_attempts=6, retry_mode="adaptive"
    )
    client = hook.conn
    assert client.meta.service_model.service_name == "s3"
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.max_pool_connections >= 50
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 6}
    assert client.meta.config.connect_timeout == 7
    assert type(client._serializer).__name__ != "ParamValidationDecorator"
    assert client.meta.config.user_agent.startswith(STATIC_USER_AGENT)
    assert "Airflow/" in client.meta.config.user_agent  # the Amazon hook's user_agent_extra is kept
    assert hook.conn is client


def test_the_connection_can_keep_parameter_validation_and_its_user_agent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra = {"config_kwargs": {"parameter_validation": True, "user_agent": "mine/1.0"}}
    monkeypatch.setenv("AIRFLOW_CONN_TAGGING_AWS", json.dumps({"conn_type": "aws", "extra": extra}))
    config: Any = S3ObjectTaggingHook(aws_conn_id="tagging_aws", concurrency=5).tagging_config()
    assert config.parameter_validation is True
    assert config.user_agent == "mine/1.0"
    assert config.max_pool_connections == 7


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 0}, "concurrency 0"),
        ({"max_attempts": 0}, "max_attempts 0"),
        ({"retry_mode": "eager"}, "retry_mode 'eager'"),
    ],
)
def test_bad_client_settings_are_rejected(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        S3ObjectTaggingHook(aws_conn_id=None, **options).tagging_config()


@mock_aws
def test_tag_objects_and_read_back_the_undo_log() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="hook-bucket")
    s3.put_object(Bucket="hook-bucket", Key="a", Body=b"x", Tagging="old=1")
    hook = S3ObjectTaggingHook(aws_conn_id=None, region_name="us-east-1", concurrency=3)
    location = S3Location("hook-bucket", "undo/")
    result = hook.tag_objects(
        [(ObjectRef("hook-bucket", "a"), None)],
        tags=TagSet({"new": "2"}),
        undo_log=UndoLogWriter(hook.conn, location),
    )
    assert (result.changed, result.failed) == (1, 0)
    assert s3.get_object_tagging(Bucket="hook-bucket", Key="a")["TagSet"] == [{"Key": "new", "Value": "2"}]
    records = hook.read_undo_log(location)
    assert [(r.ref.key, r.tags.to_dict()) for r in records] == [("a", {"old": "1"})]
