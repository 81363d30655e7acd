#!/usr/bin/python3
"""bench/reference_forward.py: the Python reference for bench_forward_throughput.

A plain eager PyTorch forward pass of the same GPT-2-small shape (12 layers, d_model 768, 12 heads,
d_mlp 3072, vocab 50257; random weights, TransformerLens' processed form: LNPre, folded and centred
weights), written the way TransformerLens v1.14 computes it (einsum attention, gelu_new as TL writes
it, LNPre with an explicit scale) and caching activations the way run_with_cache does:

  py_cacheall   every hook point cached, whole model including the unembedding
                (model.run_with_cache(tokens), TL's default)
  py_filtered   only blocks.{9,10,11}.mlp.hook_post cached, still the whole model
                (run_with_cache(tokens, names_filter=...), what a scan over TL typically does)

Usage: /usr/bin/python3 bench/reference_forward.py [FILTER] [SECONDS]
Needs Debian's python3-torch (apt-get install python3-torch). Prints one line per configuration:
  forward_tokens_per_s <mode>_<dtype>_T<T>_B<B> <tokens/s>

Scan mode (the baseline of bench_scan_throughput, which writes TOKENS and runs this alternately with
its own scan): /usr/bin/python3 bench/reference_forward.py --scan TOKENS [DTYPE]
  TOKENS: one document per line, its token ids (BOS first) separated by spaces. Runs the scan as a
  TransformerLens user writes it: one document per forward pass (batch 1), the whole model to the
  logits, hook_post of layers 9-11 cached (names_filter), then each document's max over positions
  1.. of neurons 0, 97, ..., 19 * 97 of each layer, kept in a top-30 per neuron. Prints
  "scan_tokens_per_s <wall> cpu_s=<process CPU seconds> wall_s=<seconds>".
"""
import math
import os
import sys
import time

import torch

D, H, DH, M, V, L, NCTX, EPS = 768, 12, 64, 3072, 50257, 12, 1024, 1e-5
CAPTURE = {f"blocks.{l}.mlp.hook_post" for l in (9, 10, 11)}


def random_weights(dtype, seed=1234):
    g = torch.Generator().manual_seed(seed)
    n = lambda *shape: (torch.randn(*shape, generator=g) * 0.02).to(dtype)
    z = lambda *shape: torch.zeros(*shape, dtype=dtype)
    w = {"W_E": n(V, D), "W_pos": n(NCTX, D), "W_U": n(D, V), "b_U": z(V)}
    for l in range(L):
        w[l] = dict(W_Q=n(H, D, DH), W_K=n(H, D, DH), W_V=n(H, D, DH), W_O=n(H, DH, D),
                    b_Q=z(H, DH), b_K=z(H, DH), b_V=z(H, DH), b_O=z(D),
                    W_in=n(D, M), b_in=z(M), W_out=n(M, D), b_out=z(D))
    return w


def gelu_new(x):  # as transformer_lens.utils.gelu_new
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def forward(w, tokens, cache_all):
    cache = {}

    def hook(name, x):
        if cache_all or name in CAPTURE:
            cache[name] = x
        return x

    def ln_pre(x, prefix):  # TL LayerNormPre
        x = x - x.mean(-1, keepdim=True)
        scale = hook(prefix + ".hook_scale", (x.pow(2).mean(-1, keepdim=True) + EPS).sqrt())
        return hook(prefix + ".hook_normalized", x / scale)

    B, T = tokens.shape
    resid = hook("hook_embed", w["W_E"][tokens]) + hook("hook_pos_embed", w["W_pos"][:T].unsqueeze(0).expand(B, T, D))
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for l in range(L):
        p, W = f"blocks.{l}.", w[l]
        resid = hook(p + "hook_resid_pre", resid)
        x = ln_pre(resid, p + "ln1")
        q = hook(p + "attn.hook_q", torch.einsum("bpd,hde->bphe", x, W["W_Q"]) + W["b_Q"])
        k = hook(p + "attn.hook_k", torch.einsum("bpd,hde->bphe", x, W["W_K"]) + W["b_K"])
        v = hook(p + "attn.hook_v", torch.einsum("bpd,hde->bphe", x, W["W_V"]) + W["b_V"])
        scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(DH)
        scores = hook(p + "attn.hook_attn_scores", scores.masked_fill(mask, float("-inf")))
        pattern = hook(p + "attn.hook_pattern", torch.softmax(scores, dim=-1))
        z = hook(p + "attn.hook_z", torch.einsum("bkhe,bhqk->bqhe", v, pattern))
        attn_out = hook(p + "hook_attn_out", torch.einsum("bqhe,hed->bqd", z, W["W_O"]) + W["b_O"])
        resid = hook(p + "hook_resid_mid", resid + attn_out)
        x = ln_pre(resid, p + "ln2")
        pre = hook(p + "mlp.hook_pre", x @ W["W_in"] + W["b_in"])
        post = hook(p + "mlp.hook_post", gelu_new(pre))
        mlp_out = hook(p + "hook_mlp_out", post @ W["W_out"] + W["b_out"])
        resid = hook(p + "hook_resid_post", resid + mlp_out)
    x = ln_pre(resid, "ln_final")
    logits = x @ w["W_U"] + w["b_U"]
    return logits, cache


