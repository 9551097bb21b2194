#!/usr/bin/env python3
"""lpzero's gather against PyTorch eager on the same work: one GPT-2 (the benchmark's GPT-2 flex
model with one embedding cluster, which Hugging Face's GPT2LMHeadModel also computes; see
python/tests/test_torch.py::hf_twin), one minibatch, a forward and a backward pass with the
gradients of the linear weights (the inputs `G` and `W`, what `snip` reads).

    scripts/compare-torch.py LPZERO_BINARY [--layers 6 --d 512 --heads 8 --inner 2048
                             --batch 8 --seq-len 192 --rounds 3 --threads 2 --gather-jobs N]

Both sides run in fresh processes, interleaved, `--threads` threads each. lpzero: `rank
--no-cache -e 'sum(abs(G * W))'` on a one-architecture benchmark folder written here, its
`--archs` architectures of that shape gathered as many at a time as lpzero chooses (or
`--gather-jobs`), the whole process timed (parameter initialisation, forward, backward, reading out `G`
and `W`, tokenising, scoring). PyTorch: the same steps for each architecture in its own child
process (building the model, a forward with the loss, a backward, copying the weights and their
gradients out), one after another, timed inside it (so its start-up is not counted). Needs torch and
transformers (`pip install "./python[torch]"`).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CONFIG = """adaptive: true
cutoffs: []
d_embed: {d}
d_inner: {inner_list}
d_model: {d}
div_val: 1
dropatt: 0.0
dropout: 0.1
n_head: {heads_list}
n_layer: {layers}
n_token: 50257
proj_init_std: 0.01
tgt_len: {seq_len}
tie_projs: [false]
tie_weight: true
weight_init_std: 0.02
"""

TORCH_CHILD = r"""
import json, sys, time
import torch, transformers
a = json.loads(sys.argv[1])
torch.set_num_threads(a["threads"])
torch.manual_seed(0)
t0 = time.perf_counter()
cfg = transformers.GPT2Config(vocab_size=50257, n_positions=a["seq_len"], n_embd=a["d"], n_layer=a["layers"],
    n_head=a["heads"], n_inner=a["inner"], activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0,
    attn_pdrop=0.0, layer_norm_epsilon=1e-5)
cfg._attn_implementation = "eager"
model = transformers.GPT2LMHeadModel(cfg)
t1 = time.perf_counter()
ids = torch.randint(0, 50257, (a["batch"], a["seq_len"] + 1))
out = model(input_ids=ids[:, :-1])
loss = torch.nn.functional.cross_entropy(out.logits.reshape(-1, 50257), ids[:, 1:].reshape(-1))
t2 = time.perf_counter()
loss.backward()
t3 = time.perf_counter()
linear = [m for m in model.modules() if isinstance(m, transformers.pytorch_utils.Conv1D)]
kept = [(m.weight.detach().numpy().copy(), m.weight.grad.numpy().copy()) for m in linear]
t4 = time.perf_counter()
print(json.dumps({"init": t1 - t0, "forward": t2 - t1, "backward": t3 - t2, "extract": t4 - t3, "total": t4 - t0}))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lpzero")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--inner", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=192)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--archs", type=int, default=4, help="architectures per round (the same shape, each its own initialisation)")
    ap.add_argument("--corpus", help="lpzero's text (default: its built-in sample)")
    ap.add_argument("--gather-jobs", type=int, help="lpzero's architectures gathered at once (LPZERO_GATHER_JOBS; default: lpzero's own choice)")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="lpzero-vs-torch-")
    bench = os.path.join(work, "bench")
    for k in range(a.archs):
        os.makedirs(os.path.join(bench, f"config_{k}", "j0"))
        with open(os.path.join(bench, f"config_{k}", "j0", "model_config.yaml"), "w") as f:
            f.write(CONFIG.format(d=a.d, inner_list=[a.inner] * a.layers, heads_list=[a.heads] * a.layers, layers=a.layers, seq_len=a.seq_len))
    with open(os.path.join(bench, "ppl_summary.yaml"), "w") as f:
        f.write("".join(f"config_{k}_j0:\n  valid_ppl: {80.5 + k}\n" for k in range(a.archs)))
    # lpzero gathers as many architectures at once as it chooses (or `--gather-jobs`), its ops on
    # `--threads` threads; PyTorch runs them one after another with `--threads` threads inside each op.
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads), OMP_NUM_THREADS=str(a.threads))
    env.pop("LPZERO_GATHER_JOBS", None)
    if a.gather_jobs is not None:
        env["LPZERO_GATHER_JOBS"] = str(a.gather_jobs)
    args = {"layers": a.layers, "d": a.d, "heads": a.heads, "inner": a.inner, "batch": a.batch, "seq_len": a.seq_len, "threads": a.threads}
    print(f"GPT-2: {a.layers} layers, d_model {a.d}, {a.heads} heads, FFN {a.inner}, vocabulary 50257; minibatch {a.batch} x {a.seq_len}; {a.threads} threads")
    rows = []
    for r in range(a.rounds):
        cmd = [a.lpzero, "rank", "--bench", bench, "--family", "gpt2", "-e", "sum(abs(G * W))", "--no-cache", "--batch", str(a.batch), "--seq-len", str(a.seq_len), "--format", "json"]
        if a.corpus:
            cmd += ["--corpus", a.corpus]
        t = time.perf_counter()
        doc = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)
        lp_proc = time.perf_counter() - t
        t = time.perf_counter()
        pts = [json.loads(subprocess.run([sys.executable, "-c", TORCH_CHILD, json.dumps(args)], env=env, check=True, capture_output=True, text=True).stdout) for _ in range(a.archs)]
        pt_proc = time.perf_counter() - t
        pt_total = sum(p["total"] for p in pts)
        pt_fb = sum(p["forward"] + p["backward"] for p in pts)
        jobs = env.get("LPZERO_GATHER_JOBS", "lpzero's default")
        rows.append((lp_proc / a.archs, pt_total / a.archs, pt_fb / a.archs, pt_proc / a.archs))
        print(f"round {r + 1}, per architecture: lpzero {lp_proc / a.archs:.2f} s (whole `rank` process; gathers {doc['gather_seconds'] / a.archs:.2f} s each, {jobs} at once); "
              f"PyTorch init+forward+backward+copy {pt_total / a.archs:.2f} s (forward+backward {pt_fb / a.archs:.2f} s; process {pt_proc / a.archs:.2f} s)")
    best = lambda i: min(row[i] for row in rows)
    print(f"best of {a.rounds}, per architecture: lpzero {best(0):.2f} s, PyTorch {best(1):.2f} s (forward+backward alone {best(2):.2f} s, "
          f"whole processes {best(3):.2f} s): PyTorch / lpzero = {best(1) / best(0):.2f} (forward+backward alone: {best(2) / best(0):.2f})")


if __name__ == "__main__":
    main()
