"""An independent client: Python grpcio with stubs generated from protos/ by grpc_tools, sending
the same push twice with one (client_id, push_seq), as a client does when it retries a push
whose answer came late, then one more push with the next push_seq.

Used by test/multiprocess/python-idempotent-push.test.ts (ADR 0027: the PS applies a repeated
pair once, and the fixed64 client_id reads the same in every language).

usage: push_twice.py PROTOS_DIR STUB_DIR PS_ADDR TABLE CLIENT_ID
Prints one JSON line per push: {"push_seq", "rows_applied"} or {"push_seq", "code", "details"}.
"""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from admin_stubs import load_stubs  # noqa: E402

protos, stubs, addr, table, client_id = sys.argv[1:6]
load_stubs(protos, stubs, ['tessera/v1/data_plane.proto', 'tessera/v1/common.proto'])

import grpc  # noqa: E402
from tessera.v1 import data_plane_pb2, data_plane_pb2_grpc  # noqa: E402

stub = data_plane_pb2_grpc.ParameterServerStub(grpc.insecure_channel(addr))
ids = struct.pack('<2Q', 1, 2)
grads = struct.pack('<8f', *([0.25] * 8))
for seq in (1, 1, 2):
    req = data_plane_pb2.PushRequest(table=table, ids=ids, grads=grads, client_id=int(client_id), push_seq=seq)
    try:
        res = stub.Push(req, timeout=10)
        print(json.dumps({'push_seq': seq, 'rows_applied': res.rows_applied}), flush=True)
    except grpc.RpcError as e:
        print(json.dumps({'push_seq': seq, 'code': e.code().name, 'details': e.details()}), flush=True)
