"""An independent client: Python grpcio with stubs generated from protos/ by grpc_tools.

Used by test/multiprocess/python-client.test.ts (issue 13: a Python client must be able to create
tables, and the protos must compile with Debian's python3-grpc-tools, whose protoc is 3.5).

usage: create_tables.py PROTOS_DIR STUB_DIR PS_ADDR SPECS_JSON
SPECS_JSON is a list of TableSpec objects in proto JSON form. Prints one JSON line per table:
{"name", "created"} or {"name", "code", "details"}.
"""
import json
import sys

from grpc_tools import protoc

protos, stubs, addr, specs = sys.argv[1:5]
rc = protoc.main(['protoc', '-I' + protos, '--python_out=' + stubs, '--grpc_python_out=' + stubs,
                  'tessera/v1/admin.proto', 'tessera/v1/optimizer.proto'])
if rc != 0:
    print(json.dumps({'protoc_exit': rc}))
    sys.exit(1)
sys.path.insert(0, stubs)

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from tessera.v1 import admin_pb2, admin_pb2_grpc  # noqa: E402

stub = admin_pb2_grpc.PsAdminStub(grpc.insecure_channel(addr))
for d in json.loads(specs):
    spec = json_format.ParseDict(d, admin_pb2.TableSpec())
    try:
        res = stub.CreateTable(admin_pb2.CreateTableRequest(spec=spec), timeout=10)
        print(json.dumps({'name': d['name'], 'created': res.created}))
    except grpc.RpcError as e:
        print(json.dumps({'name': d['name'], 'code': e.code().name, 'details': e.details()}))
