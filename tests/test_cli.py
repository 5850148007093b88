"""The `newsdedup` command, run as a real process against real servers."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from newsdedup.api.server import NewsdedupServer
from newsdedup.config import Settings

from .articles import edited_copy
from .conftest import NEWSDEDUP, ServerProcess


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]

    def json(self) -> dict[str, Any]:
        return json.loads(self.out)


def newsdedup(*args: str | Path, stdin: bytes = b"", env: dict[str, str] | None = None) -> Run:
    """Run the installed console script; NEWSDEDUP_* variables come only from `env`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDEDUP_")}
    environment.update(env or {})
    done = subprocess.run(
        [NEWSDEDUP, *map(str, args)], input=stdin, capture_output=True, env=environment, timeout=120, check=False
    )
    run = Run(done.returncode, done.stdout.decode(), done.stderr.decode())
    assert "Traceback" not in run.err, run.err
    return run


@pytest.fixture
def target(grpc_server: NewsdedupServer) -> str:
    return f"127.0.0.1:{grpc_server.port}"


@pytest.fixture
def dead_target() -> Iterator[str]:
    """A loopback port that refuses connections: bound by this test, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def client_of(target: str) -> Callable[..., Run]:
    """Run a client command against the in-process server."""

    def run(*args: str | Path, stdin: bytes = b"") -> Run:
        return newsdedup(*args, "--target", target, stdin=stdin)

    return run


def edited(body: str) -> str:
    """A syndicated copy's body: a near duplicate of `body`, not an exact one."""
    return edited_copy(body)[1]


def article_count(cli: Callable[..., Run]) -> int:
    return int(cli("stats", "--json").json()["article_count"])


# --- ingest and clusters


def test_seed_folder_lands_in_one_cluster(client_of: Callable[..., Run], shared_data: Path, seeds: list) -> None:
    """The five seed articles, ingested as a folder, form one story cluster."""
    ingested = client_of("ingest", shared_data / "seeds", "--json")
    assert ingested.code == 0, ingested.err
    assert [r["article_id"] for r in ingested.json_lines()] == [s.id for s in seeds]
    cluster = client_of("cluster", "--article", seeds[0].id, "--json")
    assert cluster.code == 0, cluster.err
    assert int(cluster.json()["size"]) == 5
    assert sorted(cluster.json()["article_ids"]) == sorted(s.id for s in seeds)


def test_ingest_prints_an_aligned_table_and_a_summary(client_of: Callable[..., Run], shared_data: Path) -> None:
    """Human output is a table with one line per article under a header, and a summary on stderr."""
    run = client_of("ingest", shared_data / "seeds")
    assert run.code == 0, run.err
    header, *rows = run.out.splitlines()
    assert header.split() == ["ID", "VERDICT", "DUPLICATE", "OF", "CLUSTER", "CLUSTER", "SIZE"]
    assert len(rows) == 5
    assert all(row.index("unique") == header.index("VERDICT") for row in rows)
    assert run.err.splitlines()[-1] == (
        "stored 5 articles (5 unique, 0 near duplicates, 0 exact duplicates); 0 rejected, 0 unreadable"
    )
    assert "ingesting" not in run.err  # no progress bar when stderr is not a terminal


def test_ingest_summary_counts_low_content_pages(client_of: Callable[..., Run], tmp_path: Path, seeds: list) -> None:
    """A page that is mostly chrome shows as "low content" in the table and is counted in the summary."""
    (tmp_path / "real.txt").write_text(seeds[0].body)
    (tmp_path / "thin.txt").write_text("Accept all cookies\nSubscribe to our newsletter\nMarkets rally again")
    run = client_of("ingest", tmp_path)
    assert run.code == 0, run.err
    assert "low content" in run.out.splitlines()[2]
    assert run.err.splitlines()[-1] == (
        "stored 2 articles (1 unique, 0 near duplicates, 0 exact duplicates, 1 low content); 0 rejected, 0 unreadable"
    )


