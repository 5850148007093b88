"""The `newsdedup` command: run the server, or talk to one.

`newsdedup serve` runs the gRPC server; its options are generated from
`newsdedup.config.Settings`, so every setting is a flag with a NEWSDEDUP_*
environment variable and the help text written where the setting is
declared. The server is imported only when `serve` runs, so the client
commands start quickly.

Every other command is a client command (`ClientCommand`): it takes
`--target`, `--timeout`, the TLS and token options and `--json`, finds a
`Session` (the `DedupClient` and the output mode) in `ctx.obj`, makes its
calls and prints. A failed call
becomes one line on stderr, "newsdedup: error: NOT_FOUND: ...", and exit
code 1; a usage error exits with 2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

import click
import grpc
from grpc_health.v1 import health_pb2
from newsdedup.config import Settings
from newsdedup.credentials import read_token
from newsdedup.v1 import dedup_service_pb2 as pb

from . import render
from .channel import DEFAULT_TARGET, DEFAULT_TIMEOUT, Tls
from .client import DedupClient
from .errors import describe_rpc_error, describe_status
from .inputs import InputError, Problem, Record, read_one, read_paths

TARGET_ENV = "NEWSDEDUP_TARGET"
TIMEOUT_ENV = "NEWSDEDUP_TIMEOUT"


def _file_option(flag: str, envvar: str, help_text: str) -> click.Option:
    return click.Option([flag], metavar="FILE", envvar=envvar, show_envvar=True, help=help_text)


# The client's own certificate and key are NEWSDEDUP_CLIENT_*: NEWSDEDUP_TLS_CERT and _KEY are the server's.
CONNECTION_OPTIONS = [
    click.Option(
        ["--tls"], is_flag=True, envvar="NEWSDEDUP_TLS", show_envvar=True, help="Use TLS, trusting the system's CAs."
    ),
    _file_option("--tls-ca", "NEWSDEDUP_TLS_CA", "Use TLS, trusting the CA certificates in this PEM file."),
    _file_option(
        "--tls-cert",
        "NEWSDEDUP_CLIENT_CERT",
        "This client's PEM certificate, for a server that asks for one (mutual TLS); needs --tls-key.",
    ),
    _file_option("--tls-key", "NEWSDEDUP_CLIENT_KEY", "The PEM private key of --tls-cert."),
    _file_option(
        "--token-file",
        "NEWSDEDUP_TOKEN_FILE",
        "File holding the server's bearer token (sent over TLS, or in the clear only to this machine).",
    ),
]
DEFAULT_BATCH_SIZE = 100
ORDERS = {"largest": pb.CLUSTER_ORDER_LARGEST, "recent": pb.CLUSTER_ORDER_RECENTLY_UPDATED}

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """Ends the command with one line on stderr, "newsdedup: error: <message>", and exit code 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"newsdedup: error: {self.format_message()}", err=True)


class BadSettings(CliError):
    """A setting or option value that cannot work: exit code 2, like any usage error."""

    exit_code = 2


@dataclass(frozen=True)
class Session:
    """What a client command works with: the client and whether to print JSON."""

    client: DedupClient
    json: bool

    def show(self, message: Any, human: str) -> None:
        """Print `message` as JSON, or the human rendering of it."""
        click.echo(render.to_json(message) if self.json else human)


