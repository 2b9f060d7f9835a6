"""The package's layers point one way: a module imports (at run time) only
modules of its own layer or below. Imports under ``if TYPE_CHECKING:`` are
for annotations only and do not count; imports inside functions do (they
run), so a higher layer reached lazily must still be a higher layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "sqs_workers"

# Lowest first. A module not listed fails the test: place new ones on purpose.
LAYERS: list[tuple[str, ...]] = [
    # 0: leaves — vocabulary every layer shares
    (
        "outcomes",
        "exceptions",
        "codecs",
        "context",
        "backoff_policies",
        "batching",
        "shutdown_policies",
        "utils",
        "config",
        "middleware",
        "sqs.limits",
        "sqs.message",
        "sqs.retrying",
    ),
    # 1: talking to SQS, and the in-memory SQS
    # (and long delays, large payloads: SQS and S3 calls, no user code)
    (
        "sqs",
        "sqs.sending",
        "sqs.receiving",
        "sqs.acking",
        "sqs.resource",
        "memory",
        "delays",
        "payloads",
    ),
    # 2: running user code
    (
        "core",
        "running",
        "time_limits",
        "processors",
        "signing",
        "logging_json",
        "metrics",
        "cost",
    ),
    # 3: the engine — knows queues only through worker.protocol
    ("worker",),
    # 4: the user-facing objects
    ("async_task", "queue", "deadletter_queue"),
    # 5: the entry points
    ("sqs_env", "sqs_manage", "memory_sqs", "__init__", "__main__", "cli", "testing"),
]


def layer_of(module: str) -> int:
    """The layer of a dotted module name relative to the package."""
    best = None
    for index, members in enumerate(LAYERS):
        for member in members:
            matches = module == member or module.startswith(member + ".")
            if matches and (best is None or len(member) > best[1]):
                best = (index, len(member))
    if best is None:
        raise AssertionError(f"sqs_workers.{module} has no layer in LAYERS")
    return best[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def runtime_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, sqs_workers.* module) of every import outside TYPE_CHECKING."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "sqs_workers":
                found.extend((node.lineno, a.name) for a in node.names)
            elif node.module.startswith("sqs_workers."):
                found.append((node.lineno, node.module[len("sqs_workers.") :]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sqs_workers."):
                    found.append((node.lineno, alias.name[len("sqs_workers.") :]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p) or "root")
def test_imports_point_down(path: Path) -> None:
    name = module_name(path)
    own = layer_of(name)
    tree = ast.parse(path.read_text(), str(path))
    upward = [
        f"line {line}: imports sqs_workers.{target} (layer {layer_of(target)})"
        for line, target in runtime_imports(tree)
        if layer_of(target) > own
    ]
    assert not upward, f"sqs_workers.{name} (layer {own}) " + "; ".join(upward)


def test_the_worker_never_imports_queues_or_processors() -> None:
    for path in (PACKAGE / "worker").glob("*.py"):
        targets = {t for _, t in runtime_imports(ast.parse(path.read_text()))}
        assert not targets & {"queue", "processors", "sqs_env"}, path.name
