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

``auto`` (the default) is ``crt`` wherever it can serve the connection, else one of the others; the
hook decides (``S3ObjectTaggingHook.choose_transport``) and logs why.
"""

from __future__ import annotations

from airflow_s3_batch_tagging.transports.base import Transport, TransportError

__all__ = ["DEFAULT_ENGINE", "ENGINES", "ENGINE_ALIASES", "Transport", "TransportError", "engine_name"]

ENGINES = ("auto", "crt", "aiobotocore", "threads")
"""What ``engine`` may name: a transport, or ``auto`` (``crt`` when it can serve the connection, else
``aiobotocore``; ``threads`` under moto's in-process ``mock_aws``). BENCHMARKS.md compares them."""
ENGINE_ALIASES = {"asyncio": "aiobotocore"}
"""Earlier names, still accepted."""
DEFAULT_ENGINE = "auto"


def engine_name(engine: str) -> str:
    """``engine`` with aliases resolved; a ``ValueError`` naming the choices if it is none of them."""
    name = ENGINE_ALIASES.get(engine, engine) if isinstance(engine, str) else engine
    if name not in ENGINES:
        choices = ", ".join((*ENGINES, *ENGINE_ALIASES))
        raise ValueError(f"Invalid engine {engine!r}: choose one of {choices}.")
    return name