class ClientCommand(click.Command):
    """A command that talks to a newsdedup server.

    Adds --target, --timeout, the TLS and token options and --json, opens the
    client before the command runs (closing it after) and turns a failed call
    into one error line.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params += [
            click.Option(
                ["--target"],
                default=DEFAULT_TARGET,
                envvar=TARGET_ENV,
                show_envvar=True,
                show_default=True,
                help="Address of the newsdedup server, host:port.",
            ),
            click.Option(
                ["--timeout"],
                type=click.FloatRange(min=0, min_open=True),
                default=DEFAULT_TIMEOUT,
                envvar=TIMEOUT_ENV,
                show_envvar=True,
                show_default=True,
                help="Seconds each call may take.",
            ),
            *CONNECTION_OPTIONS,
            click.Option(["--json", "json_output"], is_flag=True, help="Print JSON for programs instead of tables."),
        ]

    def invoke(self, ctx: click.Context) -> Any:
        target: str = ctx.params.pop("target")
        timeout: float = ctx.params.pop("timeout")
        json_output: bool = ctx.params.pop("json_output")
        use_tls, ca, cert, key, token_file = (
            ctx.params.pop(name) for name in ("tls", "tls_ca", "tls_cert", "tls_key", "token_file")
        )
        try:
            tls = Tls.from_files(ca, cert, key) if use_tls or ca or cert or key else None
            token = read_token(token_file) if token_file else None
            client = DedupClient(target, timeout, tls=tls, token=token)
        except ValueError as error:
            raise BadSettings(str(error)) from None
        ctx.obj = Session(ctx.with_resource(client), json_output)
        try:
            return super().invoke(ctx)
        except grpc.RpcError as error:
            raise CliError(describe_rpc_error(error, target, timeout)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="newsdedup", prog_name="newsdedup")
def main() -> None:
    """Find exact and near-duplicate news articles and group coverage of one story.

    Run a server with `newsdedup serve`; the other commands talk to one at
    --target (or NEWSDEDUP_TARGET).
    """


# --- serve


def _settings_options(function: F) -> F:
    """One option per Settings field, with its NEWSDEDUP_* environment variable, type, default and help."""
    for name, kind, default, help_text in reversed(Settings.describe()):
        option = click.option(
            "--" + name.replace("_", "-"),
            name,
            type=kind,
            default=default,
            show_default=True,
            envvar=Settings.env_var(name),
            show_envvar=True,
            help=help_text,
        )
        function = option(function)
    return function


@main.command()
@_settings_options
@click.pass_context
def serve(ctx: click.Context, **values: Any) -> None:
    """Run the newsdedup gRPC server until SIGTERM or SIGINT."""
    try:
        settings = Settings(**values)
    except ValueError as error:
        raise BadSettings(str(error)) from None
    from newsdedup.api.server import serve as run_server  # heavy: only when serving

    ctx.exit(run_server(settings))


# --- reading input


def _stdin() -> BinaryIO | None:
    """Standard input as bytes: the input layer decodes it, so invalid UTF-8 is reported with its line."""
    return getattr(sys.stdin, "buffer", None)


def _read(paths: Iterable[str]) -> tuple[list[Record], int]:
    """The records in `paths`; every unreadable record is reported on stderr and counted."""
    records: list[Record] = []
    problems = 0
    for item in read_paths(paths, _stdin()):
        if isinstance(item, Problem):
            click.echo(str(item), err=True)
            problems += 1
        else:
            records.append(item)
    return records, problems


def _read_one(path: str) -> pb.Article:
    try:
        return read_one(path, _stdin())
    except InputError as error:
        raise CliError(str(error)) from None


def _batches(records: Sequence[Record], size: int) -> Iterable[Sequence[Record]]:
    for start in range(0, len(records), size):
        yield records[start : start + size]


@contextmanager
def _progress(length: int, label: str, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when `enabled`; yields the function that advances it."""
    if not enabled:
        yield lambda steps: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield bar.update


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _summary(results: Sequence[pb.ArticleResult], rejected: int, unreadable: int) -> str:
    """ "stored 5 articles (3 unique, 1 near duplicate, 1 exact duplicate); 0 rejected, 0 unreadable".

    Low-content articles are counted only when there are some: "(2 unique, ..., 1 low content)".
    """
    verdicts = [result.verdict for result in results]
    low_content = verdicts.count(pb.VERDICT_LOW_CONTENT)
    return (
        f"stored {_count(len(results), 'article')} ({verdicts.count(pb.VERDICT_UNIQUE)} unique, "
        f"{_count(verdicts.count(pb.VERDICT_NEAR_DUPLICATE), 'near duplicate')}, "
        f"{_count(verdicts.count(pb.VERDICT_EXACT_DUPLICATE), 'exact duplicate')}"
        f"{f', {low_content} low content' if low_content else ''}); "
        f"{rejected} rejected, {unreadable} unreadable"
    )


