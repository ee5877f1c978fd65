"""The documentation keeps up with the code.

- docs/configuration.md's table lists every environment variable that chatbridge/settings.py
  reads, with its type and default, and no variable that it does not read. The reads are found
  in the module's syntax tree, not by pattern matching its text.
- The documentation names no CHATBRIDGE_* or CONNECT_* setting that does not exist.
- Every relative link in README.md, docs/*.md and connect_emulator/README.md points at a file
  that exists (and, for a Markdown file, at a heading that exists); every file, module and
  `manage.py` command the documentation names exists.

Each check is a function of the text it reads, so the tests at the bottom can show it failing
on a broken copy: a check that cannot fail proves nothing.
"""

import ast
import operator
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "chatbridge" / "settings.py"
CONFIGURATION = ROOT / "docs" / "configuration.md"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINKED_DOCS = [*DOCS, ROOT / "connect_emulator" / "README.md"]

# settings.py's readers, and the type each one gives its variable in the table.
READERS = {
    "env_str": "text",
    "env_bool": "boolean",
    "env_int": "integer",
    "env_float": "number",
    "env_list": "list",
}
NO_DEFAULT = object()
ARITHMETIC = {ast.Add: operator.add, ast.Mult: operator.mul, ast.Pow: operator.pow}


@pytest.fixture(scope="session", autouse=True)
def _point_settings_at_services():
    """These tests read files only: no Redis and no emulator to start (overrides conftest's)."""
    yield


# What settings.py reads.


@dataclass(frozen=True)
class EnvRead:
    name: str
    type: str
    default: object  # NO_DEFAULT when it is not a constant (computed at import)
    line: int


def env_reads(source: str) -> dict[str, EnvRead]:
    """Every environment variable the module reads: through its env_* readers, os.environ
    (.get, [...]) or os.getenv. A name that is not a string literal is refused: it could be
    anything."""
    tree = ast.parse(source)
    inside_readers = {
        id(node)
        for definition in tree.body
        if isinstance(definition, ast.FunctionDef) and definition.name in READERS
        for node in ast.walk(definition)
    }
    reads: dict[str, EnvRead] = {}
    for node in ast.walk(tree):
        if id(node) in inside_readers:
            continue
        found = _env_read(node)
        if found is None:
            continue
        name_node, type_, default = found
        if not (isinstance(name_node, ast.Constant) and isinstance(name_node.value, str)):
            raise ValueError(f"line {node.lineno}: an environment variable read by a computed name")
        reads[name_node.value] = EnvRead(name_node.value, type_, default, node.lineno)
    return reads


def _env_read(node: ast.AST) -> tuple[ast.expr | None, str, object] | None:
    """(the name's node, the type, the default) if `node` reads the environment."""
    if isinstance(node, ast.Subscript) and _is_os_environ(node.value):
        return node.slice, "text", NO_DEFAULT
    if (
        isinstance(node, ast.Compare)
        and isinstance(node.ops[0], ast.In | ast.NotIn)
        and _is_os_environ(node.comparators[0])
    ):
        return node.left, "text", NO_DEFAULT
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name_node = node.args[0] if node.args else _keyword(node, "name")
    if isinstance(func, ast.Name) and func.id in READERS:
        default_node = node.args[1] if len(node.args) > 1 else _keyword(node, "default")
        # Without one, env_str's and env_list's own default: the empty string.
        default = "" if default_node is None else _constant(default_node)
        return name_node, READERS[func.id], default
    is_environ_get = (
        isinstance(func, ast.Attribute)
        and func.attr in {"get", "setdefault", "pop"}
        and _is_os_environ(func.value)
    )
    is_getenv = (
        isinstance(func, ast.Attribute)
        and func.attr == "getenv"
        and isinstance(func.value, ast.Name)
        and func.value.id == "os"
    )
    if is_environ_get or is_getenv:
        return (node.args[0] if node.args else _keyword(node, "key")), "text", NO_DEFAULT
    return None


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    ) or (isinstance(node, ast.Name) and node.id == "environ")


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _constant(node: ast.expr) -> object:
    """The value of a literal or of arithmetic on literals (30 * 24 * 3600), else NO_DEFAULT."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC:
        left, right = _constant(node.left), _constant(node.right)
        if isinstance(left, int | float) and isinstance(right, int | float):
            return ARITHMETIC[type(node.op)](left, right)
    return NO_DEFAULT


def written_default(value: object) -> str:
    """A default as the table writes it: booleans as 1 and 0, whole floats without ".0"."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# What docs/configuration.md documents.


