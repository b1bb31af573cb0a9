"""The torch networks of skcrossmodal's neural estimators, as ``nn.Module``\\ s.

This module imports torch when it is imported: the estimators import it
inside ``fit`` only, so that ``import skcrossmodal`` never needs torch. The
classes live at module level so that fitted estimators pickle.

The fusion network follows torchmultimodal's ``LateFusion``: one encoder per
modality, a fusion module combining their codes, and a head.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import itertools

import torch
import torch.nn.functional as F
from torch import nn


class ContrastiveTowers(nn.Module):
    """One tower per modality into a shared space; outputs are L2-normalised.

    Parameters
    ----------
    towers : sequence of nn.Module
        ``towers[k]`` maps modality ``k``'s block to the shared width.
    temperature : float
        The softmax temperature of the contrastive loss.
    learn_temperature : bool, default=False
        Learn the temperature (as its logarithm ``log_temperature``), as CLIP
        does; it is bounded below by ``min_temperature``.
    min_temperature : float, default=0.01
        Smallest learned temperature (CLIP caps its logit scale at 100).

    Examples
    --------
    >>> from torch import nn
    >>> from skcrossmodal._nn import ContrastiveTowers
    >>> towers = ContrastiveTowers([nn.Linear(3, 2), nn.Linear(4, 2)], temperature=0.1)
    >>> [e.shape for e in towers(torch.ones(5, 3), torch.ones(5, 4))]
    [torch.Size([5, 2]), torch.Size([5, 2])]
    """

    def __init__(
        self, towers, temperature, *, learn_temperature=False, min_temperature=0.01
    ):
        super().__init__()
        self.towers = nn.ModuleList(towers)
        self.min_temperature = min_temperature
        if learn_temperature:
            self.log_temperature = nn.Parameter(torch.tensor(float(temperature)).log())
        else:
            self.register_buffer("fixed_temperature", torch.tensor(float(temperature)))

    def temperature(self):
        """The current temperature (a scalar tensor)."""
        if hasattr(self, "log_temperature"):
            return self.log_temperature.exp().clamp(min=self.min_temperature)
        return self.fixed_temperature

    def embed(self, block, index):
        """The unit-norm embedding of ``block`` by tower ``index``."""
        return F.normalize(self.towers[index](block), dim=1)

    def forward(self, *blocks):
        """The unit-norm embeddings of each block by its own tower."""
        return [self.embed(block, k) for k, block in enumerate(blocks)]


def symmetric_info_nce(logits, positives=None):
    """CLIP's symmetric InfoNCE; ``positives`` (bool matrix) allows several per row.

    Without ``positives``, row i's positive is column i: the mean of the
    cross-entropies of ``logits`` and ``logits.T`` against the diagonal
    (Radford et al., 2021). With it, each row's loss is the mean negative
    log-softmax over its positives (Khosla et al., 2020).
    """
    if positives is None:
        targets = torch.arange(logits.shape[0], device=logits.device)
        return (
            F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)
        ) / 2
    weights = positives.float()
    log_p_rows = F.log_softmax(logits, dim=1)
    log_p_columns = F.log_softmax(logits.T, dim=1)
    rows = -((log_p_rows * weights).sum(1) / weights.sum(1)).mean()
    columns = -((log_p_columns * weights.T).sum(1) / weights.T.sum(1)).mean()
    return (rows + columns) / 2


def contrastive_loss(embeddings, temperature, labels=None):
    """Symmetric InfoNCE averaged over every pair of modalities."""
    positives = None if labels is None else labels[:, None] == labels[None, :]
    pairs = list(itertools.combinations(range(len(embeddings)), 2))
    total = 0.0
    for a, b in pairs:
        logits = embeddings[a] @ embeddings[b].T / temperature
        total = total + symmetric_info_nce(logits, positives)
    return total / len(pairs)


class ModalityDropout(nn.Module):
    """Hide each present modality of each row with probability ``p`` in training.

    Like ``nn.Dropout``, it acts in training mode only, on the presence mask
    ``(n_samples, n_modalities)`` (1 present, 0 absent). A row left with none
    keeps one of its modalities, drawn at random. Draws come from torch's
    global generator.

    Examples
    --------
    >>> from skcrossmodal._nn import ModalityDropout
    >>> mask = torch.ones(4, 2)
    >>> bool((ModalityDropout(0.5).eval()(mask) == mask).all())
    True
    """

    def __init__(self, p=0.0):
        super().__init__()
        self.p = p

    def forward(self, mask):
        if not self.training or self.p == 0:
            return mask
        kept = mask * (torch.rand(mask.shape, device=mask.device) >= self.p)
        empty = kept.sum(dim=1) == 0
        if empty.any():
            scores = torch.rand(mask.shape, device=mask.device) * mask
            rescue = F.one_hot(scores.argmax(dim=1), mask.shape[1])
            kept = torch.where(empty.unsqueeze(1), rescue.to(mask.dtype), kept)
        return kept


class ConcatFusion(nn.Module):
    """``[h_1, ..., h_M]``; an absent modality gives zeros.

    Parameters
    ----------
    n_modalities : int
    width : int
        Width of each code.
    """

    def __init__(self, n_modalities, width):
        super().__init__()
        self.out_features = n_modalities * width

    def forward(self, codes, mask):
        return torch.cat([c * mask[:, m, None] for m, c in enumerate(codes)], dim=1)


class GatedFusion(nn.Module):
    """``sum_m g_m * tanh(h_m)``, gates a softmax over the present modalities.

    The gated multimodal unit of Arevalo et al. (2017): the gates are a
    linear function of all (masked) codes.
    """

    def __init__(self, n_modalities, width):
        super().__init__()
        self.gate = nn.Linear(n_modalities * width, n_modalities * width)
        self.out_features = width

    def forward(self, codes, mask):
        present = mask.unsqueeze(-1)  # (n, M, 1)
        hidden = torch.stack([torch.tanh(c) for c in codes], dim=1)  # (n, M, d)
        gate_input = torch.cat([c * present[:, m] for m, c in enumerate(codes)], dim=1)
        logits = self.gate(gate_input).view(hidden.shape)
        logits = logits.masked_fill(present == 0, float("-inf"))
        return (torch.softmax(logits, dim=1) * hidden).sum(dim=1)


class LowRankTensorFusion(nn.Module):
    """``sum_r prod_m ([h_m, 1] W_m^r) + b``, low-rank multimodal fusion.

    Liu et al. (2018); an absent modality keeps only its constant 1 (its
    factor's bias row).
    """

    def __init__(self, n_modalities, width, rank):
        super().__init__()
        scale = (1.0 / (width + 1)) ** 0.5
        self.factors = nn.ParameterList(
            nn.Parameter(scale * torch.randn(rank, width + 1, width))
            for _ in range(n_modalities)
        )
        self.bias = nn.Parameter(torch.zeros(width))
        self.out_features = width

    def forward(self, codes, mask):
        fused = None
        for m, (code, factor) in enumerate(zip(codes, self.factors, strict=True)):
            ones = torch.ones_like(code[:, :1])
            augmented = torch.cat([code * mask[:, m, None], ones], dim=1)
            projected = torch.einsum("nd,rdo->nro", augmented, factor)
            fused = projected if fused is None else fused * projected
        return fused.sum(dim=1) + self.bias


FUSION_MODULES = {
    "concat": ConcatFusion,
    "gated": GatedFusion,
    "lowrank_tensor": LowRankTensorFusion,
}


class LateFusionNetwork(nn.Module):
    """Per-modality encoders, a fusion module and a head (torchmultimodal's ``LateFusion``).

    ``forward(*blocks, mask)`` returns the class logits: the presence mask
    goes through ``modality_dropout`` (training only), each block through
    its encoder, the codes through ``fusion`` with the mask, and the fused
    vector through ``dropout`` and ``head``.

    Parameters
    ----------
    encoders : sequence of nn.Module
        One per modality, all with the same output width.
    fusion : nn.Module
        ``fusion(codes, mask) -> (n, fusion.out_features)``.
    head : nn.Module
        The classifier on the fused vector.
    dropout : float, default=0.0
        Dropout before the head.
    modality_dropout : float, default=0.0
        See :class:`ModalityDropout`.

    Examples
    --------
    >>> from torch import nn
    >>> from skcrossmodal._nn import ConcatFusion, LateFusionNetwork
    >>> net = LateFusionNetwork([nn.Linear(3, 4), nn.Linear(2, 4)],
    ...                         ConcatFusion(2, 4), nn.Linear(8, 5))
    >>> net(torch.ones(6, 3), torch.ones(6, 2), torch.ones(6, 2)).shape
    torch.Size([6, 5])
    """

    def __init__(self, encoders, fusion, head, *, dropout=0.0, modality_dropout=0.0):
        super().__init__()
        self.encoders = nn.ModuleList(encoders)
        self.fusion = fusion
        self.modality_dropout = ModalityDropout(modality_dropout)
        self.dropout = nn.Dropout(dropout)
        self.head = head

    def forward(self, *inputs):
        *blocks, mask = inputs
        mask = self.modality_dropout(mask)
        codes = [
            encoder(block) for encoder, block in zip(self.encoders, blocks, strict=True)
        ]
        return self.head(self.dropout(self.fusion(codes, mask)))


class PooledOutput(nn.Module):
    """A network's output as one vector per input (CNNFeatureExtractor).

    A dict output (from torchvision's ``create_feature_extractor``) is
    unwrapped, a 4-D output ``(n, C, H, W)`` global-average pooled to
    ``(n, C)``, any other flattened to ``(n, -1)``; the result is float32.
    """

    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, images):
        output = self.network(images)
        if isinstance(output, dict):
            (output,) = output.values()
        if output.ndim == 4:
            output = output.mean(dim=(2, 3))
        elif output.ndim != 2:
            output = torch.flatten(output, start_dim=1)
        return output.float()