def test_ingest_json_file_keeps_metadata(client_of: Callable[..., Run], tmp_path: Path, seeds: list) -> None:
    """Articles from a .json list are stored with their title, url, source, language and published_at."""
    articles = [
        {
            "id": "json-1",
            "title": "Coalition ready to deploy",
            "body": seeds[0].body,
            "url": "https://example.com/1",
            "source": "Example Times",
            "published_at": "2026-02-22T09:30:00+01:00",
            "language": "en",
        },
        {"id": "json-2", "body": seeds[1].body},
    ]
    (tmp_path / "articles.json").write_text(json.dumps(articles, indent=2))
    assert client_of("ingest", tmp_path / "articles.json").code == 0
    stored = client_of("get", "json-1", "--json").json()
    assert {k: stored[k] for k in ("title", "url", "source", "language", "published_at")} == {
        "title": "Coalition ready to deploy",
        "url": "https://example.com/1",
        "source": "Example Times",
        "language": "en",
        "published_at": "2026-02-22T08:30:00Z",
    }
    assert article_count(client_of) == 2


def test_ingest_jsonl_file(client_of: Callable[..., Run], tmp_path: Path, ecbplus: list[dict]) -> None:
    """A .jsonl file is ingested one article per line, null fields left unset."""
    docs = ecbplus[:5]
    lines = [json.dumps({"id": d["doc_id"], "body": d["text"], "url": d["source_url"]}) for d in docs]
    (tmp_path / "ecb.jsonl").write_text("\n".join(lines) + "\n")
    run = client_of("ingest", tmp_path / "ecb.jsonl", "--json")
    assert run.code == 0, run.err
    assert [r["article_id"] for r in run.json_lines()] == [d["doc_id"] for d in docs]


@pytest.mark.parametrize(
    "stdin",
    [
        b'{"id": "in-1", "body": "The coalition met in Brussels on Thursday."}',
        b'[{"id": "in-1", "body": "The coalition met in Brussels on Thursday."}]',
        b'{"id": "in-1", "body": "The coalition met in Brussels."}\n{"id": "in-2", "body": "Talks went on."}\n',
    ],
    ids=["object", "list", "json-lines"],
)
def test_ingest_from_stdin(client_of: Callable[..., Run], stdin: bytes) -> None:
    """`ingest -` reads a JSON object, a JSON list or JSON lines from standard input."""
    run = client_of("ingest", "-", "--json", stdin=stdin)
    assert run.code == 0, run.err
    expected = ["in-1", "in-2"] if stdin.count(b"\n") > 1 else ["in-1"]
    assert [r["article_id"] for r in run.json_lines()] == expected
    assert article_count(client_of) == len(expected)


def test_exact_and_edited_copies_are_duplicates_of_the_original(
    client_of: Callable[..., Run], tmp_path: Path, seeds: list
) -> None:
    """An exact copy is VERDICT_EXACT_DUPLICATE and an edited copy VERDICT_NEAR_DUPLICATE of the original."""
    (tmp_path / "a-original.txt").write_text(seeds[0].body)
    (tmp_path / "b-copy.txt").write_text(seeds[0].body)
    (tmp_path / "c-edited.txt").write_text(edited(seeds[0].body))
    run = client_of("ingest", tmp_path, "--json")
    assert run.code == 0, run.err
    verdicts = {r["article_id"]: (r["verdict"], r["duplicate_of"]) for r in run.json_lines()}
    assert verdicts == {
        "a-original": ("VERDICT_UNIQUE", ""),
        "b-copy": ("VERDICT_EXACT_DUPLICATE", "a-original"),
        "c-edited": ("VERDICT_NEAR_DUPLICATE", "a-original"),
    }


def test_reingesting_the_same_file_is_reported_as_already_stored(
    client_of: Callable[..., Run], shared_data: Path, seeds: list
) -> None:
    """Ingesting the same file twice stores it once and says so."""
    path = shared_data / "seeds" / f"{seeds[0].id}.txt"
    client_of("ingest", path)
    again = client_of("ingest", path)
    assert again.code == 0
    assert "unique (already stored)" in again.out
    assert article_count(client_of) == 1


