"""The `scmfit` command line: fit with a live progress bar and a results table, check health, run the server.

Exit codes: 0 success, 1 validation failed or warning, 2 error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from scmfit.client._cases import accepts_gaps, load_case
from scmfit.client._channel import tls_credentials
from scmfit.client._client import Client, default_target
from scmfit.client._config import FIELD_NAMES, FIELD_TYPES, FitConfig, enum_choices
from scmfit.client._errors import DeadlineExceededError, InvalidRequestError, ScmfitError, UnavailableError
from scmfit.client._interventions import Intervention, Scalar, do, scale, shift
from scmfit.client._request import fit_request
from scmfit.client._results import (
    BootstrapProgress,
    CheckProgress,
    FitProgress,
    FitResult,
    FitStatus,
    Interval,
    NodeResult,
    SampleResult,
)
from scmfit.client._schema import field_comments
from scmfit.client._terminal import HelpFormatter, rich_markup, rich_text, shown
from scmfit.client._traces import read_graph, read_traces

EXIT_SUCCESS, EXIT_NOT_SUCCESS, EXIT_ERROR = 0, 1, 2

_STATUS_STYLE = {
    FitStatus.SUCCESS: "bold green",
    FitStatus.VALIDATION_FAILED: "bold red",
    FitStatus.WARNING: "bold yellow",
}


def contrasts(
    parents: Sequence[str], coefficients: Mapping[str, float], intercept: float | None
) -> tuple[list[tuple[str, float]], float | None]:
    """One-hot weights read as effects: each category of a categorical parent against that parent's
    reference category (its first in sorted order), and the intercept at the reference categories.
    One-hot columns of all categories beside an intercept are not identified one by one; only these
    differences are. Numeric parents and other terms are kept as they are; the raw weights stay on the
    wire (`--json`)."""
    terms: list[tuple[str, float]] = []
    used: set[str] = set()
    for parent in parents:
        prefix = f"{parent}="
        levels = sorted(
            (feature[len(prefix) :], value) for feature, value in coefficients.items() if feature.startswith(prefix)
        )
        if len(levels) < 2:
            continue
        (reference, base), *others = levels
        used.update(prefix + category for category, _ in levels)
        terms.extend((f"{parent}[{category} vs {reference}]", value - base) for category, value in others)
        if intercept is not None:
            intercept += base
    kept = [(feature, value) for feature, value in coefficients.items() if feature not in used]
    return kept + terms, intercept


def _coefficients(result: FitResult, name: str) -> str:
    node = result.node(name)
    terms, intercept = contrasts(node.parents, node.mechanism.coefficients, node.mechanism.intercept)
    text = ", ".join(f"{shown(feature)}={value:.4g}" for feature, value in terms)
    if intercept is not None:
        text += f" (+{intercept:.3g})" if intercept >= 0 else f" ({intercept:.3g})"
    return text or "-"


def _score(result: FitResult, name: str) -> tuple[str, bool | None]:
    node = result.node(name)
    if node.r2 is not None:
        return f"{node.r2:.4f}", name not in result.validation.failed_nodes
    if node.accuracy is not None:
        return f"acc {node.accuracy:.3f}", None
    return f"- ({node.r2_omission})", None


def _summary(result: FitResult) -> str:
    meta = result.metadata
    timing = (
        f"reused the stored model (fitted earlier in {meta.total_seconds:.2f}s)"
        if result.reused
        else f"{meta.total_seconds:.2f}s"
    )
    return (
        f"{meta.num_rows} rows (train {meta.num_train}, test {meta.num_test}) · quality {meta.quality} · "
        f"dowhy {meta.dowhy_version} · {timing} · model {result.model_id[:12]}"
    )


def render_plain(result: FitResult) -> str:
    """The table without rich, for terminals or installs without the cli extra."""
    lines = [f"{'node':<14} {'parents':<16} {'mechanism':<24} {'model':<46} {'R²':<22} coefficients"]
    for node in result.nodes:
        score, passed = _score(result, node.name)
        mark = {True: " ✓", False: " ✗", None: ""}[passed]
        lines.append(
            f"{shown(node.name):<14} {','.join(map(shown, node.parents)) or '-':<16} {node.mechanism.kind.value:<24} "
            f"{node.mechanism.model_type:<46} {score + mark:<22} {_coefficients(result, node.name)}"
        )
    lines += ["", f"{result.status.value.upper()}: {shown(result.message)}", _summary(result)]
    return "\n".join(lines)


LOSS_UNITS = {"log loss": "nats, lower is better", "mean squared error": "target units squared, lower is better"}
"""What each selection loss measures, for the --explain header."""


def _searched_exhaustively(result: FitResult, node: NodeResult) -> bool:
    """As the server chooses: classifiers and BEST quality always use DoWhy's exhaustive search."""
    classifier = node.accuracy is not None or node.r2_omission == "categorical_target"
    return classifier or result.metadata.selection == "exhaustive" or result.metadata.quality == "BEST"


