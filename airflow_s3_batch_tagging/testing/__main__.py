"""``python -m airflow_s3_batch_tagging.testing serve``: run the local stand-in in the foreground."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from typing import TYPE_CHECKING

from airflow_s3_batch_tagging.testing.server import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, LocalAWS

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_s3_batch_tagging.testing",
        description="Local stand-in for AWS: moto's S3 plus an S3 Batch Operations job emulator.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve on a loopback port until interrupted (Ctrl-C)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    serve.add_argument("--account-id", default=DEFAULT_ACCOUNT_ID, help="account id (default: %(default)s)")
    serve.add_argument("--region", default=DEFAULT_REGION, help="region (default: %(default)s)")
    serve.add_argument(
        "--job-step-delay",
        type=float,
        default=0.0,
        help="seconds jobs pause between status steps and task chunks (default: %(default)s)",
    )
    return parser


def export_lines(aws: LocalAWS) -> list[str]:
    """Shell ``export`` lines that point Airflow and boto3 at ``aws``."""
    return [f"export {name}={shlex.quote(value)}" for name, value in aws.env().items()]


def serve(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # SIGINT too: a process started in the background by a non-interactive shell inherits SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler, so Ctrl-C (or a test's
    # SIGINT) would never stop the server.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    aws = LocalAWS(
        account_id=args.account_id,
        region=args.region,
        job_step_delay=args.job_step_delay,
        host=args.host,
        port=args.port,
    )
    with aws:
        print(f"# LocalAWS: S3 and S3 Control on {aws.endpoint_url} (account {aws.account_id})")
        print("# Run these in the shell of your Airflow, or add them to its environment:")
        for line in export_lines(aws):
            print(line)
        print(f"# Role ARN for jobs: {aws.role_arn}")
        print("# Press Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            pass
    print("# LocalAWS stopped.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
