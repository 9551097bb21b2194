"""Your own search space, end to end: Hugging Face GPT-2s of different sizes, built here, trained
briefly for a ground truth, their proxy inputs gathered at initialisation with
``lpzero.torch.gather`` into a folder of inputs files, then ranked by every stdlib proxy, in Python
and (with ``--lpzero-bin``) by ``lpzero rank --inputs`` on the same folder, and the two compared.

    python examples/own_models.py --text ../../shared/data/corpus/wikitext-2-valid.txt --out runs/own
    python examples/own_models.py --out runs/own --lpzero-bin ../target/release/lpzero

The models read bytes (a 256-token vocabulary), so nothing is downloaded. The ground truth is the
validation loss (nats per byte) after ``--steps`` AdamW steps; the proxies see only the untrained
models, as zero-cost proxies do. A rerun keeps the models already trained and gathered.
"""

import argparse
import csv
import itertools
import json
import math
import os
import pathlib
import random
import subprocess
import sys
import time

import torch
import transformers

import lpzero
import lpzero.torch as lt

VOCAB = 256


def space(n, seed):
    """`n` distinct GPT-2 configurations (layers, width, heads, FFN width), drawn with `seed`."""
    every = [
        (layers, d, heads, mult * d)
        for layers, d, heads, mult in itertools.product([1, 2, 3, 4], [32, 64, 96, 128], [2, 4], [2, 4])
        if d % heads == 0
    ]
    return random.Random(seed).sample(every, n)


def build(layers, d, heads, inner, seq):
    cfg = transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=seq, n_embd=d, n_layer=layers, n_head=heads, n_inner=inner, activation_function="gelu_new",
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0,
    )
    cfg._attn_implementation = "eager"
    return transformers.GPT2LMHeadModel(cfg)


def batches(data, batch, seq, generator):
    """Random windows of the byte stream: (ids, next bytes)."""
    starts = torch.randint(0, len(data) - seq - 1, (batch,), generator=generator)
    x = torch.stack([data[s : s + seq] for s in starts])
    y = torch.stack([data[s + 1 : s + seq + 1] for s in starts])
    return x, y


def lm_loss(targets):
    def loss(out, batch):
        return torch.nn.functional.cross_entropy(out.logits.reshape(-1, VOCAB), targets.reshape(-1))

    return loss


def train_and_validate(model, train, valid, steps, seq, seed):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    model.train()
    for _ in range(steps):
        x, y = batches(train, 16, seq, g)
        loss = lm_loss(y)(model(input_ids=x), None)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    vg = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        losses = [float(lm_loss(y)(model(input_ids=x), None)) for x, y in (batches(valid, 16, seq, vg) for _ in range(16))]
    return sum(losses) / len(losses)


def main():
    here = pathlib.Path(__file__).resolve()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--text", default=str(here.parents[3] / "shared" / "data" / "corpus" / "wikitext-2-valid.txt"), help="training text (default: the shared WikiText-2 sample, else this repository's README)")
    ap.add_argument("--out", required=True, help="folder for the inputs files and truth.csv")
    ap.add_argument("--archs", type=int, default=24)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lpzero-bin", help="also rank with this `lpzero` command line and compare")
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    text_path = pathlib.Path(args.text)
    if not text_path.exists():
        text_path = here.parents[2] / "README.md"
    data = torch.tensor(list(text_path.read_bytes()), dtype=torch.long)
    cut = int(len(data) * 0.9)
    train, valid = data[:cut], data[cut:]
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows_path = out / "truth.csv"
    done = {}
    if rows_path.exists():
        with open(rows_path) as f:
            done = {r["id"]: r for r in csv.DictReader(f)}
    print(f"{args.archs} GPT-2s on {text_path.name} ({len(data)} bytes), {args.steps} steps each, into {out}", file=sys.stderr)
    rows = []
    for k, (layers, d, heads, inner) in enumerate(space(args.archs, args.seed)):
        arch = f"gpt2_L{layers}_d{d}_h{heads}_f{inner}"
        path = out / f"{arch}.safetensors"
        if arch in done and path.exists():
            rows.append(done[arch])
            continue
        start = time.time()
        torch.manual_seed(args.seed * 1000 + k)
        model = build(layers, d, heads, inner, args.seq)
        x, y = batches(train, 4, args.seq, torch.Generator().manual_seed(args.seed))
        inputs = lt.gather(model, {"input_ids": x}, lm_loss(y), arch=arch, seed=args.seed, family="hf-gpt2-bytes")
        inputs.save(path)
        valid_loss = train_and_validate(model, train, valid, args.steps, args.seq, args.seed + k)
        params = sum(p.numel() for p in model.parameters())
        rows.append({"id": arch, "valid_loss": repr(valid_loss), "params": str(params), "layers": str(layers)})
        with open(rows_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["id", "valid_loss", "params", "layers"])
            w.writeheader()
            w.writerows(rows)
        print(f"  {k + 1}/{args.archs} {arch}: {params} parameters, validation loss {valid_loss:.4f} ({time.time() - start:.1f} s)", file=sys.stderr)

    proxies = list(lpzero.stdlib().values())
    report = lpzero.rank(proxies, out, truth_column="valid_loss", lower_is_better=True)
    print(f"\n{report['n'] if 'n' in report else len(rows)} architectures; Spearman ρ / Kendall τ with −validation loss")
    for p in report["proxies"]:
        print(f"  {p['proxy']:<22} {p['spearman']:+.3f} {p['kendall']:+.3f}")
    for b in report["baselines"]:
        print(f"  {b['baseline'] + ' (baseline)':<22} {b['spearman']:+.3f} {b['kendall']:+.3f}")
    if args.lpzero_bin:
        cmd = [args.lpzero_bin, "rank", "--inputs", str(out), "--truth-column", "valid_loss", "--lower-is-better", "--stdlib", "--format", "json"]
        cli = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        same = all(
            a["proxy"] == b["proxy"] and a["spearman"] == b["spearman"] and a["kendall"] == b["kendall"] and a["scores"] == b["scores"]
            for a, b in zip(report["proxies"], cli["proxies"])
        ) and len(report["proxies"]) == len(cli["proxies"])
        same_base = [(b["spearman"], b["kendall"]) for b in report["baselines"]] == [(b["spearman"], b["kendall"]) for b in cli["baselines"]]
        print(f"\n`{' '.join(cmd[1:])}`: {'the same' if same and same_base else 'DIFFERENT'} numbers (every proxy's scores, ρ and τ, and the baselines)")
        if not (same and same_base):
            sys.exit(1)


if __name__ == "__main__":
    main()
