"""The `scmfit` command: fit a case through a server and show the result, or run the server."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from google.protobuf import json_format

from scmfit.client._cases import load_case
from scmfit.client._client import DEFAULT_TARGET, Client
from scmfit.client._errors import InvalidRequestError, ScmfitError
from scmfit.v1 import causal_model_service_pb2 as pb

EXIT_SUCCESS, EXIT_NOT_SUCCESS, EXIT_ERROR = 0, 1, 2


def _format_result(result: pb.FitResult) -> str:
    lines = []
    header = f"{'node':<14} {'parents':<18} {'mechanism':<24} {'model':<46} {'R²':>8}  coefficients"
    lines.append(header)
    lines.append("-" * len(header))
    failed = set(result.validation.failed_nodes)
    for node in result.nodes:
        kind = pb.MechanismKind.Name(node.mechanism.kind).removeprefix("MECHANISM_KIND_").lower()
        if node.HasField("r2"):
            r2 = f"{node.r2:8.4f}" + (" ✗" if node.name in failed else " ✓")
        else:
            r2 = "       -  " + pb.R2Omission.Name(node.r2_omission).removeprefix("R2_OMISSION_").lower()
        coefficients = ", ".join(f"{c.feature}={c.value:.4g}" for c in node.mechanism.coefficients)
        if node.mechanism.HasField("intercept"):
            coefficients += f" (intercept {node.mechanism.intercept:.4g})"
        lines.append(
            f"{node.name:<14} {','.join(node.parents) or '-':<18} {kind:<24} {node.mechanism.model_type:<46} "
            f"{r2}  {coefficients}"
        )
    status = pb.FitStatus.Name(result.status).removeprefix("FIT_STATUS_")
    lines.append("")
    lines.append(f"status: {status} — {result.message}")
    lines.append(f"model_id: {result.model_id}")
    meta = result.metadata
    lines.append(
        f"rows: {meta.num_rows} (train {meta.num_train}, test {meta.num_test}); "
        f"quality {pb.Quality.Name(meta.quality).removeprefix('QUALITY_')}; dowhy {meta.dowhy_version}; "
        f"{meta.total_time.ToTimedelta().total_seconds():.2f}s"
    )
    return "\n".join(lines)


def _fit(args: argparse.Namespace) -> int:
    case = load_case(args.case)
    overrides = {}
    if args.quality:
        overrides["quality"] = args.quality
    if args.threshold is not None:
        overrides["r2_threshold"] = args.threshold
    request = case.request(**overrides)

    def on_progress(progress: pb.FitProgress) -> None:
        if not args.json:
            stage = pb.Stage.Name(progress.stage).removeprefix("STAGE_").lower()
            print(f"  [{progress.done}/{progress.total}] {stage:<10} {progress.node}", file=sys.stderr)

    with Client(args.address, timeout=args.timeout) as client:
        result = client.fit_proto(request, on_progress=on_progress)
    if args.json:
        print(json.dumps(json_format.MessageToDict(result), indent=2))
    else:
        print(_format_result(result))
    return EXIT_SUCCESS if result.status == pb.FIT_STATUS_SUCCESS else EXIT_NOT_SUCCESS


def _health(args: argparse.Namespace) -> int:
    with Client(args.address, timeout=args.timeout) as client:
        status = client.health()
    print(status)
    return EXIT_SUCCESS if status == "SERVING" else EXIT_NOT_SUCCESS


def _info(args: argparse.Namespace) -> int:
    with Client(args.address, timeout=args.timeout) as client:
        info = client.server_info()
    print(json.dumps(json_format.MessageToDict(info), indent=2))
    return EXIT_SUCCESS


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scmfit", description="Fit DoWhy structural causal models via scmfit."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    fit = commands.add_parser("fit", help="fit a case file (graph, traces and config in one JSON)")
    fit.add_argument("--case", type=Path, required=True)
    fit.add_argument("--quality", choices=["GOOD", "BETTER", "BEST"])
    fit.add_argument("--threshold", type=float)
    fit.add_argument("--json", action="store_true", help="print the result as JSON and no progress")
    fit.set_defaults(handler=_fit)
    for name, handler in (("health", _health), ("info", _info)):
        commands.add_parser(name).set_defaults(handler=handler)
    for sub in commands.choices.values():
        sub.add_argument("--address", default=DEFAULT_TARGET)
        sub.add_argument("--timeout", type=float, default=None)

    serve = commands.add_parser("serve", help="run the server (needs the server extra)")
    try:
        from scmfit.server.cli import add_arguments, run
    except ImportError:
        serve.set_defaults(handler=lambda _args: _missing_server())
    else:
        add_arguments(serve)
        serve.set_defaults(handler=run)

    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except InvalidRequestError as error:
        print(f"error: {error.message}", file=sys.stderr)
        for violation in error.violations:
            print(f"  {violation.field}: {violation.description}", file=sys.stderr)
        return EXIT_ERROR
    except ScmfitError as error:
        print(f"error: {type(error).__name__}: {error.message}", file=sys.stderr)
        return EXIT_ERROR
    return code


def _missing_server() -> int:
    print("error: `scmfit serve` needs the server extra: pip install 'scmfit[server]'", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
