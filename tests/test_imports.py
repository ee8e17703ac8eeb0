"""The project's modules import one another without a circle, and `datn_tf.errors` sits on the
ground floor: every import statement counts, also one inside a function."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("datn_tf", "experiments")


def project_modules():
    """{module name: path} of the packages' modules, tests left out."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if path.name.endswith("_test.py"):
                continue
            parts = path.relative_to(REPO).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imports(modules):
    """{module: {imported project module: line}} from every import statement of each module."""
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = graph.setdefault(name, {})
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for target in targets:
                # `import a.b` runs a/__init__.py too; a package importing its own module is no circle.
                if target in modules and target != name and not target.startswith(name + "."):
                    found.setdefault(target, node.lineno)
    return graph


def cycles(graph):
    """The import circles of `graph`, each as a list of modules (Tarjan's strongly connected components)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_itself_through_others():
    graph = imports(project_modules())
    assert len(graph) > 50
    circles = cycles(graph)
    assert circles == [], "\n".join(
        "; ".join(f"{a} -> {b} (line {graph[a][b]})" for a in circle for b in circle if b in graph[a])
        for circle in circles)


def test_the_errors_are_on_the_ground_floor():
    assert imports(project_modules())["datn_tf.errors"] == {}


def test_a_circle_is_found():
    assert cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c"]]


def test_the_module_map_lists_every_module_below_what_it_imports():
    """datn_tf/README.md's table, top to bottom, is the order of the layers: a module imports only
    modules above it (lazy imports too), so that none runs up the layers."""
    modules = project_modules()
    table = (REPO / "datn_tf" / "README.md").read_text(encoding="utf-8").split("## Every module", 1)[1]
    listed = [cell.strip("`") for cell in (line.split(" | ")[0].removeprefix("| ") for line in table.splitlines()
                                          if line.startswith("| `"))]
    paths = {str(path.relative_to(REPO)): name for name, path in modules.items()}
    assert sorted(p for p in listed if p.endswith(".py")) == sorted(paths), "one row per module"
    order = {paths[p]: i for i, p in enumerate(listed) if p in paths}
    upward = [f"{a} -> {b} (line {line})" for a, targets in imports(modules).items() for b, line in targets.items()
              if order[b] > order[a]]
    assert upward == []
