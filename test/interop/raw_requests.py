"""An independent client sending raw bytes: Python grpcio with no serializers, so each request is
exactly the bytes given, valid or not.

Used by test/multiprocess/python-malformed.test.ts (issue 23: a PS answers undecodable requests
with INVALID_ARGUMENT, never INTERNAL, and keeps serving; a stream goes on past a bad message).

usage: raw_requests.py PS_ADDR CASES_JSON   (CASES_JSON "-": read it from stdin, for requests too
large for a command line)
CASES_JSON is a list of {"method": "/pkg.Service/Method", "shape": "unary" | "server_stream" |
"bidi", "hex": [hex of each request message]}. No call has a deadline: the caller's timeout is
the guard against a server that never answers. Prints one JSON line per case:
{"method", "code", "details", "responses": [hex of each response message]}.
"""
import json
import sys

import grpc

addr, cases = sys.argv[1:3]
channel = grpc.insecure_channel(addr)
for case in json.loads(sys.stdin.read() if cases == '-' else cases):
    method, shape = case['method'], case['shape']
    requests = [bytes.fromhex(h) for h in case['hex']]
    out = {'method': method, 'responses': []}
    try:
        if shape == 'unary':
            out['responses'].append(channel.unary_unary(method)(requests[0]).hex())
        elif shape == 'server_stream':
            for r in channel.unary_stream(method)(requests[0]):
                out['responses'].append(r.hex())
        else:
            for r in channel.stream_stream(method)(iter(requests)):
                out['responses'].append(r.hex())
        out['code'] = 'OK'
        out['details'] = ''
    except grpc.RpcError as e:
        out['code'] = e.code().name
        out['details'] = e.details()
    print(json.dumps(out), flush=True)