# Codes by which the server refuses one article (rather than the call or the connection failing).
_ARTICLE_ERRORS = frozenset({grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.ALREADY_EXISTS})


def _reject(record: Record, why: str) -> None:
    click.echo(f"{record.location}: rejected: {why}", err=True)


# --- articles

_PATHS = click.argument("paths", nargs=-1, required=True, metavar="PATH...")


@main.command(cls=ClientCommand)
@_PATHS
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Articles per BatchIngestArticles call (the server accepts at most its max_batch_size).",
)
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[str, ...], batch_size: int) -> None:
    """Store articles and print each one's verdict and story cluster.

    PATH is a .txt file (its name is the id, its text the body), a .json file
    (an article object or a list of them), a .jsonl file (one object per
    line), a folder (every such file below it) or - for standard input.
    Article objects have the fields id, title, body, url, source, language
    and published_at (RFC 3339).

    Unreadable records and articles the server rejects are reported on
    stderr as "path:line: what is wrong"; the others are stored, and the
    exit code is then 1.
    """
    session: Session = ctx.obj
    records, unreadable = _read(paths)
    stored: list[pb.ArticleResult] = []
    rejected = 0
    show_progress = not session.json and sys.stderr.isatty()
    try:
        with _progress(len(records), "ingesting", show_progress) as advance:
            for batch in _batches(records, batch_size):
                results = session.client.ingest_batch(record.article for record in batch)
                for record, result in zip(batch, results, strict=True):
                    if result.HasField("error"):
                        rejected += 1
                        _reject(record, describe_status(result.error))
                    else:
                        stored.append(result)
                    if session.json:
                        click.echo(render.to_json(result))
                advance(len(batch))
    finally:  # what was stored is shown even when a later batch fails
        if stored and not session.json:
            click.echo(render.results_table(stored))
    if not session.json:
        click.echo(_summary(stored, rejected, unreadable), err=True)
    ctx.exit(1 if rejected or unreadable else 0)


