#!/usr/bin/env python3
"""The `torch` section of scripts/gpu-check.sh (issue #20): DeepFM's training step in PyTorch on the
same GPU, through the interface Tessera's step has, so that the two figures compare like for like.

Per step: the batch's embedding rows, first-order weights, numeric features and labels arrive in
host memory (pinned); forward and backward run on the GPU; the gradients of the embedding rows,
of the first-order weights and of every dense parameter, the probabilities and the loss go back
to host memory (pinned), and the step ends when they are there. The dense parameters stay on the
GPU, as Tessera's do between dense syncs. Shape: 26 fields x 16, 13 numeric features, MLP
429-400-400-1 (--hidden), mean log loss; float32 (TF32 off, torch's default for matmul).

    python3 bench/torch-gpu-step.py [--batches 4096,16384] [--steps 20] [--warmup 3] [--max-seconds 40] [--hidden 400,400]

Prints one JSON line: {"section": "torch", "ok": ..., "results": [{"batch", "samples_per_s", "ms_per_step"}]}.
Without CUDA it runs on the CPU and says so (device "cpu").
"""
import argparse
import json
import sys
import time

FIELDS, DIM, NUMERIC = 26, 16, 13


def make_params(torch, dev, hidden, seed=1):
    gen = torch.Generator().manual_seed(seed)
    widths = [FIELDS * DIM + NUMERIC] + hidden
    params = []
    for fan_in, fan_out in zip(widths, widths[1:] + [1]):
        limit = (6.0 / (fan_in + fan_out)) ** 0.5
        params.append(((torch.rand(fan_in, fan_out, generator=gen) * 2 - 1) * limit).to(dev).requires_grad_())
        params.append(torch.zeros(fan_out, device=dev, requires_grad=True))
    return params


def host_buffers(torch, batch, n_params, pinned):
    def empty(*shape):
        return torch.empty(*shape, pin_memory=pinned)
    gen = torch.Generator().manual_seed(batch)
    inputs = {
        "emb": (torch.rand(batch, FIELDS, DIM, generator=gen) - 0.5) * 0.1,
        "lin": (torch.rand(batch, FIELDS, generator=gen) - 0.5) * 0.1,
        "dense": (torch.rand(batch, NUMERIC, generator=gen) - 0.5) * 2,
        "labels": (torch.arange(batch) % 4 == 0).float(),
    }
    if pinned:
        inputs = {k: v.pin_memory() for k, v in inputs.items()}
    outputs = {"emb_grad": empty(batch, FIELDS, DIM), "lin_grad": empty(batch, FIELDS), "dense_grad": empty(n_params),
               "probs": empty(batch), "loss": empty(1)}
    return inputs, outputs


def step(torch, dev, params, inp, out):
    """One training step from host inputs to host gradients."""
    f = torch.nn.functional
    emb = inp["emb"].to(dev, non_blocking=True).requires_grad_()
    lin = inp["lin"].to(dev, non_blocking=True).requires_grad_()
    dense = inp["dense"].to(dev, non_blocking=True)
    labels = inp["labels"].to(dev, non_blocking=True)
    batch = emb.shape[0]
    h = torch.cat([emb.reshape(batch, -1), dense], 1)
    for w, b in zip(params[0:-2:2], params[1:-2:2]):
        h = f.relu(torch.addmm(b, h, w))
    deep = torch.addmm(params[-1], h, params[-2]).squeeze(1)
    s = emb.sum(1)
    fm = 0.5 * (s * s - (emb * emb).sum(1)).sum(1)
    logit = deep + lin.sum(1) + fm
    loss = f.binary_cross_entropy_with_logits(logit, labels)
    grads = torch.autograd.grad(loss, [emb, lin] + params)
    out["emb_grad"].copy_(grads[0], non_blocking=True)
    out["lin_grad"].copy_(grads[1], non_blocking=True)
    out["dense_grad"].copy_(torch.cat([g.reshape(-1) for g in grads[2:]]), non_blocking=True)
    out["probs"].copy_(torch.sigmoid(logit.detach()), non_blocking=True)
    out["loss"].copy_(loss.detach().reshape(1), non_blocking=True)
    if dev.type == "cuda":
        torch.cuda.synchronize()


def measure(torch, dev, hidden, batch, steps, warmup, max_seconds):
    params = make_params(torch, dev, hidden)
    n_params = sum(p.numel() for p in params)
    inp, out = host_buffers(torch, batch, n_params, dev.type == "cuda")
    for _ in range(warmup):
        step(torch, dev, params, inp, out)
    done, t0 = 0, time.perf_counter()
    while done < steps and time.perf_counter() - t0 < max_seconds:
        step(torch, dev, params, inp, out)
        done += 1
    secs = time.perf_counter() - t0
    return {"batch": batch, "samples_per_s": round(done * batch / secs), "ms_per_step": round(secs * 1000 / done, 3),
            "steps": done, "loss": float(out["loss"][0])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", default="4096,16384")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--max-seconds", type=float, default=40)
    ap.add_argument("--hidden", default="400,400")
    args = ap.parse_args()
    started = time.perf_counter()
    result = {"section": "torch"}
    try:
        import torch
    except Exception as err:  # noqa: BLE001 - any import failure means "no torch here"
        result.update(ok=False, error=f"import torch: {err}")
    else:
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        hidden = [int(x) for x in args.hidden.split(",")]
        results = [measure(torch, dev, hidden, int(b), args.steps, args.warmup, args.max_seconds) for b in args.batches.split(",")]
        for r in results:
            print(f"torch batch {r['batch']}: {r['samples_per_s']} samples/s ({r['ms_per_step']} ms)", file=sys.stderr)
        result.update(ok=True, torch=torch.__version__, device=torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
                      tf32=bool(torch.backends.cuda.matmul.allow_tf32), pinned=dev.type == "cuda", results=results)
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