SCAN_NEURONS = [n * 97 for n in range(20)]


def scan(path, dtype_name):
    dtype = torch.bfloat16 if dtype_name == "bf16" else torch.float32
    docs = [torch.tensor([int(t) for t in line.split()]) for line in open(path) if line.strip()]
    w = random_weights(dtype)
    index = torch.tensor(SCAN_NEURONS)
    with torch.inference_mode():
        forward(w, docs[0][:8].unsqueeze(0), False)  # warm-up
        tokens, wall, cpu = 0, time.perf_counter(), time.process_time()
        rows = []
        for doc in docs:
            logits, cache = forward(w, doc.unsqueeze(0), False)
            maxima = [cache[f"blocks.{l}.mlp.hook_post"][0, 1:, index].float().max(0).values for l in (9, 10, 11)]
            rows.append(torch.cat(maxima))
            tokens += doc.numel()
            del logits, cache
        top = torch.stack(rows).topk(min(30, len(rows)), dim=0)  # the top-N per neuron
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    del top
    print(f"scan_tokens_per_s {tokens / wall:.1f} cpu_s={cpu:.3f} wall_s={wall:.3f} tokens={tokens}", flush=True)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--scan":
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
        torch.set_grad_enabled(False)
        scan(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "fp32")
        return
    flt = sys.argv[1] if len(sys.argv) > 1 else ""
    budget = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    torch.set_num_threads(os.cpu_count() or 1)
    torch.set_grad_enabled(False)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}", file=sys.stderr)
    for dtype_name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        names = [f"{mode}_{dtype_name}_T{T}_B{B}" for mode in ("py_cacheall", "py_filtered")
                 for T in (128, 1024) for B in (1, 8)]
        if flt and not any(flt in n for n in names):
            continue
        w = random_weights(dtype)
        for mode in ("py_cacheall", "py_filtered"):
            for T in (128, 1024):
                for B in (1, 8):
                    name = f"{mode}_{dtype_name}_T{T}_B{B}"
                    if flt and flt not in name:
                        continue
                    if mode == "py_cacheall" and T * B > 4096:
                        # every attention pattern and score cached: ~10 GB at T=1024, B=8
                        print(f"forward_tokens_per_s {name} skipped (cache too large)", flush=True)
                        continue
                    tokens = torch.randint(0, V, (B, T))
                    with torch.inference_mode():
                        forward(w, tokens, mode == "py_cacheall")  # warm-up
                        best, start, runs = 1e30, time.perf_counter(), 0
                        while True:
                            t0 = time.perf_counter()
                            logits, cache = forward(w, tokens, mode == "py_cacheall")
                            del logits, cache
                            best = min(best, time.perf_counter() - t0)
                            runs += 1
                            if time.perf_counter() - start >= budget:
                                break
                    print(f"forward_tokens_per_s {name} {B * T / best:.1f} runs={runs}", flush=True)


if __name__ == "__main__":
    main()