@dataclass(frozen=True)
class Row:
    name: str
    type: str
    default: str
    meaning: str


def configuration_table(markdown: str) -> dict[str, Row]:
    """The one table of variables: rows of `NAME` | type | default | meaning, and group
    headings in bold. Any other row is an error, so nothing hides from the checks."""
    lines = markdown.splitlines()
    starts = [i for i, line in enumerate(lines) if re.match(r"\|\s*Variable\s*\|", line)]
    if len(starts) != 1:
        raise ValueError(f"expected one table headed 'Variable', found {len(starts)}")
    rows: dict[str, Row] = {}
    for line in lines[starts[0] + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) != 4:
            raise ValueError(f"a row without four cells: {line}")
        first = cells[0]
        if re.fullmatch(r"\*\*[^*]+\*\*", first) and not any(cells[1:]):
            continue
        match = re.fullmatch(r"`([A-Z][A-Z0-9_]*)`", first)
        if match is None:
            raise ValueError(f"a row that names no single variable: {line}")
        name = match.group(1)
        if name in rows:
            raise ValueError(f"{name} has two rows")
        rows[name] = Row(name, cells[1], cells[2], cells[3])
    return rows


def undocumented(reads: dict[str, EnvRead], rows: dict[str, Row]) -> list[str]:
    return sorted(set(reads) - set(rows))


def not_read(reads: dict[str, EnvRead], rows: dict[str, Row]) -> list[str]:
    return sorted(set(rows) - set(reads))


def wrong_types(reads: dict[str, EnvRead], rows: dict[str, Row]) -> list[str]:
    return sorted(
        f"{name}: read as {read.type}, documented as {rows[name].type}"
        for name, read in reads.items()
        if name in rows and rows[name].type != read.type
    )


def wrong_defaults(reads: dict[str, EnvRead], rows: dict[str, Row]) -> list[str]:
    """Constant defaults must be the first `code` of the default cell; an empty default must
    be written "unset". Computed defaults (a path, a development key) are described freely."""
    wrong = []
    for name, read in reads.items():
        if name not in rows or read.default is NO_DEFAULT:
            continue
        cell = rows[name].default
        if read.default == "":
            if not cell.startswith("unset"):
                wrong.append(f"{name}: unset by default, documented as {cell!r}")
            continue
        shown = re.match(r"`([^`]*)`", cell)
        expected = written_default(read.default)
        if shown is None or shown.group(1) != expected:
            wrong.append(f"{name}: default {expected!r}, documented as {cell!r}")
    return sorted(wrong)


# Names of settings in prose, and links.

SETTING_NAME = re.compile(r"\b(?:CHATBRIDGE|CONNECT)(?:_[A-Z0-9]+)+\b(?![_*])")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def unknown_setting_names(markdown: str, reads: dict[str, EnvRead]) -> list[str]:
    return sorted({name for name in SETTING_NAME.findall(markdown) if name not in reads})


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces
    as hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(FENCE.sub("", markdown)):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def broken_links(page: Path, markdown: str) -> list[str]:
    """Relative links (and images) whose file, or heading in a Markdown file, is missing.
    Links in code are not links."""
    text = INLINE_CODE.sub("", FENCE.sub("", markdown))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("//"):
            continue  # https:, mailto: and the like
        path_part, _, fragment = target.partition("#")
        path = (page.parent / path_part).resolve() if path_part else page
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif fragment and path.suffix == ".md" and fragment not in anchors(path.read_text()):
            broken.append(f"{target}: no such heading")
    return broken


