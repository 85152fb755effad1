"""An independent TLS client: Python grpcio with stubs generated from protos/ by grpc_tools.

Used by test/multiprocess/python-tls.test.ts (issue 16): calls PsAdmin.DropTable on a PS that
requires mutual TLS, once per case, and prints one JSON line per case: {"case", "code", "details"}
("OK" when the call went through).

usage: tls_refusals.py PROTOS_DIR STUB_DIR PS_ADDR CASES_JSON
CASES_JSON: a list of {"case", "ca", "cert", "key"}; "cert" and "key" may be null (no client
certificate). "ca" is the CA the client trusts for the server's certificate.
"""
import json
import sys

from admin_stubs import load_admin_stubs

protos, stubs, addr, cases = sys.argv[1:5]
load_admin_stubs(protos, stubs)

import grpc  # noqa: E402
from tessera.v1 import admin_pb2, admin_pb2_grpc  # noqa: E402


def read(path):
    if path is None:
        return None
    with open(path, 'rb') as f:
        return f.read()


for c in json.loads(cases):
    creds = grpc.ssl_channel_credentials(root_certificates=read(c['ca']), private_key=read(c['key']),
                                         certificate_chain=read(c['cert']))
    # The PS's certificate names localhost; the address is 127.0.0.1.
    channel = grpc.secure_channel(addr, creds, options=[('grpc.ssl_target_name_override', 'localhost')])
    stub = admin_pb2_grpc.PsAdminStub(channel)
    try:
        stub.DropTable(admin_pb2.DropTableRequest(name='emb'), timeout=5)
        print(json.dumps({'case': c['case'], 'code': 'OK', 'details': ''}))
    except grpc.RpcError as e:
        print(json.dumps({'case': c['case'], 'code': e.code().name, 'details': e.details()}))
    channel.close()