def test_check_stores_nothing(client_of: Callable[..., Run], tmp_path: Path, seeds: list) -> None:
    """`check` reports the verdict an ingest would give, and the stats do not change."""
    (tmp_path / "original.txt").write_text(seeds[0].body)
    (tmp_path / "probe.txt").write_text(seeds[0].body)
    client_of("ingest", tmp_path / "original.txt")
    before = client_of("stats", "--json").json()
    run = client_of("check", tmp_path / "probe.txt", "--json")
    assert run.code == 0, run.err
    (result,) = run.json_lines()
    assert (result["verdict"], result["duplicate_of"]) == ("VERDICT_EXACT_DUPLICATE", "original")
    assert client_of("stats", "--json").json() == before
    assert client_of("get", "probe").code == 1


def test_similar_by_id_and_by_file(client_of: Callable[..., Run], tmp_path: Path, seeds: list) -> None:
    """`similar ID` and `similar --file PATH` list matching stored articles; --max-results caps them."""
    (tmp_path / "a-original.txt").write_text(seeds[0].body)
    (tmp_path / "b-copy.txt").write_text(seeds[0].body)
    (tmp_path / "c-other.txt").write_text(seeds[1].body)
    client_of("ingest", tmp_path)
    by_id = client_of("similar", "a-original", "--json")
    assert by_id.code == 0, by_id.err
    matches = by_id.json()["matches"]
    assert matches[0]["article_id"] == "b-copy" and matches[0]["relation"] == "RELATION_EXACT_DUPLICATE"
    assert "a-original" not in [m["article_id"] for m in matches]
    (tmp_path / "query.txt").write_text(edited(seeds[0].body))
    by_file = client_of("similar", "--file", tmp_path / "query.txt", "--max-results", "1", "--json")
    assert [m["relation"] for m in by_file.json()["matches"]] == ["RELATION_NEAR_DUPLICATE"]
    human = client_of("similar", "a-original")
    assert human.out.splitlines()[0].split() == ["ARTICLE", "RELATION", "SIMILARITY", "CLUSTER"]


def test_similar_needs_an_id_or_a_file_not_both(client_of: Callable[..., Run], tmp_path: Path) -> None:
    """`similar` with both an id and --file (or neither) is a usage error, exit code 2."""
    (tmp_path / "q.txt").write_text("some text")
    assert client_of("similar", "x", "--file", tmp_path / "q.txt").code == 2
    assert client_of("similar").code == 2


def test_cluster_by_cluster_id_and_by_article(client_of: Callable[..., Run], tmp_path: Path, seeds: list) -> None:
    """`cluster ID` finds a cluster by its id, `cluster --article ID` by one of its articles."""
    (tmp_path / "a.txt").write_text(seeds[0].body)
    (tmp_path / "b.txt").write_text(seeds[0].body)
    (ingested, _) = client_of("ingest", tmp_path, "--json").json_lines()
    by_id = client_of("cluster", ingested["cluster_id"], "--json").json()
    assert by_id == client_of("cluster", "--article", "b", "--json").json()
    assert (by_id["article_ids"], by_id["representative_article_id"]) == (["a", "b"], "a")
    human = client_of("cluster", ingested["cluster_id"]).out
    assert f"cluster:         {ingested['cluster_id']}" in human.splitlines()
    assert human.splitlines()[-2:] == ["  a", "  b"]


def test_clusters_all_lists_every_cluster_exactly_once(
    client_of: Callable[..., Run], tmp_path: Path, ecbplus: list[dict]
) -> None:
    """`clusters --all --page-size 3` follows every page token and lists each cluster once."""
    docs = ecbplus[:40]
    (tmp_path / "ecb.jsonl").write_text("\n".join(json.dumps({"id": d["doc_id"], "body": d["text"]}) for d in docs))
    assert client_of("ingest", tmp_path / "ecb.jsonl").code == 0
    listing = client_of("clusters", "--all", "--page-size", "3", "--json").json()
    cluster_ids = [c["cluster_id"] for c in listing["clusters"]]
    assert len(cluster_ids) == len(set(cluster_ids)) == int(client_of("stats", "--json").json()["cluster_count"])
    assert len(cluster_ids) > 3
    assert sorted(a for c in listing["clusters"] for a in c["article_ids"]) == sorted(d["doc_id"] for d in docs)
    assert listing["next_page_token"] == ""


