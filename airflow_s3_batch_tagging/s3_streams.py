"""Write one S3 object as a stream: bytes go out in multipart-upload parts as they come.

``StreamingUpload`` is a write-only binary file over a boto3-compatible S3 client: it keeps at most
one part in memory (``part_size``, at least S3's 5 MiB minimum for every part but the last), uploads
each full part with ``UploadPart``, and completes the upload on ``close``. An object smaller than one
part is written with one ``PutObject`` instead. On an error the upload is aborted, so no half object
and no orphaned parts stay behind. The MD5 of the whole body is computed on the way (a completion
report's ``manifest.json`` names each result file's ``MD5Checksum``).
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

MIN_PART_SIZE = 5 * 1024 * 1024
"""S3's smallest multipart part (every part but the last)."""
DEFAULT_PART_SIZE = 8 * 1024 * 1024


class StreamingUpload(io.RawIOBase):
    """A write-only file that streams its bytes to ``s3://bucket/key``; ``close`` finishes the object.

    After ``close``, ``etag`` (unquoted), ``size`` and ``md5`` describe what was written. Use it as a
    context manager: an exception inside the ``with`` block aborts the upload instead.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        *,
        content_type: str = "text/csv",
        part_size: int = DEFAULT_PART_SIZE,
        extra_args: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"Invalid part_size {part_size}: S3 parts are at least {MIN_PART_SIZE} bytes.")
        self.client = client
        self.bucket = bucket
        self.key = key
        self.content_type = content_type
        self.part_size = part_size
        self.extra_args = dict(extra_args or {})
        self.etag: str | None = None
        self.size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._aborted = False

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def md5(self) -> str:
        return self._md5.hexdigest()

    @property
    def parts(self) -> int:
        """Parts uploaded so far (0 for an object written with one ``PutObject``)."""
        return len(self._parts)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError(f"Write to the closed upload of {self.uri}.")
        view = memoryview(data).cast("B")
        self._buffer += view
        self._md5.update(view)
        self.size += len(view)
        while len(self._buffer) >= self.part_size:
            self._upload_part(bytes(self._buffer[: self.part_size]))
            del self._buffer[: self.part_size]
        return len(view)

    def _upload_part(self, body: bytes) -> None:
        if self._upload_id is None:
            response = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType=self.content_type, **self.extra_args
            )
            self._upload_id = str(response["UploadId"])
        number = len(self._parts) + 1
        response = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=body
        )
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})

    def close(self) -> None:
        """Upload what is left and complete the object (or abort it after ``abort``)."""
        if self.closed:
            return
        try:
            if not self._aborted:
                self._finish()
        except BaseException:
            self.abort()
            raise
        finally:
            self._buffer = bytearray()
            super().close()

    def _finish(self) -> None:
        if self._upload_id is None:
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=bytes(self._buffer),
                ContentType=self.content_type,
                **self.extra_args,
            )
        else:
            if self._buffer:
                self._upload_part(bytes(self._buffer))
            response = self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        self.etag = str(response["ETag"]).strip('"')

    def abort(self) -> None:
        """Drop what was written: abort the multipart upload (parts uploaded so far are deleted)."""
        self._aborted = True
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload_id)
        if not self.closed:
            self._buffer = bytearray()
            super().close()

    def __del__(self) -> None:
        # IOBase would close (and so complete) an upload dropped unfinished; leave it unfinished.
        pass

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()
