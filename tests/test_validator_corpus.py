"""The validator's checks on a corpus of good and bad snippets.

Each case names the exact (rule, line) findings it must produce, every severity included:
a missing finding, a duplicate (ruff and the own check both reporting one problem) or a
false positive on good code all fail the case.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import pytest

from agents.checks import Issue, Report, check, score, validate
from agents.checks import ruff as ruff_check
from agents.kit import WorkOrder
from agents.validator import dialect_in, files_in, summary

# Secret-looking values are built from parts so that this file itself holds no literal key.
AWS_KEY = "AKIA" + "IOSFODNN7" + "EXAMPLE"
STRIPE_KEY = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
DB_PASSWORD = "Tr0ub4dor" + "&3-prod"
PRIVATE_KEY = "-----BEGIN RSA " + "PRIVATE KEY-----"


@dataclass(frozen=True)
class Case:
    name: str
    file: str
    text: str
    expected: tuple[tuple[str, int], ...] = ()
    dialect: str = "postgres"


BAD = [
    # Python: syntax, pyflakes
    Case("python-syntax-error", "a.py", "def f(:\n    pass\n", (("python/syntax", 1),)),
    Case(
        "undefined-name",
        "a.py",
        "def total(items):\n    return sum(item.price for item in itemz)\n",
        (("F821", 2),),
    ),
    Case(
        "unused-import-is-a-warning",
        "a.py",
        "import os\n\n\ndef one():\n    return 1\n",
        (("F401", 1),),
    ),
    # Python: string-built SQL
    Case(
        "sql-f-string",
        "a.py",
        "def find(cur, name):\n    cur.execute(f\"SELECT * FROM users WHERE name = '{name}'\")\n",
        (("security/sql-injection", 2),),
    ),
    Case(
        "sql-percent-then-executed",
        "a.py",
        "def find(cur, uid):\n"
        '    query = "SELECT * FROM users WHERE id = %s" % uid\n'
        "    cur.execute(query)\n",
        (("security/sql-injection", 2),),
    ),
    Case(
        "sql-concatenation",
        "a.py",
        'def drop(cur, uid):\n    cur.execute("DELETE FROM users WHERE id = " + uid)\n',
        (("security/sql-injection", 2),),
    ),
    Case(
        "sql-format",
        "a.py",
        "def rename(cur, name, rows):\n"
        "    cur.executemany(\"UPDATE users SET name = '{}'\".format(name), rows)\n",
        (("security/sql-injection", 2),),
    ),
    # Python: code and shell execution
    Case(
        "eval",
        "a.py",
        "def run(expr):\n    return eval(expr)\n",
        (("security/eval", 2),),
    ),
    Case("exec", "a.py", "def run(code):\n    exec(code)\n", (("security/eval", 2),)),
    Case(
        "subprocess-shell-true",
        "a.py",
        "import subprocess\n\n\ndef run(cmd):\n"
        "    return subprocess.run(cmd, shell=True, check=True)\n",
        (("security/shell-injection", 5),),
    ),
    Case(
        "os-system",
        "a.py",
        'import os\n\n\ndef wipe(path):\n    os.system("rm -rf " + path)\n',
        (("security/shell-injection", 5),),
    ),
    # Python: weak hashes, unsafe deserialization
    Case(
        "md5",
        "a.py",
        "import hashlib\n\n\ndef digest(data):\n    return hashlib.md5(data).hexdigest()\n",
        (("security/weak-hash", 5),),
    ),
    Case(
        "sha1-imported-by-name",
        "a.py",
        "from hashlib import sha1\n\n\ndef digest(data):\n    return sha1(data).hexdigest()\n",
        (("security/weak-hash", 5),),
    ),
    Case(
        "hashlib-new-md5",
        "a.py",
        'import hashlib\n\n\ndef digest(data):\n    return hashlib.new("md5", data)\n',
        (("security/weak-hash", 5),),
    ),
    Case(
        "pickle-loads",
        "a.py",
        "import pickle\n\n\ndef restore(blob):\n    return pickle.loads(blob)\n",
        (("security/pickle", 5),),
    ),
    Case(
        "yaml-load",
        "a.py",
        "import yaml\n\n\ndef read(text):\n    return yaml.load(text)\n",
        (("security/yaml-load", 5),),
    ),
    # SQL
    Case(
        "sql-parse-error",
        "s.sql",
        "CREATE TABLE t (\n  id INT PRIMARY KEY,\n  name TEXT NOT NULL,\n",
        (("sql/syntax", 3),),
    ),
    Case(
        "sql-no-primary-key",
        "s.sql",
        "CREATE TABLE events (\n  kind TEXT NOT NULL,\n  at TIMESTAMPTZ NOT NULL\n);\n",
        (("sql/no-primary-key", 1),),
    ),
    Case(
        "sql-unindexed-column-fk",
        "s.sql",
        "CREATE TABLE users (id BIGSERIAL PRIMARY KEY);\n"
        "CREATE TABLE orders (\n"
        "  id BIGSERIAL PRIMARY KEY,\n"
        "  user_id BIGINT NOT NULL REFERENCES users(id)\n"
        ");\n",
        (("sql/unindexed-foreign-key", 4),),
    ),
    Case(
        "sql-unindexed-table-fk-behind-pk",
        "s.sql",
        "CREATE TABLE line_items (\n"
        "  order_id BIGINT NOT NULL,\n"
        "  product_id BIGINT NOT NULL,\n"
        "  quantity INT NOT NULL,\n"
        "  PRIMARY KEY (order_id, product_id),\n"
        "  FOREIGN KEY (order_id) REFERENCES orders(id),\n"
        "  FOREIGN KEY (product_id) REFERENCES products(id)\n"
        ");\n",
        (("sql/unindexed-foreign-key", 7),),
    ),
    Case(
        "sql-money-as-float",
        "s.sql",
        "CREATE TABLE products (\n  id SERIAL PRIMARY KEY,\n  price FLOAT NOT NULL\n);\n",
        (("sql/money-as-float", 3),),
    ),
    Case(
        "sql-money-as-double-precision",
        "s.sql",
        "CREATE TABLE invoices (\n"
        "  id SERIAL PRIMARY KEY,\n"
        "  customer TEXT NOT NULL,\n"
        "  totalAmount DOUBLE PRECISION\n"
        ");\n",
        (("sql/money-as-float", 4),),
    ),
    # JSON and YAML
    Case("json-trailing-comma", "c.json", '{\n  "a": 1,\n}\n', (("json/syntax", 3),)),
    Case(
        "yaml-bad-indent",
        "c.yaml",
        "server:\n  port: 8080\n   host: example.org\n",
        (("yaml/syntax", 3),),
    ),
    # Secrets
    Case(
        "aws-key-in-python",
        "a.py",
        f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\n',
        (("secrets/hardcoded", 1),),
    ),
    Case(
        "private-key-in-python",
        "a.py",
        f'KEY = """{PRIVATE_KEY}\nMIIBOgIBAAJBAKj34\n-----END RSA PRIVATE KEY-----"""\n',
        (("secrets/hardcoded", 1),),
    ),
    Case(
        "password-assignment",
        "a.py",
        f'DB_PASSWORD = "{DB_PASSWORD}"\n',
        (("secrets/hardcoded", 1),),
    ),
    Case(
        "password-keyword-argument",
        "a.py",
        "import psycopg\n\n\ndef connect():\n"
        f'    return psycopg.connect(host="db", password="{DB_PASSWORD}")\n',
        (("secrets/hardcoded", 5),),
    ),
    Case(
        "secret-in-yaml",
        "config.yaml",
        f"database:\n  user: app\n  password: {DB_PASSWORD}\n",
        (("secrets/hardcoded", 3),),
    ),
    Case(
        "stripe-key-in-json",
        "config.json",
        f'{{\n  "name": "shop",\n  "stripe_api_key": "{STRIPE_KEY}"\n}}\n',
        (("secrets/hardcoded", 3),),
    ),
    Case(
        "secret-in-plain-text",
        "notes.txt",
        f"Deploy notes\nset API_KEY={DB_PASSWORD} on the server\n",
        (("secrets/hardcoded", 2),),
    ),
    # A hash and a key look alike: a high-entropy literal alone is a warning.
    Case(
        "high-entropy-literal",
        "a.py",
        'EMPTY_DIGEST = "d41d8cd98f00b204e9800998ecf8427e"\n',
        (("secrets/high-entropy", 1),),
    ),
    # Decision: a placeholder is no leak, but still has to be replaced: info, not error.
    Case(
        "placeholder-password",
        "a.py",
        'PASSWORD = "changeme"\n',
        (("secrets/placeholder", 1),),
    ),
]

GOOD = [
    Case(
        "parameterized-query",
        "a.py",
        'def find(cur, uid):\n    cur.execute("SELECT * FROM users WHERE id = %s", (uid,))\n',
    ),
    Case(
        "constant-sql-concatenation",
        "a.py",
        'def count(cur):\n    cur.execute("SELECT count(*) " + "FROM users")\n',
    ),
    Case(
        "typed-service",
        "src/users/service.py",
        '"""Users."""\n\nfrom dataclasses import dataclass\n\n\n@dataclass\nclass User:\n'
        "    id: int\n    email: str\n\n\n"
        "def find(users: list[User], email: str) -> User | None:\n"
        '    """The user with that email, if any."""\n'
        "    return next((u for u in users if u.email == email), None)\n",
    ),
    Case(
        "safe-yaml-and-strong-hash",
        "a.py",
        "import hashlib\n\nimport yaml\n\n\ndef read(text: str, data: bytes):\n"
        "    checksum = hashlib.md5(data, usedforsecurity=False).hexdigest()\n"
        "    loaded = yaml.load(text, Loader=yaml.SafeLoader)\n"
        "    return yaml.safe_load(text), loaded, hashlib.sha256(data).hexdigest(), checksum\n",
    ),
    Case(
        "eval-methods-are-not-eval",
        "a.py",
        "import ast\n\n\ndef run(model, text):\n"
        "    model.eval()\n    return ast.literal_eval(text)\n",
    ),
    Case(
        "subprocess-argument-list",
        "a.py",
        "import subprocess\nimport sys\n\n\ndef run(path):\n"
        '    return subprocess.run([sys.executable, "-m", "json.tool", path], check=True)\n',
        # Ruff notes any subprocess call; as info it costs points but never fails.
        (("S603", 6),),
    ),
    Case(
        "password-from-environment",
        "a.py",
        'import os\n\nDB_PASSWORD = os.environ["DB_PASSWORD"]\n'
        'API_KEY = os.getenv("API_KEY", "")\n',
    ),
    Case(
        "token-names-that-are-not-credentials",
        "a.py",
        'eos_token = "</s>"\nmax_tokens = 512\ntoken_type = "bearer"\n'
        'password_label = "Password"\n',
    ),
    Case(
        "sql-indexed-foreign-key",
        "s.sql",
        "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE);\n"
        "CREATE TABLE orders (\n"
        "  id BIGSERIAL PRIMARY KEY,\n"
        "  user_id BIGINT NOT NULL REFERENCES users(id),\n"
        "  total NUMERIC(12, 2) NOT NULL,\n"
        "  weight_kg REAL,\n"
        "  tax_rate DOUBLE PRECISION\n"
        ");\n"
        "CREATE INDEX orders_user_id_idx ON orders (user_id);\n",
    ),
    Case(
        "sql-fk-covered-by-unique",
        "s.sql",
        "CREATE TABLE users (id BIGSERIAL PRIMARY KEY);\n"
        "CREATE TABLE profiles (\n"
        "  id BIGSERIAL PRIMARY KEY,\n"
        "  user_id BIGINT NOT NULL UNIQUE REFERENCES users(id)\n"
        ");\n",
    ),
    Case(
        "sql-queries",
        "q.sql",
        "SELECT id, email FROM users WHERE id = $1;\n"
        "DELETE FROM sessions WHERE expires_at < now();\n",
    ),
    Case(
        "mysql-dialect",
        "m.sql",
        "CREATE TABLE `items` (\n  `id` INT AUTO_INCREMENT PRIMARY KEY,\n"
        "  `price` DECIMAL(10, 2) NOT NULL\n) ENGINE=InnoDB;\n",
        dialect="mysql",
    ),
    Case("json-config", "c.json", '{\n  "name": "shop",\n  "port": 8080,\n  "debug": false\n}\n'),
    Case(
        "yaml-config-with-references",
        "c.yaml",
        "database:\n  host: db\n  password: ${DB_PASSWORD}\n  token: '{{ vault_token }}'\n",
    ),
]


def found(issues: list[Issue]) -> set[tuple[str, int]]:
    return {(i.rule, i.line or 0) for i in issues}


@pytest.mark.parametrize("case", BAD + GOOD, ids=lambda case: case.name)
def test_corpus_case_finds_exactly_its_rules(case: Case) -> None:
    issues = validate([(case.file, case.text)], case.dialect).issues
    assert found(issues) == set(case.expected)
    assert len(issues) == len(case.expected), "one finding per problem, no duplicates"


@pytest.mark.parametrize("case", GOOD, ids=lambda case: case.name)
def test_good_code_passes(case: Case) -> None:
    report = validate([(case.file, case.text)], case.dialect)
    assert report.passed and report.to_dict()["valid"] is True


def test_the_corpus_is_big_enough_and_covers_every_rule() -> None:
    assert len(BAD) + len(GOOD) >= 36 and len(GOOD) >= 12
    rules = {rule for case in BAD for rule, _ in case.expected}
    assert {
        "python/syntax",
        "F821",
        "security/sql-injection",
        "security/eval",
        "security/shell-injection",
        "security/weak-hash",
        "security/pickle",
        "security/yaml-load",
        "sql/syntax",
        "sql/no-primary-key",
        "sql/unindexed-foreign-key",
        "sql/money-as-float",
        "json/syntax",
        "yaml/syntax",
        "secrets/hardcoded",
        "secrets/placeholder",
    } <= rules


def test_ruff_duplicates_fold_into_the_own_rule_with_a_reference() -> None:
    issues = validate([("a.py", "def run(expr):\n    return eval(expr)\n")]).issues
    assert [(i.rule, i.ref) for i in issues] == [("security/eval", "ruff:S307")]


def test_shell_with_a_fixed_command_is_only_a_warning() -> None:
    text = 'import os\n\n\ndef listing():\n    return os.popen("ls -l").read()\n'
    issues = [i for i in validate([("a.py", text)]).issues if i.rule == "security/shell-injection"]
    assert [(i.line, i.severity) for i in issues] == [(5, "warning")]


def test_severities_of_the_bad_cases() -> None:
    severity = {
        case.name: {i.severity for i in validate([(case.file, case.text)], case.dialect).issues}
        for case in BAD
    }
    assert severity["unused-import-is-a-warning"] == {"warning"}
    assert severity["pickle-loads"] == {"warning"}
    assert severity["sql-no-primary-key"] == {"warning"}
    assert severity["sql-unindexed-column-fk"] == {"warning"}
    assert severity["placeholder-password"] == {"info"}
    for name in ("eval", "sql-f-string", "md5", "sql-money-as-float", "aws-key-in-python"):
        assert severity[name] == {"error"}, name


# Score, passed, valid


def test_score_formula() -> None:
    def issue(severity: str) -> Issue:
        return Issue("a.py", 1, 1, severity, "r", "m")  # type: ignore[arg-type]

    assert score([]) == 100
    assert score([issue("error")]) == 75
    assert score([issue("warning"), issue("info")]) == 90
    assert score([issue("error")] * 5) == 0


def test_report_document_keeps_old_keys_and_adds_score_passed_issues() -> None:
    files = [
        ("ok.py", "def f() -> int:\n    return 1\n"),
        ("warn.sql", "CREATE TABLE t (a INT);\n"),
        ("bad.py", "def run(expr):\n    return eval(expr)\n"),
    ]
    document = validate(files).to_dict()
    assert document["checked"] == 3 and document["invalid"] == 1
    assert document["valid"] is False and document["passed"] is False
    assert document["score"] == 100 - 25 - 8
    assert [f["valid"] for f in document["files"]] == [True, True, False]
    assert document["files"][2]["errors"][0]["line"] == 2
    assert [(i["file"], i["line"], i["severity"], i["rule"]) for i in document["issues"]] == [
        ("bad.py", 2, "error", "security/eval"),
        ("warn.sql", 1, "warning", "sql/no-primary-key"),
    ]
    assert set(document["issues"][0]) == {
        "file",
        "line",
        "column",
        "severity",
        "rule",
        "message",
        "ref",
    }


def test_warnings_alone_keep_the_report_valid() -> None:
    report = validate([("warn.sql", "CREATE TABLE t (a INT);\n"), ("u.py", "import os\n")])
    assert report.passed and report.to_dict()["valid"] is True
    assert report.score == 100 - 8 - 8


def test_check_keeps_its_old_shape() -> None:
    report = check("a.py", "def ok():\n    return 1\n\ndef broken(:\n    pass\n")
    assert not report.valid and report.errors[0].line == 4


# Secrets never leave


def test_secret_values_never_appear_in_the_report() -> None:
    files = [(case.file, case.text) for case in BAD if case.name.startswith(("aws", "password"))]
    files += [
        ("config.yaml", f"password: {DB_PASSWORD}\n"),
        ("config.json", f'{{"stripe_api_key": "{STRIPE_KEY}"}}'),
        # A tool message that would quote the code: the secret is scrubbed from it too.
        ("s.sql", f"CREATE TABLE t (id INT PRIMARY KEY);\nSELEC '{DB_PASSWORD}' FRM t"),
    ]
    report = validate(files)
    text = json.dumps(report.to_dict())
    assert report.count("error") >= 5
    for secret in (AWS_KEY, STRIPE_KEY, DB_PASSWORD, "Tr0ub4dor"):
        assert secret not in text
        assert secret not in summary(report)


def test_secret_message_names_the_kind_and_the_target() -> None:
    (issue,) = validate([("c.json", f'{{\n  "api_key": "{AWS_KEY}"\n}}')]).issues
    assert issue.message.startswith("hard-coded secret (AWS Access Key) in assignment to api_key")


def test_sql_fallback_log_does_not_quote_the_sql(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sqlglot"):
        report = validate([("u.sql", f"CREATE USER app WITH PASSWORD '{DB_PASSWORD}';\n")])
    assert [i.rule for i in report.issues] == ["secrets/hardcoded"]
    assert "unsupported syntax" in caplog.text and DB_PASSWORD not in caplog.text


def test_without_detect_secrets_the_own_rule_still_reports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from detect_secrets.core import scan

    def broken(filename: str) -> None:
        raise RuntimeError("scanner broke")

    monkeypatch.setattr(scan, "scan_file", broken)
    issues = validate([("a.py", f'DB_PASSWORD = "{DB_PASSWORD}"\nKEY = "{AWS_KEY}"\n')]).issues
    assert [(i.rule, i.line) for i in issues] == [("secrets/hardcoded", 1)]


# Ruff missing or failing


def test_without_ruff_the_ast_checks_still_report(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def missing() -> str:
        raise FileNotFoundError("no ruff here")

    monkeypatch.setattr(ruff_check, "find_ruff_bin", missing)
    text = "import os\n\n\ndef run(expr):\n    return eval(expr), undefined\n"
    with caplog.at_level(logging.WARNING, logger="agents.checks.ruff"):
        issues = validate([("a.py", text)]).issues
    assert [(i.rule, i.line, i.ref) for i in issues] == [("security/eval", 5, None)]
    assert "ruff could not run" in caplog.text


def test_ruff_garbage_output_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ruff_check, "find_ruff_bin", lambda: "/bin/echo")
    issues = validate([("a.py", "def run(expr):\n    return eval(expr)\n")]).issues
    assert [i.rule for i in issues] == ["security/eval"]


# Request reading and the closing sentence


def test_yaml_fences_and_dialect_from_the_data_part() -> None:
    fenced = files_in(WorkOrder("check:\n```yaml\na: 1\n```\n```yml\nb: [\n```"))
    assert [name for name, _ in fenced] == ["snippet-1.yaml", "snippet-2.yaml"]
    assert [f.valid for f in validate(fenced).files] == [True, False]
    assert dialect_in(WorkOrder("x")) == "postgres"
    assert dialect_in(WorkOrder("x", dialect="MySQL")) == "mysql"
    assert dialect_in(WorkOrder("x", dialect="klingon")) is None
    with pytest.raises(ValueError, match="unknown SQL dialect"):
        validate([("s.sql", "SELECT 1")], "klingon")


def test_summary_gives_score_counts_and_first_error() -> None:
    report = validate(
        [("warn.sql", "CREATE TABLE t (a INT);\n"), ("b.py", "x = 1\n\ndef f(:\n    pass\n")]
    )
    assert summary(report) == (
        "Score 67/100: 1 error(s), 1 warning(s); first error at b.py:3: invalid syntax."
    )
    clean = Report([check("ok.json", '{"a": 1}')])
    assert (
        summary(clean) == "Score 100/100: 0 error(s), 0 warning(s) in 1 file(s); nothing blocks it."
    )
