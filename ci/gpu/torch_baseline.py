#!/usr/bin/env python3
"""PyTorch baseline for the GPU fused-MoE benchmark (ci/gpu/bench.sh).

The straightforward way to run an MXFP4 MoE layer in PyTorch: dequantise the routed experts'
weights to bf16 on the GPU (E2M1 table lookup times the E8M0 block scale), then per expert
torch.matmul for gate/up, the GPT-OSS SwiGLU (limit 7, alpha 1.702, (up + 1)), torch.matmul for
down, and the routing-weighted sum. Same layer shape, token counts and routing distribution
(uniform random top-k) as kernels/hip/bench/gpu_moe_bench.cpp; timed with CUDA events, median
of the timed runs, one JSON object per token count on stdout (and appended to --json).
"""
import argparse
import json
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--experts", type=int, default=128)
    p.add_argument("--hidden", type=int, default=2880)
    p.add_argument("--intermediate", type=int, default=2880)
    p.add_argument("--topk", type=int, default=4)
    p.add_argument("--tokens", default="1,4,16,512,4096", help="comma-separated token counts")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--routings", type=int, default=8, help="random routings cycled through")
    p.add_argument("--json", help="append one JSON line per token count to this file")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args()


def main():
    args = parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("torch_baseline.py: PyTorch is not installed")
    if not torch.cuda.is_available():
        sys.exit("torch_baseline.py: no CUDA/ROCm GPU visible to PyTorch")
    dev = torch.device("cuda")
    gen = torch.Generator(device=dev).manual_seed(args.seed)
    E, H, I, k = args.experts, args.hidden, args.intermediate, args.topk
    # Checkpoint layout (LAYOUTS.md §2): w13 [E, 2I, H/2] rows g0,u0,g1,u1,...; w2 [E, H, I/2].
    w13 = torch.randint(0, 256, (E, 2 * I, H // 2), dtype=torch.uint8, device=dev, generator=gen)
    s13 = torch.randint(119, 123, (E, 2 * I, H // 32), dtype=torch.uint8, device=dev, generator=gen)
    w2 = torch.randint(0, 256, (E, H, I // 2), dtype=torch.uint8, device=dev, generator=gen)
    s2 = torch.randint(119, 123, (E, H, I // 32), dtype=torch.uint8, device=dev, generator=gen)
    b13 = torch.randn(E, 2 * I, device=dev, generator=gen, dtype=torch.float32) * 0.1
    b2 = torch.randn(E, H, device=dev, generator=gen, dtype=torch.float32) * 0.1
    e2m1 = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0],
                        dtype=torch.float32, device=dev)
    expert_bytes = (w13[0].numel() + s13[0].numel() + w2[0].numel() + s2[0].numel())

    def dequant(blocks, scales):
        # blocks [n, rows, K/2] (low nibble = even element), scales [n, rows, K/32] -> bf16 [n, rows, K]
        low = (blocks & 0x0F).long()
        high = (blocks >> 4).long()
        codes = torch.stack((low, high), dim=-1).flatten(-2)  # [n, rows, K]
        values = e2m1[codes].unflatten(-1, (-1, 32))
        scale = torch.exp2(scales.float() - 127.0).unsqueeze(-1)
        return (values * scale).flatten(-2).to(torch.bfloat16)

    def layer(x, ids, weights):
        used = torch.unique(ids)
        W13 = dequant(w13[used], s13[used])  # [u, 2I, H]
        W2 = dequant(w2[used], s2[used])  # [u, H, I]
        y = torch.zeros(x.shape[0], H, dtype=torch.float32, device=dev)
        for j, e in enumerate(used.tolist()):
            tok, slot = torch.nonzero(ids == e, as_tuple=True)
            h = torch.matmul(x[tok], W13[j].t()).float() + b13[e]
            gate, up = h[:, 0::2], h[:, 1::2]
            gate = gate.clamp(max=7.0)
            up = up.clamp(-7.0, 7.0)
            a = ((up + 1.0) * gate * torch.sigmoid(1.702 * gate)).to(torch.bfloat16)
            o = torch.matmul(a, W2[j].t()).float() + b2[e]
            y.index_add_(0, tok, o * weights[tok, slot].unsqueeze(1))
        return y.to(torch.bfloat16), used.numel()

    device_name = torch.cuda.get_device_name(dev)
    for T in [int(t) for t in args.tokens.split(",")]:
        x = (torch.randn(T, H, device=dev, generator=gen) * 0.5).to(torch.bfloat16)
        routings = []
        for _ in range(args.routings):
            ids = torch.argsort(torch.rand(T, E, device=dev, generator=gen), dim=1)[:, :k]
            w = torch.softmax(torch.randn(T, k, device=dev, generator=gen), dim=1)
            routings.append((ids, w))
        for i in range(args.warmup):
            layer(x, *routings[i % len(routings)])
        torch.cuda.synchronize()
        times, bandwidth, distinct = [], [], []
        for i in range(args.iterations):
            ids, w = routings[i % len(routings)]
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            _, used = layer(x, ids, w)
            stop.record()
            torch.cuda.synchronize()
            ms = start.elapsed_time(stop)
            times.append(ms * 1e-3)
            distinct.append(used)
            bandwidth.append(used * expert_bytes / (ms * 1e-3))
        times.sort()
        bandwidth.sort()
        row = {"impl": "torch", "device": device_name, "tokens": T, "experts": E, "hidden": H,
               "intermediate": I, "topk": k, "median_us": times[len(times) // 2] * 1e6, "min_us": times[0] * 1e6,
               "distinct_experts": sum(distinct) / len(distinct),
               "bandwidth_tbps": bandwidth[len(bandwidth) // 2] / 1e12}
        print(json.dumps(row), flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