def render_explanation(result: FitResult) -> str:
    """Why each node got its model: the candidates selection tried, as DoWhy's AutoAssignmentSummary lists
    them, in a headed table: how many folds each was scored on, its mean held-out loss, and the decision."""
    lines = []
    for node in result.nodes:
        name = shown(node.name)
        if node.selection == "root":
            lines.append(f"{name}: a root; its empirical distribution")
        elif node.selection == "linear_screen":
            lines.append(f"{name}: linear screen, cross-validated R² {node.screening_r2:.4f}; zoo skipped")
        elif not node.candidates:
            lines.append(f"{name}: {shown(node.mechanism.model_type)} (no candidates reported)")
        else:
            if _searched_exhaustively(result, node):
                lines.append(f"{name}: DoWhy's exhaustive search, every candidate scored on every fold")
            else:
                lines.append(
                    f"{name}: racing, candidates dropped fold by fold once confidently worse; a mean over fewer "
                    "folds is an early estimate, not comparable with one over more"
                )
            metric = node.selection_metric.removesuffix(" (MSE)")
            lines.append(
                f"  loss: {metric} on each held-out fold, averaged ({LOSS_UNITS.get(metric, 'lower is better')})"
            )
            rows = [("candidate", "folds", "mean loss", "outcome")]
            rows += [
                (shown(c.model_type), str(c.folds), f"{c.mean_loss:.6g}", c.outcome.replace("_", " "))
                for c in node.candidates
            ]
            widths = [max(len(row[k]) for row in rows) for k in range(3)]
            for number, (model, folds, mean, outcome) in enumerate(rows):
                lines.append(f"  {model:<{widths[0]}}  {folds:>{widths[1]}}  {mean:>{widths[2]}}  {outcome}")
                if number == 0:
                    lines.append("  " + "  ".join("-" * width for width in (*widths, len("outcome"))))
            lines.extend(f"  why: {shown(reason)}" for reason in node.selection_note.split("; ") if reason)
    return "\n".join(lines)


def _render_rich(result: FitResult) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Fitted structural causal model", title_justify="left")
    for heading in ("node", "parents", "mechanism", "model type", "coefficients"):
        table.add_column(heading, overflow="fold")
    table.add_column("R²", justify="right")
    for node in result.nodes:
        score, passed = _score(result, node.name)
        styled = {True: (f"{score} ✓", "green"), False: (f"{score} ✗", "red"), None: (score, "dim")}[passed]
        # Every cell is a Text, never markup: names and messages are the user's data.
        table.add_row(
            rich_text(node.name),
            rich_text(", ".join(node.parents) or "-", "" if node.parents else "dim"),
            rich_text(node.mechanism.kind.value),
            rich_text(node.mechanism.model_type),
            rich_text(_coefficients(result, node.name)),
            rich_text(*styled),
        )
    console = Console()
    console.print(table)
    status = rich_text(result.status.value.upper(), _STATUS_STYLE[result.status])
    console.print(status + rich_text(f": {result.message}"))
    console.print(rich_text(_summary(result), "dim"))


