"""Validates a KubeRay RayCluster offline: kubernetes-validate knows no KubeRay schema (it only warns),
so every pod template inside (the head's and each worker group's) is checked strictly as a core
PodTemplate, and the RayCluster's own fields against the ones this file expects."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

SPEC_FIELDS = {"rayVersion", "headGroupSpec", "workerGroupSpecs", "enableInTreeAutoscaling", "autoscalerOptions"}
GROUP_FIELDS = {"rayStartParams", "template", "serviceType", "groupName", "replicas", "minReplicas", "maxReplicas"}


def check(cluster: dict[str, Any], version: str) -> list[str]:
    spec = cluster["spec"]
    problems = [f"spec.{key}: not a RayCluster field" for key in set(spec) - SPEC_FIELDS]
    groups = [("spec.headGroupSpec", spec["headGroupSpec"])]
    groups += [(f"spec.workerGroupSpecs[{i}]", group) for i, group in enumerate(spec.get("workerGroupSpecs", []))]
    for where, group in groups:
        problems += [f"{where}.{key}: not a group field" for key in set(group) - GROUP_FIELDS]
        if not all(isinstance(value, str) for value in group.get("rayStartParams", {}).values()):
            problems.append(f"{where}.rayStartParams: values must be strings")
        template = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": group["template"]}
        try:
            kubernetes_validate.validate(template, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{where}.template: {error.message} at {'.'.join(map(str, error.path))}")
    return problems


def main() -> int:
    version = kubernetes_validate.latest_version()
    problems = []
    for path in sys.argv[1:]:
        for document in yaml.safe_load_all(Path(path).read_text()):
            if document and document.get("kind") == "RayCluster":
                problems += [f"{path}: {problem}" for problem in check(document, version)]
    print("\n".join(problems) or f"RayCluster pod templates valid against Kubernetes {version}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
