"""An independent gRPC client of tessera.v1.Prediction: Python grpcio with stubs generated from
protos/ by grpc_tools (Debian's python3-grpc-tools, protoc 3.5). No Tessera code.

Used by test/integration/serve-grpc.test.ts (issue 14). Reads a JSON list of requests on stdin and
prints one JSON line per request: {"code": "OK", "model", "request_id", "probabilities": [...],
"versions": [...]} or {"code": status name, "details", "tessera_code"}. A request with
"health": true asks grpc.health.v1 instead and prints {"code": "OK", "status": "SERVING"}.

usage: predict_client.py PROTOS_DIR STUB_DIR ADDR < requests.json
Each request: {"model", "version"?, "label"?, "rows", "split_key"?, "request_id"?, "columns": [
  {"name", "numeric": [numbers, "__NaN__", null = missing] | "categorical": [strings, null = missing]}]}
"""
import json
import os
import shutil
import struct
import sys

from grpc_tools import protoc

protos, stubs, addr = sys.argv[1:4]
# The health stubs go to a module of their own: generated as grpc/health/v1 they would be
# shadowed by the grpc package itself.
os.makedirs(os.path.join(stubs, 'src', 'health_check'), exist_ok=True)
shutil.copy(os.path.join(protos, 'grpc', 'health', 'v1', 'health.proto'), os.path.join(stubs, 'src', 'health_check', 'health.proto'))
for include, proto in ((protos, 'tessera/v1/prediction.proto'), (os.path.join(stubs, 'src'), 'health_check/health.proto')):
    rc = protoc.main(['protoc', '-I' + include, '--python_out=' + stubs, '--grpc_python_out=' + stubs, proto])
    if rc != 0:
        print(json.dumps({'protoc_exit': rc, 'proto': proto}))
        sys.exit(1)
sys.path.insert(0, stubs)

import grpc  # noqa: E402
from health_check import health_pb2, health_pb2_grpc  # noqa: E402
from tessera.v1 import prediction_pb2, prediction_pb2_grpc  # noqa: E402


def column(c):
    col = prediction_pb2.FeatureColumn(name=c['name'])
    values = c.get('numeric', c.get('categorical'))
    if any(v is None for v in values):
        col.missing = bytes(1 if v is None else 0 for v in values)
    if 'numeric' in c:
        nums = [float('nan') if v == '__NaN__' else (0.0 if v is None else float(v)) for v in values]
        col.numeric = struct.pack('<%dd' % len(nums), *nums)
    else:
        col.categorical.extend('' if v is None else v for v in values)
    return col


channel = grpc.insecure_channel(addr)
stub = prediction_pb2_grpc.PredictionStub(channel)
health = health_pb2_grpc.HealthStub(channel)
for r in json.load(sys.stdin):
    try:
        if r.get('health'):
            res = health.Check(health_pb2.HealthCheckRequest(service=r.get('service', '')), timeout=30)
            print(json.dumps({'code': 'OK', 'status': health_pb2.HealthCheckResponse.ServingStatus.Name(res.status)}))
            continue
        req = prediction_pb2.PredictRequest(model=r['model'], version=r.get('version', 0), label=r.get('label', ''),
                                            rows=r['rows'], split_key=r.get('split_key', ''),
                                            request_id=r.get('request_id', ''),
                                            columns=[column(c) for c in r['columns']])
        res = stub.Predict(req, timeout=30)
        n = len(res.probabilities) // 4
        print(json.dumps({'code': 'OK', 'model': res.model, 'request_id': res.request_id,
                          'probabilities': list(struct.unpack('<%df' % n, res.probabilities)),
                          'versions': list(struct.unpack('<%dI' % n, res.versions))}))
    except grpc.RpcError as e:
        meta = dict(e.trailing_metadata() or ())
        print(json.dumps({'code': e.code().name, 'details': e.details(), 'tessera_code': meta.get('tessera-code')}))