def _run_fit(client: Client, request: Any, show_progress: bool) -> FitResult:
    if not show_progress:
        return client.fit(request)
    try:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    except ImportError:
        return client.fit(
            request, on_progress=lambda p: print(f"  {p.stage.value:<10} {shown(p.node)}", file=sys.stderr)
        )
    columns = (TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("validating", total=None)

        def on_progress(event: FitProgress) -> None:
            steps = {"assigning": 0, "fitting": 1, "evaluating": 2}
            if event.stage.value in steps:
                bar.update(
                    task,
                    total=3 * event.total,
                    completed=3 * event.done + steps[event.stage.value],
                    description=f"{event.stage.value} {rich_markup(event.node)}",
                )

        result = client.fit(request, on_progress=on_progress)
        bar.update(task, completed=bar.tasks[0].total or 0)
    return result


def _fit(args: argparse.Namespace) -> int:
    flags = FitConfig.of(**{name: getattr(args, name) for name in FIELD_NAMES})
    string_columns = [name for name in (args.string_columns or "").split(",") if name]
    nodes, edges, traces, config = _graph_and_traces(args, "fit", string_columns, flags)
    request = fit_request(nodes, edges, traces, config)
    plot = _plot_path(args)
    with _client(args) as client:
        result = _run_fit(client, request, show_progress=not args.json and sys.stderr.isatty())
    if plot is not None:
        from scmfit.client._plots import fit_chart

        fit_chart(result, plot)
    if args.json:
        print(json.dumps(json_format.MessageToDict(result.raw), indent=2))
    elif sys.stdout.isatty() and _has_rich():
        _render_rich(result)
    else:
        print(render_plain(result))
    if args.explain and not args.json:
        print("\nmodel selection:\n" + render_explanation(result))
    return EXIT_SUCCESS if result.status is FitStatus.SUCCESS else EXIT_NOT_SUCCESS


def _graph_and_traces(
    args: argparse.Namespace, command: str, string_columns: Sequence[str] = (), flags: FitConfig | None = None
) -> tuple[list[str], list[tuple[str, str]], dict[str, Any], FitConfig]:
    """--case FILE, or --graph and --traces; the command line's settings win over a case's, and decide
    whether gaps in the traces are read as missing cells."""
    if args.case is not None:
        case = load_case(args.case, string_columns, overrides=flags)
        return case.nodes, case.edges, case.traces, case.config
    if args.graph is not None and args.traces is not None:
        config = flags if flags is not None else FitConfig()
        nodes, edges = read_graph(args.graph)
        return nodes, edges, read_traces(args.traces, string_columns, allow_missing=accepts_gaps(config)), config
    raise UsageError(f"scmfit {command}: give --case FILE, or --graph GRAPH and --traces TRACES")


def _has_rich() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


class UsageError(Exception):
    """A command line that cannot run as given; exits 2, like argparse's own errors."""


TRUE_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def typed(value: str, column_type: str | None, where: str, categories: Sequence[str] = ()) -> Scalar:
    """A command-line value as a cell of the node's type; unknown type (a model from an older server):
    a number when it reads as one, else a category."""
    if column_type == "string":
        if categories and value not in categories:
            known = ", ".join(shown(c) for c in categories)
            raise UsageError(f"{where}: {shown(value)} is not a category of this node; it has {known}")
        return value
    if column_type == "bool":
        if value.lower() not in TRUE_WORDS:
            raise UsageError(f"{where}: the node is bool; give true or false, not {shown(value)}")
        return TRUE_WORDS[value.lower()]
    try:
        number = float(value)
    except ValueError:
        if column_type is None:
            return value
        raise UsageError(f"{where}: the node is {column_type}; {shown(value)} is not a number") from None
    if column_type == "int64":
        if not number.is_integer():
            raise UsageError(f"{where}: the node is int64; {shown(value)} is not a whole number")
        return int(number)
    return number


def _node_types(client: Client, model: str) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """Each node's type and categories, from the stored FitResult."""
    result, _ = client.get_model(model)
    return {node.name: (node.column_type, node.categories) for node in result.nodes}


def _assignment(text: str, kind: str, types: Mapping[str, tuple[str | None, tuple[str, ...]]]) -> Intervention:
    """`X=2`, `mode=slow` or `flag=true` into an Intervention of the node's type; shifts and scales are numbers."""
    node, value = _split(text, kind)
    column_type, categories = types.get(node, (None, ()))
    if kind == "do":
        return do(node, typed(value, column_type, f"--do {shown(text)}", categories))
    return {"shift": shift, "scale": scale}[kind](node, _number(text, kind, value))


def _split(text: str, kind: str) -> tuple[str, str]:
    node, sep, value = text.partition("=")
    if not sep or not node:
        raise UsageError(f"--{kind} expects NODE=VALUE, got {text!r}")
    return node, value


def _number(text: str, kind: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise UsageError(f"--{kind} {shown(text)}: {shown(value)} is not a number") from None


def _interventions(args: argparse.Namespace, client: Client) -> list[Intervention]:
    """Syntax and soft interventions' numbers are checked here, before any call; a hard intervention's
    value takes its node's type, which the stored model says (one GetModel, only when there is a --do)."""
    given = [(kind, text) for kind in ("do", "shift", "scale") for text in getattr(args, kind) or []]
    for kind, text in given:
        _, value = _split(text, kind)
        if kind != "do":
            _number(text, kind, value)
    types = _node_types(client, args.model) if any(kind == "do" for kind, _ in given) else {}
    return [_assignment(text, kind, types) for kind, text in given]


def _label(value: Scalar) -> str:
    return (
        f"{value:g}"
        if isinstance(value, float)
        else shown(str(value).lower() if isinstance(value, bool) else str(value))
    )


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a level such as 0.95, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), such as 0.95; got {text}")
    return value


def _interval_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--ci", type=_level, metavar="LEVEL", help=f"a bootstrap confidence interval of {what} at LEVEL, such as 0.95"
    )
    parser.add_argument(
        "--bootstrap", type=_positive_int, metavar="B", help="bootstrap refits for --ci (unset: the server's default)"
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _query(args: argparse.Namespace) -> int:
    plot = _plot_path(args)
    with _client(args) as client:
        interventions = _interventions(args, client)
        result = client.sample(
            args.model,
            interventions,
            nodes=args.nodes or (),
            num_samples=args.samples,
            seed=args.seed,
            **_interval_fields(args),
        )
        if plot is not None:
            _plot_what_if(client, args, interventions, result, plot)
    if args.json:
        print(json.dumps(json_format.MessageToDict(result.raw), indent=2))
        return EXIT_SUCCESS
    title = ", ".join(f"{i.kind}({shown(i.node)}={_label(i.value)})" for i in interventions) or "observational"
    header = f"{'node':<16}" + "".join(f"{name:>11}" for name in ("mean", "std", "q05", "q50", "q95", "min", "max"))
    print(f"{title}: {result.num_samples} samples in {result.seconds * 1000:.0f} ms")
    print(header)
    for node, stats in result.statistics.items():
        if stats.categories and not stats.std and not stats.mean:
            print(f"{shown(node):<16}  " + ", ".join(f"{shown(k)}: {v:.3f}" for k, v in stats.categories.items()))
        else:
            print(f"{shown(node):<16}" + "".join(f"{v:>11.4g}" for v in stats.as_dict().values()))
    intervals = {node: s.mean_interval for node, s in result.statistics.items() if s.mean_interval is not None}
    for node, interval in intervals.items():
        print(
            f"{shown(node)}: mean {interval.confidence_level:.0%} interval [{interval.lower:.4g}, {interval.upper:.4g}]"
        )
    return EXIT_SUCCESS


def _plot_what_if(
    client: Client, args: argparse.Namespace, interventions: Sequence[Intervention], result: SampleResult, plot: Path
) -> None:
    """Both sides sampled again with their samples, for the numeric nodes the table showed."""
    from scmfit.client._plots import what_if_chart

    numeric = [node for node, stats in result.statistics.items() if not stats.categories]
    options: dict[str, Any] = {"nodes": numeric, "num_samples": args.samples, "seed": args.seed}
    before = client.sample(args.model, None, include_samples=True, **options)
    after = client.sample(args.model, interventions, include_samples=True, **options)
    title = ", ".join(f"{i.kind}({i.node}={_label(i.value)})" for i in interventions) or "observational"
    what_if_chart(before.samples, after.samples, title, plot)


def _effect(args: argparse.Namespace) -> int:
    with _client(args) as client:
        types = _node_types(client, args.model)
        column_type, categories = types.get(args.treatment, (None, ()))
        where = f"(treatment {shown(args.treatment)})"
        alternative = typed(args.alternative, column_type, f"--alternative {where}", categories)
        reference = typed(args.reference, column_type, f"--reference {where}", categories)
        estimate = client.estimate_effect(
            args.model,
            treatment=args.treatment,
            target=args.target,
            alternative=alternative,
            reference=reference,
            target_category=args.category or "",
            **_interval_fields(args),
            decompose=args.decompose,
            num_samples=args.samples or 0,
            seed=args.seed,
        )
    if args.json:
        print(json.dumps(json_format.MessageToDict(estimate.raw), indent=2))
        return EXIT_SUCCESS
    treatment, target = shown(args.treatment), shown(args.target)
    if types.get(args.target, (None, ()))[0] in ("bool", "string"):
        arm = "P({target} = {category} | do({treatment} = {value}))"
    else:
        arm = "E[{target} | do({treatment} = {value})]"
    words = {"target": target, "treatment": treatment, "category": shown(args.category or "true")}
    line = f"{arm.format(**words, value=_label(alternative))} - {arm.format(**words, value=_label(reference))}"
    print(f"{line} = {estimate.effect:.6g}{_interval_text(estimate.interval)}")
    parts = estimate.decomposition
    if parts is not None:
        direct = _interval_text(parts.natural_direct_effect_interval)
        indirect = _interval_text(parts.natural_indirect_effect_interval)
        through = ", ".join(map(shown, parts.mediators))
        print(f"  natural direct effect   = {parts.natural_direct_effect:.6g}{direct}")
        print(f"  natural indirect effect = {parts.natural_indirect_effect:.6g}{indirect} (through {through})")
        print(f"  total on the same draws = {parts.total_effect:.6g}")
    return EXIT_SUCCESS


def _plot_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--plot", type=Path, metavar="FILE", help=f"draw {what} into FILE (.png or .svg; needs scmfit[plot])"
    )