@main.command(cls=ClientCommand)
@_PATHS
@click.pass_context
def check(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Report what ingesting the articles would say, without storing them.

    PATH is read as for `ingest`. Each article is checked on its own against
    the stored articles (not against the other articles in PATH).
    """
    session: Session = ctx.obj
    records, unreadable = _read(paths)
    results: list[pb.ArticleResult] = []
    rejected = 0
    for record in records:
        try:
            result = session.client.check(record.article)
        except grpc.RpcError as error:
            if error.code() not in _ARTICLE_ERRORS:
                raise
            rejected += 1
            _reject(record, f"{error.code().name}: {error.details()}")
            continue
        results.append(result)
        if session.json:
            click.echo(render.to_json(result))
    if not session.json and results:
        click.echo(render.results_table(results))
    ctx.exit(1 if rejected or unreadable else 0)


@main.command(cls=ClientCommand)
@click.argument("article_id", required=False)
@click.option("--file", "path", metavar="PATH", help="Search for the article in this file instead of a stored one.")
@click.option("--max-results", type=click.IntRange(min=0), default=0, help="Most matches; 0 for the server's default.")
@click.option(
    "--min-similarity",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Only matches at least this similar.",
)
@click.pass_obj
def similar(
    session: Session, article_id: str | None, path: str | None, max_results: int, min_similarity: float
) -> None:
    """Find stored articles similar to ARTICLE_ID (a stored article) or to the article in --file."""
    if (article_id is None) == (path is None):
        raise click.UsageError("give either ARTICLE_ID or --file PATH")
    matches = session.client.search_similar(
        article_id=article_id,
        article=_read_one(path) if path is not None else None,
        max_results=max_results,
        min_similarity=min_similarity,
    )
    session.show(pb.SearchSimilarArticlesResponse(matches=matches), render.matches_table(matches))


@main.command("get", cls=ClientCommand)
@click.argument("article_id")
@click.pass_obj
def get_article(session: Session, article_id: str) -> None:
    """Show a stored article's metadata, verdict and cluster."""
    article = session.client.get_article(article_id)
    session.show(article, render.stored_article_text(article))


@main.command(cls=ClientCommand)
@click.argument("article_id")
@click.pass_obj
def delete(session: Session, article_id: str) -> None:
    """Remove a stored article; its duplicates and cluster are updated."""
    session.client.delete_article(article_id)
    click.echo(
        render.json_line({"article_id": article_id, "deleted": True}) if session.json else f"deleted {article_id}"
    )


# --- clusters


@main.command(cls=ClientCommand)
@click.argument("identifier", metavar="ID")
@click.option("--article", "by_article", is_flag=True, help="ID is an article id: show the cluster it belongs to.")
@click.pass_obj
def cluster(session: Session, identifier: str, by_article: bool) -> None:
    """Show a story cluster and its articles, by cluster id (or, with --article, by article id)."""
    if by_article:
        found = session.client.get_cluster(article_id=identifier)
    else:
        found = session.client.get_cluster(cluster_id=identifier)
    session.show(found, render.cluster_text(found))


@main.command(cls=ClientCommand)
@click.option("--page-size", type=click.IntRange(min=0), default=0, help="Clusters per page; 0 for the server's.")
@click.option(
    "--min-size", type=click.IntRange(min=0), default=0, help="Only clusters with at least this many articles."
)
@click.option(
    "--order",
    type=click.Choice(list(ORDERS)),
    default="largest",
    show_default=True,
    help="largest: most articles first; recent: most recently updated first.",
)
@click.option("--page-token", default="", help="Start at this page (the token a previous listing printed).")
@click.option("--all", "every_page", is_flag=True, help="Follow the page tokens and list every cluster.")
@click.pass_obj
def clusters(session: Session, page_size: int, min_size: int, order: str, page_token: str, every_page: bool) -> None:
    """List story clusters, one page at a time (or every page with --all).

    A --page-token is valid only with the --min-size and --order it was
    issued for.
    """
    options: dict[str, Any] = {"page_size": page_size, "page_token": page_token, "min_size": min_size}
    if every_page:
        page = pb.ListClustersResponse(clusters=session.client.iter_clusters(**options, order=ORDERS[order]))
    else:
        page = session.client.list_clusters(**options, order=ORDERS[order])
    session.show(page, render.clusters_table(page.clusters))
    if page.next_page_token and not session.json:
        click.echo(f"more clusters: --page-token {page.next_page_token}", err=True)


# --- analysis and operations


@main.command(cls=ClientCommand)
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@click.pass_obj
def compare(session: Session, first: str, second: str) -> None:
    """Compare the articles in files A and B and explain the score; nothing is stored."""
    comparison = session.client.compare(_read_one(first), _read_one(second))
    session.show(comparison, render.comparison_text(comparison))


@main.command(cls=ClientCommand)
@click.pass_obj
def stats(session: Session) -> None:
    """Show article, duplicate and cluster counts and the index parameters."""
    numbers = session.client.stats()
    session.show(numbers, render.stats_text(numbers))


@main.command(cls=ClientCommand)
@click.pass_context
def health(ctx: click.Context) -> None:
    """Print the server's health status; the exit code is 0 only when it is SERVING."""
    session: Session = ctx.obj
    status = session.client.health()
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
    session.show(health_pb2.HealthCheckResponse(status=status), name)
    ctx.exit(0 if status == health_pb2.HealthCheckResponse.SERVING else 1)
