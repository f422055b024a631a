r"""CTAB-GAN: Zhao, Kunar, Birke & Chen (2021), "CTAB-GAN: Effective Table Data Synthesizing"
(ACML). CTAB-GAN+ (the WGAN-GP, general-transform and differentially private variant) is in
:mod:`edu_gen.tabular.synthesizers.ctabgan_plus`.

CTAB-GAN keeps CTGAN's conditional generator and adds three things, all built here from the
CTGAN pieces (:mod:`edu_gen.tabular.synthesizers.ctgan`), the transformer and the sampler:

* **mixed-type encoder** - a column with point masses (``fair.affairs = 0``) is encoded by
  :class:`DataTransformer`'s ``mixed`` kind: each point mass is
  a mode of its own (:math:`\alpha = 0`), the other values go through the Gaussian mixture.
  The conditional vector covers the categorical columns *and* the mode indicators of the
  numeric columns, drawn with the log-frequency rule during training (long tails get seen)
  and with the real frequencies at generation time;
* **information loss** - the generator matches the first two moments of the
  discriminator's penultimate features :math:`f(\cdot)` on real and generated rows:

  .. math:: L_{\text{info}} = \lVert \mathbb E f(r) - \mathbb E f(\hat r)\rVert_2
            + \lVert \mathrm{sd} f(r) - \mathrm{sd} f(\hat r)\rVert_2

  (batch mean and population standard deviation per feature);
* **auxiliary classifier** :math:`C` - an MLP trained on real rows to predict a target
  column from all the other columns; its cross-entropy on generated rows,
  :math:`L_{\text{class}} = \mathbb E\,\mathrm{CE}(C(\hat r_{-t}), \arg\max \hat r_t)`, is added
  to the generator loss, so generated features must agree with the generated target
  ("semantic consistency"). For a numeric target, the classes are its modes (point masses
  included); the published code regresses the value instead.

The generator loss is :math:`L_G = L_{\text{adv}} + L_{\text{cond}} + w_{\text{info}}
L_{\text{info}} + w_{\text{class}} L_{\text{class}}` with :math:`L_{\text{adv}}` the
non-saturating GAN loss (CTAB-GAN, ``loss="vanilla"``) or the Wasserstein loss with gradient
penalty (CTAB-GAN+, ``loss="wgan-gp"``), and :math:`L_{\text{cond}}` CTGAN's conditional
cross-entropy.

**Networks.** Zhao et al. reshape each encoded row into a square image and use
convolutional G and D. edu_gen uses CTGAN's MLPs instead (residual generator, packed MLP
critic): the same losses on a smaller, faster model, and the column order of a table has no
spatial meaning a convolution could exploit.

The classifier is trained first (through :func:`edu_gen.core.train.fit`, on real rows only, then
frozen); it never sees generated rows, so training it before the GAN rather than alongside
changes the schedule, not the method.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from edu_gen.core.checks import positive_int
from edu_gen.core.train import fit
from edu_gen.data.tables.schema import Schema
from edu_gen.models.gan import (
    critic_loss_wasserstein,
    discriminator_loss,
    generator_loss_nonsaturating,
    generator_loss_wasserstein,
    gradient_penalty,
)
from edu_gen.tabular.encoding.sampler import ConditionalSampler
from edu_gen.tabular.encoding.transformer import DataTransformer, Span, mode_normalize
from edu_gen.tabular.synthesizers.ctgan import CTGAN, CTGANNet, _seeded, conditional_cross_entropy

Tensor = torch.Tensor

__all__ = [
    "CTABGAN",
    "LOSSES",
    "AuxiliaryClassifier",
    "CTABGANNet",
    "TableEncoder",
    "discriminator_features",
    "general_decode",
    "general_encode",
    "information_loss",
    "mixed_encode",
]

LOSSES = ("vanilla", "wgan-gp")


# ----------------------------------------------------------------------------- equations


def information_loss(real_features: Tensor, fake_features: Tensor) -> Tensor:
    r""":math:`\lVert\bar f_r - \bar f_g\rVert_2 + \lVert s_r - s_g\rVert_2` for feature batches
    ``[B, H]`` (means and population standard deviations over the batch, per feature)."""
    if real_features.dim() != 2 or real_features.shape[1:] != fake_features.shape[1:]:
        raise ValueError(
            "real_features, fake_features: expected [B, H] batches with the same H, got "
            f"{tuple(real_features.shape)} and {tuple(fake_features.shape)}"
        )
    mean = real_features.mean(0) - fake_features.mean(0)
    sd = real_features.std(0, correction=0) - fake_features.std(0, correction=0)
    return mean.norm() + sd.norm()


def discriminator_features(discriminator: nn.Module, rows: Tensor) -> tuple[Tensor, Tensor]:
    """``(features, scores)``: the input of the discriminator's last linear layer (its
    penultimate features, one row per pack) and its scores, from one forward pass."""
    linears = [m for m in discriminator.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("discriminator: expected a module ending in an nn.Linear score layer")
    seen: list[Tensor] = []
    handle = linears[-1].register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    try:
        scores = discriminator(rows)
    finally:
        handle.remove()
    return seen[-1], scores


def mixed_encode(
    x: Tensor, point_masses: Tensor, means: Tensor, stds: Tensor, modes: Tensor
) -> tuple[Tensor, Tensor]:
    r"""The mixed-type encoding of one column, given each value's mixture mode.

    A value equal to point mass :math:`m_j` gets mode :math:`j` and :math:`\alpha = 0`; any
    other value gets mode :math:`M + k` (``k = modes[i]``, :math:`M` point masses first) and
    :math:`\alpha = (x - \mu_k)/(4\sigma_k)` (:func:`mode_normalize`).
    Returns ``(alpha [n], one-hot beta [n, M + K])``, in ``x``'s dtype. The transformer draws
    ``k`` from the responsibilities; here it is given, so the encoding is deterministic.
    """
    n_mass = len(point_masses)
    hit = x[:, None] == point_masses[None, :]
    is_mass = hit.any(1)
    mixture = torch.as_tensor(
        mode_normalize(x.detach().cpu().numpy(), modes.cpu().numpy(), means.cpu().numpy(),
                       stds.cpu().numpy()),
        dtype=x.dtype,
    )  # fmt: skip
    alpha = torch.where(is_mass, torch.zeros_like(x), mixture)
    index = torch.where(is_mass, hit.float().argmax(1), n_mass + modes)
    beta = torch.nn.functional.one_hot(index, n_mass + len(means)).to(x.dtype)
    return alpha, beta


def general_encode(x: np.ndarray, low: float, high: float) -> np.ndarray:
    r"""CTAB-GAN+'s general transform: :math:`\alpha = 2(x - \min)/(\max - \min) - 1` in
    [-1, 1] (clipped; a constant column maps to 0). No mode indicator."""
    x = np.asarray(x, dtype=float)
    if high <= low:
        return np.zeros_like(x)
    return np.clip(2 * (x - low) / (high - low) - 1, -1.0, 1.0)


def general_decode(alpha: np.ndarray, low: float, high: float) -> np.ndarray:
    r"""The inverse :math:`x = \min + (\alpha + 1)(\max - \min)/2` (``alpha`` clipped first)."""
    alpha = np.clip(np.asarray(alpha, dtype=float), -1.0, 1.0)
    return low + (alpha + 1) * (high - low) / 2


# ----------------------------------------------------------------------------- encoder


class TableEncoder:
    """A :class:`DataTransformer` plus CTAB-GAN+'s *general
    transform* for the continuous columns named in ``general`` (one ``tanh`` value each,
    appended after the transformer's spans; see :func:`general_encode`). With ``general=()``
    it is the transformer itself. Same interface: ``fit``, ``transform``,
    ``inverse_transform``, ``output_info``, ``discrete_spans``, ``mode_spans``, ``spans_of``,
    ``categories``, ``numeric_info``.
    """

    def __init__(
        self, schema: Schema, general: Sequence[str] = (), *, max_modes: int = 10, seed: int = 0
    ) -> None:
        if not isinstance(schema, Schema):
            raise TypeError(f"schema: expected an edu_gen Schema, got {type(schema).__name__}")
        general = (general,) if isinstance(general, str) else tuple(general)
        for name in general:
            if name not in schema:
                raise ValueError(f"general_columns: {name!r} is not a column of {schema.names}")
            if schema[name].kind != "continuous":
                raise ValueError(
                    f"general_columns: {name!r} is {schema[name].kind}; the general transform "
                    "is for continuous columns (a mixed column needs its mode indicator for "
                    "the point masses)"
                )
        if len(set(general)) == len(schema):
            raise ValueError("general_columns: at least one column must stay mode-encoded")
        self.schema, self.general = schema, tuple(dict.fromkeys(general))
        rest = tuple(c for c in schema.columns if c.name not in self.general)
        self.inner = DataTransformer(Schema(rest), max_modes=max_modes, seed=seed)
        self.ranges: dict[str, tuple[float, float]] = {}
        self._dtypes: dict[str, object] = {}

    def fit(self, frame: pd.DataFrame) -> TableEncoder:
        self.schema.validate(frame)
        self.inner.fit(frame[self.inner.schema.names])
        for name in self.general:
            x = frame[name].to_numpy(dtype=float, na_value=np.nan)
            if np.isnan(x).any():
                raise ValueError(
                    f"general_columns: {name!r} has missing values; the general transform has "
                    "no missing-value mode, so leave it mode-encoded"
                )
            self.ranges[name] = (float(x.min()), float(x.max()))
            self._dtypes[name] = frame[name].dtype
        return self

    @property
    def output_info(self) -> list[Span]:
        start = self.inner.output_dim
        extra = [
            Span(n, start + i, start + i + 1, "tanh", "value") for i, n in enumerate(self.general)
        ]
        return self.inner.output_info + extra

    @property
    def output_dim(self) -> int:
        return self.inner.output_dim + len(self.general)

    @property
    def discrete_spans(self) -> list[Span]:
        return self.inner.discrete_spans

    @property
    def mode_spans(self) -> list[Span]:
        return self.inner.mode_spans

    def spans_of(self, name: str) -> list[Span]:
        self.schema[name]
        return [s for s in self.output_info if s.column == name]

    def categories(self, name: str) -> list[object]:
        return self.inner.categories(name)

    def numeric_info(self, name: str):
        return self.inner.numeric_info(name)

    def transform(self, frame: pd.DataFrame, *, seed: int | None = None) -> np.ndarray:
        inner = self.inner.transform(frame[self.inner.schema.names], seed=seed)
        cols = [
            general_encode(frame[n].to_numpy(dtype=float), *self.ranges[n]) for n in self.general
        ]
        if not cols:
            return inner
        return np.concatenate([inner, np.stack(cols, 1).astype(np.float32)], 1)

    def inverse_transform(self, array: np.ndarray) -> pd.DataFrame:
        if hasattr(array, "detach"):
            array = array.detach().cpu().numpy()
        array = np.asarray(array)
        if array.ndim != 2 or array.shape[1] != self.output_dim:
            raise ValueError(f"array: expected shape [n, {self.output_dim}], got {array.shape}")
        out = self.inner.inverse_transform(array[:, : self.inner.output_dim])
        for i, name in enumerate(self.general):
            x = general_decode(array[:, self.inner.output_dim + i], *self.ranges[name])
            if pd.api.types.is_integer_dtype(self._dtypes[name]):
                x = np.round(x)
            out[name] = pd.Series(x).astype(self._dtypes[name])
        return out[self.schema.names]


# ----------------------------------------------------------------------------- networks


class AuxiliaryClassifier(nn.Module):
    """MLP :math:`C(r_{-t})` predicting the class of the target span ``label`` from every
    other column of an encoded row (the target column's spans ``drop`` are left out).
    LeakyReLU hidden layers, no BatchNorm (so it can be trained with DP-SGD)."""

    def __init__(self, data_dim: int, drop: Sequence[Span], label: Span, dims: Sequence[int]):
        super().__init__()
        dropped = {c for s in drop for c in range(s.start, s.end)}
        keep = [c for c in range(positive_int("data_dim", data_dim)) if c not in dropped]
        self.register_buffer("keep", torch.as_tensor(keep, dtype=torch.long), persistent=False)
        self.label = label
        layers: list[nn.Module] = []
        width = len(keep)
        for d in dims:
            layers += [nn.Linear(width, positive_int("classifier_dims", d)), nn.LeakyReLU(0.2)]
            width = d
        layers.append(nn.Linear(width, label.width))
        self.mlp = nn.Sequential(*layers)

    def forward(self, rows: Tensor) -> Tensor:
        """Class logits ``[B, label.width]``."""
        return self.mlp(rows[:, self.keep])

    def labels(self, rows: Tensor) -> Tensor:
        """The class of every row: argmax of its target span."""
        return rows[:, self.label.start : self.label.end].argmax(1)


class CTABGANNet(CTGANNet):
    """CTGAN's generator, critic and output activation, plus the frozen ``classifier``
    (``None`` when the classifier loss is off)."""

    def __init__(self, *args, classifier: AuxiliaryClassifier | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.classifier = classifier


# ----------------------------------------------------------------------------- batches


class _Rows:
    """Uniform mini-batches of the encoded rows (for the classifier), seeded generator."""

    def __init__(self, data: Tensor, batch: int, steps: int, seed: int) -> None:
        self.data, self.batch, self.steps = data, batch, steps
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[Tensor]:
        for _ in range(self.steps):
            yield self.data[torch.randint(len(self.data), (self.batch,), generator=self.generator)]


class _GANBatches:
    """One epoch: ``steps`` rounds of ``critic_steps`` critic batches and one generator batch;
    every batch carries the real rows drawn by training-by-sampling (the generator batch needs
    them for the information loss)."""

    def __init__(self, model: CTABGAN, data: Tensor, steps: int) -> None:
        self.model, self.data, self.steps = model, data, steps
        self.generator = model.sampler.generator

    def __len__(self) -> int:
        return self.steps * (self.model.discriminator_steps + 1)

    def critic_batch(self) -> dict[str, Tensor]:
        c = self.model.sampler.sample_train(self.model.batch_size)
        perm = torch.randperm(len(c.rows), generator=self.generator)
        return {"cond": c.cond, "real": self.data[c.rows[perm]], "real_cond": c.cond[perm]}

    def generator_batch(self) -> dict[str, Tensor]:
        c = self.model.sampler.sample_train(self.model.batch_size)
        return {
            "cond": c.cond, "span": c.span, "category": c.category,
            "real": self.data[c.rows], "generator_turn": torch.ones(()),
        }  # fmt: skip

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        for _ in range(self.steps):
            for _ in range(self.model.discriminator_steps):
                yield self.critic_batch()
            yield self.generator_batch()


# ----------------------------------------------------------------------------- the model


class CTABGAN(CTGAN):
    """CTAB-GAN (Zhao et al. 2021) on the CTGAN building blocks; see the module docstring.

    Arguments beyond :class:`~edu_gen.tabular.synthesizers.ctgan.CTGAN`'s:
        loss: ``"vanilla"`` (non-saturating GAN loss, CTAB-GAN) or ``"wgan-gp"``.
        info_weight: :math:`w_{\\text{info}}` (0 turns the information loss off).
        classifier_weight: :math:`w_{\\text{class}}` (0: no classifier is trained).
        classifier_target: the column the classifier predicts (default ``schema.target``).
        classifier_dims, classifier_epochs: the classifier's hidden widths and training
            epochs (Adam, lr 1e-3, the GAN's batch size).
        condition_on_modes: the conditional vector covers the numeric columns' mode
            indicators too (CTAB-GAN); ``False`` conditions on the categorical columns only.
        general_columns: continuous columns encoded by the general transform (CTAB-GAN+).

    Raises:
        ValueError: unknown ``loss``, a negative weight, a classifier without a target, a
            target that is not a column or that uses the general transform.
    """

    label = "CTAB-GAN"

    def __init__(
        self,
        schema: Schema,
        *,
        loss: str = "vanilla",
        info_weight: float = 1.0,
        classifier_weight: float = 1.0,
        classifier_target: str | None = None,
        classifier_dims: Sequence[int] = (128, 128),
        classifier_epochs: int = 20,
        condition_on_modes: bool = True,
        general_columns: Sequence[str] = (),
        **kwargs,
    ) -> None:
        super().__init__(schema, **kwargs)
        if loss not in LOSSES:
            raise ValueError(f"loss: expected one of {list(LOSSES)}, got {loss!r}")
        self.loss = loss
        for name, w in (("info_weight", info_weight), ("classifier_weight", classifier_weight)):
            if isinstance(w, bool) or not isinstance(w, int | float) or not w >= 0 or w == math.inf:
                raise ValueError(f"{name}: expected a finite number >= 0, got {w!r}")
        self.info_weight, self.classifier_weight = float(info_weight), float(classifier_weight)
        target = schema.target if classifier_target is None else classifier_target
        if self.classifier_weight > 0:
            if target is None:
                raise ValueError(
                    "classifier_target: the auxiliary classifier needs a target column; pass "
                    "classifier_target=... or a schema with a target (or classifier_weight=0)"
                )
            if target not in schema:
                raise ValueError(
                    f"classifier_target: {target!r} is not a column; columns are {schema.names}"
                )
            if target in tuple(general_columns):
                raise ValueError(
                    f"classifier_target: {target!r} uses the general transform, which has no "
                    "classes; keep it mode-encoded"
                )
        self.classifier_target = target if self.classifier_weight > 0 else None
        self.classifier_dims = tuple(positive_int("classifier_dims", d) for d in classifier_dims)
        self.classifier_epochs = positive_int("classifier_epochs", classifier_epochs)
        self.condition_on_modes = bool(condition_on_modes)
        self.general_columns = tuple(general_columns)
        TableEncoder(schema, self.general_columns)  # checks the names and kinds now
        self.classifier_history = None

    # -- preparation -----------------------------------------------------------------------
    def _cond_spans(self) -> list[Span]:
        spans = self.transformer.discrete_spans
        if self.condition_on_modes:
            spans = sorted(spans + self.transformer.mode_spans, key=lambda s: s.start)
        return spans

    def _prepare(self, frame: pd.DataFrame) -> Tensor:
        self.transformer = TableEncoder(
            self.schema, self.general_columns, max_modes=self.max_modes, seed=self.seed
        )
        encoded = self.transformer.fit(frame).transform(frame)
        spans = self._cond_spans()
        self.sampler = ConditionalSampler(
            encoded, spans, log_frequency=self.log_frequency, seed=self.seed
        )
        with _seeded(self.seed, torch.device("cpu")):
            classifier = None
            if self.classifier_target is not None:
                own = self.transformer.spans_of(self.classifier_target)
                label = [s for s in own if s.activation == "softmax"][-1]
                classifier = AuxiliaryClassifier(
                    self.transformer.output_dim, own, label, self.classifier_dims
                )
            self.net = CTABGANNet(
                self.transformer.output_info,
                spans,
                self.sampler.cond_dim,
                embedding_dim=self.embedding_dim,
                generator_dims=self.generator_dims,
                discriminator_dims=self.discriminator_dims,
                pac=self.pac,
                tau=self.tau,
                classifier=classifier,
            )
        return torch.from_numpy(encoded)

    def _classifier_loss_fn(self):
        def loss_fn(clf: AuxiliaryClassifier, rows: Tensor) -> dict[str, Tensor]:
            logits = clf(rows)
            labels = clf.labels(rows)
            acc = (logits.argmax(1) == labels).float().mean()
            return {"loss": F.cross_entropy(logits, labels), "accuracy": acc.detach()}

        return loss_fn

    def _classifier_batches(self, data: Tensor, steps: int):
        return _Rows(data, self.batch_size, steps, self.seed + 1)

    def _fit_classifier(self, data: Tensor, steps: int, progress: bool) -> None:
        clf = self.net.classifier
        self.classifier_history = fit(
            clf,
            self._classifier_loss_fn(),
            self._classifier_batches(data, steps),
            epochs=self.classifier_epochs,
            optimizer=torch.optim.Adam(clf.parameters(), lr=1e-3),
            device=self.device,
            progress=progress,
            desc=f"{self.label} classifier",
        )
        clf.requires_grad_(False)
        clf.eval()

    def _batches(self, data: Tensor, steps: int):
        return _GANBatches(self, data, steps)

    # -- losses ----------------------------------------------------------------------------
    def _critic_loss(self, net: CTABGANNet, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        cond = batch["cond"]
        z = torch.randn(cond.shape[0], net.embedding_dim, device=cond.device)
        with torch.no_grad():
            _, fake = net.generate(z, cond)
        fake = torch.cat([fake, cond], 1)
        real = torch.cat([batch["real"], batch["real_cond"]], 1)
        d_real, d_fake = net.discriminator(real), net.discriminator(fake)
        if self.loss == "vanilla":
            return {"loss": discriminator_loss(d_real, d_fake)}
        penalty = gradient_penalty(
            net.discriminator, real, fake, weight=self.gp_weight, pac=net.pac
        )
        return {"loss": critic_loss_wasserstein(d_real, d_fake) + penalty}

    def _generator_loss(self, net: CTABGANNet, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        cond = batch["cond"]
        z = torch.randn(cond.shape[0], net.embedding_dim, device=cond.device)
        logits, fake = net.generate(z, cond)
        with net.discriminator.frozen():
            fake_features, d_fake = discriminator_features(
                net.discriminator, torch.cat([fake, cond], 1)
            )
            info = torch.zeros((), device=cond.device)
            if self.info_weight > 0 and "real" in batch:
                with torch.no_grad():
                    real_features, _ = discriminator_features(
                        net.discriminator, torch.cat([batch["real"], cond], 1)
                    )
                info = information_loss(real_features, fake_features)
        if self.loss == "vanilla":
            adversarial = generator_loss_nonsaturating(d_fake)
        else:
            adversarial = generator_loss_wasserstein(d_fake)
        cond_ce = conditional_cross_entropy(
            logits, net.cond_spans, batch["span"], batch["category"]
        )
        classifier = torch.zeros((), device=cond.device)
        if net.classifier is not None:
            classifier = F.cross_entropy(net.classifier(fake), net.classifier.labels(fake.detach()))
        loss = adversarial + cond_ce + self.info_weight * info + self.classifier_weight * classifier
        return {
            "loss": loss, "adversarial": adversarial.detach(), "cond_ce": cond_ce.detach(),
            "info": info.detach(), "classifier": classifier.detach(),
        }  # fmt: skip

    def objective(self):
        """The ``loss_fn(net, batch)`` for :func:`edu_gen.core.train.fit`: a critic turn unless the
        batch has ``generator_turn``. Logged: ``generator_step`` and the generator loss parts
        ``adversarial``, ``cond_ce``, ``info``, ``classifier`` (0 on critic turns)."""
        parts = ("adversarial", "cond_ce", "info", "classifier")

        def loss_fn(net: CTABGANNet, batch: dict[str, Tensor]) -> dict[str, Tensor | float]:
            if "generator_turn" in batch:
                return {"generator_step": 1.0, **self._generator_loss(net, batch)}
            out = self._critic_loss(net, batch)
            return {"generator_step": 0.0, **{p: 0.0 for p in parts}, **out}

        return loss_fn

    # -- training --------------------------------------------------------------------------
    def _before_training(self, data: Tensor, steps: int, epochs: int) -> None:
        """Hook for CTAB-GAN+ (set up DP-SGD); nothing here."""

    def fit(
        self,
        frame: pd.DataFrame,
        *,
        epochs: int | None = None,
        checkpoint: str | Path | None = None,
        progress: bool = True,
    ) -> CTABGAN:
        """Fit the encoder, the sampler, the classifier (if any) and the GAN on ``frame``.

        Same contract as :meth:`CTGAN.fit` (``checkpoint``
        resumes the GAN; the classifier is retrained deterministically from the seed).
        """
        epochs = self.epochs if epochs is None else positive_int("epochs", epochs)
        data = self._prepare(frame)
        steps = max(len(data) // self.batch_size, 1)
        self._before_training(data, steps, epochs)
        with _seeded(self.seed, self.device):
            if self.net.classifier is not None:
                self._fit_classifier(data, steps, progress)
            params = [*self.net.generator.parameters(), *self.net.discriminator.parameters()]
            optimizer = torch.optim.Adam(
                params, lr=self.lr, betas=self.betas, weight_decay=self.weight_decay
            )
            batches = self._batches(data, steps)
            self.history = fit(
                self.net,
                self.objective(),
                batches,
                epochs=epochs,
                optimizer=optimizer,
                device=self.device,
                checkpoint=checkpoint,
                checkpoint_every=len(batches),
                progress=progress,
                desc=self.label,
            )
        return self

    def losses(self) -> pd.DataFrame:
        """Per-epoch means of the critic loss and of the generator loss and its parts."""
        self._check_fitted()
        h = pd.DataFrame({k: self.history[k] for k in self.history.keys()})
        critic, gen = h[h.generator_step == 0], h[h.generator_step == 1]
        out = {"critic": critic.groupby("epoch")["loss"].mean()}
        for key in ("loss", "adversarial", "cond_ce", "info", "classifier"):
            out["generator" if key == "loss" else key] = gen.groupby("epoch")[key].mean()
        return pd.DataFrame(out)