def _plot_path(args: argparse.Namespace) -> Path | None:
    """The --plot file, checked before any RPC runs."""
    if args.plot is None:
        return None
    from scmfit.client import _plots

    try:
        _plots.check_path(args.plot)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return Path(args.plot)


def _interval_fields(args: argparse.Namespace) -> dict[str, Any]:
    return {"confidence_level": args.ci or 0.0, "num_bootstrap": args.bootstrap or 0}


def _interval_json(interval: Interval | None) -> dict[str, Any] | None:
    return None if interval is None else dataclasses.asdict(interval)


def _interval_text(interval: Interval | None) -> str:
    if interval is None:
        return ""
    level = f"{interval.confidence_level:.0%}"
    return f"  [{interval.lower:.4g}, {interval.upper:.4g}] {level}, {interval.num_bootstrap} bootstrap refits"


def _counterfactual(args: argparse.Namespace) -> int:
    if not any(getattr(args, kind) for kind in ("do", "shift", "scale")):
        raise UsageError("scmfit counterfactual: give at least one --do, --shift or --scale")
    observed = read_traces(args.observed)
    with _client(args) as client:
        rows = client.counterfactual(args.model, observed, _interventions(args, client))
    if args.json:
        print(json.dumps({name: values.tolist() for name, values in rows.items()}))
        return EXIT_SUCCESS
    names = list(rows)
    print("  ".join(f"{shown(name):>14}" for name in names))
    for row in range(len(next(iter(rows.values()), []))):
        print("  ".join(f"{_cell(rows[name][row]):>14}" for name in names))
    return EXIT_SUCCESS


