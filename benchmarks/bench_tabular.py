"""edu_gen's CTGAN vs the ``ctgan`` package (Xu et al. 2019's reference code), in one run.

For each table and library, ``--repeats`` fresh worker processes each measure:

* ``prep_s``   - fitting the data transformer and transforming the training rows;
* ``epoch_s``  - training time per epoch, data preparation excluded: the median gap between
  the starts of consecutive epochs (for the package its ``tqdm`` over epochs is replaced by
  a timer; for edu_gen the epoch's batch iterator is timed the same way), so the first
  epoch's warm-up counts for neither;
* ``sample_s`` - drawing as many rows as the training split;
* ``peak_mb``  - the peak of the summed resident memory of the worker's whole process tree
  (the package starts a joblib worker pool), sampled every 20 ms by this parent process. A
  worker only imports its library, reads the training split the parent pickled, fits and
  samples (python + torch alone take about 220 MB here);
* quality of the sampled rows, computed by the parent: ML-utility AUC (logistic regression
  and random forest trained on synthetic rows, tested on held-out real rows), mean
  per-column JS distance / Wasserstein distance, association difference, and the
  frequency of the rarest category relative to the real one.

Same epochs, batch size (500), network sizes (generator and critic 256-256, embedding 128,
pac 10), one torch thread in every worker. Medians over the repeats, and the ratio
edu_gen / package. ``--time-to-auc`` additionally trains each library once per seed in
``--auc-seeds`` for ``--auc-epochs`` epochs (300 in the paper) and reports when edu_gen first
reaches the package's final forest AUC (evaluating every ``--auc-every`` epochs), with the
rarest category's synthetic/real frequency ratio at each evaluation; the ratio of the two
times is reported per seed and as the median.

Run from the repository root::

    .venv/bin/python benchmarks/bench_tabular.py                      # fair + mixed, 3 repeats
    .venv/bin/python benchmarks/bench_tabular.py --tables fair --repeats 0 --time-to-auc \
        --auc-seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
LIBS = ("ctgan", "edu_gen")


# ----------------------------------------------------------------------------- data
def load_table(name: str, seed: int = 0):
    """(train, test, schema, task) for a named table."""
    from edu_gen.data import tables

    if name == "fair":
        frame, schema = tables.fair()
        train, test = tables.train_test_split_table(frame, test_size=0.3, seed=seed)
        return train, test, schema, dict(tables.FAIR_TASK)
    if name == "mixed":
        table = tables.mixed()
        frame = table.sample(14_286, seed=seed)  # 10,000 training rows after the 70/30 split
        train, test = tables.train_test_split_table(frame, test_size=0.3, seed=seed)
        return train, test, table.schema, {"target": "label", "task": "binary"}
    raise SystemExit(f"--tables: unknown table {name!r}; expected fair or mixed")


def rarest_category(train, schema):
    """(column, category, real frequency) of the rarest category over all discrete columns."""
    best = None
    for name in schema.discrete:
        freq = train[name].value_counts(normalize=True)
        cat, f = freq.index[-1], float(freq.iloc[-1])
        if best is None or f < best[2]:
            best = (name, cat, f)
    return best


def quality(train, test, synthetic, schema, task) -> dict[str, float]:
    from edu_gen.tabular import metrics

    util = metrics.ml_utility(
        train, test, synthetic, schema, models=("linear", "forest"), seed=0, **task
    )
    sim = metrics.column_similarity(train, synthetic, schema)
    assoc = metrics.association_difference(train, synthetic, schema)
    col, cat, real_f = rarest_category(train, schema)
    syn_f = float((synthetic[col].astype(str) == str(cat)).mean())
    out = {
        "auc_linear": float(util.loc[("linear", "auc"), "synthetic"]),
        "auc_forest": float(util.loc[("forest", "auc"), "synthetic"]),
        "auc_real_forest": float(util.loc[("forest", "auc"), "real"]),
        "assoc_diff": float(assoc.norm),
        "rare_ratio": syn_f / real_f,
    }
    for metric, value in sim.groupby("metric")["value"].mean().items():
        out[f"mean_{metric}"] = float(value)
    return out


# ----------------------------------------------------------------------------- workers
def _read(work: str):
    """The training split and schema the parent wrote (so workers never load statsmodels)."""
    import pickle

    import pandas as pd

    train = pd.read_pickle(Path(work) / "train.pkl")
    with open(Path(work) / "schema.pkl", "rb") as f:
        return train, pickle.load(f)


def _package_frame(frame, schema):
    """The package wants discrete columns as labels; send every discrete column as str."""
    out = frame.copy()
    for name in schema.discrete:
        out[name] = out[name].astype(str)
    return out


def _from_package(frame, reference):
    out = frame.copy()
    for name in reference.columns:
        if reference[name].dtype.kind in "fiu" and out[name].dtype == object:
            out[name] = out[name].astype(float).astype(reference[name].dtype)
    return out


def worker_ctgan(work: str, epochs: int, seed: int) -> dict:
    import ctgan.synthesizers.ctgan as package
    import torch
    from ctgan import CTGAN
    from ctgan.data_transformer import DataTransformer

    torch.set_num_threads(1)
    train, schema = _read(work)
    data = _package_frame(train, schema)
    t0 = time.perf_counter()
    tr = DataTransformer()
    tr.fit(data, discrete_columns=schema.discrete)
    tr.transform(data)
    prep = time.perf_counter() - t0
    stamps: list[float] = []

    def timed_range(iterable, **_):  # the package loops over epochs with tqdm(range(epochs))
        for item in iterable:
            stamps.append(time.perf_counter())
            yield item
        stamps.append(time.perf_counter())

    package.tqdm = timed_range
    torch.manual_seed(seed)
    model = CTGAN(epochs=epochs, batch_size=500, pac=10, enable_gpu=False)
    model.fit(data, discrete_columns=schema.discrete)
    t0 = time.perf_counter()
    synthetic = model.sample(len(train))
    sample_s = time.perf_counter() - t0
    _from_package(synthetic, train).to_pickle(Path(work) / "synthetic.pkl")
    return {
        "prep_s": prep,
        "epoch_s": median(b - a for a, b in zip(stamps[:-1], stamps[1:], strict=True)),
        "sample_s": sample_s,
    }


def worker_edu_gen(work: str, epochs: int, seed: int) -> dict:
    import torch

    from edu_gen.tabular.encoding import DataTransformer
    from edu_gen.tabular.synthesizers import CTGAN, GANTurns

    torch.set_num_threads(1)
    train, schema = _read(work)
    t0 = time.perf_counter()
    DataTransformer(schema, seed=seed).fit(train).transform(train)
    prep = time.perf_counter() - t0

    stamps: list[float] = []
    epoch_iter = GANTurns.__iter__

    def timed_iter(self):  # fit iterates the turns once per epoch
        stamps.append(time.perf_counter())
        yield from epoch_iter(self)

    GANTurns.__iter__ = timed_iter
    model = CTGAN(schema, epochs=epochs, batch_size=500, pac=10, seed=seed, device="cpu")
    model.fit(train, progress=False)
    stamps.append(time.perf_counter())
    t0 = time.perf_counter()
    synthetic = model.sample(len(train), seed=seed)
    sample_s = time.perf_counter() - t0
    synthetic.to_pickle(Path(work) / "synthetic.pkl")
    return {
        "prep_s": prep,
        "epoch_s": median(b - a for a, b in zip(stamps[:-1], stamps[1:], strict=True)),
        "sample_s": sample_s,
    }


def worker_time_to_auc(lib: str, table: str, epochs: int, every: int, seed: int) -> dict:
    """AUC (random forest on synthetic rows) with elapsed training time.

    edu_gen is trained in chunks of ``every`` epochs that continue one run by resuming its
    checkpoint and is evaluated after each chunk (every chunk refits the transformer and the
    sampler, and that time counts against edu_gen). The package's training loop cannot be
    resumed, so it is trained once for the full budget and evaluated at the end.
    """
    import tempfile

    import torch

    torch.set_num_threads(1)
    train, test, schema, task = load_table(table, seed)
    points = []
    if lib == "ctgan":
        from ctgan import CTGAN

        torch.manual_seed(seed)
        model = CTGAN(epochs=epochs, batch_size=500, pac=10, enable_gpu=False)
        t0 = time.perf_counter()
        model.fit(_package_frame(train, schema), discrete_columns=schema.discrete)
        elapsed = time.perf_counter() - t0
        synthetic = _from_package(model.sample(len(train)), train)
        q = quality(train, test, synthetic, schema, task)
        points.append(
            {"epoch": epochs, "seconds": elapsed, "auc": q["auc_forest"], "rare": q["rare_ratio"]}
        )
        return {"points": points}
    from edu_gen.tabular.synthesizers import CTGAN

    elapsed = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "ctgan.pt"
        model = CTGAN(schema, batch_size=500, pac=10, seed=seed, device="cpu")
        for done in range(every, epochs + 1, every):
            t0 = time.perf_counter()
            model.fit(train, epochs=done, checkpoint=ckpt, progress=False)
            elapsed += time.perf_counter() - t0
            synthetic = model.sample(len(train), seed=seed)
            q = quality(train, test, synthetic, schema, task)
            points.append(
                {"epoch": done, "seconds": elapsed, "auc": q["auc_forest"], "rare": q["rare_ratio"]}
            )
    return {"points": points}


# ----------------------------------------------------------------------------- parent
def run_worker(args: list[str]) -> tuple[dict, float]:
    """Run this script as a worker; return its JSON result and the tree's peak RSS in MB."""
    import psutil

    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            rss = 0
            for p in tree:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.02)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1]), peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", nargs="+", default=["fair", "mixed"])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--time-to-auc", action="store_true")
    parser.add_argument("--auc-epochs", type=int, default=300)
    parser.add_argument("--auc-every", type=int, default=25)
    parser.add_argument("--auc-seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        kind, *rest = args.worker
        if kind == "auc":
            lib, table, epochs, every, seed = rest
            result = worker_time_to_auc(lib, table, int(epochs), int(every), int(seed))
        else:
            work, epochs, seed = rest
            fn = worker_ctgan if kind == "ctgan" else worker_edu_gen
            result = fn(work, int(epochs), int(seed))
        print(json.dumps(result))
        return

    import pandas as pd

    print(f"# {' '.join(sys.argv)}")
    print(f"# epochs={args.epochs} repeats={args.repeats} batch=500 pac=10 torch threads=1")
    import pickle
    import tempfile

    for table in args.tables:
        results: dict[str, list[dict]] = {lib: [] for lib in LIBS}
        for r in range(args.repeats):
            train, test, schema, task = load_table(table, r)
            for lib in LIBS:  # interleaved, so machine load affects both alike
                with tempfile.TemporaryDirectory() as work:
                    train.to_pickle(Path(work) / "train.pkl")
                    with open(Path(work) / "schema.pkl", "wb") as f:
                        pickle.dump(schema, f)
                    res, peak = run_worker([lib, work, str(args.epochs), str(r)])
                    synthetic = pd.read_pickle(Path(work) / "synthetic.pkl")
                res["peak_mb"] = peak
                res.update(quality(train, test, synthetic, schema, task))
                results[lib].append(res)
                print(
                    f"  {table} {lib} repeat {r}: "
                    + ", ".join(f"{k}={v:.3g}" for k, v in res.items()),
                    flush=True,
                )
        if not args.repeats:  # --repeats 0: only the time-to-AUC comparison
            keys = []
        else:
            keys = [k for k in results["edu_gen"][0] if k in results["ctgan"][0]]
        if keys:
            print(f"\n## {table}: medians over {args.repeats} runs\n")
            print("| measure | ctgan package | edu_gen | edu_gen / package |")
            print("| --- | --- | --- | --- |")
        for k in keys:
            a = median(x[k] for x in results["ctgan"])
            b = median(x[k] for x in results["edu_gen"])
            ratio = f"{b / a:.2f}" if a else "-"
            print(f"| {k} | {a:.4g} | {b:.4g} | {ratio} |")
        print()
        if args.time_to_auc:
            ratios = []
            for seed in args.auc_seeds:
                rows = {}
                for lib in LIBS:
                    res, _ = run_worker(
                        ["auc", lib, table, str(args.auc_epochs), str(args.auc_every), str(seed)]
                    )
                    rows[lib] = res["points"]
                target = rows["ctgan"][-1]
                print(
                    f"seed {seed}: package after {target['epoch']} epochs: AUC "
                    f"{target['auc']:.3f} in {target['seconds']:.0f} s; rarest category "
                    f"x{target['rare']:.2f} its real frequency"
                )
                reached = next((p for p in rows["edu_gen"] if p["auc"] >= target["auc"]), None)
                for p in rows["edu_gen"]:
                    print(
                        f"  edu_gen epoch {p['epoch']:4d}: AUC {p['auc']:.3f} at "
                        f"{p['seconds']:.0f} s, rarest category x{p['rare']:.2f}"
                    )
                if reached:
                    ratios.append(reached["seconds"] / target["seconds"])
                    print(
                        f"  edu_gen reaches it after {reached['epoch']} epochs, "
                        f"{reached['seconds']:.0f} s (ratio {ratios[-1]:.2f})"
                    )
                else:
                    ratios.append(float("inf"))
                    print("  edu_gen does not reach it within the budget")
            print(
                f"time-to-AUC ratio edu_gen / package, median over seeds {args.auc_seeds}: "
                f"{median(ratios):.2f} (per seed: {', '.join(f'{r:.2f}' for r in ratios)})"
            )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
