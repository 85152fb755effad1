"""The PyTorch peer of bench:serve: the forward pass of a DeepFM of the same shapes as the served
model (26 categorical fields sharing one embedding table of dim 16, 13 dense inputs, FM first and
second order, MLP 400-400-1), at the batch sizes the bench drives over HTTP. Debian's
python3-torch, no autograd, `threads` intra-op threads. Embedding rows are gathered from the
table inside the timed call, as a server would.

usage: torch_serve_forward.py THREADS SECONDS_PER_BATCH BATCH[,BATCH...]
Prints one JSON line: {"threads", "torch", "batches": {"1": {"preds_per_s", "p50_ms", "p99_ms", "calls"}, ...}}
"""
import json
import sys
import time

import torch

FIELDS, DIM, DENSE, VOCAB, HIDDEN = 26, 16, 13, 52_000, (400, 400)


class DeepFM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(VOCAB, DIM)
        self.linear = torch.nn.Embedding(VOCAB, 1)
        widths = [FIELDS * DIM + DENSE, *HIDDEN]
        layers = []
        for a, b in zip(widths, widths[1:]):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        self.mlp = torch.nn.Sequential(*layers, torch.nn.Linear(widths[-1], 1))
        self.dense_w = torch.nn.Linear(DENSE, 1)

    def forward(self, ids, dense):
        e = self.emb(ids)                                   # [B, F, D]
        first = self.linear(ids).sum(dim=(1, 2)) + self.dense_w(dense).squeeze(1)
        s = e.sum(dim=1)
        second = 0.5 * (s * s - (e * e).sum(dim=1)).sum(dim=1)
        deep = self.mlp(torch.cat([e.flatten(1), dense], dim=1)).squeeze(1)
        return torch.sigmoid(first + second + deep)


def main():
    threads, seconds = int(sys.argv[1]), float(sys.argv[2])
    batches = [int(b) for b in sys.argv[3].split(',')]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = DeepFM().eval()
    out = {'threads': threads, 'torch': torch.__version__, 'batches': {}}
    with torch.no_grad():
        for b in batches:
            ids = torch.randint(0, VOCAB, (b, FIELDS))
            dense = torch.rand(b, DENSE)
            for _ in range(20):
                model(ids, dense)
            times = []
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                model(ids, dense)
                times.append(time.perf_counter() - t0)
            times.sort()
            total = sum(times)
            out['batches'][str(b)] = {
                'preds_per_s': b * len(times) / total, 'calls': len(times),
                'p50_ms': 1000 * times[len(times) // 2], 'p99_ms': 1000 * times[min(len(times) - 1, int(len(times) * 0.99))],
            }
    print(json.dumps(out))


main()