def _cell(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else shown(str(value))


def _attribute(args: argparse.Namespace) -> int:
    rows = read_traces(args.rows)
    plot = _plot_path(args)
    with _client(args) as client:
        explained = client.attribute_anomalies(
            args.model, args.target, rows, num_samples=args.samples or 0, seed=args.seed, **_interval_fields(args)
        )
    if plot is not None:
        from scmfit.client._plots import attribution_chart

        attribution_chart(explained, args.target, plot)
    if args.json:
        print(json.dumps([dataclasses.asdict(row) for row in explained], indent=2))
        return EXIT_SUCCESS
    for row in explained:
        print(
            f"row {row.row}: {shown(args.target)} anomaly score {row.target_score:.3g} "
            f"(-log P of a value this extreme); root cause {shown(row.root_cause)}"
        )
        print(f"  {'node':<16}{'contribution':>14}{'own score':>12}")
        for node, contribution in row.contributions.items():
            own = row.node_scores.get(node, float("nan"))
            print(f"  {shown(node):<16}{contribution:>14.4g}{own:>12.3g}{_interval_text(row.intervals.get(node))}")
    return EXIT_SUCCESS


def _influence(args: argparse.Namespace) -> int:
    with _client(args) as client:
        intrinsic = client.intrinsic_influence(
            args.model, args.target, num_samples=args.samples or 0, seed=args.seed, **_interval_fields(args)
        )
        arrows = client.arrow_strength(args.model, args.target, seed=args.seed, **_interval_fields(args))
    if args.json:
        edges = [
            {"source": a, "target": b, "strength": v, "interval": _interval_json(arrows.intervals.get((a, b)))}
            for (a, b), v in arrows.items()
        ]
        intervals = {node: _interval_json(interval) for node, interval in intrinsic.intervals.items()}
        print(json.dumps({"intrinsic": intrinsic, "intrinsic_intervals": intervals, "arrow_strength": edges}, indent=2))
        return EXIT_SUCCESS
    total = sum(intrinsic.values())
    target = shown(args.target)
    print(f"Intrinsic causal influence on Var({target}) = {total:.4g}: each node's own noise, largest first")
    for node, share in intrinsic.items():
        interval = _interval_text(intrinsic.intervals.get(node))
        print(f"  {shown(node):<16}{share:>12.4g}{share / total if total else 0.0:>9.1%}{interval}")
    print(f"Arrow strength of each edge into {target}: the variance its cut would add, strongest first")
    for (source, head), strength in arrows.items():
        interval = _interval_text(arrows.intervals.get((source, head)))
        print(f"  {shown(source) + ' -> ' + target:<24}{strength:>12.4g}{interval}")
    return EXIT_SUCCESS


def _check_graph(args: argparse.Namespace) -> int:
    nodes, edges, traces, _ = _graph_and_traces(args, "check-graph")
    progress = args.progress and sys.stderr.isatty()

    def show(step: CheckProgress) -> None:
        if progress:
            print(f"\r{step.done}/{step.total} independence tests", end="", file=sys.stderr, flush=True)

    with _client(args) as client:
        result = client.check_graph(
            (nodes, edges),
            traces,
            significance_level=args.significance or 0.0,
            num_permutations=args.permutations or 0,
            seed=args.seed,
            on_progress=show,
        )
    if progress:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(dataclasses.asdict(result), indent=2))
        return EXIT_SUCCESS
    if not result.can_evaluate:
        print("cannot evaluate: the graph implies no independence to test (it is complete)")
        return EXIT_SUCCESS
    verdict = "REJECTED by the traces" if result.falsified else "not rejected"
    print(
        f"graph {verdict}: it violates {result.num_violations} of {result.num_tests} independences it implies; "
        f"{result.violations_p_value:.0%} of {result.num_permutations} permuted graphs do no worse"
    )
    if result.informative:
        print("the graph is informative: few permutations imply the same independences")
    else:
        share = f"{result.equivalence_p_value:.0%}"
        print(f"the graph is NOT informative: {share} of permutations imply the same independences")
    for violation in result.violations:
        given = f" given {', '.join(map(shown, violation.given))}" if violation.given else ""
        print(f"  {shown(violation.node)} depends on {shown(violation.other)}{given} (p = {violation.p_value:.2g})")
    for source, target in result.suggested_edges:
        print(f"  missing edge? {shown(source)} -> {shown(target)}")
    return EXIT_SUCCESS


def _change(args: argparse.Namespace) -> int:
    nodes, edges = read_graph(args.graph)
    old, new = read_traces(args.old), read_traces(args.new)
    progress = args.progress and sys.stderr.isatty()

    def show(phase: str, fit: FitProgress | None) -> None:
        if progress:
            step = f"{fit.stage} {shown(fit.node)} ({fit.done}/{fit.total})" if fit is not None else ""
            print(f"\r{phase.replace('_', ' ')} {step}".ljust(60), end="", file=sys.stderr, flush=True)

    def resampled(step: BootstrapProgress) -> None:
        if progress:
            print(f"\rbootstrapping {step.done}/{step.total}".ljust(60), end="", file=sys.stderr, flush=True)

    with _client(args) as client:
        change = client.attribute_distribution_change(
            (nodes, edges),
            old,
            new,
            args.target,
            num_samples=args.samples or 0,
            seed=args.seed,
            on_progress=show,
            on_bootstrap=resampled,
            **_interval_fields(args),
        )
    if progress:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(json_format.MessageToDict(change.raw), indent=2))
        return EXIT_SUCCESS
    target = shown(args.target)
    changed = ", ".join(map(shown, change.changed)) or "none"
    print(f"{target}'s distribution moved by {change.total:.4g} nats (KL); mechanisms that changed: {changed}")
    print(f"  {'node':<16}{'contribution':>14}{'p-value':>10}  changed")
    for node in change.nodes:
        flag = "yes" if node.changed else "no"
        interval = _interval_text(node.interval)
        print(f"  {shown(node.node):<16}{node.contribution:>14.4g}{node.p_value:>10.2g}  {flag:<7}{interval}")
    print(f"old fit {change.old_fit.model_id[:12]}, new fit {change.new_fit.model_id[:12]} (stored; query either)")
    return EXIT_SUCCESS


