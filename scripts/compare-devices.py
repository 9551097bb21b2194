#!/usr/bin/env python3
"""Agreement between two `lpzero rank --out DIR` runs of the same architectures on two devices.

    scripts/compare-devices.py runs/rank-flex runs/rank-tch

For every proxy column of scores.csv present in both runs: the Spearman correlation of the two
devices' scores over the architectures valid on both, and the largest and median relative
difference |a - b| / max(|a|, |b|). Standard library only.
"""
import csv
import sys


def read(path):
    with open(f"{path}/scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {r["id"]: r for r in rows}, list(rows[0].keys()) if rows else []


def ranks(values):
    order = sorted(range(len(values)), key=lambda i: values[i])
    r = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0
        i = j + 1
    return r


def pearson(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / (sxx * syy) ** 0.5 if sxx > 0 and syy > 0 else float("nan")


def number(s):
    try:
        v = float(s)
        return v if v == v and abs(v) != float("inf") else None
    except (TypeError, ValueError):
        return None


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, cols_a = read(sys.argv[1])
    b, cols_b = read(sys.argv[2])
    ids = [i for i in a if i in b]
    skip = {"id", "truth", "ground_truth"}
    cols = [c for c in cols_a if c in cols_b and c not in skip]
    print(f"{len(ids)} architectures in both runs")
    print(f"{'column':<28} {'valid':>5} {'spearman':>9} {'max rel diff':>13} {'median rel diff':>16}")
    worst = 1.0
    for c in cols:
        pairs = [(number(a[i][c]), number(b[i][c])) for i in ids]
        pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
        if len(pairs) < 3:
            continue
        xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
        rho = pearson(ranks(xs), ranks(ys))
        rel = sorted(abs(x - y) / max(abs(x), abs(y)) if max(abs(x), abs(y)) > 0 else 0.0 for x, y in pairs)
        worst = min(worst, rho) if rho == rho else worst
        print(f"{c:<28} {len(pairs):>5} {rho:>9.5f} {rel[-1]:>13.2e} {rel[len(rel) // 2]:>16.2e}")
    print(f"lowest Spearman: {worst:.5f}")


if __name__ == "__main__":
    main()