CODE_PATH = re.compile(
    r"`((?:chatbridge|webwidget|connect_emulator|bench|tests|static|templates|docs)/[^`\s]*)`"
)
CODE_MODULE = re.compile(r"`((?:chatbridge|webwidget|connect_emulator|bench)(?:\.[a-z_0-9]+)+)`")
COMMAND = re.compile(r"manage\.py ([a-z_]+)")


def generated_dirs() -> set[str]:
    """Folders that the code writes and git ignores (bench results): named, not shipped."""
    lines = (ROOT / ".gitignore").read_text().splitlines()
    return {line.strip("/") for line in lines if line.startswith("/") and line.endswith("/")}


def missing_names(markdown: str, commands: set[str]) -> list[str]:
    """Files (`chatbridge/redis.py`), modules (`chatbridge.connect`) and management commands
    (manage.py relay) named in a page that do not exist."""
    missing = []
    for path in CODE_PATH.findall(markdown):
        generated = any(path.startswith(folder + "/") for folder in generated_dirs())
        if not (ROOT / path).exists() and not generated:
            missing.append(path)
    for module in CODE_MODULE.findall(markdown):
        base = ROOT.joinpath(*module.split("."))
        if not (base.is_dir() or base.with_suffix(".py").exists()):
            missing.append(module)
    missing += [f"manage.py {name}" for name in COMMAND.findall(markdown) if name not in commands]
    return sorted(set(missing))


# The checks, on the real files.


def settings_reads() -> dict[str, EnvRead]:
    return env_reads(SETTINGS.read_text())


def documented_rows() -> dict[str, Row]:
    return configuration_table(CONFIGURATION.read_text())


def test_settings_reads_variables_through_its_readers():
    reads = settings_reads()
    assert len(reads) > 50
    assert reads["REDIS_URL"].type == "text"
    assert reads["CHATBRIDGE_LEASE_TTL"].type == "number"


def test_every_variable_that_settings_reads_is_documented():
    assert undocumented(settings_reads(), documented_rows()) == []


def test_the_table_documents_no_variable_that_settings_does_not_read():
    assert not_read(settings_reads(), documented_rows()) == []


def test_the_table_gives_each_variable_its_type_and_default():
    reads, rows = settings_reads(), documented_rows()
    assert wrong_types(reads, rows) == []
    assert wrong_defaults(reads, rows) == []


@pytest.mark.parametrize("page", DOCS, ids=lambda page: str(page.relative_to(ROOT)))
def test_the_docs_name_only_settings_that_exist(page):
    assert unknown_setting_names(page.read_text(), settings_reads()) == []


