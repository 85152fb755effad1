"""An independent computation of sliced evaluation with scikit-learn.

Used by test/multiprocess/cli-eval-slices.test.ts (issue 14: `tessera eval --slice-by` must
report per-slice AUC, LogLoss and calibration that agree with sklearn.metrics over the same
per-row predictions, and grouped AUC that agrees with per-group roc_auc_score).

usage: slice_auc.py CRITEO_TSV PREDICTIONS_TSV SLICE_FIELDS GROUP_FIELD
CRITEO_TSV holds the evaluated rows (label, I1..I13, C1..C26), PREDICTIONS_TSV one
"p<TAB>label" line per row in the same order, SLICE_FIELDS a comma-separated list of field names.
Prints one JSON object: {"rows", "auc", "slices": {name: {"count", "auc", "logloss",
"calibration"}}, "gauc", "gauc_groups"}. Slices are named as Tessera names them: each field
alone and, with several fields, their combination, "FIELD=value[,FIELD2=value]", an empty cell
being "(missing)". An AUC that is undefined (one class) is null.
"""
import json
import sys
from collections import defaultdict

from sklearn.metrics import log_loss, roc_auc_score

data, predictions, slice_fields, group_field = sys.argv[1:5]
COLUMNS = ['label'] + ['I%d' % i for i in range(1, 14)] + ['C%d' % i for i in range(1, 27)]

rows = [dict(zip(COLUMNS, line.rstrip('\n').split('\t'))) for line in open(data) if line.strip()]
scored = [line.rstrip('\n').split('\t') for line in open(predictions) if line.strip()]
assert len(rows) == len(scored), (len(rows), len(scored))
p = [float(s[0]) for s in scored]
y = [int(s[1]) for s in scored]
assert all(int(r['label']) == y[i] for i, r in enumerate(rows)), 'labels of the two files differ'


def value(row, field):
    v = row[field]
    return v if v != '' else '(missing)'


def auc_or_none(labels, probs):
    return roc_auc_score(labels, probs) if 0 < sum(labels) < len(labels) else None


fields = [f for f in slice_fields.split(',') if f]
slicings = [[f] for f in fields] + ([fields] if len(fields) > 1 else [])
members = defaultdict(list)
for i, row in enumerate(rows):
    for s in slicings:
        members[','.join('%s=%s' % (f, value(row, f)) for f in s)].append(i)

slices = {}
for name, idx in members.items():
    ys = [y[i] for i in idx]
    ps = [p[i] for i in idx]
    slices[name] = {
        'count': len(idx),
        'auc': auc_or_none(ys, ps),
        'logloss': log_loss(ys, ps, labels=[0, 1]),
        'calibration': sum(ps) / sum(ys) if sum(ys) > 0 else None,
    }

groups = defaultdict(list)
for i, row in enumerate(rows):
    groups[value(row, group_field)].append(i)
num = den = used = 0
for idx in groups.values():
    a = auc_or_none([y[i] for i in idx], [p[i] for i in idx])
    if a is None:
        continue
    num += a * len(idx)
    den += len(idx)
    used += 1

print(json.dumps({'rows': len(rows), 'auc': roc_auc_score(y, p), 'slices': slices,
                  'gauc': num / den if den else None, 'gauc_groups': used}))
