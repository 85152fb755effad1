"""Generates stubs from protos/ with grpc_tools (Debian's python3-grpc-tools) and puts them on
sys.path; exits 1 printing {"protoc_exit"} when protoc fails."""
import json
import sys

from grpc_tools import protoc


def load_stubs(protos, stubs, files):
    """Generates the stubs of `files` (paths under `protos`) into `stubs` and imports from there."""
    rc = protoc.main(['protoc', '-I' + protos, '--python_out=' + stubs, '--grpc_python_out=' + stubs, *files])
    if rc != 0:
        print(json.dumps({'protoc_exit': rc}))
        sys.exit(1)
    sys.path.insert(0, stubs)


def load_admin_stubs(protos, stubs):
    load_stubs(protos, stubs, ['tessera/v1/admin.proto', 'tessera/v1/optimizer.proto'])
