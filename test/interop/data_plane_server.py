"""An independent data-plane server: Python grpcio serving tessera.v1.ParameterServer (all four
methods) with stubs generated from protos/ by grpc_tools, holding rows of dim 4 in a dict.

Used by test/multiprocess/python-h2-data-plane.test.ts (issue 18): Tessera's node:http2 data-plane
client (src/wire/h2-data-channel.ts) calls every method of this server. A pull answers each id's
row (created as [id, 0, 0, 0] on first read); a push subtracts the gradients (SGD, lr 1) and
answers rows_applied; the table "nope" is NOT_FOUND with a tessera-code trailer, and a streamed
request for it is answered in-band, as a PS answers.

usage: data_plane_server.py PROTOS_DIR STUB_DIR
Prints {"port": P} once listening on 127.0.0.1, then serves until stdin closes.
"""
import json
import struct
import sys
from concurrent import futures

from admin_stubs import load_stubs

protos, stubs = sys.argv[1:3]
load_stubs(protos, stubs, ['tessera/v1/data_plane.proto', 'tessera/v1/common.proto'])

import grpc  # noqa: E402
from tessera.v1 import common_pb2, data_plane_pb2 as pb, data_plane_pb2_grpc as pb_grpc  # noqa: E402

DIM = 4
rows = {}


def row(i):
    return rows.setdefault(i, [float(i), 0.0, 0.0, 0.0])


def ids_of(req):
    return struct.unpack('<%dQ' % (len(req.ids) // 8), req.ids)


def not_found(req):
    return 'table "%s" does not exist' % req.table


def pull(req):
    values = b''.join(struct.pack('<4f', *row(i)) for i in ids_of(req))
    return pb.PullResponse(request_id=req.request_id, values=values, dim=DIM, encoding=req.encoding)


def push(req):
    ids = ids_of(req)
    grads = struct.unpack('<%df' % (len(ids) * DIM), req.grads)
    for k, i in enumerate(ids):
        r = row(i)
        for d in range(DIM):
            r[d] -= grads[k * DIM + d]
    return pb.PushResponse(request_id=req.request_id, rows_applied=len(set(ids)))


def in_band(req):
    return common_pb2.RpcError(code=grpc.StatusCode.NOT_FOUND.value[0], message=not_found(req), tessera_code='TESSERA_ERR_UNKNOWN_TABLE')


class ParameterServer(pb_grpc.ParameterServerServicer):
    def Pull(self, req, ctx):
        if req.table == 'nope':
            ctx.set_trailing_metadata((('tessera-code', 'TESSERA_ERR_UNKNOWN_TABLE'),))
            ctx.abort(grpc.StatusCode.NOT_FOUND, not_found(req))
        return pull(req)

    def Push(self, req, ctx):
        return push(req)

    def PullStream(self, reqs, ctx):
        for req in reqs:
            yield pb.PullResponse(request_id=req.request_id, error=in_band(req)) if req.table == 'nope' else pull(req)

    def PushStream(self, reqs, ctx):
        for req in reqs:
            yield pb.PushResponse(request_id=req.request_id, error=in_band(req)) if req.table == 'nope' else push(req)


server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
pb_grpc.add_ParameterServerServicer_to_server(ParameterServer(), server)
port = server.add_insecure_port('127.0.0.1:0')
server.start()
print(json.dumps({'port': port}), flush=True)
sys.stdin.read()
server.stop(0)