def test_clusters_pages_by_token(client_of: Callable[..., Run], tmp_path: Path, ecbplus: list[dict]) -> None:
    """One page of `clusters` names the token of the next; that token continues where the page ended."""
    (tmp_path / "ecb.jsonl").write_text(
        "\n".join(json.dumps({"id": d["doc_id"], "body": d["text"]}) for d in ecbplus[:20])
    )
    client_of("ingest", tmp_path / "ecb.jsonl")
    first = client_of("clusters", "--page-size", "2", "--order", "recent")
    assert first.code == 0
    assert first.out.splitlines()[0].split() == ["CLUSTER", "SIZE", "UPDATED", "REPRESENTATIVE", "TITLE"]
    token = first.err.strip().removeprefix("more clusters: --page-token ")
    second = client_of("clusters", "--page-size", "2", "--order", "recent", "--page-token", token, "--json").json()
    everything = client_of("clusters", "--order", "recent", "--all", "--json").json()["clusters"]
    shown = [line.split()[0] for line in first.out.splitlines()[1:]]
    assert shown + [c["cluster_id"] for c in second["clusters"]] == [c["cluster_id"] for c in everything[:4]]


def test_compare_two_seeds_is_the_same_story(client_of: Callable[..., Run], shared_data: Path, seeds: list) -> None:
    """`compare` of two seed articles reports RELATION_SAME_STORY and the terms they share."""
    first, second = (shared_data / "seeds" / f"{s.id}.txt" for s in seeds[:2])
    run = client_of("compare", first, second, "--json")
    assert run.code == 0, run.err
    assert run.json()["relation"] == "RELATION_SAME_STORY"
    assert "coalition" in run.json()["shared_terms"]
    human = client_of("compare", first, second).out
    assert "relation:         same story" in human.splitlines()


def test_compare_needs_one_article_per_file(client_of: Callable[..., Run], tmp_path: Path) -> None:
    """`compare` with a file of two articles fails with one line naming the file."""
    (tmp_path / "two.jsonl").write_text('{"id": "a", "body": "one"}\n{"id": "b", "body": "two"}\n')
    (tmp_path / "one.txt").write_text("one text")
    run = client_of("compare", tmp_path / "two.jsonl", tmp_path / "one.txt")
    assert run.code == 1
    assert run.err == f"newsdedup: error: {tmp_path / 'two.jsonl'}: expected one article, found 2\n"


def test_get_and_delete(client_of: Callable[..., Run], tmp_path: Path, seeds: list) -> None:
    """`get` shows a stored article; after `delete` it is gone and `get` fails with NOT_FOUND."""
    (tmp_path / "art-1.txt").write_text(seeds[0].body)
    client_of("ingest", tmp_path / "art-1.txt")
    shown = client_of("get", "art-1")
    assert shown.code == 0
    assert "id:           art-1" in shown.out.splitlines()
    deleted = client_of("delete", "art-1", "--json")
    assert (deleted.code, deleted.json()) == (0, {"article_id": "art-1", "deleted": True})
    gone = client_of("get", "art-1")
    assert (gone.code, gone.err) == (1, "newsdedup: error: NOT_FOUND: no stored article has id 'art-1'\n")
    assert client_of("delete", "art-1").code == 1


def test_not_found_is_one_error_line_and_exit_code_1(client_of: Callable[..., Run]) -> None:
    """A NOT_FOUND from the server is one stderr line with the code and message, exit code 1, no stdout."""
    run = client_of("cluster", "story-404")
    assert run == Run(1, "", "newsdedup: error: NOT_FOUND: no story cluster has id 'story-404'\n")


def test_stats_human_and_json(client_of: Callable[..., Run], shared_data: Path, seeds: list) -> None:
    """`stats` counts the stored articles, in a readable block and as JSON."""
    client_of("ingest", shared_data / "seeds" / f"{seeds[0].id}.txt")
    human = client_of("stats").out.splitlines()
    assert human[0] == "articles:            1"
    stats = client_of("stats", "--json").json()
    assert (stats["article_count"], stats["parameters"]["num_perm"]) == ("1", 128)


