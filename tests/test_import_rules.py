"""bot/ is the framework: it imports no feature package (handlers/, menus/, workers/, h5/) except in
its two registries, the router table and the command table, and no module imports back into a
cycle. Every import statement counts, the ones inside functions too (DESIGN.md)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ("handlers", "menus", "workers", "h5")
REGISTRIES = {"bot/routes.py", "bot/commands/table.py"}


def imported_modules(path: Path):
    """(line, dotted name) of every absolute import in the file, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def test_bot_imports_no_feature_package_outside_its_registries():
    offences = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in REGISTRIES:
            continue
        for line, name in imported_modules(path):
            if name.split(".")[0] in FEATURES:
                offences.append(f"{rel}:{line} imports {name}")
    assert offences == []


def test_the_registries_exist_where_the_rule_names_them():
    for rel in REGISTRIES:
        assert (ROOT / rel).is_file(), rel


def test_no_import_cycle_between_first_party_modules():
    packages = ("bot", "handlers", "menus", "workers", "h5", "models")
    modules = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in packages:
            name = ".".join(rel.with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path

    def owner(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules
                           else node.module for alias in node.names]
            else:
                continue
            graph[name].update(t for t in map(owner, targets) if t and t != name)

    cycles, state = [], {}

    def visit(name, trail):
        state[name] = "open"
        for nxt in sorted(graph[name]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_app_imports_no_test_only_package():
    """fakeredis and the test tools are in requirements-dev.txt only: production installs
    requirements.txt, so no module the app runs may import them."""
    test_only = {"fakeredis", "pytest", "hypothesis", "playwright"}
    offences = []
    for package in ("bot", "handlers", "menus", "workers", "h5", "models"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, name in imported_modules(path):
                if name.split(".")[0] in test_only:
                    offences.append(f"{path.relative_to(ROOT).as_posix()}:{line} imports {name}")
    offences += [f"wsgi.py:{line} imports {name}" for line, name in imported_modules(ROOT / "wsgi.py")
                 if name.split(".")[0] in test_only]
    assert offences == []
    runtime = (ROOT / "requirements.txt").read_text(encoding="utf-8").lower()
    assert not any(line.split("[")[0].split("=")[0].strip() in test_only
                   for line in runtime.splitlines() if line and not line.startswith("#"))
