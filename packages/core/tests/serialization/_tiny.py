"""A tiny trainable main loop built from plain torch (no bricks) for checkpoint tests."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from blocks.algorithms.base import TrainingAlgorithm
from blocks.main_loop import MainLoop


class TinyModel:
    """A linear model with a buffer, exposing ``get_persistent_dict`` like ``blocks.model.Model``."""

    def __init__(self, seed: int = 0, n_in: int = 3, n_out: int = 2) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.W = torch.nn.Parameter(torch.randn(n_in, n_out, generator=gen))
        self.b = torch.nn.Parameter(torch.zeros(n_out))
        self.running = torch.zeros(n_out)

    def get_persistent_dict(self) -> OrderedDict[str, torch.Tensor]:
        return OrderedDict([("/linear.W", self.W), ("/linear.b", self.b), ("/linear.running", self.running)])


class TinyMomentum(TrainingAlgorithm):
    """SGD with momentum whose state is a velocity per parameter name, plus dropout noise."""

    def __init__(self, model: TinyModel, lr: float = 0.1) -> None:
        self.model = model
        self.lr = torch.tensor(lr)
        self.velocity: dict[str, torch.Tensor] = {}
        self.gen = torch.Generator().manual_seed(7)

    def initialize(self) -> None:
        self.velocity = {"/linear.W": torch.zeros_like(self.model.W), "/linear.b": torch.zeros_like(self.model.b)}

    def process_batch(self, batch: Any) -> None:
        x = torch.as_tensor(np.asarray(batch["x"]), dtype=torch.float32)
        mask = (torch.rand(x.shape, generator=self.gen) > 0.2).float()
        out = (x * mask) @ self.model.W + self.model.b
        loss = (out ** 2).mean()
        grads = torch.autograd.grad(loss, [self.model.W, self.model.b])
        with torch.no_grad():
            for (name, p), g in zip((("/linear.W", self.model.W), ("/linear.b", self.model.b)), grads):
                self.velocity[name].mul_(0.9).add_(g)
                p.sub_(self.lr * self.velocity[name])
            self.model.running.mul_(0.9).add_(out.detach().mean(0), alpha=0.1)

    def state_dict(self) -> dict[str, Any]:
        return {"hyperparameters": {"learning_rate": self.lr}, "buffers": {"velocity": dict(self.velocity)},
                "generator": self.gen.get_state()}

    def load_state_dict(self, state: Any) -> None:
        self.lr.copy_(state["hyperparameters"]["learning_rate"])
        for name, value in state["buffers"]["velocity"].items():
            self.velocity[name].copy_(value)
        self.gen.set_state(state["generator"])


class TinyIterator:
    def __init__(self, stream: TinyStream, epoch: int) -> None:
        self.stream, self.epoch, self.position = stream, epoch, 0
        self.data, self.batch_size = stream.data, stream.batch_size
        self.order = stream.order(epoch)

    def __iter__(self) -> TinyIterator:
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        if self.position >= len(self.order):
            raise StopIteration
        idx = self.order[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return {"x": self.data[idx]}

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self.order = self.stream.order(self.epoch)
        self.stream.epoch = self.epoch + 1


class TinyStream:
    """A shuffled stream whose order is a function of (seed, epoch)."""

    def __init__(self, n: int = 12, batch_size: int = 4, seed: int = 3) -> None:
        self.data = np.random.default_rng(0).standard_normal((n, 3)).astype(np.float32)
        self.batch_size, self.seed, self.epoch = batch_size, seed, 0

    def order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.data))

    def get_epoch_iterator(self, as_dict: bool = False) -> TinyIterator:
        self.epoch += 1
        return TinyIterator(self, self.epoch - 1)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])


def build_loop(extensions: list | None = None, seed: int = 0) -> MainLoop:
    model = TinyModel(seed)
    loop = MainLoop(TinyMomentum(model), TinyStream(), model=model, extensions=extensions or [])
    return loop
