"""Transports of the direct tagging engine: how one object's tagging request reaches S3.

The engine (``airflow_s3_batch_tagging.tagging_engine``) holds every rule; a transport only sends one
``GetObjectTagging``, ``PutObjectTagging`` or ``DeleteObjectTagging`` request and makes one attempt:
retries and rate control are the engine's. Failures come back as ``TransportError`` with the error
code botocore would give (``SlowDown``, ``NoSuchKey``, ...); anything else a transport raises (no
credentials, a closed client) is unexpected and stops the run.

- ``aiobotocore``: coroutines over one aiobotocore client (``AiobotocoreTransport``);
- ``threads``: one boto3 client in a thread pool (``Boto3ThreadsTransport``), which also works under
  moto's in-process ``mock_aws``;
- ``crt``: AWS's Common Runtime (``CrtTransport``): SigV4 signing and HTTP in native code.
"""

from __future__ import annotations

from airflow_s3_batch_tagging.transports.base import Transport, TransportError

__all__ = ["Transport", "TransportError"]
