#!/usr/bin/python3
"""The step-time model of docs/scaling.md: compute that scales with the rank's rows, plus the
step's communication under the ring, recursive-doubling and Rabenseifner allreduce cost models,
with and without the gradient buckets overlapping backward.

    tools/scaling_model.py MEASURED.json

MEASURED.json (written by tools/scaling.sh): alpha_us, beta_us_per_byte, gamma_us_per_byte,
optionally compute_scale (multiplies the compute: e.g. a quiet machine's step / a loaded one's), and
per net: t0_ms (per step, independent of rows), c_ms (per row), bwd_frac (the autoencoder's
backward share of the per-row compute), measured step times. Prints the tables of the report.
"""
import json
import math
import sys

FLOAT = 4


def dense(i, o):
    return {"params": i * o + o, "flops": 2 * i * o}


def conv(cin, cout, k, hw_out):
    return {"params": cout * cin * k * k + cout, "flops": 2 * cout * cin * k * k * hw_out}


def beam_mlp(features=1000, hidden=(200, 80, 40), latents=4):
    w = [features, *hidden, latents]
    enc = [dense(w[i], w[i + 1]) for i in range(len(w) - 1)]
    w = [latents, *reversed(hidden), features]
    dec = [dense(w[i], w[i + 1]) for i in range(len(w) - 1)]
    return enc, dec


def dsprites_conv(latents=10):
    """src/method/autoencoder.c build_dsprites_conv (a deterministic head: code = latents)."""
    enc = [conv(1, 32, 4, 32 * 32), conv(32, 32, 4, 16 * 16), conv(32, 64, 4, 8 * 8), dense(4096, 256), dense(256, latents)]
    # a transposed conv costs what the conv it mirrors costs (its gradient is that conv's forward)
    dec = [dense(latents, 256), dense(256, 4096), conv(32, 64, 4, 8 * 8), conv(32, 32, 4, 16 * 16), conv(1, 32, 4, 32 * 32)]
    dec[2]["params"] = 64 * 32 * 16 + 32
    dec[3]["params"] = 32 * 32 * 16 + 32
    dec[4]["params"] = 32 * 1 * 16 + 1
    return enc, dec


def buckets(enc, dec, bucket_bytes):
    """The buckets as paramset_sync_create cuts them (whole layers here: a layer's weight and
    bias are ready together), in backward order: (bytes, share of backward flops done when the
    bucket is ready)."""
    order = list(reversed(dec)) + list(reversed(enc))  # backward visits the decoder's last layer first
    total = sum(l["flops"] for l in order)
    out, acc, done = [], 0, 0
    for i, l in enumerate(order):
        acc += l["params"] * FLOAT
        done += l["flops"]
        if i == len(order) - 1 or (bucket_bytes > 0 and acc >= bucket_bytes):
            out.append((acc, done / total))
            acc = 0
    return out


def log2c(p):
    return math.ceil(math.log2(p)) if p > 1 else 0


def allreduce(alg, p, n, a, b, g):
    """Microseconds to sum n bytes over p ranks (Thakur, Rabenseifner, Gropp 2005)."""
    if p == 1:
        return 0.0
    f = (p - 1) / p
    if alg == "ring":
        return 2 * (p - 1) * a + 2 * f * n * b + f * n * g
    if alg == "recdbl":
        return log2c(p) * (a + n * b + n * g)
    if alg == "rabenseifner":
        extra = 0 if p & (p - 1) == 0 else a + n * b + n * g  # fold the ranks beyond a power of two
        return 2 * math.floor(math.log2(p)) * a + 2 * f * n * b + f * n * g + extra
    raise ValueError(alg)


def allgather(p, n, a, b):
    return 0.0 if p == 1 else (p - 1) * a + (p - 1) / p * n * b