# --- bad input


def test_bad_records_are_reported_by_line_and_the_good_ones_ingested(
    client_of: Callable[..., Run], tmp_path: Path, seeds: list
) -> None:
    """Each bad record is one "path:line: what is wrong" line on stderr; good records are stored; exit code 1."""
    good = json.dumps({"id": "good-1", "body": seeds[0].body})
    lines = [
        good,
        '{"id": "bad-json", "body": ',
        '{"id": "typo", "titel": "x"}',
        '{"id": "wrong-type", "body": ["a"]}',
        '{"id": "bad-time", "body": "text", "published_at": "22/02/2026"}',
        '{"id": "surrogate", "body": "\\ud800"}',
        '{"id": "control", "body": "bell \\u0007"}',
        json.dumps({"id": "good-2", "body": seeds[1].body}),
    ]
    jsonl = tmp_path / "mixed.jsonl"
    jsonl.write_text("\n".join(lines) + "\n")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Caf\xe9 story".encode("latin-1"))
    stdin = b'{"id": "good-3", "body": "Stdin text about the coalition."}\n{"id": 3}\n'
    run = client_of("ingest", jsonl, latin1, "-", "--json", stdin=stdin)
    assert run.code == 1
    assert [r["article_id"] for r in run.json_lines()] == ["good-1", "good-2", "good-3"]
    problems = run.err.splitlines()
    assert [p.split(": ", 1)[0] for p in problems] == [
        f"{jsonl}:2",
        f"{jsonl}:3",
        f"{jsonl}:4",
        f"{jsonl}:5",
        f"{jsonl}:6",
        f"{jsonl}:7",
        f"{latin1}:1",
        "<stdin>:2",
    ]
    messages = "\n".join(problems)
    for expected in [
        "invalid JSON",
        "unknown field 'titel'",
        "field 'body' must be a string, got a list",
        "published_at '22/02/2026' is not an RFC 3339 timestamp",
        "lone surrogate U+D800",
        "control character U+0007",
        "not valid UTF-8: byte 0xe9",
        "field 'id' must be a string, got a number",
    ]:
        assert expected in messages
    assert article_count(client_of) == 3


def test_articles_rejected_by_the_server_are_errors_and_exit_1(client_of: Callable[..., Run], tmp_path: Path) -> None:
    """An article the server rejects is reported with its location and status; the others are stored."""
    path = tmp_path / "batch.jsonl"
    path.write_text(
        '{"id": "ok", "body": "Leaders met in Brussels to plan a security mission."}\n'
        '{"id": "no-words", "body": "!!! ??? ..."}\n'
    )
    run = client_of("ingest", path)
    assert run.code == 1
    assert run.err.splitlines()[0].startswith(f"{path}:2: rejected: INVALID_ARGUMENT: article 'no-words' has no words")
    assert [line.split()[0] for line in run.out.splitlines()] == ["ID", "ok"]
    assert "1 rejected" in run.err


def test_missing_file_is_reported_and_exit_1(client_of: Callable[..., Run], tmp_path: Path) -> None:
    """A path that does not exist is one error line; the command still runs and exits with 1."""
    run = client_of("ingest", tmp_path / "nope.jsonl")
    assert run.code == 1
    assert run.err.splitlines()[0] == f"{tmp_path / 'nope.jsonl'}: no such file or folder"


# --- health, errors and configuration


def test_health_is_0_when_serving_and_1_with_one_line_when_down(target: str, dead_target: str) -> None:
    """`health` prints SERVING and exits 0 for a live server; a dead port gives one line naming it and exit 1."""
    assert newsdedup("health", "--target", target) == Run(0, "SERVING\n", "")
    down = newsdedup("health", "--target", dead_target, "--timeout", "5")
    assert down.code == 1
    assert down.out == ""
    assert len(down.err.splitlines()) == 1
    assert down.err.startswith(f"newsdedup: error: cannot reach newsdedup at {dead_target} (UNAVAILABLE)")


