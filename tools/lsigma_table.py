#!/usr/bin/python3
"""Table and plots of an L_Sigma sweep (tools/lsigma_sweep.sh): DIR/runs.csv -> DIR/table.md,
DIR/table.csv and one SVG per quantity against lambda (medians over the Omegas, bars from the
first to the third quartile). lambda = 0 (reg "none") is the common baseline of both curves and
is drawn left of the log axis. Needs only the standard library and numpy."""
import csv
import math
import sys

import numpy as np

QUANTITIES = [("mse", "MSE"), ("mapc", "MAPC"), ("mapc_active", "MAPC (active)"), ("cvr", "CVR"), ("tdv_units", "TdV units"),
              ("ud90_units", "UD90 units"), ("tdv", "TdV eig"), ("ud90", "UD90 eig"), ("active", "active units")]
REGS = [("lsigma", "L_Sigma", "#1f77b4"), ("l1", "L1", "#d62728")]


def load(path):
    rows = list(csv.DictReader(open(path)))
    groups = {}
    for r in rows:
        lam = float(r["lambda"])
        regs = ["lsigma", "l1"] if r["reg"] == "none" else [r["reg"]]
        for reg in regs:
            groups.setdefault((reg, lam), []).append(r)
    return groups


def stats(rows, q):
    v = np.array([float(r[q]) for r in rows])
    return np.median(v), np.percentile(v, 25), np.percentile(v, 75)


def table(groups, out):
    lams = sorted({lam for (_, lam) in groups})
    with open(out + "/table.csv", "w") as f:
        w = csv.writer(f)
        w.writerow(["reg", "lambda", "runs"] + [f"{q}_{s}" for q, _ in QUANTITIES for s in ("median", "q25", "q75")])
        for reg, _, _ in REGS:
            for lam in lams:
                rows = groups.get((reg, lam), [])
                if rows:
                    w.writerow([reg, lam, len(rows)] + [f"{x:.6g}" for q, _ in QUANTITIES for x in stats(rows, q)])
    lines = ["| lambda | runs | " + " | ".join(f"L_Sigma {n}" for _, n in QUANTITIES) + " | " + " | ".join(f"L1 {n}" for _, n in QUANTITIES) + " |",
             "|" + "---|" * (2 + 2 * len(QUANTITIES))]
    for lam in lams:
        cells = [f"{lam:.4g}", str(len(groups.get(("lsigma", lam), [])))]
        for reg, _, _ in REGS:
            rows = groups.get((reg, lam), [])
            cells += [f"{stats(rows, q)[0]:.4g}" if rows else "" for q, _ in QUANTITIES]
        lines.append("| " + " | ".join(cells) + " |")
    open(out + "/table.md", "w").write("Medians over the random maps Omega (runs: per lambda and regulariser).\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))


def plot(groups, q, label, path):
    W, H, L, R, T, B = 520, 340, 70, 20, 30, 50
    lams = sorted({lam for (_, lam) in groups if lam > 0})
    lo, hi = math.log10(min(lams)) - 0.6, math.log10(max(lams))
    pts = {reg: [(lam, *stats(groups[(reg, lam)], q)) for lam in [0.0] + lams if (reg, lam) in groups] for reg, _, _ in REGS}
    vals = [v for p in pts.values() for (_, m, a, b) in p for v in (m, a, b)]
    ymin, ymax = min(vals), max(vals)
    if q == "mse":
        ymin, ymax = max(min(v for v in vals if v > 0), 1e-12), max(vals)
    pad = (ymax - ymin) * 0.05 or 0.5
    log_y = q == "mse" and ymax / ymin > 100
    def X(lam):
        return L + (W - L - R) * ((math.log10(lam) if lam > 0 else lo) - lo) / (hi - lo)
    def Y(v):
        if log_y:
            a, b = math.log10(ymin) - 0.1, math.log10(ymax) + 0.1
            return T + (H - T - B) * (1 - (math.log10(max(v, ymin)) - a) / (b - a))
        return T + (H - T - B) * (1 - (v - (ymin - pad)) / ((ymax + pad) - (ymin - pad)))
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="18" text-anchor="middle">{label} against lambda (median, quartile bars)</text>',
         f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/><line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>']
    for lam in [0.0, 0.001, 0.01, 0.1, 1.0]:
        s.append(f'<text x="{X(lam):.1f}" y="{H - B + 16}" text-anchor="middle">{"0" if lam == 0 else f"{lam:g}"}</text>')
    ticks = np.linspace(ymin, ymax, 5) if not log_y else [10 ** e for e in range(math.floor(math.log10(ymin)), math.ceil(math.log10(ymax)) + 1)]
    for t in ticks:
        s.append(f'<text x="{L - 6}" y="{Y(t) + 4:.1f}" text-anchor="end">{t:.3g}</text>')
        s.append(f'<line x1="{L}" y1="{Y(t):.1f}" x2="{W - R}" y2="{Y(t):.1f}" stroke="#eee"/>')
    s.append(f'<text x="{W / 2}" y="{H - 12}" text-anchor="middle">lambda (log scale; 0 at the left)</text>')
    for i, (reg, name, col) in enumerate(REGS):
        p = pts[reg]
        s.append(f'<polyline fill="none" stroke="{col}" stroke-width="2" points="' + " ".join(f"{X(l):.1f},{Y(m):.1f}" for l, m, _, _ in p) + '"/>')
        for l, m, a, b in p:
            s.append(f'<line x1="{X(l):.1f}" y1="{Y(a):.1f}" x2="{X(l):.1f}" y2="{Y(b):.1f}" stroke="{col}"/><circle cx="{X(l):.1f}" cy="{Y(m):.1f}" r="3" fill="{col}"/>')
        s.append(f'<text x="{L + 10 + 90 * i}" y="{T + 12}" fill="{col}">{name}</text>')
    s.append("</svg>")
    open(path, "w").write("\n".join(s) + "\n")


def main():
    out = sys.argv[1]
    groups = load(out + "/runs.csv")
    table(groups, out)
    for q, label in QUANTITIES:
        plot(groups, q, label, f"{out}/{q}.svg")
    print(f"wrote {out}/table.md, table.csv and {', '.join(q + '.svg' for q, _ in QUANTITIES)}")


if __name__ == "__main__":
    main()