def reduce_time(alg, p, n, opt):
    """An allreduce as the options say: flat, or node-aware (reduce inside each node of ppn
    ranks over shared memory, across the nodes, then broadcast inside: two intra-node passes)."""
    a, b, g = M["alpha_us"], M["beta_us_per_byte"], M["gamma_us_per_byte"]
    ppn = opt.get("hier_ppn", 0)
    if ppn and p > ppn:
        ia, ib = M["shm_alpha_us"], M["shm_beta_us_per_byte"]
        return 2 * allreduce("rabenseifner", ppn, n, ia, ib, g) / 2 + allreduce(alg, p // ppn, n, a, b, g)
    return allreduce(alg, p, n, a, b, g)


def step_time(net, p, local_rows, alg, overlap, m, cores=None, opt=None):
    """(total ms, compute ms, exposed communication ms, {part: ms}) of one step on p ranks.
    opt: grad_bytes (per value: 4, or 2 for bf16), hier_ppn (node-aware reduction), targeted
    (NashAE's regressor rows sent only to the ranks that train on them, not gathered everywhere)."""
    opt = opt or {}
    a, b, g = M["alpha_us"], M["beta_us_per_byte"], M["gamma_us_per_byte"]
    N = NETS[net]
    slow = max(1.0, p / cores) if cores else 1.0  # oversubscribed: ranks share the cores
    comp = (N["t0_ms"] + N["c_ms"] * local_rows) * slow
    bwd = N["c_ms"] * local_rows * N["bwd_frac"] * slow
    parts = {}
    # the autoencoder's gradient buckets: serialised on the network, each started when ready
    scale = opt.get("grad_bytes", FLOAT) / FLOAT
    bk = buckets(*N["arch"], bucket_bytes=M["bucket_kb"] * 1024 if overlap else 0)
    end = 0.0
    for nbytes, ready in bk:
        start = max(end, (ready * bwd * 1e3) if overlap else bwd * 1e3)
        end = start + reduce_time(alg, p, nbytes * scale, opt)
    parts["ae_grads"] = max(0.0, end - bwd * 1e3)
    # the step's statistics (one allreduce of doubles), the finite check and the stop poll
    parts["stats"] = allreduce("recdbl", p, N["nstats"] * 8, a, b, g) + 2 * allreduce("recdbl", p, 8, a, b, g)
    if N["nashae"]:
        G = min(p, m)
        per = N["reg_params"]
        if opt.get("targeted"):  # a group rank needs the rows of its slice only: G ranks' worth
            parts["latents"] = 0.0 if p == 1 else G * a + G * local_rows * m * FLOAT * b
        else:
            parts["latents"] = allgather(p, local_rows * p * m * FLOAT, a, b)  # the global batch's latents
        parts["regressors"] = N["reg_iters"] * reduce_time(alg, max(1, p // G), math.ceil(m / G) * per * FLOAT, opt)
        parts["share"] = reduce_time(alg, p, m * per * FLOAT, opt)  # trained regressors shared back
    comm = sum(parts.values()) * 1e-3
    return comp + comm, comp, comm, {k: v * 1e-3 for k, v in parts.items()}


def remedies(name, N, m):
    """Weak scaling at 4096 ranks between nodes: where the time goes, and what each remedy buys."""
    p, rows = 4096, N["weak_rows"]
    t1 = step_time(name, 1, rows, "rabenseifner", True, m)[0]
    cases = [("as built (Rabenseifner, overlap)", rows, {}),
             ("4x rows per rank", 4 * rows, {}),
             ("bf16 gradients", rows, {"grad_bytes": 2}),
             ("node-aware reduction, 64 ranks/node", rows, {"hier_ppn": 64}),
             ("latents sent only where trained on", rows, {"targeted": True}),
             ("all of the last three", rows, {"grad_bytes": 2, "hier_ppn": 64, "targeted": True})]
    print("\nweak scaling at P=4096 between nodes: where the time goes (ms) and what helps")
    keys = ["ae_grads", "stats"] + (["latents", "regressors", "share"] if N["nashae"] else [])
    print("%-40s %8s %8s" % ("case", "compute", "total") + "".join("%11s" % k for k in keys) + "%7s" % "eff")
    for label, r, opt in cases:
        base = t1 if r == rows else step_time(name, 1, r, "rabenseifner", True, m)[0]
        t, comp, comm, parts = step_time(name, p, r, "rabenseifner", True, m, opt=opt)
        print("%-40s %8.3f %8.3f" % (label, comp, t) + "".join("%11.3f" % parts[k] for k in keys) + "%6.0f%%" % (100 * base / t))


def main():
    global M, NETS
    M = json.load(open(sys.argv[1]))
    NETS = M["nets"]
    for name, N in NETS.items():
        # compute_scale: to ask what a faster (quieter) machine gives with the same network
        N["t0_ms"] *= M.get("compute_scale", 1.0)
        N["c_ms"] *= M.get("compute_scale", 1.0)
        N["arch"] = beam_mlp() if name == "beam_mlp" else dsprites_conv()
        N["ae_bytes"] = sum(l["params"] for part in N["arch"] for l in part) * FLOAT
    print("alpha %.3f us, beta %.4g us/B (%.2f GB/s), gamma %.4g us/B; buckets of %d KB; load average %s"
          % (M["alpha_us"], M["beta_us_per_byte"], 1e-3 / M["beta_us_per_byte"], M["gamma_us_per_byte"], M["bucket_kb"],
             M.get("load", "?")))
    measured_net = (M["alpha_us"], M["beta_us_per_byte"])
    M["shm_alpha_us"], M["shm_beta_us_per_byte"] = measured_net
    for name, N in NETS.items():
        m = N["latents"]
        M["alpha_us"], M["beta_us_per_byte"] = measured_net
        print("\n## %s: %.2f MB of autoencoder gradients, %.3f ms/step + %.4f ms/row on one core, backward %.0f%% of the rows' compute"
              % (name, N["ae_bytes"] / 1e6, N["t0_ms"], N["c_ms"], 100 * N["bwd_frac"]))
        nb = len(buckets(*N["arch"], bucket_bytes=M["bucket_kb"] * 1024))
        print("   %d bucket(s); NashAE: %s" % (nb, "yes, %d regressors of %d params, K=%d" % (m, N["reg_params"], N["reg_iters"]) if N["nashae"] else "no"))
        for (net_name, a, b), kind in [(x, k) for x in (("this machine's alpha, beta", measured_net[0], measured_net[1]),
                                                          ("between nodes, assumed: alpha 2 us, 12.5 GB/s", 2.0, 1 / 12.5e3))
                                           for k in ("weak", "strong")]:
            M["alpha_us"], M["beta_us_per_byte"] = a, b
            rows_of = (lambda p: N["weak_rows"]) if kind == "weak" else (lambda p: N["strong_batch"] / p)
            label = "%d rows/rank" % N["weak_rows"] if kind == "weak" else "global batch %d" % N["strong_batch"]
            print("\n%s scaling (%s), %s: modelled step ms and efficiency" % (kind, label, net_name))
            print("%-13s %-8s" % ("allreduce", "overlap") + "".join("%20s" % ("P=%d" % p) for p in (64, 512, 4096)))
            t1 = step_time(name, 1, rows_of(1) if kind == "weak" else N["strong_batch"], "ring", False, m)[0]
            for alg in ("ring", "recdbl", "rabenseifner"):
                for ov in (False, True):
                    cells = []
                    for p in (64, 512, 4096):
                        rows = rows_of(p)
                        if rows < 1:
                            cells.append("%20s" % "batch < ranks")
                            continue
                        t = step_time(name, p, rows, alg, ov, m)[0]
                        eff = t1 / t if kind == "weak" else t1 / (p * t)
                        cells.append("%11.3f (%4.0f%%)" % (t, 100 * eff))
                    print("%-13s %-8s" % (alg, "on" if ov else "off") + "".join(cells))
        remedies(name, N, m)
        M["alpha_us"], M["beta_us_per_byte"] = measured_net
        if "measured" in N:
            print("\nmodel against this machine (%d cores, ranks beyond them share; Open MPI picks its own algorithm, modelled as Rabenseifner):" % M["cores"])
            print("%-6s %-3s %-8s %12s %12s %12s %10s" % ("kind", "P", "overlap", "measured ms", "model ms", "comm ms", "eff meas"))
            for row in N["measured"]:
                p, rows, ov, ms = row["ranks"], row["rows"], row["overlap"], row["ms"]
                t, comp, comm, _ = step_time(name, p, rows, "rabenseifner", ov, m, cores=M["cores"])
                base = [r for r in N["measured"] if r["ranks"] == 1 and r["kind"] == row["kind"] and r["overlap"] == ov]
                eff = ""
                if base:
                    eff = "%9.0f%%" % (100 * (base[0]["ms"] / ms if row["kind"] == "weak" else base[0]["ms"] / (p * ms)))
                print("%-6s %-3d %-8s %12.3f %12.3f %12.3f %10s" % (row["kind"], p, "on" if ov else "off", ms, t, comm, eff))


if __name__ == "__main__":
    main()