@pytest.mark.parametrize("page", LINKED_DOCS, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_point_at_files_that_exist(page):
    assert broken_links(page, page.read_text()) == []


@pytest.mark.parametrize("page", LINKED_DOCS, ids=lambda page: str(page.relative_to(ROOT)))
def test_the_docs_name_only_files_modules_and_commands_that_exist(page):
    assert missing_names(page.read_text(), set(get_commands())) == []


# The checks fail where they should: each one on a broken copy of the real files. Each
# compares with the same check on the unbroken files, so that it proves the check sees the
# break whatever state the real files are in.


def added(check, broken, unbroken) -> list:
    return sorted(set(check(*broken)) - set(check(*unbroken)))


def test_a_setting_read_without_a_row_is_caught():
    source, rows = SETTINGS.read_text(), documented_rows()
    for read in (
        'X = env_int("CHATBRIDGE_NOT_DOCUMENTED", 3)',
        'X = os.environ.get("CHATBRIDGE_NOT_DOCUMENTED")',
        'X = os.environ["CHATBRIDGE_NOT_DOCUMENTED"]',
        'X = os.getenv("CHATBRIDGE_NOT_DOCUMENTED", "")',
        'X = env_bool(name="CHATBRIDGE_NOT_DOCUMENTED", default=False)',
        'X = "CHATBRIDGE_NOT_DOCUMENTED" in os.environ',
    ):
        broken = env_reads(source + "\n" + read + "\n")
        unbroken = env_reads(source)
        assert added(undocumented, (broken, rows), (unbroken, rows)) == [
            "CHATBRIDGE_NOT_DOCUMENTED"
        ], read


def test_a_read_by_a_computed_name_is_refused():
    with pytest.raises(ValueError, match="computed name"):
        env_reads(SETTINGS.read_text() + '\nX = env_str("CHATBRIDGE_" + "SOMETHING")\n')


def test_a_removed_row_is_caught():
    markdown, reads = CONFIGURATION.read_text(), settings_reads()
    row = next(line for line in markdown.splitlines() if line.startswith("| `REDIS_URL` |"))
    broken = configuration_table(markdown.replace(row + "\n", ""))
    unbroken = configuration_table(markdown)
    assert added(undocumented, (reads, broken), (reads, unbroken)) == ["REDIS_URL"]


def test_a_row_for_a_variable_nobody_reads_is_caught():
    markdown, reads = CONFIGURATION.read_text(), settings_reads()
    broken = configuration_table(
        markdown.replace(
            "| `REDIS_URL` |", "| `CHATBRIDGE_GONE` | text | unset | gone |\n| `REDIS_URL` |"
        )
    )
    unbroken = configuration_table(markdown)
    assert added(not_read, (reads, broken), (reads, unbroken)) == ["CHATBRIDGE_GONE"]


def test_a_changed_default_or_type_is_caught():
    source, rows = SETTINGS.read_text(), documented_rows()
    broken = env_reads(
        source.replace(
            'env_float("CHATBRIDGE_LEASE_TTL", 15.0)', 'env_int("CHATBRIDGE_LEASE_TTL", 20)'
        )
    )
    unbroken = env_reads(source)
    documented = rows["CHATBRIDGE_LEASE_TTL"].default
    assert added(wrong_defaults, (broken, rows), (unbroken, rows)) == [
        f"CHATBRIDGE_LEASE_TTL: default '20', documented as {documented!r}"
    ]
    assert added(wrong_types, (broken, rows), (unbroken, rows)) == [
        "CHATBRIDGE_LEASE_TTL: read as integer, documented as number"
    ]


def test_a_row_that_names_no_variable_is_refused():
    markdown = CONFIGURATION.read_text().replace("| `REDIS_URL` |", "| REDIS_URL |")
    with pytest.raises(ValueError, match="names no single variable"):
        configuration_table(markdown)


def test_a_setting_name_that_does_not_exist_is_caught():
    text = "Set `CHATBRIDGE_REDIS_PREFIXX` or CONNECT_THREADS; CHATBRIDGE_RUN_* are patterns."
    assert unknown_setting_names(text, settings_reads()) == ["CHATBRIDGE_REDIS_PREFIXX"]


def test_broken_links_are_caught_and_code_is_not_a_link():
    page = ROOT / "README.md"
    markdown = (
        "[fine](docs/rest-api.md) [gone](docs/nothing-here.md) ![gone](docs/images/none.png)\n"
        "[heading](docs/rest-api.md#errors) [no heading](docs/rest-api.md#no-such-heading)\n"
        "[web](https://example.com/x.md) `[code](nowhere.md)`\n"
        "```\n[fenced](nowhere.md)\n```\n"
    )
    assert broken_links(page, markdown) == [
        "docs/nothing-here.md: no such file",
        "docs/images/none.png: no such file",
        "docs/rest-api.md#no-such-heading: no such heading",
    ]


def test_names_of_moved_files_modules_and_commands_are_caught():
    markdown = (
        "`chatbridge/consumer.py` `chatbridge.upstream` `chatbridge/realtime/relay.py` "
        "`chatbridge.realtime` `bench/results/latest.json` manage.py relay, manage.py archive"
    )
    assert missing_names(markdown, set(get_commands())) == [
        "chatbridge.upstream",
        "chatbridge/consumer.py",
        "manage.py archive",
    ]
