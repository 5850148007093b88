"""Generate the Python code for protos/ into service/newsdedup/v1/, or check it is current.

    python scripts/generate_protos.py          # regenerate
    python scripts/generate_protos.py --check  # exit 1 if the committed code is stale

The proto package newsdedup.v1 maps onto the Python package newsdedup.v1, so
the generated modules import each other under the names protoc gives them and
need no rewriting. Output depends on the grpcio-tools version, which the
`test` extra pins so that the check is deterministic.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

import grpc_tools
from google.rpc import status_pb2
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
PROTO_ROOT = ROOT / "protos"
# Our own protos; protos/google/ holds a copy of google/rpc/status.proto for buf (see buf.yaml), whose
# generated code comes from googleapis-common-protos.
OWN_PROTOS = PROTO_ROOT / "newsdedup"
OUTPUT_ROOT = ROOT / "service"
GENERATED_PACKAGE = Path("newsdedup") / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def _include_dirs() -> list[Path]:
    """protos/, the well-known types shipped with grpcio-tools, and google/rpc from googleapis-common-protos."""
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    googleapis = Path(status_pb2.__file__).parents[2]
    return [PROTO_ROOT, well_known, googleapis]


def generate(output_root: Path) -> list[Path]:
    """Run protoc over every .proto under protos/newsdedup/ and return the files written."""
    protos = sorted(OWN_PROTOS.rglob("*.proto"))
    if not protos:
        raise SystemExit(f"no .proto files under {OWN_PROTOS}")
    args = ["grpc_tools.protoc"]
    args += [f"-I{path}" for path in _include_dirs()]
    args += [f"--python_out={output_root}", f"--pyi_out={output_root}", f"--grpc_python_out={output_root}"]
    args += [str(path.relative_to(PROTO_ROOT)) for path in protos]
    # protoc resolves the relative proto names against the -I directories.
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed; see the messages above")
    return sorted(p for p in (output_root / GENERATED_PACKAGE).iterdir() if p.name.endswith(GENERATED_SUFFIXES))


def check() -> int:
    """Compare freshly generated code with the committed code; print what differs."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = {p.name: p for p in generate(Path(scratch))}
        committed_dir = OUTPUT_ROOT / GENERATED_PACKAGE
        committed = {p.name: p for p in committed_dir.iterdir() if p.name.endswith(GENERATED_SUFFIXES)}
        stale = sorted(
            name
            for name in fresh
            if name not in committed or not filecmp.cmp(fresh[name], committed[name], shallow=False)
        )
        extra = sorted(set(committed) - set(fresh))
    if stale or extra:
        for name in stale:
            print(f"stale or missing: {GENERATED_PACKAGE / name}", file=sys.stderr)
        for name in extra:
            print(f"generated file with no .proto: {GENERATED_PACKAGE / name}", file=sys.stderr)
        print("run `python scripts/generate_protos.py` and commit the result", file=sys.stderr)
        return 1
    print(f"generated code in {OUTPUT_ROOT.name}/{GENERATED_PACKAGE} is current")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if the committed generated code is stale")
    options = parser.parse_args()
    if options.check:
        return check()
    for path in generate(OUTPUT_ROOT):
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
