#!/usr/bin/python3
"""Plots and table of the XOR experiment (tools/lsigma_xor.sh): for each JSON of tools/xor_lsigma
given, the hidden layers' covariance matrices (|C_ij| as grey levels, each matrix scaled to its
own largest entry, its value printed) and their eigenvalue spectra (log scale), one row per seed;
and OUT/table.md: per lambda, how many seeds end with how many active units / dimensions.
Usage: xor_plot.py OUT A.json [B.json ...]  (standard library only)"""
import collections
import json
import math
import sys


def heatmap(c, x0, y0, size):
    n = len(c)
    top = max(abs(v) for row in c for v in row) or 1.0
    cell = size / n
    s = []
    for i in range(n):
        for j in range(n):
            g = int(255 * (1 - abs(c[i][j]) / top))
            s.append(f'<rect x="{x0 + j * cell:.1f}" y="{y0 + i * cell:.1f}" width="{cell:.1f}" height="{cell:.1f}" fill="rgb({g},{g},{g})" stroke="#ccc"/>')
    s.append(f'<text x="{x0}" y="{y0 + size + 12}" font-size="10">max |C| {top:.2g}</text>')
    return s


def spectrum(eig, x0, y0, w, h):
    s = [f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>']
    lo, hi = -12, 1
    for k, (layer, col) in enumerate(((eig[0], "#1f77b4"), (eig[1], "#d62728"))):
        pts = []
        for i, v in enumerate(layer):
            y = y0 + h * (1 - (min(max(math.log10(max(v, 1e-30)), lo), hi) - lo) / (hi - lo))
            pts.append(f"{x0 + 10 + i * (w - 20) / 3:.1f},{y:.1f}")
        s.append(f'<polyline fill="none" stroke="{col}" stroke-width="2" points="{" ".join(pts)}"/>')
    for e in (0, -4, -8, -12):
        y = y0 + h * (1 - (e - lo) / (hi - lo))
        s.append(f'<text x="{x0 - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end">1e{e}</text>')
    return s


def main():
    out, files = sys.argv[1], sys.argv[2:]
    lines = ["| lambda | seeds | accuracy 1.0 | active units layer 1 : seeds | layer 2 | dims (eigenvalues > 1% of largest) layer 1 | layer 2 |",
             "|---|---|---|---|---|---|---|"]
    for path in files:
        d = json.load(open(path))
        runs = d["runs"]
        lam = d["lambda"]
        W, row = 560, 120
        s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{40 + row * len(runs)}" font-family="sans-serif" font-size="11">',
             f'<rect width="100%" height="100%" fill="white"/>',
             f'<text x="10" y="16">XOR, lambda = {lam:g}: |C| of hidden layer 1, layer 2 (darker = larger), and their eigenvalues</text>',
             '<text x="330" y="32" fill="#1f77b4">layer 1</text><text x="390" y="32" fill="#d62728">layer 2</text>']
        for r, run in enumerate(runs):
            y = 40 + r * row
            s.append(f'<text x="10" y="{y + 45}">seed {run["seed"]}</text>')
            s += heatmap(run["cov"][0], 70, y, 80) + heatmap(run["cov"][1], 170, y, 80)
            s += spectrum(run["eigenvalues"], 310, y, 200, 90)
        s.append("</svg>")
        name = f"{out}/xor-lambda-{lam:g}.svg"
        open(name, "w").write("\n".join(s) + "\n")
        count = lambda k, field: ", ".join(f"{v}: {n}" for v, n in sorted(collections.Counter(x[field][k] for x in runs).items()))
        ok = sum(1 for x in runs if x["accuracy"] == 1.0)
        lines.append(f"| {lam:g} | {len(runs)} | {ok} | {count(0, 'active')} | {count(1, 'active')} | {count(0, 'dims')} | {count(1, 'dims')} |")
        print("wrote", name)
    text = ("XOR, 2 hidden layers of 4 logistic units. Cells 'v: n' = n seeds ended with v active units (variance over the 4 points\n"
            "above 1% of the layer's largest) or v dimensions (eigenvalues of C above 1% of the largest).\n\n" + "\n".join(lines) + "\n")
    open(f"{out}/table.md", "w").write(text)
    print(text)


if __name__ == "__main__":
    main()