def _delete(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.delete_model(args.model)
    print(f"deleted {shown(args.model)}")
    return EXIT_SUCCESS


def _models(args: argparse.Namespace) -> int:
    with _client(args) as client:
        models = list(client.list_models())
    if args.json:
        print(json.dumps([json_format.MessageToDict(m.raw) for m in models], indent=2))
        return EXIT_SUCCESS
    print(f"{'model_id':<66}{'status':<19}{'rows':>8}  {'mean R²':>8}  nodes")
    for m in models:
        r2 = f"{m.mean_r2:.4f}" if m.mean_r2 is not None else "-"
        print(f"{m.model_id:<66}{m.status.value:<19}{m.num_rows:>8}  {r2:>8}  {', '.join(map(shown, m.nodes))}")
    return EXIT_SUCCESS


def _client(args: argparse.Namespace, default_timeout: float | None = None) -> Client:
    secure = args.tls_ca or args.tls_cert
    return Client(
        args.address,
        timeout=args.timeout or default_timeout,
        credentials=tls_credentials(args.tls_ca, args.tls_cert, args.tls_key) if secure else None,
        token=args.token_file.read_text().strip() if args.token_file else None,
    )


def _health(args: argparse.Namespace) -> int:
    with _client(args, default_timeout=5.0) as client:
        status = client.health(args.service)
    print(status)
    return EXIT_SUCCESS if status == "SERVING" else EXIT_NOT_SUCCESS


def _info(args: argparse.Namespace) -> int:
    with _client(args, default_timeout=5.0) as client:
        info = client.server_info()
    print(json.dumps(json_format.MessageToDict(info.raw), indent=2))
    return EXIT_SUCCESS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scmfit", description="Fit DoWhy structural causal models with scmfit.", formatter_class=HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"scmfit {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    original_add_parser = commands.add_parser

    def add_parser(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """Every subcommand shows its defaults."""
        return original_add_parser(name, formatter_class=HelpFormatter, **kwargs)

    commands.add_parser = add_parser  # type: ignore[method-assign]

    fit = commands.add_parser("fit", help="fit a graph on traces and show the result")
    fit.add_argument("--case", type=Path, help="a fixture: graph, traces and config in one JSON")
    fit.add_argument("--graph", type=Path, help='JSON: {"nodes": [...], "edges": [[a, b], ...]}')
    fit.add_argument("--traces", type=Path, help="CSV, JSON columns, or Parquet (with pyarrow)")
    _add_config_flags(fit)
    fit.add_argument("--explain", action="store_true", help="list the candidates selection tried for each node")
    fit.add_argument("--json", action="store_true", help="print the result as JSON, without progress")
    fit.add_argument(
        "--string-columns",
        metavar="A,B",
        help="columns to read as text labels; any other column with a gap or a word among numbers is an error",
    )
    _plot_option(fit, "each node's held-out R² against the threshold")
    fit.set_defaults(handler=_fit)
    health = commands.add_parser("health", help="print the server's health status")
    health.add_argument("--service", default="scmfit.v1.CausalModelService", help="the service whose health to ask")
    health.set_defaults(handler=_health)
    commands.add_parser("info", help="print versions, limits and qualities").set_defaults(handler=_info)
    query = commands.add_parser("query", help="sample a stored model, with or without interventions")
    query.add_argument(
        "--model", required=True, help="the model id printed by `scmfit fit`, or a unique prefix of 8+ characters"
    )
    query.add_argument("--do", action="append", metavar="NODE=VALUE", help="hard intervention do(NODE = VALUE)")
    query.add_argument("--shift", action="append", metavar="NODE=BY", help="soft intervention NODE := NODE + BY")
    query.add_argument(
        "--scale", action="append", metavar="NODE=FACTOR", help="soft intervention NODE := NODE * FACTOR"
    )
    query.add_argument("--nodes", nargs="*", help="nodes to report (default: all)")
    query.add_argument("--samples", type=_positive_int, default=1000, help="samples to draw")
    query.add_argument("--seed", type=int, default=None, help="seeds the sampling (unset: the server's default)")
    query.add_argument("--json", action="store_true", help="print the answer as JSON")
    _interval_options(query, "each numeric node's mean")
    _plot_option(query, "each numeric node's distribution with and without the interventions")
    query.set_defaults(handler=_query)
    model_help = "the model id printed by `scmfit fit`, or a unique prefix of 8+ characters"
    effect = commands.add_parser(
        "effect", help="the average causal effect of setting a treatment to one value rather than another"
    )
    effect.add_argument("--model", required=True, help=model_help)
    effect.add_argument("--treatment", required=True, help="the node intervened on")
    effect.add_argument("--target", required=True, help="the node whose mean (or category's probability) changes")
    effect.add_argument("--alternative", required=True, help="do(treatment = this), in the treatment's type")
    effect.add_argument("--reference", required=True, help="against do(treatment = this)")
    effect.add_argument(
        "--category", help="for a bool or string target, the category whose probability changes (bool: true)"
    )
    effect.add_argument("--decompose", action="store_true", help="split into natural direct and indirect effects")
    _interval_options(effect, "the effect")
    effect.add_argument("--samples", type=_positive_int, default=None, help="samples per arm (unset: the server's)")
    effect.add_argument("--seed", type=int, default=None, help="seeds the sampling (unset: the server's default)")
    effect.add_argument("--json", action="store_true", help="print the effect as JSON")
    effect.set_defaults(handler=_effect)
    counterfactual = commands.add_parser(
        "counterfactual", help="what observed rows would have been under interventions (invertible mechanisms)"
    )
    counterfactual.add_argument("--model", required=True, help=model_help)
    counterfactual.add_argument("--observed", type=Path, required=True, help="the observed rows: CSV or JSON")
    counterfactual.add_argument("--do", action="append", metavar="NODE=VALUE", help="hard intervention")
    counterfactual.add_argument("--shift", action="append", metavar="NODE=BY", help="NODE := NODE + BY")
    counterfactual.add_argument("--scale", action="append", metavar="NODE=FACTOR", help="NODE := NODE * FACTOR")
    counterfactual.add_argument("--json", action="store_true", help="print the rows as JSON columns")
    counterfactual.set_defaults(handler=_counterfactual)
    attribute = commands.add_parser(
        "attribute", help="which upstream node caused each anomalous row at a target (Shapley attribution)"
    )
    attribute.add_argument("--model", required=True, help=model_help)
    attribute.add_argument("--target", required=True, help="the node whose anomaly is explained")
    attribute.add_argument("--rows", type=Path, required=True, help="the anomalous rows, every node: CSV or JSON")
    attribute.add_argument("--samples", type=_positive_int, help="distribution samples (unset: the server's)")
    attribute.add_argument("--seed", type=int, default=None, help="seeds the sampling (unset: the server's default)")
    _interval_options(attribute, "each contribution")
    attribute.add_argument("--json", action="store_true", help="print the rows as JSON")
    _plot_option(attribute, "each row's contributions, sorted")
    attribute.set_defaults(handler=_attribute)
    influence = commands.add_parser(
        "influence", help="how much each ancestor's own noise drives a target, and how strong each edge into it is"
    )
    influence.add_argument("--model", required=True, help=model_help)
    influence.add_argument("--target", required=True, help="a numeric node with ancestors")
    influence.add_argument("--samples", type=_positive_int, help="training samples (unset: the server's)")
    influence.add_argument("--seed", type=int, default=None, help="seeds the sampling (unset: the server's default)")
    _interval_options(influence, "each share and strength")
    influence.add_argument("--json", action="store_true", help="print both answers as JSON")
    influence.set_defaults(handler=_influence)
    check = commands.add_parser(
        "check-graph", help="do the traces contradict the graph? (DoWhy's falsification; finds missing edges)"
    )
    check.add_argument("--case", type=Path, help="a fixture: graph and traces in one JSON")
    check.add_argument("--graph", type=Path, help='JSON: {"nodes": [...], "edges": [[a, b], ...]}')
    check.add_argument("--traces", type=Path, help="CSV, JSON columns, or Parquet (with pyarrow)")
    check.add_argument("--significance", type=_level, help="level of the permutation test (unset: 0.05)")
    check.add_argument("--permutations", type=_positive_int, help="permuted graphs (unset: 1 / significance)")
    check.add_argument("--seed", type=int, default=None, help="seeds permutations and tests (unset: the server's)")
    check.add_argument("--no-progress", dest="progress", action="store_false", help="no test counter on stderr")
    check.add_argument("--json", action="store_true", help="print the verdict as JSON")
    check.set_defaults(handler=_check_graph)
    change = commands.add_parser(
        "change", help="what changed between two versions' traces, and how much each change moved a target"
    )
    change.add_argument("--graph", type=Path, required=True, help='JSON: {"nodes": [...], "edges": [[a, b], ...]}')
    change.add_argument("--old", type=Path, required=True, help="the old version's traces: CSV, JSON or Parquet")
    change.add_argument("--new", type=Path, required=True, help="the new version's traces")
    change.add_argument("--target", required=True, help="the node whose distribution change is attributed")
    change.add_argument("--samples", type=_positive_int, help="samples per comparison (unset: the server's)")
    change.add_argument("--seed", type=int, default=None, help="seeds sampling (unset: the server's default)")
    _interval_options(change, "each contribution (both versions' rows resampled)")
    change.add_argument("--no-progress", dest="progress", action="store_false", help="no progress on stderr")
    change.add_argument("--json", action="store_true", help="print the answer as JSON")
    change.set_defaults(handler=_change)
    delete = commands.add_parser("delete", help="delete a stored model")
    delete.add_argument("--model", required=True, help=model_help)
    delete.set_defaults(handler=_delete)
    models = commands.add_parser("models", help="list the stored models")
    models.add_argument("--json", action="store_true", help="print the models as JSON")
    models.set_defaults(handler=_models)
    for sub in (
        fit,
        health,
        commands.choices["info"],
        query,
        models,
        effect,
        counterfactual,
        attribute,
        influence,
        check,
        change,
        delete,
    ):
        sub.add_argument("--address", default=default_target(), help="server address, host:port (or SCMFIT_ADDRESS)")
        sub.add_argument("--timeout", type=float, default=None, help="deadline in seconds (unset: none)")
        sub.add_argument("--tls-ca", type=Path, help="PEM CA that signed the server's certificate (turns on TLS)")
        sub.add_argument("--tls-cert", type=Path, help="PEM client certificate, for servers that require mTLS")
        sub.add_argument("--tls-key", type=Path, help="PEM client key")
        sub.add_argument("--token-file", type=Path, help="file holding the server's bearer token")

    web = commands.add_parser("web", help="serve the live web view (needs the web extra)")
    web.add_argument("--address", default="127.0.0.1:8080", help="where the page is served")
    web.add_argument("--grpc-target", default=None, help="the scmfit server to use")
    web.add_argument("--embedded", action="store_true", help="run the gRPC server in this process too")
    web.add_argument("--fixtures", type=Path, default=Path("fixtures"), help="directory of case files to offer")
    web.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        help="a host name the page may be reached by, besides loopback (repeatable; guards DNS rebinding)",
    )
    web.add_argument("--tls-ca", type=Path, help="PEM CA that signed the gRPC server's certificate (turns on TLS)")
    web.add_argument("--tls-cert", type=Path, help="PEM client certificate, for servers that require mTLS")
    web.add_argument("--tls-key", type=Path, help="PEM client key")
    web.add_argument("--token-file", type=Path, help="file holding the gRPC server's bearer token")
    web.add_argument(
        "--max-pending-bytes",
        type=_positive_int,
        default=256 * 1024 * 1024,
        help="bytes that jobs waiting for their stream may hold together; beyond it, 429",
    )
    web.set_defaults(handler=_web)

    serve = commands.add_parser("serve", help="run the server (needs the server extra)")
    try:
        from scmfit.server.cli import add_arguments, run  # the only server import, and only for `serve`
    except ImportError:
        serve.set_defaults(handler=lambda _args: _missing_server())
    else:
        add_arguments(serve)
        serve.set_defaults(handler=run)
    return parser


def _add_config_flags(fit: argparse.ArgumentParser) -> None:
    """One flag per field of scmfit.v1.FitConfig, derived from it, with the proto's comment as its help
    (which states the default and the range); unset flags take the server's defaults."""
    group = fit.add_argument_group("fit settings", "each a field of scmfit.v1.FitConfig; unset: the server's default")
    comments = field_comments("FitConfig")
    for name, kind in FIELD_TYPES.items():
        aliases = {"r2_threshold": ["--threshold"], "escalate_quality": ["--escalate"]}
        flags = ["--" + name.replace("_", "-"), *aliases.get(name, [])]
        options: dict[str, Any] = {"dest": name, "default": None, "help": comments[name].replace("%", "%%")}
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif kind is str:
            options.update(choices=list(enum_choices(name)), type=str.upper)
        else:
            options["type"] = kind
        group.add_argument(*flags, **options)


def _accepts_connections(address: str) -> bool:
    """Tells a deadline spent waiting for a server that is not there from one spent on real work."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=1.0):
            return True
    except (OSError, ValueError):
        return False


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("scmfit")
    except metadata.PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except InvalidRequestError as error:
        # The violations are the message; printing both would say everything twice.
        if error.violations:
            print("error: the request was refused:", file=sys.stderr)
            for violation in error.violations:
                print(f"  {shown(violation.field)}: {shown(violation.description)}", file=sys.stderr)
        else:
            print(f"error: {shown(error.message)}", file=sys.stderr)
        return EXIT_ERROR
    except (UnavailableError, DeadlineExceededError) as error:
        address = getattr(args, "address", "")
        if isinstance(error, UnavailableError) or not _accepts_connections(address):
            print(
                f"error: no scmfit server answered at {address} ({shown(error.message)}); "
                "start one with `scmfit serve`, or point --address at a running server",
                file=sys.stderr,
            )
        else:
            print(f"error: {type(error).__name__}: {shown(error.message)}", file=sys.stderr)
        return EXIT_ERROR
    except ScmfitError as error:
        print(f"error: {type(error).__name__}: {shown(error.message)}", file=sys.stderr)
        return EXIT_ERROR
    except UsageError as error:
        parser.print_usage(sys.stderr)
        print(f"error: {shown(error)}", file=sys.stderr)
        return EXIT_ERROR
    except (OSError, ValueError) as error:
        print(f"error: {shown(error)}", file=sys.stderr)
        return EXIT_ERROR
    return code


def _web(args: argparse.Namespace) -> int:
    try:
        from scmfit.web.app import run
    except ImportError as error:
        print(
            f"error: `scmfit web` needs the web extra: pip install '.[web]' in a clone, "
            f"or '<wheel>[web]' (README, Installing) ({error})",
            file=sys.stderr,
        )
        return EXIT_ERROR
    secure = args.tls_ca is not None or args.tls_cert is not None
    run(
        args.address,
        args.grpc_target,
        embedded=args.embedded,
        fixtures=args.fixtures,
        credentials=tls_credentials(args.tls_ca, args.tls_cert, args.tls_key) if secure else None,
        token=args.token_file.read_text().strip() if args.token_file else None,
        allowed_hosts=tuple(args.allowed_host),
        max_pending_bytes=args.max_pending_bytes,
    )
    return EXIT_SUCCESS


def _missing_server() -> int:
    print(
        "error: `scmfit serve` needs the server extra, which this install lacks: pip install '.[server]' in a "
        "clone, or '<wheel>[server]' (README, Installing)",
        file=sys.stderr,
    )
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