def test_newsdedup_target_environment_variable_is_honoured(target: str, dead_target: str) -> None:
    """Without --target, NEWSDEDUP_TARGET says where the server is."""
    assert newsdedup("stats", "--json", env={"NEWSDEDUP_TARGET": target}).code == 0
    down = newsdedup("stats", env={"NEWSDEDUP_TARGET": dead_target})
    assert down.code == 1 and dead_target in down.err


def test_timeout_must_be_positive(target: str) -> None:
    """--timeout 0 would mean no deadline; it is a usage error."""
    assert newsdedup("stats", "--target", target, "--timeout", "0").code == 2


def test_version() -> None:
    """--version prints the package version."""
    run = newsdedup("--version")
    assert (run.code, run.out) == (0, "newsdedup, version 0.1.0\n")


def test_serve_help_lists_every_setting_with_its_environment_variable() -> None:
    """`serve --help` has a --flag for every Settings field, showing its NEWSDEDUP_* variable and default."""
    run = newsdedup("serve", "--help")
    assert run.code == 0
    text = " ".join(run.out.split())  # undo the help formatter's line wrapping
    described = Settings.describe()
    assert len(described) > 10
    for name, kind, default, _ in described:
        flag = "--" + name.replace("_", "-")
        entry = re.search(rf"{flag} (TEXT|INTEGER|FLOAT) (.*?)\]", text)
        assert entry is not None, f"{flag} is not in serve --help"
        assert entry.group(1) == {str: "TEXT", int: "INTEGER", float: "FLOAT"}[kind]
        shown_default = '""' if default == "" else str(default)
        expected = f"[env var: {Settings.env_var(name)}; default: {shown_default}"
        # The formatter may also break a line after a hyphen inside a word ("./newsdedup-data").
        assert "".join(expected.split()) in "".join(entry.group(2).split()), entry.group(2)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--num-perm", "5"], {}, "num_perm must be a power of two in 16..1024, got 5"),
        ([], {"NEWSDEDUP_PORT": "70000"}, "port must be in 0..65535, got 70000"),
    ],
    ids=["flag", "environment"],
)
def test_serve_with_an_invalid_setting_is_one_line_and_exit_2(
    args: list[str], env: dict[str, str], message: str, tmp_path: Path
) -> None:
    """An invalid setting, from a flag or a NEWSDEDUP_* variable, stops `serve` with one line and exit code 2."""
    run = newsdedup("serve", "--data-dir", "", *args, env=env)
    assert run.code == 2
    assert run.err == f"newsdedup: error: invalid settings: {message}\n"


def test_cli_against_a_serve_process_keeps_data_across_restarts(
    server_process: Callable[..., ServerProcess], shared_data: Path, seeds: list, tmp_path: Path
) -> None:
    """Against `newsdedup serve`: ingest, health, and after a restart on the same data the articles are there."""
    server = server_process()
    ingested = newsdedup("ingest", shared_data / "seeds", "--target", server.target)
    assert ingested.code == 0, ingested.err
    assert newsdedup("health", "--target", server.target).code == 0
    assert server.stop() == 0
    stopped = newsdedup("health", "--target", server.target, "--timeout", "5")
    assert stopped.code == 1 and server.target in stopped.err
    restarted = server_process(tmp_path / "data")
    shown = newsdedup("get", seeds[4].id, "--target", restarted.target, "--json")
    assert shown.code == 0, shown.err
    assert shown.json()["id"] == seeds[4].id
    assert int(newsdedup("stats", "--target", restarted.target, "--json").json()["article_count"]) == 5


def test_progress_bar_is_drawn_when_stderr_is_a_terminal(target: str, shared_data: Path) -> None:
    """With stderr on a terminal, ingest draws a progress bar there and stdout still gets the table."""
    leader, follower = os.openpty()
    try:
        done = subprocess.run(
            [NEWSDEDUP, "ingest", "--target", target, str(shared_data / "seeds")],
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=60,
            check=False,
        )
    finally:
        os.close(follower)
    terminal = b""
    try:
        while chunk := os.read(leader, 4096):
            terminal += chunk
    except OSError:  # EIO: every writer has closed the terminal
        pass
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert b"ingesting" in terminal and b"100%" in terminal
    assert len(done.stdout.decode().splitlines()) == 6
