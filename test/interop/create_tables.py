"""An independent client: Python grpcio with stubs generated from protos/ by grpc_tools.

Used by test/multiprocess/python-client.test.ts (issue 13: a Python client must be able to create
tables, and the protos must compile with Debian's python3-grpc-tools, whose protoc is 3.5).

usage: create_tables.py PROTOS_DIR STUB_DIR PS_ADDR SPECS_JSON
SPECS_JSON is a list of TableSpec objects in proto JSON form. Prints one JSON line per table:
{"name", "created"} or {"name", "code", "details"}.
"""
import json
import sys

from admin_stubs import load_admin_stubs

protos, stubs, addr, specs = sys.argv[1:5]
load_admin_stubs(protos, stubs)

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
