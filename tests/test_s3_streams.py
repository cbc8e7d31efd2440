"""``StreamingUpload`` against the stand-in's S3 (moto in server mode): parts, the small case, abort."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from airflow_s3_batch_tagging.s3_streams import MIN_PART_SIZE, StreamingUpload


@pytest.fixture
def s3(local_aws: Any) -> Any:
    return local_aws.client("s3")


def test_large_body_goes_out_in_parts_and_reads_back_whole(s3: Any, s3_bucket: str) -> None:
    line = b"bucket,some/key/with%20space.csv\n"
    body = line * (2 * MIN_PART_SIZE // len(line) + 10)
    with StreamingUpload(s3, s3_bucket, "big.csv", part_size=MIN_PART_SIZE) as upload:
        for start in range(0, len(body), 1000):
            upload.write(body[start : start + 1000])
        assert upload.parts == 2  # two full parts sent before the end, the rest on close
    assert upload.parts == 3
    assert s3.get_object(Bucket=s3_bucket, Key="big.csv")["Body"].read() == body
    head = s3.head_object(Bucket=s3_bucket, Key="big.csv")
    assert head["ETag"].strip('"') == upload.etag
    assert upload.etag.endswith("-3")
    assert (upload.size, upload.md5) == (len(body), hashlib.md5(body).hexdigest())


def test_small_body_is_one_put_with_its_md5_etag(s3: Any, s3_bucket: str) -> None:
    with StreamingUpload(s3, s3_bucket, "small.csv") as upload:
        upload.write(b"a,b\n")
    assert upload.parts == 0
    assert upload.etag == hashlib.md5(b"a,b\n").hexdigest()
    assert s3.get_object(Bucket=s3_bucket, Key="small.csv")["ContentType"] == "text/csv"


def test_error_inside_aborts_and_leaves_nothing(s3: Any, s3_bucket: str) -> None:
    def write_then_fail() -> None:
        with StreamingUpload(s3, s3_bucket, "broken.csv", part_size=MIN_PART_SIZE) as upload:
            upload.write(b"x" * (MIN_PART_SIZE + 1))
            assert upload.parts == 1
            raise RuntimeError("reader failed")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert "Contents" not in s3.list_objects_v2(Bucket=s3_bucket)
    assert not s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads")


def test_part_size_below_s3_minimum_refused(s3: Any) -> None:
    with pytest.raises(ValueError, match="at least"):
        StreamingUpload(s3, "bucket", "key", part_size=1024)
