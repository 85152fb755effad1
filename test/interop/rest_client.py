"""An independent REST client: Python's urllib, no Tessera code.

Used by the serving tests (issue 14): sends each request of a JSON list read from stdin to the
server at BASE_URL and prints one JSON line per request: {"status": HTTP status, "body": the
parsed JSON answer, or its text}.

usage: rest_client.py BASE_URL < requests.json
Each request: {"method": "GET"|"POST", "path": "/v1/...", and one of
  "json": a value sent as json.dumps(value) -- the string "__NaN__" anywhere in it becomes
          float('nan'), which json.dumps writes as the bare token NaN, as Python clients do;
  "raw":  a string sent as it is;
  "repeat_bytes": N -- a body of N bytes of "x" (size limits)}
"""
import json
import sys
import urllib.error
import urllib.request


def nan_marked(v):
    if v == '__NaN__':
        return float('nan')
    if isinstance(v, list):
        return [nan_marked(x) for x in v]
    if isinstance(v, dict):
        return {k: nan_marked(x) for k, x in v.items()}
    return v


def send(base, r):
    data = None
    if 'json' in r:
        data = json.dumps(nan_marked(r['json'])).encode()
    elif 'raw' in r:
        data = r['raw'].encode()
    elif 'repeat_bytes' in r:
        data = b'x' * r['repeat_bytes']
    req = urllib.request.Request(base + r['path'], data=data, method=r['method'],
                                 headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            status, text = res.status, res.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    except (ConnectionError, urllib.error.URLError) as e:
        # A server may close the connection after refusing a body it did not read (413).
        status, text = -1, str(e)
    try:
        body = json.loads(text)
    except ValueError:
        body = text
    return {'status': status, 'body': body}


base = sys.argv[1]
for r in json.load(sys.stdin):
    print(json.dumps(send(base, r)), flush=True)
